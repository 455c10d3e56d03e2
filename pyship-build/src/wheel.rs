//! Stage: the project's own wheels for one target, before its dependencies
//! are installed: the target's `prebuild` command, then (for a maturin
//! project) the Rust extension's wheel.
//!
//! Why a stage of its own: a Rust-plus-Python app is only shippable when its
//! Rust half is built for the target, at the release version, and nothing
//! stale comes along. Each target gets its own clean folder
//! (`{out}/.pyship/wheels/{target}/`), which is also the prebuild's
//! `PYSHIP_OUT_DIR`; every wheel in it is installed with the dependencies.
//!
//! maturin builds Windows wheels for `x86_64-pc-windows-gnu` with the
//! mingw-w64 linker (PyO3's `generate-import-lib` or abi3 spares a Windows
//! Python), and Linux wheels for the manylinux glibc of `linux.platform`:
//! with `--zig` when the build host's glibc is newer than the target's
//! (a wheel linked against the host's glibc would not load there). A built
//! wheel is cached under its inputs (sources, Cargo.lock, target, version,
//! maturin and rustc versions), so a warm bundle runs no compiler at all.

use crate::process::{self, Command};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::context::Context;
use crate::error::escaped;
use crate::plan::Plan;
use crate::platform::Platform;
use crate::tools;

mod build;
mod key;
mod normalize;
mod toolchain;

use build::{maturin, python_wheel};
pub use normalize::normalize_wheel;
use toolchain::MaturinCommand;
pub use toolchain::{host_glibc, preflight};

pub use crate::config::DEFAULT_WINDOWS_RUST_TARGET;
pub use crate::platform::manylinux_glibc;
pub use crate::tools::MINGW_GCC;

/// The Rust target of Linux wheels.
pub const LINUX_RUST_TARGET: &str = "x86_64-unknown-linux-gnu";
/// maturin versions used through `uv tool run` when no `maturin` is installed.
pub const MATURIN_REQUIREMENT: &str = "maturin>=1.5,<2";

/// Cache bucket of built wheels.
pub const BUCKET: &str = "rust-wheels-v0";
/// Cache bucket of the Cargo target folders of local packages whose Cargo
/// workspace is outside the project (one folder each, by its path).
pub const CARGO_TARGETS: &str = "cargo-targets-v0";

pub const MATURIN: tools::Tool = tools::Tool {
    exe: "maturin",
    env_override: Some(crate::env::PYSHIP_MATURIN),
    install: "`pip install maturin` (PyPI package `maturin`), or install uv (`pip install uv`) and cargo-pyship runs maturin through `uv tool run`",
    purpose: "build the project's Rust extension wheel (its pyproject's build backend is maturin)",
    install_windows: "`pip install maturin` (PyPI package `maturin`; maturin.exe lands next to that Python), or install uv and cargo-pyship runs maturin through `uv tool run`",
    windows_places: tools::WindowsPlaces::NextToPython,
};
pub const MINGW_DLLTOOL: tools::Tool = tools::Tool {
    exe: "x86_64-w64-mingw32-dlltool",
    env_override: None,
    install:
        "`apt-get install binutils-mingw-w64-x86-64` (Debian package `binutils-mingw-w64-x86-64`)",
    purpose: "make the python3.dll import library PyO3 links Windows extensions against",
    install_windows: "MSYS2's `mingw-w64-x86_64-binutils`, on PATH",
    windows_places: tools::WindowsPlaces::None,
};
pub const CARGO: tools::Tool = tools::Tool {
    exe: "cargo",
    env_override: None,
    install: "rustup (https://rustup.rs)",
    purpose: "compile the project's Rust extension",
    install_windows: "rustup (https://rustup.rs)",
    windows_places: tools::WindowsPlaces::None,
};

/// One step of a target's build, as `plan` shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TargetBuild {
    pub platform: Platform,
    /// The Rust target triple (`PYSHIP_TARGET_TRIPLE`).
    pub triple: String,
    /// The clean folder whose wheels are installed (`PYSHIP_OUT_DIR`).
    pub out_dir: PathBuf,
    /// The `prebuild` command, run with `sh -c` (`cmd /C` on a Windows host) in `working_dir`.
    pub prebuild: Option<String>,
    /// Where the prebuild runs: the folder of the Cargo.toml with the pyship table.
    pub working_dir: PathBuf,
    /// The maturin build of the project's own wheel, when it is a maturin project.
    pub maturin: Option<MaturinBuild>,
    /// The app's local packages ([`crate::local_deps`]), each built from
    /// its sources into `out_dir` too.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub local: Vec<LocalBuild>,
}

impl TargetBuild {
    /// The maturin builds of this target: the project's own wheel, then the
    /// local packages maturin builds.
    pub fn maturin_builds(&self) -> impl Iterator<Item = &MaturinBuild> {
        self.maturin
            .iter()
            .chain(self.local.iter().filter_map(|l| l.maturin.as_ref()))
    }
}

/// The build of one local package of the app.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LocalBuild {
    /// Its `[project].name`.
    pub name: String,
    /// Its folder (where the build runs).
    pub project_dir: PathBuf,
    /// maturin's build, for a maturin project; `None`: a pure-Python
    /// project, built with `uv build --wheel` (any PEP 517 backend).
    pub maturin: Option<MaturinBuild>,
}

/// The glibc (X, Y) of the manylinux platform `linux.platform` names; an
/// error when it names none.
fn target_glibc(plan: &Plan) -> Result<(u32, u32), Error> {
    let p = &plan.config.linux.platform;
    manylinux_glibc(p).ok_or_else(|| Error::LinuxPlatform {
        platform: p.clone(),
    })
}

/// `maturin build` for one target.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MaturinBuild {
    /// The Python project maturin builds (`[project].name`).
    #[serde(skip)]
    pub name: String,
    /// The Cargo.toml maturin builds.
    #[serde(skip)]
    pub manifest: PathBuf,
    /// Where maturin runs (the pyproject's folder).
    pub project_dir: PathBuf,
    /// The Python packages and modules maturin packs into the wheel (a
    /// folder or a `.py` file each, which may not exist).
    #[serde(skip)]
    pub packs: Vec<PathBuf>,
    /// maturin's arguments (after the program).
    pub args: Vec<String>,
    /// `--compatibility` (Linux: the manylinux tag of `linux.platform`).
    pub compatibility: Option<String>,
    /// Whether the build links with zig (for a glibc older than the host's).
    pub zig: bool,
}

/// What the stage produced for one target.
#[derive(Debug, Clone, Serialize)]
pub struct Built {
    pub platform: Platform,
    pub out_dir: PathBuf,
    /// Every wheel in `out_dir`, sorted.
    pub wheels: Vec<PathBuf>,
    /// The maturin wheel came from the cache (no compiler ran).
    pub cached: bool,
    /// Seconds spent in the maturin build (0 when cached or none).
    pub build_seconds: f64,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Tool(#[from] tools::RunError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Wheels(#[from] crate::deps::Error),
    #[error("{} does not run in {}, where maturin builds the wheel: {output}", program.display(), dir.display())]
    #[diagnostic(help("a `.python-version` in {} may select a Python without it (a pyenv shim runs only where the selected version has the program): install maturin there (`pip install maturin ziglang`), or point PYSHIP_MATURIN at a maturin that runs", .dir.display()))]
    MaturinDoesNotRun {
        program: PathBuf,
        dir: PathBuf,
        output: String,
    },
    #[error("the Rust target `{}` is not installed for the toolchain at {sysroot}", escaped(.triple))]
    #[diagnostic(help("install it with `rustup target add {}`", escaped(.triple)))]
    RustTarget { triple: String, sysroot: PathBuf },
    #[error("could not ask rustc for its sysroot: {message}")]
    #[diagnostic(help("check that `rustc --print sysroot` works in the project folder"))]
    Rustc { message: String },
    #[error("the Linux wheel must run on {} (glibc {want}), but this host has glibc {host} and zig was not found for `maturin --zig`", escaped(.platform))]
    #[diagnostic(help("install zig for maturin with `pip install ziglang` (PyPI package `ziglang`) into the `python3` found on PATH in the project's folder (a `.python-version` may pick another one there){}", .host_platform.as_ref().map(|p| format!(", or set `linux.platform = \"{p}\"` if the target machines have this host's glibc")).unwrap_or_default()))]
    NoZig {
        platform: String,
        want: String,
        host: String,
        /// The newest `linux.platform` this host's glibc can build for
        /// without zig, when there is one.
        host_platform: Option<String>,
    },
    #[error("`linux.platform = \"{}\"` is not a manylinux platform maturin can build for", escaped(.platform))]
    #[diagnostic(help("use a platform such as \"x86_64-manylinux_2_28\" (manylinux_X_Y, manylinux2014 or x86_64-unknown-linux-gnu)"))]
    LinuxPlatform { platform: String },
    #[error("the release version is {release}, but maturin builds {} at its Cargo version {} ({manifest})", escaped(.package), escaped(.cargo))]
    #[diagnostic(help("run `cargo pyship version --stamp` first (`release` does it), so that Cargo.toml carries the release version"))]
    VersionMismatch {
        release: String,
        cargo: String,
        package: String,
        manifest: PathBuf,
    },
    #[error("prebuild command `{}` for {platform} failed ({status}):\n{output}", escaped(.command))]
    #[diagnostic(help("fix the command (its output is above) or `prebuild` in the pyship table; it runs in the folder of the Cargo.toml that has the table"))]
    Prebuild {
        platform: Platform,
        command: String,
        status: String,
        output: String,
    },
    #[error("maturin failed to build the {} wheel ({status}): `{}`\n{output}", escaped(.triple), escaped(.command))]
    #[diagnostic(help("read maturin's output above; `maturin build` with the same arguments in the pyproject's folder shows the same error"))]
    Build {
        triple: String,
        status: String,
        /// The maturin command line.
        command: String,
        output: String,
    },
    #[error("`uv build` failed on the local package {}: `{}`\n{output}", escaped(.name), escaped(.command))]
    #[diagnostic(help("read the build backend's output above; `uv build --wheel {}` shows the same error", dir.display()))]
    UvBuild {
        name: String,
        dir: PathBuf,
        command: String,
        output: String,
    },
    #[error("the local package {} is built by cargo in {}, outside the project {}, and that Cargo workspace has no Cargo.lock", escaped(.name), workspace.display(), project.display())]
    #[diagnostic(help("cargo-pyship writes nothing outside the project and its output: make the lock there once yourself (`cargo generate-lockfile --manifest-path {}`), or move the package into the project", workspace.join("Cargo.toml").display()))]
    OutsideLock {
        name: String,
        workspace: PathBuf,
        project: PathBuf,
    },
    #[error(
        "could not remove {path}, which the build backend of a local package left in its sources"
    )]
    #[diagnostic(help("remove it by hand; it is not part of the package's sources"))]
    Leftover {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("refusing to build the {} wheel: {} is {kind}, not a regular file, in a folder its build backend reads", escaped(.what), escaped(.path.display()))]
    #[diagnostic(help("remove {} or replace it by a regular file (or move it out of {}): reading a named pipe, socket or device could block the build forever", escaped(.path.display()), .root.display()))]
    SpecialSource {
        /// The package whose build reads it.
        what: String,
        path: PathBuf,
        kind: &'static str,
        /// The source folder walked (a local package's, the project's).
        root: PathBuf,
    },
    #[error("maturin finished but left no wheel in {dir}")]
    #[diagnostic(help("check `[tool.maturin]` in pyproject.toml"))]
    NoWheel { dir: PathBuf },
    #[error("could not prepare {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

// maturin, cargo, uv and the prebuild command are found and run at many
// places here: each `?` wraps what it got in the one `Tool` variant.
impl From<tools::Error> for Error {
    fn from(e: tools::Error) -> Self {
        Self::Tool(e.into())
    }
}

impl From<crate::process::Error> for Error {
    fn from(e: crate::process::Error) -> Self {
        Self::Tool(e.into())
    }
}

/// The Rust target triple of `platform`'s wheels.
pub fn triple(plan: &Plan, platform: Platform) -> String {
    match platform {
        Platform::Windows => plan.config.windows.rust_target.clone(),
        Platform::Linux => LINUX_RUST_TARGET.to_owned(),
    }
}

/// The builds of `platform` (no side effects).
pub fn planned(plan: &Plan, platform: Platform) -> Result<TargetBuild, Error> {
    let triple = triple(plan, platform);
    let settings = plan.config.for_target(platform);
    let out_dir = plan.work_dir.join("wheels").join(platform.key());
    let py = plan.pyproject();
    let maturin = if py.is_maturin() {
        Some(maturin_build(plan, platform, py, &triple, &out_dir)?)
    } else {
        None
    };
    let mut local = Vec::new();
    for l in &plan.local_packages {
        local.push(LocalBuild {
            name: l.name.clone(),
            project_dir: l.dir().to_owned(),
            maturin: l
                .pyproject
                .is_maturin()
                .then(|| maturin_build(plan, platform, &l.pyproject, &triple, &out_dir))
                .transpose()?,
        });
    }
    Ok(TargetBuild {
        platform,
        triple,
        out_dir,
        prebuild: settings.prebuild,
        working_dir: plan.project.config_dir.clone(),
        maturin,
        local,
    })
}

/// maturin's build of the project `py` for `platform`, into `out_dir`.
fn maturin_build(
    plan: &Plan,
    platform: Platform,
    py: &crate::project::Pyproject,
    triple: &str,
    out_dir: &Path,
) -> Result<MaturinBuild, Error> {
    let mut args: Vec<String> = vec![
        "build".into(),
        "--release".into(),
        "--target".into(),
        triple.to_owned(),
    ];
    let mut compatibility = None;
    let mut zig = false;
    match platform {
        Platform::Windows => {
            // Cross builds use maturin's bundled sysconfig for this X.Y
            // (abi3 crates ignore it).
            args.extend(["--interpreter".into(), format!("python{}", plan.python.xy)]);
        }
        Platform::Linux => {
            let (x, y) = target_glibc(plan)?;
            let tag = format!("manylinux_{x}_{y}");
            args.extend(["--compatibility".into(), tag.clone()]);
            compatibility = Some(tag);
            zig = host_glibc().is_none_or(|h| h > (x, y));
            if zig {
                args.push("--zig".into());
            }
            if which::which(format!("python{}", plan.python.xy)).is_ok() {
                args.extend(["--interpreter".into(), format!("python{}", plan.python.xy)]);
            }
        }
    }
    if plan.config.strip.debug_symbols {
        // Linked without a symbol table: the bundle strips symbols anyway, and
        // a MinGW extension's table names the Cargo target folder (the import
        // library's path), which would make its bytes depend on where it was
        // built (`strip --strip-unneeded` keeps those names).
        args.push("--strip".into());
    }
    args.extend(["--out".into(), out_dir.display().to_string()]);
    let manifest = if std::ptr::eq(py, plan.pyproject()) {
        maturin_manifest(plan)
    } else {
        py.maturin_manifest()
            .unwrap_or_else(|| py.dir().join("Cargo.toml"))
    };
    let packs = match crate::layout::maturin_wheel(py) {
        Some(w) => w
            .packages
            .iter()
            .flat_map(|p| [w.python_root.join(p), w.python_root.join(format!("{p}.py"))])
            .collect(),
        None => vec![py.dir().to_owned()],
    };
    Ok(MaturinBuild {
        name: py.name.clone(),
        manifest,
        project_dir: py.dir().to_owned(),
        packs,
        args,
        compatibility,
        zig,
    })
}

/// The Cargo.toml maturin builds: `[tool.maturin] manifest-path`, else the
/// pyproject's neighbour, else the selected package's.
pub fn maturin_manifest(plan: &Plan) -> PathBuf {
    let py = plan.pyproject();
    let configured = py
        .maturin
        .as_ref()
        .and_then(|m| m.manifest_path.as_ref())
        .map(|m| py.dir().join(m));
    configured
        .or_else(|| Some(py.dir().join("Cargo.toml")).filter(|p| p.is_file()))
        .unwrap_or_else(|| plan.project.manifest_path.clone())
}

/// The version in `manifest` as it is on disk now (after a stamp), following
/// `version.workspace = true` to the workspace's `[workspace.package]`.
fn cargo_version_on_disk(plan: &Plan, manifest: &Path) -> Option<String> {
    let read = |p: &Path| -> Option<toml_edit::DocumentMut> {
        crate::fs::read_small_to_string(p).ok()?.parse().ok()
    };
    let doc = read(manifest)?;
    let v = doc.get("package")?.get("version")?;
    if let Some(s) = v.as_str() {
        return Some(s.to_owned());
    }
    if v.get("workspace").and_then(|w| w.as_bool()) == Some(true) {
        let ws = read(&plan.project.workspace_manifest)?;
        return ws
            .get("workspace")?
            .get("package")?
            .get("version")?
            .as_str()
            .map(str::to_owned);
    }
    None
}

/// Check that maturin will build the release version: the version of the
/// Cargo package it builds (as on disk now), as PEP 440, must be the release's.
pub fn check_version(plan: &Plan) -> Result<(), Error> {
    let py = plan.pyproject();
    if !py.is_maturin() || !py.dynamic_version {
        return Ok(());
    }
    let manifest = maturin_manifest(plan);
    let on_disk = cargo_version_on_disk(plan, &manifest)
        .unwrap_or_else(|| plan.project.cargo_version.clone());
    let release = plan.version.version.pep440();
    let cargo = crate::version::Version::parse_from(&on_disk, None)
        .map(|v| v.pep440())
        .unwrap_or(on_disk);
    if cargo != release {
        return Err(Error::VersionMismatch {
            release,
            cargo,
            package: py.name.clone(),
            manifest,
        });
    }
    Ok(())
}

/// The environment of a target's prebuild.
pub fn prebuild_env(plan: &Plan, build: &TargetBuild) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("PYSHIP_TARGET", build.platform.key().to_owned()),
        ("PYSHIP_TARGET_TRIPLE", build.triple.clone()),
        ("PYSHIP_PYTHON_VERSION", plan.python.full.clone()),
        ("PYSHIP_VERSION", plan.version.version.pep440()),
        ("PYSHIP_OUT_DIR", build.out_dir.display().to_string()),
        // The build's epoch, so what the prebuild makes can be reproduced.
        (crate::env::SOURCE_DATE_EPOCH, plan.epoch.value()),
    ])
}

/// Run the target's prebuild and maturin build into its clean folder.
pub fn run(plan: &Plan, platform: Platform, ctx: &Context<'_>) -> Result<Built, Error> {
    let b = planned(plan, platform)?;
    crate::fs::remove_dir_if_exists(&b.out_dir, &plan.write_roots(&ctx.cache)).map_err(|e| {
        Error::Io {
            path: b.out_dir.clone(),
            source: std::io::Error::other(e),
        }
    })?;
    fs_err::create_dir_all(&b.out_dir).map_err(|source| Error::Io {
        path: b.out_dir.clone(),
        source,
    })?;
    if let Some(command) = &b.prebuild {
        prebuild(plan, &b, command, ctx)?;
    }
    let mut cached = false;
    let mut build_seconds = 0.0;
    if let Some(m) = &b.maturin {
        check_version(plan)?;
        let t = Instant::now();
        cached = maturin(plan, &b, m, true, ctx)?;
        if !cached {
            build_seconds = t.elapsed().as_secs_f64();
        }
    }
    for l in &b.local {
        let t = Instant::now();
        let hit = match &l.maturin {
            Some(m) => maturin(plan, &b, m, false, ctx)?,
            None => python_wheel(plan, &b, l, ctx)?,
        };
        if !hit {
            build_seconds += t.elapsed().as_secs_f64();
        }
    }
    let wheels = wheels_in(&b.out_dir)?;
    Ok(Built {
        platform,
        out_dir: b.out_dir,
        wheels,
        cached,
        build_seconds,
    })
}

fn prebuild(plan: &Plan, b: &TargetBuild, command: &str, ctx: &Context<'_>) -> Result<(), Error> {
    ctx.reporter.status(
        "Running",
        &format!("prebuild `{}` ({})", escaped(command), b.platform),
    );
    let mut cmd = shell(command);
    cmd.current_dir(&b.working_dir)
        .envs(prebuild_env(plan, b))
        .timeout(process::BUILD);
    let out = cmd.output()?;
    let output = out.combined();
    if !out.success() {
        return Err(Error::Prebuild {
            platform: b.platform,
            command: command.to_owned(),
            status: out.status.to_string(),
            output: output.trim_end().to_owned(),
        });
    }
    if !output.trim().is_empty() {
        ctx.reporter.debug(output.trim_end());
    }
    Ok(())
}

/// The host's shell running `command`: `sh -c`.
#[cfg(not(windows))]
fn shell(command: &str) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c").arg(command);
    c
}

/// The host's shell running `command`: `cmd /C` on a Windows host, which has
/// no `sh` (`npm ci && npm run build` means the same to both). The command
/// goes unquoted: cmd parses its own command line.
#[cfg(windows)]
fn shell(command: &str) -> Command {
    let mut c = Command::new("cmd");
    c.arg("/C").raw_arg(command);
    c
}

/// The `*.whl` files directly in `dir`, sorted.
pub fn wheels_in(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut v = Vec::new();
    for e in fs_err::read_dir(dir).map_err(|source| Error::Io {
        path: dir.to_owned(),
        source,
    })? {
        let e = e.map_err(|source| Error::Io {
            path: dir.to_owned(),
            source,
        })?;
        if e.file_name().to_string_lossy().ends_with(".whl") && e.path().is_file() {
            v.push(e.path());
        }
    }
    v.sort();
    Ok(v)
}

/// What an offline build of the project's own and local wheels needs from
/// the network, fetched now (`cargo pyship fetch`): every crate of each
/// Cargo manifest maturin builds (`cargo fetch`, into cargo's own cache), and
/// maturin itself when it runs through `uv tool run`. Returns the manifests.
pub fn fetch_build_inputs(plan: &Plan, ctx: &Context<'_>) -> Result<Vec<PathBuf>, Error> {
    let mut manifests: Vec<PathBuf> = Vec::new();
    let mut zig = false;
    for &platform in &plan.targets {
        for m in planned(plan, platform)?.maturin_builds() {
            zig |= m.zig;
            if !manifests.contains(&m.manifest) {
                manifests.push(m.manifest.clone());
            }
        }
    }
    if manifests.is_empty() {
        return Ok(manifests);
    }
    let cargo = CARGO.find(ctx.env)?;
    for m in &manifests {
        ctx.reporter
            .status("Fetching", &format!("crates of {}", m.display()));
        let mut cmd = Command::new(&cargo);
        cmd.arg("fetch")
            .arg("--manifest-path")
            .arg(m)
            .timeout(process::BUILD);
        if ctx.locked {
            cmd.arg("--locked");
        }
        let out = cmd.output()?;
        if !out.success() {
            return Err(Error::Build {
                triple: format!("every target (cargo fetch of {})", m.display()),
                status: out.status.to_string(),
                command: out.command.clone(),
                output: out.tail(),
            });
        }
    }
    let maturin = MaturinCommand::find(ctx, zig, plan.pyproject().dir())?;
    if maturin.through_uv() {
        ctx.reporter
            .status("Fetching", &format!("{MATURIN_REQUIREMENT} (uv tool)"));
    }
    // Run, not remembered: through `uv tool run`, this is what downloads
    // maturin into uv's cache for a later offline build.
    let mut c = maturin.command(&["--version".into()]);
    c.timeout(process::STEP);
    let _ = c.output();
    Ok(manifests)
}

#[cfg(test)]
mod tests;
