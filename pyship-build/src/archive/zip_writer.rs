//! The zip writer: entries deflated in parallel batches on a rayon pool
//! (or stored, when deflating does not make them smaller), then written in a
//! fixed order with their local headers, the central directory and the end
//! record. No ZIP64: a bundle over its limits is refused.

use std::io::{Read, Write};
use std::path::Path;

use super::entry_cache::{self, EntryCache};
use super::{entries, pool, write_atomically, Entry, Error, Kind, Options, ZIP_EPOCH};
use crate::dates::civil_from_days;

/// Files larger than 4 GiB or more than 65535 entries would need ZIP64.
const ZIP_MAX: u64 = u32::MAX as u64;

/// How many files are compressed per parallel batch (bounds memory).
const BATCH: usize = 256;

/// The deflate level of zip entries: the highest. zlib-rs at 6 made the hello
/// bundle's zip 2% larger than `zip -r` (system zlib at 6) does; at 9 it is
/// 3% smaller (28.2 MB instead of 29.0 MB of entries). It costs about 2.6x
/// the deflate time, once: warm builds read the compressed-entry cache, and a
/// cold archive runs beside the longer import check. Part of
/// [`ZIP_SETTING`]: change both together.
const ZIP_LEVEL: u32 = 9;
/// The compressed-entry cache setting of zip entries (format, level, backend).
pub const ZIP_SETTING: &str = "zip-deflate-9-zlib-rs";
/// Entries smaller than this are deflated every time: reading a cached record
/// costs about as much as deflating them, and each would take an inode.
const MIN_CACHED: usize = 4096;

/// Extensions whose contents are already compressed: stored without trying.
const STORED: &[&str] = &[
    ".zip", ".whl", ".gz", ".bz2", ".xz", ".7z", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".ico",
];

/// A file ready to be written: compressed (or stored) data and its header facts.
struct Packed {
    crc: u32,
    size: u64,
    method: u16,
    data: Vec<u8>,
}

fn pack(entry: &Entry, cache: Option<&EntryCache>) -> Result<Packed, Error> {
    let mut raw = Vec::new();
    fs_err::File::open(&entry.path)
        .and_then(|mut f| f.read_to_end(&mut raw))
        .map_err(|source| Error::Read {
            path: entry.path.clone(),
            source,
        })?;
    let crc = crc32fast::hash(&raw);
    let size = raw.len() as u64;
    let lower = entry.name.to_ascii_lowercase();
    if STORED.iter().any(|s| lower.ends_with(s)) || raw.is_empty() {
        return Ok(Packed {
            crc,
            size,
            method: 0,
            data: raw,
        });
    }
    let cache = cache.filter(|_| raw.len() >= MIN_CACHED);
    let key = cache.map(|_| entry_cache::key(&raw));
    if let (Some(cache), Some(key)) = (cache, &key) {
        // A record whose facts disagree with the content is not used.
        if let Some(r) = cache.get(key).filter(|r| r.crc == crc && r.size == size) {
            let data = match r.method {
                8 => r.data,
                _ => raw,
            };
            return Ok(Packed {
                crc,
                size,
                method: r.method,
                data,
            });
        }
    }
    let deflated = deflate(&raw);
    let packed = if deflated.len() < raw.len() {
        Packed {
            crc,
            size,
            method: 8,
            data: deflated,
        }
    } else {
        Packed {
            crc,
            size,
            method: 0,
            data: raw,
        }
    };
    if let (Some(cache), Some(key)) = (cache, &key) {
        // A stored entry is recorded without its bytes: they are the content.
        let data = if packed.method == 8 {
            packed.data.clone()
        } else {
            Vec::new()
        };
        cache.put(
            key,
            &entry_cache::Record {
                method: packed.method,
                crc,
                size,
                data,
            },
        );
    }
    Ok(packed)
}

/// Raw deflate of `raw` at [`ZIP_LEVEL`].
fn deflate(raw: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(raw.len() / 2),
        flate2::Compression::new(ZIP_LEVEL),
    );
    enc.write_all(raw).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

/// MS-DOS date and time of `secs` (UTC), clamped to 1980..=2107.
pub fn dos_datetime(secs: u64) -> (u16, u16) {
    let secs = secs.max(ZIP_EPOCH);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    if year > 2107 {
        return (0xFF9F, 0xBF7D); // 2107-12-31 23:59:58
    }
    let date = (((year - 1980) as u16) << 9) | ((month as u16) << 5) | day as u16;
    let time = (((rem / 3600) as u16) << 11)
        | ((((rem % 3600) / 60) as u16) << 5)
        | ((rem % 60) / 2) as u16;
    (date, time)
}

/// Write `tree` as a deterministic zip at `dest`, every entry under `top/`.
pub fn write_zip(tree: &Path, top: &str, dest: &Path, opts: &Options) -> Result<usize, Error> {
    let list = entries(tree, top, false)?;
    if list.len() > 0xFFFF {
        return Err(Error::TooLarge {
            path: dest.to_owned(),
        });
    }
    let pool = pool(opts)?;
    let (date, time) = dos_datetime(opts.mtime.unwrap_or(ZIP_EPOCH));
    let cache = opts.entry_cache(ZIP_SETTING);
    let werr = |source: std::io::Error| {
        Error::Write(crate::fs::OutputWriteError {
            path: dest.to_owned(),
            source: source.into(),
        })
    };
    let too_large = || Error::TooLarge {
        path: dest.to_owned(),
    };
    write_atomically(dest, |w| {
        let mut central = Vec::new();
        let mut offset: u64 = 0;
        for batch in list.chunks(BATCH) {
            let packed: Vec<Option<Packed>> = pool.install(|| {
                use rayon::prelude::*;
                batch
                    .par_iter()
                    .map(|e| match e.kind {
                        Kind::File | Kind::Symlink(_) => pack(e, cache.as_deref()).map(Some),
                        Kind::Dir => Ok(None),
                    })
                    .collect::<Result<_, _>>()
            })?;
            for (e, p) in batch.iter().zip(packed) {
                let is_dir = e.kind == Kind::Dir;
                let name = if is_dir {
                    format!("{}/", e.name)
                } else {
                    e.name.clone()
                };
                let (crc, csize, usize_, method, data) = match &p {
                    Some(p) => (
                        p.crc,
                        p.data.len() as u64,
                        p.size,
                        p.method,
                        p.data.as_slice(),
                    ),
                    None => (0, 0, 0, 0, &[][..]),
                };
                if csize > ZIP_MAX || usize_ > ZIP_MAX || offset > ZIP_MAX {
                    return Err(too_large());
                }
                let flags: u16 = if name.is_ascii() { 0 } else { 0x0800 };
                // From the version needed to extract to the name's length,
                // the local header and the central directory entry agree.
                let mut fields = Vec::with_capacity(24);
                for v in [20u16, flags, method, time, date] {
                    fields.extend_from_slice(&v.to_le_bytes());
                }
                for v in [crc, csize as u32, usize_ as u32] {
                    fields.extend_from_slice(&v.to_le_bytes());
                }
                fields.extend_from_slice(&(name.len() as u16).to_le_bytes());
                let mut local = Vec::with_capacity(30 + name.len());
                local.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
                local.extend_from_slice(&fields);
                local.extend_from_slice(&0u16.to_le_bytes());
                local.extend_from_slice(name.as_bytes());
                w.write_all(&local).map_err(werr)?;
                w.write_all(data).map_err(werr)?;

                let unix_type = if is_dir { 0o040000 } else { 0o100000 };
                let external = ((unix_type | e.mode) << 16) | if is_dir { 0x10 } else { 0 };
                central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
                central.extend_from_slice(&((3u16 << 8) | 20).to_le_bytes());
                central.extend_from_slice(&fields);
                central.extend_from_slice(&[0; 8]); // extra len, comment len, disk, internal attrs
                central.extend_from_slice(&external.to_le_bytes());
                central.extend_from_slice(&(offset as u32).to_le_bytes());
                central.extend_from_slice(name.as_bytes());
                offset += local.len() as u64 + csize;
            }
        }
        if offset + central.len() as u64 > ZIP_MAX {
            return Err(too_large());
        }
        w.write_all(&central).map_err(werr)?;
        let mut end = Vec::with_capacity(22);
        end.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        end.extend_from_slice(&[0; 4]);
        end.extend_from_slice(&(list.len() as u16).to_le_bytes());
        end.extend_from_slice(&(list.len() as u16).to_le_bytes());
        end.extend_from_slice(&(central.len() as u32).to_le_bytes());
        end.extend_from_slice(&(offset as u32).to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes());
        w.write_all(&end).map_err(werr)
    })?;
    if let Some(cache) = cache.filter(|c| c.wrote()) {
        // Bounded: a failed trim only leaves the cache larger until the next one.
        let _ = cache.trim();
    }
    Ok(list.len())
}
