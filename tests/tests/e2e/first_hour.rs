//! A Python-only project as a new user brings it (issue 27): a folder with a
//! pyproject.toml and nothing for Cargo. `init` gives it a Cargo.toml that
//! only holds the pyship table (a virtual workspace without members: nothing
//! to compile), says so, and the project then bundles for both targets under
//! the Python project's name, with its own licence in every artifact, and
//! runs with `cargo pyship run` on both targets, forwarding arguments, stdin
//! and the exit code.

use std::path::Path;

use super::support::*;

const RUNTIME_FILE: &str = "cpython-3.11.9-test-x86_64-unknown-linux-gnu-install_only.tar.gz";

/// The project: `tally-app` 1.2.0 (MIT, a LICENSE and a NOTICE file), its
/// package `tally` with a `[project.scripts]` entry point that reads stdin and
/// exits with the number given to it.
fn tally(parent: &Path) -> std::path::PathBuf {
    let dir = parent.join("tally-app");
    for (rel, text) in [
        (
            "pyproject.toml",
            "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\n\
             [project]\nname = \"tally-app\"\nversion = \"1.2.0\"\nlicense = \"MIT\"\n\
             license-files = [\"LICENSE\", \"NOTICE\"]\nrequires-python = \">=3.11\"\ndependencies = []\n\n\
             [project.scripts]\ntally-app = \"tally.cli:main\"\n",
        ),
        ("LICENSE", "MIT License\n\nCopyright (c) 2026 Tally authors\n"),
        ("NOTICE", "Tally includes no third-party code.\n"),
        ("tally/__init__.py", ""),
        (
            "tally/cli.py",
            "import sys\nfrom importlib.metadata import version\n\n\n\
             def main():\n    args = sys.argv[1:]\n    if args[:1] == [\"--version\"]:\n        \
             print(\"tally\", version(\"tally-app\"))\n        return 0\n    \
             data = sys.stdin.read()\n    print(\"read\", len(data), \"args\", args)\n    \
             return int(args[0]) if args and args[0].isdigit() else 0\n",
        ),
    ] {
        let p = dir.join(rel);
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(p, text).unwrap();
    }
    dir
}

fn zip_text(zip: &Path, name: &str) -> String {
    use std::io::Read;
    let mut z = zip::ZipArchive::new(fs_err::File::open(zip).unwrap()).unwrap();
    let mut f = z
        .by_name(name)
        .unwrap_or_else(|_| panic!("{name} not in {}", zip.display()));
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    s
}

fn tar_text(tarball: &Path, name: &str) -> String {
    use std::io::Read;
    let gz = flate2_reader(tarball);
    let mut a = tar::Archive::new(gz);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_string_lossy() == name {
            let mut s = String::new();
            e.read_to_string(&mut s).unwrap();
            return s;
        }
    }
    panic!("{name} not in {}", tarball.display());
}

fn flate2_reader(path: &Path) -> impl std::io::Read {
    flate2::read::MultiGzDecoder::new(fs_err::File::open(path).unwrap())
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: bundles both targets and runs them"
)]
fn a_python_only_project_gets_a_manifest_bundles_runs_and_ships_its_licence() {
    require_tool("uv", "`pip install uv` (PyPI package `uv`)");
    let t = tempfile::tempdir().unwrap();
    let dir = tally(t.path());
    git(&dir, &["init", "-q", "-b", "main"]);
    let cache = t.path().join("cache");
    let (_m, mirror) = pyship_e2e::testdata::python_mirror();
    let (_runtime_file, runtime) = pyship_e2e::pbs::serve(RUNTIME_FILE);
    let cmd = || {
        let mut c = pyship(&cache);
        c.current_dir(&dir)
            .env("PYSHIP_PYTHON_MIRROR", mirror.url())
            .env("SOURCE_DATE_EPOCH", "1700000000");
        c
    };

    // Without a Cargo.toml, other commands say what to do.
    let out = cmd().args(["pyship", "plan"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no Cargo.toml in") && err.contains("`cargo pyship init`"),
        "{err}"
    );

    // init writes one, says so, and the table goes into it.
    let out = cmd()
        .args(["pyship", "init", "--ci", "gitea"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(
            "Created ./Cargo.toml: a virtual Cargo workspace without members (nothing to compile)"
        ),
        "{err}"
    );
    assert!(
        err.contains("Created ./.gitignore (ignores /dist/"),
        "{err}"
    );
    let manifest = fs_err::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("[workspace]\nresolver = \"2\"\nmembers = []\n"),
        "{manifest}"
    );
    assert!(
        manifest.contains("\n[workspace.metadata.pyship]\n"),
        "{manifest}"
    );
    assert!(
        manifest.contains("\n# name = \"tally-app\"\n"),
        "{manifest}"
    );
    assert!(
        manifest.contains("\n# module = \"tally.cli:main\"\n"),
        "{manifest}"
    );
    // The test workflow has nothing for Cargo to compile.
    let test_yml = fs_err::read_to_string(dir.join(".gitea/workflows/test.yml")).unwrap();
    assert!(!test_yml.contains("cargo test"), "{test_yml}");
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&test_yml).expect("valid YAML");
    assert!(doc["jobs"]["python"].is_mapping(), "{test_yml}");
    for args in [&["version", "--check"][..], &["init", "--check"][..]] {
        cmd().arg("pyship").args(args).assert().success();
    }

    // Bundle both targets: named after the Python project.
    let text = manifest
        .replace("# no-index = false\n", "no-index = true\n")
        .replace(
            "# runtime-url = \"\"\n",
            &format!(
                "runtime-url = \"{}/cpython-{{version}}-test-x86_64-unknown-linux-gnu-install_only.tar.gz\"\n",
                runtime.url()
            ),
        )
        .replace(
            "# installer-compression = \"lzma\"\n",
            "installer-compression = \"zlib\"\n",
        );
    fs_err::write(dir.join("Cargo.toml"), text).unwrap();
    let out = cmd()
        .args(["pyship", "bundle", "--target", "all"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    let dist = dir.join("dist");
    let zip = dist.join("tally-app-v1.2.0-win-x64.zip");
    let tarball = dist.join("tally-app-v1.2.0-linux-x64.tar.gz");
    assert!(zip.is_file() && tarball.is_file(), "{err}");

    // The app's licence in every artifact: its METADATA and files in the
    // dist-info, the licence file, both SBOMs.
    let dist_info = "tally_app-1.2.0.dist-info";
    for (metadata, license, third_party) in [
        (
            zip_text(
                &zip,
                &format!("tally-app/python/Lib/site-packages/{dist_info}/METADATA"),
            ),
            zip_text(
                &zip,
                &format!("tally-app/python/Lib/site-packages/{dist_info}/licenses/LICENSE"),
            ),
            zip_text(&zip, "tally-app/THIRD-PARTY-LICENSES.txt"),
        ),
        (
            tar_text(
                &tarball,
                &format!("tally-app/python/lib/python3.11/site-packages/{dist_info}/METADATA"),
            ),
            tar_text(
                &tarball,
                &format!(
                    "tally-app/python/lib/python3.11/site-packages/{dist_info}/licenses/LICENSE"
                ),
            ),
            tar_text(&tarball, "tally-app/THIRD-PARTY-LICENSES.txt"),
        ),
    ] {
        assert!(metadata.contains("License-Expression: MIT\n"), "{metadata}");
        assert!(
            metadata.contains("License-File: LICENSE\nLicense-File: NOTICE\n"),
            "{metadata}"
        );
        assert!(
            license.contains("Copyright (c) 2026 Tally authors"),
            "{license}"
        );
        assert!(
            third_party.contains("tally-app 1.2.0: MIT (this application)"),
            "{third_party}"
        );
        assert!(
            third_party.contains("Tally includes no third-party code."),
            "{third_party}"
        );
    }
    for suffix in ["win-x64", "linux-x64"] {
        let sbom: serde_json::Value = serde_json::from_str(
            &fs_err::read_to_string(dist.join(format!("tally-app-v1.2.0-{suffix}.cdx.json")))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            sbom["metadata"]["component"]["licenses"],
            serde_json::json!([{"license": {"id": "MIT"}}]),
            "{suffix}"
        );
    }
    // The installer packs that tree (current: no second bundle build).
    let out = cmd().args(["pyship", "installer"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success() && !err.contains("Bundling"), "{err}");
    assert!(dist.join("tally-app-v1.2.0-setup.exe").is_file());

    // `run` on both targets: the version, then stdin, arguments and the exit code.
    for target in ["windows", "linux"] {
        let out = cmd()
            .args(["pyship", "run", "--target", target, "--", "--version"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(0), "{target}: {err}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "tally 1.2.0",
            "{target}: {err}"
        );
        assert!(
            err.contains("Fresh"),
            "{target}: the bundle is reused:\n{err}"
        );
        let out = cmd()
            .args([
                "pyship",
                "run",
                "--target",
                target,
                "--",
                "42",
                "two words",
                "zwölf",
            ])
            .write_stdin("four")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(42), "{target}: {err}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "read 4 args ['42', 'two words', 'zwölf']",
            "{target}: {err}"
        );
    }
}
