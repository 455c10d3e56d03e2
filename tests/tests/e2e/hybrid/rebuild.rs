//! Rebuilds: a warm build starts no uv and no maturin and gives the cold
//! build's bytes; after a Python edit only the changed package is import
//! checked, and an import error there still fails the build.

use super::*;

/// A warm build of the hybrid fixture (caches filled, a fresh output
/// folder, as a CI job with a restored cache sees it, then again with the
/// output folder kept) starts no uv and no maturin process: the wheel, the
/// dependencies and the runtime come from the cache; nor a Python asked its
/// version for a byte-compile that is off. Its tarball and SBOM
/// are the cold build's bytes.
#[test]
#[cfg_attr(not(feature = "slow-tests"), ignore = "slow tier: a maturin build")]
fn hybrid_warm_rebuild_runs_no_uv_and_no_maturin() {
    require_build_tools();
    let (_runtime, runtime_url) = served_runtime();
    let (_t, dir) = project(Some(&runtime_url), "");
    let cache = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let tarball = dir.join("dist/PyHash-v0.2.0-linux-x64.tar.gz");
    let sbom = dir.join("dist/PyHash-v0.2.0-linux-x64.cdx.json");
    let run = |log: &str| {
        let log = logs.path().join(log);
        let mut cmd = pyship_in(&dir, cache.path());
        cmd.env("PYSHIP_PROCESS_LOG", &log);
        bundle_at_cargo_version(cmd, "linux");
        (
            programs_started(&log),
            pyship_e2e::sha256_file(&tarball),
            pyship_e2e::sha256_file(&sbom),
        )
    };
    let (cold, cold_tgz, cold_sbom) = run("cold.log");
    for tool in ["uv", "maturin"] {
        assert!(
            cold.iter().any(|p| p == tool),
            "the log records the cold build's {tool}: {cold:?}"
        );
    }
    fs_err::remove_dir_all(dir.join("dist")).unwrap();
    for log in ["warm-fresh.log", "warm-kept.log"] {
        let (warm, tgz, sbom) = run(log);
        assert!(
            !warm.iter().any(|p| p == "uv" || p == "maturin"),
            "{log}: a warm build started {warm:?}"
        );
        // Strip needs an interpreter only to byte-compile (`strip.compile`,
        // off here): no Python is started to ask its version.
        let lines = fs_err::read_to_string(logs.path().join(log)).unwrap();
        assert!(
            !lines.contains("sys.version_info"),
            "{log}: a warm build asked a Python its version:\n{lines}"
        );
        // The host, the toolchain and the Python a folder selects are asked
        // once per build (zig's Python package, glibc, rustc's sysroot and
        // version), not once per step that needs the answer.
        let mut seen = std::collections::BTreeSet::new();
        for line in lines.lines() {
            assert!(
                seen.insert(line),
                "{log}: a warm build ran `{line}` twice:\n{lines}"
            );
        }
        assert_eq!(
            tgz, cold_tgz,
            "{log}: the tarball differs from the cold build's"
        );
        assert_eq!(
            sbom, cold_sbom,
            "{log}: the SBOM differs from the cold build's"
        );
    }
}

/// The packages each import check of a run imported, from its
/// `PYSHIP_PROCESS_LOG`: the names after the script, site-packages and the
/// app's start on the check's command line.
fn packages_checked(log: &Path) -> Vec<Vec<String>> {
    fs_err::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().map(|w| w.trim_matches('\'')).collect();
            let script = words.iter().position(|w| w.ends_with("import_check.py"))?;
            Some(words[script + 3..].iter().map(|w| w.to_string()).collect())
        })
        .collect()
}

/// After one Python file of the app's package changed, a rebuild imports
/// only that package (and starts the app): the check's command line names
/// no other package. An import error put into that file still fails the
/// build, naming the missing module, and leaves no artifact of that build.
#[test]
#[cfg_attr(not(feature = "slow-tests"), ignore = "slow tier: a maturin build")]
fn hybrid_python_edit_checks_only_the_changed_package_and_catches_a_broken_one() {
    require_build_tools();
    let (_runtime, runtime_url) = served_runtime();
    let (_t, dir) = project(Some(&runtime_url), "");
    let cache = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let server = dir.join("python/pyhash/server.py");
    let tarball = dir.join("dist/PyHash-v0.2.0-linux-x64.tar.gz");
    let cmd = |log: &str| {
        let mut cmd = pyship_in(&dir, cache.path());
        cmd.env("PYSHIP_PROCESS_LOG", logs.path().join(log));
        cmd
    };
    bundle_at_cargo_version(cmd("cold.log"), "linux");
    let cold = packages_checked(&logs.path().join("cold.log"));
    assert!(
        cold.iter()
            .any(|n| n.contains(&"fastapi".to_owned()) && n.contains(&"pyhash".to_owned())),
        "the cold build checks every package: {cold:?}"
    );

    let mut text = fs_err::read_to_string(&server).unwrap();
    text.push_str("\n# an edit\n");
    fs_err::write(&server, &text).unwrap();
    bundle_at_cargo_version(cmd("edit.log"), "linux");
    let edit = packages_checked(&logs.path().join("edit.log"));
    assert_eq!(edit, [["pyhash"]], "after one edit of pyhash/server.py");

    text.push_str("import pyship_no_such_module\n");
    fs_err::write(&server, &text).unwrap();
    fs_err::remove_file(&tarball).unwrap();
    let out = cmd("broken.log")
        .args([
            "pyship",
            "bundle",
            "--target",
            "linux",
            "--version",
            "v0.2.0",
        ])
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert!(!out.status.success(), "a broken import passed: {err}");
    assert!(err.contains("pyship_no_such_module"), "{err}");
    assert_eq!(
        packages_checked(&logs.path().join("broken.log")),
        [["pyhash"]],
        "the broken edit is found by the narrowed check"
    );
    assert!(
        !tarball.exists(),
        "a build that failed its check left {}",
        tarball.display()
    );
}
