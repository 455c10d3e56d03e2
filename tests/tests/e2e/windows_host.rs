//! cargo-pyship on a Windows host, checked on Linux: `cargo-pyship.exe` is
//! cross-built for `x86_64-pc-windows-gnu` and run under wine, with a Windows
//! `cargo.exe` (the `{channel}-x86_64-pc-windows-gnu` toolchain, minimal
//! profile) for `cargo metadata` and the Windows `uv.exe` from uv's PyPI
//! wheel. What it prints and builds is compared with the Linux binary's for
//! the same inputs: the same JSON (paths aside) and a byte-identical zip.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use crate::support::*;
use pyship_e2e::http::StaticServer;
use pyship_e2e::wine::{free_port, http_get, wait_http, Running, WinePrefix};

const TARGET: &str = "x86_64-pc-windows-gnu";
const EMBED: &str = "python-3.11.9-embed-amd64.zip";
const ZIP_NAME: &str = "Hello-App-v1.2.3-win-x64.zip";

/// `cargo-pyship.exe`, cross-built once per test run into this workspace's
/// `target/x86_64-pc-windows-gnu/debug/`.
fn windows_exe() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        require_tool(
            "x86_64-w64-mingw32-gcc",
            "`apt-get install gcc-mingw-w64-x86-64` (Debian package `gcc-mingw-w64-x86-64`), and `rustup target add x86_64-pc-windows-gnu`",
        );
        let root = workspace_root();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(cargo)
            .args(["build", "--locked", "-p", "cargo-pyship", "--target", TARGET])
            .current_dir(&root)
            .output_within(RUN_LIMIT);
        assert!(
            out.status.success(),
            "cross-building cargo-pyship.exe failed (needs `rustup target add {TARGET}` and gcc-mingw-w64-x86-64):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let target_dir = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        let exe = target_dir.join(TARGET).join("debug/cargo-pyship.exe");
        assert!(exe.is_file(), "{} was not built", exe.display());
        exe
    })
}

/// The Windows `cargo.exe` of the pinned toolchain (`rust-toolchain.toml`).
fn windows_cargo() -> PathBuf {
    let toml = fs_err::read_to_string(workspace_root().join("rust-toolchain.toml")).unwrap();
    let channel = toml
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == "channel").then(|| v.trim().trim_matches('"').to_owned())
        })
        .expect("rust-toolchain.toml has a channel");
    let rustup_home = std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".rustup"));
    let toolchain = format!("{channel}-{TARGET}");
    let exe = rustup_home
        .join("toolchains")
        .join(&toolchain)
        .join("bin/cargo.exe");
    assert!(
        exe.is_file(),
        "no Windows cargo.exe at {}: install it with `rustup toolchain install {toolchain} --force-non-host --profile minimal` (.ci/install-tools does)",
        exe.display()
    );
    exe
}

/// `wine cargo-pyship.exe pyship ...` in `prefix`, in `dir`, with the Windows
/// cargo, a private cache and no variable of the Linux side that would change
/// what it does.
fn wine_pyship(prefix: &WinePrefix, dir: &Path, cache: &Path) -> Command {
    let mut c = prefix.command(windows_exe());
    for v in pyship_build::env::ALL {
        c.env_remove(v);
    }
    for v in [
        "CARGO_HOME",
        "RUSTUP_HOME",
        "RUSTUP_TOOLCHAIN",
        "RUSTC",
        "CARGO_TARGET_DIR",
    ] {
        c.env_remove(v);
    }
    c.arg("pyship")
        .current_dir(dir)
        // `env::ALL` names WINEPREFIX too: the prefix is this test's own.
        .env("WINEPREFIX", prefix.path())
        .env("CARGO", WinePrefix::windows_path(&windows_cargo()))
        .env("PYSHIP_CACHE_DIR", WinePrefix::windows_path(cache))
        .env("NO_COLOR", "1")
        .env("CARGO_TERM_COLOR", "never");
    c
}

fn run(mut cmd: Command, what: &str) -> Output {
    let out = cmd.output_within(RUN_LIMIT);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{what} panicked:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json_of(out: &Output, what: &str) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: stdout is not one JSON document ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Paths aside: a Windows path on wine's `Z:` drive (`Z:\tmp\x`, also
/// `\\?\Z:\tmp\x`), alone or inside a message, becomes the Unix path it
/// names (`/tmp/x`; a path inside a message ends at a space).
fn unix_paths(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) => Value::String(unix_paths_in(&s.replace(r"\\?\", ""))),
        Value::Array(a) => Value::Array(a.into_iter().map(unix_paths).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, unix_paths(v))).collect()),
        other => other,
    }
}

fn unix_paths_in(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("Z:\\") {
        out.push_str(&rest[..i]);
        let path = &rest[i + 2..];
        let end = path.find(char::is_whitespace).unwrap_or(path.len());
        out.push_str(&path[..end].replace('\\', "/"));
        rest = &path[end..];
    }
    out.push_str(rest);
    out
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: cross-builds cargo-pyship for Windows and runs it under wine"
)]
fn windows_exe_prints_the_same_version_and_plan_as_linux() {
    let prefix = WinePrefix::new();
    let (_t, dir) = copy_fixture("hello");
    let cache = tempfile::tempdir().unwrap();
    let cases: [&[&str]; 2] = [
        &["version", "v1.2.3-rc.1", "--format", "json"],
        &["plan", "--format", "json", "--version", "v1.2.3-rc.1"],
    ];
    for args in cases {
        let what = format!("cargo-pyship.exe pyship {}", args.join(" "));
        let mut linux = std::process::Command::new(bin());
        for v in pyship_build::env::ALL {
            linux.env_remove(v);
        }
        linux
            .current_dir(&dir)
            .env("PYSHIP_CACHE_DIR", cache.path())
            .env("NO_COLOR", "1")
            .env("GITHUB_SERVER_URL", "https://git.example.com")
            .env("GITHUB_REPOSITORY", "owner/hello")
            .arg("pyship")
            .args(args);
        let linux = json_of(&run(linux, "linux"), "linux cargo-pyship");
        let mut win = wine_pyship(&prefix, &dir, cache.path());
        win.env("GITHUB_SERVER_URL", "https://git.example.com")
            .env("GITHUB_REPOSITORY", "owner/hello")
            .args(args);
        let win = unix_paths(json_of(&run(win, &what), &what));
        assert_eq!(
            serde_json::to_string_pretty(&win).unwrap(),
            serde_json::to_string_pretty(&linux).unwrap(),
            "{what}: differs from the Linux binary's output"
        );
    }
    // A Linux bundle is refused at once, saying why; nothing is built.
    let out = run(
        {
            let mut c = wine_pyship(&prefix, &dir, cache.path());
            c.args(["bundle", "--target", "linux", "--version", "v1.2.3"]);
            c
        },
        "bundle --target linux",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot bundle for linux on this host")
            && stderr.contains("Linux host")
            && stderr.contains("hint:"),
        "{stderr}"
    );
    assert!(!dir.join("dist").exists(), "something was built");
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: cross-builds cargo-pyship for Windows and runs it under wine"
)]
fn windows_exe_without_makensis_names_nsis_and_its_download() {
    let prefix = WinePrefix::new();
    let (_t, dir) = copy_fixture("hello");
    let cache = tempfile::tempdir().unwrap();
    let mut c = wine_pyship(&prefix, &dir, cache.path());
    c.args(["installer", "--version", "v1.2.3"]);
    let out = run(c, "cargo-pyship.exe pyship installer");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("`makensis` was not found on PATH, in %ProgramFiles(x86)%\\NSIS"),
        "{stderr}"
    );
    assert!(
        stderr.contains("NSIS 3 from https://nsis.sourceforge.io/Download"),
        "{stderr}"
    );
    assert!(!dir.join("dist").exists(), "a bundle was started");
}

/// The hello fixture with wheels from `wheels_url` only and debug symbols
/// kept (a Windows host may have no strip tool; the zips must still match).
fn hello(wheels_url: &str) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = copy_fixture("hello");
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap().replacen(
        "port = 8765\n",
        &format!(
            "port = 8765\nno-index = true\nfind-links = [\"{wheels_url}/\"]\n\n[package.metadata.pyship.strip]\ndebug-symbols = false\n"
        ),
        1,
    );
    fs_err::write(&manifest, text).unwrap();
    (tmp, dir)
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

/// (name, unix mode, CRC) of every entry, for naming what differs.
fn listing(zip: &Path) -> Vec<(String, Option<u32>, u32)> {
    let mut z = zip::ZipArchive::new(fs_err::File::open(zip).unwrap()).unwrap();
    (0..z.len())
        .map(|i| {
            let e = z.by_index(i).unwrap();
            (e.name().unwrap().into_owned(), e.unix_mode(), e.crc32())
        })
        .collect()
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: cross-builds cargo-pyship for Windows and runs it under wine"
)]
fn windows_exe_bundles_the_same_zip_as_linux_and_the_app_answers() {
    let mirror_root = tempfile::tempdir().unwrap();
    fs_err::create_dir_all(mirror_root.path().join("3.11.9")).unwrap();
    let embed = pyship_e2e::testdata::embed_python_dir().join(EMBED);
    fs_err::copy(&embed, mirror_root.path().join("3.11.9").join(EMBED)).unwrap();
    let mirror = StaticServer::start(mirror_root.path());
    let wheels = StaticServer::start(pyship_e2e::testdata::wheelhouse());
    let args = ["bundle", "--target", "windows", "--version", "v1.2.3"];

    // Linux host.
    require_tool("uv", "`pip install uv` (PyPI package `uv`)");
    let (_lt, linux_dir) = hello(&wheels.url());
    let linux_cache = tempfile::tempdir().unwrap();
    pyship(linux_cache.path())
        .current_dir(&linux_dir)
        .env("PYSHIP_PYTHON_MIRROR", mirror.url())
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .arg("pyship")
        .args(args)
        .assert()
        .success();
    let linux_zip = linux_dir.join("dist").join(ZIP_NAME);

    // Windows host: uv.exe found the Windows way, in the `Scripts\` of a
    // Python on PATH (a real embeddable CPython, as `pip install uv` leaves it).
    let prefix = WinePrefix::new();
    let tools = tempfile::tempdir().unwrap();
    let py = tools.path().join("Python 3.11 ü");
    unzip(&embed, &py);
    fs_err::create_dir_all(py.join("Scripts")).unwrap();
    fs_err::copy(
        pyship_e2e::testdata::uv_windows_exe(),
        py.join("Scripts/uv.exe"),
    )
    .unwrap();
    // A path with a space and a non-ASCII name, as Windows users have.
    let (_wt, win_dir) = hello(&wheels.url());
    let project = win_dir.parent().unwrap().join("Mein Projekt ü");
    fs_err::rename(&win_dir, &project).unwrap();
    let win_cache = tempfile::tempdir().unwrap();
    let mut c = wine_pyship(&prefix, &project, win_cache.path());
    c.env("WINEPATH", WinePrefix::windows_path(&py))
        .env("PYSHIP_PYTHON_MIRROR", mirror.url())
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(args);
    let out = run(c, "cargo-pyship.exe pyship bundle --target windows");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    let win_zip = project.join("dist").join(ZIP_NAME);
    assert!(win_zip.is_file(), "no {ZIP_NAME}:\n{stderr}");
    // uv ran with the bundle's own python.exe and downloaded no CPython.
    assert!(
        !stderr.to_lowercase().contains("downloading cpython"),
        "{stderr}"
    );
    // The import check ran python.exe itself (no wine inside the Windows host).
    assert!(stderr.contains("Imported"), "{stderr}");
    assert!(!stderr.contains("with wine "), "{stderr}");

    if sha256_file(&win_zip) != sha256_file(&linux_zip) {
        let (l, w) = (listing(&linux_zip), listing(&win_zip));
        let only_l: Vec<_> = l.iter().filter(|e| !w.contains(e)).collect();
        let only_w: Vec<_> = w.iter().filter(|e| !l.contains(e)).collect();
        panic!(
            "the Windows-host zip differs from the Linux-host zip ({} and {} entries)\nLinux only: {only_l:#?}\nWindows only: {only_w:#?}",
            l.len(),
            w.len()
        );
    }

    // The app in it answers under wine.
    let unpacked = tempfile::tempdir().unwrap();
    unzip(&win_zip, unpacked.path());
    // The zip's one top-level folder.
    let root = fs_err::read_dir(unpacked.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .expect("a top-level folder in the zip");
    let port = free_port();
    let mut cmd = prefix.command(root.join("python/python.exe"));
    cmd.args(["-m", "hello_app"])
        .env("HELLO_PORT", port.to_string())
        .current_dir(&root);
    let running = Running::spawn(cmd);
    let health = wait_http(port, "/health", Duration::from_secs(180));
    let version = http_get(port, "/version");
    prefix.kill();
    let (so, se) = running.stop();
    let (status, body) =
        health.unwrap_or_else(|| panic!("the app never served /health\n{so}\n{se}"));
    assert_eq!(status, 200, "{body}");
    let (status, body) = version.expect("/version answered");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON from /version");
    assert_eq!(v["version"], "1.2.3", "{body}");

    // No strip tool on this Windows host: one line says the step was skipped.
    // (Outside a project: default strip settings, debug symbols included.)
    let mut c = wine_pyship(&prefix, unpacked.path(), win_cache.path());
    c.args(["strip", "--platform", "windows", "--dry-run"])
        .arg(WinePrefix::windows_path(
            &root.join("python/Lib/site-packages"),
        ));
    let out = run(c, "cargo-pyship.exe pyship strip --dry-run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.contains("debug symbols not stripped (skipped)"))
            .count(),
        1,
        "{stderr}"
    );
}

/// A folder under `base` whose path is longer than Windows' classic 260
/// characters (`MAX_PATH`), with spaces and non-ASCII names on the way.
fn long_dir(base: &Path) -> PathBuf {
    let mut d = base.join("Ordner mit Leerzeichen ü");
    while WinePrefix::windows_path(&d).chars().count() < 280 {
        d = d.join("ein recht langer Ordnername – ß");
    }
    d
}

/// A small site-packages: a package with tests, bytecode, stubs and C
/// headers (which the generic preset removes), and its dist-info (kept).
fn site_packages(root: &Path) {
    for (rel, body) in [
        ("späť/__init__.py", "VALUE = 1\n"),
        ("späť/core.py", "def f():\n    return 2\n"),
        ("späť/core.pyi", "def f() -> int: ...\n"),
        ("späť/tests/__init__.py", ""),
        ("späť/tests/test_core.py", "def test_f():\n    pass\n"),
        (
            "späť/__pycache__/core.cpython-311.pyc",
            "not really bytecode",
        ),
        ("späť/include/späť.h", "int f(void);\n"),
        (
            "späť-1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: späť\nVersion: 1.0\n",
        ),
        ("späť-1.0.dist-info/top_level.txt", "späť\n"),
    ] {
        let p = root.join(rel);
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(p, body).unwrap();
    }
}

/// Every file under `root`, relative, `/`-separated, sorted.
fn files_under(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = walk(root)
        .into_iter()
        .map(|p| {
            p.strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    v.sort();
    v
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs_err::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: cross-builds cargo-pyship for Windows and runs it under wine"
)]
fn windows_exe_strips_a_tree_behind_a_long_path_with_spaces_and_non_ascii_names() {
    let prefix = WinePrefix::new();
    let base = tempfile::tempdir().unwrap();
    let long = long_dir(base.path()).join("site-packages");
    assert!(WinePrefix::windows_path(&long).chars().count() > 260);
    site_packages(&long);
    // The same tree stripped by the Linux binary, at a short path.
    let short = base.path().join("linux/site-packages");
    site_packages(&short);
    let cache = tempfile::tempdir().unwrap();
    pyship(cache.path())
        .args(["pyship", "strip", "--platform", "windows"])
        .arg(&short)
        .assert()
        .success();

    let mut c = wine_pyship(&prefix, base.path(), cache.path());
    c.args(["strip", "--platform", "windows", "--format", "json"])
        .arg(WinePrefix::windows_path(&long));
    let out = run(c, "cargo-pyship.exe pyship strip (long path)");
    let v = json_of(&out, "cargo-pyship.exe pyship strip (long path)");
    let left = files_under(&long);
    assert_eq!(
        left,
        files_under(&short),
        "the Windows host strips what the Linux host strips\n{v}"
    );
    for gone in [
        "späť/tests/test_core.py",
        "späť/__pycache__/core.cpython-311.pyc",
        "späť/core.pyi",
    ] {
        assert!(!left.iter().any(|f| f == gone), "{gone} kept: {left:?}");
    }
    for kept in [
        "späť/__init__.py",
        "späť/core.py",
        "späť-1.0.dist-info/METADATA",
    ] {
        assert!(left.iter().any(|f| f == kept), "{kept} removed: {left:?}");
    }
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: cross-builds cargo-pyship for Windows and runs it under wine"
)]
fn windows_exe_publishes_to_the_test_gitea_and_a_second_run_uploads_nothing() {
    use pyship_e2e::gitea::{GiteaServer, REPO, WRITE_TOKEN};
    let prefix = WinePrefix::new();
    let gitea = GiteaServer::start();
    let (_t, dir) = copy_fixture("hello");
    // Artifacts in an out dir behind a long path with spaces and non-ASCII names.
    let out_dir = long_dir(dir.parent().unwrap()).join("dist ü");
    fs_err::create_dir_all(&out_dir).unwrap();
    for (suffix, size) in [
        ("win-x64.zip", 3000usize),
        ("setup.exe", 2000),
        ("linux-x64.tar.gz", 1000),
    ] {
        let body: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        fs_err::write(out_dir.join(format!("Hello-App-v1.2.3-{suffix}")), body).unwrap();
    }
    let cache = tempfile::tempdir().unwrap();
    let publish = |args: &[&str]| {
        let mut c = wine_pyship(&prefix, &dir, cache.path());
        c.env("GITHUB_SERVER_URL", gitea.url())
            .env("GITHUB_REPOSITORY", REPO)
            .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
            .env("DEPLOY_TOKEN", WRITE_TOKEN)
            .env("PYSHIP_RETRY_BASE_MS", "5")
            .args(["publish", "--version", "v1.2.3", "--out"])
            .arg(WinePrefix::windows_path(&out_dir))
            .args(args);
        run(c, "cargo-pyship.exe pyship publish")
    };
    // A dry run first: no write request.
    let out = publish(&["--dry-run"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(gitea.writes().is_empty(), "{:?}", gitea.writes());

    let out = publish(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rel = gitea.release(REPO, "v1.2.3").expect("the release exists");
    let mut names: Vec<&str> = rel.assets.iter().map(|a| a.name.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "Hello-App-v1.2.3-linux-x64.tar.gz",
            "Hello-App-v1.2.3-setup.exe",
            "Hello-App-v1.2.3-win-x64.zip",
            "SHA256SUMS",
            // Written by publish from what it uploads: the installed apps'
            // updater reads it.
            "manifest.json"
        ]
    );
    for a in &rel.assets {
        assert_eq!(
            a.data,
            fs_err::read(out_dir.join(&a.name)).unwrap(),
            "{}",
            a.name
        );
    }
    // SHA256SUMS written on the Windows host names the files as Linux's does.
    let sums = fs_err::read_to_string(out_dir.join("SHA256SUMS")).unwrap();
    assert!(!sums.contains('\r') && !sums.contains('\\'), "{sums}");

    gitea.clear_log();
    let out = publish(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(gitea.writes().is_empty(), "{:?}\n{stderr}", gitea.writes());
    assert_eq!(stderr.matches("Unchanged").count(), 5, "{stderr}");
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: cross-builds cargo-pyship for Windows and runs it under wine"
)]
fn windows_exe_release_dry_run_prints_the_linux_hosts_plan_and_changes_nothing() {
    let prefix = WinePrefix::new();
    let (_t, dir) = copy_fixture("hello");
    let cache = tempfile::tempdir().unwrap();
    let py = dir.join("python/pyproject.toml");
    let before = fs_err::read(&py).unwrap();
    let env = [
        ("GITHUB_SERVER_URL", "https://git.example.com"),
        ("GITHUB_REPOSITORY", "owner/hello"),
        ("DEPLOY_TOKEN", "not-used-by-a-dry-run"),
    ];
    let mut linux = std::process::Command::new(bin());
    for v in pyship_build::env::ALL {
        linux.env_remove(v);
    }
    linux
        .current_dir(&dir)
        .env("PYSHIP_CACHE_DIR", cache.path())
        .env("NO_COLOR", "1")
        .envs(env)
        .args(["pyship", "release", "--dry-run"]);
    let linux = run(linux, "linux release --dry-run");
    assert!(
        linux.status.success(),
        "{}",
        String::from_utf8_lossy(&linux.stderr)
    );
    let mut win = wine_pyship(&prefix, &dir, cache.path());
    win.envs(env).args(["release", "--dry-run"]);
    let win = run(win, "cargo-pyship.exe pyship release --dry-run");
    let stderr = String::from_utf8_lossy(&win.stderr);
    assert!(win.status.success(), "{stderr}");
    let text = |o: &Output| unix_paths_in(&String::from_utf8_lossy(&o.stdout));
    assert!(text(&win).contains("publish"), "{}", text(&win));
    assert_eq!(text(&win), text(&linux), "the dry run's plan, paths aside");
    assert_eq!(fs_err::read(&py).unwrap(), before, "nothing stamped");
    assert!(!dir.join("dist").exists(), "nothing built");
}
