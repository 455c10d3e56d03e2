//! `pyship_build::build_script::sync_version()` from a real build script: the
//! fixture crate `fixtures/buildrs` is built with cargo, and its pyproject.toml
//! must then carry the Cargo version in PEP 440 spelling, with only that line
//! changed and nothing printed but `cargo::` lines.

use super::support::*;

#[test]
fn build_rs_syncs_pyproject_version() {
    let (_t, dir) = copy_fixture("buildrs");
    // The copy lives in a temp dir: point the path dependency at this checkout.
    let manifest = dir.join("Cargo.toml");
    let lib = workspace_root().join("pyship-build");
    let text = fs_err::read_to_string(&manifest).unwrap().replace(
        "path = \"../../pyship-build\"",
        &format!("path = {:?}", lib.display().to_string()),
    );
    fs_err::write(&manifest, text).unwrap();
    let before = fs_err::read_to_string(dir.join("pyproject.toml")).unwrap();
    // A target dir of its own under the workspace's target/, kept between runs.
    let target = workspace_root().join("target").join("fixture-buildrs");
    let out = std::process::Command::new("cargo")
        .args(["build", "-vv"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "fixture build failed:\n{stderr}");
    let after = fs_err::read_to_string(dir.join("pyproject.toml")).unwrap();
    let changed: Vec<_> = before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(
        changed,
        vec![(
            "version = \"0.0.1\"   # synced from CARGO_PKG_VERSION",
            "version = \"0.4.2rc1\"   # synced from CARGO_PKG_VERSION"
        )]
    );
    // The build script's stdout (shown by -vv as `[buildrs-app …] line`) has only cargo:: lines.
    for line in stderr.lines().filter(|l| l.starts_with("[buildrs-app ")) {
        let payload = line.split_once("] ").map(|x| x.1).unwrap_or("");
        assert!(
            payload.starts_with("cargo::rerun-if-changed="),
            "build script printed something else: {line}"
        );
    }
}

#[test]
fn sync_version_is_a_noop_for_dynamic_versions() {
    let (_t, dir) = copy_fixture("maturin");
    let py = dir.join("crates/fastcore/pyproject.toml");
    let before = fs_err::read(&py).unwrap();
    let r = pyship_build::build_script::sync_version_at(&py, "9.9.9").unwrap();
    assert_eq!(r, pyship_build::build_script::Synced::Dynamic);
    assert_eq!(fs_err::read(&py).unwrap(), before);
}
