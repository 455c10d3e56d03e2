//! python-build-standalone's `install_only` tarball, extracted entry by
//! entry: every path checked to stay inside the destination, no link that
//! points out of it, modes kept, nothing written through a link.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use super::Error;

/// Extract an `install_only` tarball's `python/` folder into `dest`.
///
/// Extraction goes to a temp dir next to `dest`, renamed into place at the
/// end, so a failure leaves no half runtime. Every entry must lie under
/// `python/`; paths go through [`crate::fs::safe_join`]; no entry may be
/// written through a symlink; symlinks must be relative and resolve inside
/// the runtime (leading `..` only); hard links are copied. Unix modes are kept
/// without setuid/setgid/sticky bits.
pub fn extract_install_only(tarball: &Path, dest: &Path, roots: &[&Path]) -> Result<u64, Error> {
    let read_err = |source| Error::Read {
        path: tarball.to_owned(),
        source,
    };
    let parent = dest.parent().unwrap_or(Path::new("."));
    fs_err::create_dir_all(parent).map_err(|source| Error::Io {
        path: parent.to_owned(),
        source,
    })?;
    let staging = tempfile::Builder::new()
        .prefix(".python-extract-")
        .tempdir_in(parent)
        .map_err(|source| Error::Io {
            path: parent.to_owned(),
            source,
        })?;
    let root = staging.path().join("python");
    fs_err::create_dir_all(&root).map_err(|source| Error::Io {
        path: root.clone(),
        source,
    })?;
    let file = fs_err::File::open(tarball).map_err(read_err)?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut links: HashSet<PathBuf> = HashSet::new();
    let mut files = 0u64;
    let bad = |entry: &str, reason: &str| Error::BadEntry {
        path: tarball.to_owned(),
        entry: entry.to_owned(),
        reason: reason.to_owned(),
    };
    for entry in archive.entries().map_err(read_err)? {
        let mut entry = entry.map_err(read_err)?;
        let raw = entry
            .path()
            .map_err(read_err)?
            .to_string_lossy()
            .into_owned();
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        let trimmed = raw.trim_start_matches("./");
        let rel = if trimmed == "python" || trimmed == "python/" {
            ""
        } else if let Some(r) = trimmed.strip_prefix("python/") {
            r
        } else {
            return Err(bad(
                &raw,
                &format!("entry `{raw}` is outside the top-level `python/` folder"),
            ));
        };
        let target = crate::fs::safe_join(&root, rel).map_err(|source| Error::Unsafe {
            path: tarball.to_owned(),
            source,
        })?;
        let rel_path = target
            .strip_prefix(&root)
            .expect("safe_join stays below root")
            .to_owned();
        if through_link(&rel_path, &links) {
            return Err(bad(
                &raw,
                &format!("entry `{raw}` would be written through a symlink"),
            ));
        }
        let io = |source| Error::Io {
            path: target.clone(),
            source,
        };
        let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
        if kind.is_dir() {
            fs_err::create_dir_all(&target).map_err(io)?;
            set_mode(&target, mode | 0o700).map_err(io)?;
            continue;
        }
        if let Some(p) = target.parent() {
            fs_err::create_dir_all(p).map_err(io)?;
        }
        remove_existing(&target).map_err(io)?;
        if kind.is_symlink() {
            let link = entry
                .link_name()
                .map_err(read_err)?
                .ok_or_else(|| bad(&raw, &format!("symlink `{raw}` has no target")))?
                .into_owned();
            if !link_stays_inside(&rel_path, &link) {
                return Err(bad(
                    &raw,
                    &format!(
                        "symlink `{raw}` -> `{}` points outside the runtime",
                        link.display()
                    ),
                ));
            }
            symlink(&link, &target).map_err(io)?;
            links.insert(rel_path);
        } else if kind.is_hard_link() {
            let link = entry
                .link_name()
                .map_err(read_err)?
                .ok_or_else(|| bad(&raw, &format!("hard link `{raw}` has no target")))?
                .to_string_lossy()
                .into_owned();
            let link_rel = link
                .trim_start_matches("./")
                .strip_prefix("python/")
                .ok_or_else(|| {
                    bad(
                        &raw,
                        &format!("hard link `{raw}` -> `{link}` points outside the runtime"),
                    )
                })?;
            let src = crate::fs::safe_join(&root, link_rel).map_err(|source| Error::Unsafe {
                path: tarball.to_owned(),
                source,
            })?;
            let src_rel = src.strip_prefix(&root).expect("below root");
            if through_link(src_rel, &links) || links.contains(src_rel) {
                return Err(bad(
                    &raw,
                    &format!("hard link `{raw}` -> `{link}` goes through a symlink"),
                ));
            }
            fs_err::copy(&src, &target).map_err(io)?;
            files += 1;
        } else if kind.is_file() || kind == tar::EntryType::Continuous {
            let mut out = fs_err::File::create(&target).map_err(io)?;
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = entry.read(&mut buf).map_err(read_err)?;
                if n == 0 {
                    break;
                }
                std::io::Write::write_all(&mut out, &buf[..n]).map_err(io)?;
            }
            drop(out);
            set_mode(&target, mode).map_err(io)?;
            files += 1;
        } else {
            return Err(bad(
                &raw,
                &format!("entry `{raw}` is not a file, directory or link"),
            ));
        }
    }
    crate::fs::remove_dir_if_exists(dest, roots).map_err(|e| Error::Io {
        path: dest.to_owned(),
        source: std::io::Error::other(e),
    })?;
    fs_err::rename(&root, dest).map_err(|source| Error::Io {
        path: dest.to_owned(),
        source,
    })?;
    Ok(files)
}

/// Whether a proper ancestor of `rel` is a symlink made by this extraction.
pub(super) fn through_link(rel: &Path, links: &HashSet<PathBuf>) -> bool {
    rel.ancestors()
        .skip(1)
        .any(|a| !a.as_os_str().is_empty() && links.contains(a))
}

/// A symlink at `rel` (relative to the runtime root) pointing at `target`:
/// relative, `..` only at the start, and resolving inside the root. Since the
/// link's own parent holds no symlink, this lexical check is exact.
pub(super) fn link_stays_inside(rel: &Path, target: &Path) -> bool {
    let mut depth = rel.components().count().saturating_sub(1) as i64;
    let mut descended = false;
    for c in target.components() {
        match c {
            Component::ParentDir if !descended => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            Component::CurDir => {}
            Component::Normal(_) => {
                descended = true;
                depth += 1;
            }
            _ => return false,
        }
    }
    true
}

pub(super) fn remove_existing(path: &Path) -> std::io::Result<()> {
    match fs_err::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs_err::remove_dir_all(path),
        Ok(_) => fs_err::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
pub(super) fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// A Windows host has no Unix modes; the archive gives each entry its mode
/// from what it is, so nothing is lost.
#[cfg(not(unix))]
pub(super) fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(unix)]
pub(super) fn symlink(link: &Path, at: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(link, at)
}

/// Never reached on a Windows host (a Linux bundle is refused before it
/// starts, see [`crate::platform::Platform::host_support`]); kept an error, not
/// a copy, so a runtime is never silently changed.
#[cfg(not(unix))]
pub(super) fn symlink(link: &Path, at: &Path) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        format!(
            "cannot create the symlink {} -> {} on this host",
            at.display(),
            link.display()
        ),
    ))
}
