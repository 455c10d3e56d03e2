//! The download cache: content-addressed, versioned buckets (as uv's `wheels-v0`).
//!
//! A file is stored at `{root}/{bucket}/{sha256}/{file name}`. When the hash is
//! known in advance (a pin or `pyship.lock`), a hit needs no network at all.
//! Files land in the cache by atomic rename, so a crash never leaves a partial
//! file under a valid hash.

use std::path::{Path, PathBuf};

use crate::env::{Env, PYSHIP_CACHE_DIR};
use crate::net;
use crate::report::Reporter;

/// Buckets; bump the suffix when the layout of one changes.
pub const RUNTIMES: &str = "runtimes-v0";
pub const DOWNLOADS: &str = "downloads-v0";
/// Markers of site-packages trees that passed the import check.
pub const CHECKS: &str = "checks-v0";

#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// `PYSHIP_CACHE_DIR`, else the platform cache dir + `/pyship`.
    pub fn from_env(env: &Env) -> Self {
        let root = env
            .get(PYSHIP_CACHE_DIR)
            .map(PathBuf::from)
            .or_else(|| dirs::cache_dir().map(|d| d.join("pyship")))
            .unwrap_or_else(|| std::env::temp_dir().join("pyship-cache"));
        Self { root }
    }

    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A bucket directory (created on demand by writers).
    pub fn bucket(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Where a file with this hash and name lives in `bucket`.
    pub fn entry(&self, bucket: &str, sha256: &str, file_name: &str) -> PathBuf {
        self.bucket(bucket)
            .join(sha256.to_ascii_lowercase())
            .join(file_name)
    }

    /// Fetch `url` into `bucket`. With `expected`, a cached copy is used without
    /// any request; without it, the file is downloaded and stored under the hash
    /// it turned out to have. A mismatch with `expected`, or a file `validate`
    /// refuses, is an error and nothing is stored.
    #[allow(clippy::too_many_arguments)]
    pub fn fetch(
        &self,
        client: &reqwest::blocking::Client,
        timeouts: &net::Timeouts,
        bucket: &str,
        url: &str,
        expected: Option<&str>,
        validate: Option<&net::Validate<'_>>,
        reporter: &dyn Reporter,
    ) -> Result<net::Downloaded, net::Error> {
        let file_name = url
            .rsplit('/')
            .next()
            .filter(|s| !s.is_empty())
            .unwrap_or("download");
        if let Some(sha) = expected {
            let hit = self.entry(bucket, sha, file_name);
            if let Ok(meta) = fs_err::metadata(&hit) {
                // Re-hash: the cache lives on disk the user may touch.
                if crate::fs::sha256_file(&hit).ok().as_deref() == Some(&sha.to_ascii_lowercase()) {
                    reporter.debug(&format!("cache hit: {}", hit.display()));
                    return Ok(net::Downloaded {
                        path: hit,
                        sha256: sha.to_ascii_lowercase(),
                        size: meta.len(),
                    });
                }
            }
        }
        let incoming = self.bucket(bucket).join(".incoming");
        let save_in = |source| net::Error::Save {
            url: url.to_owned(),
            path: incoming.clone(),
            source,
        };
        fs_err::create_dir_all(&incoming).map_err(save_in)?;
        // A private staging dir, so parallel fetches of one URL never collide.
        // Named by pid, so a later run can tell a dead run's leftovers
        // (crate::lock::clean_leftovers) from a live one's.
        let staging = tempfile::Builder::new()
            .prefix(&crate::lock::staging_prefix())
            .tempdir_in(&incoming)
            .map_err(save_in)?;
        let got = net::download_with(
            client,
            timeouts,
            url,
            &staging.path().join(file_name),
            expected,
            validate,
            reporter,
        )?;
        let dest = self.entry(bucket, &got.sha256, file_name);
        let save = |source| net::Error::Save {
            url: url.to_owned(),
            path: dest.clone(),
            source,
        };
        fs_err::create_dir_all(dest.parent().expect("entry has a parent")).map_err(save)?;
        fs_err::rename(&got.path, &dest).map_err(save)?;
        Ok(net::Downloaded { path: dest, ..got })
    }
}
