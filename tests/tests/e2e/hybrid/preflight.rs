//! Wrong inputs that fail before anything is compiled, each with its own
//! message and hint: a runtime download failure, a version mismatch, a
//! missing Rust target, and wrong-platform, too-new-glibc, stale and
//! mis-versioned wheels.

use super::*;

/// `bundle` on a fixture copy with `extra` config: it must fail, before
/// anything is compiled, with `message` and `hint` in its output.
fn fails_before_building(args: &[&str], extra: &str, files: &[&str], message: &str, hint: &str) {
    require_build_tools();
    let (_t, dir) = project(None, extra);
    for f in files {
        let p = dir.join(f);
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(&p, "").unwrap();
    }
    let cache = tempfile::tempdir().unwrap();
    let out = pyship_in(&dir, cache.path())
        .args(["pyship", "bundle"])
        .args(args)
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(message), "`{message}` not in:\n{err}");
    assert!(err.contains(hint), "`{hint}` not in:\n{err}");
    assert!(!err.contains("Building"), "something was built:\n{err}");
    assert!(!dir.join("dist/.pyship").exists(), "work was done");
}

#[test]
fn hybrid_runtime_download_failure_comes_before_the_rust_build() {
    // Nothing listens on the port: the Linux runtime cannot be fetched, and
    // that is said before maturin starts, not after the extension's build.
    let dead = free_port();
    fails_before_building(
        &["--target", "linux", "--version", "v0.2.0"],
        &format!(
            "\n[workspace.metadata.pyship.linux]\nruntime-url = \"http://127.0.0.1:{dead}/cpython-{{version}}-install_only.tar.gz\"\n"
        ),
        &[],
        &format!("could not fetch the Python runtime http://127.0.0.1:{dead}/cpython-3.11.9-install_only.tar.gz"),
        "linux.runtime-url",
    );
}

#[test]
fn hybrid_version_mismatch_names_the_stamp_command() {
    // A tag newer than Cargo's version: the wheel would carry 0.2.0 next to a
    // 0.3.0 release.
    fails_before_building(
        &["--version", "0.3.0"],
        "",
        &[],
        "the release version is 0.3.0, but maturin builds pyhash at its Cargo version 0.2.0",
        "cargo pyship version --stamp",
    );
}

#[test]
fn hybrid_missing_rust_target_names_rustup() {
    fails_before_building(
        &["--target", "windows"],
        "\n[workspace.metadata.pyship.windows]\nrust-target = \"x86_64-pc-windows-gnullvm\"\n",
        &[],
        "the Rust target `x86_64-pc-windows-gnullvm` is not installed",
        "rustup target add x86_64-pc-windows-gnullvm",
    );
}

#[test]
fn hybrid_wrong_platform_wheel_for_a_target() {
    fails_before_building(
        &["--target", "linux"],
        "\n[workspace.metadata.pyship.linux]\nwheels = [\"extra/helper-1.0-py3-none-win_amd64.whl\"]\n",
        &["extra/helper-1.0-py3-none-win_amd64.whl"],
        "is built for `win_amd64`, which cannot run on linux",
        "build the wheel for linux",
    );
}

#[test]
fn hybrid_linux_wheel_for_a_newer_glibc_is_refused() {
    fails_before_building(
        &["--target", "linux"],
        "\n[workspace.metadata.pyship.linux]\nwheels = [\"extra/*.whl\"]\n",
        &["extra/helper-1.0-cp311-cp311-manylinux_2_34_x86_64.whl"],
        "needs a newer glibc than `linux.platform = \"x86_64-manylinux_2_28\"`",
        "--compatibility manylinux_2_28",
    );
}

#[test]
fn hybrid_stale_wheel_next_to_a_fresh_one() {
    fails_before_building(
        &["--target", "windows"],
        "wheels = [\"extra/*.whl\"]\n",
        &[
            "extra/helper-1.0-py3-none-any.whl",
            "extra/helper-1.1-py3-none-any.whl",
        ],
        "two wheels of `helper` would be installed",
        "remove the stale wheel",
    );
}

#[test]
fn hybrid_provided_app_wheel_at_another_version() {
    fails_before_building(
        &["--target", "windows"],
        "\n[workspace.metadata.pyship.windows]\nwheels = [\"extra/pyhash-0.1.0-cp39-abi3-win_amd64.whl\"]\n",
        &["extra/pyhash-0.1.0-cp39-abi3-win_amd64.whl"],
        "is version 0.1.0 of the app, but the release version is 0.2.0",
        "cargo pyship version --stamp",
    );
}
