//! What `cargo pyship init` finds before it writes a table: where the table
//! goes (the root Cargo.toml of a virtual workspace, else the package's),
//! which pyproject.toml is the app's (a bounded search), and the app's
//! `module` and `app-src`, derived exactly as the plan derives them
//! ([`crate::launch`], [`crate::layout`]) so that init writes a key only when
//! the derivation would not find the same thing by itself.
//!
//! Why a bounded search: a repository also holds virtualenvs, `node_modules`,
//! build output and vendored projects, each of which may carry a
//! pyproject.toml that is not the app's. The search looks at the table's
//! folder, then two levels below it and the workspace members, never inside
//! the folders [`crate::layout::excluded_dir`] names or hidden ones, and
//! never below a folder that already is a Python project. Several candidates
//! are an error listing them: init does not guess.

use std::path::{Path, PathBuf};

use serde::Serialize;
use toml_edit::DocumentMut;

use crate::fs::{rel_slash, rel_up};
use crate::launch::{Launch, Target};
use crate::layout;
use crate::project::{display_path, ConfigSource, ConfigTable, Project, Pyproject};

/// How many folder levels below the table's folder the search looks.
pub const SEARCH_DEPTH: usize = 2;

/// One thing init chose, and why (shown as a status line).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Choice {
    pub verb: Verb,
    pub message: String,
}

/// The status verb of a [`Choice`].
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub enum Verb {
    Found,
    Chose,
    Skipped,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Found => "Found",
            Verb::Chose => "Chose",
            Verb::Skipped => "Skipped",
        }
    }
}

/// A key init writes because the plan would not derive its value.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Found {
    /// The value, as written in the table.
    pub value: String,
    /// Where it came from (the comment above the key).
    pub why: String,
}

/// What init found for the table it writes.
#[derive(Debug, Clone, Serialize)]
pub struct Discovery {
    /// The table init writes, and the Cargo.toml that declares it.
    pub target: ConfigSource,
    /// The app's pyproject.toml (absolute), when one was found.
    pub pyproject: Option<PathBuf>,
    /// `pyproject`, when not the default `pyproject.toml` next to the table.
    pub pyproject_key: Option<Found>,
    /// `module`, when the plan would not derive it.
    pub module_key: Option<Found>,
    /// `app-src`, when the layout would not find it.
    pub app_src_key: Option<Found>,
    /// `package`: the member a workspace's table ships, when the workspace
    /// has several.
    pub package_key: Option<Found>,
    /// What init chose and why, in order.
    pub choices: Vec<Choice>,
    /// What init could not decide (the table is still written).
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("several pyproject.toml files could be the app's: {}", list(.found))]
    #[diagnostic(help("choose the app's with `cargo pyship init --pyproject {}` (a path from the current directory)", crate::error::escaped(.found.first().map(String::as_str).unwrap_or("path/to/pyproject.toml"))))]
    SeveralPyprojects {
        /// The table's folder (the candidates are shown relative to it).
        root: PathBuf,
        found: Vec<String>,
    },
    #[error("--pyproject {}: {} does not exist", crate::error::escaped(.given), crate::error::escaped(.resolved.display()))]
    #[diagnostic(help(
        "give the path of the app's pyproject.toml, relative to the current directory"
    ))]
    GivenMissing { given: String, resolved: PathBuf },
    #[error("--pyproject {}: {} has no [project] table with a `name`", crate::error::escaped(.given), crate::error::escaped(.resolved.display()))]
    #[diagnostic(help("add a [project] table with `name` (PEP 621), or point --pyproject at the app's pyproject.toml"))]
    GivenNotAProject { given: String, resolved: PathBuf },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Project(#[from] crate::project::Error),
}

fn list(items: &[String]) -> String {
    crate::error::escaped(items.join(", ")).to_string()
}

/// Where init writes a new table: a virtual workspace's root Cargo.toml
/// (`[workspace.metadata.pyship]`, the only Cargo.toml that is the whole
/// project's), else the selected package's (`[package.metadata.pyship]`).
/// An existing table stays where it is.
pub fn target_table(project: &Project) -> ConfigSource {
    if project.config_source.table != ConfigTable::None {
        return project.config_source.clone();
    }
    // A package in a virtual workspace, or a workspace without members (a
    // Python-only project): the root Cargo.toml is the whole project's.
    if is_virtual(&project.workspace_manifest) {
        return ConfigSource {
            table: ConfigTable::Workspace,
            manifest: project.workspace_manifest.clone(),
        };
    }
    ConfigSource {
        table: ConfigTable::Package,
        manifest: project.manifest_path.clone(),
    }
}

/// A Cargo.toml with `[workspace]` and no `[package]`.
pub fn is_virtual(manifest: &Path) -> bool {
    crate::fs::read_small_to_string(manifest)
        .ok()
        .and_then(|t| t.parse::<DocumentMut>().ok())
        .is_some_and(|d| d.get("workspace").is_some() && d.get("package").is_none())
}

/// How many folders above a crate init looks for the maturin project that
/// builds it (a `rust/` or `crates/x/` folder beside the Python sources).
const ABOVE_DEPTH: usize = 3;

/// The pyproject above `root` (at most [`ABOVE_DEPTH`] folders up, not past a
/// repository root) whose `[tool.maturin] manifest-path` (by default the
/// Cargo.toml next to it) is `manifest`, with its path relative to `root`.
fn maturin_project_above(root: &Path, manifest: &Path) -> Option<(Pyproject, String)> {
    let manifest = manifest.canonicalize().ok()?;
    let mut dir = root.to_owned();
    for _ in 0..ABOVE_DEPTH {
        if dir.join(".git").exists() {
            return None;
        }
        dir = dir.parent()?.to_owned();
        let p = dir.join("pyproject.toml");
        let Some(py) = p.is_file().then(|| read_project(&p)).flatten() else {
            continue;
        };
        let builds = py
            .maturin_manifest()
            .and_then(|m| m.canonicalize().ok())
            .is_some_and(|m| m == manifest);
        if builds {
            let rel = rel_up(root, &py.path);
            return Some((py, rel));
        }
        return None;
    }
    None
}

/// A pyproject.toml that describes a Python project (`[project]` with a
/// `name`); a tool-only one (`[tool.ruff]` at a repository root) is not.
fn read_project(path: &Path) -> Option<Pyproject> {
    Pyproject::read(path).ok()
}

/// Why a pyproject.toml without a `[project]` name is skipped.
fn skip_reason(path: &Path) -> &'static str {
    match Pyproject::read(path) {
        Err(crate::project::Error::PoetryProject { .. }) => {
            "the project is declared in [tool.poetry] (Poetry 1 style), not in [project]"
        }
        _ => "no [project] table with a `name` (tool settings only)",
    }
}

fn skipped_dir(p: &Path) -> bool {
    p.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        || layout::excluded_dir(p)
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs_err::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_dir() && !skipped_dir(p))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The workspace members named in `[workspace] members` of the root
/// Cargo.toml (literal paths and `dir/*` globs), as folders.
fn member_dirs(workspace_manifest: &Path) -> Vec<PathBuf> {
    let root = workspace_manifest.parent().unwrap_or(Path::new("."));
    crate::fs::read_small_to_string(workspace_manifest)
        .ok()
        .and_then(|t| t.parse::<DocumentMut>().ok())
        .map(|doc| crate::project::workspace_member_dirs(root, &doc, subdirs))
        .unwrap_or_default()
}

/// The candidate pyprojects below `root`: `root`'s own when it is a
/// project, else every project found [`SEARCH_DEPTH`] levels down and in the
/// workspace members (not below a folder that is already a project).
/// Also returns the pyproject.toml files skipped as tool-only.
fn search(root: &Path, members: &[PathBuf]) -> (Vec<Pyproject>, Vec<PathBuf>) {
    let mut found = Vec::new();
    let mut tool_only = Vec::new();
    let mut visit = |dir: &Path, found: &mut Vec<Pyproject>| -> bool {
        let p = dir.join("pyproject.toml");
        if !p.is_file() {
            return false;
        }
        match read_project(&p) {
            Some(py) => {
                if !found.iter().any(|f: &Pyproject| f.path == py.path) {
                    found.push(py);
                }
                true
            }
            None => {
                if !tool_only.contains(&p) {
                    tool_only.push(p);
                }
                false
            }
        }
    };
    if visit(root, &mut found) {
        return (found, tool_only);
    }
    let mut level = vec![root.to_owned()];
    for _ in 0..SEARCH_DEPTH {
        let mut next = Vec::new();
        for dir in &level {
            for sub in subdirs(dir) {
                if !visit(&sub, &mut found) {
                    next.push(sub);
                }
            }
        }
        level = next;
    }
    for m in members {
        if m.is_dir()
            && !found
                .iter()
                .any(|f| f.dir().starts_with(m) || m.starts_with(f.dir()))
        {
            visit(m, &mut found);
        }
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    (found, tool_only)
}

/// The folders at most [`SEARCH_DEPTH`] levels below the pyproject's that
/// contain the package `top` (not being a package themselves).
fn folders_holding(py: &Pyproject, top: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut level = vec![py.dir().to_owned()];
    for _ in 0..SEARCH_DEPTH {
        let mut next = Vec::new();
        for dir in &level {
            for sub in subdirs(dir) {
                if sub.join("__init__.py").is_file() {
                    continue;
                }
                if sub.join(top).join("__init__.py").is_file()
                    || sub.join(top).join("__main__.py").is_file()
                    || sub.join(format!("{top}.py")).is_file()
                {
                    out.push(sub.clone());
                }
                next.push(sub);
            }
        }
        level = next;
    }
    out
}

/// What the plan would launch with no `module` key, as the key's value.
fn derived_module(config: &crate::config::Config, py: &Pyproject) -> Option<String> {
    let mut c = config.clone();
    c.module = None;
    Launch::resolve(&c, py).ok().map(|l| l.target.spec())
}

/// `project` as the plan will see it once the table is written at `target`
/// with `pyproject`, `module` and `app-src` unset (every other key as it is).
pub fn derived_project(
    project: &Project,
    target: &ConfigSource,
    py: Option<&Pyproject>,
) -> Project {
    let mut p = project.clone();
    p.config_source = target.clone();
    p.config_dir = target.config_dir();
    p.pyproject_written = None;
    let mut raw = project.raw_config.clone();
    raw.module = None;
    raw.app_src = None;
    if let Some(py) = py {
        raw.pyproject = Some(PathBuf::from(rel_slash(&p.config_dir, &py.path)));
        p.pyproject = Some(py.clone());
    } else {
        raw.pyproject = None;
        let default = p.config_dir.join("pyproject.toml");
        p.pyproject = read_project(&default);
    }
    // The defaults that follow the pyproject (`name`) follow the one found.
    p.config = raw.resolve(p.default_name());
    p
}

/// Discover the project for a new table at [`target_table`]. `given` is
/// `--pyproject` as typed (relative to the current directory). With
/// `keep_config`, the keys the table already sets (a `--force` rewrite) win
/// over discovery when they still resolve.
pub fn discover(
    project: &Project,
    given: Option<&Path>,
    keep_config: bool,
) -> Result<Discovery, Error> {
    let target = target_table(project);
    let root = target.config_dir();
    let mut choices = Vec::new();
    let mut warnings = Vec::new();
    if target.table == ConfigTable::Workspace && project.config_source.table == ConfigTable::None {
        choices.push(Choice {
            verb: Verb::Chose,
            message: format!(
                "[workspace.metadata.pyship] in {}: a virtual workspace's root Cargo.toml is the whole project's",
                display_path(&target.manifest)
            ),
        });
    }

    // The pyproject.
    let configured = keep_config
        .then(|| {
            project
                .pyproject_written
                .as_ref()
                .and(project.pyproject.clone())
        })
        .flatten();
    // The pyproject, its path as shown, and why it is the one.
    let py: Option<(Pyproject, String, String)> = if let Some(g) = given {
        let resolved = std::path::absolute(g).unwrap_or_else(|_| g.to_owned());
        let resolved = if resolved.is_dir() {
            resolved.join("pyproject.toml")
        } else {
            resolved
        };
        if !resolved.is_file() {
            return Err(Error::GivenMissing {
                given: g.display().to_string(),
                resolved,
            });
        }
        let py = read_project(&resolved).ok_or_else(|| Error::GivenNotAProject {
            given: g.display().to_string(),
            resolved: resolved.clone(),
        })?;
        let rel = rel_slash(&root, &py.path);
        Some((py, rel, "given with --pyproject".to_owned()))
    } else if let Some(py) = configured {
        let rel = rel_slash(&root, &py.path);
        Some((py, rel, "`pyproject` in the table replaced".to_owned()))
    } else {
        let members = member_dirs(&project.workspace_manifest);
        let (found, tool_only) = search(&root, &members);
        for t in &tool_only {
            choices.push(Choice {
                verb: Verb::Skipped,
                message: format!("{}: {}", rel_slash(&root, t), skip_reason(t)),
            });
        }
        let above = if found.is_empty() {
            maturin_project_above(&root, &project.manifest_path)
        } else {
            None
        };
        match found.as_slice() {
            [] if above.is_some() => {
                let (py, rel) = above.expect("checked by the guard");
                let why = "above the Cargo.toml: its [tool.maturin] builds this crate";
                Some((py, rel, why.to_owned()))
            }
            [] => {
                warnings.push(format!(
                    "no pyproject.toml with a [project] table in {} or {SEARCH_DEPTH} levels below it (nor in the workspace members); `bundle` needs one: create it, or run init again with --pyproject PATH",
                    display_path(&root)
                ));
                None
            }
            [one] => {
                let rel = rel_slash(&root, &one.path);
                let why = if one.dir() == root {
                    "next to the Cargo.toml".to_owned()
                } else {
                    format!(
                        "the only Python project within {SEARCH_DEPTH} levels of the Cargo.toml"
                    )
                };
                Some((one.clone(), rel, why))
            }
            several => {
                return Err(Error::SeveralPyprojects {
                    root: root.clone(),
                    found: several.iter().map(|p| display_path(&p.path)).collect(),
                })
            }
        }
    };

    if let Some((_, shown, why)) = &py {
        choices.push(Choice {
            verb: Verb::Found,
            message: format!("{shown} ({why})"),
        });
    }
    let pyproject_key = py.as_ref().and_then(|(py, _, why)| {
        let rel = rel_up(&root, &py.path);
        (rel != "pyproject.toml").then(|| Found {
            why: why.clone(),
            value: rel,
        })
    });
    let py = py.map(|(py, _, _)| py);

    let mut module_key = None;
    let mut app_src_key = None;
    if let Some(py) = &py {
        let base = derived_project(project, &target, Some(py));
        // The module: the table's (a --force rewrite), else what the plan
        // derives ([project.scripts], the project name), else a package
        // with __main__.py, else one of several scripts.
        let kept_module = keep_config.then(|| project.config.module.clone()).flatten();
        let derived = Launch::resolve(&base.config, py);
        let module: Option<(String, String)> = if let Some(m) = kept_module {
            Some((m, "`module` in the table replaced".into()))
        } else {
            match &derived {
                Ok(l) => {
                    let top = layout::top_package(l.app_module()).to_owned();
                    let found = layout::resolve(&base, py, l.app_module()).is_ok();
                    // Found, but `python -m` cannot start it from the maturin
                    // wheel (a pure Rust crate's generated package).
                    let cannot_run = match &l.target {
                        Target::Module { module } if found => {
                            layout::cannot_run_from_wheel(py, module)
                        }
                        _ => None,
                    };
                    let mains: Vec<(String, PathBuf)> = layout::main_packages(py)
                        .into_iter()
                        .filter(|(n, _)| cannot_run.is_none() || n != &top)
                        .collect();
                    let replace = (!found || cannot_run.is_some())
                        && matches!(l.target, Target::Module { .. });
                    if replace && mains.len() == 1 {
                        let (name, dir) = &mains[0];
                        let instead = match &cannot_run {
                            Some(why) => format!("`python -m {top}` cannot start the app: {why}"),
                            None => format!("no package `{top}` is named after the project"),
                        };
                        Some((
                            name.clone(),
                            format!(
                                "the package with a __main__.py in {}; {instead}",
                                rel_slash(&root, dir)
                            ),
                        ))
                    } else {
                        if let (Some(why), true) = (&cannot_run, mains.is_empty()) {
                            warnings.push(format!(
                                "`python -m {top}` cannot start the app: {why}; add a package with a __main__.py and set `module`, or declare an entry point in [project.scripts]"
                            ));
                        }
                        if replace && mains.len() > 1 {
                            warnings.push(format!(
                                "no package `{top}` that `python -m` can start, and several with a __main__.py ({}); set `module`",
                                mains.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
                            ));
                        }
                        choices.push(Choice {
                            verb: Verb::Chose,
                            message: format!(
                                "module {} ({}; derived, not written)",
                                l.target.spec(),
                                l.origin.replace(
                                    &py.path.display().to_string(),
                                    &rel_slash(&root, &py.path)
                                )
                            ),
                        });
                        None
                    }
                }
                Err(crate::launch::Error::SeveralScripts { .. }) => {
                    let mut it = py.scripts.iter();
                    let (name, value) = it.next().expect("several scripts");
                    let others: Vec<&str> = it.map(|(n, _)| n.as_str()).collect();
                    Some((
                        value.clone(),
                        format!(
                            "[project.scripts] {name}, the first of several (also: {}); none is named after the project",
                            others.join(", ")
                        ),
                    ))
                }
                Err(e) => {
                    warnings.push(format!("{e}; set `module`"));
                    None
                }
            }
        };
        if let Some((value, why)) = &module {
            let derived_value = derived_module(&base.config, py);
            if derived_value.as_deref() != Some(value.as_str()) {
                choices.push(Choice {
                    verb: Verb::Chose,
                    message: format!("module {value} ({why})"),
                });
                module_key = Some(Found {
                    value: value.clone(),
                    why: why.clone(),
                });
            } else {
                choices.push(Choice {
                    verb: Verb::Chose,
                    message: format!("module {value} (derived, not written)"),
                });
            }
        }

        // app-src: where the layout finds the module, else a folder at most
        // two levels below the pyproject's that holds its package.
        let mut with_module = base.clone();
        with_module.config.module = module_key.as_ref().map(|k| k.value.clone());
        let launch = Launch::resolve(&with_module.config, py).ok();
        let kept_app_src = keep_config
            .then(|| project.config.app_src.clone())
            .flatten();
        if let Some(launch) = launch {
            let m = launch.app_module().to_owned();
            let kept = kept_app_src.and_then(|a| {
                let mut p = with_module.clone();
                p.config.app_src = Some(a.clone());
                layout::resolve(&p, py, &m).ok().map(|r| (a, r))
            });
            let derived = layout::resolve(&with_module, py, &m);
            match (kept, derived) {
                (Some((a, r)), d) if d.as_ref().ok().map(|d| &d.dir) != Some(&r.dir) => {
                    let value = a.to_string_lossy().replace('\\', "/");
                    choices.push(Choice {
                        verb: Verb::Chose,
                        message: format!("app-src {value} (`app-src` in the table replaced)"),
                    });
                    app_src_key = Some(Found {
                        value,
                        why: "`app-src` in the table replaced".into(),
                    });
                }
                (_, Ok(found)) => choices.push(Choice {
                    verb: Verb::Chose,
                    message: match &found.dir {
                        Some(d) => format!(
                            "app-src {} ({}; derived, not written)",
                            rel_slash(&root, d),
                            found.origin
                        ),
                        None => format!("no app-src ({})", found.origin),
                    },
                }),
                (_, Err(_)) => {
                    let top = layout::top_package(&m);
                    match folders_holding(py, top).as_slice() {
                        [one] => {
                            let value = rel_slash(&root, one);
                            let why = format!(
                                "the folder holding the package `{top}` (not a src or flat layout)"
                            );
                            choices.push(Choice {
                                verb: Verb::Chose,
                                message: format!("app-src {value} ({why})"),
                            });
                            app_src_key = Some(Found { value, why });
                        }
                        [] => warnings.push(format!(
                            "the package `{top}` is not in {} (src or flat layout) nor {SEARCH_DEPTH} levels below it; set `app-src` (the folder containing it) or `module`",
                            display_path(py.dir())
                        )),
                        several => warnings.push(format!(
                            "several folders hold a package `{top}`: {}; set `app-src`",
                            several
                                .iter()
                                .map(|d| rel_slash(&root, d))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                    }
                }
            }
        }
    }

    let package_key =
        (target.table == ConfigTable::Workspace && project.members.len() > 1).then(|| Found {
            value: project.package_name.clone(),
            why: format!(
                "the workspace has {} members ({}); this one is shipped",
                project.members.len(),
                project.members.join(", ")
            ),
        });
    Ok(Discovery {
        pyproject: py.map(|p| p.path),
        package_key,
        target,
        pyproject_key,
        module_key,
        app_src_key,
        choices,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(p: &Path, text: &str) {
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(p, text).unwrap();
    }

    #[test]
    fn search_skips_tool_only_excluded_and_nested_projects() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        let proj = "[project]\nname = \"x\"\n";
        write(
            &r.join("pyproject.toml"),
            "[tool.ruff]\nline-length = 100\n",
        );
        write(&r.join("apps/server/pyproject.toml"), proj);
        write(&r.join("apps/server/vendor/lib/pyproject.toml"), proj);
        write(&r.join(".venv/pyproject.toml"), proj);
        write(&r.join("node_modules/x/pyproject.toml"), proj);
        write(&r.join("target/pyproject.toml"), proj);
        write(&r.join("dist/x/pyproject.toml"), proj);
        write(&r.join("a/b/c/pyproject.toml"), proj);
        let (found, tool_only) = search(r, &[]);
        let paths: Vec<String> = found.iter().map(|p| rel_slash(r, &p.path)).collect();
        assert_eq!(paths, ["apps/server/pyproject.toml"]);
        assert_eq!(tool_only, [r.join("pyproject.toml")]);
        // A member deeper than the bounded search is still looked at.
        let (found, _) = search(r, &[r.join("a/b/c")]);
        assert_eq!(found.len(), 2);
    }

    #[test]
    fn a_root_project_wins_over_subfolders() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        write(&r.join("pyproject.toml"), "[project]\nname = \"root\"\n");
        write(&r.join("sub/pyproject.toml"), "[project]\nname = \"sub\"\n");
        let (found, _) = search(r, &[]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "root");
    }
}
