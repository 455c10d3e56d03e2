//! Token hygiene: the token never reaches output (even with `-vv` or echoed
//! across the cut of an error page), and plain HTTP is refused except to
//! loopback.

use super::*;

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
