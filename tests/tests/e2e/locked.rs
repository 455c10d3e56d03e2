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
use std::io::Write;
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

/// A pure-Python wheel `name-version` (module `name` with `VERSION`), for a
/// local test index.
fn make_wheel(dir: &Path, name: &str, version: &str) -> PathBuf {
    let path = dir.join(format!("{name}-{version}-py3-none-any.whl"));
    let mut w = zip::ZipWriter::new(fs_err::File::create(&path).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    let info = format!("{name}-{version}.dist-info");
    let files = [
        (
            format!("{name}/__init__.py"),
            format!("VERSION = {version:?}\n"),
        ),
        (
            format!("{info}/METADATA"),
            format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"),
        ),
        (
            format!("{info}/WHEEL"),
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
                .into(),
        ),
    ];
    let mut record = String::new();
    for (n, body) in &files {
        w.start_file(n, opts).unwrap();
        w.write_all(body.as_bytes()).unwrap();
        record.push_str(&format!("{n},,\n"));
    }
    record.push_str(&format!("{info}/RECORD,,\n"));
    w.start_file(format!("{info}/RECORD"), opts).unwrap();
    w.write_all(record.as_bytes()).unwrap();
    w.finish().unwrap();
    path
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

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: bundles both targets and runs the Linux one"
)]
fn uv_lock_is_what_every_target_ships() {
    require_uv();
    let m = mirrors();
    let (_t, dir) = locked_project(&m);
    let cache = tempfile::tempdir().unwrap();
    let out = cmd(&m, &dir, cache.path()).arg("bundle").output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("uv.lock"), "the lock in use is named:\n{err}");
    // PyPI has idna 3.21, six 1.17.0 and colorama 0.4.6: the lock's older
    // versions ship; the `tools` group ships, `dev` (pytest) never.
    let dist = dir.join("dist");
    assert_eq!(
        shipped(&dist.join(ZIP)),
        set(&[
            "colorama-0.4.5",
            "idna-3.6",
            "locked_app-0.1.0",
            "six-1.16.0"
        ])
    );
    assert_eq!(
        shipped(&dist.join(TARBALL)),
        set(&["idna-3.6", "locked_app-0.1.0", "six-1.16.0"])
    );
    let printed = run_linux(&dist.join(TARBALL), "Locked-App");
    assert_eq!(printed, "idna 3.6\nsix 1.16.0\ncolorama -\n");
    // uv.lock is the truth: pyship.lock pins no dependency.
    let lock = fs_err::read_to_string(dir.join("pyship.lock")).unwrap();
    assert!(!lock.contains("[deps"), "{lock}");
    // The SBOM takes each wheel's name, hash and download URL from the lock.
    let sbom: serde_json::Value = serde_json::from_slice(
        &fs_err::read(dist.join("Locked-App-v0.1.0-win-x64.cdx.json")).unwrap(),
    )
    .unwrap();
    let idna = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "idna")
        .expect("idna listed");
    let uv_lock = fs_err::read_to_string(dir.join("uv.lock")).unwrap();
    let sha = idna["hashes"][0]["content"].as_str().unwrap();
    assert!(
        uv_lock.contains(&format!("sha256:{sha}")),
        "the SBOM's idna hash {sha} is not the lock's"
    );
    let url = idna["externalReferences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "distribution")
        .expect("a distribution reference")["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        url.starts_with("https://files.pythonhosted.org/")
            && url.ends_with("idna-3.6-py3-none-any.whl"),
        "{url}"
    );
}

#[test]
fn a_changed_or_tampered_lock_fails_before_anything_ships() {
    require_uv();
    let m = mirrors();
    let cache = tempfile::tempdir().unwrap();

    // The pyproject edited after locking: the lock no longer matches.
    let (_t, dir) = locked_project(&m);
    let py = dir.join("pyproject.toml");
    let text = fs_err::read_to_string(&py).unwrap();
    fs_err::write(&py, text.replace("\"idna>=3.5\"", "\"idna>=3.5\", \"six\"")).unwrap();
    let out = cmd(&m, &dir, cache.path())
        .args(["bundle", "--target", "linux"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("uv.lock does not match") && err.contains("hint: run `uv lock`"),
        "{err}"
    );
    assert!(!err.contains("Installing"), "nothing installed:\n{err}");
    assert!(!dir.join("dist").join(TARBALL).exists());

    // A hash in the lock changed: the download does not match it.
    let (_t2, dir) = locked_project(&m);
    let lock = dir.join("uv.lock");
    let text = fs_err::read_to_string(&lock).unwrap();
    let good = "c05567e9c24a6b9faaa835c4821bad0590fbb9d5779e7caa6e1cc4978e7eb24f";
    assert!(text.contains(good), "the fixture locks idna 3.6's wheel");
    fs_err::write(&lock, text.replace(good, &format!("{}0", &good[..63]))).unwrap();
    let out = cmd(&m, &dir, cache.path())
        .args(["bundle", "--target", "linux"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Hash mismatch for `idna==3.6`"), "{err}");
    assert!(
        err.contains("hint: a downloaded file does not have the hash the lock records"),
        "{err}"
    );
    assert!(!dir.join("dist").join(TARBALL).exists());
}

/// A warm build of a uv.lock project (caches filled, with a fresh output
/// folder, then with it kept) starts no uv process at all, not even `uv
/// export`, and ships the cold build's bytes. The export is kept by what it
/// reads: the pyproject edited after locking (same lock) runs uv again,
/// which says the lock is stale.
#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: bundles for Linux four times"
)]
fn a_warm_uv_lock_build_runs_no_uv_and_a_stale_lock_is_still_refused() {
    require_uv();
    let m = mirrors();
    let (_t, dir) = locked_project(&m);
    let cache = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let tarball = dir.join("dist").join(TARBALL);
    let build = |log: &str| {
        let log = logs.path().join(log);
        let out = cmd(&m, &dir, cache.path())
            .env("PYSHIP_PROCESS_LOG", &log)
            .args(["bundle", "--target", "linux"])
            .output()
            .unwrap();
        (out, super::hybrid::programs_started(&log))
    };
    let (out, cold) = build("cold.log");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        cold.iter().filter(|p| *p == "uv").count() >= 2,
        "the cold build runs uv export and uv pip install: {cold:?}"
    );
    let cold_tgz = pyship_e2e::sha256_file(&tarball);
    fs_err::remove_dir_all(dir.join("dist")).unwrap();
    for log in ["warm-fresh.log", "warm-kept.log"] {
        let (out, warm) = build(log);
        assert!(out.status.success(), "{log}: {}", stderr(&out));
        assert!(
            !warm.iter().any(|p| p == "uv"),
            "{log}: a warm build started {warm:?}"
        );
        assert_eq!(
            pyship_e2e::sha256_file(&tarball),
            cold_tgz,
            "{log}: the tarball differs from the cold build's"
        );
    }

    let py = dir.join("pyproject.toml");
    let text = fs_err::read_to_string(&py).unwrap();
    fs_err::write(&py, text.replace("\"idna>=3.5\"", "\"idna>=3.5\", \"six\"")).unwrap();
    let (out, stale) = build("stale.log");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("uv.lock does not match") && err.contains("hint: run `uv lock`"),
        "{err}"
    );
    assert!(stale.iter().any(|p| p == "uv"), "uv ran again: {stale:?}");
}

#[test]
fn a_locked_package_without_a_wheel_for_the_target_is_named_with_the_wheels_it_has() {
    require_uv();
    let m = mirrors();
    let (_t, dir) = locked_project(&m);
    // uvloop publishes Linux and macOS wheels only.
    let py = dir.join("pyproject.toml");
    let text = fs_err::read_to_string(&py).unwrap();
    fs_err::write(
        &py,
        text.replace("\"idna>=3.5\"", "\"idna>=3.5\", \"uvloop==0.23.0\""),
    )
    .unwrap();
    let lock = Command::new("uv")
        .args(["lock", "-q"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(lock.status.success(), "{}", stderr(&lock));
    let cache = tempfile::tempdir().unwrap();
    let out = cmd(&m, &dir, cache.path())
        .args(["bundle", "--target", "windows"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("`uvloop` 0.23.0, locked in")
            && err.contains("has no wheel for x86_64-pc-windows-msvc (Python 3.11)")
            && err.contains(
                "uvloop-0.23.0-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl"
            ),
        "{err}"
    );
    assert!(
        err.contains("hint: a bundle installs binary wheels only"),
        "{err}"
    );
    assert!(!dir.join("dist").join(ZIP).exists());
}

/// The `locked` fixture without its uv.lock, depending on `tinydep` from a
/// local index (no PyPI), Linux only.
fn unlocked_project(m: &Mirrors, index: &Path) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = locked_project(m);
    fs_err::remove_file(dir.join("uv.lock")).unwrap();
    let py = dir.join("pyproject.toml");
    let text = fs_err::read_to_string(&py).unwrap();
    let start = text.find("dependencies = [").unwrap();
    let end = start + text[start..].find(']').unwrap() + 1;
    let text = format!(
        "{}dependencies = [\"tinydep\"]{}",
        &text[..start],
        &text[end..]
    );
    fs_err::write(&py, text).unwrap();
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap().replacen(
        "groups = [\"tools\"]\n",
        &format!("no-index = true\nfind-links = [\"{}\"]\n", index.display()),
        1,
    );
    fs_err::write(&manifest, text).unwrap();
    (tmp, dir)
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: bundles for Linux several times and releases"
)]
fn pyship_lock_pins_the_first_resolution_until_updated() {
    require_uv();
    let m = mirrors();
    let index = tempfile::tempdir().unwrap();
    make_wheel(index.path(), "tinydep", "1.0");
    let (_t, dir) = unlocked_project(&m, index.path());
    let cache = tempfile::tempdir().unwrap();
    let bundle = |extra: &[&str]| {
        cmd(&m, &dir, cache.path())
            .args(["bundle", "--target", "linux"])
            .args(extra)
            .output()
            .unwrap()
    };
    let tarball = dir.join("dist").join(TARBALL);
    let pyship_lock = dir.join("pyship.lock");

    // `--locked` before anything is pinned: the build would write the file.
    let out = bundle(&["--locked"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("--locked"), "{}", stderr(&out));
    assert!(!pyship_lock.exists());

    // The first build pins what it resolved.
    let out = bundle(&[]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Adding tinydep v1.0"), "{err}");
    let pinned = fs_err::read_to_string(&pyship_lock).unwrap();
    assert!(
        pinned.contains("[deps.linux]") && pinned.contains("name = \"tinydep\"\nversion = \"1.0\""),
        "{pinned}"
    );
    assert!(shipped(&tarball).contains("tinydep-1.0"));

    // A newer version on the index changes nothing: the pins ship, and
    // the file is as it was (`--locked` passes).
    make_wheel(index.path(), "tinydep", "1.1");
    let out = bundle(&["--locked"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("Resolving"), "{}", stderr(&out));
    assert!(shipped(&tarball).contains("tinydep-1.0"));
    assert_eq!(fs_err::read_to_string(&pyship_lock).unwrap(), pinned);

    // `update --dry-run` says what would change and writes nothing.
    let out = cmd(&m, &dir, cache.path())
        .args(["update", "--target", "linux", "--dry-run"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Updating tinydep v1.0 -> v1.1 (linux)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(fs_err::read_to_string(&pyship_lock).unwrap(), pinned);

    // The pyproject changes: --locked refuses, and so does `release` in CI.
    make_wheel(index.path(), "otherdep", "2.0");
    let py = dir.join("pyproject.toml");
    let text = fs_err::read_to_string(&py).unwrap();
    fs_err::write(
        &py,
        text.replace("[\"tinydep\"]", "[\"tinydep\", \"otherdep\"]"),
    )
    .unwrap();
    let out = bundle(&["--locked"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--locked:") && err.contains("pyship.lock would change"),
        "{err}"
    );
    let out = cmd(&m, &dir, cache.path())
        .env("CI", "true")
        .arg("release")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("pyship.lock would change"), "{err}");
    assert_eq!(fs_err::read_to_string(&pyship_lock).unwrap(), pinned);

    // A plain build adds the new requirement and keeps tinydep's pin.
    let out = bundle(&[]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Adding otherdep v2.0"), "{err}");
    assert!(!err.contains("Updating tinydep"), "{err}");
    assert!(shipped(&tarball).is_superset(&set(&["tinydep-1.0", "otherdep-2.0"])));

    // `update tinydep` moves it on purpose, and says so.
    let out = cmd(&m, &dir, cache.path())
        .args(["update", "tinydep"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("Updating tinydep v1.0 -> v1.1 (linux)"),
        "{err}"
    );
    let out = bundle(&["--locked"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(shipped(&tarball).contains("tinydep-1.1"));

    // A tampered hash in pyship.lock fails the install.
    let text = fs_err::read_to_string(&pyship_lock).unwrap();
    let sha = text
        .split("sha256 = \"")
        .nth(1)
        .and_then(|s| s.get(..64))
        .unwrap()
        .to_owned();
    let flipped = format!(
        "{}{}",
        &sha[..63],
        if sha.ends_with('0') { '1' } else { '0' }
    );
    fs_err::write(&pyship_lock, text.replace(&sha, &flipped)).unwrap();
    let out = bundle(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Hash mismatch"), "{err}");
}

/// One Cargo target dir for the PyO3 builds of every test (pyo3 compiles
/// once per test run); the hybrid tests share it.
fn shared_cargo_target() -> PathBuf {
    workspace_root().join("target/pyship-e2e/pyhash-target")
}

fn require_build_tools() {
    require_uv();
    require_tool("maturin", "`pip install maturin` (PyPI package `maturin`)");
    require_tool(
        "x86_64-w64-mingw32-gcc",
        "`apt-get install gcc-mingw-w64-x86-64` (Debian package `gcc-mingw-w64-x86-64`)",
    );
}

/// The `localpkg` fixture: no package index at all, so nothing can come
/// from one; the local Linux runtime.
fn localpkg_project(m: &Mirrors) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = copy_fixture("localpkg");
    let empty = dir.join("no-wheels");
    fs_err::create_dir_all(&empty).unwrap();
    append_manifest(
        &dir,
        &format!(
            "no-index = true\nfind-links = [\"no-wheels\"]\n\n[workspace.metadata.pyship.linux]\nruntime-url = \"{}\"\n",
            m.runtime_url()
        ),
    );
    (tmp, dir)
}

/// `uv lock` of the localpkg app: the local package as a directory source.
const LOCALPKG_UV_LOCK: &str = r#"version = 1
revision = 5
requires-python = ">=3.11"

[[package]]
name = "corelib"
source = { directory = "../core" }

[[package]]
name = "svc"
version = "1.0.0"
source = { virtual = "." }
dependencies = [
    { name = "corelib" },
]

[package.metadata]
requires-dist = [{ name = "corelib", directory = "../core" }]
"#;

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: maturin builds for both targets, runs them under wine"
)]
fn a_local_pyo3_package_is_built_from_source_for_both_targets() {
    require_build_tools();
    let m = mirrors();
    let (_t, dir) = localpkg_project(&m);
    let cache = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        cmd(&m, &dir, cache.path())
            .env("CARGO_TARGET_DIR", shared_cargo_target())
            .args(args)
            .output()
            .unwrap()
    };
    let plan = run(&["plan"]);
    let text = String::from_utf8_lossy(&plan.stdout).into_owned();
    assert!(
        text.contains("built from source: corelib"),
        "{text}{}",
        stderr(&plan)
    );
    let out = run(&["bundle", "--version", "v1.0.0"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    for triple in ["x86_64-pc-windows-gnu", "x86_64-unknown-linux-gnu"] {
        assert!(
            err.contains(&format!("corelib wheel for {triple}")),
            "built for {triple}:\n{err}"
        );
    }
    let dist = dir.join("dist");
    let zip = dist.join("Local-Core-v1.0.0-win-x64.zip");
    let tarball = dist.join("Local-Core-v1.0.0-linux-x64.tar.gz");
    assert_eq!(shipped(&zip), set(&["corelib-0.7.0", "svc-1.0.0"]));
    assert_eq!(shipped(&tarball), set(&["corelib-0.7.0", "svc-1.0.0"]));
    let files = pyship_e2e::testdata::zip_files(&zip);
    assert!(
        files
            .keys()
            .any(|f| f.ends_with("site-packages/corelib/_corelib.pyd")),
        "{:?}",
        files
            .keys()
            .filter(|f| f.contains("corelib"))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        run_linux(&tarball, "Local-Core"),
        "svc 1.0.0\ncorelib 0.7.0\nbyte_sum 669 linux\n"
    );
    // The Windows bundle runs its Rust core under wine.
    let unpacked = tempfile::tempdir().unwrap();
    let mut z = zip::ZipArchive::new(fs_err::File::open(&zip).unwrap()).unwrap();
    z.extract(unpacked.path()).unwrap();
    let prefix = pyship_e2e::wine::WinePrefix::new();
    let root = unpacked.path().join("Local-Core");
    let out = prefix
        .command(root.join("python/python.exe"))
        .args(["-m", "svc"])
        .current_dir(&root)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    prefix.kill();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).replace('\r', ""),
        "svc 1.0.0\ncorelib 0.7.0\nbyte_sum 669 win32\n"
    );

    // The stamp writes the app's version only: the local package's crate
    // (the workspace's only member) keeps its own, and --check agrees. A
    // uv.lock (naming the package as a directory source) keeps the app's
    // entry in step, as `uv version` would.
    fs_err::write(dir.join("app/uv.lock"), LOCALPKG_UV_LOCK).unwrap();
    let core_toml = fs_err::read_to_string(dir.join("core/Cargo.toml")).unwrap();
    let cargo_lock = fs_err::read_to_string(dir.join("Cargo.lock")).unwrap();
    let out = run(&["version", "v2.0.0", "--stamp"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let py = fs_err::read_to_string(dir.join("app/pyproject.toml")).unwrap();
    assert!(py.contains("version = \"2.0.0\""), "{py}");
    assert_eq!(
        fs_err::read_to_string(dir.join("core/Cargo.toml")).unwrap(),
        core_toml
    );
    assert_eq!(
        fs_err::read_to_string(dir.join("Cargo.lock")).unwrap(),
        cargo_lock
    );
    let out = run(&["version", "--check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        fs_err::read_to_string(dir.join("app/uv.lock")).unwrap(),
        LOCALPKG_UV_LOCK.replace("version = \"1.0.0\"", "version = \"2.0.0\"")
    );

    // The lock is honoured and its directory entry is the local build.
    let out = run(&["bundle", "--target", "linux", "--version", "v2.0.0"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("app/uv.lock"), "{err}");
    let tarball = dist.join("Local-Core-v2.0.0-linux-x64.tar.gz");
    assert_eq!(shipped(&tarball), set(&["corelib-0.7.0", "svc-2.0.0"]));
    assert_eq!(
        run_linux(&tarball, "Local-Core"),
        "svc 2.0.0\ncorelib 0.7.0\nbyte_sum 669 linux\n"
    );
}

/// `unshare -rn`: a command in a network namespace of its own, with no
/// route anywhere (not even to this machine's loopback servers).
fn no_network(cache: &Path) -> Command {
    let probe = Command::new("unshare")
        .args(["-rn", "true"])
        .status()
        .expect("unshare (Debian package `util-linux`) runs");
    assert!(
        probe.success(),
        "this test needs `unshare -rn` (user and network namespaces) to cut the network"
    );
    let mut c = Command::new("unshare");
    c.arg("-rn").arg(bin()).arg("pyship");
    for v in pyship_build::env::ALL {
        if *v != pyship_build::env::CARGO_HOME {
            c.env_remove(v);
        }
    }
    c.env("PYSHIP_CACHE_DIR", cache)
        .env("NO_COLOR", "1")
        .env("CARGO_TERM_COLOR", "never");
    c
}

/// The artifacts of a build in `dist`, by name, with their SHA-256.
fn artifact_hashes(dist: &Path, names: &[&str]) -> Vec<(String, String)> {
    names
        .iter()
        .map(|n| {
            let p = dist.join(n);
            assert!(p.is_file(), "no {}", p.display());
            ((*n).to_owned(), sha256_file(&p))
        })
        .collect()
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: bundles and installers, online and offline"
)]
fn fetch_then_every_build_without_network_gives_the_same_bytes() {
    require_uv();
    require_tool("makensis", "`apt-get install nsis` (Debian package `nsis`)");
    // Runtimes from file:// mirrors, so the same URLs work in both builds.
    let (mirror, _python) = pyship_e2e::testdata::python_mirror();
    let (runtime_dir, _runtime) = pyship_e2e::pbs::serve(RUNTIME_FILE);
    let runtime_url = format!(
        "file://{}/cpython-{{version}}-test-x86_64-unknown-linux-gnu-install_only.tar.gz",
        runtime_dir.path().display()
    );
    let project = |path: &Path| {
        copy_dir(&workspace_root().join("fixtures/locked"), path);
        append_manifest(
            path,
            &format!("\n[package.metadata.pyship.linux]\nruntime-url = \"{runtime_url}\"\n"),
        );
    };
    let names = [
        ZIP,
        TARBALL,
        "Locked-App-v0.1.0-setup.exe",
        "Locked-App-v0.1.0-win-x64.cdx.json",
        "Locked-App-v0.1.0-linux-x64.cdx.json",
    ];
    let mirror_url = format!("file://{}", mirror.path().display());
    // Where the release goes: every build bundles it in the updater's
    // settings, so every build is told.
    let gitea = pyship_e2e::gitea::GiteaServer::start();
    let release_env = [
        ("GITHUB_SERVER_URL", gitea.url()),
        ("GITHUB_REPOSITORY", pyship_e2e::gitea::REPO.to_owned()),
    ];

    // The reference: an ordinary online build.
    let a = tempfile::tempdir().unwrap();
    let dir_a = a.path().join("locked");
    project(&dir_a);
    let cache_a = tempfile::tempdir().unwrap();
    for args in [&["bundle"][..], &["installer"]] {
        let out = pyship(cache_a.path())
            .current_dir(&dir_a)
            .env("PYSHIP_PYTHON_MIRROR", &mirror_url)
            .env("UV_CACHE_DIR", cache_a.path().join("uv-own"))
            .envs(release_env.clone())
            .arg("pyship")
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let reference = artifact_hashes(&dir_a.join("dist"), &names);

    // Elsewhere: fetch into a folder, then build with no network at all.
    let b = tempfile::tempdir().unwrap();
    let dir_b = b.path().join("elsewhere/locked");
    project(&dir_b);
    let fetched = b.path().join("fetched");
    let scratch_cache = tempfile::tempdir().unwrap();
    let out = pyship(scratch_cache.path())
        .current_dir(&dir_b)
        .env("PYSHIP_PYTHON_MIRROR", &mirror_url)
        .args(["pyship", "fetch", "--into"])
        .arg(&fetched)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("PYSHIP_CACHE_DIR="), "{err}");
    assert!(
        fetched.join("uv").is_dir(),
        "uv's downloads are in the folder"
    );
    for args in [&["bundle", "--offline"][..], &["installer", "--offline"]] {
        let out = no_network(&fetched)
            .current_dir(&dir_b)
            .env("PYSHIP_PYTHON_MIRROR", &mirror_url)
            .envs(release_env.clone())
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}:\n{}", stderr(&out));
    }
    assert_eq!(artifact_hashes(&dir_b.join("dist"), &names), reference);

    // Without `fetch`, the same offline build fails, naming what is missing.
    let (_t, dir_c) = locked_project_at_file_mirrors(&runtime_url);
    let empty = tempfile::tempdir().unwrap();
    let out = no_network(empty.path())
        .current_dir(&dir_c)
        .env("PYSHIP_PYTHON_MIRROR", &mirror_url)
        .env("UV_CACHE_DIR", empty.path().join("uv-own"))
        .args(["bundle", "--target", "linux", "--offline"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("hint:"), "{err}");

    // `release --offline`: only the release server (on this machine) is
    // reachable; any other connection goes to a proxy that refuses it.
    let out = pyship(&fetched)
        .current_dir(&dir_b)
        .env("PYSHIP_PYTHON_MIRROR", &mirror_url)
        .envs(release_env.clone())
        .env("DEPLOY_TOKEN", pyship_e2e::gitea::WRITE_TOKEN)
        .env("PYSHIP_RETRY_BASE_MS", "5")
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("ALL_PROXY", "http://127.0.0.1:9")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .args(["pyship", "release", "--offline"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let rel = gitea
        .release(pyship_e2e::gitea::REPO, "v0.1.0")
        .expect("the release exists");
    for (name, sha) in &reference {
        let asset = rel
            .assets
            .iter()
            .find(|a| &a.name == name)
            .unwrap_or_else(|| panic!("{name} not published"));
        assert_eq!(&hex_sha256(&asset.data), sha, "{name}");
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

fn locked_project_at_file_mirrors(runtime_url: &str) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = copy_fixture("locked");
    append_manifest(
        &dir,
        &format!("\n[package.metadata.pyship.linux]\nruntime-url = \"{runtime_url}\"\n"),
    );
    (tmp, dir)
}

/// Commit `dir` as one commit at a fixed time (the same tree and time give
/// the same commit, so two checkouts agree on HEAD's commit time).
fn commit_at(dir: &Path, date: &str) {
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", "-A"],
        &["commit", "-q", "-m", "fixture"],
        &["tag", "v0.2.0"],
    ] {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "test")
            .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
            .env("GIT_COMMITTER_NAME", "test")
            .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
            .env("GIT_AUTHOR_DATE", date)
            .env("GIT_COMMITTER_DATE", date)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
    }
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: two cold releases with maturin builds"
)]
fn hybrid_artifacts_are_the_same_bytes_from_two_cold_builds_in_two_paths() {
    require_build_tools();
    require_tool("makensis", "`apt-get install nsis` (Debian package `nsis`)");
    let m = mirrors();
    let gitea = pyship_e2e::gitea::GiteaServer::start();
    let wheels = pyship_e2e::testdata::wheelhouse();
    let checkout = |path: &Path| {
        copy_dir(&workspace_root().join("fixtures/pyhash"), path);
        append_manifest(
            path,
            &format!(
                "no-index = true\nfind-links = [\"{}\"]\n\n[workspace.metadata.pyship.linux]\nruntime-url = \"{}\"\n",
                wheels.display(),
                m.runtime_url()
            ),
        );
        fs_err::write(path.join(".gitignore"), "dist/\ntarget/\npyship.lock\n").unwrap();
        commit_at(path, "2024-05-06T07:08:09Z");
    };
    let names = [
        "PyHash-v0.2.0-win-x64.zip",
        "PyHash-v0.2.0-linux-x64.tar.gz",
        "PyHash-v0.2.0-setup.exe",
        "PyHash-v0.2.0-win-x64.cdx.json",
        "PyHash-v0.2.0-linux-x64.cdx.json",
    ];
    // Cold: each build has its own pyship cache, uv cache and Cargo target
    // folder (the project's own `target/`); no SOURCE_DATE_EPOCH anywhere.
    let run = |dir: &Path, cache: &Path, args: &[&str]| {
        let out = pyship(cache)
            .current_dir(dir)
            .env_remove("CARGO_TARGET_DIR")
            .env("UV_CACHE_DIR", cache.join("uv-own"))
            .env("PYSHIP_PYTHON_MIRROR", m.python.url())
            .env("GITHUB_SERVER_URL", gitea.url())
            .env("GITHUB_REPOSITORY", pyship_e2e::gitea::REPO)
            .env("DEPLOY_TOKEN", pyship_e2e::gitea::WRITE_TOKEN)
            .env("PYSHIP_RETRY_BASE_MS", "5")
            .arg("pyship")
            .args(args)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert!(
            out.status.success(),
            "{args:?} in {}:\n{err}",
            dir.display()
        );
        err
    };

    // One checkout releases.
    let a = tempfile::tempdir().unwrap();
    let dir_a = a.path().join("pyhash");
    checkout(&dir_a);
    let cache_a = tempfile::tempdir().unwrap();
    let err = run(&dir_a, cache_a.path(), &["release"]);
    assert!(err.contains("Building pyhash wheel"), "{err}");
    let released = artifact_hashes(&dir_a.join("dist"), &names);

    // Another, deeper in the file system, builds each artifact in a job of
    // its own, as a per-target CI would.
    let b = tempfile::tempdir().unwrap();
    let dir_b = b.path().join("a/much/longer/path/to/the/checkout/pyhash");
    checkout(&dir_b);
    let cache_b = tempfile::tempdir().unwrap();
    run(&dir_b, cache_b.path(), &["bundle", "--target", "windows"]);
    run(&dir_b, cache_b.path(), &["bundle", "--target", "linux"]);
    run(&dir_b, cache_b.path(), &["installer"]);
    let separate = artifact_hashes(&dir_b.join("dist"), &names);

    // On a difference, name the zip entries that differ.
    let zip = "dist/PyHash-v0.2.0-win-x64.zip";
    let (fa, fb) = (
        pyship_e2e::testdata::zip_files(&dir_a.join(zip)),
        pyship_e2e::testdata::zip_files(&dir_b.join(zip)),
    );
    let differ: Vec<&String> = fa
        .keys()
        .chain(fb.keys())
        .filter(|k| fa.get(*k) != fb.get(*k))
        .collect();
    assert!(differ.is_empty(), "zip entries that differ: {differ:?}");
    eprintln!("SHA-256 of the hybrid fixture's artifacts (release in one path, per-target jobs in another):");
    for ((name, sha_a), (_, sha_b)) in released.iter().zip(&separate) {
        eprintln!("  {name}  {sha_a}  {sha_b}");
    }
    assert_eq!(separate, released);
    // What was published is what both built.
    let rel = gitea
        .release(pyship_e2e::gitea::REPO, "v0.2.0")
        .expect("the release exists");
    for (name, sha) in &released {
        let asset = rel.assets.iter().find(|a| &a.name == name).unwrap();
        assert_eq!(&hex_sha256(&asset.data), sha, "{name}");
    }
}

/// Every `*.dist-info` folder under `dir`, by its folder name.
fn dist_infos_under(dir: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs_err::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(stem) = name.strip_suffix(".dist-info") {
                    found.insert(stem.to_owned());
                } else {
                    stack.push(e.path());
                }
            }
        }
    }
    found
}

/// `uv` in `dir`, which must succeed.
fn uv_in(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("uv")
        .args(args)
        .current_dir(dir)
        .env_remove("UV_CACHE_DIR")
        .output()
        .unwrap();
    assert!(out.status.success(), "uv {args:?}: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A uv workspace as real repositories have them, locked by `uv lock`
/// against PyPI: a virtual root with a `dev` group (pytest), the app as a
/// member (its Cargo.toml beside its pyproject) and a second member the app
/// does not depend on (its `six` must not ship). The app declares extras
/// (`net`, configured; `unused`, not), a `dev` group (never shipped), a
/// Windows-only marker, a marker false for the target's Python, and a lock
/// forked by Python version (two `packaging` pins), and a marker on the
/// patch version (true for the bundles' 3.11.9, false for 3.11.0). Versions
/// pinned older than PyPI's newest (`uv lock -P`): idna 3.6, certifi 2024.2.2.
fn uv_workspace(m: &Mirrors) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::Builder::new()
        .prefix("pyship-e2e-ws-")
        .tempdir()
        .unwrap();
    let root = tmp.path().join("repo");
    let app = root.join("apps/wsapp");
    let other = root.join("libs/other");
    fs_err::create_dir_all(app.join("src/wsapp")).unwrap();
    fs_err::create_dir_all(&other).unwrap();
    fs_err::write(
        root.join("pyproject.toml"),
        "[tool.uv.workspace]\nmembers = [\"apps/*\", \"libs/*\"]\n\n[dependency-groups]\ndev = [\"pytest\"]\n",
    )
    .unwrap();
    fs_err::write(
        app.join("pyproject.toml"),
        r#"[project]
name = "wsapp"
version = "0.1.0"
requires-python = ">=3.8"
dependencies = [
    "idna>=3.5",
    "colorama>=0.4; sys_platform == 'win32'",
    "tomli>=2; python_version < '3.11'",
    "packaging==24.0; python_version < '3.10'",
    "packaging==24.2; python_version >= '3.10'",
    "sniffio==1.3.0; python_full_version >= '3.11.5'",
]

[project.optional-dependencies]
net = ["certifi"]
unused = ["attrs"]

[dependency-groups]
dev = ["iniconfig"]
"#,
    )
    .unwrap();
    fs_err::write(
        other.join("pyproject.toml"),
        "[project]\nname = \"other\"\nversion = \"0.1.0\"\nrequires-python = \">=3.8\"\ndependencies = [\"six\"]\n",
    )
    .unwrap();
    fs_err::write(
        app.join("Cargo.toml"),
        format!(
            r#"[package]
name = "wsapp"
version = "0.1.0"
edition = "2021"
publish = false

[package.metadata.pyship]
name = "WS App"
module = "wsapp"
extras = ["net"]

[package.metadata.pyship.linux]
runtime-url = "{}"
"#,
            m.runtime_url()
        ),
    )
    .unwrap();
    fs_err::create_dir_all(app.join("src")).unwrap();
    fs_err::write(app.join("src/main.rs"), "fn main() {}\n").unwrap();
    fs_err::write(app.join("src/wsapp/__init__.py"), "").unwrap();
    fs_err::write(
        app.join("src/wsapp/__main__.py"),
        "import importlib.metadata as m\nfor n in ('idna', 'certifi', 'packaging', 'colorama', 'six'):\n    try:\n        print(n, m.version(n))\n    except m.PackageNotFoundError:\n        print(n, '-')\n",
    )
    .unwrap();
    uv_in(&root, &["lock", "-q"]);
    uv_in(
        &root,
        &["lock", "-q", "-P", "idna==3.6", "-P", "certifi==2024.2.2"],
    );
    (tmp, root, app)
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: bundles both targets"
)]
fn a_workspace_uv_lock_with_extras_groups_markers_and_forks_ships_the_apps_locked_set() {
    require_uv();
    let m = mirrors();
    let (_t, root, app) = uv_workspace(&m);
    let lock = fs_err::read_to_string(root.join("uv.lock")).unwrap();
    for entry in [
        "name = \"idna\"\nversion = \"3.6\"",
        "name = \"certifi\"\nversion = \"2024.2.2\"",
        "name = \"packaging\"\nversion = \"24.0\"",
        "name = \"packaging\"\nversion = \"24.2\"",
        "name = \"pytest\"",
        "name = \"attrs\"",
        "name = \"six\"",
    ] {
        assert!(lock.contains(entry), "the workspace lock has {entry}");
    }
    let cache = tempfile::tempdir().unwrap();
    let out = cmd(&m, &app, cache.path()).arg("bundle").output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&root.join("uv.lock").display().to_string()),
        "the workspace's lock is the one in use:\n{err}"
    );
    let dist = app.join("dist");
    // Not shipped: the root's and the app's dev groups (pytest, iniconfig),
    // the unconfigured extra (attrs), the other member's six, tomli (for
    // Python < 3.11), packaging 24.0 (the lock's fork for Python < 3.10).
    assert_eq!(
        shipped(&dist.join("WS-App-v0.1.0-win-x64.zip")),
        set(&[
            "certifi-2024.2.2",
            "colorama-0.4.6",
            "idna-3.6",
            "packaging-24.2",
            "sniffio-1.3.0",
            "wsapp-0.1.0"
        ])
    );
    let tarball = dist.join("WS-App-v0.1.0-linux-x64.tar.gz");
    assert_eq!(
        shipped(&tarball),
        set(&[
            "certifi-2024.2.2",
            "idna-3.6",
            "packaging-24.2",
            "sniffio-1.3.0",
            "wsapp-0.1.0"
        ])
    );
    assert_eq!(
        run_linux(&tarball, "WS-App"),
        "idna 3.6\ncertifi 2024.2.2\npackaging 24.2\ncolorama -\nsix -\n"
    );
    // The lock was only read.
    assert_eq!(fs_err::read_to_string(root.join("uv.lock")).unwrap(), lock);

    // An extra the app does not declare is named before uv runs.
    let manifest = app.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    fs_err::write(
        &manifest,
        text.replace("extras = [\"net\"]", "extras = [\"nett\"]"),
    )
    .unwrap();
    let out = cmd(&m, &app, cache.path())
        .args(["bundle", "--target", "linux"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("extra `nett` is not in [project.optional-dependencies]"),
        "{err}"
    );
    fs_err::write(&manifest, text).unwrap();

    // Another member's edit leaves the app's lock entries as they were,
    // but the lock is stale for the workspace as a whole: refused, with
    // the hint, the last good tarball untouched.
    let before = sha256_file(&tarball);
    let other = root.join("libs/other/pyproject.toml");
    let t = fs_err::read_to_string(&other).unwrap();
    fs_err::write(&other, t.replace("[\"six\"]", "[\"six\", \"attrs\"]")).unwrap();
    let out = cmd(&m, &app, cache.path())
        .args(["bundle", "--target", "linux"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("hint: run `uv lock`"), "{err}");
    assert_eq!(sha256_file(&tarball), before);
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: bundles both targets"
)]
fn a_pylock_toml_is_read_like_uv_lock_and_a_wrong_hash_installs_nothing() {
    require_uv();
    let m = mirrors();
    // The fixture's uv.lock exported as PEP 751 (what the bundle ships:
    // the `tools` group, no dev), then uv.lock removed.
    let make = || {
        let (t, dir) = locked_project(&m);
        let text = uv_in(
            &dir,
            &[
                "export",
                "--format",
                "pylock.toml",
                "--frozen",
                "--no-emit-project",
                "--no-default-groups",
                "--group",
                "tools",
                "--quiet",
            ],
        );
        fs_err::write(dir.join("pylock.toml"), text).unwrap();
        fs_err::remove_file(dir.join("uv.lock")).unwrap();
        (t, dir)
    };
    let (_t, dir) = make();
    let cache = tempfile::tempdir().unwrap();
    let out = cmd(&m, &dir, cache.path()).arg("bundle").output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("pylock.toml"), "{err}");
    let dist = dir.join("dist");
    assert_eq!(
        shipped(&dist.join(ZIP)),
        set(&[
            "colorama-0.4.5",
            "idna-3.6",
            "locked_app-0.1.0",
            "six-1.16.0"
        ])
    );
    assert_eq!(
        shipped(&dist.join(TARBALL)),
        set(&["idna-3.6", "locked_app-0.1.0", "six-1.16.0"])
    );
    let lock = fs_err::read_to_string(dir.join("pyship.lock")).unwrap();
    assert!(!lock.contains("[deps"), "{lock}");

    // six's hash changed in the lock (idna's stays good): refused, and not
    // even idna or the app reach the bundle tree.
    let (_t2, dir) = make();
    let pylock = dir.join("pylock.toml");
    let text = fs_err::read_to_string(&pylock).unwrap();
    let six = "8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254";
    assert!(text.contains(six), "the export has six 1.16.0's wheel hash");
    fs_err::write(&pylock, text.replace(six, &"0".repeat(64))).unwrap();
    let out = cmd(&m, &dir, cache.path())
        .args(["bundle", "--target", "linux"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Hash mismatch for `six==1.16.0`"), "{err}");
    let dists = dist_infos_under(&dir.join("dist"));
    assert!(
        !dists.iter().any(|d| d.starts_with("six-")
            || d.starts_with("idna-")
            || d.starts_with("locked_app-")),
        "{dists:?}"
    );
    assert!(!dir.join("dist").join(TARBALL).exists());

    // A pylock.toml whose package comes from a VCS checkout is refused
    // before uv runs, naming the package.
    let (_t3, dir) = make();
    let pylock = dir.join("pylock.toml");
    let mut text = fs_err::read_to_string(&pylock).unwrap();
    text.push_str("\n[[packages]]\nname = \"evil\"\nversion = \"1.0\"\nvcs = { type = \"git\", url = \"https://example.invalid/evil.git\", commit-id = \"0000000000000000000000000000000000000000\" }\n");
    fs_err::write(&pylock, text).unwrap();
    let out = cmd(&m, &dir, cache.path())
        .args(["bundle", "--target", "linux"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("`evil` comes from a VCS checkout") && !err.contains("Installing"),
        "{err}"
    );
}
