//! The packages administrators deploy (issue 31): the Debian package, checked
//! by lintian and installed, upgraded, removed and purged by the real dpkg on
//! this machine, and both packages in the plan, the manifest and the
//! checksums. The MSI, installed, upgraded and removed by wine's msiexec, is
//! tested in `packages/msi.rs`.

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
/// The package's data folder.
const DATA: &str = "/var/lib/Hello-App";
/// What postinst writes into the data folder it creates.
const CREATED: &str = "/var/lib/Hello-App/.pyship-created";

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

/// Purges the package, removes the data folder (the test makes one the
/// package must not delete) and its system user, however the test ends.
struct Installed;

impl Installed {
    fn clean() {
        let _ = Command::new("dpkg").args(["-P", PACKAGE]).output();
        let _ = fs_err::remove_dir_all(DATA);
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        Self::clean();
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
/// keeping them, a reinstall, purge deleting them; a data folder that was
/// there before the install kept by purge; and two cold builds give the
/// same bytes.
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
    Installed::clean();
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
    let data = Path::new(DATA);
    assert!(data.is_dir());
    // postinst made the folder, and recorded that it did.
    let created = Path::new(CREATED);
    let meta = fs_err::symlink_metadata(created).unwrap();
    assert!(meta.is_file(), "{CREATED} is no file");
    assert_eq!(
        std::os::unix::fs::MetadataExt::uid(&meta),
        0,
        "{CREATED} is not root's"
    );
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
    // Installed again over the kept data: still the package's own folder.
    dpkg(&["-i", final_deb.to_str().unwrap()]);
    assert!(data.join("user.json").is_file(), "reinstall lost the data");
    assert!(created.is_file(), "reinstall lost {CREATED}");
    dpkg(&["-r", PACKAGE]);
    assert!(created.is_file(), "remove deleted {CREATED}");

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

    // A data folder that was there before the package (another program's
    // with the same name): the app uses it, remove and purge keep it and
    // what it holds, and purge says so.
    fs_err::create_dir(data).unwrap();
    fs_err::write(data.join("theirs.db"), "not the package's\n").unwrap();
    dpkg(&["-i", final_deb.to_str().unwrap()]);
    assert!(
        !created.exists(),
        "postinst recorded a folder it did not create"
    );
    assert_eq!(
        fs_err::read_to_string("/opt/Hello-App/data/theirs.db").unwrap(),
        "not the package's\n"
    );
    let version = installed_app_answers();
    assert!(version.contains("\"version\":\"0.3.0\""), "{version}");
    dpkg(&["-r", PACKAGE]);
    assert!(
        data.join("theirs.db").is_file(),
        "remove deleted their data"
    );
    let purged = dpkg(&["-P", PACKAGE]);
    eprintln!("dpkg -P over a folder that was there before:\n{purged}");
    assert_eq!(
        fs_err::read_to_string(data.join("theirs.db")).unwrap(),
        "not the package's\n",
        "purge deleted a folder the package did not create"
    );
    assert!(!created.exists());
    assert!(
        purged.contains(&format!("{PACKAGE}: purge leaves {DATA} and what it holds")),
        "purge did not say why it kept {DATA}:\n{purged}"
    );
    let (known, _) = run(Command::new("dpkg").args(["-s", PACKAGE]));
    assert!(!known, "dpkg still knows {PACKAGE}");
}

fn nix_root() -> bool {
    run(Command::new("id").arg("-u")).1.trim() == "0"
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

mod msi;
