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

#[test]
fn first_publish_creates_release_and_uploads_every_artifact_sums_last() {
    let s = setup("v1.2.3");
    let v = s.publish_json("v1.2.3");
    s.assert_converged("v1.2.3", &all_names());
    let rel = s.server.release(REPO, "v1.2.3").unwrap();
    assert_eq!(rel.name, "Hello App v1.2.3");
    assert!(!rel.prerelease && !rel.draft);
    assert_eq!(rel.target, git_head(&s.dir), "target_commitish = HEAD");
    for name in [ZIP, EXE, TGZ] {
        assert!(rel.body.contains(name), "notes list {name}:\n{}", rel.body);
    }
    assert!(
        rel.body
            .contains("releases/download/v1.2.3/Hello-App-v1.2.3-win-x64.zip"),
        "{}",
        rel.body
    );
    // SHA256SUMS covers every artifact, in sha256sum format, and went up last.
    let sums = String::from_utf8(s.file("SHA256SUMS")).unwrap();
    for name in [ZIP, EXE, TGZ] {
        let line = format!("{}  {name}", sha256_file(&s.out.join(name)));
        assert!(sums.lines().any(|l| l == line), "{sums}");
    }
    let uploads: Vec<_> = s
        .server
        .requests()
        .into_iter()
        .filter(|r| r.upload.is_some())
        .collect();
    assert_eq!(uploads.len(), 5);
    assert!(
        uploads.last().unwrap().query.contains("name=SHA256SUMS"),
        "{uploads:?}"
    );
    // JSON: release URL and assets with download URLs.
    assert_eq!(v["release"]["id"], rel.id);
    assert!(
        v["release"]["url"]
            .as_str()
            .unwrap()
            .ends_with("/alice/hello/releases/tag/v1.2.3"),
        "{v}"
    );
    let assets = v["assets"].as_array().unwrap();
    assert_eq!(assets.len(), 5, "{v}");
    assert!(
        assets.iter().all(|a| a["url"]
            .as_str()
            .unwrap()
            .contains("/releases/download/v1.2.3/")),
        "{v}"
    );
    assert_eq!(v["prerelease"], false);
}

#[test]
fn second_publish_is_a_no_op_in_effect() {
    let s = setup("v1.2.3");
    s.publish_json("v1.2.3");
    let first = s.server.release(REPO, "v1.2.3").unwrap();
    s.server.clear_log();
    let v = s.publish_json("v1.2.3");
    s.assert_converged("v1.2.3", &all_names());
    let second = s.server.release(REPO, "v1.2.3").unwrap();
    assert_eq!(first.id, second.id, "same release");
    assert_eq!(first.body, second.body);
    assert_eq!(s.server.releases().len(), 1);
    assert_eq!(second.assets.len(), 5, "{:?}", names_of(&second));
    let writes = s.server.writes();
    assert!(
        !writes.iter().any(|w| w.path.ends_with("/releases")),
        "no create: {writes:?}"
    );
    assert!(
        !writes.iter().any(|w| w.method == "PATCH"),
        "nothing to update: {writes:?}"
    );
    assert!(
        v["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "keep-release"),
        "{v}"
    );
    // Nothing new is published: the release's SHA256SUMS vouches for every
    // file (name, size and hash match), so no asset is deleted or uploaded.
    assert!(writes.is_empty(), "no write request: {writes:?}");
    let kept: Vec<&str> = v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "keep-asset")
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(kept, all_names(), "{v}");
    let ids: Vec<u64> = second.assets.iter().map(|a| a.id).collect();
    assert_eq!(ids, first.assets.iter().map(|a| a.id).collect::<Vec<_>>());
}

#[test]
fn a_changed_file_of_the_same_size_is_uploaded_again_with_the_sums() {
    let s = setup("v1.2.3");
    s.publish_json("v1.2.3");
    // The installer rebuilt: same size, other bytes (file times inside it).
    let mut exe = s.file(EXE);
    exe[10] ^= 0xff;
    fs_err::write(s.out.join(EXE), &exe).unwrap();
    s.server.clear_log();
    let v = s.publish_json("v1.2.3");
    s.assert_converged("v1.2.3", &all_names());
    let uploaded: Vec<String> = s
        .server
        .writes()
        .iter()
        .filter(|w| w.method == "POST" && w.path.ends_with("/assets"))
        .map(|w| w.query.clone())
        .collect();
    // The installer and the manifest that lists its new hash (in parallel),
    // then the sums.
    assert_eq!(uploaded.len(), 3, "{uploaded:?}");
    assert!(
        uploaded[..2].iter().any(|u| u.contains(EXE)),
        "{uploaded:?}"
    );
    assert!(
        uploaded[..2].iter().any(|u| u.contains("manifest.json")),
        "{uploaded:?}"
    );
    assert!(uploaded[2].contains("SHA256SUMS"), "{uploaded:?}");
    let kept = v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "keep-asset")
        .count();
    assert_eq!(kept, 2, "the zip and the tarball are kept: {v}");
}

#[test]
fn sums_older_than_an_asset_they_name_are_not_trusted() {
    // A run that stopped after uploading the zip (and before SHA256SUMS) left
    // a zip the old sums do not describe: everything is uploaded again.
    let s = setup("v1.2.3");
    s.publish_json("v1.2.3");
    let rel = s.server.release(REPO, "v1.2.3").unwrap();
    let old = rel.assets.iter().find(|a| a.name == ZIP).unwrap().id;
    let foreign: Vec<u8> = (0..3000u32).map(|i| (i % 13) as u8).collect();
    s.server.add_asset(rel.id, ZIP, &foreign);
    let auth = format!("token {WRITE_TOKEN}");
    let (status, _, _) = s.server.raw_request(
        "DELETE",
        &format!("/api/v1/repos/{REPO}/releases/{}/assets/{old}", rel.id),
        &[("Authorization", &auth)],
        &[],
    );
    assert_eq!(status, 204);
    s.server.clear_log();
    s.publish_json("v1.2.3");
    s.assert_converged("v1.2.3", &all_names());
    let uploads = s
        .server
        .writes()
        .iter()
        .filter(|w| w.method == "POST" && w.path.ends_with("/assets"))
        .count();
    assert_eq!(uploads, 5, "{:?}", s.server.writes());
}

#[test]
fn publish_cleans_existing_duplicate_assets_to_one() {
    let s = setup("v1.2.3");
    let id = s.server.add_release(REPO, "v1.2.3", false, false);
    s.server.add_asset(id, ZIP, b"old one");
    s.server.add_asset(id, ZIP, b"old two, longer");
    s.server.add_asset(id, "SHA256SUMS", b"stale");
    s.server.add_asset(id, "SHA256SUMS", b"stale");
    s.server.add_asset(id, "notes.txt", b"not ours");
    s.publish_json("v1.2.3");
    s.assert_converged("v1.2.3", &all_names());
    let rel = s.server.release(REPO, "v1.2.3").unwrap();
    assert_eq!(rel.id, id);
    assert_eq!(rel.name, "Hello App v1.2.3", "name patched");
    assert!(
        rel.assets.iter().any(|a| a.name == "notes.txt"),
        "other assets are kept"
    );
    assert_eq!(rel.assets.len(), 6, "{:?}", names_of(&rel));
}

#[test]
fn faults_during_upload_still_converge_to_one_asset_per_name() {
    let s = setup("v1.2.3");
    // Big enough that the cut connection interrupts the client mid-body.
    let big: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
    fs_err::write(s.out.join(ZIP), big).unwrap();
    // Reads fail first, then uploads fail in every way: 502, a connection cut
    // mid-body, a stored upload whose answer is lost, then throttling.
    s.server.fail_next(2, 503);
    s.server.fail_uploads(1, 502);
    s.server.drop_next_upload(100);
    s.server.fail_uploads_after_store(2, 500);
    s.server.throttle_next(1, 0);
    s.server.fail_next(1, 502);
    let out = s
        .cmd("v1.2.3")
        .args(["--format", "json"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(s.server.pending_faults(), 0, "every fault was hit");
    s.assert_converged("v1.2.3", &all_names());
    let rel = s.server.release(REPO, "v1.2.3").unwrap();
    assert_eq!(rel.assets.len(), 5, "{:?}", names_of(&rel));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("retrying"), "{stderr}");
    let dropped = s.server.requests().iter().filter(|r| r.status == 0).count();
    assert_eq!(dropped, 1, "one connection was cut");
}

#[test]
fn lost_create_answer_reads_the_release_again_after_409() {
    let s = setup("v1.2.3");
    s.server.inject(
        1,
        When::Method("POST"),
        Fault::StatusAfterStore { status: 502 },
    );
    s.publish_json("v1.2.3");
    assert_eq!(s.server.releases().len(), 1);
    s.assert_converged("v1.2.3", &all_names());
    let statuses: Vec<u16> = s
        .server
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/releases"))
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [502, 409]);
}

#[test]
fn tag_without_release_is_converted_in_place() {
    let s = setup("v1.2.3");
    let tag_id = s.server.add_tag(REPO, "v1.2.3");
    s.publish_json("v1.2.3");
    let rel = s.server.release(REPO, "v1.2.3").unwrap();
    assert_eq!(rel.id, tag_id, "the tag's row became the release");
    assert!(!rel.is_tag);
    s.assert_converged("v1.2.3", &all_names());
}

#[test]
fn prerelease_flag_follows_the_parsed_version() {
    let s = setup("v1.2.3-rc.1");
    // An existing release with the wrong flag is patched.
    s.server.add_release(REPO, "v1.2.3-rc.1", false, false);
    let v = s.publish_json("v1.2.3-rc.1");
    assert_eq!(v["prerelease"], true);
    let rel = s.server.release(REPO, "v1.2.3-rc.1").unwrap();
    assert!(rel.prerelease, "rc.1 is a pre-release");
    let patched = s.server.writes().iter().any(|w| w.method == "PATCH");
    assert!(patched);

    let s = setup("v1.2.3");
    s.publish_json("v1.2.3");
    assert!(!s.server.release(REPO, "v1.2.3").unwrap().prerelease);
}

#[test]
fn token_never_appears_in_output_even_with_vv() {
    let mut s = setup("v1.2.3");
    let secret = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e7c0de";
    let read_only = "5ec7e7aaaa5ec7e7aaaa5ec7e7aaaa5ec7e7aaaa";
    let unknown = "5ec7e7bbbb5ec7e7bbbb5ec7e7bbbb5ec7e7bbbb";
    s.server.add_token(secret, "alice", &["write:repository"]);
    s.server.add_token(read_only, "alice", &["read:repository"]);
    let check = |out: &std::process::Output, t: &str| {
        for stream in [&out.stdout, &out.stderr] {
            let text = String::from_utf8_lossy(stream);
            assert!(!text.contains(t), "the token leaked:\n{text}");
            assert!(
                !text.contains(&t[..20]),
                "part of the token leaked:\n{text}"
            );
        }
    };
    // Success, through a retried 5xx, with debug output.
    s.token = secret.into();
    s.server.fail_next(1, 503);
    let ok = s
        .cmd("v1.2.3")
        .arg("-vv")
        .assert()
        .success()
        .get_output()
        .clone();
    check(&ok, secret);
    assert!(
        String::from_utf8_lossy(&ok.stderr).contains("debug"),
        "-vv shows requests"
    );
    // 403: a read-only token (with a changed file, so there is a write to refuse).
    let mut zip = s.file(ZIP);
    zip[0] ^= 0xff;
    fs_err::write(s.out.join(ZIP), zip).unwrap();
    s.token = read_only.into();
    let e = s
        .cmd("v1.2.3")
        .arg("-vv")
        .assert()
        .code(1)
        .get_output()
        .clone();
    check(&e, read_only);
    let err = String::from_utf8_lossy(&e.stderr);
    assert!(
        err.contains("403") && err.contains("write:repository"),
        "{err}"
    );
    // Parallel workers may each meet a 403 once; none is retried.
    let mut denied: Vec<String> = s
        .server
        .requests()
        .into_iter()
        .filter(|r| r.status == 403)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let n = denied.len();
    denied.sort();
    denied.dedup();
    assert!(
        n >= 1 && denied.len() == n,
        "a 403 is not retried: {denied:?}"
    );
    // 401: an unknown token; the hint names the variable, not the value.
    s.token = unknown.into();
    let e = s
        .cmd("v1.2.3")
        .arg("-vv")
        .assert()
        .code(1)
        .get_output()
        .clone();
    check(&e, unknown);
    let err = String::from_utf8_lossy(&e.stderr);
    assert!(err.contains("401") && err.contains("DEPLOY_TOKEN"), "{err}");
    // Never in a URL either.
    for r in s.server.requests() {
        assert!(
            !r.query.contains("5ec7e7") && !r.path.contains("5ec7e7"),
            "{r:?}"
        );
    }
}

#[test]
fn dry_run_makes_no_write_request_and_prints_the_plan() {
    // No release yet: plans a create and five uploads (manifest.json too).
    let s = setup("v1.2.3");
    let v = s.publish_json_with("v1.2.3", &["--dry-run"]);
    assert_eq!(v["dry_run"], true);
    let actions = v["actions"].as_array().unwrap();
    assert_eq!(actions[0]["action"], "create-release", "{v}");
    assert_eq!(
        actions.iter().filter(|a| a["action"] == "upload").count(),
        5,
        "{v}"
    );
    assert!(s.server.writes().is_empty(), "{:?}", s.server.writes());
    assert!(
        !s.out.join("manifest.json").exists(),
        "a dry run writes no manifest"
    );
    assert!(s.server.release(REPO, "v1.2.3").is_none());
    assert!(!s.out.join("SHA256SUMS").exists(), "dry run writes no file");

    // An existing release with a duplicate: plans the deletes, in text.
    let id = s.server.add_release(REPO, "v1.2.3", false, false);
    let a1 = s.server.add_asset(id, ZIP, b"x");
    let a2 = s.server.add_asset(id, ZIP, b"yy");
    let out = s
        .cmd("v1.2.3")
        .arg("--dry-run")
        .assert()
        .success()
        .get_output()
        .clone();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("delete asset {ZIP} (id {a1}")),
        "{text}"
    );
    assert!(
        text.contains(&format!("delete asset {ZIP} (id {a2}")),
        "{text}"
    );
    assert!(text.contains("update release"), "{text}");
    assert!(text.contains(&format!("upload {TGZ}")), "{text}");
    assert!(s.server.writes().is_empty(), "{:?}", s.server.writes());
    assert_eq!(s.server.release(REPO, "v1.2.3").unwrap().assets.len(), 2);

    // The real run then takes the steps the dry run planned, in its order.
    let steps = |v: &Value| -> Vec<String> {
        v["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| format!("{} {} {}", a["action"], a["name"], a["id"]))
            .collect()
    };
    let planned = steps(&s.publish_json_with("v1.2.3", &["--dry-run"]));
    assert_eq!(planned.len(), 8, "{planned:?}");
    assert_eq!(steps(&s.publish_json("v1.2.3")), planned);
    s.assert_converged("v1.2.3", &all_names());
}

#[test]
fn multipart_upload_for_servers_before_1_22() {
    let s = setup("v1.2.3");
    s.server.set_version("1.21.11");
    s.publish_json("v1.2.3");
    s.assert_converged("v1.2.3", &all_names());
    let kinds: Vec<_> = s
        .server
        .requests()
        .iter()
        .filter_map(|r| r.upload)
        .collect();
    assert_eq!(kinds, [pyship_e2e::gitea::UploadKind::Multipart; 5]);
}

#[test]
fn upload_over_the_size_limit_fails_with_a_hint() {
    let s = setup("v1.2.3");
    s.server.set_max_size(1500);
    let e = s.cmd("v1.2.3").assert().code(1).get_output().clone();
    let err = String::from_utf8_lossy(&e.stderr);
    let mut settings = path_filters(&[]);
    settings.add_filter(r"127\.0\.0\.1:\d+", "[server]");
    settings.bind(|| insta::assert_snapshot!("upload_over_the_size_limit", error_part(&err)));
}

#[test]
fn plain_http_is_refused_except_to_loopback() {
    let s = setup("v1.2.3");
    let e = s
        .cmd("v1.2.3")
        .env("GITHUB_SERVER_URL", "http://gitea.example.invalid")
        .assert()
        .code(1)
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&e.stderr);
    assert!(
        err.contains("refusing to send the token over plain http"),
        "{err}"
    );
    assert!(s.server.requests().is_empty());
}

#[test]
fn missing_artifacts_are_named() {
    let s = setup("v1.2.3");
    let e = s.cmd("v9.9.9").assert().code(1).get_output().clone();
    let err = String::from_utf8_lossy(&e.stderr);
    assert!(
        err.contains("no artifacts to publish") && err.contains("Hello-App-v9.9.9-win-x64.zip"),
        "{err}"
    );
}

#[test]
fn missing_repository_is_a_404_with_hint() {
    let s = setup("v1.2.3");
    let e = s
        .cmd("v1.2.3")
        .env("GITHUB_REPOSITORY", "alice/nope")
        .assert()
        .code(1)
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&e.stderr);
    assert!(err.contains("404") && err.contains("publish.repo"), "{err}");
    assert!(s.server.writes().is_empty());
}

/// A server (or a proxy before it) that echoes the request in a non-JSON
/// error page: the token is hidden wherever the page is cut, by us or by the
/// server, and no start of it of eight or more characters shows.
#[test]
fn a_token_echoed_across_the_cut_of_an_error_page_is_hidden() {
    let mut s = setup("v1.2.3");
    let secret = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e7c0de";
    s.server.add_token(secret, "alice", &["write:repository"]);
    s.token = secret.into();
    let check = |text: &str| {
        for n in 8..=secret.len() {
            assert!(
                !text.contains(&secret[..n]),
                "{n} characters of the token leaked:\n{text}"
            );
        }
    };
    // The message is cut at 300 characters: the token (after `token `)
    // spans characters 280 to 320.
    let page = format!(
        "<html><body>{}Authorization: {{authorization}} was refused</body></html>",
        "x".repeat(300 - 20 - "<html><body>Authorization: token ".len())
    );
    // And a server that cut its echo itself, after twelve characters.
    let cut_by_the_server = format!("bad request; you sent token {}", &secret[..12]);
    for body in [page, cut_by_the_server] {
        s.server.inject(
            1,
            When::Any,
            Fault::Raw {
                status: 400,
                content_type: "text/html",
                body,
            },
        );
        let e = s
            .cmd("v1.2.3")
            .arg("-vv")
            .assert()
            .code(1)
            .get_output()
            .clone();
        let stderr = String::from_utf8_lossy(&e.stderr);
        assert!(stderr.contains("answered 400"), "{stderr}");
        check(&stderr);
        check(&String::from_utf8_lossy(&e.stdout));
    }
}

/// A 200 whose body is a web page (a login page of a proxy, a wrong URL)
/// is an error that says what came back, with a hint, and uploads nothing.
#[test]
fn an_html_answer_is_an_error_with_a_hint() {
    let s = setup("v1.2.3");
    s.server.inject(
        1,
        When::Any,
        Fault::Raw {
            status: 200,
            content_type: "text/html; charset=utf-8",
            body: "<!DOCTYPE html>\n<html><head><title>Sign in</title></head></html>".into(),
        },
    );
    let e = s.cmd("v1.2.3").assert().code(1).get_output().clone();
    let err = String::from_utf8_lossy(&e.stderr);
    assert!(err.contains("<!DOCTYPE html>"), "{err}");
    assert!(
        err.contains("hint:") && err.contains("publish.url"),
        "{err}"
    );
    assert!(s.server.writes().is_empty(), "{:?}", s.server.writes());
}

#[test]
fn release_notes_template_escapes_markdown() {
    use pyship_build::publish::notes::{release_notes, NoteAsset, Notes};
    use pyship_build::report::human_bytes as human;
    let asset = |name: &str, size: u64| NoteAsset {
        name: name.into(),
        size,
        size_human: human(size),
        url: format!(
            "https://git.example/o/r/releases/download/v1.0.0-rc.1/{}",
            name.replace(' ', "%20")
        ),
        sha256: "ab".repeat(32),
    };
    let notes = Notes {
        name: "My *App* | Pro".into(),
        tag: "v1.0.0-rc.1".into(),
        version: "1.0.0-rc.1".into(),
        pep440: "1.0.0rc1".into(),
        prerelease: true,
        commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        assets: vec![
            asset("My App-v1.0.0-rc.1-win-x64.zip", 52_428_800),
            asset("SHA256SUMS", 210),
        ],
    };
    insta::assert_snapshot!(release_notes(&notes, None).unwrap(), @r"
    My \*App\* \| Pro v1\.0\.0\-rc\.1 (pre-release), built from commit `0123456789abcdef0123456789abcdef01234567`.

    ## Downloads

    | File | Size | SHA-256 |
    |---|---:|---|
    | [My App\-v1\.0\.0\-rc\.1\-win\-x64\.zip](<https://git.example/o/r/releases/download/v1.0.0-rc.1/My%20App-v1.0.0-rc.1-win-x64.zip>) | 50\.0 MiB | `abababababababababababababababababababababababababababababababab` |
    | [SHA256SUMS](<https://git.example/o/r/releases/download/v1.0.0-rc.1/SHA256SUMS>) | 210 B | `abababababababababababababababababababababababababababababababab` |
    ");
}

#[test]
fn library_publishes_an_explicit_artifact_list_sums_last() {
    use pyship_build::{env::Env, plan, project, publish, report::RecordingReporter, Context};
    let s = setup("v1.2.3");
    let sums = s.out.join("SHA256SUMS");
    let zip = s.out.join(ZIP);
    publish::write_checksums(std::slice::from_ref(&zip), &sums).unwrap();
    let env = Env::from_pairs([
        ("GITHUB_SERVER_URL", s.server.url()),
        ("GITHUB_REPOSITORY", REPO.to_owned()),
        ("DEPLOY_TOKEN", WRITE_TOKEN.to_owned()),
    ]);
    let project = project::load(Some(&s.dir.join("Cargo.toml")), None).unwrap();
    let p = plan::Plan::build(
        project,
        &env,
        &plan::Options {
            version: Some("v1.2.3"),
            out_dir: Some(&s.out),
            targets: Vec::new(),
        },
    )
    .unwrap();
    let reporter = RecordingReporter::default();
    let ctx = Context::new(&reporter, &env);
    let opts = publish::Options {
        artifacts: vec![sums.clone(), zip.clone()],
        ..publish::Options::default()
    };
    let published = publish::run(&p, &opts, &ctx).unwrap();
    let names: Vec<&str> = published.assets.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, [ZIP, "SHA256SUMS"]);
    s.assert_converged("v1.2.3", &[ZIP, "SHA256SUMS"]);
    assert_eq!(s.server.release(REPO, "v1.2.3").unwrap().assets.len(), 2);
    let lines = reporter.lines();
    let last_upload = lines
        .iter()
        .rev()
        .find(|l| l.starts_with("Uploading"))
        .unwrap();
    assert!(last_upload.contains("SHA256SUMS"), "{lines:?}");
    assert!(lines.iter().all(|l| !l.contains(WRITE_TOKEN)));
}

#[test]
fn github_provider_publishes_idempotently_through_faults() {
    let s = setup_github("v1.2.3");
    let v = s.publish_json("v1.2.3");
    assert_eq!(v["provider"], "github");
    s.assert_converged("v1.2.3", &all_names());
    let rel = s.server.release(REPO, "v1.2.3").unwrap();
    assert_eq!(rel.target, git_head(&s.dir));
    assert!(v["release"]["url"]
        .as_str()
        .unwrap()
        .ends_with("/alice/hello/releases/tag/v1.2.3"));
    // Again, through a lost upload answer and a cut connection: GitHub
    // refuses duplicate names, so only delete-then-upload converges.
    s.server.fail_uploads_after_store(1, 502);
    s.server.drop_next_upload(10);
    s.server.fail_next(1, 503);
    s.publish_json("v1.2.3");
    assert_eq!(s.server.pending_faults(), 0);
    s.assert_converged("v1.2.3", &all_names());
    assert_eq!(s.server.releases().len(), 1);
    assert_eq!(s.server.release(REPO, "v1.2.3").unwrap().assets.len(), 5);
    let refused = s
        .server
        .requests()
        .iter()
        .filter(|r| r.status == 422)
        .count();
    assert_eq!(refused, 0, "never uploaded over an existing name");
}

#[test]
fn github_lost_create_answer_reads_again_after_422_already_exists() {
    let s = setup_github("v1.2.3-rc.1");
    s.server.inject(
        1,
        When::Method("POST"),
        Fault::StatusAfterStore { status: 502 },
    );
    let v = s.publish_json("v1.2.3-rc.1");
    assert_eq!(v["prerelease"], true);
    assert_eq!(s.server.releases().len(), 1);
    s.assert_converged(
        "v1.2.3-rc.1",
        &[
            "Hello-App-v1.2.3-rc.1-win-x64.zip",
            "Hello-App-v1.2.3-rc.1-setup.exe",
            "Hello-App-v1.2.3-rc.1-linux-x64.tar.gz",
            "manifest.json",
            "SHA256SUMS",
        ],
    );
    let creates: Vec<u16> = s
        .server
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/releases"))
        .map(|r| r.status)
        .collect();
    assert_eq!(creates, [502, 422]);
    let auth_err = s
        .cmd("v1.2.3-rc.1")
        .env("DEPLOY_TOKEN", "0".repeat(40))
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8_lossy(&auth_err);
    assert!(
        err.contains("401") && err.contains("Bad credentials") && err.contains("DEPLOY_TOKEN"),
        "{err}"
    );
}

/// Issue 25 item 4: `publish` writes manifest.json from the files it uploads
/// (whatever built them) and says what an installed app could not use: a
/// release without an installer is a warning naming the missing file, and
/// an unsigned release says so.
#[test]
fn publish_writes_the_manifest_and_warns_about_what_apps_cannot_use() {
    let s = setup("v1.2.3");
    fs_err::remove_file(s.out.join(EXE)).unwrap();
    let out = s.cmd("v1.2.3").assert().success().get_output().clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "this release has no asset for install type installer ({EXE} is not in"
        )),
        "{err}"
    );
    assert!(err.contains("release v1.2.3 is unsigned: "), "{err}");
    let m: Value = serde_json::from_slice(&s.file("manifest.json")).unwrap();
    let names: Vec<&str> = m["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [ZIP, TGZ], "{m}");
    assert_eq!(m["repo"], REPO, "{m}");
    s.assert_converged("v1.2.3", &[ZIP, TGZ, "manifest.json", "SHA256SUMS"]);
}

/// With update.public-keys set, publish refuses to upload anything without
/// the secret key, and with it uploads manifest.json.minisig, which
/// Debian's `minisign -V` verifies, before SHA256SUMS.
#[test]
fn publish_signs_the_manifest_or_uploads_nothing() {
    let s = setup("v1.2.3");
    let key = s.cache.path().join("keys/release.key");
    let out = pyship(s.cache.path())
        .current_dir(&s.dir)
        .args([
            "pyship",
            "keygen",
            "--unencrypted",
            "--format",
            "json",
            "--out",
        ])
        .arg(&key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let g: Value = serde_json::from_slice(&out.stdout).unwrap();
    let public = g["public_key"].as_str().unwrap().to_owned();
    let manifest = s.dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    fs_err::write(
        &manifest,
        format!("{text}\n[package.metadata.pyship.update]\npublic-keys = [\"{public}\"]\n"),
    )
    .unwrap();
    let out = s.cmd("v1.2.3").assert().failure().get_output().clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("$PYSHIP_SIGNING_KEY (update.signing-key-env) is not"),
        "{err}"
    );
    assert!(
        s.server.writes().is_empty(),
        "nothing uploaded: {:?}",
        s.server.writes()
    );
    let secret = fs_err::read_to_string(&key).unwrap();
    let out = s
        .cmd("v1.2.3")
        .env("PYSHIP_SIGNING_KEY", &secret)
        .assert()
        .success()
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("unsigned"), "{err}");
    assert!(
        !err.contains(secret.lines().nth(1).unwrap()),
        "the secret key leaked"
    );
    s.assert_converged(
        "v1.2.3",
        &[
            ZIP,
            EXE,
            TGZ,
            "manifest.json",
            "manifest.json.minisig",
            "SHA256SUMS",
        ],
    );
    let minisign = require_tool(
        "minisign",
        "`apt-get install minisign` (Debian package `minisign`)",
    );
    let v = std::process::Command::new(minisign)
        .args(["-V", "-P", &public, "-m"])
        .arg(s.out.join("manifest.json"))
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    let sums = String::from_utf8(s.file("SHA256SUMS")).unwrap();
    assert!(sums.contains("  manifest.json.minisig\n"), "{sums}");
}
