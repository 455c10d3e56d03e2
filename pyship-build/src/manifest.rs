//! Stage: the release manifest (`manifest.json`) and the release plan.
//!
//! Why: an in-app updater needs one small document that says, for a release,
//! which asset to download for its platform and install type (portable zip,
//! installer, tarball), how big it is and its SHA-256, without parsing asset
//! names. `release` writes it into the output directory and uploads it with the
//! other assets (before `SHA256SUMS`, which covers it).
//!
//! [`ReleasePlan`] is the side-effect-free description of everything `release`
//! would do and produce (`cargo pyship plan`): the [`Plan`], the release, the
//! steps and the Docker tags.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::env::{self, Env};
use crate::error::Hint;
use crate::plan::{Artifact, ArtifactKind, Plan};
use crate::platform::Platform;
use crate::version::Spellings;

/// Version of the manifest's schema; bumped when a field changes meaning.
pub const SCHEMA: u32 = 1;

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
}

impl InstallType {
    pub fn as_str(self) -> &'static str {
        match self {
            InstallType::PortableWindows => "portable-windows",
            InstallType::Installer => "installer",
            InstallType::PortableLinux => "portable-linux",
        }
    }
}

/// One downloadable asset of the release.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Asset {
    /// The asset's name on the release (the file name).
    pub name: String,
    pub platform: Platform,
    pub install_type: InstallType,
    pub size: u64,
    pub sha256: String,
    /// `{server}/{owner}/{repo}/releases/download/{tag}/{name}` when the
    /// server and repository are known (Gitea, Forgejo and GitHub share it).
    pub download_url: Option<String>,
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Manifest {
    pub schema: u32,
    pub name: String,
    /// Every spelling of the version (`tag`, `semver`, `pep440`, ...).
    pub version: Spellings,
    pub tag: String,
    pub prerelease: bool,
    pub commit: Option<String>,
    pub assets: Vec<Asset>,
    /// The CycloneDX SBOM of each bundle (what is inside it).
    pub sboms: Vec<Sbom>,
}

/// One SBOM asset of the release.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Sbom {
    pub name: String,
    pub platform: Platform,
    pub size: u64,
    pub sha256: String,
    pub download_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("artifact {path} is missing; the manifest lists only built artifacts")]
    Missing { path: PathBuf },
    #[error("could not read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: crate::fs::Error,
    },
}

impl Hint for Error {
    fn hint(&self) -> Option<String> {
        Some(match self {
            Error::Missing { .. } => {
                "build the artifacts first (`cargo pyship bundle --target all` and `cargo pyship installer`)".into()
            }
            Error::Read { .. } => "check that the output directory is readable".into(),
            Error::Write { .. } => "check that the output directory is writable".into(),
        })
    }
}

/// The install type of an artifact (`None` for checksums and the manifest itself).
pub fn install_type(a: &Artifact) -> Option<InstallType> {
    match (a.kind, a.platform) {
        (ArtifactKind::Installer, _) => Some(InstallType::Installer),
        (ArtifactKind::Bundle, Some(Platform::Windows)) => Some(InstallType::PortableWindows),
        (ArtifactKind::Bundle, Some(Platform::Linux)) => Some(InstallType::PortableLinux),
        _ => None,
    }
}

/// Server URL and `owner/name` of the release: config first, then the CI variables.
pub fn release_location(plan: &Plan, env: &Env) -> (Option<String>, Option<String>) {
    location(&plan.config, env)
}

/// [`release_location`] from the config alone (the plan being built needs it).
pub fn location(config: &crate::config::Config, env: &Env) -> (Option<String>, Option<String>) {
    let url = config
        .publish
        .url
        .clone()
        .or_else(|| env.get(env::GITHUB_SERVER_URL).map(str::to_owned))
        .map(|u| u.trim_end_matches('/').to_owned());
    let repo = config
        .publish
        .repo
        .clone()
        .or_else(|| env.get(env::GITHUB_REPOSITORY).map(str::to_owned));
    (url, repo)
}

/// The manifest for `files`: each artifact with the file holding it (usually
/// `artifact.path`). Reads each file for its size and SHA-256.
pub fn build(plan: &Plan, env: &Env, files: &[(&Artifact, &Path)]) -> Result<Manifest, Error> {
    let (url, repo) = release_location(plan, env);
    let tag = plan.version.version.tag();
    let mut assets = Vec::new();
    let mut sboms = Vec::new();
    for (a, path) in files {
        let sbom = a.kind == ArtifactKind::Sbom;
        let (Some(install_type), Some(platform)) = (install_type(a), a.platform) else {
            if let (true, Some(platform)) = (sbom, a.platform) {
                if !path.is_file() {
                    return Err(Error::Missing {
                        path: path.to_path_buf(),
                    });
                }
                let read = |source| Error::Read {
                    path: path.to_path_buf(),
                    source,
                };
                sboms.push(Sbom {
                    download_url: download_url(&url, &repo, &tag, &a.file_name),
                    name: a.file_name.clone(),
                    platform,
                    size: fs_err::metadata(path).map_err(read)?.len(),
                    sha256: crate::fs::sha256_file(path).map_err(read)?,
                });
            }
            continue;
        };
        if !path.is_file() {
            return Err(Error::Missing {
                path: path.to_path_buf(),
            });
        }
        let read = |source| Error::Read {
            path: path.to_path_buf(),
            source,
        };
        let size = fs_err::metadata(path).map_err(read)?.len();
        let sha256 = crate::fs::sha256_file(path).map_err(read)?;
        assets.push(Asset {
            download_url: download_url(&url, &repo, &tag, &a.file_name),
            name: a.file_name.clone(),
            platform,
            install_type,
            size,
            sha256,
        });
    }
    Ok(Manifest {
        schema: SCHEMA,
        name: plan.name.clone(),
        version: plan.version.version.spellings(),
        prerelease: plan.version.version.is_prerelease(),
        tag,
        commit: plan.commit.clone(),
        assets,
        sboms,
    })
}

/// `{server}/{owner}/{repo}/releases/download/{tag}/{name}` when the server
/// and repository are known (Gitea, Forgejo and GitHub share it).
fn download_url(
    url: &Option<String>,
    repo: &Option<String>,
    tag: &str,
    name: &str,
) -> Option<String> {
    match (url, repo) {
        (Some(u), Some(r)) => Some(format!(
            "{u}/{r}/releases/download/{}/{}",
            encode_segment(tag),
            encode_segment(name)
        )),
        _ => None,
    }
}

/// Build the manifest from the plan's artifacts in the output directory and
/// write it to the plan's `manifest.json` path. Returns it and its path.
pub fn write_for(plan: &Plan, env: &Env) -> Result<(Manifest, PathBuf), Error> {
    let files: Vec<(&Artifact, &Path)> = plan
        .artifacts
        .iter()
        .filter(|a| install_type(a).is_some() || a.kind == ArtifactKind::Sbom)
        .map(|a| (a, a.path.as_path()))
        .collect();
    let manifest = build(plan, env, &files)?;
    let path = plan
        .artifact(ArtifactKind::Manifest, None)
        .map(|a| a.path.clone())
        .unwrap_or_else(|| plan.out_dir.join("manifest.json"));
    write(&manifest, &path)?;
    Ok((manifest, path))
}

/// Write `manifest` as pretty JSON (atomically).
pub fn write(manifest: &Manifest, path: &Path) -> Result<(), Error> {
    let mut json = serde_json::to_string_pretty(manifest).expect("the manifest serializes");
    json.push('\n');
    let err = |source| Error::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        fs_err::create_dir_all(dir).map_err(|e| err(crate::fs::Error::Io(e)))?;
    }
    crate::fs::atomic_write(path, json.as_bytes()).map_err(err)
}

/// Percent-encode one URL path segment (RFC 3986 unreserved characters kept).
fn encode_segment(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

/// The release as `publish` will create it.
#[derive(Debug, Clone, Serialize)]
pub struct Release {
    pub tag: String,
    pub prerelease: bool,
    /// `target_commitish`: HEAD's sha.
    pub target_commitish: Option<String>,
    pub server_url: Option<String>,
    pub repo: Option<String>,
    /// Asset names in upload order (`SHA256SUMS` last).
    pub assets: Vec<String>,
}

/// One step of `release`, in order.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub name: &'static str,
    pub description: String,
    /// `false` when the step will be skipped (`description` says why).
    pub runs: bool,
}

/// Everything `cargo pyship release` would do and produce (`cargo pyship plan`).
#[derive(Debug, Clone, Serialize)]
pub struct ReleasePlan<'a> {
    #[serde(flatten)]
    pub plan: &'a Plan,
    pub release: Release,
    pub docker: Option<crate::docker::DockerPlan>,
    /// What will be signed and with which certificate (names only, never
    /// secrets); `None`: signing is not configured.
    pub signing: Option<crate::sign::SignPlan>,
    /// Why there is no Docker step, when there is none.
    pub docker_skipped: Option<String>,
    /// Per target: the prebuild and the project's own wheel build.
    pub builds: Vec<crate::wheel::TargetBuild>,
    pub steps: Vec<Step>,
}

/// ` (Windows with tkinter from …)` when `windows.tkinter = true`.
fn tkinter_note(plan: &Plan, env: &Env) -> String {
    let w = &plan.config.windows;
    if !(w.tkinter && plan.targets.contains(&Platform::Windows)) {
        return String::new();
    }
    let mirror = env
        .get(env::PYSHIP_PYTHON_MIRROR)
        .unwrap_or(&w.python_mirror);
    let from = match w.tkinter_source {
        crate::config::TkinterSource::Msi => format!(
            "python.org's {}",
            crate::python::tkinter::msi_url(mirror, &plan.python, "tcltk")
        ),
        crate::config::TkinterSource::Pypi => format!(
            "the {} package for CPython {}",
            crate::python::tkinter::PYPI_PROJECT,
            plan.python.xy
        ),
    };
    format!(" (Windows with tkinter from {from})")
}

/// Describe the release without side effects (reads git tags for the Docker
/// `latest` rule; writes nothing, runs no build tool).
pub fn release_plan<'a>(plan: &'a Plan, env: &Env) -> ReleasePlan<'a> {
    let (server_url, repo) = release_location(plan, env);
    let mut assets: Vec<String> = plan
        .artifacts
        .iter()
        .filter(|a| a.kind != ArtifactKind::Checksums)
        .map(|a| a.file_name.clone())
        .collect();
    assets.extend(
        plan.artifacts
            .iter()
            .filter(|a| a.kind == ArtifactKind::Checksums)
            .map(|a| a.file_name.clone()),
    );
    let tags = crate::docker::repo_version_tags(&plan.project.config_dir);
    let docker_opts = crate::docker::Options {
        push: true,
        repo_tags: tags,
    };
    let (docker, docker_skipped) = match crate::docker::plan(plan, &docker_opts, env) {
        Ok(d) => (Some(d), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let v = &plan.version.version;
    let names = |kind| {
        plan.artifacts
            .iter()
            .filter(|a| a.kind == kind)
            .map(|a| a.file_name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let step = |name, runs, description: String| Step {
        name,
        description,
        runs,
    };
    let installer = names(ArtifactKind::Installer);
    let mut builds = Vec::new();
    let mut build_steps = Vec::new();
    for &t in &plan.targets {
        match crate::wheel::planned(plan, t) {
            Ok(b) => {
                if let Some(cmd) = &b.prebuild {
                    build_steps.push(step(
                        "prebuild",
                        true,
                        format!(
                            "{t}: `{cmd}` in {} (PYSHIP_TARGET_TRIPLE={}, PYSHIP_OUT_DIR={})",
                            b.working_dir.display(),
                            b.triple,
                            b.out_dir.display()
                        ),
                    ));
                }
                if let Some(m) = &b.maturin {
                    build_steps.push(step(
                        "wheel",
                        true,
                        format!(
                            "{t}: maturin {} in {} (cached by its inputs)",
                            m.args.join(" "),
                            m.project_dir.display()
                        ),
                    ));
                }
                builds.push(b);
            }
            Err(e) => build_steps.push(step("wheel", false, format!("{t}: {e}"))),
        }
    }
    let mut steps = vec![step(
        "version",
        true,
        match plan.project.stamp_target() {
            Ok(crate::version::stamp::Target::Cargo {
                manifest,
                workspace,
                ..
            }) => format!(
                "stamp {} into {} of {} (the pyproject's version is dynamic)",
                v.semver(),
                if workspace {
                    "[workspace.package].version"
                } else {
                    "[package].version"
                },
                manifest.display()
            ),
            _ => format!(
                "stamp {} into [project].version of {}",
                v.pep440(),
                plan.pyproject().path.display()
            ),
        },
    )];
    steps.extend(build_steps);
    steps.extend([
        step(
            "bundle",
            true,
            format!(
                "build {}{} (each with THIRD-PARTY-LICENSES.txt{}), and their SBOMs {}",
                names(ArtifactKind::Bundle),
                tkinter_note(plan, env),
                if plan.config.windows.sign.as_ref().is_some_and(|s| s.sign_binaries) {
                    "; the project's own Windows binaries signed"
                } else {
                    ""
                },
                names(ArtifactKind::Sbom)
            ),
        ),
        step(
            "installer",
            !installer.is_empty(),
            if installer.is_empty() {
                "no Windows target, or windows.installer = false".into()
            } else if plan.config.windows.sign.is_some() {
                format!("build {installer} with makensis, sign it and its uninstaller with osslsigncode, verify both")
            } else {
                format!("build {installer} with makensis")
            },
        ),
        step(
            "manifest",
            true,
            format!(
                "write manifest.json and SHA256SUMS (covering {})",
                names(ArtifactKind::Sbom)
            ),
        ),
        step(
            "publish",
            true,
            format!(
                "{} release {} ({}) with {} assets",
                if v.is_prerelease() {
                    "pre-release"
                } else {
                    "stable"
                },
                v.tag(),
                match (&server_url, &repo) {
                    (Some(u), Some(r)) => format!("{u}/{r}"),
                    _ => "server and repository from the CI variables".into(),
                },
                assets.len()
            ),
        ),
        match &docker {
            Some(d) if crate::release::docker_configured(plan) => step(
                "docker",
                true,
                format!("build and push {}", d.tags.join(", ")),
            ),
            _ => step(
                "docker",
                false,
                docker_skipped.clone().unwrap_or_else(|| {
                    "no image configured ([package.metadata.pyship.docker] image) and no Dockerfile".into()
                }),
            ),
        },
    ]);
    ReleasePlan {
        plan,
        release: Release {
            tag: v.tag(),
            prerelease: v.is_prerelease(),
            target_commitish: plan.commit.clone(),
            server_url,
            repo,
            assets,
        },
        docker,
        signing: crate::sign::plan(plan),
        docker_skipped,
        builds,
        steps,
    }
}
