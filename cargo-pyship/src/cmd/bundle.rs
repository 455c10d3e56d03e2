//! `cargo pyship bundle`: build the Windows portable zip and/or the Linux tarball.

use std::process::ExitCode;

use pyship_build::bundle;
use pyship_build::context::Context;
use pyship_build::env::Env;
use pyship_build::error::Result;
use pyship_build::plan::Options;
use pyship_build::platform::Platform;
use pyship_build::report::Reporter;

use crate::cli::{BundleArgs, Global, Target};
use crate::output::Output;

/// `--target` values to platforms (none or `all`: every platform).
pub fn platforms(targets: &[Target]) -> Vec<Platform> {
    if targets.is_empty() || targets.contains(&Target::All) {
        return Platform::ALL.to_vec();
    }
    let mut v: Vec<Platform> = targets
        .iter()
        .map(|t| match t {
            Target::Windows => Platform::Windows,
            Target::Linux | Target::All => Platform::Linux,
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

pub fn run(g: &Global, a: BundleArgs, env: &Env, out: &Output) -> Result<ExitCode> {
    let opts = Options {
        version: a.version.as_deref(),
        out_dir: a.out.as_deref(),
        targets: platforms(&a.target),
    };
    let plan = super::load_plan(g, env, &opts)?;
    let mut ctx = Context::new(out, env);
    ctx.offline = a.offline;
    ctx.locked = a.locked;
    // A target this host cannot build, missing tools, a Cargo version behind
    // the release and a runtime that cannot be fetched all fail before the
    // first target's (Rust) build starts.
    let prepared = bundle::prepare(&plan, &plan.targets, &ctx)?;
    // With `sign-binaries`, the certificate and password are checked first.
    let signer = if plan
        .targets
        .iter()
        .any(|&p| bundle::signs_binaries(&plan, p))
    {
        pyship_build::sign::Signer::prepare(&plan, &ctx)?
    } else {
        None
    };
    for &platform in &plan.targets {
        out.status(
            "Bundling",
            &format!(
                "{} {} for {platform}",
                plan.name,
                plan.version.version.tag()
            ),
        );
        let b = bundle::run_with(&plan, platform, &prepared, signer.as_ref(), &ctx)?;
        let tkinter = b
            .tkinter
            .as_ref()
            .map(|t| {
                format!(
                    " + tkinter ({}, {})",
                    t.source.key(),
                    pyship_build::report::human_bytes(t.bytes)
                )
            })
            .unwrap_or_default();
        out.status(
            "Finished",
            &format!(
                "{} ({}, {} packages{tkinter}) in {:.1}s",
                b.artifact.display(),
                pyship_build::report::human_bytes(b.size),
                b.packages,
                b.total_seconds()
            ),
        );
        let times: Vec<String> = b
            .stages
            .iter()
            .map(|s| format!("{} {:.1}s", s.stage, s.seconds))
            .collect();
        if out.verbose() > 0 {
            out.info(&format!("{:>12} {}", "stages", times.join(", ")));
            out.info(&format!("{:>12} {}", "sha256", b.sha256));
        } else {
            out.info(&format!("{:>12} {}", "", times.join(", ")));
        }
    }
    Ok(ExitCode::SUCCESS)
}
