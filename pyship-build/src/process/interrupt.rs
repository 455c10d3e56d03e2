//! The build's interruption: the guardian of the children's process group
//! (Unix), the cleanups run on a signal, and the processes found by the
//! build's id or by parentage.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

#[cfg(unix)]
use super::{build_id, BUILD_ID_VAR};

/// The guardian of this process's children (Unix): see the module doc.
#[cfg(unix)]
pub(super) mod guardian {
    use std::sync::{Mutex, PoisonError};

    /// Its script: wait for the end of stdin (the build process ended),
    /// kill (Linux) every process whose environment holds the build's id
    /// (`$1`), twice for those started meanwhile, then the process group
    /// (`0`: its own, which it leads, itself included).
    const SCRIPT: &str = "trap '' INT HUP TERM; while read -r _; do :; done; \
        for pass in 1 2; do for f in /proc/[0-9]*/environ; do \
        if grep -qzxF \"$1\" \"$f\" 2>/dev/null; then p=${f#/proc/}; kill -KILL \"${p%/environ}\" 2>/dev/null; fi; \
        done; done; kill -KILL 0";

    struct Guardian {
        pgid: i32,
        /// The write end of its stdin: closed only when this process ends.
        _pipe: std::io::PipeWriter,
        child: std::process::Child,
    }

    static GUARDIAN: Mutex<Option<Guardian>> = Mutex::new(None);

    /// The process group children join, starting its guardian on first use;
    /// `None` when no guardian can start (children then stay in the build's
    /// own group, which a terminal's Ctrl-C still reaches).
    pub fn group() -> Option<i32> {
        let mut g = GUARDIAN.lock().unwrap_or_else(PoisonError::into_inner);
        if g.is_none() {
            *g = start();
        }
        g.as_ref().map(|g| g.pgid)
    }

    /// Forget a guardian that is gone (the next child starts a new one).
    pub fn reset() {
        let mut g = GUARDIAN.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(mut old) = g.take() {
            let _ = old.child.kill();
            let _ = old.child.wait();
        }
    }

    /// The group's id, if a guardian runs.
    pub fn current() -> Option<i32> {
        GUARDIAN
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|g| g.pgid)
    }

    fn start() -> Option<Guardian> {
        use std::os::unix::process::CommandExt;
        let (reader, writer) = std::io::pipe().ok()?;
        let child = std::process::Command::new("/bin/sh")
            .args(["-c", SCRIPT, "pyship-guardian"])
            .arg(format!("{}={}", super::BUILD_ID_VAR, super::build_id()))
            .stdin(reader)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .ok()?;
        Some(Guardian {
            pgid: child.id() as i32,
            _pipe: writer,
            child,
        })
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Whether [`interrupt`] was called: no program starts any more.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

type Action = Arc<dyn Fn() + Send + Sync>;

fn actions() -> &'static Mutex<BTreeMap<u64, Action>> {
    static ACTIONS: OnceLock<Mutex<BTreeMap<u64, Action>>> = OnceLock::new();
    ACTIONS.get_or_init(|| Mutex::new(BTreeMap::new()))
}

/// A cleanup [`interrupt`] runs while this guard lives (dropping it, on the
/// normal path, removes the cleanup).
#[must_use = "the cleanup is removed when this guard is dropped"]
#[derive(Debug)]
pub struct OnInterrupt(u64);

impl Drop for OnInterrupt {
    fn drop(&mut self) {
        actions()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.0);
    }
}

/// Register `cleanup` for [`interrupt`]: what must not outlive an
/// interrupted build besides its children (a folder of secrets, a wine
/// prefix's detached programs). It runs on the signal handler's thread
/// while the build's threads may still run: it must not take their locks.
pub fn on_interrupt(cleanup: impl Fn() + Send + Sync + 'static) -> OnInterrupt {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let id = NEXT.fetch_add(1, Ordering::SeqCst);
    actions()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(id, Arc::new(cleanup));
    OnInterrupt(id)
}

/// The build was interrupted (a signal): start no program any more, kill
/// every running one with its descendants, and run the registered cleanups.
/// Every wait for a program ends in [`Error::Cancelled`] from now on, so no
/// thread of the build takes a killed program's end for its result (a
/// half-made wine prefix for a prepared one). The caller exits afterwards.
pub fn interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
    #[cfg(unix)]
    if let Some(pgid) = guardian::current().and_then(rustix::process::Pid::from_raw) {
        let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
    }
    #[cfg(target_os = "linux")]
    for _ in 0..2 {
        for pid in tagged_processes() {
            if let Some(p) = rustix::process::Pid::from_raw(pid as i32) {
                let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
            }
        }
    }
    let cleanups: Vec<Action> = actions()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .values()
        .cloned()
        .collect();
    for c in cleanups {
        c();
    }
}

/// The processes whose environment holds this build's id: the children and
/// whatever they started, detached or not.
#[cfg(target_os = "linux")]
fn tagged_processes() -> Vec<u32> {
    let entry = format!("{BUILD_ID_VAR}={}", build_id());
    let me = std::process::id();
    let mut found = with_environ_entry(&entry);
    found.retain(|p| *p != me);
    found
}

/// The processes whose environment holds `entry` (`NAME=value`).
#[cfg(target_os = "linux")]
pub(super) fn with_environ_entry(entry: &str) -> Vec<u32> {
    let Ok(rd) = fs_err::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            fs_err::read(format!("/proc/{p}/environ"))
                .unwrap_or_default()
                .split(|b| *b == 0)
                .any(|v| v == entry.as_bytes())
        })
        .collect()
}

/// The live descendants of `pid` (Linux: from `/proc/*/stat`).
#[cfg(target_os = "linux")]
pub fn descendants(pid: u32) -> Vec<u32> {
    let Ok(rd) = fs_err::read_dir("/proc") else {
        return Vec::new();
    };
    let parents: Vec<(u32, u32)> = rd
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| {
            let stat = fs_err::read_to_string(format!("/proc/{p}/stat")).ok()?;
            // `pid (comm) state ppid …`; comm may hold spaces and parens.
            let rest = &stat[stat.rfind(')')? + 1..];
            let ppid = rest.split_whitespace().nth(1)?.parse().ok()?;
            Some((p, ppid))
        })
        .collect();
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(p, pp)| *pp == parent && !found.contains(p))
                .map(|(p, _)| *p)
                .collect::<Vec<_>>(),
        );
        i += 1;
    }
    found.remove(0);
    found
}
