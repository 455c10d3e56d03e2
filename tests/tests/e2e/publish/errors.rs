//! Clear errors before and during a publish: missing artifacts named, a
//! missing repository answered 404 with a hint, an HTML answer rejected.

use super::*;

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
