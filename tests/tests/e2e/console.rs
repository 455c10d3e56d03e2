//! Console apps and working folders (issue 27, items 5 and 12): every
//! launcher keeps the caller's working folder and appends the caller's
//! arguments; a `[project.scripts]` app gets console launchers
//! (`bin\{command}.cmd`), a console Start-menu shortcut and an installer
//! option that puts `bin\` on the user's PATH (off by default, taken out on
//! uninstall). The `console` fixture reports its working folder, arguments,
//! version and a data file found next to its own code.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::support::*;
use pyship_e2e::wine::WinePrefix;

const RUNTIME_FILE: &str = "cpython-3.11.9-test-x86_64-unknown-linux-gnu-install_only.tar.gz";
const VERSION: &str = "v1.4.0";
const DATA: &str = "cwdtool's own data";

/// The console fixture, offline: the python.org mirror and the Linux test
/// runtime from local servers, no index.
fn console_fixture(runtime_url: &str) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = copy_fixture("console");
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    fs_err::write(
        &manifest,
        format!(
            "{text}no-index = true\n\n[package.metadata.pyship.windows]\ninstaller-compression = \"zlib\"\n\n[package.metadata.pyship.linux]\nruntime-url = \"{runtime_url}\"\n"
        ),
    )
    .unwrap();
    (tmp, dir)
}

/// The report the tool printed (the last line that is a JSON object).
fn report(what: &str, out: &std::process::Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<serde_json::Value>(l.trim()).ok())
        .unwrap_or_else(|| {
            panic!(
                "{what}: no report\nstdout:\n{stdout}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

/// The report says the tool ran in `cwd` (compared as written, or without
/// case on Windows), with `args` after the configured one, and found its data.
fn check(v: &serde_json::Value, cwd: &str, args: &[&str], what: &str) {
    let got = v["cwd"].as_str().unwrap_or_default();
    assert!(
        got == cwd || got.eq_ignore_ascii_case(cwd),
        "{what} ran in {got:?}, not the caller's {cwd:?}: {v}"
    );
    let mut want = vec!["--configured"];
    want.extend_from_slice(args);
    assert_eq!(v["args"], serde_json::json!(want), "{what}: {v}");
    assert_eq!(v["version"], "1.4.0", "{what}: {v}");
    assert_eq!(v["data"], DATA, "{what}: {v}");
}

fn unzip(zip: &Path, dest: &Path) {
    let st = Command::new(require_tool("unzip", "`apt-get install unzip`"))
        .arg("-q")
        .arg(zip)
        .arg("-d")
        .arg(dest)
        .status()
        .unwrap();
    assert!(st.success(), "unzip {}", zip.display());
}

fn untar(tarball: &Path, into: &Path) {
    let st = Command::new("tar")
        .arg("-xzf")
        .arg(tarball)
        .arg("-C")
        .arg(into)
        .status()
        .unwrap();
    assert!(st.success(), "tar -xzf {}", tarball.display());
}

/// `reg query HKCU\Environment /v Path` in the prefix: the user's PATH, if set.
fn user_path(prefix: &WinePrefix) -> Option<String> {
    let out = prefix
        .command("reg")
        .args(["query", r"HKCU\Environment", "/v", "Path"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Path"))
        .map(|rest| {
            rest.trim_start()
                .split_once(char::is_whitespace)
                .map_or("", |(_, v)| v)
                .trim()
                .to_owned()
        })
}

/// Run a Windows program to its exit, output discarded (wine's GUI
/// programs keep the pipes of their services open).
fn run_to_end(mut cmd: Command) -> std::process::ExitStatus {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("wine runs")
}

#[test]
fn console_app_launchers_keep_the_callers_folder_and_the_installer_offers_path() {
    require_tool("uv", "`pip install uv` (PyPI package `uv`)");
    require_tool("makensis", "`apt-get install nsis`");
    pyship_e2e::pbs::runtime();
    let (_served, runtime_server) = pyship_e2e::pbs::serve(RUNTIME_FILE);
    let (_mirror_dir, mirror) = pyship_e2e::testdata::python_mirror();
    let runtime_url = format!(
        "{}/cpython-{{version}}-test-x86_64-unknown-linux-gnu-install_only.tar.gz",
        runtime_server.url()
    );
    let (tmp, dir) = console_fixture(&runtime_url);
    let cache = tmp.path().join("cache");
    let out = pyship(&cache)
        .current_dir(&dir)
        .env("PYSHIP_PYTHON_MIRROR", mirror.url())
        .args(["pyship", "bundle", "--target", "all", "--version", VERSION])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bundle failed:\n{stderr}");
    let dist = dir.join("dist");

    // Linux: run.sh from an unrelated folder.
    let linux = tempfile::tempdir().unwrap();
    untar(
        &dist.join(format!("Cwd-Tool-{VERSION}-linux-x64.tar.gz")),
        linux.path(),
    );
    let caller = tempfile::tempdir().unwrap();
    let caller_dir = fs_err::canonicalize(caller.path()).unwrap();
    let out = Command::new(linux.path().join("Cwd-Tool/run.sh"))
        .args(["a", "b c"])
        .current_dir(&caller_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "run.sh: {out:?}");
    check(
        &report("run.sh", &out),
        caller_dir.to_str().unwrap(),
        &["a", "b c"],
        "run.sh",
    );

    // Windows, under wine: the console launchers from an unrelated folder.
    let win = tempfile::tempdir().unwrap();
    unzip(
        &dist.join(format!("Cwd-Tool-{VERSION}-win-x64.zip")),
        win.path(),
    );
    let root = win.path().join("Cwd-Tool");
    assert!(
        root.join("bin/cwdtool.cmd").is_file(),
        "a console app has bin\\cwdtool.cmd"
    );
    let prefix = WinePrefix::new();
    let caller_win = WinePrefix::windows_path(&caller_dir);
    for launcher in ["scripts/start.bat", "bin/cwdtool.cmd"] {
        let out = prefix
            .command("cmd")
            .arg("/c")
            .arg(WinePrefix::windows_path(&root.join(launcher)))
            .args(["a", "b c", r"x\y"])
            .current_dir(&caller_dir)
            .output()
            .unwrap();
        // (`%` is cmd's own: `cmd /c` expands it before the launcher runs.)
        check(
            &report(launcher, &out),
            &caller_win,
            &["a", "b c", r"x\y"],
            launcher,
        );
    }

    // The hidden launcher passes its arguments as given (WScript.Shell.Run
    // would expand %PATH%) and keeps the caller's folder.
    let out_file = caller_dir.join("vbs-report.json");
    let mut vbs = prefix.command("wscript");
    vbs.arg(WinePrefix::windows_path(
        &root.join("scripts/start-hidden.vbs"),
    ))
    .args(["a", "b c", "%PATH%", r"x\y\", "tail"])
    .env("CWDTOOL_OUT", WinePrefix::windows_path(&out_file))
    .current_dir(&caller_dir);
    assert!(run_to_end(vbs).success());
    let start = Instant::now();
    while !out_file.is_file() && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(300));
    }
    std::thread::sleep(Duration::from_millis(300));
    let v: serde_json::Value = serde_json::from_str(
        &fs_err::read_to_string(&out_file).expect("start-hidden.vbs started the tool"),
    )
    .unwrap();
    check(
        &v,
        &caller_win,
        &["a", "b c", "%PATH%", r"x\y\", "tail"],
        "start-hidden.vbs",
    );
    prefix.shutdown();

    // The installer: a console Start-menu shortcut, no Desktop one; bin\ on
    // the user's PATH only when asked for (`/ADDTOPATH`), taken out again.
    let out = pyship(&cache)
        .current_dir(&dir)
        .env("PYSHIP_PYTHON_MIRROR", mirror.url())
        .args(["pyship", "installer", "--version", VERSION])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "installer: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let setup = dist.join(format!("Cwd-Tool-{VERSION}-setup.exe"));
    let prefix = WinePrefix::new();
    let before = user_path(&prefix);
    let install = |extra: &[&str]| {
        let mut cmd = prefix.command(&setup);
        cmd.arg("/S").args(extra).arg(r"/D=C:\Apps\CwdTool");
        let st = run_to_end(cmd);
        assert!(st.success(), "setup {extra:?}: {st}");
    };
    install(&[]);
    let app_dir = prefix.drive_c().join("Apps/CwdTool");
    assert!(app_dir.join("bin/cwdtool.cmd").is_file());
    assert_eq!(
        user_path(&prefix),
        before,
        "PATH changed without /ADDTOPATH"
    );
    let user = prefix.user_dir();
    let start_menu =
        user.join("AppData/Roaming/Microsoft/Windows/Start Menu/Programs/Cwd-Tool.lnk");
    let lnk = fs_err::read(&start_menu).expect("a Start-menu shortcut");
    for want in ["cmd.exe", r"bin\cwdtool.cmd"] {
        assert!(
            contains_text(&lnk, want),
            "the Start-menu shortcut does not name {want}"
        );
    }
    assert!(
        !contains_text(&lnk, "wscript"),
        "a console app's shortcut runs it hidden"
    );
    assert!(!user.join("Desktop/Cwd-Tool.lnk").exists());

    install(&["/ADDTOPATH"]);
    let path = user_path(&prefix).expect("PATH set");
    assert!(
        path.split(';')
            .any(|p| p.eq_ignore_ascii_case(r"C:\Apps\CwdTool\bin")),
        "PATH: {path}"
    );
    // A new command prompt finds the command, and it runs where it is started.
    let out = prefix
        .command("cmd")
        .args(["/c", "cwdtool", "from-path"])
        .current_dir(&caller_dir)
        .output()
        .unwrap();
    check(
        &report("cwdtool on PATH", &out),
        &caller_win,
        &["from-path"],
        "cwdtool on PATH",
    );

    let mut uninstall = prefix.command(app_dir.join("uninstall.exe"));
    uninstall.arg("/S");
    assert!(run_to_end(uninstall).success());
    let start = Instant::now();
    while app_dir.join("uninstall.exe").exists() && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(500));
    }
    // The uninstaller's copy may still be writing the registry.
    let start = Instant::now();
    while user_path(&prefix) != before && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(user_path(&prefix), before, "bin\\ left on PATH");
    assert!(!start_menu.exists(), "Start-menu shortcut left behind");
}

/// Whether `bytes` hold `text` as ASCII or UTF-16LE (a .lnk holds either).
fn contains_text(bytes: &[u8], text: &str) -> bool {
    let wide: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    bytes
        .windows(wide.len())
        .any(|w| w.eq_ignore_ascii_case(&wide))
        || bytes
            .windows(text.len())
            .any(|w| w.eq_ignore_ascii_case(text.as_bytes()))
}
