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
/// What `start-hidden.vbs` is given: `%PATH%` stays as written (WScript.Shell.Run
/// would expand it), `&`, `^` and `)` reach no shell, a trailing backslash
/// does not escape the closing quote, non-ASCII survives, an empty argument
/// stays one. Windows' wscript drops every `"` of its command line; wine's
/// keeps them, which tests the script's quoting of `"` and of backslashes
/// before one.
const VBS_ARGS: &[&str] = &[
    "a",
    "b c",
    "%PATH%",
    r"x\y\",
    "q & ^ z",
    "^",
    "&",
    "a)",
    "h\u{e9}llo \u{2603}",
    "",
    "a\"b",
    "\"",
    r#"x\"y"#,
    r#"\\" & calc & ""#,
    "tail",
];

/// The console fixture, offline: the python.org mirror and the Linux test
/// runtime from local servers, no index.
fn console_fixture(runtime_url: &str) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = copy_fixture("console");
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    fs_err::write(
        &manifest,
        format!(
            "{text}no-index = true\n\n[package.metadata.pyship.windows]\ninstaller-compression = \"zlib\"\nmsi = true\n\n[package.metadata.pyship.linux]\nservice = false\nmaintainer = \"Cwd Tool <cwd@example.com>\"\nruntime-url = \"{runtime_url}\"\n"
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
        .output_within(RUN_LIMIT);
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
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: bundles both targets, builds the installer, runs them under wine"
)]
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
    let out = pyship_command(&cache)
        .current_dir(&dir)
        .env("PYSHIP_PYTHON_MIRROR", mirror.url())
        .args(["pyship", "bundle", "--target", "all", "--version", VERSION])
        .output_within(RUN_LIMIT);
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
    // Arguments a shell would act on reach the app as given.
    let odd = [
        "a",
        "b c",
        "$HOME",
        "$(id)",
        "`id`",
        "*",
        "a\"b",
        "'",
        "x\ny",
        "-m",
        "",
        "h\u{e9}llo \u{2603}",
    ];
    let out = Command::new(linux.path().join("Cwd-Tool/run.sh"))
        .args(odd)
        .current_dir(&caller_dir)
        .output_within(RUN_LIMIT);
    assert!(out.status.success(), "run.sh: {out:?}");
    check(
        &report("run.sh", &out),
        caller_dir.to_str().unwrap(),
        &odd,
        "run.sh",
    );
    // Through a link elsewhere (as the deb's /usr/bin/cwdtool), too.
    let link = caller_dir.join("cwdtool");
    std::os::unix::fs::symlink(linux.path().join("Cwd-Tool/run.sh"), &link).unwrap();
    let out = Command::new(&link)
        .args(odd)
        .current_dir(&caller_dir)
        .output_within(RUN_LIMIT);
    check(
        &report("a link to run.sh", &out),
        caller_dir.to_str().unwrap(),
        &odd,
        "a link to run.sh",
    );
    fs_err::remove_file(&link).unwrap();
    // Its exit code is the app's.
    let out = Command::new(linux.path().join("Cwd-Tool/run.sh"))
        .env("CWDTOOL_EXIT", "3")
        .current_dir(&caller_dir)
        .output_within(RUN_LIMIT);
    assert_eq!(out.status.code(), Some(3), "run.sh: {out:?}");

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
    // Arguments as cmd passes them on: an unquoted `)` (it would end a
    // parenthesized block in the launcher), quoted `&` and `^`, a trailing
    // backslash, non-ASCII. (`%` is cmd's own: it expands `%VARIABLE%` in a
    // batch file's arguments before the launcher runs; wine's cmd even an
    // unset one.)
    let odd = ["a", "b c", "a)", "q & ^ z", r"x\y\", "h\u{e9}llo \u{2603}"];
    for launcher in ["scripts/start.bat", "bin/cwdtool.cmd"] {
        let out = prefix
            .command("cmd")
            .arg("/c")
            .arg(WinePrefix::windows_path(&root.join(launcher)))
            .args(odd)
            .current_dir(&caller_dir)
            .output_within(RUN_LIMIT);
        check(&report(launcher, &out), &caller_win, &odd, launcher);
    }
    // The console launcher returns the app's exit code.
    let out = prefix
        .command("cmd")
        .arg("/c")
        .arg(WinePrefix::windows_path(&root.join("bin/cwdtool.cmd")))
        .env("CWDTOOL_EXIT", "3")
        .current_dir(&caller_dir)
        .output_within(RUN_LIMIT);
    assert_eq!(out.status.code(), Some(3), "bin\\cwdtool.cmd: {out:?}");

    // The hidden launcher passes its arguments as given (WScript.Shell.Run
    // would expand %PATH%) and keeps the caller's folder.
    let out_file = caller_dir.join("vbs-report.json");
    let mut vbs = prefix.command("wscript");
    vbs.arg(WinePrefix::windows_path(
        &root.join("scripts/start-hidden.vbs"),
    ))
    .args(VBS_ARGS)
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
    check(&v, &caller_win, VBS_ARGS, "start-hidden.vbs");
    prefix.shutdown();

    // The installer: a console Start-menu shortcut, no Desktop one; bin\ on
    // the user's PATH only when asked for (`/ADDTOPATH`), taken out again.
    let out = pyship_command(&cache)
        .current_dir(&dir)
        .env("PYSHIP_PYTHON_MIRROR", mirror.url())
        .args(["pyship", "installer", "--version", VERSION])
        .output_within(RUN_LIMIT);
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
        .output_within(RUN_LIMIT);
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

    // A ";" in the install folder would split into two PATH entries, and
    // the uninstaller would take out a folder of the user's: PATH stays.
    let st = prefix
        .command("reg")
        .args([
            "add",
            r"HKCU\Environment",
            "/v",
            "Path",
            "/t",
            "REG_EXPAND_SZ",
        ])
        .args(["/d", r"C:\Apps\Semi", "/f"])
        .status()
        .unwrap();
    assert!(st.success());
    let mut cmd = prefix.command(&setup);
    cmd.args(["/S", "/ADDTOPATH", r"/D=C:\Apps\Semi;colon"]);
    assert!(run_to_end(cmd).success());
    let semi = prefix.drive_c().join("Apps/Semi;colon");
    assert!(semi.join("bin/cwdtool.cmd").is_file(), "installed");
    assert_eq!(user_path(&prefix).as_deref(), Some(r"C:\Apps\Semi"));
    let mut uninstall = prefix.command(semi.join("uninstall.exe"));
    uninstall.arg("/S");
    assert!(run_to_end(uninstall).success());
    let start = Instant::now();
    while semi.join("uninstall.exe").exists() && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        user_path(&prefix).as_deref(),
        Some(r"C:\Apps\Semi"),
        "the uninstaller changed PATH"
    );
    prefix.shutdown();

    // The MSI: the same console shortcut (a command prompt running
    // bin\cwdtool.cmd, started in the user's documents folder).
    let msiinfo = require_tool("msiinfo", "`apt-get install msitools`");
    let out = pyship_command(&cache)
        .current_dir(&dir)
        .env("PYSHIP_PYTHON_MIRROR", mirror.url())
        .args(["pyship", "msi", "--version", VERSION])
        .output_within(RUN_LIMIT);
    assert!(
        out.status.success(),
        "msi: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let msi = dist.join(format!("Cwd-Tool-{VERSION}-x64.msi"));
    let out = Command::new(msiinfo)
        .arg("export")
        .arg(&msi)
        .arg("Shortcut")
        .output_within(RUN_LIMIT);
    let table = String::from_utf8_lossy(&out.stdout);
    let row = table
        .lines()
        .find(|l| l.starts_with("StartMenuShortcut\t"))
        .unwrap_or_else(|| panic!("no Start-menu shortcut:\n{table}"));
    let cols: Vec<&str> = row.split('\t').collect();
    // Shortcut, Directory_, Name, Component_, Target, Arguments, Description,
    // Hotkey, Icon_, IconIndex, ShowCmd, WkDir.
    assert_eq!(cols[4], "[System64Folder]cmd.exe", "{row}");
    assert_eq!(cols[5], r#"/k "[INSTALLDIR]bin\cwdtool.cmd""#, "{row}");
    assert_eq!(cols[11], "PersonalFolder", "{row}");

    // The deb: the command on PATH, a link to run.sh.
    let out = pyship_command(&cache)
        .current_dir(&dir)
        .env("PYSHIP_PYTHON_MIRROR", mirror.url())
        .args(["pyship", "deb", "--version", VERSION])
        .output_within(RUN_LIMIT);
    assert!(
        out.status.success(),
        "deb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deb = fs_err::read_dir(&dist)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .expect("a .deb in dist/");
    let dpkg = require_tool("dpkg-deb", "`apt-get install dpkg`");
    let out = Command::new(dpkg)
        .arg("-c")
        .arg(&deb)
        .output_within(RUN_LIMIT);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing
            .lines()
            .any(|l| l.ends_with(" usr/bin/cwdtool -> /opt/Cwd-Tool/run.sh")),
        "no /usr/bin/cwdtool link in the deb:\n{listing}"
    );
    assert!(
        !listing.contains(".service"),
        "`service = false`, yet a unit:\n{listing}"
    );
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
