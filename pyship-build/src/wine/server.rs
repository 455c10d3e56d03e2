//! The programs this process starts for a private prefix: its
//! `wineserver --foreground`, stopped with a signal, and what to kill when a
//! program outlived it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::process::{self, Cancel, Command};

/// The programs this process started for a private prefix.
#[derive(Debug, Default)]
pub(super) struct Started {
    /// Its wineserver, if it could start.
    pub(super) server: Option<Server>,
    /// The program that keeps its session (wine's services) running: a
    /// `cmd.exe` reading a pipe this process holds. If this process dies,
    /// however, the pipe closes, `cmd.exe` exits and the server stops the
    /// session: nothing is left running.
    pub(super) keeper: Option<process::Child>,
}

/// A `wineserver --foreground` started for a private prefix before any of its
/// programs, so that stopping it is a signal and a `wait` (0.5 s: the server
/// lingers that long after its programs are gone) instead of `wineserver -k`,
/// which polls for the server's exit with growing sleeps (about 0.75 s).
#[derive(Debug)]
pub(super) struct Server(pub(super) process::Child);

impl Server {
    /// Start the server of `prefix` (which must exist) and wait until it
    /// listens; `None` when it cannot start (the prefix is then stopped with
    /// `wineserver -k`).
    ///
    /// The wait matters on a fresh prefix: Debian's wine picks the server's
    /// temp folder on first use and records it in the prefix's `wineserver`
    /// file, and when the server and a program do that at once one of them
    /// exits with "fixed a temporary directory error, please try running the
    /// same command again" (likeliest with several prefixes starting at once).
    /// Once the server listens the file is there and read, not made.
    pub(super) fn start(wine: &Path, prefix: &Path) -> Option<Self> {
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
    /// end the server at once, but can leave a `winedevice.exe` thread alive
    /// that holds the build's output pipe.) Returns whether it exited on
    /// the signal; `false` when it was killed after 10 s, or had exited before
    /// (then the caller falls back to `wineserver -k`).
    pub(super) fn stop(mut self) -> bool {
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
pub(super) fn server_sockets(prefix: &Path) -> Vec<PathBuf> {
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

/// Remove the folders the server of the private prefix `prefix` kept its
/// socket and lock in (see [`server_sockets`]), once it stopped: wine leaves
/// them behind, one in the temp folder for every prefix that ever ran.
/// Their parent (the temp folder Debian's wine recorded in the prefix's
/// `wineserver` file, which the prepared prefix it was copied from shares)
/// stays: a prefix whose recorded folder is gone fails its next start.
pub(super) fn remove_server_dirs(prefix: &Path) {
    for socket in server_sockets(prefix) {
        if let Some(dir) = socket.parent() {
            let _ = fs_err::remove_dir_all(dir);
        }
    }
}

/// Kill what is left of a private prefix once its server is gone. A program
/// that was starting when the server stopped (a `winedevice.exe` that
/// `services.exe` launched as `wineboot` exited)
/// waits forever for the server's answer on a pipe it holds both ends of,
/// and keeps every pipe it inherited open: a build reading its output would
/// wait forever too. Only processes whose `WINEPREFIX` is exactly this
/// private prefix are killed.
pub fn kill_leftovers(prefix: &Path) {
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
pub(super) fn prefix_processes(prefix: &Path) -> Vec<i32> {
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
pub(super) fn wineserver_exe(wine: &Path) -> PathBuf {
    let mut server = wine.to_owned();
    server.set_file_name("wineserver");
    if server.is_file() {
        server
    } else {
        PathBuf::from("wineserver")
    }
}
