//! Support for the end-to-end tests: fixture copies, a static HTTP server
//! (a python.org-style mirror, a wheel index), tool checks that fail loudly,
//! and the test data from `../shared/fixtures` (or PyPI when it is absent).
#![allow(clippy::print_stderr)]

pub mod docker_sim;
pub mod gitea;
pub mod hostile;
pub mod http;
pub mod msi;
// The Linux runtime for the Linux-bundle tests (symlinks: a Unix host only).
#[cfg(unix)]
pub mod pbs;
pub mod testdata;
pub mod trust;
pub mod wine;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root (this crate's parent).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// A fresh copy of `fixtures/{name}` in a temp dir (fixtures are never mutated).
/// Returns the temp dir (keep it alive) and the copy's path.
pub fn copy_fixture(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::Builder::new()
        .prefix("pyship-e2e-")
        .tempdir()
        .expect("temp dir");
    let src = workspace_root().join("fixtures").join(name);
    let dest = tmp.path().join(name);
    copy_dir(&src, &dest);
    (tmp, dest)
}

/// Copy a directory tree, skipping `target/` and `dist/` (the library's
/// one tree copy, so the tests copy fixtures the way the app sources are copied).
pub fn copy_dir(src: &Path, dest: &Path) {
    pyship_build::fs::copy_tree_with(src, dest, |e| {
        let name = e.file_name();
        Ok::<_, pyship_build::fs::Error>(name != "target" && name != "dist")
    })
    .unwrap_or_else(|e| panic!("copy {} to {}: {e}", src.display(), dest.display()));
}

/// The path of a tool the test needs. A missing tool fails the test with the
/// package that provides it: tests never pass silently without their tools.
pub fn require_tool(exe: &str, package: &str) -> PathBuf {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join(exe))
        .find(|p| p.is_file());
    match found {
        Some(p) => p,
        None => panic!(
            "this test needs `{exe}`, which is not on PATH; install it with {package} (or run .ci/run, which installs every tool the tests need)"
        ),
    }
}

/// Run `git` in `dir` with a fixed identity; panics on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Make `dir` a git repository with one commit of everything in it.
pub fn git_init_commit(dir: &Path) {
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "fixture"]);
}

/// SHA-256 of a file as lowercase hex.
pub fn sha256_file(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    let bytes = fs_err::read(path).expect("read file");
    hex::encode(Sha256::digest(&bytes))
}
