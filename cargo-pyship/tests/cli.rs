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
        ] {
            assert!(text.contains(cmd), "{cmd} missing from --help");
        }
    }
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
