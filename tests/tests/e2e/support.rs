//! Shared helpers of the e2e tests (the crate's lib has the heavier ones).

pub use pyship_e2e::wine::{OutputWithin, RUN_LIMIT};
pub use pyship_e2e::*;

use std::path::PathBuf;
use std::sync::OnceLock;

/// The `cargo-pyship` binary, built once per test run by `cargo build -p
/// cargo-pyship` into this test's own target directory and profile, so that
/// `cargo test -p pyship-e2e` alone works (cargo builds a package's binaries
/// only for that package's own integration tests).
pub fn bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(build_bin).clone()
}

fn build_bin() -> PathBuf {
    // target/<profile>/deps/<test exe>
    let exe = std::env::current_exe().expect("test exe path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>");
    let target_dir = profile_dir.parent().expect("target/<profile>");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev".to_owned(),
        Some(other) => other.to_owned(),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = std::process::Command::new(cargo);
    // The variables cargo sets for this test run describe pyship-e2e. Build
    // scripts (ring's) declare `rerun-if-env-changed` on some of them, so an
    // inherited CARGO_PKG_NAME would make this build and every ordinary
    // `cargo build` rebuild ring and all above it, each time, in turn.
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        let set_for_tests = [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
        ]
        .iter()
        .any(|p| k.starts_with(p))
            || [
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "CARGO_RUSTC_CURRENT_DIR",
                "OUT_DIR",
            ]
            .contains(&k.as_ref());
        if set_for_tests {
            build.env_remove(k.as_ref());
        }
    }
    let out = build
        .args(["build", "-p", "cargo-pyship", "--bin", "cargo-pyship"])
        .args([
            "--profile",
            &profile,
            "--message-format=json-render-diagnostics",
        ])
        .arg("--target-dir")
        .arg(target_dir)
        .arg("--manifest-path")
        .arg(workspace_root().join("Cargo.toml"))
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "`cargo build -p cargo-pyship` failed");
    let exe = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "cargo-pyship")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo reported the cargo-pyship executable");
    assert!(
        exe.is_file(),
        "{} is missing after the build",
        exe.display()
    );
    exe
}

/// `cargo-pyship` as a command, with the environment cleared of variables that
/// would change its behaviour (CI refs, caches, tokens) and a private cache dir.
pub fn pyship(cache: &std::path::Path) -> assert_cmd::Command {
    assert_cmd::Command::from_std(pyship_command(cache))
}

/// [`pyship`] as a [`std::process::Command`], for a test that starts it and
/// acts while it runs.
pub fn pyship_command(cache: &std::path::Path) -> std::process::Command {
    with_clean_env(std::process::Command::new(bin()), cache)
}

/// [`pyship`] in a mount namespace of its own (`unshare`, as an
/// unprivileged user too), after `setup` (a shell script) ran there: it
/// mounts what a test needs, such as a small tmpfs (a full disk) or a
/// read-only bind mount, visible to this run only and gone after it.
pub fn pyship_with_mounts(cache: &std::path::Path, setup: &str) -> assert_cmd::Command {
    let unshare = require_tool("unshare", "the Debian package `util-linux`");
    let mut cmd = std::process::Command::new(unshare);
    cmd.args(["--user", "--map-root-user", "--mount", "sh", "-c"])
        .arg(format!("set -e\n{setup}\nexec \"$0\" \"$@\""))
        .arg(bin());
    assert_cmd::Command::from_std(with_clean_env(cmd, cache))
}

fn with_clean_env(
    mut cmd: std::process::Command,
    cache: &std::path::Path,
) -> std::process::Command {
    for v in pyship_build::env::ALL {
        // cargo's home stays: maturin runs cargo (tests of `init`'s install
        // record set their own).
        if *v != pyship_build::env::CARGO_HOME {
            cmd.env_remove(v);
        }
    }
    cmd.env("PYSHIP_CACHE_DIR", cache)
        .env("NO_COLOR", "1")
        .env("CARGO_TERM_COLOR", "never");
    cmd
}

/// Snapshot settings for a user-facing message: each of `paths` (a fixture
/// copy, a private cache) is shown as its label (`[root]`, `[cache]`), so the
/// snapshot holds the whole message, the same on every machine.
pub fn path_filters(paths: &[(&std::path::Path, &str)]) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    for (path, label) in paths {
        let text = path.display().to_string();
        let escaped: String = text
            .chars()
            .flat_map(|c| {
                let special = "\\.+*?()|[]{}^$#&-~".contains(c);
                special.then_some('\\').into_iter().chain([c])
            })
            .collect();
        s.add_filter(&escaped, *label);
    }
    s
}

/// What a finished run printed on stderr.
pub fn stderr_text(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

/// The error a run ended with: stderr from its `error:` line on (the status
/// lines before it carry sizes and timings).
pub fn error_part(stderr: &str) -> String {
    match stderr.find("error:") {
        Some(i) => stderr[i..].to_owned(),
        None => stderr.to_owned(),
    }
}

/// A pure-Python wheel `name-version` (module `name` with `VERSION`), for a
/// local test index; `metadata` (whole header lines) is added to its METADATA.
pub fn make_wheel(dir: &std::path::Path, name: &str, version: &str, metadata: &str) -> PathBuf {
    use std::io::Write as _;
    let path = dir.join(format!("{name}-{version}-py3-none-any.whl"));
    let mut w = zip::ZipWriter::new(fs_err::File::create(&path).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    let info = format!("{name}-{version}.dist-info");
    let files = [
        (
            format!("{name}/__init__.py"),
            format!("VERSION = {version:?}\n"),
        ),
        (
            format!("{info}/METADATA"),
            format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{metadata}"),
        ),
        (
            format!("{info}/WHEEL"),
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
                .into(),
        ),
    ];
    let mut record = String::new();
    for (n, body) in &files {
        w.start_file(n, opts).unwrap();
        w.write_all(body.as_bytes()).unwrap();
        record.push_str(&format!("{n},,\n"));
    }
    record.push_str(&format!("{info}/RECORD,,\n"));
    w.start_file(format!("{info}/RECORD"), opts).unwrap();
    w.write_all(record.as_bytes()).unwrap();
    w.finish().unwrap();
    path
}
