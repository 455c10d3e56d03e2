//! HTTP: the only place an HTTP client is built, and verified downloads.
//!
//! Downloads stream to a temp file next to their destination while SHA-256 is
//! computed, and are renamed into place only when the hash matches (uv's
//! approach). Connection errors, 429 and 5xx are retried with bounded
//! exponential backoff.
//!
//! Every request has a connect timeout and a read-idle timeout ([`Timeouts`],
//! `PYSHIP_CONNECT_TIMEOUT` / `PYSHIP_HTTP_TIMEOUT`): a server that accepts the
//! connection and then says nothing, or stops in the middle of a body, ends
//! the run with an error naming the URL and the setting instead of hanging.
//! A server that keeps sending a few bytes at a time never trips a read-idle
//! timeout: each download (its retries included) also has a total deadline
//! (`PYSHIP_DOWNLOAD_TIMEOUT`), and no body may grow past the length the
//! server declared nor past [`MAX_DOWNLOAD`] ([`MAX_TEXT`] for an answer read
//! into memory).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::error::escaped;
use crate::report::Reporter;

/// User agent sent with every request.
pub const USER_AGENT: &str = concat!("cargo-pyship/", env!("CARGO_PKG_VERSION"));
/// Default connect timeout in seconds (`PYSHIP_CONNECT_TIMEOUT`).
pub const DEFAULT_CONNECT_TIMEOUT: u64 = 15;
/// Default read-idle timeout in seconds (`PYSHIP_HTTP_TIMEOUT`): the longest
/// wait for a server's answer or for the next bytes of a body.
pub const DEFAULT_READ_TIMEOUT: u64 = 60;
/// Slowest upload rate still accepted (bytes per second): an upload may take
/// the read timeout plus its size at this rate.
pub const MIN_UPLOAD_RATE: u64 = 64 * 1024;
/// Default total time of one download, its retries included, in seconds
/// (`PYSHIP_DOWNLOAD_TIMEOUT`).
pub const DEFAULT_DOWNLOAD_TIMEOUT: u64 = 1800;
/// The largest file a download may bring (the largest real one, a CPython
/// runtime or a wheel with its native libraries, is a few hundred MB).
pub const MAX_DOWNLOAD: u64 = 4 << 30;
/// The largest answer read into memory (an index page, an API answer).
pub const MAX_TEXT: u64 = 64 << 20;

/// How long a request may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    /// Read-idle: the wait for the answer and between two reads of a body.
    pub read: Duration,
    /// Total: the longest one download may take, its retries included.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(DEFAULT_CONNECT_TIMEOUT),
            read: Duration::from_secs(DEFAULT_READ_TIMEOUT),
            total: Duration::from_secs(DEFAULT_DOWNLOAD_TIMEOUT),
        }
    }
}

impl Timeouts {
    /// From `PYSHIP_CONNECT_TIMEOUT`, `PYSHIP_HTTP_TIMEOUT` and
    /// `PYSHIP_DOWNLOAD_TIMEOUT` (seconds, fractions allowed); a value that
    /// is not a positive number is an error.
    pub fn from_env(env: &crate::env::Env) -> Result<Self, Error> {
        let secs = |var: &'static str, default: u64| match env.get(var) {
            None => Ok(Duration::from_secs(default)),
            Some(v) => v
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| Error::BadTimeout {
                    var,
                    value: v.to_owned(),
                }),
        };
        Ok(Self {
            connect: secs(crate::env::PYSHIP_CONNECT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT)?,
            read: secs(crate::env::PYSHIP_HTTP_TIMEOUT, DEFAULT_READ_TIMEOUT)?,
            total: secs(
                crate::env::PYSHIP_DOWNLOAD_TIMEOUT,
                DEFAULT_DOWNLOAD_TIMEOUT,
            )?,
        })
    }

    /// The time allowed for an upload of `size` bytes.
    pub fn upload(&self, size: u64) -> Duration {
        self.read + Duration::from_secs(size / MIN_UPLOAD_RATE)
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("could not build the HTTP client")]
    Client(#[source] reqwest::Error),
    /// A `file://` mirror's file that is a named pipe, socket or device:
    /// opening a pipe would wait for a writer, with no deadline yet.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Special(Box<crate::fs::Error>),
    #[error("{var} = {value:?} is not a number of seconds")]
    #[diagnostic(help("give a positive number of seconds, e.g. 120, or unset the variable"))]
    BadTimeout { var: &'static str, value: String },
    #[error("{} did not answer within {} s (connect) / sent nothing for {} s (read)", escaped(.url), .timeouts.connect.as_secs_f64(), .timeouts.read.as_secs_f64())]
    #[diagnostic(help("the server stalled; try again, use another mirror, or allow longer waits with {} (read, default {DEFAULT_READ_TIMEOUT} s) and {} (connect, default {DEFAULT_CONNECT_TIMEOUT} s)", crate::env::PYSHIP_HTTP_TIMEOUT, crate::env::PYSHIP_CONNECT_TIMEOUT))]
    Timeout {
        url: String,
        timeouts: Box<Timeouts>,
    },
    #[error("request to {} failed", escaped(.url))]
    #[diagnostic(help("check the network connection, the proxy settings and the URL"))]
    Request {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{} answered {status}", escaped(.url))]
    #[diagnostic(help("{}", status_hint(*.status)))]
    Status { url: String, status: u16 },
    #[error("the download of {} did not finish within {secs} s ({got} bytes came)", escaped(.url))]
    #[diagnostic(help("the server sends too slowly; try again, use another mirror, or allow a longer download with {} (seconds, default {DEFAULT_DOWNLOAD_TIMEOUT})", crate::env::PYSHIP_DOWNLOAD_TIMEOUT))]
    Deadline { url: String, secs: f64, got: u64 },
    #[error("{} sent more than {limit} bytes{}", escaped(.url), if *.declared { " (the length it declared)" } else { "" })]
    #[diagnostic(help("the server sent something else than what was asked for; nothing was stored: check the URL (and the mirror, for a download)"))]
    TooLarge {
        url: String,
        limit: u64,
        declared: bool,
    },
    #[error("the download of {} was cut short", escaped(.url))]
    #[diagnostic(help("the connection dropped during the download; run again (a partial download is never cached), or use another mirror"))]
    Body {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("SHA-256 of {} is {actual}, expected {}", escaped(.url), escaped(.expected))]
    #[diagnostic(help("the download does not match the pinned hash: the mirror serves a different or tampered file; nothing was extracted. If the new file is trusted, update the pin (python-sha256 or pyship.lock)"))]
    HashMismatch {
        url: String,
        expected: String,
        actual: String,
    },
    #[error("the download of {} ({size} bytes) is not usable: {reason}", escaped(.url))]
    #[diagnostic(help("the server sent something else than the expected archive (an error page, or a download cut short); nothing was cached or locked: check the URL and the mirror"))]
    Invalid {
        url: String,
        size: u64,
        reason: String,
    },
    #[error("could not save the download of {} to {path}", escaped(.url))]
    #[diagnostic(help(
        "check that the cache directory (PYSHIP_CACHE_DIR) is writable and the disk is not full"
    ))]
    Save {
        url: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What an HTTP error status suggests.
fn status_hint(status: u16) -> &'static str {
    match status {
        404 => "check the URL, the version and the mirror setting",
        401 | 403 => {
            "the server refused access; check the URL and any credentials the mirror needs"
        }
        500.. => "the server failed; try again later or use another mirror",
        _ => "check the URL",
    }
}

impl Error {
    /// Whether trying again may help (connection trouble, 429, 5xx).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Request { source, .. } => {
                source.is_connect()
                    || source.is_timeout()
                    || source.is_request()
                    || source.is_body()
                    || source.is_decode()
            }
            Error::Status { status, .. } => *status == 429 || *status >= 500,
            Error::Body { .. } => true,
            _ => false,
        }
    }
}

/// Build the one HTTP client configuration the tool uses. With the blocking
/// client, `timeout` bounds the wait for the answer and each read of a body:
/// a read-idle timeout. Uploads set their own, longer one per request.
pub fn client(timeouts: &Timeouts) -> Result<reqwest::blocking::Client, Error> {
    reqwest::blocking::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.read)
        .redirect(reqwest::redirect::Policy::custom(
            |attempt| match redirect_refusal(attempt.url(), attempt.previous()) {
                Some(refusal) => attempt.error(refusal),
                None => attempt.follow(),
            },
        ))
        .build()
        .map_err(Error::Client)
}

/// The most redirects one request follows.
pub const MAX_REDIRECTS: usize = 10;

/// Why a redirect to `next` is not followed, after the `previous` URLs of the
/// request (the first one it was sent to, then each redirect's): past
/// [`MAX_REDIRECTS`], or to plain http once the request went over https
/// (reqwest itself follows no redirect to another scheme than http(s)). A redirect is the server's word; followed from
/// https to plain http, the request (an upload, an Authorization header kept
/// because the host stays the same) would cross the network readable and
/// changeable by anyone on the way.
fn redirect_refusal(next: &reqwest::Url, previous: &[reqwest::Url]) -> Option<RedirectRefused> {
    if previous.len() > MAX_REDIRECTS {
        return Some(RedirectRefused::TooMany);
    }
    let from_https = previous.iter().any(|u| u.scheme() == "https");
    (next.scheme() == "http" && from_https).then(|| RedirectRefused::Downgrade {
        host: next.host_str().unwrap_or_default().to_owned(),
    })
}

/// A redirect [`client`] does not follow (the source of reqwest's error).
#[derive(Debug, thiserror::Error)]
enum RedirectRefused {
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooMany,
    #[error("a redirect from https to plain http (host {host}) is not followed")]
    Downgrade { host: String },
}

/// Whether an error (or an I/O error wrapping one) is reqwest's timeout.
pub fn is_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<reqwest::Error>() {
            if r.is_timeout() {
                return true;
            }
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return true;
            }
            if let Some(inner) = io.get_ref() {
                if is_timeout(inner) {
                    return true;
                }
            }
        }
        cur = err.source();
    }
    false
}

/// Bounded exponential backoff: attempt `n` (0-based) waits `base * 2^n`, capped.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub attempts: u32,
    pub base: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            attempts: 5,
            base: Duration::from_millis(500),
            max: Duration::from_secs(20),
        }
    }
}

impl Backoff {
    /// How long to wait before retry number `n` (0-based).
    pub fn delay(&self, n: u32) -> Duration {
        self.base
            .saturating_mul(1u32.checked_shl(n).unwrap_or(u32::MAX))
            .min(self.max)
    }

    /// How long to wait before retry `n`: [`Backoff::delay`], or the
    /// server's `Retry-After` when longer, never more than the cap.
    pub fn delay_after(&self, n: u32, retry_after: Option<Duration>) -> Duration {
        let d = self.delay(n);
        match retry_after {
            Some(ra) => ra.max(d).min(self.max),
            None => d,
        }
    }

    /// Run `f` until it succeeds, fails permanently, or attempts run out.
    pub fn retry<T, E: Transient>(&self, f: impl FnMut(u32) -> Result<T, E>) -> Result<T, E> {
        self.retry_with(f, |_, _| {})
    }

    /// [`Backoff::retry`], telling `before_retry` about each error that is
    /// retried and how long the wait before the next attempt is. The one retry
    /// loop of the crate: downloads and every publish request go through it.
    pub fn retry_with<T, E: Transient>(
        &self,
        mut f: impl FnMut(u32) -> Result<T, E>,
        mut before_retry: impl FnMut(&E, Duration),
    ) -> Result<T, E> {
        let mut n = 0;
        loop {
            match f(n) {
                Err(e) if e.is_transient() && n + 1 < self.attempts => {
                    let wait = self.delay_after(n, e.retry_after());
                    before_retry(&e, wait);
                    std::thread::sleep(wait);
                    n += 1;
                }
                other => return other,
            }
        }
    }
}

/// What [`Backoff::retry`] asks of an error.
pub trait Transient {
    /// Whether trying again may help (a connection error, 429, 5xx).
    fn is_transient(&self) -> bool;
    /// How long the server asked to wait (`Retry-After`), if it did.
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

impl Transient for Error {
    fn is_transient(&self) -> bool {
        Error::is_transient(self)
    }
}

/// Percent-encode everything but the RFC 3986 unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`): a URL path segment, a query or purl value.
pub fn percent_encode(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

/// Decode `%XX` escapes (invalid ones are kept as written).
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A finished, verified download.
#[derive(Debug, Clone)]
pub struct Downloaded {
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
}

/// Download `url` to `dest`, hashing while streaming. When `expected` is given
/// and the hash differs, nothing is written at `dest`. Retries transient errors.
pub fn download(
    client: &reqwest::blocking::Client,
    url: &str,
    dest: &Path,
    expected: Option<&str>,
    reporter: &dyn Reporter,
) -> Result<Downloaded, Error> {
    download_with(
        client,
        &Timeouts::default(),
        url,
        dest,
        expected,
        None,
        reporter,
    )
}

/// [`download`], with the client's `timeouts` (to name them in a timeout
/// error) and a `validate` check run on the finished temp file before it is
/// renamed to `dest` (a file it refuses is never stored).
pub fn download_with(
    client: &reqwest::blocking::Client,
    timeouts: &Timeouts,
    url: &str,
    dest: &Path,
    expected: Option<&str>,
    validate: Option<&Validate<'_>>,
    reporter: &dyn Reporter,
) -> Result<Downloaded, Error> {
    let save = Save {
        url,
        dest,
        expected,
        validate,
        reporter,
    };
    let dir = dest.parent().unwrap_or(Path::new("."));
    fs_err::create_dir_all(dir).map_err(|source| Error::Save {
        url: url.to_owned(),
        path: dest.to_owned(),
        source,
    })?;
    // A local mirror (`file:///srv/python`): same hashing, same verification.
    if let Some(path) = url.strip_prefix("file://") {
        crate::fs::check_not_special(Path::new(path)).map_err(|e| Error::Special(Box::new(e)))?;
        let file = fs_err::File::open(path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => Error::Status {
                url: url.to_owned(),
                status: 404,
            },
            _ => Error::Save {
                url: url.to_owned(),
                path: PathBuf::from(path),
                source,
            },
        })?;
        let len = file.metadata().ok().map(|m| m.len());
        let body = Limited::new(file, url, timeouts, Instant::now(), len);
        return save_verified(body, len, save);
    }
    let timed_out = |e: Error| match e {
        Error::Request { ref source, .. } if source.is_timeout() => Error::Timeout {
            url: url.to_owned(),
            timeouts: Box::new(*timeouts),
        },
        Error::Body { ref source, .. } if is_timeout(source) => Error::Timeout {
            url: url.to_owned(),
            timeouts: Box::new(*timeouts),
        },
        other => other,
    };
    let start = Instant::now();
    Backoff::default().retry(|_| {
        if start.elapsed() >= timeouts.total {
            return Err(Error::Deadline {
                url: url.to_owned(),
                secs: timeouts.total.as_secs_f64(),
                got: 0,
            });
        }
        let resp = client.get(url).send().map_err(|source| {
            timed_out(Error::Request {
                url: url.to_owned(),
                source,
            })
        })?;
        let status = resp.status().as_u16();
        if !resp.status().is_success() {
            return Err(Error::Status {
                url: url.to_owned(),
                status,
            });
        }
        let len = resp.content_length();
        if let Some(declared) = len.filter(|l| *l > MAX_DOWNLOAD) {
            return Err(Error::TooLarge {
                url: url.to_owned(),
                limit: MAX_DOWNLOAD.min(declared),
                declared: false,
            });
        }
        let body = Limited::new(resp, url, timeouts, start, len);
        save_verified(body, len, save).map_err(timed_out)
    })
}

/// A body read within the download's deadline and size limit: reading past
/// either fails with [`Error::Deadline`] or [`Error::TooLarge`] (carried in
/// the `io::Error`, see [`Limited::error`]).
pub struct Limited<R> {
    inner: R,
    url: String,
    timeouts: Timeouts,
    start: Instant,
    limit: u64,
    declared: bool,
    got: u64,
}

/// Why a [`Limited`] read stopped.
#[derive(Debug, thiserror::Error)]
enum Exceeded {
    #[error("the download's deadline passed")]
    Deadline,
    #[error("the body is larger than allowed")]
    Size,
}

impl<R: Read> Limited<R> {
    /// `inner`, which may take until `start + timeouts.total` and at most
    /// the `declared` length (else [`MAX_DOWNLOAD`]).
    pub fn new(
        inner: R,
        url: &str,
        timeouts: &Timeouts,
        start: Instant,
        declared: Option<u64>,
    ) -> Self {
        Self {
            inner,
            url: url.to_owned(),
            timeouts: *timeouts,
            start,
            limit: declared.unwrap_or(MAX_DOWNLOAD).min(MAX_DOWNLOAD),
            declared: declared.is_some_and(|d| d <= MAX_DOWNLOAD),
            got: 0,
        }
    }

    /// [`Limited::new`] for an answer read into memory: at most [`MAX_TEXT`].
    pub fn text(inner: R, url: &str, timeouts: &Timeouts, declared: Option<u64>) -> Self {
        let mut me = Self::new(inner, url, timeouts, Instant::now(), declared);
        me.limit = me.limit.min(MAX_TEXT);
        // The limit is the declared length only when that is below the cap.
        me.declared &= declared.is_some_and(|d| d <= MAX_TEXT);
        me
    }

    /// The whole body as text (lossy UTF-8).
    pub fn read_text(mut self) -> Result<String, Error> {
        let mut buf = Vec::new();
        self.read_to_end(&mut buf).map_err(|e| self.error(e))?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    /// The crate error for an error of this reader: the deadline and the
    /// size limit as themselves, anything else as a body cut short.
    pub fn error(&self, source: std::io::Error) -> Error {
        match source.get_ref().and_then(|e| e.downcast_ref::<Exceeded>()) {
            Some(Exceeded::Deadline) => Error::Deadline {
                url: self.url.clone(),
                secs: self.timeouts.total.as_secs_f64(),
                got: self.got,
            },
            Some(Exceeded::Size) => Error::TooLarge {
                url: self.url.clone(),
                limit: self.limit,
                declared: self.declared,
            },
            None => Error::Body {
                url: self.url.clone(),
                source,
            },
        }
    }
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.start.elapsed() >= self.timeouts.total {
            return Err(std::io::Error::other(Exceeded::Deadline));
        }
        let n = self.inner.read(buf)?;
        self.got += n as u64;
        if self.got > self.limit {
            return Err(std::io::Error::other(Exceeded::Size));
        }
        Ok(n)
    }
}

/// A check of a finished download (e.g. "is a readable zip"); `Err` says why not.
pub type Validate<'a> = dyn Fn(&Path) -> Result<(), String> + 'a;

/// Where [`download_with`] stores `url` and what the file must pass there.
#[derive(Clone, Copy)]
struct Save<'a> {
    url: &'a str,
    dest: &'a Path,
    expected: Option<&'a str>,
    validate: Option<&'a Validate<'a>>,
    reporter: &'a dyn Reporter,
}

/// Stream `body` to a temp file beside `dest` while hashing it; rename it to
/// `dest` only when the hash matches `expected` (if given).
fn save_verified<R: Read>(
    mut body: Limited<R>,
    len: Option<u64>,
    save: Save<'_>,
) -> Result<Downloaded, Error> {
    let Save {
        url,
        dest,
        expected,
        validate,
        reporter,
    } = save;
    let save_err = |source| Error::Save {
        url: url.to_owned(),
        path: dest.to_owned(),
        source,
    };
    let dir = dest.parent().unwrap_or(Path::new("."));
    let name = url.rsplit('/').next().unwrap_or(url);
    let bar = reporter.progress(name, len, true);
    let mut tmp = tempfile::Builder::new()
        .prefix(".download-")
        .tempfile_in(dir)
        .map_err(save_err)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        // A body cut short is a connection problem: retried like one (a
        // passed deadline or a body too large is not).
        let n = match body.read(&mut buf) {
            Ok(n) => n,
            Err(e) => return Err(body.error(e)),
        };
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        tmp.write_all(&buf[..n]).map_err(save_err)?;
        size += n as u64;
        bar.inc(n as u64);
    }
    bar.finish();
    // A server that announced a length and sent less cut the body short
    // (reqwest reports that only for some transfer encodings).
    if let Some(want) = len.filter(|want| *want != size) {
        return Err(Error::Body {
            url: url.to_owned(),
            source: std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("got {size} of {want} bytes"),
            ),
        });
    }
    let actual = hex::encode(hasher.finalize());
    if let Some(exp) = expected {
        if !exp.eq_ignore_ascii_case(&actual) {
            return Err(Error::HashMismatch {
                url: url.to_owned(),
                expected: exp.to_ascii_lowercase(),
                actual,
            });
        }
    }
    tmp.as_file().sync_all().map_err(save_err)?;
    if let Some(check) = validate {
        check(tmp.path()).map_err(|reason| Error::Invalid {
            url: url.to_owned(),
            size,
            reason,
        })?;
    }
    tmp.persist(dest).map_err(|e| save_err(e.error))?;
    Ok(Downloaded {
        path: dest.to_owned(),
        sha256: actual,
        size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Hint;

    #[test]
    fn file_urls_are_hashed_and_verified() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("a.zip");
        fs_err::write(&src, b"hello").unwrap();
        let url = format!("file://{}", src.display());
        let c = client(&Timeouts::default()).unwrap();
        let r = crate::report::NullReporter;
        let got = download(&c, &url, &d.path().join("out/a.zip"), None, &r).unwrap();
        assert_eq!(got.sha256, crate::fs::sha256_file(&src).unwrap());
        let bad = download(&c, &url, &d.path().join("out/b.zip"), Some("00"), &r).unwrap_err();
        assert!(matches!(bad, Error::HashMismatch { .. }));
        assert!(!d.path().join("out/b.zip").exists());
        let missing = format!("file://{}/nope.zip", d.path().display());
        let e = download(&c, &missing, &d.path().join("out/c.zip"), None, &r).unwrap_err();
        assert!(matches!(e, Error::Status { status: 404, .. }));
    }

    /// A `file://` mirror whose file is a named pipe is refused naming it,
    /// without opening it (the open would wait for a writer forever).
    #[cfg(unix)]
    #[test]
    fn a_file_url_naming_a_named_pipe_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let pipe = d.path().join("cpython.tar.gz");
        crate::fs::test_support::make_fifo(&pipe);
        let url = format!("file://{}", pipe.display());
        let c = client(&Timeouts::default()).unwrap();
        let r = crate::report::NullReporter;
        let e = download(&c, &url, &d.path().join("out/a.tar.gz"), None, &r).unwrap_err();
        assert!(matches!(e, Error::Special(_)), "{e:?}");
        assert!(e.to_string().contains("named pipe"), "{e}");
        assert!(e.hint().unwrap().contains("regular file"), "{:?}", e.hint());
        assert!(!d.path().join("out/a.tar.gz").exists());
    }

    /// A server that sends one byte at a time, never idle long enough for
    /// the read timeout, fails at the download's total deadline, and nothing
    /// is retried after it.
    #[test]
    fn a_trickling_server_fails_at_the_deadline() {
        use std::io::Write as _;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = std::sync::Arc::clone(&served);
        std::thread::spawn(move || {
            for conn in listener.incoming().take(3) {
                let Ok(mut c) = conn else { continue };
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                std::thread::spawn(move || {
                    let _ = c.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\nConnection: close\r\n\r\n",
                    );
                    // At most 30 s: the test's own bound.
                    for _ in 0..300 {
                        if c.write_all(b"x").is_err() {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(100));
                    }
                });
            }
        });
        let d = tempfile::tempdir().unwrap();
        let env = crate::env::Env::from_pairs([
            (crate::env::PYSHIP_HTTP_TIMEOUT, "5"),
            (crate::env::PYSHIP_DOWNLOAD_TIMEOUT, "1.5"),
        ]);
        let timeouts = Timeouts::from_env(&env).unwrap();
        let c = client(&timeouts).unwrap();
        let t = Instant::now();
        let e = download_with(
            &c,
            &timeouts,
            &format!("http://127.0.0.1:{port}/python.tar.gz"),
            &d.path().join("python.tar.gz"),
            None,
            None,
            &crate::report::NullReporter,
        )
        .unwrap_err();
        assert!(matches!(e, Error::Deadline { .. }), "{e:?}");
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        assert!(e.to_string().contains("within 1.5 s"), "{e}");
        assert!(e.hint().unwrap().contains("PYSHIP_DOWNLOAD_TIMEOUT"));
        // Nothing retries past the deadline: no request comes afterwards.
        let after = served.load(std::sync::atomic::Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(1500));
        assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), after);
        assert!(after <= 2, "{after} requests");
        assert!(!d.path().join("python.tar.gz").exists());
    }

    /// A body larger than the length the server declared, or than an answer
    /// read into memory may be, is refused.
    #[test]
    fn a_body_past_its_declared_length_is_refused() {
        let t = Timeouts::default();
        let mut long = Limited::new(&[7u8; 100][..], "http://h/x", &t, Instant::now(), Some(10));
        let mut sink = Vec::new();
        let e = long.read_to_end(&mut sink).unwrap_err();
        assert!(
            matches!(
                long.error(e),
                Error::TooLarge {
                    limit: 10,
                    declared: true,
                    ..
                }
            ),
            "{sink:?}"
        );
        // An answer read into memory stops at MAX_TEXT, which is never called
        // the declared length when the server declared none, or more.
        for declared in [None, Some(MAX_TEXT * 3)] {
            let e = Limited::text(std::io::repeat(b'x'), "http://h/api", &t, declared)
                .read_text()
                .unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::TooLarge {
                        limit: MAX_TEXT,
                        declared: false,
                        ..
                    }
                ),
                "{e}"
            );
            assert!(!e.to_string().contains("declared"), "{e}");
        }
    }

    /// Redirects are followed to https, and to plain http only while the
    /// request never went over https; never more than [`MAX_REDIRECTS`]
    /// times.
    #[test]
    fn redirects_never_go_from_https_to_plain_http() {
        let u = |s: &str| reqwest::Url::parse(s).unwrap();
        let https = [u("https://git.example.com/api/v1/repos/o/r/releases")];
        let http = [u("http://127.0.0.1:3000/api/v1/repos/o/r/releases")];
        assert!(redirect_refusal(&u("https://cdn.example.com/x"), &https).is_none());
        assert!(redirect_refusal(&u("https://git.example.com/y"), &http).is_none());
        assert!(redirect_refusal(&u("http://127.0.0.1:3000/y"), &http).is_none());
        for next in [
            "http://git.example.com:443/api/v1/repos/o/r/releases",
            "http://git.example.com/x",
            "http://127.0.0.1/x",
        ] {
            let r = redirect_refusal(&u(next), &https).unwrap();
            assert!(
                matches!(r, RedirectRefused::Downgrade { .. }),
                "{next}: {r}"
            );
        }
        // Once over https, a later hop back to plain http is refused too.
        let chain = [http[0].clone(), u("https://git.example.com/a")];
        assert!(redirect_refusal(&u("http://git.example.com/b"), &chain).is_some());
        let long = vec![http[0].clone(); MAX_REDIRECTS + 1];
        let r = redirect_refusal(&u("https://git.example.com/z"), &long).unwrap();
        assert!(matches!(r, RedirectRefused::TooMany));
    }

    /// The client the tool builds applies that policy: a server redirecting
    /// to itself forever ends the request with an error that says why; a
    /// redirect to a `file:` URL is not followed (its answer is the 302).
    #[test]
    fn the_client_stops_at_a_refused_redirect() {
        use std::io::{BufRead as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for conn in listener.incoming().take(2 * MAX_REDIRECTS + 4) {
                let Ok(mut c) = conn else { continue };
                let mut first = String::new();
                let _ = std::io::BufReader::new(&c).read_line(&mut first);
                let to = if first.contains("/file") {
                    "file:///etc/passwd".to_owned()
                } else {
                    format!("http://127.0.0.1:{port}/loop")
                };
                let _ = write!(
                    c,
                    "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        let c = client(&Timeouts::default()).unwrap();
        let e = c
            .get(format!("http://127.0.0.1:{port}/loop"))
            .send()
            .unwrap_err();
        assert!(e.is_redirect(), "{e:?}");
        let mut chain = e.to_string();
        let mut cur = std::error::Error::source(&e);
        while let Some(c) = cur {
            chain.push_str(&format!(": {c}"));
            cur = c.source();
        }
        assert!(chain.contains("more than 10 redirects"), "{chain}");
        let r = c
            .get(format!("http://127.0.0.1:{port}/file"))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 302);
        assert_eq!(r.url().path(), "/file");
    }

    #[test]
    fn backoff_is_bounded() {
        let b = Backoff {
            attempts: 10,
            base: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        assert_eq!(b.delay(0), Duration::from_millis(100));
        assert_eq!(b.delay(3), Duration::from_millis(800));
        assert_eq!(b.delay(40), Duration::from_secs(2));
    }
}
