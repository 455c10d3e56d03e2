//! The `msi` source of tkinter: python.org's `tcltk.msi` (and `lib.msi`) of
//! the bundled CPython, fetched pinned, checked to be that CPython by its
//! `ProductVersion`, and unpacked with `msiextract`.

use std::path::Path;

use super::Error;
use crate::context::Context;
use crate::plan::{Plan, PythonVersion};
use crate::process::Command;
use crate::python::fetch_pinned;
use crate::tools;

/// `{mirror}/{X.Y.Z}/amd64/{name}.msi`.
pub fn msi_url(mirror: &str, v: &PythonVersion, name: &str) -> String {
    format!(
        "{}/{}/amd64/{name}.msi",
        mirror.trim_end_matches('/'),
        v.full
    )
}

/// Fetch (pinned), check the version of, and unpack one python.org MSI.
pub(super) fn fetch_msi(
    plan: &Plan,
    url: &str,
    dest: &Path,
    ctx: &Context<'_>,
) -> Result<(), Error> {
    let src = crate::python::Source {
        url,
        settings: crate::python::TKINTER_SETTINGS,
        validate: &crate::python::validate_msi,
    };
    let (got, _) = fetch_pinned(plan, &src, None, ctx).map_err(|e| Error::Fetch(Box::new(e)))?;
    let product_version = msi_product_version(&got.path, ctx)?;
    let found = cpython_of_product_version(&product_version);
    if found.as_deref() != Some(plan.python.full.as_str()) {
        return Err(Error::MsiVersion {
            url: url.to_owned(),
            found: found.unwrap_or_else(|| "an unknown version".into()),
            product_version,
            expected: plan.python.full.clone(),
        });
    }
    fs_err::create_dir_all(dest)?;
    let exe = tools::MSIEXTRACT.find(ctx.env)?;
    let mut cmd = Command::new(&exe);
    cmd.arg("-C")
        .arg(dest)
        .arg(&got.path)
        .timeout(crate::process::STEP);
    let out = cmd.output().map_err(|e| Error::Msi {
        tool: "msiextract",
        msi: got.path.clone(),
        message: e.to_string(),
    })?;
    if !out.success() {
        return Err(Error::Msi {
            tool: "msiextract",
            msi: got.path.clone(),
            message: format!("`{}`:\n{}", out.command, out.tail()),
        });
    }
    Ok(())
}

/// The `ProductVersion` of an MSI's Property table (`msiinfo export`).
fn msi_product_version(msi: &Path, ctx: &Context<'_>) -> Result<String, Error> {
    let exe = tools::MSIINFO.find(ctx.env)?;
    let fail = |message: String| Error::Msi {
        tool: "msiinfo",
        msi: msi.to_owned(),
        message,
    };
    let mut cmd = Command::new(&exe);
    cmd.args(["export"])
        .arg(msi)
        .arg("Property")
        .timeout(crate::process::QUICK);
    let out = cmd.output().map_err(|e| fail(e.to_string()))?;
    if !out.success() {
        return Err(fail(format!("`{}`:\n{}", out.command, out.tail())));
    }
    out.stdout
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once('\t')?;
            (k == "ProductVersion").then(|| v.trim().to_owned())
        })
        .ok_or_else(|| fail("no ProductVersion in the Property table".into()))
}

/// python.org's MSIs encode X.Y.Z as `X.Y.{Z*1000 + level*10 + serial}.0`
/// (final releases: level 15, so 3.11.9 is `3.11.9150.0`). Returns `X.Y.Z`
/// for a final release, `None` for anything else.
pub fn cpython_of_product_version(pv: &str) -> Option<String> {
    let parts: Vec<u32> = pv
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [x, y, field, ..] = parts[..] else {
        return None;
    };
    (field % 1000 == 150).then(|| format!("{x}.{y}.{}", field / 1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_version_decodes_final_releases_only() {
        assert_eq!(
            cpython_of_product_version("3.11.9150.0").as_deref(),
            Some("3.11.9")
        );
        assert_eq!(
            cpython_of_product_version("3.12.10150").as_deref(),
            Some("3.12.10")
        );
        // 3.13.0rc2: level 12 (candidate), serial 2.
        assert_eq!(cpython_of_product_version("3.13.122.0"), None);
        assert_eq!(cpython_of_product_version("garbage"), None);
    }
}
