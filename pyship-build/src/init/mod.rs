//! Stage: `cargo pyship init`. Why: a project gets a documented pyship table
//! and CI workflows (test on push and pull request, release on `v*` tags)
//! that stay in step with the tool: `init --check` fails when the files on
//! disk differ from what `init` would write now (cargo-dist's
//! `generate --check`), or when the table no longer resolves to the project.
//!
//! [`discover`] decides where the table goes (the root Cargo.toml of a
//! virtual workspace gets `[workspace.metadata.pyship]`) and what it holds:
//! the pyproject found by a bounded search, and `module`/`app-src` only where
//! the plan would not derive them. [`table`] writes every key documented,
//! commented unless set. The table is appended to the Cargo.toml as text, so
//! every other byte of the file stays as it was; toml_edit finds (and with
//! `--force` removes) an existing table and checks the result parses.
//! Workflows are rendered from `ci/*.yml.j2` with the `{{{ }}}` delimiters,
//! so `${{ github.ref_name }}` reaches the file untouched. How the release
//! workflow installs cargo-pyship is chosen by [`install`].

pub mod actions;
pub mod checks;
mod ci;
pub mod discover;
mod drift;
pub mod install;
pub mod table;

use std::path::{Path, PathBuf};

use serde::Serialize;
use toml_edit::DocumentMut;

use crate::config::RawConfig;
use crate::env::Env;
use crate::error::escaped;
use crate::launch::Launch;
use crate::project::{display_path, ConfigSource, ConfigTable, Project, Pyproject};
use crate::Context;

use ci::repo_root;
pub use ci::{detect_ci, header, workflows, Ci};
pub use discover::{Choice, Discovery};
pub use drift::{check, unified_diff, Drift};

#[derive(Debug, Clone)]
pub struct Options {
    pub ci: Ci,
    /// Replace an existing table (the package's, or a virtual workspace's).
    pub force: bool,
    /// `--pyproject`: the app's pyproject.toml as typed (relative to the
    /// current directory), instead of the search.
    pub pyproject: Option<PathBuf>,
    /// `--install-from`: where the release workflow installs cargo-pyship
    /// from (see [`install::choose`]).
    pub install_from: Option<String>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Read(#[from] crate::fs::ReadError),
    #[error("could not parse {path}")]
    #[diagnostic(help("fix the TOML syntax at the line and column shown; nothing was written"))]
    Toml {
        path: PathBuf,
        #[source]
        source: toml_edit::TomlError,
    },
    #[error("could not write {path}")]
    #[diagnostic(help("check that the directory is writable; the file was not changed"))]
    Write {
        path: PathBuf,
        #[source]
        source: crate::fs::Error,
    },
    #[error("`{key} = \"{}\"` cannot name a CI secret", crate::error::escaped(.name))]
    #[diagnostic(help("use letters, digits and `_`, not starting with a digit, GITHUB_ or GITEA_ (e.g. DEPLOY_TOKEN)"))]
    BadSecretName { key: &'static str, name: String },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Template(#[from] crate::templates::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Discover(#[from] discover::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Install(#[from] install::Error),
    /// The release workflow runs the plan's jobs: a project without a plan
    /// gets no workflows.
    #[error("cannot write the release workflow: the release cannot be planned")]
    #[diagnostic(transparent)]
    Plan(#[source] Box<crate::plan::PlanError>),
}

/// What happens to the pyship table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MetadataAction {
    /// There was none: it is added.
    Add,
    /// There was one and `force` was given: it is replaced.
    Replace,
    /// There was one: it is kept (no `force`, or a workspace table shared by
    /// the packages of a workspace that is not virtual).
    Keep,
}

/// One file `init` manages: its path, what is on disk, what init writes.
#[derive(Debug, Clone, Serialize)]
pub struct FileChange {
    pub path: PathBuf,
    /// `None`: the file does not exist yet.
    #[serde(skip)]
    pub old: Option<String>,
    #[serde(skip)]
    pub new: String,
    pub changed: bool,
}

/// What init would write.
#[derive(Debug, Clone, Serialize)]
pub struct Generated {
    pub metadata: MetadataAction,
    /// The table init writes or keeps, and its Cargo.toml.
    pub table: ConfigSource,
    /// What init found (when it writes the table).
    pub discovery: Option<Discovery>,
    /// Cargo.toml (unless kept) and the workflows.
    pub files: Vec<FileChange>,
    /// How the release workflow installs cargo-pyship (`None` without workflows).
    pub install: Option<install::InstallCommand>,
}

/// The `pyship` table under `package.metadata` or `workspace.metadata`.
fn table_in(doc: &DocumentMut, table: ConfigTable) -> Option<&toml_edit::Item> {
    let top = match table {
        ConfigTable::Workspace => "workspace",
        _ => "package",
    };
    doc.get(top)?.get("metadata")?.get("pyship")
}

/// Compute what init would write, touching nothing.
pub fn generate(project: &Project, opts: &Options, env: &Env) -> Result<Generated, Error> {
    let target = discover::target_table(project);
    let install = match opts.ci {
        Ci::None => None,
        _ => Some(install::choose(
            opts.install_from.as_deref(),
            project.config.ci.install_command.as_deref(),
            env,
            &repo_root(project),
        )?),
    };
    let manifest = &target.manifest;
    let text = read(manifest)?;
    let mut doc = text.parse::<DocumentMut>().map_err(|source| Error::Toml {
        path: manifest.clone(),
        source,
    })?;
    let existing = project.config_source.table != ConfigTable::None;
    // A workspace table is replaced only where init writes one: in a virtual
    // workspace. Elsewhere it may configure several packages.
    let replaceable = match project.config_source.table {
        ConfigTable::Package => true,
        ConfigTable::Workspace => discover::is_virtual(manifest),
        ConfigTable::None => false,
    };
    let action = match (existing, opts.force && replaceable) {
        (false, _) => MetadataAction::Add,
        (true, true) => MetadataAction::Replace,
        (true, false) => MetadataAction::Keep,
    };
    let mut files = Vec::new();
    let (effective, discovery) = if action == MetadataAction::Keep {
        (project.clone(), None)
    } else {
        let disc = discover::discover(
            project,
            opts.pyproject.as_deref(),
            action == MetadataAction::Replace,
        )?;
        let py = disc
            .pyproject
            .as_deref()
            .and_then(|p| Pyproject::read(p).ok());
        let mut eff = discover::derived_project(project, &disc.target, py.as_ref());
        let mut derived = table::Derived::default();
        if let Some(py) = &py {
            derived.module = Launch::resolve(&eff.config, py)
                .ok()
                .map(|l| l.target.spec());
        }
        eff.config.module = disc.module_key.as_ref().map(|k| k.value.clone());
        if let Some(py) = &py {
            if let Ok(l) = Launch::resolve(&eff.config, py) {
                if let Ok(a) = crate::layout::resolve(&eff, py, l.app_module()) {
                    derived.app_src = a
                        .dir
                        .as_deref()
                        .map(|d| crate::fs::rel_slash(&eff.config_dir, d));
                    if a.dir.is_none() {
                        derived.no_app_src = Some(a.origin.trim_start_matches("none: ").to_owned());
                    }
                }
            }
        }
        eff.config.app_src = disc.app_src_key.as_ref().map(|k| PathBuf::from(&k.value));
        eff.pyproject_written = disc.pyproject_key.as_ref().map(|k| PathBuf::from(&k.value));
        let defaults = RawConfig::default().resolve(eff.default_name());
        let body = table::render(
            target.table.key(),
            &eff.config,
            &defaults,
            &disc,
            &derived,
            opts.ci,
            install.as_ref(),
        );
        let base = if action == MetadataAction::Replace {
            let top = match target.table {
                ConfigTable::Workspace => "workspace",
                _ => "package",
            };
            if let Some(m) = doc
                .get_mut(top)
                .and_then(|p| p.get_mut("metadata"))
                .and_then(|m| m.as_table_like_mut())
            {
                m.remove("pyship");
            }
            doc.to_string()
        } else {
            text.clone()
        };
        let new = append_table(&base, &body);
        // The result must parse and carry the table, or nothing is written.
        let check = new.parse::<DocumentMut>().map_err(|source| Error::Toml {
            path: manifest.clone(),
            source,
        })?;
        debug_assert!(table_in(&check, target.table).is_some());
        files.push(FileChange {
            path: manifest.clone(),
            changed: new != text,
            old: Some(text),
            new,
        });
        (eff, Some(disc))
    };
    if let Some(install) = &install {
        files.extend(workflows(
            &effective,
            effective.pyproject.as_ref(),
            opts.ci,
            install,
            env,
        )?);
    }
    Ok(Generated {
        metadata: action,
        table: target,
        discovery,
        files,
        install,
    })
}

/// Write what [`generate`] computed (atomically, only changed files), saying
/// what init found and chose.
pub fn run(project: &Project, opts: &Options, ctx: &Context<'_>) -> Result<Generated, Error> {
    let generated = generate(project, opts, ctx.env)?;
    if let Some(i) = &generated.install {
        ctx.reporter.status(
            "Chose",
            &format!(
                "`{}` to install cargo-pyship in the release workflow (from {})",
                escaped(&i.command),
                escaped(&i.source)
            ),
        );
        for w in &i.warnings {
            ctx.reporter.warn(&escaped(w).to_string());
        }
        if generated.metadata == MetadataAction::Keep
            && project.config.ci.install_command.as_deref() != Some(i.command.as_str())
        {
            ctx.reporter.warn(&format!(
                "the kept table does not record this choice: add `ci.install-command = {}` to {} (else `init --check` may choose differently elsewhere)",
                table::q(&i.command),
                generated.table
            ));
        }
    }
    if let Some(d) = &generated.discovery {
        // One line each, escaped whole: they name the project's paths,
        // package names and URLs.
        for c in &d.choices {
            ctx.reporter
                .status(c.verb.as_str(), &escaped(&c.message).to_string());
        }
        for w in &d.warnings {
            ctx.reporter.warn(&escaped(w).to_string());
        }
    }
    if generated.metadata == MetadataAction::Keep {
        let table = &generated.table;
        ctx.reporter.warn(&if opts.force {
            format!("kept the existing {table}; --force replaces only a package's table or a virtual workspace's, edit this one by hand")
        } else {
            format!("kept the existing {table}; pass --force to rewrite it (its values are kept, what init finds is added)")
        });
        if opts.pyproject.is_some() {
            ctx.reporter
                .warn("--pyproject is used only when init writes the table; set `pyproject` in the table instead");
        }
    }
    // The project's files, all or none (written where a link points).
    let ignore = gitignore(&generated.table.config_dir());
    let changed: Vec<_> = generated
        .files
        .iter()
        .chain(&ignore)
        .filter(|f| f.changed)
        .collect();
    for f in &changed {
        if let Some(dir) = f.path.parent() {
            fs_err::create_dir_all(dir).map_err(|e| Error::Write {
                path: f.path.clone(),
                source: crate::fs::Error::Io(e),
            })?;
        }
    }
    let writes: Vec<(&std::path::Path, &[u8])> = changed
        .iter()
        .map(|f| (f.path.as_path(), f.new.as_bytes()))
        .collect();
    crate::fs::atomic_write_all(&writes).map_err(|source| Error::Write {
        path: match &source {
            crate::fs::Error::Persist { path, .. } => path.clone(),
            _ => generated.table.manifest.clone(),
        },
        source,
    })?;
    for f in generated.files.iter().chain(&ignore) {
        if !f.changed {
            ctx.reporter.status("Unchanged", &display_path(&f.path));
            continue;
        }
        let verb = if f.old.is_some() {
            "Updated"
        } else {
            "Created"
        };
        let what = if generated.discovery.is_some() && f.path == generated.table.manifest {
            format!(
                "{} ({})",
                display_path(&f.path),
                format_args!("[{}]", generated.table.table.key())
            )
        } else if ignore.as_ref().is_some_and(|i| i.path == f.path) {
            format!(
                "{} (ignores {GITIGNORE_LINE}, cargo pyship's output)",
                display_path(&f.path)
            )
        } else {
            display_path(&f.path)
        };
        ctx.reporter.status(verb, &what);
    }
    if project.config.update.enabled && project.config.update.public_keys.is_empty() {
        ctx.reporter.warn(&format!(
            "releases will be unsigned (no update.public-keys): installed apps trust whatever the release server serves; `cargo pyship keygen` makes a key pair, then add `public-keys = [\"RW…\"]` to [{}.update] and store the secret key as the CI secret {}",
            generated.table.table.key(),
            project.config.update.signing_key_env
        ));
    }
    Ok(generated)
}

/// The Cargo.toml `init` writes for a Python-only project: cargo-pyship
/// reads its settings from a Cargo manifest, and a virtual workspace without
/// members holds the pyship table with nothing to compile (`cargo build`
/// has nothing to do; a crate added later becomes a member).
pub const PYTHON_ONLY_MANIFEST: &str = "\
# Written by `cargo pyship init` for a Python-only project: cargo-pyship keeps
# its settings in a Cargo manifest. A virtual workspace without members holds
# them and compiles nothing; add a Rust crate to `members` when the app gets one.
[workspace]
resolver = \"2\"
members = []
";

/// Whether `init` run in `dir` (without `--manifest-path`) would find no
/// Cargo.toml (none in `dir` or above it, as cargo looks) next to a
/// pyproject.toml with a `[project]` table: a Python-only project, for which
/// [`create_manifest`] writes one.
pub fn needs_manifest(dir: &Path) -> bool {
    let no_cargo = dir.ancestors().all(|d| !d.join("Cargo.toml").is_file());
    no_cargo && Pyproject::read(&dir.join("pyproject.toml")).is_ok_and(|p| !p.name.is_empty())
}

/// Write [`PYTHON_ONLY_MANIFEST`] as `dir/Cargo.toml` (atomically; an
/// existing file is never replaced). Returns its path.
pub fn create_manifest(dir: &Path) -> Result<PathBuf, Error> {
    let path = dir.join("Cargo.toml");
    if path.exists() {
        return Err(Error::Write {
            path,
            source: crate::fs::Error::Io(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "a Cargo.toml is already there",
            )),
        });
    }
    crate::fs::atomic_write(&path, PYTHON_ONLY_MANIFEST.as_bytes()).map_err(|source| {
        Error::Write {
            path: path.clone(),
            source,
        }
    })?;
    Ok(path)
}

/// Remove a Cargo.toml [`create_manifest`] wrote (init failed after it):
/// only when it still holds exactly what was written. Returns whether it was removed.
pub fn remove_created_manifest(path: &Path) -> bool {
    crate::fs::read_small_to_string(path).is_ok_and(|t| t == PYTHON_ONLY_MANIFEST)
        && fs_err::remove_file(path).is_ok()
}

/// The `.gitignore` line for the output folder `dist/` next to the table's
/// Cargo.toml.
const GITIGNORE_LINE: &str = "/dist/";

/// The `.gitignore` next to the table's Cargo.toml with the output folder
/// added, unless git (or, outside a repository, that file) already ignores
/// it. `None`: nothing to change.
pub fn gitignore(config_dir: &Path) -> Option<FileChange> {
    let path = config_dir.join(".gitignore");
    let old = crate::fs::read_small_to_string(&path).ok();
    let listed = old.as_deref().is_some_and(|t| {
        t.lines().map(str::trim).any(|l| {
            matches!(
                l,
                "dist" | "dist/" | "/dist" | "/dist/" | "dist/*" | "/dist/*"
            )
        })
    });
    let ignored = crate::tools::git(config_dir, &["check-ignore", "-q", "dist/"]).is_some();
    if listed || ignored {
        return None;
    }
    let mut new = old.clone().unwrap_or_default();
    if !new.is_empty() && !new.ends_with('\n') {
        new.push('\n');
    }
    new.push_str("# cargo pyship's output (bundles, installer, SBOMs, work files)\n");
    new.push_str(GITIGNORE_LINE);
    new.push('\n');
    Some(FileChange {
        path,
        changed: true,
        old,
        new,
    })
}

pub(super) fn read(path: &Path) -> Result<String, Error> {
    crate::fs::read_small_to_string(path).map_err(|source| {
        Error::Read(crate::fs::ReadError {
            path: path.to_owned(),
            source,
        })
    })
}

/// `base`, a blank line, then `table` (the file's own bytes are kept, and its
/// line ending, CRLF or LF, is used for the new lines).
fn append_table(base: &str, table: &str) -> String {
    let nl = if base.contains("\r\n") { "\r\n" } else { "\n" };
    let mut out = base.to_owned();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push_str(nl);
    }
    if !out.is_empty() && !out.ends_with(&format!("{nl}{nl}")) {
        out.push_str(nl);
    }
    out.push_str(&table.replace('\n', nl));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_keeps_bytes_and_separates() {
        assert_eq!(append_table("a = 1", "[t]\n"), "a = 1\n\n[t]\n");
        assert_eq!(append_table("a = 1\n\n", "[t]\n"), "a = 1\n\n[t]\n");
        assert_eq!(
            append_table("a = 1\r\n", "[t]\nb = 2\n"),
            "a = 1\r\n\r\n[t]\r\nb = 2\r\n"
        );
    }
}
