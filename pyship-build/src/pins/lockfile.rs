//! `pyship.lock`, the file: its format, reading and writing it, and the
//! changes between two pin lists as `update` reports them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Error, Pin, LOCK_FILE};
use crate::error::escaped;
use crate::plan::Plan;
use crate::project::normalize_dist_name;

/// `[deps.{target}]` of `pyship.lock`: what a target resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetPins {
    /// uv's `--python-platform` the pins were resolved for.
    pub platform: String,
    /// The Python `X.Y` they were resolved for.
    pub python: String,
    /// The requirements they were resolved from: while these are the same,
    /// the pins are reused without asking the index.
    pub requirements: Vec<String>,
    #[serde(default, rename = "package")]
    pub packages: Vec<Pin>,
}

/// `pyship.lock`: the SHA-256 of every runtime URL fetched and, for a project
/// without `uv.lock` or `pylock.toml`, each target's pinned dependencies.
///
/// Format (TOML, sorted, written atomically):
///
/// ```toml
/// # pyship.lock: …
/// version = 1
///
/// [runtimes]
/// "https://www.python.org/ftp/python/3.11.9/python-3.11.9-embed-amd64.zip" = "009d6bf…"
///
/// [deps.windows]
/// platform = "x86_64-pc-windows-msvc"
/// python = "3.11"
/// requirements = ["fastapi", "numpy<2"]
///
/// [[deps.windows.package]]
/// name = "numpy"
/// version = "1.26.4"
/// wheels = [{ file = "numpy-1.26.4-cp311-cp311-win_amd64.whl", sha256 = "…", url = "https://…" }]
/// ```
///
/// Commit it: with it, a fresh checkout verifies the same bytes, installs the
/// same versions, and a cached copy is used without a request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockfile {
    pub version: u32,
    #[serde(default)]
    pub runtimes: BTreeMap<String, String>,
    /// Per target (`windows`, `linux`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub deps: BTreeMap<String, TargetPins>,
}

impl Lockfile {
    pub fn path(plan: &Plan) -> PathBuf {
        plan.project.config_dir.join(LOCK_FILE)
    }

    /// Read the lock; a missing file is an empty lock.
    pub fn read(path: &Path) -> Result<Self, Error> {
        let text = match crate::fs::read_small_to_string(path) {
            Ok(t) => t,
            Err(crate::fs::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self {
                    version: 1,
                    ..Self::default()
                })
            }
            Err(source) => {
                return Err(Error::LockRead {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        toml::from_str(&text).map_err(|e| Error::LockParse {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// The pinned hash of `url`.
    pub fn get(&self, url: &str) -> Option<&str> {
        self.runtimes.get(url).map(String::as_str)
    }

    /// Record `url` → `sha256` and write the file atomically. `locked`
    /// (`--locked`): adding a line is an error, the file stays as it is.
    pub fn record(path: &Path, url: &str, sha256: &str, locked: bool) -> Result<(), Error> {
        let mut lock = Self::read(path)?;
        if lock.get(url) == Some(sha256) {
            return Ok(());
        }
        if locked {
            return Err(Error::Locked {
                path: path.to_owned(),
                what: format!("the SHA-256 of {url}"),
            });
        }
        lock.runtimes.insert(url.to_owned(), sha256.to_owned());
        lock.write(path)
    }

    /// Write the lock atomically.
    pub fn write(&self, path: &Path) -> Result<(), Error> {
        let mut lock = self.clone();
        lock.version = 1;
        let body = toml::to_string(&lock).map_err(|e| Error::LockParse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let body = inline_wheels(&body);
        let text = format!(
            "# pyship.lock: SHA-256 of downloaded runtimes, recorded on first fetch, and\n# (without uv.lock or pylock.toml) the dependencies each target resolved.\n# Commit it; cargo-pyship installs exactly these and refuses a download that does not match.\n{body}"
        );
        // A project file: written where a link points, like the others.
        crate::fs::atomic_write_all(&[(path, text.as_bytes())]).map_err(|source| {
            Error::LockWrite(crate::fs::WriteError {
                path: path.to_owned(),
                source,
            })
        })
    }
}

/// `pyship.lock` as people read it in a diff: each package's `wheels` as one
/// inline array (`wheels = [{ file = …, sha256 = … }]`), not a table each.
fn inline_wheels(body: &str) -> String {
    let Ok(mut doc) = body.parse::<toml_edit::DocumentMut>() else {
        return body.to_owned();
    };
    let Some(deps) = doc.get_mut("deps").and_then(|d| d.as_table_like_mut()) else {
        return body.to_owned();
    };
    for (_, target) in deps.iter_mut() {
        let Some(packages) = target
            .get_mut("package")
            .and_then(|p| p.as_array_of_tables_mut())
        else {
            continue;
        };
        for package in packages.iter_mut() {
            let Some(wheels) = package
                .get("wheels")
                .and_then(|w| w.as_array_of_tables())
                .cloned()
            else {
                continue;
            };
            let mut array = toml_edit::Array::new();
            for w in wheels.iter() {
                let mut t = w.clone().into_inline_table();
                t.fmt();
                array.push(t);
            }
            package.remove("wheels");
            package.insert("wheels", toml_edit::value(array));
        }
    }
    let mut out = doc.to_string();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// A change `pyship.lock` got (or, with `--dry-run`, would get).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "change")]
pub enum Change {
    Added {
        name: String,
        version: String,
    },
    Removed {
        name: String,
        version: String,
    },
    Updated {
        name: String,
        from: String,
        to: String,
    },
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Added { name, version } => {
                write!(f, "Adding {} v{}", escaped(name), escaped(version))
            }
            Change::Removed { name, version } => {
                write!(f, "Removing {} v{}", escaped(name), escaped(version))
            }
            Change::Updated { name, from, to } => write!(
                f,
                "Updating {} v{} -> v{}",
                escaped(name),
                escaped(from),
                escaped(to)
            ),
        }
    }
}

/// What changed from `old` to `new`, by name.
pub fn diff(old: &[Pin], new: &[Pin]) -> Vec<Change> {
    let key = |p: &Pin| normalize_dist_name(&p.name);
    let old_map: BTreeMap<String, &Pin> = old.iter().map(|p| (key(p), p)).collect();
    let new_map: BTreeMap<String, &Pin> = new.iter().map(|p| (key(p), p)).collect();
    let mut out = Vec::new();
    for (k, n) in &new_map {
        match old_map.get(k) {
            None => out.push(Change::Added {
                name: n.name.clone(),
                version: n.version.clone(),
            }),
            Some(o) if o.version != n.version => out.push(Change::Updated {
                name: n.name.clone(),
                from: o.version.clone(),
                to: n.version.clone(),
            }),
            Some(_) => {}
        }
    }
    for (k, o) in &old_map {
        if !new_map.contains_key(k) {
            out.push(Change::Removed {
                name: o.name.clone(),
                version: o.version.clone(),
            });
        }
    }
    out
}
