//! `cargo pyship fetch [--target …] [--into DIR]`: download everything a
//! release needs (runtimes, every pinned wheel of every target, the crates
//! maturin compiles), so `bundle`, `installer` and `release --offline` then
//! need no network.

use std::process::ExitCode;

use pyship_build::env::Env;
use pyship_build::error::Result;
use pyship_build::plan::Options;
use pyship_build::report::Reporter;
use pyship_build::Context;

use crate::cli::{FetchArgs, Format, Global};
use crate::output::Output;

pub fn run(g: &Global, a: FetchArgs, env: &Env, out: &Output) -> Result<ExitCode> {
    let plan = super::load_plan(
        g,
        env,
        &Options {
            version: a.version.as_deref(),
            targets: super::bundle::platforms(&a.target),
            ..Options::default()
        },
    )?;
    let mut ctx = Context::new(out, env);
    ctx.locked = a.locked;
    if let Some(dir) = &a.into {
        ctx.cache = pyship_build::fetch::cache_in(dir)?;
    }
    pyship_build::wheel::preflight(&plan, &ctx)?;
    let fetched = pyship_build::fetch::run(&plan, &ctx)?;
    match a.format {
        Format::Json => crate::print_json(&fetched)?,
        Format::Text => {
            for t in &fetched.targets {
                out.status(
                    "Fetched",
                    &format!(
                        "{}: {}{} package(s) pinned by {}",
                        t.platform,
                        t.runtime
                            .as_ref()
                            .map(|(url, _)| format!("{url}, "))
                            .unwrap_or_default(),
                        t.packages,
                        t.lock.display()
                    ),
                );
            }
            for m in &fetched.cargo {
                out.status("Fetched", &format!("the crates of {}", m.display()));
            }
            if a.into.is_some() {
                out.info(&format!(
                    "build from it with: PYSHIP_CACHE_DIR={} cargo pyship release --offline",
                    fetched.cache.display()
                ));
                if !fetched.cargo.is_empty() {
                    out.info("Rust crates stay in cargo's own cache ($CARGO_HOME): copy it along, or build on this machine");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
