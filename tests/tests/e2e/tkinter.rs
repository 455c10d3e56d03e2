//! `windows.tkinter = true`, end to end: the `tkapp` fixture (a tkinter window,
//! no third-party packages) bundled for Windows with tkinter from the
//! `tkinter-embed` sdist (`pypi`) and from stand-ins for python.org's MSIs built
//! with `wixl` from the same files (`msi`), then run under wine: Tcl starts,
//! and under `xvfb-run` a Tk window opens, updates and closes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;
use pyship_e2e::http::StaticServer;
use pyship_e2e::wine::WinePrefix;

const EMBED: &str = "python-3.11.9-embed-amd64.zip";
const ZIP: &str = "Tk-App-v0.1.0-win-x64.zip";
const SDIST: &str = "tkinter_embed-3.11.0.tar.gz";

/// A python.org-style mirror holding the embeddable CPython 3.11.9 (and, once
/// the test adds them, `3.11.9/amd64/*.msi`).
fn mirror_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("temp dir");
    fs_err::create_dir_all(d.path().join("3.11.9/amd64")).unwrap();
    fs_err::copy(
        pyship_e2e::testdata::embed_python_dir().join(EMBED),
        d.path().join("3.11.9").join(EMBED),
    )
    .unwrap();
    d
}

/// The tkapp fixture with `extra` appended to its `[…pyship.windows]` table
/// and `top` to its `[…pyship]` table (index settings).
fn tkapp(top: &str, windows: &str) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = copy_fixture("tkapp");
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest)
        .unwrap()
        .replacen(
            "python = \"3.11.9\"\n",
            &format!("python = \"3.11.9\"\n{top}"),
            1,
        )
        .replacen("tkinter = true\n", &format!("tkinter = true\n{windows}"), 1);
    fs_err::write(&manifest, text).unwrap();
    (tmp, dir)
}

/// `no-index` with the test data's `tkinter-embed` folder as the only find-links.
fn pypi_links() -> String {
    format!(
        "no-index = true\nfind-links = [\"{}\"]\n",
        pyship_e2e::testdata::tkinter_embed_dir().display()
    )
}

fn bundle(dir: &Path, cache: &Path, mirror: &str, prefix: &WinePrefix) -> assert_cmd::Command {
    require_tool("uv", "`pip install uv` (PyPI package `uv`)");
    let mut cmd = pyship(cache);
    cmd.current_dir(dir)
        .env("PYSHIP_PYTHON_MIRROR", mirror)
        .env("PYSHIP_WINEPREFIX", prefix.path())
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["bundle", "--target", "windows"]);
    cmd
}

fn set_in_manifest(dir: &Path, from: &str, to: &str) {
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    assert!(text.contains(from), "{from:?} not in {text}");
    fs_err::write(&manifest, text.replacen(from, to, 1)).unwrap();
}

/// Entry name → SHA-256 of every file of a zip.
fn zip_files(zip: &Path) -> BTreeMap<String, String> {
    pyship_e2e::testdata::zip_files(zip)
}

fn unzip(zip: &Path, dest: &Path) -> PathBuf {
    let mut z = zip::ZipArchive::new(fs_err::File::open(zip).unwrap()).unwrap();
    z.extract(dest).unwrap();
    dest.join("Tk-App")
}

/// `wine python.exe args…` in the unpacked bundle; (success, stdout, stderr).
fn run_python(prefix: &WinePrefix, root: &Path, args: &[&str]) -> (bool, String, String) {
    let out = prefix
        .command(root.join("python/python.exe"))
        .args(args)
        .current_dir(root)
        .output()
        .expect("wine runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The app's own `--smoke` run (Tk() opens a window, updates it, destroys it)
/// under `xvfb-run` with wine.
fn tk_window_under_xvfb(prefix: &WinePrefix, root: &Path) -> String {
    let xvfb = require_tool(
        "xvfb-run",
        "`apt-get install xvfb xauth` (Debian packages `xvfb`, `xauth`)",
    );
    require_tool("xauth", "`apt-get install xauth` (Debian package `xauth`)");
    let out = Command::new(xvfb)
        .args(["-a", "-s", "-screen 0 1024x768x24", "wine"])
        .arg(root.join("python/python.exe"))
        .args(["-m", "tkapp", "--smoke"])
        .env("WINEPREFIX", prefix.path())
        .env("WINEDEBUG", "-all")
        .env("WINEDLLOVERRIDES", "mscoree,mshtml=;winemenubuilder.exe=d")
        .current_dir(root)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("xvfb-run runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success() && stdout.contains("window "),
        "Tk window under xvfb-run failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    stdout
}

fn tcl_tk_entries(names: &BTreeMap<String, String>) -> Vec<&String> {
    names
        .keys()
        .filter(|n| {
            let l = n.to_ascii_lowercase();
            l.contains("/python/tcl/")
                || l.contains("/lib/tkinter/")
                || l.ends_with("_tkinter.pyd")
                || l.ends_with("/tcl86t.dll")
                || l.ends_with("/tk86t.dll")
        })
        .collect()
}

/// The number of packages the import check imported (`Imported N of M
/// packages …`).
fn imported(stderr: &str) -> usize {
    stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Imported ")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no import check in:\n{stderr}"))
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// pypi source: Tcl's patchlevel under wine, a Tk window under xvfb, the
/// `tkinter` preset's trims (Tk still starts), and `tkinter = false` ships no
/// Tcl/Tk. Prints the size tkinter adds to the zip, before and after the preset.
#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: bundles, and runs Tk under wine"
)]
fn tkinter_from_pypi_runs_tcl_and_a_tk_window_under_wine() {
    let mirror_root = mirror_dir();
    let mirror = StaticServer::start(mirror_root.path());
    let (_tmp, dir) = tkapp(&pypi_links(), "tkinter-source = \"pypi\"\n");
    let cache = tempfile::tempdir().unwrap();
    let prefix = WinePrefix::new();

    let out = bundle(&dir, cache.path(), &mirror.url(), &prefix)
        .assert()
        .success();
    let stderr = stderr_text(&out);
    // The summary line counts tkinter; the import check included it.
    assert!(stderr.contains("+ tkinter (pypi, "), "{stderr}");
    let checked_with_tk = imported(&stderr);
    let zip = dir.join("dist").join(ZIP);
    let files = zip_files(&zip);
    for f in [
        "Tk-App/python/_tkinter.pyd",
        "Tk-App/python/tcl86t.dll",
        "Tk-App/python/tk86t.dll",
        // tcl86t.dll of this build imports zlib.dll.
        "Tk-App/python/zlib.dll",
        "Tk-App/python/tcl/tcl8.6/init.tcl",
        "Tk-App/python/tcl/tk8.6/tk.tcl",
        "Tk-App/python/tcl/tk8.6/ttk/ttk.tcl",
        "Tk-App/python/Lib/tkinter/__init__.py",
        "Tk-App/python/Lib/tkinter/ttk.py",
    ] {
        assert!(files.contains_key(f), "{f} missing from {ZIP}");
    }
    // The sdist is pinned like a runtime: an --offline rebuild takes the
    // locked file and gives the same zip.
    let lock = fs_err::read_to_string(dir.join("pyship.lock")).unwrap();
    let sdist_sha = pyship_e2e::testdata::lock().tkinter.sha256;
    assert!(lock.contains(SDIST) && lock.contains(&sdist_sha), "{lock}");
    let first = sha256_file(&zip);
    bundle(&dir, cache.path(), &mirror.url(), &prefix)
        .arg("--offline")
        .assert()
        .success();
    assert_eq!(sha256_file(&zip), first, "the locked rebuild differs");

    let unpacked = tempfile::tempdir().unwrap();
    let root = unzip(&zip, unpacked.path());
    let pth = fs_err::read_to_string(root.join("python/python311._pth")).unwrap();
    assert!(pth.contains("\nLib\r\nLib\\site-packages"), "{pth:?}");
    let (ok, so, se) = run_python(
        &prefix,
        &root,
        &[
            "-c",
            "import tkinter; print(tkinter.Tcl().eval('info patchlevel'))",
        ],
    );
    let patchlevel = so.trim();
    assert!(
        ok && patchlevel.starts_with("8.6.") && patchlevel[4..].parse::<u32>().is_ok(),
        "Tcl patchlevel: {so:?}\n{se}"
    );
    tk_window_under_xvfb(&prefix, &root);
    let full = fs_err::metadata(&zip).unwrap().len();

    // The `tkinter` preset: optional trims; Tk still starts.
    set_in_manifest(
        &dir,
        "[package.metadata.pyship.windows]\n",
        "[package.metadata.pyship.strip]\npresets = [\"generic\", \"tkinter\"]\n\n[package.metadata.pyship.windows]\n",
    );
    let out = bundle(&dir, cache.path(), &mirror.url(), &prefix)
        .assert()
        .success();
    let stderr = stderr_text(&out);
    assert!(stderr.contains("(runtime presets)"), "{stderr}");
    let trimmed = zip_files(&zip);
    for gone in [
        "Tk-App/python/tcl/tcl86t.lib",
        "Tk-App/python/tcl/tclConfig.sh",
        "Tk-App/python/tcl/tcl8.6/tzdata/Europe/Berlin",
        "Tk-App/python/tcl/tcl8.6/msgs/de.msg",
        "Tk-App/python/tcl/tk8.6/demos/widget",
        "Tk-App/python/tcl/sqlite3.44.2/pkgIndex.tcl",
        "Tk-App/python/Lib/tkinter/test/__init__.py",
    ] {
        assert!(
            files.contains_key(gone),
            "{gone} was not in the full bundle"
        );
        assert!(
            !trimmed.contains_key(gone),
            "{gone} survived the tkinter preset"
        );
    }
    for kept in [
        "Tk-App/python/tcl/tcl8.6/init.tcl",
        "Tk-App/python/tcl/tk8.6/msgs/de.msg",
        "Tk-App/python/tcl/tk8.6/tk.tcl",
    ] {
        assert!(trimmed.contains_key(kept), "the preset removed {kept}");
    }
    let unpacked = tempfile::tempdir().unwrap();
    let root = unzip(&zip, unpacked.path());
    tk_window_under_xvfb(&prefix, &root);
    let (ok, so, se) = run_python(
        &prefix,
        &root,
        &[
            "-c",
            "import tkinter; print(tkinter.Tcl().eval('info patchlevel'))",
        ],
    );
    assert!(ok && so.trim() == patchlevel, "{so}\n{se}");
    let preset = fs_err::metadata(&zip).unwrap().len();

    // tkinter = false: this app imports tkinter on every start (its
    // `__main__.py` has no `__name__` guard), so the bundle is refused,
    // naming the setting.
    set_in_manifest(&dir, "tkinter = true\n", "tkinter = false\n");
    let refused = bundle(&dir, cache.path(), &mirror.url(), &prefix)
        .assert()
        .code(1);
    let err = stderr_text(&refused);
    assert!(
        err.contains("the app does not start in the bundle")
            && err.contains("No module named 'tkinter'")
            && err.contains("hint: the app imports tkinter, which the embeddable CPython of the Windows bundle lacks: set `tkinter = true`"),
        "{err}"
    );
    // An app that does not use tkinter: its bundle ships no Tcl/Tk at all.
    fs_err::write(
        dir.join("python/src/tkapp/__main__.py"),
        "print('no Tk here')\n",
    )
    .unwrap();
    let out = bundle(&dir, cache.path(), &mirror.url(), &prefix)
        .assert()
        .success();
    let stderr = stderr_text(&out);
    assert!(!stderr.contains("+ tkinter"), "{stderr}");
    assert_eq!(
        checked_with_tk,
        imported(&stderr) + 1,
        "the import check with tkinter did not include it"
    );
    let plain = zip_files(&zip);
    assert!(
        tcl_tk_entries(&plain).is_empty(),
        "tkinter = false shipped {:?}",
        tcl_tk_entries(&plain)
    );
    assert!(plain.contains_key("Tk-App/python/python.exe"));
    let unpacked = tempfile::tempdir().unwrap();
    let root = unzip(&zip, unpacked.path());
    let pth = fs_err::read_to_string(root.join("python/python311._pth")).unwrap();
    assert!(!pth.lines().any(|l| l.trim() == "Lib"), "{pth:?}");
    let none = fs_err::metadata(&zip).unwrap().len();

    assert!(none < preset && preset < full, "{none} / {preset} / {full}");
    eprintln!(
        "tkinter adds {:.1} MiB to the zip ({:.1} -> {:.1} MiB); with the tkinter preset {:.1} MiB ({:.1} MiB)",
        mib(full - none),
        mib(none),
        mib(full),
        mib(preset - none),
        mib(preset)
    );
}

/// The folder python.org's MSIs would install for the test's Tcl/Tk files:
/// `DLLs/` (the extension and the DLLs), `tcl/`, `Lib/tkinter/`.
fn install_layout(dest: &Path) {
    let files = dest.with_extension("files");
    pyship_e2e::msi::tkinter_embed_files(&files);
    fs_err::create_dir_all(dest.join("DLLs")).unwrap();
    for dll in ["_tkinter.pyd", "tcl86t.dll", "tk86t.dll", "zlib.dll"] {
        fs_err::rename(files.join(dll), dest.join("DLLs").join(dll)).unwrap();
    }
    fs_err::rename(files.join("tcl"), dest.join("tcl")).unwrap();
    fs_err::create_dir_all(dest.join("Lib")).unwrap();
    fs_err::rename(files.join("tkinter"), dest.join("Lib/tkinter")).unwrap();
}

/// msi source: stand-in `tcltk.msi` (and `lib.msi`) built with wixl from the
/// same files as the pypi source, served by the local mirror: the same bundle,
/// file for file; with the package moved to `lib.msi`, that is fetched too.
#[test]
#[cfg_attr(not(feature = "slow-tests"), ignore = "slow tier: bundles twice")]
fn tkinter_from_msi_matches_pypi_file_for_file() {
    let mirror_root = mirror_dir();
    let mirror = StaticServer::start(mirror_root.path());
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("tcltk");
    install_layout(&layout);
    let amd64 = mirror_root.path().join("3.11.9/amd64");
    pyship_e2e::msi::build(
        &layout,
        &amd64.join("tcltk.msi"),
        "Python 3.11.9 Tcl/Tk Support (64-bit)",
        "3.11.9150.0",
    );
    let cache = tempfile::tempdir().unwrap();
    let prefix = WinePrefix::new();

    let (_t1, pypi_dir) = tkapp(&pypi_links(), "tkinter-source = \"pypi\"\n");
    bundle(&pypi_dir, cache.path(), &mirror.url(), &prefix)
        .assert()
        .success();
    let from_pypi = zip_files(&pypi_dir.join("dist").join(ZIP));

    // The default source is msi.
    let (_t2, msi_dir) = tkapp("", "");
    let out = bundle(&msi_dir, cache.path(), &mirror.url(), &prefix)
        .assert()
        .success();
    let stderr = stderr_text(&out);
    assert!(stderr.contains("+ tkinter (msi, "), "{stderr}");
    let from_msi = zip_files(&msi_dir.join("dist").join(ZIP));
    assert!(!tcl_tk_entries(&from_msi).is_empty());
    assert_eq!(from_msi, from_pypi, "msi and pypi sources differ");
    let lock = fs_err::read_to_string(msi_dir.join("pyship.lock")).unwrap();
    let tcltk_url = format!("{}/3.11.9/amd64/tcltk.msi", mirror.url());
    assert!(
        lock.contains(&tcltk_url) && lock.contains(&sha256_file(&amd64.join("tcltk.msi"))),
        "{lock}"
    );
    assert!(
        !lock.contains("lib.msi"),
        "lib.msi fetched though tcltk.msi has the package: {lock}"
    );

    // A layout with the package in lib.msi instead: the result is the same.
    let lib_layout = work.path().join("lib");
    fs_err::create_dir_all(lib_layout.join("Lib")).unwrap();
    fs_err::rename(layout.join("Lib/tkinter"), lib_layout.join("Lib/tkinter")).unwrap();
    fs_err::write(lib_layout.join("Lib/turtle.py"), "# stdlib stand-in\n").unwrap();
    fs_err::remove_dir_all(layout.join("Lib")).unwrap();
    fs_err::remove_file(amd64.join("tcltk.msi")).unwrap();
    pyship_e2e::msi::build(
        &layout,
        &amd64.join("tcltk.msi"),
        "Python 3.11.9 Tcl/Tk Support (64-bit)",
        "3.11.9150.0",
    );
    pyship_e2e::msi::build(
        &lib_layout,
        &amd64.join("lib.msi"),
        "Python 3.11.9 Standard Library (64-bit)",
        "3.11.9150.0",
    );
    fs_err::remove_file(msi_dir.join("pyship.lock")).unwrap();
    bundle(&msi_dir, cache.path(), &mirror.url(), &prefix)
        .assert()
        .success();
    assert_eq!(
        zip_files(&msi_dir.join("dist").join(ZIP)),
        from_pypi,
        "tcltk.msi + lib.msi differ from pypi"
    );
    let lock = fs_err::read_to_string(msi_dir.join("pyship.lock")).unwrap();
    assert!(lock.contains("/3.11.9/amd64/lib.msi"), "{lock}");
}

/// A tampered `tcltk.msi` is refused like a tampered embeddable zip; an MSI of
/// another CPython release is refused by its ProductVersion.
#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: builds Tcl/Tk installers with wixl, and bundles"
)]
fn tampered_or_mismatched_tcltk_msi_is_refused() {
    let mirror_root = mirror_dir();
    let mirror = StaticServer::start(mirror_root.path());
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("tcltk");
    install_layout(&layout);
    let msi = mirror_root.path().join("3.11.9/amd64/tcltk.msi");
    pyship_e2e::msi::build(
        &layout,
        &msi,
        "Python 3.11.9 Tcl/Tk Support (64-bit)",
        "3.11.9150.0",
    );
    let good = sha256_file(&msi);
    let mut bytes = fs_err::read(&msi).unwrap();
    bytes.extend_from_slice(b"tampered");
    fs_err::write(&msi, &bytes).unwrap();
    let bad = sha256_file(&msi);
    let (_t, dir) = tkapp("", "");
    let url = format!("{}/3.11.9/amd64/tcltk.msi", mirror.url());
    fs_err::write(
        dir.join("pyship.lock"),
        format!("version = 1\n\n[runtimes]\n\"{url}\" = \"{good}\"\n"),
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let prefix = WinePrefix::new();
    let out = bundle(&dir, cache.path(), &mirror.url(), &prefix)
        .assert()
        .code(1);
    let stderr = stderr_text(&out);
    assert!(stderr.contains(&url), "{stderr}");
    assert!(stderr.contains(&good) && stderr.contains(&bad), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
    assert!(!dir.join("dist").join(ZIP).exists(), "a bundle was built");
    assert!(
        !dir.join("dist/.pyship/windows/Tk-App/python/_tkinter.pyd")
            .exists(),
        "files of the tampered MSI were placed"
    );

    // An MSI of CPython 3.11.8 at 3.11.9's URL.
    pyship_e2e::msi::build(
        &layout,
        &msi,
        "Python 3.11.8 Tcl/Tk Support (64-bit)",
        "3.11.8150.0",
    );
    fs_err::remove_file(dir.join("pyship.lock")).unwrap();
    let out = bundle(&dir, cache.path(), &mirror.url(), &prefix)
        .assert()
        .code(1);
    let stderr = stderr_text(&out);
    assert!(
        stderr.contains("CPython 3.11.8 (ProductVersion 3.11.8150.0)")
            && stderr.contains("the bundle has CPython 3.11.9"),
        "{stderr}"
    );
    assert!(!dir.join("dist").join(ZIP).exists(), "a bundle was built");
}

/// Without `msiextract` the msi source fails before any work (no prebuild, no
/// download), naming the Debian package.
#[test]
fn missing_msiextract_fails_before_any_work() {
    let mirror_root = mirror_dir();
    let mirror = StaticServer::start(mirror_root.path());
    let (_t, dir) = tkapp("prebuild = \"touch prebuild-ran\"\n", "");
    let cache = tempfile::tempdir().unwrap();
    // A PATH with what the build would use (cargo for the metadata, sh for
    // prebuild, uv), but no msitools.
    let bin = tempfile::tempdir().unwrap();
    for (exe, package) in [
        ("cargo", "rustup"),
        ("rustc", "rustup"),
        ("sh", "`apt-get install dash`"),
        ("touch", "`apt-get install coreutils`"),
        ("uv", "`pip install uv` (PyPI package `uv`)"),
    ] {
        std::os::unix::fs::symlink(require_tool(exe, package), bin.path().join(exe)).unwrap();
    }
    let out = pyship(cache.path())
        .current_dir(&dir)
        .env("PATH", bin.path())
        .env("PYSHIP_PYTHON_MIRROR", mirror.url())
        .args(["bundle", "--target", "windows"])
        .assert()
        .code(1);
    let stderr = stderr_text(&out);
    assert!(
        stderr.contains("`msiextract` was not found") && stderr.contains("msitools"),
        "{stderr}"
    );
    assert_eq!(mirror.requests(), 0, "something was downloaded");
    assert!(!dir.join("prebuild-ran").exists(), "prebuild ran");
    assert!(
        !dir.join("dist/.pyship").exists(),
        "a bundle tree was started"
    );
}

/// pypi source for an X.Y that tkinter-embed has no build for: the error lists
/// the versions found, before any download. `plan` shows the source.
#[test]
fn pypi_source_without_a_build_for_the_python_lists_what_exists() {
    let mirror_root = mirror_dir();
    let mirror = StaticServer::start(mirror_root.path());
    let (_t, dir) = tkapp(&pypi_links(), "tkinter-source = \"pypi\"\n");
    set_in_manifest(&dir, "python = \"3.11.9\"", "python = \"3.12.4\"");
    let cache = tempfile::tempdir().unwrap();

    let plan = pyship(cache.path())
        .current_dir(&dir)
        .arg("plan")
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&plan.get_output().stdout).into_owned();
    assert!(
        stdout.contains("(Windows with tkinter from the tkinter-embed package for CPython 3.12)"),
        "{stdout}"
    );
    let json = pyship(cache.path())
        .current_dir(&dir)
        .args(["plan", "--format", "json"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&json.get_output().stdout).unwrap();
    assert_eq!(v["config"]["windows"]["tkinter-source"], "pypi", "{v}");

    let out = pyship(cache.path())
        .current_dir(&dir)
        .env("PYSHIP_PYTHON_MIRROR", mirror.url())
        .args(["bundle", "--target", "windows"])
        .assert()
        .code(1);
    let stderr = stderr_text(&out);
    assert!(
        stderr.contains("tkinter-embed has no build for CPython 3.12")
            && stderr.contains("it has builds for: 3.11"),
        "{stderr}"
    );
    assert!(stderr.contains("hint:"), "{stderr}");
    assert_eq!(mirror.requests(), 0, "the runtime was fetched first");
}
