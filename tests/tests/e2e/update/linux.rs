//! The portable Linux bundle: v0.1.0 unpacked, updated to v0.2.0 through
//! `/update` (by delta, user data kept), and rolled back byte for byte when
//! v0.2.0 exits at start-up.

use super::*;

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, updates under wine"
)]
fn update_portable_linux_keeps_data_and_answers_with_the_new_version() {
    let s = shared();
    s.publish(&[(&s.v1, false), (&s.v2, false)]);
    let tmp = tempfile::tempdir().unwrap();
    let (_, tarball) = s.asset(&s.v1, "-linux-x64.tar.gz");
    let root = untar(&tarball, tmp.path());
    user_data(&root);
    let port = free_port();
    let app = start_linux(&root, port);
    let first = wait_version(port, "0.1.0", Duration::from_secs(60));
    let (_, checked, _, took_check) = cli(&root, &["check"]);
    let start = Instant::now();
    let (status, body) = http_post(port, "/update");
    let took_apply = start.elapsed();
    let start = Instant::now();
    let took = wait_version(port, "0.2.0", Duration::from_secs(120));
    let (so, se) = app.stop();
    stop_linux_helper_app(&root);
    assert!(first.is_some(), "v0.1.0 never answered\n{so}\n{se}");
    assert!(checked.contains("delta from 0.1.0: "), "{checked}");
    eprintln!(
        "portable Linux: signed check {took_check:.1?}; POST /update (download + rebuild + helper started) {took_apply:.1?}"
    );
    assert_eq!(status, 200, "{body}\n{se}");
    assert!(body.contains("\"update\":\"v0.2.0\""), "{body}");
    let took = took.unwrap_or_else(|| {
        panic!(
            "v0.2.0 never answered\nhelper log:\n{}\napp:\n{se}",
            helper_log(&root)
        )
    });
    eprintln!(
        "portable Linux: apply to v0.2.0 answering: {:.1?} (after the POST: {:.1?})",
        took,
        start.elapsed()
    );
    // The helper deletes the .old folders once the new version answered.
    let done = wait_for_log(&root, "updated to v0.2.0", Duration::from_secs(60));
    assert!(done.is_some(), "{}", helper_log(&root));
    assert_user_data(&root);
    assert_no_old(&root);
    assert_no_archive(&root);
    assert!(root
        .join("python/lib/python3.11/site-packages/upd_demo-0.2.0.dist-info")
        .is_dir());
    assert!(!root
        .join("python/lib/python3.11/site-packages/upd_demo-0.1.0.dist-info")
        .exists());
    // By delta, into the tree a fresh install of v0.2.0 has.
    assert_delta_used(&s, &root, "-linux-x64.tar.gz");
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, updates under wine"
)]
fn rollback_portable_linux_restores_the_old_version_byte_for_byte() {
    let s = shared();
    let (_, good) = s.asset(&s.v2, "-linux-x64.tar.gz");
    let broken = s.republished(&s.v2, "-linux-x64.tar.gz", broken_tarball(&good));
    s.publish(&[(&s.v1, false), (&broken, false)]);
    let tmp = tempfile::tempdir().unwrap();
    let (_, tarball) = s.asset(&s.v1, "-linux-x64.tar.gz");
    let root = untar(&tarball, tmp.path());
    user_data(&root);
    let port = free_port();
    let app = start_linux(&root, port);
    let first = wait_version(port, "0.1.0", Duration::from_secs(60));
    let before = tree(&root);
    let (status, body) = http_post(port, "/update");
    // The helper starts v0.2.0, sees it exit, restores v0.1.0 and starts it.
    let back = wait_for_log(&root, "rolled back", Duration::from_secs(120))
        .and_then(|_| wait_version(port, "0.1.0", Duration::from_secs(60)));
    let (so, se) = app.stop();
    stop_linux_helper_app(&root);
    assert!(first.is_some(), "v0.1.0 never answered\n{so}\n{se}");
    assert_eq!(status, 200, "{body}");
    assert!(
        back.is_some(),
        "v0.1.0 did not come back\n{}",
        helper_log(&root)
    );
    let log = helper_log(&root);
    // Under wine the broken version may be seen to exit, or (on a loaded
    // machine) not to come up within the start timeout: either way it rolls back.
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
