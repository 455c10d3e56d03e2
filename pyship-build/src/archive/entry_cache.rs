//! The compressed-entry cache: deflated bytes of archive entries, kept between
//! builds so that a warm rebuild copies them instead of compressing again.
//!
//! Why: deflate is most of a warm bundle's time, and most entries (the
//! runtime, third-party packages) do not change from one build to the next.
//! A record is keyed by the SHA-256 of the uncompressed content, in a folder
//! per compression setting (`{bucket}/{setting}/{aa}/{sha256}`), so a change
//! of level, backend or chunking never reads another setting's bytes. Deflate
//! is deterministic for a given input and setting, so a cached record is the
//! same bytes a cold build would write: the archive stays byte-identical.
//!
//! Records are written through a temp file and renamed, so a crash or a second
//! build at the same time never leaves a partial record under a valid key; a
//! record that fails its length or CRC check is ignored (and rewritten).
//! The bucket is bounded: [`EntryCache::trim`] removes the least recently used
//! records once it holds more than its limit (a hit refreshes a record's
//! mtime), and `cargo pyship cache clean` empties it.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

/// The bucket under the pyship cache; bump the suffix when the record layout changes.
pub const BUCKET: &str = "compressed-v0";
/// Default bound of the bucket: the least recently used records go beyond it.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;
/// A trim brings the bucket down to this share of its limit, so that the
/// next builds do not trim again at once.
const TRIM_TO_PERCENT: u64 = 75;
/// A hit refreshes the record's mtime (its LRU age) at most this often.
const TOUCH_AFTER: Duration = Duration::from_secs(3600);
const MAGIC: &[u8; 8] = b"PSCE\x00\x00\x00\x01";
/// magic, method (u16), crc of the content (u32), content length (u64),
/// crc of the stored bytes (u32).
const HEADER: usize = 8 + 2 + 4 + 8 + 4;

/// One cached entry: how it is stored and the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Zip compression method (0 stored, 8 deflate); for gzip chunks, 8.
    pub method: u16,
    /// CRC-32 of the uncompressed content.
    pub crc: u32,
    /// Length of the uncompressed content.
    pub size: u64,
    /// The bytes written to the archive for this entry.
    pub data: Vec<u8>,
}

/// A compressed-entry cache for one compression setting.
#[derive(Debug)]
pub struct EntryCache {
    bucket: PathBuf,
    dir: PathBuf,
    max_bytes: u64,
    wrote: AtomicBool,
}

/// What a trim removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Trimmed {
    /// Bytes in the bucket before the trim.
    pub before: u64,
    pub removed_files: usize,
    pub removed_bytes: u64,
}

impl EntryCache {
    /// The cache of `setting` (e.g. `zip-deflate-9-zlib-rs`) in `bucket`,
    /// bounded to `max_bytes` over every setting of the bucket.
    pub fn new(bucket: impl Into<PathBuf>, setting: &str, max_bytes: u64) -> Self {
        let bucket = bucket.into();
        Self {
            dir: bucket.join(setting),
            bucket,
            max_bytes,
            wrote: AtomicBool::new(false),
        }
    }

    /// The folder of this setting's records.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(&key[..2.min(key.len())]).join(key)
    }

    /// The record under `key` (a lowercase hex SHA-256), if one is there and intact.
    pub fn get(&self, key: &str) -> Option<Record> {
        let path = self.path(key);
        let mut f = fs_err::File::open(&path).ok()?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).ok()?;
        let record = decode(&buf)?;
        // Refresh the LRU age now and then (a failure only ages the record).
        if let Ok(modified) = f.metadata().and_then(|m| m.modified()) {
            let now = SystemTime::now();
            if now.duration_since(modified).unwrap_or_default() > TOUCH_AFTER {
                let _ = f.file().set_modified(now);
            }
        }
        Some(record)
    }

    /// Store `record` under `key`. Best effort: a cache that cannot be written
    /// (read-only, disk full) only makes the next build slower.
    pub fn put(&self, key: &str, record: &Record) {
        let path = self.path(key);
        let Some(dir) = path.parent() else { return };
        if fs_err::create_dir_all(dir).is_err() {
            return;
        }
        let Ok(mut tmp) = tempfile::Builder::new()
            .prefix(".incoming-")
            .tempfile_in(dir)
        else {
            return;
        };
        if tmp.write_all(&encode(record)).is_err() {
            return;
        }
        if tmp.persist(&path).is_ok() {
            self.wrote.store(true, Ordering::Relaxed);
        }
    }

    /// Whether [`put`](Self::put) stored anything since this cache was opened.
    pub fn wrote(&self) -> bool {
        self.wrote.load(Ordering::Relaxed)
    }

    /// When the bucket holds more than its limit, remove the least recently
    /// used records (every setting) until it holds `TRIM_TO_PERCENT`% of it.
    pub fn trim(&self) -> std::io::Result<Trimmed> {
        trim_dir(&self.bucket, self.max_bytes)
    }
}

/// [`EntryCache::trim`] of a bucket folder.
pub fn trim_dir(bucket: &Path, max_bytes: u64) -> std::io::Result<Trimmed> {
    let mut files = Vec::new();
    let mut total = 0u64;
    if !bucket.is_dir() {
        return Ok(Trimmed::default());
    }
    for e in walkdir::WalkDir::new(bucket) {
        let e = e.map_err(std::io::Error::other)?;
        // The bucket's marker stays: it makes the folder the tool's own.
        if !e.file_type().is_file() || e.file_name() == crate::cache::MARKER {
            continue;
        }
        let m = e.metadata().map_err(std::io::Error::other)?;
        total += m.len();
        files.push((
            m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            m.len(),
            e.into_path(),
        ));
    }
    let mut out = Trimmed {
        before: total,
        ..Default::default()
    };
    if total <= max_bytes {
        return Ok(out);
    }
    let target = max_bytes / 100 * TRIM_TO_PERCENT;
    files.sort();
    let mut left = total;
    for (_, len, path) in files {
        if left <= target {
            break;
        }
        if fs_err::remove_file(&path).is_ok() {
            left -= len;
            out.removed_files += 1;
            out.removed_bytes += len;
        }
    }
    Ok(out)
}

/// Lowercase hex SHA-256 of `bytes`: the key of their record.
pub fn key(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

fn encode(r: &Record) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + r.data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&r.method.to_le_bytes());
    out.extend_from_slice(&r.crc.to_le_bytes());
    out.extend_from_slice(&r.size.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&r.data).to_le_bytes());
    out.extend_from_slice(&r.data);
    out
}

fn decode(buf: &[u8]) -> Option<Record> {
    if buf.len() < HEADER || &buf[..8] != MAGIC {
        return None;
    }
    let u16_at = |i: usize| u16::from_le_bytes(buf[i..i + 2].try_into().expect("2 bytes"));
    let u32_at = |i: usize| u32::from_le_bytes(buf[i..i + 4].try_into().expect("4 bytes"));
    let u64_at = |i: usize| u64::from_le_bytes(buf[i..i + 8].try_into().expect("8 bytes"));
    let data = buf[HEADER..].to_vec();
    if crc32fast::hash(&data) != u32_at(22) {
        return None;
    }
    Some(Record {
        method: u16_at(8),
        crc: u32_at(10),
        size: u64_at(14),
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: usize) -> Record {
        Record {
            method: 8,
            crc: 7,
            size: 100,
            data: vec![b'x'; n],
        }
    }

    #[test]
    fn a_record_comes_back_and_a_damaged_one_does_not() {
        let d = tempfile::tempdir().unwrap();
        let c = EntryCache::new(d.path(), "s", 1 << 20);
        let k = key(b"hello");
        assert_eq!(c.get(&k), None);
        c.put(&k, &record(10));
        assert!(c.wrote());
        assert_eq!(c.get(&k), Some(record(10)));
        // Another setting never sees it.
        assert_eq!(EntryCache::new(d.path(), "t", 1 << 20).get(&k), None);
        // A flipped byte or a truncated file is a miss.
        let p = c.path(&k);
        let mut b = fs_err::read(&p).unwrap();
        *b.last_mut().unwrap() ^= 1;
        fs_err::write(&p, &b).unwrap();
        assert_eq!(c.get(&k), None);
        fs_err::write(&p, &b[..HEADER - 1]).unwrap();
        assert_eq!(c.get(&k), None);
    }

    #[test]
    fn trim_keeps_the_bucket_under_its_limit_oldest_first() {
        let d = tempfile::tempdir().unwrap();
        let c = EntryCache::new(d.path(), "s", 10_000);
        let mut keys = Vec::new();
        for i in 0..20 {
            let k = key(format!("{i}").as_bytes());
            c.put(&k, &record(1000));
            // Oldest first: record i is i hours old... reversed.
            let age = Duration::from_secs(3600 * (20 - i as u64));
            fs_err::File::options()
                .write(true)
                .open(c.path(&k))
                .unwrap()
                .file()
                .set_modified(SystemTime::now() - age)
                .unwrap();
            keys.push(k);
        }
        let t = c.trim().unwrap();
        assert!(t.before > 10_000, "{t:?}");
        let left = t.before - t.removed_bytes;
        assert!(left <= 7_500, "{t:?}");
        // The newest survive, the oldest went.
        assert!(c.get(&keys[19]).is_some());
        assert!(c.get(&keys[0]).is_none());
        // Under the limit: nothing to do.
        assert_eq!(c.trim().unwrap().removed_files, 0);
    }
}
