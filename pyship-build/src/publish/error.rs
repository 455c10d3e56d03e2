//! The publish stage's errors: what failed, on which URL or file, the
//! server's own message, and a hint per HTTP status (401 token, 403 scope,
//! 404 repository or URL, 413 size limit). No variant ever holds the token.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::escaped;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Location(#[from] crate::plan::LocationError),
    #[error("no server to publish to: `publish.url` is not set ({config}) and GITHUB_SERVER_URL is not set")]
    #[diagnostic(help(
        "set `url` in [{table}.publish], or run in CI where GITHUB_SERVER_URL is set"
    ))]
    NoServer { config: String, table: &'static str },
    #[error("no repository to publish to: `publish.repo` is not set ({config}) and GITHUB_REPOSITORY is not set")]
    #[diagnostic(help("set `repo = \"owner/name\"` in [{table}.publish], or run in CI where GITHUB_REPOSITORY is set"))]
    NoRepo { config: String, table: &'static str },
    #[error("no publish token: the environment variable {var} is not set")]
    #[diagnostic(help("create an access token with the `write:repository` scope and put it in {var} (or name another variable with `publish.token-env`)"))]
    NoToken { var: String },
    #[error("the publish token in {var} has characters an HTTP header cannot carry")]
    #[diagnostic(help("create an access token with the `write:repository` scope and put it in {var} (or name another variable with `publish.token-env`)"))]
    BadToken { var: String },
    #[error("refusing to send the token over plain http to {}", escaped(.url))]
    #[diagnostic(help(
        "use https:// (plain http is accepted only for 127.0.0.1, ::1 and localhost)"
    ))]
    Insecure { url: String },
    #[error("{method} {} answered {status}: {}", escaped(.url), escaped(.message))]
    #[diagnostic(help("{}", api_hint(*.status, .token_env)))]
    Api {
        method: String,
        url: String,
        status: u16,
        message: String,
        retry_after: Option<Duration>,
        token_env: String,
    },
    /// 404 to creating a release at a commit the server does not have.
    #[error("{method} {} answered 404: {}", escaped(.url), escaped(.message))]
    #[diagnostic(help("the release's tag is created at this commit, which the server does not have: push it first (`git push`, or push the tag), then publish again"))]
    UnknownTarget {
        method: String,
        url: String,
        message: String,
    },
    #[error("{method} {} failed", escaped(.url))]
    #[diagnostic(help("{}", request_hint(.source)))]
    Request {
        method: String,
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the answer to {method} {} is not what the API documents{}", escaped(.url), if start.is_empty() { " (an empty body)".to_owned() } else { format!(" (it starts with `{}`)", escaped(start)) })]
    #[diagnostic(help("{}", decode_hint(*.html)))]
    Decode {
        method: String,
        url: String,
        /// The answer's first characters, the token redacted.
        start: String,
        /// Whether the answer looks like a web page rather than JSON.
        html: bool,
        #[source]
        source: serde_json::Error,
    },
    #[error("could not read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no artifacts to publish in {dir}: expected one of {}", expected.join(", "))]
    #[diagnostic(help("build them first (`cargo pyship bundle`, `cargo pyship installer`) with the same --out and version"))]
    NoArtifacts { dir: PathBuf, expected: Vec<String> },
    #[error("after uploading {} ({size} bytes) the release lists {} asset(s) of that name (sizes: {found:?})", escaped(.name), found.len())]
    #[diagnostic(help("something else changed the release at the same time; run publish again"))]
    Verify {
        name: String,
        size: u64,
        found: Vec<u64>,
    },
    #[error("release {} is not published after the run: read back, it has draft = {draft}, prerelease = {prerelease}", escaped(.tag))]
    #[diagnostic(help("something changed the release while publishing (or the server ignored `draft: false`); publish it in the web UI, or run publish again"))]
    NotPublished {
        tag: String,
        draft: bool,
        prerelease: bool,
    },
    #[error(
        "the server answered 409 (release exists) for tag {} but has no release of that tag",
        escaped(.tag)
    )]
    #[diagnostic(help("something else changed the release at the same time; run publish again"))]
    Vanished { tag: String },
    #[error(
        "release {} is gone from the server: it was not there when read back after the upload",
        escaped(.tag)
    )]
    #[diagnostic(help(
        "something else deleted the release while this publish ran; run publish again"
    ))]
    Gone { tag: String },
    #[error("could not write SHA256SUMS")]
    #[diagnostic(transparent)]
    Checksums(#[source] crate::fs::Error),
    #[error("could not write manifest.json")]
    #[diagnostic(transparent)]
    Manifest(#[source] crate::manifest::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Key(#[from] crate::keys::Error),
    #[error("{} kept listing assets past page {pages}", escaped(.url))]
    #[diagnostic(help("a release holds at most 1000 assets: the server's listing never ends; check `publish.url` and the server"))]
    TooManyPages { url: String, pages: usize },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Notes(#[from] crate::templates::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Client(#[from] crate::net::Error),
}

/// What an API error status means for the user; nothing for a status
/// whose message says it all.
fn api_hint(status: u16, token_env: &str) -> String {
    match status {
        401 => format!("the server refused the token in {token_env}: check that it is set to a valid, unexpired access token"),
        403 => "the token needs the `write:repository` scope, and its user needs write access to the repository's releases".into(),
        404 => "check `publish.url` (the server) and `publish.repo` (owner/name); a private repository also answers 404 to a token that cannot see it".into(),
        413 => "the file exceeds the server's attachment size limit: raise [repository.release] FILE_MAX_SIZE (Gitea 1.26+) or [attachment] MAX_SIZE (Gitea 1.25) in app.ini".into(),
        422 => "the server rejected the request's fields; the message above says which".into(),
        429 | 500.. => "the server kept failing after several retries; publishing is idempotent, run it again".into(),
        _ => String::new(),
    }
}

fn request_hint(source: &reqwest::Error) -> String {
    if source.is_timeout() {
        format!(
            "the server stalled; publishing is idempotent, run it again, or allow longer waits with {} (read, default {} s; an upload also gets its size at 64 KiB/s) and {} (connect)",
            crate::env::PYSHIP_HTTP_TIMEOUT,
            crate::net::DEFAULT_READ_TIMEOUT,
            crate::env::PYSHIP_CONNECT_TIMEOUT
        )
    } else {
        "check the network and the server URL; publishing is idempotent, run it again".into()
    }
}

fn decode_hint(html: bool) -> &'static str {
    if html {
        "the server answered with a web page, not the API: check that `publish.url` is the server's base URL (https://gitea.example.com, not a page of it), and that no proxy or login page stands in front of its API"
    } else {
        "the server does not speak the API `publish.provider` names (Gitea's or GitHub's): check `publish.url` and `publish.provider`; publishing is idempotent, run it again once that is fixed"
    }
}

impl Error {
    /// Whether trying again may help: connection errors, 429 and 5xx.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Api { status, .. } => *status == 429 || *status >= 500,
            Error::Request { source, .. } => !source.is_builder() && !source.is_redirect(),
            _ => false,
        }
    }

    /// The server's `Retry-After`, if it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl crate::net::Transient for Error {
    fn is_transient(&self) -> bool {
        Error::is_transient(self)
    }
    fn retry_after(&self) -> Option<Duration> {
        Error::retry_after(self)
    }
}

/// An error and its causes on one line (for retry warnings).
pub(crate) fn with_causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Hint;

    fn api(status: u16, retry_after: Option<u64>) -> Error {
        Error::Api {
            method: "GET".into(),
            url: "https://x.example/".into(),
            status,
            message: "m".into(),
            retry_after: retry_after.map(Duration::from_secs),
            token_env: "DEPLOY_TOKEN".into(),
        }
    }

    #[test]
    fn retry_after_is_honoured_within_the_cap() {
        let b = crate::net::Backoff {
            attempts: 5,
            base: Duration::from_millis(100),
            max: Duration::from_secs(10),
        };
        assert_eq!(
            b.delay_after(0, api(503, None).retry_after()),
            Duration::from_millis(100)
        );
        assert_eq!(
            b.delay_after(2, api(503, None).retry_after()),
            Duration::from_millis(400)
        );
        assert_eq!(
            b.delay_after(0, api(429, Some(3)).retry_after()),
            Duration::from_secs(3)
        );
        assert_eq!(
            b.delay_after(0, api(429, Some(600)).retry_after()),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn only_connection_errors_429_and_5xx_are_retried() {
        assert!(api(429, None).is_transient());
        assert!(api(500, None).is_transient());
        assert!(api(503, None).is_transient());
        for s in [400, 401, 403, 404, 409, 413, 422] {
            assert!(!api(s, None).is_transient(), "{s}");
        }
        assert!(api(401, None).hint().unwrap().contains("DEPLOY_TOKEN"));
        assert!(api(403, None).hint().unwrap().contains("write:repository"));
        assert!(api(413, None).hint().unwrap().contains("size limit"));
    }
}
