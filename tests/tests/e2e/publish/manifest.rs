//! The update manifest publish writes from the artifacts: its warnings about
//! what installed apps cannot use, and its signature (signed, or nothing is
//! uploaded).

use super::*;

/// Issue 25 item 4: `publish` writes manifest.json from the files it uploads
/// (whatever built them) and says what an installed app could not use: a
/// release without an installer is a warning naming the missing file, and
/// an unsigned release says so.
#[test]
fn publish_writes_the_manifest_and_warns_about_what_apps_cannot_use() {
    let s = setup("v1.2.3");
    fs_err::remove_file(s.out.join(EXE)).unwrap();
    let out = s.cmd("v1.2.3").assert().success().get_output().clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "this release has no asset for install type installer ({EXE} is not in"
        )),
        "{err}"
    );
    assert!(err.contains("release v1.2.3 is unsigned: "), "{err}");
    let m: Value = serde_json::from_slice(&s.file("manifest.json")).unwrap();
    let names: Vec<&str> = m["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [ZIP, TGZ], "{m}");
    assert_eq!(m["repo"], REPO, "{m}");
    s.assert_converged("v1.2.3", &[ZIP, TGZ, "manifest.json", "SHA256SUMS"]);
}

/// With update.public-keys set, publish refuses to upload anything without
/// the secret key, and with it uploads manifest.json.minisig, which
/// Debian's `minisign -V` verifies, before SHA256SUMS.
#[test]
fn publish_signs_the_manifest_or_uploads_nothing() {
    let s = setup("v1.2.3");
    let key = s.cache.path().join("keys/release.key");
    let out = pyship(s.cache.path())
        .current_dir(&s.dir)
        .args([
            "pyship",
            "keygen",
            "--unencrypted",
            "--format",
            "json",
            "--out",
        ])
        .arg(&key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let g: Value = serde_json::from_slice(&out.stdout).unwrap();
    let public = g["public_key"].as_str().unwrap().to_owned();
    let manifest = s.dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    fs_err::write(
        &manifest,
        format!("{text}\n[package.metadata.pyship.update]\npublic-keys = [\"{public}\"]\n"),
    )
    .unwrap();
    let out = s.cmd("v1.2.3").assert().failure().get_output().clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("$PYSHIP_SIGNING_KEY (update.signing-key-env) is not"),
        "{err}"
    );
    assert!(
        s.server.writes().is_empty(),
        "nothing uploaded: {:?}",
        s.server.writes()
    );
    let secret = fs_err::read_to_string(&key).unwrap();
    let out = s
        .cmd("v1.2.3")
        .env("PYSHIP_SIGNING_KEY", &secret)
        .assert()
        .success()
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("unsigned"), "{err}");
    assert!(
        !err.contains(secret.lines().nth(1).unwrap()),
        "the secret key leaked"
    );
    s.assert_converged(
        "v1.2.3",
        &[
            ZIP,
            EXE,
            TGZ,
            "manifest.json",
            "manifest.json.minisig",
            "SHA256SUMS",
        ],
    );
    let minisign = require_tool(
        "minisign",
        "`apt-get install minisign` (Debian package `minisign`)",
    );
    let v = std::process::Command::new(minisign)
        .args(["-V", "-P", &public, "-m"])
        .arg(s.out.join("manifest.json"))
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    let sums = String::from_utf8(s.file("SHA256SUMS")).unwrap();
    assert!(sums.contains("  manifest.json.minisig\n"), "{sums}");
}
