//! The GitHub provider: idempotent publishing through faults, and a lost
//! create answer read again after 422 "already exists".

use super::*;

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
