//! Windows file holding and folder names under wine: a folder name `cmd`
//! cannot quote, and a file of the new or the old version held open by
//! another process (the way a virus scanner does) during update or rollback.

use super::*;

/// A second Windows process that holds a file open the way a virus scanner
/// does (no delete sharing: Windows and wine refuse to delete or rename the
/// file meanwhile). It waits for `wait_for` to exist, opens `file`, writes
/// `held` to `marker`, keeps it open until `until` exists (or 300 s) plus
/// `extra` seconds, then writes `released`. Its interpreter is a copy of
/// v0.1.0 outside the app folder (the helper waits for anything running
/// from the app's own `python\`).
fn hold_file(
    s: &Shared,
    prefix: &WinePrefix,
    file: &str,
    until: &str,
    extra: u32,
    marker: &Path,
) -> Running {
    let holder = prefix.drive_c().join("holder");
    if !holder.join(NAME).is_dir() {
        let (_, zip) = s.asset(&s.v1, "-win-x64.zip");
        unzip(&zip, &holder);
    }
    let script = prefix.drive_c().join("hold.py");
    fs_err::write(
        &script,
        "import os, sys, time\n\
         path, until, extra, marker = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]\n\
         deadline = time.time() + 600\n\
         while True:\n\
         \x20   try:\n\
         \x20       f = open(path, 'rb')\n\
         \x20       break\n\
         \x20   except OSError:\n\
         \x20       if time.time() > deadline: raise\n\
         \x20       time.sleep(0.05)\n\
         open(marker, 'w').write('held')\n\
         deadline = time.time() + 300\n\
         while not os.path.exists(until) and time.time() < deadline:\n\
         \x20   time.sleep(0.1)\n\
         time.sleep(extra)\n\
         f.close()\n\
         open(marker, 'w').write('released')\n",
    )
    .unwrap();
    let mut cmd = prefix.command(holder.join(NAME).join("python/python.exe"));
    cmd.arg(WinePrefix::windows_path(&script))
        .arg(file)
        .arg(until)
        .arg(extra.to_string())
        .arg(WinePrefix::windows_path(marker));
    Running::spawn(cmd)
}

/// No entry of the bundle holds a `.old` or `.failed` folder (the old
/// helper moved the old folder into a new one that a held file kept).
fn assert_not_nested(root: &Path) {
    for e in fs_err::read_dir(root).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            let nested: Vec<String> = fs_err::read_dir(&p)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".old") || n.ends_with(".failed"))
                .collect();
            assert!(
                nested.is_empty(),
                "{} holds {nested:?}\n{}",
                p.display(),
                helper_log(root)
            );
        }
    }
}

/// The Windows path of `root`'s `rel` (`C:\…`).
fn win_path(prefix: &WinePrefix, root: &Path, rel: &str) -> String {
    let inside = root.strip_prefix(prefix.drive_c()).unwrap();
    format!("C:\\{}\\{}", inside.display(), rel).replace('/', "\\")
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, updates under wine"
)]
fn update_portable_windows_from_a_folder_cmd_cannot_quote_under_wine() {
    let s = shared();
    s.publish(&[(&s.v1, false), (&s.v2, false)]);
    let prefix = WinePrefix::new();
    // Every character cmd.exe treats specially, spaces and non-ASCII.
    let tmp = prefix.drive_c().join("Tools (x86) & Co %PATH% ^ ! é");
    let (_, zip) = s.asset(&s.v1, "-win-x64.zip");
    let root = unzip(&zip, &tmp);
    user_data(&root);
    let port = free_port();
    let app = start_windows(&prefix, &root, port);
    if wait_version(port, "0.1.0", Duration::from_secs(180)).is_none() {
        prefix.kill();
        let (so, se) = app.stop();
        panic!("v0.1.0 never answered under wine\n{so}\n{se}");
    }
    let start = Instant::now();
    let (status, body) = http_post(port, "/update");
    assert_eq!(status, 200, "{body}");
    let took = wait_version(port, "0.2.0", Duration::from_secs(240));
    let done = wait_for_log(&root, "updated to v0.2.0", Duration::from_secs(60));
    // The helper's copied runtime is deleted once the helper has exited.
    let runtime = root.join(".pyship-update/runtime");
    let staged = runtime.join("python.exe").is_file() || done.is_some();
    let start_gone = Instant::now();
    while runtime.exists() && start_gone.elapsed() < Duration::from_secs(90) {
        std::thread::sleep(Duration::from_millis(250));
    }
    prefix.kill();
    let log = helper_log(&root);
    let took = took.unwrap_or_else(|| panic!("v0.2.0 never answered\nhelper log:\n{log}"));
    assert!(done.is_some(), "{log}");
    assert!(staged, "{log}");
    assert!(
        !runtime.exists(),
        ".pyship-update/runtime left behind: {:?}",
        fs_err::read_dir(&runtime).map(|d| d.count())
    );
    eprintln!(
        "portable Windows (wine) in {:?}: POST /update to v0.2.0 answering: {took:.1?} ({:.1?} to the log's last line)",
        tmp.file_name().unwrap(),
        start.elapsed()
    );
    assert!(log.contains("Tools (x86) & Co %PATH% ^ ! é"), "{log}");
    assert_user_data(&root);
    assert_no_old(&root);
    assert_no_archive(&root);
    assert!(root
        .join("python/Lib/site-packages/upd_demo-0.2.0.dist-info")
        .is_dir());
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, updates under wine"
)]
fn rollback_with_a_held_file_of_the_new_version_under_wine() {
    let s = shared();
    let (_, good) = s.asset(&s.v2, "-win-x64.zip");
    let broken = s.republished(&s.v2, "-win-x64.zip", broken_zip(&good));
    s.publish(&[(&s.v1, false), (&broken, false)]);
    let prefix = WinePrefix::new();
    let tmp = prefix.drive_c().join("portable");
    let (_, zip) = s.asset(&s.v1, "-win-x64.zip");
    let root = unzip(&zip, &tmp);
    user_data(&root);
    let port = free_port();
    let app = start_windows(&prefix, &root, port);
    if wait_version(port, "0.1.0", Duration::from_secs(180)).is_none() {
        prefix.kill();
        let (so, se) = app.stop();
        panic!("v0.1.0 never answered under wine\n{so}\n{se}");
    }
    let before = tree(&root);
    // A file only v0.2.0 has is held from the moment the swap puts it in
    // place until 15 s after the rollback moved the new python\ aside.
    let marker = prefix.drive_c().join("held.txt");
    let holder = hold_file(
        &s,
        &prefix,
        &win_path(
            &prefix,
            &root,
            r"python\Lib\site-packages\upd_demo-0.2.0.dist-info\METADATA",
        ),
        &win_path(&prefix, &root, "python.failed"),
        15,
        &marker,
    );
    let (status, body) = http_post(port, "/update");
    assert_eq!(status, 200, "{body}");
    let back = wait_for_log(&root, "rolled back", Duration::from_secs(300))
        .and_then(|_| wait_version(port, "0.1.0", Duration::from_secs(180)));
    let log = helper_log(&root);
    let held = fs_err::read_to_string(&marker).unwrap_or_default();
    prefix.kill();
    let (ho, he) = holder.stop();
    assert!(
        back.is_some(),
        "v0.1.0 did not come back\n{log}\nholder: {held}\n{ho}\n{he}"
    );
    assert!(
        log.contains("rolled back; the old version was started again"),
        "{log}"
    );
    assert!(
        held == "released" || held == "held",
        "the file was never held: {held:?}\n{ho}\n{he}\n{log}"
    );
    assert_not_nested(&root);
    assert_eq!(
        tree(&root),
        before,
        "the old version is not byte-identical\n{log}"
    );
    assert_user_data(&root);
    assert_no_old(&root);
    assert_no_archive(&root);
    eprintln!("rollback with a held file (wine), helper log:\n{log}");
    // The rolled-back version is not offered again.
    let prefix2 = &prefix;
    let out = prefix2
        .command(root.join("python/python.exe"))
        .args(["-m", "pyship_update", "check"])
        .current_dir(&root)
        .output_within(RUN_LIMIT);
    let text = String::from_utf8_lossy(&out.stdout);
    prefix.kill();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("skipped v0.2.0: an update to it was rolled back here"),
        "{text}"
    );
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, updates under wine"
)]
fn update_with_a_held_file_of_the_old_version_under_wine() {
    let s = shared();
    s.publish(&[(&s.v1, false), (&s.v2, false)]);
    let prefix = WinePrefix::new();
    let tmp = prefix.drive_c().join("portable");
    let (_, zip) = s.asset(&s.v1, "-win-x64.zip");
    let root = unzip(&zip, &tmp);
    user_data(&root);
    let port = free_port();
    let app = start_windows(&prefix, &root, port);
    if wait_version(port, "0.1.0", Duration::from_secs(180)).is_none() {
        prefix.kill();
        let (so, se) = app.stop();
        panic!("v0.1.0 never answered under wine\n{so}\n{se}");
    }
    // A DLL of the old runtime is held from before the update until 40 s
    // after the new version is in place: deleting python.old waits for it.
    let marker = prefix.drive_c().join("held.txt");
    let dll = fs_err::read_dir(root.join("python"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|n| n.to_ascii_lowercase().ends_with(".dll"))
        .expect("a DLL in python/");
    let holder = hold_file(
        &s,
        &prefix,
        &win_path(&prefix, &root, &format!("python\\{dll}")),
        &win_path(
            &prefix,
            &root,
            r"python\Lib\site-packages\upd_demo-0.2.0.dist-info",
        ),
        40,
        &marker,
    );
    let mut waited = 0;
    while fs_err::read_to_string(&marker).unwrap_or_default() != "held" && waited < 600 {
        std::thread::sleep(Duration::from_millis(100));
        waited += 1;
    }
    let (status, body) = http_post(port, "/update");
    assert_eq!(status, 200, "{body}");
    let took = wait_version(port, "0.2.0", Duration::from_secs(240));
    let done = wait_for_log(&root, "updated to v0.2.0", Duration::from_secs(120));
    let held = fs_err::read_to_string(&marker).unwrap_or_default();
    prefix.kill();
    let (ho, he) = holder.stop();
    let log = helper_log(&root);
    assert!(took.is_some(), "v0.2.0 never answered\n{log}\n{ho}\n{he}");
    assert!(done.is_some(), "{log}");
    assert_eq!(held, "released", "{log}\n{ho}\n{he}");
    assert_not_nested(&root);
    assert_user_data(&root);
    assert_no_old(&root);
    assert_no_archive(&root);
    eprintln!("update with a held old DLL (wine), helper log:\n{log}");
}
