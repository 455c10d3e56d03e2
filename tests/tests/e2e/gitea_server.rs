//! The Gitea-compatible test server's fidelity to Gitea's API: token
//! scopes, status codes and messages, drafts and pagination, asset order,
//! duplicates, raw and multipart uploads, the size limit, the package link
//! API. The publish tests rely on it answering as Gitea does.

use pyship_e2e::gitea::{GiteaServer, READ_TOKEN, REPO, WRITE_TOKEN};
use serde_json::Value;

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap()
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[test]
fn auth_and_scopes() {
    let srv = GiteaServer::start();
    let base = "/api/v1/repos/alice/hello/releases";
    let auth = format!("token {WRITE_TOKEN}");
    let bad = format!("Bearer {}", "0".repeat(40));
    let (st, _, b) = srv.raw_request("GET", base, &[("Authorization", &bad)], b"");
    assert_eq!(
        (st, json_of(&b)["message"].clone()),
        (401, "invalid username, password or token".into())
    );
    let (st, _, b) = srv.raw_request("POST", base, &[("Content-Type", "application/json")], b"{}");
    assert_eq!(
        (st, json_of(&b)["message"].clone()),
        (401, "token is required".into())
    );
    let ro = format!("token {READ_TOKEN}");
    let (st, _, b) = srv.raw_request(
        "POST",
        "/api/v1/repos/alice/nope/releases",
        &[("Authorization", &ro), ("Content-Type", "application/json")],
        b"{}",
    );
    assert_eq!(st, 403, "scope is checked before the repository");
    assert!(json_of(&b)["message"]
        .as_str()
        .unwrap()
        .contains("required=[write:repository]"));
    let (st, _, b) = srv.raw_request(
        "GET",
        "/api/v1/repos/alice/nope/releases",
        &[("Authorization", &auth)],
        b"",
    );
    let v = json_of(&b);
    assert_eq!(
        (st, v["message"].clone(), v["errors"].clone()),
        (404, "not found".into(), Value::Null)
    );
    let (st, _, b) = srv.raw_request(
        "POST",
        base,
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        b"{}",
    );
    assert_eq!(
        (st, json_of(&b)["message"].clone()),
        (422, "[TagName]: Required".into())
    );
    // Query tokens work, with the deprecation header.
    let (st, h, _) = srv.raw_request("GET", &format!("{base}?token={WRITE_TOKEN}"), &[], b"");
    assert_eq!(st, 200);
    assert!(header(&h, "X-Gitea-Warning").is_some());
}

#[test]
fn create_conflict_drafts_and_pagination() {
    let srv = GiteaServer::start();
    let base = "/api/v1/repos/alice/hello/releases";
    let w = format!("token {WRITE_TOKEN}");
    let r = format!("token {READ_TOKEN}");
    let json_h = |a: &str| {
        vec![
            ("Authorization", a.to_owned()),
            ("Content-Type", "application/json".to_owned()),
        ]
    };
    let create = |tag: &str, draft: bool| {
        let h = json_h(&w);
        let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
        srv.raw_request(
            "POST",
            base,
            &h,
            format!(r#"{{"tag_name":"{tag}","draft":{draft},"target_commitish":"main"}}"#)
                .as_bytes(),
        )
    };
    assert_eq!(create("v1", false).0, 201);
    let (st, _, b) = create("V1", false);
    assert_eq!(
        (st, json_of(&b)["message"].clone()),
        (409, "Release is has no Tag".into())
    );
    let tag_id = srv.add_tag(REPO, "v2");
    let (st, _, b) = create("v2", false);
    assert_eq!(
        (st, json_of(&b)["id"].clone()),
        (201, tag_id.into()),
        "tag row converted in place"
    );
    assert_eq!(create("d1", true).0, 201);
    for i in 0..4 {
        create(&format!("p{i}"), false);
    }
    // Drafts: listed for a write token, not for a read token (G behaviour).
    let (_, h, b) = srv.raw_request("GET", base, &[("Authorization", &w)], b"");
    assert_eq!(json_of(&b).as_array().unwrap().len(), 7);
    assert_eq!(header(&h, "X-Total-Count"), Some("7"));
    let (_, _, b) = srv.raw_request("GET", base, &[("Authorization", &r)], b"");
    assert_eq!(json_of(&b).as_array().unwrap().len(), 6);
    let (st, _, _) = srv.raw_request(
        "GET",
        &format!("{base}/tags/d1"),
        &[("Authorization", &r)],
        b"",
    );
    assert_eq!(st, 200, "by tag, a draft needs write access, not the scope");
    let (st, _, _) = srv.raw_request("GET", &format!("{base}/tags/d1"), &[], b"");
    assert_eq!(st, 404);
    // Pagination: newest first, Link next,last,first,prev joined by ",".
    let (_, h, b) = srv.raw_request(
        "GET",
        &format!("{base}?page=2&limit=2"),
        &[("Authorization", &w)],
        b"",
    );
    let list = json_of(&b);
    assert_eq!(list.as_array().unwrap().len(), 2);
    let link = header(&h, "Link").unwrap();
    let rels: Vec<&str> = link
        .split(',')
        .map(|l| l.split("rel=\"").nth(1).unwrap().trim_end_matches('"'))
        .collect();
    assert_eq!(rels, ["next", "last", "first", "prev"], "{link}");
    assert!(
        link.contains("releases?limit=2&page=4>; rel=\"last\""),
        "{link}"
    );
    let (_, h, b) = srv.raw_request(
        "GET",
        &format!("{base}?limit=500"),
        &[("Authorization", &w)],
        b"",
    );
    assert_eq!(json_of(&b).as_array().unwrap().len(), 7);
    assert!(header(&h, "Link").is_none(), "one page: no Link header");
}

#[test]
fn assets_sorted_duplicates_raw_multipart_and_413() {
    let srv = GiteaServer::start();
    let id = srv.add_release(REPO, "v1", false, false);
    let w = format!("token {WRITE_TOKEN}");
    let up = format!("/api/v1/repos/alice/hello/releases/{id}/assets");
    let raw = |name: &str, body: &[u8]| {
        srv.raw_request(
            "POST",
            &format!("{up}?name={name}"),
            &[
                ("Authorization", &w),
                ("Content-Type", "application/octet-stream"),
            ],
            body,
        )
    };
    let (st, _, b) = raw("b.bin", b"12345");
    assert_eq!(st, 201);
    assert!(json_of(&b)["browser_download_url"]
        .as_str()
        .unwrap()
        .contains("/attachments/"));
    let (st, _, b) = srv.raw_request(
        "POST",
        &up,
        &[
            ("Authorization", &w),
            ("Content-Type", "application/octet-stream"),
        ],
        b"x",
    );
    assert_eq!(
        (st, json_of(&b)["message"].clone()),
        (400, "Could not determine name of attachment.".into())
    );
    let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--XyZ--\r\n";
    let (st, _, _) = srv.raw_request(
        "POST",
        &up,
        &[
            ("Authorization", &w),
            ("Content-Type", "multipart/form-data; boundary=XyZ"),
        ],
        body,
    );
    assert_eq!(st, 201);
    let (_, _, b) = srv.raw_request("GET", &up, &[("Authorization", &w)], b"");
    let names: Vec<String> = json_of(&b)
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["a.txt", "b.bin"], "sorted by name");
    assert!(json_of(&b)[0]["browser_download_url"]
        .as_str()
        .unwrap()
        .ends_with("/alice/hello/releases/download/v1/a.txt"));
    assert_eq!(raw("b.bin", b"again").0, 201, "duplicates are allowed");
    let (_, _, b) = srv.raw_request("GET", &up, &[("Authorization", &w)], b"");
    let v = json_of(&b);
    assert_eq!(v.as_array().unwrap().len(), 3);
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .all(|a| a["browser_download_url"]
                .as_str()
                .unwrap()
                .contains("/attachments/")),
        "duplicates: UUID URLs"
    );
    srv.set_max_size(4);
    let (st, _, b) = raw("big.bin", b"12345");
    assert_eq!(
        (st, json_of(&b)["message"].clone()),
        (413, "attachment exceeds limit 4".into())
    );
}

#[test]
fn package_link_api() {
    let srv = GiteaServer::start();
    srv.add_package("alice", "container", "hello");
    let w = format!("token {WRITE_TOKEN}");
    let r = format!("token {READ_TOKEN}");
    let link = "/api/v1/packages/alice/container/hello/-/link/hello";
    assert_eq!(
        srv.raw_request("POST", link, &[("Authorization", &r)], b"")
            .0,
        403
    );
    let (st, _, b) = srv.raw_request(
        "POST",
        "/api/v1/packages/alice/container/nope/-/link/hello",
        &[("Authorization", &w)],
        b"",
    );
    assert_eq!(
        (st, json_of(&b)["message"].clone()),
        (404, "package does not exist".into())
    );
    let (st, _, b) = srv.raw_request(
        "POST",
        "/api/v1/packages/alice/container/hello/-/link/nope",
        &[("Authorization", &w)],
        b"",
    );
    assert_eq!(st, 404);
    assert!(json_of(&b)["message"]
        .as_str()
        .unwrap()
        .starts_with("repository does not exist"));
    assert_eq!(
        srv.raw_request("POST", link, &[("Authorization", &w)], b"")
            .0,
        201
    );
    assert_eq!(
        srv.package_link("alice", "container", "hello").as_deref(),
        Some("alice/hello")
    );
    let (st, _, b) = srv.raw_request("POST", link, &[("Authorization", &w)], b"");
    assert_eq!(
        (st, json_of(&b)["message"].clone()),
        (400, "invalid argument".into())
    );
    let unlink = "/api/v1/packages/alice/container/hello/-/unlink";
    assert_eq!(
        srv.raw_request("POST", unlink, &[("Authorization", &w)], b"")
            .0,
        204
    );
    assert_eq!(
        srv.raw_request("POST", unlink, &[("Authorization", &w)], b"")
            .0,
        400
    );
}
