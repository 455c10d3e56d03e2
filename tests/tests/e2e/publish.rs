//! `cargo pyship publish` against the Gitea-compatible test server: first
//! publish, idempotent re-runs, duplicate clean-up, faults that must converge,
//! tag-only rows, the prerelease flag, token hygiene, dry runs, the GitHub
//! provider, the manifest and its signature. The test server's own fidelity
//! to Gitea's API is tested in `gitea_server`.

use std::path::{Path, PathBuf};

use pyship_e2e::gitea::{Fault, GiteaServer, When, REPO, WRITE_TOKEN};
use serde_json::Value;

use super::support::*;

const ZIP: &str = "Hello-App-v1.2.3-win-x64.zip";
const EXE: &str = "Hello-App-v1.2.3-setup.exe";
const TGZ: &str = "Hello-App-v1.2.3-linux-x64.tar.gz";

struct Setup {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    out: PathBuf,
    cache: tempfile::TempDir,
    server: GiteaServer,
    token: String,
}

/// The hello fixture in a git repo, dummy artifacts for `version` in an out
/// dir, and a fresh server.
fn setup(version: &str) -> Setup {
    setup_with(version, GiteaServer::start())
}

/// [`setup`] with the GitHub dialect and `provider = "github"`.
fn setup_github(version: &str) -> Setup {
    let s = setup_with(version, GiteaServer::start_github());
    let manifest = s.dir.join("Cargo.toml");
    let mut text = fs_err::read_to_string(&manifest).unwrap();
    text.push_str("\n[package.metadata.pyship.publish]\nprovider = \"github\"\n");
    fs_err::write(&manifest, text).unwrap();
    s
}

fn setup_with(version: &str, server: GiteaServer) -> Setup {
    let (tmp, dir) = copy_fixture("hello");
    git_init_commit(&dir);
    let out = tmp.path().join("out");
    fs_err::create_dir_all(&out).unwrap();
    for (suffix, size) in [
        ("win-x64.zip", 3000usize),
        ("setup.exe", 2000),
        ("linux-x64.tar.gz", 1000),
    ] {
        let body: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
        fs_err::write(out.join(format!("Hello-App-{version}-{suffix}")), body).unwrap();
    }
    Setup {
        _tmp: tmp,
        dir,
        out,
        cache: tempfile::tempdir().unwrap(),
        server,
        token: WRITE_TOKEN.into(),
    }
}

impl Setup {
    fn cmd(&self, version: &str) -> assert_cmd::Command {
        let mut c = pyship(self.cache.path());
        c.current_dir(&self.dir)
            .env("GITHUB_SERVER_URL", self.server.url())
            .env("GITHUB_REPOSITORY", REPO)
            .env("DEPLOY_TOKEN", &self.token)
            .env("PYSHIP_RETRY_BASE_MS", "5")
            .args(["pyship", "publish", "--version", version, "--out"])
            .arg(&self.out);
        c
    }

    fn publish_json(&self, version: &str) -> Value {
        self.publish_json_with(version, &[])
    }

    /// `publish … --format json` with `args` before it (`--dry-run`).
    fn publish_json_with(&self, version: &str, args: &[&str]) -> Value {
        let out = self
            .cmd(version)
            .args(args)
            .args(["--format", "json"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        serde_json::from_slice(&out).expect("stdout is one JSON document")
    }

    fn file(&self, name: &str) -> Vec<u8> {
        fs_err::read(self.out.join(name)).unwrap()
    }

    /// One asset per expected name, with the file's bytes.
    fn assert_converged(&self, tag: &str, names: &[&str]) {
        let rel = self.server.release(REPO, tag).expect("release exists");
        assert!(!rel.is_tag, "a real release");
        for name in names {
            let same: Vec<_> = rel.assets.iter().filter(|a| a.name == *name).collect();
            assert_eq!(same.len(), 1, "exactly one {name}: {:?}", names_of(&rel));
            assert_eq!(same[0].data, self.file(name), "{name} has the file's bytes");
        }
    }
}

fn names_of(rel: &pyship_e2e::gitea::ReleaseRow) -> Vec<(String, u64)> {
    rel.assets
        .iter()
        .map(|a| (a.name.clone(), a.size))
        .collect()
}

/// Every asset a publish of the three artifacts makes: they, manifest.json
/// (written by publish from them) and SHA256SUMS, in upload order.
fn all_names() -> [&'static str; 5] {
    [ZIP, EXE, TGZ, "manifest.json", "SHA256SUMS"]
}

fn git_head(dir: &Path) -> String {
    git(dir, &["rev-parse", "HEAD"]).trim().to_owned()
}

mod convergence;
mod dry_run;
mod errors;
mod faults;
mod github;
mod manifest;
mod release;
mod tokens;
