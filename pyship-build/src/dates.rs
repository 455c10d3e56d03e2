//! Calendar dates of build times (UTC), for the artifacts' timestamps.
//!
//! A bottom module: the archive, installer and package stages and the SBOM
//! all stamp their files with the build's epoch, clamped to [`ZIP_EPOCH`].

/// 1980-01-01T00:00:00Z, the earliest time a zip can hold: every artifact's
/// file times are clamped to it, so that all of them agree.
pub const ZIP_EPOCH: u64 = 315_532_800;

/// (year, month, day) of `days` since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, proleptic Gregorian, exact for any `i64` day count in range).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}
