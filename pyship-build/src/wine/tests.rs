#[cfg(unix)]
use super::prepared::*;
#[cfg(unix)]
use super::server::*;
use super::*;
#[cfg(unix)]
use std::process::{Command, Stdio};
#[cfg(unix)]
use std::time::Instant;

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
        let t1 = s.spawn(|| prepare_cached(&wine, &cache, "wine-test (A)", false, None).unwrap());
        let t2 = s.spawn(|| prepare_cached(&wine, &cache, "wine-test (A)", false, None).unwrap());
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
        let boot =
            s.spawn(|| ensure_prepared(&wine, &cache, version, false, || None, &Cancel::default()));
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
    let server_dirs: Vec<_> = server_sockets(&copy)
        .into_iter()
        .filter(|s| s.exists())
        .map(|s| s.parent().unwrap().to_owned())
        .collect();
    assert!(!server_dirs.is_empty(), "the server listens");
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
    for dir in &server_dirs {
        assert!(
            !dir.exists(),
            "the server's folder {} is left",
            dir.display()
        );
    }
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
