//! The plan: config + project + version + paths, resolved once.
//!
//! Every stage reads the [`Plan`]; nothing re-reads config or re-detects the
//! version. `cargo pyship plan --format json` prints it, so what a release will
//! do can be seen (and snapshot-tested) without doing it.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use crate::config::Config;
use crate::env::Env;
use crate::platform::Platform;
use crate::project::{Project, Pyproject};
use crate::version::{self, Resolved};

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
                message: format!("`python = \"{s}\"` is not a full CPython version"),
                hint: "use three numbers, e.g. python = \"3.11.9\"".into(),
            });
        }
        Ok(Self {
            full: s.to_owned(),
            xy: format!("{}.{}", parts[0], parts[1]),
            nodot: format!("{}{}", parts[0], parts[1]),
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
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Artifact {
    pub kind: ArtifactKind,
    pub platform: Option<Platform>,
    pub file_name: String,
    pub path: PathBuf,
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
    /// `python -m {module}`.
    pub module: String,
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
    /// The bundled updater's settings; `None` with `update.enabled = false`.
    pub update: Option<crate::update::Settings>,
    pub config: Config,
    pub project: Project,
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
            Some(f) => crate::names::explicit_file_name(f)?,
            None => crate::names::file_name(&config.name)?,
        };
        let pyproject = project.pyproject()?;
        let dist_name = pyproject.dist_name();
        let module = config.module.clone().unwrap_or_else(|| dist_name.clone());
        let python = PythonVersion::parse(&config.python)?;
        let app = crate::layout::resolve(&project, pyproject, &module)?;
        let out_dir = opts
            .out_dir
            .map(crate::fs::normalize)
            .unwrap_or_else(|| project.config_dir.join("dist"));
        let targets = if opts.targets.is_empty() {
            Platform::ALL.to_vec()
        } else {
            let mut t = opts.targets.clone();
            t.sort();
            t.dedup();
            t
        };
        let tag = version.version.tag();
        let mut artifacts = Vec::new();
        let mut push = |kind, platform, file_name: String| {
            artifacts.push(Artifact {
                kind,
                platform,
                path: out_dir.join(&file_name),
                file_name,
            })
        };
        for &t in &targets {
            push(
                ArtifactKind::Bundle,
                Some(t),
                format!("{}-{}-{}", file_name, tag, t.artifact_suffix()),
            );
            if t == Platform::Windows && config.windows.installer {
                push(
                    ArtifactKind::Installer,
                    Some(t),
                    format!("{}-{}-setup.exe", file_name, tag),
                );
            }
        }
        push(ArtifactKind::Manifest, None, "manifest.json".into());
        push(ArtifactKind::Checksums, None, "SHA256SUMS".into());
        let commit = git_head(&project.config_dir);
        let update = crate::update::settings(&config, env, &version.version, &module, &artifacts);
        Ok(Self {
            name: config.name.clone(),
            file_name,
            dist_name,
            module,
            version,
            python,
            targets,
            app,
            work_dir: out_dir.join(".pyship"),
            out_dir,
            artifacts,
            commit,
            update,
            config,
            project,
        })
    }

    /// The pyproject (a plan always has one).
    pub fn pyproject(&self) -> &Pyproject {
        self.project
            .pyproject
            .as_ref()
            .expect("Plan::build checked the pyproject")
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
        cargo: Some((
            project.manifest_path.as_path(),
            project.cargo_version.as_str(),
        )),
    })
}

/// HEAD's full sha, or `None` outside a git repository.
pub fn git_head(dir: &Path) -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(dir)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Version(#[from] version::Error),
    #[error(transparent)]
    Python(#[from] crate::error::Hinted),
    #[error(transparent)]
    Project(#[from] crate::project::Error),
    #[error(transparent)]
    Layout(#[from] crate::layout::Error),
    #[error(transparent)]
    Name(#[from] crate::names::Error),
}

impl crate::error::Hint for PlanError {
    fn hint(&self) -> Option<String> {
        match self {
            PlanError::Version(e) => e.hint(),
            PlanError::Python(e) => e.hint(),
            PlanError::Project(e) => e.hint(),
            PlanError::Layout(e) => e.hint(),
            PlanError::Name(e) => e.hint(),
        }
    }
}
