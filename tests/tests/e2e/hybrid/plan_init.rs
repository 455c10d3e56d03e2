//! What `plan` and `init` make of hybrid projects: the app package beside a
//! pure Rust `maturin new` crate, the wheel builds and prebuilds per target,
//! and CI workflows that build the extension.

use super::*;

/// `maturin new --bindings pyo3` (a pure Rust crate) with the app's package
/// beside it: the project-named module is the package maturin generates
/// around the extension, which `python -m` cannot start. `plan` says so
/// before any build and names the package that can; `init` chooses it.
#[test]
fn hybrid_maturin_new_pure_rust_with_an_app_package_beside_it() {
    require_tool("maturin", "`pip install maturin` (PyPI package `maturin`)");
    let t = tempfile::tempdir().unwrap();
    let out = Command::new("maturin")
        .args(["new", "--bindings", "pyo3", "greet"])
        .current_dir(t.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let dir = t.path().join("greet");
    fs_err::create_dir_all(dir.join("greeter")).unwrap();
    fs_err::write(dir.join("greeter/__init__.py"), "").unwrap();
    fs_err::write(
        dir.join("greeter/__main__.py"),
        "import greet\nprint(greet.sum_as_string(2, 3))\n",
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let out = pyship_in(&dir, cache.path())
        .args(["pyship", "plan"])
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("error: `python -m greet` cannot start the app: the wheel's package `greet` is the one maturin generates around the extension greet (a pure Rust crate"),
        "{err}"
    );
    assert!(
        err.contains("package with a __main__.py (greeter/ has one)"),
        "{err}"
    );
    let out = pyship_in(&dir, cache.path())
        .args(["pyship", "init", "--ci", "none"])
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("Chose module greeter (the package with a __main__.py in .; `python -m greet` cannot start the app"),
        "{err}"
    );
    assert!(
        err.contains("Chose app-src . (flat layout, next to the pyproject; not in the project's maturin wheel, which packs greet and the extension greet"),
        "{err}"
    );
    let manifest = fs_err::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("\nmodule = \"greeter\"\n"), "{manifest}");
    let out = pyship_in(&dir, cache.path())
        .args(["pyship", "plan", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["module"], "greeter", "{plan}");
}

#[test]
fn hybrid_plan_lists_the_wheel_builds_and_prebuilds_per_target() {
    let (_t, dir) = project(
        None,
        "prebuild = \"true\"\n\n[workspace.metadata.pyship.linux]\nprebuild = \"make linux\"\n",
    );
    let cache = tempfile::tempdir().unwrap();
    let out = pyship_in(&dir, cache.path())
        .args(["pyship", "plan"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr_of(&out));
    for want in [
        "prebuild   windows: `true` in",
        "prebuild   linux: `make linux` in",
        "wheel      windows: maturin build --release --target x86_64-pc-windows-gnu",
        "wheel      linux: maturin build --release --target x86_64-unknown-linux-gnu --compatibility manylinux_2_28",
    ] {
        assert!(text.contains(want), "`{want}` not in:\n{text}");
    }
}

#[test]
fn hybrid_init_writes_workflows_that_build_the_extension() {
    let (_t, dir) = copy_fixture("pyhash");
    git(&dir, &["init", "-q", "-b", "main"]);
    let cache = tempfile::tempdir().unwrap();
    pyship_in(&dir, cache.path())
        .args([
            "pyship",
            "init",
            "--ci",
            "gitea",
            "--install-from",
            "https://git.example.com/tools/cargo-pyship.git#tag=v0.1.0",
        ])
        .assert()
        .success()
        // The fixture's workspace table is kept: init says how to pin the choice.
        .stderr(predicates::str::contains(
            "add `ci.install-command = \"cargo install --locked --git https://git.example.com/tools/cargo-pyship.git --tag v0.1.0 cargo-pyship\"` to [workspace.metadata.pyship] in ./Cargo.toml",
        ));
    let release = fs_err::read_to_string(dir.join(".gitea/workflows/release.yml")).unwrap();
    insta::assert_snapshot!("hybrid_workflow_gitea_release", release);
    insta::assert_snapshot!(
        "hybrid_workflow_gitea_test",
        fs_err::read_to_string(dir.join(".gitea/workflows/test.yml")).unwrap()
    );
    for want in [
        "RUST_TARGET: \"x86_64-pc-windows-gnu\"",
        "rustup target add \"$RUST_TARGET\"",
        "gcc-mingw-w64-x86-64",
        "wine wine64",
        "python -m pip install uv==",
    ] {
        assert!(release.contains(want), "`{want}` not in:\n{release}");
    }
    // maturin and zig come through uv (`uv tool run --with ziglang`).
    assert!(!release.contains("pip install maturin"), "{release}");
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&release).expect("valid YAML");
    assert!(
        doc["jobs"]["build-windows"]["steps"]
            .as_sequence()
            .unwrap()
            .len()
            >= 6
    );
    // The Windows job has the cross tools; the Linux job builds with zig
    // through uv and needs none of them.
    let linux = serde_yaml_ng::to_string(&doc["jobs"]["build-linux"]).unwrap();
    for absent in ["Install the job's tools", "RUST_TARGET", "mingw"] {
        assert!(
            !linux.contains(absent),
            "{absent} in the Linux job:\n{linux}"
        );
    }
    let test = fs_err::read_to_string(dir.join(".gitea/workflows/test.yml")).unwrap();
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&test).expect("valid YAML");
    let steps = doc["jobs"]["python"]["steps"].as_sequence().unwrap();
    let rust = steps
        .iter()
        .position(|s| s["name"] == "Install Rust")
        .expect("the Python job installs Rust");
    let app = steps
        .iter()
        .position(|s| s["name"] == "Install the app and its test dependencies")
        .unwrap();
    assert!(rust < app, "Rust before building the extension");
}
