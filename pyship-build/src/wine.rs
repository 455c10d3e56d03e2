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

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cache::Cache;
use crate::env::{Env, PYSHIP_WINEPREFIX};
use crate::error::Hint;
use crate::process::{self, Command};
use crate::tools;

pub use crate::process::{Cancel, Output};

/// Cache bucket of prepared prefixes; bump the suffix when what a prepared
/// prefix holds changes.
pub const PREFIX_BUCKET: &str = "wine-prefix-v0";
/// Files of a prepared prefix under `drive_c/windows` with these extensions
/// are wine's own binaries: linked, never copied.
const LINKED_EXTENSIONS: &[&str] = &[
    "dll", "exe", "drv", "sys", "acm", "cpl", "ocx", "nls", "tlb", "ax", "ds", "mui", "com",
    "dll16", "exe16", "drv16", "vxd", "msstyles",
];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Tool(#[from] tools::Error),
    #[error("could not create a wine prefix in {path}: {message}")]
    Prefix { path: PathBuf, message: String },
    #[error("{var} points at {path}, which is not a wine prefix (no drive_c/)")]
    BadPrefix { var: &'static str, path: PathBuf },
    #[error(transparent)]
    Process(#[from] process::Error),
    #[error("could not use the cached wine prefix in {path}")]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
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
            Error::Process(process::Error::Spawn { .. }) => {
                Some("check that `wine --version` runs".into())
            }
            Error::Process(process::Error::Timeout { .. }) => Some(
                "run it by hand with the same WINEPREFIX to see where it hangs; `wineserver -k` stops a stuck prefix"
                    .into(),
            ),
            Error::Process(e) => e.hint(),
            Error::Cache { .. } => Some(
                "`cargo pyship cache clean` removes the cached prefix (the next build prepares a new one)"
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

/// The programs this process started for a private prefix.
#[derive(Debug, Default)]
struct Started {
    /// Its wineserver, if it could start.
    server: Option<Server>,
    /// The program that keeps its session (wine's services) running: a
    /// `cmd.exe` reading a pipe this process holds. If this process dies,
    /// however, the pipe closes, `cmd.exe` exits and the server stops the
    /// session: nothing is left running.
    keeper: Option<process::Child>,
}

/// A `wineserver --foreground` started for a private prefix before any of its
/// programs, so that stopping it is a signal and a `wait` (0.5 s: the server
/// lingers that long after its programs are gone) instead of `wineserver -k`,
/// which polls for the server's exit with growing sleeps (0.75 s measured).
#[derive(Debug)]
struct Server(process::Child);

impl Server {
    /// Start the server of `prefix` (which must exist) and wait until it
    /// listens; `None` when it cannot start (the prefix is then stopped with
    /// `wineserver -k`).
    ///
    /// The wait matters on a fresh prefix: Debian's wine picks the server's
    /// temp folder on first use and records it in the prefix's `wineserver`
    /// file, and when the server and a program do that at once one of them
    /// exits with "fixed a temporary directory error, please try running the
    /// same command again" (measured: 4 of 150 fresh prefixes with three at
    /// once). Once the server listens the file is there and read, not made.
    fn start(wine: &Path, prefix: &Path) -> Option<Self> {
        if !cfg!(unix) {
            return None;
        }
        let mut cmd = Command::new(wineserver_exe(wine));
        cmd.arg("--foreground")
            .env("WINEPREFIX", prefix)
            .env("WINEDEBUG", "-all");
        let mut child = cmd.spawn(false).ok()?;
        let start = Instant::now();
        // Bounded: a wine that keeps its socket elsewhere only loses the wait.
        while start.elapsed() < Duration::from_secs(10)
            && !child.has_exited()
            && !server_sockets(prefix).iter().any(|s| s.exists())
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        Some(Self(child))
    }

    /// SIGINT, as `wineserver -k` sends it: the server kills every program of
    /// the prefix, writes the registry and exits. (SIGTERM right after it would
    /// end the server at once, but measured, it left a `winedevice.exe` thread
    /// alive that held the build's output pipe.) Returns whether it exited on
    /// the signal; `false` when it was killed after 10 s, or had exited before
    /// (then the caller falls back to `wineserver -k`).
    fn stop(mut self) -> bool {
        // Exited already: a server ends with the prefix's last program (unless
        // a keeper holds its session), and it also exits when another server
        // took the prefix (one that started before this one listened, which
        // the wait in `start` only rules out within its bound).
        if self.0.has_exited() {
            return false;
        }
        self.0.interrupt();
        self.0
            .wait(Duration::from_secs(10), &Cancel::default())
            .is_ok()
    }
}

/// Where the server of `prefix` listens once it is up:
/// `server-{dev:x}-{inode:x}/socket` (of the prefix folder) inside the folder
/// Debian's wine names in the prefix's `wineserver` file (under `TMPDIR`,
/// else `/tmp`), or inside upstream wine's `/tmp/.wine-{uid}`.
fn server_sockets(prefix: &Path) -> Vec<PathBuf> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = fs_err::metadata(prefix) else {
            return Vec::new();
        };
        let dir = format!("server-{:x}-{:x}", meta.dev(), meta.ino());
        let uid = rustix::process::getuid().as_raw();
        let mut roots = vec![PathBuf::from(format!("/tmp/.wine-{uid}"))];
        if let Ok(name) = fs_err::read_to_string(prefix.join("wineserver")) {
            let name = name.trim_end_matches('\0').trim();
            if !name.is_empty() && !name.contains('/') {
                roots.push(std::env::temp_dir().join(name));
            }
        }
        roots
            .into_iter()
            .map(|r| r.join(&dir).join("socket"))
            .collect()
    }
    #[cfg(not(unix))]
    {
        let _ = prefix;
        Vec::new()
    }
}

/// Kill what is left of a private prefix once its server is gone. A program
/// that was starting when the server stopped (a `winedevice.exe` that
/// `services.exe` launched as `wineboot` exited, seen twice in one CI run)
/// waits forever for the server's answer on a pipe it holds both ends of,
/// and keeps every pipe it inherited open: a build reading its output would
/// wait forever too. Only processes whose `WINEPREFIX` is exactly this
/// private prefix are killed.
fn kill_leftovers(prefix: &Path) {
    #[cfg(unix)]
    for _ in 0..3 {
        let left = prefix_processes(prefix);
        if left.is_empty() {
            return;
        }
        for pid in left {
            if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    #[cfg(not(unix))]
    let _ = prefix;
}

/// The live processes whose environment has `WINEPREFIX` set to exactly
/// `prefix` (a zombie's `environ` cannot be read: it never matches); none
/// where `/proc` cannot tell (not Linux).
#[cfg(unix)]
fn prefix_processes(prefix: &Path) -> Vec<i32> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        let mut entry = b"WINEPREFIX=".to_vec();
        entry.extend_from_slice(prefix.as_os_str().as_bytes());
        let me = std::process::id();
        let Ok(rd) = fs_err::read_dir("/proc") else {
            return Vec::new();
        };
        rd.flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|&pid| u32::try_from(pid).ok() != Some(me))
            .filter(|pid| {
                let environ = fs_err::read(format!("/proc/{pid}/environ")).unwrap_or_default();
                environ.split(|b| *b == 0).any(|v| v == entry.as_slice())
            })
            .collect()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = prefix;
        Vec::new()
    }
}

/// The `wineserver` beside `wine`, else the one on `PATH`.
fn wineserver_exe(wine: &Path) -> PathBuf {
    let mut server = wine.to_owned();
    server.set_file_name("wineserver");
    if server.is_file() {
        server
    } else {
        PathBuf::from("wineserver")
    }
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
        if let Some(me) = Self::from_env(&wine, env)? {
            return Ok(me);
        }
        let tmp = std::env::temp_dir();
        let dir = crate::lock::OwnedDir::new_in(&tmp, crate::lock::WINE_DIR_PREFIX, false)
            .map_err(|e| Error::Prefix {
                path: tmp,
                message: e.to_string(),
            })?;
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
        fs_err::copy(&dll, &dest).map_err(|e| Error::Prefix {
            path: dest.clone(),
            message: e.to_string(),
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

/// The cache key of a prepared prefix: the wine version and the replacement
/// DLL's source (or its absence) decide what the prefix holds.
pub fn prefix_key(wine_version: &str, with_shim: bool) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(PREFIX_BUCKET.as_bytes());
    h.update([0]);
    h.update(wine_version.as_bytes());
    h.update([0]);
    if with_shim {
        h.update(PROCESS_PRNG_SOURCE.as_bytes());
    }
    hex::encode(h.finalize())[..32].to_owned()
}

/// Whether a prepared prefix gets the `ProcessPrng` replacement: when the
/// compiler is there. Decided the same way wherever a build asks for the
/// prefix, so that it finds the one it prepared (whether the compiling
/// itself succeeds does not change the key: a prefix without the DLL is
/// given it in its copies, see [`Wine::add_process_prng`]).
fn wants_shim(env: &Env) -> bool {
    tools::MINGW_GCC.find(env).is_ok()
}

/// A private copy of the cached prefix, and whether this call prepared it.
#[derive(Debug)]
pub struct CachedPrefix {
    /// The copy (removed when dropped; the caller stops its wineserver first).
    pub copy: crate::lock::OwnedDir,
    /// The prepared prefix it was copied from.
    pub prepared: PathBuf,
    /// Whether the prepared prefix was made by this call (`wineboot` ran).
    pub booted: bool,
    /// Set when this call found the cached prefix unfinished or changed
    /// and replaced it: what to tell the user.
    pub notice: Option<String>,
}

/// What [`ensure_prepared`] found and did.
#[derive(Debug)]
pub struct Ensured {
    /// The prepared prefix's folder.
    pub path: PathBuf,
    /// Whether this call prepared it (`wineboot` ran).
    pub booted: bool,
    /// Set when a folder of the key's name that was no prepared prefix was
    /// replaced: what to tell the user.
    pub notice: Option<String>,
}

/// The line telling that the cached prefix at `path` was replaced, and why.
fn replaced_notice(path: &Path, why: &str) -> String {
    format!(
        "the cached wine prefix {} {why}; a new one was prepared in its place",
        path.display()
    )
}

/// The prefix for `wine_version` prepared in `cache` (made when missing, with
/// `shim` as its `bcryptprimitives.dll` when given; `with_shim` picks the
/// key, see [`ensure_prepared`]), and a private copy of it. Prepared
/// prefixes of other keys (another wine version) are removed. A prepared
/// prefix whose files no longer match its list (changed since it was made)
/// is replaced by a new one.
pub fn prepare_cached(
    wine: &Path,
    cache: &Cache,
    wine_version: &str,
    with_shim: bool,
    shim: Option<&Path>,
) -> Result<CachedPrefix, Error> {
    let bucket = cache.bucket(PREFIX_BUCKET);
    let mut booted = false;
    let mut notice = None;
    // A build for another wine version may remove the prefix between the
    // two locks, or the copy finds it damaged: then prepare it again.
    for _ in 0..3 {
        let ensured = ensure_prepared(
            wine,
            cache,
            wine_version,
            with_shim,
            || shim.map(Path::to_owned),
            &Cancel::default(),
        )?;
        let prepared = ensured.path;
        booted |= ensured.booted;
        notice = notice.or(ensured.notice);
        let key = prepared
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (lock, lock_path) = open_lock(&bucket, &key)?;
        lock.file().lock_shared().map_err(cache_err(&lock_path))?;
        let Some(listed) = prepared_listing(&prepared) else {
            let _ = lock.file().unlock();
            continue;
        };
        let copy = cache
            .staging(PREFIX_BUCKET)
            .map_err(cache_err(&cache.incoming(PREFIX_BUCKET)))?;
        let found = link_copy(&prepared, copy.path()).map_err(cache_err(copy.path()))?;
        if found == listed {
            let _ = lock.file().unlock();
            return Ok(CachedPrefix {
                copy,
                prepared,
                booted,
                notice,
            });
        }
        // Changed since it was made (a file truncated, removed, written
        // to): no longer what wine made, so replaced, unless another build
        // replaced it meanwhile.
        drop(copy);
        lock.file().unlock().map_err(cache_err(&lock_path))?;
        lock.file().lock().map_err(cache_err(&lock_path))?;
        if prepared_listing(&prepared).as_deref() == Some(listed.as_str()) {
            retire(cache, &prepared).map_err(cache_err(&prepared))?;
            notice = Some(replaced_notice(
                &prepared,
                "had changed since it was made (a file of it was written, truncated or removed)",
            ));
        }
        let _ = lock.file().unlock();
    }
    Err(Error::Cache {
        path: bucket,
        source: std::io::Error::other(
            "the prepared prefix kept being removed or changed by another build",
        ),
    })
}

/// Make sure the prefix for `wine_version` is prepared in `cache`; returns
/// its folder and whether this call prepared it (or replaced it). Holds `{key}.lock`
/// exclusively while preparing, so a second build waits instead of booting
/// its own. `with_shim` picks the key; `shim` gives the replacement DLL and
/// is called only after `wineboot`, so the DLL can be compiled meanwhile
/// (a prefix whose DLL did not come is still usable: a build copies the DLL
/// into its private copy when missing, see [`Wine::add_process_prng`]).
/// Only a folder with its [`PREPARED_LIST`] is a prepared prefix; whatever
/// else has the key's name is replaced.
pub fn ensure_prepared(
    wine: &Path,
    cache: &Cache,
    wine_version: &str,
    with_shim: bool,
    shim: impl FnOnce() -> Option<PathBuf>,
    cancel: &Cancel,
) -> Result<Ensured, Error> {
    let bucket = cache.marked(PREFIX_BUCKET);
    let key = prefix_key(wine_version, with_shim);
    let prepared = bucket.join(&key);
    let (lock, lock_path) = open_lock(&bucket, &key)?;
    lock.file().lock_shared().map_err(cache_err(&lock_path))?;
    if prepared_listing(&prepared).is_some() {
        let _ = lock.file().unlock();
        return Ok(Ensured {
            path: prepared,
            booted: false,
            notice: None,
        });
    }
    // No upgrade of a shared lock in place: release, lock exclusively, look again.
    lock.file().unlock().map_err(cache_err(&lock_path))?;
    lock.file().lock().map_err(cache_err(&lock_path))?;
    let mut booted = false;
    let mut notice = None;
    if prepared_listing(&prepared).is_none() {
        if fs_err::symlink_metadata(&prepared).is_ok() {
            notice = Some(replaced_notice(
                &prepared,
                "was unfinished (no list of its files: made by an older cargo-pyship, or cut short)",
            ));
        }
        retire(cache, &prepared).map_err(cache_err(&prepared))?;
        boot_into(wine, cache, &prepared, shim, cancel)?;
        booted = true;
    }
    remove_other_prefixes(cache, &bucket, &key);
    let _ = lock.file().unlock();
    Ok(Ensured {
        path: prepared,
        booted,
        notice,
    })
}

/// Prepare the cached prefix on a thread of its own, so that a build's first
/// run on a machine boots wine while its other stages work; with `session`,
/// then make the build's private copy and start its session there too
/// ([`Background::take_wine`] hands it over). Nothing happens when a prefix
/// is named by the environment, wine is missing, or the host is Windows (the
/// bundle's python.exe runs directly there). Errors are left to the build's
/// own [`Wine::with_cache`], which meets them again.
pub fn prepare_in_background(env: &Env, cache: &Cache, session: bool) -> Option<Background> {
    if cfg!(windows)
        || [PYSHIP_WINEPREFIX, crate::env::WINEPREFIX]
            .iter()
            .any(|v| env.get(v).is_some())
    {
        return None;
    }
    let wine = tools::WINE.find(env).ok()?;
    let (env, cache) = (env.clone(), cache.clone());
    let cancel = Cancel::default();
    let stop = cancel.clone();
    let handle = std::thread::spawn(move || {
        let Ok(version) = wine_version(&wine) else {
            return (None, None);
        };
        // The DLL compiles (about a second) while wineboot runs.
        let with_shim = wants_shim(&env);
        let notice = std::thread::scope(|s| {
            let gcc = s.spawn(|| compile_shim(&cache, &env, &stop).ok());
            let shim = || gcc.join().ok().flatten();
            ensure_prepared(&wine, &cache, &version, with_shim, shim, &stop)
                .ok()
                .and_then(|e| e.notice)
        });
        if !session || stop.is_cancelled() {
            return (None, notice);
        }
        (Wine::with_session(&env, &cache, &stop).ok(), notice)
    });
    Some(Background {
        cancel,
        handle: std::sync::Mutex::new(Some(handle)),
        notice: std::sync::Mutex::new(None),
    })
}

/// What the thread of [`prepare_in_background`] ends with: the private
/// prefix whose session it started, and its notice about the cached prefix.
type Prepared = (Option<Wine>, Option<String>);

/// The thread of [`prepare_in_background`]. [`Background::take_wine`] and
/// [`Background::finish`] wait for it; dropped unfinished (the build failed),
/// it stops the thread's program and waits for the thread to remove its
/// staging folders and stop its session, so a failed build leaves no
/// half-made prefix in the cache.
#[derive(Debug)]
pub struct Background {
    cancel: Cancel,
    handle: std::sync::Mutex<Option<std::thread::JoinHandle<Prepared>>>,
    /// The thread's notice when it handed over no prefix to carry it.
    notice: std::sync::Mutex<Option<String>>,
}

impl Background {
    fn take_handle(&self) -> Option<std::thread::JoinHandle<Prepared>> {
        self.handle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    /// Wait for the thread; the private prefix whose session it started, if
    /// it was asked to and could (only the first call gets it). The
    /// prefix's [`Wine::notice`] tells when the thread replaced the cached
    /// prefix.
    pub fn take_wine(&self) -> Option<Wine> {
        let (wine, notice) = self.take_handle()?.join().ok()?;
        match wine {
            Some(mut w) => {
                if w.notice.is_none() {
                    w.notice = notice;
                }
                Some(w)
            }
            None => {
                *self
                    .notice
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = notice;
                None
            }
        }
    }

    /// Wait for the prefix to be prepared (a private prefix nobody took is
    /// stopped and removed). Returns the notice about the cached prefix
    /// (see [`Wine::notice`]) that no prefix handed over carried.
    pub fn finish(self) -> Option<String> {
        let from_wine = self.take_wine().and_then(|mut w| w.notice.take());
        from_wine.or_else(|| {
            self.notice
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take()
        })
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(h) = self.take_handle() {
            self.cancel.cancel();
            let _ = h.join();
        }
    }
}

fn cache_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_owned();
    move |source| Error::Cache { path, source }
}

fn open_lock(bucket: &Path, key: &str) -> Result<(fs_err::File, PathBuf), Error> {
    let lock_path = bucket.join(format!("{key}.lock"));
    fs_err::create_dir_all(bucket).map_err(cache_err(bucket))?;
    let lock = fs_err::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(cache_err(&lock_path))?;
    Ok((lock, lock_path))
}

/// `wineboot -i` into a staging folder, add `shim`, check that a program
/// runs there, make wine's binaries read-only, write the prefix's
/// [`PREPARED_LIST`], and rename the result to `prepared` (every file
/// flushed to disk first, so a crash cannot leave a listed prefix with
/// missing data either).
///
/// Wine records a prefix as up to date (`.update-timestamp`) before its
/// setup finished, and never repairs one whose setup was cut short: no
/// program starts there ("could not load kernel32.dll"). So what `wineboot`
/// left is kept only once `wineboot` succeeded and a program ran in it.
fn boot_into(
    wine: &Path,
    cache: &Cache,
    prepared: &Path,
    shim: impl FnOnce() -> Option<PathBuf>,
    cancel: &Cancel,
) -> Result<(), Error> {
    let staging = cache
        .staging(PREFIX_BUCKET)
        .map_err(cache_err(&cache.incoming(PREFIX_BUCKET)))?;
    let prefix = staging.path().join("prefix");
    fs_err::create_dir_all(&prefix).map_err(cache_err(&prefix))?;
    let mut booting = Wine::private(wine.to_owned(), prefix.clone(), None);
    booting.cancel = cancel.clone();
    booting.boot()?;
    if let Some(dll) = shim() {
        let dest = prefix.join("drive_c/windows/system32/bcryptprimitives.dll");
        fs_err::copy(dll, &dest).map_err(cache_err(&dest))?;
    }
    booting.check_runs()?;
    drop(booting);
    crate::fs::sync_tree(&prefix).map_err(cache_err(&prefix))?;
    for e in walkdir::WalkDir::new(prefix.join("drive_c/windows")) {
        let e = e.map_err(|e| Error::Cache {
            path: prefix.clone(),
            source: std::io::Error::other(e),
        })?;
        if e.file_type().is_file() && is_linked(e.path()) {
            let mut perm = e
                .metadata()
                .map_err(|e| Error::Cache {
                    path: prefix.clone(),
                    source: std::io::Error::other(e),
                })?
                .permissions();
            perm.set_readonly(true);
            fs_err::set_permissions(e.path(), perm).map_err(cache_err(e.path()))?;
        }
    }
    let listing = listing_of(&prefix).map_err(cache_err(&prefix))?;
    let list = prefix.join(PREPARED_LIST);
    crate::fs::atomic_write(&list, listing.as_bytes())
        .map_err(|e| cache_err(&list)(std::io::Error::other(e)))?;
    crate::fs::sync_dir(&prefix).map_err(cache_err(&prefix))?;
    fs_err::rename(&prefix, prepared).map_err(cache_err(prepared))?;
    if let Some(bucket) = prepared.parent() {
        crate::fs::sync_dir(bucket).map_err(cache_err(bucket))?;
    }
    Ok(())
}

/// The file a prepared prefix gets last, once it is whole: the list of its
/// files (with size and modification time) and symlinks. A folder in the
/// bucket without it is not a prepared prefix (what a boot cut short, a
/// removal killed halfway or an older version of the tool left); a copy
/// compares what it copies with it, so a prefix changed since it was made
/// (a write through one of the hard links) is found and replaced.
pub const PREPARED_LIST: &str = ".pyship-prepared";

/// The [`PREPARED_LIST`] of a prepared prefix; `None` when it has none.
fn prepared_listing(prepared: &Path) -> Option<String> {
    fs_err::read_to_string(prepared.join(PREPARED_LIST)).ok()
}

/// One line of a prefix's listing for the walked entry `e` at `rel`
/// (nothing for a folder).
fn list_entry(listing: &mut String, rel: &Path, e: &walkdir::DirEntry) -> std::io::Result<()> {
    use std::fmt::Write as _;
    let rel = rel.to_string_lossy();
    if e.file_type().is_symlink() {
        let target = fs_err::read_link(e.path())?;
        let _ = writeln!(listing, "l {rel} -> {}", target.display());
    } else if e.file_type().is_file() {
        let meta = e.metadata().map_err(std::io::Error::other)?;
        let mtime = meta
            .modified()?
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let _ = writeln!(listing, "f {rel} {} {mtime}", meta.len());
    }
    Ok(())
}

/// The listing of the prefix `dir` (see [`PREPARED_LIST`]), in the order
/// [`link_copy`] walks it.
fn listing_of(dir: &Path) -> std::io::Result<String> {
    let mut listing = String::new();
    for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let e = e.map_err(std::io::Error::other)?;
        let rel = e.path().strip_prefix(dir).expect("below the root");
        if rel != Path::new(PREPARED_LIST) {
            list_entry(&mut listing, rel, &e)?;
        }
    }
    Ok(listing)
}

/// Whether a prefix file is one of wine's binaries (hard-linked into copies).
fn is_linked(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| LINKED_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        && path
            .components()
            .any(|c| c.as_os_str().eq_ignore_ascii_case("windows"))
}

/// Copy the prefix `from` to `to`: symlinks as symlinks (`dosdevices/c:`),
/// wine's binaries as hard links (a copy when linking fails, e.g. across
/// file systems), everything else copied. Returns `from`'s listing as
/// found while copying (see [`PREPARED_LIST`]).
fn link_copy(from: &Path, to: &Path) -> std::io::Result<String> {
    let mut listing = String::new();
    for e in walkdir::WalkDir::new(from).sort_by_file_name() {
        let e = e.map_err(std::io::Error::other)?;
        let rel = e.path().strip_prefix(from).expect("below the root");
        if rel == Path::new(PREPARED_LIST) {
            continue;
        }
        list_entry(&mut listing, rel, &e)?;
        let dest = to.join(rel);
        let ft = e.file_type();
        if ft.is_dir() {
            fs_err::create_dir_all(&dest)?;
        } else if ft.is_symlink() {
            let target = fs_err::read_link(e.path())?;
            #[cfg(unix)]
            std::os::unix::fs::symlink(&target, &dest)?;
            #[cfg(not(unix))]
            let _ = target;
        } else if is_linked(rel) {
            if fs_err::hard_link(e.path(), &dest).is_err() {
                fs_err::copy(e.path(), &dest)?;
            }
        } else {
            fs_err::copy(e.path(), &dest)?;
        }
    }
    Ok(listing)
}

/// Remove the prepared prefixes of other keys that nobody is using (their
/// lock is free): an upgraded wine leaves no 700 MB behind. Their lock
/// files stay (a few bytes): a build may have opened one to wait on it, and
/// a new file of the same name would be a second lock.
fn remove_other_prefixes(cache: &Cache, bucket: &Path, key: &str) {
    let Ok(rd) = fs_err::read_dir(bucket) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == key || name.ends_with(".lock") {
            continue;
        }
        let lock_path = bucket.join(format!("{name}.lock"));
        let Ok(lock) = fs_err::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
        else {
            continue;
        };
        if lock.file().try_lock().is_ok() {
            let _ = retire(cache, &e.path());
        }
    }
}

/// Take `entry` out of the bucket (call with its lock held exclusively):
/// renamed into a staging folder, which no build ever takes for a prepared
/// prefix, then removed from there. A kill during the removal leaves a
/// staging folder whose owner is gone, which the next build removes
/// ([`crate::lock::clean_leftovers`]). Nothing to do when it is missing.
fn retire(cache: &Cache, entry: &Path) -> std::io::Result<()> {
    if fs_err::symlink_metadata(entry).is_err() {
        return Ok(());
    }
    let trash = cache.staging(PREFIX_BUCKET)?;
    let retired = trash.path().join("retired");
    fs_err::rename(entry, &retired)?;
    // Out of the bucket now: what cannot be removed here goes with the
    // staging folder (dropped next) or with the next build's cleanup.
    let _ = remove_prefix_dir(&retired);
    Ok(())
}

/// Remove a prefix folder, whose binaries are read-only.
fn remove_prefix_dir(dir: &Path) -> std::io::Result<()> {
    // On Unix a read-only file in a writable folder can be removed; elsewhere
    // make everything writable first.
    #[cfg(not(unix))]
    for e in walkdir::WalkDir::new(dir).into_iter().flatten() {
        if e.file_type().is_file() {
            if let Ok(m) = e.metadata() {
                let mut p = m.permissions();
                #[allow(clippy::permissions_set_readonly_false)]
                p.set_readonly(false);
                let _ = fs_err::set_permissions(e.path(), p);
            }
        }
    }
    fs_err::remove_dir_all(dir)
}

/// The replacement `bcryptprimitives.dll`, compiled from
/// [`PROCESS_PRNG_SOURCE`] with the mingw-w64 compiler into the cache (keyed
/// by the source's SHA-256) on first use.
pub fn process_prng_dll(cache: &crate::cache::Cache, env: &Env) -> Result<PathBuf, Error> {
    compile_shim(cache, env, &Cancel::default())
}

/// [`process_prng_dll`], stopped by `cancel`. The compiler works in
/// `{bucket}/.incoming/{pid}-…` (what a killed run leaves there is removed
/// by the next build) and the DLL is renamed into place.
fn compile_shim(cache: &Cache, env: &Env, cancel: &Cancel) -> Result<PathBuf, Error> {
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
    let work = cache
        .staging(SHIM_BUCKET)
        .map_err(|e| fail(e.to_string()))?;
    let src = work.path().join("bcryptprimitives.c");
    fs_err::write(&src, PROCESS_PRNG_SOURCE).map_err(|e| fail(e.to_string()))?;
    let out = work.path().join("bcryptprimitives.dll");
    let mut cmd = Command::new(&gcc);
    cmd.args(["-shared", "-O2", "-o"])
        .arg(&out)
        .arg(&src)
        .timeout(Duration::from_secs(120))
        .cancel(cancel);
    let r = cmd.output()?;
    if !r.success() || !out.is_file() {
        return Err(fail(format!(
            "compiling bcryptprimitives.dll failed: {}",
            r.stderr.trim()
        )));
    }
    fs_err::rename(&out, &dll).map_err(|e| fail(e.to_string()))?;
    Ok(dll)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(unix)]
    use std::process::{Command, Stdio};

    /// The cached prefix: two builds at once prepare it once; a later build
    /// copies it (no wineboot) and the copy runs programs with its binaries
    /// linked read-only; another wine version (a changed key) prepares a new
    /// one and removes the old.
    #[cfg(unix)]
    #[test]
    fn cached_prefix_is_prepared_once_and_a_new_wine_replaces_it() {
        use std::os::unix::fs::MetadataExt;
        let env = Env::from_process();
        let wine = wine_here(&env);
        let d = tempfile::tempdir().unwrap();
        let cache = Cache::at(d.path());
        let (a1, a2) = std::thread::scope(|s| {
            let t1 =
                s.spawn(|| prepare_cached(&wine, &cache, "wine-test (A)", false, None).unwrap());
            let t2 =
                s.spawn(|| prepare_cached(&wine, &cache, "wine-test (A)", false, None).unwrap());
            (t1.join().unwrap(), t2.join().unwrap())
        });
        assert_eq!(
            u8::from(a1.booted) + u8::from(a2.booted),
            1,
            "two builds at once boot one prefix"
        );
        assert_eq!(a1.prepared, a2.prepared);
        let a3 = prepare_cached(&wine, &cache, "wine-test (A)", false, None).unwrap();
        assert!(!a3.booted, "a prepared prefix is copied, not booted");
        let dll = "drive_c/windows/system32/kernel32.dll";
        let (cached, copied) = (
            fs_err::metadata(a3.prepared.join(dll)).unwrap(),
            fs_err::metadata(a3.copy.path().join(dll)).unwrap(),
        );
        assert_eq!(cached.ino(), copied.ino(), "binaries are linked");
        assert!(copied.permissions().readonly(), "and read-only");
        let reg = "system.reg";
        assert_ne!(
            fs_err::metadata(a3.prepared.join(reg)).unwrap().ino(),
            fs_err::metadata(a3.copy.path().join(reg)).unwrap().ino(),
            "the registry is copied"
        );
        // The copy works: wine runs a program in it.
        let w = Wine::private(wine.clone(), a3.copy.path().to_owned(), None);
        let out = w
            .run_raw(
                "cmd.exe",
                &["/c".into(), "echo".into(), "pyship-ok".into()],
                Duration::from_secs(120),
            )
            .unwrap();
        let t = Instant::now();
        w.stop();
        assert!(t.elapsed() < Duration::from_secs(5), "the server stops");
        assert!(out.stdout.contains("pyship-ok"), "{out:?}");
        let old = a3.prepared.clone();
        drop((a1, a2, a3));
        let b = prepare_cached(&wine, &cache, "wine-test (B)", false, None).unwrap();
        assert!(b.booted, "another wine version prepares a new prefix");
        assert_ne!(b.prepared, old);
        assert!(!old.exists(), "the old version's prefix is removed");
        assert!(b.prepared.join("drive_c/windows/system32").is_dir());
    }

    /// A prepared prefix is used only whole. A folder with the key's name
    /// that is no prepared prefix (what a removal killed halfway leaves:
    /// `drive_c/` is there) is replaced; a `wineboot` killed halfway (as a
    /// build's interrupt kills it) leaves no prepared prefix, and the next
    /// build prepares one in which programs run; a file of it truncated
    /// later (a write through a hard link, killed halfway) is found by the
    /// next copy, and the prefix is prepared anew. A replaced prefix comes
    /// with a notice for the user naming it and why.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_cached_prefix_is_used_only_whole() {
        let env = Env::from_process();
        let wine = wine_here(&env);
        let d = tempfile::tempdir().unwrap();
        let cache = Cache::at(d.path());
        let version = "wine-test (whole)";
        let entry = cache.bucket(PREFIX_BUCKET).join(prefix_key(version, false));
        fs_err::create_dir_all(entry.join("drive_c/windows/system32")).unwrap();
        fs_err::write(entry.join("system.reg"), "WINE REGISTRY Version 2\n").unwrap();

        let incoming = cache.incoming(PREFIX_BUCKET);
        let cut_short = std::thread::scope(|s| {
            let boot = s.spawn(|| {
                ensure_prepared(&wine, &cache, version, false, || None, &Cancel::default())
            });
            let t = Instant::now();
            let staged = loop {
                let found = fs_err::read_dir(&incoming)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|e| e.path().join("prefix"))
                    .find(|p| p.join("drive_c/windows/system32").is_dir());
                if found.is_some() || boot.is_finished() {
                    break found;
                }
                assert!(
                    t.elapsed() < Duration::from_secs(300),
                    "no system32 after 5 min"
                );
                std::thread::sleep(Duration::from_millis(20));
            };
            if let Some(staged) = staged {
                std::thread::sleep(Duration::from_secs(1));
                kill_leftovers(&staged);
            }
            boot.join().unwrap()
        });
        assert!(
            cut_short.is_err(),
            "taken for a prepared prefix: {cut_short:?}"
        );
        assert!(!entry.exists(), "what had the key's name is gone");

        let runs = |copy: &Path| {
            Wine::private(wine.clone(), copy.to_owned(), None)
                .check_runs()
                .unwrap();
        };
        // Again what a removal cut short leaves: replaced, and the user told.
        fs_err::create_dir_all(entry.join("drive_c/windows/system32")).unwrap();
        let a = prepare_cached(&wine, &cache, version, false, None).unwrap();
        assert!(a.booted, "the next build prepares the prefix");
        let notice = a.notice.as_deref().unwrap_or_default();
        assert!(
            notice.contains(&entry.display().to_string()) && notice.contains("unfinished"),
            "{notice:?}"
        );
        runs(a.copy.path());
        drop(a);

        let kernel32 = entry.join("drive_c/windows/system32/kernel32.dll");
        let whole = fs_err::metadata(&kernel32).unwrap().len();
        #[allow(clippy::permissions_set_readonly_false)]
        {
            let mut perm = fs_err::metadata(&kernel32).unwrap().permissions();
            perm.set_readonly(false);
            fs_err::set_permissions(&kernel32, perm).unwrap();
        }
        fs_err::OpenOptions::new()
            .write(true)
            .open(&kernel32)
            .unwrap()
            .set_len(4096)
            .unwrap();
        let b = prepare_cached(&wine, &cache, version, false, None).unwrap();
        assert!(
            b.booted,
            "a prefix changed since it was made is prepared anew"
        );
        let notice = b.notice.as_deref().unwrap_or_default();
        assert!(
            notice.contains(&entry.display().to_string()) && notice.contains("changed"),
            "{notice:?}"
        );
        assert_eq!(fs_err::metadata(&kernel32).unwrap().len(), whole);
        runs(b.copy.path());
    }

    /// A private prefix with its session started: a program's output pipes
    /// are read to their end although wine's services keep running, and
    /// dropping the prefix stops every program of it and removes it.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_started_session_serves_the_next_program_and_stops_on_drop() {
        let (w, _cache) = started_session();
        let copy = w.prefix().to_owned();
        let services = || processes_of(&copy);
        assert!(services() > 0, "the session's services run");
        let t = Instant::now();
        let out = w
            .run_raw(
                "cmd.exe",
                &["/c".into(), "echo".into(), "pyship-ok".into()],
                Duration::from_secs(60),
            )
            .unwrap();
        assert!(out.stdout.contains("pyship-ok"), "{out:?}");
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the output was read to its end while the services run: {:?}",
            t.elapsed()
        );
        drop(w);
        assert!(!copy.exists(), "the private copy is removed");
        // Polled to a deadline: the last programs may still be exiting.
        let t = Instant::now();
        while services() > 0 && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(services(), 0, "no program of the prefix is left running");
    }

    /// A fresh prefix's server listens when `Server::start` returns, so the
    /// programs started right after it read the temp folder it recorded
    /// instead of racing it to make one (before the wait, about one fresh
    /// prefix in forty failed with wine's "fixed a temporary directory
    /// error"). Each prefix here gets its server and then two more
    /// `wineserver`s at once, which set the folder up as a program does.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_fresh_prefix_server_listens_before_its_first_program() {
        let env = Env::from_process();
        let wine = wine_here(&env);
        let d = tempfile::tempdir().unwrap();
        let failures: Vec<String> = std::thread::scope(|s| {
            let runs: Vec<_> = (0..40)
                .map(|i| {
                    let (wine, prefix) = (&wine, d.path().join(format!("p{i}")));
                    s.spawn(move || {
                        fs_err::create_dir(&prefix).unwrap();
                        let server = Server::start(wine, &prefix).expect("wineserver starts");
                        assert!(
                            server_sockets(&prefix).iter().any(|s| s.exists()),
                            "the server listens once started"
                        );
                        // Output to files: a client that won the race
                        // stays as the prefix's server and would hold a pipe.
                        let clients: Vec<_> = (0..2)
                            .map(|c| {
                                let log = prefix.with_extension(format!("{c}.log"));
                                let child = Command::new(wineserver_exe(wine))
                                    .env("WINEPREFIX", &prefix)
                                    .stdin(Stdio::null())
                                    .stdout(Stdio::null())
                                    .stderr(fs_err::File::create(&log).unwrap().into_parts().0)
                                    .spawn()
                                    .unwrap();
                                (child, log)
                            })
                            .collect();
                        let errs: Vec<String> = clients
                            .into_iter()
                            .map(|(mut c, log)| {
                                let _ = c.wait();
                                fs_err::read_to_string(log).unwrap()
                            })
                            .filter(|e| e.contains("temporary directory"))
                            .collect();
                        let stopped = server.stop();
                        let _ = Command::new(wineserver_exe(wine))
                            .arg("-k")
                            .env("WINEPREFIX", &prefix)
                            .status();
                        assert!(stopped, "the server kept the prefix and exits on SIGINT");
                        errs
                    })
                })
                .collect();
            runs.into_iter().flat_map(|r| r.join().unwrap()).collect()
        });
        assert!(failures.is_empty(), "{failures:?}");
    }

    /// Stopping a private prefix also kills a program of it that outlived
    /// its server (as a `winedevice.exe` caught starting does), so a pipe it
    /// inherited reaches its end; a process of another prefix is left alone.
    #[cfg(target_os = "linux")]
    #[test]
    fn stopping_a_prefix_kills_what_outlived_its_server() {
        use std::io::Read;
        let env = Env::from_process();
        let wine = wine_here(&env);
        let d = tempfile::tempdir().unwrap();
        let prefix = d.path().join("prefix");
        fs_err::create_dir(&prefix).unwrap();
        let spawn = |p: &Path| {
            Command::new("sleep")
                .arg("300")
                .env("WINEPREFIX", p)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let w = Wine::private(wine, prefix.clone(), None);
        let mut stuck = spawn(&prefix);
        let mut other = spawn(&d.path().join("prefix-other"));
        let mut pipe = stuck.stderr.take().unwrap();
        let t = Instant::now();
        w.stop();
        let mut rest = Vec::new();
        pipe.read_to_end(&mut rest).unwrap();
        assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
        assert!(stuck.wait().unwrap().code().is_none(), "killed");
        assert_eq!(
            other.try_wait().unwrap(),
            None,
            "another prefix's process runs on"
        );
        other.kill().unwrap();
        other.wait().unwrap();
    }

    /// Stopping a prefix whose session keeper outlived its server (it
    /// waits for a server that is gone, ignoring the end of its stdin) ends
    /// within seconds: the keeper is killed, not waited for without end.
    #[cfg(unix)]
    #[test]
    fn stop_does_not_wait_for_a_keeper_that_outlived_its_server() {
        let d = tempfile::tempdir().unwrap();
        let spawn = |script: &str, stdin: bool| {
            let mut c = crate::process::Command::new("sh");
            c.args(["-c", script]);
            c.spawn(stdin).unwrap()
        };
        // A "server" that exits on SIGINT, and a keeper that ignores
        // everything but SIGKILL.
        let server = Server(spawn("exec sleep 300", false));
        let keeper = spawn(
            "trap '' INT TERM HUP; exec 0</dev/null; exec sleep 300",
            true,
        );
        let w = Wine {
            wine: PathBuf::from("wine"),
            prefix: d.path().to_owned(),
            owned: None,
            started: std::sync::Mutex::new(Started {
                server: Some(server),
                keeper: Some(keeper),
            }),
            cancel: Cancel::default(),
            _on_interrupt: None,
            notice: None,
        };
        let t = Instant::now();
        w.stop();
        // Bounded: 10 s for the server (when SIGINT does not end it: a build
        // started in the background by a non-interactive shell passes on an
        // ignored SIGINT), 5 s for the keeper, then the kills; a loaded
        // machine adds seconds. Without the bound it waits 300 s.
        assert!(t.elapsed() < Duration::from_secs(60), "{:?}", t.elapsed());
    }

    /// How many live processes name `prefix` as their `WINEPREFIX`.
    #[cfg(target_os = "linux")]
    fn processes_of(prefix: &Path) -> usize {
        prefix_processes(prefix).len()
    }

    /// The wine these tests run.
    #[cfg(unix)]
    fn wine_here(env: &Env) -> PathBuf {
        tools::WINE
            .find(env)
            .expect("this test needs wine (`apt-get install wine wine64`)")
    }

    /// A private copy of a prefix prepared in a fresh cache, with its session
    /// started (a prefix named by the environment is ignored); the cache's
    /// folder comes second, so it is removed after the prefix.
    #[cfg(target_os = "linux")]
    fn started_session() -> (Wine, tempfile::TempDir) {
        let mut env = Env::from_process();
        wine_here(&env);
        for v in [PYSHIP_WINEPREFIX, crate::env::WINEPREFIX] {
            env.set(v, "");
        }
        let d = tempfile::tempdir().unwrap();
        let w = Wine::with_session(&env, &Cache::at(d.path()), &Cancel::default()).unwrap();
        (w, d)
    }

    /// When the build dies, the pipe its session's keeper reads closes: the
    /// keeper exits and the session with it, so a killed build leaves no
    /// wine program running (closing the pipe here stands for the death).
    #[cfg(target_os = "linux")]
    #[test]
    fn a_session_ends_when_its_keeper_pipe_closes() {
        let (w, _cache) = started_session();
        let prefix = w.prefix().to_owned();
        assert!(processes_of(&prefix) > 0, "the session runs");
        w.started
            .lock()
            .unwrap()
            .keeper
            .as_mut()
            .expect("a keeper was started")
            .close_stdin();
        let t = Instant::now();
        while processes_of(&prefix) > 0 && t.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(processes_of(&prefix), 0, "the session stopped by itself");
    }

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
