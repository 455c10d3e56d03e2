//! HTTP: the only place an HTTP client is built, and verified downloads.
//!
//! Downloads stream to a temp file next to their destination while SHA-256 is
//! computed, and are renamed into place only when the hash matches (uv's
//! approach). Connection errors, 429 and 5xx are retried with bounded
//! exponential backoff.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::error::Hint;
use crate::report::Reporter;

/// User agent sent with every request.
pub const USER_AGENT: &str = concat!("cargo-pyship/", env!("CARGO_PKG_VERSION"));

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("could not build the HTTP client")]
    Client(#[source] reqwest::Error),
    #[error("request to {url} failed")]
    Request {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("the download of {url} was cut short")]
    Body {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("SHA-256 of {url} is {actual}, expected {expected}")]
    HashMismatch {
        url: String,
        expected: String,
        actual: String,
    },
    #[error("could not save the download of {url} to {path}")]
    Save {
        url: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
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

impl Hint for Error {
    fn hint(&self) -> Option<String> {
        match self {
            Error::HashMismatch { .. } => Some(
                "the download does not match the pinned hash: the mirror serves a different or tampered file; nothing was extracted. If the new file is trusted, update the pin (python-sha256 or pyship.lock)"
                    .into(),
            ),
            Error::Status { status: 404, .. } => {
                Some("check the URL, the version and the mirror setting".into())
            }
            Error::Request { .. } => {
                Some("check the network connection, the proxy settings and the URL".into())
            }
            _ => None,
        }
    }
}

/// Build the one HTTP client configuration the tool uses.
pub fn client() -> Result<reqwest::blocking::Client, Error> {
    reqwest::blocking::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(Duration::from_secs(30))
        .timeout(None)
        .build()
        .map_err(Error::Client)
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

    /// Run `f` until it succeeds, fails permanently, or attempts run out.
    pub fn retry<T>(&self, mut f: impl FnMut(u32) -> Result<T, Error>) -> Result<T, Error> {
        let mut n = 0;
        loop {
            match f(n) {
                Err(e) if e.is_transient() && n + 1 < self.attempts => {
                    std::thread::sleep(self.delay(n));
                    n += 1;
                }
                other => return other,
            }
        }
    }
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
    let dir = dest.parent().unwrap_or(Path::new("."));
    fs_err::create_dir_all(dir).map_err(|source| Error::Save {
        url: url.to_owned(),
        path: dest.to_owned(),
        source,
    })?;
    // A local mirror (`file:///srv/python`): same hashing, same verification.
    if let Some(path) = url.strip_prefix("file://") {
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
        return save_verified(file, len, url, dest, expected, reporter);
    }
    Backoff::default().retry(|_| {
        let resp = client.get(url).send().map_err(|source| Error::Request {
            url: url.to_owned(),
            source,
        })?;
        let status = resp.status().as_u16();
        if !resp.status().is_success() {
            return Err(Error::Status {
                url: url.to_owned(),
                status,
            });
        }
        let len = resp.content_length();
        save_verified(resp, len, url, dest, expected, reporter)
    })
}

/// Stream `body` to a temp file beside `dest` while hashing it; rename it to
/// `dest` only when the hash matches `expected` (if given).
fn save_verified(
    mut body: impl Read,
    len: Option<u64>,
    url: &str,
    dest: &Path,
    expected: Option<&str>,
    reporter: &dyn Reporter,
) -> Result<Downloaded, Error> {
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
        // A body cut short is a connection problem: retried like one.
        let n = body.read(&mut buf).map_err(|source| Error::Body {
            url: url.to_owned(),
            source,
        })?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        tmp.write_all(&buf[..n]).map_err(save_err)?;
        size += n as u64;
        bar.inc(n as u64);
    }
    bar.finish();
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
    tmp.persist(dest).map_err(|e| save_err(e.error))?;
    Ok(Downloaded {
        path: dest.to_owned(),
        sha256: actual,
        size,
    })
}

/// SHA-256 of a file, as lowercase hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = fs_err::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls_are_hashed_and_verified() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("a.zip");
        fs_err::write(&src, b"hello").unwrap();
        let url = format!("file://{}", src.display());
        let c = client().unwrap();
        let r = crate::report::NullReporter;
        let got = download(&c, &url, &d.path().join("out/a.zip"), None, &r).unwrap();
        assert_eq!(got.sha256, sha256_file(&src).unwrap());
        let bad = download(&c, &url, &d.path().join("out/b.zip"), Some("00"), &r).unwrap_err();
        assert!(matches!(bad, Error::HashMismatch { .. }));
        assert!(!d.path().join("out/b.zip").exists());
        let missing = format!("file://{}/nope.zip", d.path().display());
        let e = download(&c, &missing, &d.path().join("out/c.zip"), None, &r).unwrap_err();
        assert!(matches!(e, Error::Status { status: 404, .. }));
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
