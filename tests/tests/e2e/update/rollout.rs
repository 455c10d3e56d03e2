//! Staged rollout: a release published with `--rollout` is offered to the
//! installs whose draw falls inside its fraction and to no other, then to
//! every install once widened.

use super::*;

/// This install's draw for `tag` as the updater makes it: the first 8 bytes
/// of SHA-256(`id` LF `tag`) as a fraction of 2^64.
fn rollout_draw(id: &str, tag: &str) -> f64 {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("{id}\n{tag}").as_bytes());
    u64::from_be_bytes(d[..8].try_into().unwrap()) as f64 / 2f64.powi(64)
}

/// An install id whose draw for `tag` is below `fraction` (`inside`) or not.
fn rollout_id(tag: &str, fraction: f64, inside: bool) -> String {
    (1u64..)
        .map(|n| format!("{:032x}", n * 7919))
        .find(|id| (rollout_draw(id, tag) < fraction) == inside)
        .unwrap()
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, then publishes one again"
)]
fn a_staged_rollout_is_offered_to_its_fraction_of_installs() {
    let s = shared();
    s.publish(&[(&s.v1, false)]);
    // v0.2.0's files as `release` built them, published with `--rollout`.
    let out_dir = tempfile::tempdir().unwrap();
    for (name, data) in &s.v2.assets {
        if !["manifest.json", "manifest.json.minisig", "SHA256SUMS"].contains(&name.as_str()) {
            fs_err::write(out_dir.path().join(name), data).unwrap();
        }
    }
    let publish = |extra: &[&str]| {
        pyship_command(&s.cache)
            .current_dir(&s.dir)
            .env("GITHUB_SERVER_URL", s.gitea.url())
            .env("GITHUB_REPOSITORY", REPO)
            .env("DEPLOY_TOKEN", WRITE_TOKEN)
            .env(
                "PYSHIP_SIGNING_KEY",
                fs_err::read_to_string(&s.key).unwrap(),
            )
            .env("PYSHIP_RETRY_BASE_MS", "5")
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args(["pyship", "publish", "--version", "0.2.0", "--out"])
            .arg(out_dir.path())
            .args(extra)
            .output_within(RUN_LIMIT)
    };
    for bad in ["0", "1.5", "-1", "a quarter"] {
        let out = publish(&[&format!("--rollout={bad}")]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "--rollout {bad} was accepted");
        assert!(err.contains("--rollout"), "{err}");
    }
    assert!(
        s.gitea.release(REPO, "v0.2.0").is_none(),
        "a refused --rollout published"
    );
    let out = publish(&["--rollout", "0.25"]);
    assert!(
        out.status.success(),
        "publish --rollout 0.25: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rel = s.gitea.release(REPO, "v0.2.0").expect("published");
    let asset = |name: &str| {
        rel.assets
            .iter()
            .find(|a| a.name == name)
            .unwrap_or_else(|| panic!("{name} missing"))
            .data
            .clone()
    };
    let manifest = asset("manifest.json");
    let m: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(m["rollout"], serde_json::json!(0.25), "{m}");
    let (ok, text) = minisign_verify(&s.public_key, &manifest, &asset("manifest.json.minisig"));
    assert!(ok, "the staged manifest is signed: {text}");

    let tmp = tempfile::tempdir().unwrap();
    let (_, tarball) = s.asset(&s.v1, "-linux-x64.tar.gz");
    let root = untar(&tarball, tmp.path());
    let id_file = root.join(".pyship-install-id");
    // A fresh install makes its id on its first check, next to the app.
    let (code, _, err, _) = cli(&root, &["check"]);
    assert_eq!(code, 0, "{err}");
    let id = fs_err::read_to_string(&id_file).unwrap();
    assert!(
        id.trim().len() == 32 && id.trim().bytes().all(|b| b.is_ascii_hexdigit()),
        "{id:?}"
    );
    assert!(!root.join("data/.pyship-install-id").exists());

    let outside = rollout_id("v0.2.0", 0.25, false);
    fs_err::write(&id_file, format!("{outside}\n")).unwrap();
    let (code, stdout, err, took) = cli(&root, &["check"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        stdout.contains("no newer stable release than v0.1.0")
            && stdout.contains(
                "skipped v0.2.0: it is rolled out to 25% of installs so far and this one (draw "
            ),
        "{stdout}"
    );
    eprintln!("rollout: check outside the fraction: {took:.1?}\n{stdout}");
    let before = tree(&root);

    let inside = rollout_id("v0.2.0", 0.25, true);
    fs_err::write(&id_file, format!("{inside}\n")).unwrap();
    let (code, stdout, err, _) = cli(&root, &["check"]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("release v0.2.0"), "{stdout}");
    assert!(!stdout.contains("skipped"), "{stdout}");

    // Widened to every install by publishing again.
    let out = publish(&["--rollout", "1"]);
    assert!(
        out.status.success(),
        "publish --rollout 1: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rel = s.gitea.release(REPO, "v0.2.0").expect("published");
    let m: serde_json::Value = serde_json::from_slice(
        &rel.assets
            .iter()
            .find(|a| a.name == "manifest.json")
            .unwrap()
            .data,
    )
    .unwrap();
    assert!(m.get("rollout").is_none(), "{m}");
    fs_err::write(&id_file, format!("{outside}\n")).unwrap();
    let (code, stdout, err, _) = cli(&root, &["check"]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("release v0.2.0"), "{stdout}");
    // Checking changed nothing in the bundle but the id this test wrote.
    fs_err::write(&id_file, format!("{outside}\n")).unwrap();
    assert_eq!(tree(&root), before);
}
