//! The cache key of a wheel build: its inputs' sources and settings.

use std::path::{Path, PathBuf};

use super::Error;
use crate::plan::Plan;

/// Which files among a build's sources it opens: a named pipe, socket or
/// device (or a symlink to one) there is refused, as the build would block
/// on the pipe or read the device forever. One elsewhere is left out of the
/// key like any entry that is not a regular file: the build never reads it.
pub(super) enum Opens {
    /// Any file of the roots: a PEP 517 backend (`uv build`) may open
    /// whatever its folder holds.
    Any,
    /// What a maturin build opens: the Python packages and modules it packs
    /// (`packs`), what is in a `src/` or `.cargo/` folder (the sources rustc
    /// follows `mod` into, cargo's settings), and the files read by name:
    /// `Cargo.toml`, `Cargo.lock`, `pyproject.toml`, `build.rs`. Not a
    /// crate's tests, benches or examples, nor the rest of the Cargo
    /// workspace (docs, assets, scripts): neither cargo nor maturin opens
    /// them to build a wheel.
    Maturin { packs: Vec<PathBuf> },
}

impl Opens {
    /// Whether the build opens `path`, an entry below `root`.
    fn opens(&self, root: &Path, path: &Path) -> bool {
        let Self::Maturin { packs } = self else {
            return true;
        };
        let by_name = ["Cargo.toml", "Cargo.lock", "pyproject.toml", "build.rs"];
        packs.iter().any(|p| path.starts_with(p))
            || path
                .file_name()
                .is_some_and(|n| by_name.iter().any(|b| n == *b))
            || path.strip_prefix(root).is_ok_and(|rel| {
                rel.parent()
                    .into_iter()
                    .flat_map(Path::components)
                    .any(|c| c.as_os_str() == "src" || c.as_os_str() == ".cargo")
            })
    }
}

/// SHA-256 over `salt` and every source file under `roots` (a pyproject's
/// folder and its Cargo workspace), by relative path and content. Build
/// outputs, VCS data, virtualenvs and caches are left out. A named pipe,
/// socket or device among the sources (or a symlink to one) that the build
/// `opens` is refused naming `what`, the package.
pub(super) fn input_key(
    plan: &Plan,
    what: &str,
    roots: &[PathBuf],
    opens: &Opens,
    salt: &[String],
) -> Result<String, Error> {
    use sha2::{Digest, Sha256};
    let canon = |p: &Path| fs_err::canonicalize(p).unwrap_or_else(|_| p.to_owned());
    // The packed packages as the walk sees them, below canonical roots.
    let opens = match opens {
        Opens::Any => Opens::Any,
        Opens::Maturin { packs } => Opens::Maturin {
            packs: packs
                .iter()
                .map(|p| match (p.parent(), p.file_name()) {
                    (Some(dir), Some(name)) => canon(dir).join(name),
                    _ => p.clone(),
                })
                .collect(),
        },
    };
    let mut roots: Vec<PathBuf> = roots.iter().map(|r| canon(r)).collect();
    roots.sort();
    roots.dedup();
    // `.cargo/` (its config.toml sets flags and linkers) is read by the
    // build; other dot folders (VCS, CI workflows, caches) are not.
    let skip_dir = |name: &str| {
        (name.starts_with('.') && name != ".cargo")
            || matches!(
                name,
                "target" | "dist" | "__pycache__" | "node_modules" | "venv" | "build"
            )
    };
    // cargo-pyship's own files and folders are no input of maturin: its
    // overrides folder, and the pyship tables of Cargo.toml files (below).
    let templates = canon(&plan.project.config_dir.join("templates"));
    // The app's own Python sources beside what the wheel packs are copied by
    // the app stage; maturin never reads them.
    let app_sources: Vec<PathBuf> = plan
        .app
        .dir
        .as_deref()
        .map(|d| {
            crate::layout::app_entries(
                d,
                plan.app.flat,
                crate::layout::top_package(&plan.module),
                &plan.app.exclude,
            )
        })
        .unwrap_or_default()
        .iter()
        .map(|p| canon(p))
        .collect();
    let mut h = Sha256::new();
    for s in salt {
        h.update(s.as_bytes());
        h.update([0]);
    }
    for root in &roots {
        h.update(root.display().to_string().as_bytes());
        let walk = walkdir::WalkDir::new(root)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| {
                e.depth() == 0
                    || !(e.file_type().is_dir() && skip_dir(&e.file_name().to_string_lossy()))
                        && e.path() != plan.out_dir
                        && e.path() != templates
                        && !app_sources.iter().any(|a| a == e.path())
            });
        for e in walk {
            let e = e.map_err(|e| Error::Io {
                path: root.clone(),
                source: std::io::Error::other(e),
            })?;
            // pyship.lock records downloads; it is written during a bundle.
            // A dot file at the top (.gitignore, which init edits) is no input.
            let ty = e.file_type();
            let special = if ty.is_symlink() {
                crate::fs::check_not_special(e.path())
            } else {
                crate::fs::refuse_special(e.path(), ty)
            };
            if let Err(crate::fs::Error::Special { path, kind }) = special {
                if !opens.opens(root, &path) {
                    continue;
                }
                return Err(Error::SpecialSource {
                    what: what.to_owned(),
                    path,
                    kind,
                    root: root.clone(),
                });
            }
            let name = e.file_name().to_string_lossy();
            if !e.file_type().is_file()
                || name == "pyship.lock"
                || (e.depth() == 1 && name.starts_with('.'))
            {
                continue;
            }
            let rel = e.path().strip_prefix(root).unwrap_or(e.path());
            h.update(rel.to_string_lossy().as_bytes());
            h.update([0]);
            let bytes = fs_err::read(e.path()).map_err(|source| Error::Io {
                path: e.path().to_owned(),
                source,
            })?;
            let bytes = if name == "Cargo.toml" {
                without_pyship_tables(bytes)
            } else {
                bytes
            };
            h.update(Sha256::digest(&bytes));
        }
    }
    Ok(hex::encode(h.finalize()))
}

/// A Cargo.toml as maturin and cargo read it: without the pyship tables
/// (`[package.metadata.pyship]`, `[workspace.metadata.pyship]`), which only
/// cargo-pyship reads, so editing a pyship key does not rebuild the wheel.
/// Anything else (comments included) counts; a file that does not parse is
/// taken as it is.
pub(super) fn without_pyship_tables(bytes: Vec<u8>) -> Vec<u8> {
    let Some(mut doc) = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|t| t.parse::<toml_edit::DocumentMut>().ok())
    else {
        return bytes;
    };
    for top in ["package", "workspace"] {
        if let Some(meta) = doc
            .get_mut(top)
            .and_then(|t| t.get_mut("metadata"))
            .and_then(|m| m.as_table_like_mut())
        {
            meta.remove("pyship");
        }
    }
    doc.to_string().into_bytes()
}
