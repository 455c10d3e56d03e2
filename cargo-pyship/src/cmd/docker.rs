//! `cargo pyship docker`: build (and with `--push`, push and link) the image;
//! `--print-commands` prints the exact command lines instead of running them.

use std::io::Write;
use std::process::ExitCode;

use pyship_build::docker;
use pyship_build::env::Env;
use pyship_build::error::Result;
use pyship_build::plan::Options;
use pyship_build::report::Reporter;
use pyship_build::Context;

use crate::cli::{DockerArgs, Global};
use crate::output::Output;

pub fn run(g: &Global, a: DockerArgs, env: &Env, out: &Output) -> Result<ExitCode> {
    let plan = super::load_plan(
        g,
        env,
        &Options {
            version: a.version.as_deref(),
            ..Options::default()
        },
    )?;
    let opts = docker::Options {
        push: a.push,
        repo_tags: docker::repo_version_tags(&plan.project.config_dir),
    };
    if a.print_commands {
        let dp = docker::plan(&plan, &opts, env)?;
        let mut stdout = std::io::stdout().lock();
        if dp.dockerfile_generated {
            writeln!(
                stdout,
                "# {} is rendered from the template {} first",
                dp.dockerfile.display(),
                docker::TEMPLATE
            )
            .map_err(pyship_build::error::Io)?;
        }
        for c in &dp.commands {
            writeln!(stdout, "{c}").map_err(pyship_build::error::Io)?;
        }
        if let Some(l) = &dp.link {
            writeln!(
                stdout,
                "# then: POST {}/api/v1/packages/{}/container/{}/-/link/{}",
                l.url.trim_end_matches('/'),
                l.owner,
                l.package,
                l.repo
            )
            .map_err(pyship_build::error::Io)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let ctx = Context::new(out, env);
    let o = docker::run(&plan, &opts, &ctx)?;
    if o.skipped.is_none() {
        out.status(
            if o.pushed { "Pushed" } else { "Built" },
            &o.tags.join(", "),
        );
    }
    Ok(ExitCode::SUCCESS)
}
