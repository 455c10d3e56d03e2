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
mod tarball;
mod zip_writer;

use std::sync::Arc;

pub use entry_cache::EntryCache;
pub use tarball::{write_tar_gz, write_tar_gz_reporting};
pub use zip_writer::{dos_datetime, write_zip, ZIP_SETTING};

use crate::context::Context;
use crate::plan::Plan;
use crate::platform::{ArchiveFormat, Platform};

pub use crate::dates::ZIP_EPOCH;

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
    #[error(transparent)]
    #[diagnostic(transparent)]
    Write(#[from] crate::fs::OutputWriteError),
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
        let e = e.map_err(|e| {
            let (path, source) = crate::fs::walk_error(e, tree);
            Error::Read { path, source }
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
            crate::fs::refuse_special(e.path(), ft)?;
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
        fs_err::create_dir_all(dir).map_err(|source| {
            Error::Write(crate::fs::OutputWriteError {
                path: dest.to_owned(),
                source: source.into(),
            })
        })?;
    }
    crate::fs::atomic_write_with(dest, f)
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
mod tests;
