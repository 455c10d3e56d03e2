//! Running a Windows program (the bundle's `python.exe`) under wine, for the
//! strip stage's byte-compiling and import check.
//!
//! Why a module of its own: wine has traps that every caller would otherwise
//! meet again: it
//! cannot set up std handles on regular files, so stdin is `/dev/null` and
//! output goes through pipes read on threads; a run gets a private
//! `WINEPREFIX` (created with `wineboot -i`, stopped with `wineserver -k` when
//! dropped) and `WINEDEBUG=-all`; a hung program is killed after a timeout.
//!
//! `PYSHIP_WINEPREFIX` (else the usual `WINEPREFIX`) names a prepared prefix
//! to use instead of a fresh one; it is never created, modified or stopped
//! here.
//!
//! Wine 8's `bcryptprimitives.dll` lacks `ProcessPrng`, which Rust-built
//! extension modules (PyO3 crates, pydantic-core, watchfiles) import, so they
//! fail with "DLL load failed" in a plain prefix. [`Wine::add_process_prng`]
//! puts a replacement built from this crate's own C source
//! (`wine/bcryptprimitives.c`, compiled with `x86_64-w64-mingw32-gcc` and kept
//! in the cache) into a private prefix. It never ships in a bundle.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::env::{Env, PYSHIP_WINEPREFIX};
use crate::error::Hint;
use crate::tools;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Tool(#[from] tools::Error),
    #[error("could not create a wine prefix in {path}: {message}")]
    Prefix { path: PathBuf, message: String },
    #[error("{var} points at {path}, which is not a wine prefix (no drive_c/)")]
    BadPrefix { var: &'static str, path: PathBuf },
    #[error("could not run `{program}`")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{program}` did not finish within {secs} s and was stopped")]
    Timeout { program: String, secs: u64 },
}

impl Hint for Error {
    fn hint(&self) -> Option<String> {
        match self {
            Error::Tool(e) => e.hint(),
            Error::Prefix { .. } => Some(
                "check that `wine wineboot -i` works for your user (WINEARCH=win64, wine64 installed)"
                    .into(),
            ),
            Error::BadPrefix { var, .. } => Some(format!(
                "point {var} at a prefix made with `WINEPREFIX=DIR wine wineboot -i`, or unset it"
            )),
            Error::Spawn { .. } => Some("check that `wine --version` runs".into()),
            Error::Timeout { .. } => Some(
                "run it by hand with the same WINEPREFIX to see where it hangs; `wineserver -k` stops a stuck prefix"
                    .into(),
            ),
        }
    }
}

/// A wine prefix: a private temporary one, or the prepared `PYSHIP_WINEPREFIX`.
#[derive(Debug)]
pub struct Wine {
    wine: PathBuf,
    prefix: PathBuf,
    /// Set for a private prefix: removed (after `wineserver -k`) on drop.
    owned: Option<tempfile::TempDir>,
}

/// What a program printed, and how it ended.
#[derive(Debug, Clone)]
pub struct Output {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// The C source of the replacement `bcryptprimitives.dll`.
pub const PROCESS_PRNG_SOURCE: &str = include_str!("wine/bcryptprimitives.c");
/// Cache bucket of the compiled replacement.
pub const SHIM_BUCKET: &str = "wine-shim-v0";

impl Wine {
    /// The prefix of `PYSHIP_WINEPREFIX`, else of `WINEPREFIX`, else a fresh
    /// private one (~15 s to create).
    pub fn new(env: &Env) -> Result<Self, Error> {
        let wine = tools::WINE.find(env)?;
        let chosen = [PYSHIP_WINEPREFIX, crate::env::WINEPREFIX]
            .into_iter()
            .find_map(|var| env.get(var).map(|p| (var, p)));
        if let Some((var, p)) = chosen {
            let prefix = PathBuf::from(p);
            if !prefix.join("drive_c").is_dir() {
                return Err(Error::BadPrefix { var, path: prefix });
            }
            return Ok(Self {
                wine,
                prefix,
                owned: None,
            });
        }
        let dir = tempfile::Builder::new()
            .prefix("pyship-wine-")
            .tempdir()
            .map_err(|e| Error::Prefix {
                path: std::env::temp_dir(),
                message: e.to_string(),
            })?;
        let me = Self {
            wine,
            prefix: dir.path().to_path_buf(),
            owned: Some(dir),
        };
        let out = me.run_raw("wineboot", &["-i".into()], Duration::from_secs(180))?;
        if !me.prefix.join("drive_c/windows/system32").is_dir() {
            return Err(Error::Prefix {
                path: me.prefix.clone(),
                message: out.stderr.trim().chars().take(2000).collect(),
            });
        }
        Ok(me)
    }

    /// The prefix directory (`WINEPREFIX`).
    pub fn prefix(&self) -> &Path {
        &self.prefix
    }

    /// Whether this is the prepared prefix of `PYSHIP_WINEPREFIX`.
    pub fn is_prepared(&self) -> bool {
        self.owned.is_none()
    }

    /// The Windows path of a Unix path, through wine's `Z:` drive.
    pub fn windows_path(path: &Path) -> String {
        format!("Z:{}", path.display()).replace('/', "\\")
    }

    /// Run `wine <exe> <args>`: stdin null, output piped, killed after `timeout`.
    pub fn run(&self, exe: &Path, args: &[String], timeout: Duration) -> Result<Output, Error> {
        self.run_raw(&exe.to_string_lossy(), args, timeout)
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(&self.wine);
        c.arg(program)
            .env("WINEPREFIX", &self.prefix)
            .env("WINEDEBUG", "-all")
            // No Mono/Gecko install dialogs in a fresh prefix.
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    fn run_raw(&self, program: &str, args: &[String], timeout: Duration) -> Result<Output, Error> {
        let mut cmd = self.command(program);
        cmd.args(args);
        let r = run_piped(cmd, &format!("wine {program}"), timeout);
        if matches!(r, Err(Error::Timeout { .. })) && self.owned.is_some() {
            self.kill_all();
        }
        r
    }

    /// Whether the prefix's `bcryptprimitives.dll` exports `ProcessPrng`.
    pub fn has_process_prng(&self) -> bool {
        let system = self
            .prefix
            .join("drive_c/windows/system32/bcryptprimitives.dll");
        fs_err::read(system).is_ok_and(|b| b.windows(11).any(|w| w == b"ProcessPrng"))
    }

    /// Give a private prefix that lacks `ProcessPrng` the replacement DLL,
    /// compiled once into `cache`. A prepared prefix (`PYSHIP_WINEPREFIX`) is
    /// never modified. Returns whether the prefix provides `ProcessPrng` now.
    pub fn add_process_prng(&self, cache: &crate::cache::Cache, env: &Env) -> Result<bool, Error> {
        if self.has_process_prng() {
            return Ok(true);
        }
        if self.is_prepared() {
            return Ok(false);
        }
        let dll = process_prng_dll(cache, env)?;
        let dest = self
            .prefix
            .join("drive_c/windows/system32/bcryptprimitives.dll");
        fs_err::copy(&dll, &dest).map_err(|e| Error::Prefix {
            path: dest.clone(),
            message: e.to_string(),
        })?;
        Ok(self.has_process_prng())
    }

    /// `wineserver -k` for this prefix.
    fn kill_all(&self) {
        let mut server = self.wine.clone();
        server.set_file_name("wineserver");
        let exe = if server.is_file() {
            server
        } else {
            PathBuf::from("wineserver")
        };
        for arg in ["-k", "-w"] {
            let _ = Command::new(&exe)
                .arg(arg)
                .env("WINEPREFIX", &self.prefix)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for Wine {
    fn drop(&mut self) {
        // A prepared prefix belongs to the user: never stop its server.
        if self.owned.is_some() {
            self.kill_all();
        }
    }
}

/// The replacement `bcryptprimitives.dll`, compiled from
/// [`PROCESS_PRNG_SOURCE`] with the mingw-w64 compiler into the cache (keyed
/// by the source's SHA-256) on first use.
pub fn process_prng_dll(cache: &crate::cache::Cache, env: &Env) -> Result<PathBuf, Error> {
    use sha2::{Digest, Sha256};
    let key = hex::encode(Sha256::digest(PROCESS_PRNG_SOURCE.as_bytes()));
    let dir = cache.bucket(SHIM_BUCKET).join(&key);
    let dll = dir.join("bcryptprimitives.dll");
    if dll.is_file() {
        return Ok(dll);
    }
    let gcc = tools::MINGW_GCC.find(env)?;
    let fail = |message: String| Error::Prefix {
        path: dir.clone(),
        message,
    };
    fs_err::create_dir_all(&dir).map_err(|e| fail(e.to_string()))?;
    let work = tempfile::tempdir_in(&dir).map_err(|e| fail(e.to_string()))?;
    let src = work.path().join("bcryptprimitives.c");
    fs_err::write(&src, PROCESS_PRNG_SOURCE).map_err(|e| fail(e.to_string()))?;
    let out = work.path().join("bcryptprimitives.dll");
    let mut cmd = Command::new(&gcc);
    cmd.args(["-shared", "-O2", "-o"]).arg(&out).arg(&src);
    let r = run_piped(cmd, "x86_64-w64-mingw32-gcc", Duration::from_secs(120))?;
    if !r.success || !out.is_file() {
        return Err(fail(format!(
            "compiling bcryptprimitives.dll failed: {}",
            r.stderr.trim()
        )));
    }
    fs_err::rename(&out, &dll).map_err(|e| fail(e.to_string()))?;
    Ok(dll)
}

/// Run `cmd` with stdin null and output piped (read on threads, so a chatty
/// program never blocks on a full pipe); kill it after `timeout`.
pub fn run_piped(mut cmd: Command, what: &str, timeout: Duration) -> Result<Output, Error> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| Error::Spawn {
            program: what.to_owned(),
            source,
        })?;
    let mut so = child.stdout.take().expect("stdout is piped");
    let mut se = child.stderr.take().expect("stderr is piped");
    let t_out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = so.read_to_end(&mut b);
        b
    });
    let t_err = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = se.read_to_end(&mut b);
        b
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if start.elapsed() < timeout => std::thread::sleep(Duration::from_millis(50)),
            _ => break None,
        }
    };
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(Error::Timeout {
            program: what.to_owned(),
            secs: timeout.as_secs(),
        });
    };
    let stdout = String::from_utf8_lossy(&t_out.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&t_err.join().unwrap_or_default()).into_owned();
    Ok(Output {
        success: status.success(),
        code: status.code(),
        stdout,
        stderr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wineprefix_is_honoured_and_pyship_wineprefix_wins() {
        let d = tempfile::tempdir().unwrap();
        let not_a_prefix = d.path().join("nope");
        let with = |pairs: &[(&str, &Path)]| {
            let mut env = Env::from_process();
            for v in [PYSHIP_WINEPREFIX, crate::env::WINEPREFIX] {
                env.set(v, "");
            }
            for (k, v) in pairs {
                env.set(*k, v.to_string_lossy());
            }
            Wine::new(&env)
        };
        let e = with(&[(crate::env::WINEPREFIX, &not_a_prefix)]).unwrap_err();
        assert!(
            matches!(
                e,
                Error::BadPrefix {
                    var: "WINEPREFIX",
                    ..
                }
            ),
            "{e}"
        );
        let prepared = d.path().join("prefix");
        fs_err::create_dir_all(prepared.join("drive_c")).unwrap();
        let w = with(&[(crate::env::WINEPREFIX, &prepared)]).unwrap();
        assert_eq!(w.prefix, prepared);
        assert!(w.owned.is_none(), "a user's prefix is never removed");
        let e = with(&[
            (PYSHIP_WINEPREFIX, &not_a_prefix),
            (crate::env::WINEPREFIX, &prepared),
        ])
        .unwrap_err();
        assert!(
            matches!(
                e,
                Error::BadPrefix {
                    var: "PYSHIP_WINEPREFIX",
                    ..
                }
            ),
            "{e}"
        );
    }
}
