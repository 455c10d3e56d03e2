//! First publish and re-runs that converge: every artifact uploaded with the
//! sums file last, a second run that changes nothing, a changed file of the
//! same size uploaded again, stale sums not trusted, duplicate assets cleaned
//! to one, and the library entry point with an explicit artifact list.

use super::*;

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
