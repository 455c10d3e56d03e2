//! `cargo pyship publish`: the artifacts already in `--out` to the release of
//! the version's tag (Gitea or Forgejo), idempotently. `--dry-run` makes no
//! write request and prints what it would do.

use std::process::ExitCode;

use pyship_build::env::Env;
use pyship_build::error::Result;
use pyship_build::plan;
use pyship_build::publish;
use pyship_build::report::Reporter;
use pyship_build::Context;

use crate::cli::{Format, Global, PublishArgs};
use crate::output::Output;

pub fn run(g: &Global, a: PublishArgs, env: &Env, out: &Output) -> Result<ExitCode> {
    let mut plan = super::load_plan(
        g,
        env,
        &plan::Options {
            version: a.version.as_deref(),
            out_dir: a.out.as_deref(),
            targets: Vec::new(),
        },
    )?;
    if let Some(r) = a.rollout {
        plan.config.update.rollout = r;
    }
    let mut ctx = Context::new(out, env);
    ctx.dry_run = a.dry_run;
    let mut opts = publish::Options::from_env(env);
    opts.dry_run = a.dry_run;
    let published = publish::run(&plan, &opts, &ctx)?;
    match a.format {
        Format::Json => crate::print_json(&published)?,
        Format::Text if published.dry_run => {
            out.status("Dry run", "no write request was made; the plan:");
            for action in &published.actions {
                println!("{}", crate::output::terminal_safe(&action.to_string()));
            }
        }
        Format::Text => {
            if let Some(r) = &published.release {
                // The server's answer: one line, whatever it holds.
                println!("{}", pyship_build::error::escaped(&r.url));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
