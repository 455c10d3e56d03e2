//! `cargo pyship installer`: the NSIS script (snapshots, escaping proved by
//! compiling it), makensis errors, and the whole life of an install under wine:
//! install, registry, run, upgrade over it, uninstall, `data\` kept throughout.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pyship_build::env::Env;
use pyship_build::plan::{Options, Plan};
use pyship_build::platform::Platform;
use pyship_build::report::RecordingReporter;
use pyship_build::{installer, Context};

use super::support::*;
use pyship_e2e::http::StaticServer;
use pyship_e2e::wine::{free_port, wait_http, Running, WinePrefix};

const NSIS: &str = "`apt-get install nsis` (Debian package `nsis`)";
const UV: &str = "`pip install uv` (PyPI package `uv`)";
const EMBED: &str = "python-3.11.9-embed-amd64.zip";
const UNINSTALL_KEY: &str = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall";

/// Replace the `[package.metadata.pyship]` keys of a fixture copy.
fn set_metadata(project: &Path, from: &str, to: &str) {
    let manifest = project.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    assert!(text.contains(from), "{from} not in {}", manifest.display());
    fs_err::write(&manifest, text.replacen(from, to, 1)).unwrap();
}

fn plan_for(project: &Path, version: &str) -> Plan {
    let p = pyship_build::project::load(Some(&project.join("Cargo.toml")), None).unwrap();
    Plan::build(
        p,
        &Env::default(),
        &Options {
            version: Some(version),
            out_dir: None,
            targets: vec![Platform::Windows],
        },
    )
    .unwrap()
}

/// A small stand-in for a Windows bundle of v0.1.0: the files the script and
/// its shortcuts point at, enough for makensis (not for running), and the app's
/// dist-info, which makes `cargo pyship installer` take it as current.
fn fake_bundle(dir: &Path) {
    for (rel, text) in [
        ("python/python.exe", "MZ"),
        ("python/pythonw.exe", "MZ"),
        ("python/python311._pth", "python311.zip\n.\nimport site\n"),
        ("app/src/hello_app/__init__.py", "\"\"\"hello\"\"\"\n"),
        ("scripts/start-hidden.vbs", "' launcher\n"),
        ("scripts/start.bat", "@echo off\n"),
        ("data/settings.json", "{}\n"),
        (
            "python/Lib/site-packages/hello_app-0.1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: hello-app\nVersion: 0.1.0\n",
        ),
        ("README.txt", "read me\n"),
    ] {
        let p = dir.join(rel);
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(p, text).unwrap();
    }
}

/// [`fake_bundle`] in the hello copy `project`, recorded as built from the
/// project's inputs as they are (for `version`), so that `cargo pyship
/// installer` takes it as current instead of building a real bundle.
fn fake_current_bundle(project: &Path, version: &str) {
    let plan = plan_for(project, version);
    fake_bundle(&plan.bundle_dir(Platform::Windows));
    fs_err::write(
        pyship_build::bundle::stamp_path(&plan, Platform::Windows),
        pyship_build::bundle::inputs_digest(&plan, Platform::Windows),
    )
    .unwrap();
    assert!(pyship_build::bundle::is_current(&plan, Platform::Windows));
}

#[test]
fn installer_script_escapes_name_with_quotes_and_dollar() {
    let makensis = require_tool("makensis", NSIS);
    let (_tmp, project) = copy_fixture("hello");
    set_metadata(
        &project,
        "name = \"Hello App\"",
        "name = 'My \"App\" $HOME'\nfile-name = \"my-app\"",
    );
    let plan = plan_for(&project, "v1.2.0-rc.1");
    assert_eq!(plan.name, "My \"App\" $HOME");
    let bundle = plan.bundle_dir(Platform::Windows);
    fake_bundle(&bundle);
    let (script, origin) = installer::render(&plan, &bundle).unwrap();
    assert_eq!(origin, None);
    insta::assert_snapshot!("installer_nsi_vbs_port", script);

    // Escaping holds when makensis reads it: it builds, without warnings.
    let reporter = RecordingReporter::default();
    let env = Env::from_pairs([(
        pyship_build::env::PYSHIP_MAKENSIS,
        makensis.to_string_lossy().into_owned(),
    )]);
    let ctx = Context::new(&reporter, &env);
    let built = installer::run(&plan, &bundle, &ctx).unwrap();
    assert_eq!(built.file_name, "my-app-v1.2.0-rc.1-setup.exe");
    assert_eq!(built.path, project.join("dist").join(&built.file_name));
    assert!(built.size > 30_000, "{built:?}");
    assert_eq!(built.sha256, sha256_file(&built.path));
    assert_eq!(built.script, bundle.parent().unwrap().join("installer.nsi"));
    let mut leftovers: Vec<_> = fs_err::read_dir(project.join("dist"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    leftovers.sort();
    assert_eq!(
        leftovers,
        [".pyship", ".pyship.lock", "my-app-v1.2.0-rc.1-setup.exe"],
        "only the installer, .pyship/ and the folder's lock"
    );
    assert!(!bundle.parent().unwrap().join("setup.exe.partial").exists());
    let warnings: Vec<_> = reporter
        .lines()
        .into_iter()
        .filter(|l| l.contains("warning"))
        .collect();
    assert!(warnings.is_empty(), "makensis warned: {warnings:?}");
    // The version resource carries the four-number form and the real spelling.
    let exe = fs_err::read(&built.path).unwrap();
    for want in ["1.2.0.0", "1.2.0-rc.1", "My \"App\" $HOME Setup"] {
        assert!(
            has_utf16(&exe, want),
            "{want} not in the installer's version resource"
        );
    }
}

#[test]
fn installer_script_pythonw_launcher_without_port() {
    require_tool("makensis", NSIS);
    let (_tmp, project) = copy_fixture("hello");
    set_metadata(&project, "port = 8765\n", "");
    set_metadata(
        &project,
        "publisher = \"Example Corp\"",
        "publisher = \"Example Corp\"\nlauncher = \"pythonw\"",
    );
    let plan = plan_for(&project, "2.0.1");
    let bundle = plan.bundle_dir(Platform::Windows);
    fake_bundle(&bundle);
    let (script, _) = installer::render(&plan, &bundle).unwrap();
    assert!(
        !script.contains("wscript.exe"),
        "pythonw launcher uses no VBScript"
    );
    assert!(!script.contains("http://localhost"), "no port, no browser");
    insta::assert_snapshot!("installer_nsi_pythonw", script);
    let reporter = RecordingReporter::default();
    let env = Env::default();
    installer::run(&plan, &bundle, &Context::new(&reporter, &env)).unwrap();
}

/// The installer is rebuilt only when what it is made from changes; a warm
/// run keeps the same bytes (and skips makensis); the compressor is the
/// project's `windows.installer-compression`.
#[test]
fn installer_is_rebuilt_only_when_its_inputs_change() {
    require_tool("makensis", NSIS);
    let (_tmp, project) = copy_fixture("hello");
    set_metadata(
        &project,
        "publisher = \"Example Corp\"",
        "publisher = \"Example Corp\"\ninstaller-compression = \"zlib\"",
    );
    let plan = plan_for(&project, "0.1.0");
    let bundle = plan.bundle_dir(Platform::Windows);
    fake_bundle(&bundle);
    let reporter = RecordingReporter::default();
    let env = Env::default();
    let ctx = Context::new(&reporter, &env);
    let cold = installer::run(&plan, &bundle, &ctx).unwrap();
    assert!(!cold.fresh);
    let script = fs_err::read_to_string(&cold.script).unwrap();
    assert!(script.contains("SetCompressor /SOLID zlib"), "{script}");
    let bytes = fs_err::read(&cold.path).unwrap();

    // Nothing changed: kept, byte for byte, without makensis.
    let t = Instant::now();
    let warm = installer::run(&plan, &bundle, &ctx).unwrap();
    assert!(warm.fresh, "{:?}", reporter.lines());
    assert_eq!(warm.makensis_seconds, 0.0);
    assert_eq!(warm.sha256, cold.sha256);
    assert_eq!(fs_err::read(&warm.path).unwrap(), bytes);
    eprintln!("warm installer stage: {:?}", t.elapsed());
    assert!(reporter.lines().iter().any(|l| l.contains("Fresh")));

    // A rebuilt tree with the same content (new file times) is no change.
    let readme = bundle.join("README.txt");
    fs_err::remove_file(&readme).unwrap();
    fs_err::write(&readme, "read me\n").unwrap();
    assert!(installer::run(&plan, &bundle, &ctx).unwrap().fresh);

    // Content changed, same size: rebuilt.
    fs_err::write(&readme, "READ ME\n").unwrap();
    let changed = installer::run(&plan, &bundle, &ctx).unwrap();
    assert!(!changed.fresh);
    assert_ne!(changed.sha256, cold.sha256);

    // The installer on disk is not the one recorded: rebuilt.
    fs_err::write(&changed.path, b"tampered").unwrap();
    let again = installer::run(&plan, &bundle, &ctx).unwrap();
    assert!(!again.fresh);
    assert_eq!(again.sha256, sha256_file(&again.path));

    // Another compressor is another input: rebuilt, with lzma this time.
    let (_tmp2, lzma_project) = copy_fixture("hello");
    let plan = plan_for(&lzma_project, "0.1.0");
    let bundle = plan.bundle_dir(Platform::Windows);
    fake_bundle(&bundle);
    let lzma = installer::run(&plan, &bundle, &ctx).unwrap();
    assert!(fs_err::read_to_string(&lzma.script)
        .unwrap()
        .contains("SetCompressor /SOLID lzma"));
}

#[test]
fn installer_compression_rejects_an_unknown_compressor_with_a_hint() {
    let (_tmp, project) = copy_fixture("hello");
    set_metadata(
        &project,
        "publisher = \"Example Corp\"",
        "publisher = \"Example Corp\"\ninstaller-compression = \"xz\"",
    );
    let out = std::process::Command::new(bin())
        .args(["pyship", "plan", "--manifest-path"])
        .arg(project.join("Cargo.toml"))
        .output_within(RUN_LIMIT);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("windows.installer-compression"), "{err}");
    assert!(err.contains("unknown variant `xz`"), "{err}");
    assert!(err.contains("hint:") && err.contains("\"zlib\""), "{err}");
}

#[test]
fn installer_override_error_names_the_script_line() {
    require_tool("makensis", NSIS);
    let (_tmp, project) = copy_fixture("hello");
    fake_current_bundle(&project, "v0.1.0");
    let templates = project.join("templates/windows");
    fs_err::create_dir_all(&templates).unwrap();
    fs_err::write(
        templates.join("installer.nsi.j2"),
        "Unicode true\nOutFile \"{{ out_file | nsis }}\"\nSection\n  BogusInstruction \"{{ name | nsis }}\"\nSectionEnd\n",
    )
    .unwrap();
    let out = pyship_command(&project.join(".cache"))
        .args(["installer", "--version", "v0.1.0", "--manifest-path"])
        .arg(project.join("Cargo.toml"))
        .output_within(RUN_LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("makensis failed on") && stderr.contains("installer.nsi line 4"),
        "{stderr}"
    );
    assert!(
        stderr.contains("BogusInstruction \"Hello App\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint:") && stderr.contains("templates/windows/installer.nsi.j2"),
        "{stderr}"
    );
    assert!(!project.join("dist/Hello-App-v0.1.0-setup.exe").exists());
}

#[test]
fn installer_without_makensis_names_debian_nsis() {
    let (_tmp, project) = copy_fixture("hello");
    fake_current_bundle(&project, "v0.1.0");
    let empty = tempfile::tempdir().unwrap();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let cargo = which_cargo(&cargo);
    let out = pyship_command(&project.join(".cache"))
        .args(["installer", "--version", "v0.1.0", "--manifest-path"])
        .arg(project.join("Cargo.toml"))
        .env("PATH", empty.path())
        .env("CARGO", cargo)
        .output_within(RUN_LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("`makensis` was not found"), "{stderr}");
    assert!(stderr.contains("Debian package `nsis`"), "{stderr}");
}

/// The absolute path of cargo (the test runs it with an empty PATH).
fn which_cargo(cargo: &std::ffi::OsStr) -> PathBuf {
    let p = PathBuf::from(cargo);
    if p.is_absolute() {
        return p;
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join(&p))
        .find(|p| p.is_file())
        .expect("cargo on PATH")
}

fn reg_query(prefix: &WinePrefix, key: &str) -> (bool, String) {
    let out = prefix
        .command("reg")
        .args(["query", key])
        .output_within(RUN_LIMIT);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Run a Windows program to its exit. Its output goes nowhere: a GUI program
/// can start wine's `explorer.exe /desktop`, which inherits and keeps open any
/// pipe, so waiting for the pipes to close would wait for the prefix to end.
fn exit_status(mut cmd: std::process::Command) -> std::process::ExitStatus {
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("wine runs")
}

/// Files under `dir`, relative, `/`-separated, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = walk(dir)
        .into_iter()
        .map(|p| {
            p.strip_prefix(dir)
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

/// Whether `bytes` hold `text` as UTF-16LE or as single bytes (a `.lnk` keeps
/// its target and arguments either way).
fn has_text(bytes: &[u8], text: &str) -> bool {
    has_utf16(bytes, text) || bytes.windows(text.len()).any(|w| w == text.as_bytes())
}

/// Whether `bytes` hold `text` as UTF-16LE (PE version resources).
fn has_utf16(bytes: &[u8], text: &str) -> bool {
    let wide: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    bytes.windows(wide.len()).any(|w| w == wide.as_slice())
}

/// `cargo pyship installer --version {version}`; there is no current bundle,
/// so it builds one first (runtime from `mirror`, wheels as the project says).
fn build_installer(project: &Path, cache: &Path, mirror: &str, version: &str) -> PathBuf {
    let start = Instant::now();
    let out = pyship(cache)
        .env("PYSHIP_PYTHON_MIRROR", mirror)
        .args(["installer", "--version", version, "--manifest-path"])
        .arg(project.join("Cargo.toml"))
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("Bundling") && stderr.contains(&format!("Hello-App-{version}-win-x64.zip")),
        "the bundle was not built first:\n{stderr}"
    );
    let exe = project.join(format!("dist/Hello-App-{version}-setup.exe"));
    eprintln!(
        "built {} ({} bytes) in {:?}",
        exe.display(),
        fs_err::metadata(&exe).unwrap().len(),
        start.elapsed()
    );
    exe
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: bundles, and installs under wine"
)]
fn installer_installs_upgrades_and_uninstalls_under_wine() {
    require_tool("makensis", NSIS);
    require_tool("uv", UV);
    let mirror_root = tempfile::tempdir().unwrap();
    fs_err::create_dir_all(mirror_root.path().join("3.11.9")).unwrap();
    fs_err::copy(
        pyship_e2e::testdata::embed_python_dir().join(EMBED),
        mirror_root.path().join("3.11.9").join(EMBED),
    )
    .unwrap();
    let mirror = StaticServer::start(mirror_root.path());
    let wheels = StaticServer::start(pyship_e2e::testdata::wheelhouse());
    let (tmp, project) = copy_fixture("hello");
    set_metadata(
        &project,
        "port = 8765\n",
        &format!(
            "port = 8765\nno-index = true\nfind-links = [\"{}/\"]\n",
            wheels.url()
        ),
    );
    let cache = tmp.path().join("cache");

    // v0.1.0 ships a module that v0.2.0 no longer has; each version has its
    // own dist-info. An upgrade must leave neither behind.
    let stale_module = project.join("python/src/hello_app/stale_v1.py");
    fs_err::write(&stale_module, "OLD = True\n").unwrap();
    let v1 = build_installer(&project, &cache, &mirror.url(), "v0.1.0");
    fs_err::remove_file(&stale_module).unwrap();
    let v2 = build_installer(&project, &cache, &mirror.url(), "v0.2.0");
    let stale = [
        "app/src/hello_app/stale_v1.py",
        "python/Lib/site-packages/hello_app-0.1.0.dist-info/METADATA",
    ];

    let prefix = WinePrefix::new();
    let app_dir = prefix.drive_c().join("Apps/Hello App");
    let key = format!(r"{UNINSTALL_KEY}\Hello-App");
    let setup = |exe: &Path| {
        let mut cmd = prefix.command(exe);
        // NSIS takes everything after `/D=` verbatim, unquoted; wine would quote
        // one argument holding a space, so the path goes in two.
        cmd.args(["/S", r"/D=C:\Apps\Hello", "App"]);
        exit_status(cmd)
    };
    let install = |exe: &Path| {
        let start = Instant::now();
        let status = setup(exe);
        assert!(status.success(), "{} failed: {status}", exe.display());
        eprintln!("installed {} in {:?}", exe.display(), start.elapsed());
    };

    // Install v0.1.0.
    install(&v1);
    for rel in [
        "python/python.exe",
        "python/python311._pth",
        "python/Lib/site-packages/numpy/__init__.py",
        "app/src/hello_app/__main__.py",
        "scripts/start-hidden.vbs",
        "uninstall.exe",
    ]
    .iter()
    .chain(&stale)
    {
        assert!(app_dir.join(rel).is_file(), "{rel} not installed");
    }
    assert!(!app_dir.join("data").exists());
    let (found, reg) = reg_query(&prefix, &key);
    assert!(found, "{key} missing");
    for want in [
        "DisplayName    REG_SZ    Hello App",
        "DisplayVersion    REG_SZ    0.1.0",
        "Publisher    REG_SZ    Example Corp",
        r#"UninstallString    REG_SZ    "C:\Apps\Hello App\uninstall.exe""#,
        r#"QuietUninstallString    REG_SZ    "C:\Apps\Hello App\uninstall.exe" /S"#,
        r"InstallLocation    REG_SZ    C:\Apps\Hello App",
        "EstimatedSize    REG_DWORD    0x",
    ] {
        assert!(reg.contains(want), "`{want}` not in:\n{reg}");
    }
    let user = prefix.user_dir();
    let start_menu =
        user.join("AppData/Roaming/Microsoft/Windows/Start Menu/Programs/Hello-App.lnk");
    assert!(start_menu.is_file(), "no Start menu shortcut");
    let desktop = user.join("Desktop/Hello-App.lnk");
    assert!(desktop.is_file(), "no Desktop shortcut");
    // Both start the hidden launcher through wscript (the default launcher).
    for lnk in [&start_menu, &desktop] {
        let bytes = fs_err::read(lnk).unwrap();
        for want in ["wscript.exe", r"scripts\start-hidden.vbs"] {
            assert!(
                has_text(&bytes, want),
                "{} does not name {want}",
                lnk.display()
            );
        }
    }
    // "Start with Windows" is opt-in: not in a silent default install.
    assert!(!user
        .join("AppData/Roaming/Microsoft/Windows/Start Menu/Programs/Startup/Hello-App.lnk")
        .exists());

    // The installed app serves.
    let port = free_port();
    let mut cmd = prefix.command(app_dir.join("python/python.exe"));
    cmd.args(["-m", "hello_app"])
        .env("HELLO_PORT", port.to_string())
        .current_dir(&app_dir);
    let app = Running::spawn(cmd);
    let health = wait_http(port, "/health", Duration::from_secs(180));
    if health.as_ref().map(|h| h.0) != Some(200) {
        prefix.kill();
        let (so, se) = app.stop();
        panic!("/health answered {health:?}\nstdout:\n{so}\nstderr:\n{se}");
    }
    let (_, body) = wait_http(port, "/version", Duration::from_secs(10)).unwrap();
    assert!(body.contains("\"platform\":\"win32\""), "{body}");
    assert!(body.contains("\"version\":\"0.1.0\""), "{body}");
    // The running-instance check sees the locked interpreter. A silent setup
    // answers "stop it"; wine has no working PowerShell to stop it with, so
    // setup must give up (exit 2) and leave the running install alone.
    assert_eq!(setup(&v2).code(), Some(2), "setup ran over a running app");
    assert!(app_dir.join(stale[0]).is_file());
    assert!(reg_query(&prefix, &key).1.contains("0.1.0"));
    // Stop the prefix first: its processes may hold the app's output pipes.
    prefix.shutdown();
    app.stop();

    // The user's data, then the upgrade.
    fs_err::create_dir_all(app_dir.join("data")).unwrap();
    fs_err::write(app_dir.join("data/user.json"), "{\"mine\": true}\n").unwrap();
    fs_err::create_dir_all(app_dir.join("logs")).unwrap();
    fs_err::write(app_dir.join("logs/app.log"), "log\n").unwrap();
    install(&v2);
    for rel in stale {
        assert!(!app_dir.join(rel).exists(), "{rel} survived the upgrade");
    }
    assert!(app_dir
        .join("python/Lib/site-packages/hello_app-0.2.0.dist-info/METADATA")
        .is_file());
    assert!(app_dir
        .join("python/Lib/site-packages/numpy/__init__.py")
        .is_file());
    assert!(app_dir.join("app/src/hello_app/__main__.py").is_file());
    assert_eq!(
        fs_err::read_to_string(app_dir.join("data/user.json")).unwrap(),
        "{\"mine\": true}\n"
    );
    let (_, reg) = reg_query(&prefix, &key);
    assert!(reg.contains("DisplayVersion    REG_SZ    0.2.0"), "{reg}");

    // Uninstall: it copies itself away and returns at once; wait for the files to go.
    let mut uninstall = prefix.command(app_dir.join("uninstall.exe"));
    uninstall.arg("/S");
    let status = exit_status(uninstall);
    assert!(status.success(), "uninstall.exe /S failed: {status}");
    let start = Instant::now();
    while (app_dir.join("uninstall.exe").exists() || app_dir.join("python").exists())
        && start.elapsed() < Duration::from_secs(120)
    {
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(listing(&app_dir), ["data/user.json"]);
    let (found, reg) = reg_query(&prefix, &key);
    assert!(!found, "{key} still there:\n{reg}");
    assert!(!start_menu.exists(), "Start menu shortcut left behind");
    assert!(!desktop.exists(), "Desktop shortcut left behind");
}

#[test]
fn installer_refuses_a_bundle_without_the_launcher_its_shortcuts_use() {
    require_tool("makensis", NSIS);
    let (_tmp, project) = copy_fixture("hello");
    fake_current_bundle(&project, "v0.1.0");
    let bundle = project.join("dist/.pyship/windows/Hello-App");
    fs_err::remove_file(bundle.join("scripts/start-hidden.vbs")).unwrap();
    let out = pyship_command(&project.join(".cache"))
        .args(["installer", "--version", "v0.1.0", "--manifest-path"])
        .arg(project.join("Cargo.toml"))
        .output_within(RUN_LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    path_filters(&[(&project, "[root]")])
        .bind(|| insta::assert_snapshot!("installer_incomplete_bundle", error_part(&stderr)));
}

/// Issue 27: `installer` packs a tree built from the inputs as they are now.
/// Alternating `bundle --target windows` and `--target all` changes nothing
/// in the Windows tree, so the installer stays fresh; a config change
/// (`windows.args`) makes `installer` build the tree again, and the new
/// installer carries the new arguments. `msi` (after a `kind` change) and
/// `deb` (after a source changed) build their trees again the same way.
#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: bundles for Windows, builds installers"
)]
fn packages_follow_a_config_or_source_change_and_ignore_the_other_targets() {
    require_tool("makensis", NSIS);
    require_tool("uv", UV);
    let (_m, mirror) = pyship_e2e::testdata::python_mirror();
    let wheels = StaticServer::start(pyship_e2e::testdata::wheelhouse());
    let (_runtime_file, runtime) =
        pyship_e2e::pbs::serve("cpython-3.11.9-test-x86_64-unknown-linux-gnu-install_only.tar.gz");
    let (tmp, project) = copy_fixture("hello");
    set_metadata(
        &project,
        "port = 8765\n",
        &format!(
            "port = 8765\nno-index = true\nfind-links = [\"{}/\"]\n",
            wheels.url()
        ),
    );
    set_metadata(
        &project,
        "publisher = \"Example Corp\"",
        &format!(
            "publisher = \"Example Corp\"\ninstaller-compression = \"zlib\"\nargs = [\"--first\"]\n\n\
             [package.metadata.pyship.linux]\nmaintainer = \"Ann Example <ann@example.com>\"\n\
             runtime-url = \"{}/cpython-{{version}}-test-x86_64-unknown-linux-gnu-install_only.tar.gz\"",
            runtime.url()
        ),
    );
    let cache = tmp.path().join("cache");
    let run = |args: &[&str]| -> String {
        let out = pyship_command(&cache)
            .env("PYSHIP_PYTHON_MIRROR", mirror.url())
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args(args)
            .args(["--version", "v0.1.0", "--manifest-path"])
            .arg(project.join("Cargo.toml"))
            .output_within(RUN_LIMIT);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{args:?}:\n{err}");
        err
    };
    let setup = project.join("dist/Hello-App-v0.1.0-setup.exe");
    let launcher = project.join("dist/.pyship/windows/Hello-App/app/src/_pyship_launch.py");

    run(&["bundle", "--target", "windows"]);
    let err = run(&["installer"]);
    assert!(!err.contains("Bundling"), "the tree is current:\n{err}");
    let first = sha256_file(&setup);
    run(&["bundle", "--target", "all"]);
    let err = run(&["installer"]);
    assert!(
        err.contains("Fresh") && !err.contains("Bundling"),
        "--target all built the same Windows tree:\n{err}"
    );
    run(&["bundle", "--target", "windows"]);
    let err = run(&["installer"]);
    assert!(err.contains("Fresh"), "{err}");
    assert_eq!(sha256_file(&setup), first);

    // Another argument for Windows (`windows.args`): the tree is stale, and
    // installer builds it again first.
    set_metadata(&project, "args = [\"--first\"]", "args = [\"--second\"]");
    let err = run(&["installer"]);
    assert!(
        err.contains("Bundling Hello App v0.1.0 for windows (its inputs changed"),
        "{err}"
    );
    assert!(!err.contains("Fresh"), "{err}");
    assert_ne!(sha256_file(&setup), first);
    let launch = fs_err::read_to_string(&launcher).unwrap();
    assert!(
        launch.contains("--second") && !launch.contains("--first"),
        "{launch}"
    );

    // msi and deb take the trees the same way. A console app has other
    // launchers: msi builds the tree again rather than find it incomplete.
    require_tool("wixl", "`apt-get install wixl` (Debian package `wixl`)");
    set_metadata(
        &project,
        "port = 8765\n",
        "port = 8765\nkind = \"console\"\n",
    );
    let err = run(&["msi"]);
    assert!(
        err.contains("Bundling Hello App v0.1.0 for windows (its inputs changed"),
        "{err}"
    );
    assert!(project.join("dist/Hello-App-v0.1.0-x64.msi").is_file());
    // A changed source: deb builds the Linux tree again, with it.
    let err = run(&["deb"]);
    assert!(err.contains("Bundling Hello App v0.1.0 for linux"), "{err}");
    let err = run(&["deb"]);
    assert!(!err.contains("Bundling"), "the tree is current:\n{err}");
    let main = project.join("python/src/hello_app/main.py");
    let mut code = fs_err::read_to_string(&main).unwrap();
    code.push_str("\nEDITED = True\n");
    fs_err::write(&main, code).unwrap();
    let err = run(&["deb"]);
    assert!(
        err.contains("Bundling Hello App v0.1.0 for linux (its inputs changed"),
        "{err}"
    );
    let shipped = project.join("dist/.pyship/linux/Hello-App/app/src/hello_app/main.py");
    assert!(fs_err::read_to_string(shipped)
        .unwrap()
        .contains("EDITED = True"));
}
