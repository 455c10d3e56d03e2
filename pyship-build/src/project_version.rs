//! A project's release version across its files, for `cargo pyship version`:
//! the version a run uses (and a warning when it falls back to Cargo's),
//! every place `--check` compares (the argument, the tag at HEAD or CI's,
//! Cargo.toml, Cargo.lock's entries of the packages that version names,
//! pyproject.toml or the file a dynamic version is kept in), and `--stamp`,
//! which writes all of them or none.

use crate::env::Env;
use crate::project::Project;
use crate::report::Reporter;
use crate::version::{self, stamp, Resolved, Source, Version};

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Version(#[from] version::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Project(#[from] crate::project::Error),
}

/// The version a run of `project` uses ([`crate::plan::resolve_version`]).
/// A configured pyproject that is missing is an error naming the table and
/// the path, never a silent fall back to Cargo's version; falling back to
/// Cargo's is said through `reporter`.
pub fn resolve(
    project: &Project,
    argument: Option<&str>,
    env: &Env,
    reporter: &dyn Reporter,
) -> Result<Resolved, Error> {
    if project.pyproject_written.is_some() {
        project.pyproject()?;
    }
    let resolved = crate::plan::resolve_version(project, argument, env)?;
    if argument.is_none() && matches!(resolved.source, Source::Cargo { .. }) {
        if let Some(why) = cargo_fallback(project) {
            reporter.warn(&format!("{why}: the version is Cargo's"));
        }
    }
    Ok(resolved)
}

/// Why the pyproject gave no version (when a run falls back to Cargo's).
fn cargo_fallback(project: &Project) -> Option<String> {
    match &project.pyproject {
        None => Some(format!(
            "no pyproject.toml at {} (the default of `pyproject` for {})",
            project.path(&project.config.pyproject).display(),
            project.config_source
        )),
        Some(py) if py.dynamic_version && !py.is_maturin() => Some(format!(
            "{} declares a dynamic version that its build backend computes (no setuptools attr/file, hatch path or `__version__` literal to read)",
            py.path.display()
        )),
        Some(py) if py.version.is_none() && !py.dynamic_version => Some(format!(
            "{} has no [project].version (and no dynamic one)",
            py.path.display()
        )),
        Some(_) => None,
    }
}

/// Every place `project` declares its version, for `--check`: `argument`
/// first when given, the tag at HEAD (or CI's tag), the Cargo version with
/// Cargo.lock's entries of the packages it versions (`cargo build --locked`
/// fails when they lag), the pyproject's version and the file a dynamic one
/// is kept in.
pub fn declared(
    project: &Project,
    argument: Option<&str>,
    env: &Env,
) -> Result<Vec<stamp::Declared>, Error> {
    project.pyproject()?;
    let mut declared = Vec::new();
    fn add(declared: &mut Vec<stamp::Declared>, what: String, value: &str) -> Result<(), Error> {
        let version = Version::parse_from(value, Some(&what))?;
        declared.push(stamp::Declared { what, version });
        Ok(())
    }
    if let Some(arg) = argument {
        declared.push(stamp::Declared {
            what: "the command-line argument".into(),
            version: Version::parse_from(arg, Some("the command line"))?,
        });
    }
    // The tag (or CI ref) when there is one, else nothing to compare the
    // files against but each other.
    if let Some(t) = version::git_tag_at_head(&project.config_dir)?.or(version::ci_tag(env)?) {
        declared.push(stamp::Declared {
            what: t.source.to_string(),
            version: t.version,
        });
    }
    if project.cargo_version_is_the_apps() {
        add(
            &mut declared,
            project.manifest_path.display().to_string(),
            &project.cargo_version,
        )?;
        let lock = project.workspace_root.join("Cargo.lock");
        // Anything there is read: a named pipe is refused, not passed over.
        if fs_err::metadata(&lock).is_ok_and(|m| !m.is_dir()) {
            let text = crate::fs::read_small_to_string(&lock).map_err(|source| {
                version::Error::Read(crate::fs::ReadError {
                    path: lock.clone(),
                    source,
                })
            })?;
            let names: Vec<&str> = project
                .inheriting_members
                .iter()
                .map(|(name, _)| name.as_str())
                .collect();
            for (name, v) in stamp::lock_versions(&lock, &text, &names)? {
                add(
                    &mut declared,
                    format!("{} (package `{name}`)", lock.display()),
                    &v,
                )?;
            }
        }
    }
    if let Some(py) = &project.pyproject {
        if let Some(v) = &py.version {
            add(&mut declared, py.path.display().to_string(), v)?;
        }
        match py.dynamic_source() {
            Some(Ok(file)) => add(&mut declared, file.describe(), &file.value)?,
            Some(Err(message)) => {
                return Err(version::Error::DynamicUnreadable {
                    pyproject: py.path.clone(),
                    message: message.to_owned(),
                }
                .into())
            }
            None => {}
        }
    }
    Ok(declared)
}

/// `--check`: every place [`declared`] finds agrees with the first; the
/// places compared are returned.
pub fn check(
    project: &Project,
    argument: Option<&str>,
    env: &Env,
) -> Result<Vec<stamp::Declared>, Error> {
    let declared = declared(project, argument, env)?;
    stamp::check(&declared)?;
    Ok(declared)
}

/// `--stamp`: write `version` into every place `--check` compares
/// ([`Project::stamp_targets`]), all files or none.
pub fn stamp(project: &Project, version: &Version) -> Result<Vec<stamp::Stamped>, Error> {
    project.pyproject()?;
    let targets = project.stamp_targets()?;
    Ok(stamp::stamp(&targets, version)?)
}
