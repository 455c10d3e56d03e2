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
//! link fails instead of changing the cache), everything else (the registry,
//! ini files) is copied. A new wine version means a new key: the old prefix
//! is removed and a new one prepared. Preparing takes an exclusive lock on
//! `{key}.lock` and renames the finished prefix into place; copying holds the
//! lock shared, so two builds at once never see half a prefix nor remove one
//! that is being copied.
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
        let prepared = prepare_cached(&wine, cache, &version, shim.as_deref())?;
        let prefix = prepared.copy.path().to_path_buf();
        Ok(Self::private(wine, prefix, Some(prepared.copy)))
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
        }))
    }

    /// `wineboot -i` in this (empty) prefix.
    /// The prefix is stopped (its registry written) when wineboot exits: the
    /// services wineboot starts inherit its output pipes and hold them open
    /// until they stop, so the pipes are read to their end only after that.
    fn boot(&self) -> Result<(), Error> {
        let mut cmd = self.command("wineboot");
        cmd.arg("-i")
            .timeout(Duration::from_secs(180))
            .cancel(&self.cancel);
        let out = cmd.output_then(|| self.stop());
        if out.is_err() {
            self.stop();
        }
        let out = out?;
        if !self.prefix.join("drive_c/windows/system32").is_dir() {
            return Err(Error::Prefix {
                path: self.prefix.clone(),
                message: out.stderr.trim().chars().take(2000).collect(),
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

/// A private copy of the cached prefix, and whether this call prepared it.
#[derive(Debug)]
pub struct CachedPrefix {
    /// The copy (removed when dropped; the caller stops its wineserver first).
    pub copy: crate::lock::OwnedDir,
    /// The prepared prefix it was copied from.
    pub prepared: PathBuf,
    /// Whether the prepared prefix was made by this call (`wineboot` ran).
    pub booted: bool,
}

/// The prefix for `wine_version` prepared in `cache` (made when missing, with
/// `shim` as its `bcryptprimitives.dll` when given), and a private copy of it.
/// Prepared prefixes of other keys (another wine version) are removed.
pub fn prepare_cached(
    wine: &Path,
    cache: &Cache,
    wine_version: &str,
    shim: Option<&Path>,
) -> Result<CachedPrefix, Error> {
    let bucket = cache.bucket(PREFIX_BUCKET);
    let mut booted = false;
    // A build for another wine version may remove the prefix between the
    // two locks: then prepare it again.
    for _ in 0..3 {
        let (prepared, b) = ensure_prepared(
            wine,
            cache,
            wine_version,
            shim.is_some(),
            || shim.map(Path::to_owned),
            &Cancel::default(),
        )?;
        booted |= b;
        let key = prepared
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (lock, lock_path) = open_lock(&bucket, &key)?;
        lock.file().lock_shared().map_err(cache_err(&lock_path))?;
        if !prepared.join("drive_c").is_dir() {
            let _ = lock.file().unlock();
            continue;
        }
        let copy = cache
            .staging(PREFIX_BUCKET)
            .map_err(cache_err(&cache.incoming(PREFIX_BUCKET)))?;
        link_copy(&prepared, copy.path()).map_err(cache_err(copy.path()))?;
        let _ = lock.file().unlock();
        return Ok(CachedPrefix {
            copy,
            prepared,
            booted,
        });
    }
    Err(Error::Cache {
        path: bucket,
        source: std::io::Error::other("the prepared prefix kept being removed by another build"),
    })
}

/// Make sure the prefix for `wine_version` is prepared in `cache`; returns
/// its folder and whether this call prepared it. Holds `{key}.lock`
/// exclusively while preparing, so a second build waits instead of booting
/// its own. `with_shim` picks the key; `shim` gives the replacement DLL and
/// is called only after `wineboot`, so the DLL can be compiled meanwhile
/// (a prefix whose DLL did not come is still usable: a build copies the DLL
/// into its private copy when missing, see [`Wine::add_process_prng`]).
pub fn ensure_prepared(
    wine: &Path,
    cache: &Cache,
    wine_version: &str,
    with_shim: bool,
    shim: impl FnOnce() -> Option<PathBuf>,
    cancel: &Cancel,
) -> Result<(PathBuf, bool), Error> {
    let bucket = cache.marked(PREFIX_BUCKET);
    let key = prefix_key(wine_version, with_shim);
    let prepared = bucket.join(&key);
    let (lock, lock_path) = open_lock(&bucket, &key)?;
    lock.file().lock_shared().map_err(cache_err(&lock_path))?;
    if prepared.join("drive_c").is_dir() {
        let _ = lock.file().unlock();
        return Ok((prepared, false));
    }
    // No upgrade of a shared lock in place: release, lock exclusively, look again.
    lock.file().unlock().map_err(cache_err(&lock_path))?;
    lock.file().lock().map_err(cache_err(&lock_path))?;
    let mut booted = false;
    if !prepared.join("drive_c").is_dir() {
        boot_into(wine, cache, &prepared, shim, cancel)?;
        booted = true;
    }
    remove_other_prefixes(&bucket, &key);
    let _ = lock.file().unlock();
    Ok((prepared, booted))
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
        let version = wine_version(&wine).ok()?;
        // The DLL compiles (about a second) while wineboot runs.
        let with_shim = tools::MINGW_GCC.find(&env).is_ok();
        std::thread::scope(|s| {
            let gcc = s.spawn(|| compile_shim(&cache, &env, &stop).ok());
            let shim = || gcc.join().ok().flatten();
            let _ = ensure_prepared(&wine, &cache, &version, with_shim, shim, &stop);
        });
        if !session || stop.is_cancelled() {
            return None;
        }
        Wine::with_session(&env, &cache, &stop).ok()
    });
    Some(Background {
        cancel,
        handle: std::sync::Mutex::new(Some(handle)),
    })
}

/// The thread of [`prepare_in_background`]. [`Background::take_wine`] and
/// [`Background::finish`] wait for it; dropped unfinished (the build failed),
/// it stops the thread's program and waits for the thread to remove its
/// staging folders and stop its session, so a failed build leaves no
/// half-made prefix in the cache.
#[derive(Debug)]
pub struct Background {
    cancel: Cancel,
    handle: std::sync::Mutex<Option<std::thread::JoinHandle<Option<Wine>>>>,
}

impl Background {
    fn take_handle(&self) -> Option<std::thread::JoinHandle<Option<Wine>>> {
        self.handle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    /// Wait for the thread; the private prefix whose session it started, if
    /// it was asked to and could (only the first call gets it).
    pub fn take_wine(&self) -> Option<Wine> {
        self.take_handle()?.join().ok().flatten()
    }

    /// Wait for the prefix to be prepared (a private prefix nobody took is
    /// stopped and removed).
    pub fn finish(self) {
        drop(self.take_wine());
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

/// `wineboot -i` into a staging folder, add `shim`, stop the prefix's
/// server (so the registry is on disk), make wine's binaries read-only, and
/// rename the result to `prepared`.
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
    fs_err::create_dir_all(&prefix).map_err(|source| Error::Cache {
        path: prefix.clone(),
        source,
    })?;
    let mut booting = Wine::private(wine.to_owned(), prefix.clone(), None);
    booting.cancel = cancel.clone();
    booting.boot()?;
    let cerr = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Cache { path, source }
    };
    if let Some(dll) = shim() {
        let dest = prefix.join("drive_c/windows/system32/bcryptprimitives.dll");
        fs_err::copy(dll, &dest).map_err(cerr(&dest))?;
    }
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
            fs_err::set_permissions(e.path(), perm).map_err(cerr(e.path()))?;
        }
    }
    fs_err::rename(&prefix, prepared).map_err(cerr(prepared))?;
    Ok(())
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
/// file systems), everything else copied.
fn link_copy(from: &Path, to: &Path) -> std::io::Result<()> {
    for e in walkdir::WalkDir::new(from) {
        let e = e.map_err(std::io::Error::other)?;
        let rel = e.path().strip_prefix(from).expect("below the root");
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
    Ok(())
}

/// Remove the prepared prefixes of other keys that nobody is using (their
/// lock is free): an upgraded wine leaves no 700 MB behind.
fn remove_other_prefixes(bucket: &Path, key: &str) {
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
            let _ = remove_prefix_dir(&e.path());
            let _ = fs_err::remove_file(&lock_path);
        }
    }
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
            let t1 = s.spawn(|| prepare_cached(&wine, &cache, "wine-test (A)", None).unwrap());
            let t2 = s.spawn(|| prepare_cached(&wine, &cache, "wine-test (A)", None).unwrap());
            (t1.join().unwrap(), t2.join().unwrap())
        });
        assert_eq!(
            u8::from(a1.booted) + u8::from(a2.booted),
            1,
            "two builds at once boot one prefix"
        );
        assert_eq!(a1.prepared, a2.prepared);
        let a3 = prepare_cached(&wine, &cache, "wine-test (A)", None).unwrap();
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
        let b = prepare_cached(&wine, &cache, "wine-test (B)", None).unwrap();
        assert!(b.booted, "another wine version prepares a new prefix");
        assert_ne!(b.prepared, old);
        assert!(!old.exists(), "the old version's prefix is removed");
        assert!(b.prepared.join("drive_c/windows/system32").is_dir());
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
        std::thread::sleep(Duration::from_millis(200));
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
        };
        let t = Instant::now();
        w.stop();
        assert!(t.elapsed() < Duration::from_secs(15), "{:?}", t.elapsed());
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
