//! The pyhash fixture shipped: one `cargo pyship release` against the test
//! Gitea server makes both bundles and the installer (both bundles answer
//! HTTP with a value computed in Rust and the release version, the installer
//! installs the extension silently; a second run builds nothing, produces
//! the same bytes and publishes nothing new), and its Docker image installs
//! the built Linux wheel.

use super::*;

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: maturin builds for both targets, a release under wine"
)]
fn hybrid_release_builds_both_targets_and_the_installer_in_one_run() {
    require_build_tools();
    require_tool("makensis", "`apt-get install nsis` (Debian package `nsis`)");
    require_tool("unzip", "`apt-get install unzip` (Debian package `unzip`)");
    let (_mirror_dir, mirror) = pyship_e2e::testdata::python_mirror();
    let (_runtime, runtime_url) = served_runtime();
    let gitea = GiteaServer::start();
    let (_t, dir) = project(Some(&runtime_url), "");
    fs_err::write(dir.join(".gitignore"), "dist/\ntarget/\n").unwrap();
    git_init_commit(&dir);
    git(&dir, &["tag", TAG]);
    let cache = tempfile::tempdir().unwrap();
    let release = || {
        let mut c = pyship_in(&dir, cache.path());
        c.env("PYSHIP_PYTHON_MIRROR", mirror.url())
            .env("GITHUB_SERVER_URL", gitea.url())
            .env("GITHUB_REPOSITORY", REPO)
            .env("GITHUB_REF_NAME", TAG)
            .env("GITHUB_REF_TYPE", "tag")
            .env("DEPLOY_TOKEN", WRITE_TOKEN)
            .env("PYSHIP_RETRY_BASE_MS", "5")
            .args(["pyship", "release"]);
        c
    };

    let t = std::time::Instant::now();
    let first = release().output().unwrap();
    let err = stderr_of(&first);
    assert!(first.status.success(), "{err}");
    eprintln!("first release: {:?}", t.elapsed());
    // No prebuild, no wheels in the config: the wheel stage built both.
    for triple in ["x86_64-pc-windows-gnu", "x86_64-unknown-linux-gnu"] {
        assert!(
            err.contains(&format!("Building pyhash wheel for {triple}")),
            "{err}"
        );
    }
    let rel = gitea.release(REPO, TAG).expect("the release exists");
    let mut names: Vec<&str> = rel.assets.iter().map(|a| a.name.as_str()).collect();
    names.sort();
    assert_eq!(names, PUBLISHED);
    let dist = dir.join("dist");
    // Every artifact is deterministic, the installer too (its files' times
    // are the archives' entry time).
    let archives = [ASSETS[0], ASSETS[1], ASSETS[2]];
    let sums: Vec<String> = archives
        .iter()
        .map(|n| sha256_file(&dist.join(n)))
        .collect();

    // The Linux tarball, extracted elsewhere, answers with the Rust hash.
    let elsewhere = tempfile::tempdir().unwrap();
    let st = Command::new("tar")
        .arg("xzf")
        .arg(dist.join(ASSETS[0]))
        .current_dir(elsewhere.path())
        .status()
        .unwrap();
    assert!(st.success());
    let root = elsewhere.path().join("PyHash");
    // One copy of the package: from the wheel, none in app/src.
    assert!(fs_err::read_dir(root.join("app/src"))
        .unwrap()
        .next()
        .is_none());
    let port = free_port();
    let mut cmd = Command::new(root.join("run.sh"));
    cmd.env("PYHASH_PORT", port.to_string());
    let app = Running::spawn(cmd);
    let health = wait_http(port, "/health", Duration::from_secs(120));
    let (so, se) = app.stop();
    match health {
        Some((200, body)) => assert_health(&body, "linux"),
        other => panic!("linux /health answered {other:?}\nstdout:\n{so}\nstderr:\n{se}"),
    }

    // The Windows zip under wine.
    let prefix = WinePrefix::new();
    let unzipped = tempfile::tempdir().unwrap();
    let st = Command::new("unzip")
        .args(["-q"])
        .arg(dist.join(ASSETS[2]))
        .arg("-d")
        .arg(unzipped.path())
        .status()
        .unwrap();
    assert!(st.success());
    run_windows_app(&prefix, &unzipped.path().join("PyHash"), "portable zip");

    // The installer installs silently, and the installed app answers.
    let st = prefix
        .command(dist.join(ASSETS[1]))
        .args(["/S", r"/D=C:\PyHash"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "setup.exe /S failed: {st}");
    let installed = prefix.drive_c().join("PyHash");
    for rel in [
        "python/python.exe",
        "python/Lib/site-packages/pyhash/_native.pyd",
        "python/Lib/site-packages/pyhash/server.py",
        "uninstall.exe",
    ] {
        assert!(installed.join(rel).is_file(), "{rel} not installed");
    }

    // Again: nothing compiled, the same bytes, the same release, nothing
    // published (the server records every write request).
    gitea.clear_log();
    let t = std::time::Instant::now();
    let second = release().output().unwrap();
    let err = stderr_of(&second);
    assert!(second.status.success(), "{err}");
    eprintln!("second release: {:?}", t.elapsed());
    assert!(!err.contains("Building pyhash wheel"), "{err}");
    for triple in ["x86_64-pc-windows-gnu", "x86_64-unknown-linux-gnu"] {
        assert!(
            err.contains(&format!("Fresh pyhash wheel for {triple}")),
            "{err}"
        );
    }
    let again: Vec<String> = archives
        .iter()
        .map(|n| sha256_file(&dist.join(n)))
        .collect();
    assert_eq!(sums, again, "a warm release produces the same artifacts");
    let writes = gitea.writes();
    assert!(
        writes.is_empty(),
        "the second run publishes nothing: {writes:?}"
    );
    for name in PUBLISHED {
        assert!(
            err.contains(&format!("Unchanged {name} (")),
            "{name}: {err}"
        );
    }
    let rel2 = gitea.release(REPO, TAG).unwrap();
    assert_eq!(rel2.id, rel.id);
    let mut names: Vec<&str> = rel2.assets.iter().map(|a| a.name.as_str()).collect();
    names.sort();
    assert_eq!(names, PUBLISHED, "one asset per name");
    for a in &rel2.assets {
        assert_eq!(
            a.data,
            fs_err::read(dist.join(&a.name)).unwrap(),
            "{}",
            a.name
        );
    }
}

#[test]
#[cfg_attr(not(feature = "slow-tests"), ignore = "slow tier: a maturin build")]
fn hybrid_docker_image_installs_the_built_linux_wheel() {
    // No engine needed to check what goes into the build: a `docker` that
    // records its arguments and the named wheel context it is given.
    require_build_tools();
    let (_t, dir) = project(
        None,
        "\n[workspace.metadata.pyship.docker]\nimage = \"localhost/pyship-e2e/pyhash\"\n",
    );
    let bin = tempfile::tempdir().unwrap();
    let log = bin.path().join("docker.log");
    let seen = bin.path().join("wheels-seen");
    let script = format!(
        "#!/bin/sh\necho \"argv: $*\" >> '{log}'\n[ \"$1\" = info ] && {{ echo 27.0.0; exit 0; }}\nwhile [ $# -gt 0 ]; do\n  case \"$1\" in\n    --build-context) case \"$2\" in pyship-wheels=*) mkdir -p '{seen}' && cp -R \"${{2#pyship-wheels=}}\"/. '{seen}/';; esac; shift;;\n  esac\n  shift\ndone\nexit 0\n",
        log = log.display(),
        seen = seen.display(),
    );
    let docker = bin.path().join("docker");
    fs_err::write(&docker, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(&docker, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = std::env::join_paths(
        std::iter::once(bin.path().to_owned())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let out = pyship_in(&dir, cache.path())
        .env("PATH", &path)
        .args(["pyship", "docker", "--version", "0.2.0"])
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    // `docker` alone built the Linux wheel (the bundle had not run).
    assert!(
        err.contains("pyhash wheel for x86_64-unknown-linux-gnu"),
        "{err}"
    );
    let argv = fs_err::read_to_string(&log).unwrap();
    let build = argv
        .lines()
        .find(|l| l.starts_with("argv: build "))
        .expect("docker build ran");
    let wheels_dir = dir.join("dist/.pyship/wheels/linux");
    assert!(
        build.contains(&format!(
            "--build-context pyship-wheels={}",
            wheels_dir.display()
        )),
        "{build}"
    );
    // The named context holds exactly the app's Linux wheel at the version,
    // with the compiled extension in it.
    let mut names: Vec<String> = fs_err::read_dir(&seen)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 1, "{names:?}");
    let wheel = &names[0];
    assert!(
        wheel.starts_with("pyhash-0.2.0-") && wheel.ends_with("manylinux_2_28_x86_64.whl"),
        "{wheel}"
    );
    let zip = zip::ZipArchive::new(fs_err::File::open(seen.join(wheel)).unwrap()).unwrap();
    let files: Vec<String> = zip
        .file_names()
        .filter_map(Result::ok)
        .map(|n| n.into_owned())
        .collect();
    assert!(
        files
            .iter()
            .any(|n| n.starts_with("pyhash/_native") && n.ends_with(".so")),
        "{files:?}"
    );
    // The Dockerfile installs that wheel and builds nothing: no Rust, no
    // copy of the Rust sources.
    let dockerfile = fs_err::read_to_string(dir.join("dist/.pyship/docker/Dockerfile")).unwrap();
    insta::assert_snapshot!("hybrid_dockerfile", dockerfile);
    assert!(
        dockerfile.contains(
            "RUN pip install --find-links /tmp/pyship-wheels /tmp/pyship-wheels/*.whl 'pyhash==0.2.0'"
        ),
        "{dockerfile}"
    );
    for absent in [
        "cargo build",
        "rustup",
        "maturin",
        "pip install /app",
        "COPY [\".",
    ] {
        assert!(!dockerfile.contains(absent), "{absent}:\n{dockerfile}");
    }
}
