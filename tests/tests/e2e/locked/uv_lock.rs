//! A `uv.lock` is the truth for every target: what each artifact ships, read
//! back from its dist-infos, is the locked set; a changed pyproject or a
//! tampered hash fails before anything ships, a warm build runs no uv and
//! still refuses a stale lock, and a locked package without a wheel for the
//! target is named with the wheels it has.

use super::*;

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: bundles both targets and runs the Linux one"
)]
fn uv_lock_is_what_every_target_ships() {
    require_uv();
    let m = mirrors();
    let (_t, dir) = locked_project(&m);
    let cache = tempfile::tempdir().unwrap();
    let out = cmd(&m, &dir, cache.path()).arg("bundle").output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("uv.lock"), "the lock in use is named:\n{err}");
    // PyPI has idna 3.21, six 1.17.0 and colorama 0.4.6: the lock's older
    // versions ship; the `tools` group ships, `dev` (pytest) never.
    let dist = dir.join("dist");
    assert_eq!(
        shipped(&dist.join(ZIP)),
        set(&[
            "colorama-0.4.5",
            "idna-3.6",
            "locked_app-0.1.0",
            "six-1.16.0"
        ])
    );
    assert_eq!(
        shipped(&dist.join(TARBALL)),
        set(&["idna-3.6", "locked_app-0.1.0", "six-1.16.0"])
    );
    let printed = run_linux(&dist.join(TARBALL), "Locked-App");
    assert_eq!(printed, "idna 3.6\nsix 1.16.0\ncolorama -\n");
    // uv.lock is the truth: pyship.lock pins no dependency.
    let lock = fs_err::read_to_string(dir.join("pyship.lock")).unwrap();
    assert!(!lock.contains("[deps"), "{lock}");
    // The SBOM takes each wheel's name, hash and download URL from the lock.
    let sbom: serde_json::Value = serde_json::from_slice(
        &fs_err::read(dist.join("Locked-App-v0.1.0-win-x64.cdx.json")).unwrap(),
    )
    .unwrap();
    let idna = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "idna")
        .expect("idna listed");
    let uv_lock = fs_err::read_to_string(dir.join("uv.lock")).unwrap();
    let sha = idna["hashes"][0]["content"].as_str().unwrap();
    assert!(
        uv_lock.contains(&format!("sha256:{sha}")),
        "the SBOM's idna hash {sha} is not the lock's"
    );
    let url = idna["externalReferences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "distribution")
        .expect("a distribution reference")["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        url.starts_with("https://files.pythonhosted.org/")
            && url.ends_with("idna-3.6-py3-none-any.whl"),
        "{url}"
    );
}

#[test]
fn a_changed_or_tampered_lock_fails_before_anything_ships() {
    require_uv();
    let m = mirrors();
    let cache = tempfile::tempdir().unwrap();

    // The pyproject edited after locking: the lock no longer matches.
    let (_t, dir) = locked_project(&m);
    let py = dir.join("pyproject.toml");
    let text = fs_err::read_to_string(&py).unwrap();
    fs_err::write(&py, text.replace("\"idna>=3.5\"", "\"idna>=3.5\", \"six\"")).unwrap();
    let out = cmd(&m, &dir, cache.path())
        .args(["bundle", "--target", "linux"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("uv.lock does not match") && err.contains("hint: run `uv lock`"),
        "{err}"
    );
    assert!(!err.contains("Installing"), "nothing installed:\n{err}");
    assert!(!dir.join("dist").join(TARBALL).exists());

    // A hash in the lock changed: the download does not match it.
    let (_t2, dir) = locked_project(&m);
    let lock = dir.join("uv.lock");
    let text = fs_err::read_to_string(&lock).unwrap();
    let good = "c05567e9c24a6b9faaa835c4821bad0590fbb9d5779e7caa6e1cc4978e7eb24f";
    assert!(text.contains(good), "the fixture locks idna 3.6's wheel");
    fs_err::write(&lock, text.replace(good, &format!("{}0", &good[..63]))).unwrap();
    let out = cmd(&m, &dir, cache.path())
        .args(["bundle", "--target", "linux"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Hash mismatch for `idna==3.6`"), "{err}");
    assert!(
        err.contains("hint: a downloaded file does not have the hash the lock records"),
        "{err}"
    );
    assert!(!dir.join("dist").join(TARBALL).exists());
}

/// A warm build of a uv.lock project (caches filled, with a fresh output
/// folder, then with it kept) starts no uv process at all, not even `uv
/// export`, and ships the cold build's bytes. The export is kept by what it
/// reads: the pyproject edited after locking (same lock) runs uv again,
/// which says the lock is stale.
#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: bundles for Linux four times"
)]
fn a_warm_uv_lock_build_runs_no_uv_and_a_stale_lock_is_still_refused() {
    require_uv();
    let m = mirrors();
    let (_t, dir) = locked_project(&m);
    let cache = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let tarball = dir.join("dist").join(TARBALL);
    let build = |log: &str| {
        let log = logs.path().join(log);
        let out = cmd(&m, &dir, cache.path())
            .env("PYSHIP_PROCESS_LOG", &log)
            .args(["bundle", "--target", "linux"])
            .output()
            .unwrap();
        (out, super::super::hybrid::programs_started(&log))
    };
    let (out, cold) = build("cold.log");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        cold.iter().filter(|p| *p == "uv").count() >= 2,
        "the cold build runs uv export and uv pip install: {cold:?}"
    );
    let cold_tgz = pyship_e2e::sha256_file(&tarball);
    fs_err::remove_dir_all(dir.join("dist")).unwrap();
    for log in ["warm-fresh.log", "warm-kept.log"] {
        let (out, warm) = build(log);
        assert!(out.status.success(), "{log}: {}", stderr(&out));
        assert!(
            !warm.iter().any(|p| p == "uv"),
            "{log}: a warm build started {warm:?}"
        );
        assert_eq!(
            pyship_e2e::sha256_file(&tarball),
            cold_tgz,
            "{log}: the tarball differs from the cold build's"
        );
    }

    let py = dir.join("pyproject.toml");
    let text = fs_err::read_to_string(&py).unwrap();
    fs_err::write(&py, text.replace("\"idna>=3.5\"", "\"idna>=3.5\", \"six\"")).unwrap();
    let (out, stale) = build("stale.log");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("uv.lock does not match") && err.contains("hint: run `uv lock`"),
        "{err}"
    );
    assert!(stale.iter().any(|p| p == "uv"), "uv ran again: {stale:?}");
}

#[test]
fn a_locked_package_without_a_wheel_for_the_target_is_named_with_the_wheels_it_has() {
    require_uv();
    let m = mirrors();
    let (_t, dir) = locked_project(&m);
    // uvloop publishes Linux and macOS wheels only.
    let py = dir.join("pyproject.toml");
    let text = fs_err::read_to_string(&py).unwrap();
    fs_err::write(
        &py,
        text.replace("\"idna>=3.5\"", "\"idna>=3.5\", \"uvloop==0.23.0\""),
    )
    .unwrap();
    let lock = Command::new("uv")
        .args(["lock", "-q"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(lock.status.success(), "{}", stderr(&lock));
    let cache = tempfile::tempdir().unwrap();
    let out = cmd(&m, &dir, cache.path())
        .args(["bundle", "--target", "windows"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("`uvloop` 0.23.0, locked in")
            && err.contains("has no wheel for x86_64-pc-windows-msvc (Python 3.11)")
            && err.contains(
                "uvloop-0.23.0-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl"
            ),
        "{err}"
    );
    assert!(
        err.contains("hint: a bundle installs binary wheels only"),
        "{err}"
    );
    assert!(!dir.join("dist").join(ZIP).exists());
}
