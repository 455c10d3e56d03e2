//! `cargo pyship strip` and the strip stage on the real wheelhouse (fastapi,
//! uvicorn[standard], numpy<2): the bundle shrinks and every import still works,
//! under wine for Windows and with the host python3 for Linux.

use std::path::{Path, PathBuf};
use std::process::Command;

use pyship_build::context::Context;
use pyship_build::env::Env;
use pyship_build::platform::Platform;
use pyship_build::report::RecordingReporter;
use pyship_build::strip::{self, Options};

use crate::support::*;

/// Install the wheelhouse for `uv_platform` into `target` with the real uv.
fn install_wheelhouse(target: &Path, uv_platform: &str) {
    let uv = require_tool("uv", "`pip install uv` (PyPI package `uv`)");
    let out = Command::new(uv)
        .args(["pip", "install", "--target"])
        .arg(target)
        .args(["--python-platform", uv_platform, "--python-version", "3.11"])
        .args(["--only-binary", ":all:", "--no-index", "--find-links"])
        .arg(testdata::wheelhouse())
        .args(["fastapi", "uvicorn[standard]", "numpy<2"])
        .env(
            "UV_CACHE_DIR",
            target.parent().expect("parent").join("uv-cache"),
        )
        .output()
        .expect("uv runs");
    assert!(
        out.status.success(),
        "uv pip install failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // What the deps stage removes: Unix-shebang scripts and uv's lock file.
    let _ = fs_err::remove_dir_all(target.join("bin"));
    let _ = fs_err::remove_file(target.join(".lock"));
}

fn tree_bytes(dir: &Path) -> u64 {
    fn walk(d: &Path) -> u64 {
        fs_err::read_dir(d)
            .expect("read dir")
            .map(|e| {
                let e = e.expect("entry");
                let t = e.file_type().expect("file type");
                if t.is_dir() {
                    walk(&e.path())
                } else {
                    e.metadata().expect("metadata").len()
                }
            })
            .sum()
    }
    walk(dir)
}

/// A Windows bundle root with the embeddable CPython (its `._pth` patched as the
/// python stage does) and the win_amd64 wheelhouse in `python/Lib/site-packages`.
fn windows_bundle(root: &Path) -> PathBuf {
    let py = root.join("python");
    fs_err::create_dir_all(&py).expect("mkdir python");
    let zip = testdata::embed_python_dir().join("python-3.11.9-embed-amd64.zip");
    let st = Command::new(require_tool("unzip", "`apt-get install unzip`"))
        .arg("-q")
        .arg(&zip)
        .arg("-d")
        .arg(&py)
        .status()
        .expect("unzip runs");
    assert!(st.success(), "unzip {} failed", zip.display());
    let pth = py.join("python311._pth");
    let text = fs_err::read_to_string(&pth).expect("read ._pth");
    let text = text.replace("#import site", "import site") + "Lib\\site-packages\r\n";
    fs_err::write(&pth, text).expect("patch ._pth");
    let sp = py.join("Lib/site-packages");
    install_wheelhouse(&sp, "x86_64-pc-windows-msvc");
    sp
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: an import check under wine"
)]
fn strip_windows_wheelhouse_shrinks_and_imports_under_wine() {
    require_tool(
        "x86_64-w64-mingw32-strip",
        "`apt-get install binutils-mingw-w64-x86-64`",
    );
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().join("bundle");
    let sp = windows_bundle(&root);
    let before = tree_bytes(&sp);
    let prefix = wine::WinePrefix::new();

    let out = pyship(&tmp.path().join("cache"))
        .current_dir(tmp.path())
        .arg("strip")
        .arg(&sp)
        .args(["--platform", "windows", "--format", "json"])
        .env("PYSHIP_WINEPREFIX", prefix.path())
        .timeout(std::time::Duration::from_secs(600))
        .output()
        .expect("cargo-pyship runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "strip failed: {stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");

    let after = tree_bytes(&sp);
    eprintln!(
        "site-packages {before} -> {after} bytes ({:.1}% of the original)",
        100.0 * after as f64 / before as f64
    );
    assert!(
        after * 100 <= before * 85,
        "stripped site-packages is {after} bytes, not 15% smaller than {before}"
    );
    assert_eq!(doc["after"]["bytes"].as_u64(), Some(after), "report totals");
    assert!(
        doc["debug_symbols"]["stripped"].as_u64().unwrap_or(0) >= 1,
        "OpenBLAS was not symbol-stripped: {doc}"
    );
    let ok: Vec<&str> = doc["import_check"]["ok"]
        .as_array()
        .expect("import check ran")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    for p in ["fastapi", "uvicorn", "numpy", "pydantic_core", "watchfiles"] {
        assert!(ok.contains(&p), "{p} did not import: {doc}");
    }
    for kept in [
        "numpy/linalg/__init__.py",
        "numpy/lib/__init__.py",
        "numpy-1.26.4.dist-info/METADATA",
    ] {
        assert!(sp.join(kept).is_file(), "{kept} was removed");
    }

    let run = prefix
        .command(root.join("python/python.exe"))
        .args([
            "-c",
            "import fastapi, uvicorn, numpy, importlib.metadata as m; \
             print(numpy.linalg.inv(numpy.array([[2.0, 0.0], [0.0, 4.0]])).tolist(), m.version('fastapi'))",
        ])
        .output()
        .expect("wine python runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.contains("[[0.5, 0.0], [0.0, 0.25]] 0.165.0"),
        "imports after stripping failed: {stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn strip_linux_wheelhouse_imports_with_host_python_and_names_the_breaking_rule() {
    require_tool("strip", "`apt-get install binutils`");
    require_tool("python3", "`apt-get install python3` (3.11)");
    let tmp = tempfile::tempdir().expect("temp dir");
    let sp = tmp.path().join("site-packages");
    install_wheelhouse(&sp, "x86_64-manylinux_2_28");
    let env = Env::default();
    let rep = RecordingReporter::default();
    let ctx = Context::new(&rep, &env);

    // A copy for the breaking case before the good one is stripped.
    let broken = tmp.path().join("broken");
    copy_dir(&sp, &broken);

    let before = tree_bytes(&sp);
    let report =
        strip::run(&Options::default(), &sp, Platform::Linux, None, &ctx).expect("strip runs");
    let after = tree_bytes(&sp);
    assert_eq!(report.after.bytes, after);
    assert!(after * 100 <= before * 85, "{before} -> {after}");
    let check = strip::import_check(
        tmp.path(),
        &sp,
        Platform::Linux,
        &ctx,
        &report,
        None,
        None,
        None,
    )
    .expect("imports work after stripping");
    for p in ["fastapi", "uvicorn", "numpy", "uvloop"] {
        assert!(check.ok.iter().any(|x| x == p), "{p}: {check:?}");
    }

    // A user glob that removes what `import numpy` needs: the check names it.
    let mut opts = Options::default();
    opts.rules.remove = vec!["numpy/linalg".into()];
    opts.rules.debug_symbols = false;
    let report = strip::run(&opts, &broken, Platform::Linux, None, &ctx).expect("strip runs");
    let err = strip::import_check(
        tmp.path(),
        &broken,
        Platform::Linux,
        &ctx,
        &report,
        None,
        None,
        None,
    )
    .expect_err("numpy without linalg must fail the check");
    let msg = err.to_string();
    assert!(
        msg.contains("`import numpy` fails") && msg.contains("remove:numpy/linalg"),
        "{msg}"
    );
    assert!(
        pyship_build::hint_for(&err).is_some_and(|h| h.contains("keep")),
        "no hint"
    );
}

#[test]
fn strip_cli_keep_glob_from_config_protects_a_preset_file_and_dry_run_removes_nothing() {
    let (tmp, project) = copy_fixture("hello");
    let manifest = project.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).expect("read manifest");
    fs_err::write(
        &manifest,
        format!("{text}\n[package.metadata.pyship.strip]\nkeep = [\"pkg/tests/**\"]\n"),
    )
    .expect("write manifest");
    let sp = tmp.path().join("sp");
    for (rel, body) in [
        ("pkg/__init__.py", ""),
        ("pkg/tests/test_a.py", "def test(): pass\n"),
        ("pkg/__init__.pyi", ""),
    ] {
        let p = sp.join(rel);
        fs_err::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs_err::write(p, body).expect("write");
    }
    let cache = tmp.path().join("cache");
    let dry = pyship(&cache)
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["strip", "--dry-run", "--platform", "linux"])
        .arg(&sp)
        .output()
        .expect("runs");
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let table = String::from_utf8_lossy(&dry.stdout);
    assert!(
        table.contains("generic:stubs") && table.contains("[dry run]"),
        "{table}"
    );
    assert!(
        sp.join("pkg/__init__.pyi").is_file(),
        "dry run removed a file"
    );

    let out = pyship(&cache)
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["strip", "--platform", "linux", "--format", "json"])
        .arg(&sp)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(
        sp.join("pkg/tests/test_a.py").is_file(),
        "keep glob ignored"
    );
    assert!(!sp.join("pkg/__init__.pyi").exists());
    let tests = doc["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["rule"] == "generic:tests")
        .expect("tests rule");
    assert_eq!(tests["kept"], 1, "{doc}");
    assert_eq!(tests["files"], 0, "{doc}");
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: an import check under wine"
)]
fn strip_import_check_gives_its_wine_prefix_process_prng() {
    // A private prefix of Debian's wine 8 lacks ProcessPrng, so Rust-built
    // extensions (pydantic-core) fail to load there. The check builds the
    // replacement DLL from the library's own C source with mingw gcc, keeps it
    // in the cache, and imports them for real: nothing is "not checkable".
    require_tool("wine", "`apt-get install wine wine64`");
    require_tool(
        "x86_64-w64-mingw32-gcc",
        "`apt-get install gcc-mingw-w64-x86-64` (Debian package `gcc-mingw-w64-x86-64`)",
    );
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().join("bundle");
    let sp = windows_bundle(&root);
    let cache = tmp.path().join("cache");
    let mut env = Env::default();
    env.set("PYSHIP_CACHE_DIR", cache.display().to_string());
    let rep = RecordingReporter::default();
    let ctx = Context::new(&rep, &env);
    let mut opts = Options::default();
    opts.rules.debug_symbols = false;
    let report = strip::run(&opts, &sp, Platform::Windows, None, &ctx).expect("strip runs");
    let check = strip::import_check(
        &root,
        &sp,
        Platform::Windows,
        &ctx,
        &report,
        None,
        None,
        None,
    )
    .expect("the check passes");
    for p in ["numpy", "pydantic_core", "pydantic", "fastapi"] {
        assert!(check.ok.iter().any(|x| x == p), "{p}: {check:?}");
    }
    assert!(check.unchecked.is_empty(), "{check:?}");
    let shim = files_named(&cache.join("wine-shim-v0"), "bcryptprimitives.dll");
    assert_eq!(
        shim.len(),
        1,
        "the replacement DLL is cached once: {shim:?}"
    );
    // It never ends up in the bundle.
    assert!(files_named(&root, "bcryptprimitives.dll").is_empty());
}

/// Every file called `name` under `dir`.
fn files_named(dir: &std::path::Path, name: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs_err::read_dir(dir).expect("read dir") {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            out.extend(files_named(&p, name));
        } else if p.file_name().is_some_and(|n| n == name) {
            out.push(p);
        }
    }
    out
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: byte-compiles under wine"
)]
fn strip_compile_under_wine_removes_only_compiled_sources_and_imports_still_work() {
    // The target's X.Y from the bundle's python.exe under wine (the path taken
    // when the host Python's X.Y differs from the target's).
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path().join("bundle");
    let sp = windows_bundle(&root);
    fs_err::write(sp.join("py2only.py"), "print 'no'\n").expect("write");
    let prefix = wine::WinePrefix::new();
    let mut env = Env::default();
    env.set("PYSHIP_WINEPREFIX", prefix.path().display().to_string());
    let rep = RecordingReporter::default();
    let ctx = Context::new(&rep, &env);
    let py = strip::Interpreter::bundled(&root, Platform::Windows, &env)
        .expect("the bundle's python.exe under wine");
    assert!(py.wine && py.version == "3.11", "{py:?}");
    let mut opts = Options::default();
    opts.rules.compile = true;
    opts.rules.debug_symbols = false;
    let report =
        strip::run(&opts, &sp, Platform::Windows, Some(&py), &ctx).expect("strip compiles");
    let c = report.compile.clone().expect("compile report");
    assert!(c.py_files > 500, "{c:?}");
    assert!(!sp.join("fastapi/__init__.py").exists());
    assert!(sp.join("fastapi/__init__.pyc").is_file());
    assert!(sp.join("py2only.py").is_file(), "uncompiled source deleted");
    assert!(c.not_compiled.contains(&"py2only.py".to_string()), "{c:?}");
    let check = strip::import_check(
        &root,
        &sp,
        Platform::Windows,
        &ctx,
        &report,
        None,
        None,
        None,
    )
    .expect("imports work from .pyc");
    for p in ["fastapi", "uvicorn", "numpy"] {
        assert!(check.ok.iter().any(|x| x == p), "{p}: {check:?}");
    }
}

/// A write error while stripping fails the run, naming the file and the
/// system's error, with a hint: the file is never shipped unstripped with
/// exit 0. The disk is really full: a 48 MiB tmpfs holding numpy's 38 MB
/// OpenBLAS DLL has no room for its stripped copy.
#[test]
fn a_full_disk_while_stripping_fails_the_run() {
    require_tool(
        "x86_64-w64-mingw32-strip",
        "`apt-get install binutils-mingw-w64-x86-64`",
    );
    require_tool("unzip", "`apt-get install unzip`");
    let tmp = tempfile::tempdir().expect("temp dir");
    let sp = tmp.path().join("site-packages");
    fs_err::create_dir_all(&sp).expect("mkdir");
    let wheel = testdata::wheelhouse().join("numpy-1.26.4-cp311-cp311-win_amd64.whl");
    let out = pyship_with_mounts(
        &tmp.path().join("cache"),
        r#"mount -t tmpfs -o size=48m pyship-full "$SP"
unzip -q -j "$WHEEL" 'numpy.libs/*.dll' -d "$SP/numpy.libs""#,
    )
    .env("SP", &sp)
    .env("WHEEL", &wheel)
    .args(["pyship", "strip", "--dry-run", "--platform", "windows"])
    .arg(&sp)
    .timeout(std::time::Duration::from_secs(300))
    .output()
    .expect("unshare runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("while stripping it")
            && stderr.contains("libopenblas64_")
            && stderr.contains("No space left on device"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: free space"), "{stderr}");
}
