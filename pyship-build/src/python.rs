//! Stage: put a CPython runtime for the target into the bundle's `python/`.
//!
//! Why: the bundle must run on a machine with no Python installed. Windows uses
//! python.org's embeddable zip ([`windows`]); Linux a relocatable runtime
//! ([`linux`]). Downloads are cached by SHA-256 ([`crate::cache`]) and pinned:
//! the first fetch of a URL records its hash in `pyship.lock` ([`Lockfile`]),
//! later fetches must match it (or the configured `python-sha256`), so a mirror
//! that starts serving a different file stops the build before anything is
//! extracted.

#[cfg(test)]
mod fuzz_tests;
pub mod linux;
pub mod tkinter;
pub mod windows;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::context::Context;
use crate::error::{escaped, Hint};
use crate::plan::Plan;
use crate::platform::Platform;

/// The runtime a bundle got.
#[derive(Debug, Clone, Serialize)]
pub struct Runtime {
    /// `{bundle}/python`.
    pub dir: PathBuf,
    /// The interpreter inside `dir`.
    pub exe: PathBuf,
    /// `{bundle}/python/Lib/site-packages` (Windows) or the Linux equivalent.
    pub site_packages: PathBuf,
    /// CPython `X.Y.Z`.
    pub version: String,
    /// Where it came from.
    pub url: String,
    pub sha256: String,
    /// Whether the hash was just recorded in `pyship.lock` (first fetch).
    pub recorded: bool,
    /// Number of files extracted.
    pub files: u64,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error(
        "CPython {version} has no embeddable Windows zip at {} (404): security-only releases publish no binaries",
        escaped(.url)
    )]
    #[diagnostic(help("{}", no_embeddable_hint(.version, *.last)))]
    NoEmbeddable {
        url: String,
        version: String,
        last: Option<&'static str>,
    },
    #[error("could not fetch the Python runtime {}", escaped(.url))]
    #[diagnostic(help("{}", fetch_hint(.source, .settings)))]
    Fetch {
        url: String,
        /// The settings that choose where the runtime comes from (for the hint).
        settings: &'static str,
        #[source]
        source: crate::net::Error,
    },
    #[error("the Python runtime {} is not in the cache and --offline forbids downloading it", escaped(.url))]
    #[diagnostic(help("run once without --offline to fill the cache"))]
    Offline { url: String },
    #[error("could not extract {archive} into {dest}")]
    #[diagnostic(help("the download is damaged or not the embeddable zip; check the mirror, then delete the cache entry"))]
    Extract {
        archive: PathBuf,
        dest: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{archive} has no `{file}`: it is not an embeddable CPython {version} zip")]
    #[diagnostic(help("the download is damaged or not the embeddable zip; check the mirror, then delete the cache entry"))]
    NotEmbeddable {
        archive: PathBuf,
        file: String,
        version: String,
    },
    #[error("could not patch {path}")]
    Pth {
        path: PathBuf,
        #[source]
        #[diagnostic_source]
        source: crate::fs::Error,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Lock(#[from] crate::pins::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Linux(#[from] linux::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Tkinter(#[from] tkinter::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The last release of the X.Y with an embeddable zip, if there is one.
fn no_embeddable_hint(version: &str, last: Option<&str>) -> String {
    match last {
        Some(l) => format!(
            "use the last {} release with an embeddable zip: python = \"{l}\" (or point windows.python-mirror / PYSHIP_PYTHON_MIRROR at a mirror that has {version})",
            xy_of(version)
        ),
        None => "pick a version whose Windows binaries are on python.org (3.12.x and 3.13.x releases have them), or check windows.python-mirror / PYSHIP_PYTHON_MIRROR".into(),
    }
}

/// The download's own hint, and where the runtime's URL comes from.
/// Announce `CPython {what}`, fetch (or reuse) its archive through the
/// platform's `download` (URL, cached file, hash just recorded) and name the
/// cached file in a debug line.
fn fetch_archive<E>(
    what: &str,
    ctx: &Context<'_>,
    download: impl FnOnce() -> Result<(String, crate::net::Downloaded, bool), E>,
) -> Result<(String, crate::net::Downloaded, bool), E> {
    ctx.reporter.status("Fetching", &format!("CPython {what}"));
    let (url, got, recorded) = download()?;
    ctx.reporter.debug(&format!(
        "runtime {} sha256 {} ({} bytes)",
        got.path.display(),
        got.sha256,
        got.size
    ));
    Ok((url, got, recorded))
}

fn fetch_hint(source: &crate::net::Error, settings: &str) -> String {
    match source.hint() {
        Some(h) => format!("{h}; the runtime's URL comes from {settings}"),
        None => format!("the runtime's URL comes from {settings}"),
    }
}

/// `3.11` of `3.11.9`.
fn xy_of(version: &str) -> String {
    version.splitn(3, '.').take(2).collect::<Vec<_>>().join(".")
}

/// Fetch, verify and unpack the runtime for `platform` into `dest` (`{bundle}/python`).
pub fn run(
    plan: &Plan,
    platform: Platform,
    dest: &Path,
    ctx: &Context<'_>,
) -> Result<Runtime, Error> {
    match platform {
        Platform::Windows => windows::fetch(plan, dest, ctx),
        Platform::Linux => linux::fetch(plan, dest, ctx),
    }
}

/// Before any long build: fetch and verify `platform`'s runtime into the
/// cache (the embeddable zip, the standalone tarball), or find the host
/// CPython a `venv` runtime is made from, so that a download failure, a hash
/// mismatch or a missing interpreter stops the run before the Rust build
/// starts. The bundle's own fetch then finds the file cached.
pub fn prefetch(plan: &Plan, platform: Platform, ctx: &Context<'_>) -> Result<(), Error> {
    match (platform, plan.config.linux.runtime) {
        (Platform::Windows, _) => windows::download(plan, ctx).map(|_| ()),
        (Platform::Linux, crate::config::LinuxRuntime::Standalone) => {
            linux::download(plan, ctx).map(|_| ())
        }
        (Platform::Linux, crate::config::LinuxRuntime::Venv) => linux::host_python(plan, ctx)
            .map(|_| ())
            .map_err(Error::from),
    }
}

/// `pyship.lock` (where first fetches record their hashes) lives in [`crate::pins`].
pub use crate::pins::{Lockfile, LOCK_FILE};

/// Where a runtime download comes from, for errors and hints.
pub(crate) struct Source<'a> {
    pub url: &'a str,
    /// The settings that choose the URL, named in hints.
    pub settings: &'static str,
    /// Whether a finished download is the expected kind of archive.
    pub validate: &'a crate::net::Validate<'a>,
}

/// Settings naming where the Windows runtime comes from.
pub(crate) const WINDOWS_SETTINGS: &str =
    "`windows.python-mirror` (or PYSHIP_PYTHON_MIRROR) and `python`";
/// Settings naming where the Linux runtime comes from.
pub(crate) const LINUX_SETTINGS: &str = "`linux.runtime-url` (or PYSHIP_LINUX_PYTHON_MIRROR) and `python`; `linux.runtime = \"venv\"` needs no download";

/// Settings naming where tkinter's files come from.
pub(crate) const TKINTER_SETTINGS: &str =
    "`windows.tkinter-source` and `windows.python-mirror` (or PYSHIP_PYTHON_MIRROR)";

/// `Ok` when `path` starts like an MSI (an OLE compound file).
pub fn validate_msi(path: &Path) -> Result<(), String> {
    use std::io::Read;
    const OLE: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    let mut head = [0u8; 8];
    fs_err::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map_err(|_| "too short to be an MSI".to_owned())?;
    if head == OLE {
        Ok(())
    } else {
        Err("not an MSI (no OLE compound file header)".into())
    }
}

/// [`validate_zip`] or [`validate_tar_gz`], by the name (or URL) `name`.
pub fn validate_by_name(name: &str, path: &Path) -> Result<(), String> {
    if name.ends_with(".zip") || name.ends_with(".whl") {
        validate_zip(path)
    } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        validate_tar_gz(path)
    } else {
        Ok(())
    }
}

/// `Ok` when `path` is a zip whose every entry reads back (CRC-checked).
pub fn validate_zip(path: &Path) -> Result<(), String> {
    let f = fs_err::File::open(path).map_err(|e| e.to_string())?;
    let mut z = zip::ZipArchive::new(std::io::BufReader::new(f))
        .map_err(|e| format!("not a readable zip archive ({e})"))?;
    for i in 0..z.len() {
        let mut entry = z
            .by_index(i)
            .map_err(|e| format!("zip entry {i} is unreadable ({e})"))?;
        std::io::copy(&mut entry, &mut std::io::sink())
            .map_err(|e| format!("zip entry {i} is damaged ({e})"))?;
    }
    if z.is_empty() {
        return Err("the zip archive is empty".into());
    }
    Ok(())
}

/// `Ok` when `path` is a gzip-compressed tar that reads to its end.
pub fn validate_tar_gz(path: &Path) -> Result<(), String> {
    let f = fs_err::File::open(path).map_err(|e| e.to_string())?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(f)));
    let mut n = 0u64;
    for entry in tar
        .entries()
        .map_err(|e| format!("not a readable .tar.gz ({e})"))?
    {
        let mut entry = entry.map_err(|e| format!("not a readable .tar.gz ({e})"))?;
        std::io::copy(&mut entry, &mut std::io::sink())
            .map_err(|e| format!("the .tar.gz is damaged or cut short ({e})"))?;
        n += 1;
    }
    if n == 0 {
        return Err("not a readable .tar.gz (no entries)".into());
    }
    Ok(())
}

/// Fetch `src.url` into the runtimes cache, verified against `pin` when there
/// is one, and validated as an archive before it is cached; only then, and
/// only without a pin, is the hash recorded in the lock. Returns the cached
/// file, its hash and whether it was recorded.
pub(crate) fn fetch_pinned(
    plan: &Plan,
    src: &Source<'_>,
    pin: Option<&str>,
    ctx: &Context<'_>,
) -> Result<(crate::net::Downloaded, bool), Error> {
    let url = src.url;
    let fetch_err = |source| Error::Fetch {
        url: url.to_owned(),
        settings: src.settings,
        source,
    };
    let lock_path = Lockfile::path(plan);
    let locked = Lockfile::read(&lock_path)?.get(url).map(str::to_owned);
    let expected = pin.map(str::to_owned).or(locked);
    if ctx.offline {
        let name = url.rsplit('/').next().unwrap_or(url);
        // Only a verified copy counts: a damaged one would send the cache to the network.
        let hit = expected.as_deref().filter(|sha| {
            let p = ctx.cache.entry(crate::cache::RUNTIMES, sha, name);
            crate::fs::sha256_file(&p).is_ok_and(|got| got.eq_ignore_ascii_case(sha))
        });
        if hit.is_none() {
            return Err(Error::Offline {
                url: url.to_owned(),
            });
        }
    }
    let client = ctx.http().map_err(fetch_err)?;
    let timeouts = ctx.timeouts().map_err(fetch_err)?;
    let got = ctx
        .cache
        .fetch(
            client,
            &timeouts,
            crate::cache::RUNTIMES,
            url,
            expected.as_deref(),
            Some(src.validate),
            ctx.reporter,
        )
        .map_err(fetch_err)?;
    let recorded = expected.is_none();
    if recorded {
        Lockfile::record(&lock_path, url, &got.sha256, ctx.locked)?;
        ctx.reporter.status(
            "Locked",
            &format!(
                "{} sha256 {} in {}",
                escaped(&url),
                got.sha256,
                lock_path.display()
            ),
        );
    }
    Ok((got, recorded))
}
