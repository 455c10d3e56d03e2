//! Without a lock: the first build pins what it resolved in `pyship.lock`,
//! later builds ship the pins while the index has newer versions, `--locked`
//! (and `release` in CI) refuse a change, and `cargo pyship update` makes it
//! and says what changed.

use super::*;

/// The `locked` fixture without its uv.lock, depending on `tinydep` from a
/// local index (no PyPI), Linux only.
fn unlocked_project(m: &Mirrors, index: &Path) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = locked_project(m);
    fs_err::remove_file(dir.join("uv.lock")).unwrap();
    let py = dir.join("pyproject.toml");
    let text = fs_err::read_to_string(&py).unwrap();
    let start = text.find("dependencies = [").unwrap();
    let end = start + text[start..].find(']').unwrap() + 1;
    let text = format!(
        "{}dependencies = [\"tinydep\"]{}",
        &text[..start],
        &text[end..]
    );
    fs_err::write(&py, text).unwrap();
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap().replacen(
        "groups = [\"tools\"]\n",
        &format!("no-index = true\nfind-links = [\"{}\"]\n", index.display()),
        1,
    );
    fs_err::write(&manifest, text).unwrap();
    (tmp, dir)
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: bundles for Linux several times and releases"
)]
fn pyship_lock_pins_the_first_resolution_until_updated() {
    require_uv();
    let m = mirrors();
    let index = tempfile::tempdir().unwrap();
    make_wheel(index.path(), "tinydep", "1.0", "");
    let (_t, dir) = unlocked_project(&m, index.path());
    let cache = tempfile::tempdir().unwrap();
    let bundle = |extra: &[&str]| {
        cmd(&m, &dir, cache.path())
            .args(["bundle", "--target", "linux"])
            .args(extra)
            .output()
            .unwrap()
    };
    let tarball = dir.join("dist").join(TARBALL);
    let pyship_lock = dir.join("pyship.lock");

    // `--locked` before anything is pinned: the build would write the file.
    let out = bundle(&["--locked"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("--locked"), "{}", stderr(&out));
    assert!(!pyship_lock.exists());

    // The first build pins what it resolved.
    let out = bundle(&[]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Adding tinydep v1.0"), "{err}");
    let pinned = fs_err::read_to_string(&pyship_lock).unwrap();
    assert!(
        pinned.contains("[deps.linux]") && pinned.contains("name = \"tinydep\"\nversion = \"1.0\""),
        "{pinned}"
    );
    assert!(shipped(&tarball).contains("tinydep-1.0"));

    // A newer version on the index changes nothing: the pins ship, and
    // the file is as it was (`--locked` passes).
    make_wheel(index.path(), "tinydep", "1.1", "");
    let out = bundle(&["--locked"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("Resolving"), "{}", stderr(&out));
    assert!(shipped(&tarball).contains("tinydep-1.0"));
    assert_eq!(fs_err::read_to_string(&pyship_lock).unwrap(), pinned);

    // `update --dry-run` says what would change and writes nothing.
    let out = cmd(&m, &dir, cache.path())
        .args(["update", "--target", "linux", "--dry-run"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Updating tinydep v1.0 -> v1.1 (linux)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(fs_err::read_to_string(&pyship_lock).unwrap(), pinned);

    // The pyproject changes: --locked refuses, and so does `release` in CI.
    make_wheel(index.path(), "otherdep", "2.0", "");
    let py = dir.join("pyproject.toml");
    let text = fs_err::read_to_string(&py).unwrap();
    fs_err::write(
        &py,
        text.replace("[\"tinydep\"]", "[\"tinydep\", \"otherdep\"]"),
    )
    .unwrap();
    let out = bundle(&["--locked"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--locked:") && err.contains("pyship.lock would change"),
        "{err}"
    );
    let out = cmd(&m, &dir, cache.path())
        .env("CI", "true")
        .arg("release")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("pyship.lock would change"), "{err}");
    assert_eq!(fs_err::read_to_string(&pyship_lock).unwrap(), pinned);

    // A plain build adds the new requirement and keeps tinydep's pin.
    let out = bundle(&[]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Adding otherdep v2.0"), "{err}");
    assert!(!err.contains("Updating tinydep"), "{err}");
    assert!(shipped(&tarball).is_superset(&set(&["tinydep-1.0", "otherdep-2.0"])));

    // `update tinydep` moves it on purpose, and says so.
    let out = cmd(&m, &dir, cache.path())
        .args(["update", "tinydep"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("Updating tinydep v1.0 -> v1.1 (linux)"),
        "{err}"
    );
    let out = bundle(&["--locked"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(shipped(&tarball).contains("tinydep-1.1"));

    // A tampered hash in pyship.lock fails the install.
    let text = fs_err::read_to_string(&pyship_lock).unwrap();
    let sha = text
        .split("sha256 = \"")
        .nth(1)
        .and_then(|s| s.get(..64))
        .unwrap()
        .to_owned();
    let flipped = format!(
        "{}{}",
        &sha[..63],
        if sha.ends_with('0') { '1' } else { '0' }
    );
    fs_err::write(&pyship_lock, text.replace(&sha, &flipped)).unwrap();
    let out = bundle(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Hash mismatch"), "{err}");
}
