//! Server faults and limits: injected upload faults and a lost create answer
//! still converge, servers before 1.22 get multipart uploads, and an upload
//! over the size limit fails with a hint.

use super::*;

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
