//! The MSI (issue 31), built by `cargo pyship msi`, read back with msiinfo,
//! and installed, upgraded and removed by wine's msiexec.

use super::*;

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
            .output_within(RUN_LIMIT);
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
