//! Each layout bundled for both targets with `bundle --target all`, then
//! run: Linux from the extracted tarball in another directory, Windows
//! under wine through the launcher the shortcuts use; each answers
//! /health with the stamped version and the configured args.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::super::support::*;
use pyship_e2e::http::StaticServer;
use pyship_e2e::wine::{free_port, wait_http, Running, WinePrefix};

const EMBED: &str = "python-3.11.9-embed-amd64.zip";
const RUNTIME_FILE: &str = "cpython-3.11.9-test-x86_64-unknown-linux-gnu-install_only.tar.gz";

struct Case {
    layout: &'static str,
    /// The table the fixture's config is in.
    table: &'static str,
    /// Folder name in the archives (the configured `name`).
    name: &'static str,
    version: &'static str,
    pep440: &'static str,
    linux_args: &'static [&'static str],
    windows_args: &'static [&'static str],
}

/// Add the offline sources to the fixture's pyship table.
fn offline(dir: &Path, case: &Case, wheels: &str, runtime_url: &str) {
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    let header = format!("[{}]\n", case.table);
    assert!(text.contains(&header), "{}: no {header}", case.layout);
    let text = text.replacen(
        &header,
        &format!("{header}no-index = true\nfind-links = [\"{wheels}/\"]\n"),
        1,
    );
    fs_err::write(
        &manifest,
        format!(
            "{text}\n[{}.linux]\nruntime-url = \"{runtime_url}\"\n",
            case.table
        ),
    )
    .unwrap();
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

/// The /health answer of `cmd` (with LAYOUT_PORT set), then stop it.
fn health(mut cmd: Command, what: &str, after: impl FnOnce()) -> serde_json::Value {
    let port = free_port();
    cmd.env("LAYOUT_PORT", port.to_string());
    let running = Running::spawn(cmd);
    let answer = wait_http(port, "/health", Duration::from_secs(180));
    after();
    let (so, se) = running.stop();
    let (status, body) = answer
        .unwrap_or_else(|| panic!("{what} never served /health\nstdout:\n{so}\nstderr:\n{se}"));
    assert_eq!(status, 200, "{what}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{what}: {e}: {body}"))
}

fn check(v: &serde_json::Value, case: &Case, args: &[&str], what: &str) {
    assert_eq!(v["version"], case.pep440, "{what}: {v}");
    let got: Vec<&str> = v["args"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: {v}"))
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(got, args, "{what}: {v}");
}

fn run(case: Case) {
    require_tool("uv", "`pip install uv` (PyPI package `uv`)");
    pyship_e2e::pbs::runtime();
    let (_served, runtime_server) = pyship_e2e::pbs::serve(RUNTIME_FILE);
    let wheels = StaticServer::start(pyship_e2e::testdata::wheelhouse());
    let mirror_root = tempfile::tempdir().unwrap();
    fs_err::create_dir_all(mirror_root.path().join("3.11.9")).unwrap();
    fs_err::copy(
        pyship_e2e::testdata::embed_python_dir().join(EMBED),
        mirror_root.path().join("3.11.9").join(EMBED),
    )
    .unwrap();
    let mirror = StaticServer::start(mirror_root.path());
    let (_t, dir) = copy_fixture(&format!("layouts/{}", case.layout));
    let runtime_url = format!(
        "{}/cpython-{{version}}-test-x86_64-unknown-linux-gnu-install_only.tar.gz",
        runtime_server.url()
    );
    offline(&dir, &case, &wheels.url(), &runtime_url);
    let cache = tempfile::tempdir().unwrap();
    // From a member crate when there is one: paths follow the table, not the cwd.
    let cwd: PathBuf = ["core", "crates/engine"]
        .iter()
        .map(|m| dir.join(m))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| dir.clone());
    let out = pyship_command(cache.path())
        .current_dir(&cwd)
        .env("PYSHIP_PYTHON_MIRROR", mirror.url())
        .args([
            "pyship",
            "bundle",
            "--target",
            "all",
            "--version",
            case.version,
        ])
        .output_within(RUN_LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{}: bundle failed:\n{stderr}",
        case.layout
    );
    let dist = dir.join("dist");
    let find = |suffix: &str| {
        fs_err::read_dir(&dist)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with(suffix))
            .unwrap_or_else(|| panic!("no *{suffix} in {}:\n{stderr}", dist.display()))
    };
    let (tarball, zip) = (find("-linux-x64.tar.gz"), find("-win-x64.zip"));

    // Linux: from the extracted tarball, started from an unrelated directory.
    let linux = tempfile::tempdir().unwrap();
    untar(&tarball, linux.path());
    let elsewhere = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(linux.path().join(case.name).join("run.sh"));
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir(elsewhere.path());
    let v = health(cmd, "run.sh", || ());
    check(
        &v,
        &case,
        case.linux_args,
        &format!("{} linux", case.layout),
    );

    // Windows: under wine, through the hidden launcher the shortcuts run.
    let win = tempfile::tempdir().unwrap();
    unzip(&zip, win.path());
    let root = win.path().join(case.name);
    let prefix = WinePrefix::new();
    let mut cmd = prefix.command("wscript");
    cmd.arg("scripts\\start-hidden.vbs").current_dir(&root);
    let v = health(cmd, "start-hidden.vbs", || prefix.kill());
    check(
        &v,
        &case,
        case.windows_args,
        &format!("{} windows", case.layout),
    );
}

/// Uncomment-and-set edits of the table init wrote, as a user makes them.
fn set_commented(dir: &Path, edits: &[(&str, String)]) {
    let manifest = dir.join("Cargo.toml");
    let mut text = fs_err::read_to_string(&manifest).unwrap();
    for (commented, line) in edits {
        assert!(
            text.contains(&format!("\n{commented}\n")),
            "no `{commented}` line in:\n{text}"
        );
        text = text.replacen(&format!("\n{commented}\n"), &format!("\n{line}\n"), 1);
    }
    fs_err::write(&manifest, text).unwrap();
}

/// The init round trip: on a copy of `layout` without its pyship table,
/// `cargo pyship init` → `bundle --target linux` (only the offline
/// sources set, plus `extra` for what no discovery can know) → the app
/// runs from the extracted tarball and answers with the version →
/// `cargo pyship init --check` passes.
fn roundtrip(layout: &str, version: &str, pep440: &str, extra: &[(&str, &str)], args: &[&str]) {
    require_tool("uv", "`pip install uv` (PyPI package `uv`)");
    pyship_e2e::pbs::runtime();
    let (_served, runtime_server) = pyship_e2e::pbs::serve(RUNTIME_FILE);
    let wheels = StaticServer::start(pyship_e2e::testdata::wheelhouse());
    let (_t, dir) = copy_fixture(&format!("layouts/{layout}"));
    super::strip_pyship(&dir);
    let cache = tempfile::tempdir().unwrap();
    pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "init"])
        .assert()
        .success();
    let mut edits: Vec<(&str, String)> = vec![
        ("# no-index = false", "no-index = true".into()),
        ("# find-links = []", format!("find-links = [\"{}/\"]", wheels.url())),
        (
            "# runtime-url = \"\"",
            format!(
                "runtime-url = \"{}/cpython-{{version}}-test-x86_64-unknown-linux-gnu-install_only.tar.gz\"",
                runtime_server.url()
            ),
        ),
    ];
    edits.extend(extra.iter().map(|(c, l)| (*c, (*l).to_owned())));
    set_commented(&dir, &edits);

    let cwd: PathBuf = ["core", "crates/engine"]
        .iter()
        .map(|m| dir.join(m))
        .find(|p| p.is_dir())
        .unwrap_or_else(|| dir.clone());
    let out = pyship_command(cache.path())
        .current_dir(&cwd)
        .args([
            "pyship",
            "bundle",
            "--target",
            "linux",
            "--version",
            version,
        ])
        .output_within(RUN_LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{layout}: bundle failed:\n{stderr}");
    let tarball = fs_err::read_dir(dir.join("dist"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("-linux-x64.tar.gz"))
        .unwrap_or_else(|| panic!("{layout}: no tarball in dist/:\n{stderr}"));
    let linux = tempfile::tempdir().unwrap();
    untar(&tarball, linux.path());
    let top: Vec<PathBuf> = fs_err::read_dir(linux.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(top.len(), 1, "{layout}: one top-level folder: {top:?}");
    let elsewhere = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(top[0].join("run.sh"));
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir(elsewhere.path());
    let v = health(cmd, &format!("{layout} run.sh"), || ());
    assert_eq!(v["version"], pep440, "{layout}: {v}");
    assert_eq!(v["args"], serde_json::json!(args), "{layout}: {v}");

    let check = pyship_command(cache.path())
        .current_dir(&dir)
        .args(["pyship", "init", "--check"])
        .output_within(RUN_LIMIT);
    assert!(
        check.status.success() && check.stdout.is_empty(),
        "{layout}: init --check after the bundle:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: inits, bundles and runs the layout"
)]
fn init_roundtrip_subfolder() {
    roundtrip("subfolder", "v1.1.1", "1.1.1", &[], &[]);
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: inits, bundles and runs the layout"
)]
fn init_roundtrip_virtual_workspace() {
    roundtrip("virtual-workspace", "v0.4.2", "0.4.2", &[], &[]);
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: inits, bundles and runs the layout"
)]
fn init_roundtrip_root_flat() {
    roundtrip("root-flat", "2.0.2", "2.0.2", &[], &[]);
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: inits, bundles and runs the layout"
)]
fn init_roundtrip_scripts_entry_point() {
    roundtrip("scripts", "v0.9.2", "0.9.2", &[], &[]);
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: inits, bundles and runs the layout"
)]
fn init_roundtrip_src_data() {
    // The data folder and the extra are the user's choices: no layout
    // tells them. Everything else is what init wrote.
    roundtrip(
        "src-data",
        "v3.1.1",
        "3.1.1",
        &[
            ("# include = []", "include = [\"config\"]"),
            ("# extras = []", "extras = [\"idn\"]"),
        ],
        &["from settings.json"],
    );
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: inits, bundles and runs the layout"
)]
fn init_roundtrip_cargo_init_flat() {
    roundtrip("cargo-init-flat", "v0.5.1", "0.5.1", &[], &[]);
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: inits, bundles and runs the layout"
)]
fn init_roundtrip_nested_flat_app() {
    // The shape no fixture has (see `nested_flat`): init, bundle, run, check.
    pyship_e2e::pbs::runtime();
    require_tool("uv", "`pip install uv` (PyPI package `uv`)");
    let (_served, runtime_server) = pyship_e2e::pbs::serve(RUNTIME_FILE);
    let t = tempfile::tempdir().unwrap();
    let dir = super::nested_flat(t.path());
    let cache = tempfile::tempdir().unwrap();
    pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "init", "--ci", "none"])
        .assert()
        .success();
    set_commented(
        &dir,
        &[
            ("# no-index = false", "no-index = true".into()),
            (
                "# runtime-url = \"\"",
                format!(
                    "runtime-url = \"{}/cpython-{{version}}-test-x86_64-unknown-linux-gnu-install_only.tar.gz\"",
                    runtime_server.url()
                ),
            ),
        ],
    );
    let out = pyship_command(cache.path())
        .current_dir(&dir)
        .args([
            "pyship",
            "bundle",
            "--target",
            "linux",
            "--version",
            "0.7.1",
        ])
        .output_within(RUN_LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bundle failed:\n{stderr}");
    // Named after the Python project (`web-service`), not the crate.
    let linux = tempfile::tempdir().unwrap();
    untar(
        &dir.join("dist/web-service-v0.7.1-linux-x64.tar.gz"),
        linux.path(),
    );
    let root = linux.path().join("web-service");
    let mut names: Vec<String> = fs_err::read_dir(root.join("app/src"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".dist-info") && n != "pyship_update")
        .collect();
    names.sort();
    assert_eq!(names, ["webapp"], "only the app's package is shipped");
    let run = Command::new(root.join("run.sh"))
        .arg("--flag")
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir(t.path())
        .output_within(RUN_LIMIT);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(v["version"], "0.7.1");
    assert_eq!(v["args"], serde_json::json!(["--flag"]));
    pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "init", "--check", "--ci", "none"])
        .assert()
        .success()
        .stdout("");
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: bundles the layout and runs it"
)]
fn layout_subfolder() {
    run(Case {
        layout: "subfolder",
        table: "package.metadata.pyship",
        name: "SubApp",
        version: "v1.1.0",
        pep440: "1.1.0",
        linux_args: &[],
        windows_args: &[],
    });
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: bundles the layout and runs it"
)]
fn layout_virtual_workspace() {
    run(Case {
        layout: "virtual-workspace",
        table: "workspace.metadata.pyship",
        name: "WsApp",
        version: "v0.4.1-rc.2",
        pep440: "0.4.1rc2",
        linux_args: &[],
        windows_args: &[],
    });
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: bundles the layout and runs it"
)]
fn layout_root_flat() {
    run(Case {
        layout: "root-flat",
        table: "package.metadata.pyship",
        name: "RootFlat",
        version: "2.0.1",
        pep440: "2.0.1",
        linux_args: &[],
        windows_args: &[],
    });
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: bundles the layout and runs it"
)]
fn layout_scripts_entry_point() {
    run(Case {
        layout: "scripts",
        table: "package.metadata.pyship",
        name: "Scripted",
        version: "v0.9.1",
        pep440: "0.9.1",
        linux_args: &[],
        windows_args: &[],
    });
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: bundles the layout and runs it"
)]
fn layout_src_data_with_include_and_extra() {
    run(Case {
        layout: "src-data",
        table: "package.metadata.pyship",
        name: "SrcData",
        version: "v3.1.0-beta.1",
        pep440: "3.1.0b1",
        // The greeting read from app/config/settings.json (the include).
        linux_args: &["from settings.json"],
        windows_args: &["from settings.json"],
    });
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: bundles the layout and runs it"
)]
fn layout_cargo_init_flat_with_args() {
    run(Case {
        layout: "cargo-init-flat",
        table: "package.metadata.pyship",
        name: "Greeter",
        version: "v0.5.0",
        pep440: "0.5.0",
        linux_args: &["--greeting", "hello world", "it's \"quoted\" 100% $HOME"],
        windows_args: &["--greeting", "hello windows", "it's \"quoted\" 100% %PATH%"],
    });
}
