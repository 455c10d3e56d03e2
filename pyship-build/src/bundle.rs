//! The bundle pipeline, shared by every platform (the platform is data):
//! prebuild → [`python`](crate::python) → [`deps`](crate::deps) →
//! [`app`](crate::app) → strip → [`render`](crate::render) →
//! [`archive`](crate::archive).
//!
//! Why one orchestrator: each stage stays small and testable on its own, and
//! the order, the tree layout (`{out}/.pyship/{platform}/{name}/` with
//! `python/`, `app/src/`, `scripts/`) and the timings live in one place. The
//! tree is rebuilt from scratch on every run (stale files never survive); the
//! download caches are reused.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use serde::Serialize;

use crate::context::Context;
use crate::error::Hint;
use crate::plan::Plan;
use crate::platform::Platform;

/// Time spent in one stage.
#[derive(Debug, Clone, Serialize)]
pub struct StageTime {
    pub stage: &'static str,
    pub seconds: f64,
}

/// A finished bundle.
#[derive(Debug, Clone, Serialize)]
pub struct Bundled {
    pub platform: Platform,
    /// The archive (`{name}-{tag}-win-x64.zip` / `-linux-x64.tar.gz`).
    pub artifact: PathBuf,
    pub size: u64,
    pub sha256: String,
    /// Third-party packages installed (dist-info count, the app's own excluded).
    pub packages: usize,
    /// The unpacked tree the archive was made from.
    pub tree: PathBuf,
    pub stages: Vec<StageTime>,
}

impl Bundled {
    pub fn total_seconds(&self) -> f64 {
        self.stages.iter().map(|s| s.seconds).sum()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("prebuild command `{command}` failed ({status}):\n{output}")]
    Prebuild {
        command: String,
        status: String,
        output: String,
    },
    #[error("could not run the prebuild command `{command}`")]
    PrebuildSpawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("could not clear the old bundle tree {path}")]
    Clear {
        path: PathBuf,
        #[source]
        source: crate::fs::Error,
    },
    #[error(transparent)]
    Python(#[from] crate::python::Error),
    #[error(transparent)]
    Deps(#[from] crate::deps::Error),
    #[error(transparent)]
    App(#[from] crate::app::Error),
    #[error(transparent)]
    Render(#[from] crate::render::Error),
    #[error(transparent)]
    Archive(#[from] crate::archive::Error),
}

impl Hint for Error {
    fn hint(&self) -> Option<String> {
        match self {
            Error::Prebuild { .. } | Error::PrebuildSpawn { .. } => Some(
                "fix the command (its output is above) or `prebuild` in [package.metadata.pyship]"
                    .into(),
            ),
            Error::Clear { .. } => {
                Some("close programs using files in the output directory".into())
            }
            Error::Python(e) => e.hint(),
            Error::Deps(e) => e.hint(),
            Error::App(e) => e.hint(),
            Error::Render(e) => e.hint(),
            Error::Archive(e) => e.hint(),
        }
    }
}

/// Run the configured `prebuild` command (`sh -c`) in the manifest directory.
pub fn prebuild(plan: &Plan, ctx: &Context<'_>) -> Result<(), Error> {
    let Some(command) = &plan.config.prebuild else {
        return Ok(());
    };
    ctx.reporter
        .status("Running", &format!("prebuild `{command}`"));
    let out = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(&plan.project.root)
        .output()
        .map_err(|source| Error::PrebuildSpawn {
            command: command.clone(),
            source,
        })?;
    let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
    output.push_str(&String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        return Err(Error::Prebuild {
            command: command.clone(),
            status: out.status.to_string(),
            output: output.trim_end().to_owned(),
        });
    }
    if !output.trim().is_empty() {
        ctx.reporter.debug(output.trim_end());
    }
    Ok(())
}

/// Build the bundle of `platform`: the tree, then its archive.
pub fn run(plan: &Plan, platform: Platform, ctx: &Context<'_>) -> Result<Bundled, Error> {
    let mut stages = Vec::new();
    let mut timed = |stage: &'static str, start: Instant| {
        stages.push(StageTime {
            stage,
            seconds: start.elapsed().as_secs_f64(),
        })
    };

    let t = Instant::now();
    prebuild(plan, ctx)?;
    timed("prebuild", t);

    let tree = plan.bundle_dir(platform);
    crate::fs::remove_dir_if_exists(&tree).map_err(|source| Error::Clear {
        path: tree.clone(),
        source,
    })?;

    let t = Instant::now();
    let runtime = crate::python::run(plan, platform, &tree.join("python"), ctx)?;
    timed("python", t);

    let t = Instant::now();
    let installed = crate::deps::run(plan, platform, &runtime.site_packages, ctx)?;
    timed("deps", t);

    let t = Instant::now();
    crate::app::run(plan, &tree, &runtime.site_packages, ctx)?;
    timed("app", t);

    // STRIP-STAGE: wired at merge
    // (`strip::run(&strip::Options, &runtime.site_packages, platform, ctx)`, timed as "strip").

    let t = Instant::now();
    crate::render::run(plan, platform, &tree, ctx)?;
    timed("render", t);

    let t = Instant::now();
    let archived = crate::archive::run(plan, platform, &tree, ctx)?;
    timed("archive", t);

    Ok(Bundled {
        platform,
        artifact: archived.path,
        size: archived.size,
        sha256: archived.sha256,
        packages: installed.packages.len(),
        tree,
        stages,
    })
}
