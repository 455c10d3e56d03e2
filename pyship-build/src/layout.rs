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

use crate::error::Hint;
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
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("`app-src = \"{written}\"` in {table} resolves to {resolved}, which is not a folder")]
    Missing {
        written: String,
        table: ConfigSource,
        resolved: PathBuf,
    },
    #[error("`app-src = \"{written}\"` in {table} is the package folder {resolved} itself (it has an __init__.py); app-src is the folder that contains the package")]
    IsPackage {
        written: String,
        table: ConfigSource,
        resolved: PathBuf,
        /// What to write instead.
        parent: String,
    },
    #[error("module `{module}` not found under app-src or in the wheels; looked for {looked}")]
    ModuleNotFound {
        module: String,
        looked: String,
        table: ConfigSource,
    },
}

impl Hint for Error {
    fn hint(&self) -> Option<String> {
        Some(match self {
            Error::Missing { table, .. } => format!(
                "paths in [{}] are relative to {}; fix `app-src`, or remove it to use the layout's default",
                table.table.key(),
                table.config_dir().display()
            ),
            Error::IsPackage { parent, .. } => {
                format!("set `app-src = \"{parent}\"` (or remove app-src: it is found from the layout)")
            }
            Error::ModuleNotFound { table, .. } => format!(
                "set `module` (or `app-src`, the folder containing the module's package) in [{}], or add the wheel that provides it to `wheels`",
                table.table.key()
            ),
        })
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

/// Whether the walk below app-src skips this folder.
pub fn excluded_dir(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    EXCLUDED_DIRS.contains(&name.as_str())
        || name.ends_with(".egg-info")
        || path.join("pyvenv.cfg").is_file()
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

/// `[tool.maturin] python-source` of the pyproject, when set.
fn maturin_python_source(py: &Pyproject) -> Option<PathBuf> {
    let text = fs_err::read_to_string(&py.path).ok()?;
    let doc = text.parse::<toml_edit::DocumentMut>().ok()?;
    let src = doc
        .get("tool")?
        .get("maturin")?
        .get("python-source")?
        .as_str()?;
    Some(py.path.parent()?.join(src))
}

/// The pyproject is built by maturin (its wheel carries the module).
fn built_by_maturin(py: &Pyproject) -> bool {
    let Ok(text) = fs_err::read_to_string(&py.path) else {
        return false;
    };
    let Ok(doc) = text.parse::<toml_edit::DocumentMut>() else {
        return false;
    };
    doc.get("tool").and_then(|t| t.get("maturin")).is_some()
        || doc
            .get("build-system")
            .and_then(|b| b.get("build-backend"))
            .and_then(|b| b.as_str())
            .is_some_and(|b| b.starts_with("maturin"))
}

/// A wheel can provide `top`: configured project wheels, a maturin build, or
/// a dependency whose distribution name is the module's.
fn from_wheels(project: &Project, py: &Pyproject, top: &str) -> bool {
    let norm = normalize_dist_name(top);
    !project.config.wheels.is_empty()
        || built_by_maturin(py)
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
        });
    }
    let mut candidates: Vec<(PathBuf, &str)> = Vec::new();
    if built_by_maturin(py) {
        // maturin's wheel carries `python-source` (default: the pyproject's
        // folder) and the extension: the module comes from that wheel, which
        // the bundle builds per target. Copying it to app/src as well would
        // ship the package twice.
        let wheel_src = maturin_python_source(py).unwrap_or_else(|| py_dir.clone());
        let native_top = py
            .maturin
            .as_ref()
            .and_then(|m| m.module_name.as_deref())
            .map(top_package);
        if contains_module(&wheel_src, top)
            || native_top == Some(top)
            || normalize_dist_name(&py.name) == normalize_dist_name(top)
        {
            return Ok(AppSrc {
                dir: None,
                flat: false,
                origin: "none: the module is in the project's maturin wheel".into(),
                has_module: false,
            });
        }
    }
    candidates.push((py_dir.join("src"), "src layout"));
    candidates.push((py_dir.clone(), "flat layout, next to the pyproject"));
    for (dir, why) in &candidates {
        if dir.is_dir() && contains_module(dir, top) {
            return Ok(AppSrc {
                flat: is_project_root(dir),
                dir: Some(dir.clone()),
                origin: (*why).to_owned(),
                has_module: true,
            });
        }
    }
    if wheels() {
        return Ok(AppSrc {
            dir: None,
            flat: false,
            origin: "none: the module comes from a wheel".into(),
            has_module: false,
        });
    }
    Err(Error::ModuleNotFound {
        module: module.to_owned(),
        looked: candidates
            .iter()
            .map(|(d, why)| format!("{} ({why})", d.join(top).display()))
            .collect::<Vec<_>>()
            .join(", "),
        table: table.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(is_project_root(r));
    }

    #[test]
    fn top_package_is_the_first_component() {
        assert_eq!(top_package("pkg.main"), "pkg");
        assert_eq!(top_package("pkg"), "pkg");
    }
}
