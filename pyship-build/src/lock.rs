//! One build at a time per output folder, and the cleanup of killed runs.
//!
//! Two `cargo pyship bundle` runs in one project share `dist/.pyship/` and the
//! artifacts' names: run side by side, one deletes the tree the other is
//! packing. [`OutDirLock`] is an exclusive lock on `{out}/.pyship.lock`
//! (an OS file lock, released by the OS when the process dies, so a killed
//! run never leaves a stale lock). A second run waits for the first, saying
//! so with the first one's pid, as cargo does for its build directory.
//! Projects with different output folders never wait for each other, even
//! when they share the download cache (its writes are atomic renames).
//!
//! The lock is re-entrant within a process (`release` holds it while it runs
//! `bundle` and `installer`, which take it too).
//!
//! Once the lock is held, nothing else builds in the folder, so leftovers of
//! killed runs can go: `{out}/.pyship-archive-*` (unfinished archives),
//! `{out}/.pyship-tmp-*` (unfinished atomic writes), the cache's `.incoming`
//! staging folders and the temp folder's signing and
//! wine folders whose owner is gone.
//!
//! Whether the owner of such a folder is gone is never guessed from a pid (a
//! build in another PID namespace, a container sharing the cache, has pids
//! this one cannot see): an [`OwnedDir`] `X` comes with `X.lock` beside it,
//! which its owner holds locked while it lives. The OS drops the lock when
//! the owner dies, however it dies; a folder whose lock can be taken is a
//! leftover.

use std::collections::HashMap;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use crate::report::Reporter;

/// The lock file in the output folder.
pub const LOCK_FILE: &str = ".pyship.lock";
/// Prefix of unfinished archives in the output folder.
pub const PARTIAL_PREFIX: &str = ".pyship-archive-";
/// How long after its last write a temp file in the output folder may still
/// be in use by a writer that does not hold the folder's lock.
const TEMP_FILE_IN_USE: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("could not lock the output folder {dir}")]
    #[diagnostic(help("check that the output folder (--out, default dist/) is writable; its `.pyship.lock` keeps two builds from sharing it"))]
    Lock {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Locks held by this process: path → (holders, the locked file).
type Held = HashMap<PathBuf, (usize, Arc<fs_err::File>)>;

fn held() -> &'static Mutex<Held> {
    static HELD: OnceLock<Mutex<Held>> = OnceLock::new();
    HELD.get_or_init(|| Mutex::new(HashMap::new()))
}

/// An exclusive hold on an output folder; released on drop.
#[derive(Debug)]
pub struct OutDirLock {
    path: PathBuf,
}

impl OutDirLock {
    /// Lock `out_dir` (created if missing), waiting while another process
    /// holds it; `reporter` hears once that (and for whom) it waits.
    pub fn acquire(out_dir: &Path, reporter: &dyn Reporter) -> Result<Self, Error> {
        let err = |source| Error::Lock {
            dir: out_dir.to_owned(),
            source,
        };
        fs_err::create_dir_all(out_dir).map_err(err)?;
        let path = out_dir.canonicalize().map_err(err)?.join(LOCK_FILE);
        let mut map = held().lock().expect("lock registry");
        if let Some((n, _)) = map.get_mut(&path) {
            *n += 1;
            return Ok(Self { path });
        }
        // The pid is written into the lock file: never through a link left
        // in its place, which could point anywhere.
        if fs_err::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            fs_err::remove_file(&path).map_err(err)?;
        }
        let file = fs_err::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(err)?;
        match file.file().try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = read_pid(&file);
                reporter.status(
                    "Blocking",
                    &format!(
                        "waiting for another cargo pyship building in {}{}",
                        out_dir.display(),
                        holder.map(|p| format!(" (pid {p})")).unwrap_or_default()
                    ),
                );
                // Other threads of this process may take other folders meanwhile.
                drop(map);
                file.file().lock().map_err(err)?;
                map = held().lock().expect("lock registry");
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(err(e)),
        }
        write_pid(&file).map_err(err)?;
        map.insert(path.clone(), (1, Arc::new(file)));
        Ok(Self { path })
    }
}

impl Drop for OutDirLock {
    fn drop(&mut self) {
        let mut map = held().lock().expect("lock registry");
        if let Some((n, file)) = map.get_mut(&self.path) {
            *n -= 1;
            if *n == 0 {
                let _ = file.file().unlock();
                map.remove(&self.path);
            }
        }
    }
}

fn read_pid(file: &fs_err::File) -> Option<u32> {
    let mut s = String::new();
    let mut f = file.file();
    f.rewind().ok()?;
    f.read_to_string(&mut s).ok()?;
    s.trim().parse().ok()
}

fn write_pid(file: &fs_err::File) -> std::io::Result<()> {
    let mut f = file.file();
    f.set_len(0)?;
    f.rewind()?;
    writeln!(f, "{}", std::process::id())?;
    f.flush()
}

/// Prefix of the private temp folder holding signing secrets.
pub const SIGN_DIR_PREFIX: &str = "pyship-sign-";
/// Prefix of a private wine prefix made in the temp folder.
pub const WINE_DIR_PREFIX: &str = "pyship-wine-";

/// A folder that exists while its owner runs: removed when dropped (unless
/// kept), and a leftover ([`remove_dead`]) once its owner died. `X.lock`
/// beside it is held locked by the owner.
#[derive(Debug)]
pub struct OwnedDir {
    dir: Option<tempfile::TempDir>,
    lock: Option<(fs_err::File, PathBuf)>,
}

impl OwnedDir {
    /// A new folder `{prefix}…` in `parent`; `private`: mode 0700 on Unix
    /// (for secrets), else the umask's.
    pub fn new_in(parent: &Path, prefix: &str, private: bool) -> std::io::Result<Self> {
        fs_err::create_dir_all(parent)?;
        let mut b = tempfile::Builder::new();
        b.prefix(prefix);
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::PermissionsExt;
            b.permissions(std::fs::Permissions::from_mode(0o700));
        }
        #[cfg(not(unix))]
        let _ = private;
        // The folder first, then its lock: a folder seen without a lock is
        // young ([`remove_dead`] leaves it), one with a free lock is dead.
        let dir = b.tempdir_in(parent)?;
        let lock_path = lock_path_of(dir.path());
        let file = fs_err::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)?;
        file.file().lock()?;
        Ok(Self {
            dir: Some(dir),
            lock: Some((file, lock_path)),
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.as_ref().expect("until dropped or kept").path()
    }

    /// Keep the folder (the caller renames it into place); its lock goes.
    pub fn keep(mut self) -> PathBuf {
        self.dir.take().expect("until dropped or kept").keep()
    }
}

impl Drop for OwnedDir {
    fn drop(&mut self) {
        drop(self.dir.take());
        if let Some((file, path)) = self.lock.take() {
            let _ = fs_err::remove_file(&path);
            drop(file);
        }
    }
}

fn lock_path_of(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    dir.with_file_name(name)
}

/// Remove the [`OwnedDir`]s named `{prefix}…` in `parent` whose owner is
/// gone (their lock is free), with their lock files; folders without a
/// lock file (an older version's, or one being made) only when a day old.
/// Returns the folders removed.
pub fn remove_dead(parent: &Path, prefix: &str, roots: &[&Path]) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for e in fs_err::read_dir(parent).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with(prefix) || name.ends_with(".lock") {
            continue;
        }
        let Ok(meta) = fs_err::symlink_metadata(e.path()) else {
            continue;
        };
        if !meta.is_dir() {
            continue;
        }
        let lock_path = lock_path_of(&e.path());
        let held = match fs_err::OpenOptions::new().write(true).open(&lock_path) {
            Ok(f) => match f.file().try_lock() {
                // Free: the owner is gone. Removed while holding it.
                Ok(()) => Some(f),
                Err(_) => continue,
            },
            Err(_) => {
                let old = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age.as_secs() > 24 * 3600);
                if !old {
                    continue;
                }
                None
            }
        };
        if remove_tree(&e.path(), roots).is_ok() {
            removed.push(e.path());
        }
        if held.is_some() {
            let _ = fs_err::remove_file(&lock_path);
        }
    }
    removed
}

/// Remove a folder whose files may be read-only (a wine prefix's binaries).
fn remove_tree(dir: &Path, roots: &[&Path]) -> Result<(), crate::fs::Error> {
    crate::fs::clear_readonly(dir);
    crate::fs::remove_dir_if_exists(dir, roots)
}

/// Remove what killed runs left: unfinished archives and atomic writes'
/// temp files in `out_dir` (call with the folder's lock held), cache staging
/// folders and the temp folder's signing and wine folders whose owner is
/// gone. Returns what was removed.
pub fn clean_leftovers(out_dir: &Path, cache_root: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    if let Ok(rd) = fs_err::read_dir(out_dir) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            // `publish` writes SHA256SUMS here without the folder's lock: a
            // temp file written in the last minute may be its, in use.
            let stale_temp = name.starts_with(crate::fs::TEMP_PREFIX)
                && e.metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > TEMP_FILE_IN_USE);
            // This process's own (`{PARTIAL_PREFIX}{pid}-…`) may be another
            // target's archive being written now.
            let own = format!("{PARTIAL_PREFIX}{}-", std::process::id());
            if ((name.starts_with(PARTIAL_PREFIX) && !name.starts_with(&own)) || stale_temp)
                && e.file_type().is_ok_and(|t| t.is_file() || t.is_symlink())
                && fs_err::remove_file(e.path()).is_ok()
            {
                removed.push(e.path());
            }
        }
    }
    // `{cache}/{bucket}/.incoming/…/`: staging of one download or build.
    for bucket in fs_err::read_dir(cache_root).into_iter().flatten().flatten() {
        let incoming = bucket.path().join(".incoming");
        removed.extend(remove_dead(&incoming, "", &[cache_root]));
    }
    let tmp = std::env::temp_dir();
    for prefix in [SIGN_DIR_PREFIX, WINE_DIR_PREFIX] {
        removed.extend(remove_dead(&tmp, prefix, &[&tmp]));
    }
    removed
}

/// The prefix of a cache staging folder of this process (the pid only
/// helps a reader; liveness comes from the folder's lock).
pub fn staging_prefix() -> String {
    format!("{}-", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::RecordingReporter;
    use std::time::{Duration, Instant};

    #[test]
    fn lock_is_reentrant_in_a_process() {
        let d = tempfile::tempdir().unwrap();
        let r = RecordingReporter::default();
        let a = OutDirLock::acquire(d.path(), &r).unwrap();
        let b = OutDirLock::acquire(d.path(), &r).unwrap();
        drop(a);
        drop(b);
        let _c = OutDirLock::acquire(d.path(), &r).unwrap();
        assert!(r.lines().is_empty(), "{:?}", r.lines());
        let pid = fs_err::read_to_string(d.path().join(LOCK_FILE)).unwrap();
        assert_eq!(pid.trim(), std::process::id().to_string());
    }

    #[test]
    fn a_second_process_waits_and_names_the_holder() {
        // flock(1) as the other process: it holds the lock until its stdin
        // closes. No head start by sleeping: each step polls for the last.
        let d = tempfile::tempdir().unwrap();
        let lock = d.path().join(LOCK_FILE);
        let ready = d.path().join("ready");
        fs_err::write(&lock, "4242\n").unwrap();
        let mut holder = std::process::Command::new("flock")
            .arg(&lock)
            .args(["sh", "-c"])
            .arg(format!("touch {}; read _", ready.display()))
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("flock(1) from util-linux");
        let poll = |what: &str, cond: &dyn Fn() -> bool| {
            let t = Instant::now();
            while !cond() {
                assert!(t.elapsed() < Duration::from_secs(30), "{what}");
                std::thread::sleep(Duration::from_millis(10));
            }
        };
        poll("the holder took the lock", &|| ready.exists());
        let r = Arc::new(RecordingReporter::default());
        let (tx, rx) = std::sync::mpsc::channel();
        let (dir, rep) = (d.path().to_owned(), Arc::clone(&r));
        let waiter = std::thread::spawn(move || {
            let l = OutDirLock::acquire(&dir, &*rep).unwrap();
            tx.send(()).unwrap();
            drop(l);
        });
        poll("the second one says it waits", &|| {
            r.lines().iter().any(|l| l.contains("another cargo pyship"))
        });
        let lines = r.lines().join("\n");
        assert!(lines.contains("(pid 4242)"), "{lines}");
        assert!(rx.try_recv().is_err(), "it got the lock while it was held");
        drop(holder.stdin.take());
        rx.recv_timeout(Duration::from_secs(30))
            .expect("it gets the lock once released");
        waiter.join().unwrap();
        holder.wait().unwrap();
    }

    #[test]
    fn leftovers_of_dead_runs_are_removed_live_ones_kept() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("dist");
        let cache = d.path().join("cache");
        fs_err::create_dir_all(&out).unwrap();
        fs_err::write(out.join(".pyship-archive-abc"), "partial").unwrap();
        fs_err::write(out.join("App-v1.0.0-win-x64.zip"), "done").unwrap();
        // A killed run's atomic write (empty: killed before it wrote), and
        // one being written now.
        let killed = out.join(".pyship-tmp-Ab12Cd");
        let fresh = out.join(".pyship-tmp-Ef34Gh");
        fs_err::write(&killed, "").unwrap();
        fs_err::write(&fresh, "").unwrap();
        fs_err::File::options()
            .write(true)
            .open(&killed)
            .unwrap()
            .set_modified(std::time::SystemTime::now() - Duration::from_secs(120))
            .unwrap();
        let incoming = cache.join("runtimes-v0/.incoming");
        // A dead run's: its lock file is there and free.
        let dead = incoming.join("4194305-xyz");
        fs_err::create_dir_all(&dead).unwrap();
        fs_err::write(dead.join("python.zip"), "x").unwrap();
        fs_err::write(incoming.join("4194305-xyz.lock"), "").unwrap();
        // A live one's, and one without a lock file (young: being made).
        let live = OwnedDir::new_in(&incoming, &staging_prefix(), false).unwrap();
        fs_err::write(live.path().join("python.zip"), "x").unwrap();
        let young = incoming.join("1-young");
        fs_err::create_dir_all(&young).unwrap();
        let removed = clean_leftovers(&out, &cache);
        assert!(removed.contains(&dead), "{removed:?}");
        assert!(removed.contains(&killed), "{removed:?}");
        assert!(!out.join(".pyship-archive-abc").exists());
        assert!(!killed.exists());
        assert!(fresh.exists());
        assert!(out.join("App-v1.0.0-win-x64.zip").exists());
        assert!(!dead.exists() && !incoming.join("4194305-xyz.lock").exists());
        assert!(live.path().join("python.zip").exists());
        assert!(young.exists());
        let path = live.path().to_owned();
        drop(live);
        assert!(
            !path.exists() && !lock_path_of(&path).exists(),
            "gone on drop"
        );
    }

    /// Liveness comes from the lock, not from a pid: a staging folder whose
    /// owner runs in another PID namespace (its pid means nothing here) is
    /// kept while it runs, and removed once it ended.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_staging_folder_of_another_pid_namespace_is_kept_while_its_owner_runs() {
        let d = tempfile::tempdir().unwrap();
        let cache = d.path().join("cache");
        let incoming = cache.join("wine-prefix-v0/.incoming");
        // Named like a pid that does not exist here.
        let theirs = incoming.join("4194305-abc");
        fs_err::create_dir_all(theirs.join("drive_c")).unwrap();
        let lock = incoming.join("4194305-abc.lock");
        fs_err::write(&lock, "").unwrap();
        let ready = d.path().join("ready");
        let mut owner = std::process::Command::new("unshare")
            .args(["--pid", "--fork", "--kill-child", "--mount-proc", "flock"])
            .arg(&lock)
            .args(["sh", "-c"])
            .arg(format!("touch {}; sleep 30", ready.display()))
            .spawn()
            .expect("unshare and flock (util-linux)");
        let t = Instant::now();
        while !ready.exists() && t.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(ready.exists(), "the owner in its own PID namespace runs");
        let out = d.path().join("dist");
        let removed = clean_leftovers(&out, &cache);
        assert!(removed.is_empty(), "{removed:?}");
        assert!(
            theirs.join("drive_c").is_dir(),
            "a live build keeps its staging"
        );
        owner.kill().unwrap();
        owner.wait().unwrap();
        // unshare passes the kill on to its namespace (--kill-child).
        let t = Instant::now();
        let mut removed = Vec::new();
        while removed.is_empty() && t.elapsed() < Duration::from_secs(10) {
            removed = clean_leftovers(&out, &cache);
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(removed, vec![theirs.clone()]);
        assert!(!theirs.exists() && !lock.exists());
    }

    /// A folder of secrets is private: mode 0700.
    #[cfg(unix)]
    #[test]
    fn a_private_owned_dir_is_0700() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let o = OwnedDir::new_in(d.path(), SIGN_DIR_PREFIX, true).unwrap();
        let mode = fs_err::metadata(o.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "{mode:o}");
    }
}
