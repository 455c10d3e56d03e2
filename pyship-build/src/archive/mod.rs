//! Stage: pack a bundle tree into a deterministic zip (Windows) or tar.gz (Linux).
//!
//! Why deterministic: the same inputs must give byte-identical artifacts, so a
//! checksum in a release proves what was built. Entries are sorted, every
//! mtime is the plan's epoch (`SOURCE_DATE_EPOCH`, else the commit time of HEAD, else 1980-01-01, the zip epoch), owners are
//! 0, and Unix modes come from what an entry is (see [`file_mode`]), never from
//! the host file system: a Windows host has no exec bit to read, and the same
//! inputs must give the same bytes on a Linux and a Windows host.
//! Everything sits under one top-level folder `{name}/`.
//!
//! The zip writer is our own (the format is small: local headers, a central
//! directory, an end record) so entries can be deflated in parallel on a rayon
//! pool and then written in a fixed order: the output is identical at any
//! thread count. An entry is stored when deflating does not make it smaller
//! (the stdlib `.zip`, wheels, images), which is also faster to unpack.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

pub mod entry_cache;
pub mod gzip;

use std::sync::Arc;

pub use entry_cache::EntryCache;

use crate::context::Context;
use crate::plan::Plan;
use crate::platform::{ArchiveFormat, Platform};

use crate::dates::civil_from_days;
pub use crate::dates::ZIP_EPOCH;

/// Files larger than 4 GiB or more than 65535 entries would need ZIP64.
const ZIP_MAX: u64 = u32::MAX as u64;

/// How many files are compressed per parallel batch (bounds memory).
const BATCH: usize = 256;

/// The deflate level of zip entries: the highest. zlib-rs at 6 made the hello
/// bundle's zip 2% larger than `zip -r` (system zlib at 6) does; at 9 it is
/// 3% smaller (28.2 MB instead of 29.0 MB of entries). It costs about 2.6x
/// the deflate time, once: warm builds read the compressed-entry cache, and a
/// cold archive runs beside the longer import check. Part of
/// [`ZIP_SETTING`]: change both together.
const ZIP_LEVEL: u32 = 9;
/// The compressed-entry cache setting of zip entries (format, level, backend).
pub const ZIP_SETTING: &str = "zip-deflate-9-zlib-rs";
/// The deflate level of gzip chunks (zlib's default): the Linux tarball is
/// built on every warm Linux run from cached chunks, and 6 keeps a cold one
/// fast. Part of [`gzip::SETTING`]: change both together.
const GZIP_LEVEL: u32 = 6;
/// Entries smaller than this are deflated every time: reading a cached record
/// costs about as much as deflating them, and each would take an inode.
const MIN_CACHED: usize = 4096;

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Entry mtime (seconds since the epoch); `None`: [`ZIP_EPOCH`].
    pub mtime: Option<u64>,
    /// Compression threads; `None`: rayon's default (one per core).
    pub threads: Option<usize>,
    /// The compressed-entry cache folder (`None`: compress every entry).
    /// The output is the same bytes with or without it.
    pub cache: Option<PathBuf>,
}

impl Options {
    /// Options for a run: the plan's epoch (`SOURCE_DATE_EPOCH`, else the
    /// commit time), the compressed-entry cache in the pyship cache.
    pub fn for_plan(plan: &Plan, ctx: &Context<'_>) -> Self {
        Self {
            mtime: Some(plan.epoch.seconds),
            threads: None,
            cache: Some(ctx.cache.marked(entry_cache::BUCKET)),
        }
    }

    fn entry_cache(&self, setting: &str) -> Option<Arc<EntryCache>> {
        self.cache.as_ref().map(|dir| {
            Arc::new(EntryCache::new(
                dir,
                setting,
                entry_cache::DEFAULT_MAX_BYTES,
            ))
        })
    }
}

/// A written archive.
#[derive(Debug, Clone, Serialize)]
pub struct Archived {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
    pub entries: usize,
    pub format: ArchiveFormat,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("could not read {path} while packing")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not write {path}")]
    #[diagnostic(help("check that the output directory is writable and the disk is not full"))]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is too large for a zip without ZIP64 (over 4 GiB or 65535 entries)")]
    #[diagnostic(help(
        "strip the bundle: `presets` and `remove` in the `strip` table of the pyship config"
    ))]
    TooLarge { path: PathBuf },
    #[error("could not start {threads} compression threads")]
    Pool {
        threads: usize,
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Fs(#[from] crate::fs::Error),
}

/// One entry of the tree, in archive order.
#[derive(Debug, Clone)]
struct Entry {
    /// `{top}/a/b`, `/`-separated (directories end without a slash here).
    name: String,
    path: PathBuf,
    kind: Kind,
    mode: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    Symlink(PathBuf),
}

/// Walk `tree` in sorted order. `keep_links`: symlinks become link entries
/// (tar); otherwise they are followed (zip, which Windows cannot link).
fn entries(tree: &Path, top: &str, keep_links: bool) -> Result<Vec<Entry>, Error> {
    let mut out = vec![Entry {
        name: top.to_owned(),
        path: tree.to_owned(),
        kind: Kind::Dir,
        mode: 0o755,
    }];
    let walk = walkdir::WalkDir::new(tree)
        .min_depth(1)
        .follow_links(!keep_links)
        .sort_by_file_name();
    for e in walk {
        let e = e.map_err(|e| Error::Read {
            path: e
                .path()
                .map(Path::to_owned)
                .unwrap_or_else(|| tree.to_owned()),
            source: std::io::Error::other(e.to_string()),
        })?;
        let rel = e.path().strip_prefix(tree).expect("below root");
        let name = format!(
            "{top}/{}",
            rel.components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/")
        );
        let read_err = |source| Error::Read {
            path: e.path().to_owned(),
            source,
        };
        let ft = e.file_type();
        let (kind, mode) = if ft.is_symlink() {
            let target = fs_err::read_link(e.path()).map_err(read_err)?;
            (Kind::Symlink(target), 0o777)
        } else if ft.is_dir() {
            (Kind::Dir, 0o755)
        } else {
            let mut head = [0u8; 4];
            let n = fs_err::File::open(e.path())
                .and_then(|mut f| read_head(&mut f, &mut head))
                .map_err(read_err)?;
            (Kind::File, file_mode(&name, &head[..n]))
        };
        out.push(Entry {
            name,
            path: e.path().to_owned(),
            kind,
            mode,
        });
    }
    Ok(out)
}

/// Read up to `buf.len()` bytes (fewer only at the end of the file).
fn read_head(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Launch scripts, by extension: the Linux `run.sh` and service scripts, the
/// Windows `start.bat` / `start-hidden.vbs`.
const LAUNCH_SCRIPTS: &[&str] = &[".sh", ".bat", ".cmd", ".vbs", ".ps1"];

/// The Unix mode of a file entry from what it is: its name and first bytes.
///
/// 0755 for launch scripts (`LAUNCH_SCRIPTS`, or a `#!` script that is not a
/// Python module) and ELF files (the Linux runtime's `python3`, shared
/// libraries, which manylinux wheels and python-build-standalone ship 0755);
/// 0644 for everything else, Windows `.exe`/`.dll`/`.pyd` included (a PE file
/// has no Unix exec bit to keep). The host file system is never asked: a
/// Windows host has no exec bit, and the archive must not depend on the host.
pub fn file_mode(name: &str, head: &[u8]) -> u32 {
    let lower = name.to_ascii_lowercase();
    let script = LAUNCH_SCRIPTS.iter().any(|s| lower.ends_with(s))
        || (head.starts_with(b"#!") && !lower.ends_with(".py") && !lower.ends_with(".pyw"));
    let elf = head.starts_with(b"\x7fELF");
    if script || elf {
        0o755
    } else {
        0o644
    }
}

/// Write `dest` through [`crate::fs::atomic_write_with`], creating its folder.
fn write_atomically(
    dest: &Path,
    f: impl FnOnce(&mut dyn Write) -> Result<(), Error>,
) -> Result<(), Error> {
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs_err::create_dir_all(dir).map_err(|source| Error::Write {
            path: dest.to_owned(),
            source,
        })?;
    }
    crate::fs::atomic_write_with(dest, f)
}

/// Extensions whose contents are already compressed: stored without trying.
const STORED: &[&str] = &[
    ".zip", ".whl", ".gz", ".bz2", ".xz", ".7z", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".ico",
];

/// A file ready to be written: compressed (or stored) data and its header facts.
struct Packed {
    crc: u32,
    size: u64,
    method: u16,
    data: Vec<u8>,
}

fn pack(entry: &Entry, cache: Option<&EntryCache>) -> Result<Packed, Error> {
    let mut raw = Vec::new();
    fs_err::File::open(&entry.path)
        .and_then(|mut f| f.read_to_end(&mut raw))
        .map_err(|source| Error::Read {
            path: entry.path.clone(),
            source,
        })?;
    let crc = crc32fast::hash(&raw);
    let size = raw.len() as u64;
    let lower = entry.name.to_ascii_lowercase();
    if STORED.iter().any(|s| lower.ends_with(s)) || raw.is_empty() {
        return Ok(Packed {
            crc,
            size,
            method: 0,
            data: raw,
        });
    }
    let cache = cache.filter(|_| raw.len() >= MIN_CACHED);
    let key = cache.map(|_| entry_cache::key(&raw));
    if let (Some(cache), Some(key)) = (cache, &key) {
        // A record whose facts disagree with the content is not used.
        if let Some(r) = cache.get(key).filter(|r| r.crc == crc && r.size == size) {
            let data = match r.method {
                8 => r.data,
                _ => raw,
            };
            return Ok(Packed {
                crc,
                size,
                method: r.method,
                data,
            });
        }
    }
    let deflated = deflate(&raw);
    let packed = if deflated.len() < raw.len() {
        Packed {
            crc,
            size,
            method: 8,
            data: deflated,
        }
    } else {
        Packed {
            crc,
            size,
            method: 0,
            data: raw,
        }
    };
    if let (Some(cache), Some(key)) = (cache, &key) {
        // A stored entry is recorded without its bytes: they are the content.
        let data = if packed.method == 8 {
            packed.data.clone()
        } else {
            Vec::new()
        };
        cache.put(
            key,
            &entry_cache::Record {
                method: packed.method,
                crc,
                size,
                data,
            },
        );
    }
    Ok(packed)
}

/// Raw deflate of `raw` at [`ZIP_LEVEL`].
fn deflate(raw: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(raw.len() / 2),
        flate2::Compression::new(ZIP_LEVEL),
    );
    enc.write_all(raw).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

/// MS-DOS date and time of `secs` (UTC), clamped to 1980..=2107.
pub fn dos_datetime(secs: u64) -> (u16, u16) {
    let secs = secs.max(ZIP_EPOCH);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    if year > 2107 {
        return (0xFF9F, 0xBF7D); // 2107-12-31 23:59:58
    }
    let date = (((year - 1980) as u16) << 9) | ((month as u16) << 5) | day as u16;
    let time = (((rem / 3600) as u16) << 11)
        | ((((rem % 3600) / 60) as u16) << 5)
        | ((rem % 60) / 2) as u16;
    (date, time)
}

/// The compression thread pool of `opts`.
fn pool(opts: &Options) -> Result<rayon::ThreadPool, Error> {
    let mut b = rayon::ThreadPoolBuilder::new();
    if let Some(n) = opts.threads {
        b = b.num_threads(n);
    }
    b.build().map_err(|source| Error::Pool {
        threads: opts.threads.unwrap_or(0),
        source,
    })
}

/// Write `tree` as a deterministic zip at `dest`, every entry under `top/`.
pub fn write_zip(tree: &Path, top: &str, dest: &Path, opts: &Options) -> Result<usize, Error> {
    let list = entries(tree, top, false)?;
    if list.len() > 0xFFFF {
        return Err(Error::TooLarge {
            path: dest.to_owned(),
        });
    }
    let pool = pool(opts)?;
    let (date, time) = dos_datetime(opts.mtime.unwrap_or(ZIP_EPOCH));
    let cache = opts.entry_cache(ZIP_SETTING);
    let werr = |source| Error::Write {
        path: dest.to_owned(),
        source,
    };
    let too_large = || Error::TooLarge {
        path: dest.to_owned(),
    };
    write_atomically(dest, |w| {
        let mut central = Vec::new();
        let mut offset: u64 = 0;
        for batch in list.chunks(BATCH) {
            let packed: Vec<Option<Packed>> = pool.install(|| {
                use rayon::prelude::*;
                batch
                    .par_iter()
                    .map(|e| match e.kind {
                        Kind::File | Kind::Symlink(_) => pack(e, cache.as_deref()).map(Some),
                        Kind::Dir => Ok(None),
                    })
                    .collect::<Result<_, _>>()
            })?;
            for (e, p) in batch.iter().zip(packed) {
                let is_dir = e.kind == Kind::Dir;
                let name = if is_dir {
                    format!("{}/", e.name)
                } else {
                    e.name.clone()
                };
                let (crc, csize, usize_, method, data) = match &p {
                    Some(p) => (
                        p.crc,
                        p.data.len() as u64,
                        p.size,
                        p.method,
                        p.data.as_slice(),
                    ),
                    None => (0, 0, 0, 0, &[][..]),
                };
                if csize > ZIP_MAX || usize_ > ZIP_MAX || offset > ZIP_MAX {
                    return Err(too_large());
                }
                let flags: u16 = if name.is_ascii() { 0 } else { 0x0800 };
                let mut local = Vec::with_capacity(30 + name.len());
                local.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
                local.extend_from_slice(&20u16.to_le_bytes());
                local.extend_from_slice(&flags.to_le_bytes());
                local.extend_from_slice(&method.to_le_bytes());
                local.extend_from_slice(&time.to_le_bytes());
                local.extend_from_slice(&date.to_le_bytes());
                local.extend_from_slice(&crc.to_le_bytes());
                local.extend_from_slice(&(csize as u32).to_le_bytes());
                local.extend_from_slice(&(usize_ as u32).to_le_bytes());
                local.extend_from_slice(&(name.len() as u16).to_le_bytes());
                local.extend_from_slice(&0u16.to_le_bytes());
                local.extend_from_slice(name.as_bytes());
                w.write_all(&local).map_err(werr)?;
                w.write_all(data).map_err(werr)?;

                let unix_type = if is_dir { 0o040000 } else { 0o100000 };
                let external = ((unix_type | e.mode) << 16) | if is_dir { 0x10 } else { 0 };
                central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
                central.extend_from_slice(&((3u16 << 8) | 20).to_le_bytes());
                central.extend_from_slice(&20u16.to_le_bytes());
                central.extend_from_slice(&flags.to_le_bytes());
                central.extend_from_slice(&method.to_le_bytes());
                central.extend_from_slice(&time.to_le_bytes());
                central.extend_from_slice(&date.to_le_bytes());
                central.extend_from_slice(&crc.to_le_bytes());
                central.extend_from_slice(&(csize as u32).to_le_bytes());
                central.extend_from_slice(&(usize_ as u32).to_le_bytes());
                central.extend_from_slice(&(name.len() as u16).to_le_bytes());
                central.extend_from_slice(&[0; 8]); // extra len, comment len, disk, internal attrs
                central.extend_from_slice(&external.to_le_bytes());
                central.extend_from_slice(&(offset as u32).to_le_bytes());
                central.extend_from_slice(name.as_bytes());
                offset += local.len() as u64 + csize;
            }
        }
        if offset + central.len() as u64 > ZIP_MAX {
            return Err(too_large());
        }
        w.write_all(&central).map_err(werr)?;
        let mut end = Vec::with_capacity(22);
        end.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        end.extend_from_slice(&[0; 4]);
        end.extend_from_slice(&(list.len() as u16).to_le_bytes());
        end.extend_from_slice(&(list.len() as u16).to_le_bytes());
        end.extend_from_slice(&(central.len() as u32).to_le_bytes());
        end.extend_from_slice(&(offset as u32).to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes());
        w.write_all(&end).map_err(werr)
    })?;
    if let Some(cache) = cache.filter(|c| c.wrote()) {
        // Bounded: a failed trim only leaves the cache larger until the next one.
        let _ = cache.trim();
    }
    Ok(list.len())
}

/// Write `tree` as a deterministic `.tar.gz` at `dest`, every entry under `top/`.
/// Symlinks stay symlinks; modes are kept (normalised to 0644/0755).
pub fn write_tar_gz(tree: &Path, top: &str, dest: &Path, opts: &Options) -> Result<usize, Error> {
    write_tar_gz_reporting(tree, top, dest, opts, &crate::report::NullReporter)
}

/// [`write_tar_gz`] with a progress bar of the bytes packed. The gzip stream is
/// compressed in parallel chunks ([`gzip`]), the same bytes at any thread count.
pub fn write_tar_gz_reporting(
    tree: &Path,
    top: &str,
    dest: &Path,
    opts: &Options,
    reporter: &dyn crate::report::Reporter,
) -> Result<usize, Error> {
    let list = entries(tree, top, true)?;
    let total: u64 = list
        .iter()
        .filter(|e| e.kind == Kind::File)
        .filter_map(|e| fs_err::metadata(&e.path).ok())
        .map(|m| m.len())
        .sum();
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bar = reporter.progress(&format!("gzip {name}"), Some(total), true);
    let mtime = opts.mtime.unwrap_or(ZIP_EPOCH);
    let pool = pool(opts)?;
    let cache = opts
        .cache
        .as_ref()
        .map(|dir| Arc::new(gzip::chunk_cache(dir)));
    let werr = |source| Error::Write {
        path: dest.to_owned(),
        source,
    };
    write_atomically(dest, |w| {
        let gz = gzip::ParGzEncoder::new(w, pool, GZIP_LEVEL, cache.clone()).map_err(werr)?;
        let mut tar = tar::Builder::new(gz);
        tar.mode(tar::HeaderMode::Deterministic);
        for e in &list {
            let mut h = tar::Header::new_gnu();
            h.set_mtime(mtime);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mode(e.mode);
            match &e.kind {
                Kind::Dir => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    tar.append_data(&mut h, format!("{}/", e.name), std::io::empty())
                        .map_err(werr)?;
                }
                Kind::Symlink(target) => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_size(0);
                    tar.append_link(&mut h, &e.name, target).map_err(werr)?;
                }
                Kind::File => {
                    let f = fs_err::File::open(&e.path).map_err(|source| Error::Read {
                        path: e.path.clone(),
                        source,
                    })?;
                    let len = f
                        .metadata()
                        .map_err(|source| Error::Read {
                            path: e.path.clone(),
                            source,
                        })?
                        .len();
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(len);
                    tar.append_data(&mut h, &e.name, f).map_err(werr)?;
                    bar.inc(len);
                }
            }
        }
        let gz = tar.into_inner().map_err(werr)?;
        gz.finish().map_err(werr)?;
        bar.finish();
        Ok(())
    })?;
    if let Some(cache) = cache.filter(|c| c.wrote()) {
        let _ = cache.trim();
    }
    Ok(list.len())
}

/// Pack the bundle tree of `platform` into its artifact (path from the plan).
pub fn run(
    plan: &Plan,
    platform: Platform,
    tree: &Path,
    ctx: &Context<'_>,
) -> Result<Archived, Error> {
    let artifact = final_path(plan, platform);
    ctx.reporter
        .status("Packing", &artifact.display().to_string());
    run_to(plan, platform, tree, &artifact, ctx)
}

/// Where the archive of `platform` ends up.
pub fn final_path(plan: &Plan, platform: Platform) -> PathBuf {
    plan.artifact(crate::plan::ArtifactKind::Bundle, Some(platform))
        .map(|a| a.path.clone())
        .unwrap_or_else(|| {
            plan.out_dir.join(format!(
                "{}-{}-{}",
                plan.file_name,
                plan.version.version.tag(),
                platform.artifact_suffix()
            ))
        })
}

/// Pack the bundle tree of `platform` into `artifact` (the bundle stage packs
/// into a temporary name and renames once every check passed).
pub fn run_to(
    plan: &Plan,
    platform: Platform,
    tree: &Path,
    artifact: &Path,
    ctx: &Context<'_>,
) -> Result<Archived, Error> {
    let artifact = artifact.to_owned();
    let opts = Options::for_plan(plan, ctx);
    let format = platform.archive_format();
    let entries = match format {
        ArchiveFormat::Zip => write_zip(tree, &plan.file_name, &artifact, &opts)?,
        ArchiveFormat::TarGz => {
            write_tar_gz_reporting(tree, &plan.file_name, &artifact, &opts, ctx.reporter)?
        }
    };
    let read = |source| Error::Read {
        path: artifact.clone(),
        source,
    };
    let size = fs_err::metadata(&artifact).map_err(read)?.len();
    let sha256 = crate::fs::sha256_file(&artifact).map_err(read)?;
    Ok(Archived {
        path: artifact,
        size,
        sha256,
        entries,
        format,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn sample_tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs_err::create_dir_all(r.join("python/Lib/site-packages/pkg")).unwrap();
        fs_err::create_dir_all(r.join("empty")).unwrap();
        fs_err::write(r.join("python/python311._pth"), "python311.zip\r\n.\r\n").unwrap();
        for i in 0..600 {
            // More than one batch, text (deflated) and random-ish (stored).
            let body: Vec<u8> = if i % 3 == 0 {
                (0..2000u32)
                    .map(|x| (x.wrapping_mul(2_654_435_761).wrapping_add(i) >> 13) as u8)
                    .collect()
            } else {
                format!("print('file {i}')\n").repeat(50).into_bytes()
            };
            fs_err::write(
                r.join(format!("python/Lib/site-packages/pkg/m{i:03}.py")),
                body,
            )
            .unwrap();
        }
        fs_err::write(r.join("python/stdlib.zip"), b"PK\x05\x06 not really").unwrap();
        fs_err::write(r.join("empty.txt"), b"").unwrap();
        fs_err::write(r.join("run.sh"), b"#!/bin/sh\necho hi\n").unwrap();
        d
    }

    fn tree_files(root: &Path) -> BTreeMap<String, Vec<u8>> {
        walkdir::WalkDir::new(root)
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                let rel = e
                    .path()
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                (rel, fs_err::read(e.path()).unwrap())
            })
            .collect()
    }

    #[test]
    fn zip_is_byte_identical_at_any_thread_count() {
        let t = sample_tree();
        let out = tempfile::tempdir().unwrap();
        let (a, b) = (out.path().join("a.zip"), out.path().join("b.zip"));
        write_zip(
            t.path(),
            "App",
            &a,
            &Options {
                mtime: Some(1_700_000_000),
                threads: Some(1),
                cache: None,
            },
        )
        .unwrap();
        write_zip(
            t.path(),
            "App",
            &b,
            &Options {
                mtime: Some(1_700_000_000),
                threads: Some(4),
                cache: None,
            },
        )
        .unwrap();
        assert_eq!(fs_err::read(&a).unwrap(), fs_err::read(&b).unwrap());
    }

    /// The compressed-entry cache never changes the output: cold (no cache),
    /// first run (filling it) and warm (reading it) give the same bytes, at
    /// one thread and at four, for the zip and the tar.gz.
    #[test]
    fn cached_entries_give_byte_identical_archives_at_any_thread_count() {
        let t = sample_tree();
        // Large enough entries to be cached (MIN_CACHED), compressible and not.
        for i in 0..8u32 {
            let body: Vec<u8> = if i % 2 == 0 {
                format!("big module {i}\n").repeat(2000).into_bytes()
            } else {
                (0..20_000u32)
                    .map(|x| (x.wrapping_mul(2_654_435_761).wrapping_add(i) >> 11) as u8)
                    .collect()
            };
            fs_err::write(t.path().join(format!("python/big{i}.bin")), body).unwrap();
        }
        let out = tempfile::tempdir().unwrap();
        let cache = out.path().join("cache");
        let opts = |threads, cache: Option<&Path>| Options {
            mtime: Some(1_700_000_000),
            threads: Some(threads),
            cache: cache.map(Path::to_owned),
        };
        for (ext, write) in [
            (
                "zip",
                write_zip as fn(&Path, &str, &Path, &Options) -> Result<usize, Error>,
            ),
            ("tar.gz", write_tar_gz),
        ] {
            let cold = out.path().join(format!("cold.{ext}"));
            write(t.path(), "App", &cold, &opts(1, None)).unwrap();
            let cold = fs_err::read(&cold).unwrap();
            for (run, threads) in [("fill", 4), ("warm1", 1), ("warm4", 4)] {
                let p = out.path().join(format!("{run}.{ext}"));
                write(t.path(), "App", &p, &opts(threads, Some(&cache))).unwrap();
                assert!(
                    fs_err::read(&p).unwrap() == cold,
                    "{ext} {run} differs from the cold archive"
                );
            }
        }
        // The zip's records are there, one per cached entry.
        let zip_records = walkdir::WalkDir::new(cache.join(ZIP_SETTING))
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .count();
        assert_eq!(zip_records, 8);
        // A damaged record is not used: the output is still the cold one.
        for e in walkdir::WalkDir::new(cache.join(ZIP_SETTING)) {
            let e = e.unwrap();
            if e.file_type().is_file() {
                let mut b = fs_err::read(e.path()).unwrap();
                let n = b.len();
                b[n - 1] ^= 0x55;
                fs_err::write(e.path(), b).unwrap();
            }
        }
        let p = out.path().join("damaged.zip");
        write_zip(t.path(), "App", &p, &opts(2, Some(&cache))).unwrap();
        assert_eq!(
            fs_err::read(&p).unwrap(),
            fs_err::read(out.path().join("cold.zip")).unwrap()
        );
    }

    #[test]
    fn zip_extracts_back_to_the_same_tree() {
        let t = sample_tree();
        let out = tempfile::tempdir().unwrap();
        let z = out.path().join("a.zip");
        let n = write_zip(t.path(), "App", &z, &Options::default()).unwrap();
        let mut zip = zip::ZipArchive::new(fs_err::File::open(&z).unwrap()).unwrap();
        assert_eq!(zip.len(), n);
        let dest = out.path().join("x");
        zip.extract(&dest).unwrap();
        assert_eq!(tree_files(t.path()), tree_files(&dest.join("App")));
        assert!(dest.join("App/empty").is_dir());
        // One top-level folder, sorted names, the exec bit kept, the fixed epoch.
        let names: Vec<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
        assert!(names.iter().all(|n| n == "App/" || n.starts_with("App/")));
        let run = zip.by_name("App/run.sh").unwrap();
        assert_eq!(run.unix_mode().unwrap() & 0o777, 0o755);
        let dt = run.last_modified().unwrap();
        assert_eq!((dt.year(), dt.month(), dt.day()), (1980, 1, 1));
        drop(run);
        assert_eq!(
            zip.by_name("App/python/stdlib.zip").unwrap().compression(),
            zip::CompressionMethod::Stored
        );
        assert_eq!(
            zip.by_name("App/python/Lib/site-packages/pkg/m001.py")
                .unwrap()
                .compression(),
            zip::CompressionMethod::Deflated
        );
    }

    #[test]
    fn file_mode_comes_from_what_the_file_is() {
        assert_eq!(file_mode("App/run.sh", b"#!/b"), 0o755);
        assert_eq!(file_mode("App/install-service.sh", b""), 0o755);
        assert_eq!(file_mode("App/scripts/start.bat", b"@ech"), 0o755);
        assert_eq!(file_mode("App/scripts/Start-Hidden.VBS", b"Set "), 0o755);
        assert_eq!(file_mode("App/python/bin/python3.11", b"\x7fELF"), 0o755);
        assert_eq!(
            file_mode("App/python/lib/libpython3.11.so.1.0", b"\x7fELF"),
            0o755
        );
        assert_eq!(file_mode("App/python/bin/pip3", b"#!/u"), 0o755);
        // A module with a shebang is imported, not run.
        assert_eq!(file_mode("App/app/src/tool.py", b"#!/u"), 0o644);
        assert_eq!(file_mode("App/python/python.exe", b"MZ\x90\0"), 0o644);
        assert_eq!(file_mode("App/python/_ssl.pyd", b"MZ\x90\0"), 0o644);
        assert_eq!(file_mode("App/python/python311._pth", b"pyth"), 0o644);
        assert_eq!(file_mode("App/empty.txt", b""), 0o644);
    }

    /// The host's exec bits are ignored: a `.pyd` that a wheel left 0755 and
    /// a launch script left 0600 give the same archive as a Windows host,
    /// which has no exec bit at all.
    #[cfg(unix)]
    #[test]
    fn archive_modes_ignore_the_host_file_system() {
        use std::os::unix::fs::PermissionsExt;
        let t = sample_tree();
        let out = tempfile::tempdir().unwrap();
        let o = Options {
            mtime: Some(1_700_000_000),
            threads: Some(1),
            cache: None,
        };
        let (a, b) = (out.path().join("a.zip"), out.path().join("b.zip"));
        let (ta, tb) = (out.path().join("a.tar.gz"), out.path().join("b.tar.gz"));
        fs_err::write(t.path().join("python/_x.pyd"), b"MZ\x90\0pe").unwrap();
        write_zip(t.path(), "App", &a, &o).unwrap();
        write_tar_gz(t.path(), "App", &ta, &o).unwrap();
        let set = |p: &str, m: u32| {
            fs_err::set_permissions(t.path().join(p), std::fs::Permissions::from_mode(m)).unwrap()
        };
        set("python/_x.pyd", 0o755);
        set("run.sh", 0o600);
        set("python/python311._pth", 0o777);
        write_zip(t.path(), "App", &b, &o).unwrap();
        write_tar_gz(t.path(), "App", &tb, &o).unwrap();
        assert_eq!(fs_err::read(&a).unwrap(), fs_err::read(&b).unwrap());
        assert_eq!(fs_err::read(&ta).unwrap(), fs_err::read(&tb).unwrap());
        let mut zip = zip::ZipArchive::new(fs_err::File::open(&b).unwrap()).unwrap();
        assert_eq!(
            zip.by_name("App/python/_x.pyd").unwrap().unix_mode(),
            Some(0o100644)
        );
        assert_eq!(
            zip.by_name("App/run.sh").unwrap().unix_mode(),
            Some(0o100755)
        );
    }

    #[cfg(unix)]
    #[test]
    fn tar_gz_is_deterministic_and_keeps_modes_and_links() {
        let t = sample_tree();
        std::os::unix::fs::symlink("run.sh", t.path().join("run-link")).unwrap();
        let out = tempfile::tempdir().unwrap();
        let (a, b) = (out.path().join("a.tar.gz"), out.path().join("b.tar.gz"));
        let o = Options {
            mtime: Some(1_700_000_000),
            threads: None,
            cache: None,
        };
        write_tar_gz(t.path(), "App", &a, &o).unwrap();
        write_tar_gz(t.path(), "App", &b, &o).unwrap();
        assert_eq!(fs_err::read(&a).unwrap(), fs_err::read(&b).unwrap());
        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(
            fs_err::File::open(&a).unwrap(),
        ));
        let mut seen = BTreeMap::new();
        for e in ar.entries().unwrap() {
            let e = e.unwrap();
            let h = e.header();
            seen.insert(
                e.path().unwrap().to_string_lossy().into_owned(),
                (h.mode().unwrap(), h.mtime().unwrap(), h.entry_type()),
            );
        }
        assert_eq!(seen["App/run.sh"].0, 0o755);
        assert_eq!(seen["App/run.sh"].1, 1_700_000_000);
        assert_eq!(seen["App/run-link"].2, tar::EntryType::Symlink);
        assert_eq!(seen["App/python/python311._pth"].0, 0o644);
    }

    /// The parallel gzip is one stream that `gzip -t` accepts and `tar xzf`
    /// unpacks to the same files, over several chunks.
    #[cfg(unix)]
    #[test]
    fn tar_gz_reads_with_gzip_and_tar() {
        use std::process::Command;
        let t = sample_tree();
        for i in 0..3u32 {
            let body: Vec<u8> = (0..(gzip::CHUNK as u32 + 12_345))
                .map(|x| (x.wrapping_mul(2_654_435_761).wrapping_add(i) >> 20) as u8)
                .collect();
            fs_err::write(t.path().join(format!("python/lib{i}.so")), body).unwrap();
        }
        let out = tempfile::tempdir().unwrap();
        let a = out.path().join("a.tar.gz");
        let o = Options {
            mtime: Some(1_700_000_000),
            threads: Some(2),
            cache: None,
        };
        write_tar_gz(t.path(), "App", &a, &o).unwrap();
        let gz = Command::new("gzip")
            .arg("-t")
            .arg(&a)
            .output()
            .expect("this test needs `gzip` (the Debian package `gzip`)");
        assert!(gz.status.success(), "gzip -t: {gz:?}");
        let x = out.path().join("x");
        fs_err::create_dir_all(&x).unwrap();
        let tar = Command::new("tar")
            .arg("xzf")
            .arg(&a)
            .arg("-C")
            .arg(&x)
            .output()
            .expect("this test needs `tar` (the Debian package `tar`)");
        assert!(tar.status.success(), "tar xzf: {tar:?}");
        assert!(tree_files(t.path()) == tree_files(&x.join("App")));
    }

    #[test]
    fn dos_datetime_known_values() {
        assert_eq!(dos_datetime(0), (0x21, 0));
        // 2023-11-14 22:13:20 UTC
        let (d, t) = dos_datetime(1_700_000_000);
        assert_eq!((d >> 9) + 1980, 2023);
        assert_eq!((d >> 5) & 0xF, 11);
        assert_eq!(d & 0x1F, 14);
        assert_eq!((t >> 11, (t >> 5) & 0x3F, (t & 0x1F) * 2), (22, 13, 20));
    }
}
