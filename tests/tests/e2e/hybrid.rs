//! Hybrid projects (Rust extension plus Python app): the `pyhash` fixture (a
//! virtual workspace whose PyO3 abi3 crate builds `pyhash._native`, a root
//! pyproject with maturin as the build backend and a dynamic version, a
//! FastAPI app importing the extension, and no build hints in its config)
//! and the helpers its tests share; the tests are grouped by concern in
//! `hybrid/`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::support::*;
use pyship_e2e::gitea::{GiteaServer, REPO, WRITE_TOKEN};
use pyship_e2e::wine::{free_port, wait_http, Running, WinePrefix};

const TAG: &str = "v0.3.0";
/// FNV-1a 64 of "pyship", as `pyhash._native.fnv1a` computes it.
const HASH: &str = "3692124983033054312";
pub(super) const RUNTIME_FILE: &str =
    "cpython-3.11.9-test-x86_64-unknown-linux-gnu-install_only.tar.gz";
const ASSETS: &[&str] = &[
    "PyHash-v0.3.0-linux-x64.tar.gz",
    "PyHash-v0.3.0-setup.exe",
    "PyHash-v0.3.0-win-x64.zip",
    "SHA256SUMS",
    "manifest.json",
];

/// Every asset the release carries, sorted: the artifacts above plus the SBOMs.
const PUBLISHED: &[&str] = &[
    "PyHash-v0.3.0-linux-x64.cdx.json",
    "PyHash-v0.3.0-linux-x64.tar.gz",
    "PyHash-v0.3.0-setup.exe",
    "PyHash-v0.3.0-win-x64.cdx.json",
    "PyHash-v0.3.0-win-x64.zip",
    "SHA256SUMS",
    "manifest.json",
];

/// One Cargo target dir for every copy of the fixture: PyO3 compiles once per
/// test run, not once per test (each test still runs maturin itself).
fn cargo_target_dir() -> PathBuf {
    workspace_root().join("target/pyship-e2e/pyhash-target")
}

pub(super) fn require_build_tools() {
    require_tool("uv", "`pip install uv` (PyPI package `uv`)");
    require_tool("maturin", "`pip install maturin` (PyPI package `maturin`)");
    require_tool(
        "x86_64-w64-mingw32-gcc",
        "`apt-get install gcc-mingw-w64-x86-64` (Debian package `gcc-mingw-w64-x86-64`)",
    );
}

/// A copy of the fixture, configured for the local wheelhouse (and, with
/// `runtime_url`, the local Linux runtime), plus `extra` TOML at the end.
pub(super) fn project(runtime_url: Option<&str>, extra: &str) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = copy_fixture("pyhash");
    let manifest = dir.join("Cargo.toml");
    let mut text = fs_err::read_to_string(&manifest).unwrap();
    assert!(
        text.trim_end().ends_with("port = 8766"),
        "the pyship table ends the fixture's Cargo.toml"
    );
    text.push_str(&format!(
        "no-index = true\nfind-links = [\"{}\"]\n",
        pyship_e2e::testdata::wheelhouse().display()
    ));
    if let Some(url) = runtime_url {
        text.push_str(&format!(
            "\n[workspace.metadata.pyship.linux]\nruntime-url = \"{url}\"\n"
        ));
    }
    text.push_str(extra);
    fs_err::write(&manifest, text).unwrap();
    (tmp, dir)
}

fn pyship_in(dir: &Path, cache: &Path) -> assert_cmd::Command {
    let mut c = pyship(cache);
    c.current_dir(dir)
        .env("CARGO_TARGET_DIR", cargo_target_dir())
        .env("SOURCE_DATE_EPOCH", "1700000000");
    c
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `bundle --target {target}` at the fixture's Cargo version (v0.2.0: no
/// stamping needed), which must succeed; its stderr.
fn bundle_at_cargo_version(mut cmd: assert_cmd::Command, target: &str) -> String {
    let out = cmd
        .args([
            "pyship",
            "bundle",
            "--target",
            target,
            "--version",
            "v0.2.0",
        ])
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    err
}

/// The /health answer of a running bundle: the release version and the hash
/// computed by the Rust extension.
fn assert_health(body: &str, platform: &str) {
    assert!(body.contains("\"version\":\"0.3.0\""), "{body}");
    assert!(body.contains(HASH), "{body}");
    assert!(body.contains(platform), "{body}");
}

fn run_windows_app(prefix: &WinePrefix, root: &Path, what: &str) {
    let port = free_port();
    let mut cmd = prefix.command(root.join("python/python.exe"));
    cmd.args(["-m", "pyhash"])
        .env("PYHASH_PORT", port.to_string())
        .current_dir(root);
    let app = Running::spawn(cmd);
    let health = wait_http(port, "/health", Duration::from_secs(240));
    prefix.kill();
    let (so, se) = app.stop();
    match health {
        Some((200, body)) => assert_health(&body, "win32"),
        other => panic!("{what}: /health answered {other:?}\nstdout:\n{so}\nstderr:\n{se}"),
    }
}

/// The test runtime served locally, and its URL as `linux.runtime-url` takes
/// it (the guard keeps the server and its folder alive).
fn served_runtime() -> ((tempfile::TempDir, pyship_e2e::http::StaticServer), String) {
    let (file, server) = pyship_e2e::pbs::serve(RUNTIME_FILE);
    let url = format!(
        "{}/cpython-{{version}}-test-x86_64-unknown-linux-gnu-install_only.tar.gz",
        server.url()
    );
    ((file, server), url)
}

/// The programs a run started, from its `PYSHIP_PROCESS_LOG`: each line's
/// program file name (`uv`, `maturin`, `python3`, …).
pub(super) fn programs_started(log: &Path) -> Vec<String> {
    fs_err::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let first = l.split_whitespace().next()?.trim_matches(['"', '\'']);
            Some(Path::new(first).file_name()?.to_string_lossy().into_owned())
        })
        .collect()
}

// ------------------------------------------------------------------ the tests

mod maturin;
mod plan_init;
mod preflight;
mod python_source;
mod rebuild;
mod release;
mod windows_extension;
