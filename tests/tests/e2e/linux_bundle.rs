//! Linux bundle (issue 6): the test runtime and the whole tarball built by
//! `cargo pyship bundle --target linux`, run from another folder; the
//! launcher, service scripts and systemd unit it renders are tested in
//! `linux_bundle/service.rs`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::support::*;
use pyship_e2e::http::StaticServer;
use pyship_e2e::wine::{free_port, http_get, wait_http, Running};

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

/// `ldd` of `exe`: the line naming libpython (required when `shared`) must
/// resolve below `root`.
fn assert_libpython_inside(exe: &Path, root: &Path, shared: bool) {
    let out = Command::new(require_tool("ldd", "`apt-get install libc-bin`"))
        .arg(exe)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "ldd {} failed: {text}", exe.display());
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("libpython")).collect();
    assert!(
        !shared || !lines.is_empty(),
        "ldd shows no libpython for a shared build:\n{text}"
    );
    let root = fs_err::canonicalize(root).unwrap();
    for line in lines {
        let resolved = line.split("=>").nth(1).unwrap_or("").trim();
        let resolved = resolved.split(" (").next().unwrap_or("");
        let resolved = fs_err::canonicalize(resolved)
            .unwrap_or_else(|e| panic!("libpython does not resolve ({e}): {line}\n{text}"));
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
    assert_libpython_inside(&exe, dir.path(), rt.host.shared_lib.is_some());
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

/// A name that needs escaping in every language the Linux files use.
const TRICKY_NAME: &str = r#"Hello "50%" $App's \ x"#;

/// `systemd-analyze verify` on a unit file; panics with its output on failure.
fn systemd_verify(unit_file: &Path) {
    let sa = require_tool("systemd-analyze", "`apt-get install systemd`");
    let out = Command::new(sa)
        .args(["verify", "--man=no"])
        .arg(unit_file)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let name = unit_file
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        out.status.success() && !text.contains(&name),
        "systemd-analyze verify {} failed:\n{text}\n--- unit:\n{}",
        unit_file.display(),
        fs_err::read_to_string(unit_file).unwrap()
    );
}

const VERSION_ARG: &str = "v0.3.0-rc.1";
const TARBALL: &str = "Hello-App-v0.3.0-rc.1-linux-x64.tar.gz";
/// The served name of the test runtime: `{version}` is the configured 3.11.9.
const RUNTIME_FILE: &str = "cpython-3.11.9-test-x86_64-unknown-linux-gnu-install_only.tar.gz";

/// The hello fixture with wheels only from `wheels_url` and `linux` settings.
fn hello_linux(wheels_url: &str, linux: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let (tmp, dir) = copy_fixture("hello");
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    let text = text.replacen(
        "port = 8765\n",
        &format!("port = 8765\nno-index = true\nfind-links = [\"{wheels_url}/\"]\n"),
        1,
    );
    fs_err::write(
        &manifest,
        format!("{text}\n[package.metadata.pyship.linux]\n{linux}\n"),
    )
    .unwrap();
    (tmp, dir)
}

fn bundle_linux(dir: &Path, cache: &Path) -> String {
    require_tool("uv", "`pip install uv` (PyPI package `uv`)");
    let out = pyship(cache)
        .current_dir(dir)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["bundle", "--target", "linux", "--version", VERSION_ARG])
        .assert()
        .success();
    String::from_utf8_lossy(&out.get_output().stderr).into_owned()
}

/// (path, mode, is symlink) of every entry of a `.tar.gz`.
fn tar_entries(tarball: &Path) -> Vec<(String, u32, bool)> {
    let f = fs_err::File::open(tarball).unwrap();
    let mut a = tar::Archive::new(flate2::read::GzDecoder::new(f));
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.path().unwrap().to_string_lossy().into_owned(),
                e.header().mode().unwrap() & 0o7777,
                e.header().entry_type().is_symlink(),
            )
        })
        .collect()
}

/// Start `run.sh` of an unpacked bundle (from an unrelated cwd, with an
/// environment that has no Python of its own), wait for `/health`.
fn run_and_check_health(root: &Path) {
    let port = free_port();
    let cwd = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(root.join("run.sh"));
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HELLO_PORT", port.to_string())
        .current_dir(cwd.path());
    let running = Running::spawn(cmd);
    let health = wait_http(port, "/health", Duration::from_secs(90));
    let version = http_get(port, "/version");
    let (stdout, stderr) = running.stop();
    let (status, body) = health
        .unwrap_or_else(|| panic!("no answer on /health\nstdout:\n{stdout}\nstderr:\n{stderr}"));
    assert_eq!(status, 200, "{body}\n{stderr}");
    let (_, version) = version.expect("/version answers");
    assert!(version.contains("0.3.0rc1"), "{version}");
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: builds Linux bundles"
)]
fn linux_bundle_standalone_runs_from_another_dir() {
    let rt = pyship_e2e::pbs::runtime();
    let (_served, runtime_server) = pyship_e2e::pbs::serve(RUNTIME_FILE);
    let wheels = StaticServer::start(pyship_e2e::testdata::wheelhouse());
    let url = format!(
        "{}/cpython-{{version}}-test-x86_64-unknown-linux-gnu-install_only.tar.gz",
        runtime_server.url()
    );
    let (_tmp, dir) = hello_linux(&wheels.url(), &format!("runtime-url = \"{url}\""));
    let cache = tempfile::tempdir().unwrap();
    let stderr = bundle_linux(&dir, cache.path());
    let tarball = dir.join("dist").join(TARBALL);
    assert!(tarball.is_file(), "no {TARBALL}:\n{stderr}");
    // The first fetch pinned the runtime in pyship.lock.
    let lock = fs_err::read_to_string(dir.join("pyship.lock")).unwrap();
    assert!(lock.contains(&rt.sha256), "{lock}");

    // Same inputs, same bytes (the import check is cached on the rebuild);
    // the pinned, cached runtime needs no request.
    let first = sha256_file(&tarball);
    let before = runtime_server.requests();
    // Links left in dist/ under the names the build writes, pointing
    // outside it, and a killed run's empty temp file: the rebuild replaces
    // the links, writes nothing through them, and removes the temp file.
    let dist = dir.join("dist");
    let outside = tempfile::tempdir().unwrap();
    let sbom = TARBALL.replace(".tar.gz", ".cdx.json");
    for name in [TARBALL, sbom.as_str(), ".pyship.lock"] {
        let victim = outside.path().join(name);
        fs_err::write(&victim, "not the build's").unwrap();
        fs_err::remove_file(dist.join(name)).unwrap();
        std::os::unix::fs::symlink(&victim, dist.join(name)).unwrap();
    }
    let killed = dist.join(".pyship-tmp-Xy12Zw");
    fs_err::write(&killed, "").unwrap();
    fs_err::File::options()
        .write(true)
        .open(&killed)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(600))
        .unwrap();
    bundle_linux(&dir, cache.path());
    for name in [TARBALL, sbom.as_str()] {
        let m = fs_err::symlink_metadata(dist.join(name)).unwrap();
        assert!(m.is_file(), "{name} is still a link");
    }
    for e in fs_err::read_dir(outside.path()).unwrap() {
        let p = e.unwrap().path();
        assert_eq!(
            fs_err::read_to_string(&p).unwrap(),
            "not the build's",
            "written through a link: {}",
            p.display()
        );
    }
    assert!(!killed.exists(), "a killed run's temp file stayed");
    assert_eq!(
        sha256_file(&tarball),
        first,
        "rebuild is not byte-identical"
    );
    assert_eq!(
        runtime_server.requests(),
        before,
        "a pinned, cached runtime was downloaded again"
    );

    let entries = tar_entries(&tarball);
    assert!(
        entries.iter().all(|(p, ..)| p.starts_with("Hello-App/")),
        "{entries:?}"
    );
    let mode = |p: &str| {
        entries
            .iter()
            .find(|(n, ..)| n == p)
            .map(|(_, m, _)| *m)
            .unwrap_or_else(|| panic!("{p} missing from the tarball"))
    };
    for script in ["run.sh", "install-service.sh", "uninstall-service.sh"] {
        assert_eq!(mode(&format!("Hello-App/{script}")), 0o755, "{script}");
    }
    assert_eq!(mode("Hello-App/README.txt"), 0o644);
    mode("Hello-App/python/bin/python3");
    mode("Hello-App/app/src/hello_app/main.py");
    // uvicorn[standard]'s Linux extras, native builds for Linux.
    let sp = "Hello-App/python/lib/python3.11/site-packages/";
    for pkg in ["uvloop", "numpy", "pydantic_core"] {
        assert!(
            entries
                .iter()
                .any(|(n, ..)| n.starts_with(&format!("{sp}{pkg}/")) && n.ends_with(".so")),
            "no Linux build of {pkg}"
        );
    }
    assert!(
        !entries.iter().any(|(n, ..)| n.ends_with(".pyd")),
        "Windows files in a Linux bundle"
    );
    // The post-strip import check must not leave bytecode behind: with it, a
    // rebuild whose check is cached packs a different tree (not deterministic).
    let pycache: Vec<_> = entries
        .iter()
        .filter(|(n, ..)| n.starts_with(sp) && n.contains("__pycache__"))
        .take(3)
        .collect();
    assert!(
        pycache.is_empty(),
        "import check left bytecode: {pycache:?}"
    );

    // Unpack somewhere else: the bundled python loads its own libpython.
    let unpacked = tempfile::tempdir().unwrap();
    untar(&tarball, unpacked.path());
    let root = unpacked.path().join("Hello-App");
    let exe = fs_err::canonicalize(root.join("python/bin/python3")).unwrap();
    assert_libpython_inside(&exe, unpacked.path(), rt.host.shared_lib.is_some());
    run_and_check_health(&root);

    // The unit install-service.sh would write for this folder is valid.
    let out = Command::new(root.join("install-service.sh"))
        .arg("--print-unit")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let unit_file = unpacked.path().join("Hello-App.service");
    fs_err::write(&unit_file, &out.stdout).unwrap();
    systemd_verify(&unit_file);
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: builds Linux bundles"
)]
fn linux_bundle_venv_runs_on_the_build_machine() {
    let wheels = StaticServer::start(pyship_e2e::testdata::wheelhouse());
    let (_tmp, dir) = hello_linux(&wheels.url(), "runtime = \"venv\"");
    let cache = tempfile::tempdir().unwrap();
    let stderr = bundle_linux(&dir, cache.path());
    let tarball = dir.join("dist").join(TARBALL);
    assert!(tarball.is_file(), "no {TARBALL}:\n{stderr}");
    let unpacked = tempfile::tempdir().unwrap();
    untar(&tarball, unpacked.path());
    let root = unpacked.path().join("Hello-App");
    let readme = fs_err::read_to_string(root.join("README.txt")).unwrap();
    assert!(
        readme.contains("only runs on a machine where\nthe same Python sits at the same path"),
        "{readme}"
    );
    let cfg = fs_err::read_to_string(root.join("python/pyvenv.cfg")).unwrap();
    let home = cfg
        .lines()
        .find_map(|l| l.strip_prefix("home = "))
        .expect("pyvenv.cfg has home");
    assert!(
        readme.contains(home.trim()),
        "README does not name {home}:\n{readme}"
    );
    assert!(
        !root.join("python/bin/activate").exists(),
        "activate scripts hard-code the build path"
    );
    run_and_check_health(&root);

    // Another checkout of the same project at another path, sharing the
    // cache as a CI machine would: the same bytes, and no build path inside.
    let (_tmp2, dir2) = hello_linux(&wheels.url(), "runtime = \"venv\"");
    bundle_linux(&dir2, cache.path());
    let other = dir2.join("dist").join(TARBALL);
    for (checkout, tarball) in [(&dir, &tarball), (&dir2, &other)] {
        let bytes = gunzip(tarball);
        let build_path = checkout.display().to_string();
        assert!(
            !bytes
                .windows(build_path.len())
                .any(|w| w == build_path.as_bytes()),
            "{} holds its build path {build_path}",
            tarball.display()
        );
    }
    assert!(
        !cfg.contains(&dir.display().to_string()) && !cfg.contains("command"),
        "{cfg}"
    );
    assert_eq!(
        sha256_file(&tarball),
        sha256_file(&other),
        "two checkouts gave different venv tarballs"
    );
}

/// The uncompressed bytes of a `.tar.gz`.
fn gunzip(tarball: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(fs_err::File::open(tarball).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

mod service;
