//! The release workflow `init` writes, run job by job on this machine
//! (plain and hybrid projects): each job publishes the bytes a single-machine
//! `cargo pyship release` makes, and a job's time is printed.

use super::*;

/// `init --ci gitea` in `repo`, then `fetch` with the runtime from `mirror`:
/// pyship.lock written once, to be committed as a user does (on a runner,
/// `CI=true`, `release` is `--locked` and adds no pin). The cache it used.
fn init_and_fetch(repo: &Path, mirror: &str) -> tempfile::TempDir {
    let cache = tempfile::tempdir().unwrap();
    init(repo, cache.path(), "gitea");
    pyship(cache.path())
        .current_dir(repo)
        .env("PYSHIP_PYTHON_MIRROR", mirror)
        .args(["pyship", "fetch"])
        .assert()
        .success();
    cache
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

    let s = super::super::release::servers();
    let (_t, repo) = super::super::release::project(&s);
    // The workflows as init writes them, committed with the tag moved onto them.
    let _cache = init_and_fetch(&repo, &s.python_mirror_url());
    assert!(repo.join("pyship.lock").is_file());
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "workflows and pyship.lock"]);
    git(&repo, &["tag", "-f", super::super::release::TAG]);
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
    super::super::release::release(&s, &single, &work.path().join("cache-single"))
        .assert()
        .success();
    let single_secs = t.elapsed().as_secs_f64();
    let want = published(super::super::release::TAG);
    assert_eq!(want.len(), 7, "{want:?}");
    s.gitea.clear_releases(REPO);

    // The previous release (its Linux bundle is enough), where an installed
    // app comes from.
    // The commit before the workflows (a tag at HEAD names its version).
    let previous = clone("previous");
    git(&previous, &["checkout", "-q", "HEAD~1"]);
    git(&previous, &["tag", "v0.3.0"]);
    let mut cmd = super::super::release::release(&s, &previous, &work.path().join("cache-single"));
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
        ("GITHUB_REF_NAME", super::super::release::TAG.to_owned()),
    ];
    let mut times = Vec::new();
    let mut run = |job: &str| {
        let secrets = match job {
            "build-windows" => vec![(super::super::release::SIGN_PASSWORD_ENV, s.sign_password())],
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
            s.gitea.release(REPO, super::super::release::TAG).is_none(),
            "a build job publishes nothing"
        );
    }
    run("publish");
    let got = published(super::super::release::TAG);
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
        text.contains(&format!("update to {} started", super::super::release::TAG)),
        "{text}"
    );
    let log = root.join(".pyship-update/update.log");
    let done = format!("updated to {}", super::super::release::TAG);
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

    super::super::hybrid::require_build_tools();
    require_tool("makensis", "`apt-get install nsis` (Debian package `nsis`)");
    let (_mirror_dir, mirror) = pyship_e2e::testdata::python_mirror();
    let (_runtime_file, runtime) = pyship_e2e::pbs::serve(super::super::hybrid::RUNTIME_FILE);
    let gitea = GiteaServer::start();
    let runtime_url = format!(
        "{}/cpython-{{version}}-test-x86_64-unknown-linux-gnu-install_only.tar.gz",
        runtime.url()
    );
    let (_t, repo) = super::super::hybrid::project(Some(&runtime_url), "");
    fs_err::write(repo.join(".gitignore"), "dist/\ntarget/\n").unwrap();
    let _cache = init_and_fetch(&repo, &mirror.url());
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
