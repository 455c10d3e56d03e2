//! `pyship_build::build_script::sync_version()` from a real build script: the
//! fixture crate `fixtures/buildrs` is built with cargo, and its pyproject.toml
//! must then carry the Cargo version in PEP 440 spelling, with only that line
//! changed and nothing printed but `cargo::` lines.

use super::support::*;

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: compiles pyship-build in a fixture project"
)]
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

/// The packages `cargo tree` lists for `pyship-build` with `args`, each once.
fn tree(args: &[&str]) -> Vec<String> {
    let out = std::process::Command::new("cargo")
        .args([
            "tree",
            "-p",
            "pyship-build",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(args)
        .current_dir(workspace_root())
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo tree failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// A build script depends on pyship-build with `default-features = false`
/// (as `fixtures/buildrs` does): no HTTP stack, and a small dependency tree.
#[test]
fn without_net_pyship_build_has_no_http_stack() {
    let lean = tree(&["--no-default-features"]);
    let full = tree(&[]);
    for http in ["reqwest", "tokio", "hyper", "rustls", "ring", "h2"] {
        assert!(
            !lean.iter().any(|n| n == http),
            "{http} in the no-default-features tree: {lean:?}"
        );
        if ["reqwest", "hyper", "tokio"].contains(&http) {
            assert!(
                full.iter().any(|n| n == http),
                "{http} not in the default tree"
            );
        }
    }
    // The lean tree is 52 packages and the full one 162 (pyship-build
    // counted): 60 leaves room for a small dependency, not for a stack.
    assert!(
        lean.len() <= 60,
        "{} packages without `net` (the bound is 60): {lean:?}",
        lean.len()
    );
    assert!(
        lean.len() * 2 < full.len(),
        "{} vs {}",
        lean.len(),
        full.len()
    );
    let fixture =
        fs_err::read_to_string(workspace_root().join("fixtures/buildrs/Cargo.toml")).unwrap();
    assert!(
        fixture.contains("default-features = false"),
        "fixtures/buildrs must depend on pyship-build without its default features"
    );
}
