//! `cargo pyship plan` (what `release` would do, no side effects; JSON
//! snapshot with paths redacted) and `manifest.json` (what an in-app updater
//! reads: assets by platform and install type, with size and SHA-256).

use std::path::Path;

use super::support::*;
use pyship_build::manifest::{self, InstallType};
use pyship_build::platform::Platform;

fn plan_json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let cache = tempfile::tempdir().unwrap();
    let mut all = vec!["pyship", "plan", "--format", "json"];
    all.extend_from_slice(args);
    let out = pyship(cache.path())
        .current_dir(dir)
        .env("GITHUB_SERVER_URL", "https://git.example.com")
        .env("GITHUB_REPOSITORY", "owner/hello")
        .args(&all)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).expect("stdout is one JSON document")
}

/// Every file under `dir` with its contents, for before/after comparisons.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = walk(dir)
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            (rel, fs_err::read(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs_err::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn plan_json_snapshot() {
    let (_t, dir) = copy_fixture("hello");
    let v = plan_json(&dir, &["--version", "v1.2.0-rc.1"]);
    let text = serde_json::to_string_pretty(&v)
        .unwrap()
        .replace(&dir.display().to_string(), "[root]");
    insta::assert_snapshot!("plan_hello_json", text);
}

/// `cargo pyship plan` as a user reads it: the version, the artifacts and
/// every step of the release.
#[test]
fn plan_text_snapshot() {
    let (_t, dir) = copy_fixture("hello");
    let cache = tempfile::tempdir().unwrap();
    let out = pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "plan", "--version", "v1.2.0-rc.1"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    path_filters(&[(&dir, "[root]")])
        .bind(|| insta::assert_snapshot!("plan_hello_text", String::from_utf8_lossy(&out)));
}

#[test]
fn plan_describes_release_steps_and_docker_tags() {
    let (_t, dir) = copy_fixture("hello");
    git_init_commit(&dir);
    git(&dir, &["tag", "v1.0.0"]);
    let head = git(&dir, &["rev-parse", "HEAD"]).trim().to_owned();
    let v = plan_json(&dir, &["--version", "1.1.0"]);
    assert_eq!(v["version"]["tag"], "v1.1.0");
    assert_eq!(v["version"]["pep440"], "1.1.0");
    assert_eq!(v["release"]["tag"], "v1.1.0");
    assert_eq!(v["release"]["prerelease"], false);
    assert_eq!(v["release"]["target_commitish"], head);
    let assets: Vec<&str> = v["release"]["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        assets,
        [
            "Hello-App-v1.1.0-win-x64.zip",
            "Hello-App-v1.1.0-win-x64.cdx.json",
            "Hello-App-v1.1.0-setup.exe",
            "Hello-App-v1.1.0-linux-x64.tar.gz",
            "Hello-App-v1.1.0-linux-x64.cdx.json",
            "manifest.json",
            "SHA256SUMS"
        ],
        "SHA256SUMS is uploaded last"
    );
    assert_eq!(
        v["docker"]["tags"],
        serde_json::json!([
            "git.example.com/owner/hello:v1.1.0",
            "git.example.com/owner/hello:1.1.0",
            "git.example.com/owner/hello:latest"
        ])
    );
    let steps: Vec<&str> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "version",
            "bundle",
            "installer",
            "manifest",
            "publish",
            "docker"
        ]
    );
    for a in v["artifacts"].as_array().unwrap() {
        let p = a["path"].as_str().unwrap();
        assert!(
            p.starts_with(&dir.join("dist").display().to_string()),
            "{p}"
        );
    }
}

#[test]
fn plan_has_no_side_effects() {
    let (_t, dir) = copy_fixture("hello");
    git_init_commit(&dir);
    let before = tree(&dir);
    plan_json(&dir, &[]);
    let cache = tempfile::tempdir().unwrap();
    pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "plan"])
        .assert()
        .success()
        .stdout(predicates::str::contains("steps:"));
    assert_eq!(tree(&dir), before, "plan wrote or changed a file");
    assert!(!dir.join("dist").exists());
    assert!(
        walk(cache.path()).is_empty(),
        "plan downloaded nothing into the cache"
    );
}

#[test]
fn plan_without_docker_image_says_why_docker_is_skipped() {
    let (_t, dir) = copy_fixture("hello");
    let cache = tempfile::tempdir().unwrap();
    let out = pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "plan", "--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert!(v["docker"].is_null());
    assert_eq!(v["steps"][5]["runs"], false);
    assert!(v["docker_skipped"]
        .as_str()
        .unwrap()
        .contains("no Docker image"));
}

#[test]
fn manifest_lists_assets_by_platform_and_install_type() {
    let (_t, dir) = copy_fixture("hello");
    let project = pyship_build::project::load(Some(&dir.join("Cargo.toml")), None).unwrap();
    let env = pyship_build::env::Env::from_pairs([
        ("GITHUB_SERVER_URL", "https://git.example.com/"),
        ("GITHUB_REPOSITORY", "owner/hello"),
    ]);
    let plan = pyship_build::Plan::build(
        project,
        &env,
        &pyship_build::plan::Options {
            version: Some("0.3.0-alpha.1"),
            ..Default::default()
        },
    )
    .unwrap();
    fs_err::create_dir_all(&plan.out_dir).unwrap();
    for (i, a) in plan.artifacts.iter().enumerate() {
        fs_err::write(&a.path, vec![b'x'; 100 + i]).unwrap();
    }
    let written = manifest::write_for(&plan, &env, None, true).unwrap();
    let (m, path) = (written.manifest, written.path);
    assert_eq!(path, dir.join("dist/manifest.json"));
    assert!(
        written.signature.is_none(),
        "no update.public-keys: unsigned"
    );
    assert!(!dir.join("dist/manifest.json.minisig").exists());
    let on_disk: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(on_disk, serde_json::to_value(&m).unwrap());
    assert_eq!(on_disk["schema"], 1);
    assert_eq!(on_disk["tag"], "v0.3.0-alpha.1");
    assert_eq!(on_disk["prerelease"], true);
    assert_eq!(on_disk["version"]["pep440"], "0.3.0a1");
    let kinds: Vec<(Platform, InstallType, &str)> = m
        .assets
        .iter()
        .map(|a| (a.platform, a.install_type, a.name.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (
                Platform::Windows,
                InstallType::PortableWindows,
                "Hello-App-v0.3.0-alpha.1-win-x64.zip"
            ),
            (
                Platform::Windows,
                InstallType::Installer,
                "Hello-App-v0.3.0-alpha.1-setup.exe"
            ),
            (
                Platform::Linux,
                InstallType::PortableLinux,
                "Hello-App-v0.3.0-alpha.1-linux-x64.tar.gz"
            ),
        ],
        "manifest.json and SHA256SUMS are not assets of the manifest"
    );
    for a in &m.assets {
        let file = plan.out_dir.join(&a.name);
        assert_eq!(a.size, fs_err::metadata(&file).unwrap().len());
        assert_eq!(a.sha256, sha256_file(&file));
    }
    assert_eq!(
        on_disk["assets"][0]["download_url"],
        "https://git.example.com/owner/hello/releases/download/v0.3.0-alpha.1/Hello-App-v0.3.0-alpha.1-win-x64.zip"
    );
    assert_eq!(on_disk["assets"][0]["install_type"], "portable-windows");
    assert_eq!(on_disk["assets"][2]["install_type"], "portable-linux");
    assert_eq!(on_disk["assets"][0]["platform"], "windows");
}

#[test]
fn manifest_missing_artifact_is_an_error_naming_the_file() {
    let (_t, dir) = copy_fixture("hello");
    let project = pyship_build::project::load(Some(&dir.join("Cargo.toml")), None).unwrap();
    let env = pyship_build::env::Env::default();
    let plan = pyship_build::Plan::build(project, &env, &Default::default()).unwrap();
    let err = manifest::write_for(&plan, &env, None, true).unwrap_err();
    assert!(err.to_string().contains("win-x64.zip"), "{err}");
    assert!(pyship_build::hint_for(&err).is_some());
    assert!(!dir.join("dist/manifest.json").exists());
}
