//! The prepared prefix kept in the pyship cache (`wine-prefix-v0/{key}`):
//! made once per wine version under an exclusive lock, visible only whole
//! (its [`PREPARED_LIST`] is written last), and copied for each build with
//! wine's binaries hard-linked.

use std::path::{Path, PathBuf};

use super::shim::PROCESS_PRNG_SOURCE;
use super::{Error, Wine};
use crate::cache::Cache;
use crate::env::Env;
use crate::process::Cancel;
use crate::tools;

/// Cache bucket of prepared prefixes; bump the suffix when what a prepared
/// prefix holds changes.
pub const PREFIX_BUCKET: &str = "wine-prefix-v0";
/// Files of a prepared prefix under `drive_c/windows` with these extensions
/// are wine's own binaries: linked, never copied.
pub(super) const LINKED_EXTENSIONS: &[&str] = &[
    "dll", "exe", "drv", "sys", "acm", "cpl", "ocx", "nls", "tlb", "ax", "ds", "mui", "com",
    "dll16", "exe16", "drv16", "vxd", "msstyles",
];

/// The cache key of a prepared prefix: the wine version and the replacement
/// DLL's source (or its absence) decide what the prefix holds.
pub fn prefix_key(wine_version: &str, with_shim: bool) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(PREFIX_BUCKET.as_bytes());
    h.update([0]);
    h.update(wine_version.as_bytes());
    h.update([0]);
    if with_shim {
        h.update(PROCESS_PRNG_SOURCE.as_bytes());
    }
    hex::encode(h.finalize())[..32].to_owned()
}

/// Whether a prepared prefix gets the `ProcessPrng` replacement: when the
/// compiler is there. Decided the same way wherever a build asks for the
/// prefix, so that it finds the one it prepared (whether the compiling
/// itself succeeds does not change the key: a prefix without the DLL is
/// given it in its copies, see [`Wine::add_process_prng`]).
pub(super) fn wants_shim(env: &Env) -> bool {
    tools::MINGW_GCC.find(env).is_ok()
}

/// A private copy of the cached prefix, and whether this call prepared it.
#[derive(Debug)]
pub struct CachedPrefix {
    /// The copy (removed when dropped; the caller stops its wineserver first).
    pub copy: crate::lock::OwnedDir,
    /// The prepared prefix it was copied from.
    pub prepared: PathBuf,
    /// Whether the prepared prefix was made by this call (`wineboot` ran).
    pub booted: bool,
    /// Set when this call found the cached prefix unfinished or changed
    /// and replaced it: what to tell the user.
    pub notice: Option<String>,
}

/// What [`ensure_prepared`] found and did.
#[derive(Debug)]
pub struct Ensured {
    /// The prepared prefix's folder.
    pub path: PathBuf,
    /// Whether this call prepared it (`wineboot` ran).
    pub booted: bool,
    /// Set when a folder of the key's name that was no prepared prefix was
    /// replaced: what to tell the user.
    pub notice: Option<String>,
}

/// The line telling that the cached prefix at `path` was replaced, and why.
pub(super) fn replaced_notice(path: &Path, why: &str) -> String {
    format!(
        "the cached wine prefix {} {why}; a new one was prepared in its place",
        path.display()
    )
}

/// The prefix for `wine_version` prepared in `cache` (made when missing, with
/// `shim` as its `bcryptprimitives.dll` when given; `with_shim` picks the
/// key, see [`ensure_prepared`]), and a private copy of it. Prepared
/// prefixes of other keys (another wine version) are removed. A prepared
/// prefix whose files no longer match its list (changed since it was made)
/// is replaced by a new one.
pub fn prepare_cached(
    wine: &Path,
    cache: &Cache,
    wine_version: &str,
    with_shim: bool,
    shim: Option<&Path>,
) -> Result<CachedPrefix, Error> {
    let bucket = cache.bucket(PREFIX_BUCKET);
    let mut booted = false;
    let mut notice = None;
    // A build for another wine version may remove the prefix between the
    // two locks, or the copy finds it damaged: then prepare it again.
    for _ in 0..3 {
        let ensured = ensure_prepared(
            wine,
            cache,
            wine_version,
            with_shim,
            || shim.map(Path::to_owned),
            &Cancel::default(),
        )?;
        let prepared = ensured.path;
        booted |= ensured.booted;
        notice = notice.or(ensured.notice);
        let key = prepared
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (lock, lock_path) = open_lock(&bucket, &key)?;
        lock.file().lock_shared().map_err(cache_err(&lock_path))?;
        let Some(listed) = prepared_listing(&prepared) else {
            let _ = lock.file().unlock();
            continue;
        };
        let copy = cache
            .staging(PREFIX_BUCKET)
            .map_err(cache_err(&cache.incoming(PREFIX_BUCKET)))?;
        let found = link_copy(&prepared, copy.path()).map_err(cache_err(copy.path()))?;
        if found == listed {
            let _ = lock.file().unlock();
            return Ok(CachedPrefix {
                copy,
                prepared,
                booted,
                notice,
            });
        }
        // Changed since it was made (a file truncated, removed, written
        // to): no longer what wine made, so replaced, unless another build
        // replaced it meanwhile.
        drop(copy);
        lock.file().unlock().map_err(cache_err(&lock_path))?;
        lock.file().lock().map_err(cache_err(&lock_path))?;
        if prepared_listing(&prepared).as_deref() == Some(listed.as_str()) {
            retire(cache, &prepared).map_err(cache_err(&prepared))?;
            notice = Some(replaced_notice(
                &prepared,
                "had changed since it was made (a file of it was written, truncated or removed)",
            ));
        }
        let _ = lock.file().unlock();
    }
    Err(Error::Cache {
        path: bucket,
        source: std::io::Error::other(
            "the prepared prefix kept being removed or changed by another build",
        ),
    })
}

/// Make sure the prefix for `wine_version` is prepared in `cache`; returns
/// its folder and whether this call prepared it (or replaced it). Holds `{key}.lock`
/// exclusively while preparing, so a second build waits instead of booting
/// its own. `with_shim` picks the key; `shim` gives the replacement DLL and
/// is called only after `wineboot`, so the DLL can be compiled meanwhile
/// (a prefix whose DLL did not come is still usable: a build copies the DLL
/// into its private copy when missing, see [`Wine::add_process_prng`]).
/// Only a folder with its [`PREPARED_LIST`] is a prepared prefix; whatever
/// else has the key's name is replaced.
pub fn ensure_prepared(
    wine: &Path,
    cache: &Cache,
    wine_version: &str,
    with_shim: bool,
    shim: impl FnOnce() -> Option<PathBuf>,
    cancel: &Cancel,
) -> Result<Ensured, Error> {
    let bucket = cache.marked(PREFIX_BUCKET);
    let key = prefix_key(wine_version, with_shim);
    let prepared = bucket.join(&key);
    let (lock, lock_path) = open_lock(&bucket, &key)?;
    lock.file().lock_shared().map_err(cache_err(&lock_path))?;
    if prepared_listing(&prepared).is_some() {
        let _ = lock.file().unlock();
        return Ok(Ensured {
            path: prepared,
            booted: false,
            notice: None,
        });
    }
    // No upgrade of a shared lock in place: release, lock exclusively, look again.
    lock.file().unlock().map_err(cache_err(&lock_path))?;
    lock.file().lock().map_err(cache_err(&lock_path))?;
    let mut booted = false;
    let mut notice = None;
    if prepared_listing(&prepared).is_none() {
        if fs_err::symlink_metadata(&prepared).is_ok() {
            notice = Some(replaced_notice(
                &prepared,
                "was unfinished (no list of its files: made by an older cargo-pyship, or cut short)",
            ));
        }
        retire(cache, &prepared).map_err(cache_err(&prepared))?;
        boot_into(wine, cache, &prepared, shim, cancel)?;
        booted = true;
    }
    remove_other_prefixes(cache, &bucket, &key);
    let _ = lock.file().unlock();
    Ok(Ensured {
        path: prepared,
        booted,
        notice,
    })
}

pub(super) fn cache_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_owned();
    move |source| Error::Cache { path, source }
}

pub(super) fn open_lock(bucket: &Path, key: &str) -> Result<(fs_err::File, PathBuf), Error> {
    let lock_path = bucket.join(format!("{key}.lock"));
    fs_err::create_dir_all(bucket).map_err(cache_err(bucket))?;
    let lock = fs_err::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(cache_err(&lock_path))?;
    Ok((lock, lock_path))
}

/// `wineboot -i` into a staging folder, add `shim`, check that a program
/// runs there, make wine's binaries read-only, write the prefix's
/// [`PREPARED_LIST`], and rename the result to `prepared` (every file
/// flushed to disk first, so a crash cannot leave a listed prefix with
/// missing data either).
///
/// Wine records a prefix as up to date (`.update-timestamp`) before its
/// setup finished, and never repairs one whose setup was cut short: no
/// program starts there ("could not load kernel32.dll"). So what `wineboot`
/// left is kept only once `wineboot` succeeded and a program ran in it.
pub(super) fn boot_into(
    wine: &Path,
    cache: &Cache,
    prepared: &Path,
    shim: impl FnOnce() -> Option<PathBuf>,
    cancel: &Cancel,
) -> Result<(), Error> {
    let staging = cache
        .staging(PREFIX_BUCKET)
        .map_err(cache_err(&cache.incoming(PREFIX_BUCKET)))?;
    let prefix = staging.path().join("prefix");
    fs_err::create_dir_all(&prefix).map_err(cache_err(&prefix))?;
    let mut booting = Wine::private(wine.to_owned(), prefix.clone(), None);
    booting.cancel = cancel.clone();
    booting.boot()?;
    if let Some(dll) = shim() {
        let dest = prefix.join("drive_c/windows/system32/bcryptprimitives.dll");
        fs_err::copy(dll, &dest).map_err(cache_err(&dest))?;
    }
    booting.check_runs()?;
    drop(booting);
    crate::fs::sync_tree(&prefix).map_err(cache_err(&prefix))?;
    for e in walkdir::WalkDir::new(prefix.join("drive_c/windows")) {
        let e = e.map_err(|e| Error::Cache {
            path: prefix.clone(),
            source: std::io::Error::other(e),
        })?;
        if e.file_type().is_file() && is_linked(e.path()) {
            let mut perm = e
                .metadata()
                .map_err(|e| Error::Cache {
                    path: prefix.clone(),
                    source: std::io::Error::other(e),
                })?
                .permissions();
            perm.set_readonly(true);
            fs_err::set_permissions(e.path(), perm).map_err(cache_err(e.path()))?;
        }
    }
    let listing = listing_of(&prefix).map_err(cache_err(&prefix))?;
    let list = prefix.join(PREPARED_LIST);
    crate::fs::atomic_write(&list, listing.as_bytes())
        .map_err(|e| cache_err(&list)(std::io::Error::other(e)))?;
    crate::fs::sync_dir(&prefix).map_err(cache_err(&prefix))?;
    fs_err::rename(&prefix, prepared).map_err(cache_err(prepared))?;
    if let Some(bucket) = prepared.parent() {
        crate::fs::sync_dir(bucket).map_err(cache_err(bucket))?;
    }
    Ok(())
}

/// The file a prepared prefix gets last, once it is whole: the list of its
/// files (with size and modification time) and symlinks. A folder in the
/// bucket without it is not a prepared prefix (what a boot cut short, a
/// removal killed halfway or an older version of the tool left); a copy
/// compares what it copies with it, so a prefix changed since it was made
/// (a write through one of the hard links) is found and replaced.
pub const PREPARED_LIST: &str = ".pyship-prepared";

/// The [`PREPARED_LIST`] of a prepared prefix; `None` when it has none.
pub(super) fn prepared_listing(prepared: &Path) -> Option<String> {
    fs_err::read_to_string(prepared.join(PREPARED_LIST)).ok()
}

/// One line of a prefix's listing for the walked entry `e` at `rel`
/// (nothing for a folder).
pub(super) fn list_entry(
    listing: &mut String,
    rel: &Path,
    e: &walkdir::DirEntry,
) -> std::io::Result<()> {
    use std::fmt::Write as _;
    let rel = rel.to_string_lossy();
    if e.file_type().is_symlink() {
        let target = fs_err::read_link(e.path())?;
        let _ = writeln!(listing, "l {rel} -> {}", target.display());
    } else if e.file_type().is_file() {
        let meta = e.metadata().map_err(std::io::Error::other)?;
        let mtime = meta
            .modified()?
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let _ = writeln!(listing, "f {rel} {} {mtime}", meta.len());
    }
    Ok(())
}

/// The listing of the prefix `dir` (see [`PREPARED_LIST`]), in the order
/// [`link_copy`] walks it.
pub(super) fn listing_of(dir: &Path) -> std::io::Result<String> {
    let mut listing = String::new();
    for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let e = e.map_err(std::io::Error::other)?;
        let rel = e.path().strip_prefix(dir).expect("below the root");
        if rel != Path::new(PREPARED_LIST) {
            list_entry(&mut listing, rel, &e)?;
        }
    }
    Ok(listing)
}

/// Whether a prefix file is one of wine's binaries (hard-linked into copies).
pub(super) fn is_linked(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| LINKED_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        && path
            .components()
            .any(|c| c.as_os_str().eq_ignore_ascii_case("windows"))
}

/// Copy the prefix `from` to `to`: symlinks as symlinks (`dosdevices/c:`),
/// wine's binaries as hard links (a copy when linking fails, e.g. across
/// file systems), everything else copied. Returns `from`'s listing as
/// found while copying (see [`PREPARED_LIST`]).
pub(super) fn link_copy(from: &Path, to: &Path) -> std::io::Result<String> {
    let mut listing = String::new();
    for e in walkdir::WalkDir::new(from).sort_by_file_name() {
        let e = e.map_err(std::io::Error::other)?;
        let rel = e.path().strip_prefix(from).expect("below the root");
        if rel == Path::new(PREPARED_LIST) {
            continue;
        }
        list_entry(&mut listing, rel, &e)?;
        let dest = to.join(rel);
        let ft = e.file_type();
        if ft.is_dir() {
            fs_err::create_dir_all(&dest)?;
        } else if ft.is_symlink() {
            let target = fs_err::read_link(e.path())?;
            #[cfg(unix)]
            std::os::unix::fs::symlink(&target, &dest)?;
            #[cfg(not(unix))]
            let _ = target;
        } else if is_linked(rel) {
            if fs_err::hard_link(e.path(), &dest).is_err() {
                fs_err::copy(e.path(), &dest)?;
            }
        } else {
            fs_err::copy(e.path(), &dest)?;
        }
    }
    Ok(listing)
}

/// Remove the prepared prefixes of other keys that nobody is using (their
/// lock is free): an upgraded wine leaves no 700 MB behind. Their lock
/// files stay (a few bytes): a build may have opened one to wait on it, and
/// a new file of the same name would be a second lock.
pub(super) fn remove_other_prefixes(cache: &Cache, bucket: &Path, key: &str) {
    let Ok(rd) = fs_err::read_dir(bucket) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == key || name.ends_with(".lock") {
            continue;
        }
        let lock_path = bucket.join(format!("{name}.lock"));
        let Ok(lock) = fs_err::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
        else {
            continue;
        };
        if lock.file().try_lock().is_ok() {
            let _ = retire(cache, &e.path());
        }
    }
}

/// Take `entry` out of the bucket (call with its lock held exclusively):
/// renamed into a staging folder, which no build ever takes for a prepared
/// prefix, then removed from there. A kill during the removal leaves a
/// staging folder whose owner is gone, which the next build removes
/// ([`crate::lock::clean_leftovers`]). Nothing to do when it is missing.
pub(super) fn retire(cache: &Cache, entry: &Path) -> std::io::Result<()> {
    if fs_err::symlink_metadata(entry).is_err() {
        return Ok(());
    }
    let trash = cache.staging(PREFIX_BUCKET)?;
    let retired = trash.path().join("retired");
    fs_err::rename(entry, &retired)?;
    // Out of the bucket now: what cannot be removed here goes with the
    // staging folder (dropped next) or with the next build's cleanup.
    let _ = remove_prefix_dir(&retired);
    Ok(())
}

/// Remove a prefix folder, whose binaries are read-only.
pub(super) fn remove_prefix_dir(dir: &Path) -> std::io::Result<()> {
    // On Unix a read-only file in a writable folder can be removed; elsewhere
    // make everything writable first.
    #[cfg(not(unix))]
    for e in walkdir::WalkDir::new(dir).into_iter().flatten() {
        if e.file_type().is_file() {
            if let Ok(m) = e.metadata() {
                let mut p = m.permissions();
                #[allow(clippy::permissions_set_readonly_false)]
                p.set_readonly(false);
                let _ = fs_err::set_permissions(e.path(), p);
            }
        }
    }
    fs_err::remove_dir_all(dir)
}
