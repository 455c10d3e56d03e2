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
use crate::plan::{ArtifactKind, Plan};
use crate::platform::Platform;

mod action;
mod ci;

use action::asset_order;
pub use action::{actions, select, Action, Part, Planned, Step};
pub use ci::{jobs, Job, Secret};

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
    /// `None` only when the actions hold no publish (a whole release always does).
    pub published: Option<crate::publish::Published>,
    /// `None`: no image configured.
    pub docker: Option<crate::docker::Output>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("release step `sign` failed (nothing was built or published)")]
    #[diagnostic(transparent)]
    Sign(#[source] crate::sign::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Lock(#[from] crate::lock::Error),
    #[error("release cannot build the project's wheels")]
    #[diagnostic(transparent)]
    Tools(#[source] crate::wheel::Error),
    #[error("release step `version --stamp` failed")]
    /// Boxed: on Windows (wider paths) the unboxed error is over clippy's
    /// `result_large_err` limit.
    #[diagnostic(transparent)]
    Stamp(#[source] Box<StampError>),
    #[error("release step `bundle` ({platform}) failed")]
    Bundle {
        platform: Platform,
        #[source]
        #[diagnostic_source]
        source: crate::bundle::Error,
    },
    #[error("release step `installer` failed")]
    #[diagnostic(transparent)]
    Installer(#[source] crate::installer::Error),
    #[error("release step `sign` failed (nothing was built or published)")]
    #[diagnostic(transparent)]
    ManifestKey(#[source] crate::keys::Error),
    #[error("release step `msi` failed")]
    #[diagnostic(transparent)]
    Msi(#[source] crate::msi::Error),
    #[error("release step `deb` failed")]
    #[diagnostic(transparent)]
    Deb(#[source] crate::deb::Error),
    #[error("release step `publish` failed (a re-run reconciles the release: assets are replaced by name)")]
    #[diagnostic(transparent)]
    Publish(#[source] crate::publish::Error),
    #[error("release step `docker` failed (the release itself is published)")]
    #[diagnostic(transparent)]
    Docker(#[source] crate::docker::Error),
}

/// Either side of stamping can fail: finding where to write, or writing.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum StampError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Project(#[from] crate::project::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Version(#[from] crate::version::Error),
}

/// Whether `release` builds the Docker image: an image is configured, or the
/// project has its own Dockerfile (and the image name can be derived).
pub fn docker_configured(plan: &Plan) -> bool {
    plan.config.docker.image.is_some()
        || crate::docker::context_dir(plan)
            .join("Dockerfile")
            .is_file()
}

/// Run the release: check every action, then fetch what they need, then do
/// them in order. `ctx.dry_run` is not handled here: a dry run is
/// [`release_plan`], which changes nothing.
pub fn run(plan: &Plan, ctx: &Context<'_>) -> Result<Released, Error> {
    run_parts(plan, &[], ctx)
}

/// [`run`] for some [`Part`]s of the release (all of it when `parts` is
/// empty): one CI job of a release split across runners.
pub fn run_parts(plan: &Plan, parts: &[Part], ctx: &Context<'_>) -> Result<Released, Error> {
    let todo: Vec<Action> = select(actions(plan, ctx.env), parts)
        .into_iter()
        .filter(|p| p.runs)
        .map(|p| p.action)
        .collect();
    let signs_binaries = todo.iter().any(|a| a.signs(plan));
    let publishes = todo.contains(&Action::Publish);
    let v = &plan.version.version;
    // A target this host cannot build fails before anything is stamped.
    for a in &todo {
        if let Action::Bundles(platforms) = a {
            for &platform in platforms {
                crate::bundle::check_host(&[platform])
                    .map_err(|source| Error::Bundle { platform, source })?;
            }
        }
    }
    ctx.reporter
        .status("Releasing", &format!("{} {}", plan.name, v.tag()));
    // The certificate and its password are checked first: a wrong password
    // fails the release before anything is written, built or published.
    // Each job is given only the secrets of what it does.
    let signer = if signs_binaries {
        crate::sign::Signer::prepare(plan, ctx).map_err(Error::Sign)?
    } else {
        None
    };
    // So is the key that signs manifest.json (when update.public-keys is set).
    let manifest_signer = if publishes {
        crate::keys::Signer::from_env(&plan.config.update, ctx.env)
            .map_err(Error::ManifestKey)?
            .map(std::sync::Arc::new)
    } else {
        None
    };
    // Held for the whole release; bundle and installer re-enter it.
    let _lock = crate::lock::OutDirLock::acquire(&plan.out_dir, ctx.reporter)?;
    recover_stamp(plan, ctx)?;

    // Missing build tools fail before anything is stamped or built.
    for a in &todo {
        match a {
            Action::Bundles(_) => crate::wheel::preflight(plan, ctx).map_err(Error::Tools)?,
            Action::Msi => crate::msi::preflight(plan, ctx).map_err(Error::Msi)?,
            Action::Deb => {
                crate::deb::package_name(plan)
                    .and_then(|_| crate::deb::maintainer(plan))
                    .map_err(Error::Deb)?;
            }
            _ => {}
        }
    }
    // So does a runtime that cannot be had (a download, a pin, a host Python),
    // and a lock that is stale, broken, or (`--locked`) would change.
    for a in &todo {
        if let Action::Bundles(platforms) = a {
            for &platform in platforms {
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
        }
    }

    let mut stamped = Vec::new();
    let mut bundles = Vec::new();
    let (mut installer, mut msi, mut deb, mut published, mut docker) =
        (None, None, None, None, None);
    let windows = plan.bundle_dir(Platform::Windows);
    // The files stamped, put back when a later step fails before the
    // release is published (and when the build is interrupted): a failed
    // release leaves the project as it was. Once published, the stamped
    // version is the one released, and stays.
    let mut undo: Option<Stamping> = None;
    for a in todo {
        let publishes = a == Action::Publish;
        let done = (|| -> Result<(), Error> {
            match a {
                Action::Stamp => {
                    let targets = plan
                        .project
                        .stamp_targets()
                        .map_err(|e| Error::Stamp(Box::new(e.into())))?;
                    let (files, stamping) =
                        Stamping::stamp(targets, v, plan.out_dir.join(STAMP_JOURNAL))
                            .map_err(|e| Error::Stamp(Box::new(e.into())))?;
                    undo = Some(stamping);
                    stamped = files;
                    for s in stamped.iter().filter(|s| s.changed) {
                        ctx.reporter
                            .status("Stamped", &format!("{} ({})", s.path.display(), s.new));
                    }
                }
                Action::Bundles(platforms) => {
                    for platform in platforms {
                        let b = crate::bundle::run_with(
                            plan,
                            platform,
                            &crate::bundle::Prepared::default(),
                            signer.as_ref(),
                            ctx,
                        )
                        .map_err(|source| Error::Bundle { platform, source })?;
                        ctx.reporter.status(
                            "Finished",
                            &format!("{} ({:.1}s)", b.artifact.display(), b.total_seconds()),
                        );
                        bundles.push(b);
                    }
                }
                Action::Installer => {
                    installer = Some(
                        crate::installer::run_with(plan, &windows, signer.as_ref(), ctx)
                            .map_err(Error::Installer)?,
                    );
                }
                Action::Msi => {
                    msi = Some(
                        crate::msi::run_with(plan, &windows, signer.as_ref(), ctx)
                            .map_err(Error::Msi)?,
                    );
                }
                Action::Deb => {
                    deb = Some(
                        crate::deb::run(plan, &plan.bundle_dir(Platform::Linux), ctx)
                            .map_err(Error::Deb)?,
                    );
                }
                Action::Publish => {
                    // publish writes (and signs) manifest.json from what it uploads.
                    let mut opts = crate::publish::Options::from_env(ctx.env);
                    opts.dry_run = false;
                    opts.signer = manifest_signer.clone();
                    published =
                        Some(crate::publish::run(plan, &opts, ctx).map_err(Error::Publish)?);
                }
                Action::Docker => {
                    let opts = crate::docker::Options {
                        push: true,
                        repo_tags: crate::docker::repo_version_tags(&plan.project.config_dir),
                    };
                    docker = Some(crate::docker::run(plan, &opts, ctx).map_err(Error::Docker)?);
                }
            }
            Ok(())
        })();
        match done {
            Err(e) => {
                if let Some(undo) = undo.take() {
                    undo.restore(ctx);
                }
                return Err(e);
            }
            // Published: the stamped version is the released one.
            Ok(()) if publishes => undo.take().into_iter().for_each(Stamping::keep),
            Ok(()) => {}
        }
    }
    // Every step passed: the stamp stays.
    undo.into_iter().for_each(Stamping::keep);

    let manifest = plan
        .artifact(ArtifactKind::Manifest, None)
        .map(|a| a.path.clone())
        .unwrap_or_else(|| plan.out_dir.join("manifest.json"));
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

/// Where a release records what it stamped until the stamp is kept or put
/// back: in the output folder, which the release holds locked.
const STAMP_JOURNAL: &str = ".pyship-stamped.json";

/// Put back what a release that was killed before it could (no interrupt
/// handler runs on SIGKILL or a power cut) left stamped, as its journal
/// records it: a release starts from the project as it was.
fn recover_stamp(plan: &Plan, ctx: &Context<'_>) -> Result<(), Error> {
    let journal = plan.out_dir.join(STAMP_JOURNAL);
    if fs_err::symlink_metadata(&journal).is_err() {
        return Ok(());
    }
    let targets = plan
        .project
        .stamp_targets()
        .map_err(|e| Error::Stamp(Box::new(e.into())))?;
    let recovered = crate::version::stamp::recover(&journal, &targets)
        .map_err(|e| Error::Stamp(Box::new(e.into())))?;
    let Some(done) = recovered else {
        return Ok(());
    };
    for path in &done.restored {
        ctx.reporter.status(
            "Restored",
            &format!(
                "{} (an earlier release was stopped before it could put it back)",
                path.display()
            ),
        );
    }
    for path in &done.left {
        ctx.reporter.warn(&format!(
            "{} was stamped by an earlier release that was stopped, and changed since (or is not a file this project stamps): left as it is",
            crate::error::escaped(path.display())
        ));
    }
    Ok(())
}

/// The files a release stamped, while a later step may still fail: put back
/// by [`Stamping::restore`], or by the interrupt handler if the build is
/// stopped; [`Stamping::keep`] keeps the stamp.
struct Stamping {
    undo: crate::version::stamp::Undo,
    _on_interrupt: crate::process::OnInterrupt,
}

impl Stamping {
    /// Stamp `version` into `targets`, recording what is replaced in
    /// `journal` first; from before the first file is replaced, an interrupt
    /// puts back what the journal records.
    fn stamp(
        targets: Vec<crate::version::stamp::Target>,
        version: &crate::version::Version,
        journal: PathBuf,
    ) -> Result<(Vec<crate::version::stamp::Stamped>, Self), crate::version::Error> {
        let on_interrupt = {
            let (journal, targets) = (journal.clone(), targets.clone());
            crate::process::on_interrupt(move || {
                let _ = crate::version::stamp::recover(&journal, &targets);
            })
        };
        let (files, undo) =
            crate::version::stamp::stamp_undoable(&targets, version, Some(&journal))?;
        Ok((
            files,
            Stamping {
                undo,
                _on_interrupt: on_interrupt,
            },
        ))
    }

    /// The stamp stays: its journal goes.
    fn keep(self) {
        self.undo.keep();
    }

    fn restore(self, ctx: &Context<'_>) {
        match self.undo.restore() {
            Ok(done) => {
                for path in &done.restored {
                    ctx.reporter.status(
                        "Restored",
                        &format!("{} (the release failed)", path.display()),
                    );
                }
                for path in &done.left {
                    ctx.reporter.warn(&format!(
                        "{} changed during the release: left as it is, with or without the stamped version",
                        path.display()
                    ));
                }
            }
            Err(e) => ctx.reporter.warn(&format!(
                "the stamped files could not be put back: {e}; `git diff` shows them"
            )),
        }
    }
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
    /// What the release does, in order ([`actions`]); `steps` is their lines.
    pub actions: Vec<Planned>,
    pub steps: Vec<Step>,
    /// The same actions as CI jobs ([`jobs`]).
    pub jobs: Vec<Job>,
}

/// Describe the release without side effects (reads git tags for the Docker
/// `latest` rule; writes nothing, runs no build tool).
pub fn release_plan<'a>(plan: &'a Plan, env: &Env) -> ReleasePlan<'a> {
    let (server_url, repo) = plan.config.publish.location(env);
    let tags = crate::docker::repo_version_tags(&plan.project.config_dir);
    let docker_opts = crate::docker::Options {
        push: true,
        repo_tags: tags,
    };
    let (docker, docker_skipped) = match crate::docker::plan(plan, &docker_opts, env) {
        Ok(d) => (Some(d), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let builds = plan
        .targets
        .iter()
        .filter_map(|&t| crate::wheel::planned(plan, t).ok())
        .collect();
    let actions = actions(plan, env);
    let steps = actions.iter().flat_map(|a| a.steps.clone()).collect();
    let jobs = jobs(plan, &actions);
    ReleasePlan {
        plan,
        release: Release {
            tag: plan.version.version.tag(),
            prerelease: plan.version.version.is_prerelease(),
            target_commitish: plan.commit.clone(),
            server_url,
            repo,
            assets: asset_order(plan),
        },
        docker,
        signing: crate::sign::plan(plan),
        docker_skipped,
        builds,
        actions,
        steps,
        jobs,
    }
}
