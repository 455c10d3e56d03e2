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

use std::path::PathBuf;

use serde::Serialize;

use crate::context::Context;
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
    #[error("release step `manifest` failed")]
    Manifest(#[source] crate::manifest::Error),
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
            Error::Manifest(e) => e.hint(),
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
/// [`crate::manifest::release_plan`], which changes nothing.
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
    // Held for the whole release; bundle and installer re-enter it.
    let _lock = crate::lock::OutDirLock::acquire(&plan.out_dir, ctx.reporter)?;

    // Missing build tools fail before anything is stamped or built.
    crate::wheel::preflight(plan, ctx).map_err(Error::Tools)?;

    let target = plan
        .project
        .stamp_target()
        .map_err(|e| Error::Stamp(Box::new(e.into())))?;
    let stamped =
        crate::version::stamp::stamp(&target, v).map_err(|e| Error::Stamp(Box::new(e.into())))?;
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

    let (_, manifest) = crate::manifest::write_for(plan, ctx.env).map_err(Error::Manifest)?;
    ctx.reporter
        .status("Wrote", &manifest.display().to_string());

    let mut opts = crate::publish::Options::from_env(ctx.env);
    opts.dry_run = false;
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
        manifest,
        published,
        docker,
    })
}
