//! The app's local Python packages: projects of the same repository that the
//! app depends on, which must be built from their sources for each target
//! like the app's own wheel, never taken from a package index.
//!
//! Why: a pure-Python app whose fast core is a PyO3 package of its own
//! (`rtoml` beside a FastAPI service) names it like any dependency
//! (`rtoml==0.14.0`). Resolved like the others, the index would quietly supply
//! the published build, not the sources in the repository. A dependency is
//! local when
//! - `[tool.uv.sources]` gives it a `path` (a folder with a pyproject.toml),
//! - `[tool.uv.sources]` says `workspace = true` (a member of the uv
//!   workspace the app belongs to),
//! - it is a direct reference to a local folder (`name @ file:///…`), or
//! - a Cargo workspace member has a pyproject.toml of that name built with
//!   maturin (the crate a `maturin new` project keeps beside its pyproject).
//!
//! A local package's own dependencies are followed the same way. Its version
//! is its own: `version --stamp` writes only the app's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use toml_edit::DocumentMut;

use crate::error::escaped;
use crate::project::{normalize_dist_name, Project, Pyproject};

/// How a local package was found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", tag = "via")]
pub enum Via {
    /// `[tool.uv.sources] name = { path = "…" }`.
    UvSourcePath { path: String },
    /// `[tool.uv.sources] name = { workspace = true }`.
    UvWorkspace,
    /// `name @ file:///…` in the dependencies.
    DirectReference { url: String },
    /// A Cargo workspace member whose pyproject.toml has this name.
    CargoMember { manifest: PathBuf },
}

/// One local package of the app.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LocalPackage {
    /// `[project].name` as its pyproject writes it.
    pub name: String,
    /// The normalized distribution name (`rtoml`, `my_core`).
    pub dist: String,
    /// Its pyproject.toml.
    pub pyproject: Pyproject,
    pub via: Via,
    /// The project (app or local package) whose dependency it is.
    pub wanted_by: PathBuf,
}

impl LocalPackage {
    /// The folder holding its pyproject.toml.
    pub fn dir(&self) -> &Path {
        self.pyproject.dir()
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("`{}` in [tool.uv.sources] of {pyproject} points at {}, which has no pyproject.toml", escaped(.name), escaped(.path.display()))]
    #[diagnostic(help("point the source at the folder holding the package's pyproject.toml"))]
    NoProject {
        name: String,
        pyproject: PathBuf,
        path: PathBuf,
    },
    #[error("`{}` in [tool.uv.sources] of {pyproject} is `workspace = true`, but no member of the uv workspace{} is named so", escaped(.name), root.as_ref().map(|r| format!(" at {}", r.display())).unwrap_or_default())]
    #[diagnostic(help("add the package's folder to `members` of [tool.uv.workspace] in the workspace's root pyproject.toml, or give it a `path` source"))]
    NoMember {
        name: String,
        pyproject: PathBuf,
        root: Option<PathBuf>,
    },
    #[error("{path} is named `{}`, but {pyproject} depends on it as `{}`", escaped(.found), escaped(.name))]
    #[diagnostic(help("use the package's [project] name in the dependency"))]
    WrongName {
        name: String,
        found: String,
        path: PathBuf,
        pyproject: PathBuf,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Project(#[from] crate::project::Error),
}

/// The name of a PEP 508 requirement (`rtoml[x]>=1; …` → `rtoml`).
pub fn requirement_name(req: &str) -> Option<&str> {
    let req = req.trim_start();
    let end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(req.len());
    (end > 0).then(|| &req[..end])
}

/// The local folder of a direct reference (`name @ file:///abs/dir`), if any.
fn direct_reference(req: &str, base: &Path) -> Option<(String, PathBuf)> {
    let (_, url) = req.split_once('@')?;
    let url = url.split(';').next()?.trim();
    let path = url
        .strip_prefix("file://")
        .or_else(|| url.strip_prefix("file:"))?;
    let path = crate::net::percent_decode(path);
    let p = Path::new(&path);
    let abs = if p.is_absolute() {
        p.to_owned()
    } else {
        base.join(p)
    };
    Some((url.to_owned(), abs))
}

/// A pyproject's `[tool.uv.sources]`: normalized name → the source tables
/// (a name may have several, each with a marker).
fn uv_sources(doc: &DocumentMut) -> BTreeMap<String, Vec<toml_edit::Item>> {
    let mut out = BTreeMap::new();
    let Some(t) = doc
        .get("tool")
        .and_then(|t| t.get("uv"))
        .and_then(|u| u.get("sources"))
        .and_then(|s| s.as_table_like())
    else {
        return out;
    };
    for (name, v) in t.iter() {
        let items = match v.as_array() {
            Some(a) => a
                .iter()
                .map(|v| toml_edit::Item::Value(v.clone()))
                .collect(),
            None => vec![v.clone()],
        };
        out.insert(normalize_dist_name(name), items);
    }
    out
}

fn read_doc(path: &Path) -> Result<DocumentMut, crate::project::Error> {
    let text =
        crate::fs::read_small_to_string(path).map_err(|source| crate::project::Error::Read {
            path: path.to_owned(),
            source,
        })?;
    text.parse::<DocumentMut>()
        .map_err(|source| crate::project::Error::Toml {
            path: path.to_owned(),
            source,
        })
}

/// The uv workspace `dir` belongs to: its root (a folder at or above `dir`
/// whose pyproject.toml has `[tool.uv.workspace]`) and each member's
/// pyproject, by normalized name.
fn uv_workspace(dir: &Path) -> Option<(PathBuf, BTreeMap<String, PathBuf>)> {
    let root = dir.ancestors().find(|d| {
        read_doc(&d.join("pyproject.toml")).is_ok_and(|doc| {
            doc.get("tool")
                .and_then(|t| t.get("uv"))
                .and_then(|u| u.get("workspace"))
                .is_some()
        })
    })?;
    let doc = read_doc(&root.join("pyproject.toml")).ok()?;
    let ws = doc.get("tool")?.get("uv")?.get("workspace")?;
    let globs = |key: &str| -> Vec<globset::GlobMatcher> {
        ws.get(key)
            .and_then(|m| m.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str())
                    .filter_map(|g| globset::Glob::new(g.trim_end_matches('/')).ok())
                    .map(|g| g.compile_matcher())
                    .collect()
            })
            .unwrap_or_default()
    };
    let (members, exclude) = (globs("members"), globs("exclude"));
    let mut out = BTreeMap::new();
    let walk = walkdir::WalkDir::new(root)
        .max_depth(4)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            let n = e.file_name().to_string_lossy();
            e.depth() == 0
                || !(n.starts_with('.') || matches!(&*n, "target" | "node_modules" | "dist"))
        });
    for e in walk.flatten() {
        if !e.file_type().is_dir() {
            continue;
        }
        let Ok(rel) = e.path().strip_prefix(root) else {
            continue;
        };
        let member = e.depth() == 0
            || members.iter().any(|m| m.is_match(rel)) && !exclude.iter().any(|m| m.is_match(rel));
        let py = e.path().join("pyproject.toml");
        if member && py.is_file() {
            if let Ok(p) = Pyproject::read(&py) {
                out.insert(p.dist_name(), py);
            }
        }
    }
    Some((root.to_owned(), out))
}

/// The root folder of the uv workspace the project at `dir` is a member of
/// (or the root of), if any: where its `uv.lock` lives.
pub fn uv_workspace_root(dir: &Path, name: &str) -> Option<PathBuf> {
    let (root, members) = uv_workspace(dir)?;
    let py = members.get(&normalize_dist_name(name))?;
    same_file(py.parent()?, dir).then_some(root)
}

/// The Cargo workspace members that carry a maturin pyproject.toml beside
/// their Cargo.toml, by normalized name (the app's own pyproject excluded).
fn cargo_member_projects(
    member_manifests: &[PathBuf],
    app: &Path,
) -> BTreeMap<String, (PathBuf, PathBuf)> {
    let mut out = BTreeMap::new();
    for manifest in member_manifests {
        let Some(dir) = manifest.parent() else {
            continue;
        };
        let py = dir.join("pyproject.toml");
        if same_file(&py, app) || !py.is_file() {
            continue;
        }
        if let Ok(p) = Pyproject::read(&py) {
            if p.is_maturin() {
                out.insert(p.dist_name(), (py, manifest.clone()));
            }
        }
    }
    out
}

fn same_file(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| fs_err::canonicalize(p).unwrap_or_else(|_| p.to_owned());
    canon(a) == canon(b)
}

/// The requirement strings of `py` a bundle installs: its dependencies, and
/// for the app the configured extras and dependency groups.
fn wanted(py: &Pyproject, extras: &[String]) -> Vec<String> {
    let mut reqs = py.dependencies.clone();
    for e in extras {
        if let Some(deps) = py.optional_dependencies.get(e) {
            reqs.extend(deps.iter().cloned());
        }
    }
    reqs
}

/// The app's local packages, each once, in the order found. `extras`: the
/// app's extras of every target (a local package needed by any target is
/// built for each).
pub fn find(
    project: &Project,
    app: &Pyproject,
    extras: &[String],
    groups: &[String],
) -> Result<Vec<LocalPackage>, Error> {
    find_among(&project.member_manifests, app, extras, groups)
}

/// [`find`], with the Cargo workspace members' manifests given.
fn find_among(
    member_manifests: &[PathBuf],
    app: &Pyproject,
    extras: &[String],
    groups: &[String],
) -> Result<Vec<LocalPackage>, Error> {
    let members = cargo_member_projects(member_manifests, &app.path);
    let mut found: Vec<LocalPackage> = Vec::new();
    // (project whose requirements to scan, its requirements)
    let mut queue: Vec<(Pyproject, Vec<String>)> = {
        let mut reqs = wanted(app, extras);
        reqs.extend(dependency_group_requirements(app, groups));
        vec![(app.clone(), reqs)]
    };
    while let Some((owner, reqs)) = queue.pop() {
        let doc = read_doc(&owner.path)?;
        let sources = uv_sources(&doc);
        let mut workspace = None;
        for req in &reqs {
            let Some(name) = requirement_name(req) else {
                continue;
            };
            let dist = normalize_dist_name(name);
            if dist == app.dist_name() || found.iter().any(|f| f.dist == dist) {
                continue;
            }
            let mut hit: Option<(PathBuf, Via)> = None;
            for item in sources.get(&dist).into_iter().flatten() {
                if let Some(path) = item.get("path").and_then(|p| p.as_str()) {
                    let dir = owner.dir().join(path);
                    if dir.is_file() {
                        // A wheel or sdist file: not a project to build.
                        continue;
                    }
                    let py = dir.join("pyproject.toml");
                    if !py.is_file() {
                        return Err(Error::NoProject {
                            name: name.to_owned(),
                            pyproject: owner.path.clone(),
                            path: dir,
                        });
                    }
                    hit = Some((
                        py,
                        Via::UvSourcePath {
                            path: path.to_owned(),
                        },
                    ));
                    break;
                }
                if item.get("workspace").and_then(|w| w.as_bool()) == Some(true) {
                    let ws = workspace.get_or_insert_with(|| uv_workspace(owner.dir()));
                    let py = ws.as_ref().and_then(|(_, m)| m.get(&dist)).cloned();
                    match py {
                        Some(py) => hit = Some((py, Via::UvWorkspace)),
                        None => {
                            return Err(Error::NoMember {
                                name: name.to_owned(),
                                pyproject: owner.path.clone(),
                                root: ws.as_ref().map(|(r, _)| r.clone()),
                            })
                        }
                    }
                    break;
                }
            }
            if hit.is_none() {
                if let Some((url, dir)) = direct_reference(req, owner.dir()) {
                    let py = dir.join("pyproject.toml");
                    if dir.is_dir() && py.is_file() {
                        hit = Some((py, Via::DirectReference { url }));
                    }
                }
            }
            if hit.is_none() {
                if let Some((py, manifest)) = members.get(&dist) {
                    hit = Some((
                        py.clone(),
                        Via::CargoMember {
                            manifest: manifest.clone(),
                        },
                    ));
                }
            }
            let Some((py_path, via)) = hit else { continue };
            let py = Pyproject::read(&py_path)?;
            if py.dist_name() != dist {
                return Err(Error::WrongName {
                    name: name.to_owned(),
                    found: py.name.clone(),
                    path: py_path,
                    pyproject: owner.path.clone(),
                });
            }
            queue.push((py.clone(), py.dependencies.clone()));
            found.push(LocalPackage {
                name: py.name.clone(),
                dist,
                pyproject: py,
                via,
                wanted_by: owner.path.clone(),
            });
        }
    }
    Ok(found)
}

/// The requirements of the pyproject's `[dependency-groups]` named in
/// `groups`, `{include-group = "…"}` entries followed.
pub fn dependency_group_requirements(py: &Pyproject, groups: &[String]) -> Vec<String> {
    let Ok(doc) = read_doc(&py.path) else {
        return Vec::new();
    };
    let Some(table) = doc.get("dependency-groups").and_then(|g| g.as_table_like()) else {
        return Vec::new();
    };
    let norm = |s: &str| normalize_dist_name(s);
    let find_group = |name: &str| {
        table
            .iter()
            .find(|(k, _)| norm(k) == norm(name))
            .and_then(|(_, v)| v.as_array().cloned())
    };
    let mut out = Vec::new();
    let mut seen = Vec::new();
    let mut todo: Vec<String> = groups.to_vec();
    while let Some(g) = todo.pop() {
        if seen.contains(&norm(&g)) {
            continue;
        }
        seen.push(norm(&g));
        for v in find_group(&g).iter().flat_map(|a| a.iter()) {
            if let Some(s) = v.as_str() {
                out.push(s.to_owned());
            } else if let Some(inc) = v
                .as_inline_table()
                .and_then(|t| t.get("include-group"))
                .and_then(|i| i.as_str())
            {
                todo.push(inc.to_owned());
            }
        }
    }
    out
}

/// The dependency groups the pyproject declares (normalized names).
pub fn declared_groups(py: &Pyproject) -> Vec<String> {
    read_doc(&py.path)
        .ok()
        .and_then(|doc| {
            doc.get("dependency-groups")
                .and_then(|g| g.as_table_like())
                .map(|t| t.iter().map(|(k, _)| normalize_dist_name(k)).collect())
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirement_names() {
        assert_eq!(requirement_name("rtoml==0.14.0"), Some("rtoml"));
        assert_eq!(
            requirement_name(" my.core[x] >=1; python_version>'3'"),
            Some("my.core")
        );
        assert_eq!(requirement_name("pkg @ file:///a/b"), Some("pkg"));
        assert_eq!(requirement_name(""), None);
    }

    /// Every way a dependency is local: a `path` source, a uv workspace
    /// member, a direct reference, a Cargo member's maturin project; local
    /// packages of local packages; an extra only when configured; and
    /// dependencies that are none of these stay with the index.
    #[test]
    fn local_packages_are_found_every_way() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        let write = |rel: &str, text: &str| {
            let p = root.join(rel);
            fs_err::create_dir_all(p.parent().unwrap()).unwrap();
            fs_err::write(&p, text).unwrap();
        };
        write(
            "pyproject.toml",
            "[project]\nname = \"root\"\n[tool.uv.workspace]\nmembers = [\"libs/*\", \"app\"]\n",
        );
        let core_url = format!("file://{}", root.join("far/core%20x").display());
        write(
            "app/pyproject.toml",
            &format!(
                "[project]\nname = \"app\"\ndependencies = [\"fastapi\", \"Lib_A>=1\", \"core-x @ {core_url}\", \"rustcore\"]\n[project.optional-dependencies]\nextra = [\"by-path\"]\n[tool.uv.sources]\nlib-a = {{ workspace = true }}\nby-path = {{ path = \"../side\" }}\n"
            ),
        );
        write(
            "libs/lib_a/pyproject.toml",
            "[project]\nname = \"lib-a\"\ndependencies = [\"nested\", \"six\"]\n[tool.uv.sources]\nnested = { path = \"../../nested\" }\n",
        );
        write("nested/pyproject.toml", "[project]\nname = \"nested\"\n");
        write("side/pyproject.toml", "[project]\nname = \"by-path\"\n");
        write(
            "far/core x/pyproject.toml",
            "[project]\nname = \"core-x\"\n",
        );
        write(
            "crates/rustcore/pyproject.toml",
            "[project]\nname = \"rustcore\"\n[build-system]\nbuild-backend = \"maturin\"\n",
        );
        write(
            "crates/rustcore/Cargo.toml",
            "[package]\nname = \"rustcore\"\n",
        );
        let app = Pyproject::read(&root.join("app/pyproject.toml")).unwrap();
        let members = [root.join("crates/rustcore/Cargo.toml")];
        let names = |extras: &[String]| -> Vec<(String, String)> {
            find_among(&members, &app, extras, &[])
                .unwrap()
                .into_iter()
                .map(|l| {
                    let via = match l.via {
                        Via::UvSourcePath { .. } => "path",
                        Via::UvWorkspace => "workspace",
                        Via::DirectReference { .. } => "direct",
                        Via::CargoMember { .. } => "cargo",
                    };
                    (l.dist, via.to_owned())
                })
                .collect()
        };
        let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        let mut found = names(&[]);
        found.sort();
        assert_eq!(
            found,
            [
                pair("core_x", "direct"),
                pair("lib_a", "workspace"),
                pair("nested", "path"),
                pair("rustcore", "cargo"),
            ]
        );
        assert!(names(&["extra".into()]).contains(&pair("by_path", "path")));

        // A source that leads nowhere is an error naming it.
        write("side/pyproject.toml", "[project]\nname = \"renamed\"\n");
        let e = find_among(&members, &app, &["extra".into()], &[]).unwrap_err();
        assert!(matches!(e, Error::WrongName { .. }), "{e}");
    }

    #[test]
    fn direct_references_to_folders() {
        let base = Path::new("/p/app");
        assert_eq!(
            direct_reference("core @ file:///srv/my%20core ; sys_platform=='win32'", base),
            Some((
                "file:///srv/my%20core".into(),
                PathBuf::from("/srv/my core")
            ))
        );
        assert_eq!(
            direct_reference("core @ file:../core", base),
            Some(("file:../core".into(), PathBuf::from("/p/app/../core")))
        );
        assert_eq!(direct_reference("core @ https://x/y.whl", base), None);
        assert_eq!(direct_reference("core>=1", base), None);
    }
}
