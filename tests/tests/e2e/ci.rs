//! The CI workflows `init` writes, checked as a maintainer checks them: the
//! GitHub workflow schema (`check-jsonschema`), `zizmor` (no finding of
//! medium severity or more), snapshots, and the test workflow's Python job
//! run on this machine against projects that real ones resemble (a pytest
//! option from a plugin, no tests at all). The release workflow's jobs, run
//! one by one, are tested in `ci/release_jobs.rs`.

use std::path::{Path, PathBuf};

use super::support::*;
use super::workflow;

/// The validators, pinned (`.ci/install-tools` warms uv's cache with them).
const CHECK_JSONSCHEMA: &str = "check-jsonschema==0.39.0";
const ZIZMOR: &str = "zizmor==1.33.1";

/// Steps a test skips: the host has uv and Rust already.
const HOST_HAS: &[&str] = &["Install uv", "Install Rust"];

/// Write `files` under `dir`.
fn write(dir: &Path, files: &[(&str, &str)]) {
    for (rel, text) in files {
        let p = dir.join(rel);
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(p, text).unwrap();
    }
}

/// `cargo pyship init` (Python-only projects get their Cargo.toml), with a
/// fixed install source.
fn init(dir: &Path, cache: &Path, ci: &str) {
    pyship(cache)
        .current_dir(dir)
        .args(["pyship", "init", "--ci", ci, "--install-from", "crates.io"])
        .assert()
        .success();
}

/// A Python-only app whose tests need a pytest plugin: `pytest.ini` sets
/// the plugin's option and makes unknown options errors, as many projects
/// do; the plugin is in the `test` dependency group (PEP 735), the linter
/// configured but not pinned.
fn plugin_project(dir: &Path) {
    write(
        dir,
        &[
            (
                "pyproject.toml",
                "[project]\nname = \"plugapp\"\nversion = \"0.1.0\"\nrequires-python = \">=3.11\"\n\
                 dependencies = []\n\n[dependency-groups]\ntest = [\"pytest>=8\", \"pytest-timeout\"]\n\n\
                 [tool.ruff]\nline-length = 100\n\n\
                 [build-system]\nrequires = [\"setuptools>=68\"]\nbuild-backend = \"setuptools.build_meta\"\n",
            ),
            ("pytest.ini", "[pytest]\naddopts = --strict-config\ntimeout = 60\n"),
            ("plugapp/__init__.py", "VALUE = 1\n"),
            ("plugapp/__main__.py", "print(\"plugapp\")\n"),
            (
                "tests/test_app.py",
                "import plugapp\n\n\ndef test_value():\n    assert plugapp.VALUE == 1\n",
            ),
        ],
    );
}

/// A Python-only app with no tests and no test dependencies.
fn bare_project(dir: &Path) {
    write(
        dir,
        &[
            (
                "pyproject.toml",
                "[project]\nname = \"bareapp\"\nversion = \"0.1.0\"\nrequires-python = \">=3.11\"\n\n\
                 [build-system]\nrequires = [\"setuptools>=68\"]\nbuild-backend = \"setuptools.build_meta\"\n",
            ),
            ("bareapp/__init__.py", ""),
            ("bareapp/__main__.py", "print(\"bare\")\n"),
        ],
    );
}

/// The test workflow's Python job passes on both projects, run step by step
/// on this machine; without its test dependency group the plugin project
/// fails the way the issue saw it, and an empty tests folder is a failure.
#[test]
fn the_test_workflows_python_job_passes_on_real_shaped_projects() {
    let cache = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();

    let plug = tmp.path().join("plugapp");
    plugin_project(&plug);
    init(&plug, cache.path(), "gitea");
    let wf_path = plug.join(".gitea/workflows/test.yml");
    let wf = workflow::load(&wf_path);
    assert!(
        wf["jobs"]["rust"].is_null(),
        "a Python-only project has no Rust job"
    );
    let ran = workflow::Job::new(&plug, HOST_HAS).run(&wf, "python");
    assert!(
        ran.steps.iter().any(|(n, r)| n == "ruff check" && *r),
        "{ran:?}"
    );
    assert!(ran.log.contains("1 passed"), "{}", ran.log);
    // ruff is the pinned one: the project configures ruff but declares none.
    assert!(
        ran.log.contains(&format!(
            "ruff=={}",
            pyship_build::init::checks::RUFF_VERSION
        )),
        "{}",
        ran.log
    );

    // The same job installing the app and a bare pytest, as the workflow did
    // before it installed the project's groups: pytest stops on the plugin's
    // option.
    let text = fs_err::read_to_string(&wf_path).unwrap();
    let without = text.replace(" --group test", " pytest");
    assert_ne!(without, text, "the install line names the group:\n{text}");
    let broken: serde_yaml_ng::Value = serde_yaml_ng::from_str(&without).unwrap();
    fs_err::remove_dir_all(plug.join(".venv")).unwrap();
    let failed = std::panic::catch_unwind(|| {
        workflow::Job::new(&plug, HOST_HAS).run(&broken, "python");
    });
    let message = failed
        .expect_err("pytest must fail without pytest-timeout")
        .downcast::<String>()
        .map(|s| *s)
        .unwrap_or_default();
    assert!(
        message.contains("Unknown config option: timeout"),
        "{message}"
    );

    let bare = tmp.path().join("bareapp");
    bare_project(&bare);
    init(&bare, cache.path(), "github");
    let wf = workflow::load(&bare.join(".github/workflows/test.yml"));
    let ran = workflow::Job::new(&bare, HOST_HAS).run(&wf, "python");
    assert!(
        !ran.steps.iter().any(|(n, _)| n == "ruff check"),
        "no ruff config, no ruff step: {ran:?}"
    );
    assert!(ran.log.contains("nothing to test"), "{}", ran.log);
    // A tests folder without tests is a failure (exit 5 stands); a fresh
    // runner has no venv.
    fs_err::create_dir_all(bare.join("tests")).unwrap();
    fs_err::remove_dir_all(bare.join(".venv")).unwrap();
    let failed = std::panic::catch_unwind(|| {
        workflow::Job::new(&bare, HOST_HAS).run(&wf, "python");
    });
    let message = failed
        .expect_err("no tests collected with a tests folder fails")
        .downcast::<String>()
        .map(|s| *s)
        .unwrap_or_default();
    assert!(message.contains("exit status: 5"), "{message}");
}

/// Every generated workflow (Gitea and GitHub; a plain, a hybrid and a
/// Python-only project with dependency groups and a uv.lock) validates
/// against the GitHub workflow schema and has no zizmor finding of medium
/// severity or more.
#[test]
fn generated_workflows_pass_the_schema_and_zizmor() {
    let cache = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut files: Vec<PathBuf> = Vec::new();
    let mut collect = |dir: &Path, ci: &str, label: &str| {
        for name in ["test", "release"] {
            let src = dir.join(format!(".{ci}/workflows/{name}.yml"));
            let dest = out.path().join(format!("{label}-{ci}-{name}.yml"));
            fs_err::copy(&src, &dest).unwrap();
            files.push(dest);
        }
    };
    for ci in ["gitea", "github"] {
        let (_t, dir) = copy_fixture("hello");
        init(&dir, cache.path(), ci);
        collect(&dir, ci, "hello");
    }
    let (_t, dir) = copy_fixture("pyhash");
    init(&dir, cache.path(), "gitea");
    collect(&dir, "gitea", "pyhash");
    let tmp = tempfile::tempdir().unwrap();
    let groups = tmp.path().join("groups");
    plugin_project(&groups);
    fs_err::write(groups.join("uv.lock"), "version = 1\n").unwrap();
    init(&groups, cache.path(), "gitea");
    collect(&groups, "gitea", "groups");
    // A Python-only project: no Cargo target cache, no Windows cross tools,
    // but wine for the Windows import check and NSIS for the installer.
    for name in ["test", "release"] {
        let text =
            fs_err::read_to_string(groups.join(format!(".gitea/workflows/{name}.yml"))).unwrap();
        insta::assert_snapshot!(format!("groups_gitea_{name}"), text);
    }

    // No finding is silenced: the release workflow only restores (and
    // saves) pyship's runtimes bucket, whose files are checked against
    // pyship.lock on use; nothing that runs unchecked is cached there.
    for f in &files {
        let text = fs_err::read_to_string(f).unwrap();
        assert!(!text.contains("zizmor: ignore"), "{}:\n{text}", f.display());
        if f.to_string_lossy().ends_with("-release.yml") {
            assert!(!text.contains("actions/cache@"), "{}", f.display());
            let paths: Vec<&str> = text
                .lines()
                .filter_map(|l| l.trim().strip_prefix("path: ~/"))
                .collect();
            assert!(
                !paths.is_empty() && paths.iter().all(|p| *p == ".cache/pyship/runtimes-v0"),
                "{}: {paths:?}",
                f.display()
            );
        }
    }
    let mut schema = std::process::Command::new("uv");
    schema
        .args([
            "tool",
            "run",
            "--from",
            CHECK_JSONSCHEMA,
            "check-jsonschema",
        ])
        .args(["--builtin-schema", "vendor.github-workflows"])
        .args(&files);
    run_ok(&mut schema);
    let mut zizmor = std::process::Command::new("uv");
    zizmor
        .args(["tool", "run", "--from", ZIZMOR, "zizmor"])
        .args(["--offline", "--no-progress", "--min-severity", "medium"])
        .args(&files);
    run_ok(&mut zizmor);
}

/// The `secrets.NAME` a workflow job refers to, anywhere in it.
fn secrets_of(job: &serde_yaml_ng::Value) -> std::collections::BTreeSet<String> {
    let text = serde_yaml_ng::to_string(job).unwrap();
    text.split("secrets.")
        .skip(1)
        .map(|rest| {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

/// With every secret configured (a code-signing certificate and its
/// password from the environment, signed updates, a Docker image), each job
/// of the release workflow gets only the secrets its share of the release
/// reads: the certificate only in the Windows build job, the update key in
/// publish, the deploy token in publish and docker; plan and the Linux job
/// none. The Windows job installs osslsigncode; the Linux job nothing.
#[test]
fn each_release_job_gets_only_the_secrets_it_reads() {
    let cache = tempfile::tempdir().unwrap();
    for ci in ["gitea", "github"] {
        let (_t, dir) = copy_fixture("hello");
        let manifest = dir.join("Cargo.toml");
        let text = fs_err::read_to_string(&manifest).unwrap();
        fs_err::write(
            &manifest,
            format!(
                "{text}\n[package.metadata.pyship.windows.sign]\npkcs12-env = \"CODESIGN_P12\"\n\
                 password-env = \"CODESIGN_PASSWORD\"\n\n\
                 [package.metadata.pyship.update]\n\
                 public-keys = [\"RWQBP5ju3DTGVwfv5i4WokQZG3HAzbdvcw5yzVDKu4u5ErP7YcnP7j5d\"]\n\n\
                 [package.metadata.pyship.docker]\nimage = \"registry.example.org/team/hello-app\"\n"
            ),
        )
        .unwrap();
        init(&dir, cache.path(), ci);
        let wf = workflow::load(&dir.join(format!(".{ci}/workflows/release.yml")));
        let jobs = wf["jobs"].as_mapping().unwrap();
        let got: Vec<(String, Vec<String>)> = jobs
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().unwrap().to_owned(),
                    secrets_of(v).into_iter().collect(),
                )
            })
            .collect();
        let want: Vec<(String, Vec<String>)> = [
            ("plan", &[][..]),
            ("build-windows", &["CODESIGN_P12", "CODESIGN_PASSWORD"][..]),
            ("build-linux", &[][..]),
            (
                "publish",
                &[
                    "DEPLOY_TOKEN",
                    "PYSHIP_SIGNING_KEY",
                    "PYSHIP_SIGNING_PASSWORD",
                ][..],
            ),
            ("docker", &["DEPLOY_TOKEN"][..]),
        ]
        .iter()
        .map(|(j, s)| (j.to_string(), s.iter().map(|s| s.to_string()).collect()))
        .collect();
        assert_eq!(got, want, "{ci}");
        let windows = serde_yaml_ng::to_string(&wf["jobs"]["build-windows"]).unwrap();
        assert!(windows.contains("osslsigncode"), "{windows}");
        let linux = serde_yaml_ng::to_string(&wf["jobs"]["build-linux"]).unwrap();
        assert!(
            !linux.contains("osslsigncode") && !linux.contains("apt-get"),
            "{linux}"
        );
    }

    // A secret name no CI can hold is refused with the key that names it.
    let (_t, dir) = copy_fixture("hello");
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    fs_err::write(
        &manifest,
        format!(
            "{text}\n[package.metadata.pyship.windows.sign]\npkcs12 = \"c.p12\"\npassword-env = \"GITHUB_PW\"\n"
        ),
    )
    .unwrap();
    let out = pyship(cache.path())
        .current_dir(&dir)
        .args([
            "pyship",
            "init",
            "--ci",
            "github",
            "--install-from",
            "crates.io",
        ])
        .assert()
        .failure()
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("windows.sign.password-env = \"GITHUB_PW\"")
            && stderr.contains("cannot name a CI secret"),
        "{stderr}"
    );
    assert!(!dir.join(".github").exists());
}

fn run_ok(cmd: &mut std::process::Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// cargo installed this cargo-pyship from a git repository on this machine
/// (a clone of a local folder): no runner can clone that, so `init` passes
/// it over with a warning naming it and writes crates.io; `--install-from`
/// a `file://` URL is refused with a hint.
#[test]
fn init_never_writes_a_local_git_folder_as_the_install_step() {
    let cache = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let (_t, dir) = copy_fixture("hello");
    fs_err::write(
        home.path().join(".crates2.json"),
        r#"{"installs":{"cargo-pyship 0.1.0 (git+file:///home/dev/src/cargo-pyship#4f2a1c0de5b1a7e6f0c9d8b7a6e5f4c3b2a19081)":{"bins":["cargo-pyship"]}}}"#,
    )
    .unwrap();
    let out = pyship(cache.path())
        .current_dir(&dir)
        .env("CARGO_HOME", home.path())
        .args(["pyship", "init", "--ci", "gitea"])
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning")
            && stderr.contains("file:///home/dev/src/cargo-pyship")
            && stderr.contains("no CI runner can reach"),
        "{stderr}"
    );
    let wf = workflow::load(&dir.join(".gitea/workflows/release.yml"));
    let install = wf["jobs"]
        .as_mapping()
        .unwrap()
        .values()
        .flat_map(|j| j["steps"].as_sequence().cloned().unwrap_or_default())
        .find(|s| s["name"] == "Install cargo-pyship")
        .and_then(|s| s["run"].as_str().map(str::to_owned))
        .expect("an install step");
    assert!(
        install.starts_with("cargo install cargo-pyship --locked --version "),
        "{install}"
    );

    let (_t2, dir2) = copy_fixture("hello");
    let out = pyship(cache.path())
        .current_dir(&dir2)
        .args([
            "pyship",
            "init",
            "--install-from",
            "file:///home/dev/src/cargo-pyship",
        ])
        .assert()
        .failure()
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no CI runner can clone") && stderr.contains("hint:"),
        "{stderr}"
    );
    assert!(!dir2.join(".gitea").exists() && !dir2.join(".github").exists());
}

mod release_jobs;
