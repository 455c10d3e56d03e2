//! Stage: the exact dependency set each target installs (its "pins"), and
//! `pyship.lock`, where cargo-pyship writes down what it pinned.
//!
//! Why: a release must ship what was tested, and two releases of one commit
//! must ship the same files. Resolving the pyproject's ranges afresh at every
//! build ships whatever the index holds that day. So:
//! - A `uv.lock` is the truth. `uv export --locked --offline --format
//!   pylock.toml` turns it into the packages of the app (its extras and the
//!   configured dependency groups, never the dev group unless configured),
//!   each with its environment marker and every wheel with its SHA-256, without
//!   resolving anything; a lock that no longer matches the pyproject is an
//!   error naming `uv lock`.
//! - A PEP 751 `pylock.toml` beside the pyproject is read the same way.
//! - Without either, what a target resolved the first time (`uv pip compile`
//!   for the target's platform and Python) is recorded in `pyship.lock`
//!   (`[deps.windows]`, `[deps.linux]`) and reused as long as the requirements
//!   it was resolved from are the same; `--locked` refuses any change to the
//!   file, and `cargo pyship update` re-resolves on purpose.
//!
//! Every source becomes one [`Pinned`] list, which the [`deps`](crate::deps)
//! stage installs with `uv pip install --no-deps --require-hashes` (markers
//! evaluated for the target, no resolution), the SBOM takes each wheel's name,
//! URL and hash from, and `fetch` downloads. [`Pinned::key`] is what a cache
//! of the installed dependencies can be keyed by.
//!
//! The app's local packages ([`crate::local_deps`]) are never pinned: they are
//! built from source; their own dependencies are.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::error::escaped;
use crate::plan::{DependencyLock, Plan};
use crate::platform::Platform;
use crate::project::normalize_dist_name;

mod lockfile;
mod pylock;

pub use lockfile::{diff, Change, Lockfile, TargetPins};
use pylock::{from_pylock_text, from_uv_lock};

/// File name of cargo-pyship's own lock, next to the Cargo.toml with the table.
pub const LOCK_FILE: &str = "pyship.lock";

/// One pinned distribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    pub name: String,
    pub version: String,
    /// Environment marker (a lock made for every platform, such as uv's):
    /// uv evaluates it for the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    /// The package index the lock names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    /// The wheels the lock allows, each with its SHA-256.
    #[serde(default)]
    pub wheels: Vec<PinnedWheel>,
}

/// A wheel file a pin allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinnedWheel {
    pub file: String,
    pub sha256: String,
    /// Where the lock says it is downloaded from (remote URLs only; a local
    /// `find-links` folder is not recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// What a target installs, from where.
#[derive(Debug, Clone, Serialize)]
pub struct Pinned {
    pub platform: Platform,
    /// The lock the pins come from.
    pub lock: DependencyLock,
    /// Sorted by name.
    pub packages: Vec<Pin>,
    /// What this run changed in `pyship.lock` (empty: used as written).
    pub changes: Vec<Change>,
}

impl Pinned {
    /// The requirements file `uv pip install --no-deps --require-hashes`
    /// takes: `name==version ; marker --hash=sha256:…` per pin.
    pub fn requirements_txt(&self) -> String {
        let mut out = String::new();
        for p in &self.packages {
            out.push_str(&format!("{}=={}", p.name, p.version));
            if let Some(m) = &p.marker {
                out.push_str(" ; ");
                out.push_str(m);
            }
            let mut hashes: Vec<&str> = p.wheels.iter().map(|w| w.sha256.as_str()).collect();
            hashes.sort();
            hashes.dedup();
            for h in hashes {
                out.push_str(&format!(" \\\n    --hash=sha256:{h}"));
            }
            out.push('\n');
        }
        out
    }

    /// A key for everything the installed dependencies of this target depend
    /// on besides the project's own wheels: the pins (versions, markers,
    /// hashes), the target's platform and Python.
    pub fn key(&self, plan: &Plan) -> String {
        crate::fs::sha256_hex(
            format!(
                "{} {} {}\n{}",
                self.platform.key(),
                plan.config.uv_platform(self.platform),
                plan.python.full,
                self.requirements_txt()
            )
            .as_bytes(),
        )
    }

    /// The pin of the normalized distribution `dist`.
    pub fn get(&self, dist: &str) -> Option<&Pin> {
        let dist = normalize_dist_name(dist);
        self.packages
            .iter()
            .find(|p| normalize_dist_name(&p.name) == dist)
    }

    /// The package indexes the lock names, in order (PyPI's included).
    pub fn indexes(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for p in &self.packages {
            if let Some(i) = &p.index {
                if !v.contains(i) {
                    v.push(i.clone());
                }
            }
        }
        v
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("could not read {path}")]
    LockRead {
        path: PathBuf,
        #[source]
        #[diagnostic_source]
        source: crate::fs::Error,
    },
    #[error("could not parse {path}: {message}")]
    #[diagnostic(help("fix pyship.lock or delete it (it is re-created on the next build)"))]
    LockParse { path: PathBuf, message: String },
    #[error(transparent)]
    #[diagnostic(transparent)]
    LockWrite(#[from] crate::fs::WriteError),
    #[error("--locked: {path} would change ({})", escaped(.what))]
    #[diagnostic(help("build once without --locked (or run `cargo pyship update`) and commit pyship.lock; --locked (implied by `release` in CI) only accepts the file as committed"))]
    Locked { path: PathBuf, what: String },
    #[error("{lock} does not match {pyproject} any more:\n{message}")]
    #[diagnostic(help("run `uv lock` and commit uv.lock: a bundle installs exactly what the lock says and never re-resolves"))]
    UvLockStale {
        lock: PathBuf,
        pyproject: PathBuf,
        message: String,
    },
    #[error("uv could not export {lock}:\n{message}")]
    #[diagnostic(help("`uv export --frozen` in the pyproject's folder shows the same error"))]
    UvExport { lock: PathBuf, message: String },
    #[error("{path}: `{}` {}", escaped(.package), escaped(.what))]
    #[diagnostic(help("export the lock for what the bundle ships (`uv export --format pylock.toml --extra …`): a bundle installs wheels of a lock's packages only"))]
    Unsupported {
        path: PathBuf,
        package: String,
        what: String,
    },
    #[error("{lock} installs `{}` from the local folder {}, which cargo-pyship does not know as a local package of the app", escaped(.package), escaped(.folder))]
    #[diagnostic(help("make it a local package cargo-pyship builds (a `path` or `workspace = true` source in [tool.uv.sources] of the app's pyproject), or depend on a published version"))]
    NotLocal {
        lock: PathBuf,
        package: String,
        folder: String,
    },
    #[error("extra `{}` is not in [project.optional-dependencies] of {pyproject}", escaped(.extra))]
    #[diagnostic(help("fix `extras` in [{table}] or add the extra to pyproject.toml"))]
    UnknownExtra {
        extra: String,
        pyproject: PathBuf,
        /// The pyship table in use, for the hint.
        table: &'static str,
    },
    #[error("dependency group `{}` is not in [dependency-groups] of {pyproject}", escaped(.group))]
    #[diagnostic(help(
        "fix `groups` in [{table}] or add the group to [dependency-groups] of pyproject.toml"
    ))]
    UnknownGroup {
        group: String,
        pyproject: PathBuf,
        table: &'static str,
    },
    #[error("`{}` has no wheel for {platform} (Python {python}): {}", escaped(.package), escaped(.reason))]
    #[diagnostic(help("a bundle installs binary wheels only: pin a version of `{}` that publishes a wheel for this platform, make it conditional with an environment marker, or drop it", escaped(.package)))]
    NoWheel {
        package: String,
        platform: String,
        python: String,
        reason: String,
    },
    #[error("`{}` {}", escaped(.package), escaped(.reason))]
    #[diagnostic(help("check the name, `index-url`, `find-links` and `no-index` in [{table}]"))]
    NotFound {
        package: String,
        reason: String,
        table: &'static str,
    },
    /// Not found offline: uv's cache does not have it.
    #[error("`{}` {}", escaped(.package), escaped(.reason))]
    #[diagnostic(help("--offline installs only what uv has cached: run `cargo pyship fetch` (or once without --offline) first, or use a local `find-links` directory"))]
    NotCached { package: String, reason: String },
    #[error("uv could not resolve the dependencies for {platform}:\n{stderr}")]
    #[diagnostic(help("read uv's message above; it names the requirement that failed"))]
    Uv { platform: String, stderr: String },
    #[error("could not prepare a folder for uv")]
    Scratch(#[source] std::io::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Tool(#[from] crate::tools::RunError),
}

/// The requirements the app asks for on `platform`: the pyproject's
/// dependencies, the configured extras (global and per target) and
/// dependency groups.
pub fn requirements(plan: &Plan, platform: Platform) -> Result<Vec<String>, Error> {
    let py = plan.pyproject();
    let table = plan.project.config_source.table.key();
    let mut reqs = py.dependencies.clone();
    for extra in &plan.config.for_target(platform).extras {
        let deps = py
            .optional_dependencies
            .get(extra)
            .ok_or_else(|| Error::UnknownExtra {
                extra: extra.clone(),
                pyproject: py.path.clone(),
                table,
            })?;
        reqs.extend(deps.iter().cloned());
    }
    let declared = crate::local_deps::declared_groups(py);
    for g in &plan.config.groups {
        if !declared.contains(&normalize_dist_name(g)) {
            return Err(Error::UnknownGroup {
                group: g.clone(),
                pyproject: py.path.clone(),
                table,
            });
        }
    }
    reqs.extend(crate::local_deps::dependency_group_requirements(
        py,
        &plan.config.groups,
    ));
    Ok(reqs)
}

/// What a target's dependencies are resolved from without a lock: the app's
/// requirements without its local packages, plus the local packages' own
/// requirements (except on each other), each once, in order.
pub fn resolution_inputs(plan: &Plan, platform: Platform) -> Result<Vec<String>, Error> {
    let local: Vec<&str> = plan
        .local_packages
        .iter()
        .map(|l| l.dist.as_str())
        .collect();
    let is_local = |r: &str| {
        crate::local_deps::requirement_name(r)
            .is_some_and(|n| local.contains(&normalize_dist_name(n).as_str()))
    };
    let mut out: Vec<String> = Vec::new();
    let all = requirements(plan, platform)?.into_iter().chain(
        plan.local_packages
            .iter()
            .flat_map(|l| l.pyproject.dependencies.iter().cloned()),
    );
    for r in all {
        let r = r.trim().to_owned();
        if !is_local(&r) && !out.contains(&r) {
            out.push(r);
        }
    }
    Ok(out)
}

/// The bundle's own interpreter when it runs on this host: on a Windows host
/// building for Windows, `python/python.exe` (already extracted by the
/// `python` stage). A Windows host seldom has a system Python, and without
/// one uv downloads a managed CPython just to learn an interpreter's facts;
/// the embedded one is the target interpreter itself.
pub fn host_interpreter(plan: &Plan, platform: Platform) -> Option<PathBuf> {
    let exe = plan.bundle_dir(platform).join(platform.python_exe());
    (cfg!(windows) && platform == Platform::Windows && exe.is_file()).then_some(exe)
}

/// uv's cache for this run: a cache filled by `cargo pyship fetch --into DIR`
/// carries its own (`DIR/uv`), which every uv command then uses.
pub fn uv_cache_dir(ctx: &Context<'_>) -> Option<PathBuf> {
    let dir = ctx.cache.root().join(UV_CACHE);
    dir.is_dir().then_some(dir)
}

/// The folder of a pyship cache that holds uv's own cache (made by `fetch --into`).
pub const UV_CACHE: &str = "uv";

/// A uv command with the run's uv cache.
pub fn uv(ctx: &Context<'_>) -> Result<crate::process::Command, Error> {
    let exe = crate::tools::UV
        .find(ctx.env)
        .map_err(crate::tools::RunError::from)?;
    let mut cmd = crate::process::Command::new(exe);
    if let Some(dir) = uv_cache_dir(ctx) {
        cmd.env("UV_CACHE_DIR", dir);
    }
    Ok(cmd)
}

/// The index settings of `platform` for uv (`index-url`, `find-links`,
/// `no-index`; the lock's own index when none is configured).
pub fn index_args(plan: &Plan, platform: Platform, lock_indexes: &[String]) -> Vec<String> {
    let c = &plan.config;
    let mut args: Vec<String> = Vec::new();
    if let Some(url) = &c.index_url {
        args.extend(["--index-url".into(), url.clone()]);
    } else if !c.no_index {
        for (i, url) in lock_indexes.iter().enumerate() {
            let flag = if i == 0 {
                "--index-url"
            } else {
                "--extra-index-url"
            };
            args.extend([flag.into(), url.clone()]);
        }
    }
    for link in &c.for_target(platform).find_links {
        let local = plan.project.config_dir.join(link);
        if !link.contains("://") && local.exists() {
            args.extend(["--find-links".into(), local.display().to_string()]);
        } else {
            args.extend(["--find-links".into(), link.clone()]);
        }
    }
    if c.no_index {
        args.push("--no-index".into());
    }
    args
}

/// The pins of `platform`, from the plan's lock. Without `uv.lock` or
/// `pylock.toml`, `pyship.lock` is read, and written when the target's
/// requirements changed (an error with `--locked`).
pub fn for_target(plan: &Plan, platform: Platform, ctx: &Context<'_>) -> Result<Pinned, Error> {
    match &plan.lock {
        DependencyLock::Uv { path } => from_uv_lock(plan, platform, path, ctx),
        DependencyLock::Pylock { path } => {
            let text = crate::fs::read_small_to_string(path).map_err(|source| Error::LockRead {
                path: path.clone(),
                source,
            })?;
            let packages = from_pylock_text(plan, path, &text)?;
            Ok(Pinned {
                platform,
                lock: plan.lock.clone(),
                packages,
                changes: Vec::new(),
            })
        }
        DependencyLock::Pyship { path } => {
            let pinned = pyship_pins(plan, platform, path, &Upgrade::None, ctx)?;
            // Said where the file is written: a later read of the same
            // target finds it current and has nothing to say.
            if !pinned.changes.is_empty() {
                ctx.reporter.status(
                    "Locking",
                    &format!(
                        "{} packages for {platform} in {}",
                        pinned.packages.len(),
                        path.display()
                    ),
                );
                for c in &pinned.changes {
                    let line = c.to_string();
                    let (verb, rest) = line.split_once(' ').unwrap_or(("", &line));
                    ctx.reporter.status(verb, rest);
                }
            }
            Ok(pinned)
        }
    }
}

/// What `cargo pyship update` re-resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upgrade {
    /// Nothing: reuse what is pinned unless the requirements changed.
    None,
    /// Everything, to the newest versions the requirements allow.
    All,
    /// These packages only (the rest stays as pinned when it can).
    Packages(Vec<String>),
}

/// Re-resolve the pins of `platform` in `pyship.lock` (`cargo pyship
/// update`); `dry_run`: report the changes, write nothing.
pub fn update(
    plan: &Plan,
    platform: Platform,
    upgrade: &Upgrade,
    dry_run: bool,
    ctx: &Context<'_>,
) -> Result<Pinned, Error> {
    let DependencyLock::Pyship { path } = &plan.lock else {
        return for_target(plan, platform, ctx);
    };
    if dry_run {
        let (pins, changes) = resolve_pins(plan, platform, path, upgrade, ctx)?;
        return Ok(Pinned {
            platform,
            lock: plan.lock.clone(),
            packages: pins.packages,
            changes,
        });
    }
    pyship_pins(plan, platform, path, upgrade, ctx)
}

/// `pyship.lock`'s pins of `platform`: reused when resolved from the same
/// requirements for the same platform and Python (and nothing is upgraded),
/// else resolved and written.
fn pyship_pins(
    plan: &Plan,
    platform: Platform,
    path: &Path,
    upgrade: &Upgrade,
    ctx: &Context<'_>,
) -> Result<Pinned, Error> {
    let inputs = resolution_inputs(plan, platform)?;
    let lock = Lockfile::read(path)?;
    let current = lock.deps.get(platform.key());
    let fresh = current.is_some_and(|t| {
        t.platform == plan.config.uv_platform(platform)
            && t.python == plan.python.xy
            && t.requirements == inputs
    });
    if let (true, Upgrade::None, Some(t)) = (fresh, upgrade, current) {
        return Ok(Pinned {
            platform,
            lock: plan.lock.clone(),
            packages: t.packages.clone(),
            changes: Vec::new(),
        });
    }
    if ctx.locked {
        return Err(Error::Locked {
            path: path.to_owned(),
            what: match current {
                None => format!("the {platform} dependencies are not pinned yet"),
                Some(_) => format!(
                    "the {platform} pins were resolved from other requirements, platform or Python than {}",
                    plan.pyproject().path.display()
                ),
            },
        });
    }
    let (pins, changes) = resolve_pins(plan, platform, path, upgrade, ctx)?;
    // Read again: another target may have been written meanwhile.
    let mut lock = Lockfile::read(path)?;
    let packages = pins.packages.clone();
    if lock.deps.get(platform.key()) != Some(&pins) {
        lock.deps.insert(platform.key().to_owned(), pins);
        lock.write(path)?;
    }
    Ok(Pinned {
        platform,
        lock: plan.lock.clone(),
        packages,
        changes,
    })
}

/// Resolve `platform`'s requirements with `uv pip compile` (the pins in
/// `pyship.lock` as preferences) into new pins and what changed.
fn resolve_pins(
    plan: &Plan,
    platform: Platform,
    path: &Path,
    upgrade: &Upgrade,
    ctx: &Context<'_>,
) -> Result<(TargetPins, Vec<Change>), Error> {
    let inputs = resolution_inputs(plan, platform)?;
    let previous = Lockfile::read(path)?
        .deps
        .get(platform.key())
        .map(|t| t.packages.clone())
        .unwrap_or_default();
    let packages = if inputs.is_empty() {
        Vec::new()
    } else {
        compile(plan, platform, &inputs, &previous, upgrade, ctx)?
    };
    let changes = diff(&previous, &packages);
    Ok((
        TargetPins {
            platform: plan.config.uv_platform(platform),
            python: plan.python.xy.clone(),
            requirements: inputs,
            packages,
        },
        changes,
    ))
}

/// `uv pip compile` of `inputs` for the target: pins with the wheels that fit it.
fn compile(
    plan: &Plan,
    platform: Platform,
    inputs: &[String],
    previous: &[Pin],
    upgrade: &Upgrade,
    ctx: &Context<'_>,
) -> Result<Vec<Pin>, Error> {
    let dir = tempfile::tempdir().map_err(Error::Scratch)?;
    let input = dir.path().join("requirements.in");
    fs_err::write(&input, inputs.join("\n") + "\n").map_err(Error::Scratch)?;
    let output = dir.path().join("pylock.toml");
    if *upgrade != Upgrade::All && !previous.is_empty() {
        // uv prefers the versions of an existing output file.
        let mut seed = String::from("lock-version = \"1.0\"\ncreated-by = \"cargo-pyship\"\n");
        for p in previous {
            seed.push_str(&format!(
                "\n[[packages]]\nname = {}\nversion = {}\n",
                toml_string(&p.name),
                toml_string(&p.version)
            ));
        }
        fs_err::write(&output, seed).map_err(Error::Scratch)?;
    }
    let mut cmd = uv(ctx)?;
    cmd.args(["pip", "compile"])
        .arg(&input)
        .arg("-o")
        .arg(&output);
    if let Some(py) = host_interpreter(plan, platform) {
        cmd.arg("--python").arg(py).arg("--no-python-downloads");
    }
    cmd.args(["--python-platform", &plan.config.uv_platform(platform)])
        .args(["--python-version", &plan.python.full])
        .args(["--only-binary", ":all:"])
        .args(["--no-header", "--quiet", "--color", "never"])
        .args(index_args(plan, platform, &[]));
    if ctx.offline {
        cmd.arg("--offline");
    }
    for constraint in &plan.config.constraints {
        cmd.arg("--constraint")
            .arg(plan.project.config_dir.join(constraint));
    }
    match upgrade {
        Upgrade::All => {
            cmd.arg("--upgrade");
        }
        Upgrade::Packages(names) => {
            for n in names {
                cmd.args(["--upgrade-package", n]);
            }
        }
        Upgrade::None => {}
    }
    ctx.reporter.status(
        "Resolving",
        &format!(
            "{} requirement(s) for {} (Python {})",
            inputs.len(),
            plan.config.uv_platform(platform),
            plan.python.xy
        ),
    );
    ctx.reporter.debug(&format!("running {}", cmd.shown()));
    let out = cmd.output().map_err(crate::tools::RunError::from)?;
    if !out.success() {
        return Err(explain_failure(
            &out.stderr,
            &plan.config.uv_platform(platform),
            &plan.python.xy,
            plan.project.config_source.table.key(),
        ));
    }
    let text = fs_err::read_to_string(&output).map_err(Error::Scratch)?;
    from_pylock_text(plan, &output, &text)
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// The words of a resolver clause from byte `i` to the next " and ".
fn reason_at(clause: &str, i: usize) -> &str {
    clause[i..].split(" and ").next().unwrap_or("").trim()
}

/// Turn uv's resolver message into an error naming the package and why.
pub fn explain_failure(stderr: &str, platform: &str, python: &str, table: &'static str) -> Error {
    for clause in stderr.split("Because ").skip(1) {
        let clause = clause.split(" we can conclude").next().unwrap_or(clause);
        let package = clause
            .split_whitespace()
            .next()
            .unwrap_or("")
            .split(['=', '<', '>', '!', '~', '['])
            .next()
            .unwrap_or("")
            .trim_matches(|c: char| !c.is_alphanumeric() && c != '-' && c != '_' && c != '.')
            .to_owned();
        if package.is_empty() {
            continue;
        }
        if let Some(i) = clause.find("has no ") {
            let reason = reason_at(clause, i).trim_end_matches(',').to_owned();
            return Error::NoWheel {
                package,
                platform: platform.to_owned(),
                python: python.to_owned(),
                reason,
            };
        }
        if let Some(i) = clause.find("was not found") {
            let reason = reason_at(clause, i).to_owned();
            if reason.contains("cache") {
                return Error::NotCached { package, reason };
            }
            return Error::NotFound {
                package,
                reason,
                table,
            };
        }
    }
    Error::Uv {
        platform: platform.to_owned(),
        stderr: stderr.trim().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::pylock::export_key;
    use super::*;
    use crate::error::Hint;

    /// A `uv export` is kept by what uv reads for it: the lock, the
    /// pyprojects of the project and its workspace members (same-size edits
    /// too), the arguments, uv's variables and the uv binary.
    #[test]
    fn the_export_key_follows_what_uv_reads() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        let member = root.join("packages/a");
        fs_err::create_dir_all(&member).unwrap();
        let write = |p: &Path, text: &str| fs_err::write(p, text).unwrap();
        write(&root.join("pyproject.toml"), "[project]\nname = \"app\"\n");
        write(
            &member.join("pyproject.toml"),
            "[project]\nname = \"aaa\"\n",
        );
        let lock = root.join("uv.lock");
        write(
            &lock,
            "version = 1\n[[package]]\nname = \"aaa\"\nsource = { editable = \"packages/a\" }\n",
        );
        let uv = root.join("uv-bin");
        write(&uv, "#!/bin/sh\n");
        let reporter = crate::report::NullReporter;
        let key = |env: &crate::env::Env, args: &[&str]| {
            let ctx = Context::new(&reporter, env);
            let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
            export_key(&lock, root, &args, &uv, &ctx).unwrap()
        };
        let cache = root.join("cache").display().to_string();
        let env = crate::env::Env::from_pairs([("PYSHIP_CACHE_DIR", cache.as_str())]);
        let first = key(&env, &["export", "--locked"]);
        assert_eq!(key(&env, &["export", "--locked"]), first, "stable");
        assert_ne!(key(&env, &["export", "--locked", "--extra", "x"]), first);
        let mut uv_env = env.clone();
        uv_env.set("UV_INDEX_URL", "http://elsewhere/simple");
        assert_ne!(key(&uv_env, &["export", "--locked"]), first);
        let mut seen = vec![first];
        for (file, text) in [
            (member.join("pyproject.toml"), "[project]\nname = \"aab\"\n"),
            (root.join("pyproject.toml"), "[project]\nname = \"apq\"\n"),
            (root.join("uv.toml"), "offline = true\n"),
            (member.join("uv.toml"), "offline = true\n"),
            (
                lock.clone(),
                "version = 1\n[[package]]\nname = \"aaa\"\nsource = { editable = \"packages/a\" }\n#\n",
            ),
            (uv.clone(), "#!/bin/sh\n# another uv\n"),
        ] {
            write(&file, text);
            let k = key(&env, &["export", "--locked"]);
            assert!(!seen.contains(&k), "{} changed, the key did not", file.display());
            seen.push(k);
        }
        // A lock that is not TOML keeps nothing.
        write(&lock, "not [ toml");
        let ctx = Context::new(&reporter, &env);
        assert!(export_key(&lock, root, &[], &uv, &ctx).is_none());
    }

    #[test]
    fn uv_no_wheel_message_names_the_package() {
        let stderr = "error: No solution found when resolving dependencies\n  cause: Because uvloop==0.23.0 has no wheels with a matching platform tag (e.g., `win_amd64`) and only uvloop==0.23.0 is available, we can conclude that all versions of uvloop cannot be used.\n         And because you require uvloop, we can conclude that your requirements are unsatisfiable.\n";
        match explain_failure(
            stderr,
            "x86_64-pc-windows-msvc",
            "3.11",
            "package.metadata.pyship",
        ) {
            Error::NoWheel {
                package, reason, ..
            } => {
                assert_eq!(package, "uvloop");
                assert!(reason.contains("matching platform tag"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn uv_not_found_message_names_the_package() {
        let stderr = "  cause: Because nosuchpkg was not found in the provided package locations and you require nosuchpkg, we can conclude that your requirements are unsatisfiable.";
        let err = explain_failure(stderr, "p", "3.11", "workspace.metadata.pyship");
        assert!(matches!(&err, Error::NotFound { package, .. } if package == "nosuchpkg"));
        assert_eq!(
            err.to_string(),
            "`nosuchpkg` was not found in the provided package locations"
        );
        // The hint names the table in use.
        assert!(
            err.hint()
                .unwrap()
                .ends_with("`no-index` in [workspace.metadata.pyship]"),
            "{:?}",
            err.hint()
        );
    }

    #[test]
    fn lockfile_round_trips_and_keeps_other_urls() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(LOCK_FILE);
        assert_eq!(Lockfile::read(&p).unwrap().runtimes.len(), 0);
        Lockfile::record(&p, "https://a/x.zip", "aa", false).unwrap();
        Lockfile::record(&p, "https://b/y.zip", "bb", false).unwrap();
        let l = Lockfile::read(&p).unwrap();
        assert_eq!(l.get("https://a/x.zip"), Some("aa"));
        assert_eq!(l.get("https://b/y.zip"), Some("bb"));
        let text = fs_err::read_to_string(&p).unwrap();
        assert!(text.starts_with("# pyship.lock"), "{text}");
        assert!(text.contains("version = 1"), "{text}");
        // --locked: recording what is there is fine, anything new is refused
        // and the file stays as it was.
        Lockfile::record(&p, "https://a/x.zip", "aa", true).unwrap();
        let e = Lockfile::record(&p, "https://c/z.zip", "cc", true).unwrap_err();
        assert!(matches!(e, Error::Locked { .. }), "{e}");
        assert!(e.to_string().contains("https://c/z.zip"), "{e}");
        assert_eq!(fs_err::read_to_string(&p).unwrap(), text);
    }

    #[test]
    fn pins_round_trip_through_pyship_lock() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(LOCK_FILE);
        let mut lock = Lockfile::read(&p).unwrap();
        lock.runtimes.insert("https://a/x.zip".into(), "aa".into());
        lock.deps.insert(
            "windows".into(),
            TargetPins {
                platform: "x86_64-pc-windows-msvc".into(),
                python: "3.11".into(),
                requirements: vec!["idna".into(), "numpy<2".into()],
                packages: vec![Pin {
                    name: "idna".into(),
                    version: "3.6".into(),
                    marker: None,
                    index: None,
                    wheels: vec![PinnedWheel {
                        file: "idna-3.6-py3-none-any.whl".into(),
                        sha256: "c0".repeat(32),
                        url: Some("https://files.example/idna-3.6-py3-none-any.whl".into()),
                    }],
                }],
            },
        );
        lock.write(&p).unwrap();
        assert_eq!(Lockfile::read(&p).unwrap(), lock);
        let text = fs_err::read_to_string(&p).unwrap();
        assert!(text.contains("[deps.windows]"), "{text}");
        assert!(text.contains("[[deps.windows.package]]"), "{text}");
    }

    #[test]
    fn requirements_txt_has_markers_and_every_hash() {
        let pinned = Pinned {
            platform: Platform::Windows,
            lock: DependencyLock::Pyship {
                path: "pyship.lock".into(),
            },
            packages: vec![Pin {
                name: "colorama".into(),
                version: "0.4.6".into(),
                marker: Some("sys_platform == 'win32'".into()),
                index: None,
                wheels: vec![
                    PinnedWheel {
                        file: "b.whl".into(),
                        sha256: "bb".into(),
                        url: None,
                    },
                    PinnedWheel {
                        file: "a.whl".into(),
                        sha256: "aa".into(),
                        url: None,
                    },
                ],
            }],
            changes: vec![],
        };
        assert_eq!(
            pinned.requirements_txt(),
            "colorama==0.4.6 ; sys_platform == 'win32' \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n"
        );
    }

    /// A lock's strings end up in a requirements file: a name, version or
    /// marker that would end the line or add an option, and a malformed
    /// hash, are refused; a wheel without a hash too.
    #[test]
    fn hostile_lock_entries_are_refused() {
        let plan = crate::plan::tests_support::hello_plan();
        let path = Path::new("pylock.toml");
        let good = r#"
[[packages]]
name = "idna"
version = "3.6"
marker = "sys_platform == 'win32'"
wheels = [{ url = "https://x/idna-3.6-py3-none-any.whl", hashes = { sha256 = "c05567e9c24a6b9faaa835c4821bad0590fbb9d5779e7caa6e1cc4978e7eb24f" } }]
"#;
        let pins = from_pylock_text(&plan, path, good).unwrap();
        assert_eq!(pins[0].wheels[0].file, "idna-3.6-py3-none-any.whl");
        for (from, to) in [
            ("name = \"idna\"", "name = \"idna\\n--index-url http://evil\""),
            ("version = \"3.6\"", "version = \"3.6 --hash=sha256:00\""),
            (
                "marker = \"sys_platform == 'win32'\"",
                "marker = \"sys_platform == 'win32' --hash=sha256:00\"",
            ),
            ("marker = \"sys_platform == 'win32'\"", "marker = \"x\\ny\""),
            ("sha256 = \"c0", "sha256 = \"zz"),
            (", hashes = { sha256 = \"c05567e9c24a6b9faaa835c4821bad0590fbb9d5779e7caa6e1cc4978e7eb24f\" }", ""),
        ] {
            let bad = good.replace(from, to);
            assert_ne!(bad, good, "{from}");
            let e = from_pylock_text(&plan, path, &bad).unwrap_err();
            assert!(matches!(e, Error::Unsupported { .. }), "{to}: {e}");
        }
    }

    #[test]
    fn changes_read_like_cargo_update() {
        let pin = |n: &str, v: &str| Pin {
            name: n.into(),
            version: v.into(),
            marker: None,
            index: None,
            wheels: vec![],
        };
        let old = [
            pin("idna", "3.6"),
            pin("six", "1.16.0"),
            pin("Old_Pkg", "1"),
        ];
        let new = [
            pin("idna", "3.7"),
            pin("six", "1.16.0"),
            pin("anyio", "4.0"),
        ];
        let lines: Vec<String> = diff(&old, &new).iter().map(|c| c.to_string()).collect();
        assert_eq!(
            lines,
            [
                "Adding anyio v4.0",
                "Updating idna v3.6 -> v3.7",
                "Removing Old_Pkg v1"
            ]
        );
    }
}
