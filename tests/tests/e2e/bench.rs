//! `bench/run.sh --quick` in CI: one run of each benchmark (`bench/recipe.sh`,
//! the uv recipe and cargo-pyship, cold and warm; cargo-pyship's first run,
//! Linux bundle and installer; the archive micro-benchmark), so the benchmark
//! cannot rot. No timing is asserted: only that every build succeeded, that
//! cold and warm outputs are byte-identical (the script fails otherwise) and
//! that the tables were printed.

use std::process::Command;

use crate::support::*;

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: runs the benchmark's builds, cold and warm"
)]
fn bench_quick_mode_runs_and_prints_the_table() {
    for (exe, package) in [
        ("uv", "`pip install uv` (PyPI package `uv`)"),
        ("python3", "the Debian package `python3`"),
        ("zip", "the Debian package `zip`"),
        ("unzip", "the Debian package `unzip`"),
        ("tar", "the Debian package `tar`"),
        ("gzip", "the Debian package `gzip`"),
        ("curl", "the Debian package `curl`"),
        ("makensis", "`apt-get install nsis` (Debian package `nsis`)"),
        ("bc", "the Debian package `bc`"),
        ("wine", "`apt-get install wine wine64`"),
        (
            "x86_64-w64-mingw32-strip",
            "the Debian package `binutils-mingw-w64-x86-64`",
        ),
        ("maturin", "`pip install maturin` (PyPI package `maturin`)"),
        (
            "x86_64-w64-mingw32-gcc",
            "`apt-get install gcc-mingw-w64-x86-64` (Debian package `gcc-mingw-w64-x86-64`)",
        ),
    ] {
        require_tool(exe, package);
    }
    assert!(
        std::path::Path::new("/usr/bin/time").is_file(),
        "this test needs /usr/bin/time (the Debian package `time`) for peak RSS"
    );
    let root = workspace_root();
    let mut cmd = Command::new("bash");
    cmd.arg(root.join("bench/run.sh"))
        .arg("--quick")
        .current_dir(&root)
        .env("PYSHIP_BIN", bin())
        .env(
            "BENCH_EMBED",
            pyship_e2e::testdata::embed_python_dir().join("python-3.11.9-embed-amd64.zip"),
        )
        .env("BENCH_WHEELHOUSE", pyship_e2e::testdata::wheelhouse())
        .env("BENCH_LINUX_RUNTIME", &pyship_e2e::pbs::runtime().tarball)
        // The hybrid tests' Cargo target directory: PyO3 compiles once per test run.
        .env(
            "BENCH_CARGO_TARGET_DIR",
            root.join("target/pyship-e2e/pyhash-target"),
        );
    for v in pyship_build::env::ALL {
        cmd.env_remove(v);
    }
    let out = cmd.output().expect("bash runs bench/run.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "bench/run.sh --quick failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    for (name, kind) in [
        ("bash-recipe", "cold"),
        ("uv-recipe", "cold"),
        ("cargo-pyship", "cold"),
        ("cargo-pyship", "first"),
        ("bash-recipe", "warm"),
        ("uv-recipe", "warm"),
        ("cargo-pyship", "warm"),
        ("cargo-pyship", "warm-fresh"),
        ("hybrid-all", "cold"),
        ("hybrid-all", "warm"),
        ("hybrid-all", "python-edit"),
        ("hybrid-all", "rust-edit"),
        ("cp-r-floor", "warm"),
        ("installer", "cold"),
        ("makensis-alone", "cold"),
        ("installer", "warm"),
        ("cargo-pyship-linux", "cold"),
        ("cargo-pyship-linux", "warm"),
        ("ours zip", "archive"),
        ("zip -r", "archive"),
        ("ours tar.gz", "archive"),
        ("tar czf", "archive"),
    ] {
        assert!(
            stdout.lines().any(|l| l
                .strip_prefix(name)
                .is_some_and(|rest| rest.trim_start().starts_with(kind))),
            "no `{name} {kind}` row in the table:\n{stdout}\n{stderr}"
        );
    }
    for line in [
        "load average",
        "ratio warm windows: bash-recipe/cargo-pyship",
        "ratio warm windows: uv-recipe/cargo-pyship",
        "ratio cold windows: bash-recipe/cargo-pyship",
        "output sizes: bash-recipe",
        "targets (medians):",
        "first run <= 1.5x a cold run",
        "warm installer < 0.5 s",
        "per-stage timings",
        "cold and warm cold.zip / warm.zip: byte-identical",
        "cold and warm cold.tar.gz / warm.tar.gz: byte-identical",
        "cold and warm cold.exe / warm.exe: byte-identical",
        "hybrid cold and warm artifacts and SBOMs: byte-identical",
        "5. warm-fresh windows >= 4x faster than the uv recipe",
        "1. hybrid all, nothing changed <= 1.5 s",
        "7. hybrid all peak RSS < 300 MB",
    ] {
        assert!(
            stdout.contains(line),
            "no `{line}` in the report:\n{stdout}\n{stderr}"
        );
    }
}
