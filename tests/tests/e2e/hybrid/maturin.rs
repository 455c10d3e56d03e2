//! Finding and running maturin: through uv when it is not on PATH or only
//! as a shim that does not run in the project's folder, and said before
//! anything is built when neither maturin nor uv runs there.

use super::*;

/// `PATH` without any folder that has `maturin`, plus a folder with only a
/// link to `uv` (which, on a pyenv machine, sits next to maturin).
fn path_without_maturin(bin: &Path) -> std::ffi::OsString {
    let dirs =
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).collect::<Vec<_>>();
    // The uv binary itself: a pyenv shim (in a folder with maturin's shim)
    // would need pyenv; `pip install uv` leaves `uv.find_uv_bin()`.
    let from_python = Command::new("python3")
        .args(["-c", "import uv; print(uv.find_uv_bin())"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let uv = from_python
        .or_else(|| dirs.iter().map(|d| d.join("uv")).find(|p| p.is_file()))
        .map(|p| fs_err::canonicalize(p).unwrap())
        .expect("uv on PATH");
    std::os::unix::fs::symlink(&uv, bin.join("uv")).unwrap();
    let kept = dirs.into_iter().filter(|d| !d.join("maturin").exists());
    std::env::join_paths(std::iter::once(bin.to_owned()).chain(kept)).unwrap()
}

/// Whether `exe` is a file in one of `path`'s folders.
fn on_path(exe: &str, path: &std::ffi::OsStr) -> bool {
    std::env::split_paths(path).any(|d| d.join(exe).is_file())
}

/// A program in `bin` that fails as a pyenv shim does where the selected
/// Python (a `.python-version`) lacks it.
fn broken_shim(bin: &Path, exe: &str) {
    use std::os::unix::fs::PermissionsExt;
    let p = bin.join(exe);
    fs_err::write(
        &p,
        format!("#!/bin/sh\necho \"pyenv: {exe}: command not found\" >&2\nexit 127\n"),
    )
    .unwrap();
    fs_err::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// maturin is not on PATH, or (as here) only as a shim that does not run in
/// the project's folder: uv runs it, with ziglang for the Linux build.
#[test]
#[cfg_attr(not(feature = "slow-tests"), ignore = "slow tier: a maturin build")]
fn hybrid_maturin_runs_through_uv_when_not_on_path() {
    require_build_tools();
    let (_runtime, runtime_url) = served_runtime();
    let (_t, dir) = project(Some(&runtime_url), "");
    let bin = tempfile::tempdir().unwrap();
    let path = path_without_maturin(bin.path());
    assert!(
        !on_path("maturin", &path),
        "maturin is still on the test's PATH"
    );
    broken_shim(bin.path(), "maturin");
    assert!(on_path("uv", &path), "uv is on the test's PATH");
    let cache = tempfile::tempdir().unwrap();
    let mut cmd = pyship_in(&dir, cache.path());
    cmd.env("PATH", &path);
    let err = bundle_at_cargo_version(cmd, "linux");
    assert!(
        err.contains("Building pyhash wheel for x86_64-unknown-linux-gnu (maturin --zig, through `uv tool run`)"),
        "{err}"
    );
    let tarball = dir.join("dist/PyHash-v0.2.0-linux-x64.tar.gz");
    let list = Command::new("tar")
        .arg("tzf")
        .arg(&tarball)
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.lines()
            .any(|l| l.contains("site-packages/pyhash/_native") && l.ends_with(".so")),
        "the extension built through uv is in the tarball:\n{list}"
    );
}

/// maturin and uv on PATH that do not run in the project's folder (pyenv
/// shims where its `.python-version` picks a Python without them): said
/// before anything is built, with what the shim printed and the way out.
#[test]
fn hybrid_maturin_that_does_not_run_in_the_project_is_said_before_building() {
    require_build_tools();
    let (_t, dir) = project(None, "");
    let bin = tempfile::tempdir().unwrap();
    let dirs = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .filter(|d| !d.join("maturin").exists() && !d.join("uv").exists())
        .collect::<Vec<_>>();
    let path = std::env::join_paths(std::iter::once(bin.path().to_owned()).chain(dirs)).unwrap();
    broken_shim(bin.path(), "maturin");
    broken_shim(bin.path(), "uv");
    let cache = tempfile::tempdir().unwrap();
    let out = pyship_in(&dir, cache.path())
        .env("PATH", &path)
        .args([
            "pyship",
            "bundle",
            "--target",
            "windows",
            "--version",
            "v0.2.0",
        ])
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "{} does not run in {}, where maturin builds the wheel: pyenv: maturin: command not found",
            bin.path().join("maturin").display(),
            dir.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("hint: a `.python-version` in") && err.contains("PYSHIP_MATURIN"),
        "{err}"
    );
    assert!(!err.contains("Building"), "something was built:\n{err}");
    assert!(!dir.join("dist/.pyship").exists(), "work was done");
}
