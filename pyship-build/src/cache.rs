//! The download cache: content-addressed, versioned buckets (as uv's `wheels-v0`).
//!
//! A file is stored at `{root}/{bucket}/{sha256}/{file name}`. When the hash is
//! known in advance (a pin or `pyship.lock`), a hit needs no network at all.
//! Files land in the cache by atomic rename, so a crash never leaves a partial
//! file under a valid hash.
//!
//! `cargo pyship cache info` lists the buckets and their sizes;
//! `cargo pyship cache clean [BUCKET]...` removes them ([`Cache::clean`]).
//! Only folders the tool made count as buckets: each holds a [`MARKER`] file
//! written when the tool first writes there. `PYSHIP_CACHE_DIR` may name a
//! folder shared with other programs (`~/.cache`); their folders are never
//! listed nor removed.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::env::{Env, PYSHIP_CACHE_DIR};
use crate::net;
use crate::report::Reporter;

/// Buckets; bump the suffix when the layout of one changes.
pub const RUNTIMES: &str = "runtimes-v0";
pub const DOWNLOADS: &str = "downloads-v0";
/// SHA-256 of files by path, size, modification time and inode ([`Cache::sha256_file`]).
pub const HASHES: &str = "hashes-v0";
/// Markers of site-packages trees that passed the import check.
pub const CHECKS: &str = "checks-v0";
/// The file in each bucket that says the tool made it.
pub const MARKER: &str = ".pyship-bucket";

#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("the cache {root} has no bucket `{}`", crate::error::escaped(.name))]
    #[diagnostic(help("{}", no_bucket_hint(.known)))]
    NoBucket {
        root: PathBuf,
        name: String,
        known: Vec<String>,
    },
    #[error("could not read the cache {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not remove {path} from the cache")]
    #[diagnostic(help(
        "stop builds that use the cache (they hold its files open), then try again"
    ))]
    Remove {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn no_bucket_hint(known: &[String]) -> String {
    if known.is_empty() {
        "the cache is empty: there is nothing to clean".into()
    } else {
        format!(
            "name one of {} (`cargo pyship cache info` lists them), or none to clean all",
            known.join(", ")
        )
    }
}

/// One bucket of the cache and what it holds.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BucketUsage {
    pub name: String,
    pub files: u64,
    pub bytes: u64,
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

    /// The buckets in the cache, by name, with their file count and size
    /// (hard links counted once per link).
    pub fn usage(&self) -> Result<Vec<BucketUsage>, Error> {
        let mut out = Vec::new();
        for name in self.bucket_names()? {
            let dir = self.bucket(&name);
            let (mut files, mut bytes) = (0, 0);
            for e in walkdir::WalkDir::new(&dir) {
                let e = e.map_err(|e| Error::Read {
                    path: dir.clone(),
                    source: std::io::Error::other(e),
                })?;
                if e.file_type().is_file() && !(e.depth() == 1 && e.file_name() == MARKER) {
                    files += 1;
                    bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
                }
            }
            out.push(BucketUsage { name, files, bytes });
        }
        Ok(out)
    }

    fn bucket_names(&self) -> Result<Vec<String>, Error> {
        let mut names = Vec::new();
        match fs_err::read_dir(&self.root) {
            Ok(rd) => {
                for e in rd {
                    let e = e.map_err(|source| Error::Read {
                        path: self.root.clone(),
                        source,
                    })?;
                    // A symlink to a folder is never a bucket (it could
                    // lead anywhere); a folder without the marker is not ours.
                    let ours =
                        e.file_type().is_ok_and(|t| t.is_dir()) && e.path().join(MARKER).is_file();
                    if ours {
                        names.push(e.file_name().to_string_lossy().into_owned());
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(Error::Read {
                    path: self.root.clone(),
                    source,
                })
            }
        }
        names.sort();
        Ok(names)
    }

    /// Remove the named buckets (every bucket when `names` is empty). Returns
    /// what was removed. The cache fills again on the next build.
    pub fn clean(&self, names: &[String]) -> Result<Vec<BucketUsage>, Error> {
        let usage = self.usage()?;
        for n in names {
            if !usage.iter().any(|u| &u.name == n) {
                return Err(Error::NoBucket {
                    root: self.root.clone(),
                    name: n.clone(),
                    known: usage.iter().map(|u| u.name.clone()).collect(),
                });
            }
        }
        let chosen: Vec<BucketUsage> = usage
            .into_iter()
            .filter(|u| names.is_empty() || names.contains(&u.name))
            .collect();
        for u in &chosen {
            let dir = self.bucket(&u.name);
            // A prepared wine prefix has read-only files; on Unix the folder's
            // permission is what counts, elsewhere clear the flag first.
            crate::fs::clear_readonly(&dir);
            fs_err::remove_dir_all(&dir).map_err(|source| Error::Remove {
                path: dir.clone(),
                source,
            })?;
        }
        Ok(chosen)
    }

    /// A bucket directory (created on demand by writers, through
    /// [`Cache::marked`] or [`Cache::staging`]).
    pub fn bucket(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// [`Cache::bucket`], created with its [`MARKER`] if missing: what a
    /// writer asks for. Best effort: a cache that cannot be written fails
    /// later, at the write, with that write's error.
    pub fn marked(&self, name: &str) -> PathBuf {
        let dir = self.bucket(name);
        let marker = dir.join(MARKER);
        if !marker.is_file() && fs_err::create_dir_all(&dir).is_ok() {
            let _ = fs_err::write(
                &marker,
                "made by cargo-pyship: `cargo pyship cache clean` may remove this folder\n",
            );
        }
        dir
    }

    /// `{bucket}/.incoming`: where writers stage an entry before renaming it
    /// into place.
    pub fn incoming(&self, bucket: &str) -> PathBuf {
        self.bucket(bucket).join(".incoming")
    }

    /// A private staging folder in [`Cache::incoming`] of `bucket`, removed
    /// when dropped. It holds its lock while this process runs, so a later
    /// run, in this PID namespace or another, tells a dead run's leftovers
    /// ([`crate::lock::clean_leftovers`]) from a live one's; parallel
    /// writers of one entry never collide.
    pub fn staging(&self, bucket: &str) -> std::io::Result<crate::lock::OwnedDir> {
        self.marked(bucket);
        crate::lock::OwnedDir::new_in(
            &self.incoming(bucket),
            &crate::lock::staging_prefix(),
            false,
        )
    }

    /// SHA-256 of the file at `path`, remembered in the cache ([`HASHES`])
    /// by its canonical path, size, modification time and (on Unix) device
    /// and inode: a wheel a build
    /// hashes again (the project's own, one the SBOM names) is read once.
    pub fn sha256_file(&self, path: &Path) -> std::io::Result<String> {
        let meta = fs_err::metadata(path)?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos());
        let Some(mtime) = mtime else {
            return crate::fs::sha256_file(path);
        };
        let abs = fs_err::canonicalize(path)?;
        // On Unix the file's identity too: a file replaced by another of the
        // same size and time (an unpacker that keeps an archive's times) is a
        // new inode, while the hard links a build makes keep theirs.
        #[cfg(unix)]
        let id = {
            use std::os::unix::fs::MetadataExt;
            format!("{}:{}", meta.dev(), meta.ino())
        };
        #[cfg(not(unix))]
        let id = "";
        let key = crate::fs::sha256_hex(
            format!("{}\n{}\n{mtime}\n{id}", abs.display(), meta.len()).as_bytes(),
        );
        let memo = self.bucket(HASHES).join(key);
        if let Ok(sha) = fs_err::read_to_string(&memo) {
            if crate::fs::is_sha256_hex(&sha) {
                return Ok(sha);
            }
        }
        let sha = crate::fs::sha256_file(path)?;
        // A file changed within its clock's resolution while hashed would be
        // remembered under its new time: never remember a file that young.
        let settled = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|now| now.as_nanos().saturating_sub(mtime) > 2_000_000_000)
            .unwrap_or(false);
        if settled {
            self.marked(HASHES);
            let _ = crate::fs::atomic_write(&memo, sha.as_bytes());
        }
        Ok(sha)
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
        let staging = self.staging(bucket).map_err(|source| net::Error::Save {
            url: url.to_owned(),
            path: self.incoming(bucket),
            source,
        })?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Hint;

    #[test]
    fn clean_removes_the_named_buckets_or_all() {
        let d = tempfile::tempdir().unwrap();
        let c = Cache::at(d.path().join("cache"));
        assert!(c.usage().unwrap().is_empty(), "no cache yet: nothing");
        for (b, f) in [
            ("compressed-v0", "a/x"),
            ("runtimes-v0", "y"),
            ("checks-v0", "z"),
        ] {
            let p = c.marked(b).join(f);
            fs_err::create_dir_all(p.parent().unwrap()).unwrap();
            fs_err::write(&p, b"12345").unwrap();
        }
        let u = c.usage().unwrap();
        assert_eq!(u.len(), 3);
        assert_eq!(u[1].name, "compressed-v0");
        assert_eq!((u[1].files, u[1].bytes), (1, 5));
        let e = c.clean(&["nope".into()]).unwrap_err();
        assert!(e.hint().unwrap().contains("runtimes-v0"), "{:?}", e.hint());
        let removed = c.clean(&["compressed-v0".into()]).unwrap();
        assert_eq!(removed.len(), 1);
        assert!(!c.bucket("compressed-v0").exists());
        assert!(c.bucket("runtimes-v0").exists());
        assert_eq!(c.clean(&[]).unwrap().len(), 2);
        assert!(c.usage().unwrap().is_empty());
    }

    /// A file replaced by another of the same size and modification time
    /// (an unpacker that keeps the archive's times, `cp -p`, `rsync -t`) is
    /// hashed again: on Unix the memo's key has the file's identity too.
    #[cfg(unix)]
    #[test]
    fn a_replaced_file_of_the_same_size_and_time_is_hashed_again() {
        let d = tempfile::tempdir().unwrap();
        let c = Cache::at(d.path().join("cache"));
        let f = d.path().join("m.py");
        let then = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        let write = |path: &Path, text: &str| {
            fs_err::write(path, text).unwrap();
            let file = fs_err::File::options().write(true).open(path).unwrap();
            file.file().set_modified(then).unwrap();
        };
        write(&f, "import abc\n");
        let before = c.sha256_file(&f).unwrap();
        assert_eq!(before, crate::fs::sha256_hex(b"import abc\n"));
        assert!(c.bucket(HASHES).is_dir(), "a settled file is remembered");
        let next = d.path().join("m.py.new");
        write(&next, "import xyz\n");
        fs_err::rename(&next, &f).unwrap();
        assert_eq!(
            c.sha256_file(&f).unwrap(),
            crate::fs::sha256_hex(b"import xyz\n"),
            "same path, size and time, other content: the memo must not answer"
        );
    }

    /// `PYSHIP_CACHE_DIR` pointing at a folder other programs use (`~/.cache`,
    /// `$HOME`): only the folders the tool made are listed and removed.
    #[test]
    fn clean_touches_only_the_tools_own_folders() {
        let home = tempfile::tempdir().unwrap();
        let c = Cache::at(home.path());
        for (dir, file) in [
            ("pip", "http/x"),
            ("uv", "wheels/y"),
            ("Documents", "thesis.odt"),
            // Named like a bucket, but not made by the tool.
            ("runtimes-v0", "mine.txt"),
        ] {
            let p = home.path().join(dir).join(file);
            fs_err::create_dir_all(p.parent().unwrap()).unwrap();
            fs_err::write(&p, "keep me").unwrap();
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink(home.path().join("Documents"), home.path().join("link-v0"))
            .unwrap();
        let ours = c.staging(DOWNLOADS).unwrap();
        fs_err::write(c.bucket(DOWNLOADS).join("f"), "x").unwrap();
        drop(ours);
        let names: Vec<String> = c.usage().unwrap().into_iter().map(|u| u.name).collect();
        assert_eq!(names, [DOWNLOADS]);
        let e = c.clean(&["pip".into()]).unwrap_err();
        assert!(matches!(e, Error::NoBucket { .. }), "{e}");
        let removed = c.clean(&[]).unwrap();
        assert_eq!(removed.len(), 1);
        assert!(!c.bucket(DOWNLOADS).exists());
        for kept in [
            "pip/http/x",
            "uv/wheels/y",
            "Documents/thesis.odt",
            "runtimes-v0/mine.txt",
        ] {
            assert!(home.path().join(kept).is_file(), "{kept} was removed");
        }
    }
}
