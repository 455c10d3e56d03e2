//! The toolchain a wheel build needs, found and checked before anything is
//! compiled: maturin (or uv to run it), cargo and the Rust target, the
//! Windows linker and import libraries, zig for an older glibc. Version
//! probes of these programs are remembered per program file.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use super::{
    planned, target_glibc, Error, CARGO, MATURIN, MATURIN_REQUIREMENT, MINGW_DLLTOOL, MINGW_GCC,
};
use crate::context::Context;
use crate::plan::Plan;
use crate::platform::Platform;
use crate::process::{self, Command};
use crate::tools;

/// Answers by (folder, PATH), for [`asked_once`].
type Memo<T> = Mutex<BTreeMap<(PathBuf, Option<OsString>), T>>;

/// What `ask` answered earlier in this process for `dir` and the same PATH,
/// else its answer now (remembered unless `None`). The host, the toolchain
/// and the Python a folder selects do not change while a build runs, and
/// the builds of both targets ask the same questions: each is asked once.
fn asked_once<T: Clone>(memo: &Memo<T>, dir: &Path, ask: impl FnOnce() -> Option<T>) -> Option<T> {
    let key = (dir.to_owned(), std::env::var_os("PATH"));
    let mut memo = memo.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(v) = memo.get(&key) {
        return Some(v.clone());
    }
    let v = ask()?;
    memo.insert(key, v.clone());
    Some(v)
}

/// The build host's glibc (`getconf GNU_LIBC_VERSION` → `glibc 2.36`).
pub fn host_glibc() -> Option<(u32, u32)> {
    static MEMO: Memo<Option<(u32, u32)>> = Mutex::new(BTreeMap::new());
    asked_once(&MEMO, Path::new(""), || Some(ask_host_glibc())).flatten()
}

fn ask_host_glibc() -> Option<(u32, u32)> {
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
pub(super) fn zig_available(dir: &Path) -> bool {
    if std::env::var_os("ZIG_COMMAND").is_some() || which::which("zig").is_ok() {
        return true;
    }
    static MEMO: Memo<bool> = Mutex::new(BTreeMap::new());
    asked_once(&MEMO, dir, || {
        let mut cmd = Command::new("python3");
        cmd.args(["-c", "import ziglang"])
            .current_dir(dir)
            .timeout(process::QUICK);
        Some(cmd.output().is_ok_and(|o| o.success()))
    })
    .unwrap_or(false)
}

/// What `rustc -V` says in `dir` (where a `rust-toolchain.toml` may pick
/// the toolchain); empty when it cannot run.
pub(super) fn rustc_version(dir: &Path) -> String {
    static MEMO: Memo<String> = Mutex::new(BTreeMap::new());
    asked_once(&MEMO, dir, || {
        let mut rustc = Command::new("rustc");
        rustc.arg("-V").current_dir(dir).timeout(process::STEP);
        rustc.output().ok().map(|o| o.stdout.trim().to_owned())
    })
    .unwrap_or_default()
}

/// Whether `program --version` succeeds in `dir`; `Err`: what it printed
/// instead. A pyenv shim is on PATH for every installed version but runs
/// only where the selected version (a `.python-version`) has the program.
pub(super) fn runs_in(ctx: &Context<'_>, program: &Path, dir: &Path) -> Result<(), String> {
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

/// The cache bucket of what a tool's `--version` said.
pub(super) const PROBES: &str = "tool-probes-v0";

/// What `probe` (a program's `--version` run in `dir`) printed, remembered in
/// the cache while the program file (path, size, modification time), the
/// command `what`, `dir` and the `.python-version` files above it (what a
/// pyenv shim goes by) are the same: a warm build starts no uv and no
/// maturin just to ask their versions. A failure is never remembered.
pub(super) fn probed(
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
        .filter_map(|d| crate::fs::read_small_to_string(d.join(".python-version")).ok())
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

/// How maturin is started: the installed program, or through uv.
#[derive(Debug, Clone)]
pub(super) struct MaturinCommand {
    program: PathBuf,
    /// Arguments before maturin's own (`tool run --from … maturin`).
    prefix: Vec<String>,
}

impl MaturinCommand {
    /// maturin for a build in `dir`: `PYSHIP_MATURIN` as given; else the
    /// `maturin` on PATH when it runs there and (for `zig`) zig is there
    /// too; else `uv tool run` (with `ziglang` for `zig`), so uv is enough
    /// even where the PATH's maturin cannot run or has no zig beside it.
    pub(super) fn find(ctx: &Context<'_>, zig: bool, dir: &Path) -> Result<Self, Error> {
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

    pub(super) fn through_uv(&self) -> bool {
        !self.prefix.is_empty()
    }

    pub(super) fn command(&self, args: &[String]) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.prefix).args(args);
        c
    }

    /// `maturin --version`, for the cache key (through `uv tool run` it may
    /// download maturin first).
    pub(super) fn version(&self, ctx: &Context<'_>, dir: &Path) -> String {
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
                let glibc = host_glibc();
                return Err(Error::NoZig {
                    platform: plan.config.linux.platform.clone(),
                    want: format!("{x}.{y}"),
                    host: glibc
                        .map(|(a, b)| format!("{a}.{b}"))
                        .unwrap_or_else(|| "unknown".into()),
                    host_platform: glibc
                        .and_then(|(a, b)| crate::platform::linux_target_for_glibc(a, b)),
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
pub(super) fn sysroot(dir: &Path) -> Result<PathBuf, Error> {
    static MEMO: Memo<PathBuf> = Mutex::new(BTreeMap::new());
    let mut failed = None;
    asked_once(&MEMO, dir, || {
        ask_sysroot(dir).map_err(|e| failed = Some(e)).ok()
    })
    .ok_or_else(|| {
        failed.unwrap_or_else(|| Error::Rustc {
            message: "rustc gave no sysroot".into(),
        })
    })
}

fn ask_sysroot(dir: &Path) -> Result<PathBuf, Error> {
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

pub(super) fn rust_target_installed(triple: &str, dir: &Path) -> Result<(), Error> {
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

/// Where PyO3 looks for the target's Python libraries when cross-building.
pub(super) const PYO3_CROSS_LIB_DIR: &str = "PYO3_CROSS_LIB_DIR";

/// Cache bucket of generated Windows import libraries.
pub(super) const IMPLIB_BUCKET: &str = "pyo3-implib-v0";

/// Whether the crate maturin builds uses PyO3's stable ABI for `triple`
/// (pyo3 or pyo3-ffi with an `abi3*` feature in Cargo's resolve, as maturin
/// itself decides). Only such a build needs [`import_libs`]: for a
/// version-specific build maturin makes `python3XY.dll`'s import library
/// itself, and with `PYO3_CROSS_LIB_DIR` set it would look there for a Unix
/// `_sysconfigdata*.py` instead and fail.
pub(super) fn abi3(manifest: &Path, triple: &str) -> bool {
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
pub(super) fn import_libs(triple: &str, xy: &str, ctx: &Context<'_>) -> Option<PathBuf> {
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
