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
    /// The patch from the previous release's asset of this install type
    /// (`publish` makes it): its name, size and SHA-256, the base version it
    /// applies to and the tree hash of a fresh install of this asset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta: Option<crate::delta::Made>,
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Manifest {
    pub schema: u32,
    /// The app's display name; with `repo`, the identity a signed manifest
    /// must match in the installed app.
    pub name: String,
    /// `owner/name` of the repository the release belongs to, when known.
    pub repo: Option<String>,
    /// Every spelling of the version (`tag`, `semver`, `pep440`, ...).
    pub version: Spellings,
    pub tag: String,
    pub prerelease: bool,
    pub commit: Option<String>,
    pub assets: Vec<Asset>,
    /// The CycloneDX SBOM of each bundle (what is inside it).
    pub sboms: Vec<Sbom>,
    /// The version (PEP 440) of the release before this one among the
    /// repository's version tags, if any.
    pub previous: Option<String>,
    /// When the release's files were made, in seconds since the epoch: the
    /// build's epoch (`SOURCE_DATE_EPOCH`, else HEAD's commit time), so that
    /// every build and every publish of one commit writes the same manifest
    /// (the signing time is in the signature's trusted comment).
    pub created: u64,
    /// The minisign public keys releases are signed with from this one on
    /// (`update.public-keys`). An app that verified this manifest trusts
    /// them from this version on, and stops trusting the keys it leaves out:
    /// how a key is rotated. Absent on an unsigned release.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub public_keys: Vec<String>,
    /// Staged rollout (`update.rollout`, `publish --rollout`): the fraction
    /// of installs offered this release, each deciding from its own random
    /// id. Absent: every install. Inside the signed manifest, so the server
    /// cannot widen it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout: Option<f64>,
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

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("artifact {path} is missing; the manifest lists only built artifacts")]
    #[diagnostic(help("build the artifacts first (`cargo pyship bundle --target all` and `cargo pyship installer`)"))]
    Missing { path: PathBuf },
    #[error("could not read {path}")]
    #[diagnostic(help("check that the output directory is readable"))]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not write {path}")]
    #[diagnostic(help("check that the output directory is writable"))]
    Write {
        path: PathBuf,
        #[source]
        source: crate::fs::Error,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Sign(crate::keys::Error),
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
            delta: None,
        });
    }
    Ok(Manifest {
        schema: SCHEMA,
        name: plan.name.clone(),
        repo,
        version: plan.version.version.spellings(),
        prerelease: plan.version.version.is_prerelease(),
        previous: previous_version(plan),
        created: plan.epoch.seconds,
        tag,
        commit: plan.commit.clone(),
        assets,
        sboms,
        public_keys: plan.config.update.public_keys.clone(),
        rollout: Some(plan.config.update.rollout).filter(|r| *r < 1.0),
    })
}

/// The tag of the highest version among the repository's `v*` tags below
/// the plan's (the release a delta is made from).
pub fn previous_tag(plan: &Plan) -> Option<String> {
    let mine: pep440_rs::Version = plan.version.version.pep440().parse().ok()?;
    crate::tools::git(&plan.project.config_dir, &["tag", "--list", "v*"])?
        .lines()
        .filter_map(|t| {
            let v = t.trim().parse::<crate::version::Version>().ok()?;
            Some((
                v.pep440().parse::<pep440_rs::Version>().ok()?,
                t.trim().to_owned(),
            ))
        })
        .filter(|(v, _)| *v < mine)
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, tag)| tag)
}

/// The highest version among the repository's `v*` tags below the plan's.
fn previous_version(plan: &Plan) -> Option<String> {
    let mine: pep440_rs::Version = plan.version.version.pep440().parse().ok()?;
    crate::tools::git(&plan.project.config_dir, &["tag", "--list", "v*"])?
        .lines()
        .filter_map(|t| t.trim().parse::<crate::version::Version>().ok())
        .filter_map(|v| Some((v.pep440().parse::<pep440_rs::Version>().ok()?, v.pep440())))
        .filter(|(v, _)| *v < mine)
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, text)| text)
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

/// Build the manifest from those of the plan's artifacts that are in the
/// output directory (`required`: all of them must be) and write it, signed
/// with `signer` when given, to the plan's `manifest.json` path. Returns it,
/// its path and the signature's.
pub fn write_for(
    plan: &Plan,
    env: &Env,
    signer: Option<&crate::keys::Signer>,
    required: bool,
) -> Result<Written, Error> {
    write_with_deltas(plan, env, signer, required, &[])
}

/// [`write_for`], with the patches `publish` made: each is listed on the
/// asset it rebuilds (by the asset's name).
pub fn write_with_deltas(
    plan: &Plan,
    env: &Env,
    signer: Option<&crate::keys::Signer>,
    required: bool,
    deltas: &[(String, crate::delta::Made)],
) -> Result<Written, Error> {
    let files: Vec<(&Artifact, &Path)> = plan
        .artifacts
        .iter()
        .filter(|a| install_type(a).is_some() || a.kind == ArtifactKind::Sbom)
        .filter(|a| required || a.path.is_file())
        .map(|a| (a, a.path.as_path()))
        .collect();
    let mut manifest = build(plan, env, &files)?;
    attach_deltas(&mut manifest, deltas);
    let path = plan
        .artifact(ArtifactKind::Manifest, None)
        .map(|a| a.path.clone())
        .unwrap_or_else(|| plan.out_dir.join("manifest.json"));
    let signature = write(&manifest, &path, signer)?;
    Ok(Written {
        manifest,
        path,
        signature,
    })
}

/// List each patch on the asset it rebuilds (by the asset's name). The NSIS
/// setup installs the Windows bundle's tree, so an app it installed at the
/// base version is patched by the zip's delta too.
fn attach_deltas(manifest: &mut Manifest, deltas: &[(String, crate::delta::Made)]) {
    for (asset, made) in deltas {
        if let Some(a) = manifest.assets.iter_mut().find(|a| &a.name == asset) {
            a.delta = Some(made.clone());
        }
    }
    let windows = manifest
        .assets
        .iter()
        .find(|a| a.install_type == InstallType::PortableWindows)
        .and_then(|a| a.delta.clone());
    if let Some(made) = windows {
        for a in manifest
            .assets
            .iter_mut()
            .filter(|a| a.install_type == InstallType::Installer)
        {
            a.delta = Some(made.clone());
        }
    }
}

/// What [`write_for`] wrote.
#[derive(Debug, Clone)]
pub struct Written {
    pub manifest: Manifest,
    pub path: PathBuf,
    /// `manifest.json.minisig`; `None`: unsigned.
    pub signature: Option<PathBuf>,
}

impl Written {
    /// Install types of the plan with no asset in the manifest: apps
    /// installed that way cannot update from this release.
    pub fn missing_install_types(&self, plan: &Plan) -> Vec<(InstallType, String)> {
        plan.artifacts
            .iter()
            .filter_map(|a| Some((install_type(a)?, a)))
            .filter(|(t, _)| !self.manifest.assets.iter().any(|m| m.install_type == *t))
            .map(|(t, a)| (t, a.file_name.clone()))
            .collect()
    }
}

/// Write `manifest` as pretty JSON (atomically) and, with `signer`, its
/// minisign signature next to it (`manifest.json.minisig`); without one, a
/// stale signature there is removed. Returns the signature's path.
pub fn write(
    manifest: &Manifest,
    path: &Path,
    signer: Option<&crate::keys::Signer>,
) -> Result<Option<PathBuf>, Error> {
    let mut json = serde_json::to_string_pretty(manifest).expect("the manifest serializes");
    json.push('\n');
    let err = |path: &Path, source| Error::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        fs_err::create_dir_all(dir).map_err(|e| err(path, crate::fs::Error::Io(e)))?;
    }
    let sig_path = {
        let mut p = path.as_os_str().to_owned();
        p.push(".minisig");
        PathBuf::from(p)
    };
    // The signature is made before anything is written: a failure leaves
    // the old pair as it was.
    let signature = match signer {
        Some(s) => Some(
            s.sign(json.as_bytes(), &trusted_comment(manifest))
                .map_err(Error::Sign)?,
        ),
        None => None,
    };
    crate::fs::atomic_write(path, json.as_bytes()).map_err(|e| err(path, e))?;
    match signature {
        Some(sig) => {
            crate::fs::atomic_write(&sig_path, sig.as_bytes()).map_err(|e| err(&sig_path, e))?;
            Ok(Some(sig_path))
        }
        None => {
            if sig_path.is_file() {
                fs_err::remove_file(&sig_path)
                    .map_err(|e| err(&sig_path, crate::fs::Error::Io(e)))?;
            }
            Ok(None)
        }
    }
}

/// The signature's trusted comment (`minisign -V` prints it): app, tag and
/// the time of signing, on one line of printable ASCII.
fn trusted_comment(m: &Manifest) -> String {
    let signed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let text = format!(
        "pyship manifest of {} {} ({}) timestamp:{signed}",
        m.name,
        m.tag,
        m.repo.as_deref().unwrap_or("no repository"),
    );
    text.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(512)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `created` is the build's epoch (HEAD's commit time here, with no
    /// `SOURCE_DATE_EPOCH`), not when the files happen to have been written:
    /// two builds of one commit write the same manifest.
    #[test]
    fn created_is_the_builds_epoch_not_a_file_time() {
        let plan = crate::plan::tests_support::hello_plan();
        assert_eq!(plan.epoch.source, crate::plan::EpochSource::Commit);
        let env = Env::from_pairs(Vec::<(String, String)>::new());
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("just-written.zip");
        fs_err::write(&zip, b"zip").unwrap();
        let artifact = plan
            .artifact(ArtifactKind::Bundle, Some(Platform::Windows))
            .expect("the plan has the Windows zip");
        let manifest = build(&plan, &env, &[(artifact, zip.as_path())]).unwrap();
        assert_eq!(manifest.created, plan.epoch.seconds);
        let written = fs_err::metadata(&zip)
            .unwrap()
            .modified()
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert_ne!(manifest.created, written);
    }

    /// `update.rollout` below 1 is the manifest's `rollout`; at 1 (every
    /// install) the field is left out, so such manifests read as before.
    #[test]
    fn rollout_is_written_only_when_staged() {
        let mut plan = crate::plan::tests_support::hello_plan();
        let env = Env::from_pairs(Vec::<(String, String)>::new());
        let json = |plan: &Plan| serde_json::to_value(build(plan, &env, &[]).unwrap()).unwrap();
        assert!(json(&plan).get("rollout").is_none());
        plan.config.update.rollout = 0.25;
        assert_eq!(json(&plan)["rollout"], serde_json::json!(0.25));
    }

    /// The zip's patch is listed on the NSIS setup too (it installs the same
    /// tree); the Linux tarball's stays its own.
    #[test]
    fn the_setup_gets_the_zips_delta() {
        let plan = crate::plan::tests_support::hello_plan();
        let env = Env::from_pairs(Vec::<(String, String)>::new());
        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        for a in plan.artifacts.iter().filter(|a| install_type(a).is_some()) {
            let p = dir.path().join(&a.file_name);
            fs_err::write(&p, a.file_name.as_bytes()).unwrap();
            files.push((a, p));
        }
        let refs: Vec<(&Artifact, &Path)> = files.iter().map(|(a, p)| (*a, p.as_path())).collect();
        let mut manifest = build(&plan, &env, &refs).unwrap();
        let name_of = |t: InstallType| {
            manifest
                .assets
                .iter()
                .find(|a| a.install_type == t)
                .map(|a| a.name.clone())
        };
        let zip = name_of(InstallType::PortableWindows).expect("a zip");
        assert!(name_of(InstallType::Installer).is_some(), "a setup");
        let made = crate::delta::Made {
            name: "patch.tar.gz".into(),
            path: PathBuf::new(),
            size: 10,
            sha256: "0".repeat(64),
            base: "0.0.1".into(),
            tree_sha256: "1".repeat(64),
            files: 2,
            carried: 1,
            full_size: 100,
        };
        attach_deltas(&mut manifest, &[(zip, made.clone())]);
        for a in &manifest.assets {
            let want = matches!(
                a.install_type,
                InstallType::PortableWindows | InstallType::Installer
            );
            assert_eq!(a.delta.as_ref(), want.then_some(&made), "{}", a.name);
        }
    }
}
