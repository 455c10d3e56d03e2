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
//! killed runs can go: `{out}/.pyship-archive-*` (unfinished archives) and
//! the cache's `.incoming` staging folders whose process is gone.

use std::collections::HashMap;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::Hint;
use crate::report::Reporter;

/// The lock file in the output folder.
pub const LOCK_FILE: &str = ".pyship.lock";
/// Prefix of unfinished archives in the output folder.
pub const PARTIAL_PREFIX: &str = ".pyship-archive-";
/// How long after its last write a temp file in the output folder may still
/// be in use by a writer that does not hold the folder's lock.
const TEMP_FILE_IN_USE: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("could not lock the output folder {dir}")]
    Lock {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Hint for Error {
    fn hint(&self) -> Option<String> {
        Some(
            "check that the output folder (--out, default dist/) is writable; its `.pyship.lock` keeps two builds from sharing it"
                .into(),
        )
    }
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

/// Remove what killed runs left: unfinished archives and atomic writes'
/// temp files in `out_dir` (call with the folder's lock held) and cache
/// staging folders of dead processes. Returns what was removed.
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
            if (name.starts_with(PARTIAL_PREFIX) || stale_temp)
                && e.file_type().is_ok_and(|t| t.is_file() || t.is_symlink())
                && fs_err::remove_file(e.path()).is_ok()
            {
                removed.push(e.path());
            }
        }
    }
    // `{cache}/{bucket}/.incoming/{pid}-…/`: staging of one download.
    for bucket in fs_err::read_dir(cache_root).into_iter().flatten().flatten() {
        let incoming = bucket.path().join(".incoming");
        for e in fs_err::read_dir(&incoming).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let pid = name.split('-').next().and_then(|p| p.parse::<u32>().ok());
            let stale = match pid {
                Some(pid) => !process_alive(pid),
                // Unknown layout (an older version's): only when old.
                None => e
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age.as_secs() > 24 * 3600),
            };
            if stale && crate::fs::remove_dir_if_exists(&e.path(), &[cache_root]).is_ok() {
                removed.push(e.path());
            }
        }
    }
    removed
}

/// Whether a process with this pid runs (Linux: `/proc/{pid}`; elsewhere
/// assumed alive, so nothing of a running build is ever removed).
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if Path::new("/proc/self").exists() {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

/// The prefix of a cache staging folder of this process.
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
        // flock(1) as the other process: it holds the lock for a second.
        let d = tempfile::tempdir().unwrap();
        let lock = d.path().join(LOCK_FILE);
        fs_err::write(&lock, "4242\n").unwrap();
        let mut holder = std::process::Command::new("flock")
            .arg(&lock)
            .args(["sleep", "1.5"])
            .spawn()
            .expect("flock(1) from util-linux");
        std::thread::sleep(Duration::from_millis(300));
        let r = RecordingReporter::default();
        let t = Instant::now();
        let l = OutDirLock::acquire(d.path(), &r).unwrap();
        assert!(t.elapsed() >= Duration::from_millis(800), "did not wait");
        let lines = r.lines().join("\n");
        assert!(
            lines.contains("another cargo pyship") && lines.contains("(pid 4242)"),
            "{lines}"
        );
        drop(l);
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
        // pid 1 is alive (init); a pid above the kernel's maximum is not.
        let dead = incoming.join("4194305-xyz");
        let live = incoming.join(format!("{}-abc", std::process::id()));
        for p in [&dead, &live] {
            fs_err::create_dir_all(p).unwrap();
            fs_err::write(p.join("python.zip"), "x").unwrap();
        }
        let removed = clean_leftovers(&out, &cache);
        assert_eq!(removed.len(), 3, "{removed:?}");
        assert!(!out.join(".pyship-archive-abc").exists());
        assert!(!killed.exists());
        assert!(fresh.exists());
        assert!(out.join("App-v1.0.0-win-x64.zip").exists());
        assert!(!dead.exists());
        assert!(live.join("python.zip").exists());
    }
}
