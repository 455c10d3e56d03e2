//! Smoke tests of the binary itself: the cargo-subcommand shape, usage errors
//! and `--version`. (The end-to-end tests in `tests/` build the binary they run
//! themselves.)

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_cargo-pyship");

#[test]
fn help_as_cargo_subcommand_and_directly() {
    for args in [&["pyship", "--help"][..], &["--help"][..]] {
        let out = Command::new(BIN).args(args).output().expect("runs");
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage: cargo pyship"), "{args:?}: {text}");
        for cmd in [
            "init",
            "version",
            "bundle",
            "installer",
            "strip",
            "docker",
            "publish",
            "release",
            "plan",
            "cache",
        ] {
            assert!(text.contains(cmd), "{cmd} missing from --help");
        }
    }
}

/// `config` describes the keys outside any project: one key in full, a
/// table's keys, all of them as JSON; an unknown path is a user error
/// naming the nearest key.
#[test]
fn config_describes_keys_without_a_project() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(BIN)
            .arg("pyship")
            .arg("config")
            .args(args)
            .current_dir(tmp.path())
            .output()
            .expect("runs")
    };
    let one = run(&["windows.installer-compression"]);
    let text = String::from_utf8_lossy(&one.stdout);
    assert!(one.status.success(), "{one:?}");
    assert!(
        text.starts_with("[package.metadata.pyship.windows] (applies to: Windows)")
            && text.contains("\n  installer-compression: "),
        "{text}"
    );
    assert!(
        text.contains("default \"lzma\"") && text.contains("Values:"),
        "{text}"
    );

    let table = run(&["[workspace.metadata.pyship.linux]"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(table.status.success(), "{table:?}");
    assert!(text.contains("  service: boolean, default true"), "{text}");
    assert!(
        !text.contains("[package.metadata.pyship.windows]"),
        "{text}"
    );

    let all = run(&["--format", "json"]);
    assert!(all.status.success(), "{all:?}");
    let v: serde_json::Value = serde_json::from_slice(&all.stdout).unwrap();
    let paths: Vec<String> = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| match k["table"].as_str().unwrap() {
            "" => k["name"].as_str().unwrap().to_owned(),
            t => format!("{t}.{}", k["name"].as_str().unwrap()),
        })
        .collect();
    for key in ["name", "python", "windows.publisher", "update.public-keys"] {
        assert!(paths.iter().any(|p| p == key), "{key} missing: {paths:?}");
    }

    let bad = run(&["linux.servise"]);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1), "{err}");
    assert!(
        err.contains("error: `linux.servise` is not a table or key of the pyship table")
            && err.contains("hint: did you mean `linux.service`?"),
        "{err}"
    );
}

/// `cache info` lists the buckets; `cache clean BUCKET` removes one,
/// `cache clean` the rest; an unknown bucket is a user error with a hint.
/// A reader of stderr that went away (`cargo pyship … 2>&1 | head`) does not
/// stop the command halfway: it goes on and exits as it would.
#[test]
fn a_closed_stderr_stops_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("cache");
    for bucket in ["compressed-v0", "runtimes-v0"] {
        fs_err::create_dir_all(root.join(bucket)).unwrap();
        fs_err::write(root.join(bucket).join(".pyship-bucket"), b"").unwrap();
    }
    let mut child = Command::new(BIN)
        .args(["pyship", "cache", "clean"])
        .env("PYSHIP_CACHE_DIR", &root)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    drop(child.stderr.take());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!root.join("compressed-v0").exists() && !root.join("runtimes-v0").exists());
}

#[test]
fn cache_info_and_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("cache");
    for (bucket, file) in [
        ("compressed-v0", "s/ab/abc"),
        ("runtimes-v0", "x/python.zip"),
    ] {
        let p = root.join(bucket).join(file);
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(&p, vec![0u8; 2048]).unwrap();
        // Only folders the tool marked as its own are listed or removed.
        fs_err::write(root.join(bucket).join(".pyship-bucket"), b"").unwrap();
    }
    let run = |args: &[&str]| {
        Command::new(BIN)
            .arg("pyship")
            .args(args)
            .env("PYSHIP_CACHE_DIR", &root)
            .env("NO_COLOR", "1")
            .output()
            .expect("runs")
    };
    let info = run(&["cache", "info"]);
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(info.status.success(), "{info:?}");
    assert!(
        text.contains("compressed-v0") && text.contains("runtimes-v0"),
        "{text}"
    );
    let bad = run(&["cache", "clean", "nope"]);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no bucket `nope`") && err.contains("hint:"),
        "{err}"
    );
    let one = run(&["cache", "clean", "compressed-v0"]);
    assert!(one.status.success(), "{one:?}");
    assert!(!root.join("compressed-v0").exists());
    assert!(root.join("runtimes-v0").exists());
    let all = run(&["cache", "clean"]);
    let err = String::from_utf8_lossy(&all.stderr);
    assert!(all.status.success() && err.contains("Cleaned"), "{err}");
    assert!(!root.join("runtimes-v0").exists());
}

#[test]
fn usage_errors_exit_2() {
    let out = Command::new(BIN)
        .args(["pyship", "frobnicate"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn version_flag() {
    let out = Command::new(BIN)
        .args(["pyship", "--version"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}

/// The book's generated pages (config keys, CLI, environment) and the
/// config's JSON Schema are what the code generates now: the drift check.
/// Regenerate with `cargo run -p cargo-pyship -- pyship generate-docs`.
#[test]
fn generated_docs_are_current() {
    let out = Command::new(BIN)
        .args(["pyship", "generate-docs", "--check"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The check fails on a stale page, naming it and the command; the command
/// writes it back; then the check passes.
#[test]
fn generate_docs_check_finds_a_stale_page_and_the_command_fixes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    let real = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    fs_err::create_dir_all(docs.join("src/reference")).unwrap();
    fs_err::copy(real.join("book.toml"), docs.join("book.toml")).unwrap();
    for f in [
        "config-keys.md",
        "pyship.schema.json",
        "environment.md",
        "cli.md",
    ] {
        fs_err::copy(
            real.join("src/reference").join(f),
            docs.join("src/reference").join(f),
        )
        .unwrap();
    }
    let page = docs.join("src/reference/config-keys.md");
    let good = fs_err::read_to_string(&page).unwrap();
    fs_err::write(&page, good.replace("| `port` |", "| `prot` |")).unwrap();
    let check = || {
        Command::new(BIN)
            .args(["pyship", "generate-docs", "--check", "--docs"])
            .arg(&docs)
            .output()
            .expect("runs")
    };
    let out = check();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("config-keys.md"), "{err}");
    assert!(err.contains("generate-docs"), "{err}");
    let fix = Command::new(BIN)
        .args(["pyship", "generate-docs", "--docs"])
        .arg(&docs)
        .output()
        .expect("runs");
    assert!(fix.status.success(), "{fix:?}");
    assert_eq!(fs_err::read_to_string(&page).unwrap(), good);
    assert!(check().status.success());
}
