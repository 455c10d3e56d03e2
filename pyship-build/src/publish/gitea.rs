//! The Gitea (and Forgejo, same API) provider: `/api/v1/repos/{owner}/{repo}/releases…`.
//!
//! Behaviour follows Gitea's source as summarised in `reference/gitea-api.md`:
//! create answers 201, or 409 when a release of that tag exists (a tag without
//! a release is converted in place); the asset list is a plain array sorted by
//! name and may hold duplicates; raw uploads (`application/octet-stream` with
//! `?name=`) exist since 1.22, older servers need multipart field `attachment`.
//!
//! Every request except an upload is retried here on connection errors, 429
//! and 5xx (honouring `Retry-After`); uploads are retried by the caller, which
//! lists the assets again first so that a retry never leaves a duplicate.

use std::io::{Cursor, Read};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::blocking::{Body, Client, Response};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;

use super::target::Target;
use super::{Asset, Created, Error, Provider, Release, ReleaseFields};
use crate::net::Backoff;
use crate::report::{Progress, Reporter};

pub struct Gitea<'a> {
    target: &'a Target,
    http: &'a Client,
    backoff: Backoff,
    reporter: &'a dyn Reporter,
    raw_upload: OnceLock<bool>,
}

impl<'a> Gitea<'a> {
    pub fn new(
        target: &'a Target,
        http: &'a Client,
        backoff: Backoff,
        reporter: &'a dyn Reporter,
    ) -> Self {
        Self {
            target,
            http,
            backoff,
            reporter,
            raw_upload: OnceLock::new(),
        }
    }

    fn api(&self, tail: &[&str]) -> Url {
        let mut segs = vec!["api", "v1", "repos", &self.target.owner, &self.target.repo];
        segs.extend_from_slice(tail);
        self.target.join(&segs)
    }

    fn request(&self, method: &Method, url: &Url) -> reqwest::blocking::RequestBuilder {
        self.reporter.debug(&format!("{method} {url}"));
        self.http
            .request(method.clone(), url.clone())
            .header(
                AUTHORIZATION,
                self.target
                    .token
                    .header("token")
                    .expect("checked when the target was resolved"),
            )
            .header(ACCEPT, "application/json")
    }

    /// Send with retries. Success statuses and those in `accept` are returned.
    fn send(
        &self,
        method: Method,
        url: &Url,
        json: Option<&serde_json::Value>,
        accept: &[u16],
    ) -> Result<Response, Error> {
        let mut n = 0;
        loop {
            let mut rb = self.request(&method, url);
            if let Some(j) = json {
                rb = rb.json(j);
            }
            let err = match rb.send() {
                Ok(resp)
                    if resp.status().is_success() || accept.contains(&resp.status().as_u16()) =>
                {
                    self.reporter
                        .debug(&format!("{method} {url} -> {}", resp.status().as_u16()));
                    return Ok(resp);
                }
                Ok(resp) => api_error(&method, url, resp, &self.target.token_env),
                Err(source) => Error::Request {
                    method: method.to_string(),
                    url: url.to_string(),
                    source,
                },
            };
            if !err.is_transient() || n + 1 >= self.backoff.attempts {
                return Err(err);
            }
            let wait = super::retry_delay(&self.backoff, n, &err);
            self.reporter.warn(&format!(
                "{}; retrying in {} ms",
                super::with_causes(&err),
                wait.as_millis()
            ));
            std::thread::sleep(wait);
            n += 1;
        }
    }

    fn json<T: DeserializeOwned>(
        &self,
        method: &Method,
        url: &Url,
        resp: Response,
    ) -> Result<T, Error> {
        let text = resp.text().map_err(|source| Error::Request {
            method: method.to_string(),
            url: url.to_string(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| Error::Decode {
            method: method.to_string(),
            url: url.to_string(),
            source,
        })
    }

    /// Whether the server takes raw uploads (Gitea ≥ 1.22, Forgejo ≥ 7), from
    /// `GET /api/v1/version`; when that fails, assume a current server.
    fn raw_upload(&self) -> bool {
        *self.raw_upload.get_or_init(|| {
            let url = self.target.join(&["api", "v1", "version"]);
            let version = self
                .send(Method::GET, &url, None, &[])
                .and_then(|r| self.json::<serde_json::Value>(&Method::GET, &url, r))
                .ok()
                .and_then(|v| v["version"].as_str().map(str::to_owned));
            let raw = version.as_deref().is_none_or(supports_raw_upload);
            self.reporter.debug(&format!(
                "server version {}: {} uploads",
                version.as_deref().unwrap_or("unknown"),
                if raw { "raw" } else { "multipart" }
            ));
            raw
        })
    }
}

/// Gitea ≥ 1.22 (and Forgejo, whose versions say `+gitea-1.22…` since v7).
pub fn supports_raw_upload(version: &str) -> bool {
    let v = version.split_once("+gitea-").map_or(version, |(_, g)| g);
    let v = v.trim_start_matches('v');
    let mut it = v.split(|c: char| !c.is_ascii_digit());
    let major: u64 = it.next().and_then(|s| s.parse().ok()).unwrap_or(u64::MAX);
    let minor: u64 = it.next().and_then(|s| s.parse().ok()).unwrap_or(u64::MAX);
    !(major == 1 && minor < 22)
}

/// Turn a non-success answer into [`Error::Api`], with the server's message.
fn api_error(method: &Method, url: &Url, resp: Response, token_env: &str) -> Error {
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let text = resp.text().unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| text.trim().chars().take(300).collect());
    Error::Api {
        method: method.to_string(),
        url: url.to_string(),
        status,
        message: if message.is_empty() {
            "(no message)".into()
        } else {
            message
        },
        retry_after,
        token_env: token_env.to_owned(),
    }
}

impl Provider for Gitea<'_> {
    fn release_by_tag(&self, tag: &str) -> Result<Option<Release>, Error> {
        let url = self.api(&["releases", "tags", tag]);
        let resp = self.send(Method::GET, &url, None, &[404])?;
        if resp.status().as_u16() == 404 {
            // A missing repository answers 404 too: tell the two apart.
            let list = self.api(&["releases"]);
            let mut list = list.clone();
            list.query_pairs_mut().append_pair("limit", "1");
            self.send(Method::GET, &list, None, &[])?;
            return Ok(None);
        }
        self.json(&Method::GET, &url, resp).map(Some)
    }

    fn create_release(&self, fields: &ReleaseFields) -> Result<Created, Error> {
        let url = self.api(&["releases"]);
        let body = serde_json::json!({
            "tag_name": fields.tag,
            "target_commitish": fields.target_commitish.clone().unwrap_or_default(),
            "name": fields.name,
            "body": fields.body,
            "draft": false,
            "prerelease": fields.prerelease,
        });
        let resp = self.send(Method::POST, &url, Some(&body), &[409])?;
        if resp.status().as_u16() == 409 {
            return Ok(Created::Conflict);
        }
        self.json(&Method::POST, &url, resp).map(Created::New)
    }

    fn update_release(&self, id: u64, fields: &ReleaseFields) -> Result<Release, Error> {
        let url = self.api(&["releases", &id.to_string()]);
        let body = serde_json::json!({
            "name": fields.name,
            "body": fields.body,
            "prerelease": fields.prerelease,
        });
        let resp = self.send(Method::PATCH, &url, Some(&body), &[])?;
        self.json(&Method::PATCH, &url, resp)
    }

    fn list_assets(&self, release_id: u64) -> Result<Vec<Asset>, Error> {
        let url = self.api(&["releases", &release_id.to_string(), "assets"]);
        let resp = self.send(Method::GET, &url, None, &[])?;
        self.json(&Method::GET, &url, resp)
    }

    fn delete_asset(&self, release_id: u64, asset_id: u64) -> Result<(), Error> {
        let url = self.api(&[
            "releases",
            &release_id.to_string(),
            "assets",
            &asset_id.to_string(),
        ]);
        // 404: already gone (e.g. a retried DELETE whose first answer was lost).
        self.send(Method::DELETE, &url, None, &[404]).map(drop)
    }

    fn upload_asset(
        &self,
        release_id: u64,
        name: &str,
        path: &Path,
        size: u64,
        progress: Arc<dyn Progress>,
    ) -> Result<Asset, Error> {
        let mut url = self.api(&["releases", &release_id.to_string(), "assets"]);
        url.query_pairs_mut().append_pair("name", name);
        let read_err = |source| Error::Read {
            path: path.to_owned(),
            source,
        };
        let file = fs_err::File::open(path).map_err(read_err)?;
        let reader = Counting {
            inner: file,
            progress,
        };
        let rb = self.request(&Method::POST, &url);
        let rb = if self.raw_upload() {
            rb.header(CONTENT_TYPE, "application/octet-stream")
                .body(Body::sized(reader, size))
        } else {
            // Servers before 1.22: multipart, streamed from disk all the same.
            let boundary = format!("pyship-{:016x}", rand_u64());
            let safe_name: String = name
                .chars()
                .filter(|c| !matches!(c, '\r' | '\n'))
                .map(|c| if c == '"' { '\'' } else { c })
                .collect();
            let head = format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"{safe_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            );
            let tail = format!("\r\n--{boundary}--\r\n");
            let len = head.len() as u64 + size + tail.len() as u64;
            let body = Cursor::new(head.into_bytes())
                .chain(reader)
                .chain(Cursor::new(tail.into_bytes()));
            rb.header(
                CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::sized(body, len))
        };
        let method = Method::POST;
        let resp = rb.send().map_err(|source| Error::Request {
            method: method.to_string(),
            url: url.to_string(),
            source,
        })?;
        if !resp.status().is_success() {
            return Err(api_error(&method, &url, resp, &self.target.token_env));
        }
        self.reporter
            .debug(&format!("POST {url} -> {}", resp.status().as_u16()));
        self.json(&method, &url, resp)
    }
}

/// A reader that reports bytes read to a progress bar.
struct Counting<R> {
    inner: R,
    progress: Arc<dyn Progress>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.inc(n as u64);
        Ok(n)
    }
}

/// Enough randomness for a multipart boundary.
fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_upload_needs_gitea_1_22() {
        assert!(supports_raw_upload("1.22.0"));
        assert!(supports_raw_upload("1.25.4"));
        assert!(supports_raw_upload("1.26.0+dev-123-gabc"));
        assert!(supports_raw_upload("9.0.0+gitea-1.22.0"));
        assert!(!supports_raw_upload("1.21.11"));
        assert!(!supports_raw_upload("1.21.11-0+gitea-1.21.11"));
        assert!(!supports_raw_upload("v1.20.0"));
        assert!(supports_raw_upload("garbage"));
    }
}
