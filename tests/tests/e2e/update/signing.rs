//! Signed updates and keys: Debian's `minisign -V` accepts what `release`
//! signed, the installed app refuses manifests its key did not sign (or that
//! disagree with the asset), key rotation across two releases, and a release
//! made by `bundle`, `installer` and `publish` that is signed and updatable.

use super::*;

/// Issue 25 with real bundles: Debian's `minisign -V` accepts what `release`
/// signed; the installed v0.1.0 (built with the release key in
/// `update.public-keys`) refuses a v0.3.0 signed with an untrusted key, a
/// replayed v0.1.0 manifest, another app's manifest, a manifest whose hash
/// disagrees with the asset and an unsigned manifest, each with `error:` and
/// `hint:` lines and the tree unchanged; it accepts the signed v0.2.0.
#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, updates the Linux bundle"
)]
fn signed_releases_refuse_what_the_key_did_not_sign() {
    let s = shared();
    for v in [&s.v1, &s.v2] {
        let (ok, text) = minisign_verify(
            &s.public_key,
            &v.assets["manifest.json"],
            &v.assets["manifest.json.minisig"],
        );
        assert!(ok, "minisign -V refused {}'s signature: {text}", v.tag);
        assert!(
            text.contains(&format!("pyship manifest of Upd Demo {}", v.tag)),
            "{text}"
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let (_, tarball) = s.asset(&s.v1, "-linux-x64.tar.gz");
    let root = untar(&tarball, tmp.path());
    user_data(&root);
    let before = tree(&root);

    // The genuine signed v0.2.0 is offered; the check is timed.
    s.publish(&[(&s.v1, false), (&s.v2, false)]);
    let (code, out, err, took) = cli(&root, &["check"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("signatures: required (key "), "{out}");
    assert!(out.contains("release v0.2.0"), "{out}");
    eprintln!("portable Linux: signed `python -m pyship_update check`: {took:.1?}");

    let untrusted = s.keys_dir.join("untrusted.key");
    let (untrusted_pub, untrusted_id) = keygen(&s.cache, &s.dir, &untrusted);
    let mut replayed = s.v2.clone();
    replayed.tag = "v0.3.0".into();
    for n in ["manifest.json", "manifest.json.minisig"] {
        replayed.assets.insert(n.into(), s.v1.assets[n].clone());
    }
    let mut unsigned = relabeled(&s.v2, "v0.3.0", &s.key, &[&s.public_key]);
    unsigned.assets.remove("manifest.json.minisig");
    let cases = [
        (
            "an untrusted key",
            relabeled(&s.v2, "v0.3.0", &untrusted, &[&untrusted_pub]),
            format!("is signed by key {untrusted_id}, which this app does not trust"),
        ),
        (
            "a replayed v0.1.0 manifest",
            replayed,
            "describes 'v0.1.0', not this release".to_owned(),
        ),
        (
            "another app's manifest",
            resigned(&s.v2, &s.key, |m| m["repo"] = "mallory/other".into()),
            "is for repo 'mallory/other', not for this app".to_owned(),
        ),
        (
            "a hash list that disagrees with the asset",
            resigned(&s.v2, &s.key, |m| {
                for a in m["assets"].as_array_mut().unwrap() {
                    a["sha256"] = "0".repeat(64).into();
                }
            }),
            "SHA-256".to_owned(),
        ),
        (
            "an unsigned manifest",
            unsigned,
            "release v0.3.0 is not signed (it has no manifest.json.minisig)".to_owned(),
        ),
    ];
    for (what, v, says) in cases {
        s.publish(&[(&s.v1, false), (&v, false)]);
        let (code, out, err) = cli_apply(&root, &[]);
        assert_eq!(code, 1, "{what}: {out}{err}");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 2, "{what}: {err}");
        assert!(
            lines[0].starts_with("error: ") && lines[0].contains(&says),
            "{what}: {err}"
        );
        assert!(lines[1].starts_with("hint: "), "{what}: {err}");
        assert_eq!(tree(&root), before, "{what} changed the bundle");
        assert!(
            !root.join(".pyship-update").exists(),
            "{what} left .pyship-update"
        );
        assert!(!root.join(".pyship-trust.json").exists(), "{what}");
    }
}

/// Key rotation with real bundles: v0.1.5 (signed with the release key)
/// hands over to a new key, v0.2.0 is signed with the new key only; the
/// installed v0.1.0, two releases behind, updates to v0.2.0 with data/
/// kept, and stores the rotation next to the app.
#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, updates the Linux bundle"
)]
fn key_rotation_reaches_an_app_two_releases_behind() {
    let s = shared();
    let new_key = s.keys_dir.join("rotated.key");
    let (new_pub, _) = keygen(&s.cache, &s.dir, &new_key);
    let v15 = relabeled(&s.v2, "v0.1.5", &s.key, &[&new_pub]);
    let v20 = relabeled(&s.v2, "v0.2.0", &new_key, &[&new_pub]);
    s.publish(&[(&s.v1, false), (&v15, false), (&v20, false)]);
    let tmp = tempfile::tempdir().unwrap();
    let (_, tarball) = s.asset(&s.v1, "-linux-x64.tar.gz");
    let root = untar(&tarball, tmp.path());
    user_data(&root);
    let port = free_port();
    let app = start_linux(&root, port);
    let first = wait_version(port, "0.1.0", Duration::from_secs(60));
    let (status, body) = http_post(port, "/update");
    let took = wait_version(port, "0.2.0", Duration::from_secs(120));
    let done = wait_for_log(&root, "updated to v0.2.0", Duration::from_secs(60));
    let (so, se) = app.stop();
    stop_linux_helper_app(&root);
    assert!(first.is_some(), "v0.1.0 never answered\n{so}\n{se}");
    assert_eq!(status, 200, "{body}\n{se}");
    assert!(body.contains("\"update\":\"v0.2.0\""), "{body}");
    assert!(
        took.is_some(),
        "v0.2.0 never answered\n{}",
        helper_log(&root)
    );
    assert!(done.is_some(), "{}", helper_log(&root));
    assert_user_data(&root);
    let trust: serde_json::Value =
        serde_json::from_slice(&fs_err::read(root.join(".pyship-trust.json")).unwrap()).unwrap();
    assert_eq!(trust["keys"][0]["key"], new_pub.as_str(), "{trust}");
    assert_eq!(trust["keys"][0]["from"], "v0.1.5", "{trust}");
    assert_eq!(trust["revoked"][0]["key"], s.public_key.as_str(), "{trust}");
    assert_eq!(trust["revoked"][0]["at"], "v0.1.5", "{trust}");
    assert!(!root.join("data/.pyship-trust.json").exists());
}

/// Issue 25 item 4: a release made by `bundle`, `installer` and `publish`
/// (not `release`) has a signed manifest.json that `minisign -V` accepts, and
/// the installed v0.1.0 finds and downloads its update.
#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, then bundles both targets and builds the installer"
)]
fn a_release_made_by_bundle_installer_publish_is_updatable() {
    let s = shared();
    s.gitea.clear_releases(REPO);
    git(&s.dir, &["commit", "-q", "--allow-empty", "-m", "v0.3.0"]);
    git(&s.dir, &["tag", "v0.3.0"]);
    let run = |args: &[&str]| {
        let out = pyship_command(&s.cache)
            .current_dir(&s.dir)
            .env("PYSHIP_PYTHON_MIRROR", &s.mirror)
            .env("GITHUB_SERVER_URL", s.gitea.url())
            .env("GITHUB_REPOSITORY", REPO)
            .env("DEPLOY_TOKEN", WRITE_TOKEN)
            .env(
                "PYSHIP_SIGNING_KEY",
                fs_err::read_to_string(&s.key).unwrap(),
            )
            .env("PYSHIP_RETRY_BASE_MS", "5")
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .arg("pyship")
            .args(args)
            .output_within(RUN_LIMIT);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "cargo pyship {args:?} failed:\n{err}");
        err
    };
    run(&["bundle", "--target", "all"]);
    run(&["installer"]);
    let published = run(&["publish"]);
    assert!(!published.contains("unsigned"), "{published}");
    let rel = s.gitea.release(REPO, "v0.3.0").expect("published");
    let assets: BTreeMap<String, Vec<u8>> = rel
        .assets
        .iter()
        .map(|a| (a.name.clone(), a.data.clone()))
        .collect();
    fs_err::remove_dir_all(s.dir.join("dist")).unwrap();
    for name in ["manifest.json", "manifest.json.minisig", "SHA256SUMS"] {
        assert!(
            assets.contains_key(name),
            "{name} missing: {:?}",
            assets.keys()
        );
    }
    assert!(
        String::from_utf8_lossy(&assets["SHA256SUMS"]).contains("  manifest.json.minisig\n"),
        "SHA256SUMS covers the signature"
    );
    let (ok, text) = minisign_verify(
        &s.public_key,
        &assets["manifest.json"],
        &assets["manifest.json.minisig"],
    );
    assert!(ok, "minisign -V: {text}");
    let m: serde_json::Value = serde_json::from_slice(&assets["manifest.json"]).unwrap();
    let kinds: Vec<&str> = m["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["install_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["portable-windows", "installer", "portable-linux"],
        "{m}"
    );
    assert_eq!(m["previous"], "0.2.0", "{m}");
    assert_eq!(m["repo"], REPO, "{m}");
    let v3 = Version {
        tag: "v0.3.0".into(),
        assets,
    };
    s.publish(&[(&s.v1, false), (&s.v2, false), (&v3, false)]);
    let tmp = tempfile::tempdir().unwrap();
    let (_, tarball) = s.asset(&s.v1, "-linux-x64.tar.gz");
    let root = untar(&tarball, tmp.path());
    let out = Command::new(root.join("python/bin/python3"))
        .args([
            "-c",
            "import pyship_update as p; u = p.check(); print(u.tag, p.download(u))",
        ])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir(&root)
        .output_within(RUN_LIMIT);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("v0.3.0 "), "{text}");
    assert!(text.contains("Upd-Demo-v0.3.0-linux-x64.tar.gz"), "{text}");
}
