//! The embeddable Windows CPython: `{mirror}/{X.Y.Z}/python-{X.Y.Z}-embed-amd64.zip`.
//!
//! Why this and not an installer: it is a plain zip that unpacks anywhere and
//! runs without registry entries, so it can be assembled on Linux. Its
//! `python3XY._pth` switches `site` off and fixes `sys.path`; we append to it
//! (`import site`, `Lib\site-packages`, `..\app\src`) and never delete it
//! (deleting it breaks subprocesses on CPython 3.14+).

use std::io::Read;
use std::path::Path;

use super::{fetch_pinned, Error, Runtime};
use crate::context::Context;
use crate::env::PYSHIP_PYTHON_MIRROR;
use crate::plan::{Plan, PythonVersion};
use crate::platform::Platform;

/// The last release of each minor version that has an embeddable zip (later
/// ones of that series are security-only source releases).
pub const LAST_EMBEDDABLE: &[(&str, &str)] = &[
    ("3.8", "3.8.10"),
    ("3.9", "3.9.13"),
    ("3.10", "3.10.11"),
    ("3.11", "3.11.9"),
];

/// Lines the `._pth` must contain after the stdlib entries.
pub const PTH_LINES: &[&str] = &["Lib\\site-packages", "..\\app\\src"];

/// The download URL for `version` on `mirror`.
pub fn embed_url(mirror: &str, version: &PythonVersion) -> String {
    format!(
        "{}/{v}/python-{v}-embed-amd64.zip",
        mirror.trim_end_matches('/'),
        v = version.full
    )
}

/// Mirror: `PYSHIP_PYTHON_MIRROR`, else `windows.python-mirror`.
pub fn mirror(plan: &Plan, ctx: &Context<'_>) -> String {
    ctx.env
        .get(PYSHIP_PYTHON_MIRROR)
        .map(str::to_owned)
        .unwrap_or_else(|| plan.config.windows.python_mirror.clone())
}

/// Fetch (or reuse) and verify the embeddable CPython into the cache:
/// its URL, the cached file and whether its hash was just recorded.
pub fn download(
    plan: &Plan,
    ctx: &Context<'_>,
) -> Result<(String, crate::net::Downloaded, bool), Error> {
    let v = &plan.python;
    let url = embed_url(&mirror(plan, ctx), v);
    let pin = plan.config.windows.python_sha256.as_deref();
    let src = super::Source {
        url: &url,
        settings: super::WINDOWS_SETTINGS,
        validate: &super::validate_zip,
    };
    let (got, recorded) = fetch_pinned(plan, &src, pin, ctx).map_err(|e| match e {
        Error::Fetch {
            source: crate::net::Error::Status { status: 404, .. },
            ..
        } => Error::NoEmbeddable {
            url: url.clone(),
            version: v.full.clone(),
            last: last_embeddable(&v.xy).filter(|l| *l != v.full),
        },
        other => other,
    })?;
    Ok((url, got, recorded))
}

/// Fetch (or reuse), verify and extract the embeddable CPython into `dest`.
pub fn fetch(plan: &Plan, dest: &Path, ctx: &Context<'_>) -> Result<Runtime, Error> {
    let v = &plan.python;
    let what = format!("{} (embed-amd64)", v.full);
    let (url, got, recorded) = super::fetch_archive(&what, ctx, || download(plan, ctx))?;
    crate::fs::remove_dir_if_exists(dest, &plan.write_roots(&ctx.cache))
        .map_err(|e| Error::Io(std::io::Error::other(e)))?;
    let files = extract_zip(&got.path, dest)?;
    let pth_name = format!("python{}._pth", v.nodot);
    let pth = dest.join(&pth_name);
    if !pth.is_file() {
        return Err(Error::NotEmbeddable {
            archive: got.path.clone(),
            file: pth_name,
            version: v.full.clone(),
        });
    }
    patch_pth_file(&pth)?;
    let site_packages = dest
        .parent()
        .unwrap_or(dest)
        .join(Platform::Windows.site_packages(&v.xy));
    fs_err::create_dir_all(&site_packages)?;
    Ok(Runtime {
        exe: dest.join("python.exe"),
        dir: dest.to_owned(),
        site_packages,
        version: v.full.clone(),
        url,
        sha256: got.sha256,
        recorded,
        files,
    })
}

/// The last `X.Y.Z` of `xy` with an embeddable zip, when that series ended.
pub fn last_embeddable(xy: &str) -> Option<&'static str> {
    LAST_EMBEDDABLE
        .iter()
        .find(|(k, _)| *k == xy)
        .map(|(_, v)| *v)
}

/// Extract every entry of `archive` below `dest`, refusing entries that would
/// land outside it ([`crate::fs::safe_join`]). Returns the number of files.
pub fn extract_zip(archive: &Path, dest: &Path) -> Result<u64, Error> {
    let fail = |source: Box<dyn std::error::Error + Send + Sync>| Error::Extract {
        archive: archive.to_owned(),
        dest: dest.to_owned(),
        source,
    };
    let file = fs_err::File::open(archive).map_err(|e| fail(e.into()))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| fail(e.into()))?;
    // Check every name before writing anything: a bad entry extracts nothing.
    let mut targets = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(|e| fail(e.into()))?;
        let name = entry.name().map_err(|e| fail(e.into()))?;
        let path = crate::fs::safe_join(dest, &name).map_err(|e| fail(e.into()))?;
        targets.push((path, entry.is_dir()));
    }
    fs_err::create_dir_all(dest).map_err(|e| fail(e.into()))?;
    let mut files = 0;
    for (i, (path, is_dir)) in targets.into_iter().enumerate() {
        if is_dir {
            fs_err::create_dir_all(&path).map_err(|e| fail(e.into()))?;
            continue;
        }
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent).map_err(|e| fail(e.into()))?;
        }
        let mut entry = zip.by_index(i).map_err(|e| fail(e.into()))?;
        let mut buf = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut buf).map_err(|e| fail(e.into()))?;
        fs_err::write(&path, &buf).map_err(|e| fail(e.into()))?;
        files += 1;
    }
    Ok(files)
}

/// Patch a `._pth` in place (atomic write). Idempotent.
pub fn patch_pth_file(path: &Path) -> Result<(), Error> {
    let pth_err = |source| Error::Pth {
        path: path.to_owned(),
        source,
    };
    let text = fs_err::read_to_string(path).map_err(|e| pth_err(crate::fs::Error::Io(e)))?;
    let patched = patch_pth(&text);
    if patched != text {
        crate::fs::atomic_write(path, patched.as_bytes()).map_err(pth_err)?;
    }
    Ok(())
}

/// The `._pth` text with `import site` enabled and [`PTH_LINES`] present.
/// Keeps the file's line endings (CRLF in python.org's zips) and every other line.
pub fn patch_pth(text: &str) -> String {
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let has = |lines: &[String], want: &str| lines.iter().any(|l| l.trim() == want);
    for line in PTH_LINES {
        if !has(&lines, line) {
            // Path entries go before the comments and `import site`, after the stdlib lines.
            let at = lines
                .iter()
                .rposition(|l| {
                    let t = l.trim();
                    !t.is_empty() && !t.starts_with('#') && !t.starts_with("import ")
                })
                .map(|i| i + 1)
                .unwrap_or(0);
            lines.insert(at, (*line).to_owned());
        }
    }
    let mut site = false;
    for l in lines.iter_mut() {
        let t = l.trim();
        if t == "import site" {
            site = true;
        } else if t.trim_start_matches('#').trim() == "import site" && !site {
            *l = "import site".into();
            site = true;
        }
    }
    if !site {
        lines.push("import site".into());
    }
    let mut out = lines.join(eol);
    out.push_str(eol);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PTH_3119: &str =
        "python311.zip\r\n.\r\n\r\n# Uncomment to run site.main() automatically\r\n#import site\r\n";

    #[test]
    fn pth_patch_enables_site_and_appends_paths() {
        let out = patch_pth(PTH_3119);
        assert_eq!(
            out,
            "python311.zip\r\n.\r\nLib\\site-packages\r\n..\\app\\src\r\n\r\n# Uncomment to run site.main() automatically\r\nimport site\r\n"
        );
    }

    #[test]
    fn pth_patch_is_idempotent() {
        let once = patch_pth(PTH_3119);
        assert_eq!(patch_pth(&once), once);
    }

    #[test]
    fn embed_url_and_last_embeddable() {
        let v = PythonVersion::parse("3.11.9").unwrap();
        assert_eq!(
            embed_url("https://www.python.org/ftp/python/", &v),
            "https://www.python.org/ftp/python/3.11.9/python-3.11.9-embed-amd64.zip"
        );
        assert_eq!(last_embeddable("3.11"), Some("3.11.9"));
        assert_eq!(last_embeddable("3.8"), Some("3.8.10"));
        assert_eq!(last_embeddable("3.12"), None);
    }

    #[test]
    fn extract_rejects_entries_that_escape() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let zpath = dir.path().join("evil.zip");
        {
            let f = fs_err::File::create(&zpath).unwrap();
            let mut w = zip::ZipWriter::new(f);
            let o = zip::write::SimpleFileOptions::default();
            w.start_file("ok.txt", o).unwrap();
            w.write_all(b"ok").unwrap();
            w.start_file("../evil.txt", o).unwrap();
            w.write_all(b"evil").unwrap();
            w.finish().unwrap();
        }
        let dest = dir.path().join("out");
        let err = extract_zip(&zpath, &dest).unwrap_err();
        assert!(err.to_string().contains("evil.zip"), "{err}");
        assert!(!dir.path().join("evil.txt").exists());
        // Checked before writing: not even the good entry was extracted.
        assert!(!dest.join("ok.txt").exists());
    }
}
