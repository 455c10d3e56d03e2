//! File-system helpers: atomic writes, safe archive paths, tree copies.
//!
//! Every write of a user's file goes through [`atomic_write`] (temp file in the
//! same directory, then rename), so a failed run leaves the file as it was.
//! Every archive entry goes through [`safe_join`], so an entry cannot escape the
//! directory it is extracted into.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use crate::error::Hint;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("could not write {path} atomically")]
    Persist {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("archive entry `{entry}` would be written outside {root}")]
    UnsafePath { entry: String, root: PathBuf },
}

impl Hint for Error {
    fn hint(&self) -> Option<String> {
        match self {
            Error::UnsafePath { .. } => Some(
                "the archive is malformed or was tampered with; nothing was extracted from it past this entry"
                    .into(),
            ),
            Error::Persist { .. } => {
                Some("check that the directory is writable and the disk is not full".into())
            }
            Error::Io(_) => None,
        }
    }
}

/// Write `contents` to `path` atomically: a temp file in the same directory,
/// flushed and synced, then renamed over `path`. An existing file's permissions
/// are kept. On any error `path` is untouched.
pub fn atomic_write(path: &Path, contents: &[u8]) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".pyship-tmp-")
        .tempfile_in(dir)
        .map_err(|source| Error::Persist {
            path: path.to_owned(),
            source,
        })?;
    tmp.write_all(contents)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|source| Error::Persist {
            path: path.to_owned(),
            source,
        })?;
    if let Ok(meta) = fs_err::metadata(path) {
        // Keep the mode of the file being replaced (e.g. an executable script).
        let _ = tmp.as_file().set_permissions(meta.permissions());
    } else {
        // A temp file is 0600; a new project file is an ordinary 0644 one.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = tmp
                .as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644));
        }
    }
    tmp.persist(path).map_err(|e| Error::Persist {
        path: path.to_owned(),
        source: e.error,
    })?;
    Ok(())
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

/// Copy a directory tree (files and directories; symlinks are followed).
/// Returns the number of files copied.
pub fn copy_tree(from: &Path, to: &Path) -> Result<u64, Error> {
    let mut n = 0;
    fs_err::create_dir_all(to)?;
    for entry in walkdir::WalkDir::new(from).follow_links(true) {
        let entry = entry.map_err(std::io::Error::other)?;
        let rel = entry
            .path()
            .strip_prefix(from)
            .expect("walkdir yields paths below its root");
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            fs_err::create_dir_all(&dest)?;
        } else {
            fs_err::copy(entry.path(), &dest)?;
            n += 1;
        }
    }
    Ok(n)
}

/// Remove a directory tree if it exists.
pub fn remove_dir_if_exists(path: &Path) -> Result<(), Error> {
    match fs_err::remove_dir_all(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => Ok(other?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
