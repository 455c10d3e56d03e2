//! Stage: the release manifest (`manifest.json`) and the release plan.
//!
//! Why: an in-app updater needs one small document that says, for a release,
//! which asset to download for its platform and install type (portable zip,
//! installer, tarball), how big it is and its SHA-256, without parsing asset
//! names. `release` writes it into the output directory and uploads it with the
//! other assets (before `SHA256SUMS`, which covers it).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::env::Env;
use crate::error::Hint;
pub use crate::plan::{install_type, InstallType};
use crate::plan::{Artifact, ArtifactKind, Plan};
use crate::platform::Platform;
use crate::version::Spellings;

/// Version of the manifest's schema; bumped when a field changes meaning.
pub const SCHEMA: u32 = 1;

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
    /// The release's assets of its platform it describes: they all carry
    /// the same bundle (portable archive, NSIS installer, MSI, Debian package).
    pub describes: Vec<String>,
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

/// The manifest for `files`: each artifact with the file holding it (usually
/// `artifact.path`). Reads each file for its size and SHA-256.
pub fn build(plan: &Plan, env: &Env, files: &[(&Artifact, &Path)]) -> Result<Manifest, Error> {
    let (url, repo) = plan.config.publish.location(env);
    let tag = plan.version.version.tag();
    let mut assets = Vec::new();
    let mut sboms = Vec::new();
    for (a, path) in files {
        let sbom = a.kind == ArtifactKind::Sbom;
        let (Some(install_type), Some(platform)) = (install_type(a), a.platform) else {
            if let (true, Some(platform)) = (sbom, a.platform) {
                let (size, sha256) = measure(path)?;
                sboms.push(Sbom {
                    download_url: download_url(&url, &repo, &tag, &a.file_name),
                    name: a.file_name.clone(),
                    platform,
                    size,
                    sha256,
                    describes: plan
                        .artifacts
                        .iter()
                        .filter(|b| b.platform == Some(platform) && install_type(b).is_some())
                        .map(|b| b.file_name.clone())
                        .collect(),
                });
            }
            continue;
        };
        let (size, sha256) = measure(path)?;
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

/// Size and SHA-256 of a built artifact; a missing one is [`Error::Missing`].
fn measure(path: &Path) -> Result<(u64, String), Error> {
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
    Ok((size, crate::fs::sha256_file(path).map_err(read)?))
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
            crate::net::percent_encode(tag),
            crate::net::percent_encode(name)
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
