//! Shipping what was tested (issue 26): a `uv.lock` is the truth for every
//! target, read back from each artifact's dist-infos; a tampered hash, a
//! pyproject edited after locking and a locked package without a wheel for
//! the target each fail with their own message. Without a lock, the first
//! build pins what it resolved in `pyship.lock`, later builds ship the pins
//! while the index has newer versions, `--locked` (and `release` in CI)
//! refuse a change, `cargo pyship update` makes it and says what changed.
//! `fetch` then builds with no network give the bytes of an online build.
//! A hybrid project built twice cold, in two paths, without
//! `SOURCE_DATE_EPOCH`, gives the same bytes for every artifact, and a
//! per-target build equals the release's.
//!
//! And the app's local PyO3 package (issue 27, item 3): built from its
//! sources for both targets, never fetched, its version untouched by
//! `version --stamp`, also when a `uv.lock` names it as a path source.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::support::*;
use pyship_e2e::http::StaticServer;

const RUNTIME_FILE: &str = "cpython-3.11.9-test-x86_64-unknown-linux-gnu-install_only.tar.gz";

const ZIP: &str = "Locked-App-v0.1.0-win-x64.zip";

const TARBALL: &str = "Locked-App-v0.1.0-linux-x64.tar.gz";

/// The embeddable CPython and the Linux test runtime, served locally.
struct Mirrors {
    _python_dir: tempfile::TempDir,
    python: StaticServer,
    _runtime_dir: tempfile::TempDir,
    runtime: StaticServer,
}

fn mirrors() -> Mirrors {
    let (python_dir, python) = pyship_e2e::testdata::python_mirror();
    let (runtime_dir, runtime) = pyship_e2e::pbs::serve(RUNTIME_FILE);
    Mirrors {
        _python_dir: python_dir,
        python,
        _runtime_dir: runtime_dir,
        runtime,
    }
}

impl Mirrors {
    fn runtime_url(&self) -> String {
        format!(
            "{}/cpython-{{version}}-test-x86_64-unknown-linux-gnu-install_only.tar.gz",
            self.runtime.url()
        )
    }
}

fn require_uv() {
    require_tool("uv", "`pip install uv` (PyPI package `uv`)");
}

/// Append `text` to the fixture's Cargo.toml (the pyship table ends it).
fn append_manifest(dir: &Path, text: &str) {
    let manifest = dir.join("Cargo.toml");
    let mut t = fs_err::read_to_string(&manifest).unwrap();
    t.push_str(text);
    fs_err::write(&manifest, t).unwrap();
}

/// The `locked` fixture with the local Linux runtime.
fn locked_project(m: &Mirrors) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = copy_fixture("locked");
    append_manifest(
        &dir,
        &format!(
            "\n[package.metadata.pyship.linux]\nruntime-url = \"{}\"\n",
            m.runtime_url()
        ),
    );
    (tmp, dir)
}

fn cmd(m: &Mirrors, dir: &Path, cache: &Path) -> assert_cmd::Command {
    let mut c = pyship(cache);
    c.current_dir(dir)
        .env("PYSHIP_PYTHON_MIRROR", m.python.url())
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .arg("pyship");
    c
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Each `*.dist-info` of an artifact's site-packages, as `name-version`.
fn shipped(artifact: &Path) -> BTreeSet<String> {
    let names: Vec<String> = if artifact.extension().is_some_and(|e| e == "zip") {
        pyship_e2e::testdata::zip_files(artifact)
            .into_keys()
            .collect()
    } else {
        let f = fs_err::File::open(artifact).unwrap();
        let mut a = tar::Archive::new(flate2::read::GzDecoder::new(f));
        a.entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect()
    };
    names
        .iter()
        .filter(|n| n.contains("site-packages/"))
        .filter_map(|n| {
            let after = n.split("site-packages/").nth(1)?;
            let first = after.split('/').next()?;
            first.strip_suffix(".dist-info").map(str::to_owned)
        })
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Run the Linux bundle's app (`run.sh` of the extracted tarball).
fn run_linux(tarball: &Path, top: &str) -> String {
    let into = tempfile::tempdir().unwrap();
    let f = fs_err::File::open(tarball).unwrap();
    tar::Archive::new(flate2::read::GzDecoder::new(f))
        .unpack(into.path())
        .unwrap();
    let out = Command::new(into.path().join(top).join("run.sh"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn require_build_tools() {
    require_uv();
    require_tool("maturin", "`pip install maturin` (PyPI package `maturin`)");
    require_tool(
        "x86_64-w64-mingw32-gcc",
        "`apt-get install gcc-mingw-w64-x86-64` (Debian package `gcc-mingw-w64-x86-64`)",
    );
}

mod local_package;
mod lock_formats;
mod pyship_lock;
mod reproducible;
mod uv_lock;
