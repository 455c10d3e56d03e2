//! `cargo pyship version`: show, stamp or check the release version.

use std::process::ExitCode;

use pyship_build::env::Env;
use pyship_build::error::Result;
use pyship_build::plan::resolve_version;
use pyship_build::report::Reporter;
use pyship_build::version::{self, stamp, Source, Version};

use crate::cli::{Format, Global, VersionArgs};
use crate::output::Output;

pub fn run(g: &Global, a: VersionArgs, env: &Env, out: &Output) -> Result<ExitCode> {
    let project = super::load_project(g)?;
    if a.check || a.stamp || project.pyproject_written.is_some() {
        // --check compares with the pyproject and --stamp writes it; a
        // configured one that is missing is an error naming the table and
        // the path, never a silent fall back to Cargo's version.
        project.pyproject()?;
    }
    let resolved = resolve_version(&project, a.version.as_deref(), env)?;
    // Falling back to Cargo's version is said, never silent.
    if a.version.is_none() && matches!(resolved.source, Source::Cargo { .. }) {
        match &project.pyproject {
            None => out.warn(&format!(
                "no pyproject.toml at {} (the default of `pyproject` for {}): the version is Cargo's",
                project.path(&project.config.pyproject).display(),
                project.config_source
            )),
            Some(py) if py.dynamic_version && !py.is_maturin() => out.warn(&format!(
                "{} declares a dynamic version that its build backend computes (no setuptools attr/file, hatch path or `__version__` literal to read): the version is Cargo's",
                py.path.display()
            )),
            Some(py) if py.version.is_none() && !py.dynamic_version => out.warn(&format!(
                "{} has no [project].version (and no dynamic one): the version is Cargo's",
                py.path.display()
            )),
            Some(_) => {}
        }
    }
    if a.check {
        let mut declared = Vec::new();
        // The tag (or CI ref) when there is one, else nothing to compare the files against but each other.
        if let Some(t) = version::git_tag_at_head(&project.config_dir)?.or(version::ci_tag(env)?) {
            declared.push(stamp::Declared {
                what: t.source.to_string(),
                version: t.version,
            });
        }
        if let Some(arg) = a.version.as_deref() {
            declared.insert(
                0,
                stamp::Declared {
                    what: "the command-line argument".into(),
                    version: Version::parse_from(arg, Some("the command line"))?,
                },
            );
        }
        if project.cargo_version_is_the_apps() {
            declared.push(stamp::Declared {
                what: project.manifest_path.display().to_string(),
                version: Version::parse_from(
                    &project.cargo_version,
                    Some(&project.manifest_path.display().to_string()),
                )?,
            });
        }
        if let Some(py) = &project.pyproject {
            if let Some(v) = &py.version {
                declared.push(stamp::Declared {
                    what: py.path.display().to_string(),
                    version: Version::parse_from(v, Some(&py.path.display().to_string()))?,
                });
            }
            match py.dynamic_source() {
                Some(Ok(file)) => declared.push(stamp::Declared {
                    what: file.describe(),
                    version: Version::parse_from(&file.value, Some(&file.describe()))?,
                }),
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
        stamp::check(&declared)?;
        out.status(
            "Checked",
            &format!("{} agree on {}", declared.len(), declared[0].version),
        );
        if a.format == Format::Json {
            crate::print_json(&resolved)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if a.stamp {
        let targets = project.stamp_targets()?;
        let stamped = stamp::stamp(&targets, &resolved.version)?;
        for s in &stamped {
            let verb = if s.changed { "Stamped" } else { "Unchanged" };
            out.status(verb, &format!("{} ({})", s.path.display(), s.new));
        }
        if a.format == Format::Json {
            #[derive(serde::Serialize)]
            struct Out<'a> {
                #[serde(flatten)]
                resolved: &'a version::Resolved,
                stamped: &'a [stamp::Stamped],
            }
            crate::print_json(&Out {
                resolved: &resolved,
                stamped: &stamped,
            })?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    match a.format {
        Format::Json => crate::print_json(&resolved)?,
        Format::Text => {
            let s = resolved.version.spellings();
            println!("{}", s.tag);
            if !matches!(resolved.source, Source::Argument) || out.verbose() > 0 {
                out.info(&format!("source: {}", resolved.source));
            }
            if out.verbose() > 0 {
                out.info(&format!(
                    "semver {}  pep440 {}  windows {}  docker {}  prerelease {}",
                    s.semver, s.pep440, s.windows, s.docker, s.prerelease
                ));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
