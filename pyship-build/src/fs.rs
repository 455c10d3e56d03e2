//! File-system helpers: atomic writes, safe archive paths, tree copies, and
//! the SHA-256 of a file (every stage that hashes an artifact uses this one).
//!
//! Every write of a user's file goes through [`atomic_write`] (temp file in the
//! same directory, then rename), so a failed run leaves the file as it was.
//! Every archive entry goes through [`safe_join`], so an entry cannot escape the
//! directory it is extracted into.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use crate::error::escaped;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("could not write {} atomically", escaped(.path.display()))]
    #[diagnostic(help("check that the directory is writable and the disk is not full"))]
    Persist {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not copy {} to {}", escaped(.from.display()), escaped(.to.display()))]
    Copy {
        from: PathBuf,
        to: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("archive entry `{}` would be written outside {root}", escaped(.entry))]
    #[diagnostic(help("the archive is malformed or was tampered with; nothing was extracted from it past this entry"))]
    UnsafePath { entry: String, root: PathBuf },
    #[error("refusing to remove {}: it is not inside {}", escaped(.path.display()), roots.iter().map(|r| escaped(r.display()).to_string()).collect::<Vec<_>>().join(" or "))]
    #[diagnostic(help("cargo pyship only deletes inside the output folder (--out, default dist/) and its cache; this is a bug, please report it with the command and config that led here"))]
    OutsideRoots { path: PathBuf, roots: Vec<PathBuf> },
    #[error("the symlink {} {}", escaped(.link.display()), match to {
        Some(folder) => format!("points to {}, a folder it is in: copying it would never end", escaped(folder.display())),
        None => "leads back to itself: its chain of links never reaches a file".to_owned(),
    })]
    #[diagnostic(help("remove the link {} or point it at a folder that does not hold it", escaped(.link.display())))]
    LinkLoop {
        link: PathBuf,
        /// The folder holding the link that it points to; `None` for a
        /// chain of links that loops.
        to: Option<PathBuf>,
    },
    #[error("refusing to read {}: it is {kind}, not a regular file", escaped(.path.display()))]
    #[diagnostic(help("remove {} or replace it by a regular file: reading a named pipe, socket or device could block forever or never end", escaped(.path.display())))]
    Special {
        path: PathBuf,
        /// What the file is ("a named pipe (FIFO)", ...), from [`special_kind`].
        kind: &'static str,
    },
    #[error("refusing to read {}: it is {} ({size} bytes), over the limit of {} for such a file", escaped(.path.display()), crate::report::human_bytes(*.size), crate::report::human_bytes(*.limit))]
    #[diagnostic(help("check that {} is the file meant: no manifest, lock file, template, licence or certificate is that large; point the setting at the real file or replace it", escaped(.path.display())))]
    TooLarge {
        path: PathBuf,
        /// Its size in bytes (at least this much, when it grew while read).
        size: u64,
        limit: u64,
    },
    #[error("could not replace {}, and putting back a file already replaced failed too", escaped(.path.display()))]
    #[diagnostic(help("the files are not all at the same version now: see the file named in the cause, restore it from version control, and run the command again"))]
    RolledBack {
        path: PathBuf,
        #[source]
        source: Box<Error>,
    },
}

/// A stage could not write `path`; the hint is its cause's. The stages'
/// error enums wrap it (`transparent`) rather than each declaring the variant.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("could not write {}", escaped(.path.display()))]
pub struct WriteError {
    pub path: PathBuf,
    #[source]
    #[diagnostic_source]
    pub source: Error,
}

/// A stage could not write `path` in the output directory: the hint is to
/// check that directory, whatever the cause.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("could not write {}", escaped(.path.display()))]
#[diagnostic(help("check that the output directory is writable and the disk is not full"))]
pub struct OutputWriteError {
    pub path: PathBuf,
    #[source]
    pub source: Error,
}

/// A user's file at `path` could not be read: [`read_small`] refused it
/// (the hint says why), or the read failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("could not read {}", escaped(.path.display()))]
#[diagnostic(help("{}", read_hint(.source, "check that the file exists and is readable")))]
pub struct ReadError {
    pub path: PathBuf,
    #[source]
    pub source: Error,
}

/// The hint for a file that could not be read: the refusal's own when
/// [`read_small`] refused it (a named pipe, a file too large), else
/// `otherwise`, what the caller says about its file. For the errors that have
/// a hint of their own; the others pass the source's on
/// (`#[diagnostic_source]`).
pub fn read_hint(e: &Error, otherwise: &str) -> String {
    use crate::error::Hint;
    match e {
        Error::Special { .. } | Error::TooLarge { .. } => e.hint(),
        _ => None,
    }
    .unwrap_or_else(|| otherwise.to_owned())
}

/// Write `contents` to `path` atomically: a temp file in the same directory,
/// flushed and synced, then renamed over `path`. An existing file's permissions
/// are kept; a new file is 0644. On any error `path` is untouched. Nothing is
/// ever written through a link: a symlink at `path` is replaced by the new
/// file (a link left in `dist/`, pointing elsewhere, must not make a build
/// write there). A user's own project files, which may be links on purpose,
/// go through [`atomic_write_all`].
pub fn atomic_write(path: &Path, contents: &[u8]) -> Result<(), Error> {
    atomic_write_with(path, |w| {
        w.write_all(contents).map_err(|source| Error::Persist {
            path: path.to_owned(),
            source,
        })
    })
}

/// [`atomic_write`], creating `path`'s folder first where it is missing (a
/// generated file in a folder of its own).
pub fn atomic_write_creating_dir(path: &Path, contents: &[u8]) -> Result<(), Error> {
    if let Some(dir) = path.parent() {
        fs_err::create_dir_all(dir)?;
    }
    atomic_write(path, contents)
}

/// [`atomic_write`] for contents too large to hold in memory (an archive):
/// `write` streams them into a buffered writer over the temp file. Its error
/// is returned as it is and leaves `path` untouched; the temp file is removed.
pub fn atomic_write_with<E: From<Error>>(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<(), E>,
) -> Result<(), E> {
    let tmp = stage_with(path, write)?;
    tmp.persist(path).map_err(|e| Error::Persist {
        path: path.to_owned(),
        source: e.error,
    })?;
    Ok(())
}

/// A temp file beside `path` holding what `write` wrote, flushed, synced and
/// given the mode `path` should have (an existing regular file's, else 0644).
fn stage_with<E: From<Error>>(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<(), E>,
) -> Result<tempfile::NamedTempFile, E> {
    let persist = |source| Error::Persist {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)
        .map_err(persist)?;
    {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file_mut());
        write(&mut w)?;
        w.flush().map_err(persist)?;
    }
    tmp.as_file().sync_all().map_err(persist)?;
    // The mode of the file being replaced (e.g. an executable script), never
    // of what a link there points to. A temp file is 0600, which would hide
    // a new project file, workflow, manifest or artifact from the other
    // users of a shared checkout.
    match fs_err::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => tmp.as_file().set_permissions(meta.permissions()),
        #[cfg(unix)]
        _ => {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644))
        }
        #[cfg(not(unix))]
        _ => Ok(()),
    }
    .map_err(persist)?;
    Ok(tmp)
}

/// Prefix of the temp files [`atomic_write`] and [`atomic_copy`] make beside
/// their destination (a killed run's are removed by the next one in the
/// output folder).
pub const TEMP_PREFIX: &str = ".pyship-tmp-";

/// Replace several of the user's files, all or none (`version --stamp`
/// writes pyproject.toml, Cargo.toml and Cargo.lock together). Every file is
/// first checked writable and its new contents staged in a temp file beside
/// it; only then are they renamed into place, and when one rename fails the
/// files already replaced get their old contents back. These are project
/// files, which may be symlinks on purpose (a shared pyproject.toml): the
/// file a link points to is replaced and the link stays.
pub fn atomic_write_all(files: &[(&Path, &[u8])]) -> Result<(), Error> {
    let mut staged = Vec::new();
    for (path, contents) in files {
        let real = link_target(path);
        let fail = |source| Error::Persist {
            path: real.clone(),
            source,
        };
        // Writable by this user (not a read-only file, mount or immutable
        // file): checked before anything is written.
        let old = match fs_err::OpenOptions::new().write(true).open(&real) {
            Ok(_) => Some(fs_err::read(&real).map_err(fail)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(fail(e)),
        };
        let tmp = stage_with(&real, |w| {
            w.write_all(contents).map_err(|source| Error::Persist {
                path: real.clone(),
                source,
            })
        })?;
        staged.push((real, tmp, old));
    }
    let mut replaced: Vec<(PathBuf, Option<Vec<u8>>)> = Vec::new();
    for (real, tmp, old) in staged {
        if let Err(e) = tmp.persist(&real) {
            for (path, old) in replaced.iter().rev() {
                let undone = match old {
                    Some(bytes) => atomic_write(path, bytes),
                    None => fs_err::remove_file(path).map_err(Error::Io),
                };
                undone.map_err(|undo| Error::RolledBack {
                    path: real.clone(),
                    source: Box::new(undo),
                })?;
            }
            return Err(Error::Persist {
                path: real,
                source: e.error,
            });
        }
        replaced.push((real, old));
    }
    Ok(())
}

/// Copy the file `from` to `to` through a temp file beside `to`, renamed into
/// place: a reader (another build sharing the cache) never sees half a file,
/// and a failed copy leaves `to` as it was. Creates `to`'s folder.
pub fn atomic_copy(from: &Path, to: &Path) -> std::io::Result<()> {
    let dir = match to.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs_err::create_dir_all(dir)?;
    let tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)?;
    fs_err::copy(from, tmp.path())?;
    tmp.persist(to).map_err(|e| e.error)?;
    Ok(())
}

/// Flush every file and folder under `dir` to disk, so that a tree renamed
/// into place afterwards is whole after a crash too, not only after a kill.
/// (On Windows a folder cannot be flushed: its files are.)
pub fn sync_tree(dir: &Path) -> std::io::Result<()> {
    for e in walkdir::WalkDir::new(dir) {
        let e = e.map_err(std::io::Error::other)?;
        if e.file_type().is_file() {
            // Windows flushes only through a handle that may write.
            fs_err::OpenOptions::new()
                .read(true)
                .write(cfg!(windows))
                .open(e.path())?
                .sync_all()?;
        } else if e.file_type().is_dir() {
            sync_dir(e.path())?;
        }
    }
    Ok(())
}

/// Flush the entries of the folder `dir` (a file renamed into it) to disk,
/// where the OS lets a folder be flushed (Unix).
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    fs_err::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The file a symlink at `path` finally points to (following chains), or
/// `path` itself when it is not a link. A dangling link resolves to where it
/// points, so writing creates the target rather than replacing the link.
pub fn link_target(path: &Path) -> PathBuf {
    let mut cur = path.to_owned();
    // A bound on the chain, as the OS has one (ELOOP).
    for _ in 0..40 {
        match fs_err::read_link(&cur) {
            Ok(next) => {
                cur = match cur.parent() {
                    Some(parent) if next.is_relative() => parent.join(next),
                    _ => next,
                };
            }
            Err(_) => return cur,
        }
    }
    cur
}

/// Whether `path` is a symlink whose chain of links never ends (a link to
/// itself, two links to each other).
fn is_link_chain_loop(path: &Path) -> bool {
    fs_err::symlink_metadata(link_target(path)).is_ok_and(|m| m.file_type().is_symlink())
}

/// Join an archive entry name onto `root`, refusing anything that could land
/// outside it: absolute paths, drive letters, `..` components, NUL bytes.
/// Backslashes are treated as separators (Windows-made zips use them).
pub fn safe_join(root: &Path, entry: &str) -> Result<PathBuf, Error> {
    let unsafe_path = || Error::UnsafePath {
        entry: entry.to_owned(),
        root: root.to_owned(),
    };
    if entry.contains('\0') {
        return Err(unsafe_path());
    }
    let normalized = entry.replace('\\', "/");
    if normalized.starts_with('/') || normalized.as_bytes().get(1) == Some(&b':') {
        return Err(unsafe_path());
    }
    let mut out = root.to_path_buf();
    for comp in Path::new(&normalized).components() {
        match comp {
            Component::Normal(c) => out.push(c),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(unsafe_path())
            }
        }
    }
    Ok(out)
}

/// The regular file `rel` names inside `root`, or `None` when `rel` could
/// reach outside it ([`safe_join`]: absolute, `..`, a drive), is no regular
/// file, or resolves outside `root` through a symlink. For paths a
/// package's own metadata names (a wheel's `License-File`, a crate's
/// `license-file`): a hostile one must not get a file of the build
/// machine's, such as a token, copied into what ships.
pub fn regular_file_within(root: &Path, rel: &str) -> Option<PathBuf> {
    let path = safe_join(root, rel).ok()?;
    let real = path.canonicalize().ok()?;
    let root = root.canonicalize().ok()?;
    (real.starts_with(&root) && fs_err::metadata(&real).is_ok_and(|m| m.is_file())).then_some(path)
}

/// What `ty` is when it is neither a regular file, a folder nor a symlink:
/// a named pipe, a socket or a device, which a copy must never open (opening
/// a FIFO blocks until a writer comes, a device can be read forever).
/// `None` for the kinds a tree may hold.
pub fn special_kind(ty: std::fs::FileType) -> Option<&'static str> {
    if ty.is_file() || ty.is_dir() || ty.is_symlink() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ty.is_fifo() {
            return Some("a named pipe (FIFO)");
        }
        if ty.is_socket() {
            return Some("a socket");
        }
        if ty.is_char_device() {
            return Some("a character device");
        }
        if ty.is_block_device() {
            return Some("a block device");
        }
    }
    Some("not a regular file")
}

/// Refuse `path`, of type `ty` (as a walk saw it), when it is a named pipe,
/// socket or device: the check every walk that opens what it finds makes
/// first. Nothing is opened, so a named pipe cannot block here.
pub fn refuse_special(path: &Path, ty: std::fs::FileType) -> Result<(), Error> {
    match special_kind(ty) {
        Some(kind) => Err(Error::Special {
            path: path.to_owned(),
            kind,
        }),
        None => Ok(()),
    }
}

/// [`refuse_special`] for a path not met in a walk: it is (or a chain of
/// symlinks leads to) a regular file or a folder. A path that does not
/// exist passes: the read that follows reports it.
pub fn check_not_special(path: &Path) -> Result<(), Error> {
    match fs_err::metadata(path) {
        Ok(m) => refuse_special(path, m.file_type()),
        Err(_) => Ok(()),
    }
}

/// What [`read_small`] reads of a file at most: far more than any manifest,
/// lock file, template, licence or certificate of a project holds (a large
/// uv.lock is a few MiB), far less than would strain the memory of a build.
pub const SMALL_FILE_LIMIT: u64 = 64 << 20;

/// Read a small file of the user's whole (a manifest, a lock file, a
/// template override, a certificate), by a fixed or configured path. A named
/// pipe, socket or device there (or a symlink to one) is refused with
/// [`Error::Special`] without being opened, and a file over
/// [`SMALL_FILE_LIMIT`] with [`Error::TooLarge`]: a pipe would block the
/// run forever, `/dev/zero` or a huge file would fill the memory. Any other
/// failure is [`Error::Io`] with the error a plain read gives (`NotFound`
/// for a missing file).
pub fn read_small(path: impl AsRef<Path>) -> Result<Vec<u8>, Error> {
    read_at_most(path.as_ref(), SMALL_FILE_LIMIT)
}

/// [`read_small`] of a text file: invalid UTF-8 is the
/// [`std::io::ErrorKind::InvalidData`] error `fs_err::read_to_string` gives.
pub fn read_small_to_string(path: impl AsRef<Path>) -> Result<String, Error> {
    let path = path.as_ref();
    String::from_utf8(read_small(path)?).map_err(|_| {
        Error::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "failed to read from file `{}`: stream did not contain valid UTF-8",
                path.display()
            ),
        ))
    })
}

/// [`read_small`] with the limit `limit`.
fn read_at_most(path: &Path, limit: u64) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    let too_large = |size: u64| Error::TooLarge {
        path: path.to_owned(),
        size,
        limit,
    };
    // A path that cannot be looked at (missing, not allowed) is opened all
    // the same, so that its error is the one a plain read gives.
    let len = match fs_err::metadata(path) {
        Ok(meta) => {
            refuse_special(path, meta.file_type())?;
            meta.len()
        }
        Err(_) => 0,
    };
    if len > limit {
        return Err(too_large(len));
    }
    let mut file = open_checked(path)?;
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    // One byte past the limit tells a file that grew (or whose size the
    // file system does not report) from one at the limit.
    (&mut file).take(limit + 1).read_to_end(&mut bytes)?;
    let read = bytes.len() as u64;
    if read > limit {
        return Err(too_large(read.max(len)));
    }
    Ok(bytes)
}

/// Open `path` for reading and refuse it if what was opened is not a
/// regular file or a folder: a named pipe put in place after the check
/// before it (a race) is opened without waiting for a writer (Unix:
/// `O_NONBLOCK`, which changes nothing for a regular file) and refused.
fn open_checked(path: &Path) -> Result<fs_err::File, Error> {
    let mut options = fs_err::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use fs_err::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
    }
    let file = options.open(path)?;
    refuse_special(path, file.metadata()?.file_type())?;
    Ok(file)
}

/// Copy a file, or a directory tree (symlinks are followed). Returns the
/// number of files copied. A named pipe, socket or device in the tree (or a
/// symlink to one) is refused with [`Error::Special`] before anything opens it.
pub fn copy_tree(from: &Path, to: &Path) -> Result<u64, Error> {
    copy_tree_with(from, to, |_| Ok::<_, Error>(true))
}

/// [`copy_tree`], asking `visit` about every entry below `from` (in sorted
/// order, before it is copied): `Ok(false)` leaves it out (a folder with all
/// it holds), an error stops the copy. The one tree copy of the crate: the app
/// sources, bundle parts and test fixtures all go through it.
pub fn copy_tree_with<E: From<Error>>(
    from: &Path,
    to: &Path,
    mut visit: impl FnMut(&walkdir::DirEntry) -> Result<bool, E>,
) -> Result<u64, E> {
    let fail = |from: &Path, to: &Path| {
        let (from, to) = (from.to_owned(), to.to_owned());
        move |source| Error::Copy { from, to, source }
    };
    let mut n = 0;
    let mut walk = walkdir::WalkDir::new(from)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter();
    while let Some(entry) = walk.next() {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(from).to_owned();
            match e.loop_ancestor() {
                Some(ancestor) => Error::LinkLoop {
                    link: path,
                    to: Some(ancestor.to_owned()),
                },
                None if is_link_chain_loop(&path) => Error::LinkLoop {
                    link: path,
                    to: None,
                },
                None => Error::Copy {
                    from: path,
                    to: to.to_owned(),
                    source: std::io::Error::other(e),
                },
            }
        })?;
        if entry.depth() > 0 && !visit(&entry)? {
            if entry.file_type().is_dir() {
                walk.skip_current_dir();
            }
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(from)
            .expect("walkdir yields paths below its root");
        let dest = if rel.as_os_str().is_empty() {
            to.to_owned()
        } else {
            to.join(rel)
        };
        refuse_special(entry.path(), entry.file_type())?;
        if entry.file_type().is_dir() {
            fs_err::create_dir_all(&dest).map_err(fail(entry.path(), &dest))?;
        } else {
            if let Some(p) = dest.parent() {
                fs_err::create_dir_all(p).map_err(fail(entry.path(), &dest))?;
            }
            fs_err::copy(entry.path(), &dest).map_err(fail(entry.path(), &dest))?;
            n += 1;
        }
    }
    Ok(n)
}

/// Fill `to` with the tree `from` (a cache entry) as hard links, a copy
/// where a link cannot be made (another file system); a file already at a
/// destination is replaced, symlinks are made anew (Unix; followed
/// elsewhere). Returns the number of files (symlinks not counted). Safe only for trees that are
/// never written in place afterwards: a later stage removes or replaces
/// files (by rename), it does not edit them.
pub fn link_tree(from: &Path, to: &Path) -> Result<u64, Error> {
    let fail = |from: &Path, to: &Path| {
        let (from, to) = (from.to_owned(), to.to_owned());
        move |source| Error::Copy { from, to, source }
    };
    let mut n = 0;
    for entry in walkdir::WalkDir::new(from).sort_by_file_name() {
        let entry = entry.map_err(|e| Error::Copy {
            from: e.path().unwrap_or(from).to_owned(),
            to: to.to_owned(),
            source: std::io::Error::other(e),
        })?;
        let rel = entry
            .path()
            .strip_prefix(from)
            .expect("walkdir yields paths below its root");
        let dest = to.join(rel);
        let ty = entry.file_type();
        if ty.is_dir() {
            fs_err::create_dir_all(&dest).map_err(fail(entry.path(), &dest))?;
            continue;
        }
        if fs_err::symlink_metadata(&dest).is_ok() {
            fs_err::remove_file(&dest).map_err(fail(entry.path(), &dest))?;
        }
        #[cfg(unix)]
        if ty.is_symlink() {
            let target = fs_err::read_link(entry.path()).map_err(fail(entry.path(), &dest))?;
            std::os::unix::fs::symlink(&target, &dest).map_err(fail(entry.path(), &dest))?;
            continue;
        }
        if fs_err::hard_link(entry.path(), &dest).is_err() {
            fs_err::copy(entry.path(), &dest).map_err(fail(entry.path(), &dest))?;
        }
        n += 1;
    }
    Ok(n)
}

/// `path` relative to `base` with `/` separators (`.` for `base` itself).
pub fn rel_slash(base: &Path, p: &Path) -> String {
    match p.strip_prefix(base) {
        Ok(r) if r.as_os_str().is_empty() => ".".into(),
        Ok(r) => r.to_string_lossy().replace('\\', "/"),
        Err(_) => p.to_string_lossy().replace('\\', "/"),
    }
}

/// `path` relative to `base` with `/` separators, going up with `..` when
/// `path` is not below `base` (they share an ancestor).
pub fn rel_up(base: &Path, path: &Path) -> String {
    for (up, dir) in base.ancestors().enumerate() {
        if let Ok(rest) = path.strip_prefix(dir) {
            if up == 0 {
                return rel_slash(base, path);
            }
            let rest = rest.to_string_lossy().replace('\\', "/");
            return format!("{}{rest}", "../".repeat(up));
        }
    }
    rel_slash(base, path)
}

/// `path` made absolute (against the current directory) with `.` and `..`
/// resolved lexically, without touching the file system.
pub fn normalize(path: &Path) -> PathBuf {
    let abs = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let mut out = PathBuf::new();
    for comp in abs.components() {
        match comp {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

/// `path` with symlinks resolved as far as it exists: the longest existing
/// ancestor is canonicalized and the rest appended.
fn resolve_existing(path: &Path) -> PathBuf {
    let path = normalize(path);
    let mut rest = Vec::new();
    let mut cur = path.as_path();
    loop {
        if let Ok(c) = cur.canonicalize() {
            let mut out = c;
            out.extend(rest.iter().rev());
            return out;
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                cur = parent;
            }
            _ => return path,
        }
    }
}

/// Whether `path` lies strictly inside one of `roots`, after resolving `..`
/// and the symlinks of its parents (the last component itself may be a link:
/// removing a link removes the link, not its target).
pub fn is_inside(path: &Path, roots: &[&Path]) -> bool {
    let norm = normalize(path);
    let (Some(parent), Some(name)) = (norm.parent(), norm.file_name()) else {
        return false;
    };
    let resolved = resolve_existing(parent).join(name);
    roots.iter().any(|root| {
        let root = resolve_existing(root);
        resolved != root && resolved.starts_with(&root)
    })
}

/// SHA-256 of a file, as lowercase hex, read in 256 KiB blocks (bundles hash
/// files of hundreds of MB: never the whole file in memory).
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
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

/// SHA-256 of bytes, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

/// Whether `s` is a SHA-256 written as 64 hexadecimal digits (either case).
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The first 16 bytes of `hash` as a UUID of `version` (RFC 4122 layout:
/// version nibble, variant bits), lowercase `8-4-4-4-12`: a name-based id
/// that is the same for the same inputs.
pub fn hash_uuid(hash: &[u8], version: u8) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&hash[..16]);
    b[6] = (b[6] & 0x0f) | (version << 4);
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

/// A failed step of a walk below `root`: the path it failed on (`root` when
/// walkdir names none) and the reason.
pub fn walk_error(e: walkdir::Error, root: &Path) -> (PathBuf, std::io::Error) {
    (
        e.path().unwrap_or(root).to_owned(),
        std::io::Error::other(e.to_string()),
    )
}

/// `"{size} {mtime in ns}"` of the file at `p` (`None`: unreadable): a cheap
/// stamp that changes when the file is replaced or rewritten.
pub fn size_and_mtime(p: &Path) -> Option<String> {
    let m = fs_err::metadata(p).ok()?;
    let mtime = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    Some(format!("{} {mtime}", m.len()))
}

/// Clear the read-only flag of every file under `dir` (a prepared wine
/// prefix has read-only files), best effort, so that the tree can be
/// removed. On Unix the folder's permission is what counts: nothing to do.
pub fn clear_readonly(dir: &Path) {
    #[cfg(not(unix))]
    for e in walkdir::WalkDir::new(dir).into_iter().flatten() {
        if let Ok(m) = e.metadata() {
            let mut p = m.permissions();
            if p.readonly() {
                #[allow(clippy::permissions_set_readonly_false)]
                p.set_readonly(false);
                let _ = fs_err::set_permissions(e.path(), p);
            }
        }
    }
    #[cfg(unix)]
    let _ = dir;
}

/// Remove a directory tree if it exists. The one place a run removes
/// directories: `path` must lie strictly inside one of `roots` (the output
/// folder and the cache, [`crate::plan::Plan::write_roots`]), whatever the
/// config says; anything else is refused before a file is touched.
pub fn remove_dir_if_exists(path: &Path, roots: &[&Path]) -> Result<(), Error> {
    if !is_inside(path, roots) {
        return Err(Error::OutsideRoots {
            path: path.to_owned(),
            roots: roots.iter().map(|r| r.to_path_buf()).collect(),
        });
    }
    if fs_err::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Ok(fs_err::remove_file(path)?);
    }
    match fs_err::remove_dir_all(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => Ok(other?),
    }
}

/// Helpers for other modules' tests.
#[cfg(test)]
pub(crate) mod test_support {
    /// Make a named pipe at `path` (tests of the refusal of special files).
    #[cfg(unix)]
    pub(crate) fn make_fifo(path: &std::path::Path) {
        let ok = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "mkfifo {} failed", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(unix)]
    use crate::error::Hint;

    /// The shared context errors read as the variants they replace did:
    /// message, cause, and a hint of the cause's (write) or their own.
    #[test]
    fn write_and_read_errors_keep_message_cause_and_hint() {
        use crate::error::Hint as _;
        let persist = || Error::Persist {
            path: PathBuf::from("/o/a.tmp"),
            source: std::io::Error::other("disk full"),
        };
        let w = WriteError {
            path: PathBuf::from("/o/a"),
            source: persist(),
        };
        assert_eq!(w.to_string(), "could not write /o/a");
        assert_eq!(
            std::error::Error::source(&w).unwrap().to_string(),
            "could not write /o/a.tmp atomically"
        );
        assert_eq!(
            w.hint().as_deref(),
            Some("check that the directory is writable and the disk is not full")
        );
        let io = WriteError {
            path: PathBuf::from("/o/a"),
            source: std::io::Error::other("gone").into(),
        };
        assert_eq!(io.hint(), None);
        let out = OutputWriteError {
            path: PathBuf::from("/o/a"),
            source: std::io::Error::other("gone").into(),
        };
        assert_eq!(out.to_string(), "could not write /o/a");
        assert_eq!(std::error::Error::source(&out).unwrap().to_string(), "gone");
        assert_eq!(
            out.hint().as_deref(),
            Some("check that the output directory is writable and the disk is not full")
        );
        let r = ReadError {
            path: PathBuf::from("/p/x.toml"),
            source: std::io::Error::other("denied").into(),
        };
        assert_eq!(r.to_string(), "could not read /p/x.toml");
        assert_eq!(
            r.hint().as_deref(),
            Some("check that the file exists and is readable")
        );
        // A refused file: the refusal's hint, not the generic one.
        let r = ReadError {
            path: PathBuf::from("/p/x.toml"),
            source: Error::TooLarge {
                path: PathBuf::from("/p/x.toml"),
                size: 1 << 30,
                limit: SMALL_FILE_LIMIT,
            },
        };
        assert!(r.hint().unwrap().contains("is the file meant"), "{r:?}");
    }

    #[test]
    fn a_hash_uuid_carries_its_version_and_the_rfc_4122_variant() {
        assert_eq!(
            hash_uuid(&[0xff; 32], 8),
            "ffffffff-ffff-8fff-bfff-ffffffffffff"
        );
        assert_eq!(
            hash_uuid(&[0; 32], 5),
            "00000000-0000-5000-8000-000000000000"
        );
    }

    #[test]
    fn safe_join_rejects_escapes() {
        let root = Path::new("/tmp/x");
        for bad in [
            "../evil",
            "a/../../evil",
            "/etc/passwd",
            "C:\\evil",
            "..\\evil",
            "a\\..\\..\\b",
        ] {
            assert!(safe_join(root, bad).is_err(), "{bad} accepted");
        }
        assert_eq!(
            safe_join(root, "a/./b\\c").unwrap(),
            Path::new("/tmp/x/a/b/c")
        );
    }

    #[cfg(unix)]
    #[test]
    fn remove_dir_refuses_outside_the_roots() {
        let tmp = tempfile::tempdir().unwrap();
        let dist = tmp.path().join("dist");
        let cache = tmp.path().join("cache");
        let victim = tmp.path().join("victim");
        for d in [&dist, &cache, &victim] {
            fs_err::create_dir_all(d.join("sub")).unwrap();
        }
        let roots = [dist.as_path(), cache.as_path()];
        for bad in [
            victim.clone(),
            dist.clone(),
            cache.clone(),
            dist.join("../victim"),
            dist.join(".pyship/windows/../../../victim"),
            tmp.path().to_owned(),
            PathBuf::from("/"),
        ] {
            let e = remove_dir_if_exists(&bad, &roots).unwrap_err();
            assert!(matches!(e, Error::OutsideRoots { .. }), "{}", bad.display());
        }
        // A link inside dist/ pointing at the victim: the path through it is outside.
        std::os::unix::fs::symlink(&victim, dist.join("link")).unwrap();
        assert!(remove_dir_if_exists(&dist.join("link/sub"), &roots).is_err());
        // Removing the link itself removes the link, never the target.
        remove_dir_if_exists(&dist.join("link"), &roots).unwrap();
        assert!(victim.join("sub").is_dir());
        assert!(!dist.join("link").exists());
        remove_dir_if_exists(&dist.join("sub"), &roots).unwrap();
        remove_dir_if_exists(&cache.join("sub"), &roots).unwrap();
        remove_dir_if_exists(&cache.join("never-existed"), &roots).unwrap();
        assert!(!dist.join("sub").exists() && !cache.join("sub").exists());
        assert!(victim.join("sub").is_dir());
    }

    /// A project file that is a link (a shared pyproject.toml) is written
    /// where the link points, and the link stays.
    #[cfg(unix)]
    #[test]
    fn project_files_are_written_through_their_links() {
        let dir = tempfile::tempdir().unwrap();
        let real_dir = dir.path().join("real");
        fs_err::create_dir_all(&real_dir).unwrap();
        let target = real_dir.join("pyproject.toml");
        fs_err::write(&target, "old").unwrap();
        let proj = dir.path().join("proj");
        fs_err::create_dir_all(&proj).unwrap();
        // A relative link, and a link to that link.
        std::os::unix::fs::symlink("../real/pyproject.toml", proj.join("pyproject.toml")).unwrap();
        std::os::unix::fs::symlink("pyproject.toml", proj.join("again.toml")).unwrap();
        atomic_write_all(&[(&proj.join("again.toml"), b"new")]).unwrap();
        assert_eq!(fs_err::read_to_string(&target).unwrap(), "new");
        for link in ["pyproject.toml", "again.toml"] {
            let m = fs_err::symlink_metadata(proj.join(link)).unwrap();
            assert!(m.file_type().is_symlink(), "{link} replaced by a file");
        }
        // No temp file left in either directory.
        assert_eq!(fs_err::read_dir(&proj).unwrap().count(), 2);
        assert_eq!(fs_err::read_dir(&real_dir).unwrap().count(), 1);
    }

    /// Any other write replaces a link at its destination, whether it points
    /// at a file, a dangling path or a chain of links: the file the link
    /// pointed to is never written, and the new file gets a new file's mode.
    #[cfg(unix)]
    #[test]
    fn atomic_writes_replace_a_link_and_never_write_through_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        let dist = dir.path().join("dist");
        fs_err::create_dir_all(&outside).unwrap();
        fs_err::create_dir_all(&dist).unwrap();
        let victim = outside.join("victim.txt");
        fs_err::write(&victim, "keep me").unwrap();
        fs_err::set_permissions(&victim, std::fs::Permissions::from_mode(0o755)).unwrap();
        let links = [
            ("App-v1-win-x64.cdx.json", victim.clone()),
            ("manifest.json", outside.join("not-yet")),
            ("SHA256SUMS", dist.join("App-v1-win-x64.cdx.json")),
        ];
        for (name, to) in &links {
            std::os::unix::fs::symlink(to, dist.join(name)).unwrap();
        }
        for (name, _) in &links {
            atomic_write(&dist.join(name), b"{}").unwrap();
        }
        atomic_write_with(&dist.join("big.zip"), |w| {
            w.write_all(b"zip").map_err(Error::Io)
        })
        .unwrap();
        for (name, _) in &links {
            let p = dist.join(name);
            let m = fs_err::symlink_metadata(&p).unwrap();
            assert!(m.is_file(), "{name} is still a link");
            assert_eq!(m.permissions().mode() & 0o777, 0o644, "{name}");
            assert_eq!(fs_err::read_to_string(&p).unwrap(), "{}");
        }
        assert_eq!(fs_err::read_to_string(&victim).unwrap(), "keep me");
        assert!(!outside.join("not-yet").exists());
        assert_eq!(fs_err::read_dir(&outside).unwrap().count(), 1);
    }

    /// All or none: a file that cannot be written is found before any is
    /// replaced.
    #[cfg(unix)]
    #[test]
    fn writing_several_files_checks_them_all_first() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.toml");
        let b = dir.path().join("b");
        fs_err::write(&a, "old a").unwrap();
        // Not a file that can be opened for writing.
        fs_err::create_dir_all(&b).unwrap();
        let e = atomic_write_all(&[(&a, b"new a"), (&b, b"new b")]).unwrap_err();
        assert!(e.to_string().contains(&b.display().to_string()), "{e}");
        assert_eq!(fs_err::read_to_string(&a).unwrap(), "old a");
        assert_eq!(fs_err::read_dir(dir.path()).unwrap().count(), 2);
        // A new file among them is created.
        let c = dir.path().join("c.toml");
        atomic_write_all(&[(&a, b"new a"), (&c, b"c")]).unwrap();
        assert_eq!(fs_err::read_to_string(&a).unwrap(), "new a");
        assert_eq!(fs_err::read_to_string(&c).unwrap(), "c");
    }

    /// The folder is made when missing; a file in its place is the same
    /// I/O error the callers wrapped before they shared this.
    #[test]
    fn atomic_write_creating_dir_makes_the_folder_or_says_why_not() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("a/b/c.txt");
        atomic_write_creating_dir(&path, b"x").unwrap();
        assert_eq!(fs_err::read(&path).unwrap(), b"x");
        fs_err::write(d.path().join("f"), b"").unwrap();
        let e = atomic_write_creating_dir(&d.path().join("f/c.txt"), b"x").unwrap_err();
        assert!(matches!(e, Error::Io(_)), "{e:?}");
    }

    #[cfg(unix)]
    #[test]
    fn atomic_write_replaces_and_keeps_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.sh");
        fs_err::write(&p, "old").unwrap();
        fs_err::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        atomic_write(&p, b"new").unwrap();
        assert_eq!(fs_err::read_to_string(&p).unwrap(), "new");
        let mode = fs_err::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
        let fresh = dir.path().join("new.toml");
        atomic_write(&fresh, b"x").unwrap();
        assert_eq!(
            fs_err::metadata(&fresh).unwrap().permissions().mode() & 0o777,
            0o644
        );
        // Nothing left behind.
        assert_eq!(fs_err::read_dir(dir.path()).unwrap().count(), 2);
    }

    /// A named pipe, a socket or a link to a device in a copied tree (or as
    /// the single file copied) is refused naming it, before anything opens
    /// it: opening the pipe would wait for a writer forever.
    #[cfg(unix)]
    #[test]
    fn copy_tree_refuses_pipes_sockets_and_devices_without_opening_them() {
        let d = tempfile::tempdir().unwrap();
        let from = d.path().join("src");
        fs_err::create_dir_all(from.join("pkg")).unwrap();
        fs_err::write(from.join("pkg/a.py"), "").unwrap();
        let sock = from.join("pkg/s.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        for (special, kind) in [
            (from.join("pkg/pipe"), "named pipe"),
            (sock.clone(), "socket"),
            (from.join("pkg/zero"), "character device"),
        ] {
            if kind == "named pipe" {
                test_support::make_fifo(&special);
            } else if kind == "character device" {
                std::os::unix::fs::symlink("/dev/zero", &special).unwrap();
            }
            for root in [&from, &special] {
                let e = copy_tree(root, &d.path().join("out")).unwrap_err();
                assert!(matches!(e, Error::Special { .. }), "{e:?}");
                assert!(
                    e.to_string().contains(&special.display().to_string()),
                    "{e}"
                );
                assert!(e.to_string().contains(kind), "{e}");
                assert!(e.hint().unwrap().contains("regular file"), "{:?}", e.hint());
            }
            let e = check_not_special(&special).unwrap_err();
            assert!(e.to_string().contains(kind), "{e}");
            fs_err::remove_file(&special).unwrap();
        }
        check_not_special(&from).unwrap();
        check_not_special(&from.join("pkg/a.py")).unwrap();
        check_not_special(&from.join("missing")).unwrap();
        assert_eq!(copy_tree(&from, &d.path().join("out")).unwrap(), 1);
    }

    /// `f(path)` (a read or an open) in a thread of its own: its result, or a
    /// failure of the test after 20 s (opening a named pipe without care
    /// waits for a writer forever).
    #[cfg(unix)]
    fn promptly<T: Send + 'static>(
        path: &Path,
        f: fn(&Path) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let (tx, rx) = std::sync::mpsc::channel();
        let p = path.to_owned();
        std::thread::spawn(move || {
            let _ = tx.send(f(&p));
        });
        rx.recv_timeout(std::time::Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("reading {} did not return", path.display()))
    }

    /// A named pipe, a socket or a link to a device where a small file is
    /// read is refused naming the file and what it is, without opening it:
    /// the read returns at once, where opening the pipe would wait for a
    /// writer forever and reading /dev/zero would never end.
    #[cfg(unix)]
    #[test]
    fn read_small_refuses_pipes_sockets_and_devices_without_opening_them() {
        let d = tempfile::tempdir().unwrap();
        let pipe = d.path().join("pyproject.toml");
        test_support::make_fifo(&pipe);
        let sock = d.path().join("uv.lock");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let zero = d.path().join("Cargo.lock");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        // A chain of links to the pipe.
        let link = d.path().join("link.toml");
        std::os::unix::fs::symlink(&pipe, d.path().join("first.toml")).unwrap();
        std::os::unix::fs::symlink(d.path().join("first.toml"), &link).unwrap();
        for (path, kind) in [
            (&pipe, "a named pipe (FIFO)"),
            (&sock, "a socket"),
            (&zero, "a character device"),
            (&link, "a named pipe (FIFO)"),
        ] {
            let e = promptly(path, |p| read_small(p)).unwrap_err();
            assert!(matches!(e, Error::Special { .. }), "{e:?}");
            assert_eq!(
                e.to_string(),
                format!(
                    "refusing to read {}: it is {kind}, not a regular file",
                    path.display()
                )
            );
            assert!(e.hint().unwrap().contains("regular file"), "{:?}", e.hint());
            let e = read_small_to_string(path).unwrap_err();
            assert!(matches!(e, Error::Special { .. }), "{e:?}");
        }
    }

    /// A named pipe that takes a regular file's place between the check and
    /// the open (a race) is refused at once, not waited on.
    #[cfg(unix)]
    #[test]
    fn a_named_pipe_swapped_in_after_the_check_is_refused_not_waited_on() {
        let d = tempfile::tempdir().unwrap();
        let pipe = d.path().join("pyproject.toml");
        test_support::make_fifo(&pipe);
        let e = promptly(&pipe, |p| open_checked(p).map(|_| ())).unwrap_err();
        assert!(matches!(e, Error::Special { .. }), "{e:?}");
    }

    /// A file over the limit is refused naming it, its size and the limit,
    /// with a hint, before it is read (a sparse file of 100 GiB takes no
    /// disk and would take all the memory); one at the limit is read.
    #[cfg(unix)]
    #[test]
    fn read_small_refuses_a_file_over_the_limit_naming_its_size() {
        let d = tempfile::tempdir().unwrap();
        let big = d.path().join("pyproject.toml");
        fs_err::File::create(&big)
            .unwrap()
            .set_len(100 << 30)
            .unwrap();
        let e = read_small(&big).unwrap_err();
        assert!(
            matches!(e, Error::TooLarge { size, limit, .. } if size == 100 << 30 && limit == SMALL_FILE_LIMIT),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            format!(
                "refusing to read {}: it is 100.0 GiB (107374182400 bytes), over the limit of 64.0 MiB for such a file",
                big.display()
            )
        );
        assert!(
            e.hint().unwrap().contains(&big.display().to_string()),
            "{:?}",
            e.hint()
        );
        assert!(read_small_to_string(&big).is_err());
        let five = d.path().join("five");
        fs_err::write(&five, "12345").unwrap();
        assert_eq!(read_at_most(&five, 5).unwrap(), b"12345");
        let e = read_at_most(&five, 4).unwrap_err();
        assert!(
            matches!(
                e,
                Error::TooLarge {
                    size: 5,
                    limit: 4,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    /// A file whose size the file system does not tell (procfs says 0) is
    /// still read no further than one byte past the limit.
    #[cfg(target_os = "linux")]
    #[test]
    fn read_small_stops_past_the_limit_when_the_size_is_not_known() {
        let status = Path::new("/proc/self/status");
        assert_eq!(fs_err::metadata(status).unwrap().len(), 0);
        let e = read_at_most(status, 16).unwrap_err();
        assert!(
            matches!(
                e,
                Error::TooLarge {
                    size: 17,
                    limit: 16,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(read_small(status).unwrap().starts_with(b"Name:"));
    }

    /// Anything else fails as a plain read does: a missing file is
    /// `NotFound` with fs_err's message, invalid UTF-8 is `InvalidData`
    /// naming the file, a folder is the read's own error.
    #[test]
    fn read_small_fails_as_a_plain_read_otherwise() {
        let d = tempfile::tempdir().unwrap();
        let missing = d.path().join("missing.toml");
        let plain = fs_err::read(&missing).unwrap_err();
        match read_small_to_string(&missing).unwrap_err() {
            Error::Io(e) => {
                assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
                assert_eq!(e.to_string(), plain.to_string());
            }
            e => panic!("{e:?}"),
        }
        let latin1 = d.path().join("latin1.txt");
        fs_err::write(&latin1, b"caf\xe9").unwrap();
        let plain = fs_err::read_to_string(&latin1).unwrap_err();
        match read_small_to_string(&latin1).unwrap_err() {
            Error::Io(e) => {
                assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
                assert_eq!(e.to_string(), plain.to_string());
            }
            e => panic!("{e:?}"),
        }
        assert_eq!(read_small(&latin1).unwrap(), b"caf\xe9");
        assert!(matches!(read_small(d.path()), Err(Error::Io(_))));
    }

    /// A link to a folder holding it is an error naming the link, with a
    /// hint, not an endless copy or a bare walkdir message.
    #[cfg(unix)]
    #[test]
    fn a_link_loop_is_named_with_a_hint() {
        let d = tempfile::tempdir().unwrap();
        let from = d.path().join("src");
        fs_err::create_dir_all(from.join("pkg")).unwrap();
        fs_err::write(from.join("pkg/a.py"), "").unwrap();
        // A link to a folder holding it, one to itself, two to each other.
        for (links, named) in [
            (&[("pkg/again", "..")][..], "pkg/again"),
            (&[("pkg/self.py", "self.py")][..], "pkg/self.py"),
            (
                &[("pkg/a.pyi", "b.pyi"), ("pkg/b.pyi", "a.pyi")][..],
                "pkg/a.pyi",
            ),
        ] {
            for (link, to) in links {
                std::os::unix::fs::symlink(to, from.join(link)).unwrap();
            }
            let e = copy_tree(&from, &d.path().join("out")).unwrap_err();
            assert!(matches!(e, Error::LinkLoop { .. }), "{e}");
            assert!(e.to_string().contains(named), "{e}");
            assert!(e.hint().unwrap().contains(named), "{:?}", e.hint());
            for (link, _) in links {
                fs_err::remove_file(from.join(link)).unwrap();
            }
        }
    }

    #[test]
    fn rel_up_goes_up_to_the_shared_ancestor() {
        let base = Path::new("/w/p/rust");
        assert_eq!(
            rel_up(base, Path::new("/w/p/rust/src/lib.rs")),
            "src/lib.rs"
        );
        assert_eq!(
            rel_up(base, Path::new("/w/p/pyproject.toml")),
            "../pyproject.toml"
        );
        assert_eq!(rel_up(base, Path::new("/w/q/x.toml")), "../../q/x.toml");
        assert_eq!(rel_slash(base, base), ".");
    }
}
