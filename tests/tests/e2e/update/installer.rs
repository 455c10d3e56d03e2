//! The NSIS installer under wine: an installed v0.1.0 updates itself to
//! v0.2.0 by the zip's delta (one Add/Remove Programs entry, at the new
//! version, and the tree a fresh install of v0.2.0 has), is reinstalled at
//! the old version when v0.2.0 exits at start-up, and runs the full setup
//! when its delta does not verify.

use super::delta::with_patch_of;
use super::*;

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, updates under wine"
)]
fn update_installer_under_wine() {
    let s = shared();
    s.publish(&[(&s.v1, false), (&s.v2, false)]);
    let prefix = WinePrefix::new();
    let root = install_setup(&s, &prefix, &s.v1, r"C:\Apps\Upd Demo");
    assert!(root.join("uninstall.exe").is_file(), "not installed");
    user_data(&root);
    let port = free_port();
    let app = start_windows(&prefix, &root, port);
    if wait_version(port, "0.1.0", Duration::from_secs(180)).is_none() {
        prefix.kill();
        let (so, se) = app.stop();
        panic!("v0.1.0 never answered under wine\n{so}\n{se}");
    }
    let (_, body) = http_get(port, "/version").unwrap();
    assert!(body.contains("\"install_type\":\"installer\""), "{body}");
    let start = Instant::now();
    let out = prefix
        .command(root.join("python/python.exe"))
        .args(["-m", "pyship_update", "check"])
        .current_dir(&root)
        .output_within(RUN_LIMIT);
    let took_check = start.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("delta from 0.1.0: "), "{text}");
    let start = Instant::now();
    let (status, body) = http_post(port, "/update");
    let took_apply = start.elapsed();
    assert_eq!(status, 200, "{body}");
    let took = wait_version(port, "0.2.0", Duration::from_secs(300));
    let done = wait_for_log(&root, "updated to v0.2.0", Duration::from_secs(60));
    let uninstall = uninstall_entries(&prefix);
    let log = helper_log(&root);
    let took = took.unwrap_or_else(|| {
        prefix.kill();
        panic!("v0.2.0 never answered\n{log}")
    });
    assert!(done.is_some(), "{log}");
    eprintln!(
        "installer (wine): signed check {took_check:.1?}; POST /update (download + rebuild + helper started) {took_apply:.1?}; then v0.2.0 answering after {took:.1?}"
    );
    assert_user_data(&root);
    assert_no_old(&root);
    assert_no_archive(&root);
    assert!(root
        .join("python/Lib/site-packages/upd_demo-0.2.0.dist-info")
        .is_dir());
    assert!(!root
        .join("python/Lib/site-packages/upd_demo-0.1.0.dist-info")
        .exists());
    // By the zip's delta: the setup was not downloaded.
    let (setup_name, _) = s.asset(&s.v2, "-setup.exe");
    let m: serde_json::Value = serde_json::from_slice(&s.v2.assets["manifest.json"]).unwrap();
    let entry = |name: &str| {
        m["assets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap()
            .clone()
    };
    let (zip_name, _) = s.asset(&s.v2, "-win-x64.zip");
    let delta = entry(&setup_name)["delta"].clone();
    assert_eq!(delta, entry(&zip_name)["delta"], "{m}");
    let patch = delta["name"].as_str().expect("the setup has a delta");
    assert!(
        log.contains(&format!("downloaded the delta {patch}")),
        "{log}"
    );
    assert!(log.contains("(installer, by delta)"), "{log}");
    // One Add/Remove Programs entry, at the new version, for this folder.
    let versions: Vec<&str> = uninstall
        .lines()
        .filter(|l| l.trim_start().starts_with("DisplayVersion"))
        .collect();
    assert_eq!(versions.len(), 1, "{uninstall}");
    assert!(versions[0].trim_end().ends_with("0.2.0"), "{uninstall}");
    assert!(log.contains("now says version 0.2.0"), "{log}");
    // The kept setup is still v0.1.0's, noted as such for a later rollback.
    let (_, setup_v1) = s.asset(&s.v1, "-setup.exe");
    assert_eq!(
        fs_err::read(root.join(".pyship-setup/setup.exe")).unwrap(),
        setup_v1
    );
    let note = fs_err::read_to_string(root.join(".pyship-setup/setup-version.txt")).unwrap();
    assert_eq!(note.trim(), format!("{} 0.1.0", hex_sha256(&setup_v1)));
    // The same tree as a fresh install of v0.2.0 by its setup, files and
    // folders (the uninstaller and the kept setup are the installer's own:
    // the v0.1.0 ones stay, and remove the same entries by name).
    let fresh = install_setup(&s, &prefix, &s.v2, r"C:\Apps\Fresh");
    prefix.kill();
    let strip = |t: BTreeMap<String, String>| -> BTreeMap<String, String> {
        t.into_iter()
            .filter(|(k, _)| {
                !k.starts_with("data") && !k.starts_with(".pyship") && k != "uninstall.exe"
            })
            .collect()
    };
    let (mine, want) = (strip(tree(&root)), strip(tree(&fresh)));
    let differ: Vec<&String> = mine
        .keys()
        .chain(want.keys())
        .filter(|k| mine.get(*k) != want.get(*k))
        .collect();
    assert!(
        differ.is_empty(),
        "the updated tree differs from a fresh install: {differ:?}"
    );
    assert_eq!(folders(&root), folders(&fresh));
    let size = delta["size"].as_u64().unwrap();
    let full = s.v2.assets[&setup_name].len();
    eprintln!(
        "installer delta {patch}: {size} bytes = {:.3}% of {setup_name} ({full} bytes)",
        100.0 * size as f64 / full as f64
    );
}

/// Install `v`'s setup silently into `dir` (a Windows path); the folder.
fn install_setup(s: &Shared, prefix: &WinePrefix, v: &Version, dir: &str) -> PathBuf {
    let dl = tempfile::tempdir().unwrap();
    let (setup_name, setup) = s.asset(v, "-setup.exe");
    let setup_path = dl.path().join(&setup_name);
    fs_err::write(&setup_path, setup).unwrap();
    // NSIS reads /D= to the end of its command line, unquoted: a space in
    // the folder goes as two arguments, which wine joins with one space.
    // No pipes: a wine process the setup starts (explorer.exe) inherits
    // them and keeps them open.
    let run = |attempt: u32| {
        let out = dl.path().join(format!("setup{attempt}.out"));
        let err = dl.path().join(format!("setup{attempt}.err"));
        let status = prefix
            .command(&setup_path)
            .arg("/S")
            .args(format!("/D={dir}").split(' '))
            .stdin(std::process::Stdio::null())
            .stdout(fs_err::File::create(&out).unwrap().into_parts().0)
            .stderr(fs_err::File::create(&err).unwrap().into_parts().0)
            .status_within(RUN_LIMIT);
        let text = format!(
            "{status:?}\n{}{}",
            fs_err::read_to_string(&out).unwrap_or_default(),
            fs_err::read_to_string(&err).unwrap_or_default()
        );
        (status.success(), text)
    };
    // A silent NSIS setup under wine can exit 1 with no output on a loaded
    // machine: it runs again once in a stopped prefix, and a second failure
    // fails the test with both runs' output.
    let (ok, first) = run(1);
    if !ok {
        eprintln!("setup {} failed once, run again: {first}", v.tag);
        prefix.shutdown();
        let (ok, second) = run(2);
        assert!(ok, "setup {} failed twice:\n{first}\n{second}", v.tag);
    }
    let rel = dir.trim_start_matches(r"C:\").replace('\\', "/");
    prefix.drive_c().join(rel)
}

/// `reg query` of the per-user Add/Remove Programs entries.
fn uninstall_entries(prefix: &WinePrefix) -> String {
    let out = prefix
        .command("reg")
        .args([
            "query",
            r"HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall",
            "/s",
        ])
        .output_within(RUN_LIMIT);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases three versions, installs and updates under wine"
)]
fn an_installed_app_updated_to_a_broken_release_is_reinstalled_at_the_old_version_under_wine() {
    let s = shared();
    // v0.2.5, released by `release` from a commit whose app exits at start-up.
    let main = s.dir.join("python/src/upd_demo/__main__.py");
    fs_err::write(&main, BROKEN_MAIN).unwrap();
    git(&s.dir, &["commit", "-q", "-am", "v0.2.5 exits at start-up"]);
    git(&s.dir, &["tag", "v0.2.5"]);
    s.publish(&[(&s.v1, false), (&s.v2, false)]);
    let out = pyship_command(&s.cache)
        .current_dir(&s.dir)
        .env("PYSHIP_PYTHON_MIRROR", &s.mirror)
        .env("GITHUB_SERVER_URL", s.gitea.url())
        .env("GITHUB_REPOSITORY", REPO)
        .env("GITHUB_REF_NAME", "v0.2.5")
        .env("GITHUB_REF_TYPE", "tag")
        .env("DEPLOY_TOKEN", WRITE_TOKEN)
        .env(
            "PYSHIP_SIGNING_KEY",
            fs_err::read_to_string(&s.key).unwrap(),
        )
        .env("PYSHIP_RETRY_BASE_MS", "5")
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["pyship", "release", "--only", "windows,publish"])
        .output_within(RUN_LIMIT);
    // The project as the other tests know it.
    git(&s.dir, &["tag", "-d", "v0.2.5"]);
    git(&s.dir, &["reset", "-q", "--hard", "HEAD~1"]);
    let _ = fs_err::remove_dir_all(s.dir.join("dist"));
    assert!(
        out.status.success(),
        "release v0.2.5 failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rel = s.gitea.release(REPO, "v0.2.5").expect("released");
    let broken = Version {
        tag: "v0.2.5".into(),
        assets: rel
            .assets
            .iter()
            .map(|a| (a.name.clone(), a.data.clone()))
            .collect(),
    };
    s.publish(&[(&s.v1, false), (&broken, false)]);

    let prefix = WinePrefix::new();
    let dl = tempfile::tempdir().unwrap();
    let (setup_name, setup) = s.asset(&s.v1, "-setup.exe");
    let setup_path = dl.path().join(&setup_name);
    fs_err::write(&setup_path, &setup).unwrap();
    let mut cmd = prefix.command(&setup_path);
    cmd.args(["/S", r"/D=C:\Apps\Upd", "Demo"]);
    assert!(
        cmd.output_within(RUN_LIMIT).status.success(),
        "setup v0.1.0 failed"
    );
    let root = prefix.drive_c().join("Apps/Upd Demo");
    // The installer keeps its own setup for the updater.
    assert_eq!(
        fs_err::read(root.join(".pyship-setup/setup.exe")).unwrap(),
        setup,
        "the kept setup is v0.1.0's"
    );
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
    assert!(body.contains("\"update\":\"v0.2.5\""), "{body}");
    let back = wait_for_log(&root, "rolled back", Duration::from_secs(420))
        .and_then(|_| wait_version(port, "0.1.0", Duration::from_secs(180)));
    let took = start.elapsed();
    let log = helper_log(&root);
    let check = prefix
        .command(root.join("python/python.exe"))
        .args(["-m", "pyship_update", "check"])
        .current_dir(&root)
        .output_within(RUN_LIMIT);
    let uninstall = prefix
        .command("reg")
        .args([
            "query",
            r"HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall",
            "/s",
        ])
        .output_within(RUN_LIMIT);
    prefix.kill();
    assert!(back.is_some(), "v0.1.0 did not come back\n{log}");
    eprintln!("installer (wine): update to a broken v0.2.5 → v0.1.0 reinstalled and answering: {took:.1?}");
    // v0.2.5's delta is from v0.2.0: the full setup is downloaded.
    assert!(
        log.contains("the delta applies to '0.2.0', not to this version ('0.1.0'); downloaded the full setup"),
        "{log}"
    );
    assert!(
        log.contains("the new version did not come up; reinstalling the previous version"),
        "{log}"
    );
    assert!(
        log.contains("rolled back; the previous version was reinstalled and started again"),
        "{log}"
    );
    assert_user_data(&root);
    assert!(root
        .join("python/Lib/site-packages/upd_demo-0.1.0.dist-info")
        .is_dir());
    assert!(!root
        .join("python/Lib/site-packages/upd_demo-0.2.5.dist-info")
        .exists());
    assert_eq!(
        fs_err::read(root.join(".pyship-setup/setup.exe")).unwrap(),
        setup,
        "the kept setup is v0.1.0's again"
    );
    // One Add/Remove Programs entry, at the old version.
    let reg = String::from_utf8_lossy(&uninstall.stdout);
    let versions: Vec<&str> = reg
        .lines()
        .filter(|l| l.trim_start().starts_with("DisplayVersion"))
        .collect();
    assert_eq!(versions.len(), 1, "{reg}");
    assert!(versions[0].trim_end().ends_with("0.1.0"), "{reg}");
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(
        text.contains("skipped v0.2.5: an update to it was rolled back here"),
        "{text}{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, installs and updates under wine"
)]
fn an_installed_app_whose_delta_does_not_verify_runs_the_full_setup_under_wine() {
    let s = shared();
    let bad = with_patch_of(
        &s,
        &s.v2,
        "portable-windows",
        |d| d.extend_from_slice(b"\n# changed\n"),
        None,
    );
    s.publish(&[(&s.v1, false), (&bad, false)]);
    let prefix = WinePrefix::new();
    let root = install_setup(&s, &prefix, &s.v1, r"C:\Apps\Upd Demo");
    user_data(&root);
    let port = free_port();
    let app = start_windows(&prefix, &root, port);
    if wait_version(port, "0.1.0", Duration::from_secs(180)).is_none() {
        prefix.kill();
        let (so, se) = app.stop();
        panic!("v0.1.0 never answered under wine\n{so}\n{se}");
    }
    let (status, body) = http_post(port, "/update");
    assert_eq!(status, 200, "{body}");
    let took = wait_version(port, "0.2.0", Duration::from_secs(300));
    let done = wait_for_log(&root, "updated to v0.2.0", Duration::from_secs(60));
    let uninstall = uninstall_entries(&prefix);
    prefix.kill();
    let log = helper_log(&root);
    assert!(
        took.is_some() && done.is_some(),
        "v0.2.0 never answered\n{log}"
    );
    assert!(log.contains("the delta was not used ("), "{log}");
    assert!(
        log.contains("is not the release's (SHA-256 or size differs)); downloaded the full setup"),
        "{log}"
    );
    assert!(log.contains("(installer)"), "{log}");
    assert_user_data(&root);
    let versions: Vec<&str> = uninstall
        .lines()
        .filter(|l| l.trim_start().starts_with("DisplayVersion"))
        .collect();
    assert_eq!(versions.len(), 1, "{uninstall}");
    assert!(versions[0].trim_end().ends_with("0.2.0"), "{uninstall}");
    // The full setup replaced the kept one: it installs v0.2.0.
    let (_, setup_v2) = s.asset(&s.v2, "-setup.exe");
    assert_eq!(
        fs_err::read(root.join(".pyship-setup/setup.exe")).unwrap(),
        setup_v2
    );
}
