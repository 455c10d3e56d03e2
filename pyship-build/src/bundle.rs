//! The bundle pipeline, shared by every platform (the platform is data):
//! [`wheel`](crate::wheel) (prebuild, maturin) → [`python`](crate::python) →
//! [`deps`](crate::deps) → [`app`](crate::app) → strip → signing of the
//! project's own binaries ([`sign`](crate::sign), with `sign-binaries`) →
//! [`licenses`](crate::licenses) → [`update`](crate::update) →
//! [`render`](crate::render) → [`archive`](crate::archive) → [`sbom`](crate::sbom).
//!
//! Why one orchestrator: each stage stays small and testable on its own, and
//! the order, the tree layout (`{out}/.pyship/{platform}/{name}/` with
//! `python/`, `app/src/`, `scripts/`) and the timings live in one place. The
//! tree is rebuilt from scratch on every run (stale files never survive); the
//! download caches are reused.

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use crate::context::Context;
use crate::error::escaped;
use crate::plan::Plan;
use crate::platform::Platform;

mod import_check;
mod inputs;

use import_check::{check_key, import_check, inputs_passed_marker};
use inputs::current_for;
pub use inputs::{inputs_digest, is_current, stamp_path};

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
    /// tkinter, when `windows.tkinter = true` added it.
    pub tkinter: Option<crate::python::tkinter::Added>,
    /// The unpacked tree the archive was made from.
    pub tree: PathBuf,
    /// The CycloneDX SBOM in the output directory.
    pub sbom: crate::sbom::Written,
    /// `THIRD-PARTY-LICENSES.txt` at the top of the tree.
    pub licenses: crate::licenses::Written,
    /// The project's own binaries signed in the tree (`sign-binaries`).
    pub signed: Vec<PathBuf>,
    /// Time per stage; `check` and `archive` run at the same time.
    pub stages: Vec<StageTime>,
    /// Wall-clock time of the whole run (less than the sum of `stages`).
    pub seconds: f64,
}

impl Bundled {
    pub fn total_seconds(&self) -> f64 {
        self.seconds
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Wheel(#[from] crate::wheel::Error),
    #[error("cannot bundle for {platform} on this host: {why}")]
    #[diagnostic(help("build it in Linux CI (`cargo pyship release` there), in WSL, or in a Linux container; on this host use `--target windows`"))]
    Host {
        platform: Platform,
        why: &'static str,
    },
    #[error("could not clear the old bundle tree {path}")]
    #[diagnostic(help("close programs using files in the output directory"))]
    Clear {
        path: PathBuf,
        #[source]
        source: crate::fs::Error,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Python(#[from] crate::python::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Deps(#[from] crate::deps::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    App(#[from] crate::app::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Strip(#[from] crate::strip::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Update(#[from] crate::update::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Render(#[from] crate::render::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Archive(#[from] crate::archive::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    DistInfo(#[from] crate::dist_info::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Licenses(#[from] crate::licenses::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Sbom(#[from] crate::sbom::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Sign(#[from] crate::sign::Error),
    #[error("could not read the project's wheel {path}")]
    #[diagnostic(help("rebuild the wheel (it is listed in `wheels`)"))]
    OwnWheel {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Lock(#[from] crate::lock::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Stamp(#[from] crate::fs::WriteError),
}

/// Refuse, before any work, a target this host cannot build.
pub fn check_host(platforms: &[Platform]) -> Result<(), Error> {
    for &platform in platforms {
        if let Some(why) = platform.host_cannot_build() {
            return Err(Error::Host { platform, why });
        }
    }
    Ok(())
}

/// Everything that must hold before a bundle of `platforms` is built, checked
/// before any long work: each platform can be built on this host, the build
/// tools are there, the Cargo version maturin builds is the release's, and
/// each platform's runtime is fetched (or its host Python found), and its
/// dependencies' lock read (a stale or broken lock, a `--locked` change), so
/// that none of these waits for the Rust build.
/// Returns what it resolved for [`run_with`], so that nothing is asked twice.
pub fn prepare(plan: &Plan, platforms: &[Platform], ctx: &Context<'_>) -> Result<Prepared, Error> {
    check_host(platforms)?;
    crate::wheel::preflight(plan, ctx)?;
    crate::wheel::check_version(plan)?;
    // What tkinter needs (msitools, or a tkinter-embed build for this X.Y)
    // before the runtimes are fetched: a missing tool costs no download.
    let prepared = Prepared::tkinter(plan, platforms, ctx)?;
    for &platform in platforms {
        crate::python::prefetch(plan, platform, ctx)?;
        if pins_early(platform) {
            crate::pins::for_target(plan, platform, ctx).map_err(crate::deps::Error::from)?;
        }
    }
    Ok(prepared)
}

/// What [`prepare`] resolved that [`run_with`] needs again: the tkinter
/// source's choice (for the `pypi` source, a look at the package index).
/// `Prepared::default()` resolves nothing: [`run_with`] then resolves it itself.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    tkinter: Option<crate::python::tkinter::Prepared>,
}

impl Prepared {
    /// Resolve only tkinter's source (when a Windows bundle of `platforms` ships it).
    pub fn tkinter(plan: &Plan, platforms: &[Platform], ctx: &Context<'_>) -> Result<Self, Error> {
        let tkinter = (platforms.contains(&Platform::Windows) && plan.config.windows.tkinter)
            .then(|| crate::python::tkinter::prepare(plan, ctx))
            .transpose()
            .map_err(crate::python::Error::from)?;
        Ok(Self { tkinter })
    }

    /// tkinter's source for `platform`'s bundle: the prepared one, else resolved now.
    fn tkinter_for(
        &self,
        plan: &Plan,
        platform: Platform,
        ctx: &Context<'_>,
    ) -> Result<Option<crate::python::tkinter::Prepared>, Error> {
        if !(platform == Platform::Windows && plan.config.windows.tkinter) {
            return Ok(None);
        }
        match &self.tkinter {
            Some(t) => Ok(Some(t.clone())),
            None => Ok(Self::tkinter(plan, &[platform], ctx)?.tkinter),
        }
    }
}

/// Whether `platform`'s pins can be read before its runtime is in the
/// tree: everywhere but a Windows host building for Windows, where a first
/// resolution waits for the bundle's own interpreter (uv would download one
/// to learn an interpreter's facts).
pub fn pins_early(platform: Platform) -> bool {
    !(cfg!(windows) && platform == Platform::Windows)
}

/// Build the bundle of `platform`: the tree, then its archive. Signs the
/// project's own Windows binaries when `sign-binaries` is configured.
pub fn run(plan: &Plan, platform: Platform, ctx: &Context<'_>) -> Result<Bundled, Error> {
    let signer = if signs_binaries(plan, platform) {
        crate::sign::Signer::prepare(plan, ctx)?
    } else {
        None
    };
    run_with(plan, platform, &Prepared::default(), signer.as_ref(), ctx)
}

/// `platform`'s bundle tree as a package (`installer`, `msi`, `deb`) takes
/// it: built again first unless it was built from the inputs the plan has
/// now ([`is_current`]: another version, a changed config key such as
/// `windows.kind`, or a changed source each count), so a package never
/// ships a stale tree. `None`: the tree was current.
pub fn ensure_current(
    plan: &Plan,
    platform: Platform,
    signer: Option<&crate::sign::Signer>,
    ctx: &Context<'_>,
) -> Result<Option<Bundled>, Error> {
    if is_current(plan, platform) {
        return Ok(None);
    }
    let tree = plan.bundle_dir(platform);
    let why = if tree.join(platform.python_exe()).is_file() {
        format!(
            "its inputs changed since the bundle at {} was built",
            tree.display()
        )
    } else {
        format!("no current bundle at {}", tree.display())
    };
    ctx.reporter.status(
        "Bundling",
        &format!(
            "{} {} for {platform} ({why})",
            plan.name,
            plan.version.version.tag()
        ),
    );
    let prepared = prepare(plan, &[platform], ctx)?;
    let b = run_with(plan, platform, &prepared, signer, ctx)?;
    ctx.reporter.status(
        "Finished",
        &format!("{} in {:.1}s", b.artifact.display(), b.total_seconds()),
    );
    Ok(Some(b))
}

/// Whether the bundle of `platform` has binaries to sign (`sign-binaries`).
pub fn signs_binaries(plan: &Plan, platform: Platform) -> bool {
    platform == Platform::Windows
        && plan
            .config
            .windows
            .sign
            .as_ref()
            .is_some_and(|s| s.sign_binaries)
}

/// [`run`] with what [`prepare`] resolved and a prepared signer (used only
/// when [`signs_binaries`]).
pub fn run_with(
    plan: &Plan,
    platform: Platform,
    prepared: &Prepared,
    signer: Option<&crate::sign::Signer>,
    ctx: &Context<'_>,
) -> Result<Bundled, Error> {
    check_host(&[platform])?;
    let mut stages = Vec::new();
    let mut timed = |stage: &'static str, start: Instant| {
        stages.push(StageTime {
            stage,
            seconds: start.elapsed().as_secs_f64(),
        })
    };

    // What tkinter needs (msitools, or the tkinter-embed build for this X.Y)
    // is checked before any work (by `prepare`, when it ran).
    let tk = prepared.tkinter_for(plan, platform, ctx)?;

    // One build at a time in this output folder; then what killed runs left.
    let _lock = crate::lock::OutDirLock::acquire(&plan.out_dir, ctx.reporter)?;
    for p in crate::lock::clean_leftovers(&plan.out_dir, ctx.cache.root()) {
        ctx.reporter
            .debug(&format!("removed a killed run's leftover {}", p.display()));
    }

    // The import check runs Windows programs under wine: on a machine whose
    // cache has no prepared prefix yet, boot one while the stages below work.
    // Unless the inputs did not change since the last build, whose tree
    // passed a check that is still cached, or a tree built from these same
    // inputs passed it before (in another output folder: the build is
    // deterministic, so it will find its check cached too), also start the
    // check's private prefix there, so the check (of what changed, after an
    // edit) does not wait for wine's session to start.
    let tree = plan.bundle_dir(platform);
    let wine_prep = (platform == Platform::Windows)
        .then(|| {
            let digest = inputs_digest(plan, platform);
            let rebuild = inputs_passed_marker(&digest, ctx).is_file()
                || (current_for(plan, platform, &digest)
                    && check_key(plan, platform, &tree, ctx).is_some_and(|k| k.marker.is_file()));
            crate::wine::prepare_in_background(ctx.env, &ctx.cache, !rebuild)
        })
        .flatten();

    // The lock first: a stale or tampered one fails before a Rust build.
    let pins = || crate::pins::for_target(plan, platform, ctx).map_err(crate::deps::Error::from);
    let mut pinned = if pins_early(platform) {
        Some(pins()?)
    } else {
        None
    };

    let t = Instant::now();
    let built = crate::wheel::run(plan, platform, ctx)?;
    timed("wheel", t);

    // The tree is about to change: until it is finished, it is current for nothing.
    let stamp = stamp_path(plan, platform);
    let digest = inputs_digest(plan, platform);
    let _ = fs_err::remove_file(&stamp);
    crate::fs::remove_dir_if_exists(&tree, &plan.write_roots(&ctx.cache)).map_err(|source| {
        Error::Clear {
            path: tree.clone(),
            source,
        }
    })?;

    let t = Instant::now();
    let runtime = crate::python::run(plan, platform, &tree.join("python"), ctx)?;
    timed("python", t);

    let mut tkinter = None;
    if let Some(tk) = &tk {
        let t = Instant::now();
        let added = crate::python::tkinter::install(plan, tk, &runtime.dir, ctx)
            .map_err(crate::python::Error::from)?;
        timed("tkinter", t);
        tkinter = Some(added);
    }

    let t = Instant::now();
    let pinned = match pinned.take() {
        Some(p) => p,
        None => pins()?,
    };
    let installed = crate::deps::run(
        plan,
        platform,
        &runtime.site_packages,
        &built.wheels,
        pinned,
        ctx,
    )?;
    if platform == Platform::Linux {
        crate::python::linux::after_deps(plan, &runtime.site_packages, ctx)
            .map_err(crate::python::Error::from)?;
    }
    timed("deps", t);

    let t = Instant::now();
    crate::app::run(plan, &tree, &runtime.site_packages, ctx)?;
    timed("app", t);

    // Read before strip, which removes the `WHEEL` files the SBOM matches
    // wheels by.
    let dists = crate::dist_info::read_all(&runtime.site_packages)?;

    let t = Instant::now();
    let mut opts = crate::strip::Options::from_config(&plan.config.strip);
    // The app's own requirements (e.g. setuptools) are never "build-only".
    opts.keep_app_dependencies(&plan.pyproject().dependencies);
    // An interpreter only to byte-compile: finding one starts a Python
    // (through a pyenv shim, a fraction of a second per target).
    let python = opts.rules.compile.then(|| {
        crate::strip::Interpreter::for_target(&plan.python.xy, platform, Some(&tree), ctx.env)
    });
    let python = python.flatten();
    let stripped = crate::strip::run(
        &opts,
        &runtime.site_packages,
        platform,
        python.as_ref(),
        ctx,
    )?;
    crate::strip::run_runtime(&opts, &runtime.dir, platform, ctx)?;
    timed("strip", t);

    // After strip (which rewrites binaries), before the archive.
    let mut signed = Vec::new();
    if let (Some(signer), true) = (signer, signs_binaries(plan, platform)) {
        let t = Instant::now();
        for file in own_binaries(plan, platform, &tree, &runtime.site_packages)? {
            ctx.reporter.status(
                "Signing",
                &escaped(file.strip_prefix(&tree).unwrap_or(&file).display()).to_string(),
            );
            signer.sign_in_place(&file, ctx)?;
            signed.push(file);
        }
        timed("sign", t);
    }

    let t = Instant::now();
    // The crates linked into the project's own Rust extension for this target.
    let linked =
        crate::crates::linked(plan, platform, ctx).map_err(crate::licenses::Error::from)?;
    let licenses = crate::licenses::write(
        plan,
        platform,
        &tree,
        &runtime.site_packages,
        Some(&dists),
        &linked,
    )?;
    for m in &licenses.missing {
        ctx.reporter.warn(&format!(
            "{} has no licence information (no License/License-Expression metadata, classifier or licence file); {} says so",
            escaped(m),
            crate::licenses::FILE_NAME
        ));
    }
    timed("licenses", t);

    let t = Instant::now();
    crate::update::run(plan, platform, &tree, &runtime.site_packages, ctx)?;
    timed("update", t);

    let t = Instant::now();
    crate::render::run(plan, platform, &tree, ctx)?;
    timed("render", t);

    // The import check (seconds under wine, one core) and the archive (every
    // core for deflate) only read the finished tree: run them side by side.
    // The check runs with `-B`, so it writes nothing into the tree.
    // The archive gets its final name only after the check passed: an
    // interrupted or failed check leaves no artifact that looks verified.
    let artifact = crate::archive::final_path(plan, platform);
    // Named by process and platform: the targets of one run build side by side.
    let partial = plan.out_dir.join(format!(
        "{}{}-{}-{}",
        crate::lock::PARTIAL_PREFIX,
        std::process::id(),
        platform.key(),
        plan.file_name
    ));
    let t = Instant::now();
    let (checked, archived) = std::thread::scope(|s| {
        let check = s.spawn(|| {
            let t = Instant::now();
            let r = import_check(
                plan,
                platform,
                &tree,
                &runtime.site_packages,
                &stripped,
                ctx,
                wine_prep.as_ref(),
                &digest,
            );
            (r, t.elapsed().as_secs_f64())
        });
        let a = Instant::now();
        ctx.reporter
            .status("Packing", &artifact.display().to_string());
        let archived = crate::archive::run_to(plan, platform, &tree, &partial, ctx);
        let archive_secs = a.elapsed().as_secs_f64();
        let checked = check
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        (checked, (archived, archive_secs))
    });
    let wall = t.elapsed().as_secs_f64();
    let (checked, check_secs) = checked;
    let (archived, archive_secs) = archived;
    if let Some(h) = wine_prep {
        // Done by now (the check waited for it), unless the check was cached:
        // then the next build finds the prefix ready.
        if let Some(n) = h.finish() {
            ctx.reporter.warn(&n);
        }
    }
    stages.push(StageTime {
        stage: "check",
        seconds: check_secs,
    });
    stages.push(StageTime {
        stage: "archive",
        seconds: archive_secs,
    });
    if let Err(e) = checked {
        // A bundle that failed its check is not an artifact.
        let _ = fs_err::remove_file(&partial);
        return Err(e);
    }
    let mut archived = archived?;
    fs_err::rename(&partial, &artifact).map_err(|source| {
        Error::Archive(crate::archive::Error::Write(crate::fs::OutputWriteError {
            path: artifact.clone(),
            source: source.into(),
        }))
    })?;
    archived.path = artifact;

    let t = Instant::now();
    let source = crate::sbom::RuntimeSource {
        version: runtime.version.clone(),
        url: runtime.url.clone(),
        sha256: runtime.sha256.clone(),
    };
    let sbom = crate::sbom::write(
        plan,
        platform,
        &source,
        &dists,
        &linked,
        Some(&installed.pinned),
        ctx,
    )?;
    ctx.reporter.status(
        "Wrote",
        &format!(
            "{} ({} distributions, {} wheel hashes{})",
            sbom.path.display(),
            sbom.distributions,
            sbom.wheel_hashes,
            if sbom.crates > 0 {
                format!(", {} crates", sbom.crates)
            } else {
                String::new()
            }
        ),
    );
    timed_push(&mut stages, "sbom", t);
    // check and archive overlap: the run took the longer of the two.
    let overlap = check_secs + archive_secs - wall;
    // The digest of the inputs as they were when the build started: a file
    // edited during the build leaves the tree stale, and the stamp says so.
    crate::fs::atomic_write(&stamp, format!("{digest}\n").as_bytes()).map_err(|source| {
        Error::Stamp(crate::fs::WriteError {
            path: stamp.clone(),
            source,
        })
    })?;

    Ok(Bundled {
        platform,
        artifact: archived.path,
        size: archived.size,
        sha256: archived.sha256,
        packages: installed.packages.len(),
        tkinter,
        tree,
        sbom,
        licenses,
        signed,
        seconds: stages.iter().map(|s| s.seconds).sum::<f64>() - overlap.max(0.0),
        stages,
    })
}

fn timed_push(stages: &mut Vec<StageTime>, stage: &'static str, start: Instant) {
    stages.push(StageTime {
        stage,
        seconds: start.elapsed().as_secs_f64(),
    });
}

/// The project's own Windows binaries in the tree: `.exe`/`.dll`/`.pyd`
/// under `app/` and the files of the project's own `wheels`. Third-party
/// wheels stay as their authors shipped them.
pub fn own_binaries(
    plan: &Plan,
    platform: Platform,
    tree: &std::path::Path,
    site_packages: &std::path::Path,
) -> Result<Vec<PathBuf>, Error> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(tree.join("app"))
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    for wheel in crate::crates::own_wheels(plan, platform) {
        let err = |source| Error::OwnWheel {
            path: wheel.clone(),
            source,
        };
        let f = fs_err::File::open(&wheel).map_err(err)?;
        let zip = zip::ZipArchive::new(f).map_err(|e| err(std::io::Error::other(e)))?;
        for name in zip.file_names().filter_map(Result::ok) {
            let p = site_packages.join(name.as_ref());
            if p.is_file() {
                files.push(p);
            }
        }
    }
    Ok(crate::sign::signable(files))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `pypi` tkinter source asks the index once per build: what
    /// `prepare` resolved is what `run_with` uses.
    #[test]
    fn tkinter_is_resolved_once_when_prepared() {
        let mut plan = crate::plan::tests_support::hello_plan();
        let page = format!(
            r#"<a href="/f/tkinter_embed-{}.0.tar.gz#sha256={}">s</a>"#,
            plan.python.xy,
            "e".repeat(64)
        );
        let index = crate::packaging::test_server::serve("text/html", page);
        plan.config.windows.tkinter = true;
        plan.config.windows.tkinter_source = crate::config::TkinterSource::Pypi;
        plan.config.no_index = false;
        plan.config.find_links.clear();
        plan.config.index_url = Some(format!("{}/simple", index.url));
        let env = crate::env::Env::from_pairs(Vec::<(String, String)>::new());
        let reporter = crate::report::NullReporter;
        let ctx = Context::new(&reporter, &env);

        let prepared = Prepared::tkinter(&plan, &[Platform::Windows], &ctx).unwrap();
        assert_eq!(index.requests(), 1);
        let tk = prepared
            .tkinter_for(&plan, Platform::Windows, &ctx)
            .unwrap()
            .unwrap();
        let sdist = tk.sdist.unwrap();
        assert_eq!(
            sdist.location,
            crate::python::tkinter::Location::Url(format!(
                "{}/f/tkinter_embed-{}.0.tar.gz",
                index.url, plan.python.xy
            ))
        );
        assert_eq!(sdist.sha256, Some("e".repeat(64)));
        assert_eq!(index.requests(), 1, "run_with asked the index again");
        // Nothing for Linux; a run without `prepare` resolves it itself.
        assert!(prepared
            .tkinter_for(&plan, Platform::Linux, &ctx)
            .unwrap()
            .is_none());
        Prepared::default()
            .tkinter_for(&plan, Platform::Windows, &ctx)
            .unwrap()
            .unwrap();
        assert_eq!(index.requests(), 2);
    }
}
