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
use crate::plan::Plan;
use crate::platform::Platform;
use crate::tools;

pub use crate::config::DEFAULT_WINDOWS_RUST_TARGET;
pub use crate::platform::manylinux_glibc;
pub use crate::tools::MINGW_GCC;
/// The Rust target of Linux wheels.
pub const LINUX_RUST_TARGET: &str = "x86_64-unknown-linux-gnu";
/// maturin versions used through `uv tool run` when no `maturin` is installed.
pub const MATURIN_REQUIREMENT: &str = "maturin>=1.5,<2";

/// Cache bucket of built wheels.
pub const BUCKET: &str = "rust-wheels-v0";

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
    Tool(#[from] tools::Error),
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
    #[error("the Rust target `{triple}` is not installed for the toolchain at {sysroot}")]
    #[diagnostic(help("install it with `rustup target add {triple}`"))]
    RustTarget { triple: String, sysroot: PathBuf },
    #[error("could not ask rustc for its sysroot: {message}")]
    #[diagnostic(help("check that `rustc --print sysroot` works in the project folder"))]
    Rustc { message: String },
    #[error("the Linux wheel must run on {platform} (glibc {want}), but this host has glibc {host} and zig was not found for `maturin --zig`")]
    #[diagnostic(help("install zig for maturin with `pip install ziglang` (PyPI package `ziglang`) into the `python3` found on PATH in the project's folder (a `.python-version` may pick another one there), or set `linux.platform = \"x86_64-manylinux_{}\"` if the target machines have this host's glibc", .host.replace('.', "_")))]
    NoZig {
        platform: String,
        want: String,
        host: String,
    },
    #[error("`linux.platform = \"{platform}\"` is not a manylinux platform maturin can build for")]
    #[diagnostic(help("use a platform such as \"x86_64-manylinux_2_28\" (manylinux_X_Y, manylinux2014 or x86_64-unknown-linux-gnu)"))]
    LinuxPlatform { platform: String },
    #[error("the release version is {release}, but maturin builds {package} at its Cargo version {cargo} ({manifest})")]
    #[diagnostic(help("run `cargo pyship version --stamp` first (`release` does it), so that Cargo.toml carries the release version"))]
    VersionMismatch {
        release: String,
        cargo: String,
        package: String,
        manifest: PathBuf,
    },
    #[error("prebuild command `{command}` for {platform} failed ({status}):\n{output}")]
    #[diagnostic(help("fix the command (its output is above) or `prebuild` in the pyship table; it runs in the folder of the Cargo.toml that has the table"))]
    Prebuild {
        platform: Platform,
        command: String,
        status: String,
        output: String,
    },
    #[error("maturin failed to build the {triple} wheel ({status}): `{command}`\n{output}")]
    #[diagnostic(help("read maturin's output above; `maturin build` with the same arguments in the pyproject's folder shows the same error"))]
    Build {
        triple: String,
        status: String,
        /// The maturin command line.
        command: String,
        output: String,
    },
    #[error("maturin finished but left no wheel in {dir}")]
    #[diagnostic(help("check `[tool.maturin]` in pyproject.toml"))]
    NoWheel { dir: PathBuf },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Process(#[from] crate::process::Error),
    #[error("could not prepare {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The Rust target triple of `platform`'s wheels.
pub fn triple(plan: &Plan, platform: Platform) -> String {
    match platform {
        Platform::Windows => plan.config.windows.rust_target.clone(),
        Platform::Linux => LINUX_RUST_TARGET.to_owned(),
    }
}

/// The build host's glibc (`getconf GNU_LIBC_VERSION` → `glibc 2.36`).
pub fn host_glibc() -> Option<(u32, u32)> {
    let mut cmd = Command::new("getconf");
    cmd.arg("GNU_LIBC_VERSION").timeout(process::QUICK);
    let out = cmd.output().ok()?;
    let v = out.stdout.split_whitespace().nth(1)?;
    let mut it = v.split('.');
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// Whether zig is there for `maturin --zig` run in `dir` (`zig` on PATH,
/// `ZIG_COMMAND`, or the `ziglang` PyPI package importable by the `python3`
/// found there: a `.python-version` may pick another one than elsewhere).
fn zig_available(dir: &Path) -> bool {
    if std::env::var_os("ZIG_COMMAND").is_some() || which::which("zig").is_ok() {
        return true;
    }
    let mut cmd = Command::new("python3");
    cmd.args(["-c", "import ziglang"])
        .current_dir(dir)
        .timeout(process::QUICK);
    cmd.output().is_ok_and(|o| o.success())
}

/// Whether `program --version` succeeds in `dir`; `Err`: what it printed
/// instead. A pyenv shim is on PATH for every installed version but runs
/// only where the selected version (a `.python-version`) has the program.
fn runs_in(ctx: &Context<'_>, program: &Path, dir: &Path) -> Result<(), String> {
    probed(ctx, &[program.display().to_string()], program, dir, || {
        let mut cmd = Command::new(program);
        cmd.arg("--version")
            .current_dir(dir)
            .timeout(process::QUICK);
        match cmd.output() {
            Ok(o) if o.success() => Ok(o.stdout.trim().to_owned()),
            Ok(o) => Err(format!("{}{}", o.stdout, o.stderr).trim().to_owned()),
            Err(e) => Err(e.to_string()),
        }
    })
    .map(|_| ())
}

/// Put the wheel `from` (a cache entry, or a staged one about to become
/// one) at `dest`: a hard link, so the file keeps the entry's modification
/// time and its hash is remembered ([`crate::cache::Cache::sha256_file`]);
/// a copy across file systems. Wheels are never written in place.
fn place_wheel(from: &Path, dest: &Path) -> Result<(), Error> {
    let io = |source| Error::Io {
        path: dest.to_owned(),
        source,
    };
    if fs_err::symlink_metadata(dest).is_ok() {
        fs_err::remove_file(dest).map_err(io)?;
    }
    if fs_err::hard_link(from, dest).is_err() {
        fs_err::copy(from, dest).map_err(io)?;
    }
    Ok(())
}

/// The cache bucket of what a tool's `--version` said.
const PROBES: &str = "tool-probes-v0";

/// What `probe` (a program's `--version` run in `dir`) printed, remembered in
/// the cache while the program file (path, size, modification time), the
/// command `what`, `dir` and the `.python-version` files above it (what a
/// pyenv shim goes by) are the same: a warm build starts no uv and no
/// maturin just to ask their versions. A failure is never remembered.
fn probed(
    ctx: &Context<'_>,
    what: &[String],
    program: &Path,
    dir: &Path,
    probe: impl FnOnce() -> Result<String, String>,
) -> Result<String, String> {
    let stamp = crate::fs::size_and_mtime(program);
    let Some(stamp) = stamp else {
        return probe();
    };
    let pins: Vec<String> = dir
        .ancestors()
        .filter_map(|d| fs_err::read_to_string(d.join(".python-version")).ok())
        .collect();
    let key = crate::fs::sha256_hex(
        format!(
            "{}\n{}\n{}\n{stamp}\n{}\n{}",
            env!("CARGO_PKG_VERSION"),
            what.join(" "),
            program.display(),
            dir.display(),
            pins.join("\n")
        )
        .as_bytes(),
    );
    let file = ctx.cache.bucket(PROBES).join(key);
    if let Ok(said) = fs_err::read_to_string(&file) {
        return Ok(said);
    }
    let said = probe()?;
    ctx.cache.marked(PROBES);
    let _ = crate::fs::atomic_write(&file, said.as_bytes());
    Ok(said)
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
    Ok(MaturinBuild {
        name: py.name.clone(),
        manifest,
        project_dir: py.dir().to_owned(),
        args,
        compatibility,
        zig,
    })
}

/// How maturin is started: the installed program, or through uv.
#[derive(Debug, Clone)]
struct MaturinCommand {
    program: PathBuf,
    /// Arguments before maturin's own (`tool run --from … maturin`).
    prefix: Vec<String>,
}

impl MaturinCommand {
    /// maturin for a build in `dir`: `PYSHIP_MATURIN` as given; else the
    /// `maturin` on PATH when it runs there and (for `zig`) zig is there
    /// too; else `uv tool run` (with `ziglang` for `zig`), so uv is enough
    /// even where the PATH's maturin cannot run or has no zig beside it.
    fn find(ctx: &Context<'_>, zig: bool, dir: &Path) -> Result<Self, Error> {
        let found = MATURIN.find(ctx.env);
        let uv = tools::UV
            .find(ctx.env)
            .ok()
            .filter(|uv| runs_in(ctx, uv, dir).is_ok());
        let usable = match &found {
            Ok(program) if ctx.env.get(crate::env::PYSHIP_MATURIN).is_some() => {
                Some(program.clone())
            }
            Ok(program) => match runs_in(ctx, program, dir) {
                Ok(()) if uv.is_some() && zig && !zig_available(dir) => None,
                Ok(()) => Some(program.clone()),
                Err(_) if uv.is_some() => None,
                Err(output) => {
                    return Err(Error::MaturinDoesNotRun {
                        program: program.clone(),
                        dir: dir.to_owned(),
                        output,
                    })
                }
            },
            Err(_) => None,
        };
        match (usable, found) {
            (Some(program), _) => Ok(Self {
                program,
                prefix: vec![],
            }),
            (None, Err(e @ tools::Error::BadOverride { .. })) => Err(e.into()),
            (None, found) => {
                let Some(uv) = uv else {
                    return Err(match (found, tools::UV.find(ctx.env)) {
                        (Err(missing), Err(_)) => missing.into(),
                        (_, Ok(uv)) => Error::MaturinDoesNotRun {
                            output: runs_in(ctx, &uv, dir).err().unwrap_or_default(),
                            program: uv,
                            dir: dir.to_owned(),
                        },
                        (Ok(_), Err(e)) => e.into(),
                    });
                };
                let mut prefix: Vec<String> = vec![
                    "tool".into(),
                    "run".into(),
                    "--from".into(),
                    MATURIN_REQUIREMENT.into(),
                ];
                if zig {
                    prefix.extend(["--with".into(), "ziglang".into()]);
                }
                if ctx.offline {
                    prefix.push("--offline".into());
                }
                prefix.push("maturin".into());
                Ok(Self {
                    program: uv,
                    prefix,
                })
            }
        }
    }

    fn through_uv(&self) -> bool {
        !self.prefix.is_empty()
    }

    fn command(&self, args: &[String]) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.prefix).args(args);
        c
    }

    /// `maturin --version`, for the cache key (through `uv tool run` it may
    /// download maturin first).
    fn version(&self, ctx: &Context<'_>, dir: &Path) -> String {
        let mut what = self.prefix.clone();
        what.push("--version".into());
        probed(ctx, &what, &self.program, dir, || {
            let mut c = self.command(&["--version".into()]);
            c.timeout(process::STEP).current_dir(dir);
            match c.output() {
                Ok(o) if o.success() => Ok(o.stdout.trim().to_owned()),
                Ok(o) => Err(o.tail()),
                Err(e) => Err(e.to_string()),
            }
        })
        .unwrap_or_default()
    }
}

/// Check, before any target is built, that every tool the builds need is
/// there: maturin (or uv to run it), cargo, the Rust target, the Windows
/// linker, zig for an older glibc.
pub fn preflight(plan: &Plan, ctx: &Context<'_>) -> Result<(), Error> {
    for &platform in &plan.targets {
        // The configured wheels are checked too: a wrong-platform, stale or
        // mis-versioned wheel fails before anything is compiled.
        let provided = crate::deps::project_wheels(plan, platform)?;
        crate::deps::check_own_wheels(plan, &provided)?;
        let b = planned(plan, platform)?;
        for m in b.maturin_builds() {
            let maturin = MaturinCommand::find(ctx, m.zig, &m.project_dir)?;
            CARGO.find(ctx.env)?;
            rust_target_installed(&b.triple, &m.project_dir)?;
            if platform == Platform::Windows && b.triple.ends_with("windows-gnu") {
                MINGW_GCC.find(ctx.env)?;
                MINGW_DLLTOOL.find(ctx.env)?;
            }
            if m.zig && !maturin.through_uv() && !zig_available(&m.project_dir) {
                let (x, y) = target_glibc(plan)?;
                let host = host_glibc()
                    .map(|(a, b)| format!("{a}.{b}"))
                    .unwrap_or_else(|| "unknown".into());
                return Err(Error::NoZig {
                    platform: plan.config.linux.platform.clone(),
                    want: format!("{x}.{y}"),
                    host,
                });
            }
        }
        if !b.local.iter().all(|l| l.maturin.is_some()) {
            tools::UV.find(ctx.env)?;
        }
    }
    Ok(())
}

/// The toolchain's sysroot as seen from `dir` (where a `rust-toolchain.toml`
/// may pick the toolchain).
fn sysroot(dir: &Path) -> Result<PathBuf, Error> {
    let mut cmd = Command::new("rustc");
    cmd.args(["--print", "sysroot"])
        .current_dir(dir)
        // rustup may install the toolchain a rust-toolchain.toml names.
        .timeout(process::STEP);
    let out = cmd.output().map_err(|e| Error::Rustc {
        message: e.to_string(),
    })?;
    if !out.success() {
        return Err(Error::Rustc {
            message: out.stderr.trim().to_owned(),
        });
    }
    Ok(PathBuf::from(out.stdout.trim()))
}

fn rust_target_installed(triple: &str, dir: &Path) -> Result<(), Error> {
    let sysroot = sysroot(dir)?;
    if sysroot
        .join("lib/rustlib")
        .join(triple)
        .join("lib")
        .is_dir()
    {
        Ok(())
    } else {
        Err(Error::RustTarget {
            triple: triple.to_owned(),
            sysroot,
        })
    }
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
        fs_err::read_to_string(p).ok()?.parse().ok()
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
    ctx.reporter
        .status("Running", &format!("prebuild `{command}` ({})", b.platform));
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

/// The Cargo workspace root of `manifest` (`cargo metadata`), else its folder.
fn cargo_workspace_root(manifest: &Path) -> PathBuf {
    let mut metadata = cargo_metadata::MetadataCommand::new();
    metadata.manifest_path(manifest).no_deps();
    let mut cmd = Command::from_std(metadata.cargo_command());
    cmd.timeout(process::STEP);
    cmd.run()
        .ok()
        .and_then(|o| cargo_metadata::MetadataCommand::parse(&o.stdout).ok())
        .map(|m| m.workspace_root.into_std_path_buf())
        .unwrap_or_else(|| manifest.parent().unwrap_or(Path::new(".")).to_owned())
}

/// Build (or take from the cache) the maturin wheel of `m` into `b.out_dir`:
/// the app's own (`own`, at the release version) or a local package's.
/// Returns whether it came from the cache.
fn maturin(
    plan: &Plan,
    b: &TargetBuild,
    m: &MaturinBuild,
    own: bool,
    ctx: &Context<'_>,
) -> Result<bool, Error> {
    let maturin = MaturinCommand::find(ctx, m.zig, &m.project_dir)?;
    let mut rustc = Command::new("rustc");
    rustc
        .arg("-V")
        .current_dir(&m.project_dir)
        .timeout(process::STEP);
    let rustc = rustc
        .output()
        .map(|o| o.stdout.trim().to_owned())
        .unwrap_or_default();
    // The user's Windows import libraries are an input; the ones made here
    // (below) follow from the sources, which the key covers.
    let user_libs = ctx.env.get(PYO3_CROSS_LIB_DIR);
    let libs_key = format!("{PYO3_CROSS_LIB_DIR}={}", user_libs.unwrap_or(""));
    // The output folder is not an input: leave `--out` out of the key.
    let args_key: Vec<&String> = m
        .args
        .iter()
        .take_while(|a| a.as_str() != "--out")
        .collect();
    let roots = if own {
        vec![m.project_dir.clone(), plan.project.workspace_root.clone()]
    } else {
        vec![m.project_dir.clone(), cargo_workspace_root(&m.manifest)]
    };
    let key = input_key(
        plan,
        &roots,
        &[
            format!("{args_key:?}"),
            maturin.version(ctx, &m.project_dir),
            rustc,
            // A local package keeps its own version (in its sources).
            if own {
                plan.version.version.pep440()
            } else {
                String::new()
            },
            std::env::var("RUSTFLAGS").unwrap_or_default(),
            libs_key,
            // maturin stamps the wheel's entries and its SBOM with it.
            plan.epoch.value(),
        ],
    )?;
    let entry = ctx.cache.bucket(BUCKET).join(&key);
    let what = format!("{} wheel for {}", m.name, b.triple);
    if entry.is_dir() {
        let cached = wheels_in(&entry)?;
        if !cached.is_empty() {
            ctx.reporter.status("Fresh", &what);
            copy_wheels(&cached, &b.out_dir)?;
            return Ok(true);
        }
    }
    ctx.reporter.status(
        "Building",
        &format!(
            "{what} (maturin{}{})",
            if m.zig { " --zig" } else { "" },
            if maturin.through_uv() {
                ", through `uv tool run`"
            } else {
                ""
            }
        ),
    );
    let staging = ctx.cache.staging(BUCKET).map_err(|source| Error::Io {
        path: ctx.cache.incoming(BUCKET),
        source,
    })?;
    let mut args = m.args.clone();
    if let Some(i) = args.iter().position(|a| a == "--out") {
        args[i + 1] = staging.path().display().to_string();
    }
    let mut cmd = maturin.command(&args);
    cmd.current_dir(&m.project_dir)
        .timeout(process::BUILD)
        // maturin stamps the wheel's entries and its SBOM with it, and the
        // linker the PE header of a Windows extension.
        .env(crate::env::SOURCE_DATE_EPOCH, plan.epoch.value());
    if ctx.offline {
        cmd.arg("--offline");
    }
    if b.platform == Platform::Windows && user_libs.is_none() && abi3(&m.manifest, &b.triple) {
        if let Some(dir) = import_libs(&b.triple, &plan.python.xy, ctx) {
            cmd.env(PYO3_CROSS_LIB_DIR, dir);
        }
    }
    ctx.reporter.debug(&format!("running {}", cmd.shown()));
    let out = cmd.output()?;
    let stderr = &out.stderr;
    if !out.success() {
        let tail: Vec<&str> = stderr.lines().rev().take(60).collect();
        return Err(Error::Build {
            triple: b.triple.clone(),
            status: out.status.to_string(),
            command: out.command.clone(),
            output: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    ctx.reporter.debug(stderr.trim_end());
    let built = wheels_in(staging.path())?;
    if built.is_empty() {
        return Err(Error::NoWheel {
            dir: staging.path().to_owned(),
        });
    }
    for w in &built {
        if normalize_wheel(w, &roots)? {
            ctx.reporter.debug(&format!(
                "{}: build paths in its SBOM made relative",
                w.display()
            ));
        }
    }
    keep_built(&built, &b.out_dir, staging, &entry, plan, ctx)?;
    Ok(false)
}

/// Copy `wheels` into `out_dir`.
fn copy_wheels(wheels: &[PathBuf], out_dir: &Path) -> Result<(), Error> {
    for w in wheels {
        let dest = out_dir.join(w.file_name().expect("a wheel file"));
        place_wheel(w, &dest)?;
    }
    Ok(())
}

/// Copy the `built` wheels into `out_dir`, then move their `staging` folder
/// into the cache as `entry`, by rename: a crash never leaves a half-filled
/// entry.
fn keep_built(
    built: &[PathBuf],
    out_dir: &Path,
    staging: crate::lock::OwnedDir,
    entry: &Path,
    plan: &Plan,
    ctx: &Context<'_>,
) -> Result<(), Error> {
    copy_wheels(built, out_dir)?;
    let staged = staging.keep();
    if entry.is_dir() {
        let _ = crate::fs::remove_dir_if_exists(entry, &plan.write_roots(&ctx.cache));
    }
    fs_err::rename(&staged, entry).map_err(|source| Error::Io {
        path: entry.to_owned(),
        source,
    })
}

/// Make a wheel maturin built independent of where the project was checked
/// out: the Rust SBOM maturin writes into `*.dist-info/sboms/` names each
/// local crate by its absolute path (`path+file:///home/me/proj/crates/x#0.2.0`).
/// Each `file://{root}` of `roots` becomes a path relative to that root
/// (`path+file:crates/x#0.2.0`), and the wheel's `RECORD` gets the file's new
/// hash and size. Entries keep their order, times and compression; a wheel
/// without such paths is left untouched. Returns whether it was rewritten.
pub fn normalize_wheel(wheel: &Path, roots: &[PathBuf]) -> Result<bool, Error> {
    use std::io::{Read, Write};
    let io = |source: std::io::Error| Error::Io {
        path: wheel.to_owned(),
        source,
    };
    let zip_err = |e: zip::result::ZipError| io(std::io::Error::other(e));
    let mut prefixes: Vec<String> = Vec::new();
    for r in roots {
        for p in [
            r.clone(),
            fs_err::canonicalize(r).unwrap_or_else(|_| r.clone()),
        ] {
            let p = p.to_string_lossy().trim_end_matches('/').to_owned();
            if !p.is_empty() && !prefixes.contains(&p) {
                prefixes.push(p);
            }
        }
    }
    // Shortest first: paths are made relative to the outermost root (the
    // Cargo workspace, not a pyproject folder inside it).
    prefixes.sort_by_key(|p| p.len());
    let relative = |text: &str| -> String {
        let mut out = text.to_owned();
        for p in &prefixes {
            out = out
                .replace(&format!("file://{p}/"), "file:")
                .replace(&format!("file://{p}#"), "file:.#")
                .replace(&format!("file://{p}\""), "file:.\"");
        }
        out
    };
    let mut archive =
        zip::ZipArchive::new(fs_err::File::open(wheel).map_err(io)?).map_err(zip_err)?;
    let mut changed: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut record_name = None;
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).map_err(zip_err)?;
        let name = f.name().map_err(zip_err)?.into_owned();
        let Some((dist_info, rest)) = name.split_once(".dist-info/") else {
            continue;
        };
        if rest == "RECORD" && !dist_info.contains('/') {
            record_name = Some(name.clone());
        }
        if rest.starts_with("sboms/") && name.ends_with(".json") {
            let mut text = String::new();
            if f.read_to_string(&mut text).is_err() {
                continue;
            }
            let new = relative(&text);
            if new != text {
                changed.insert(name, new.into_bytes());
            }
        }
    }
    let Some(record_name) = record_name.filter(|_| !changed.is_empty()) else {
        return Ok(false);
    };
    let mut record = String::new();
    archive
        .by_name(&record_name)
        .map_err(zip_err)?
        .read_to_string(&mut record)
        .map_err(io)?;
    let lines =
        crate::packaging::record_lines(&record).map_err(|e| io(std::io::Error::other(e)))?;
    let record: String = lines
        .iter()
        .map(|line| match changed.get(&line.path) {
            Some(bytes) => {
                use base64::Engine;
                use sha2::{Digest, Sha256};
                let hash =
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(bytes));
                let end = if line.raw.ends_with("\r\n") {
                    "\r\n"
                } else if line.raw.ends_with('\n') {
                    "\n"
                } else {
                    ""
                };
                crate::packaging::record_line(
                    &line.path,
                    &format!("sha256={hash}"),
                    bytes.len() as u64,
                    end,
                )
            }
            None => line.raw.to_owned(),
        })
        .collect();
    changed.insert(record_name, record.into_bytes());
    let tmp =
        tempfile::NamedTempFile::new_in(wheel.parent().unwrap_or(Path::new("."))).map_err(io)?;
    let mut out = zip::ZipWriter::new(tmp.reopen().map_err(io)?);
    for i in 0..archive.len() {
        let f = archive.by_index_raw(i).map_err(zip_err)?;
        let name = f.name().map_err(zip_err)?.into_owned();
        match changed.get(&name) {
            Some(bytes) => {
                let mut opts =
                    zip::write::SimpleFileOptions::default().compression_method(f.compression());
                if let Some(t) = f.last_modified() {
                    opts = opts.last_modified_time(t);
                }
                if let Some(mode) = f.unix_mode() {
                    opts = opts.unix_permissions(mode);
                }
                drop(f);
                out.start_file(name, opts).map_err(zip_err)?;
                out.write_all(bytes).map_err(io)?;
            }
            None => out.raw_copy_file(f).map_err(zip_err)?,
        }
    }
    out.finish().map_err(zip_err)?;
    tmp.persist(wheel).map_err(|e| io(e.error))?;
    Ok(true)
}

/// `uv build --wheel` of the pure-Python local package `l` (any PEP 517
/// backend) into `b.out_dir`, cached by its sources like a maturin wheel.
/// Returns whether it came from the cache.
fn python_wheel(
    plan: &Plan,
    b: &TargetBuild,
    l: &LocalBuild,
    ctx: &Context<'_>,
) -> Result<bool, Error> {
    let uv_version = tools::UV
        .find(ctx.env)
        .ok()
        .and_then(|uv| {
            let dir = std::env::temp_dir();
            probed(ctx, &["uv --version".into()], &uv, &dir, || {
                let mut c = Command::new(&uv);
                c.arg("--version").timeout(process::QUICK);
                c.run()
                    .map(|o| o.stdout.trim().to_owned())
                    .map_err(|e| e.to_string())
            })
            .ok()
        })
        .unwrap_or_default();
    let key = input_key(
        plan,
        std::slice::from_ref(&l.project_dir),
        &["uv build --wheel".into(), uv_version, plan.epoch.value()],
    )?;
    let entry = ctx.cache.bucket(BUCKET).join(&key);
    let what = format!("{} wheel (pure Python)", l.name);
    if let Some(cached) = wheels_in(&entry).ok().filter(|w| !w.is_empty()) {
        ctx.reporter.status("Fresh", &what);
        copy_wheels(&cached, &b.out_dir)?;
        return Ok(true);
    }
    ctx.reporter
        .status("Building", &format!("{what} (uv build)"));
    let staging = ctx.cache.staging(BUCKET).map_err(|source| Error::Io {
        path: ctx.cache.incoming(BUCKET),
        source,
    })?;
    let mut cmd = Command::new(tools::UV.find(ctx.env)?);
    if let Some(dir) = crate::pins::uv_cache_dir(ctx) {
        cmd.env("UV_CACHE_DIR", dir);
    }
    cmd.args(["build", "--wheel", "--color", "never", "--no-progress"])
        .arg("--out-dir")
        .arg(staging.path())
        .arg(&l.project_dir)
        .env(crate::env::SOURCE_DATE_EPOCH, plan.epoch.value())
        .timeout(process::BUILD);
    if ctx.offline {
        cmd.arg("--offline");
    }
    ctx.reporter.debug(&format!("running {}", cmd.shown()));
    let out = cmd.output()?;
    if !out.success() {
        return Err(Error::Build {
            triple: format!("{} (uv build)", l.name),
            status: out.status.to_string(),
            command: out.command.clone(),
            output: out.tail(),
        });
    }
    let built = wheels_in(staging.path())?;
    if built.is_empty() {
        return Err(Error::NoWheel {
            dir: staging.path().to_owned(),
        });
    }
    keep_built(&built, &b.out_dir, staging, &entry, plan, ctx)?;
    Ok(false)
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

/// Where PyO3 looks for the target's Python libraries when cross-building.
const PYO3_CROSS_LIB_DIR: &str = "PYO3_CROSS_LIB_DIR";
/// Cache bucket of generated Windows import libraries.
const IMPLIB_BUCKET: &str = "pyo3-implib-v0";

/// Whether the crate maturin builds uses PyO3's stable ABI for `triple`
/// (pyo3 or pyo3-ffi with an `abi3*` feature in Cargo's resolve, as maturin
/// itself decides). Only such a build needs [`import_libs`]: for a
/// version-specific build maturin makes `python3XY.dll`'s import library
/// itself, and with `PYO3_CROSS_LIB_DIR` set it would look there for a Unix
/// `_sysconfigdata*.py` instead and fail.
fn abi3(manifest: &Path, triple: &str) -> bool {
    let mut metadata = cargo_metadata::MetadataCommand::new();
    metadata
        .manifest_path(manifest)
        .other_options(vec!["--filter-platform".to_owned(), triple.to_owned()]);
    let mut cmd = Command::from_std(metadata.cargo_command());
    cmd.timeout(process::STEP);
    let Some(meta) = cmd
        .run()
        .ok()
        .and_then(|o| cargo_metadata::MetadataCommand::parse(&o.stdout).ok())
    else {
        return false;
    };
    let Some(resolve) = meta.resolve else {
        return false;
    };
    resolve.nodes.iter().any(|n| {
        meta.packages
            .iter()
            .any(|p| p.id == n.id && matches!(p.name.as_str(), "pyo3" | "pyo3-ffi"))
            && n.features.iter().any(|f| f.starts_with("abi3"))
    })
}

/// A folder with the import libraries of `python3.dll` (the stable ABI) and
/// `python3XY.dll` for `triple`, made once into the cache, for
/// `PYO3_CROSS_LIB_DIR`. Without them an abi3 PyO3 crate that lacks pyo3's
/// `generate-import-lib` feature (as `uv init --build-backend maturin` makes
/// it) cannot link its Windows extension on a Linux host. `None` when they
/// cannot be made (no `dlltool` for the target): maturin then runs as it
/// would without cargo-pyship.
fn import_libs(triple: &str, xy: &str, ctx: &Context<'_>) -> Option<PathBuf> {
    let arch = triple.split('-').next()?;
    let env = triple.rsplit('-').next()?;
    let (major, minor) = xy.split_once('.')?;
    let version = (major.parse::<u8>().ok()?, minor.parse::<u8>().ok()?);
    let dir = ctx
        .cache
        .bucket(IMPLIB_BUCKET)
        .join(format!("{arch}-{env}-{xy}"));
    if dir.is_dir() {
        return Some(dir);
    }
    let staging = ctx.cache.staging(IMPLIB_BUCKET).ok()?;
    for v in [None, Some(version)] {
        if let Err(e) = python3_dll_a::ImportLibraryGenerator::new(arch, env)
            .version(v)
            .generate(staging.path())
        {
            ctx.reporter.debug(&format!(
                "no Python import libraries for {triple} ({e}); maturin looks for them itself"
            ));
            return None;
        }
    }
    // Another build may have made them meanwhile: theirs is as good.
    if fs_err::rename(staging.path(), &dir).is_err() && !dir.is_dir() {
        return None;
    }
    Some(dir)
}

/// SHA-256 over `salt` and every source file under `roots` (a pyproject's
/// folder and its Cargo workspace), by relative path and content. Build
/// outputs, VCS data, virtualenvs and caches are left out.
fn input_key(plan: &Plan, roots: &[PathBuf], salt: &[String]) -> Result<String, Error> {
    use sha2::{Digest, Sha256};
    let canon = |p: &Path| fs_err::canonicalize(p).unwrap_or_else(|_| p.to_owned());
    let mut roots: Vec<PathBuf> = roots.iter().map(|r| canon(r)).collect();
    roots.sort();
    roots.dedup();
    // `.cargo/` (its config.toml sets flags and linkers) is read by the
    // build; other dot folders (VCS, CI workflows, caches) are not.
    let skip_dir = |name: &str| {
        (name.starts_with('.') && name != ".cargo")
            || matches!(
                name,
                "target" | "dist" | "__pycache__" | "node_modules" | "venv" | "build"
            )
    };
    // cargo-pyship's own files and folders are no input of maturin: its
    // overrides folder, and the pyship tables of Cargo.toml files (below).
    let templates = canon(&plan.project.config_dir.join("templates"));
    // The app's own Python sources beside what the wheel packs are copied by
    // the app stage; maturin never reads them.
    let app_sources: Vec<PathBuf> = plan
        .app
        .dir
        .as_deref()
        .map(|d| {
            crate::layout::app_entries(
                d,
                plan.app.flat,
                crate::layout::top_package(&plan.module),
                &plan.app.exclude,
            )
        })
        .unwrap_or_default()
        .iter()
        .map(|p| canon(p))
        .collect();
    let mut h = Sha256::new();
    for s in salt {
        h.update(s.as_bytes());
        h.update([0]);
    }
    for root in &roots {
        h.update(root.display().to_string().as_bytes());
        let walk = walkdir::WalkDir::new(root)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| {
                e.depth() == 0
                    || !(e.file_type().is_dir() && skip_dir(&e.file_name().to_string_lossy()))
                        && e.path() != plan.out_dir
                        && e.path() != templates
                        && !app_sources.iter().any(|a| a == e.path())
            });
        for e in walk {
            let e = e.map_err(|e| Error::Io {
                path: root.clone(),
                source: std::io::Error::other(e),
            })?;
            // pyship.lock records downloads; it is written during a bundle.
            // A dot file at the top (.gitignore, which init edits) is no input.
            let name = e.file_name().to_string_lossy();
            if !e.file_type().is_file()
                || name == "pyship.lock"
                || (e.depth() == 1 && name.starts_with('.'))
            {
                continue;
            }
            let rel = e.path().strip_prefix(root).unwrap_or(e.path());
            h.update(rel.to_string_lossy().as_bytes());
            h.update([0]);
            let bytes = fs_err::read(e.path()).map_err(|source| Error::Io {
                path: e.path().to_owned(),
                source,
            })?;
            let bytes = if name == "Cargo.toml" {
                without_pyship_tables(bytes)
            } else {
                bytes
            };
            h.update(Sha256::digest(&bytes));
        }
    }
    Ok(hex::encode(h.finalize()))
}

/// A Cargo.toml as maturin and cargo read it: without the pyship tables
/// (`[package.metadata.pyship]`, `[workspace.metadata.pyship]`), which only
/// cargo-pyship reads, so editing a pyship key does not rebuild the wheel.
/// Anything else (comments included) counts; a file that does not parse is
/// taken as it is.
fn without_pyship_tables(bytes: Vec<u8>) -> Vec<u8> {
    let Some(mut doc) = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|t| t.parse::<toml_edit::DocumentMut>().ok())
    else {
        return bytes;
    };
    for top in ["package", "workspace"] {
        if let Some(meta) = doc
            .get_mut(top)
            .and_then(|t| t.get_mut("metadata"))
            .and_then(|m| m.as_table_like_mut())
        {
            meta.remove("pyship");
        }
    }
    doc.to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Editing a pyship key leaves the wheel's key as it was; editing
    /// anything cargo reads changes it.
    #[test]
    fn the_wheel_key_ignores_the_pyship_tables() {
        let a = "[package]\nname = \"x\"\nversion = \"1.0.0\"\n\n[package.metadata.pyship]\nport = 1\n\n[package.metadata.pyship.windows]\nargs = [\"a\"]\n";
        let b = a
            .replace("port = 1", "port = 2")
            .replace("[\"a\"]", "[\"b\"]");
        let c = a.replace("1.0.0", "1.0.1");
        let ws = "[workspace]\nmembers = []\n\n[workspace.metadata.pyship]\nname = \"A\"\n";
        let key = |t: &str| without_pyship_tables(t.as_bytes().to_vec());
        assert_eq!(key(a), key(&b));
        assert_ne!(key(a), key(&c));
        assert_eq!(key(ws), key(&ws.replace("\"A\"", "\"B\"")));
        assert!(!String::from_utf8(key(a)).unwrap().contains("pyship"));
        // Not TOML: taken as it is.
        assert_eq!(key("[package"), b"[package".to_vec());
    }

    #[test]
    fn manylinux_platforms_parse() {
        assert_eq!(manylinux_glibc("x86_64-manylinux_2_28"), Some((2, 28)));
        assert_eq!(manylinux_glibc("manylinux_2_34_x86_64"), Some((2, 34)));
        assert_eq!(manylinux_glibc("x86_64-manylinux2014"), Some((2, 17)));
        assert_eq!(manylinux_glibc("manylinux2014_x86_64"), Some((2, 17)));
        assert_eq!(manylinux_glibc("manylinux1_x86_64"), Some((2, 5)));
        assert_eq!(manylinux_glibc("x86_64-unknown-linux-gnu"), Some((2, 17)));
        assert_eq!(manylinux_glibc("x86_64-unknown-linux-musl"), None);
        assert_eq!(manylinux_glibc("linux_x86_64"), None);
    }

    /// maturin's Rust SBOM names local crates by absolute path: the wheel is
    /// rewritten with paths relative to the workspace, RECORD in step, every
    /// other entry byte for byte; the same wheel built elsewhere becomes the
    /// same bytes.
    #[test]
    fn wheel_sboms_lose_the_checkout_path() {
        use std::io::{Read, Write};
        let make = |root: &str, dir: &Path| -> PathBuf {
            let sbom = format!(
                "{{\"bom-ref\": \"path+file://{root}/crates/core#0.2.0\", \"ref\": \"path+file://{root}#0.2.0\"}}"
            );
            let path = dir.join("app-0.2.0-cp39-abi3-win_amd64.whl");
            let mut w = zip::ZipWriter::new(fs_err::File::create(&path).unwrap());
            let t = zip::DateTime::from_date_and_time(2023, 11, 14, 22, 13, 20).unwrap();
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .last_modified_time(t);
            let files: Vec<(&str, String)> = vec![
                ("app/_native.pyd", "MZ binary".into()),
                ("app-0.2.0.dist-info/sboms/core.cyclonedx.json", sbom),
                (
                    "app-0.2.0.dist-info/RECORD",
                    "app/_native.pyd,sha256=x,9\napp-0.2.0.dist-info/sboms/core.cyclonedx.json,sha256=old,1\napp-0.2.0.dist-info/RECORD,,\n".into(),
                ),
            ];
            for (name, body) in files {
                w.start_file(name, opts).unwrap();
                w.write_all(body.as_bytes()).unwrap();
            }
            w.finish().unwrap();
            path
        };
        let read = |p: &Path, name: &str| {
            let mut z = zip::ZipArchive::new(fs_err::File::open(p).unwrap()).unwrap();
            let mut s = String::new();
            z.by_name(name).unwrap().read_to_string(&mut s).unwrap();
            s
        };
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let wa = make("/tmp/one/proj", a.path());
        let wb = make("/srv/ci/builds/x/proj", b.path());
        assert!(normalize_wheel(&wa, &[PathBuf::from("/tmp/one/proj")]).unwrap());
        assert!(normalize_wheel(&wb, &[PathBuf::from("/srv/ci/builds/x/proj/")]).unwrap());
        let sbom = read(&wa, "app-0.2.0.dist-info/sboms/core.cyclonedx.json");
        assert_eq!(
            sbom,
            "{\"bom-ref\": \"path+file:crates/core#0.2.0\", \"ref\": \"path+file:.#0.2.0\"}"
        );
        let record = read(&wa, "app-0.2.0.dist-info/RECORD");
        use base64::Engine;
        use sha2::Digest;
        let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(sbom.as_bytes()));
        assert_eq!(
            record,
            format!("app/_native.pyd,sha256=x,9\napp-0.2.0.dist-info/sboms/core.cyclonedx.json,sha256={hash},{}\napp-0.2.0.dist-info/RECORD,,\n", sbom.len())
        );
        assert_eq!(read(&wa, "app/_native.pyd"), "MZ binary");
        assert_eq!(fs_err::read(&wa).unwrap(), fs_err::read(&wb).unwrap());
        // Nothing left to rewrite: untouched.
        let before = fs_err::read(&wa).unwrap();
        assert!(!normalize_wheel(&wa, &[PathBuf::from("/tmp/one/proj")]).unwrap());
        assert_eq!(fs_err::read(&wa).unwrap(), before);
    }
}
