//! `bench/run.sh --quick` in CI: one run of each benchmark (recipe and
//! cargo-pyship, cold and warm, the archive micro-benchmark), so the benchmark
//! cannot rot. No timing is asserted: only that every build succeeded and the
//! table was printed.

use std::process::Command;

use crate::support::*;

#[test]
fn bench_quick_mode_runs_and_prints_the_table() {
    for (exe, package) in [
        ("uv", "`pip install uv` (PyPI package `uv`)"),
        ("python3", "the Debian package `python3`"),
        ("zip", "the Debian package `zip`"),
        ("unzip", "the Debian package `unzip`"),
        ("tar", "the Debian package `tar`"),
        ("bc", "the Debian package `bc`"),
        ("wine", "`apt-get install wine wine64`"),
        (
            "x86_64-w64-mingw32-strip",
            "the Debian package `binutils-mingw-w64-x86-64`",
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
        .env("BENCH_SHIM", pyship_e2e::wine::shim_dll())
        .env("BENCH_LINUX_RUNTIME", &pyship_e2e::pbs::runtime().tarball);
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
    for line in [
        "benchmark",
        "recipe                      cold",
        "cargo-pyship                cold",
        "recipe                      warm",
        "cargo-pyship                warm",
        "ours zip",
        "zip -r",
        "ours tar.gz",
        "tar czf",
        "ratio cold windows: recipe/cargo-pyship",
        "ratio warm windows: recipe/cargo-pyship",
        "zip size: recipe",
        "per-stage timings",
    ] {
        assert!(
            stdout.contains(line),
            "no `{line}` in the table:\n{stdout}\n{stderr}"
        );
    }
}
