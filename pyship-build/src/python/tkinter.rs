//! tkinter for the Windows bundle (`windows.tkinter = true`).
//!
//! Why: python.org's embeddable CPython has no tkinter, and apps with a small
//! settings window or a tray icon need it. Two sources (`windows.tkinter-source`):
//!
//! - `"msi"` (default): python.org's `{mirror}/{X.Y.Z}/amd64/tcltk.msi` of the
//!   bundled CPython, fetched like the embeddable zip (same mirror, cached by
//!   SHA-256, pinned in `pyship.lock`) and unpacked with `msiextract`. When the
//!   `tkinter` package is not in it, `lib.msi` of the same release supplies it.
//!   The MSI's `ProductVersion` must be the bundled X.Y.Z.
//! - `"pypi"`: the `tkinter-embed` sdist for the bundled X.Y, from the package
//!   index (`index-url`, default PyPI) and `find-links`, as uv would look for
//!   it (`no-index = true`: only `find-links`). Only its data is read (the
//!   `cp3XY/` folder of `tkinter_embed/data.zip`); none of its code runs. The
//!   chosen file is pinned in `pyship.lock` like a runtime: later builds use
//!   the locked file without asking the index.
//!
//! Whatever the source, the files are found by name, never by an assumed
//! path: `_tkinter.pyd`; the DLLs its import table names that the source
//! ships (`tcl86t.dll`, `tk86t.dll`, and in turn what they import, such as
//! `zlib.dll`); the folder holding `init.tcl` and its sibling holding
//! `tk.tcl`; the `tkinter` package. They land where the interpreter looks:
//! the DLLs next to `python.exe`, the Tcl/Tk library under `python/tcl/`
//! (`_tkinter` looks in `{sys.prefix}\tcl\tcl8.6`), the package under
//! `python/Lib/` (added to the `._pth`). `_tkinter.pyd` must import the
//! bundled `python3XY.dll`: files of another CPython are refused.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::TkinterSource;
use crate::context::Context;
use crate::error::{escaped, Hint};
use crate::plan::Plan;
use crate::tools;

mod msi;
mod place;
mod pypi;

use msi::fetch_msi;
pub use msi::{cpython_of_product_version, msi_url};
pub use place::pth_with_lib;
use place::{add_lib_to_pth, copy, find_package, place};
pub use pypi::sdist_version;
use pypi::{fetch_sdist, resolve_sdist, unpack_sdist};

/// uv's default index, used when `index-url` is not set.
pub const DEFAULT_INDEX: &str = "https://pypi.org/simple";
/// The PyPI project that packages python.org's Tcl/Tk files per CPython X.Y.
pub const PYPI_PROJECT: &str = "tkinter-embed";

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Tool(#[from] tools::Error),
    #[error("could not fetch tkinter's files")]
    #[diagnostic(transparent)]
    Fetch(#[source] Box<super::Error>),
    #[error("could not read the package index page {}", escaped(.url))]
    #[diagnostic(help("{}", index_hint(.source)))]
    Index {
        url: String,
        #[source]
        source: crate::net::Error,
    },
    #[error("could not read the find-links folder {path}")]
    #[diagnostic(help("check the folder's permissions"))]
    FindLinks {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{PYPI_PROJECT} has no build for CPython {xy} (searched {}); it has builds for: {}", escaped(.searched), if available.is_empty() { "none".to_owned() } else { escaped(available.join(", ")).to_string() })]
    #[diagnostic(help(
        "use a CPython X.Y that tkinter-embed has a build for, or windows.tkinter-source = \"msi\""
    ))]
    NoBuild {
        xy: String,
        available: Vec<String>,
        searched: String,
    },
    #[error("{PYPI_PROJECT} for CPython {xy} is not locked in pyship.lock and --offline forbids asking {}", escaped(.searched))]
    #[diagnostic(help("run once without --offline (the choice is then locked), or put the sdist in a local find-links folder"))]
    Offline { xy: String, searched: String },
    #[error("`{tool}` failed on {msi}: {message}")]
    #[diagnostic(help("the download is damaged or not python.org's package; check the mirror, then delete the cache entry and the line in pyship.lock"))]
    Msi {
        tool: &'static str,
        msi: PathBuf,
        message: String,
    },
    #[error("{} is from CPython {} (ProductVersion {}), but the bundle has CPython {expected}", escaped(.url), escaped(.found), escaped(.product_version))]
    #[diagnostic(help("tkinter's files must come from the same CPython as the bundle: check windows.python-mirror / PYSHIP_PYTHON_MIRROR (msi) or the index (pypi)"))]
    MsiVersion {
        url: String,
        product_version: String,
        found: String,
        expected: String,
    },
    #[error("{} has no `{}`", escaped(.origin), escaped(.what))]
    #[diagnostic(help("the download is damaged or not python.org's package; check the mirror, then delete the cache entry and the line in pyship.lock"))]
    Missing { origin: String, what: String },
    #[error("{} from {} is built for {}, but the bundle has CPython {expected} (python{nodot}.dll)", escaped(.file), escaped(.origin), escaped(.found))]
    #[diagnostic(help("tkinter's files must come from the same CPython as the bundle: check windows.python-mirror / PYSHIP_PYTHON_MIRROR (msi) or the index (pypi)"))]
    PythonMismatch {
        file: String,
        origin: String,
        found: String,
        expected: String,
        nodot: String,
    },
    #[error("could not read {path}")]
    #[diagnostic(help("the download is damaged or not python.org's package; check the mirror, then delete the cache entry and the line in pyship.lock"))]
    Archive {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("could not place tkinter's files in {path}")]
    #[diagnostic(help("check the folder's permissions"))]
    Place {
        path: PathBuf,
        #[source]
        source: crate::fs::Error,
    },
    #[error("{path} (locked as {}) is {actual}", escaped(.locked))]
    #[diagnostic(help("the file changed since it was locked: restore it, or delete its line in pyship.lock to lock the new one"))]
    LocalHash {
        path: PathBuf,
        locked: String,
        actual: String,
    },
    #[error(transparent)]
    #[diagnostic(help("check the folder's permissions"))]
    Io(#[from] std::io::Error),
}

fn index_hint(source: &crate::net::Error) -> String {
    source.hint().unwrap_or_else(|| {
        "check `index-url` / `find-links`, or use windows.tkinter-source = \"msi\"".into()
    })
}

/// Where a file of the `pypi` source is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Location {
    Url(String),
    /// A file in a local `find-links` folder; `key` is how `pyship.lock` names it.
    Path {
        path: PathBuf,
        key: String,
    },
}

impl Location {
    fn key(&self) -> &str {
        match self {
            Location::Url(u) => u,
            Location::Path { key, .. } => key,
        }
    }
}

/// The `tkinter-embed` sdist chosen for the bundle.
#[derive(Debug, Clone, Serialize)]
pub struct Sdist {
    pub file_name: String,
    /// `3.11.0`: the CPython X.Y, then the package's own revision.
    pub version: String,
    pub location: Location,
    /// From `pyship.lock`, else from the index (`#sha256=`), else unknown.
    pub sha256: Option<String>,
    pub locked: bool,
}

/// What [`prepare`] resolved before any work.
#[derive(Debug, Clone, Serialize)]
pub struct Prepared {
    pub source: TkinterSource,
    /// The `pypi` source's file.
    pub sdist: Option<Sdist>,
}

/// What tkinter added to the runtime.
#[derive(Debug, Clone, Serialize)]
pub struct Added {
    pub source: TkinterSource,
    /// The downloads the files came from.
    pub origins: Vec<String>,
    pub files: u64,
    pub bytes: u64,
}

/// Check what the source needs before any work: `msiextract` (msi), or the
/// `tkinter-embed` build for this X.Y (pypi; from the lock, else the index).
pub fn prepare(plan: &Plan, ctx: &Context<'_>) -> Result<Prepared, Error> {
    let source = plan.config.windows.tkinter_source;
    let sdist = match source {
        TkinterSource::Msi => {
            tools::MSIEXTRACT.find(ctx.env)?;
            tools::MSIINFO.find(ctx.env)?;
            None
        }
        TkinterSource::Pypi => Some(resolve_sdist(plan, ctx)?),
    };
    Ok(Prepared { source, sdist })
}

/// Fetch, verify and unpack tkinter, and place it in `python_dir` (`{bundle}/python`).
pub fn install(
    plan: &Plan,
    prepared: &Prepared,
    python_dir: &Path,
    ctx: &Context<'_>,
) -> Result<Added, Error> {
    fs_err::create_dir_all(&plan.work_dir)?;
    let staging = tempfile::Builder::new()
        .prefix("tkinter-")
        .tempdir_in(&plan.work_dir)?;
    let v = &plan.python;
    let mut origins = Vec::new();
    let placed = match (&prepared.source, &prepared.sdist) {
        (TkinterSource::Pypi, Some(sdist)) => {
            ctx.reporter.status(
                "Fetching",
                &format!(
                    "tkinter for CPython {} ({})",
                    v.xy,
                    escaped(&sdist.file_name)
                ),
            );
            let archive = fetch_sdist(plan, sdist, ctx)?;
            origins.push(sdist.location.key().to_owned());
            let root = staging.path().join("pypi");
            unpack_sdist(&archive, &sdist.file_name, v, &root)?;
            let placed = place(&root, python_dir, v, &sdist.file_name)?;
            if !placed.package {
                return Err(Error::Missing {
                    origin: sdist.file_name.clone(),
                    what: "tkinter/__init__.py".into(),
                });
            }
            placed
        }
        _ => {
            let mirror = crate::python::windows::mirror(plan, ctx);
            let url = msi_url(&mirror, v, "tcltk");
            ctx.reporter.status(
                "Fetching",
                &format!("tkinter of CPython {} (tcltk.msi)", v.full),
            );
            let root = staging.path().join("tcltk");
            fetch_msi(plan, &url, &root, ctx)?;
            origins.push(url.clone());
            let mut placed = place(&root, python_dir, v, &url)?;
            if !placed.package {
                // Older and newer layouts differ: the package may sit in lib.msi.
                let lib_url = msi_url(&mirror, v, "lib");
                let lib_root = staging.path().join("lib");
                fetch_msi(plan, &lib_url, &lib_root, ctx)?;
                origins.push(lib_url.clone());
                let pkg = find_package(&lib_root).ok_or_else(|| Error::Missing {
                    origin: format!("{url} and {lib_url}"),
                    what: "tkinter/__init__.py".into(),
                })?;
                let (n, b) = copy(&pkg, &python_dir.join("Lib").join("tkinter"))?;
                placed.files += n;
                placed.bytes += b;
                placed.package = true;
            }
            placed
        }
    };
    add_lib_to_pth(python_dir, v)?;
    Ok(Added {
        source: prepared.source,
        origins,
        files: placed.files,
        bytes: placed.bytes,
    })
}
