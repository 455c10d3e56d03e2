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

/// One thing `release` does. [`actions`] lists them in order; `release`
/// (this module's [`run`]), `release --dry-run` and `cargo pyship plan` all
/// walk that one list, so what the plan shows is what the run does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Stamp the version into the project's files.
    Stamp,
    /// Build each target's wheels and bundle (with its license file and SBOM).
    Bundles(Vec<Platform>),
    /// The NSIS installer from the Windows bundle.
    Installer,
    /// The MSI from the Windows bundle (`windows.msi`).
    Msi,
    /// The .deb from the Linux bundle (`linux.deb`).
    Deb,
    /// Write (and sign) manifest.json and SHA256SUMS, upload every asset.
    Publish,
    /// Build and push the Docker image.
    Docker,
}

/// An [`Action`] with what the plan shows for it.
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    pub action: Action,
    /// Whether the run does it. A step can show `runs: false` (it cannot be
    /// planned, e.g. no stamp target) while its action still runs: the run
    /// then fails with the cause rather than skip it.
    pub runs: bool,
    /// What `plan` prints for it, one line each (in the plan's `steps`).
    #[serde(skip)]
    pub steps: Vec<Step>,
}

/// One CI job's share of the release (`release --only`): the builds of one
/// target (its bundle, and the installer, MSI or .deb made from it), the
/// publish (manifest.json, SHA256SUMS and every asset, from the artifacts
/// already in the output folder), or the Docker image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Part {
    Target(Platform),
    Publish,
    Docker,
}

impl std::str::FromStr for Part {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "publish" => Ok(Part::Publish),
            "docker" => Ok(Part::Docker),
            other => other.parse().map(Part::Target).map_err(|_| {
                format!("unknown part `{other}` (expected windows, linux, publish or docker)")
            }),
        }
    }
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Part::Target(p) => f.write_str(p.key()),
            Part::Publish => f.write_str("publish"),
            Part::Docker => f.write_str("docker"),
        }
    }
}

/// One CI job of the release split across runners: `release --only
/// {name}`, its share of [`actions`] (the list `release` walks, cut by
/// [`select`]). The installer and the MSI are in the Windows job and the
/// .deb in the Linux job: each is made from its target's unpacked bundle
/// folder, which stays on that runner.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    /// The job's name and its `--only` value: a target, `publish` or `docker`.
    pub name: String,
    /// The command the job runs (in the project's folder).
    pub run: String,
    /// The jobs that must finish first; the publish job needs their
    /// artifacts, the Docker job runs after the release is published.
    pub needs: Vec<String>,
    /// What it does, in the order `release` does it.
    pub actions: Vec<Action>,
    /// The files it leaves in the output folder (`--out`, default `dist/`),
    /// the job's artifact folder: a build job's are what the publish job
    /// needs in its own output folder.
    pub artifacts: Vec<String>,
    /// The secrets its actions read, and no others: the code-signing
    /// certificate's only where Windows files are signed, the update key
    /// and the deploy token only where they publish.
    pub secrets: Vec<Secret>,
}

/// A secret a job reads from its environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Secret {
    /// The environment variable (and CI secret) holding it.
    pub env: String,
    /// The config key that names the variable.
    pub key: &'static str,
}

/// The secrets `actions` read (in the order the release reads them).
fn secrets(plan: &Plan, actions: &[Action]) -> Vec<Secret> {
    let mut out = Vec::new();
    let mut add = |env: &str, key: &'static str| {
        if !out.iter().any(|s: &Secret| s.env == env) {
            out.push(Secret {
                env: env.to_owned(),
                key,
            });
        }
    };
    if actions.iter().any(|a| a.signs(plan)) {
        if let Some(sign) = &plan.config.windows.sign {
            if let crate::config::CertSource::Pkcs12Env(var) = &sign.certificate {
                add(var, "windows.sign.pkcs12-env");
            }
            if let Some(var) = &sign.password_env {
                add(var, "windows.sign.password-env");
            }
        }
    }
    if actions.contains(&Action::Publish) && !plan.config.update.public_keys.is_empty() {
        add(
            &plan.config.update.signing_key_env,
            "update.signing-key-env",
        );
        add(
            &plan.config.update.signing_password_env,
            "update.signing-password-env",
        );
    }
    if actions
        .iter()
        .any(|a| matches!(a, Action::Publish | Action::Docker))
    {
        add(&plan.config.publish.token_env, "publish.token-env");
    }
    out
}

/// The release's CI jobs over `all` (the plan's [`actions`]): one per
/// target, publish (which needs every target job's artifacts), then the
/// Docker image when one is configured.
pub fn jobs(plan: &Plan, all: &[Planned]) -> Vec<Job> {
    let mut parts: Vec<Part> = plan.targets.iter().map(|&t| Part::Target(t)).collect();
    parts.push(Part::Publish);
    if all.iter().any(|p| p.action == Action::Docker && p.runs) {
        parts.push(Part::Docker);
    }
    let builds: Vec<String> = plan.targets.iter().map(|t| t.key().to_owned()).collect();
    parts
        .into_iter()
        .map(|part| {
            let actions: Vec<Action> = select(all.to_vec(), &[part])
                .into_iter()
                .filter(|p| p.runs)
                .map(|p| p.action)
                .collect();
            let artifacts = plan
                .artifacts
                .iter()
                .filter(|a| actions.iter().any(|act| act.makes(a)))
                .map(|a| a.file_name.clone())
                .collect();
            Job {
                name: part.to_string(),
                run: format!("cargo pyship release --only {part}"),
                needs: match part {
                    Part::Target(_) => Vec::new(),
                    Part::Publish => builds.clone(),
                    Part::Docker => vec![Part::Publish.to_string()],
                },
                secrets: secrets(plan, &actions),
                actions,
                artifacts,
            }
        })
        .collect()
}

impl Action {
    /// Whether this action signs files with the code-signing certificate
    /// (`windows.sign`): the installer, the MSI, and the Windows bundle when
    /// `sign-binaries` is on.
    pub fn signs(&self, plan: &Plan) -> bool {
        plan.config.windows.sign.is_some()
            && match self {
                Action::Bundles(platforms) => platforms
                    .iter()
                    .any(|&p| crate::bundle::signs_binaries(plan, p)),
                Action::Installer | Action::Msi => true,
                _ => false,
            }
    }

    /// Whether this action writes `artifact`.
    fn makes(&self, artifact: &crate::plan::Artifact) -> bool {
        use ArtifactKind as K;
        match self {
            Action::Bundles(platforms) => {
                matches!(artifact.kind, K::Bundle | K::Sbom)
                    && artifact.platform.is_some_and(|p| platforms.contains(&p))
            }
            Action::Installer => artifact.kind == K::Installer,
            Action::Msi => artifact.kind == K::Msi,
            Action::Deb => artifact.kind == K::Deb,
            Action::Publish => matches!(artifact.kind, K::Manifest | K::Signature | K::Checksums),
            Action::Stamp | Action::Docker => false,
        }
    }
}

/// The actions of `parts` (every action when `parts` is empty). A job that
/// builds anything stamps the version first: every artifact is built from
/// the stamped sources, in whichever job.
pub fn select(actions: Vec<Planned>, parts: &[Part]) -> Vec<Planned> {
    if parts.is_empty() {
        return actions;
    }
    let has = |p: Platform| parts.contains(&Part::Target(p));
    let builds = parts
        .iter()
        .any(|p| matches!(p, Part::Target(_) | Part::Docker));
    actions
        .into_iter()
        .filter_map(|mut p| {
            let keep = match &mut p.action {
                Action::Stamp => builds,
                Action::Bundles(platforms) => {
                    platforms.retain(|&t| has(t));
                    !platforms.is_empty()
                }
                Action::Installer | Action::Msi => has(Platform::Windows),
                Action::Deb => has(Platform::Linux),
                Action::Publish => parts.contains(&Part::Publish),
                Action::Docker => parts.contains(&Part::Docker),
            };
            keep.then_some(p)
        })
        .collect()
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
    for a in todo {
        match a {
            Action::Stamp => {
                let targets = plan
                    .project
                    .stamp_targets()
                    .map_err(|e| Error::Stamp(Box::new(e.into())))?;
                stamped = crate::version::stamp::stamp(&targets, v)
                    .map_err(|e| Error::Stamp(Box::new(e.into())))?;
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
                published = Some(crate::publish::run(plan, &opts, ctx).map_err(Error::Publish)?);
            }
            Action::Docker => {
                let opts = crate::docker::Options {
                    push: true,
                    repo_tags: crate::docker::repo_version_tags(&plan.project.config_dir),
                };
                docker = Some(crate::docker::run(plan, &opts, ctx).map_err(Error::Docker)?);
            }
        }
    }

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
    /// What the release does, in order ([`actions`]); `steps` is their lines.
    pub actions: Vec<Planned>,
    pub steps: Vec<Step>,
    /// The same actions as CI jobs ([`jobs`]).
    pub jobs: Vec<Job>,
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

/// Asset names in upload order (`SHA256SUMS` last).
fn asset_order(plan: &Plan) -> Vec<String> {
    let (sums, mut assets): (Vec<_>, Vec<_>) = plan
        .artifacts
        .iter()
        .partition(|a| a.kind == ArtifactKind::Checksums);
    assets.extend(sums);
    assets.into_iter().map(|a| a.file_name.clone()).collect()
}

/// The release's actions in order, each with what the plan shows for it
/// (reads git tags for the Docker `latest` rule; no side effects).
pub fn actions(plan: &Plan, env: &Env) -> Vec<Planned> {
    let (server_url, repo) = plan.config.publish.location(env);
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
    let planned = |action, runs, steps| Planned {
        action,
        runs,
        steps,
    };
    let mut out = Vec::new();

    out.push(planned(
        Action::Stamp,
        true,
        vec![match plan.project.stamp_targets() {
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
        }],
    ));

    let mut bundle_steps = Vec::new();
    for &t in &plan.targets {
        match crate::wheel::planned(plan, t) {
            Ok(b) => {
                if let Some(cmd) = &b.prebuild {
                    bundle_steps.push(step(
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
                    bundle_steps.push(step(
                        "wheel",
                        true,
                        format!(
                            "{t}: maturin {} in {} (cached by its inputs)",
                            m.args.join(" "),
                            m.project_dir.display()
                        ),
                    ));
                }
            }
            Err(e) => bundle_steps.push(step("wheel", false, format!("{t}: {e}"))),
        }
    }
    bundle_steps.push(step(
        "bundle",
        true,
        format!(
            "build {}{} (each with THIRD-PARTY-LICENSES.txt{}), and their SBOMs {}",
            names(ArtifactKind::Bundle),
            tkinter_note(plan, env),
            if plan
                .config
                .windows
                .sign
                .as_ref()
                .is_some_and(|s| s.sign_binaries)
            {
                "; the project's own Windows binaries signed"
            } else {
                ""
            },
            names(ArtifactKind::Sbom)
        ),
    ));
    out.push(planned(
        Action::Bundles(plan.targets.clone()),
        true,
        bundle_steps,
    ));

    let installer = names(ArtifactKind::Installer);
    out.push(planned(
        Action::Installer,
        !installer.is_empty(),
        vec![step(
            "installer",
            !installer.is_empty(),
            if installer.is_empty() {
                "no Windows target, or windows.installer = false".into()
            } else if plan.config.windows.sign.is_some() {
                format!("build {installer} with makensis, sign it and its uninstaller with osslsigncode, verify both")
            } else {
                format!("build {installer} with makensis")
            },
        )],
    ));

    // The packages' actions are listed when they run (each is opt-in).
    let msi = names(ArtifactKind::Msi);
    if !msi.is_empty() {
        out.push(planned(
            Action::Msi,
            true,
            vec![step(
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
            )],
        ));
    }
    let deb = names(ArtifactKind::Deb);
    if !deb.is_empty() {
        out.push(planned(
            Action::Deb,
            true,
            vec![step(
                "deb",
                true,
                format!("build {deb} (the Linux bundle under /opt, the systemd unit, Depends from its ELF files)"),
            )],
        ));
    }

    out.push(planned(
        Action::Publish,
        true,
        vec![
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
                    asset_order(plan).len()
                ),
            ),
        ],
    ));

    // The run builds the image whenever one is configured (a plan that cannot
    // name its tags then fails the run with the cause); the plan says why not.
    let configured = docker_configured(plan);
    let docker_step = match crate::docker::plan(
        plan,
        &crate::docker::Options {
            push: true,
            repo_tags: crate::docker::repo_version_tags(&plan.project.config_dir),
        },
        env,
    ) {
        Ok(d) if configured => step(
            "docker",
            true,
            format!("build and push {}", d.tags.join(", ")),
        ),
        Ok(_) => step(
            "docker",
            false,
            format!(
                "no image configured (`image` in [{}.docker]) and no Dockerfile",
                plan.project.config_source.table.key()
            ),
        ),
        Err(e) => step("docker", false, e.to_string()),
    };
    out.push(planned(Action::Docker, configured, vec![docker_step]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Planned> {
        [
            Action::Stamp,
            Action::Bundles(vec![Platform::Windows, Platform::Linux]),
            Action::Installer,
            Action::Msi,
            Action::Deb,
            Action::Publish,
            Action::Docker,
        ]
        .into_iter()
        .map(|action| Planned {
            action,
            runs: true,
            steps: Vec::new(),
        })
        .collect()
    }

    fn only(parts: &[&str]) -> Vec<Action> {
        let parts: Vec<Part> = parts.iter().map(|p| p.parse().unwrap()).collect();
        select(all(), &parts)
            .into_iter()
            .map(|p| p.action)
            .collect()
    }

    #[test]
    fn each_part_selects_its_share_of_the_one_list() {
        assert_eq!(
            only(&[]),
            all().into_iter().map(|p| p.action).collect::<Vec<_>>()
        );
        assert_eq!(
            only(&["windows"]),
            [
                Action::Stamp,
                Action::Bundles(vec![Platform::Windows]),
                Action::Installer,
                Action::Msi
            ]
        );
        assert_eq!(
            only(&["linux"]),
            [
                Action::Stamp,
                Action::Bundles(vec![Platform::Linux]),
                Action::Deb
            ]
        );
        // The publish job builds nothing, so it stamps nothing either.
        assert_eq!(only(&["publish"]), [Action::Publish]);
        assert_eq!(only(&["docker"]), [Action::Stamp, Action::Docker]);
        assert_eq!(
            only(&["linux", "publish"]),
            [
                Action::Stamp,
                Action::Bundles(vec![Platform::Linux]),
                Action::Deb,
                Action::Publish
            ]
        );
        assert!("macos"
            .parse::<Part>()
            .unwrap_err()
            .contains("expected windows, linux, publish or docker"));
    }

    /// The CI jobs are the one action list cut by part: each target's job
    /// leaves its bundle and SBOM (and the installer, from the Windows
    /// bundle), publish needs both and leaves manifest.json and SHA256SUMS;
    /// every artifact of the plan is left by exactly one job.
    #[test]
    fn the_jobs_cut_the_one_action_list_and_leave_every_artifact_once() {
        let mut plan = crate::plan::tests_support::hello_plan();
        plan.config.docker.image = None;
        let env = Env::from_pairs(Vec::<(String, String)>::new());
        let all = actions(&plan, &env);
        let jobs = jobs(&plan, &all);
        let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
        assert!(
            names.starts_with(&["windows", "linux", "publish"]),
            "{names:?}"
        );
        let job = |n: &str| jobs.iter().find(|j| j.name == n).unwrap();
        let windows = job("windows");
        assert_eq!(windows.run, "cargo pyship release --only windows");
        assert!(windows.needs.is_empty());
        assert_eq!(
            windows.actions[..3],
            [
                Action::Stamp,
                Action::Bundles(vec![Platform::Windows]),
                Action::Installer
            ]
        );
        let has = |j: &Job, end: &str| j.artifacts.iter().any(|a| a.ends_with(end));
        assert!(has(windows, "-win-x64.zip") && has(windows, "-win-x64.cdx.json"));
        assert!(has(windows, "-setup.exe") && !has(windows, ".tar.gz"));
        let linux = job("linux");
        assert!(has(linux, "-linux-x64.tar.gz") && !has(linux, ".zip"));
        let publish = job("publish");
        assert_eq!(publish.needs, ["windows", "linux"]);
        assert_eq!(publish.actions, [Action::Publish]);
        assert!(has(publish, "manifest.json") && has(publish, "SHA256SUMS"));
        let mut left: Vec<&String> = jobs.iter().flat_map(|j| &j.artifacts).collect();
        left.sort();
        let mut want: Vec<&String> = plan.artifacts.iter().map(|a| &a.file_name).collect();
        want.sort();
        assert_eq!(left, want);
        // Walking the jobs in order does what one release does.
        let walked: Vec<Action> = jobs.iter().flat_map(|j| j.actions.clone()).collect();
        for a in all.iter().filter(|p| p.runs).map(|p| &p.action) {
            if let Action::Bundles(ts) = a {
                for t in ts {
                    assert!(walked.contains(&Action::Bundles(vec![*t])));
                }
            } else {
                assert!(walked.contains(a), "{a:?} is in no job");
            }
        }
        if let Some(d) = jobs.iter().find(|j| j.name == "docker") {
            assert_eq!(d.needs, ["publish"]);
        }
    }
}
