//! The app's `pyproject.toml`: the facts the pipeline reads from it (name,
//! version, dynamic fields, dependencies, extras and groups, licence,
//! `[tool.maturin]`), and the PEP 503 forms of distribution names.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Error;

/// The pyproject.toml facts the pipeline needs.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Pyproject {
    pub path: PathBuf,
    /// `[project].name` as written.
    pub name: String,
    /// `[project].version`, when static.
    pub version: Option<String>,
    /// `dynamic` contains `"version"` (maturin projects).
    pub dynamic_version: bool,
    pub dependencies: Vec<String>,
    /// `[project.optional-dependencies]`.
    pub optional_dependencies: std::collections::BTreeMap<String, Vec<String>>,
    /// `[project.scripts]` and `[project.gui-scripts]`: name → `module:function`.
    pub scripts: std::collections::BTreeMap<String, String>,
    /// The names of `scripts` that come from `[project.gui-scripts]` only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gui_scripts: Vec<String>,
    /// `[build-system].build-backend`.
    pub build_backend: Option<String>,
    /// `[project].requires-python`, as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requires_python: Option<String>,
    /// `[tool.maturin]`, when the table exists (even empty).
    pub maturin: Option<MaturinTool>,
    /// The project's own licence as the pyproject declares it.
    #[serde(skip_serializing_if = "LicenseDecl::is_empty")]
    pub license: LicenseDecl,
    /// A dynamic version (not maturin's) kept in a file the backend reads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_file: Option<crate::version::dynamic::VersionFile>,
    /// Why the file the pyproject points at holds no version.
    #[serde(skip)]
    pub version_file_problem: Option<String>,
}

/// The project's licence as its pyproject declares it: `license` (a PEP 639
/// SPDX expression, or PEP 621's `{text = ...}` / `{file = ...}`),
/// `license-files` (PEP 639 globs) and the `License ::` classifiers.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct LicenseDecl {
    /// `license = "MIT OR Apache-2.0"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    /// `license = {text = "..."}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `license = {file = "..."}` and the `license-files` globs, as written
    /// (relative to the pyproject's folder).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// `license-files` is set (even empty: then no file ships).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub files_declared: bool,
    /// `Classifier`s under `License ::`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub classifiers: Vec<String>,
    /// `license` is in `dynamic` (the build backend fills it in).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dynamic: bool,
}

impl LicenseDecl {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// The `[tool.maturin]` keys that decide what its wheel contains.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct MaturinTool {
    /// `python-source`: the folder holding the Python package (relative to the pyproject).
    pub python_source: Option<PathBuf>,
    /// `module-name` (`pkg._native`).
    pub module_name: Option<String>,
    /// `manifest-path`: the Cargo.toml maturin builds (relative to the pyproject).
    pub manifest_path: Option<PathBuf>,
}

impl Pyproject {
    /// The normalized distribution name (PEP 503/427: lowercase, runs of `-_.` → `_`).
    pub fn dist_name(&self) -> String {
        normalize_dist_name(&self.name)
    }

    /// Whether maturin builds this project's wheel: its build backend is
    /// maturin, or it has a `[tool.maturin]` table.
    pub fn is_maturin(&self) -> bool {
        self.build_backend.as_deref() == Some("maturin") || self.maturin.is_some()
    }

    /// Where a dynamic version of a non-maturin project is kept (`Ok`), or
    /// why the place the pyproject names holds none (`Err`); `None`: the
    /// version is static, maturin's (Cargo's), or computed by the backend.
    pub fn dynamic_source(&self) -> Option<Result<&crate::version::dynamic::VersionFile, &str>> {
        match (&self.version_file, &self.version_file_problem) {
            (Some(f), _) => Some(Ok(f)),
            (None, Some(p)) => Some(Err(p.as_str())),
            (None, None) => None,
        }
    }

    /// The directory holding the pyproject.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// Folders whose top-level packages the project's own wheel contains
    /// (maturin's `python-source`, default the pyproject's folder).
    pub fn wheel_python_source(&self) -> Option<PathBuf> {
        let m = self.maturin.clone().unwrap_or_default();
        self.is_maturin().then(|| match m.python_source {
            Some(p) => self.dir().join(p),
            None => self.dir().to_owned(),
        })
    }

    /// The Cargo.toml maturin builds (`manifest-path`, by default the one
    /// next to the pyproject); `None` when maturin does not build this project.
    pub fn maturin_manifest(&self) -> Option<PathBuf> {
        self.is_maturin().then(|| {
            let m = self.maturin.as_ref().and_then(|m| m.manifest_path.as_ref());
            self.dir()
                .join(m.map_or(Path::new("Cargo.toml"), |p| p.as_path()))
        })
    }

    /// Read and parse a pyproject.toml.
    pub fn read(path: &Path) -> Result<Self, Error> {
        let doc = super::read_toml(path)?;
        let project = doc.get("project");
        let name = project
            .and_then(|p| p.get("name"))
            .and_then(|n| n.as_str())
            .ok_or_else(|| {
                let poetry = doc
                    .get("tool")
                    .and_then(|t| t.get("poetry"))
                    .and_then(|p| p.get("name"))
                    .is_some();
                let path = path.to_owned();
                if poetry {
                    Error::PoetryProject { path }
                } else {
                    Error::NoProjectName { path }
                }
            })?
            .to_owned();
        // It becomes file names (dist-info), a requirement in the Dockerfile
        // and METADATA's Name: only what PEP 508 allows.
        if !crate::config::strings::valid_name(&name) {
            return Err(Error::BadProjectName {
                path: path.to_owned(),
                name,
            });
        }
        let strings = |item: Option<&toml_edit::Item>| -> Vec<String> {
            item.and_then(|i| i.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let dynamic = strings(project.and_then(|p| p.get("dynamic")));
        let mut optional = std::collections::BTreeMap::new();
        if let Some(t) = project
            .and_then(|p| p.get("optional-dependencies"))
            .and_then(|o| o.as_table_like())
        {
            for (k, v) in t.iter() {
                optional.insert(k.to_owned(), strings(Some(v)));
            }
        }
        let mut scripts = std::collections::BTreeMap::new();
        let mut gui_scripts = Vec::new();
        for key in ["scripts", "gui-scripts"] {
            if let Some(t) = project
                .and_then(|p| p.get(key))
                .and_then(|o| o.as_table_like())
            {
                for (k, v) in t.iter() {
                    if let Some(v) = v.as_str() {
                        if key == "gui-scripts" && !scripts.contains_key(k) {
                            gui_scripts.push(k.to_owned());
                        }
                        scripts.entry(k.to_owned()).or_insert_with(|| v.to_owned());
                    }
                }
            }
        }
        let build_backend = doc
            .get("build-system")
            .and_then(|b| b.get("build-backend"))
            .and_then(|b| b.as_str())
            .map(str::to_owned);
        let maturin = doc.get("tool").and_then(|t| t.get("maturin")).map(|m| {
            let s = |k: &str| m.get(k).and_then(|v| v.as_str()).map(str::to_owned);
            MaturinTool {
                python_source: s("python-source").map(PathBuf::from),
                module_name: s("module-name"),
                manifest_path: s("manifest-path").map(PathBuf::from),
            }
        });
        let dynamic_version = dynamic.iter().any(|d| d == "version");
        let mut license = LicenseDecl {
            classifiers: strings(project.and_then(|p| p.get("classifiers")))
                .into_iter()
                .filter(|c| c.starts_with("License ::"))
                .collect(),
            dynamic: dynamic.iter().any(|d| d == "license"),
            ..LicenseDecl::default()
        };
        match project.and_then(|p| p.get("license")) {
            Some(l) if l.as_str().is_some() => {
                license.expression = l.as_str().map(|s| s.trim().to_owned());
            }
            Some(l) => {
                let s = |k: &str| l.get(k).and_then(|v| v.as_str()).map(str::to_owned);
                license.text = s("text");
                license.files.extend(s("file"));
            }
            None => {}
        }
        if let Some(files) = project.and_then(|p| p.get("license-files")) {
            license.files_declared = true;
            license.files.extend(strings(Some(files)));
        }
        let is_maturin = build_backend.as_deref() == Some("maturin") || maturin.is_some();
        let (version_file, version_file_problem) = if dynamic_version && !is_maturin {
            match crate::version::dynamic::find(path, &doc, &normalize_dist_name(&name)) {
                Ok(f) => (f, None),
                Err(p) => (None, Some(p)),
            }
        } else {
            (None, None)
        };
        Ok(Self {
            build_backend,
            scripts,
            gui_scripts,
            maturin,
            license,
            version_file,
            version_file_problem,
            path: path.to_owned(),
            version: project
                .and_then(|p| p.get("version"))
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            dynamic_version,
            dependencies: strings(project.and_then(|p| p.get("dependencies"))),
            optional_dependencies: optional,
            requires_python: project
                .and_then(|p| p.get("requires-python"))
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            name,
        })
    }
}

/// PEP 503 normalization with `_` (the form used in wheel and dist-info names).
pub fn normalize_dist_name(name: &str) -> String {
    normalize_name(name, '_')
}

/// PEP 503 normalization: lowercase, every run of `-`, `_` and `.` one `-`
/// (the form of requirement names and index URLs).
pub fn pep503_name(name: &str) -> String {
    normalize_name(name, '-')
}

fn normalize_name(name: &str, sep_char: char) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push(sep_char);
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}
