//! Stage: the Docker image. Why: a release ships the app as an image too, tagged
//! so that `:latest` never moves backwards and labelled with the OCI version,
//! source and revision, and a CI run without registry access still publishes
//! the rest of the release (a failed `docker login` is a warning: the zip,
//! installer and tarball are still worth publishing).
//!
//! [`plan`] is pure: it says which Dockerfile is used (the project's own, or
//! one rendered from `docker/Dockerfile.j2`), the tags, and the exact command
//! lines ([`CommandLine`]) that [`run`] executes. The token never appears in a
//! command line: `docker login` reads it from stdin (`--password-stdin`).
//!
//! A maturin project's image installs the Linux wheel the bundle built (the
//! wheel stage's `linux` folder, handed to the build as the named context
//! `pyship-wheels`), so the image needs no Rust toolchain and carries the
//! same compiled extension as the tarball.
//!
//! After a push to a Gitea registry, the container package is linked to the
//! repository ([`link_package`], Gitea ≥ 1.24); older servers and Forgejo get
//! a warning with the manual steps.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::strings::image_registry;
use crate::env::{self, Env};
use crate::error::escaped;
use crate::plan::Plan;
use crate::tools;
use crate::Context;

mod dockerfile;
mod image;
mod link;
pub use dockerfile::{
    app_context, context_dir, dockerignore, has_app_wheel, render_dockerfile, write_app_context,
};
use image::host_of;
pub use image::{image_name, is_latest, repo_version_tags};
pub use link::{link_package, manual_link_steps, LinkOutcome, LinkPlan};

/// The named build context holding a maturin project's Linux wheels.
pub const WHEELS_CONTEXT: &str = "pyship-wheels";
/// The named build context holding the updater (`pyship_update` and its
/// config), copied into the image's site-packages so the app imports it
/// there as in a bundle (where it reports `docker` and refuses to apply).
pub const UPDATE_CONTEXT: &str = "pyship-update";

/// The named build context holding a maturin project's own app sources that
/// its wheel does not carry (a package beside `python-source`), laid out as
/// the image gets them: `app/src/...` and `site-packages/_pyship_app.pth`.
pub const APP_CONTEXT: &str = "pyship-app";

/// The rendered default's name among the templates.
pub const TEMPLATE: &str = "docker/Dockerfile.j2";

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("no Docker image is configured")]
    #[diagnostic(help("set `image = \"registry.example.com/owner/app\"` in [{table}.docker], or publish.url and publish.repo (or run in CI, which sets GITHUB_SERVER_URL and GITHUB_REPOSITORY)"))]
    NoImage {
        /// The pyship table in use, for the hint.
        table: &'static str,
    },
    #[error("the image name `{}` ({origin}) is not a Docker image name", escaped(.image))]
    #[diagnostic(help(
        "set `image` in [{table}.docker] to `[registry/]owner/name` in lowercase letters and digits, each part starting and ending with one and joined by `.`, `_` or `-`, without a tag or digest"
    ))]
    BadImage {
        image: String,
        /// Where the name came from.
        origin: &'static str,
        /// The pyship table in use, for the hint.
        table: &'static str,
    },
    #[error("the Docker build context {} does not contain {what} ({})", escaped(.context.display()), escaped(.path.display()))]
    #[diagnostic(help("set `context` in [{table}.docker] to a directory that contains the pyproject and the app sources"))]
    OutsideContext {
        context: PathBuf,
        what: &'static str,
        path: PathBuf,
        /// The pyship table in use, for the hint.
        table: &'static str,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Tool(#[from] tools::Error),
    #[error("`docker info` failed: no Docker engine is reachable\n{stderr}")]
    #[diagnostic(help("start the Docker engine (e.g. `systemctl start docker`) or point DOCKER_HOST at one; the docker CLI alone cannot build images"))]
    NoEngine { stderr: String },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Template(#[from] crate::templates::Error),
    #[error("could not write the Dockerfile {path}")]
    #[diagnostic(help("check that the output directory is writable"))]
    Write {
        path: PathBuf,
        #[source]
        source: crate::fs::Error,
    },
    /// The docker program could not be started.
    #[error(transparent)]
    #[diagnostic(help("check that docker is installed and executable"))]
    NoDocker(crate::process::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Process(crate::process::Error),
    #[error("`{}` failed ({status})", escaped(.command))]
    #[diagnostic(help(
        "read docker's output above; run the printed command by hand to reproduce it"
    ))]
    Failed { command: String, status: String },
    #[error("--push needs the token in ${var}, which is not set")]
    #[diagnostic(help("export {var} with a token that may push to the registry"))]
    NoToken { var: String },
    #[error("linking the container package failed: POST {} answered {status}: {}", escaped(.url), escaped(.message))]
    #[diagnostic(help(
        "check that the token has the write:package scope and belongs to the package owner"
    ))]
    Link {
        url: String,
        status: u16,
        message: String,
    },
    #[error("the token in the publish token variable is not a valid HTTP header value")]
    #[diagnostic(help(
        "check the token variable: it must hold the token only, without line breaks"
    ))]
    BadToken,
    #[error(transparent)]
    #[diagnostic(transparent)]
    Target(#[from] crate::publish::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Net(#[from] crate::net::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Wheel(#[from] crate::wheel::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Update(#[from] crate::update::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    App(#[from] crate::app::Error),
    #[error("could not clear {path}")]
    #[diagnostic(help("check that the output directory is writable"))]
    Clean {
        path: PathBuf,
        #[source]
        source: crate::fs::Error,
    },
}

impl From<crate::process::Error> for Error {
    fn from(e: crate::process::Error) -> Self {
        match e {
            crate::process::Error::Spawn { .. } => Error::NoDocker(e),
            e => Error::Process(e),
        }
    }
}

/// What the caller chose.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Log in and push every tag (then link the package on Gitea).
    pub push: bool,
    /// The repository's version tags (`git tag --list 'v*'`), for the `latest` rule.
    pub repo_tags: Vec<String>,
}

/// One command the stage runs: program, arguments, and what is piped to its
/// stdin (a description, never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandLine {
    pub program: String,
    pub args: Vec<String>,
    /// `Some(var)`: the value of environment variable `var` is written to stdin.
    pub stdin_from_env: Option<String>,
}

impl CommandLine {
    fn new(program: &str, args: Vec<String>) -> Self {
        Self {
            program: program.to_owned(),
            args,
            stdin_from_env: None,
        }
    }
}

impl fmt::Display for CommandLine {
    /// A POSIX shell line that does the same (`printf '%s' "$VAR" | docker login ...`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(var) = &self.stdin_from_env {
            write!(f, "printf '%s' \"${var}\" | ")?;
        }
        f.write_str(&shell_word(&self.program))?;
        for a in &self.args {
            write!(f, " {}", shell_word(a))?;
        }
        Ok(())
    }
}

/// A word quoted only when the shell needs it.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'_' | b'.' | b'/' | b':' | b'=' | b'@' | b',' | b'+'
                )
        });
    if plain {
        s.to_owned()
    } else {
        // Only a NUL (which no argument holds) has no shell spelling.
        crate::templates::escape::sh(s).unwrap_or_else(|_| format!("{s:?}"))
    }
}

/// Everything the Docker step will do.
#[derive(Debug, Clone, Serialize)]
pub struct DockerPlan {
    pub image: String,
    /// Full references (`image:tag`), `latest` last when present.
    pub tags: Vec<String>,
    pub latest: bool,
    /// The registry host `docker login` talks to (`None`: Docker Hub).
    pub registry: Option<String>,
    pub context: PathBuf,
    pub dockerfile: PathBuf,
    /// `true`: rendered from the template into the work dir (the project has none).
    pub dockerfile_generated: bool,
    /// `{dockerfile}.dockerignore`, written next to a generated Dockerfile when
    /// the context has no `.dockerignore` (BuildKit reads it in that place):
    /// keeps Rust's `target/` and the output directory out of the context.
    pub dockerignore: Option<PathBuf>,
    /// A maturin project: the folder of its built Linux wheels, passed to the
    /// build as the named context [`WHEELS_CONTEXT`].
    pub wheels: Option<PathBuf>,
    /// The updater's folder, passed as the named context [`UPDATE_CONTEXT`]
    /// (`None`: `update.enabled = false`).
    pub update: Option<PathBuf>,
    /// A maturin project's app sources beside what its wheel carries, passed
    /// as the named context [`APP_CONTEXT`] (see [`app_context`]).
    pub app: Option<PathBuf>,
    pub build_args: Vec<(String, String)>,
    pub labels: Vec<(String, String)>,
    pub commands: Vec<CommandLine>,
    pub link: Option<LinkPlan>,
}

/// What [`run`] did.
#[derive(Debug, Clone, Serialize)]
pub struct Output {
    pub image: String,
    pub tags: Vec<String>,
    pub built: bool,
    pub pushed: bool,
    /// Why the step was skipped (a failed login).
    pub skipped: Option<String>,
    pub link: Option<LinkOutcome>,
}

/// What the Docker step will do, without doing it.
pub fn plan(plan: &Plan, opts: &Options, env: &Env) -> Result<DockerPlan, Error> {
    let image = image_name(plan, env)?;
    let v = &plan.version.version;
    let latest = is_latest(v, &opts.repo_tags);
    let mut tags = vec![
        format!("{image}:v{}", v.docker()),
        format!("{image}:{}", v.docker()),
    ];
    if latest {
        tags.push(format!("{image}:latest"));
    }
    let context = context_dir(plan);
    let own = context.join("Dockerfile");
    let (dockerfile, dockerfile_generated) = if own.is_file() {
        (own, false)
    } else {
        (plan.work_dir.join("docker").join("Dockerfile"), true)
    };
    let dockerignore =
        (dockerfile_generated && !context.join(".dockerignore").exists()).then(|| {
            let mut p = dockerfile.clone().into_os_string();
            p.push(".dockerignore");
            PathBuf::from(p)
        });
    let (url, repo) = plan.config.publish.location(env);
    let mut labels = vec![("org.opencontainers.image.version".to_owned(), v.semver())];
    if let (Some(u), Some(r)) = (&url, &repo) {
        labels.push(("org.opencontainers.image.source".into(), format!("{u}/{r}")));
    }
    if let Some(c) = &plan.commit {
        labels.push(("org.opencontainers.image.revision".into(), c.clone()));
    }
    let build_args = vec![("APP_VERSION".to_owned(), v.pep440())];
    let registry = image_registry(&image);
    let wheels = if plan.pyproject().is_maturin() {
        Some(crate::wheel::planned(plan, crate::platform::Platform::Linux)?.out_dir)
    } else {
        None
    };
    let update = plan
        .update
        .is_some()
        .then(|| plan.work_dir.join("docker").join("update"));
    let app = app_context(plan);
    let mut commands = Vec::new();
    if opts.push {
        let user = env
            .get(env::GITHUB_ACTOR)
            .map(str::to_owned)
            .or_else(|| {
                repo.as_ref()
                    .and_then(|r| r.split('/').next().map(str::to_owned))
            })
            .unwrap_or_else(|| "pyship".into());
        let mut args = vec!["login".to_owned()];
        args.extend(registry.clone());
        args.extend(["--username".to_owned(), user, "--password-stdin".to_owned()]);
        let mut login = CommandLine::new("docker", args);
        login.stdin_from_env = Some(plan.config.publish.token_env.clone());
        commands.push(login);
    }
    let mut args = vec![
        "build".to_owned(),
        "--file".to_owned(),
        dockerfile.display().to_string(),
    ];
    for (k, val) in &build_args {
        args.extend(["--build-arg".to_owned(), format!("{k}={val}")]);
    }
    for (k, val) in &labels {
        args.extend(["--label".to_owned(), format!("{k}={val}")]);
    }
    for t in &tags {
        args.extend(["--tag".to_owned(), t.clone()]);
    }
    if let Some(w) = &wheels {
        args.extend([
            "--build-context".to_owned(),
            format!("{WHEELS_CONTEXT}={}", w.display()),
        ]);
    }
    if let Some(u) = &update {
        args.extend([
            "--build-context".to_owned(),
            format!("{UPDATE_CONTEXT}={}", u.display()),
        ]);
    }
    if let Some(a) = &app {
        args.extend([
            "--build-context".to_owned(),
            format!("{APP_CONTEXT}={}", a.display()),
        ]);
    }
    args.push(context.display().to_string());
    commands.push(CommandLine::new("docker", args));
    if opts.push {
        for t in &tags {
            commands.push(CommandLine::new("docker", vec!["push".into(), t.clone()]));
        }
    }
    // Only Gitea (and Forgejo, which answers 404 and gets the manual steps) keep
    // container packages apart from repositories; only when the image is in the
    // release server's own registry is there a package to link.
    let forge = plan.config.publish.provider != crate::config::Provider::Github;
    let link = match (opts.push && forge, &url, &repo, &registry) {
        (true, Some(u), Some(r), Some(reg)) if host_of(u).eq_ignore_ascii_case(reg) => {
            // `host/owner/name...`: Gitea's package name is the path after the owner.
            let path = image.split_once('/').map(|(_, p)| p).unwrap_or(&image);
            path.split_once('/').and_then(|(owner, package)| {
                let repo_name = r.split_once('/').map(|(_, n)| n)?;
                Some(LinkPlan {
                    url: u.clone(),
                    owner: owner.to_owned(),
                    package: package.to_owned(),
                    repo: repo_name.to_owned(),
                })
            })
        }
        _ => None,
    };
    Ok(DockerPlan {
        image,
        tags,
        latest,
        registry,
        context,
        dockerfile,
        dockerfile_generated,
        dockerignore,
        wheels,
        update,
        app,
        build_args,
        labels,
        commands,
        link,
    })
}

/// The command lines [`run`] would execute, in order.
pub fn plan_commands(plan_: &Plan, opts: &Options, env: &Env) -> Result<Vec<CommandLine>, Error> {
    Ok(plan(plan_, opts, env)?.commands)
}

/// Check that docker is installed and its engine answers.
pub fn check_engine(env: &Env) -> Result<PathBuf, Error> {
    let docker = tools::DOCKER.find(env)?;
    let mut cmd = crate::process::Command::new(&docker);
    cmd.args(["info", "--format", "{{.ServerVersion}}"])
        .timeout(crate::process::QUICK);
    let out = cmd.output()?;
    if !out.success() {
        return Err(Error::NoEngine {
            stderr: out.stderr.trim().to_owned(),
        });
    }
    Ok(docker)
}

/// Build (and with `opts.push`, log in, push and link) the image.
pub fn run(plan_: &Plan, opts: &Options, ctx: &Context<'_>) -> Result<Output, Error> {
    let dp = plan(plan_, opts, ctx.env)?;
    let mut output = Output {
        image: dp.image.clone(),
        tags: dp.tags.clone(),
        built: false,
        pushed: false,
        skipped: None,
        link: None,
    };
    let docker = check_engine(ctx.env)?;
    if let Some(dir) = &dp.wheels {
        // `release` built it with the Linux bundle; `docker` alone builds it
        // (from the wheel cache when the inputs did not change).
        if !has_app_wheel(plan_, dir) {
            crate::wheel::run(plan_, crate::platform::Platform::Linux, ctx)?;
        }
    }
    if let Some(dir) = &dp.app {
        write_app_context(plan_, dir, ctx)?;
    }
    if let Some(dir) = &dp.update {
        // The folder stands for site-packages; the config's bundle root is
        // that folder itself, which holds no `app/` or `python/`, so the
        // updater in the image says `docker`.
        crate::fs::remove_dir_if_exists(dir, &plan_.write_roots(&ctx.cache)).map_err(|source| {
            Error::Clean {
                path: dir.clone(),
                source,
            }
        })?;
        crate::update::run(plan_, crate::platform::Platform::Linux, dir, dir, ctx)?;
    }
    if dp.dockerfile_generated {
        let text = render_dockerfile(plan_)?;
        crate::fs::atomic_write_creating_dir(&dp.dockerfile, text.as_bytes()).map_err(
            |source| Error::Write {
                path: dp.dockerfile.clone(),
                source,
            },
        )?;
        ctx.reporter
            .status("Rendered", &dp.dockerfile.display().to_string());
    }
    if let Some(ignore) = &dp.dockerignore {
        crate::fs::atomic_write(ignore, dockerignore(plan_, &dp.context).as_bytes()).map_err(
            |source| Error::Write {
                path: ignore.clone(),
                source,
            },
        )?;
    }
    for cmd in &dp.commands {
        let is_login = cmd.args.first().is_some_and(|a| a == "login");
        let verb = match cmd.args.first().map(String::as_str) {
            Some("login") => "Logging in",
            Some("build") => "Building",
            Some("push") => "Pushing",
            _ => "Running",
        };
        ctx.reporter.status(
            verb,
            &match cmd.args.first().map(String::as_str) {
                Some("login") => dp.registry.clone().unwrap_or_else(|| "Docker Hub".into()),
                Some("build") => dp.tags.join(", "),
                _ => cmd.args.last().cloned().unwrap_or_default(),
            },
        );
        ctx.reporter.debug(&escaped(cmd).to_string());
        let result = execute(&docker, cmd, ctx.env);
        match result {
            Err(e) if is_login => {
                // A failed login skips the image only: the rest of the release still ships.
                let why = format!("docker login failed, the image step is skipped: {e}");
                ctx.reporter.warn(&why);
                output.skipped = Some(why);
                return Ok(output);
            }
            Err(e) => return Err(e),
            Ok(()) => {}
        }
        match cmd.args.first().map(String::as_str) {
            Some("build") => output.built = true,
            Some("push") => output.pushed = true,
            _ => {}
        }
    }
    if let Some(link) = &dp.link {
        // The image is pushed; a link the server refuses (e.g. a token without
        // write:package) must not fail the release: warn with the manual steps.
        let linked = crate::publish::Target::resolve(
            &plan_.config.publish,
            ctx.env,
            &plan_.project.config_source,
        )
        .map_err(Error::from)
        .and_then(|t| link_package(ctx, link, &t.token));
        output.link = match linked {
            Ok(o) => Some(o),
            Err(e) => {
                ctx.reporter
                    .warn(&format!("{e}; {}", manual_link_steps(link)));
                None
            }
        };
    }
    Ok(output)
}

fn execute(docker: &Path, cmd: &CommandLine, env: &Env) -> Result<(), Error> {
    let shown = cmd.to_string();
    let mut c = crate::process::Command::new(docker);
    c.args(&cmd.args)
        .inherit_output()
        .timeout(crate::process::BUILD);
    if let Some(var) = &cmd.stdin_from_env {
        let token = env
            .get(var)
            .ok_or_else(|| Error::NoToken { var: var.clone() })?;
        c.secret(token).stdin(token);
    }
    let out = c.output()?;
    if !out.success() {
        return Err(Error::Failed {
            command: shown,
            status: out.status.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::Version;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }
    fn tags(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn latest_only_for_newest_stable() {
        let repo = tags(&["v1.0.0", "v1.1.0", "v1.2.0-rc.1", "v1.0.1", "nightly"]);
        assert!(is_latest(&v("1.1.0"), &repo));
        assert!(is_latest(&v("1.2.0"), &repo));
        assert!(!is_latest(&v("1.2.0-rc.1"), &repo), "prerelease");
        assert!(
            !is_latest(&v("1.0.1"), &repo),
            "backport must not move latest"
        );
        assert!(is_latest(&v("0.1.0"), &[]), "first release");
    }

    #[test]
    fn host_of_strips_scheme_path_and_credentials() {
        assert_eq!(host_of("https://git.example.com/sub/"), "git.example.com");
        assert_eq!(host_of("http://127.0.0.1:3000"), "127.0.0.1:3000");
        assert_eq!(host_of("https://u@h.example"), "h.example");
    }

    #[test]
    fn command_line_never_shows_the_token() {
        let mut c = CommandLine::new(
            "docker",
            vec![
                "login".into(),
                "r.example".into(),
                "--password-stdin".into(),
            ],
        );
        c.stdin_from_env = Some("DEPLOY_TOKEN".into());
        assert_eq!(
            c.to_string(),
            "printf '%s' \"$DEPLOY_TOKEN\" | docker login r.example --password-stdin"
        );
    }
}
