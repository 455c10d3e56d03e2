//! `cargo pyship version` and the CLI surface: help, usage errors, bad input,
//! JSON output, stamping (pyproject and maturin-style Cargo), `--check`.

use super::support::*;
use predicates::prelude::*;

#[test]
fn help_works_both_ways() {
    let cache = tempfile::tempdir().unwrap();
    pyship(cache.path())
        .args(["pyship", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Usage: cargo pyship"));
    pyship(cache.path())
        .args(["--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("bundle"));
}

#[test]
fn usage_error_exits_2() {
    let cache = tempfile::tempdir().unwrap();
    pyship(cache.path())
        .args(["pyship", "bundle", "--target", "macos"])
        .assert()
        .code(2);
}

#[test]
fn version_json_has_every_spelling() {
    let (_t, dir) = copy_fixture("hello");
    let cache = tempfile::tempdir().unwrap();
    let out = pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "version", "v0.3.0-alpha.1", "--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).expect("stdout is one JSON document");
    assert_eq!(v["tag"], "v0.3.0-alpha.1");
    assert_eq!(v["semver"], "0.3.0-alpha.1");
    assert_eq!(v["pep440"], "0.3.0a1");
    assert_eq!(v["windows"], "0.3.0.0");
    assert_eq!(v["docker"], "0.3.0-alpha.1");
    assert_eq!(v["prerelease"], true);
    assert_eq!(v["source"], "command-line argument");
}

#[test]
fn source_chain_tag_then_ci_then_pyproject() {
    let (_t, dir) = copy_fixture("hello");
    let cache = tempfile::tempdir().unwrap();
    let json = |cmd: &mut assert_cmd::Command| -> serde_json::Value {
        let out = cmd.assert().success().get_output().stdout.clone();
        serde_json::from_slice(&out).unwrap()
    };
    // Not a git repo, no CI: pyproject wins.
    let v = json(
        pyship(cache.path())
            .current_dir(&dir)
            .args(["pyship", "version", "--format", "json"]),
    );
    assert!(
        v["source"].as_str().unwrap().contains("pyproject.toml"),
        "{v}"
    );
    // CI tag.
    let v = json(
        pyship(cache.path())
            .current_dir(&dir)
            .env("GITHUB_REF_NAME", "v2.0.0-rc.1")
            .env("GITHUB_REF_TYPE", "tag")
            .args(["pyship", "version", "--format", "json"]),
    );
    assert_eq!(v["pep440"], "2.0.0rc1");
    assert_eq!(v["source"], "CI variable GITHUB_REF_NAME");
    // A git tag at HEAD beats CI.
    git_init_commit(&dir);
    git(&dir, &["tag", "v1.5.0"]);
    let v = json(
        pyship(cache.path())
            .current_dir(&dir)
            .env("GITHUB_REF_NAME", "v2.0.0-rc.1")
            .env("GITHUB_REF_TYPE", "tag")
            .args(["pyship", "version", "--format", "json"]),
    );
    assert_eq!(v["semver"], "1.5.0");
    assert_eq!(v["source"], "git tag v1.5.0 at HEAD");
}

#[test]
fn invalid_version_is_exit_1_and_touches_nothing() {
    let (_t, dir) = copy_fixture("hello");
    let cache = tempfile::tempdir().unwrap();
    let py = dir.join("python/pyproject.toml");
    let before = fs_err::read(&py).unwrap();
    for bad in ["vfoo", "v01.2", "1.2.3-nightly"] {
        pyship(cache.path())
            .current_dir(&dir)
            .args(["pyship", "version", bad, "--stamp"])
            .assert()
            .code(1)
            .stderr(predicate::str::contains(format!(
                "`{bad}` is not a valid version"
            )))
            .stderr(predicate::str::contains("hint:"))
            .stderr(predicate::str::contains("-rc.N"));
        assert_eq!(fs_err::read(&py).unwrap(), before, "{bad} changed the file");
    }
}

#[test]
fn stamp_pyproject_changes_only_the_version_line() {
    let (_t, dir) = copy_fixture("hello");
    let cache = tempfile::tempdir().unwrap();
    let py = dir.join("python/pyproject.toml");
    let before = fs_err::read_to_string(&py).unwrap();
    pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "version", "v0.3.0-rc.2", "--stamp"])
        .assert()
        .success()
        .stderr(predicate::str::contains("Stamped"));
    let after = fs_err::read_to_string(&py).unwrap();
    let changed: Vec<(&str, &str)> = before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .collect();
    insta::assert_snapshot!(format!("{changed:#?}"), @r#"
    [
        (
            "version = \"0.1.0\"  # stamped by `cargo pyship version --stamp`",
            "version = \"0.3.0rc2\"  # stamped by `cargo pyship version --stamp`",
        ),
    ]
    "#);
    assert_eq!(before.lines().count(), after.lines().count());
}

#[test]
fn stamp_maturin_workspace_version_and_lock() {
    let (_t, dir) = copy_fixture("maturin");
    let cache = tempfile::tempdir().unwrap();
    pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "version", "v0.3.0-beta.1", "--stamp"])
        .assert()
        .success();
    let manifest = fs_err::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("version = \"0.3.0-beta.1\"  # the one version of the workspace"),
        "{manifest}"
    );
    let lock = fs_err::read_to_string(dir.join("Cargo.lock")).unwrap();
    assert!(
        lock.contains("name = \"fastcore\"\nversion = \"0.3.0-beta.1\""),
        "{lock}"
    );
    // The crate manifest still inherits.
    let crate_manifest = fs_err::read_to_string(dir.join("crates/fastcore/Cargo.toml")).unwrap();
    assert!(crate_manifest.contains("version.workspace = true"));
    // Cargo agrees the lock is consistent.
    let status = std::process::Command::new("cargo")
        .args(["metadata", "--locked", "--offline", "--format-version", "1"])
        .current_dir(&dir)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "Cargo.lock out of step after stamping");
    let status = std::process::Command::new("cargo")
        .args(["build", "--locked", "--offline", "--quiet"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .status()
        .unwrap();
    assert!(
        status.success(),
        "cargo build --locked failed after stamping"
    );
}

#[test]
fn broken_toml_names_file_line_and_column() {
    let (_t, dir) = copy_fixture("hello");
    let cache = tempfile::tempdir().unwrap();
    let py = dir.join("python/pyproject.toml");
    let broken = "[project\nname = \"x\"\nversion = \"1.0.0\"\n";
    fs_err::write(&py, broken).unwrap();
    pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "version", "2.0.0", "--stamp"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("pyproject.toml"))
        .stderr(predicate::str::contains("line 1"))
        .stderr(predicate::str::contains("column"));
    assert_eq!(fs_err::read_to_string(&py).unwrap(), broken);
}

#[test]
fn unknown_config_key_is_rejected() {
    let (_t, dir) = copy_fixture("hello");
    let cache = tempfile::tempdir().unwrap();
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    fs_err::write(&manifest, text.replace("publisher = ", "publsher = ")).unwrap();
    pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "version"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("`windows.publsher`"))
        .stderr(predicate::str::contains("Cargo.toml"))
        .stderr(predicate::str::contains("hint:"));
}

#[test]
fn check_reports_disagreeing_files() {
    let (_t, dir) = copy_fixture("hello");
    let cache = tempfile::tempdir().unwrap();
    git_init_commit(&dir);
    git(&dir, &["tag", "v0.1.0"]);
    pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "version", "--check"])
        .assert()
        .success();
    git(&dir, &["tag", "v0.2.0"]);
    pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "version", "--check"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("pyproject.toml says 0.1.0"))
        .stderr(predicate::str::contains("Cargo.toml says 0.1.0"));
}

#[test]
fn broken_cargo_toml_is_reported_by_file_and_line() {
    let (_t, dir) = copy_fixture("hello");
    let cache = tempfile::tempdir().unwrap();
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    let broken = text.replace("[package]\nname", "[package\nname");
    fs_err::write(&manifest, &broken).unwrap();
    pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "version", "1.0.0", "--stamp"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("Cargo.toml"))
        .stderr(predicate::str::contains("hint:"));
    assert_eq!(fs_err::read_to_string(&manifest).unwrap(), broken);
}

#[test]
fn package_selection_with_p() {
    let (_t, dir) = copy_fixture("maturin");
    let cache = tempfile::tempdir().unwrap();
    // A virtual workspace with one member: found without -p.
    pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "version"])
        .assert()
        .success()
        .stdout("v0.2.0\n");
    pyship(cache.path())
        .args(["pyship", "-p", "fastcore", "version", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .assert()
        .success()
        .stdout("v0.2.0\n");
    pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "-p", "nope", "version"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no package `nope`"))
        .stderr(predicate::str::contains("hint:"));
}
