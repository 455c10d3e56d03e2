//! Running a Windows program (the bundle's `python.exe`) under wine, for the
//! strip stage's byte-compiling and import check.
//!
//! Why a module of its own: wine has traps that every caller would otherwise
//! meet again: it
//! cannot set up std handles on regular files, so stdin is `/dev/null` and
//! output goes through pipes read on threads; a run gets a private
//! `WINEPREFIX` and `WINEDEBUG=-all`; a hung program is killed after a
//! timeout. A private prefix gets a `wineserver --foreground` of its own,
//! started before its first program and stopped with a signal when the
//! prefix is dropped (`wineserver -k` polls, and costs a quarter second
//! more); a program of it that outlived the server is then killed. The
//! services wine starts in a prefix inherit the std handles of the program
//! that started them and hold them until the server stops, so a pipe is read
//! to its end only when no services start or after the stop.
//!
//! `PYSHIP_WINEPREFIX` (else the usual `WINEPREFIX`) names a prepared prefix
//! to use instead of a fresh one; it is never created, modified or stopped
//! here.
//!
//! Otherwise creating a prefix (`wineboot -i`, about 14 s and 700 MB, most
//! of it wine's PE DLLs) would be paid by every build with a new temp dir.
//! [`Wine::with_cache`] keeps one prepared prefix in the pyship cache
//! (`wine-prefix-v0/{key}`), keyed by `wine --version` and the replacement
//! DLL's source, and gives each build a private copy of it: wine's binaries
//! are hard links to the cached ones (made read-only, so a write through a
//! link fails instead of changing the cache, except for root), everything
//! else (the registry, ini files) is copied. A new wine version means a new
//! key: the old prefix is removed and a new one prepared. Preparing takes an
//! exclusive lock on `{key}.lock`; copying holds the lock shared, so two
//! builds at once never see half a prefix nor remove one that is being
//! copied.
//!
//! A prepared prefix is visible only whole: it is made in a staging folder,
//! kept only once `wineboot` succeeded and a program ran in it, flushed to
//! disk, given its list of files ([`PREPARED_LIST`], written last) and
//! renamed into place. A folder without the list is never used (it is
//! replaced); a prefix is removed by renaming it out of the bucket first; a
//! copy checks the files it copies against the list, and a prefix changed
//! since it was made is replaced, not used.
//!
//! Wine 8's `bcryptprimitives.dll` lacks `ProcessPrng`, which Rust-built
//! extension modules (PyO3 crates, pydantic-core, watchfiles) import, so they
//! fail with "DLL load failed" in a plain prefix. [`Wine::add_process_prng`]
//! puts a replacement built from this crate's own C source
//! (`wine/bcryptprimitives.c`, compiled with `x86_64-w64-mingw32-gcc` and kept
//! in the cache) into a private prefix. It never ships in a bundle.
//!
//! The parts: [`Wine`] itself (a prefix and running programs in it) here,
//! its wineserver in `server`, the cached prefix in `prepared`, preparing it
//! while a build works in `background`, the replacement DLL in `shim`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cache::Cache;
use crate::env::{Env, PYSHIP_WINEPREFIX};
use crate::process::{self, Command};
use crate::tools;

pub use crate::process::{Cancel, Output};

mod background;
mod prepared;
mod server;
mod shim;
#[cfg(test)]
mod tests;

pub use background::{prepare_in_background, Background};
use prepared::remove_prefix_dir;
use prepared::wants_shim;
pub use prepared::{
    ensure_prepared, prefix_key, prepare_cached, CachedPrefix, Ensured, PREFIX_BUCKET,
    PREPARED_LIST,
};
pub use server::kill_leftovers;
use server::{remove_server_dirs, wineserver_exe, Server, Started};
pub use shim::{process_prng_dll, PROCESS_PRNG_SOURCE, SHIM_BUCKET};

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Tool(#[from] tools::Error),
    #[error("could not create a wine prefix in {path}: {message}")]
    #[diagnostic(help(
        "check that `wine wineboot -i` works for your user (WINEARCH=win64, wine64 installed)"
    ))]
    Prefix { path: PathBuf, message: String },
    #[error("{var} points at {path}, which is not a wine prefix (no drive_c/)")]
    #[diagnostic(help(
        "point {var} at a prefix made with `WINEPREFIX=DIR wine wineboot -i`, or unset it"
    ))]
    BadPrefix { var: &'static str, path: PathBuf },
    #[error("could not create a wine prefix in {path}")]
    #[diagnostic(help(
        "check that `wine wineboot -i` works for your user (WINEARCH=win64, wine64 installed)"
    ))]
    PrefixIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// wine itself could not be started.
    #[error(transparent)]
    #[diagnostic(help("check that `wine --version` runs"))]
    NoWine(process::Error),
    /// A program in the prefix did not end in time.
    #[error(transparent)]
    #[diagnostic(help("run it by hand with the same WINEPREFIX to see where it hangs; `wineserver -k` stops a stuck prefix"))]
    Hung(process::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Process(process::Error),
    #[error("could not use the cached wine prefix in {path}")]
    #[diagnostic(help(
        "`cargo pyship cache clean` removes the cached prefix (the next build prepares a new one)"
    ))]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<process::Error> for Error {
    fn from(e: process::Error) -> Self {
        match e {
            process::Error::Spawn { .. } => Error::NoWine(e),
            process::Error::Timeout { .. } => Error::Hung(e),
            e => Error::Process(e),
        }
    }
}

/// A wine prefix: a private temporary one, or the prepared `PYSHIP_WINEPREFIX`.
#[derive(Debug)]
pub struct Wine {
    wine: PathBuf,
    prefix: PathBuf,
    /// Set for a private prefix: removed (after its server stopped) on drop.
    owned: Option<crate::lock::OwnedDir>,
    /// What this process started for a private prefix, stopped with it.
    started: std::sync::Mutex<Started>,
    /// Stops the program running in this prefix.
    cancel: Cancel,
    /// For a private prefix: what an interrupted build does with it (kills
    /// its detached programs, removes an owned prefix).
    _on_interrupt: Option<process::OnInterrupt>,
    /// Why the cached prefix this one copies was replaced while getting it,
    /// if it was ([`Wine::notice`]).
    notice: Option<String>,
}

impl Wine {
    /// The prefix of `PYSHIP_WINEPREFIX`, else of `WINEPREFIX`, else a fresh
    /// private one (~15 s to create).
    pub fn new(env: &Env) -> Result<Self, Error> {
        let wine = tools::WINE.find(env)?;
        if let Some(me) = Self::from_env(&wine, env)? {
            return Ok(me);
        }
        let tmp = std::env::temp_dir();
        let dir = crate::lock::OwnedDir::new_in(&tmp, crate::lock::WINE_DIR_PREFIX, false)
            .map_err(|source| Error::PrefixIo { path: tmp, source })?;
        let me = Self::private(wine, dir.path().to_path_buf(), Some(dir));
        me.boot()?;
        Ok(me)
    }

    /// The prefix of `PYSHIP_WINEPREFIX`, else of `WINEPREFIX`, else a
    /// private copy of the prefix prepared in `cache` (prepared first when
    /// the cache has none for this wine). The copy already has the
    /// `ProcessPrng` replacement when the mingw-w64 compiler is there.
    pub fn with_cache(env: &Env, cache: &Cache) -> Result<Self, Error> {
        let wine = tools::WINE.find(env)?;
        if let Some(me) = Self::from_env(&wine, env)? {
            return Ok(me);
        }
        let version = wine_version(&wine)?;
        let shim = process_prng_dll(cache, env).ok();
        let prepared = prepare_cached(&wine, cache, &version, wants_shim(env), shim.as_deref())?;
        let prefix = prepared.copy.path().to_path_buf();
        let mut me = Self::private(wine, prefix, Some(prepared.copy));
        me.notice = prepared.notice;
        Ok(me)
    }

    /// What the build should tell its user about the cached prefix: that it
    /// was found unfinished or changed since it was made, and replaced by a
    /// new one (which is why this build took longer).
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// [`Wine::with_cache`], with its session started: wine's services, which
    /// the first program in a prefix waits for (about 0.6 s idle, seconds on
    /// a busy machine), are started ahead of the program that needs them and
    /// kept until the prefix is dropped. `cancel` stops the start.
    pub fn with_session(env: &Env, cache: &Cache, cancel: &Cancel) -> Result<Self, Error> {
        let mut me = Self::with_cache(env, cache)?;
        if me.is_prepared() {
            return Ok(me);
        }
        me.cancel = cancel.clone();
        // The services inherit the std handles of the program that starts
        // them and keep them open: no program here writes to a pipe that is
        // read to its end.
        let spawn = |args: &[&str], stdin: bool| {
            let mut cmd = me.command("cmd.exe");
            cmd.args(args).cancel(cancel);
            cmd.spawn(stdin)
        };
        let keeper = spawn(&[], true)?;
        me.started
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .keeper = Some(keeper);
        // A second program starts once the session is up.
        let mut probe = spawn(&["/c", "exit"], false)?;
        let status = probe.wait(Duration::from_secs(180), cancel)?;
        if !status.success() {
            return Err(Error::Prefix {
                path: me.prefix.clone(),
                message: format!("`wine cmd.exe /c exit` failed ({status})"),
            });
        }
        Ok(me)
    }

    /// A private prefix in the existing folder `prefix`, with its own server
    /// started. `owned` is removed on drop.
    fn private(wine: PathBuf, prefix: PathBuf, owned: Option<crate::lock::OwnedDir>) -> Self {
        let server = Server::start(&wine, &prefix);
        let on_interrupt = {
            let (prefix, remove) = (prefix.clone(), owned.is_some());
            process::on_interrupt(move || {
                kill_leftovers(&prefix);
                if remove {
                    remove_server_dirs(&prefix);
                    let _ = remove_prefix_dir(&prefix);
                }
            })
        };
        Self {
            wine,
            prefix,
            owned,
            started: std::sync::Mutex::new(Started {
                server,
                keeper: None,
            }),
            cancel: Cancel::default(),
            _on_interrupt: Some(on_interrupt),
            notice: None,
        }
    }

    /// The prefix an environment variable names, if one does.
    fn from_env(wine: &Path, env: &Env) -> Result<Option<Self>, Error> {
        let chosen = [PYSHIP_WINEPREFIX, crate::env::WINEPREFIX]
            .into_iter()
            .find_map(|var| env.get(var).map(|p| (var, p)));
        let Some((var, p)) = chosen else {
            return Ok(None);
        };
        let prefix = PathBuf::from(p);
        if !prefix.join("drive_c").is_dir() {
            return Err(Error::BadPrefix { var, path: prefix });
        }
        Ok(Some(Self {
            wine: wine.to_owned(),
            prefix,
            owned: None,
            started: std::sync::Mutex::default(),
            cancel: Cancel::default(),
            _on_interrupt: None,
            notice: None,
        }))
    }

    /// `wineboot -i` in this (empty) prefix, which is stopped afterwards.
    fn boot(&self) -> Result<(), Error> {
        let mut cmd = self.command("wineboot");
        cmd.arg("-i")
            .timeout(Duration::from_secs(180))
            .cancel(&self.cancel);
        let out = self.output_then_stop(cmd)?;
        if !out.success() || !self.prefix.join("drive_c/windows/system32").is_dir() {
            return Err(Error::Prefix {
                path: self.prefix.clone(),
                message: format!(
                    "`wineboot -i` failed ({}): {}",
                    out.status,
                    out.stderr.trim().chars().take(2000).collect::<String>()
                ),
            });
        }
        Ok(())
    }

    /// Run `cmd` and stop the prefix (its registry is then written) once
    /// it exited: the services it started inherit its output pipes and hold
    /// them open until they stop, so the pipes are read to their end only
    /// after that.
    fn output_then_stop(&self, cmd: Command) -> Result<Output, Error> {
        let out = cmd.output_then(|| self.stop());
        if out.is_err() {
            self.stop();
        }
        Ok(out?)
    }

    /// Run `cmd.exe /c echo` in this prefix and stop it: an error unless the
    /// program ran and printed.
    fn check_runs(&self) -> Result<(), Error> {
        const SAID: &str = "pyship-prefix-runs";
        let mut cmd = self.command("cmd.exe");
        cmd.args(["/c", "echo", SAID])
            .timeout(Duration::from_secs(180))
            .cancel(&self.cancel);
        let out = self.output_then_stop(cmd)?;
        if !out.success() || !out.stdout.contains(SAID) {
            return Err(Error::Prefix {
                path: self.prefix.clone(),
                message: format!(
                    "no program runs in the new prefix: `wine cmd.exe` {}: {}",
                    out.status,
                    out.combined().trim().chars().take(2000).collect::<String>()
                ),
            });
        }
        Ok(())
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

    /// `wine <program>` in this prefix, with the std handles left to the
    /// caller: a program a user runs (`cargo pyship run`).
    pub fn user_command(&self, program: &str) -> Command {
        let mut c = Command::new(&self.wine);
        c.arg(program)
            .env("WINEPREFIX", &self.prefix)
            .env("WINEDEBUG", "-all")
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=");
        c
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(&self.wine);
        c.arg(program)
            .env("WINEPREFIX", &self.prefix)
            .env("WINEDEBUG", "-all")
            // No Mono/Gecko install dialogs in a fresh prefix.
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=");
        c
    }

    fn run_raw(&self, program: &str, args: &[String], timeout: Duration) -> Result<Output, Error> {
        let mut cmd = self.command(program);
        cmd.args(args).timeout(timeout).cancel(&self.cancel);
        let r = cmd.output();
        if matches!(r, Err(process::Error::Timeout { .. })) && self.owned.is_some() {
            self.stop();
        }
        Ok(r?)
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
        // In a copy of the cached prefix this is a hard link to the cache's
        // file (read-only, which does not stop root): replace the link,
        // never write through it.
        let _ = fs_err::remove_file(&dest);
        fs_err::copy(&dll, &dest).map_err(|source| Error::PrefixIo {
            path: dest.clone(),
            source,
        })?;
        Ok(self.has_process_prng())
    }

    /// Stop every program of this prefix and its server (which writes the
    /// registry): the server this process started, else `wineserver -k`;
    /// then kill what outlived it ([`kill_leftovers`]).
    fn stop(&self) {
        let started = std::mem::take(
            &mut *self
                .started
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        let stopped = started.server.is_some_and(Server::stop);
        if let Some(mut keeper) = started.keeper {
            // It ends with the prefix's other programs, or at the end of its
            // stdin; one that lost its server before either can wait
            // forever: a bounded wait, then the kill.
            keeper.close_stdin();
            let _ = keeper.wait(Duration::from_secs(5), &Cancel::default());
        }
        if !stopped {
            let exe = wineserver_exe(&self.wine);
            for arg in ["-k", "-w"] {
                let mut c = Command::new(&exe);
                c.arg(arg)
                    .env("WINEPREFIX", &self.prefix)
                    .timeout(Duration::from_secs(30));
                let _ = c.output();
            }
        }
        kill_leftovers(&self.prefix);
    }
}

impl Drop for Wine {
    fn drop(&mut self) {
        // A prepared prefix belongs to the user: never stop its server.
        if self.owned.is_some() {
            self.stop();
            remove_server_dirs(&self.prefix);
        }
    }
}

/// `wine --version` (e.g. `wine-8.0 (Debian 8.0~repack-4)`): what a prepared
/// prefix is keyed by.
pub fn wine_version(wine: &Path) -> Result<String, Error> {
    let mut c = Command::new(wine);
    c.arg("--version").timeout(process::QUICK);
    let out = c.output()?;
    let v = out.stdout.trim();
    if !out.success() || v.is_empty() {
        return Err(Error::Prefix {
            path: wine.to_owned(),
            message: format!("`wine --version` failed: {}", out.stderr.trim()),
        });
    }
    Ok(v.to_owned())
}
