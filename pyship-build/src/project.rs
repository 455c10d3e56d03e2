//! The project on disk: one `cargo metadata` call plus the pyproject.toml.
//!
//! Selects the package (`-p`, else the root package, else the one workspace
//! member with `[package.metadata.pyship]`), reads its pyship config, and
//! reads the pyproject's name, version, dynamic fields and dependencies.
//!
//! The path rule: every path in a pyship table is relative to the directory of
//! the Cargo.toml that declares the table ([`Project::config_dir`]; the
//! workspace root for `[workspace.metadata.pyship]`). `dist/`, `pyship.lock`
//! and `templates/` overrides live there too. [`Project::path`] applies it.

use std::path::{Path, PathBuf};

use serde::Serialize;
use toml_edit::DocumentMut;

use crate::config::{self, Config, RawConfig};
use crate::error::escaped;

mod pyproject;

pub use pyproject::*;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("`cargo metadata` failed for {manifest}:\n{message}")]
    #[diagnostic(help(
        "fix the manifest error shown above (cargo names the file, line and column)"
    ))]
    Metadata { manifest: PathBuf, message: String },
    #[error("no Cargo.toml in {dir} or any folder above it")]
    #[diagnostic(help("run cargo pyship in the project's folder or pass --manifest-path; a Python-only project gets its Cargo.toml from `cargo pyship init` (run in the folder of its pyproject.toml)"))]
    NoManifest { dir: PathBuf },
    #[error("no package `{}` in the workspace of {manifest}", escaped(.name))]
    #[diagnostic(help("check the name given to -p/--package"))]
    NoSuchPackage { name: String, manifest: PathBuf },
    #[error("{manifest} is a virtual workspace with several candidate packages: {candidates}")]
    #[diagnostic(help("choose one with -p/--package, or name it in the workspace's table: `package = \"NAME\"` in [workspace.metadata.pyship]"))]
    Ambiguous {
        manifest: PathBuf,
        candidates: String,
    },
    #[error("`package = \"{}\"` in [{table}] in {manifest}: no such workspace member (members: {members})", escaped(.name))]
    #[diagnostic(help("set `package` to one of the members listed, or remove it"))]
    NoSuchMember {
        name: String,
        table: &'static str,
        manifest: PathBuf,
        members: String,
    },
    #[error("`package = \"{}\"` in [{table}] in {manifest}, but the package selected is `{selected}`", escaped(.name))]
    #[diagnostic(help(
        "drop -p/--package (the table names the member it ships), or change `package`"
    ))]
    PackageMismatch {
        name: String,
        table: &'static str,
        manifest: PathBuf,
        selected: String,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(#[from] config::Error),
    #[error("could not parse {path}")]
    #[diagnostic(help("fix the TOML syntax at the line and column shown"))]
    Toml {
        path: PathBuf,
        #[source]
        source: toml_edit::TomlError,
    },
    #[error("could not read {path}")]
    Read {
        path: PathBuf,
        #[source]
        #[diagnostic_source]
        source: crate::fs::Error,
    },
    #[error("{pyproject} declares a dynamic version that cannot be read: {}", escaped(.message))]
    #[diagnostic(help("fix the pointer in pyproject.toml, or keep the version as a string literal where it points (`__version__ = \"1.2.3\"`)"))]
    DynamicVersion { pyproject: PathBuf, message: String },
    #[error("{path} has no [project] table with a `name`")]
    #[diagnostic(help("add a [project] table with `name` and `version` (PEP 621)"))]
    NoProjectName { path: PathBuf },
    #[error("{path} declares its project in [tool.poetry] (Poetry 1 style); cargo-pyship reads the standard [project] table (PEP 621)")]
    #[diagnostic(help("move `name`, `version`, `description` and the dependencies into a [project] table (PEP 621; Poetry 2 reads them there and keeps [tool.poetry] for its own settings, and `poetry check` validates the result)"))]
    PoetryProject { path: PathBuf },
    #[error("[project] name = {name:?} in {path} is not a valid project name")]
    #[diagnostic(help("a project name is ASCII letters and digits, with `-`, `_` or `.` inside (PEP 508), e.g. name = \"my-app\""))]
    BadProjectName { path: PathBuf, name: String },
    #[error("{}", no_pyproject_message(.config, .written.as_deref(), .resolved))]
    #[diagnostic(help("paths in [{}] are relative to {}, the directory of {}; create the file or set `pyproject = \"path/to/pyproject.toml\"` there", .config.table.key(), .config.config_dir().display(), display_path(&.config.manifest)))]
    NoPyproject {
        /// The table in use.
        config: ConfigSource,
        /// `pyproject = "..."` as written; `None` when the default applied.
        written: Option<PathBuf>,
        resolved: PathBuf,
    },
}

fn no_pyproject_message(source: &ConfigSource, written: Option<&Path>, resolved: &Path) -> String {
    match (written, source.table) {
        (Some(w), _) => format!(
            "`pyproject = \"{}\"` in {source} resolves to {}, which does not exist",
            escaped(w.display()),
            escaped(resolved.display())
        ),
        (None, _) if resolved.is_file() => format!(
            "{} has no [project] table with a `name` (tool settings only): it is not the app's pyproject",
            resolved.display()
        ),
        (None, ConfigTable::None) => format!(
            "no pyproject.toml at {} (no pyship table; the default is pyproject.toml next to {})",
            resolved.display(),
            display_path(&source.manifest)
        ),
        (None, _) => format!(
            "no pyproject.toml at {} (the default of `pyproject` in {source})",
            resolved.display()
        ),
    }
}

/// Which pyship table configures the project.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ConfigTable {
    /// `[package.metadata.pyship]` in the package's Cargo.toml.
    Package,
    /// `[workspace.metadata.pyship]` in the workspace's root Cargo.toml.
    Workspace,
    /// No table: every default (paths relative to the package's Cargo.toml).
    None,
}

impl ConfigTable {
    /// The table's key (`package.metadata.pyship`), also for [`ConfigTable::None`]:
    /// where a table would go.
    pub fn key(self) -> &'static str {
        match self {
            ConfigTable::Package | ConfigTable::None => "package.metadata.pyship",
            ConfigTable::Workspace => "workspace.metadata.pyship",
        }
    }
}

/// The table in use and the Cargo.toml that declares it. Displays as
/// `[workspace.metadata.pyship] in ./Cargo.toml`, the form errors and hints use.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ConfigSource {
    pub table: ConfigTable,
    /// The Cargo.toml declaring the table (the package's when there is none).
    pub manifest: PathBuf,
}

impl ConfigSource {
    /// The directory every path in the table is relative to.
    pub fn config_dir(&self) -> PathBuf {
        self.manifest
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }
}

impl std::fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let file = display_path(&self.manifest);
        match self.table {
            ConfigTable::None => write!(f, "no pyship table in {file} (defaults)"),
            t => write!(f, "[{}] in {file}", t.key()),
        }
    }
}

/// `path` for a message: `./rel/path` below the current directory, else as is.
pub fn display_path(path: &Path) -> String {
    let rel = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(&cwd).ok().map(Path::to_path_buf));
    match rel {
        Some(r) if r.as_os_str().is_empty() => ".".into(),
        Some(r) => format!("./{}", r.display()),
        None => path.display().to_string(),
    }
}

/// The Cargo side of the project.
#[derive(Debug, Clone, Serialize)]
pub struct Project {
    /// The selected package's Cargo.toml.
    pub manifest_path: PathBuf,
    /// The directory of the Cargo.toml declaring the pyship table (the
    /// workspace root for `[workspace.metadata.pyship]`, else the package's
    /// directory). Every configured path is relative to it; `dist/`,
    /// `pyship.lock` and `templates/` live in it. Use [`Project::path`].
    pub config_dir: PathBuf,
    pub workspace_root: PathBuf,
    /// The workspace's root Cargo.toml.
    pub workspace_manifest: PathBuf,
    pub package_name: String,
    /// The package version, workspace inheritance resolved.
    pub cargo_version: String,
    /// `version.workspace = true` in the package.
    pub version_inherited: bool,
    /// The package declares a version (its own or the workspace's); Cargo's
    /// 0.0.0 for a manifest without one is no version to check or stamp.
    pub cargo_version_declared: bool,
    /// The pyproject.toml beside the selected package when it is another
    /// Python project than the app, built by maturin from this crate: the
    /// crate is a local package of the app (a virtual workspace whose only
    /// member is the app's Rust core), and its version is that package's own,
    /// never stamped or checked against the app's.
    pub cargo_package_of: Option<PathBuf>,
    /// Workspace members whose version follows `[workspace.package].version`,
    /// and all members: (name, version) for keeping Cargo.lock in step.
    pub inheriting_members: Vec<(String, String)>,
    /// Every workspace member's package name.
    #[serde(skip)]
    pub members: Vec<String>,
    /// Every workspace member's Cargo.toml (a local Python package of the app
    /// may be one of them: see [`crate::local_deps`]).
    #[serde(skip)]
    pub member_manifests: Vec<PathBuf>,
    pub config: Config,
    /// The table as written, before [`RawConfig::resolve`] applied the
    /// defaults (init derives the defaults of another pyproject from it).
    #[serde(skip)]
    pub raw_config: RawConfig,
    /// Where the config came from.
    pub config_source: ConfigSource,
    /// `pyproject = "..."` as written in the table (`None`: the default).
    pub pyproject_written: Option<PathBuf>,
    /// `None` when the pyproject does not exist: only plain `version` and
    /// `init` work then; everything else asks [`Project::pyproject`].
    pub pyproject: Option<Pyproject>,
}

/// The member a `[workspace.metadata.pyship]` table ships when the workspace
/// has several: the one its `package` key names, else the crate the app's
/// pyproject builds with maturin (`[tool.maturin] manifest-path`, by default
/// the Cargo.toml next to the pyproject). `None`: the table does not say.
fn workspace_member<'a>(
    meta: &'a cargo_metadata::Metadata,
    members: &[&'a cargo_metadata::Package],
) -> Result<Option<&'a cargo_metadata::Package>, Error> {
    let Some(table) = meta.workspace_metadata.get("pyship") else {
        return Ok(None);
    };
    let root: &Path = meta.workspace_root.as_std_path();
    let manifest = root.join("Cargo.toml");
    // Parsed as every table is, so a mistyped key is its own error here too.
    let raw = RawConfig::from_json(table, ConfigTable::Workspace.key(), &manifest)?;
    if let Some(name) = raw.package.as_deref() {
        return members
            .iter()
            .find(|p| p.name.as_str() == name)
            .copied()
            .map(Some)
            .ok_or_else(|| Error::NoSuchMember {
                name: name.to_owned(),
                table: ConfigTable::Workspace.key(),
                manifest,
                members: members
                    .iter()
                    .map(|p| p.name.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
    }
    let pyproject = root.join(
        raw.pyproject
            .as_deref()
            .unwrap_or(Path::new("pyproject.toml")),
    );
    let Some(manifest) = Pyproject::read(&pyproject)
        .ok()
        .and_then(|py| py.maturin_manifest())
        .and_then(|m| m.canonicalize().ok())
    else {
        return Ok(None);
    };
    Ok(members.iter().copied().find(|p| {
        p.manifest_path
            .as_std_path()
            .canonicalize()
            .is_ok_and(|m| m == manifest)
    }))
}

/// Run `cargo metadata` as `cmd` describes (under the step timeout) and
/// parse its answer; `Err` is the reason in words (cargo's stderr when it
/// failed).
pub fn cargo_metadata(
    cmd: &cargo_metadata::MetadataCommand,
) -> Result<cargo_metadata::Metadata, String> {
    let mut run = crate::process::Command::from_std(cmd.cargo_command());
    run.timeout(crate::process::STEP);
    let out = run.output().map_err(|e| e.to_string())?;
    if !out.success() {
        return Err(out.stderr.trim().to_owned());
    }
    cargo_metadata::MetadataCommand::parse(&out.stdout).map_err(|e| e.to_string())
}

/// Load the project. `manifest` defaults to `./Cargo.toml` (cargo's lookup).
pub fn load(manifest: Option<&Path>, package: Option<&str>) -> Result<Project, Error> {
    let mut cmd = cargo_metadata::MetadataCommand::new();
    cmd.no_deps();
    if let Some(m) = manifest {
        cmd.manifest_path(m);
    }
    let shown = manifest
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("Cargo.toml"));
    let fail = |message: String| {
        if message.contains("could not find `Cargo.toml`") {
            Error::NoManifest {
                dir: std::env::current_dir().unwrap_or_default(),
            }
        } else {
            Error::Metadata {
                manifest: shown.clone(),
                message,
            }
        }
    };
    refuse_special_manifests(manifest)?;
    let meta = cargo_metadata(&cmd).map_err(fail)?;
    let members: Vec<&cargo_metadata::Package> = meta.workspace_packages();
    let pkg = if let Some(name) = package {
        members
            .iter()
            .find(|p| p.name.as_str() == name)
            .copied()
            .ok_or_else(|| Error::NoSuchPackage {
                name: name.to_owned(),
                manifest: shown.clone(),
            })
            .map(Some)?
    } else if let Some(root) = meta.root_package() {
        // Run from a member's folder: the workspace's table still names the
        // member it ships, unless the member has a table of its own.
        Some(match root.metadata.get("pyship") {
            Some(_) => root,
            None => workspace_member(&meta, &members)?.unwrap_or(root),
        })
    } else {
        let with_cfg: Vec<_> = members
            .iter()
            .filter(|p| p.metadata.get("pyship").is_some())
            .copied()
            .collect();
        let named = if with_cfg.is_empty() {
            workspace_member(&meta, &members)?
        } else {
            None
        };
        match (with_cfg.as_slice(), members.as_slice(), named) {
            ([one], _, _) | ([], [one], _) => Some(*one),
            (_, _, Some(p)) => Some(p),
            // A virtual workspace without members: a Python-only project
            // whose Cargo.toml only holds the pyship table (`init` writes
            // one). Nothing to compile, no Cargo version.
            ([], [], None) => None,
            _ => {
                return Err(Error::Ambiguous {
                    manifest: meta.workspace_root.join("Cargo.toml").into(),
                    candidates: members
                        .iter()
                        .map(|p| p.name.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                })
            }
        }
    };
    let workspace_root: PathBuf = meta.workspace_root.clone().into();
    let workspace_manifest = workspace_root.join("Cargo.toml");
    let manifest_path: PathBuf = pkg.map_or_else(
        || workspace_manifest.clone(),
        |p| p.manifest_path.clone().into(),
    );
    let no_metadata = serde_json::Value::Null;
    let pkg_metadata = pkg.map_or(&no_metadata, |p| &p.metadata);

    let (raw, table, file) = if let Some(v) = pkg_metadata.get("pyship") {
        (
            RawConfig::from_json(v, ConfigTable::Package.key(), &manifest_path)?,
            ConfigTable::Package,
            &manifest_path,
        )
    } else if let Some(v) = meta.workspace_metadata.get("pyship") {
        (
            RawConfig::from_json(v, ConfigTable::Workspace.key(), &workspace_manifest)?,
            ConfigTable::Workspace,
            &workspace_manifest,
        )
    } else {
        (RawConfig::default(), ConfigTable::None, &manifest_path)
    };
    if let Some(name) = raw.package.as_deref() {
        match pkg {
            Some(pkg) if name != pkg.name.as_str() => {
                return Err(Error::PackageMismatch {
                    name: name.to_owned(),
                    table: table.key(),
                    manifest: file.clone(),
                    selected: pkg.name.to_string(),
                })
            }
            Some(_) => {}
            None => {
                return Err(Error::NoSuchMember {
                    name: name.to_owned(),
                    table: table.key(),
                    manifest: file.clone(),
                    members: "none".into(),
                })
            }
        }
    }
    let config_source = ConfigSource {
        table,
        manifest: file.clone(),
    };
    let config_dir = config_source.config_dir();
    let pyproject_written = raw.pyproject.clone();
    let pyproject_path = config_dir.join(
        raw.pyproject
            .as_deref()
            .unwrap_or(Path::new("pyproject.toml")),
    );
    let pyproject = if !pyproject_path.exists() {
        None
    } else {
        match Pyproject::read(&pyproject_path) {
            Ok(p) => Some(p),
            // The default path holding only tool settings (`[tool.ruff]` at a
            // repository root) is not the app's pyproject: as if missing, so
            // `init` can look further. A configured one is the user's choice.
            Err(Error::NoProjectName { .. }) if pyproject_written.is_none() => None,
            Err(e) => return Err(e),
        }
    };
    // Without a package (a memberless workspace) the project goes by the
    // pyproject's name, else by its folder's.
    let package_name = match (pkg, &pyproject) {
        (Some(p), _) => p.name.to_string(),
        (None, Some(py)) => py.name.clone(),
        (None, None) => workspace_root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "app".into()),
    };
    // What users call the app: the Python project's name, else the crate's.
    let default_name = pyproject
        .as_ref()
        .map_or(package_name.as_str(), |p| p.name.as_str());
    let config = raw.clone().resolve(default_name);

    // `[package].version` of a manifest: Some(true) inherited, Some(false)
    // its own, None absent.
    let version_key = |m: &Path| -> Result<Option<bool>, Error> {
        let doc = read_toml(m)?;
        Ok(doc.get("package").and_then(|p| p.get("version")).map(|v| {
            v.get("workspace")
                .and_then(|w| w.as_bool())
                .unwrap_or(false)
        }))
    };
    let inherits = |m: &Path| Ok::<_, Error>(version_key(m)? == Some(true));
    let own_key = version_key(&manifest_path)?;
    let version_inherited = own_key == Some(true);
    let mut inheriting_members = Vec::new();
    for m in &members {
        let mp: &Path = m.manifest_path.as_std_path();
        let follows = if version_inherited {
            inherits(mp)?
        } else {
            pkg.is_some_and(|p| m.id == p.id)
        };
        if follows {
            inheriting_members.push((m.name.to_string(), m.version.to_string()));
        }
    }

    let cargo_package_of = local_package_crate(&manifest_path, pyproject.as_ref());

    Ok(Project {
        manifest_path,
        config_dir,
        workspace_root,
        workspace_manifest,
        package_name,
        cargo_version: pkg.map_or_else(|| "0.0.0".to_owned(), |p| p.version.to_string()),
        version_inherited,
        cargo_version_declared: own_key.is_some(),
        cargo_package_of,
        inheriting_members,
        members: members.iter().map(|p| p.name.to_string()).collect(),
        member_manifests: members
            .iter()
            .map(|p| p.manifest_path.clone().into())
            .collect(),
        config,
        raw_config: raw,
        config_source,
        pyproject_written,
        pyproject,
    })
}

/// The folders `[workspace] members` of `doc` names, the Cargo.toml of a
/// workspace in `root`: each literal path, and for `dir/*` what `subfolders`
/// lists of `dir`. Other glob patterns (`*`, `?`, `[` elsewhere) are left out.
pub fn workspace_member_dirs(
    root: &Path,
    doc: &DocumentMut,
    subfolders: impl Fn(&Path) -> Vec<PathBuf>,
) -> Vec<PathBuf> {
    let members = doc
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array());
    let mut out = Vec::new();
    for member in members.into_iter().flatten().filter_map(|v| v.as_str()) {
        match member.strip_suffix("/*") {
            Some(parent) => out.extend(subfolders(&root.join(parent))),
            None if !member.contains(['*', '?', '[']) => out.push(root.join(member)),
            None => {}
        }
    }
    out
}

/// Refuse the Cargo.toml files `cargo metadata` opens, before it runs,
/// when one is a named pipe, socket or device (or too large to be a
/// manifest): cargo would wait on a pipe for the step's whole timeout.
/// They are looked for as cargo finds them: the manifest given, else the
/// first at or above the current folder; the ones above it up to the first
/// that declares `[workspace]`; that one's `members` (literal paths and
/// `dir/*` globs). Anything else wrong with them is cargo's to report.
fn refuse_special_manifests(manifest: Option<&Path>) -> Result<(), Error> {
    use crate::fs::Error as FsError;
    let refused = |path: &Path, source| Error::Read {
        path: path.to_owned(),
        source,
    };
    let start = match manifest {
        Some(m) => m.to_owned(),
        None => {
            let cwd = std::env::current_dir().unwrap_or_default();
            let found = cwd
                .ancestors()
                .map(|d| d.join("Cargo.toml"))
                .find(|m| m.exists());
            match found {
                Some(m) => m,
                None => return Ok(()),
            }
        }
    };
    let Some(first) = start.parent() else {
        return Ok(());
    };
    for (i, dir) in first.ancestors().enumerate() {
        let m = if i == 0 {
            start.clone()
        } else {
            dir.join("Cargo.toml")
        };
        if i > 0 && !m.exists() {
            continue;
        }
        let doc = match crate::fs::read_small_to_string(&m) {
            Ok(text) => text.parse::<DocumentMut>(),
            Err(e @ (FsError::Special { .. } | FsError::TooLarge { .. })) => {
                return Err(refused(&m, e))
            }
            Err(_) => return Ok(()),
        };
        let Ok(doc) = doc else {
            return Ok(());
        };
        if doc.get("workspace").is_none() {
            continue;
        }
        let all = |d: &Path| -> Vec<PathBuf> {
            fs_err::read_dir(d)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .collect()
        };
        for d in workspace_member_dirs(dir, &doc, all) {
            let m = d.join("Cargo.toml");
            crate::fs::check_not_special(&m).map_err(|e| refused(&m, e))?;
        }
        return Ok(());
    }
    Ok(())
}

/// The pyproject of another Python project than `app` that maturin builds
/// from the crate at `manifest` (see [`Project::cargo_package_of`]).
fn local_package_crate(manifest: &Path, app: Option<&Pyproject>) -> Option<PathBuf> {
    let canon = |p: &Path| fs_err::canonicalize(p).unwrap_or_else(|_| p.to_owned());
    let beside = manifest.parent()?.join("pyproject.toml");
    if !beside.is_file() || app.is_some_and(|a| canon(&a.path) == canon(&beside)) {
        return None;
    }
    let py = Pyproject::read(&beside).ok()?;
    (py.maturin_manifest().map(|m| canon(&m)) == Some(canon(manifest))).then_some(beside)
}

impl Project {
    /// Whether the selected Cargo package's version is the app's: declared,
    /// and not the crate of a local package ([`Project::cargo_package_of`]).
    pub fn cargo_version_is_the_apps(&self) -> bool {
        self.cargo_version_declared && self.cargo_package_of.is_none()
    }

    /// Where `--stamp` writes: every place `--check` compares, so that a
    /// stamp is followed by a passing check. The Python version first (the
    /// pyproject's `[project].version`, or the file a dynamic one is kept
    /// in), then Cargo's (with Cargo.lock) when the package declares one; a
    /// version maturin takes from Cargo is stamped there only.
    pub fn stamp_targets(&self) -> Result<Vec<crate::version::stamp::Target>, Error> {
        use crate::version::stamp::Target;
        let python = match &self.pyproject {
            Some(py) if !py.dynamic_version => Some(Target::Pyproject {
                path: py.path.clone(),
            }),
            Some(py) => match py.dynamic_source() {
                Some(Ok(file)) => Some(Target::VersionFile { file: file.clone() }),
                Some(Err(message)) => {
                    return Err(Error::DynamicVersion {
                        pyproject: py.path.clone(),
                        message: message.to_owned(),
                    })
                }
                None => None,
            },
            None => None,
        };
        let lock = self.workspace_root.join("Cargo.lock");
        let cargo = Target::Cargo {
            manifest: if self.version_inherited {
                self.workspace_manifest.clone()
            } else {
                self.manifest_path.clone()
            },
            workspace: self.version_inherited,
            lock: lock.exists().then_some(lock),
            packages: self.inheriting_members.clone(),
        };
        // uv.lock holds a static project version too: kept in step.
        let uv_lock = match (&self.pyproject, &python) {
            (Some(py), Some(Target::Pyproject { .. })) => {
                crate::version::stamp::uv_lock_of(py.dir(), &pep503_name(&py.name))
                    .map_err(|e| Error::Read {
                        path: e.path,
                        source: e.source,
                    })?
                    .map(|(lock, source)| Target::UvLock {
                        lock,
                        name: pep503_name(&py.name),
                        source,
                    })
            }
            _ => None,
        };
        let mut targets = match python {
            Some(p) if self.cargo_version_is_the_apps() => vec![p, cargo],
            Some(p) => vec![p],
            // No version key: stamping fails naming the key to add.
            None => vec![cargo],
        };
        targets.extend(uv_lock);
        Ok(targets)
    }

    /// Resolve a path written in the pyship table: relative to
    /// [`Project::config_dir`] (an absolute path stays as it is).
    pub fn path(&self, p: impl AsRef<Path>) -> PathBuf {
        self.config_dir.join(p)
    }

    /// The pyproject, or an error naming the table, the path as written and
    /// as resolved. Everything but plain `version` and `init` needs one.
    pub fn pyproject(&self) -> Result<&Pyproject, Error> {
        self.pyproject.as_ref().ok_or_else(|| Error::NoPyproject {
            config: self.config_source.clone(),
            written: self.pyproject_written.clone(),
            resolved: self.path(&self.config.pyproject),
        })
    }

    /// The name `name` defaults to: the pyproject's `[project] name` (what
    /// users call the app), else the Cargo package's.
    pub fn default_name(&self) -> &str {
        self.pyproject
            .as_ref()
            .map_or(self.package_name.as_str(), |p| p.name.as_str())
    }

    /// The selected package's directory (where its Cargo.toml is). Config
    /// paths are NOT relative to it: see [`Project::config_dir`].
    pub fn package_dir(&self) -> &Path {
        self.manifest_path
            .parent()
            .expect("a manifest has a directory")
    }
}

/// Read and parse the TOML file at `path` (a manifest or a pyproject.toml).
fn read_toml(path: &Path) -> Result<DocumentMut, Error> {
    let text = crate::fs::read_small_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    text.parse::<DocumentMut>().map_err(|source| Error::Toml {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Poetry 1 pyproject (no [project], the name in [tool.poetry]) is
    /// named as such, with the way to PEP 621 in the hint; a file with tool
    /// settings only stays "no [project] table".
    #[test]
    fn a_poetry_1_pyproject_says_so_and_how_to_move() {
        use crate::error::Hint;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("pyproject.toml");
        fs_err::write(
            &p,
            "[tool.poetry]\nname = \"poetapp\"\nversion = \"1.4.2\"\n\n[tool.poetry.dependencies]\npython = \"^3.11\"\n",
        )
        .unwrap();
        let e = Pyproject::read(&p).unwrap_err();
        assert!(matches!(e, Error::PoetryProject { .. }), "{e}");
        assert!(e.to_string().contains("[tool.poetry]"), "{e}");
        assert!(e.hint().unwrap().contains("[project]"));
        fs_err::write(&p, "[tool.ruff]\nline-length = 100\n").unwrap();
        let e = Pyproject::read(&p).unwrap_err();
        assert!(matches!(e, Error::NoProjectName { .. }), "{e}");
    }

    /// A named pipe among the manifests cargo opens (the one given, the
    /// workspace root above it, a member by path or by `dir/*`) is refused
    /// before cargo runs; one that cargo does not open (above the workspace
    /// root, in a folder no member pattern names) is not looked at.
    #[cfg(unix)]
    #[test]
    fn a_named_pipe_among_the_manifests_cargo_opens_is_refused_before_it_runs() {
        use crate::fs::test_support::make_fifo;
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("ws");
        for dir in ["crates/core", "app", "docs/example"] {
            fs_err::create_dir_all(root.join(dir)).unwrap();
        }
        fs_err::write(
            root.join("Cargo.toml"),
            "[workspace]\nmembers = [\"crates/*\", \"app\"]\n",
        )
        .unwrap();
        let package = "[package]\nname = \"x\"\nversion = \"0.1.0\"\n";
        fs_err::write(root.join("crates/core/Cargo.toml"), package).unwrap();
        fs_err::write(root.join("app/Cargo.toml"), package).unwrap();
        // Not opened by cargo: above the workspace root, and outside the members.
        make_fifo(&d.path().join("Cargo.toml"));
        make_fifo(&root.join("docs/example/Cargo.toml"));
        let app = root.join("app/Cargo.toml");
        refuse_special_manifests(Some(&app)).unwrap();
        refuse_special_manifests(Some(&root.join("Cargo.toml"))).unwrap();
        for pipe in ["crates/core/Cargo.toml", "app/Cargo.toml", "Cargo.toml"] {
            let pipe = root.join(pipe);
            let kept = fs_err::read(&pipe).unwrap();
            fs_err::remove_file(&pipe).unwrap();
            make_fifo(&pipe);
            for start in [&app, &root.join("crates/core/Cargo.toml")] {
                let e = refuse_special_manifests(Some(start)).unwrap_err();
                assert!(
                    matches!(&e, Error::Read { path, source: crate::fs::Error::Special { .. } } if *path == pipe),
                    "{e:?}"
                );
            }
            fs_err::remove_file(&pipe).unwrap();
            fs_err::write(&pipe, kept).unwrap();
        }
    }

    #[test]
    fn dist_names_normalize() {
        assert_eq!(normalize_dist_name("Hello-App"), "hello_app");
        assert_eq!(normalize_dist_name("a.b__c"), "a_b_c");
        assert_eq!(pep503_name("Zope.Interface__x"), "zope-interface-x");
    }
}
