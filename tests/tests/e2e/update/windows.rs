//! The portable Windows bundle under wine: update through `/update`, two
//! concurrent `apply()` calls giving one update and one error, and rollback
//! of a v0.2.0 that exits at start-up.

use super::*;

/// v0.1.0's zip unpacked, started under wine, updated through `/update`.
/// Returns the unpacked folder, the time to the new version, and the logs.
fn windows_portable_update(
    s: &Shared,
    prefix: &WinePrefix,
    expect: &str,
) -> (PathBuf, Option<Duration>, String) {
    let tmp = prefix.drive_c().join("portable");
    let (_, zip) = s.asset(&s.v1, "-win-x64.zip");
    let root = unzip(&zip, &tmp);
    user_data(&root);
    let port = free_port();
    let app = start_windows(prefix, &root, port);
    let first = wait_version(port, "0.1.0", Duration::from_secs(180));
    if first.is_none() {
        prefix.kill();
        let (so, se) = app.stop();
        panic!("v0.1.0 never answered under wine\n{so}\n{se}");
    }
    // A signed check under wine, timed (the figure the README quotes).
    let start = Instant::now();
    let out = prefix
        .command(root.join("python/python.exe"))
        .args(["-m", "pyship_update", "check"])
        .current_dir(&root)
        .output_within(RUN_LIMIT);
    let took_check = start.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("signatures: required (key "), "{text}");
    assert!(text.contains(&format!("release v{expect}")), "{text}");
    eprintln!("portable Windows (wine): signed `python -m pyship_update check`: {took_check:.1?}");
    let start = Instant::now();
    let (status, body) = http_post(port, "/update");
    eprintln!(
        "portable Windows (wine): POST /update (download + rebuild + helper started): {:.1?}",
        start.elapsed()
    );
    assert_eq!(status, 200, "{body}");
    let took = wait_version(port, expect, Duration::from_secs(240));
    (root, took, body)
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, updates under wine"
)]
fn update_portable_windows_under_wine() {
    let s = shared();
    s.publish(&[(&s.v1, false), (&s.v2, false)]);
    let prefix = WinePrefix::new();
    let (root, took, body) = windows_portable_update(&s, &prefix, "0.2.0");
    assert!(body.contains("\"update\":\"v0.2.0\""), "{body}");
    let done = wait_for_log(&root, "updated to v0.2.0", Duration::from_secs(60));
    prefix.kill();
    let took = took.unwrap_or_else(|| panic!("v0.2.0 never answered\n{}", helper_log(&root)));
    assert!(done.is_some(), "{}", helper_log(&root));
    eprintln!("portable Windows (wine): apply to v0.2.0 answering: {took:.1?}");
    assert_user_data(&root);
    assert_no_old(&root);
    assert!(root
        .join("python/Lib/site-packages/upd_demo-0.2.0.dist-info")
        .is_dir());
    assert_delta_used(&s, &root, "-win-x64.zip");
}

/// Two threads of the app's own interpreter call `apply()` at once (the
/// same `Update`, released together by a barrier), then the process exits.
const RACE: &str = r#"import json, os, threading
import pyship_update

u = pyship_update.check()
gate = threading.Barrier(2)
out = []


def go():
    gate.wait()
    try:
        pyship_update.apply(u, port=int(os.environ["UPD_PORT"]))
        out.append(["updated", ""])
    except pyship_update.UpdateError as e:
        out.append(["UpdateError", e.message])
    except BaseException as e:
        out.append([type(e).__name__, str(e)])


ts = [threading.Thread(target=go) for _ in range(2)]
for t in ts:
    t.start()
for t in ts:
    t.join()
with open("C:\\race.json", "w") as f:
    json.dump(sorted(out), f)
"#;

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, updates under wine"
)]
fn two_concurrent_applies_give_one_update_and_one_update_error_under_wine() {
    let s = shared();
    s.publish(&[(&s.v1, false), (&s.v2, false)]);
    let prefix = WinePrefix::new();
    let (_, zip) = s.asset(&s.v1, "-win-x64.zip");
    let root = unzip(&zip, &prefix.drive_c().join("portable"));
    user_data(&root);
    let script = prefix.drive_c().join("race.py");
    fs_err::write(&script, RACE).unwrap();
    // The helper starts the new version with this process's environment.
    let port = free_port();
    // The outcome goes to a file: the helper and the app it starts inherit
    // wine's descriptors, so the pipes stay open as long as they run.
    let mut cmd = prefix.command(root.join("python/python.exe"));
    cmd.arg(r"C:\race.py")
        .env("UPD_PORT", port.to_string())
        .current_dir(&root);
    let mut race = Running::spawn(cmd);
    let status = race.wait_within(RUN_LIMIT);
    let took = wait_version(port, "0.2.0", Duration::from_secs(240));
    let done = wait_for_log(&root, "updated to v0.2.0", Duration::from_secs(60));
    prefix.kill();
    let (so, se) = race.stop();
    let log = helper_log(&root);
    assert!(status.is_some_and(|s| s.success()), "{status:?}\n{so}{se}");
    let text = fs_err::read_to_string(prefix.drive_c().join("race.json")).unwrap();
    let got: Vec<(String, String)> = serde_json::from_str(&text).unwrap();
    assert_eq!(got.len(), 2, "{text}");
    assert_eq!(got[0].0, "UpdateError", "{got:?}");
    assert!(
        got[0].1.contains("another update is already running"),
        "{got:?}"
    );
    assert_eq!(got[1].0, "updated", "{got:?}");
    assert!(
        took.is_some() && done.is_some(),
        "v0.2.0 never answered\n{log}"
    );
    // One helper ran: one update in the log, whole and by delta.
    assert_eq!(log.matches("] update of ").count(), 1, "{log}");
    assert_user_data(&root);
    assert_no_old(&root);
    assert_no_archive(&root);
    assert!(!root.join(".pyship-update/lock").exists(), "{log}");
    assert_delta_used(&s, &root, "-win-x64.zip");
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, updates under wine"
)]
fn rollback_portable_windows_under_wine() {
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
    let (status, body) = http_post(port, "/update");
    assert_eq!(status, 200, "{body}");
    let back = wait_for_log(&root, "rolled back", Duration::from_secs(240))
        .and_then(|_| wait_version(port, "0.1.0", Duration::from_secs(180)));
    prefix.kill();
    let log = helper_log(&root);
    assert!(back.is_some(), "v0.1.0 did not come back\n{log}");
    // The broken version may be seen to exit, or (on a loaded machine) not to
    // come up within the start timeout: either way it rolls back.
    assert!(
        log.contains("the new version exited during start-up")
            || log.contains("the new version did not start within"),
        "{log}"
    );
    assert_eq!(tree(&root), before, "the old version is not byte-identical");
    assert_user_data(&root);
    assert_no_old(&root);
    assert_no_archive(&root);
}
