//! `cargo pyship version`: show, stamp or check the release version.

use std::process::ExitCode;

use pyship_build::env::Env;
use pyship_build::error::Result;
use pyship_build::project_version;
use pyship_build::report::Reporter;
use pyship_build::version::{self, stamp, Source};

use crate::cli::{Format, Global, VersionArgs};
use crate::output::Output;

pub fn run(g: &Global, a: VersionArgs, env: &Env, out: &Output) -> Result<ExitCode> {
    let project = super::load_project(g)?;
    let argument = a.version.as_deref();
    if a.check || a.stamp {
        // Both read or write the pyproject: a missing one is the error.
        project.pyproject()?;
    }
    let resolved = project_version::resolve(&project, argument, env, out)?;
    if a.check {
        let declared = project_version::check(&project, argument, env)?;
        out.status(
            "Checked",
            &match declared.first() {
                Some(first) => format!("{} agree on {}", declared.len(), first.version),
                None => "no version declared anywhere to compare".into(),
            },
        );
        if a.format == Format::Json {
            crate::print_json(&resolved)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if a.stamp {
        let stamped = project_version::stamp(&project, &resolved.version)?;
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
