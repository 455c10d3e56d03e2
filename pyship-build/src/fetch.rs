//! Orchestrator: download everything a release of this commit needs, so that
//! `bundle`, `installer` and `release --offline` then need no network at all.
//!
//! Why: an air-gapped build machine, or a CI job that must not reach the
//! internet, still builds the same bytes. For each target this fetches the
//! CPython runtime (and tkinter's files when configured) into the pyship
//! cache, pinned in `pyship.lock` as a build does; installs the target's
//! pinned wheels once into a scratch folder, which leaves every one of them in
//! uv's cache; runs `cargo fetch` for every crate a maturin build compiles
//! (cargo's own cache, `$CARGO_HOME`); and makes sure maturin itself is at
//! hand (through `uv tool run` when not installed).
//!
//! A cache made with `--into DIR` ([`Context`]'s cache rooted at DIR) keeps
//! uv's downloads in `DIR/uv` too: `PYSHIP_CACHE_DIR=DIR cargo pyship release
//! --offline` then finds everything there. Everything is fetched the way a
//! build fetches it, so a build after `fetch` writes the same bytes as one
//! without.

use std::path::PathBuf;

use serde::Serialize;

use crate::context::Context;
use crate::plan::Plan;
use crate::platform::Platform;

/// What was fetched for one target.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub platform: Platform,
    /// The runtime's URL and SHA-256 (`None`: `linux.runtime = "venv"`).
    pub runtime: Option<(String, String)>,
    /// Whether tkinter's files were fetched too.
    pub tkinter: bool,
    /// The pinned packages whose wheels are now in uv's cache.
    pub packages: usize,
    /// Where the pins come from.
    pub lock: PathBuf,
}

/// What `fetch` did.
#[derive(Debug, Clone, Serialize)]
pub struct Fetched {
    pub targets: Vec<Target>,
    /// The Cargo manifests whose crates `cargo fetch` downloaded.
    pub cargo: Vec<PathBuf>,
    /// The pyship cache filled.
    pub cache: PathBuf,
    /// uv's cache used (`None`: uv's own default).
    pub uv_cache: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Python(#[from] crate::python::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Deps(#[from] crate::deps::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Wheel(#[from] crate::wheel::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Lock(#[from] crate::lock::Error),
    #[error("could not make the cache folder {path}")]
    #[diagnostic(help("give --into a folder you can write to"))]
    Into {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not clear the scratch folder {path}")]
    Clear {
        path: PathBuf,
        #[source]
        #[diagnostic_source]
        source: crate::fs::Error,
    },
}

/// A cache rooted at `dir` for `fetch --into DIR`, with a folder for uv's
/// own downloads in it (so that a build with `PYSHIP_CACHE_DIR=DIR` gives it
/// to uv).
pub fn cache_in(dir: &std::path::Path) -> Result<crate::cache::Cache, Error> {
    let err = |source| Error::Into {
        path: dir.to_owned(),
        source,
    };
    fs_err::create_dir_all(dir.join(crate::pins::UV_CACHE)).map_err(err)?;
    Ok(crate::cache::Cache::at(
        fs_err::canonicalize(dir).map_err(err)?,
    ))
}

/// Fetch what the plan's targets need into `ctx`'s cache (and uv's and
/// cargo's).
pub fn run(plan: &Plan, ctx: &Context<'_>) -> Result<Fetched, Error> {
    let _lock = crate::lock::OutDirLock::acquire(&plan.out_dir, ctx.reporter)?;
    let scratch = plan.work_dir.join("fetch");
    let roots = plan.write_roots(&ctx.cache);
    let clear = |path: &PathBuf| {
        crate::fs::remove_dir_if_exists(path, &roots).map_err(|source| Error::Clear {
            path: path.clone(),
            source,
        })
    };
    let mut targets = Vec::new();
    for &platform in &plan.targets {
        ctx.reporter.status("Fetching", &format!("for {platform}"));
        let dir = scratch.join(platform.key());
        clear(&dir)?;
        let venv = platform == Platform::Linux
            && plan.config.linux.runtime == crate::config::LinuxRuntime::Venv;
        let runtime = if venv {
            None
        } else {
            let r = crate::python::run(plan, platform, &dir.join("python"), ctx)?;
            Some((r.url, r.sha256))
        };
        let tkinter = platform == Platform::Windows && plan.config.windows.tkinter;
        if tkinter {
            let tk =
                crate::python::tkinter::prepare(plan, ctx).map_err(crate::python::Error::from)?;
            crate::python::tkinter::install(plan, &tk, &dir.join("python"), ctx)
                .map_err(crate::python::Error::from)?;
        }
        // The install a build does, into a scratch folder: every pinned
        // wheel of the target lands in uv's cache, checked against its hash.
        let pinned =
            crate::pins::for_target(plan, platform, ctx).map_err(crate::deps::Error::from)?;
        let installed =
            crate::deps::run(plan, platform, &dir.join("site-packages"), &[], pinned, ctx)?;
        targets.push(Target {
            platform,
            runtime,
            tkinter,
            packages: installed.requirements.len(),
            lock: plan.lock.path().to_owned(),
        });
        clear(&dir)?;
    }
    let cargo = crate::wheel::fetch_build_inputs(plan, ctx)?;
    clear(&scratch)?;
    Ok(Fetched {
        targets,
        cargo,
        cache: ctx.cache.root().to_owned(),
        uv_cache: crate::pins::uv_cache_dir(ctx),
    })
}
