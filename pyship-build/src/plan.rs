//! The plan: config + project + version + paths, resolved once.
//!
//! Every stage reads the [`Plan`]; nothing re-reads config or re-detects the
//! version. `cargo pyship plan --format json` prints it, so what a release will
//! do can be seen (and snapshot-tested) without doing it.

use std::path::{Path, PathBuf};

use serde::Serialize;

use std::collections::BTreeMap;

use crate::config::{Channel, Config, Provider};
use crate::env::Env;
use crate::error::escaped;
use crate::platform::Platform;
use crate::project::{Project, Pyproject};
use crate::version::{self, Resolved};

pub mod location;
pub use location::{LocationError, RefusedLocation};

/// CPython version in the forms the stages need.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PythonVersion {
    /// `3.11.9`
    pub full: String,
    /// `3.11`
    pub xy: String,
    /// `311` (for `python311._pth`, `cp311` tags)
    pub nodot: String,
}

impl PythonVersion {
    pub fn parse(s: &str) -> Result<Self, crate::error::Hinted> {
        let parts: Vec<&str> = s.split('.').collect();
        let ok = parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            return Err(crate::error::Hinted {
                message: format!(
                    "`python = \"{}\"` is not a full CPython version",
                    escaped(s)
                ),
                hint: "use three numbers, e.g. python = \"3.11.9\"".into(),
            });
        }
        Ok(Self {
            full: s.to_owned(),
            xy: format!("{}.{}", parts[0], parts[1]),
            nodot: format!("{}{}", parts[0], parts[1]),
        })
    }

    /// This CPython must satisfy the pyproject's `requires-python`: the app
    /// is copied, not installed, so no installer would refuse it.
    pub fn check_requires(
        &self,
        spec: &str,
        pyproject: &Path,
        table: &str,
    ) -> Result<(), crate::error::Hinted> {
        use std::str::FromStr;
        let specifiers =
            pep440_rs::VersionSpecifiers::from_str(spec).map_err(|e| crate::error::Hinted {
                message: format!(
                    "`requires-python = \"{}\"` in {} is not a valid version specifier: {e}",
                    escaped(spec),
                    pyproject.display()
                ),
                hint: "write it as PEP 440 specifiers, e.g. requires-python = \">=3.11\"".into(),
            })?;
        let version = pep440_rs::Version::from_str(&self.full)
            .expect("PythonVersion::parse accepts three numbers only");
        if specifiers.contains(&version) {
            return Ok(());
        }
        Err(crate::error::Hinted {
            message: format!(
                "the bundle's CPython {} does not satisfy `requires-python = \"{}\"` of {}",
                self.full,
                escaped(spec),
                pyproject.display()
            ),
            hint: format!(
                "set `python = \"X.Y.Z\"` in [{table}] to a CPython release that requirement allows (the default is {})",
                crate::config::DEFAULT_PYTHON
            ),
        })
    }
}

/// What kind of file an artifact is.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ArtifactKind {
    /// Windows portable zip or Linux tarball.
    Bundle,
    /// Windows NSIS installer.
    Installer,
    /// `SHA256SUMS`.
    Checksums,
    /// `manifest.json` (what an in-app updater reads).
    Manifest,
    /// `manifest.json.minisig`: the manifest's minisign signature, when
    /// `update.public-keys` is set.
    Signature,
    /// CycloneDX SBOM of a bundle (`{name}-{tag}-win-x64.cdx.json`).
    Sbom,
    /// Windows Installer package (`{name}-{tag}-x64.msi`).
    Msi,
    /// Debian package (`{name}_{debian version}_amd64.deb`).
    Deb,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Artifact {
    pub kind: ArtifactKind,
    pub platform: Option<Platform>,
    pub file_name: String,
    pub path: PathBuf,
}

/// How a user installs an asset; the updater (`pyship_update`) picks the asset
/// of its own install type. The names are the updater's `install_type()`.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum InstallType {
    /// Windows portable zip: unpack anywhere and run.
    PortableWindows,
    /// Windows NSIS installer.
    Installer,
    /// Linux tarball (optionally installed as a systemd service).
    PortableLinux,
    /// Windows Installer package (`msiexec /i … /qn`).
    Msi,
    /// Debian package: updated by the package manager, never by the app.
    Deb,
}

impl InstallType {
    pub fn as_str(self) -> &'static str {
        match self {
            InstallType::PortableWindows => "portable-windows",
            InstallType::Installer => "installer",
            InstallType::PortableLinux => "portable-linux",
            InstallType::Msi => "msi",
            InstallType::Deb => "deb",
        }
    }
}

/// The install type of an artifact (`None` for checksums and the manifest itself).
pub fn install_type(a: &Artifact) -> Option<InstallType> {
    match (a.kind, a.platform) {
        (ArtifactKind::Installer, _) => Some(InstallType::Installer),
        (ArtifactKind::Msi, _) => Some(InstallType::Msi),
        (ArtifactKind::Deb, _) => Some(InstallType::Deb),
        (ArtifactKind::Bundle, Some(Platform::Windows)) => Some(InstallType::PortableWindows),
        (ArtifactKind::Bundle, Some(Platform::Linux)) => Some(InstallType::PortableLinux),
        _ => None,
    }
}

/// Everything a run needs to know, resolved once.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Display name (installer title, release name).
    pub name: String,
    /// The file name derived from `name` (or `file-name`): artifact prefix,
    /// bundle folder, install folder, shortcuts, systemd unit. See [`crate::names`].
    pub file_name: String,
    /// Normalized Python distribution name (`hello_app`).
    pub dist_name: String,
    /// The app's module: `python -m {module}`, or the module of its entry
    /// point. What the launchers run is [`Plan::launch`].
    pub module: String,
    /// How every launcher starts the app, with which args.
    pub launch: crate::launch::Launch,
    pub version: Resolved,
    pub python: PythonVersion,
    pub targets: Vec<Platform>,
    /// The app's Python sources: the folder containing its top-level
    /// package(s), how it was chosen, and whether it is a flat project root.
    pub app: crate::layout::AppSrc,
    /// Output directory (default: `dist/` in [`Project::config_dir`]).
    pub out_dir: PathBuf,
    /// Work directory for unpacked bundle trees (`{out_dir}/.pyship/`).
    pub work_dir: PathBuf,
    pub artifacts: Vec<Artifact>,
    /// HEAD's commit, when the project is in a git repository.
    pub commit: Option<String>,
    /// The time every file this run builds carries (archive entries, the
    /// SBOM, maturin wheels and prebuilds through `SOURCE_DATE_EPOCH`).
    pub epoch: Epoch,
    /// Where the dependencies' exact versions and hashes come from.
    pub lock: DependencyLock,
    /// The app's local Python packages, built from their sources for each
    /// target like the app's own wheel ([`crate::local_deps`]).
    pub local_packages: Vec<crate::local_deps::LocalPackage>,
    /// The bundled updater's settings; `None` with `update.enabled = false`.
    pub update: Option<UpdateSettings>,
    pub config: Config,
    pub project: Project,
    /// The app's pyproject: a project without one has no plan (see
    /// [`Plan::pyproject`]).
    #[serde(skip)]
    pyproject: Pyproject,
}

/// What the caller chose.
#[derive(Debug, Clone, Default)]
pub struct Options<'a> {
    pub version: Option<&'a str>,
    pub out_dir: Option<&'a Path>,
    pub targets: Vec<Platform>,
}

impl Plan {
    /// Resolve the plan for `project`.
    pub fn build(project: Project, env: &Env, opts: &Options<'_>) -> Result<Self, PlanError> {
        let version = resolve_version(&project, opts.version, env)?;
        let config = project.config.clone();
        let file_name = match &config.file_name {
            Some(f) => crate::names::explicit_file_name(f, project.config_source.table.key())?,
            None => crate::names::file_name(&config.name, project.config_source.table.key())?,
        };
        let pyproject = project.pyproject()?;
        let dist_name = pyproject.dist_name();
        let launch = crate::launch::Launch::resolve(&config, pyproject)?;
        let module = launch.app_module().to_owned();
        let python = PythonVersion::parse(&config.python)?;
        if let Some(spec) = &pyproject.requires_python {
            python.check_requires(spec, &pyproject.path, project.config_source.table.key())?;
        }
        crate::layout::check_extension_name(&project, pyproject)?;
        let app = crate::layout::resolve(&project, pyproject, &module)?;
        if let crate::launch::Target::Module { module } = &launch.target {
            crate::layout::check_runnable(&project, pyproject, module)?;
        }
        let out_dir = opts
            .out_dir
            .map(crate::fs::normalize)
            .unwrap_or_else(|| project.config_dir.join("dist"));
        // `include` entries must stay in the project unless allowed on purpose.
        let root = crate::layout::project_root(&project);
        // Each entry lands at `app/{its name}`: beside the app's sources in
        // `app/src`, never on them, and never on another entry (names
        // compared without case, as Windows extracts them).
        let mut names: BTreeMap<String, &String> = BTreeMap::new();
        for entry in &config.include {
            let path = crate::fs::normalize(&project.path(entry));
            if !config.allow_outside_project {
                check_include_inside(entry, &path, &root, project.config_source.table.key())?;
            }
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let clash = if name.eq_ignore_ascii_case("src") {
                Some("the app's sources, `app/src`".to_owned())
            } else {
                names
                    .get(&name.to_lowercase())
                    .map(|other| format!("include `{other}`, which lands there too"))
            };
            if let Some(with) = clash {
                return Err(PlanError::IncludeClash {
                    entry: entry.clone(),
                    name,
                    with,
                    table: project.config_source.table.key(),
                });
            }
            names.insert(name.to_lowercase(), entry);
        }
        // So must the app's sources and the Docker build context (all of it
        // is sent to the Docker engine): in the project or in the
        // pyproject's folder.
        if !config.allow_outside_project {
            let real = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_owned());
            let outside = |p: &Path| !crate::layout::in_project(&project, pyproject.dir(), p);
            let table = project.config_source.table.key();
            if let Some(dir) = app.dir.as_deref().map(real).filter(|d| outside(d)) {
                return Err(PlanError::AppSrcOutside {
                    dir,
                    origin: app.origin.clone(),
                    root,
                    table,
                });
            }
            let context = real(&crate::fs::normalize(&project.path(&config.docker.context)));
            if outside(&context) {
                return Err(PlanError::DockerContextOutside {
                    context,
                    root,
                    table,
                });
            }
        }
        check_out_dir_is_not_copied(&out_dir, &app, &config, &project, &module)?;
        let targets = if opts.targets.is_empty() {
            Platform::ALL.to_vec()
        } else {
            let mut t = opts.targets.clone();
            t.sort();
            t.dedup();
            t
        };
        let tag = version.version.tag();
        let artifacts = artifacts_for(
            &targets,
            &file_name,
            &tag,
            &version.version,
            &config,
            &out_dir,
        );
        let lock = DependencyLock::detect(&project, pyproject)
            .map_err(|e| PlanError::SpecialLock(Box::new(e)))?;
        let local_packages =
            crate::local_deps::find(&project, pyproject, &all_extras(&config), &config.groups)?;
        let commit = git_head(&project.config_dir);
        let epoch = Epoch::resolve(env, &project.config_dir);
        // Checked with the updater on or off: the MSI, the .deb, the
        // manifest and the release workflow carry the location too.
        let location = location::checked(&config.publish, env, &project.config_source)?;
        // The update helper restarts the app as the Windows launchers start
        // it. The updater is told every platform's assets, whichever targets
        // this run builds: a bundle's files must not depend on the others
        // built beside it (its installer would be rebuilt for nothing).
        let update = update_settings(
            &config,
            location,
            &version.version,
            launch.module_for(Platform::Windows),
            &artifacts_for(
                &Platform::ALL,
                &file_name,
                &tag,
                &version.version,
                &config,
                &out_dir,
            ),
        );
        Ok(Self {
            name: config.name.clone(),
            file_name,
            dist_name,
            module,
            launch,
            version,
            python,
            targets,
            app,
            work_dir: out_dir.join(".pyship"),
            out_dir,
            artifacts,
            commit,
            epoch,
            lock,
            local_packages,
            update,
            config,
            pyproject: pyproject.clone(),
            project,
        })
    }

    /// The app's pyproject.
    pub fn pyproject(&self) -> &Pyproject {
        &self.pyproject
    }

    /// The artifact of `kind` for `platform`, if the plan has one.
    pub fn artifact(&self, kind: ArtifactKind, platform: Option<Platform>) -> Option<&Artifact> {
        self.artifacts
            .iter()
            .find(|a| a.kind == kind && a.platform == platform)
    }

    /// The unpacked bundle tree of `platform` (its top-level folder `{file_name}/`).
    pub fn bundle_dir(&self, platform: Platform) -> PathBuf {
        self.work_dir.join(platform.key()).join(&self.file_name)
    }

    /// The only directories a run may delete or replace things in: the output
    /// folder and the cache (see [`crate::fs::remove_dir_if_exists`]).
    pub fn write_roots<'a>(&'a self, cache: &'a crate::cache::Cache) -> [&'a Path; 2] {
        [self.out_dir.as_path(), cache.root()]
    }
}

/// `{file_name}-{tag}-x64.msi`.
pub fn msi_file_name(file_name: &str, tag: &str) -> String {
    format!("{file_name}-{tag}-x64.msi")
}

/// `{file_name}_{debian version}_amd64.deb`.
pub fn deb_file_name(file_name: &str, version: &crate::version::Version) -> String {
    format!("{file_name}_{}_amd64.deb", version.debian())
}

/// The extras of every target (global and per-target lists).
fn all_extras(config: &Config) -> Vec<String> {
    let mut v = Vec::new();
    for p in Platform::ALL {
        for e in config.for_target(p).extras {
            if !v.contains(&e) {
                v.push(e);
            }
        }
    }
    v
}

/// Where the dependencies' exact versions and hashes come from, in this
/// order: uv's lock, a PEP 751 lock, else `pyship.lock`'s pins of what each
/// target resolved the first time.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum DependencyLock {
    /// `uv.lock` of the app's uv project, or of the uv workspace it belongs to.
    Uv { path: PathBuf },
    /// `pylock.toml` (PEP 751) beside the app's pyproject.
    Pylock { path: PathBuf },
    /// Neither: `pyship.lock` pins what each target resolved.
    Pyship { path: PathBuf },
}

impl DependencyLock {
    /// The lock of the app whose pyproject is `py`. A lock that is a named
    /// pipe, socket or device is refused naming it, not passed over for the
    /// next kind (the project meant to pin its dependencies with it).
    pub fn detect(project: &Project, py: &Pyproject) -> Result<Self, crate::fs::Error> {
        let root = crate::local_deps::uv_workspace_root(py.dir(), &py.name);
        for dir in root.iter().map(PathBuf::as_path).chain([py.dir()]) {
            let lock = dir.join("uv.lock");
            crate::fs::check_not_special(&lock)?;
            if lock.is_file() {
                return Ok(Self::Uv { path: lock });
            }
        }
        let pylock = py.dir().join("pylock.toml");
        crate::fs::check_not_special(&pylock)?;
        if pylock.is_file() {
            return Ok(Self::Pylock { path: pylock });
        }
        let path = project.config_dir.join("pyship.lock");
        crate::fs::check_not_special(&path)?;
        Ok(Self::Pyship { path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        match self {
            Self::Uv { path } | Self::Pylock { path } | Self::Pyship { path } => path,
        }
    }
}

/// The artifacts of `targets`, then the manifest and the checksums.
fn artifacts_for(
    targets: &[Platform],
    file_name: &str,
    tag: &str,
    version: &crate::version::Version,
    config: &Config,
    out_dir: &Path,
) -> Vec<Artifact> {
    let mut artifacts = Vec::new();
    let mut push = |kind, platform, file_name: String| {
        artifacts.push(Artifact {
            kind,
            platform,
            path: out_dir.join(&file_name),
            file_name,
        })
    };
    for &t in targets {
        push(
            ArtifactKind::Bundle,
            Some(t),
            format!("{}-{}-{}", file_name, tag, t.artifact_suffix()),
        );
        push(
            ArtifactKind::Sbom,
            Some(t),
            format!("{}-{}-{}.cdx.json", file_name, tag, t.os_arch()),
        );
        if t == Platform::Windows && config.windows.installer {
            push(
                ArtifactKind::Installer,
                Some(t),
                format!("{}-{}-setup.exe", file_name, tag),
            );
        }
        if t == Platform::Windows && config.windows.msi {
            push(ArtifactKind::Msi, Some(t), msi_file_name(file_name, tag));
        }
        if t == Platform::Linux && config.linux.deb {
            push(
                ArtifactKind::Deb,
                Some(t),
                deb_file_name(file_name, version),
            );
        }
    }
    push(ArtifactKind::Manifest, None, "manifest.json".into());
    if !config.update.public_keys.is_empty() {
        push(ArtifactKind::Signature, None, SIGNATURE_FILE.into());
    }
    push(ArtifactKind::Checksums, None, "SHA256SUMS".into());
    artifacts
}

/// The version as the plan sees it: argument, tag, CI, pyproject, Cargo.
pub fn resolve_version(
    project: &Project,
    argument: Option<&str>,
    env: &Env,
) -> Result<Resolved, version::Error> {
    let py = project
        .pyproject
        .as_ref()
        .map(|p| (p.path.as_path(), p.version.as_deref()));
    version::resolve(&version::Inputs {
        argument,
        repo_dir: &project.config_dir,
        env,
        pyproject: py,
        dynamic: project.pyproject.as_ref().and_then(|p| p.dynamic_source()),
        cargo: Some((
            project.manifest_path.as_path(),
            project.cargo_version.as_str(),
        )),
    })
}

/// The output folder must not be a folder the bundle copies (`app-src`, a
/// package of a flat project, an `include` folder): each bundle would ship
/// the artifacts of the one before. Inside one it is fine: the copy leaves
/// it out.
fn check_out_dir_is_not_copied(
    out_dir: &Path,
    app: &crate::layout::AppSrc,
    config: &Config,
    project: &Project,
    module: &str,
) -> Result<(), PlanError> {
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| crate::fs::normalize(p));
    let out = canon(out_dir);
    let mut copied: Vec<(String, PathBuf)> = Vec::new();
    match &app.dir {
        Some(dir) if app.flat => {
            let top = crate::layout::top_package(module);
            for entry in crate::layout::flat_entries(dir, top) {
                copied.push(("a package the bundle copies".into(), entry));
            }
        }
        Some(dir) => copied.push(("`app-src`".into(), dir.clone())),
        None => {}
    }
    for entry in &config.include {
        copied.push((format!("`include` entry `{entry}`"), project.path(entry)));
    }
    match copied.into_iter().find(|(_, dir)| canon(dir) == out) {
        Some((what, dir)) => Err(PlanError::OutIsCopied {
            out: out_dir.to_owned(),
            what,
            dir,
        }),
        None => Ok(()),
    }
}

/// Where [`Epoch::seconds`] came from.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum EpochSource {
    /// `SOURCE_DATE_EPOCH` was set.
    SourceDateEpoch,
    /// The commit time of HEAD.
    Commit,
    /// Outside git: 1980-01-01, the zip format's first second.
    Fixed,
}

/// The build's timestamp. Two builds of one commit agree on it without any
/// setting, so their artifacts can be byte-identical: `SOURCE_DATE_EPOCH`
/// when set, else HEAD's commit time (as `git log -1 --format=%ct` prints
/// it), else a fixed epoch.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Epoch {
    /// Seconds since 1970-01-01 UTC.
    pub seconds: u64,
    pub source: EpochSource,
}

impl Epoch {
    /// 1980-01-01T00:00:00Z, the earliest time a zip entry can carry.
    pub const FIXED: u64 = 315_532_800;

    /// The epoch of a build in `dir`.
    pub fn resolve(env: &Env, dir: &Path) -> Self {
        if let Some(seconds) = env.source_date_epoch() {
            return Self {
                seconds,
                source: EpochSource::SourceDateEpoch,
            };
        }
        match crate::tools::git(dir, &["log", "-1", "--format=%ct", "HEAD"])
            .and_then(|s| s.trim().parse::<u64>().ok())
        {
            Some(seconds) => Self {
                seconds,
                source: EpochSource::Commit,
            },
            None => Self {
                seconds: Self::FIXED,
                source: EpochSource::Fixed,
            },
        }
    }

    /// The value children get as `SOURCE_DATE_EPOCH`.
    pub fn value(&self) -> String {
        self.seconds.to_string()
    }
}

/// HEAD's full sha, or `None` outside a git repository.
pub fn git_head(dir: &Path) -> Option<String> {
    crate::tools::git(dir, &["rev-parse", "HEAD"])
        .map(|out| out.trim().to_owned())
        .filter(|s| !s.is_empty())
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PlanError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Version(#[from] version::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Python(#[from] crate::error::Hinted),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Project(#[from] crate::project::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Layout(#[from] crate::layout::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Launch(#[from] crate::launch::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Name(#[from] crate::names::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Local(#[from] crate::local_deps::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    IncludeOutside(#[from] IncludeOutside),
    #[error("the Docker build context {} is outside the project {}: all of it would be sent to the Docker engine", escaped(.context.display()), .root.display())]
    #[diagnostic(help("set `context` in [{table}.docker] to a folder of the project that holds the pyproject and the app sources (default: the folder of the Cargo.toml), or set `allow-outside-project = true` in [{table}] to send another on purpose"))]
    DockerContextOutside {
        context: PathBuf,
        root: PathBuf,
        table: &'static str,
    },
    #[error("include `{}` would be copied to `app/{}` in the bundle, onto {}", escaped(.entry), escaped(.name), escaped(.with))]
    #[diagnostic(help("an include entry lands at `app/` plus its last name: include the folder above it, or rename one of them, in `include` of [{table}]"))]
    IncludeClash {
        entry: String,
        name: String,
        with: String,
        table: &'static str,
    },
    #[error("the app's sources {} ({}) are outside the project {}", escaped(.dir.display()), escaped(.origin), .root.display())]
    #[diagnostic(help("keep the app's Python sources in the project, beside its pyproject.toml (`app-src` in [{table}]), or set `allow-outside-project = true` in [{table}] to ship files from elsewhere on purpose"))]
    AppSrcOutside {
        dir: PathBuf,
        /// How the folder was chosen (`app-src`, a layout).
        origin: String,
        root: PathBuf,
        table: &'static str,
    },
    /// A dependency lock (uv.lock, pylock.toml, pyship.lock) that is a
    /// named pipe, socket or device.
    #[error(transparent)]
    #[diagnostic(transparent)]
    SpecialLock(Box<crate::fs::Error>),
    /// `publish.url` or `publish.repo` (or the CI variables standing for
    /// them) that no bundle or release can carry.
    #[error(transparent)]
    #[diagnostic(transparent)]
    PublishLocation(#[from] RefusedLocation),
    #[error("the output folder {} is {what} ({}): every bundle would ship the artifacts of the one before", escaped(.out.display()), escaped(.dir.display()))]
    #[diagnostic(help("write the artifacts outside the folders the bundle copies: pass another --out (the default is dist/ beside the Cargo.toml holding the pyship table), or move the app's sources"))]
    OutIsCopied {
        out: PathBuf,
        what: String,
        dir: PathBuf,
    },
}

/// An `include` entry that resolves outside the project (checked when the
/// plan is made and again when the bundle copies it).
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("include `{}` ({}) is outside the project {root}", escaped(.entry), escaped(.path.display()))]
#[diagnostic(help("bundle only files of the project, or set `allow-outside-project = true` in [{table}] to ship files from elsewhere on purpose"))]
pub struct IncludeOutside {
    pub entry: String,
    /// Where the entry really is (links resolved).
    pub path: PathBuf,
    pub root: PathBuf,
    /// The pyship table in use, for the hint.
    pub table: &'static str,
}

/// `Windows` or `Linux`, as a bundle's system is named in messages.
fn system(platform: Platform) -> &'static str {
    match platform {
        Platform::Windows => "Windows",
        Platform::Linux => "Linux",
    }
}

/// What stops a stage that packages a bundle tree (installer, msi, deb) on
/// its way in: another build holds the output directory, the tree lacks a
/// file the package needs, or a file in it cannot be read.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum BundleInputError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Lock(#[from] crate::lock::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Incomplete(#[from] IncompleteBundle),
    /// A named pipe, socket or device in a bundle tree (put there after the
    /// bundle was built: its copies refuse them).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Special(Box<crate::fs::Error>),
    #[error("could not read the {system} bundle at {path}")]
    Unreadable {
        /// `Windows` or `Linux`.
        system: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl BundleInputError {
    /// `path`, in or of the `platform` bundle, could not be read.
    pub fn unreadable(platform: Platform, path: &Path, source: std::io::Error) -> Self {
        Self::Unreadable {
            system: system(platform),
            path: path.to_owned(),
            source,
        }
    }
}

/// A bundle tree without a file that a package made from it needs.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("the {system} bundle at {dir} is incomplete: {missing} is missing")]
#[diagnostic(help("build the bundle first: `cargo pyship bundle --target {target}` (`cargo pyship {command}` does this when the bundle is missing)"))]
pub struct IncompleteBundle {
    /// `Windows` or `Linux`.
    pub system: &'static str,
    /// The platform's key (`--target`).
    pub target: &'static str,
    pub dir: PathBuf,
    /// The first missing file, relative to `dir`.
    pub missing: String,
    /// The subcommand that packages the bundle (`installer`, `msi`, `deb`).
    pub command: &'static str,
}

impl IncompleteBundle {
    /// Check that each of `files` (relative paths) is a file in the
    /// `platform` bundle at `dir`, which `cargo pyship {command}` packages.
    pub fn check<S: AsRef<str>>(
        platform: Platform,
        dir: &Path,
        files: impl IntoIterator<Item = S>,
        command: &'static str,
    ) -> Result<(), Self> {
        let Some(missing) = files
            .into_iter()
            .find(|rel| !dir.join(rel.as_ref()).is_file())
        else {
            return Ok(());
        };
        Err(Self {
            system: system(platform),
            target: platform.key(),
            dir: dir.to_owned(),
            missing: missing.as_ref().to_owned(),
            command,
        })
    }
}

/// Refuse the `include` entry `entry` at `path` when, links resolved, it is
/// not inside `root` (the canonical project root).
pub fn check_include_inside(
    entry: &str,
    path: &Path,
    root: &Path,
    table: &'static str,
) -> Result<(), IncludeOutside> {
    let real = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    if real.starts_with(root) {
        return Ok(());
    }
    Err(IncludeOutside {
        entry: entry.to_owned(),
        path: real,
        root: root.to_owned(),
        table,
    })
}

/// Plans of the fixtures, for other modules' unit tests.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    /// The plan of the hello fixture (version 1.0.0, output in a temp folder
    /// that lives as long as the test process).
    pub fn hello_plan() -> Plan {
        static OUT: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
        let out = OUT.get_or_init(|| tempfile::tempdir().expect("temp dir"));
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/hello/Cargo.toml");
        let project = crate::project::load(Some(&manifest), None).expect("fixture loads");
        let opts = Options {
            version: Some("1.0.0"),
            out_dir: Some(out.path()),
            targets: vec![],
        };
        Plan::build(
            project,
            &Env::from_pairs(Vec::<(String, String)>::new()),
            &opts,
        )
        .expect("plan")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan of `project` at version 1.0.0 for `targets` (all when
    /// empty), with only `env` set, written to a temporary folder.
    fn plan_of(
        project: Project,
        targets: Vec<Platform>,
        env: &[(&str, &str)],
    ) -> Result<Plan, PlanError> {
        let base = tempfile::tempdir().unwrap();
        let out_dir = base.path().join("dist");
        let opts = Options {
            version: Some("1.0.0"),
            out_dir: Some(&out_dir),
            targets,
        };
        Plan::build(project, &Env::from_pairs(env.iter().copied()), &opts)
    }

    /// A missing file of a bundle is named with the command that builds it.
    #[test]
    fn an_incomplete_bundle_names_the_missing_file_and_the_command() {
        use crate::error::Hint;
        let d = tempfile::tempdir().unwrap();
        fs_err::write(d.path().join("run.sh"), "").unwrap();
        fs_err::create_dir_all(d.path().join("python/bin/python3")).unwrap();
        IncompleteBundle::check(Platform::Linux, d.path(), ["run.sh"], "deb").unwrap();
        let files = ["run.sh", "python/bin/python3"];
        let e = IncompleteBundle::check(Platform::Linux, d.path(), files, "deb").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "the Linux bundle at {} is incomplete: python/bin/python3 is missing",
                d.path().display()
            )
        );
        assert_eq!(
            e.hint().as_deref(),
            Some("build the bundle first: `cargo pyship bundle --target linux` (`cargo pyship deb` does this when the bundle is missing)")
        );
    }

    /// The bundle's CPython must satisfy `requires-python`; an unparsable
    /// requirement is an error naming it.
    #[test]
    fn requires_python_is_checked_against_the_bundle_python() {
        let py = PythonVersion::parse("3.11.9").unwrap();
        let at = Path::new("/p/pyproject.toml");
        for ok in [">=3.11", ">=3.9,<4", "~=3.11", "==3.11.*", ""] {
            py.check_requires(ok, at, "package.metadata.pyship")
                .unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        let e = py
            .check_requires(">=3.12", at, "workspace.metadata.pyship")
            .unwrap_err();
        assert!(
            e.message.contains("3.11.9") && e.message.contains(">=3.12"),
            "{e}"
        );
        assert!(e.hint.contains("[workspace.metadata.pyship]"), "{}", e.hint);
        let e = py
            .check_requires(">=three", at, "package.metadata.pyship")
            .unwrap_err();
        assert!(e.message.contains("not a valid version specifier"), "{e}");
    }

    /// The update helper restarts the app as the Windows launchers start it:
    /// `python -m {module}` for a plain module, the generated launcher module
    /// for an entry point or configured args (`-m` of an entry point's
    /// package would fail without a `__main__.py`).
    #[test]
    fn the_update_helper_restarts_the_app_as_its_launchers_do() {
        let update_module = |f: &dyn Fn(&mut Project)| {
            let mut project = hello();
            f(&mut project);
            let plan = plan_of(project, vec![], &[]).expect("plan");
            (
                plan.module.clone(),
                plan.update.expect("update is on").module,
            )
        };
        let (module, plain) = update_module(&|_| ());
        assert_eq!(plain, module);
        let entry = update_module(&|p| p.config.module = Some(format!("{module}:main"))).1;
        assert_eq!(entry, crate::launch::LAUNCHER_MODULE);
        let args = update_module(&|p| p.config.args = vec!["--serve".into()]).1;
        assert_eq!(args, crate::launch::LAUNCHER_MODULE);
    }

    /// A bundle's files do not depend on the other targets built beside it:
    /// the updater's settings (in every bundle) are the same for `--target
    /// windows` and `--target all`, so alternating them does not rebuild the
    /// installer.
    #[test]
    fn the_updater_settings_do_not_depend_on_the_targets_built() {
        let update = |targets: Vec<Platform>| {
            let plan = plan_of(hello(), targets, &[]).expect("plan");
            plan.update.expect("update is on")
        };
        let windows = update(vec![Platform::Windows]);
        assert_eq!(windows, update(vec![]));
        assert_eq!(windows, update(vec![Platform::Linux]));
        assert!(windows.assets.contains_key("portable-linux"), "{windows:?}");
    }

    /// `publish.url` and `publish.repo` go into every bundle's
    /// `pyship_update.json`, the MSI, the .deb's Homepage, manifest.json and
    /// the release workflow: the plan (which `bundle` builds first) refuses
    /// with publishing's messages what publishing would refuse, before
    /// credentials or a bad path are shipped, with the updater on or off.
    #[test]
    fn the_release_location_gets_the_publish_checks_with_the_updater_on_or_off() {
        let plan = |url: Option<&str>, repo: Option<&str>, env: &[(&str, &str)], enabled: bool| {
            let mut project = hello();
            project.config.publish.url = url.map(str::to_owned);
            project.config.publish.repo = repo.map(str::to_owned);
            project.config.update.enabled = enabled;
            plan_of(project, vec![], env)
        };
        use crate::error::Hint;
        let refused = |url, repo, env: &[(&str, &str)], origin: &str, says: &str| {
            for enabled in [true, false] {
                let e = plan(url, repo, env, enabled).unwrap_err();
                let PlanError::PublishLocation(r) = &e else {
                    panic!("{url:?} {repo:?} (update.enabled = {enabled}): {e}");
                };
                assert!(
                    e.to_string().starts_with(&format!("invalid {origin}")),
                    "{e}"
                );
                assert!(r.source.to_string().contains(says), "{}", r.source);
                assert!(e.hint().is_some_and(|h| !h.is_empty()), "{e}");
            }
        };
        let url_key = "`publish.url` in [package.metadata.pyship] of";
        let repo_key = "`publish.repo` in [package.metadata.pyship] of";
        let evil = "http://user:pass@evil.example/a/../b?x=1#frag";
        refused(
            Some(evil),
            Some("o/r"),
            &[],
            url_key,
            "has credentials in it",
        );
        refused(
            Some(evil),
            Some("../../r"),
            &[],
            url_key,
            "has credentials in it",
        );
        refused(
            Some("https://gitea.example.com/#frag"),
            Some("o/r"),
            &[],
            url_key,
            "query or fragment",
        );
        refused(
            Some("https://gitea.example.com?x=1"),
            None,
            &[],
            url_key,
            "query or fragment",
        );
        refused(
            Some("https://gitea.example.com"),
            Some("../../r"),
            &[],
            repo_key,
            "is not a valid Gitea repository",
        );
        refused(
            None,
            Some("../../r"),
            &[],
            repo_key,
            "is not a valid Gitea repository",
        );
        refused(
            None,
            None,
            &[("GITHUB_SERVER_URL", "https://t:x@git.example.com")],
            "GITHUB_SERVER_URL (`publish.url` is not set)",
            "has credentials in it",
        );
        refused(
            Some("https://gitea.example.com"),
            None,
            &[("GITHUB_REPOSITORY", "acme/..")],
            "GITHUB_REPOSITORY (`publish.repo` is not set)",
            "is not a valid Gitea repository",
        );
        let ok = plan(
            Some("https://gitea.example.com/sub/"),
            Some("acme/hello"),
            &[],
            true,
        )
        .expect("a valid location");
        let update = ok.update.expect("update is on");
        assert_eq!(
            update.api_url.as_deref(),
            Some("https://gitea.example.com/sub/api/v1")
        );
        let off = plan(
            Some("https://gitea.example.com/sub/"),
            Some("acme/hello"),
            &[],
            false,
        )
        .expect("a valid location, updater off");
        assert!(off.update.is_none());
        plan(None, None, &[], false).expect("no location, nothing to check");
    }

    /// The epoch: SOURCE_DATE_EPOCH, else HEAD's commit time, else 1980.
    #[test]
    fn the_epoch_comes_from_the_environment_then_git_then_a_fixed_time() {
        let none = Env::from_pairs(Vec::<(String, String)>::new());
        let set = Env::from_pairs([("SOURCE_DATE_EPOCH", "1700000000")]);
        let outside = tempfile::tempdir().unwrap();
        assert_eq!(
            Epoch::resolve(&set, outside.path()),
            Epoch {
                seconds: 1_700_000_000,
                source: EpochSource::SourceDateEpoch
            }
        );
        assert_eq!(
            Epoch::resolve(&none, outside.path()),
            Epoch {
                seconds: Epoch::FIXED,
                source: EpochSource::Fixed
            }
        );
        let repo = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let ok = std::process::Command::new("git")
                .args(args)
                .current_dir(repo.path())
                .env("GIT_COMMITTER_DATE", "2024-05-06T07:08:09Z")
                .env("GIT_AUTHOR_DATE", "2001-01-01T00:00:00Z")
                .output()
                .expect("git");
            assert!(ok.status.success(), "{ok:?}");
        };
        git(&["init", "-q"]);
        git(&[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@e",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ]);
        // The committer's time, not the author's.
        assert_eq!(
            Epoch::resolve(&none, repo.path()),
            Epoch {
                seconds: 1_714_979_289,
                source: EpochSource::Commit
            }
        );
    }

    use proptest::prelude::*;

    /// The hello fixture, loaded once (one `cargo metadata` call).
    fn hello() -> Project {
        static P: std::sync::OnceLock<Project> = std::sync::OnceLock::new();
        P.get_or_init(|| {
            let manifest =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/hello/Cargo.toml");
            crate::project::load(Some(&manifest), None).expect("fixture loads")
        })
        .clone()
    }

    /// Characters a careless or hostile config may hold.
    fn hostile_text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9 ._-]{0,70}",
            "[a-zA-Z0-9 ./\\\\:*?\"<>|%$'`\\x00-\\x1f\u{e9}\u{202e}-]{0,40}",
            Just("../../../../victim".to_owned()),
            Just("CON".to_owned()),
            Just("nul.txt".to_owned()),
            Just("..".to_owned()),
        ]
    }

    fn out_path() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![Just(".."), Just("."), Just("dist"), Just("a b"), Just("x")],
            0..5,
        )
        .prop_map(|v| v.join("/"))
    }

    fn windows_valid(s: &str) -> bool {
        !s.is_empty()
            && !s.ends_with(['.', ' '])
            && !s
                .chars()
                .any(|c| c.is_control() || "<>:\"/\\|?*".contains(c))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever the name, file name, version and --out: the plan is
        /// refused, or every path it will write lies inside the output folder
        /// and every name it derives is valid on Windows and Linux.
        #[test]
        fn plans_write_only_under_the_output_folder(
            name in hostile_text(),
            file_name in prop::option::of(hostile_text()),
            version in prop_oneof!["v?[0-9]{1,6}\\.[0-9]{1,6}\\.[0-9]{1,6}(-(alpha|rc)\\.[0-9])?", "[ -~]{0,20}"],
            out in out_path(),
        ) {
            let mut project = hello();
            project.config.name = name;
            project.config.file_name = file_name;
            let base = tempfile::tempdir().unwrap();
            let out_dir = base.path().join("proj").join(&out);
            let opts = Options {
                version: Some(&version),
                out_dir: Some(&out_dir),
                targets: vec![],
            };
            let Ok(plan) = Plan::build(project, &Env::from_pairs(Vec::<(String, String)>::new()), &opts) else {
                return Ok(());
            };
            prop_assert!(crate::names::validate(&plan.file_name).is_ok());
            prop_assert!(windows_valid(&plan.file_name), "{}", plan.file_name);
            prop_assert!(plan.out_dir.components().all(|c| !matches!(c, std::path::Component::ParentDir)));
            let roots = [plan.out_dir.as_path()];
            for a in &plan.artifacts {
                prop_assert!(windows_valid(&a.file_name), "{}", a.file_name);
                prop_assert_eq!(a.path.parent(), Some(plan.out_dir.as_path()));
                prop_assert!(crate::fs::is_inside(&a.path, &roots));
            }
            for p in Platform::ALL {
                prop_assert!(crate::fs::is_inside(&plan.bundle_dir(p), &roots));
            }
        }
    }
}

/// The self-updater's import name (the package in every bundle's
/// site-packages, see `update`).
pub const UPDATE_PACKAGE: &str = "pyship_update";

/// The updater's settings, the same for every platform (`cargo pyship plan`
/// shows them). `None` in the plan when `update.enabled = false`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UpdateSettings {
    pub provider: Provider,
    /// The server (`publish.url`, else `$GITHUB_SERVER_URL` at build time).
    /// `None`: unknown at build time; `check()` then says so.
    pub server_url: Option<String>,
    /// The REST API root the updater lists releases from.
    pub api_url: Option<String>,
    /// `owner/name` (`publish.repo`, else `$GITHUB_REPOSITORY`).
    pub repo: Option<String>,
    /// The releases page (the refusal messages point there).
    pub releases_url: Option<String>,
    /// This bundle's version, PEP 440 (`0.1.0`) and as a tag (`v0.1.0`).
    pub version: String,
    pub tag: String,
    pub channel: Channel,
    /// The variable a token is read from at run time; the token is never stored.
    pub token_env: Option<String>,
    /// Asset name per install type, `{tag}` standing for the release's tag.
    pub assets: BTreeMap<String, String>,
    /// The port the helper waits on after starting the new version.
    pub port: Option<u16>,
    /// What `pythonw -m` runs to restart the app (`_pyship_launch` for an
    /// entry point or args, as the Windows launchers run it).
    pub module: String,
    /// Seconds the helper waits for the new version to come up.
    pub start_timeout: u32,
    /// `update.public-keys`: the minisign keys whose signature on
    /// `manifest.json` the updater requires; empty: unsigned releases.
    pub public_keys: Vec<String>,
    /// In plain words, what the updater trusts (signed or unsigned).
    pub signatures: String,
}

/// The signature of `manifest.json`, uploaded next to it.
pub const SIGNATURE_FILE: &str = "manifest.json.minisig";

/// What the updater of a bundle with `public_keys` trusts, in plain words
/// (the bundle's config, `plan` and `publish` say it).
pub fn signatures_statement(public_keys: &[String]) -> String {
    if public_keys.is_empty() {
        "unsigned: releases are checked by SHA-256 against manifest.json and SHA256SUMS from the release server, so whoever can write a release can ship code to installed apps (set update.public-keys to sign them)".into()
    } else {
        format!(
            "signed: manifest.json must carry a minisign signature by one of {} key(s) of update.public-keys (or a key a signed release rotated to)",
            public_keys.len()
        )
    }
}

/// The REST API root of a provider's server.
pub fn update_api_url(provider: Provider, server: &str) -> String {
    let server = server.trim_end_matches('/');
    match provider {
        Provider::Gitea | Provider::Forgejo => format!("{server}/api/v1"),
        Provider::Github if server == "https://github.com" || server == "http://github.com" => {
            "https://api.github.com".into()
        }
        Provider::Github => format!("{server}/api/v3"),
    }
}

/// The updater settings of a plan being built, or `None` when it is off.
/// `location` is the release's server URL and `owner/name`, already
/// [`location::checked`] (they go into every bundle).
pub fn update_settings(
    config: &Config,
    location: (Option<String>, Option<String>),
    version: &crate::version::Version,
    module: &str,
    artifacts: &[Artifact],
) -> Option<UpdateSettings> {
    if !config.update.enabled {
        return None;
    }
    let (server_url, repo) = location;
    let tag = version.tag();
    let assets = artifacts
        .iter()
        .filter_map(|a| {
            let kind = install_type(a)?;
            Some((
                kind.as_str().to_owned(),
                a.file_name.replacen(&tag, "{tag}", 1),
            ))
        })
        .collect();
    Some(UpdateSettings {
        provider: config.publish.provider,
        api_url: server_url
            .as_deref()
            .map(|u| update_api_url(config.publish.provider, u)),
        releases_url: match (&server_url, &repo) {
            (Some(u), Some(r)) => Some(format!("{u}/{r}/releases")),
            _ => None,
        },
        server_url,
        repo,
        version: version.pep440(),
        tag,
        channel: config.update.channel,
        token_env: config.update.token_env.clone(),
        assets,
        port: config.port,
        module: module.to_owned(),
        start_timeout: config.update.start_timeout,
        public_keys: config.update.public_keys.clone(),
        signatures: signatures_statement(&config.update.public_keys),
    })
}
