//! Stage: the whole release, the one CI step. Stamp the version, build every
//! bundle, the installer, `manifest.json`, then publish (with `SHA256SUMS`),
//! then the Docker image when one is configured.
//!
//! Why an orchestrator of its own: the order matters (publish last but docker,
//! so a failed build never publishes; SHA256SUMS after every artifact), and a
//! failure must leave nothing that a re-run would not repair: every step is
//! idempotent (stamping writes the same value, bundles are rebuilt from
//! scratch, publish reconciles assets by name), so running `release` again
//! after fixing the cause converges.
//!
//! [`ReleasePlan`] is the side-effect-free description of everything `release`
//! would do and produce (`cargo pyship plan`, `release --dry-run`): the
//! [`Plan`], the release, the steps and the Docker tags.

use std::path::PathBuf;

use serde::Serialize;

use crate::context::Context;
use crate::env::Env;
use crate::error::Hint;
use crate::plan::{ArtifactKind, Plan};
use crate::platform::Platform;

/// What the release did.
#[derive(Debug, Serialize)]
pub struct Released {
    pub tag: String,
    pub prerelease: bool,
    /// Files whose version was stamped (unchanged ones included, `changed: false`).
    pub stamped: Vec<crate::version::stamp::Stamped>,
    pub bundles: Vec<crate::bundle::Bundled>,
    pub installer: Option<crate::installer::Installer>,
    /// `None`: `windows.msi` is off (or no Windows target).
    pub msi: Option<crate::msi::Msi>,
    /// `None`: `linux.deb` is off (or no Linux target).
    pub deb: Option<crate::deb::Deb>,
    pub manifest: PathBuf,
    pub published: crate::publish::Published,
    /// `None`: no image configured.
    pub docker: Option<crate::docker::Output>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("release step `sign` failed (nothing was built or published)")]
    Sign(#[source] crate::sign::Error),
    #[error(transparent)]
    Lock(#[from] crate::lock::Error),
    #[error("release cannot build the project's wheels")]
    Tools(#[source] crate::wheel::Error),
    #[error("release step `version --stamp` failed")]
    /// Boxed: on Windows (wider paths) the unboxed error is over clippy's
    /// `result_large_err` limit.
    Stamp(#[source] Box<StampError>),
    #[error("release step `bundle` ({platform}) failed")]
    Bundle {
        platform: Platform,
        #[source]
        source: crate::bundle::Error,
    },
    #[error("release step `installer` failed")]
    Installer(#[source] crate::installer::Error),
    #[error("release step `sign` failed (nothing was built or published)")]
    ManifestKey(#[source] crate::keys::Error),
    #[error("release step `msi` failed")]
    Msi(#[source] crate::msi::Error),
    #[error("release step `deb` failed")]
    Deb(#[source] crate::deb::Error),
    #[error("release step `publish` failed (a re-run reconciles the release: assets are replaced by name)")]
    Publish(#[source] crate::publish::Error),
    #[error("release step `docker` failed (the release itself is published)")]
    Docker(#[source] crate::docker::Error),
}

/// Either side of stamping can fail: finding where to write, or writing.
#[derive(Debug, thiserror::Error)]
pub enum StampError {
    #[error(transparent)]
    Project(#[from] crate::project::Error),
    #[error(transparent)]
    Version(#[from] crate::version::Error),
}

impl Hint for Error {
    fn hint(&self) -> Option<String> {
        match self {
            Error::Sign(e) => e.hint(),
            Error::Lock(e) => e.hint(),
            Error::Tools(e) => e.hint(),
            Error::Stamp(e) => match e.as_ref() {
                StampError::Project(e) => e.hint(),
                StampError::Version(e) => e.hint(),
            },
            Error::Bundle { source, .. } => source.hint(),
            Error::Installer(e) => e.hint(),
            Error::ManifestKey(e) => e.hint(),
            Error::Msi(e) => e.hint(),
            Error::Deb(e) => e.hint(),
            Error::Publish(e) => e.hint(),
            Error::Docker(e) => e.hint(),
        }
    }
}

/// Whether `release` builds the Docker image: an image is configured, or the
/// project has its own Dockerfile (and the image name can be derived).
pub fn docker_configured(plan: &Plan) -> bool {
    plan.config.docker.image.is_some()
        || crate::docker::context_dir(plan)
            .join("Dockerfile")
            .is_file()
}

/// Run the release. `ctx.dry_run` is not handled here: a dry run is
/// [`release_plan`], which changes nothing.
pub fn run(plan: &Plan, ctx: &Context<'_>) -> Result<Released, Error> {
    let v = &plan.version.version;
    // A target this host cannot build fails before anything is stamped.
    for &platform in &plan.targets {
        crate::bundle::check_host(&[platform])
            .map_err(|source| Error::Bundle { platform, source })?;
    }
    ctx.reporter
        .status("Releasing", &format!("{} {}", plan.name, v.tag()));
    // The certificate and its password are checked first: a wrong password
    // fails the release before anything is written, built or published.
    let signer = crate::sign::Signer::prepare(plan, ctx).map_err(Error::Sign)?;
    // So is the key that signs manifest.json (when update.public-keys is set).
    let manifest_signer = crate::keys::Signer::from_env(&plan.config.update, ctx.env)
        .map_err(Error::ManifestKey)?
        .map(std::sync::Arc::new);
    // Held for the whole release; bundle and installer re-enter it.
    let _lock = crate::lock::OutDirLock::acquire(&plan.out_dir, ctx.reporter)?;

    // Missing build tools fail before anything is stamped or built.
    crate::wheel::preflight(plan, ctx).map_err(Error::Tools)?;
    if plan
        .artifact(ArtifactKind::Msi, Some(Platform::Windows))
        .is_some()
    {
        crate::msi::preflight(plan, ctx).map_err(Error::Msi)?;
    }
    if plan
        .artifact(ArtifactKind::Deb, Some(Platform::Linux))
        .is_some()
    {
        crate::deb::package_name(plan)
            .and_then(|_| crate::deb::maintainer(plan))
            .map_err(Error::Deb)?;
    }
    // So does a runtime that cannot be had (a download, a pin, a host Python),
    // and a lock that is stale, broken, or (`--locked`) would change.
    for &platform in &plan.targets {
        crate::python::prefetch(plan, platform, ctx).map_err(|e| Error::Bundle {
            platform,
            source: e.into(),
        })?;
        if crate::bundle::pins_early(platform) {
            crate::pins::for_target(plan, platform, ctx).map_err(|e| Error::Bundle {
                platform,
                source: crate::deps::Error::from(e).into(),
            })?;
        }
    }

    let targets = plan
        .project
        .stamp_targets()
        .map_err(|e| Error::Stamp(Box::new(e.into())))?;
    let stamped =
        crate::version::stamp::stamp(&targets, v).map_err(|e| Error::Stamp(Box::new(e.into())))?;
    for s in stamped.iter().filter(|s| s.changed) {
        ctx.reporter
            .status("Stamped", &format!("{} ({})", s.path.display(), s.new));
    }

    let mut bundles = Vec::new();
    for &platform in &plan.targets {
        let b = crate::bundle::run_with(plan, platform, signer.as_ref(), ctx)
            .map_err(|source| Error::Bundle { platform, source })?;
        ctx.reporter.status(
            "Finished",
            &format!("{} ({:.1}s)", b.artifact.display(), b.total_seconds()),
        );
        bundles.push(b);
    }

    let installer = match plan.artifact(ArtifactKind::Installer, Some(Platform::Windows)) {
        Some(_) => Some(
            crate::installer::run_with(
                plan,
                &plan.bundle_dir(Platform::Windows),
                signer.as_ref(),
                ctx,
            )
            .map_err(Error::Installer)?,
        ),
        None => None,
    };

    let msi = match plan.artifact(ArtifactKind::Msi, Some(Platform::Windows)) {
        Some(_) => Some(
            crate::msi::run_with(
                plan,
                &plan.bundle_dir(Platform::Windows),
                signer.as_ref(),
                ctx,
            )
            .map_err(Error::Msi)?,
        ),
        None => None,
    };
    let deb = match plan.artifact(ArtifactKind::Deb, Some(Platform::Linux)) {
        Some(_) => Some(
            crate::deb::run(plan, &plan.bundle_dir(Platform::Linux), ctx).map_err(Error::Deb)?,
        ),
        None => None,
    };

    // publish writes (and signs) manifest.json from what it uploads.
    let manifest = plan
        .artifact(ArtifactKind::Manifest, None)
        .map(|a| a.path.clone())
        .unwrap_or_else(|| plan.out_dir.join("manifest.json"));
    let mut opts = crate::publish::Options::from_env(ctx.env);
    opts.dry_run = false;
    opts.signer = manifest_signer;
    let published = crate::publish::run(plan, &opts, ctx).map_err(Error::Publish)?;

    let docker = if docker_configured(plan) {
        let opts = crate::docker::Options {
            push: true,
            repo_tags: crate::docker::repo_version_tags(&plan.project.config_dir),
        };
        Some(crate::docker::run(plan, &opts, ctx).map_err(Error::Docker)?)
    } else {
        None
    };

    Ok(Released {
        tag: v.tag(),
        prerelease: v.is_prerelease(),
        stamped,
        bundles,
        installer,
        msi,
        deb,
        manifest,
        published,
        docker,
    })
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
        .get(crate::env::PYSHIP_PYTHON_MIRROR)
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
    let (server_url, repo) = plan.config.publish.location(env);
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
    let mut steps = vec![match plan.project.stamp_targets() {
        Ok(targets) => step(
            "version",
            true,
            format!(
                "stamp {}",
                targets
                    .iter()
                    .map(|t| t.describe(v))
                    .collect::<Vec<_>>()
                    .join(", and ")
            ),
        ),
        Err(e) => step("version", false, e.to_string()),
    }];
    steps.extend(build_steps);
    let package_steps = |steps: &mut Vec<Step>| {
        let msi = names(ArtifactKind::Msi);
        if !msi.is_empty() {
            steps.push(step(
                "msi",
                true,
                format!(
                    "build {msi} with wixl ({}, UpgradeCode {}){}",
                    plan.config.windows.msi_scope.key(),
                    crate::msi::upgrade_code(plan),
                    if plan.config.windows.sign.is_some() {
                        ", sign it with osslsigncode and verify"
                    } else {
                        ""
                    }
                ),
            ));
        }
        let deb = names(ArtifactKind::Deb);
        if !deb.is_empty() {
            steps.push(step(
                "deb",
                true,
                format!("build {deb} (the Linux bundle under /opt, the systemd unit, Depends from its ELF files)"),
            ));
        }
    };
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
    ]);
    // The packages' steps appear when they run (each is opt-in).
    package_steps(&mut steps);
    steps.extend([
        step(
            "manifest",
            true,
            format!(
                "write manifest.json ({}) and SHA256SUMS (covering {})",
                if plan.config.update.public_keys.is_empty() {
                    "UNSIGNED: no update.public-keys, installed apps check releases by SHA-256 from the server only".to_owned()
                } else {
                    format!(
                        "signed into {} with the key in ${}",
                        crate::plan::SIGNATURE_FILE,
                        plan.config.update.signing_key_env
                    )
                },
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
            Some(d) if docker_configured(plan) => step(
                "docker",
                true,
                format!("build and push {}", d.tags.join(", ")),
            ),
            _ => step(
                "docker",
                false,
                docker_skipped.clone().unwrap_or_else(|| {
                    format!(
                        "no image configured (`image` in [{}.docker]) and no Dockerfile",
                        plan.project.config_source.table.key()
                    )
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
