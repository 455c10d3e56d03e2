//! `cargo pyship bundle --target windows`, end to end: a python.org-style
//! mirror and a wheel index on loopback servers, the hello fixture bundled,
//! unzipped, and its FastAPI app run under wine.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::*;
use pyship_e2e::http::StaticServer;
use pyship_e2e::wine::{free_port, http_get, wait_http, Running, WinePrefix};

const EMBED: &str = "python-3.11.9-embed-amd64.zip";
const VERSION_ARG: &str = "v0.3.0-rc.1";
const ZIP_NAME: &str = "Hello-App-v0.3.0-rc.1-win-x64.zip";

/// A directory laid out like the python.org mirror, holding `zip` as 3.11.9's embeddable zip.
fn mirror_dir(zip: &Path) -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("temp dir");
    fs_err::create_dir_all(d.path().join("3.11.9")).unwrap();
    fs_err::copy(zip, d.path().join("3.11.9").join(EMBED)).unwrap();
    d
}

/// The test data's embeddable CPython served on loopback as a python.org-style
/// mirror (the temp dir must outlive the server).
fn python_mirror() -> (tempfile::TempDir, StaticServer) {
    let root = mirror_dir(&pyship_e2e::testdata::embed_python_dir().join(EMBED));
    let server = StaticServer::start(root.path());
    (root, server)
}

/// The hello fixture, configured to take wheels only from `wheels_url`.
fn hello(wheels_url: &str, extra: &str) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = copy_fixture("hello");
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    let text = text.replacen(
        "port = 8765\n",
        &format!("port = 8765\nno-index = true\nfind-links = [\"{wheels_url}/\"]\n{extra}"),
        1,
    );
    fs_err::write(&manifest, text).unwrap();
    (tmp, dir)
}

fn bundle_cmd(dir: &Path, cache: &Path, mirror: &str) -> assert_cmd::Command {
    require_tool("uv", "`pip install uv` (PyPI package `uv`)");
    let mut cmd = pyship(cache);
    cmd.current_dir(dir)
        .env("PYSHIP_PYTHON_MIRROR", mirror)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["bundle", "--target", "windows", "--version", VERSION_ARG]);
    cmd
}

fn zip_names(zip: &Path) -> Vec<String> {
    let z = zip::ZipArchive::new(fs_err::File::open(zip).unwrap()).unwrap();
    z.file_names()
        .map(|n| n.expect("utf-8 name").into_owned())
        .collect()
}

fn unzip(zip: &Path, dest: &Path) {
    let mut z = zip::ZipArchive::new(fs_err::File::open(zip).unwrap()).unwrap();
    for i in 0..z.len() {
        let mut e = z.by_index(i).unwrap();
        let path = dest.join(e.enclosed_name().expect("safe entry name"));
        if e.is_dir() {
            fs_err::create_dir_all(&path).unwrap();
        } else {
            fs_err::create_dir_all(path.parent().unwrap()).unwrap();
            let mut buf = Vec::new();
            e.read_to_end(&mut buf).unwrap();
            fs_err::write(&path, buf).unwrap();
        }
    }
}

fn has_pyd(names: &[String], package: &str) -> bool {
    let prefix = format!("Hello-App/python/Lib/site-packages/{package}/");
    names
        .iter()
        .any(|n| n.starts_with(&prefix) && n.ends_with(".pyd"))
}

/// Start `program args` under wine in `root` with `HELLO_PORT` set, require a
/// 200 from /health, run `then(port)` while it serves, then stop the prefix's
/// processes (the app's pipes close only when it exits).
fn serve<T>(
    prefix: &WinePrefix,
    root: &Path,
    program: &Path,
    args: &[&str],
    what: &str,
    then: impl FnOnce(u16) -> T,
) -> T {
    let port = free_port();
    let mut cmd = prefix.command(program);
    cmd.args(args)
        .env("HELLO_PORT", port.to_string())
        .current_dir(root);
    let running = Running::spawn(cmd);
    let health = wait_http(port, "/health", Duration::from_secs(180));
    let result = then(port);
    prefix.kill();
    let (so, se) = running.stop();
    let (status, body) = health
        .unwrap_or_else(|| panic!("{what} never served /health\nstdout:\n{so}\nstderr:\n{se}"));
    assert_eq!(status, 200, "{what}: {body}");
    result
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: a first-run bundle under wine"
)]
fn windows_bundle_runs_under_wine_and_reports_stamped_version() {
    let (_mirror_root, mirror) = python_mirror();
    let wheels = StaticServer::start(pyship_e2e::testdata::wheelhouse());
    let (_tmp, dir) = hello(&wheels.url(), "");
    let cache = tempfile::tempdir().unwrap();

    let out = bundle_cmd(&dir, cache.path(), &mirror.url())
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    let zip = dir.join("dist").join(ZIP_NAME);
    assert!(zip.is_file(), "no {ZIP_NAME}:\n{stderr}");
    // The summary: artifact, size, packages, time per stage.
    assert!(
        stderr.contains(ZIP_NAME) && stderr.contains("MiB") && stderr.contains("packages"),
        "{stderr}"
    );
    assert!(
        stderr.contains("deps ") && stderr.contains("archive "),
        "{stderr}"
    );

    // First fetch recorded the hash in pyship.lock.
    let lock = fs_err::read_to_string(dir.join("pyship.lock")).unwrap();
    assert!(
        lock.contains(&sha256_file(
            &pyship_e2e::testdata::embed_python_dir().join(EMBED)
        )),
        "{lock}"
    );

    // One top-level folder; uvicorn[standard]'s Windows builds, no uvloop.
    let names = zip_names(&zip);
    assert!(
        names.iter().all(|n| n.starts_with("Hello-App/")),
        "{names:?}"
    );
    for pkg in ["watchfiles", "websockets", "httptools"] {
        assert!(
            has_pyd(&names, pkg),
            "no Windows build of {pkg} in the bundle"
        );
    }
    // (uvicorn's own `uvicorn/loops/uvloop.py` is fine: the uvloop package is not.)
    let sp = "Hello-App/python/Lib/site-packages/";
    assert!(
        !names.iter().any(|n| n.starts_with(&format!("{sp}uvloop"))),
        "uvloop in a Windows bundle"
    );
    assert!(
        !names.iter().any(|n| n.contains("site-packages/bin/")),
        "uv's bin/ left in"
    );
    assert!(
        !names.iter().any(|n| n.ends_with("site-packages/.lock")),
        "uv's .lock left in"
    );
    for f in [
        "Hello-App/scripts/start-hidden.vbs",
        "Hello-App/scripts/start.bat",
        "Hello-App/python/python.exe",
        "Hello-App/app/src/hello_app/main.py",
        "Hello-App/python/Lib/site-packages/hello_app-0.3.0rc1.dist-info/METADATA",
    ] {
        assert!(names.iter().any(|n| n == f), "{f} missing");
    }

    // Same inputs, same bytes; the pinned, cached runtime needs no request.
    let first = sha256_file(&zip);
    let before = mirror.requests();
    bundle_cmd(&dir, cache.path(), &mirror.url())
        .assert()
        .success();
    assert_eq!(sha256_file(&zip), first, "rebuild is not byte-identical");
    assert_eq!(
        mirror.requests(),
        before,
        "a pinned, cached runtime was downloaded again"
    );

    // Unzip and run under wine.
    let unpacked = tempfile::tempdir().unwrap();
    unzip(&zip, unpacked.path());
    let root = unpacked.path().join("Hello-App");
    let pth = fs_err::read_to_string(root.join("python/python311._pth")).unwrap();
    assert!(
        pth.contains("\nimport site")
            && pth.contains("Lib\\site-packages")
            && pth.contains("..\\app\\src"),
        "{pth}"
    );

    let prefix = WinePrefix::new();
    let python = root.join("python/python.exe");
    let version = serve(
        &prefix,
        &root,
        &python,
        &["-m", "hello_app"],
        "python.exe -m hello_app",
        |port| http_get(port, "/version"),
    );
    let (status, body) = version.expect("/version answered");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON from /version");
    assert_eq!(
        v["version"], "0.3.0rc1",
        "importlib.metadata.version in the bundle: {body}"
    );
    assert_eq!(v["platform"], "win32", "{body}");
    assert_eq!(v["python"], "3.11.9", "{body}");

    // The hidden launcher (what the shortcuts run with launcher = "vbs"), the
    // console launcher, and pythonw.exe (launcher = "pythonw") serve it too.
    let wscript = Path::new("wscript");
    serve(
        &prefix,
        &root,
        wscript,
        &["scripts\\start-hidden.vbs"],
        "start-hidden.vbs",
        |_| (),
    );
    serve(
        &prefix,
        &root,
        Path::new("cmd"),
        &["/c", "scripts\\start.bat"],
        "start.bat",
        |_| (),
    );
    let pythonw = root.join("python/pythonw.exe");
    serve(
        &prefix,
        &root,
        &pythonw,
        &["-m", "hello_app"],
        "pythonw.exe",
        |_| (),
    );
    // On Windows pythonw has no stdout at all (under wine it inherits the
    // test's pipes), so check the bundle's sitecustomize with stdout gone:
    // output must land in logs\app.log, not crash.
    let mut cmd = prefix.command(root.join("python/python.exe"));
    cmd.args([
        "-c",
        "import sys, importlib, sitecustomize\n\
         sys.stdout = None; sys.stderr = None\n\
         importlib.reload(sitecustomize)\n\
         print('no console, still logged', flush=True)",
    ])
    .current_dir(&root);
    let out = cmd.output_within(RUN_LIMIT);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = fs_err::read_to_string(root.join("logs/app.log")).unwrap_or_default();
    assert!(
        log.contains("no console, still logged"),
        "logs\\app.log: {log:?}"
    );
}

#[test]
fn tampered_mirror_zip_is_refused_and_nothing_is_built() {
    let embed = pyship_e2e::testdata::embed_python_dir().join(EMBED);
    let good = sha256_file(&embed);
    let mirror_root = mirror_dir(&embed);
    let served = mirror_root.path().join("3.11.9").join(EMBED);
    let mut bytes = fs_err::read(&served).unwrap();
    bytes.extend_from_slice(b"tampered");
    fs_err::write(&served, &bytes).unwrap();
    let bad = sha256_file(&served);
    let mirror = StaticServer::start(mirror_root.path());
    let wheels = StaticServer::start(pyship_e2e::testdata::wheelhouse());
    let (_tmp, dir) = hello(&wheels.url(), "");
    let url = format!("{}/3.11.9/{EMBED}", mirror.url());
    fs_err::write(
        dir.join("pyship.lock"),
        format!("version = 1\n\n[runtimes]\n\"{url}\" = \"{good}\"\n"),
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let out = bundle_cmd(&dir, cache.path(), &mirror.url())
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains(&url), "{stderr}");
    assert!(stderr.contains(&good) && stderr.contains(&bad), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
    assert!(
        !dir.join("dist").join(ZIP_NAME).exists(),
        "a bundle was built"
    );
    assert!(
        !dir.join("dist/.pyship/windows/Hello-App/python/python.exe")
            .exists(),
        "the tampered runtime was extracted"
    );

    // The same with the pin in the config instead of pyship.lock.
    fs_err::remove_file(dir.join("pyship.lock")).unwrap();
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap().replace(
        "[package.metadata.pyship.windows]\n",
        &format!("[package.metadata.pyship.windows]\npython-sha256 = \"{good}\"\n"),
    );
    fs_err::write(&manifest, text).unwrap();
    let out = bundle_cmd(&dir, cache.path(), &mirror.url())
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains(&good) && stderr.contains(&bad), "{stderr}");
    assert!(
        !dir.join("dist").join(ZIP_NAME).exists(),
        "a bundle was built"
    );
    assert!(
        !dir.join("pyship.lock").exists(),
        "a mismatching hash was recorded"
    );
}

#[test]
fn missing_embeddable_zip_names_the_last_release_with_one() {
    let (_mirror_root, mirror) = python_mirror();
    let (_tmp, dir) = hello("http://127.0.0.1:9", "");
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest)
        .unwrap()
        .replace("python = \"3.11.9\"", "python = \"3.11.12\"");
    fs_err::write(&manifest, text).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let out = bundle_cmd(&dir, cache.path(), &mirror.url())
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("security-only"), "{stderr}");
    assert!(stderr.contains("python = \"3.11.9\""), "{stderr}");
    assert!(
        stderr.contains("3.11.12/python-3.11.12-embed-amd64.zip"),
        "{stderr}"
    );
}

#[test]
fn dependency_without_windows_wheel_is_named() {
    let (_mirror_root, mirror) = python_mirror();
    let wheels = StaticServer::start(pyship_e2e::testdata::wheelhouse());
    let (_tmp, dir) = hello(&wheels.url(), "");
    let py = dir.join("python/pyproject.toml");
    let text = fs_err::read_to_string(&py)
        .unwrap()
        .replace("\"numpy<2\",", "\"numpy<2\",\n    \"uvloop\",");
    fs_err::write(&py, text).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let out = bundle_cmd(&dir, cache.path(), &mirror.url())
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("`uvloop` has no wheel for x86_64-pc-windows-msvc"),
        "{stderr}"
    );
    assert!(stderr.contains("platform tag"), "{stderr}");
    assert!(!dir.join("dist").join(ZIP_NAME).exists());
}

#[test]
fn linux_wheel_in_a_windows_bundle_is_named() {
    let (_mirror_root, mirror) = python_mirror();
    let wheels = StaticServer::start(pyship_e2e::testdata::wheelhouse());
    let (_tmp, dir) = hello(&wheels.url(), "wheels = [\"wheels/*.whl\"]\n");
    let name = "pyyaml-6.0.3-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl";
    fs_err::create_dir_all(dir.join("wheels")).unwrap();
    fs_err::copy(
        pyship_e2e::testdata::wheelhouse().join(name),
        dir.join("wheels").join(name),
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let out = bundle_cmd(&dir, cache.path(), &mirror.url())
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains(name) && stderr.contains("cannot run on windows"),
        "{stderr}"
    );
}

#[test]
fn failing_prebuild_stops_the_build_with_its_output() {
    // The dependencies are pinned and the runtime fetched before any build
    // step (a prebuild too): serve both.
    let wheels = StaticServer::start(pyship_e2e::testdata::wheelhouse());
    let (_tmp, dir) = hello(
        &wheels.url(),
        "prebuild = \"echo frontend-build-broke >&2; exit 3\"\n",
    );
    let (_m, mirror) = pyship_e2e::testdata::python_mirror();
    let cache = tempfile::tempdir().unwrap();
    let out = bundle_cmd(&dir, cache.path(), &mirror.url())
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("prebuild command") && stderr.contains("frontend-build-broke"),
        "{stderr}"
    );
    // No artifact and no bundle tree (the folder's lock and the prebuild's
    // own work folder are made before the prebuild runs).
    let built: Vec<_> = fs_err::read_dir(dir.join("dist"))
        .map(|rd| rd.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(
        built.iter().all(|n| n.to_string_lossy().starts_with('.')),
        "something was built: {built:?}"
    );
    assert!(
        !dir.join("dist/.pyship/windows/Hello-App").exists(),
        "a bundle tree was made"
    );
}

#[test]
fn missing_uv_names_the_tool_and_how_to_install_it() {
    let (_mirror_root, mirror) = python_mirror();
    let (_tmp, dir) = hello("http://127.0.0.1:9", "");
    let cache = tempfile::tempdir().unwrap();
    let empty_path = tempfile::tempdir().unwrap();
    // `cargo metadata` still runs through $CARGO (set by cargo for tests).
    let cargo = std::env::var("CARGO").expect("cargo sets $CARGO for tests");
    let out = bundle_cmd(&dir, cache.path(), &mirror.url())
        .env("PATH", empty_path.path())
        .env("CARGO", cargo)
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("`uv` was not found on PATH"), "{stderr}");
    assert!(
        stderr.contains("hint: install it with `pip install uv`"),
        "{stderr}"
    );
}

#[test]
fn offline_without_a_cached_runtime_is_an_error() {
    let (_tmp, dir) = hello("http://127.0.0.1:9", "");
    let cache = tempfile::tempdir().unwrap();
    let out = bundle_cmd(&dir, cache.path(), "http://127.0.0.1:9")
        .arg("--offline")
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("--offline forbids downloading it"),
        "{stderr}"
    );
    assert!(stderr.contains("python-3.11.9-embed-amd64.zip"), "{stderr}");
}

#[test]
#[cfg_attr(not(feature = "slow-tests"), ignore = "slow tier: a Windows bundle")]
fn configured_extras_are_installed() {
    // The fixture's `dev` extra asks for pytest, which the wheelhouse lacks:
    // uv's failure proves the extra reached it.
    let (_mirror_root, mirror) = python_mirror();
    let wheels = StaticServer::start(pyship_e2e::testdata::wheelhouse());
    let (_tmp, dir) = hello(&wheels.url(), "extras = [\"dev\"]\n");
    let cache = tempfile::tempdir().unwrap();
    let out = bundle_cmd(&dir, cache.path(), &mirror.url())
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("`pytest` was not found in the provided package locations"),
        "{stderr}"
    );

    let (_tmp, dir) = hello(&wheels.url(), "extras = [\"gui\"]\n");
    let out = bundle_cmd(&dir, cache.path(), &mirror.url())
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("extra `gui` is not in [project.optional-dependencies]"),
        "{stderr}"
    );
}

#[test]
#[cfg_attr(not(feature = "slow-tests"), ignore = "slow tier: bundles twice")]
fn offline_rebuild_uses_the_caches_and_is_identical() {
    let (_mirror_root, mirror) = python_mirror();
    // A local find-links directory: uv reads it without the network.
    let (_tmp, dir) = hello("http://127.0.0.1:9", "");
    let manifest = dir.join("Cargo.toml");
    let wheelhouse = pyship_e2e::testdata::wheelhouse();
    let text = fs_err::read_to_string(&manifest).unwrap().replace(
        "find-links = [\"http://127.0.0.1:9/\"]",
        &format!("find-links = [\"{}\"]", wheelhouse.display()),
    );
    fs_err::write(&manifest, text).unwrap();
    let cache = tempfile::tempdir().unwrap();
    bundle_cmd(&dir, cache.path(), &mirror.url())
        .assert()
        .success();
    let zip = dir.join("dist").join(ZIP_NAME);
    let first = sha256_file(&zip);
    let before = mirror.requests();
    bundle_cmd(&dir, cache.path(), &mirror.url())
        .arg("--offline")
        .assert()
        .success();
    assert_eq!(mirror.requests(), before, "--offline made a request");
    assert_eq!(sha256_file(&zip), first);
    // A fresh output folder (a CI job with its cache restored): the same
    // inputs passed the check before, so no wine session is started for a
    // check that is found cached, and the zip is the same bytes.
    fs_err::remove_dir_all(dir.join("dist")).unwrap();
    let log = cache.path().join("processes.log");
    bundle_cmd(&dir, cache.path(), &mirror.url())
        .arg("--offline")
        .env("PYSHIP_PROCESS_LOG", &log)
        .assert()
        .success();
    let started = fs_err::read_to_string(&log).unwrap();
    assert!(
        !started.contains("wineserver") && !started.contains("cmd.exe"),
        "a warm build into a fresh output folder started wine:\n{started}"
    );
    assert_eq!(sha256_file(&zip), first);
}
