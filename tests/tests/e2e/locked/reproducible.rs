//! The same bytes: `fetch` then builds with no network give the bytes of an
//! online build, and a hybrid project built twice cold, in two paths,
//! without `SOURCE_DATE_EPOCH`, gives the same bytes for every artifact, a
//! per-target build equal to the release's.

use super::*;

/// `unshare -rn`: a command in a network namespace of its own, with no
/// route anywhere (not even to this machine's loopback servers).
fn no_network(cache: &Path) -> Command {
    let probe = Command::new("unshare")
        .args(["-rn", "true"])
        .status()
        .expect("unshare (Debian package `util-linux`) runs");
    assert!(
        probe.success(),
        "this test needs `unshare -rn` (user and network namespaces) to cut the network"
    );
    let mut c = Command::new("unshare");
    c.arg("-rn").arg(bin()).arg("pyship");
    for v in pyship_build::env::ALL {
        if *v != pyship_build::env::CARGO_HOME {
            c.env_remove(v);
        }
    }
    c.env("PYSHIP_CACHE_DIR", cache)
        .env("NO_COLOR", "1")
        .env("CARGO_TERM_COLOR", "never");
    c
}

/// The artifacts of a build in `dist`, by name, with their SHA-256.
fn artifact_hashes(dist: &Path, names: &[&str]) -> Vec<(String, String)> {
    names
        .iter()
        .map(|n| {
            let p = dist.join(n);
            assert!(p.is_file(), "no {}", p.display());
            ((*n).to_owned(), sha256_file(&p))
        })
        .collect()
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: bundles and installers, online and offline"
)]
fn fetch_then_every_build_without_network_gives_the_same_bytes() {
    require_uv();
    require_tool("makensis", "`apt-get install nsis` (Debian package `nsis`)");
    // Runtimes from file:// mirrors, so the same URLs work in both builds.
    let (mirror, _python) = pyship_e2e::testdata::python_mirror();
    let (runtime_dir, _runtime) = pyship_e2e::pbs::serve(RUNTIME_FILE);
    let runtime_url = format!(
        "file://{}/cpython-{{version}}-test-x86_64-unknown-linux-gnu-install_only.tar.gz",
        runtime_dir.path().display()
    );
    let project = |path: &Path| {
        copy_dir(&workspace_root().join("fixtures/locked"), path);
        append_manifest(
            path,
            &format!("\n[package.metadata.pyship.linux]\nruntime-url = \"{runtime_url}\"\n"),
        );
    };
    let names = [
        ZIP,
        TARBALL,
        "Locked-App-v0.1.0-setup.exe",
        "Locked-App-v0.1.0-win-x64.cdx.json",
        "Locked-App-v0.1.0-linux-x64.cdx.json",
    ];
    let mirror_url = format!("file://{}", mirror.path().display());
    // Where the release goes: every build bundles it in the updater's
    // settings, so every build is told.
    let gitea = pyship_e2e::gitea::GiteaServer::start();
    let release_env = [
        ("GITHUB_SERVER_URL", gitea.url()),
        ("GITHUB_REPOSITORY", pyship_e2e::gitea::REPO.to_owned()),
    ];

    // The reference: an ordinary online build.
    let a = tempfile::tempdir().unwrap();
    let dir_a = a.path().join("locked");
    project(&dir_a);
    let cache_a = tempfile::tempdir().unwrap();
    for args in [&["bundle"][..], &["installer"]] {
        let out = pyship(cache_a.path())
            .current_dir(&dir_a)
            .env("PYSHIP_PYTHON_MIRROR", &mirror_url)
            .env("UV_CACHE_DIR", cache_a.path().join("uv-own"))
            .envs(release_env.clone())
            .arg("pyship")
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let reference = artifact_hashes(&dir_a.join("dist"), &names);

    // Elsewhere: fetch into a folder, then build with no network at all.
    let b = tempfile::tempdir().unwrap();
    let dir_b = b.path().join("elsewhere/locked");
    project(&dir_b);
    let fetched = b.path().join("fetched");
    let scratch_cache = tempfile::tempdir().unwrap();
    let out = pyship(scratch_cache.path())
        .current_dir(&dir_b)
        .env("PYSHIP_PYTHON_MIRROR", &mirror_url)
        .args(["pyship", "fetch", "--into"])
        .arg(&fetched)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("PYSHIP_CACHE_DIR="), "{err}");
    assert!(
        fetched.join("uv").is_dir(),
        "uv's downloads are in the folder"
    );
    for args in [&["bundle", "--offline"][..], &["installer", "--offline"]] {
        let out = no_network(&fetched)
            .current_dir(&dir_b)
            .env("PYSHIP_PYTHON_MIRROR", &mirror_url)
            .envs(release_env.clone())
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}:\n{}", stderr(&out));
    }
    assert_eq!(artifact_hashes(&dir_b.join("dist"), &names), reference);

    // Without `fetch`, the same offline build fails, naming what is missing.
    let (_t, dir_c) = locked_project_at_file_mirrors(&runtime_url);
    let empty = tempfile::tempdir().unwrap();
    let out = no_network(empty.path())
        .current_dir(&dir_c)
        .env("PYSHIP_PYTHON_MIRROR", &mirror_url)
        .env("UV_CACHE_DIR", empty.path().join("uv-own"))
        .args(["bundle", "--target", "linux", "--offline"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("hint:"), "{err}");

    // `release --offline`: only the release server (on this machine) is
    // reachable; any other connection goes to a proxy that refuses it.
    let out = pyship(&fetched)
        .current_dir(&dir_b)
        .env("PYSHIP_PYTHON_MIRROR", &mirror_url)
        .envs(release_env.clone())
        .env("DEPLOY_TOKEN", pyship_e2e::gitea::WRITE_TOKEN)
        .env("PYSHIP_RETRY_BASE_MS", "5")
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("ALL_PROXY", "http://127.0.0.1:9")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .args(["pyship", "release", "--offline"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let rel = gitea
        .release(pyship_e2e::gitea::REPO, "v0.1.0")
        .expect("the release exists");
    for (name, sha) in &reference {
        let asset = rel
            .assets
            .iter()
            .find(|a| &a.name == name)
            .unwrap_or_else(|| panic!("{name} not published"));
        assert_eq!(&hex_sha256(&asset.data), sha, "{name}");
    }
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

fn locked_project_at_file_mirrors(runtime_url: &str) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = copy_fixture("locked");
    append_manifest(
        &dir,
        &format!("\n[package.metadata.pyship.linux]\nruntime-url = \"{runtime_url}\"\n"),
    );
    (tmp, dir)
}

/// Commit `dir` as one commit at a fixed time (the same tree and time give
/// the same commit, so two checkouts agree on HEAD's commit time).
fn commit_at(dir: &Path, date: &str) {
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", "-A"],
        &["commit", "-q", "-m", "fixture"],
        &["tag", "v0.2.0"],
    ] {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "test")
            .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
            .env("GIT_COMMITTER_NAME", "test")
            .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
            .env("GIT_AUTHOR_DATE", date)
            .env("GIT_COMMITTER_DATE", date)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
    }
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: two cold releases with maturin builds"
)]
fn hybrid_artifacts_are_the_same_bytes_from_two_cold_builds_in_two_paths() {
    require_build_tools();
    require_tool("makensis", "`apt-get install nsis` (Debian package `nsis`)");
    let m = mirrors();
    let gitea = pyship_e2e::gitea::GiteaServer::start();
    let wheels = pyship_e2e::testdata::wheelhouse();
    let checkout = |path: &Path| {
        copy_dir(&workspace_root().join("fixtures/pyhash"), path);
        append_manifest(
            path,
            &format!(
                "no-index = true\nfind-links = [\"{}\"]\n\n[workspace.metadata.pyship.linux]\nruntime-url = \"{}\"\n",
                wheels.display(),
                m.runtime_url()
            ),
        );
        fs_err::write(path.join(".gitignore"), "dist/\ntarget/\npyship.lock\n").unwrap();
        commit_at(path, "2024-05-06T07:08:09Z");
    };
    let names = [
        "PyHash-v0.2.0-win-x64.zip",
        "PyHash-v0.2.0-linux-x64.tar.gz",
        "PyHash-v0.2.0-setup.exe",
        "PyHash-v0.2.0-win-x64.cdx.json",
        "PyHash-v0.2.0-linux-x64.cdx.json",
    ];
    // Cold: each build has its own pyship cache, uv cache and Cargo target
    // folder (the project's own `target/`); no SOURCE_DATE_EPOCH anywhere.
    let run = |dir: &Path, cache: &Path, args: &[&str]| {
        let out = pyship(cache)
            .current_dir(dir)
            .env_remove("CARGO_TARGET_DIR")
            .env("UV_CACHE_DIR", cache.join("uv-own"))
            .env("PYSHIP_PYTHON_MIRROR", m.python.url())
            .env("GITHUB_SERVER_URL", gitea.url())
            .env("GITHUB_REPOSITORY", pyship_e2e::gitea::REPO)
            .env("DEPLOY_TOKEN", pyship_e2e::gitea::WRITE_TOKEN)
            .env("PYSHIP_RETRY_BASE_MS", "5")
            .arg("pyship")
            .args(args)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert!(
            out.status.success(),
            "{args:?} in {}:\n{err}",
            dir.display()
        );
        err
    };

    // One checkout releases.
    let a = tempfile::tempdir().unwrap();
    let dir_a = a.path().join("pyhash");
    checkout(&dir_a);
    let cache_a = tempfile::tempdir().unwrap();
    let err = run(&dir_a, cache_a.path(), &["release"]);
    assert!(err.contains("Building pyhash wheel"), "{err}");
    let released = artifact_hashes(&dir_a.join("dist"), &names);

    // Another, deeper in the file system, builds each artifact in a job of
    // its own, as a per-target CI would.
    let b = tempfile::tempdir().unwrap();
    let dir_b = b.path().join("a/much/longer/path/to/the/checkout/pyhash");
    checkout(&dir_b);
    let cache_b = tempfile::tempdir().unwrap();
    run(&dir_b, cache_b.path(), &["bundle", "--target", "windows"]);
    run(&dir_b, cache_b.path(), &["bundle", "--target", "linux"]);
    run(&dir_b, cache_b.path(), &["installer"]);
    let separate = artifact_hashes(&dir_b.join("dist"), &names);

    // On a difference, name the zip entries that differ.
    let zip = "dist/PyHash-v0.2.0-win-x64.zip";
    let (fa, fb) = (
        pyship_e2e::testdata::zip_files(&dir_a.join(zip)),
        pyship_e2e::testdata::zip_files(&dir_b.join(zip)),
    );
    let differ: Vec<&String> = fa
        .keys()
        .chain(fb.keys())
        .filter(|k| fa.get(*k) != fb.get(*k))
        .collect();
    assert!(differ.is_empty(), "zip entries that differ: {differ:?}");
    eprintln!("SHA-256 of the hybrid fixture's artifacts (release in one path, per-target jobs in another):");
    for ((name, sha_a), (_, sha_b)) in released.iter().zip(&separate) {
        eprintln!("  {name}  {sha_a}  {sha_b}");
    }
    assert_eq!(separate, released);
    // What was published is what both built.
    let rel = gitea
        .release(pyship_e2e::gitea::REPO, "v0.2.0")
        .expect("the release exists");
    for (name, sha) in &released {
        let asset = rel.assets.iter().find(|a| &a.name == name).unwrap();
        assert_eq!(&hex_sha256(&asset.data), sha, "{name}");
    }
}
