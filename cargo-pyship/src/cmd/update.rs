//! `cargo pyship update [PACKAGE]...`: re-resolve the dependencies pinned in
//! `pyship.lock` on purpose and print what changed, as `cargo update` does
//! for Cargo.lock. A project with `uv.lock` or `pylock.toml` pins nothing in
//! `pyship.lock`: its lock is updated with the tool that wrote it.

use std::process::ExitCode;

use pyship_build::env::Env;
use pyship_build::error::{Hinted, Result};
use pyship_build::pins::{self, Upgrade};
use pyship_build::plan::{DependencyLock, Options};
use pyship_build::project::normalize_dist_name;
use pyship_build::report::Reporter;
use pyship_build::Context;

use crate::cli::{Format, Global, UpdateArgs};
use crate::output::Output;

pub fn run(g: &Global, a: UpdateArgs, env: &Env, out: &Output) -> Result<ExitCode> {
    let plan = super::load_plan(
        g,
        env,
        &Options {
            targets: super::bundle::platforms(&a.target),
            ..Options::default()
        },
    )?;
    match &plan.lock {
        DependencyLock::Uv { path } => {
            return Err(Hinted {
                message: format!(
                    "the dependencies are locked by {}: pyship.lock pins none of them",
                    path.display()
                ),
                hint: "update that lock with `uv lock --upgrade` (or `uv lock --upgrade-package NAME`); the next build installs what it says".into(),
            }
            .into())
        }
        DependencyLock::Pylock { path } => {
            return Err(Hinted {
                message: format!(
                    "the dependencies are locked by {}: pyship.lock pins none of them",
                    path.display()
                ),
                hint: "re-create it with the tool that wrote it (e.g. `uv export --format pylock.toml` after `uv lock --upgrade`)".into(),
            }
            .into())
        }
        DependencyLock::Pyship { .. } => {}
    }
    let ctx = Context::new(out, env);
    let upgrade = if a.packages.is_empty() {
        Upgrade::All
    } else {
        // As cargo: a name that matches no pinned package is an error, not a no-op.
        let lock = pins::Lockfile::read(plan.lock.path())?;
        for name in &a.packages {
            let n = normalize_dist_name(name);
            let known = lock
                .deps
                .values()
                .flat_map(|t| &t.packages)
                .any(|p| normalize_dist_name(&p.name) == n);
            if !known {
                return Err(Hinted {
                    message: format!(
                        "package `{}` is not pinned in {}",
                        pyship_build::error::escaped(name),
                        plan.lock.path().display()
                    ),
                    hint: "name a package the lock pins (`cargo pyship update` without names updates every package)".into(),
                }
                .into());
            }
        }
        Upgrade::Packages(a.packages.clone())
    };
    let mut all = Vec::new();
    for &platform in &plan.targets {
        let pinned = pins::update(&plan, platform, &upgrade, a.dry_run, &ctx)?;
        if a.format == Format::Text {
            if pinned.changes.is_empty() {
                out.status(
                    "Unchanged",
                    &format!("{} packages for {platform}", pinned.packages.len()),
                );
            }
            for c in &pinned.changes {
                let line = c.to_string();
                let (verb, rest) = line.split_once(' ').unwrap_or(("", &line));
                out.status(verb, &format!("{rest} ({platform})"));
            }
        }
        all.push(pinned);
    }
    match a.format {
        Format::Json => crate::print_json(&all)?,
        Format::Text if a.dry_run => out.warn("not writing pyship.lock: dry run"),
        Format::Text => {}
    }
    Ok(ExitCode::SUCCESS)
}
