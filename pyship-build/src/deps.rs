//! Stage: install the app's dependencies for the TARGET platform into the
//! bundle's site-packages.
//!
//! Why uv: environment markers (`sys_platform == "win32"`) must be evaluated
//! for the target, not the build host. `pip download --platform` filters wheel
//! tags only and evaluates markers for the host: `uvicorn[standard]`
//! for Windows then asks for `uvloop`, which has no Windows wheel.
//! `uv pip install --target DIR --python-platform … --python-version …
//! --only-binary :all:` gets it right. uv leaves a `bin/` of Unix-shebang
//! scripts and a `.lock` in the target: both are removed.
//!
//! What is installed is exactly the target's pins ([`crate::pins`]: from
//! `uv.lock`, `pylock.toml` or `pyship.lock`) plus the project's own wheels,
//! with `--no-deps --require-hashes`: uv resolves nothing and checks every
//! file against its locked SHA-256.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::context::Context;
use crate::error::escaped;
use crate::plan::Plan;
use crate::platform::Platform;

/// What the stage installed.
#[derive(Debug, Clone, Serialize)]
pub struct Installed {
    pub site_packages: PathBuf,
    /// The pins installed (`name==version`; markers decide which apply).
    pub requirements: Vec<String>,
    /// The project's own wheels (`wheels = [...]`), after globbing.
    pub wheels: Vec<PathBuf>,
    /// `*.dist-info` directories in site-packages after the install.
    pub packages: Vec<String>,
    /// [`crate::pins::Pinned::key`] of what was installed besides `wheels`.
    pub key: String,
    /// The pins installed, with each wheel's name, URL and hash (the SBOM's
    /// provenance).
    pub pinned: crate::pins::Pinned,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Pins(#[from] crate::pins::Error),
    #[error("{0}")]
    #[diagnostic(help("a bundle installs binary wheels only: lock a version of `{}` that publishes a wheel for this platform, make it conditional with an environment marker in the pyproject, or drop it; then update the lock", escaped(&.0.package)))]
    LockedNoWheel(Box<MissingWheel>),
    #[error("uv could not install the dependencies for {platform}:\n{stderr}")]
    #[diagnostic(help("read uv's message above; it names the requirement that failed"))]
    Uv { platform: String, stderr: String },
    /// uv found a file whose hash is not the locked one.
    #[error("uv could not install the dependencies for {platform}:\n{stderr}")]
    #[diagnostic(help("a downloaded file does not have the hash the lock records: the index serves a different file than the one locked, or the lock was edited; check the lock (uv.lock, pylock.toml or pyship.lock) and the index"))]
    UvHash { platform: String, stderr: String },
    /// `--offline`, and uv's cache lacks a file.
    #[error("uv could not install the dependencies for {platform}:\n{stderr}")]
    #[diagnostic(help("--offline installs only what uv has cached: run `cargo pyship fetch` first (or build once without --offline)"))]
    UvOffline { platform: String, stderr: String },
    #[error("wheel {} is built for `{}`, which cannot run on {platform}", escaped(.file.display()), escaped(.tag))]
    #[diagnostic(help("build the wheel for {platform} (e.g. `maturin build --target {}`), or list it only for the matching platform", wheel_triple(*.platform)))]
    WheelPlatform {
        file: PathBuf,
        tag: String,
        platform: Platform,
    },
    #[error("wheel {} is built for `{}`, which needs a newer glibc than `linux.platform = \"{target}\"`", escaped(.file.display()), escaped(.tag))]
    #[diagnostic(help("build it for {target} (maturin: `--compatibility {}` with `--zig`; a maturin project gets this from `cargo pyship bundle` itself), or raise `linux.platform`", .target.trim_start_matches("x86_64-")))]
    WheelGlibc {
        file: PathBuf,
        tag: String,
        target: String,
    },
    #[error("two wheels of `{}` would be installed: {} and {}", escaped(.dist), escaped(.first.display()), escaped(.second.display()))]
    #[diagnostic(help("remove the stale wheel (a clean build folder per target avoids this: wheels written to $PYSHIP_OUT_DIR by `prebuild` are picked up automatically), or narrow the `wheels` glob"))]
    DuplicateWheel {
        dist: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("wheel {} is version {} of the app, but the release version is {release}", escaped(.file.display()), escaped(.version))]
    #[diagnostic(help("run `cargo pyship version --stamp` and rebuild the wheel, so that it carries the release version"))]
    WheelVersion {
        file: PathBuf,
        version: String,
        release: String,
    },
    #[error("`{}` is not a wheel file name (name-version-python-abi-platform.whl)", escaped(.file.display()))]
    #[diagnostic(help("wheels must keep their PEP 427 file names"))]
    BadWheelName { file: PathBuf },
    #[error("wheels = [\"{}\"] matched no file (relative to {root})", escaped(.pattern))]
    #[diagnostic(help("build the wheels first (prebuild can do that) or fix the path"))]
    NoWheelMatch { pattern: String, root: PathBuf },
    #[error("invalid wheels pattern `{}`", escaped(.pattern))]
    #[diagnostic(help("fix the glob in `wheels`"))]
    BadPattern {
        pattern: String,
        #[source]
        source: globset::Error,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Tool(#[from] crate::tools::RunError),
    #[error("could not clean {path}")]
    Clean {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The target triple a wheel for `platform` is built for.
fn wheel_triple(platform: Platform) -> &'static str {
    match platform {
        Platform::Windows => "x86_64-pc-windows-msvc",
        Platform::Linux => "x86_64-unknown-linux-gnu",
    }
}

impl Error {
    /// uv's install failure, by what its message says went wrong.
    fn uv(platform: String, stderr: String) -> Self {
        if stderr.contains("Hash mismatch") {
            Error::UvHash { platform, stderr }
        } else if stderr.contains("network was disabled")
            || stderr.contains("not found in the cache")
        {
            Error::UvOffline { platform, stderr }
        } else {
            Error::Uv { platform, stderr }
        }
    }
}

/// A locked package without a wheel for the target, with the wheels the lock has.
#[derive(Debug)]
pub struct MissingWheel {
    pub package: String,
    pub version: String,
    pub lock: PathBuf,
    pub platform: String,
    pub python: String,
    pub wheels: Vec<String>,
}

impl std::fmt::Display for MissingWheel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` {}, locked in {}, has no wheel for {} (Python {}); the lock has ",
            escaped(&self.package),
            escaped(&self.version),
            self.lock.display(),
            self.platform,
            self.python
        )?;
        if self.wheels.is_empty() {
            write!(f, "no wheel of it at all (only an sdist)")
        } else {
            // One wheel a line: each escaped, so that the lines are these.
            write!(f, "these wheels of it:")?;
            for w in &self.wheels {
                write!(f, "\n  {}", escaped(w))?;
            }
            Ok(())
        }
    }
}

/// The platform tag of a wheel file name (`…-win_amd64.whl` → `win_amd64`).
pub fn wheel_platform_tag(file: &Path) -> Option<String> {
    Some(crate::packaging::WheelFilename::from_path(file)?.platform_tag())
}

/// Expand `wheels = [...]` of `platform` (globs relative to the manifest dir)
/// and check each wheel's platform tag against `platform`.
pub fn project_wheels(plan: &Plan, platform: Platform) -> Result<Vec<PathBuf>, Error> {
    let root = &plan.project.config_dir;
    let mut out = Vec::new();
    for pattern in &plan.config.for_target(platform).wheels {
        let matched = glob(root, pattern)?;
        if matched.is_empty() {
            return Err(Error::NoWheelMatch {
                pattern: pattern.clone(),
                root: root.clone(),
            });
        }
        for file in matched {
            check_wheel_tag(plan, platform, &file)?;
            out.push(file);
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Check that the wheel `file` can run on `platform`: its platform tag, and on
/// Linux a manylinux glibc no newer than `linux.platform`'s.
pub fn check_wheel_tag(plan: &Plan, platform: Platform, file: &Path) -> Result<(), Error> {
    let tag = wheel_platform_tag(file).ok_or_else(|| Error::BadWheelName {
        file: file.to_owned(),
    })?;
    if !platform.accepts_wheel_platform_tag(&tag) {
        return Err(Error::WheelPlatform {
            file: file.to_owned(),
            tag,
            platform,
        });
    }
    if platform == Platform::Linux && tag != "any" {
        let target = &plan.config.linux.platform;
        let want = crate::platform::manylinux_glibc(target);
        // The wheel fits when one of its tags needs no newer glibc than the target.
        let fits = tag.split('.').any(|t| {
            t == "any"
                || t.starts_with("musllinux")
                || matches!((crate::platform::manylinux_glibc(t), want), (Some(have), Some(want)) if have <= want)
        });
        if !fits {
            return Err(Error::WheelGlibc {
                file: file.to_owned(),
                tag,
                target: target.clone(),
            });
        }
    }
    Ok(())
}

/// A wheel file name's distribution (normalized) and version.
pub fn wheel_dist_version(file: &Path) -> Option<(String, String)> {
    let w = crate::packaging::WheelFilename::from_path(file)?;
    Some((crate::project::normalize_dist_name(&w.name), w.version))
}

/// Check the wheels a target installs besides its requirements: one wheel per
/// distribution (two are a stale build left next to a fresh one), and the
/// app's own wheel at the release version.
pub fn check_own_wheels(plan: &Plan, wheels: &[PathBuf]) -> Result<(), Error> {
    let mut seen: std::collections::BTreeMap<String, &PathBuf> = Default::default();
    for w in wheels {
        let (dist, version) =
            wheel_dist_version(w).ok_or_else(|| Error::BadWheelName { file: w.clone() })?;
        if let Some(first) = seen.get(&dist) {
            return Err(Error::DuplicateWheel {
                dist,
                first: (*first).clone(),
                second: w.clone(),
            });
        }
        let release = plan.version.version.pep440();
        if dist == plan.dist_name && !same_version(&version, &release) {
            return Err(Error::WheelVersion {
                file: w.clone(),
                version,
                release,
            });
        }
        seen.insert(dist, w);
    }
    Ok(())
}

/// Whether two PEP 440 spellings are the same version (`0.3.0rc1` and `0.3.0-rc.1`).
fn same_version(a: &str, b: &str) -> bool {
    let norm = |v: &str| {
        crate::version::Version::parse_from(v, None)
            .map(|v| v.pep440())
            .unwrap_or_else(|_| v.to_ascii_lowercase())
    };
    norm(a) == norm(b)
}

/// Files under `root` matching `pattern`; walks only below the pattern's
/// literal prefix (so `target/wheels/*.whl` does not walk the whole project).
fn glob(root: &Path, pattern: &str) -> Result<Vec<PathBuf>, Error> {
    let literal: Vec<&str> = pattern
        .split('/')
        .take_while(|c| !c.contains(['*', '?', '[', '{']))
        .collect();
    let base = root.join(literal.join("/"));
    if literal.len() == pattern.split('/').count() {
        return Ok(if base.is_file() { vec![base] } else { vec![] });
    }
    let matcher = globset::Glob::new(pattern)
        .map_err(|source| Error::BadPattern {
            pattern: pattern.to_owned(),
            source,
        })?
        .compile_matcher();
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(&base).sort_by_file_name() {
        let Ok(e) = e else { continue };
        if !e.file_type().is_file() {
            continue;
        }
        if let Ok(rel) = e.path().strip_prefix(root) {
            if matcher.is_match(rel) {
                out.push(e.path().to_owned());
            }
        }
    }
    Ok(out)
}

/// The uv command line installing the requirements file `reqs` (pins and
/// the project's own wheels, every line with its hash) into `site_packages`:
/// no dependency of anything is resolved, every file is checked against its
/// hash. `python`: the interpreter uv must use (and never download another).
#[allow(clippy::too_many_arguments)]
pub fn uv_command(
    mut cmd: crate::process::Command,
    plan: &Plan,
    platform: Platform,
    site_packages: &Path,
    reqs: &Path,
    indexes: &[String],
    offline: bool,
    python: Option<&Path>,
) -> crate::process::Command {
    cmd.args(["pip", "install", "--target"]).arg(site_packages);
    if let Some(py) = python {
        cmd.arg("--python").arg(py).arg("--no-python-downloads");
    }
    // The full version the bundle ships: with `X.Y` alone, uv evaluates a
    // lock's `python_full_version` markers for `X.Y.0`.
    cmd.args(["--python-platform", &plan.config.uv_platform(platform)])
        .args(["--python-version", &plan.python.full])
        .args(["--only-binary", ":all:"])
        .args(["--no-deps", "--require-hashes"])
        // Hard links into uv's cache (uv copies when the cache is on another
        // file system): a warm install of the hello fixture takes 1.2 s
        // instead of 3.5 s. Safe because no later stage writes a file in place: strip
        // removes files and replaces stripped binaries by rename, compile
        // writes new `.pyc` files, the tree is deleted, never edited.
        .args(["--link-mode", "hardlink"])
        .args(["--color", "never", "--no-progress"])
        .args(crate::pins::index_args(plan, platform, indexes));
    if offline {
        cmd.arg("--offline");
    }
    cmd.arg("-r").arg(reqs);
    cmd
}

/// The requirement line of one of the project's own wheels: by file URL,
/// with its hash (uv's `--require-hashes` wants one on every line).
fn own_wheel_line(wheel: &Path, ctx: &Context<'_>) -> Result<String, Error> {
    let clean = |source| Error::Clean {
        path: wheel.to_owned(),
        source,
    };
    let (dist, _) = wheel_dist_version(wheel).ok_or_else(|| Error::BadWheelName {
        file: wheel.to_owned(),
    })?;
    let abs = fs_err::canonicalize(wheel).map_err(clean)?;
    let url = reqwest::Url::from_file_path(&abs)
        .map_err(|()| clean(std::io::Error::other("not an absolute path")))?;
    let sha = ctx.cache.sha256_file(wheel).map_err(clean)?;
    Ok(format!("{dist} @ {url} \\\n    --hash=sha256:{sha}\n"))
}

/// Install the dependencies for `platform` into `site_packages`: exactly the
/// target's pins (`pinned`, from [`crate::pins::for_target`]), with the wheels the
/// [`wheel`](crate::wheel) stage built (`built`) and the configured ones.
pub fn run(
    plan: &Plan,
    platform: Platform,
    site_packages: &Path,
    built: &[PathBuf],
    pinned: crate::pins::Pinned,
    ctx: &Context<'_>,
) -> Result<Installed, Error> {
    let mut wheels = built.to_vec();
    for w in &wheels {
        check_wheel_tag(plan, platform, w)?;
    }
    wheels.extend(project_wheels(plan, platform)?);
    wheels.dedup();
    check_own_wheels(plan, &wheels)?;
    fs_err::create_dir_all(site_packages).map_err(|source| Error::Clean {
        path: site_packages.to_owned(),
        source,
    })?;
    let mut reqs = pinned.requirements_txt();
    for w in &wheels {
        reqs.push_str(&own_wheel_line(w, ctx)?);
    }
    if !pinned.packages.is_empty() || !wheels.is_empty() {
        let file = plan
            .work_dir
            .join("requirements")
            .join(format!("{}.txt", platform.key()));
        if let Some(dir) = file.parent() {
            fs_err::create_dir_all(dir).map_err(|source| Error::Clean {
                path: dir.to_owned(),
                source,
            })?;
        }
        fs_err::write(&file, &reqs).map_err(|source| Error::Clean {
            path: file.clone(),
            source,
        })?;
        let uv_exe = crate::tools::UV
            .find(ctx.env)
            .map_err(crate::tools::RunError::from)?;
        let python = crate::pins::host_interpreter(plan, platform);
        let index = crate::pins::index_args(plan, platform, &pinned.indexes());
        let key = install_key(plan, platform, &reqs, &index, &uv_exe, python.as_deref());
        let entry = ctx.cache.bucket(INSTALLS).join(&key);
        if entry.is_dir() {
            ctx.reporter.status(
                "Reusing",
                &format!(
                    "{} pinned package(s) and {} own wheel(s) for {} (Python {}, from {}), installed from the same inputs before",
                    pinned.packages.len(),
                    wheels.len(),
                    plan.config.uv_platform(platform),
                    plan.python.xy,
                    pinned.lock.path().display()
                ),
            );
        } else {
            install(
                plan,
                platform,
                &pinned,
                wheels.len(),
                &file,
                &entry,
                python.as_deref(),
                ctx,
            )?;
        }
        crate::fs::link_tree(&entry, site_packages).map_err(|e| Error::Clean {
            path: site_packages.to_owned(),
            source: std::io::Error::other(e),
        })?;
    }
    clean(site_packages, &plan.write_roots(&ctx.cache))?;
    let packages = dist_infos(site_packages);
    ctx.reporter.status(
        "Installed",
        &format!(
            "{} packages into {}",
            packages.len(),
            site_packages.display()
        ),
    );
    Ok(Installed {
        site_packages: site_packages.to_owned(),
        requirements: pinned
            .packages
            .iter()
            .map(|p| format!("{}=={}", p.name, p.version))
            .collect(),
        wheels,
        packages,
        key: pinned.key(plan),
        pinned,
    })
}

/// The cache bucket of installed dependency trees, one per [`install_key`].
pub const INSTALLS: &str = "installs-v0";

/// What an installed tree is made from: the requirements file (every pin
/// and own wheel with its hash), the target platform and Python, the index
/// settings, the interpreter uv is pointed at, the uv binary (path, size,
/// modification time) and this tool's version.
fn install_key(
    plan: &Plan,
    platform: Platform,
    reqs: &str,
    index: &[String],
    uv: &Path,
    python: Option<&Path>,
) -> String {
    let stamp = |p: &Path| match crate::fs::size_and_mtime(p) {
        Some(s) => format!("{} {s}", p.display()),
        None => p.display().to_string(),
    };
    crate::fs::sha256_hex(
        format!(
            "{}\n{} {} {}\n{}\nuv {}\npython {}\n{}",
            env!("CARGO_PKG_VERSION"),
            platform.key(),
            plan.config.uv_platform(platform),
            plan.python.full,
            index.join(" "),
            stamp(uv),
            python.map(stamp).unwrap_or_default(),
            reqs
        )
        .as_bytes(),
    )
}

/// Run uv to install the requirements file `reqs` into a staging folder of
/// the cache, clean it, and rename it to `entry`.
#[allow(clippy::too_many_arguments)]
fn install(
    plan: &Plan,
    platform: Platform,
    pinned: &crate::pins::Pinned,
    own_wheels: usize,
    reqs: &Path,
    entry: &Path,
    python: Option<&Path>,
    ctx: &Context<'_>,
) -> Result<(), Error> {
    let staging = ctx.cache.staging(INSTALLS).map_err(|source| Error::Clean {
        path: ctx.cache.incoming(INSTALLS),
        source,
    })?;
    let target = staging.path();
    ctx.reporter.status(
        "Installing",
        &format!(
            "{} pinned package(s) and {own_wheels} own wheel(s) for {} (Python {}, from {})",
            pinned.packages.len(),
            plan.config.uv_platform(platform),
            plan.python.xy,
            pinned.lock.path().display()
        ),
    );
    let cmd = uv_command(
        crate::pins::uv(ctx)?,
        plan,
        platform,
        target,
        reqs,
        &pinned.indexes(),
        ctx.offline,
        python,
    );
    ctx.reporter.debug(&format!("running {}", cmd.shown()));
    let out = cmd.output().map_err(crate::tools::RunError::from)?;
    if !out.success() {
        let table = plan.project.config_source.table.key();
        let uv_platform = plan.config.uv_platform(platform);
        return Err(
            match crate::pins::explain_failure(&out.stderr, &uv_platform, &plan.python.xy, table) {
                crate::pins::Error::NoWheel { package, .. } if pinned.get(&package).is_some() => {
                    let pin = pinned.get(&package).expect("checked");
                    Error::LockedNoWheel(Box::new(MissingWheel {
                        package: pin.name.clone(),
                        version: pin.version.clone(),
                        lock: pinned.lock.path().to_owned(),
                        platform: uv_platform,
                        python: plan.python.xy.clone(),
                        wheels: pin.wheels.iter().map(|w| w.file.clone()).collect(),
                    }))
                }
                crate::pins::Error::Uv { platform, .. } => {
                    Error::uv(platform, format!("`{}`:\n{}", out.command, out.tail()))
                }
                other => other.into(),
            },
        );
    }
    ctx.reporter.debug(out.stderr.trim());
    clean(target, &[ctx.cache.root()])?;
    // Into the cache by rename: a crash never leaves a half-filled entry.
    let staged = staging.keep();
    if entry.is_dir() {
        let _ = crate::fs::remove_dir_if_exists(entry, &[ctx.cache.root()]);
    }
    fs_err::rename(&staged, entry).map_err(|source| Error::Clean {
        path: entry.to_owned(),
        source,
    })
}

/// Where uv puts console scripts under `--target`: `bin/` (Unix-shebang
/// scripts, on a Linux host) or `Scripts/` (`.exe` launchers, on a Windows
/// host). Neither runs from a bundle, which starts the app with `-m`.
const SCRIPT_DIRS: &[&str] = &["bin", "Scripts"];

/// Remove what uv leaves that a bundle must not carry: the console scripts
/// (`SCRIPT_DIRS`), their lines in each `RECORD` (which would otherwise name
/// missing files, and differ between a Linux and a Windows host), and lock
/// files. `roots`: where removing is allowed
/// ([`crate::fs::remove_dir_if_exists`]).
pub fn clean(site_packages: &Path, roots: &[&Path]) -> Result<(), Error> {
    let err = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Clean { path, source }
    };
    for dir in SCRIPT_DIRS {
        let bin = site_packages.join(dir);
        crate::fs::remove_dir_if_exists(&bin, roots).map_err(|e| Error::Clean {
            path: bin.clone(),
            source: std::io::Error::other(e),
        })?;
    }
    for entry in fs_err::read_dir(site_packages).map_err(err(site_packages))? {
        let entry = entry.map_err(err(site_packages))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == ".lock" || name.ends_with(".lock") && entry.path().is_file() {
            fs_err::remove_file(entry.path()).map_err(err(&entry.path()))?;
        } else if name.ends_with(".dist-info") {
            let record = entry.path().join("RECORD");
            if let Ok(text) = fs_err::read_to_string(&record) {
                let lines = crate::packaging::record_lines(&text).map_err(|e| Error::Clean {
                    path: record.clone(),
                    source: std::io::Error::other(e),
                })?;
                let kept: String = lines
                    .iter()
                    .filter(|line| {
                        !SCRIPT_DIRS.iter().any(|d| {
                            line.path
                                .strip_prefix(d)
                                .is_some_and(|r| r.starts_with('/'))
                        })
                    })
                    .map(|line| line.raw)
                    .collect();
                // By rename: the file may be a hard link into a cache.
                if kept.len() != text.len() {
                    crate::fs::atomic_write(&record, kept.as_bytes()).map_err(|e| {
                        Error::Clean {
                            path: record.clone(),
                            source: std::io::Error::other(e),
                        }
                    })?;
                }
            }
        }
    }
    Ok(())
}

/// Names of the `*.dist-info` directories, sorted.
pub fn dist_infos(site_packages: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs_err::read_dir(site_packages)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".dist-info"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wheel_tags_parse() {
        assert_eq!(
            wheel_platform_tag(Path::new("a/numpy-1.26.4-cp311-cp311-win_amd64.whl")).as_deref(),
            Some("win_amd64")
        );
        assert_eq!(
            wheel_platform_tag(Path::new("x-1.0-1-py3-none-any.whl")).as_deref(),
            Some("any")
        );
        assert_eq!(wheel_platform_tag(Path::new("x.whl")), None);
    }

    #[test]
    fn clean_removes_bin_and_locks() {
        let d = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(d.path().join("bin")).unwrap();
        fs_err::write(d.path().join("bin/uvicorn"), "#!/usr/bin/python").unwrap();
        fs_err::write(d.path().join(".lock"), "").unwrap();
        fs_err::create_dir_all(d.path().join("pkg")).unwrap();
        fs_err::create_dir_all(d.path().join("Scripts")).unwrap();
        fs_err::write(d.path().join("Scripts/uvicorn.exe"), "MZ").unwrap();
        fs_err::create_dir_all(d.path().join("pkg-1.0.dist-info")).unwrap();
        let record = "pkg/__init__.py,sha256=x,1\r\nbin/uvicorn,sha256=y,2\r\nScripts/uvicorn.exe,sha256=z,3\r\nbinary/x.py,,\r\npkg-1.0.dist-info/RECORD,,\r\n";
        fs_err::write(d.path().join("pkg-1.0.dist-info/RECORD"), record).unwrap();
        clean(d.path(), &[d.path()]).unwrap();
        assert!(!d.path().join("bin").exists());
        assert!(!d.path().join("Scripts").exists());
        assert!(!d.path().join(".lock").exists());
        assert!(d.path().join("pkg").exists());
        // RECORD names no removed script; everything else is kept byte for byte.
        assert_eq!(
            fs_err::read_to_string(d.path().join("pkg-1.0.dist-info/RECORD")).unwrap(),
            "pkg/__init__.py,sha256=x,1\r\nbinary/x.py,,\r\npkg-1.0.dist-info/RECORD,,\r\n"
        );
    }
}
