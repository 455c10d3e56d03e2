//! What `apply` refuses with `error:`/`hint:` lines and the tree unchanged:
//! no newer release, a pre-release on the stable channel, a tampered asset,
//! a dropped connection, and hostile releases (asset names that leave the
//! staging folder, links out of the bundle, a bundle without its
//! interpreter or with one that cannot run).

use super::*;

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, updates under wine"
)]
fn refusals_change_nothing_and_say_why() {
    let s = shared();
    let tmp = tempfile::tempdir().unwrap();
    let (_, tarball) = s.asset(&s.v1, "-linux-x64.tar.gz");
    let root = untar(&tarball, tmp.path());
    user_data(&root);
    let before = tree(&root);
    let unchanged = |what: &str| {
        assert_eq!(tree(&root), before, "{what} changed the bundle");
        assert!(
            !root.join(".pyship-update").exists(),
            "{what} left .pyship-update behind"
        );
        assert_user_data(&root);
    };

    // No newer release.
    s.publish(&[(&s.v1, false)]);
    let (code, out, err) = cli_apply(&root, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("install type: portable-linux"), "{out}");
    assert!(
        out.contains("no newer stable release than v0.1.0\n"),
        "{out}"
    );
    unchanged("no newer release");

    // Only a pre-release is newer, and this bundle is on the stable channel.
    let mut rc = s.v2.clone();
    rc.tag = "v0.2.0-rc.1".into();
    s.publish(&[(&s.v1, false), (&rc, true)]);
    let (code, out, err) = cli_apply(&root, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(
            "no newer stable release than v0.1.0; skipped pre-release v0.2.0-rc.1 (use --prerelease to include it)"
        ),
        "{out}"
    );
    unchanged("a pre-release on the stable channel");

    // A tampered asset: same name and size, other bytes.
    let (name, mut data) = s.asset(&s.v2, "-linux-x64.tar.gz");
    let mid = data.len() / 2;
    data[mid] ^= 0xff;
    let mut tampered = s.v2.clone();
    tampered.assets.insert(name.clone(), data);
    // Without its patch (which rebuilds the signed tree whatever the full
    // archive holds), so that the full archive is what gets downloaded.
    tampered.assets.retain(|n, _| !n.contains("-delta-from-"));
    s.publish(&[(&s.v1, false), (&tampered, false)]);
    let (code, out, err) = cli_apply(&root, &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains(&format!(
            "error: {name} does not match its SHA-256 (manifest.json: "
        )),
        "{err}"
    );
    assert!(err.contains("refusing it\nhint: the asset on the server was changed after publishing; nothing was changed here"), "{err}");
    unchanged("a tampered asset");

    // The connection drops in the middle of the download (of the full
    // archive: the release without its patch).
    let mut whole = s.v2.clone();
    whole.assets.retain(|n, _| !n.contains("-delta-from-"));
    s.publish(&[(&s.v1, false), (&whole, false)]);
    let size = s.asset(&s.v2, "-linux-x64.tar.gz").1.len();
    s.gitea.truncate_next_download(&name, size / 3);
    let (code, out, err) = cli_apply(&root, &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(
        s.gitea.pending_faults(),
        0,
        "the download was not cut: {err}"
    );
    assert!(
        err.contains(&format!("error: the download of {name} ")),
        "{err}"
    );
    assert!(err.contains("hint: try again later"), "{err}");
    unchanged("a dropped connection");
}

/// `v` with the asset ending in `suffix` renamed to `name` (manifest.json
/// and SHA256SUMS say so too: a server that lies consistently).
fn renamed(v: &Version, key: &Path, suffix: &str, name: &str) -> Version {
    let (old, data) = v
        .assets
        .iter()
        .find(|(n, _)| n.ends_with(suffix))
        .map(|(n, d)| (n.clone(), d.clone()))
        .unwrap();
    let mut out = v.clone();
    out.assets.remove(&old);
    out.assets.insert(name.to_owned(), data);
    let mut m: serde_json::Value = serde_json::from_slice(&v.assets["manifest.json"]).unwrap();
    for a in m["assets"].as_array_mut().unwrap() {
        if a["name"] == old.as_str() {
            a["name"] = name.into();
        }
    }
    out.assets.insert(
        "manifest.json".into(),
        serde_json::to_vec_pretty(&m).unwrap(),
    );
    resigned(&out, key, |_| {})
}

/// Issue 24, items 1, 2 and 5, with real bundles: a release whose asset name
/// leaves the staging folder, whose tarball has a hard link or a symlink
/// out of the bundle (hashes made to match), or whose bundle lacks its
/// interpreter is refused by `apply` with `error:`/`hint:` lines, the
/// install tree and a file beside it unchanged; one whose interpreter cannot
/// run gets as far as the helper, which says so in update.log, changes
/// nothing and removes the download.
#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, updates under wine"
)]
fn hostile_releases_are_refused_with_the_tree_unchanged() {
    let s = shared();
    let tmp = tempfile::tempdir().unwrap();
    let (_, tarball) = s.asset(&s.v1, "-linux-x64.tar.gz");
    let root = untar(&tarball, tmp.path());
    user_data(&root);
    let victim = tmp.path().join("victim");
    fs_err::write(&victim, "victim\n").unwrap();
    let before = tree(&root);
    let unchanged = |what: &str| {
        assert_eq!(tree(&root), before, "{what} changed the bundle");
        assert!(
            !root.join(".pyship-update").exists(),
            "{what} left .pyship-update behind"
        );
        assert_eq!(
            fs_err::read_to_string(&victim).unwrap(),
            "victim\n",
            "{what}"
        );
        assert_eq!(
            fs_err::read_dir(tmp.path()).unwrap().count(),
            2,
            "{what} wrote beside the bundle"
        );
    };
    let refused = |v: &Version, what: &str, says: &str| {
        s.publish(&[(&s.v1, false), (v, false)]);
        let (code, out, err) = cli_apply(&root, &[]);
        assert_eq!(code, 1, "{what}: {out}{err}");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 2, "{what}: {err}");
        assert!(
            lines[0].starts_with("error: ") && lines[0].contains(says),
            "{what}: {err}"
        );
        assert!(lines[1].starts_with("hint: "), "{what}: {err}");
        unchanged(what);
    };
    let (_, good) = s.asset(&s.v2, "-linux-x64.tar.gz");

    // Item 1: names from the server are plain file names.
    for name in [
        "../../victim",
        "../../../../victim.tar.gz",
        victim.to_str().unwrap(),
    ] {
        refused(
            &renamed(&s.v2, &s.key, "-linux-x64.tar.gz", name),
            name,
            "which is not a plain .tar.gz file name",
        );
    }
    // Item 2: tar resolves a hard link's target from the archive root.
    for (what, extra) in [
        (
            "hard link out",
            Extra::HardLink("Upd-Demo/app/h", "../../victim"),
        ),
        (
            "hard link to a root member",
            Extra::HardLink("Upd-Demo/app/h", "victim"),
        ),
        (
            "hard link to nothing",
            Extra::HardLink("Upd-Demo/app/h", "Upd-Demo/app/missing"),
        ),
        (
            "symlink out",
            Extra::Symlink("Upd-Demo/app/l", "../../victim"),
        ),
    ] {
        let bad = edited_tarball(&good, |_| None, &[extra]);
        refused(
            &s.republished(&s.v2, "-linux-x64.tar.gz", bad),
            what,
            "refusing it",
        );
    }
    // A bundle without its interpreter never reaches the helper.
    let bad = edited_tarball(
        &good,
        |p| {
            p.starts_with(&format!("{NAME}/python/bin/python3"))
                .then_some(None)
        },
        &[],
    );
    refused(
        &s.republished(&s.v2, "-linux-x64.tar.gz", bad),
        "no interpreter",
        "has no python/bin/python3",
    );

    // Item 5: an interpreter that cannot run: the log says so, not "the app
    // did not exit"; nothing changed and the download is gone.
    let bad = edited_tarball(
        &good,
        |p| {
            (p == format!("{NAME}/python/bin/python3"))
                .then(|| Some((b"#!/bin/sh\nexit 126\n".to_vec(), 0o755)))
        },
        &[],
    );
    s.publish(&[
        (&s.v1, false),
        (&s.republished(&s.v2, "-linux-x64.tar.gz", bad), false),
    ]);
    let (code, out, err) = cli_apply(&root, &["--pid", "999999"]);
    assert_eq!(code, 0, "{out}{err}");
    let done = wait_for_log(&root, "nothing was changed", Duration::from_secs(60));
    let log = helper_log(&root);
    assert!(done.is_some(), "{log}");
    assert!(
        log.contains("could not run the helper (exit status 126)"),
        "{log}"
    );
    assert!(!log.contains("did not exit"), "{log}");
    assert_eq!(
        tree(&root),
        before,
        "a helper that could not run changed the bundle"
    );
    assert_no_old(&root);
    assert_no_archive(&root);
}
