//! Where to publish and with what: the server URL, `owner/repo` and the token.
//!
//! Config first, then the CI variables every runner sets (`GITHUB_SERVER_URL`,
//! `GITHUB_REPOSITORY`). The token is read from the variable named by
//! `publish.token-env` and kept in [`Token`], which never shows its value:
//! not in `Debug`, not in `Display`, not in a URL, not in an error. Plain
//! `http://` is refused except to loopback, so the token never crosses a
//! network in clear text.

use std::fmt;

use reqwest::header::HeaderValue;
use reqwest::Url;

use super::Error;
use crate::config::Publish;
use crate::env::Env;
pub use crate::plan::location::{check_server_url, is_loopback, split_repo};
use crate::project::ConfigSource;

/// The access token. Prints as `***`.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// `text` with every occurrence of the token (as is, percent-encoded, or
    /// with `+` for spaces) replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for form in self.forms() {
            out = out.replace(&form, "***");
        }
        out
    }

    /// `text` redacted, then cut to at most `max` characters (`…` marks a
    /// cut). Redacting first means a token straddling the cut is still
    /// recognised whole; and since the end of the text may hold the start of
    /// a token (cut here, or by the server that echoed it), a trailing prefix
    /// of the token of [`Token::MIN_PREFIX`] or more characters is redacted too.
    pub fn redact_cut(&self, text: &str, max: usize) -> String {
        let redacted = self.redact(text);
        let mut out: String = redacted.chars().take(max).collect();
        let cut = out.len() < redacted.len();
        for form in self.forms() {
            // The longest proper prefix of the form that ends the text.
            let ends: Vec<usize> = form.char_indices().map(|(i, _)| i).collect();
            let prefix = ends
                .iter()
                .skip(Self::MIN_PREFIX)
                .rev()
                .find(|&&i| out.ends_with(&form[..i]));
            if let Some(&i) = prefix {
                out.truncate(out.len() - i);
                out.push_str("***");
            }
        }
        if cut {
            out.push('…');
        }
        out
    }

    /// The shortest start of the token that [`Token::redact_cut`] hides at
    /// the end of a text: shorter ones are too common in ordinary text.
    pub const MIN_PREFIX: usize = 8;

    /// The spellings of the token a text may hold: as is, percent-encoded,
    /// and with `+` for spaces. None for a token too short to tell from
    /// ordinary text (every server refuses such a token anyway).
    fn forms(&self) -> Vec<String> {
        let raw = self.0.trim();
        if raw.len() < 4 {
            return Vec::new();
        }
        let encode = |space: &str| -> String {
            raw.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                        (b as char).to_string()
                    }
                    b' ' => space.to_owned(),
                    _ => format!("%{b:02X}"),
                })
                .collect()
        };
        let mut forms = vec![raw.to_owned(), encode("%20"), encode("+")];
        forms.dedup();
        forms
    }

    /// The `Authorization` header value (`token …`), marked sensitive so that
    /// reqwest/hyper never log it.
    pub fn header(&self, scheme: &str) -> Option<HeaderValue> {
        let mut v = HeaderValue::from_str(&format!("{scheme} {}", self.0)).ok()?;
        v.set_sensitive(true);
        Some(v)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A resolved publish target.
#[derive(Debug, Clone)]
pub struct Target {
    /// The server's base URL (`https://gitea.example.com/` or with a sub-path).
    pub server: Url,
    pub owner: String,
    pub repo: String,
    pub token: Token,
    /// The variable the token came from (for hints).
    pub token_env: String,
}

impl Target {
    /// Resolve from config and environment. `source` (the table in use) is
    /// named in errors.
    pub fn resolve(cfg: &Publish, env: &Env, source: &ConfigSource) -> Result<Self, Error> {
        let (url, repo) = cfg.given_location(env);
        let url = url.ok_or_else(|| Error::NoServer {
            config: source.to_string(),
            table: source.table.key(),
        })?;
        let server = server_url(&url)?;
        let repo = repo.ok_or_else(|| Error::NoRepo {
            config: source.to_string(),
            table: source.table.key(),
        })?;
        let (owner, name) = split_repo(repo.trim())?;
        let token = env
            .get(&cfg.token_env)
            .map(|t| Token::new(t.trim()))
            .ok_or_else(|| Error::NoToken {
                var: cfg.token_env.clone(),
            })?;
        if token.header("token").is_none() {
            return Err(Error::BadToken {
                var: cfg.token_env.clone(),
            });
        }
        Ok(Self {
            server,
            owner,
            repo: name,
            token,
            token_env: cfg.token_env.clone(),
        })
    }

    /// `owner/repo`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.repo)
    }

    /// `{server}/{segments…}`, each segment percent-encoded.
    pub fn join(&self, segments: &[&str]) -> Url {
        join_url(&self.server, segments)
    }
}

/// `{base}/{segments…}`, each segment percent-encoded.
pub fn join_url(base: &Url, segments: &[&str]) -> Url {
    let mut u = base.clone();
    u.path_segments_mut()
        .expect("server URLs are http(s), which have paths")
        .pop_if_empty()
        .extend(segments);
    u
}

/// Parse and check a server URL: [`check_server_url`], and plain http only
/// to loopback.
pub fn server_url(s: &str) -> Result<Url, Error> {
    let u = check_server_url(s)?;
    if u.scheme() == "http" && !is_loopback(&u) {
        return Err(Error::Insecure { url: u.to_string() });
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(server_url("http://127.0.0.1:3000").is_ok());
        assert!(server_url("http://127.8.9.10/").is_ok());
        assert!(server_url("http://[::1]:3000/").is_ok());
        assert!(server_url("http://localhost:3000/").is_ok());
        assert!(server_url("https://gitea.example.com/sub/").is_ok());
        let e = server_url("http://gitea.example.com").unwrap_err();
        assert!(matches!(e, Error::Insecure { .. }), "{e}");
        let e = server_url("http://localhost.example.com").unwrap_err();
        assert!(matches!(e, Error::Insecure { .. }), "{e}");
        assert!(server_url("ftp://x").is_err());
    }

    #[test]
    fn credentials_in_url_are_refused_and_not_echoed() {
        let e = server_url("https://me:s3cr3t-value@gitea.example.com").unwrap_err();
        assert!(!e.to_string().contains("s3cr3t-value"), "{e}");
        assert!(
            matches!(
                e,
                Error::Location(crate::plan::LocationError::CredentialsInUrl { .. })
            ),
            "{e}"
        );
    }

    /// Whatever the cut, the text keeps no start of the token of eight or
    /// more characters, in any spelling; shorter starts and other text stay.
    #[test]
    fn a_cut_text_keeps_no_start_of_the_token() {
        let raw = "5ec7e7 5ec7e75ec7e7/5ec7e75ec7e75ec7e7c0de";
        let t = Token::new(raw);
        let forms = t.forms();
        assert_eq!(forms.len(), 3, "{forms:?}");
        for form in &forms {
            for filler in 0..60 {
                let text = format!("{}{form} and more", "x".repeat(filler));
                for max in 0..text.chars().count() + 2 {
                    let out = t.redact_cut(&text, max);
                    let kept = out.trim_end_matches('…');
                    for f in &forms {
                        let start: String = f.chars().take(Token::MIN_PREFIX).collect();
                        assert!(
                            !kept.contains(&start),
                            "{out:?} (cut at {max} of {text:?}) keeps {start:?}"
                        );
                    }
                    assert!(
                        out.chars().count() <= max + 3 + 1,
                        "{out:?} longer than {max}"
                    );
                    assert!(kept.starts_with(&"x".repeat(filler.min(max))), "{out:?}");
                }
            }
        }
        // A server that echoed only the start of the token, uncut by us.
        assert_eq!(t.redact_cut("denied: 5ec7e7 5ec7", 300), "denied: ***");
        // Seven characters are ordinary text.
        assert_eq!(t.redact_cut("x 5ec7e7 ", 300), "x 5ec7e7 ");
        assert_eq!(t.redact_cut("abc", 2), "ab…");
    }

    #[test]
    fn token_never_formats() {
        let t = Token::new("s3cr3t-value");
        assert_eq!(format!("{t} {t:?}"), "*** ***");
        let target = Target {
            server: server_url("https://x.example").unwrap(),
            owner: "o".into(),
            repo: "r".into(),
            token: t,
            token_env: "DEPLOY_TOKEN".into(),
        };
        assert!(!format!("{target:?}").contains("s3cr3t"));
    }

    #[test]
    fn join_encodes_segments_and_keeps_sub_path() {
        let t = Target {
            server: server_url("https://x.example/git/").unwrap(),
            owner: "o".into(),
            repo: "r".into(),
            token: Token::new("t"),
            token_env: "T".into(),
        };
        assert_eq!(
            t.join(&["api", "v1", "repos", "o", "r", "releases", "tags", "v1/x y"])
                .as_str(),
            "https://x.example/git/api/v1/repos/o/r/releases/tags/v1%2Fx%20y"
        );
    }
}
