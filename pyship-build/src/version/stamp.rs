//! `version --stamp` and `version --check`: write the version where Python and
//! Cargo read it, changing only the version value (comments, spacing and key
//! order kept, as cargo-release's `preserve_version_decor`), and keep Cargo.lock
//! in step so `cargo build --locked` still passes.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml_edit::DocumentMut;

use super::{Error, Version};
use crate::error::escaped;

/// Where the version is stamped.
#[derive(Debug, Clone)]
pub enum Target {
    /// `[project].version` of a pyproject.toml.
    Pyproject { path: PathBuf },
    /// A dynamic pyproject version kept in a file (setuptools `attr:`/`file:`,
    /// hatch `path`, the package's `__version__`).
    VersionFile { file: super::dynamic::VersionFile },
    /// A Cargo version (a maturin pyproject with `dynamic = ["version"]`, or
    /// a dynamic version kept nowhere cargo-pyship can read).
    Cargo {
        /// The manifest holding the version key.
        manifest: PathBuf,
        /// `true`: `[workspace.package].version`; `false`: `[package].version`.
        workspace: bool,
        /// Cargo.lock of the workspace, when it exists.
        lock: Option<PathBuf>,
        /// Workspace packages whose version changes with the key: (name, current version).
        packages: Vec<(String, String)>,
    },
    /// The app's own entry in `uv.lock` (`[[package]]` with a `virtual` or
    /// `editable` source at the app's folder), kept in step with a static
    /// `[project].version` as `uv version` does, so a stamp does not make
    /// the lock stale.
    UvLock {
        lock: PathBuf,
        /// The PEP 503 name (`my-app`), as uv.lock writes it.
        name: String,
        /// The app's folder relative to the lock's (`.`), `/`-separated.
        source: String,
    },
}

/// The uv.lock holding the entry of the project `name` (PEP 503) whose
/// pyproject is in `dir`: the nearest `uv.lock` at or above `dir`, if it has
/// that entry. Returns the lock and the project's source path in it; a
/// uv.lock there that cannot be read (a named pipe, a device) is an error
/// naming it.
pub fn uv_lock_of(
    dir: &Path,
    name: &str,
) -> Result<Option<(PathBuf, String)>, crate::fs::ReadError> {
    // Whatever stands there counts (a named pipe too): reading it refuses
    // what is not a regular file, rather than stamping around it.
    let Some((lock_dir, lock)) = dir
        .ancestors()
        .map(|d| (d, d.join("uv.lock")))
        .find(|(_, l)| fs_err::metadata(l).is_ok_and(|m| !m.is_dir()))
    else {
        return Ok(None);
    };
    let Ok(rel) = dir.strip_prefix(lock_dir) else {
        return Ok(None);
    };
    let source = if rel.as_os_str().is_empty() {
        ".".to_owned()
    } else {
        rel.to_string_lossy().replace('\\', "/")
    };
    let text = crate::fs::read_small_to_string(&lock).map_err(|source| crate::fs::ReadError {
        path: lock.clone(),
        source,
    })?;
    // A lock that does not parse is not stamped: uv reports it.
    let Ok(doc) = text.parse::<DocumentMut>() else {
        return Ok(None);
    };
    Ok(uv_lock_entry(&doc, name, &source).map(|_| (lock, source)))
}

/// The index of `name`'s entry with a local source at `source` in uv.lock's
/// `[[package]]` array.
fn uv_lock_entry(doc: &DocumentMut, name: &str, source: &str) -> Option<usize> {
    doc.get("package")?
        .as_array_of_tables()?
        .iter()
        .position(|t| {
            t.get("name").and_then(|n| n.as_str()) == Some(name)
                && t.get("source")
                    .and_then(|s| s.as_inline_table())
                    .is_some_and(|s| {
                        ["virtual", "editable"]
                            .iter()
                            .any(|k| s.get(k).and_then(|v| v.as_str()) == Some(source))
                    })
        })
}

/// New text of a uv.lock with `name`'s own entry at `pep440`, and its old
/// version; `None` when the entry has no version (a dynamic one).
pub fn set_uv_lock_version(
    path: &Path,
    text: &str,
    name: &str,
    source: &str,
    pep440: &str,
) -> Result<Option<(String, String)>, Error> {
    let mut doc = parse(path, text)?;
    let Some(i) = uv_lock_entry(&doc, name, source) else {
        return Ok(None);
    };
    let table = doc["package"]
        .as_array_of_tables_mut()
        .and_then(|a| a.get_mut(i))
        .expect("the entry found above");
    let Some(value) = table.get_mut("version").and_then(|v| v.as_value_mut()) else {
        return Ok(None);
    };
    let Some(old) = value.as_str().map(str::to_owned) else {
        return Ok(None);
    };
    let decor = value.decor().clone();
    *value = toml_edit::Value::from(pep440);
    *value.decor_mut() = decor;
    Ok(Some((doc.to_string(), old)))
}

/// One file the stamp looked at.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Stamped {
    pub path: PathBuf,
    pub old: Option<String>,
    pub new: String,
    pub changed: bool,
}

fn read(path: &Path) -> Result<String, Error> {
    crate::fs::read_small_to_string(path).map_err(|source| {
        Error::Read(crate::fs::ReadError {
            path: path.to_owned(),
            source,
        })
    })
}

fn parse(path: &Path, text: &str) -> Result<DocumentMut, Error> {
    text.parse::<DocumentMut>().map_err(|source| Error::Toml {
        path: path.to_owned(),
        source,
    })
}

/// Replace the string at `keys` in `doc`, keeping the value's decor.
/// Returns the old value, or `None` when the key is missing or not a string.
fn replace_string(doc: &mut DocumentMut, keys: &[&str], new: &str) -> Option<String> {
    let mut item = doc.as_item_mut();
    for k in keys {
        item = item.get_mut(k)?;
    }
    let value = item.as_value_mut()?;
    let old = value.as_str()?.to_owned();
    let decor = value.decor().clone();
    *value = toml_edit::Value::from(new);
    *value.decor_mut() = decor;
    Some(old)
}

/// New text of a pyproject.toml with `[project].version` set to `pep440`.
pub fn set_pyproject_version(
    path: &Path,
    text: &str,
    pep440: &str,
) -> Result<(String, String), Error> {
    let mut doc = parse(path, text)?;
    let old = replace_string(&mut doc, &["project", "version"], pep440).ok_or_else(|| {
        Error::NoVersionKey {
            path: path.to_owned(),
            key: "[project].version",
        }
    })?;
    Ok((doc.to_string(), old))
}

/// New text of a Cargo.toml with the package (or workspace.package) version set.
pub fn set_cargo_version(
    path: &Path,
    text: &str,
    workspace: bool,
    semver: &str,
) -> Result<(String, String), Error> {
    let mut doc = parse(path, text)?;
    let (keys, key): (&[&str], _) = if workspace {
        (
            &["workspace", "package", "version"],
            "[workspace.package].version",
        )
    } else {
        (&["package", "version"], "[package].version")
    };
    let old = replace_string(&mut doc, keys, semver).ok_or_else(|| Error::NoVersionKey {
        path: path.to_owned(),
        key,
    })?;
    Ok((doc.to_string(), old))
}

/// New text of a Cargo.lock with the given path packages moved to `semver`.
/// The workspace's own entries (no `source`) are found by name, whatever
/// version the lock holds for them: a Cargo.toml bumped by hand leaves the
/// lock behind, and stamping brings it in line.
pub fn set_lock_versions(
    path: &Path,
    text: &str,
    packages: &[(String, String)],
    semver: &str,
) -> Result<String, Error> {
    let mut doc = parse(path, text)?;
    let Some(array) = doc
        .get_mut("package")
        .and_then(|p| p.as_array_of_tables_mut())
    else {
        return Ok(text.to_owned());
    };
    let ours = |t: &toml_edit::Table| {
        let name = t.get("name").and_then(|v| v.as_str())?;
        let version = t.get("version").and_then(|v| v.as_str())?;
        (t.get("source").is_none() && packages.iter().any(|(n, _)| n == name))
            .then(|| (name.to_owned(), version.to_owned()))
    };
    // (name, version) of every entry that moves, as dependency lists name them.
    let moved: Vec<(String, String)> = array.iter().filter_map(ours).collect();
    for table in array.iter_mut() {
        if ours(table).is_some() {
            let decor = table["version"].as_value().map(|v| v.decor().clone());
            table["version"] = toml_edit::value(semver);
            if let (Some(d), Some(v)) = (decor, table["version"].as_value_mut()) {
                *v.decor_mut() = d;
            }
        }
        // Dependency entries are "name" or, when ambiguous, "name version".
        if let Some(deps) = table.get_mut("dependencies").and_then(|d| d.as_array_mut()) {
            for dep in deps.iter_mut() {
                let Some(s) = dep.as_str() else { continue };
                let mut parts = s.split(' ');
                let (Some(n), Some(v), None) = (parts.next(), parts.next(), parts.next()) else {
                    continue;
                };
                if moved.iter().any(|(mn, mv)| mn == n && mv == v) {
                    let decor = dep.decor().clone();
                    *dep = toml_edit::Value::from(format!("{n} {semver}"));
                    *dep.decor_mut() = decor;
                }
            }
        }
    }
    Ok(doc.to_string())
}

/// The versions Cargo.lock records for the workspace's own packages among
/// `names` (entries without a `source`), in the lock's order.
pub fn lock_versions(
    path: &Path,
    text: &str,
    names: &[&str],
) -> Result<Vec<(String, String)>, Error> {
    let doc = parse(path, text)?;
    let Some(array) = doc.get("package").and_then(|p| p.as_array_of_tables()) else {
        return Ok(Vec::new());
    };
    Ok(array
        .iter()
        .filter(|t| t.get("source").is_none())
        .filter_map(|t| {
            let name = t.get("name")?.as_str()?;
            let version = t.get("version")?.as_str()?;
            names
                .contains(&name)
                .then(|| (name.to_owned(), version.to_owned()))
        })
        .collect())
}

impl Target {
    /// The files stamping here writes.
    pub fn files(&self) -> Vec<&Path> {
        match self {
            Target::Pyproject { path } => vec![path],
            Target::VersionFile { file } => vec![&file.path],
            Target::UvLock { lock, .. } => vec![lock],
            Target::Cargo { manifest, lock, .. } => std::iter::once(manifest.as_path())
                .chain(lock.as_deref())
                .collect(),
        }
    }

    /// What stamping `version` here writes, for `release --dry-run`.
    pub fn describe(&self, version: &Version) -> String {
        match self {
            Target::Pyproject { path } => format!(
                "{} into [project].version of {}",
                version.pep440(),
                path.display()
            ),
            Target::VersionFile { file } => {
                format!("{} into {}", version.pep440(), file.describe())
            }
            Target::UvLock { lock, name, .. } => format!(
                "{} into {name}'s entry of {}",
                version.pep440(),
                lock.display()
            ),
            Target::Cargo {
                manifest,
                workspace,
                lock,
                ..
            } => format!(
                "{} into {} of {}{}",
                version.semver(),
                if *workspace {
                    "[workspace.package].version"
                } else {
                    "[package].version"
                },
                manifest.display(),
                if lock.is_some() {
                    " (and Cargo.lock)"
                } else {
                    ""
                }
            ),
        }
    }
}

/// Stamp `version` into every target, all files or none: every new content
/// is computed (a bad file leaves every file as it was) and every file
/// checked writable before any is replaced, and a failure while replacing
/// them puts back those already replaced ([`crate::fs::atomic_write_all`]).
/// An unchanged file is not rewritten.
pub fn stamp(targets: &[Target], version: &Version) -> Result<Vec<Stamped>, Error> {
    stamp_undoable(targets, version, None).map(|(stamped, _)| stamped)
}

/// [`stamp`], and what it replaced, for a caller that puts the files back
/// when what the stamp was for fails ([`Undo::restore`]). With a `journal`,
/// the undo is written there before any file is replaced, so a run killed
/// before it could restore them is undone by the next ([`recover`]);
/// [`Undo::restore`] and [`Undo::keep`] remove it.
pub fn stamp_undoable(
    targets: &[Target],
    version: &Version,
    journal: Option<&Path>,
) -> Result<(Vec<Stamped>, Undo), Error> {
    let mut writes: Vec<(PathBuf, String, Stamped)> = Vec::new();
    for target in targets {
        contents(target, version, &mut writes)?;
    }
    let changed: Vec<(&Path, &[u8])> = writes
        .iter()
        .filter(|(_, _, s)| s.changed)
        .map(|(path, contents, _)| (path.as_path(), contents.as_bytes()))
        .collect();
    let mut undo = Undo {
        journal: journal.map(Path::to_path_buf),
        files: Vec::new(),
    };
    for (path, contents) in &changed {
        let before = crate::fs::read_small(path).map_err(|source| {
            Error::Read(crate::fs::ReadError {
                path: path.to_path_buf(),
                source,
            })
        })?;
        undo.files.push(Replaced {
            path: path.to_path_buf(),
            before,
            after: contents.to_vec(),
        });
    }
    if let (Some(journal), false) = (journal, changed.is_empty()) {
        let text = serde_json::to_vec(&undo.files).expect("paths and bytes serialize");
        crate::fs::atomic_write(journal, &text)?;
    }
    if let Err(e) = crate::fs::atomic_write_all(&changed) {
        undo.forget_journal();
        return Err(e.into());
    }
    Ok((writes.into_iter().map(|(_, _, s)| s).collect(), undo))
}

/// The files a [`stamp_undoable`] replaced, as they were before and after,
/// and the journal that records them.
#[derive(Debug, Default, Clone)]
pub struct Undo {
    journal: Option<PathBuf>,
    files: Vec<Replaced>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Replaced {
    path: PathBuf,
    before: Vec<u8>,
    after: Vec<u8>,
}

/// What [`Undo::restore`] did with each stamped file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Restored {
    /// Put back as they were before the stamp.
    pub restored: Vec<PathBuf>,
    /// Changed (or removed) since the stamp, by someone else: left as they are.
    pub left: Vec<PathBuf>,
}

impl Undo {
    /// Put every stamped file back as it was, all or none, unless it changed
    /// since the stamp: an edit made meanwhile is not overwritten.
    pub fn restore(&self) -> Result<Restored, Error> {
        let mut done = Restored::default();
        let mut writes: Vec<(&Path, &[u8])> = Vec::new();
        for f in &self.files {
            match crate::fs::read_small(&f.path) {
                Ok(now) if now == f.after => {
                    writes.push((&f.path, &f.before));
                    done.restored.push(f.path.clone());
                }
                // Not replaced yet (the run stopped while stamping), or put
                // back already.
                Ok(now) if now == f.before => {}
                _ => done.left.push(f.path.clone()),
            }
        }
        crate::fs::atomic_write_all(&writes)?;
        self.forget_journal();
        Ok(done)
    }

    /// The stamp stays (what it was for succeeded): the journal goes.
    pub fn keep(&self) {
        self.forget_journal();
    }

    fn forget_journal(&self) {
        if let Some(journal) = &self.journal {
            let _ = fs_err::remove_file(journal);
        }
    }
}

/// Undo the stamp recorded in `journal` by a run that ended before it could
/// restore or keep it (killed): the files among `targets` (the ones this
/// project stamps; the journal names no others that count) are put back
/// unless they changed since, as by [`Undo::restore`], and the journal is
/// removed. `None` when there is no journal.
pub fn recover(journal: &Path, targets: &[Target]) -> Result<Option<Restored>, Error> {
    let text = match crate::fs::read_small(journal) {
        Ok(text) => text,
        Err(crate::fs::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(None)
        }
        Err(source) => {
            return Err(Error::Read(crate::fs::ReadError {
                path: journal.to_owned(),
                source,
            }))
        }
    };
    let files: Vec<Replaced> = serde_json::from_slice(&text).map_err(|e| Error::Journal {
        path: journal.to_owned(),
        message: e.to_string(),
    })?;
    let stamped: Vec<&Path> = targets.iter().flat_map(Target::files).collect();
    let (files, foreign): (Vec<Replaced>, Vec<Replaced>) = files
        .into_iter()
        .partition(|f| stamped.contains(&f.path.as_path()));
    let undo = Undo {
        journal: Some(journal.to_owned()),
        files,
    };
    let mut done = undo.restore()?;
    done.left.extend(foreign.into_iter().map(|f| f.path));
    Ok(Some(done))
}

/// The new contents of the files `target` stamps, pushed onto `writes`.
fn contents(
    target: &Target,
    version: &Version,
    writes: &mut Vec<(PathBuf, String, Stamped)>,
) -> Result<(), Error> {
    match target {
        Target::Pyproject { path } => {
            let text = read(path)?;
            let new = version.pep440();
            let (out, old) = set_pyproject_version(path, &text, &new)?;
            writes.push((
                path.clone(),
                out,
                Stamped {
                    path: path.clone(),
                    changed: old != new,
                    old: Some(old),
                    new,
                },
            ));
        }
        Target::VersionFile { file } => {
            let text = read(&file.path)?;
            let new = version.pep440();
            let out = super::dynamic::set_version(file, &text, &new).ok_or_else(|| {
                Error::VersionGone {
                    path: file.path.clone(),
                    what: file
                        .variable
                        .clone()
                        .unwrap_or_else(|| "the version".into()),
                }
            })?;
            writes.push((
                file.path.clone(),
                out.clone(),
                Stamped {
                    path: file.path.clone(),
                    changed: out != text,
                    old: Some(file.value.clone()),
                    new,
                },
            ));
        }
        Target::UvLock { lock, name, source } => {
            let text = read(lock)?;
            let new = version.pep440();
            if let Some((out, old)) = set_uv_lock_version(lock, &text, name, source, &new)? {
                writes.push((
                    lock.clone(),
                    out,
                    Stamped {
                        path: lock.clone(),
                        changed: old != new,
                        old: Some(old),
                        new,
                    },
                ));
            }
        }
        Target::Cargo {
            manifest,
            workspace,
            lock,
            packages,
        } => {
            let text = read(manifest)?;
            let new = version.semver();
            let (out, old) = set_cargo_version(manifest, &text, *workspace, &new)?;
            writes.push((
                manifest.clone(),
                out,
                Stamped {
                    path: manifest.clone(),
                    changed: old != new,
                    old: Some(old),
                    new: new.clone(),
                },
            ));
            if let Some(lock) = lock {
                let text = read(lock)?;
                let out = set_lock_versions(lock, &text, packages, &new)?;
                let changed = out != text;
                writes.push((
                    lock.clone(),
                    out,
                    Stamped {
                        path: lock.clone(),
                        old: None,
                        new,
                        changed,
                    },
                ));
            }
        }
    }
    Ok(())
}

/// One place a version is declared, for `--check`.
#[derive(Debug, Clone)]
pub struct Declared {
    pub what: String,
    pub version: Version,
}

/// `--check`: every declared version must equal the first. Returns the lines
/// naming each disagreeing place.
pub fn check(declared: &[Declared]) -> Result<(), Error> {
    let Some(first) = declared.first() else {
        return Ok(());
    };
    let bad: Vec<String> = declared
        .iter()
        .filter(|d| d.version != first.version)
        .map(|d| {
            format!(
                "  {} says {} but {} says {}",
                escaped(&d.what),
                d.version,
                escaped(&first.what),
                first.version
            )
        })
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(Error::Disagree(bad))
    }
}
