//! The rtoml layout: a maturin project whose `python-source` holds the
//! extension's package while the app sits beside it is found, shipped, run
//! and imaged, its licence file listing the crates linked into the
//! extension.

use super::*;

/// The rtoml layout (issue 27): a maturin project whose `python-source`
/// holds the extension's package (`python/pyhash`, module-name
/// `pyhash._native`) while the app, named after the project (`hashcli`, a
/// CLI reading stdin), sits beside it at the top. The pyhash fixture,
/// renamed, without its pyship table and its web dependencies; MIT-licensed.
fn beside_python_source() -> (tempfile::TempDir, PathBuf) {
    let (t, dir) = copy_fixture("pyhash");
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    let cut = text.find("[workspace.metadata.pyship]").unwrap();
    fs_err::write(&manifest, &text[..cut]).unwrap();
    let py = dir.join("pyproject.toml");
    let text = fs_err::read_to_string(&py).unwrap();
    let text = text
        .replace("name = \"pyhash\"", "name = \"hashcli\"\nlicense = \"MIT\"")
        .replace(
            "dependencies = [\"fastapi\", \"uvicorn\"]",
            "dependencies = []",
        );
    assert!(text.contains("name = \"hashcli\""), "{text}");
    fs_err::write(&py, text).unwrap();
    fs_err::write(
        dir.join("LICENSE"),
        "MIT License\n\nCopyright (c) hashcli authors\n",
    )
    .unwrap();
    fs_err::create_dir_all(dir.join("hashcli")).unwrap();
    fs_err::write(
        dir.join("hashcli/__init__.py"),
        "\"\"\"A CLI over pyhash's Rust hash.\"\"\"\n",
    )
    .unwrap();
    fs_err::write(
        dir.join("hashcli/__main__.py"),
        "import sys\nfrom importlib.metadata import version\n\nimport pyhash\n\n\n\
         def main() -> int:\n    args = sys.argv[1:]\n    if args[:1] == [\"--version\"]:\n        \
         print(\"hashcli\", version(\"hashcli\"), pyhash.fnv1a(\"pyship\"))\n        return 0\n    \
         print(\"hash\", pyhash.fnv1a(sys.stdin.read()))\n    return int(args[0]) if args else 0\n\n\n\
         if __name__ == \"__main__\":\n    sys.exit(main())\n",
    )
    .unwrap();
    (t, dir)
}

/// The crates `cargo tree` says are linked into fastcore for `triple`
/// (normal dependencies, procedural macros hidden): the licence file's oracle.
fn cargo_tree_crates(dir: &Path, triple: &str) -> std::collections::BTreeSet<String> {
    let out = Command::new("cargo")
        .args(["tree", "--offline", "--manifest-path"])
        .arg(dir.join("crates/fastcore/Cargo.toml"))
        .args([
            "--target",
            triple,
            "-e",
            "normal,no-proc-macro",
            "--prefix",
            "none",
            "--features",
            "pyo3/extension-module",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some(format!(
                "{} {}",
                w.next()?,
                w.next()?.trim_start_matches('v')
            ))
        })
        .collect()
}

/// The crates THIRD-PARTY-LICENSES.txt lists as linked into the extension.
fn listed_crates(licenses: &str) -> std::collections::BTreeSet<String> {
    licenses
        .split("Rust crates linked into the extension")
        .nth(1)
        .expect("a Rust crates section")
        .lines()
        .skip_while(|l| !l.starts_with("  "))
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.trim().split(':').next().map(str::to_owned))
        .collect()
}

#[test]
#[cfg_attr(not(feature = "slow-tests"), ignore = "slow tier: a maturin build")]
fn hybrid_app_beside_python_source_is_found_shipped_run_and_imaged() {
    require_build_tools();
    let (_mirror_dir, mirror) = pyship_e2e::testdata::python_mirror();
    let (_runtime_file, runtime) = pyship_e2e::pbs::serve(RUNTIME_FILE);
    let (_t, dir) = beside_python_source();
    let cache = tempfile::tempdir().unwrap();
    let cmd = || {
        let mut c = pyship_in(&dir, cache.path());
        c.env("PYSHIP_PYTHON_MIRROR", mirror.url());
        c
    };

    // init finds the app beside python-source and says where, before any build.
    let out = cmd()
        .args(["pyship", "init", "--ci", "none"])
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("Chose app-src . (flat layout, next to the pyproject; not in the project's maturin wheel, which packs pyhash from python/pyhash and the extension pyhash._native (`module-name` in [tool.maturin]); derived, not written)"),
        "{err}"
    );
    assert!(!err.contains("Building"), "{err}");
    let manifest = dir.join("Cargo.toml");
    let edit = |pairs: &[(&str, String)]| {
        let mut text = fs_err::read_to_string(&manifest).unwrap();
        for (from, to) in pairs {
            assert!(text.contains(from), "no `{from}` in:\n{text}");
            text = text.replacen(from, to, 1);
        }
        fs_err::write(&manifest, text).unwrap();
    };
    edit(&[
        ("# no-index = false\n", "no-index = true\n".into()),
        (
            "# runtime-url = \"\"\n",
            format!(
                "runtime-url = \"{}/cpython-{{version}}-test-x86_64-unknown-linux-gnu-install_only.tar.gz\"\n",
                runtime.url()
            ),
        ),
    ]);

    // Both bundles: the wheel's package from the wheel, the app from beside it.
    let err = bundle_at_cargo_version(cmd(), "all");
    let dist = dir.join("dist");
    for artifact in [
        "hashcli-v0.2.0-win-x64.zip",
        "hashcli-v0.2.0-linux-x64.tar.gz",
    ] {
        assert!(dist.join(artifact).is_file(), "{artifact}:\n{err}");
    }
    for (platform, triple, ext) in [
        ("windows", "x86_64-pc-windows-gnu", ".pyd"),
        ("linux", "x86_64-unknown-linux-gnu", ".so"),
    ] {
        let tree = dist.join(".pyship").join(platform).join("hashcli");
        let sp = tree.join(if platform == "windows" {
            "python/Lib/site-packages".to_owned()
        } else {
            "python/lib/python3.11/site-packages".to_owned()
        });
        let app: Vec<String> = fs_err::read_dir(tree.join("app/src"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(app.contains(&"hashcli".to_owned()), "{platform}: {app:?}");
        assert!(!app.contains(&"pyhash".to_owned()), "{platform}: {app:?}");
        assert!(
            fs_err::read_dir(sp.join("pyhash")).unwrap().any(|e| e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(ext)),
            "{platform}: no extension in site-packages/pyhash"
        );
        // The licence file names every crate of the target's resolve, and no other.
        let licenses = fs_err::read_to_string(tree.join("THIRD-PARTY-LICENSES.txt")).unwrap();
        let want = cargo_tree_crates(&dir, triple);
        assert_eq!(listed_crates(&licenses), want, "{platform}:\n{licenses}");
        for build_only in ["python3-dll-a", "pyo3-build-config", "syn", "pyo3-macros"] {
            assert!(
                !want
                    .iter()
                    .any(|c| c.starts_with(&format!("{build_only} "))),
                "{build_only} is not linked"
            );
        }
        assert!(
            licenses.contains("(Rust crate)") && licenses.contains("Permission is hereby granted"),
            "{platform}: crate licence texts are in"
        );
        assert!(
            licenses.contains("hashcli 0.2.0: MIT (this application)"),
            "{platform}:\n{licenses}"
        );
        // The SBOM lists the same crates, and the app's licence.
        let sbom: serde_json::Value = serde_json::from_str(
            &fs_err::read_to_string(dist.join(format!(
                "hashcli-v0.2.0-{}.cdx.json",
                if platform == "windows" {
                    "win-x64"
                } else {
                    "linux-x64"
                }
            )))
            .unwrap(),
        )
        .unwrap();
        let cargo: std::collections::BTreeSet<String> = sbom["components"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| {
                c["purl"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("pkg:cargo/"))
            })
            .map(|c| {
                format!(
                    "{} {}",
                    c["name"].as_str().unwrap(),
                    c["version"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(cargo, want, "{platform} SBOM");
        assert_eq!(
            sbom["metadata"]["component"]["licenses"],
            serde_json::json!([{"license": {"id": "MIT"}}]),
            "{platform} SBOM subject"
        );
    }

    // A pyship key only cargo-pyship reads does not rebuild the wheel.
    edit(&[(
        "# port = 8765  # an example; not set\n",
        "port = 9999\n".into(),
    )]);
    let err = bundle_at_cargo_version(cmd(), "windows");
    assert!(
        err.contains("Fresh hashcli wheel for x86_64-pc-windows-gnu"),
        "{err}"
    );

    // `run`: the bundle as a user starts it; arguments, stdin and the exit
    // code go through, under wine with the Rust extension loaded.
    let run = |target: &str, args: &[&str], stdin: &str| {
        let out = cmd()
            .args([
                "pyship",
                "run",
                "--target",
                target,
                "--version",
                "v0.2.0",
                "--",
            ])
            .args(args)
            .write_stdin(stdin.to_owned())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr_of(&out),
        )
    };
    let (code, stdout, err) = run("windows", &["--version"], "");
    assert_eq!(code, Some(0), "{stdout}\n{err}");
    assert_eq!(stdout.trim(), format!("hashcli 0.2.0 {HASH}"), "{err}");
    assert!(
        err.contains("Fresh ./dist/.pyship/windows/hashcli") || err.contains("Fresh "),
        "{err}"
    );
    let (code, stdout, err) = run("windows", &["7"], "pyship");
    assert_eq!(code, Some(7), "{stdout}\n{err}");
    assert_eq!(stdout.trim(), format!("hash {HASH}"), "{err}");
    let (code, stdout, err) = run("linux", &["5"], "pyship");
    assert_eq!(code, Some(5), "{stdout}\n{err}");
    assert_eq!(stdout.trim(), format!("hash {HASH}"), "{err}");

    // The Docker image holds what the Linux bundle holds: the extension's
    // package from the wheel, the app in /app/src on sys.path.
    edit(&[(
        "# image = \"gitea.example.com/owner/app\"  # an example; not set\n",
        "image = \"localhost/e2e/hashcli\"\n".into(),
    )]);
    let docker = pyship_e2e::docker_sim::FakeDocker::new(&[]);
    let mut c = cmd();
    for (k, v) in docker.env() {
        c.env(k, v);
    }
    let out = c
        .args(["pyship", "docker", "--version", "0.2.0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let image_sp = docker.root.join("usr/local/lib/python3.11/site-packages");
    let tree = dist.join(".pyship/linux/hashcli");
    let bundle_sp = tree.join("python/lib/python3.11/site-packages");
    use pyship_e2e::docker_sim::files_under;
    assert_eq!(
        files_under(&docker.root.join("app/src")),
        files_under(&tree.join("app/src"))
            .into_iter()
            .filter(|f| !f.starts_with("_pyship_launch"))
            .collect::<Vec<_>>(),
        "the image's app sources are the bundle's"
    );
    for f in files_under(&tree.join("app/src/hashcli")) {
        assert_eq!(
            fs_err::read(docker.root.join("app/src/hashcli").join(&f)).unwrap(),
            fs_err::read(tree.join("app/src/hashcli").join(&f)).unwrap(),
            "{f}"
        );
    }
    assert_eq!(
        files_under(&image_sp.join("pyhash")),
        files_under(&bundle_sp.join("pyhash")),
        "the extension's package"
    );
    assert_eq!(
        fs_err::read_to_string(image_sp.join("_pyship_app.pth")).unwrap(),
        "/app/src\n"
    );
    assert!(image_sp.join("hashcli-0.2.0.dist-info").is_dir());
    assert!(bundle_sp.join("hashcli-0.2.0.dist-info").is_dir());
}
