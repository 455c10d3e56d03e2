//! Where a release lives, as the bundles and publishing both need it
//! checked: the server's URL and the repository's `owner/name`. Both go into
//! every bundle's updater config, the MSI, the .deb's `Homepage`,
//! `manifest.json` and the release workflow, so they are checked when the
//! plan is made ([`checked`]), before anything is built, whether or not the
//! updater is on; publishing adds its own rule (plain http only to loopback,
//! as it sends the token).

use std::net::IpAddr;

use reqwest::Url;

use crate::config::Publish;
use crate::env::Env;
use crate::error::escaped;
use crate::project::{display_path, ConfigSource};

/// A server URL or repository that can be neither shipped nor published to.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum LocationError {
    #[error("`{}` is not a valid Gitea repository `owner/name`: {reason}", escaped(.repo))]
    #[diagnostic(help("set `publish.repo = \"owner/name\"` in the pyship table, or run in CI where GITHUB_REPOSITORY is set"))]
    BadRepo { repo: String, reason: String },
    #[error("`{}` is not a usable server URL", escaped(.url))]
    #[diagnostic(help("set `publish.url` (or GITHUB_SERVER_URL) to the server's base URL, e.g. https://gitea.example.com"))]
    BadUrl { url: String },
    #[error("the server URL `{}` has credentials in it", escaped(.url))]
    #[diagnostic(help("remove the user and password from `publish.url` (or GITHUB_SERVER_URL); the token comes from the variable named by `publish.token-env`"))]
    CredentialsInUrl { url: String },
    #[error("the server URL `{}` has a query or fragment (`?…` or `#…`) in it", escaped(.url))]
    #[diagnostic(help("set `publish.url` (or GITHUB_SERVER_URL) to the server's base URL alone, e.g. https://gitea.example.com or https://example.com/gitea"))]
    QueryInUrl { url: String },
}

/// A release location the plan refuses: the setting that gave it, and why.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("invalid {origin}")]
pub struct RefusedLocation {
    /// `` `publish.url` in [package.metadata.pyship] of ./Cargo.toml ``, or
    /// the CI variable that stood in for the key.
    pub origin: String,
    #[source]
    #[diagnostic_source]
    pub source: LocationError,
}

/// The release's server URL (without a trailing `/`) and `owner/name`, as
/// [`Publish::location`] gives them (the config, then the CI variables),
/// each checked when it is set: [`check_server_url`] and [`split_repo`]. A
/// refusal names the key and `config`'s table, or the CI variable.
pub fn checked(
    publish: &Publish,
    env: &Env,
    config: &ConfigSource,
) -> Result<(Option<String>, Option<String>), RefusedLocation> {
    let origin = |key: &str, given: bool, variable: &str| {
        if given {
            format!(
                "`{key}` in [{}] of {}",
                config.table.key(),
                display_path(&config.manifest)
            )
        } else {
            format!("{variable} (`{key}` is not set)")
        }
    };
    let (url, repo) = publish.location(env);
    if let Some(url) = &url {
        check_server_url(url).map_err(|source| RefusedLocation {
            origin: origin(
                "publish.url",
                publish.url.is_some(),
                crate::env::GITHUB_SERVER_URL,
            ),
            source,
        })?;
    }
    if let Some(repo) = &repo {
        split_repo(repo.trim()).map_err(|source| RefusedLocation {
            origin: origin(
                "publish.repo",
                publish.repo.is_some(),
                crate::env::GITHUB_REPOSITORY,
            ),
            source,
        })?;
    }
    Ok((url, repo))
}

/// Split `owner/name` and check both parts the way Gitea validates them
/// (Gitea `modules/validation` and `models/repo`): an owner is 1-40 ASCII
/// letters, digits, `-`, `_`, `.`, starting with a letter or digit, with no
/// two of `-_.` in a row and none at the end; a repository name is 1-100 of
/// the same characters, not `.`, `..` or `-`, and not ending in `.git`,
/// `.wiki`, `.rss` or `.atom`. Anything else would send the requests to
/// another path than the repository meant (`../hello`, `acme/..`).
pub fn split_repo(repo: &str) -> Result<(String, String), LocationError> {
    let bad = |reason: &str| LocationError::BadRepo {
        repo: repo.to_owned(),
        reason: reason.to_owned(),
    };
    let Some((owner, name)) = repo.split_once('/') else {
        return Err(bad("it is not `owner/name`"));
    };
    let allowed = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    let special = |b: u8| matches!(b, b'-' | b'_' | b'.');
    if owner.is_empty() || owner.len() > 40 || !allowed(owner) {
        return Err(bad(
            "the owner must be 1-40 ASCII letters, digits, `-`, `_` or `.`",
        ));
    }
    if !owner.as_bytes()[0].is_ascii_alphanumeric()
        || special(*owner.as_bytes().last().expect("not empty"))
        || owner
            .as_bytes()
            .windows(2)
            .any(|w| special(w[0]) && special(w[1]))
    {
        return Err(bad(
            "the owner must start and end with a letter or digit and have no two of `-`, `_`, `.` in a row",
        ));
    }
    if name.is_empty() || name.len() > 100 || !allowed(name) {
        return Err(bad(
            "the repository name must be 1-100 ASCII letters, digits, `-`, `_` or `.`",
        ));
    }
    if matches!(name, "." | ".." | "-") {
        return Err(bad("`.`, `..` and `-` are reserved repository names"));
    }
    let lower = name.to_ascii_lowercase();
    if [".git", ".wiki", ".rss", ".atom"]
        .iter()
        .any(|s| lower.ends_with(s))
    {
        return Err(bad(
            "a repository name cannot end in `.git`, `.wiki`, `.rss` or `.atom`",
        ));
    }
    Ok((owner.to_owned(), name.to_owned()))
}

/// Parse and check what a server URL is made of, wherever it is used (the
/// bundled updater's config as well as publishing): http(s) with a host, no
/// credentials (they would be shipped in every bundle), no query or fragment
/// (the API paths are appended to the URL: `…#frag/api/v1` is no API).
pub fn check_server_url(s: &str) -> Result<Url, LocationError> {
    let u = Url::parse(s.trim()).map_err(|_| LocationError::BadUrl {
        url: redact(s.trim()),
    })?;
    if !u.username().is_empty() || u.password().is_some() {
        return Err(LocationError::CredentialsInUrl {
            url: redact(s.trim()),
        });
    }
    if !matches!(u.scheme(), "https" | "http") || u.host().is_none() {
        return Err(LocationError::BadUrl { url: u.to_string() });
    }
    if u.query().is_some() || u.fragment().is_some() {
        return Err(LocationError::QueryInUrl { url: u.to_string() });
    }
    Ok(u)
}

/// 127.0.0.0/8, ::1 and `localhost`.
pub fn is_loopback(u: &Url) -> bool {
    let Some(host) = u.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A URL as text with any `user:password@` removed (it may hold a token).
fn redact(s: &str) -> String {
    match (s.find("://"), s.find('@')) {
        (Some(i), Some(j)) if j > i => format!("{}://***@{}", &s[..i], &s[j + 1..]),
        _ => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_names_are_checked_like_gitea() {
        for ok in [
            "acme/hello",
            "a/b",
            "Acme-1/hello.world_2",
            "a.b/c-d",
            "x/.hidden",
        ] {
            assert!(split_repo(ok).is_ok(), "{ok} refused");
        }
        for bad in [
            "../hello",
            "acme/..",
            "acme/.",
            "acme/-",
            "./hello",
            "acme/hello/extra",
            "acme",
            "/hello",
            "acme/",
            "ac me/hello",
            "acme/hel lo",
            "acme/hello?x=1",
            "acme/hello#f",
            "acme/%2e%2e",
            "-acme/hello",
            "acme-/hello",
            "ac--me/hello",
            "acme/hello.git",
            "acme/Hello.WIKI",
            "acmé/hello",
            "acme/hello\\x",
        ] {
            let e = split_repo(bad).unwrap_err();
            assert!(matches!(e, LocationError::BadRepo { .. }), "{bad} accepted");
            assert!(e.to_string().contains(bad), "{e}");
        }
        assert!(split_repo(&format!("{}/r", "a".repeat(41))).is_err());
        assert!(split_repo(&format!("o/{}", "r".repeat(101))).is_err());
    }

    /// What a server URL is made of is checked before it goes into a
    /// bundle's updater config: credentials, a query or a fragment are
    /// refused, each with its own message; plain http is left to publishing.
    #[test]
    fn server_urls_have_no_credentials_query_or_fragment() {
        for ok in [
            "https://gitea.example.com",
            "https://gitea.example.com/sub/",
            "http://gitea.internal:3000",
            "http://127.0.0.1:3000/a/../b",
        ] {
            check_server_url(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        let e = check_server_url("http://user:pass@evil.example/a/../b?x=1#frag").unwrap_err();
        assert!(matches!(e, LocationError::CredentialsInUrl { .. }), "{e}");
        assert!(!e.to_string().contains("pass"), "{e}");
        for bad in [
            "https://gitea.example.com/?x=1",
            "https://gitea.example.com#frag",
            "https://gitea.example.com/sub?",
        ] {
            let e = check_server_url(bad).unwrap_err();
            assert!(matches!(e, LocationError::QueryInUrl { .. }), "{bad}: {e}");
            assert!(e.to_string().contains("query or fragment"), "{e}");
        }
        for bad in ["ftp://x.example", "gitea.example.com", "file:///tmp/x", ""] {
            let e = check_server_url(bad).unwrap_err();
            assert!(matches!(e, LocationError::BadUrl { .. }), "{bad}: {e}");
        }
    }
}
