//! Where the app's Python code is, decided once for the plan.
//!
//! `app-src` is the folder that *contains* the app's top-level package(s).
//! Unset, it follows the layout: maturin's `python-source`, else a src-layout
//! `src/` that holds the module, else the pyproject's own folder (a flat
//! layout). Cargo's `src/` (with `lib.rs`) is never taken for the app just
//! because it is called `src`: the module must be in it. A folder that is a
//! project root (it holds a `pyproject.toml` or `Cargo.toml`) is copied as
//! its Python packages and modules only, so `app-src = "."` cannot ship
//! `dist/`, `target/`, Rust sources or a virtualenv.
//!
//! The module to launch must be under `app-src`, or come from a wheel (the
//! project's own `wheels`, a maturin build, or a dependency of the same
//! name); otherwise the plan fails before anything is built, naming every
//! place it looked.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::escaped;
use crate::project::{normalize_dist_name, ConfigSource, Project, Pyproject};

/// Folder names never copied from the app sources: build output, VCS, caches
/// and virtualenvs (a folder with a `pyvenv.cfg` is skipped too).
pub const EXCLUDED_DIRS: &[&str] = &[
    "target",
    "dist",
    "build",
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    "node_modules",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".pyship",
];

/// Top-level files of a flat project root that are tooling, not the app.
const FLAT_SKIPPED_MODULES: &[&str] = &["setup.py", "conftest.py", "noxfile.py"];

/// Top-level packages of a flat project root that are never the app's
/// (unless the app's module is one of them).
const FLAT_SKIPPED_PACKAGES: &[&str] = &["tests", "test", "docs"];

/// The app's sources as the plan uses them.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AppSrc {
    /// Absolute folder containing the top-level package(s); `None` when the
    /// module comes only from wheels and there is no such folder.
    pub dir: Option<PathBuf>,
    /// `dir` is a project root: only its Python packages and modules are copied.
    pub flat: bool,
    /// How it was chosen, for `plan` and messages.
    pub origin: String,
    /// The module is under `dir` (else it comes from a wheel).
    pub has_module: bool,
    /// Top-level packages under `dir` that are not copied: the project's
    /// maturin wheel carries them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("`app-src = \"{}\"` in {table} resolves to {}, which is not a folder", escaped(.written), escaped(.resolved.display()))]
    #[diagnostic(help("paths in [{}] are relative to {}; fix `app-src`, or remove it to use the layout's default", .table.table.key(), .table.config_dir().display()))]
    Missing {
        written: String,
        table: ConfigSource,
        resolved: PathBuf,
    },
    #[error("`app-src = \"{}\"` in {table} is the package folder {} itself (it has an __init__.py); app-src is the folder that contains the package", escaped(.written), escaped(.resolved.display()))]
    #[diagnostic(help(
        "set `app-src = \"{}\"` (or remove app-src: it is found from the layout)",
        escaped(.parent)
    ))]
    IsPackage {
        written: String,
        table: ConfigSource,
        resolved: PathBuf,
        /// What to write instead.
        parent: String,
    },
    #[error("`python -m {}` cannot start the app: {}", escaped(.module), escaped(.why))]
    #[diagnostic(help("set `module` in [{}] to the app's package with a __main__.py{}, or to an entry point `pkg.mod:func`, or declare one in [project.scripts]", .table.table.key(), found_mains(.mains)))]
    CannotRun {
        module: String,
        why: String,
        /// Packages with a `__main__.py` found beside it, as `name (folder)`.
        mains: Vec<String>,
        table: ConfigSource,
    },
    #[error("module `{}` not found under app-src or in the wheels; looked for {}", escaped(.module), escaped(.looked))]
    #[diagnostic(help("set `module` (or `app-src`, the folder containing the module's package) in [{}], or add the wheel that provides it to `wheels`", .table.table.key()))]
    ModuleNotFound {
        module: String,
        looked: String,
        table: ConfigSource,
    },
    #[error(
        "the project's maturin extension module `{}` ({}) is not a Python module name",
        escaped(.name),
        escaped(.origin)
    )]
    #[diagnostic(help("name the extension with identifiers joined by dots (`pkg._native`): set `module-name` in [tool.maturin] of {pyproject}, or fix the crate's `[lib] name`"))]
    BadExtensionName {
        name: String,
        origin: String,
        pyproject: String,
    },
}

/// The `__main__.py` packages found, for the hint.
fn found_mains(mains: &[String]) -> String {
    match mains {
        [] => String::new(),
        [one] => format!(" ({}/ has one)", escaped(one)),
        many => format!(" (found: {}/)", escaped(many.join("/, "))),
    }
}

/// The first component of a dotted module name (`pkg` of `pkg.main`).
pub fn top_package(module: &str) -> &str {
    module.split('.').next().unwrap_or(module)
}

/// `dir` holds the top-level module `top`: a package folder, a `.py` file or
/// an extension module (`top.cpython-311-x86_64-linux-gnu.so`, `top.pyd`).
pub fn contains_module(dir: &Path, top: &str) -> bool {
    if dir.join(top).is_dir() || dir.join(format!("{top}.py")).is_file() {
        return true;
    }
    fs_err::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()).any(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_prefix(top)
                    .and_then(|rest| rest.strip_prefix('.'))
                    .is_some_and(|rest| rest.ends_with(".so") || rest.ends_with(".pyd"))
            })
        })
        .unwrap_or(false)
}

/// A project root: the folder holds a pyproject.toml or a Cargo.toml.
pub fn is_project_root(dir: &Path) -> bool {
    dir.join("pyproject.toml").is_file() || dir.join("Cargo.toml").is_file()
}

/// The project's root (its Cargo workspace's folder) as the path rule reads
/// it: links resolved.
pub fn project_root(project: &Project) -> PathBuf {
    project
        .workspace_root
        .canonicalize()
        .unwrap_or_else(|_| crate::fs::normalize(&project.workspace_root))
}

/// Whether `real` (links resolved) is in the project or in the folder of
/// its pyproject, `py_dir`: where app sources, maturin's `python-source` and
/// the Docker build context may be without `allow-outside-project`.
pub fn in_project(project: &Project, py_dir: &Path, real: &Path) -> bool {
    let py_dir = py_dir.canonicalize().unwrap_or_else(|_| py_dir.to_owned());
    real.starts_with(project_root(project)) || real.starts_with(py_dir)
}

/// Whether the walk below app-src skips this folder.
pub fn excluded_dir(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    EXCLUDED_DIRS.contains(&name.as_str())
        || name.ends_with(".egg-info")
        || path.join("pyvenv.cfg").is_file()
        || is_output_dir(path)
}

/// Whether `path` is an output folder of cargo-pyship, whatever its name:
/// it holds the work folder `.pyship` and the lock file every run takes
/// there, and is no Python package. One an earlier run wrote with another
/// `--out` is neither an app source nor a build input; a package folder in
/// which someone made a `.pyship` folder stays a package.
pub fn is_output_dir(path: &Path) -> bool {
    path.join(".pyship").is_dir()
        && path.join(crate::lock::LOCK_FILE).is_file()
        && !path.join("__init__.py").exists()
}

/// The entries of a flat project root that are copied: Python packages (a
/// folder with `__init__.py`, or the module's own folder, which may be a
/// namespace package), modules and extension modules; never tooling files,
/// test packages or excluded folders.
pub fn flat_entries(dir: &Path, top: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs_err::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    out.retain(|p| {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') {
            return false;
        }
        if p.is_dir() {
            !excluded_dir(p)
                && (name == top
                    || (p.join("__init__.py").is_file()
                        && !FLAT_SKIPPED_PACKAGES.contains(&name.as_str())))
        } else {
            (name.ends_with(".py") && !FLAT_SKIPPED_MODULES.contains(&name.as_str()))
                || name.ends_with(".pyd")
                || name.ends_with(".so")
        }
    });
    out.sort();
    out
}

/// The top-level entries of the app sources `dir` that a bundle copies: a
/// flat project root's Python packages and modules ([`flat_entries`]), else
/// everything but excluded folders and compiled files, less the top-level
/// modules in `exclude` (the project's maturin wheel carries them).
pub fn app_entries(dir: &Path, flat: bool, module_top: &str, exclude: &[String]) -> Vec<PathBuf> {
    let all = if flat {
        flat_entries(dir, module_top)
    } else {
        let mut v: Vec<PathBuf> = fs_err::read_dir(dir)
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        v.retain(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if p.is_dir() {
                !excluded_dir(p)
            } else {
                !(name.ends_with(".pyc") || name.ends_with(".pyo"))
            }
        });
        v.sort();
        v
    };
    all.into_iter()
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let stem = name.split('.').next().unwrap_or(&name);
            !exclude.iter().any(|e| e == stem)
        })
        .collect()
}

/// The packages with a `__main__.py` in the folders a layout takes the app
/// from (maturin's python-source, `src/`, the pyproject's folder), each with
/// that folder, in that order: what can stand in for a module that cannot be
/// started.
pub fn main_packages(py: &Pyproject) -> Vec<(String, PathBuf)> {
    let mut dirs = Vec::new();
    if let Some(wheel) = maturin_wheel(py) {
        dirs.push(wheel.python_root);
    }
    dirs.push(py.dir().join("src"));
    dirs.push(py.dir().to_owned());
    let mut out: Vec<(String, PathBuf)> = Vec::new();
    for d in dirs {
        let mut subs: Vec<PathBuf> = fs_err::read_dir(&d)
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        subs.sort();
        for sub in subs {
            let name = sub
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with('.')
                || excluded_dir(&sub)
                || FLAT_SKIPPED_PACKAGES.contains(&name.as_str())
            {
                continue;
            }
            if sub.join("__main__.py").is_file() && !out.iter().any(|(n, _)| n == &name) {
                out.push((name, d.clone()));
            }
        }
    }
    out
}

/// Why `python -m {module}` cannot start the app, when the module is in the
/// project's maturin wheel and its files tell (see
/// [`MaturinWheel::cannot_run`]). `None` also when the wheel does not carry it.
pub fn cannot_run_from_wheel(py: &Pyproject, module: &str) -> Option<String> {
    let wheel = maturin_wheel(py)?;
    if !wheel.carries(top_package(module)) {
        return None;
    }
    wheel.cannot_run(module)
}

/// The plan's check, before anything is built (the import check would find it
/// only after the Rust build): the module the launchers start with
/// `python -m` can be started from the project's maturin wheel; the error
/// names the packages with a `__main__.py` that could.
pub fn check_runnable(project: &Project, py: &Pyproject, module: &str) -> Result<(), Error> {
    let Some(why) = cannot_run_from_wheel(py, module) else {
        return Ok(());
    };
    let mains = main_packages(py)
        .into_iter()
        .filter(|(name, _)| name != top_package(module))
        .map(|(name, dir)| crate::fs::rel_slash(&project.config_dir, &dir.join(name)))
        .collect();
    Err(Error::CannotRun {
        module: module.to_owned(),
        why,
        mains,
        table: project.config_source.clone(),
    })
}

/// The maturin extension's module name, as read from the project's files,
/// is a Python module path: anything else (`../../etc`, `a b`) would be
/// refused by maturin after the plan, and is shown in the plan's messages.
pub fn check_extension_name(project: &Project, py: &Pyproject) -> Result<(), Error> {
    match maturin_wheel(py) {
        Some(w) if !crate::launch::is_dotted_identifier(&w.module_name) => {
            Err(Error::BadExtensionName {
                name: w.module_name,
                origin: w.module_origin,
                pyproject: crate::fs::rel_slash(&project.config_dir, &py.path),
            })
        }
        _ => Ok(()),
    }
}

/// What a maturin build of the pyproject packs into its wheel, read from the
/// files before anything is built, as maturin decides it: the extension's
/// module name (`[tool.maturin] module-name`, else the crate's `[lib] name`,
/// else its package name), the folder it takes Python code from
/// (`python-source`, else `src/` holding the package named after the
/// project, else the pyproject's folder), and from there the package named
/// like the module's first component (a mixed project) or the package
/// maturin generates around the extension (a pure Rust one), plus
/// `python-packages` and the files `include` globs add.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MaturinWheel {
    /// The extension's module name (`pkg._native`).
    pub module_name: String,
    /// Where `module_name` came from.
    pub module_origin: String,
    /// The folder maturin takes Python packages from.
    pub python_root: PathBuf,
    /// The top-level packages and modules the wheel carries, sorted.
    pub packages: Vec<String>,
}

impl MaturinWheel {
    /// Whether the wheel carries the top-level module `top`.
    pub fn carries(&self, top: &str) -> bool {
        self.packages.iter().any(|p| p == top)
    }

    /// Why `python -m {module}` cannot start from what this wheel packs, when
    /// the files tell: the extension module itself (there is no Python code
    /// to run), the package maturin generates around a pure Rust crate's
    /// extension (an `__init__.py` and the extension, no `__main__.py`), or a
    /// package of `python-source` without a `__main__.py`. `None`: it can,
    /// or the module is not one the wheel's folder shows.
    pub fn cannot_run(&self, module: &str) -> Option<String> {
        let top = top_package(module);
        let rel: PathBuf = module.split('.').collect();
        let at = self.python_root.join(&rel);
        if top == top_package(&self.module_name)
            && !self.python_root.join(top).exists()
            && !self.python_root.join(format!("{top}.py")).is_file()
        {
            // A pure Rust crate: maturin writes `{top}/__init__.py` and the
            // extension, nothing else.
            return (module == top).then(|| {
                format!(
                    "the wheel's package `{top}` is the one maturin generates around the extension {} (a pure Rust crate: no Python package `{top}` in {}), which has no __main__.py",
                    self.module_name,
                    self.python_root.display()
                )
            });
        }
        if module == self.module_name {
            return Some(format!(
                "`{module}` is the extension module itself ({}), which holds no Python code to run",
                self.module_origin
            ));
        }
        (at.is_dir() && !at.join("__main__.py").is_file())
            .then(|| format!("the package {} has no __main__.py", at.display()))
    }

    /// The wheel's contents for messages: `pkg from python/pkg and the
    /// extension pkg._native (`module-name` in [tool.maturin])`.
    pub fn describe(&self, base: &Path) -> String {
        let shown: Vec<String> = self
            .packages
            .iter()
            .map(|p| {
                let at = self.python_root.join(p);
                if at.exists() {
                    format!("{p} from {}", crate::fs::rel_slash(base, &at))
                } else {
                    p.clone()
                }
            })
            .collect();
        format!(
            "{} and the extension {} ({})",
            shown.join(", "),
            self.module_name,
            self.module_origin
        )
    }
}

/// The `[tool.maturin]` table of `py` and its parsed document.
fn maturin_table(py: &Pyproject) -> Option<toml_edit::Table> {
    let text = crate::fs::read_small_to_string(&py.path).ok()?;
    let doc = text.parse::<toml_edit::DocumentMut>().ok()?;
    let t = doc.get("tool")?.get("maturin")?;
    match t {
        toml_edit::Item::Table(t) => Some(t.clone()),
        toml_edit::Item::Value(toml_edit::Value::InlineTable(t)) => Some(t.clone().into_table()),
        _ => None,
    }
}

/// `[lib] name` and `[package] name` of a Cargo.toml.
fn crate_names(manifest: &Path) -> (Option<String>, Option<String>) {
    let Some(doc) = crate::fs::read_small_to_string(manifest)
        .ok()
        .and_then(|t| t.parse::<toml_edit::DocumentMut>().ok())
    else {
        return (None, None);
    };
    let s = |table: &str| {
        doc.get(table)
            .and_then(|t| t.get("name"))
            .and_then(|n| n.as_str())
            .map(str::to_owned)
    };
    (s("lib"), s("package"))
}

/// What maturin packs into the wheel of `py`; `None` when maturin does not build it.
pub fn maturin_wheel(py: &Pyproject) -> Option<MaturinWheel> {
    if !py.is_maturin() {
        return None;
    }
    let table = maturin_table(py).unwrap_or_default();
    let s = |k: &str| table.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let py_dir = py.dir().to_owned();
    let manifest = py
        .maturin_manifest()
        .unwrap_or_else(|| py_dir.join("Cargo.toml"));
    let (lib, package) = crate_names(&manifest);
    let shown_manifest = crate::fs::rel_slash(&py_dir, &manifest);
    let (module_name, module_origin) = match (s("module-name"), lib, package) {
        (Some(m), _, _) => (m, "`module-name` in [tool.maturin]".to_owned()),
        (None, Some(l), _) => (l, format!("[lib] name in {shown_manifest}")),
        (None, None, Some(p)) => (p, format!("the crate name in {shown_manifest}")),
        (None, None, None) => (
            py.name.clone(),
            "the project name (no crate found)".to_owned(),
        ),
    };
    let module_name = module_name.replace('-', "_");
    let python_root = match s("python-source") {
        Some(src) => py_dir.join(src),
        None => {
            let src = py_dir.join("src");
            if src.join(py.name.replace('-', "_")).is_dir() {
                src
            } else {
                py_dir.clone()
            }
        }
    };
    // A mixed project whose module name has no dot (`maturin new --mixed`):
    // maturin puts the extension inside the Python package of that name
    // (`greet/greet.*.so`, imported by `from .greet import *`).
    let module_name = if !module_name.contains('.')
        && crate::launch::is_dotted_identifier(&module_name)
        && python_root.join(&module_name).is_dir()
    {
        format!("{module_name}.{module_name}")
    } else {
        module_name
    };
    let top = top_package(&module_name).to_owned();
    let mut packages = vec![top];
    // `python-packages`: more packages (or modules) from the python root.
    if let Some(extra) = table.get("python-packages").and_then(|v| v.as_array()) {
        for p in extra.iter().filter_map(|v| v.as_str()) {
            let name = p.trim_end_matches(".py");
            if !crate::launch::is_dotted_identifier(name) || name.contains('.') {
                continue;
            }
            if python_root.join(name).is_dir() || python_root.join(format!("{name}.py")).is_file() {
                packages.push(name.to_owned());
            }
        }
    }
    packages.extend(included_tops(&table, &py_dir));
    packages.sort();
    packages.dedup();
    Some(MaturinWheel {
        module_name,
        module_origin,
        python_root,
        packages,
    })
}

/// The top-level modules that `[tool.maturin] include` globs for the wheel add
/// (a glob is relative to the pyproject's folder and its matches keep their
/// path in the wheel).
fn included_tops(table: &toml_edit::Table, py_dir: &Path) -> Vec<String> {
    let Some(items) = table.get("include").and_then(|v| v.as_array()) else {
        return Vec::new();
    };
    let mut builder = globset::GlobSetBuilder::new();
    let mut any = false;
    for item in items.iter() {
        let pattern = match item {
            toml_edit::Value::String(s) => Some(s.value().clone()),
            toml_edit::Value::InlineTable(t) => {
                let wheel = match t.get("format") {
                    None => true,
                    Some(toml_edit::Value::String(f)) => f.value() == "wheel",
                    Some(toml_edit::Value::Array(a)) => {
                        a.iter().any(|f| f.as_str() == Some("wheel"))
                    }
                    Some(_) => false,
                };
                t.get("path")
                    .and_then(|p| p.as_str())
                    .filter(|_| wheel)
                    .map(str::to_owned)
            }
            _ => None,
        };
        if let Some(g) = pattern.and_then(|p| globset::Glob::new(&p).ok()) {
            builder.add(g);
            any = true;
        }
    }
    let Some(set) = any.then(|| builder.build().ok()).flatten() else {
        return Vec::new();
    };
    let mut tops = Vec::new();
    let walk = walkdir::WalkDir::new(py_dir)
        .max_depth(6)
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !(e.file_type().is_dir() && excluded_dir(e.path())));
    for e in walk
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
    {
        let Ok(rel) = e.path().strip_prefix(py_dir) else {
            continue;
        };
        if !set.is_match(rel) {
            continue;
        }
        let mut parts = rel.components();
        let first = parts
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = if parts.next().is_some() {
            first
        } else {
            match first.strip_suffix(".py") {
                Some(m) => m.to_owned(),
                None => continue,
            }
        };
        if !tops.contains(&name) {
            tops.push(name);
        }
    }
    tops
}

/// A wheel can provide `top`: configured project wheels, the maturin build
/// (only the packages it packs), or a dependency whose distribution name is
/// the module's.
fn from_wheels(project: &Project, py: &Pyproject, top: &str) -> bool {
    let norm = normalize_dist_name(top);
    !project.config.wheels.is_empty()
        || maturin_wheel(py).is_some_and(|w| w.carries(top))
        || py.dependencies.iter().any(|d| {
            let name: String = d
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                .collect();
            normalize_dist_name(&name) == norm
        })
}

/// Decide `app-src` for `module` (see the module docs).
pub fn resolve(project: &Project, py: &Pyproject, module: &str) -> Result<AppSrc, Error> {
    let top = top_package(module);
    let table = &project.config_source;
    let py_dir = py
        .path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| project.config_dir.clone());
    let wheels = || from_wheels(project, py, top);
    if let Some(written) = &project.config.app_src {
        let shown = written.to_string_lossy().replace('\\', "/");
        let dir = project.path(written);
        if !dir.is_dir() {
            return Err(Error::Missing {
                written: shown,
                table: table.clone(),
                resolved: dir,
            });
        }
        if dir.join("__init__.py").is_file() {
            let parent = dir.parent().unwrap_or(&dir);
            return Err(Error::IsPackage {
                written: shown,
                table: table.clone(),
                parent: crate::fs::rel_slash(&project.config_dir, parent),
                resolved: dir,
            });
        }
        let has_module = contains_module(&dir, top);
        if !has_module && !wheels() {
            return Err(Error::ModuleNotFound {
                module: module.to_owned(),
                looked: format!("{} (`app-src = \"{shown}\"`)", dir.join(top).display()),
                table: table.clone(),
            });
        }
        return Ok(AppSrc {
            flat: is_project_root(&dir),
            dir: Some(dir),
            origin: format!("`app-src = \"{shown}\"` in {table}"),
            has_module,
            exclude: Vec::new(),
        });
    }
    let mut candidates: Vec<(PathBuf, String)> = Vec::new();
    let mut exclude = Vec::new();
    let mut beside = String::new();
    if let Some(wheel) = maturin_wheel(py) {
        // maturin's wheel carries these packages and the extension; the
        // bundle builds it per target. Copying them to app/src as well would
        // ship them twice.
        if wheel.carries(top) {
            return Ok(AppSrc {
                dir: None,
                flat: false,
                origin: format!(
                    "none: the module is in the project's maturin wheel, which packs {}",
                    wheel.describe(&project.config_dir)
                ),
                has_module: false,
                exclude: Vec::new(),
            });
        }
        // The app's package sits beside what the wheel packs: it is copied
        // from there, without the wheel's own packages.
        beside = format!(
            "; not in the project's maturin wheel, which packs {}",
            wheel.describe(&project.config_dir)
        );
        exclude = wheel.packages.clone();
        // `python-source` may point anywhere; the app is looked for there only
        // inside the project (unless that is allowed on purpose).
        let inside = wheel
            .python_root
            .canonicalize()
            .is_ok_and(|p| in_project(project, &py_dir, &p));
        if (inside || project.config.allow_outside_project)
            && wheel.python_root != py_dir
            && wheel.python_root != py_dir.join("src")
        {
            candidates.push((
                wheel.python_root.clone(),
                "maturin's python-source folder".to_owned(),
            ));
        }
    }
    candidates.push((py_dir.join("src"), "src layout".to_owned()));
    candidates.push((
        py_dir.clone(),
        "flat layout, next to the pyproject".to_owned(),
    ));
    for (dir, why) in &candidates {
        if dir.is_dir() && contains_module(dir, top) {
            return Ok(AppSrc {
                flat: is_project_root(dir),
                dir: Some(dir.clone()),
                origin: format!("{why}{beside}"),
                has_module: true,
                exclude,
            });
        }
    }
    if wheels() {
        return Ok(AppSrc {
            dir: None,
            flat: false,
            origin: "none: the module comes from a wheel".into(),
            has_module: false,
            exclude: Vec::new(),
        });
    }
    let mut looked: Vec<String> = candidates
        .iter()
        .map(|(d, why)| format!("{} ({why})", d.join(top).display()))
        .collect();
    if let Some(rest) = beside.strip_prefix("; not in ") {
        looked.push(rest.to_owned());
    }
    Err(Error::ModuleNotFound {
        module: module.to_owned(),
        looked: looked.join(", "),
        table: table.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Hint;

    fn touch(p: &Path) {
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(p, "").unwrap();
    }

    #[test]
    fn flat_root_copies_packages_and_modules_only() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        for f in [
            "Cargo.toml",
            "pyproject.toml",
            "src/lib.rs",
            "datasette/__init__.py",
            "datasette/app.py",
            "tests/__init__.py",
            "docs/conf.py",
            "dist/x/y.py",
            "target/debug/z.py",
            ".venv/pyvenv.cfg",
            "env2/pyvenv.cfg",
            "env2/pkg/__init__.py",
            "setup.py",
            "helper.py",
            "fast.cpython-311-x86_64-linux-gnu.so",
            "README.md",
        ] {
            touch(&r.join(f));
        }
        let names: Vec<String> = flat_entries(r, "datasette")
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "datasette",
                "fast.cpython-311-x86_64-linux-gnu.so",
                "helper.py"
            ]
        );
        assert!(contains_module(r, "fast"));
        assert!(contains_module(r, "datasette"));
        assert!(!contains_module(&r.join("src"), "datasette"));
        assert!(excluded_dir(&r.join("env2")));
        fs_err::create_dir_all(r.join("out-2024/.pyship")).unwrap();
        assert!(
            !excluded_dir(&r.join("out-2024")),
            "no lock file: not an output folder"
        );
        fs_err::write(r.join("out-2024").join(crate::lock::LOCK_FILE), "1\n").unwrap();
        assert!(excluded_dir(&r.join("out-2024")));
        fs_err::write(r.join("out-2024/__init__.py"), "").unwrap();
        assert!(
            !excluded_dir(&r.join("out-2024")),
            "a package is never an output folder"
        );
        assert!(is_project_root(r));
    }

    fn pyproject(dir: &Path, text: &str) -> Pyproject {
        let p = dir.join("pyproject.toml");
        fs_err::create_dir_all(dir).unwrap();
        fs_err::write(&p, text).unwrap();
        Pyproject::read(&p).unwrap()
    }

    /// What maturin packs, decided from the files: rtoml's layout
    /// (`python-source`, a dotted `module-name`), watchfiles' (a mixed
    /// package next to the pyproject), `maturin new`'s (pure Rust: the crate's
    /// lib name), a src layout, `python-packages` and `include` globs.
    #[test]
    fn what_the_maturin_wheel_packs_is_read_from_the_files() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        // rtoml: python/rtoml is the wheel's package; tomlsvc beside it is not.
        let rt = r.join("rtoml");
        touch(&rt.join("python/rtoml/__init__.py"));
        touch(&rt.join("tomlsvc/__init__.py"));
        fs_err::write(
            rt.join("Cargo.toml"),
            "[package]\nname = \"rtoml\"\n[lib]\nname = \"_rtoml\"\n",
        )
        .unwrap();
        let py = pyproject(
            &rt,
            "[build-system]\nbuild-backend = \"maturin\"\n[project]\nname = \"tomlsvc\"\n[tool.maturin]\npython-source = \"python\"\nmodule-name = \"rtoml._rtoml\"\n",
        );
        let w = maturin_wheel(&py).unwrap();
        assert_eq!(w.module_name, "rtoml._rtoml");
        assert_eq!(w.python_root, rt.join("python"));
        assert_eq!(w.packages, ["rtoml"]);
        assert!(w.carries("rtoml") && !w.carries("tomlsvc"));
        assert!(
            w.describe(&rt)
                .contains("rtoml from python/rtoml and the extension rtoml._rtoml"),
            "{}",
            w.describe(&rt)
        );

        // watchfiles: module-name watchfiles._rust_notify, package at the top.
        let wf = r.join("watchfiles");
        touch(&wf.join("watchfiles/__init__.py"));
        let py = pyproject(
            &wf,
            "[build-system]\nbuild-backend = \"maturin\"\n[project]\nname = \"watchfiles\"\n[tool.maturin]\nmodule-name = \"watchfiles._rust_notify\"\n",
        );
        let w = maturin_wheel(&py).unwrap();
        assert_eq!(w.python_root, wf);
        assert_eq!(w.packages, ["watchfiles"]);

        // maturin new: no [tool.maturin] keys, the crate's lib name.
        let mn = r.join("mn");
        fs_err::create_dir_all(&mn).unwrap();
        fs_err::write(
            mn.join("Cargo.toml"),
            "[package]\nname = \"my-ext\"\n[lib]\nname = \"my_ext\"\n",
        )
        .unwrap();
        let py = pyproject(
            &mn,
            "[build-system]\nbuild-backend = \"maturin\"\n[project]\nname = \"my-ext\"\n[tool.maturin]\nfeatures = [\"pyo3/extension-module\"]\n",
        );
        let w = maturin_wheel(&py).unwrap();
        assert_eq!(w.packages, ["my_ext"]);
        assert!(
            w.module_origin.contains("[lib] name"),
            "{}",
            w.module_origin
        );

        // maturin new --mixed: the lib name's package in python-source
        // holds the extension (`mixed/mixed.*.so`), so `python -m mixed`
        // runs the package's __main__.py.
        let mx = r.join("mixed");
        touch(&mx.join("python/mixed/__init__.py"));
        touch(&mx.join("python/mixed/__main__.py"));
        fs_err::write(
            mx.join("Cargo.toml"),
            "[package]\nname = \"mixed\"\n[lib]\nname = \"mixed\"\n",
        )
        .unwrap();
        let py = pyproject(
            &mx,
            "[build-system]\nbuild-backend = \"maturin\"\n[project]\nname = \"mixed\"\n[tool.maturin]\npython-source = \"python\"\n",
        );
        let w = maturin_wheel(&py).unwrap();
        assert_eq!(w.module_name, "mixed.mixed");
        assert_eq!(w.packages, ["mixed"]);
        assert_eq!(w.cannot_run("mixed"), None);
        assert!(w.cannot_run("mixed.mixed").is_some());

        // A src layout, python-packages and include globs add packages.
        let sl = r.join("sl");
        touch(&sl.join("src/sl_app/__init__.py"));
        touch(&sl.join("src/helpers/__init__.py"));
        touch(&sl.join("extra/data.txt"));
        touch(&sl.join("webui/__init__.py"));
        touch(&sl.join("tool.py"));
        fs_err::write(sl.join("Cargo.toml"), "[package]\nname = \"sl-app\"\n").unwrap();
        let py = pyproject(
            &sl,
            "[build-system]\nbuild-backend = \"maturin\"\n[project]\nname = \"sl-app\"\n[tool.maturin]\npython-packages = [\"helpers\", \"missing\"]\ninclude = [\"webui/**/*\", {path = \"tool.py\", format = \"wheel\"}, {path = \"extra/*\", format = \"sdist\"}]\n",
        );
        let w = maturin_wheel(&py).unwrap();
        assert_eq!(w.python_root, sl.join("src"));
        assert_eq!(w.packages, ["helpers", "sl_app", "tool", "webui"]);
    }

    /// The app package beside maturin's python-source is found before any
    /// build and copied without the wheel's packages; one in the wheel is not
    /// copied at all.
    #[test]
    fn the_app_beside_python_source_is_found_and_the_wheels_package_left_out() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path().join("svc");
        touch(&r.join("python/rtoml/__init__.py"));
        touch(&r.join("python/tomlsvc/__init__.py"));
        touch(&r.join("python/tomlsvc/__main__.py"));
        touch(&r.join("src/lib.rs"));
        fs_err::write(
            r.join("Cargo.toml"),
            "[package]\nname = \"rtoml\"\nversion = \"0.14.0\"\nedition = \"2021\"\n\n[lib]\nname = \"_rtoml\"\npath = \"src/lib.rs\"\n",
        )
        .unwrap();
        let py = pyproject(
            &r,
            "[build-system]\nbuild-backend = \"maturin\"\n[project]\nname = \"tomlsvc\"\ndynamic = [\"version\"]\n[tool.maturin]\npython-source = \"python\"\nmodule-name = \"rtoml._rtoml\"\n",
        );
        let project = crate::project::load(Some(&r.join("Cargo.toml")), None).unwrap();
        assert_eq!(
            project.config.name, "tomlsvc",
            "the default name is the pyproject's"
        );
        let app = resolve(&project, &py, "tomlsvc").unwrap();
        assert_eq!(app.dir.as_deref(), Some(r.join("python").as_path()));
        assert!(app.has_module);
        assert_eq!(app.exclude, ["rtoml"]);
        assert!(
            app.origin.contains("maturin's python-source folder"),
            "{}",
            app.origin
        );
        assert!(
            app.origin.contains("packs rtoml from python/rtoml"),
            "{}",
            app.origin
        );
        let names: Vec<String> = app_entries(&r.join("python"), app.flat, "tomlsvc", &app.exclude)
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["tomlsvc"]);
        // The wheel's own package: no app sources.
        let app = resolve(&project, &py, "rtoml").unwrap();
        assert_eq!(app.dir, None);
        assert!(
            app.origin.contains("in the project's maturin wheel"),
            "{}",
            app.origin
        );
        // Neither: an error naming every place, the wheel included.
        let e = resolve(&project, &py, "nowhere").unwrap_err().to_string();
        assert!(
            e.contains("the project's maturin wheel, which packs rtoml"),
            "{e}"
        );
    }

    /// A crate whose `[lib] name` (or a `module-name`) is no Python module
    /// path is refused by the plan, naming where the name came from; a
    /// `python-packages` entry that is a path is never taken as a package.
    #[test]
    fn an_extension_name_that_is_no_module_path_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path().join("greet");
        touch(&r.join("src/lib.rs"));
        touch(&r.join("etc/__init__.py"));
        for (lib, maturin, bad) in [
            ("../../etc", "", "../../etc"),
            ("greet", "module-name = \"greet.a b\"\n", "greet.a b"),
            ("greet", "module-name = \"\"\n", ""),
        ] {
            fs_err::write(
                r.join("Cargo.toml"),
                format!("[package]\nname = \"greet\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[lib]\nname = \"{lib}\"\n"),
            )
            .unwrap();
            let py = pyproject(
                &r,
                &format!("[build-system]\nbuild-backend = \"maturin\"\n[project]\nname = \"greet\"\ndynamic = [\"version\"]\n[tool.maturin]\npython-packages = [\"../etc\", \"etc\"]\n{maturin}"),
            );
            let project = crate::project::load(Some(&r.join("Cargo.toml")), None).unwrap();
            let e = check_extension_name(&project, &py).unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.contains(&format!("module `{bad}` ("))
                    && msg.ends_with("is not a Python module name"),
                "{msg}"
            );
            assert!(e.hint().unwrap().contains("pyproject.toml"), "{e:?}");
            let w = maturin_wheel(&py).unwrap();
            assert!(w.packages.contains(&"etc".to_owned()), "{:?}", w.packages);
            assert!(
                !w.packages.iter().any(|p| p.contains('/')),
                "{:?}",
                w.packages
            );
        }
    }

    /// `maturin new --bindings pyo3` (pure Rust) with the app's package
    /// beside it: `python -m greet` would run the package maturin generates
    /// around the extension, which has no `__main__.py`. The plan says so
    /// before any build and names the package that can start; a mixed
    /// package without `__main__.py` and the extension module itself are
    /// refused too; a package with one, or another module, passes.
    #[test]
    fn a_module_the_maturin_wheel_cannot_start_is_refused_before_building() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path().join("greet");
        touch(&r.join("src/lib.rs"));
        touch(&r.join("greeter/__init__.py"));
        touch(&r.join("greeter/__main__.py"));
        touch(&r.join("tests/__main__.py"));
        fs_err::write(
            r.join("Cargo.toml"),
            "[package]\nname = \"greet\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[lib]\nname = \"greet\"\ncrate-type = [\"cdylib\"]\n",
        )
        .unwrap();
        let py = pyproject(
            &r,
            "[build-system]\nbuild-backend = \"maturin\"\n[project]\nname = \"greet\"\ndynamic = [\"version\"]\n",
        );
        let project = crate::project::load(Some(&r.join("Cargo.toml")), None).unwrap();
        let e = check_runnable(&project, &py, "greet").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("`python -m greet` cannot start the app: the wheel's package `greet` is the one maturin generates around the extension greet (a pure Rust crate"),
            "{msg}"
        );
        let hint = e.hint().unwrap();
        assert!(
            hint.contains("package with a __main__.py (greeter/ has one)")
                && hint.contains("[package.metadata.pyship]"),
            "{hint}"
        );
        assert_eq!(
            main_packages(&py),
            [("greeter".to_owned(), r.clone())],
            "tests/ is never the app"
        );
        check_runnable(&project, &py, "greeter").unwrap();

        // A mixed project: the package needs a __main__.py; the extension
        // module has no Python code.
        let m = d.path().join("mixed");
        touch(&m.join("python/pkg/__init__.py"));
        touch(&m.join("python/pkg/cli/__init__.py"));
        touch(&m.join("python/pkg/tool/__main__.py"));
        touch(&m.join("src/lib.rs"));
        fs_err::write(
            m.join("Cargo.toml"),
            "[package]\nname = \"pkgcore\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[lib]\nname = \"_core\"\n",
        )
        .unwrap();
        let py = pyproject(
            &m,
            "[build-system]\nbuild-backend = \"maturin\"\n[project]\nname = \"pkgcore\"\ndynamic = [\"version\"]\n[tool.maturin]\npython-source = \"python\"\nmodule-name = \"pkg._core\"\n",
        );
        let project = crate::project::load(Some(&m.join("Cargo.toml")), None).unwrap();
        let e = check_runnable(&project, &py, "pkg")
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("pkg has no __main__.py"), "{e}");
        let e = check_runnable(&project, &py, "pkg.cli")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cli has no __main__.py"), "{e}");
        let e = check_runnable(&project, &py, "pkg._core")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "`pkg._core` is the extension module itself (`module-name` in [tool.maturin])"
            ),
            "{e}"
        );
        check_runnable(&project, &py, "pkg.tool").unwrap();
        // Not the wheel's: the layout's business, not this check's.
        check_runnable(&project, &py, "other").unwrap();
    }

    #[test]
    fn top_package_is_the_first_component() {
        assert_eq!(top_package("pkg.main"), "pkg");
        assert_eq!(top_package("pkg"), "pkg");
    }
}
