//! The `.tar.gz` writer: a GNU tar stream (symlinks kept) through the
//! parallel gzip encoder of [`super::gzip`].

use std::path::Path;
use std::sync::Arc;

use super::{entries, gzip, pool, write_atomically, Error, Kind, Options, ZIP_EPOCH};

/// The deflate level of gzip chunks (zlib's default): the Linux tarball is
/// built on every warm Linux run from cached chunks, and 6 keeps a cold one
/// fast. Part of [`gzip::SETTING`]: change both together.
const GZIP_LEVEL: u32 = 6;

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
    let werr = |source: std::io::Error| {
        Error::Write(crate::fs::OutputWriteError {
            path: dest.to_owned(),
            source: source.into(),
        })
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
