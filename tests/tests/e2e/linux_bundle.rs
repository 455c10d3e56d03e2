//! Linux bundle (issue 6): the test runtime, the rendered launcher and systemd
//! files, and the whole tarball built by `cargo pyship bundle --target linux`.

use std::path::Path;
use std::process::Command;

use super::support::*;

/// Extract a `.tar.gz` with the system tar (not the code under test).
fn untar(tarball: &Path, into: &Path) {
    fs_err::create_dir_all(into).unwrap();
    let st = Command::new(require_tool("tar", "`apt-get install tar`"))
        .arg("-xzf")
        .arg(tarball)
        .arg("-C")
        .arg(into)
        .status()
        .unwrap();
    assert!(st.success(), "tar -xzf {} failed", tarball.display());
}

/// `ldd` of `exe`: the line naming libpython, which must resolve below `root`.
fn assert_libpython_inside(exe: &Path, root: &Path) {
    let out = Command::new(require_tool("ldd", "`apt-get install libc-bin`"))
        .arg(exe)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "ldd {} failed: {text}", exe.display());
    for line in text.lines().filter(|l| l.contains("libpython")) {
        let resolved = line.split("=>").nth(1).unwrap_or("").trim();
        let resolved = Path::new(resolved.split(" (").next().unwrap_or(""));
        let root = fs_err::canonicalize(root).unwrap();
        assert!(
            resolved.starts_with(&root),
            "libpython of {} resolves outside {}: {line}\n{text}",
            exe.display(),
            root.display()
        );
    }
}

#[test]
fn test_runtime_is_relocatable() {
    let rt = pyship_e2e::pbs::runtime();
    let dir = tempfile::tempdir().unwrap();
    untar(&rt.tarball, dir.path());
    let exe = dir.path().join("python/bin/python3");
    assert_libpython_inside(&exe, dir.path());
    let out = Command::new(&exe)
        .args(["-c", "import sys, json, ssl, sqlite3; print(sys.prefix)"])
        .env_clear()
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let prefix = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(
        Path::new(&prefix),
        fs_err::canonicalize(dir.path().join("python")).unwrap()
    );
}
