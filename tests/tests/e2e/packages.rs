//! The packages administrators deploy (issue 31): the Debian package, checked
//! by lintian and installed, upgraded, removed and purged by the real dpkg on
//! this machine, and the MSI, installed, upgraded and removed by wine's
//! msiexec.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::support::*;
use pyship_e2e::http::StaticServer;
use pyship_e2e::wine::{free_port, http_get, wait_http, Running};

/// The served name of the test runtime: `{version}` is the configured 3.11.9.
const RUNTIME_FILE: &str = "cpython-3.11.9-test-x86_64-unknown-linux-gnu-install_only.tar.gz";
const PACKAGE: &str = "hello-app";
const SERVICE_USER: &str = "pyship-hello";

/// The hello fixture, wheels only from `wheels_url`, a `config/` folder
/// shipped in `app/config` and listed as conffiles, and `linux` settings.
fn hello_deb_project(wheels_url: &str, runtime_url: &str) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = copy_fixture("hello");
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    let text = text.replacen(
        "port = 8765\n",
        &format!(
            "port = 8765\nno-index = true\nfind-links = [\"{wheels_url}/\"]\ninclude = [\"config\"]\n"
        ),
        1,
    );
    fs_err::write(
        &manifest,
        format!(
            "{text}\n[package.metadata.pyship.linux]\nruntime-url = \"{runtime_url}\"\ndeb = true\n\
             maintainer = \"Hello Maintainer <hello@example.com>\"\nuser = \"{SERVICE_USER}\"\n\
             conffiles = [\"app/config\"]\n"
        ),
    )
    .unwrap();
    fs_err::create_dir_all(dir.join("config")).unwrap();
    fs_err::write(dir.join("config/settings.toml"), "greeting = \"hello\"\n").unwrap();
    (tmp, dir)
}

/// `cargo pyship deb --version {version}` (builds the bundle first).
fn build_deb(dir: &Path, cache: &Path, version: &str) -> (PathBuf, String) {
    require_tool("uv", "`pip install uv` (PyPI package `uv`)");
    let start = Instant::now();
    let out = pyship(cache)
        .current_dir(dir)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["deb", "--version", version])
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    let v = pyship_build::version::Version::parse_from(version, None).unwrap();
    let deb = dir
        .join("dist")
        .join(pyship_build::plan::deb_file_name("Hello-App", &v));
    assert!(deb.is_file(), "no {}:\n{stderr}", deb.display());
    eprintln!(
        "built {} ({} bytes) in {:?}",
        deb.display(),
        fs_err::metadata(&deb).unwrap().len(),
        start.elapsed()
    );
    (deb, stderr)
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("command runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn dpkg(args: &[&str]) -> String {
    let (ok, text) = run(Command::new("dpkg")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive"));
    assert!(ok, "dpkg {args:?} failed:\n{text}");
    text
}

/// Purges the package and removes its system user, however the test ends.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["-P", PACKAGE]).output();
        let _ = Command::new("deluser")
            .arg("--system")
            .arg(SERVICE_USER)
            .output();
        let _ = Command::new("delgroup")
            .arg("--system")
            .arg(SERVICE_USER)
            .output();
    }
}

/// Start the installed app from /opt, wait for `/health`, return `/version`.
fn installed_app_answers() -> String {
    let port = free_port();
    let cwd = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("/opt/Hello-App/run.sh");
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
    version.expect("/version answers").1
}

/// The whole life of the Debian package on this machine: lintian, install
/// (systemd is not PID 1 here: the maintainer scripts must cope), the unit,
/// the app from /opt, an upgrade keeping data and an edited conffile, remove
/// keeping them, purge deleting them; and two cold builds give the same bytes.
#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: builds Linux bundles and debs twice, installs them with dpkg"
)]
fn deb_installs_upgrades_removes_and_purges_with_dpkg() {
    require_tool("dpkg", "`apt-get install dpkg`");
    let lintian = require_tool(
        "lintian",
        "`apt-get install lintian` (Debian package `lintian`)",
    );
    let analyze = require_tool(
        "systemd-analyze",
        "`apt-get install systemd` (Debian package `systemd`)",
    );
    if !nix_root() {
        panic!("this test installs a package with dpkg: run it as root");
    }
    let (_served, runtime_server) = pyship_e2e::pbs::serve(RUNTIME_FILE);
    let wheels = StaticServer::start(pyship_e2e::testdata::wheelhouse());
    let runtime_url = format!(
        "{}/cpython-{{version}}-test-x86_64-unknown-linux-gnu-install_only.tar.gz",
        runtime_server.url()
    );
    let (_tmp, dir) = hello_deb_project(&wheels.url(), &runtime_url);
    let cache = tempfile::tempdir().unwrap();
    let (rc, _) = build_deb(&dir, cache.path(), "v0.3.0-rc.1");
    assert!(
        rc.file_name().unwrap().to_string_lossy() == "Hello-App_0.3.0~rc1_amd64.deb",
        "{}",
        rc.display()
    );

    // Two cold builds (another copy, another cache): the same bytes.
    let (_tmp2, dir2) = hello_deb_project(&wheels.url(), &runtime_url);
    let cache2 = tempfile::tempdir().unwrap();
    let (rc2, _) = build_deb(&dir2, cache2.path(), "v0.3.0-rc.1");
    assert_eq!(
        sha256_file(&rc),
        sha256_file(&rc2),
        "two cold builds of the deb differ"
    );
    // From the current bundle: the deb alone again, for the figures in the notes.
    let start = Instant::now();
    build_deb(&dir, cache.path(), "v0.3.0-rc.1");
    eprintln!(
        "figures: deb {} bytes in {:?} (from the current bundle)",
        fs_err::metadata(&rc).unwrap().len(),
        start.elapsed()
    );
    assert_eq!(
        sha256_file(&rc),
        sha256_file(&rc2),
        "a rebuild of the deb differs"
    );

    // What dpkg reads.
    let info = dpkg(&["--info", rc.to_str().unwrap()]);
    for want in [
        "Package: hello-app",
        "Version: 0.3.0~rc1",
        "Architecture: amd64",
        "Maintainer: Hello Maintainer <hello@example.com>",
        "Depends: ",
        "libc6 (>= 2.",
        "adduser",
        "init-system-helpers",
        "postinst",
        "conffiles",
    ] {
        assert!(info.contains(want), "`{want}` not in dpkg --info:\n{info}");
    }
    let contents = dpkg(&["--contents", rc.to_str().unwrap()]);
    for want in [
        " opt/Hello-App/run.sh",
        " opt/Hello-App/python/bin/python3",
        " lib/systemd/system/Hello-App.service",
        " etc/Hello-App/config/settings.toml",
        " opt/Hello-App/data -> /var/lib/Hello-App",
        " opt/Hello-App/app/config -> /etc/Hello-App/config",
        " usr/share/doc/hello-app/copyright",
    ] {
        assert!(
            contents.contains(want),
            "`{want}` not in the deb:\n{contents}"
        );
    }
    assert!(
        contents.lines().all(|l| l.contains("root/root")),
        "an entry not owned by root:\n{contents}"
    );
    // The package manages the unit: the tarball's service scripts are not in it.
    assert!(!contents.contains("install-service.sh"), "{contents}");

    // lintian: no errors.
    let (_, report) = run(Command::new(&lintian)
        .args(["--tag-display-limit", "0"])
        .arg(&rc));
    eprintln!("lintian:\n{report}");
    let errors: Vec<&str> = report.lines().filter(|l| l.starts_with("E:")).collect();
    assert!(errors.is_empty(), "lintian errors:\n{}", errors.join("\n"));

    // Install.
    let _installed = Installed;
    let _ = Command::new("dpkg").args(["-P", PACKAGE]).output();
    dpkg(&["-i", rc.to_str().unwrap()]);
    let unit = Path::new("/lib/systemd/system/Hello-App.service");
    let unit_text = fs_err::read_to_string(unit).unwrap();
    assert!(
        unit_text.contains("ExecStart=\"/opt/Hello-App/run.sh\"")
            && unit_text.contains(&format!("User={SERVICE_USER}")),
        "{unit_text}"
    );
    let (ok, text) = run(Command::new(&analyze).arg("verify").arg(unit));
    assert!(ok, "systemd-analyze verify failed:\n{text}");
    assert!(
        Path::new("/etc/systemd/system/multi-user.target.wants/Hello-App.service").exists(),
        "the unit was not enabled"
    );
    let (ok, passwd) = run(Command::new("getent").args(["passwd", SERVICE_USER]));
    assert!(ok, "no system user {SERVICE_USER}");
    assert!(passwd.contains("/var/lib/Hello-App"), "{passwd}");
    let data = Path::new("/var/lib/Hello-App");
    assert!(data.is_dir());
    assert_eq!(
        fs_err::canonicalize("/opt/Hello-App/data").unwrap(),
        data,
        "data/ is not the /var/lib folder"
    );
    assert_eq!(
        fs_err::read_to_string("/opt/Hello-App/app/config/settings.toml").unwrap(),
        "greeting = \"hello\"\n"
    );
    let version = installed_app_answers();
    assert!(version.contains("0.3.0rc1"), "{version}");
    assert_eq!(
        fs_err::read_to_string("/opt/Hello-App/.pyship-install").unwrap(),
        "deb\n"
    );

    // The user's data and an edited conffile survive the upgrade.
    fs_err::write(data.join("user.json"), "{\"mine\": true}\n").unwrap();
    fs_err::write(
        "/etc/Hello-App/config/settings.toml",
        "greeting = \"mine\"\n",
    )
    .unwrap();
    let (final_deb, _) = build_deb(&dir, cache.path(), "v0.3.0");
    dpkg(&["-i", final_deb.to_str().unwrap()]);
    let status = dpkg(&["-s", PACKAGE]);
    assert!(status.contains("Version: 0.3.0\n"), "{status}");
    assert_eq!(
        fs_err::read_to_string(data.join("user.json")).unwrap(),
        "{\"mine\": true}\n"
    );
    assert_eq!(
        fs_err::read_to_string("/etc/Hello-App/config/settings.toml").unwrap(),
        "greeting = \"mine\"\n"
    );
    let version = installed_app_answers();
    assert!(version.contains("\"version\":\"0.3.0\""), "{version}");
    // dpkg refuses nothing on a downgrade by itself, but orders the versions.
    let (older, _) =
        run(Command::new("dpkg").args(["--compare-versions", "0.3.0~rc1", "lt", "0.3.0"]));
    assert!(older);

    // Remove: the files go, the data and the conffiles stay.
    dpkg(&["-r", PACKAGE]);
    assert!(!Path::new("/opt/Hello-App").exists(), "/opt/Hello-App left");
    assert!(!unit.exists(), "unit left after remove");
    assert!(data.join("user.json").is_file(), "remove deleted the data");
    assert!(Path::new("/etc/Hello-App/config/settings.toml").is_file());
    let status = dpkg(&["-s", PACKAGE]);
    assert!(
        status.contains("Status: deinstall ok config-files"),
        "{status}"
    );

    // Purge: everything goes.
    dpkg(&["-P", PACKAGE]);
    assert!(!data.exists(), "purge left /var/lib/Hello-App");
    assert!(
        !Path::new("/etc/Hello-App").exists(),
        "purge left /etc/Hello-App"
    );
    assert!(!Path::new("/etc/systemd/system/multi-user.target.wants/Hello-App.service").exists());
    let (known, _) = run(Command::new("dpkg").args(["-s", PACKAGE]));
    assert!(!known, "dpkg still knows {PACKAGE}");
}

fn nix_root() -> bool {
    run(Command::new("id").arg("-u")).1.trim() == "0"
}

const EMBED: &str = "python-3.11.9-embed-amd64.zip";
const UNINSTALL_KEY: &str = r"HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall";

/// The hello fixture with wheels only from `wheels_url` and a known release location.
fn hello_msi_project(wheels_url: &str) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = copy_fixture("hello");
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    let text = text
        .replacen(
            "port = 8765\n",
            &format!("port = 8765\nno-index = true\nfind-links = [\"{wheels_url}/\"]\n"),
            1,
        )
        .replacen(
            "publisher = \"Example Corp\"",
            "publisher = \"Example Corp\"\nmsi = true",
            1,
        );
    fs_err::write(
        &manifest,
        format!(
            "{text}\n[package.metadata.pyship.publish]\nurl = \"https://git.example.com\"\nrepo = \"owner/hello\"\n"
        ),
    )
    .unwrap();
    (tmp, dir)
}

/// `cargo pyship msi --version {version}` (builds the bundle first).
fn build_msi(dir: &Path, cache: &Path, mirror: &str, version: &str) -> PathBuf {
    require_tool("uv", "`pip install uv` (PyPI package `uv`)");
    let start = Instant::now();
    let out = pyship(cache)
        .current_dir(dir)
        .env("PYSHIP_PYTHON_MIRROR", mirror)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["msi", "--version", version])
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    let msi = dir.join(format!("dist/Hello-App-{version}-x64.msi"));
    assert!(msi.is_file(), "no {}:\n{stderr}", msi.display());
    eprintln!(
        "built {} ({} bytes) in {:?}",
        msi.display(),
        fs_err::metadata(&msi).unwrap().len(),
        start.elapsed()
    );
    msi
}

/// `msiinfo export MSI TABLE`.
fn msi_table(msiinfo: &Path, msi: &Path, table: &str) -> String {
    let (ok, text) = run(Command::new(msiinfo).arg("export").arg(msi).arg(table));
    assert!(ok, "msiinfo export {table}: {text}");
    text
}

fn msi_property(msiinfo: &Path, msi: &Path, name: &str) -> String {
    msi_table(msiinfo, msi, "Property")
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}\t")).map(str::to_owned))
        .unwrap_or_else(|| panic!("no {name} property in {}", msi.display()))
}

/// Every `.lnk` under `dir`.
fn shortcuts(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = fs_err::read_dir(dir) else {
        return out;
    };
    for e in rd {
        let p = e.unwrap().path();
        if p.is_dir()
            && !fs_err::symlink_metadata(&p)
                .unwrap()
                .file_type()
                .is_symlink()
        {
            out.extend(shortcuts(&p));
        } else if p.extension().is_some_and(|x| x == "lnk") {
            out.push(p);
        }
    }
    out
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in fs_err::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                out.push(format!("{rel}/"));
                walk(root, &p, out);
            } else {
                out.push(rel);
            }
        }
    }
    if dir.is_dir() {
        walk(dir, dir, &mut out);
    }
    out.sort();
    out
}

/// The MSI: its tables (msiinfo), the same bytes from two cold builds, and
/// under wine: a silent per-machine install whose app answers, an upgrade in
/// place by the next version (one Add/Remove Programs entry, `data\` kept,
/// Python's caches gone), an older package refused, and `msiexec /x`.
#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: bundles for Windows, builds MSIs and an installer, installs under wine"
)]
fn msi_installs_upgrades_and_uninstalls_under_wine() {
    let msiinfo = require_tool(
        "msiinfo",
        "`apt-get install msitools` (Debian package `msitools`)",
    );
    require_tool("wixl", "`apt-get install wixl` (Debian package `wixl`)");
    let mirror_root = tempfile::tempdir().unwrap();
    fs_err::create_dir_all(mirror_root.path().join("3.11.9")).unwrap();
    fs_err::copy(
        pyship_e2e::testdata::embed_python_dir().join(EMBED),
        mirror_root.path().join("3.11.9").join(EMBED),
    )
    .unwrap();
    let mirror = StaticServer::start(mirror_root.path());
    let wheels = StaticServer::start(pyship_e2e::testdata::wheelhouse());
    let (tmp, dir) = hello_msi_project(&wheels.url());
    let cache = tmp.path().join("cache");
    // v0.1.0 ships a module v0.2.0 no longer has.
    let stale_module = dir.join("python/src/hello_app/stale_v1.py");
    fs_err::write(&stale_module, "OLD = True\n").unwrap();
    let v1 = build_msi(&dir, &cache, &mirror.url(), "v0.1.0");

    // A cold build elsewhere: the same bytes.
    let (tmp2, dir2) = hello_msi_project(&wheels.url());
    fs_err::write(
        dir2.join("python/src/hello_app/stale_v1.py"),
        "OLD = True\n",
    )
    .unwrap();
    let again = build_msi(&dir2, &tmp2.path().join("cache"), &mirror.url(), "v0.1.0");
    let v1_sha = sha256_file(&v1);
    assert_eq!(
        v1_sha,
        sha256_file(&again),
        "two cold builds of the MSI differ"
    );
    drop(tmp2);

    // From the current bundle: the MSI alone again (the same bytes), and the
    // NSIS installer beside it, for the figures in the notes.
    let figure = |cmd: &str| {
        let start = Instant::now();
        pyship(&cache)
            .current_dir(&dir)
            .env("PYSHIP_PYTHON_MIRROR", mirror.url())
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args([cmd, "--version", "v0.1.0"])
            .assert()
            .success();
        start.elapsed()
    };
    let msi_time = figure("msi");
    assert_eq!(sha256_file(&v1), v1_sha, "a rebuild of the MSI differs");
    let nsis_time = figure("installer");
    let setup = dir.join("dist/Hello-App-v0.1.0-setup.exe");
    eprintln!(
        "figures: msi {} bytes in {msi_time:?}; setup.exe {} bytes in {nsis_time:?}",
        fs_err::metadata(&v1).unwrap().len(),
        fs_err::metadata(&setup).unwrap().len()
    );

    fs_err::remove_file(&stale_module).unwrap();
    let v2 = build_msi(&dir, &cache, &mirror.url(), "v0.2.0");

    // The tables, read back by msitools.
    let (ok, tables) = run(Command::new(&msiinfo).arg("tables").arg(&v1));
    assert!(ok, "{tables}");
    for t in [
        "File",
        "Component",
        "Directory",
        "Shortcut",
        "Upgrade",
        "RemoveFile",
        "Icon",
        "InstallExecuteSequence",
        "LaunchCondition",
    ] {
        assert!(tables.lines().any(|l| l == t), "no {t} table:\n{tables}");
    }
    assert!(
        msi_table(&msiinfo, &v1, "_ForceCodepage").contains("65001\t_ForceCodepage"),
        "the database's code page is not UTF-8"
    );
    let upgrade = msi_property(&msiinfo, &v1, "UpgradeCode");
    assert_eq!(
        upgrade,
        msi_property(&msiinfo, &v2, "UpgradeCode"),
        "UpgradeCode changed"
    );
    let (p1, p2) = (
        msi_property(&msiinfo, &v1, "ProductCode"),
        msi_property(&msiinfo, &v2, "ProductCode"),
    );
    assert_ne!(p1, p2, "each version is its own product");
    assert_eq!(msi_property(&msiinfo, &v2, "ProductVersion"), "0.2.0");
    assert_eq!(msi_property(&msiinfo, &v1, "Manufacturer"), "Example Corp");
    assert_eq!(
        msi_property(&msiinfo, &v1, "ARPURLINFOABOUT"),
        "https://git.example.com/owner/hello"
    );
    let upgrade_rows = msi_table(&msiinfo, &v2, "Upgrade");
    assert!(upgrade_rows.contains("0.0.0\t0.2.1"), "{upgrade_rows}");
    let (ok, suminfo) = run(Command::new(&msiinfo).arg("suminfo").arg(&v1));
    assert!(ok, "{suminfo}");
    assert!(suminfo.contains("Template: x64;1033"), "{suminfo}");
    let remove = msi_table(&msiinfo, &v1, "RemoveFile");
    assert!(remove.contains("__main__.cpython-311.pyc"), "{remove}");

    // Install v0.1.0, per machine, silently.
    let prefix = pyship_e2e::wine::WinePrefix::new();
    let msiexec = |args: &[&str], msi: &Path| {
        let start = Instant::now();
        let mut cmd = prefix.command("msiexec");
        cmd.args(args)
            .arg(pyship_e2e::wine::WinePrefix::windows_path(msi))
            .arg("/qn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let status = cmd.status().unwrap();
        eprintln!(
            "msiexec {args:?} {}: {status} in {:?}",
            msi.display(),
            start.elapsed()
        );
        status
    };
    assert!(msiexec(&["/i"], &v1).success(), "msiexec /i v0.1.0 failed");
    let app_dir = prefix.drive_c().join("Program Files/Hello-App");
    for rel in [
        "python/python.exe",
        "python/python311._pth",
        "python/Lib/site-packages/numpy/__init__.py",
        "app/src/hello_app/__main__.py",
        "app/src/hello_app/stale_v1.py",
        "scripts/start-hidden.vbs",
        ".pyship-install",
    ] {
        assert!(app_dir.join(rel).is_file(), "{rel} not installed");
    }
    assert_eq!(
        fs_err::read_to_string(app_dir.join(".pyship-install")).unwrap(),
        "msi\n"
    );
    let arp = |code: &str| {
        let out = prefix
            .command("reg")
            .args(["query", &format!(r"{UNINSTALL_KEY}\{code}")])
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (found, reg) = arp(&p1);
    assert!(found, "no Add/Remove Programs entry {p1}");
    for want in [
        "DisplayName    REG_SZ    Hello App",
        "DisplayVersion    REG_SZ    0.1.0",
        "Publisher    REG_SZ    Example Corp",
        "URLInfoAbout    REG_SZ    https://git.example.com/owner/hello",
        "URLUpdateInfo    REG_SZ    https://git.example.com/owner/hello/releases",
    ] {
        assert!(reg.contains(want), "`{want}` not in:\n{reg}");
    }
    let links = shortcuts(&prefix.drive_c());
    let menu: Vec<&PathBuf> = links
        .iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "Hello-App.lnk"))
        .collect();
    assert_eq!(menu.len(), 1, "Start menu shortcuts: {links:?}");
    let lnk = fs_err::read(menu[0]).unwrap();
    let wide = |t: &str| -> Vec<u8> { t.encode_utf16().flat_map(u16::to_le_bytes).collect() };
    assert!(
        lnk.windows(wide("start-hidden.vbs").len())
            .any(|w| w == wide("start-hidden.vbs"))
            || lnk.windows(16).any(|w| w == b"start-hidden.vbs"),
        "the shortcut does not start the launcher"
    );

    // The installed app answers (and Python writes its caches beside it).
    let port = free_port();
    let mut cmd = prefix.command(app_dir.join("python/python.exe"));
    cmd.args(["-m", "hello_app"])
        .env("HELLO_PORT", port.to_string())
        .env_remove("PYTHONDONTWRITEBYTECODE")
        .current_dir(&app_dir);
    let app = Running::spawn(cmd);
    let health = wait_http(port, "/health", Duration::from_secs(180));
    let version = http_get(port, "/version");
    prefix.shutdown();
    let (so, se) = app.stop();
    assert_eq!(
        health.as_ref().map(|h| h.0),
        Some(200),
        "/health: {health:?}\nstdout:\n{so}\nstderr:\n{se}"
    );
    let (_, body) = version.expect("/version answers");
    assert!(body.contains("\"version\":\"0.1.0\""), "{body}");
    let pycache = app_dir.join("app/src/hello_app/__pycache__");
    assert!(
        pycache.is_dir(),
        "Python wrote no cache to test removal with"
    );

    // The user's data, then the upgrade in place.
    fs_err::create_dir_all(app_dir.join("data")).unwrap();
    fs_err::write(app_dir.join("data/user.json"), "{\"mine\": true}\n").unwrap();
    assert!(msiexec(&["/i"], &v2).success(), "msiexec /i v0.2.0 failed");
    assert!(!arp(&p1).0, "the old entry is still in Add/Remove Programs");
    let (found, reg) = arp(&p2);
    assert!(
        found && reg.contains("DisplayVersion    REG_SZ    0.2.0"),
        "{reg}"
    );
    assert!(
        !app_dir.join("app/src/hello_app/stale_v1.py").exists(),
        "stale module survived"
    );
    assert!(!pycache.exists(), "Python's cache survived the upgrade");
    assert!(app_dir
        .join("python/Lib/site-packages/hello_app-0.2.0.dist-info/METADATA")
        .is_file());
    assert_eq!(
        fs_err::read_to_string(app_dir.join("data/user.json")).unwrap(),
        "{\"mine\": true}\n"
    );

    // An older package is refused and changes nothing.
    assert!(
        !msiexec(&["/i"], &v1).success(),
        "v0.1.0 installed over v0.2.0"
    );
    assert!(arp(&p2).0 && !arp(&p1).0);

    // Uninstall: only the user's data stays.
    assert!(msiexec(&["/x"], &v2).success(), "msiexec /x failed");
    assert_eq!(files_under(&app_dir), ["data/", "data/user.json"]);
    assert!(!arp(&p2).0, "the entry is still in Add/Remove Programs");
    assert!(
        !shortcuts(&prefix.drive_c())
            .iter()
            .any(|p| p.file_name().is_some_and(|n| n == "Hello-App.lnk")),
        "the Start menu shortcut is left"
    );
}

/// With `windows.msi` and `linux.deb` on, both packages are artifacts of the
/// plan: release steps, assets (SHA256SUMS covers every asset), manifest
/// install types, the SBOM that describes them, the updater's asset map.
#[test]
fn packages_are_in_the_plan_manifest_and_checksums() {
    use pyship_build::plan::{ArtifactKind, InstallType};
    let (_t, dir) = copy_fixture("hello");
    let manifest_path = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest_path).unwrap();
    fs_err::write(
        &manifest_path,
        format!(
            "{}\n[package.metadata.pyship.linux]\ndeb = true\nmaintainer = \"Ann <ann@example.com>\"\n",
            text.replacen(
                "publisher = \"Example Corp\"",
                "publisher = \"Example Corp\"\nmsi = true",
                1
            )
        ),
    )
    .unwrap();
    let project = pyship_build::project::load(Some(&manifest_path), None).unwrap();
    let env = pyship_build::env::Env::from_pairs([
        ("GITHUB_SERVER_URL", "https://git.example.com/"),
        ("GITHUB_REPOSITORY", "owner/hello"),
    ]);
    let plan = pyship_build::Plan::build(
        project,
        &env,
        &pyship_build::plan::Options {
            version: Some("1.0.0rc1"),
            ..Default::default()
        },
    )
    .unwrap();
    let msi = plan.artifact(
        ArtifactKind::Msi,
        Some(pyship_build::platform::Platform::Windows),
    );
    let deb = plan.artifact(
        ArtifactKind::Deb,
        Some(pyship_build::platform::Platform::Linux),
    );
    assert_eq!(msi.unwrap().file_name, "Hello-App-v1.0.0-rc.1-x64.msi");
    assert_eq!(deb.unwrap().file_name, "Hello-App_1.0.0~rc1_amd64.deb");
    let rp = pyship_build::release::release_plan(&plan, &env);
    let steps: Vec<&str> = rp.steps.iter().map(|s| s.name).collect();
    let at = |n: &str| {
        steps
            .iter()
            .position(|s| *s == n)
            .unwrap_or_else(|| panic!("{n}: {steps:?}"))
    };
    assert!(at("installer") < at("msi") && at("msi") < at("deb") && at("deb") < at("manifest"));
    for name in [
        "Hello-App-v1.0.0-rc.1-x64.msi",
        "Hello-App_1.0.0~rc1_amd64.deb",
    ] {
        assert!(
            rp.release.assets.iter().any(|a| a == name),
            "{:?}",
            rp.release.assets
        );
    }
    let u = plan.update.as_ref().unwrap();
    assert_eq!(u.assets["msi"], "Hello-App-{tag}-x64.msi");
    assert!(u.assets.contains_key("deb"), "{:?}", u.assets);

    // Every artifact on disk: the manifest and SHA256SUMS list both packages.
    fs_err::create_dir_all(&plan.out_dir).unwrap();
    for (i, a) in plan.artifacts.iter().enumerate() {
        fs_err::write(&a.path, vec![b'x'; 100 + i]).unwrap();
    }
    let m = pyship_build::manifest::write_for(&plan, &env, None, true)
        .unwrap()
        .manifest;
    let kinds: Vec<(InstallType, &str)> = m
        .assets
        .iter()
        .map(|a| (a.install_type, a.name.as_str()))
        .collect();
    assert!(
        kinds.contains(&(InstallType::Msi, "Hello-App-v1.0.0-rc.1-x64.msi")),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&(InstallType::Deb, "Hello-App_1.0.0~rc1_amd64.deb")),
        "{kinds:?}"
    );
    let win = m.sboms.iter().find(|s| s.name.contains("win-x64")).unwrap();
    assert_eq!(
        win.describes,
        [
            "Hello-App-v1.0.0-rc.1-win-x64.zip",
            "Hello-App-v1.0.0-rc.1-setup.exe",
            "Hello-App-v1.0.0-rc.1-x64.msi"
        ]
    );
    let linux = m
        .sboms
        .iter()
        .find(|s| s.name.contains("linux-x64"))
        .unwrap();
    assert_eq!(
        linux.describes,
        [
            "Hello-App-v1.0.0-rc.1-linux-x64.tar.gz",
            "Hello-App_1.0.0~rc1_amd64.deb"
        ]
    );
    let paths: Vec<PathBuf> = plan
        .artifacts
        .iter()
        .filter(|a| a.kind != ArtifactKind::Checksums)
        .map(|a| a.path.clone())
        .collect();
    let sums = pyship_build::publish::checksums::render(&paths).unwrap();
    for name in [
        "Hello-App-v1.0.0-rc.1-x64.msi",
        "Hello-App_1.0.0~rc1_amd64.deb",
    ] {
        assert!(sums.lines().any(|l| l.ends_with(name)), "{sums}");
    }
}
