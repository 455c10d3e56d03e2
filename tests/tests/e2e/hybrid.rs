//! Hybrid projects: the `pyhash` fixture (a virtual workspace whose PyO3 abi3
//! crate builds `pyhash._native`, a root pyproject with maturin as the build
//! backend and a dynamic version, a FastAPI app importing the extension, and no
//! build hints in its config) ships from one `cargo pyship release` against
//! the test Gitea server: both bundles and the installer; both bundles answer
//! HTTP with a value computed in Rust and the release version, the installer
//! installs the extension silently. A second run builds
//! nothing, produces the same bytes and publishes nothing new. Wrong, stale and mis-versioned wheels,
//! and a missing Rust target, fail before anything is compiled, each with its
//! own message.

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

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: maturin builds for both targets, a release under wine"
)]
fn hybrid_release_builds_both_targets_and_the_installer_in_one_run() {
    require_build_tools();
    require_tool("makensis", "`apt-get install nsis` (Debian package `nsis`)");
    require_tool("unzip", "`apt-get install unzip` (Debian package `unzip`)");
    let (_mirror_dir, mirror) = pyship_e2e::testdata::python_mirror();
    let (_runtime, runtime_url) = served_runtime();
    let gitea = GiteaServer::start();
    let (_t, dir) = project(Some(&runtime_url), "");
    fs_err::write(dir.join(".gitignore"), "dist/\ntarget/\n").unwrap();
    git_init_commit(&dir);
    git(&dir, &["tag", TAG]);
    let cache = tempfile::tempdir().unwrap();
    let release = || {
        let mut c = pyship_in(&dir, cache.path());
        c.env("PYSHIP_PYTHON_MIRROR", mirror.url())
            .env("GITHUB_SERVER_URL", gitea.url())
            .env("GITHUB_REPOSITORY", REPO)
            .env("GITHUB_REF_NAME", TAG)
            .env("GITHUB_REF_TYPE", "tag")
            .env("DEPLOY_TOKEN", WRITE_TOKEN)
            .env("PYSHIP_RETRY_BASE_MS", "5")
            .args(["pyship", "release"]);
        c
    };

    let t = std::time::Instant::now();
    let first = release().output().unwrap();
    let err = stderr_of(&first);
    assert!(first.status.success(), "{err}");
    eprintln!("first release: {:?}", t.elapsed());
    // No prebuild, no wheels in the config: the wheel stage built both.
    for triple in ["x86_64-pc-windows-gnu", "x86_64-unknown-linux-gnu"] {
        assert!(
            err.contains(&format!("Building pyhash wheel for {triple}")),
            "{err}"
        );
    }
    let rel = gitea.release(REPO, TAG).expect("the release exists");
    let mut names: Vec<&str> = rel.assets.iter().map(|a| a.name.as_str()).collect();
    names.sort();
    assert_eq!(names, PUBLISHED);
    let dist = dir.join("dist");
    // Every artifact is deterministic, the installer too (its files' times
    // are the archives' entry time).
    let archives = [ASSETS[0], ASSETS[1], ASSETS[2]];
    let sums: Vec<String> = archives
        .iter()
        .map(|n| sha256_file(&dist.join(n)))
        .collect();

    // The Linux tarball, extracted elsewhere, answers with the Rust hash.
    let elsewhere = tempfile::tempdir().unwrap();
    let st = Command::new("tar")
        .arg("xzf")
        .arg(dist.join(ASSETS[0]))
        .current_dir(elsewhere.path())
        .status()
        .unwrap();
    assert!(st.success());
    let root = elsewhere.path().join("PyHash");
    // One copy of the package: from the wheel, none in app/src.
    assert!(fs_err::read_dir(root.join("app/src"))
        .unwrap()
        .next()
        .is_none());
    let port = free_port();
    let mut cmd = Command::new(root.join("run.sh"));
    cmd.env("PYHASH_PORT", port.to_string());
    let app = Running::spawn(cmd);
    let health = wait_http(port, "/health", Duration::from_secs(120));
    let (so, se) = app.stop();
    match health {
        Some((200, body)) => assert_health(&body, "linux"),
        other => panic!("linux /health answered {other:?}\nstdout:\n{so}\nstderr:\n{se}"),
    }

    // The Windows zip under wine.
    let prefix = WinePrefix::new();
    let unzipped = tempfile::tempdir().unwrap();
    let st = Command::new("unzip")
        .args(["-q"])
        .arg(dist.join(ASSETS[2]))
        .arg("-d")
        .arg(unzipped.path())
        .status()
        .unwrap();
    assert!(st.success());
    run_windows_app(&prefix, &unzipped.path().join("PyHash"), "portable zip");

    // The installer installs silently, and the installed app answers.
    let st = prefix
        .command(dist.join(ASSETS[1]))
        .args(["/S", r"/D=C:\PyHash"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "setup.exe /S failed: {st}");
    let installed = prefix.drive_c().join("PyHash");
    for rel in [
        "python/python.exe",
        "python/Lib/site-packages/pyhash/_native.pyd",
        "python/Lib/site-packages/pyhash/server.py",
        "uninstall.exe",
    ] {
        assert!(installed.join(rel).is_file(), "{rel} not installed");
    }

    // Again: nothing compiled, the same bytes, the same release, nothing
    // published (the server records every write request).
    gitea.clear_log();
    let t = std::time::Instant::now();
    let second = release().output().unwrap();
    let err = stderr_of(&second);
    assert!(second.status.success(), "{err}");
    eprintln!("second release: {:?}", t.elapsed());
    assert!(!err.contains("Building pyhash wheel"), "{err}");
    for triple in ["x86_64-pc-windows-gnu", "x86_64-unknown-linux-gnu"] {
        assert!(
            err.contains(&format!("Fresh pyhash wheel for {triple}")),
            "{err}"
        );
    }
    let again: Vec<String> = archives
        .iter()
        .map(|n| sha256_file(&dist.join(n)))
        .collect();
    assert_eq!(sums, again, "a warm release produces the same artifacts");
    let writes = gitea.writes();
    assert!(
        writes.is_empty(),
        "the second run publishes nothing: {writes:?}"
    );
    for name in PUBLISHED {
        assert!(
            err.contains(&format!("Unchanged {name} (")),
            "{name}: {err}"
        );
    }
    let rel2 = gitea.release(REPO, TAG).unwrap();
    assert_eq!(rel2.id, rel.id);
    let mut names: Vec<&str> = rel2.assets.iter().map(|a| a.name.as_str()).collect();
    names.sort();
    assert_eq!(names, PUBLISHED, "one asset per name");
    for a in &rel2.assets {
        assert_eq!(
            a.data,
            fs_err::read(dist.join(&a.name)).unwrap(),
            "{}",
            a.name
        );
    }
}

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

/// A warm build of the hybrid fixture (caches filled, a fresh output
/// folder, as a CI job with a restored cache sees it, then again with the
/// output folder kept) starts no uv and no maturin process: the wheel, the
/// dependencies and the runtime come from the cache; nor a Python asked its
/// version for a byte-compile that is off. Its tarball and SBOM
/// are the cold build's bytes.
#[test]
#[cfg_attr(not(feature = "slow-tests"), ignore = "slow tier: a maturin build")]
fn hybrid_warm_rebuild_runs_no_uv_and_no_maturin() {
    require_build_tools();
    let (_runtime, runtime_url) = served_runtime();
    let (_t, dir) = project(Some(&runtime_url), "");
    let cache = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let tarball = dir.join("dist/PyHash-v0.2.0-linux-x64.tar.gz");
    let sbom = dir.join("dist/PyHash-v0.2.0-linux-x64.cdx.json");
    let run = |log: &str| {
        let log = logs.path().join(log);
        let mut cmd = pyship_in(&dir, cache.path());
        cmd.env("PYSHIP_PROCESS_LOG", &log);
        bundle_at_cargo_version(cmd, "linux");
        (
            programs_started(&log),
            pyship_e2e::sha256_file(&tarball),
            pyship_e2e::sha256_file(&sbom),
        )
    };
    let (cold, cold_tgz, cold_sbom) = run("cold.log");
    for tool in ["uv", "maturin"] {
        assert!(
            cold.iter().any(|p| p == tool),
            "the log records the cold build's {tool}: {cold:?}"
        );
    }
    fs_err::remove_dir_all(dir.join("dist")).unwrap();
    for log in ["warm-fresh.log", "warm-kept.log"] {
        let (warm, tgz, sbom) = run(log);
        assert!(
            !warm.iter().any(|p| p == "uv" || p == "maturin"),
            "{log}: a warm build started {warm:?}"
        );
        // Strip needs an interpreter only to byte-compile (`strip.compile`,
        // off here): no Python is started to ask its version.
        let lines = fs_err::read_to_string(logs.path().join(log)).unwrap();
        assert!(
            !lines.contains("sys.version_info"),
            "{log}: a warm build asked a Python its version:\n{lines}"
        );
        // The host, the toolchain and the Python a folder selects are asked
        // once per build (zig's Python package, glibc, rustc's sysroot and
        // version), not once per step that needs the answer.
        let mut seen = std::collections::BTreeSet::new();
        for line in lines.lines() {
            assert!(
                seen.insert(line),
                "{log}: a warm build ran `{line}` twice:\n{lines}"
            );
        }
        assert_eq!(
            tgz, cold_tgz,
            "{log}: the tarball differs from the cold build's"
        );
        assert_eq!(
            sbom, cold_sbom,
            "{log}: the SBOM differs from the cold build's"
        );
    }
}

/// The packages each import check of a run imported, from its
/// `PYSHIP_PROCESS_LOG`: the names after the script, site-packages and the
/// app's start on the check's command line.
fn packages_checked(log: &Path) -> Vec<Vec<String>> {
    fs_err::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().map(|w| w.trim_matches('\'')).collect();
            let script = words.iter().position(|w| w.ends_with("import_check.py"))?;
            Some(words[script + 3..].iter().map(|w| w.to_string()).collect())
        })
        .collect()
}

/// After one Python file of the app's package changed, a rebuild imports
/// only that package (and starts the app): the check's command line names
/// no other package. An import error put into that file still fails the
/// build, naming the missing module, and leaves no artifact of that build.
#[test]
#[cfg_attr(not(feature = "slow-tests"), ignore = "slow tier: a maturin build")]
fn hybrid_python_edit_checks_only_the_changed_package_and_catches_a_broken_one() {
    require_build_tools();
    let (_runtime, runtime_url) = served_runtime();
    let (_t, dir) = project(Some(&runtime_url), "");
    let cache = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let server = dir.join("python/pyhash/server.py");
    let tarball = dir.join("dist/PyHash-v0.2.0-linux-x64.tar.gz");
    let cmd = |log: &str| {
        let mut cmd = pyship_in(&dir, cache.path());
        cmd.env("PYSHIP_PROCESS_LOG", logs.path().join(log));
        cmd
    };
    bundle_at_cargo_version(cmd("cold.log"), "linux");
    let cold = packages_checked(&logs.path().join("cold.log"));
    assert!(
        cold.iter()
            .any(|n| n.contains(&"fastapi".to_owned()) && n.contains(&"pyhash".to_owned())),
        "the cold build checks every package: {cold:?}"
    );

    let mut text = fs_err::read_to_string(&server).unwrap();
    text.push_str("\n# an edit\n");
    fs_err::write(&server, &text).unwrap();
    bundle_at_cargo_version(cmd("edit.log"), "linux");
    let edit = packages_checked(&logs.path().join("edit.log"));
    assert_eq!(edit, [["pyhash"]], "after one edit of pyhash/server.py");

    text.push_str("import pyship_no_such_module\n");
    fs_err::write(&server, &text).unwrap();
    fs_err::remove_file(&tarball).unwrap();
    let out = cmd("broken.log")
        .args([
            "pyship",
            "bundle",
            "--target",
            "linux",
            "--version",
            "v0.2.0",
        ])
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert!(!out.status.success(), "a broken import passed: {err}");
    assert!(err.contains("pyship_no_such_module"), "{err}");
    assert_eq!(
        packages_checked(&logs.path().join("broken.log")),
        [["pyhash"]],
        "the broken edit is found by the narrowed check"
    );
    assert!(
        !tarball.exists(),
        "a build that failed its check left {}",
        tarball.display()
    );
}

/// An abi3 PyO3 crate without pyo3's `generate-import-lib` (as `uv init
/// --build-backend maturin` writes it) links its Windows extension against
/// import libraries cargo-pyship makes (linking against the DLL itself
/// builds, but the extension then fails to load: "32 bit pseudo relocation
/// out of range"). The import check starts the app under wine, so a bundle
/// that passes it loads the extension.
#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: a maturin build for Windows"
)]
fn hybrid_windows_extension_links_without_generate_import_lib() {
    require_build_tools();
    let (_t, dir) = project(None, "");
    let krate = dir.join("crates/fastcore/Cargo.toml");
    let text = fs_err::read_to_string(&krate).unwrap();
    let without = text.replace(", \"generate-import-lib\"]", "]");
    assert_ne!(text, without, "the fixture's pyo3 has generate-import-lib");
    fs_err::write(&krate, without).unwrap();
    let (_mirror_dir, mirror) = pyship_e2e::testdata::python_mirror();
    let cache = tempfile::tempdir().unwrap();
    let mut cmd = pyship_in(&dir, cache.path());
    cmd.env("PYSHIP_PYTHON_MIRROR", mirror.url())
        .env_remove("PYO3_CROSS_LIB_DIR");
    let err = bundle_at_cargo_version(cmd, "windows");
    assert!(err.contains("Imported"), "the import check ran:\n{err}");
    let libs = cache.path().join("pyo3-implib-v0/x86_64-gnu-3.11");
    for lib in ["python3.dll.a", "python311.dll.a"] {
        assert!(libs.join(lib).is_file(), "{lib} in {}", libs.display());
    }
    let list = pyship_e2e::testdata::zip_files(&dir.join("dist/PyHash-v0.2.0-win-x64.zip"));
    assert!(
        list.keys()
            .any(|l| l.contains("site-packages/pyhash/_native") && l.ends_with(".pyd")),
        "{list:?}"
    );
}

/// A version-specific (not abi3) PyO3 crate as `maturin new --bindings pyo3`
/// writes it (pyo3 0.29, no features), in a virtual workspace whose
/// `[workspace.metadata.pyship]` names the member's pyproject: maturin links
/// it by itself, and cargo-pyship must not set PYO3_CROSS_LIB_DIR (maturin
/// then looks there for a Unix `_sysconfigdata*.py` and fails: "failed to
/// read directory …/python3.def").
#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: a maturin build for Windows"
)]
fn hybrid_windows_extension_without_abi3_is_left_to_maturin() {
    require_build_tools();
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("ws");
    let files = [
        (
            "Cargo.toml",
            "[workspace]\nresolver = \"2\"\nmembers = [\"crates/nativecore\"]\n\n[workspace.metadata.pyship]\nname = \"Native Core\"\npyproject = \"crates/nativecore/pyproject.toml\"\n",
        ),
        (
            "crates/nativecore/Cargo.toml",
            "[package]\nname = \"nativecore\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[lib]\nname = \"_native\"\ncrate-type = [\"cdylib\"]\n\n[dependencies]\npyo3 = \"0.29.0\"\n",
        ),
        (
            "crates/nativecore/src/lib.rs",
            "use pyo3::prelude::*;\n\n#[pymodule]\nmod _native {\n    use pyo3::prelude::*;\n\n    #[pyfunction]\n    fn sum_as_string(a: usize, b: usize) -> PyResult<String> {\n        Ok((a + b).to_string())\n    }\n}\n",
        ),
        (
            "crates/nativecore/pyproject.toml",
            "[build-system]\nrequires = [\"maturin>=1.5,<2.0\"]\nbuild-backend = \"maturin\"\n\n[project]\nname = \"nativecore\"\nrequires-python = \">=3.8\"\ndynamic = [\"version\"]\n\n[tool.maturin]\npython-source = \"python\"\nmodule-name = \"nativecore._native\"\n",
        ),
        (
            "crates/nativecore/python/nativecore/__init__.py",
            "from nativecore._native import sum_as_string\n",
        ),
        (
            "crates/nativecore/python/nativecore/__main__.py",
            "from nativecore import sum_as_string\n\nif __name__ == \"__main__\":\n    print(\"sum\", sum_as_string(2, 3))\n",
        ),
    ];
    for (rel, text) in files {
        let p = dir.join(rel);
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(&p, text).unwrap();
    }
    let (_mirror_dir, mirror) = pyship_e2e::testdata::python_mirror();
    let cache = tempfile::tempdir().unwrap();
    let out = pyship(cache.path())
        .current_dir(&dir)
        .env(
            "CARGO_TARGET_DIR",
            workspace_root().join("target/pyship-e2e/nativecore-target"),
        )
        .env("PYSHIP_PYTHON_MIRROR", mirror.url())
        .env_remove("PYO3_CROSS_LIB_DIR")
        .args(["pyship", "bundle", "--target", "windows"])
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Imported"), "the import check ran:\n{err}");
    assert!(
        !cache.path().join("pyo3-implib-v0").exists(),
        "no import libraries are made for a version-specific build"
    );
    let list = pyship_e2e::testdata::zip_files(&dir.join("dist/Native-Core-v0.1.0-win-x64.zip"));
    assert!(
        list.keys()
            .any(|l| l.contains("site-packages/nativecore/_native") && l.ends_with(".pyd")),
        "{list:?}"
    );
}

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

#[test]
#[cfg_attr(not(feature = "slow-tests"), ignore = "slow tier: a maturin build")]
fn hybrid_docker_image_installs_the_built_linux_wheel() {
    // No engine needed to check what goes into the build: a `docker` that
    // records its arguments and the named wheel context it is given.
    require_build_tools();
    let (_t, dir) = project(
        None,
        "\n[workspace.metadata.pyship.docker]\nimage = \"localhost/pyship-e2e/pyhash\"\n",
    );
    let bin = tempfile::tempdir().unwrap();
    let log = bin.path().join("docker.log");
    let seen = bin.path().join("wheels-seen");
    let script = format!(
        "#!/bin/sh\necho \"argv: $*\" >> '{log}'\n[ \"$1\" = info ] && {{ echo 27.0.0; exit 0; }}\nwhile [ $# -gt 0 ]; do\n  case \"$1\" in\n    --build-context) case \"$2\" in pyship-wheels=*) mkdir -p '{seen}' && cp -R \"${{2#pyship-wheels=}}\"/. '{seen}/';; esac; shift;;\n  esac\n  shift\ndone\nexit 0\n",
        log = log.display(),
        seen = seen.display(),
    );
    let docker = bin.path().join("docker");
    fs_err::write(&docker, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(&docker, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = std::env::join_paths(
        std::iter::once(bin.path().to_owned())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let out = pyship_in(&dir, cache.path())
        .env("PATH", &path)
        .args(["pyship", "docker", "--version", "0.2.0"])
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    // `docker` alone built the Linux wheel (the bundle had not run).
    assert!(
        err.contains("pyhash wheel for x86_64-unknown-linux-gnu"),
        "{err}"
    );
    let argv = fs_err::read_to_string(&log).unwrap();
    let build = argv
        .lines()
        .find(|l| l.starts_with("argv: build "))
        .expect("docker build ran");
    let wheels_dir = dir.join("dist/.pyship/wheels/linux");
    assert!(
        build.contains(&format!(
            "--build-context pyship-wheels={}",
            wheels_dir.display()
        )),
        "{build}"
    );
    // The named context holds exactly the app's Linux wheel at the version,
    // with the compiled extension in it.
    let mut names: Vec<String> = fs_err::read_dir(&seen)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 1, "{names:?}");
    let wheel = &names[0];
    assert!(
        wheel.starts_with("pyhash-0.2.0-") && wheel.ends_with("manylinux_2_28_x86_64.whl"),
        "{wheel}"
    );
    let zip = zip::ZipArchive::new(fs_err::File::open(seen.join(wheel)).unwrap()).unwrap();
    let files: Vec<String> = zip
        .file_names()
        .filter_map(Result::ok)
        .map(|n| n.into_owned())
        .collect();
    assert!(
        files
            .iter()
            .any(|n| n.starts_with("pyhash/_native") && n.ends_with(".so")),
        "{files:?}"
    );
    // The Dockerfile installs that wheel and builds nothing: no Rust, no
    // copy of the Rust sources.
    let dockerfile = fs_err::read_to_string(dir.join("dist/.pyship/docker/Dockerfile")).unwrap();
    insta::assert_snapshot!("hybrid_dockerfile", dockerfile);
    assert!(
        dockerfile.contains(
            "RUN pip install --find-links /tmp/pyship-wheels /tmp/pyship-wheels/*.whl 'pyhash==0.2.0'"
        ),
        "{dockerfile}"
    );
    for absent in [
        "cargo build",
        "rustup",
        "maturin",
        "pip install /app",
        "COPY [\".",
    ] {
        assert!(!dockerfile.contains(absent), "{absent}:\n{dockerfile}");
    }
}

/// The rtoml layout (issue 27): a maturin project whose `python-source`
/// holds the extension's package (`python/pyhash`, module-name
/// `pyhash._native`) while the app, named after the project (`hashcli`, a
/// CLI reading stdin), sits beside it at the top. The pyhash fixture,
/// renamed, without its pyship table and its web dependencies; MIT-licensed.
fn beside_python_source() -> (tempfile::TempDir, PathBuf) {
    let (t, dir) = copy_fixture("pyhash");
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    let cut = text.find("[workspace.metadata.pyship]").unwrap();
    fs_err::write(&manifest, &text[..cut]).unwrap();
    let py = dir.join("pyproject.toml");
    let text = fs_err::read_to_string(&py).unwrap();
    let text = text
        .replace("name = \"pyhash\"", "name = \"hashcli\"\nlicense = \"MIT\"")
        .replace(
            "dependencies = [\"fastapi\", \"uvicorn\"]",
            "dependencies = []",
        );
    assert!(text.contains("name = \"hashcli\""), "{text}");
    fs_err::write(&py, text).unwrap();
    fs_err::write(
        dir.join("LICENSE"),
        "MIT License\n\nCopyright (c) hashcli authors\n",
    )
    .unwrap();
    fs_err::create_dir_all(dir.join("hashcli")).unwrap();
    fs_err::write(
        dir.join("hashcli/__init__.py"),
        "\"\"\"A CLI over pyhash's Rust hash.\"\"\"\n",
    )
    .unwrap();
    fs_err::write(
        dir.join("hashcli/__main__.py"),
        "import sys\nfrom importlib.metadata import version\n\nimport pyhash\n\n\n\
         def main() -> int:\n    args = sys.argv[1:]\n    if args[:1] == [\"--version\"]:\n        \
         print(\"hashcli\", version(\"hashcli\"), pyhash.fnv1a(\"pyship\"))\n        return 0\n    \
         print(\"hash\", pyhash.fnv1a(sys.stdin.read()))\n    return int(args[0]) if args else 0\n\n\n\
         if __name__ == \"__main__\":\n    sys.exit(main())\n",
    )
    .unwrap();
    (t, dir)
}

/// The crates `cargo tree` says are linked into fastcore for `triple`
/// (normal dependencies, procedural macros hidden): the licence file's oracle.
fn cargo_tree_crates(dir: &Path, triple: &str) -> std::collections::BTreeSet<String> {
    let out = Command::new("cargo")
        .args(["tree", "--offline", "--manifest-path"])
        .arg(dir.join("crates/fastcore/Cargo.toml"))
        .args([
            "--target",
            triple,
            "-e",
            "normal,no-proc-macro",
            "--prefix",
            "none",
            "--features",
            "pyo3/extension-module",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some(format!(
                "{} {}",
                w.next()?,
                w.next()?.trim_start_matches('v')
            ))
        })
        .collect()
}

/// The crates THIRD-PARTY-LICENSES.txt lists as linked into the extension.
fn listed_crates(licenses: &str) -> std::collections::BTreeSet<String> {
    licenses
        .split("Rust crates linked into the extension")
        .nth(1)
        .expect("a Rust crates section")
        .lines()
        .skip_while(|l| !l.starts_with("  "))
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.trim().split(':').next().map(str::to_owned))
        .collect()
}

#[test]
#[cfg_attr(not(feature = "slow-tests"), ignore = "slow tier: a maturin build")]
fn hybrid_app_beside_python_source_is_found_shipped_run_and_imaged() {
    require_build_tools();
    let (_mirror_dir, mirror) = pyship_e2e::testdata::python_mirror();
    let (_runtime_file, runtime) = pyship_e2e::pbs::serve(RUNTIME_FILE);
    let (_t, dir) = beside_python_source();
    let cache = tempfile::tempdir().unwrap();
    let cmd = || {
        let mut c = pyship_in(&dir, cache.path());
        c.env("PYSHIP_PYTHON_MIRROR", mirror.url());
        c
    };

    // init finds the app beside python-source and says where, before any build.
    let out = cmd()
        .args(["pyship", "init", "--ci", "none"])
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("Chose app-src . (flat layout, next to the pyproject; not in the project's maturin wheel, which packs pyhash from python/pyhash and the extension pyhash._native (`module-name` in [tool.maturin]); derived, not written)"),
        "{err}"
    );
    assert!(!err.contains("Building"), "{err}");
    let manifest = dir.join("Cargo.toml");
    let edit = |pairs: &[(&str, String)]| {
        let mut text = fs_err::read_to_string(&manifest).unwrap();
        for (from, to) in pairs {
            assert!(text.contains(from), "no `{from}` in:\n{text}");
            text = text.replacen(from, to, 1);
        }
        fs_err::write(&manifest, text).unwrap();
    };
    edit(&[
        ("# no-index = false\n", "no-index = true\n".into()),
        (
            "# runtime-url = \"\"\n",
            format!(
                "runtime-url = \"{}/cpython-{{version}}-test-x86_64-unknown-linux-gnu-install_only.tar.gz\"\n",
                runtime.url()
            ),
        ),
    ]);

    // Both bundles: the wheel's package from the wheel, the app from beside it.
    let err = bundle_at_cargo_version(cmd(), "all");
    let dist = dir.join("dist");
    for artifact in [
        "hashcli-v0.2.0-win-x64.zip",
        "hashcli-v0.2.0-linux-x64.tar.gz",
    ] {
        assert!(dist.join(artifact).is_file(), "{artifact}:\n{err}");
    }
    for (platform, triple, ext) in [
        ("windows", "x86_64-pc-windows-gnu", ".pyd"),
        ("linux", "x86_64-unknown-linux-gnu", ".so"),
    ] {
        let tree = dist.join(".pyship").join(platform).join("hashcli");
        let sp = tree.join(if platform == "windows" {
            "python/Lib/site-packages".to_owned()
        } else {
            "python/lib/python3.11/site-packages".to_owned()
        });
        let app: Vec<String> = fs_err::read_dir(tree.join("app/src"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(app.contains(&"hashcli".to_owned()), "{platform}: {app:?}");
        assert!(!app.contains(&"pyhash".to_owned()), "{platform}: {app:?}");
        assert!(
            fs_err::read_dir(sp.join("pyhash")).unwrap().any(|e| e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(ext)),
            "{platform}: no extension in site-packages/pyhash"
        );
        // The licence file names every crate of the target's resolve, and no other.
        let licenses = fs_err::read_to_string(tree.join("THIRD-PARTY-LICENSES.txt")).unwrap();
        let want = cargo_tree_crates(&dir, triple);
        assert_eq!(listed_crates(&licenses), want, "{platform}:\n{licenses}");
        for build_only in ["python3-dll-a", "pyo3-build-config", "syn", "pyo3-macros"] {
            assert!(
                !want
                    .iter()
                    .any(|c| c.starts_with(&format!("{build_only} "))),
                "{build_only} is not linked"
            );
        }
        assert!(
            licenses.contains("(Rust crate)") && licenses.contains("Permission is hereby granted"),
            "{platform}: crate licence texts are in"
        );
        assert!(
            licenses.contains("hashcli 0.2.0: MIT (this application)"),
            "{platform}:\n{licenses}"
        );
        // The SBOM lists the same crates, and the app's licence.
        let sbom: serde_json::Value = serde_json::from_str(
            &fs_err::read_to_string(dist.join(format!(
                "hashcli-v0.2.0-{}.cdx.json",
                if platform == "windows" {
                    "win-x64"
                } else {
                    "linux-x64"
                }
            )))
            .unwrap(),
        )
        .unwrap();
        let cargo: std::collections::BTreeSet<String> = sbom["components"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| {
                c["purl"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("pkg:cargo/"))
            })
            .map(|c| {
                format!(
                    "{} {}",
                    c["name"].as_str().unwrap(),
                    c["version"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(cargo, want, "{platform} SBOM");
        assert_eq!(
            sbom["metadata"]["component"]["licenses"],
            serde_json::json!([{"license": {"id": "MIT"}}]),
            "{platform} SBOM subject"
        );
    }

    // A pyship key only cargo-pyship reads does not rebuild the wheel.
    edit(&[(
        "# port = 8765  # an example; not set\n",
        "port = 9999\n".into(),
    )]);
    let err = bundle_at_cargo_version(cmd(), "windows");
    assert!(
        err.contains("Fresh hashcli wheel for x86_64-pc-windows-gnu"),
        "{err}"
    );

    // `run`: the bundle as a user starts it; arguments, stdin and the exit
    // code go through, under wine with the Rust extension loaded.
    let run = |target: &str, args: &[&str], stdin: &str| {
        let out = cmd()
            .args([
                "pyship",
                "run",
                "--target",
                target,
                "--version",
                "v0.2.0",
                "--",
            ])
            .args(args)
            .write_stdin(stdin.to_owned())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr_of(&out),
        )
    };
    let (code, stdout, err) = run("windows", &["--version"], "");
    assert_eq!(code, Some(0), "{stdout}\n{err}");
    assert_eq!(stdout.trim(), format!("hashcli 0.2.0 {HASH}"), "{err}");
    assert!(
        err.contains("Fresh ./dist/.pyship/windows/hashcli") || err.contains("Fresh "),
        "{err}"
    );
    let (code, stdout, err) = run("windows", &["7"], "pyship");
    assert_eq!(code, Some(7), "{stdout}\n{err}");
    assert_eq!(stdout.trim(), format!("hash {HASH}"), "{err}");
    let (code, stdout, err) = run("linux", &["5"], "pyship");
    assert_eq!(code, Some(5), "{stdout}\n{err}");
    assert_eq!(stdout.trim(), format!("hash {HASH}"), "{err}");

    // The Docker image holds what the Linux bundle holds: the extension's
    // package from the wheel, the app in /app/src on sys.path.
    edit(&[(
        "# image = \"gitea.example.com/owner/app\"  # an example; not set\n",
        "image = \"localhost/e2e/hashcli\"\n".into(),
    )]);
    let docker = pyship_e2e::docker_sim::FakeDocker::new(&[]);
    let mut c = cmd();
    for (k, v) in docker.env() {
        c.env(k, v);
    }
    let out = c
        .args(["pyship", "docker", "--version", "0.2.0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let image_sp = docker.root.join("usr/local/lib/python3.11/site-packages");
    let tree = dist.join(".pyship/linux/hashcli");
    let bundle_sp = tree.join("python/lib/python3.11/site-packages");
    use pyship_e2e::docker_sim::files_under;
    assert_eq!(
        files_under(&docker.root.join("app/src")),
        files_under(&tree.join("app/src"))
            .into_iter()
            .filter(|f| !f.starts_with("_pyship_launch"))
            .collect::<Vec<_>>(),
        "the image's app sources are the bundle's"
    );
    for f in files_under(&tree.join("app/src/hashcli")) {
        assert_eq!(
            fs_err::read(docker.root.join("app/src/hashcli").join(&f)).unwrap(),
            fs_err::read(tree.join("app/src/hashcli").join(&f)).unwrap(),
            "{f}"
        );
    }
    assert_eq!(
        files_under(&image_sp.join("pyhash")),
        files_under(&bundle_sp.join("pyhash")),
        "the extension's package"
    );
    assert_eq!(
        fs_err::read_to_string(image_sp.join("_pyship_app.pth")).unwrap(),
        "/app/src\n"
    );
    assert!(image_sp.join("hashcli-0.2.0.dist-info").is_dir());
    assert!(bundle_sp.join("hashcli-0.2.0.dist-info").is_dir());
}
