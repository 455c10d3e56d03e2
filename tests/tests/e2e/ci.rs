//! The CI workflows `init` writes, checked as a maintainer checks them: the
//! GitHub workflow schema (`check-jsonschema`), `zizmor` (no finding of
//! medium severity or more), snapshots, and the test workflow's Python job
//! run on this machine against projects that real ones resemble (a pytest
//! option from a plugin, no tests at all).

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

/// The generated release workflow, run job by job as a CI runs it: `plan`,
/// `build-windows` and `build-linux` (`release --only TARGET`) and
/// `publish`, each in its own clean clone with its own empty pyship and uv
/// caches and only its own secrets (the Linux job none), passing nothing
/// but the artifacts the workflow uploads and downloads. Every asset it publishes to the in-suite Gitea server has the
/// bytes a single-machine `release` of the same commit publishes
/// (manifest.json, the signed setup.exe and SHA256SUMS included), and an
/// app installed from the previous release updates itself to the split
/// release (its manifest is whole) and answers with the new version. Each job's time is printed beside
/// the single-machine release's.
#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: a signed release, then the workflow's jobs in clean clones"
)]
fn the_release_workflows_jobs_publish_the_single_machines_bytes() {
    use pyship_e2e::gitea::{REPO, WRITE_TOKEN};
    use std::collections::BTreeMap;
    use std::time::Instant;

    let s = super::release::servers();
    let (_t, repo) = super::release::project(&s);
    // The workflows as init writes them, committed with the tag moved onto them.
    let cache = tempfile::tempdir().unwrap();
    init(&repo, cache.path(), "gitea");
    // pyship.lock, written once and committed as a user does: on a runner
    // (`CI=true`) `release` is `--locked` and adds no pin.
    pyship(cache.path())
        .current_dir(&repo)
        .env("PYSHIP_PYTHON_MIRROR", s.python_mirror_url())
        .args(["pyship", "fetch"])
        .assert()
        .success();
    assert!(repo.join("pyship.lock").is_file());
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "workflows and pyship.lock"]);
    git(&repo, &["tag", "-f", super::release::TAG]);
    let wf = workflow::load(&repo.join(".gitea/workflows/release.yml"));
    let builds: Vec<String> = wf["jobs"]
        .as_mapping()
        .unwrap()
        .keys()
        .filter_map(|k| k.as_str().filter(|k| k.starts_with("build-")))
        .map(str::to_owned)
        .collect();
    assert_eq!(builds, ["build-windows", "build-linux"]);
    let job_text = |j: &str| serde_yaml_ng::to_string(&wf["jobs"][j]).unwrap();
    assert!(
        job_text("build-windows").contains("wine") && job_text("build-windows").contains("nsis")
    );
    assert!(
        !job_text("build-linux").contains("wine"),
        "wine only where the Windows import check runs"
    );
    assert!(wf["jobs"]["docker"].is_null(), "no image configured");

    let work = tempfile::tempdir().unwrap();
    let clone = |name: &str| {
        let d = work.path().join(name);
        git(
            work.path(),
            &[
                "clone",
                "-q",
                "--no-hardlinks",
                repo.to_str().unwrap(),
                name,
            ],
        );
        d
    };
    let published = |tag: &str| -> BTreeMap<String, String> {
        s.gitea
            .release(REPO, tag)
            .expect("a release")
            .assets
            .iter()
            .map(|a| (a.name.clone(), sha256_hex(&a.data)))
            .collect()
    };

    // The single-machine release of the same commit.
    let single = clone("single");
    let t = Instant::now();
    super::release::release(&s, &single, &work.path().join("cache-single"))
        .assert()
        .success();
    let single_secs = t.elapsed().as_secs_f64();
    let want = published(super::release::TAG);
    assert_eq!(want.len(), 7, "{want:?}");
    s.gitea.clear_releases(REPO);

    // The previous release (its Linux bundle is enough), where an installed
    // app comes from.
    // The commit before the workflows (a tag at HEAD names its version).
    let previous = clone("previous");
    git(&previous, &["checkout", "-q", "HEAD~1"]);
    git(&previous, &["tag", "v0.3.0"]);
    let mut cmd = super::release::release(&s, &previous, &work.path().join("cache-single"));
    cmd.env("GITHUB_REF_NAME", "v0.3.0")
        .args(["--only", "linux,publish"]);
    let out = cmd.assert().success().get_output().clone();
    let installed = tempfile::tempdir().unwrap();
    let tarball = s
        .gitea
        .release(REPO, "v0.3.0")
        .unwrap_or_else(|| {
            panic!(
                "v0.3.0 is not published; releases: {:?}\n{}",
                s.gitea
                    .releases()
                    .iter()
                    .map(|r| &r.tag)
                    .collect::<Vec<_>>(),
                String::from_utf8_lossy(&out.stderr)
            )
        })
        .assets
        .into_iter()
        .find(|a| a.name.ends_with("-linux-x64.tar.gz"))
        .expect("a Linux bundle");
    let unpack = std::process::Command::new("tar")
        .arg("-xzf")
        .arg("-")
        .current_dir(installed.path())
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        unpack
            .stdin
            .as_ref()
            .unwrap()
            .write_all(&tarball.data)
            .unwrap();
    }
    assert!(unpack.wait_with_output().unwrap().status.success());
    let root = installed.path().join("Hello-App");

    // The workflow's jobs, each on a fresh runner, given only the secrets
    // it should read: the runner fails a job that refers to any other.
    let env = [
        ("PYSHIP_PYTHON_MIRROR", s.python_mirror_url()),
        ("GITHUB_SERVER_URL", s.gitea.url()),
        ("GITHUB_REF_NAME", super::release::TAG.to_owned()),
    ];
    let mut times = Vec::new();
    let mut run = |job: &str| {
        let secrets = match job {
            "build-windows" => vec![(super::release::SIGN_PASSWORD_ENV, s.sign_password())],
            "publish" => vec![("DEPLOY_TOKEN", WRITE_TOKEN.to_owned())],
            _ => Vec::new(),
        };
        let (ran, secs) = run_job(&wf, &repo, work.path(), job, &env, &secrets);
        times.push((job.to_owned(), secs));
        ran
    };
    let planned = run("plan");
    assert!(
        planned.log.contains("\"jobs\"") || planned.steps.iter().any(|(n, r)| n == "Plan" && *r)
    );
    for b in &builds {
        run(b);
        assert!(
            s.gitea.release(REPO, super::release::TAG).is_none(),
            "a build job publishes nothing"
        );
    }
    run("publish");
    let got = published(super::release::TAG);
    assert_eq!(
        got, want,
        "the workflow's release differs from the single-machine one"
    );
    eprintln!(
        "single-machine release: {single_secs:.1}s; workflow jobs: {}",
        times
            .iter()
            .map(|(l, t)| format!("{l} {t:.1}s"))
            .collect::<Vec<_>>()
            .join(", ")
    );

    // The app installed from v0.3.0 updates itself to the split release:
    // `python -m pyship_update apply` downloads the tarball, checks it
    // against the split release's manifest, swaps the folders and starts
    // the new version, which answers with the new version.
    let installed_dist_info = || -> Vec<String> {
        fs_err::read_dir(root.join("python/lib/python3.11/site-packages"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("hello_app-") && n.ends_with(".dist-info"))
            .collect()
    };
    assert_eq!(installed_dist_info(), ["hello_app-0.3.0.dist-info"]);
    let port = pyship_e2e::wine::free_port();
    /// Stops the app the update helper started (its pid file), however the test ends.
    struct StopApp(PathBuf);
    impl Drop for StopApp {
        fn drop(&mut self) {
            if let Ok(pid) = fs_err::read_to_string(self.0.join(".pyship-update/app.pid")) {
                let _ = std::process::Command::new("kill").arg(pid.trim()).status();
            }
        }
    }
    let stop = StopApp(root.clone());
    let t = Instant::now();
    let out = std::process::Command::new(root.join("python/bin/python3"))
        .args(["-m", "pyship_update", "apply", "--prerelease", "--port"])
        .arg(port.to_string())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HELLO_PORT", port.to_string())
        .current_dir(&root)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("update to {} started", super::release::TAG)),
        "{text}"
    );
    let log = root.join(".pyship-update/update.log");
    let done = format!("updated to {}", super::release::TAG);
    while !fs_err::read_to_string(&log)
        .unwrap_or_default()
        .contains(&done)
    {
        assert!(
            t.elapsed().as_secs() < 180,
            "no `{done}` after 180 s; helper log:\n{}",
            fs_err::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    eprintln!(
        "v0.3.0 updated to the split release, answering: {:.1}s",
        t.elapsed().as_secs_f64()
    );
    let (status, body) =
        pyship_e2e::wine::http_get(port, "/version").expect("the updated app answers");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"version\":\"0.4.0rc1\""), "{body}");
    assert_eq!(installed_dist_info(), ["hello_app-0.4.0rc1.dist-info"]);
    drop(stop);

    // A part that does not exist is refused before anything runs.
    let out = pyship(work.path())
        .current_dir(&previous)
        .args(["pyship", "release", "--only", "macos"])
        .assert()
        .failure()
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("expected windows, linux, publish or docker"),
        "{stderr}"
    );
}

/// The hybrid fixture (a PyO3 extension built by maturin for both targets)
/// through the same simulated pipeline: a single-machine `release` of the
/// tagged commit, then the workflow's `plan`, `build-windows`,
/// `build-linux` and `publish`, each in its own clean clone with its own
/// empty caches and Cargo `target/`; every published asset has the single
/// run's bytes. Each job's time is printed beside the single run's.
#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: maturin builds for both targets, once on one machine and once split"
)]
fn the_hybrid_release_workflows_jobs_publish_the_single_machines_bytes() {
    use pyship_e2e::gitea::{GiteaServer, REPO, WRITE_TOKEN};
    use std::collections::BTreeMap;
    const TAG: &str = "v0.3.0";

    super::hybrid::require_build_tools();
    require_tool("makensis", "`apt-get install nsis` (Debian package `nsis`)");
    let (_mirror_dir, mirror) = pyship_e2e::testdata::python_mirror();
    let (_runtime_file, runtime) = pyship_e2e::pbs::serve(super::hybrid::RUNTIME_FILE);
    let gitea = GiteaServer::start();
    let runtime_url = format!(
        "{}/cpython-{{version}}-test-x86_64-unknown-linux-gnu-install_only.tar.gz",
        runtime.url()
    );
    let (_t, repo) = super::hybrid::project(Some(&runtime_url), "");
    fs_err::write(repo.join(".gitignore"), "dist/\ntarget/\n").unwrap();
    let cache = tempfile::tempdir().unwrap();
    init(&repo, cache.path(), "gitea");
    pyship(cache.path())
        .current_dir(&repo)
        .env("PYSHIP_PYTHON_MIRROR", mirror.url())
        .args(["pyship", "fetch"])
        .assert()
        .success();
    git_init_commit(&repo);
    git(&repo, &["tag", TAG]);
    let wf = workflow::load(&repo.join(".gitea/workflows/release.yml"));
    let windows = serde_yaml_ng::to_string(&wf["jobs"]["build-windows"]).unwrap();
    assert!(windows.contains("x86_64-pc-windows-gnu"), "{windows}");
    assert!(!wf["jobs"]["build-linux"].is_null());

    let work = tempfile::tempdir().unwrap();
    let published = || -> BTreeMap<String, String> {
        gitea
            .release(REPO, TAG)
            .expect("a release")
            .assets
            .iter()
            .map(|a| (a.name.clone(), sha256_hex(&a.data)))
            .collect()
    };
    git(
        work.path(),
        &[
            "clone",
            "-q",
            "--no-hardlinks",
            repo.to_str().unwrap(),
            "single",
        ],
    );
    let t = std::time::Instant::now();
    pyship(&work.path().join("cache-single"))
        .current_dir(work.path().join("single"))
        .env("PYSHIP_PYTHON_MIRROR", mirror.url())
        .env("GITHUB_SERVER_URL", gitea.url())
        .env("GITHUB_REPOSITORY", REPO)
        .env("GITHUB_REF_NAME", TAG)
        .env("GITHUB_REF_TYPE", "tag")
        .env("DEPLOY_TOKEN", WRITE_TOKEN)
        .env("PYSHIP_RETRY_BASE_MS", "5")
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["pyship", "release"])
        .assert()
        .success();
    let single_secs = t.elapsed().as_secs_f64();
    let want = published();
    assert_eq!(want.len(), 7, "{want:?}");
    gitea.clear_releases(REPO);

    let env = [
        ("PYSHIP_PYTHON_MIRROR", mirror.url()),
        ("GITHUB_SERVER_URL", gitea.url()),
        ("GITHUB_REF_NAME", TAG.to_owned()),
    ];
    let mut times = Vec::new();
    for job in ["plan", "build-windows", "build-linux", "publish"] {
        let secrets = match job {
            "publish" => vec![("DEPLOY_TOKEN", WRITE_TOKEN.to_owned())],
            _ => Vec::new(),
        };
        let (_, secs) = run_job(&wf, &repo, work.path(), job, &env, &secrets);
        times.push(format!("{job} {secs:.1}s"));
    }
    assert_eq!(
        published(),
        want,
        "the workflow's release differs from the single-machine one"
    );
    eprintln!(
        "hybrid: single-machine release: {single_secs:.1}s; workflow jobs: {}",
        times.join(", ")
    );
}

/// Run job `job` of the release workflow `wf` as a fresh runner does: in
/// its own clone of `repo` under `work`, with its own empty pyship and uv
/// caches, the artifact store shared by the run's jobs (`work/artifacts`),
/// the runner's variables plus `env`, and `secrets` as its only secrets.
/// The host already has the tools the install steps would install. Returns
/// what ran and how long it took.
fn run_job(
    wf: &serde_yaml_ng::Value,
    repo: &Path,
    work: &Path,
    job: &str,
    env: &[(&str, String)],
    secrets: &[(&str, String)],
) -> (workflow::Ran, f64) {
    const SKIP: &[&str] = &[
        "Install Rust",
        "Install uv",
        "Install cargo-pyship",
        "Install the job's tools",
    ];
    let bin_dir = bin().parent().unwrap().to_owned();
    let path = std::env::join_paths(
        std::iter::once(bin_dir).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let store = work.join("artifacts");
    fs_err::create_dir_all(&store).unwrap();
    let cache = work.join(format!("cache-{job}"));
    let mut j = workflow::Job::new(&work.join(job), SKIP);
    j.clone_from = Some(repo.to_owned());
    j.artifacts = Some(store);
    for (k, v) in [
        ("PATH", path.to_string_lossy().into_owned()),
        (
            "PYSHIP_CACHE_DIR",
            cache.join("pyship").display().to_string(),
        ),
        ("UV_CACHE_DIR", cache.join("uv").display().to_string()),
        ("GITHUB_REPOSITORY", pyship_e2e::gitea::REPO.to_owned()),
        ("GITHUB_REF_TYPE", "tag".to_owned()),
        ("PYSHIP_RETRY_BASE_MS", "5".to_owned()),
        ("SOURCE_DATE_EPOCH", "1700000000".to_owned()),
        ("RUNNER_TEMP", work.display().to_string()),
        ("NO_COLOR", "1".to_owned()),
    ] {
        j.env.insert(k.into(), v);
    }
    for (k, v) in env {
        j.env.insert((*k).into(), v.clone());
    }
    for (k, v) in secrets {
        j.secrets.insert((*k).into(), v.clone());
    }
    let t = std::time::Instant::now();
    let ran = j.run(wf, job);
    let secs = t.elapsed().as_secs_f64();
    eprintln!("job {job}: {secs:.1}s");
    (ran, secs)
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}
