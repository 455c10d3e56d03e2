//! The HTTP side shared by the providers: authenticated requests, retries of
//! connection errors, 429 and 5xx (honouring `Retry-After`), the server's
//! error message, and one-attempt streaming uploads (raw or multipart).
//!
//! The token goes only into an `Authorization` header marked sensitive; URLs,
//! debug lines and errors never carry it.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::blocking::multipart::{Form, Part};
use reqwest::blocking::{Body, Client, RequestBuilder, Response};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;

use super::target::{Target, Token};
use super::Error;
use crate::net::Backoff;
use crate::report::{Progress, Reporter};

/// How a host takes the token, and what else every request must carry.
#[derive(Debug, Clone, Copy)]
pub struct Auth {
    /// `token` (Gitea) or `Bearer` (GitHub).
    pub scheme: &'static str,
    /// Extra headers of every request (`Accept`, API version).
    pub headers: &'static [(&'static str, &'static str)],
}

pub struct Api<'a> {
    pub http: &'a Client,
    pub token: &'a Token,
    pub scheme: &'static str,
    pub headers: &'static [(&'static str, &'static str)],
    pub token_env: &'a str,
    pub backoff: Backoff,
    /// The client's timeouts; uploads get a longer one for their size.
    pub timeouts: crate::net::Timeouts,
    pub reporter: &'a dyn Reporter,
}

impl<'a> Api<'a> {
    /// The client of `target`'s release API, sending its token as `auth` says.
    pub fn new(
        target: &'a Target,
        http: &'a Client,
        backoff: Backoff,
        timeouts: crate::net::Timeouts,
        reporter: &'a dyn Reporter,
        auth: Auth,
    ) -> Self {
        Self {
            http,
            token: &target.token,
            scheme: auth.scheme,
            headers: auth.headers,
            token_env: &target.token_env,
            backoff,
            timeouts,
            reporter,
        }
    }
}

impl Api<'_> {
    pub fn request(&self, method: &Method, url: &Url) -> RequestBuilder {
        self.reporter.debug(&format!("{method} {url}"));
        let mut rb = self
            .http
            .request(method.clone(), url.clone())
            .header(
                AUTHORIZATION,
                self.token
                    .header(self.scheme)
                    .expect("checked when the target was resolved"),
            )
            .header(ACCEPT, "application/json");
        for (k, v) in self.headers {
            rb = rb.header(*k, *v);
        }
        rb
    }

    /// Send with retries. Success statuses and those in `accept` are returned.
    pub fn send(
        &self,
        method: Method,
        url: &Url,
        json: Option<&serde_json::Value>,
        accept: &[u16],
    ) -> Result<Response, Error> {
        self.backoff.retry_with(
            |_| {
                let mut rb = self.request(&method, url);
                if let Some(j) = json {
                    rb = rb.json(j);
                }
                match rb.send() {
                    Ok(resp)
                        if resp.status().is_success()
                            || accept.contains(&resp.status().as_u16()) =>
                    {
                        self.reporter
                            .debug(&format!("{method} {url} -> {}", resp.status().as_u16()));
                        Ok(resp)
                    }
                    Ok(resp) => Err(self.error(&method, url, resp)),
                    Err(source) => Err(request_error(&method, url, source)),
                }
            },
            |err, wait| {
                self.reporter.warn(&format!(
                    "{}; retrying in {} ms",
                    super::with_causes(err),
                    wait.as_millis()
                ))
            },
        )
    }

    /// PATCH the name, notes and prerelease flag of the release at `url`, and
    /// `draft: false` (publishes a draft; Gitea and GitHub take the same body).
    pub fn update_release(
        &self,
        url: &Url,
        fields: &super::ReleaseFields,
    ) -> Result<super::Release, Error> {
        let body = serde_json::json!({
            "name": fields.name,
            "body": fields.body,
            "prerelease": fields.prerelease,
            "draft": false,
        });
        let resp = self.send(Method::PATCH, url, Some(&body), &[])?;
        self.json(&Method::PATCH, url, resp)
    }

    /// Read a JSON answer.
    pub fn json<T: DeserializeOwned>(
        &self,
        method: &Method,
        url: &Url,
        resp: Response,
    ) -> Result<T, Error> {
        // Bounded in time and size: a server that trickles or never ends
        // its answer fails instead of holding the publish.
        let len = resp.content_length();
        let text = crate::net::Limited::text(resp, url.as_str(), &self.timeouts, len)
            .read_text()
            .map_err(Error::Client)?;
        serde_json::from_str(&text).map_err(|source| {
            let start = text.trim_start();
            Error::Decode {
                method: method.to_string(),
                url: url.to_string(),
                // Escaped where it is shown, as the server's message is.
                start: self.token.redact_cut(start, 60),
                html: start.starts_with('<'),
                source,
            }
        })
    }

    /// Turn a non-success answer into [`Error::Api`], with the server's message.
    pub fn error(&self, method: &Method, url: &Url, resp: Response) -> Error {
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let len = resp.content_length();
        let text = crate::net::Limited::text(resp, url.as_str(), &self.timeouts, len)
            .read_text()
            .unwrap_or_default();
        let v = serde_json::from_str::<serde_json::Value>(&text).ok();
        // A server may echo the request (and its token) in its answer: the
        // whole text is redacted before it is cut, and a start of the token
        // left at the cut is hidden too.
        let mut message = match v
            .as_ref()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
        {
            Some(m) => self.token.redact_cut(&m, 2000),
            None => self.token.redact_cut(text.trim(), 300),
        };
        // GitHub's validation details: `errors: [{resource, field, code}]`.
        if let Some(errors) = v.as_ref().and_then(|v| v["errors"].as_array()) {
            let details: Vec<String> = errors
                .iter()
                .filter_map(|e| {
                    let code = e["code"].as_str()?;
                    Some(format!(
                        "{}.{}: {code}",
                        e["resource"].as_str().unwrap_or("?"),
                        e["field"].as_str().unwrap_or("?")
                    ))
                })
                .collect();
            if !details.is_empty() {
                message = self
                    .token
                    .redact_cut(&format!("{message} ({})", details.join(", ")), 4000);
            }
        }
        if status == 404 && message.starts_with("target ") && message.contains("not found") {
            return Error::UnknownTarget {
                method: method.to_string(),
                url: url.to_string(),
                message,
            };
        }
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
            token_env: self.token_env.to_owned(),
        }
    }

    /// One GET of a file (`Accept: application/octet-stream`, which GitHub's
    /// asset endpoint needs to answer with the file rather than its JSON
    /// description), with the client's timeout or `timeout`. A non-success
    /// answer is an error.
    fn get_file(&self, url: &Url, timeout: Option<Duration>) -> Result<Response, Error> {
        let method = Method::GET;
        self.reporter.debug(&format!("{method} {url}"));
        let mut rb = self.http.get(url.clone()).header(
            AUTHORIZATION,
            self.token
                .header(self.scheme)
                .expect("checked when the target was resolved"),
        );
        if let Some(t) = timeout {
            rb = rb.timeout(t);
        }
        for (k, v) in self.headers {
            if !k.eq_ignore_ascii_case("accept") {
                rb = rb.header(*k, *v);
            }
        }
        self.send_once(&method, url, rb.header(ACCEPT, "application/octet-stream"))
    }

    /// Send `rb`, a `method` request to `url`, once; a non-success answer is
    /// an error.
    fn send_once(&self, method: &Method, url: &Url, rb: RequestBuilder) -> Result<Response, Error> {
        let resp = rb
            .send()
            .map_err(|source| request_error(method, url, source))?;
        if !resp.status().is_success() {
            return Err(self.error(method, url, resp));
        }
        Ok(resp)
    }

    /// GET a small file's bytes ([`Api::get_file`]). One attempt: callers
    /// treat a failure as "unknown".
    pub fn download(&self, url: &Url) -> Result<Vec<u8>, Error> {
        /// Larger answers are not a checksum file.
        const LIMIT: u64 = 1 << 20;
        let resp = self.get_file(url, None)?;
        let mut body = Vec::new();
        resp.take(LIMIT + 1)
            .read_to_end(&mut body)
            .map_err(|source| Error::Read {
                path: url.to_string().into(),
                source,
            })?;
        Ok(body)
    }

    /// GET a release asset of any size into the new file `path` (one
    /// attempt; a failure removes what was written). Returns its size.
    pub fn download_to(&self, url: &Url, path: &Path) -> Result<u64, Error> {
        // An archive of a release: minutes, not the API's seconds.
        let mut resp = self.get_file(url, Some(Duration::from_secs(1800)))?;
        let io_err = |source| Error::Read {
            path: path.to_owned(),
            source,
        };
        let written = (|| {
            let mut out = fs_err::File::create(path)?;
            let n = std::io::copy(&mut resp, &mut out)?;
            out.sync_all()?;
            Ok(n)
        })();
        if written.is_err() {
            let _ = fs_err::remove_file(path);
        }
        written.map_err(io_err)
    }

    /// One upload attempt, streamed from the item's file: the raw body, or
    /// multipart field `attachment`. Non-success answers become errors.
    pub fn upload(
        &self,
        url: &Url,
        item: &super::Item,
        progress: Arc<dyn Progress>,
        multipart: bool,
    ) -> Result<Response, Error> {
        let (name, path, size) = (&item.name, &item.path, item.size);
        let file = fs_err::File::open(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        let reader = Counting {
            inner: file,
            progress,
        };
        let method = Method::POST;
        let rb = self
            .request(&method, url)
            .timeout(self.timeouts.upload(size));
        let rb = if multipart {
            // reqwest writes the boundary, the part's headers (the file name
            // escaped) and the Content-Length of the whole form.
            let part = Part::reader_with_length(reader, size)
                .file_name(name.to_owned())
                .mime_str("application/octet-stream")
                .expect("a valid MIME type");
            rb.multipart(Form::new().part("attachment", part))
        } else {
            rb.header(CONTENT_TYPE, "application/octet-stream")
                .body(Body::sized(reader, size))
        };
        let resp = self.send_once(&method, url, rb)?;
        self.reporter
            .debug(&format!("POST {url} -> {}", resp.status().as_u16()));
        Ok(resp)
    }
}

/// A request that got no answer.
fn request_error(method: &Method, url: &Url, source: reqwest::Error) -> Error {
    Error::Request {
        method: method.to_string(),
        url: url.to_string(),
        // The failing URL may be a redirect's, which can hold anything.
        source: source.without_url(),
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
