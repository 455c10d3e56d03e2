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

use crate::process::Command;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{fetch_pinned, Lockfile};
use crate::config::TkinterSource;
use crate::context::Context;
use crate::error::Hint;
use crate::plan::{Plan, PythonVersion};
use crate::tools;

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
    #[error("could not read the package index page {url}")]
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
    #[error("{PYPI_PROJECT} has no build for CPython {xy} (searched {searched}); it has builds for: {}", if available.is_empty() { "none".to_owned() } else { available.join(", ") })]
    #[diagnostic(help(
        "use a CPython X.Y that tkinter-embed has a build for, or windows.tkinter-source = \"msi\""
    ))]
    NoBuild {
        xy: String,
        available: Vec<String>,
        searched: String,
    },
    #[error("{PYPI_PROJECT} for CPython {xy} is not locked in pyship.lock and --offline forbids asking {searched}")]
    #[diagnostic(help("run once without --offline (the choice is then locked), or put the sdist in a local find-links folder"))]
    Offline { xy: String, searched: String },
    #[error("`{tool}` failed on {msi}: {message}")]
    #[diagnostic(help("the download is damaged or not python.org's package; check the mirror, then delete the cache entry and the line in pyship.lock"))]
    Msi {
        tool: &'static str,
        msi: PathBuf,
        message: String,
    },
    #[error("{url} is from CPython {found} (ProductVersion {product_version}), but the bundle has CPython {expected}")]
    #[diagnostic(help("tkinter's files must come from the same CPython as the bundle: check windows.python-mirror / PYSHIP_PYTHON_MIRROR (msi) or the index (pypi)"))]
    MsiVersion {
        url: String,
        product_version: String,
        found: String,
        expected: String,
    },
    #[error("{origin} has no `{what}`")]
    #[diagnostic(help("the download is damaged or not python.org's package; check the mirror, then delete the cache entry and the line in pyship.lock"))]
    Missing { origin: String, what: String },
    #[error("{file} from {origin} is built for {found}, but the bundle has CPython {expected} (python{nodot}.dll)")]
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
    #[error("{path} (locked as {locked}) is {actual}")]
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
                &format!("tkinter for CPython {} ({})", v.xy, sdist.file_name),
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
            let mirror = super::windows::mirror(plan, ctx);
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

/// `{mirror}/{X.Y.Z}/amd64/{name}.msi`.
pub fn msi_url(mirror: &str, v: &PythonVersion, name: &str) -> String {
    format!(
        "{}/{}/amd64/{name}.msi",
        mirror.trim_end_matches('/'),
        v.full
    )
}

/// Fetch (pinned), check the version of, and unpack one python.org MSI.
fn fetch_msi(plan: &Plan, url: &str, dest: &Path, ctx: &Context<'_>) -> Result<(), Error> {
    let src = super::Source {
        url,
        settings: super::TKINTER_SETTINGS,
        validate: &super::validate_msi,
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

/// What [`place`] put into the runtime.
struct Placed {
    files: u64,
    bytes: u64,
    /// Whether the `tkinter` package was among the files.
    package: bool,
}

/// Copy a file or a tree; returns (files, bytes).
fn copy(from: &Path, to: &Path) -> Result<(u64, u64), Error> {
    let place = |source| Error::Place {
        path: to.to_owned(),
        source,
    };
    let files = crate::fs::copy_tree(from, to).map_err(place)?;
    let bytes = walkdir::WalkDir::new(to)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    Ok((files, bytes))
}

/// Every file below `root` by lower-case name (sorted paths, so the choice is stable).
fn files_by_name(root: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    let mut map: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for e in walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
    {
        map.entry(e.file_name().to_string_lossy().to_ascii_lowercase())
            .or_default()
            .push(e.into_path());
    }
    map
}

/// The folder of the `tkinter` package (the `tkinter` folder with an `__init__.py`).
fn find_package(root: &Path) -> Option<PathBuf> {
    files_by_name(root)
        .get("__init__.py")?
        .iter()
        .filter_map(|p| p.parent())
        .find(|d| d.file_name().is_some_and(|n| n == "tkinter"))
        .map(Path::to_owned)
}

fn imports_of(path: &Path, origin: &str) -> Result<Vec<String>, Error> {
    let bytes = fs_err::read(path)?;
    crate::pe::imports(&bytes).map_err(|e| Error::Archive {
        path: PathBuf::from(format!("{} in {origin}", path.display())),
        source: Box::new(e),
    })
}

/// Find tkinter's files below `root` by name and copy them into `python_dir`.
fn place(root: &Path, python_dir: &Path, v: &PythonVersion, origin: &str) -> Result<Placed, Error> {
    let by_name = files_by_name(root);
    let missing = |what: &str| Error::Missing {
        origin: origin.to_owned(),
        what: what.to_owned(),
    };
    let pyd = by_name
        .get("_tkinter.pyd")
        .and_then(|v| v.first())
        .ok_or_else(|| missing("_tkinter.pyd"))?
        .clone();
    let pyd_imports = imports_of(&pyd, origin)?;
    let want = format!("python{}.dll", v.nodot);
    if !pyd_imports.iter().any(|i| i.eq_ignore_ascii_case(&want)) {
        let found = pyd_imports
            .iter()
            .find(|i| {
                let l = i.to_ascii_lowercase();
                l.starts_with("python3") && l.ends_with(".dll") && l != "python3.dll"
            })
            .map(|i| format!("CPython of {i}"))
            .unwrap_or_else(|| {
                format!("no CPython it names (imports: {})", pyd_imports.join(", "))
            });
        return Err(Error::PythonMismatch {
            file: "_tkinter.pyd".into(),
            origin: origin.to_owned(),
            found,
            expected: v.full.clone(),
            nodot: v.nodot.clone(),
        });
    }
    // The DLLs the extension needs that the source ships, transitively.
    let mut chosen: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut queue: Vec<String> = pyd_imports;
    let mut seen = BTreeSet::new();
    while let Some(name) = queue.pop() {
        let lower = name.to_ascii_lowercase();
        if !seen.insert(lower.clone()) {
            continue;
        }
        match by_name.get(&lower).and_then(|v| v.first()) {
            Some(p) => {
                queue.extend(imports_of(p, origin)?);
                chosen.insert(lower, p.clone());
            }
            // System DLLs and python3XY.dll are not in the source; Tcl and Tk must be.
            None if lower.starts_with("tcl") || lower.starts_with("tk") => {
                return Err(missing(&name))
            }
            None => {}
        }
    }
    let mut placed = Placed {
        files: 0,
        bytes: 0,
        package: false,
    };
    let mut add = |(n, b): (u64, u64)| {
        placed.files += n;
        placed.bytes += b;
    };
    add(copy(&pyd, &python_dir.join("_tkinter.pyd"))?);
    for p in chosen.values() {
        let name = p.file_name().expect("a file has a name");
        add(copy(p, &python_dir.join(name))?);
    }
    // The Tcl library: the folder with init.tcl; Tk's is its sibling with tk.tcl.
    let tcl_lib = by_name
        .get("init.tcl")
        .and_then(|v| v.iter().find_map(|p| p.parent()))
        .ok_or_else(|| missing("tcl8.x/init.tcl"))?;
    let tcl_root = tcl_lib.parent().ok_or_else(|| missing("tcl/"))?;
    let has_tk = by_name.get("tk.tcl").is_some_and(|v| {
        v.iter()
            .any(|p| p.parent().and_then(Path::parent) == Some(tcl_root))
    });
    if !has_tk {
        return Err(missing("tk8.x/tk.tcl beside the Tcl library"));
    }
    add(copy(tcl_root, &python_dir.join("tcl"))?);
    if let Some(pkg) = find_package(root) {
        add(copy(&pkg, &python_dir.join("Lib").join("tkinter"))?);
        placed.package = true;
    }
    Ok(placed)
}

/// `Lib` (where the `tkinter` package is) on the `._pth`, before `Lib\site-packages`.
fn add_lib_to_pth(python_dir: &Path, v: &PythonVersion) -> Result<(), Error> {
    let pth = python_dir.join(format!("python{}._pth", v.nodot));
    let text = fs_err::read_to_string(&pth)?;
    let patched = pth_with_lib(&text);
    if patched != text {
        crate::fs::atomic_write(&pth, patched.as_bytes()).map_err(|source| Error::Place {
            path: pth.clone(),
            source,
        })?;
    }
    Ok(())
}

/// The `._pth` text with a `Lib` line before `Lib\site-packages` (idempotent).
pub fn pth_with_lib(text: &str) -> String {
    if text.lines().any(|l| l.trim() == "Lib") {
        return text.to_owned();
    }
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.trim() == "Lib\\site-packages")
        .unwrap_or(lines.len());
    lines.insert(at, "Lib");
    let mut out = lines.join(eol);
    out.push_str(eol);
    out
}

// ---- the pypi source ----

/// `tkinter_embed-3.11.0.tar.gz` → `3.11.0` (PEP 625 and legacy spellings).
pub fn sdist_version(file_name: &str) -> Option<String> {
    let lower = file_name.to_ascii_lowercase().replace('-', "_");
    let rest = lower.strip_prefix("tkinter_embed_")?;
    let v = rest.strip_suffix(".tar.gz")?;
    let ok = v.split('.').count() >= 2
        && v.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    ok.then(|| v.to_owned())
}

fn xy_of(version: &str) -> String {
    version.splitn(3, '.').take(2).collect::<Vec<_>>().join(".")
}

fn numeric(version: &str) -> Vec<u64> {
    version.split('.').filter_map(|p| p.parse().ok()).collect()
}

/// A `tkinter-embed` file found in the index or a find-links location.
struct Candidate {
    file_name: String,
    version: String,
    location: Location,
    sha256: Option<String>,
}

/// The locked sdist for this X.Y, else the newest one the index and
/// find-links offer.
fn resolve_sdist(plan: &Plan, ctx: &Context<'_>) -> Result<Sdist, Error> {
    let xy = &plan.python.xy;
    let lock =
        Lockfile::read(&Lockfile::path(plan)).map_err(|e| Error::Fetch(Box::new(e.into())))?;
    for (key, sha) in &lock.runtimes {
        let file_name = key.rsplit(['/', '\\']).next().unwrap_or(key);
        if let Some(version) = sdist_version(file_name).filter(|v| xy_of(v) == *xy) {
            let location = if key.contains("://") {
                Location::Url(key.clone())
            } else {
                Location::Path {
                    path: plan.project.config_dir.join(key),
                    key: key.clone(),
                }
            };
            return Ok(Sdist {
                file_name: file_name.to_owned(),
                version,
                location,
                sha256: Some(sha.clone()),
                locked: true,
            });
        }
    }
    let c = &plan.config;
    let mut candidates = Vec::new();
    let mut searched = Vec::new();
    // Pages not asked because of --offline.
    let mut skipped = Vec::new();
    if !c.no_index {
        let index = c.index_url.as_deref().unwrap_or(DEFAULT_INDEX);
        let page = format!("{}/{PYPI_PROJECT}/", index.trim_end_matches('/'));
        if ctx.offline {
            skipped.push(page);
        } else {
            candidates.extend(from_page(&page, ctx, true)?);
            searched.push(page);
        }
    }
    for link in &c.find_links {
        let local = plan.project.config_dir.join(link);
        if !link.contains("://") && local.is_dir() {
            searched.push(local.display().to_string());
            candidates.extend(from_dir(&local, link)?);
        } else if link.contains("://") && ctx.offline {
            skipped.push(link.clone());
        } else if link.contains("://") {
            candidates.extend(from_page(link, ctx, false)?);
            searched.push(link.clone());
        }
    }
    let mut best: Option<Candidate> = None;
    let mut available = BTreeSet::new();
    for cand in candidates {
        let cxy = xy_of(&cand.version);
        available.insert((numeric(&cxy), cxy.clone()));
        if cxy == *xy
            && best
                .as_ref()
                .is_none_or(|b| numeric(&cand.version) > numeric(&b.version))
        {
            best = Some(cand);
        }
    }
    if best.is_none() && !skipped.is_empty() {
        return Err(Error::Offline {
            xy: xy.clone(),
            searched: skipped.join(", "),
        });
    }
    let best = best.ok_or_else(|| Error::NoBuild {
        xy: xy.clone(),
        available: available.into_iter().map(|(_, v)| v).collect(),
        searched: if searched.is_empty() {
            "nothing: no-index = true and no find-links".into()
        } else {
            searched.join(", ")
        },
    })?;
    Ok(Sdist {
        file_name: best.file_name,
        version: best.version,
        location: best.location,
        sha256: best.sha256,
        locked: false,
    })
}

/// The `tkinter-embed` sdists a project page of the index (`index`: a
/// missing one, 404, is "no files", like uv) or a find-links page points at.
fn from_page(url: &str, ctx: &Context<'_>, index: bool) -> Result<Vec<Candidate>, Error> {
    let files = crate::packaging::project_page(ctx, url, index).map_err(|source| Error::Index {
        url: url.to_owned(),
        source,
    })?;
    Ok(files
        .into_iter()
        .flatten()
        .filter_map(|f| {
            Some(Candidate {
                version: sdist_version(&f.file_name)?,
                file_name: f.file_name,
                location: Location::Url(f.url),
                sha256: f.sha256,
            })
        })
        .collect())
}

/// The `tkinter-embed` sdists in a local find-links folder.
fn from_dir(dir: &Path, link: &str) -> Result<Vec<Candidate>, Error> {
    let mut out = Vec::new();
    let entries = fs_err::read_dir(dir).map_err(|source| Error::FindLinks {
        path: dir.to_owned(),
        source,
    })?;
    for e in entries.filter_map(Result::ok) {
        let file_name = e.file_name().to_string_lossy().into_owned();
        if let Some(version) = sdist_version(&file_name) {
            out.push(Candidate {
                location: Location::Path {
                    path: e.path(),
                    key: format!("{}/{file_name}", link.trim_end_matches(['/', '\\'])),
                },
                file_name,
                version,
                sha256: None,
            });
        }
    }
    Ok(out)
}

/// The sdist in the cache, verified against the lock (or the index's hash),
/// its hash recorded in `pyship.lock` when it was not there.
fn fetch_sdist(plan: &Plan, sdist: &Sdist, ctx: &Context<'_>) -> Result<PathBuf, Error> {
    let lock_path = Lockfile::path(plan);
    let (path, sha) = match &sdist.location {
        Location::Url(url) => {
            let pin = if sdist.locked {
                None
            } else {
                sdist.sha256.as_deref()
            };
            let src = super::Source {
                url,
                settings: super::TKINTER_SETTINGS,
                validate: &|p: &Path| super::validate_by_name(url, p),
            };
            let (got, _) =
                fetch_pinned(plan, &src, pin, ctx).map_err(|e| Error::Fetch(Box::new(e)))?;
            (got.path, got.sha256)
        }
        Location::Path { path, .. } => {
            let actual = crate::fs::sha256_file(path)?;
            if let Some(locked) = &sdist.sha256 {
                if !locked.eq_ignore_ascii_case(&actual) {
                    return Err(Error::LocalHash {
                        path: path.clone(),
                        locked: locked.clone(),
                        actual,
                    });
                }
            }
            let dest = ctx
                .cache
                .entry(crate::cache::RUNTIMES, &actual, &sdist.file_name);
            if !dest.is_file() {
                crate::fs::atomic_copy(path, &dest)?;
            }
            (dest, actual)
        }
    };
    let key = sdist.location.key();
    let lock = Lockfile::read(&lock_path).map_err(|e| Error::Fetch(Box::new(e.into())))?;
    if lock.get(key).is_none() {
        Lockfile::record(&lock_path, key, &sha, ctx.locked)
            .map_err(|e| Error::Fetch(Box::new(e.into())))?;
        ctx.reporter.status(
            "Locked",
            &format!("{key} sha256 {sha} in {}", lock_path.display()),
        );
    }
    Ok(path)
}

/// Take the `cp3XY/` folder of `tkinter_embed/data.zip` inside the sdist into `dest`.
fn unpack_sdist(
    archive: &Path,
    file_name: &str,
    v: &PythonVersion,
    dest: &Path,
) -> Result<(), Error> {
    let bad = |source: Box<dyn std::error::Error + Send + Sync>| Error::Archive {
        path: archive.to_owned(),
        source,
    };
    let gz = flate2::read::GzDecoder::new(fs_err::File::open(archive)?);
    let mut tar = tar::Archive::new(gz);
    let mut data = None;
    let preferred = format!("src{}/tkinter_embed/data.zip", v.xy);
    for e in tar.entries().map_err(|e| bad(e.into()))? {
        let mut e = e.map_err(|e| bad(e.into()))?;
        let path = e
            .path()
            .map_err(|e| bad(e.into()))?
            .to_string_lossy()
            .replace('\\', "/");
        if path.ends_with("/tkinter_embed/data.zip") {
            let mut buf = Vec::new();
            e.read_to_end(&mut buf).map_err(|e| bad(e.into()))?;
            let best = path.ends_with(&preferred);
            data = Some(buf);
            if best {
                break;
            }
        }
    }
    let data = data.ok_or_else(|| Error::Missing {
        origin: file_name.to_owned(),
        what: "tkinter_embed/data.zip".into(),
    })?;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(data)).map_err(|e| bad(e.into()))?;
    let folder = format!("cp{}/", v.nodot);
    let mut folders = BTreeSet::new();
    let mut n = 0;
    for i in 0..zip.len() {
        let mut e = zip.by_index(i).map_err(|e| bad(e.into()))?;
        let name = e.name().map_err(|e| bad(e.into()))?.into_owned();
        if let Some(top) = name.split('/').next().filter(|t| t.starts_with("cp")) {
            folders.insert(top.to_owned());
        }
        let Some(rel) = name.strip_prefix(&folder) else {
            continue;
        };
        if rel.is_empty() || e.is_dir() {
            continue;
        }
        let out = crate::fs::safe_join(dest, rel).map_err(|e| bad(e.into()))?;
        if let Some(p) = out.parent() {
            fs_err::create_dir_all(p)?;
        }
        let mut buf = Vec::with_capacity(e.size() as usize);
        e.read_to_end(&mut buf).map_err(|e| bad(e.into()))?;
        fs_err::write(&out, buf)?;
        n += 1;
    }
    if n == 0 {
        return Err(Error::PythonMismatch {
            file: "tkinter_embed/data.zip".into(),
            origin: file_name.to_owned(),
            found: if folders.is_empty() {
                "no CPython".into()
            } else {
                folders.into_iter().collect::<Vec<_>>().join(", ")
            },
            expected: v.full.clone(),
            nodot: v.nodot.clone(),
        });
    }
    Ok(())
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

    #[test]
    fn sdist_names() {
        assert_eq!(
            sdist_version("tkinter_embed-3.11.0.tar.gz").as_deref(),
            Some("3.11.0")
        );
        assert_eq!(
            sdist_version("tkinter-embed-3.9.2.tar.gz").as_deref(),
            Some("3.9.2")
        );
        assert_eq!(sdist_version("tkinter_embed-3.11.0-py3-none-any.whl"), None);
        assert_eq!(sdist_version("tkinter_embedded-3.11.0.tar.gz"), None);
    }

    #[test]
    fn pth_gets_lib_before_site_packages_once() {
        let pth = "python311.zip\r\n.\r\nLib\\site-packages\r\n..\\app\\src\r\n\r\nimport site\r\n";
        let out = pth_with_lib(pth);
        assert_eq!(
            out,
            "python311.zip\r\n.\r\nLib\r\nLib\\site-packages\r\n..\\app\\src\r\n\r\nimport site\r\n"
        );
        assert_eq!(pth_with_lib(&out), out);
    }
}
