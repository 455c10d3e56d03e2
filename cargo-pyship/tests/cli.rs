//! Smoke tests of the binary itself: the cargo-subcommand shape, usage errors
//! and `--version`. (The end-to-end tests in `tests/` build the binary they run
//! themselves.)

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_cargo-pyship");

#[test]
fn help_as_cargo_subcommand_and_directly() {
    for args in [&["pyship", "--help"][..], &["--help"][..]] {
        let out = Command::new(BIN).args(args).output().expect("runs");
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage: cargo pyship"), "{args:?}: {text}");
        for cmd in [
            "init",
            "version",
            "bundle",
            "installer",
            "strip",
            "docker",
            "publish",
            "release",
            "plan",
            "cache",
        ] {
            assert!(text.contains(cmd), "{cmd} missing from --help");
        }
    }
}

/// `cache info` lists the buckets; `cache clean BUCKET` removes one,
/// `cache clean` the rest; an unknown bucket is a user error with a hint.
#[test]
fn cache_info_and_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("cache");
    for (bucket, file) in [
        ("compressed-v0", "s/ab/abc"),
        ("runtimes-v0", "x/python.zip"),
    ] {
        let p = root.join(bucket).join(file);
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(&p, vec![0u8; 2048]).unwrap();
        // Only folders the tool marked as its own are listed or removed.
        fs_err::write(root.join(bucket).join(".pyship-bucket"), b"").unwrap();
    }
    let run = |args: &[&str]| {
        Command::new(BIN)
            .arg("pyship")
            .args(args)
            .env("PYSHIP_CACHE_DIR", &root)
            .env("NO_COLOR", "1")
            .output()
            .expect("runs")
    };
    let info = run(&["cache", "info"]);
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(info.status.success(), "{info:?}");
    assert!(
        text.contains("compressed-v0") && text.contains("runtimes-v0"),
        "{text}"
    );
    let bad = run(&["cache", "clean", "nope"]);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no bucket `nope`") && err.contains("hint:"),
        "{err}"
    );
    let one = run(&["cache", "clean", "compressed-v0"]);
    assert!(one.status.success(), "{one:?}");
    assert!(!root.join("compressed-v0").exists());
    assert!(root.join("runtimes-v0").exists());
    let all = run(&["cache", "clean"]);
    let err = String::from_utf8_lossy(&all.stderr);
    assert!(all.status.success() && err.contains("Cleaned"), "{err}");
    assert!(!root.join("runtimes-v0").exists());
}

#[test]
fn usage_errors_exit_2() {
    let out = Command::new(BIN)
        .args(["pyship", "frobnicate"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn version_flag() {
    let out = Command::new(BIN)
        .args(["pyship", "--version"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}
