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
    }
    // The targets share nothing but the output folder's lock (taken per
    // process, so both hold it) and the caches: they build side by side,
    // each reported as it finishes. The first failure (in target order) is
    // the run's error, once every target has stopped.
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = plan
            .targets
            .iter()
            .map(|&platform| {
                let (plan, prepared, signer, ctx) = (&plan, &prepared, signer.as_ref(), &ctx);
                s.spawn(move || -> Result<()> {
                    let b = bundle::run_with(plan, platform, prepared, signer, ctx)?;
                    report(out, &b);
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    for r in results {
        r?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The `Finished` line of one bundle and its per-stage timings.
fn report(out: &Output, b: &bundle::Bundled) {
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
    let times: Vec<String> = b
        .stages
        .iter()
        .map(|s| format!("{} {:.1}s", s.stage, s.seconds))
        .collect();
    // One block per bundle: the lines of two targets finishing together
    // do not interleave.
    static TOGETHER: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _together = TOGETHER.lock().unwrap_or_else(|e| e.into_inner());
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
    if out.verbose() > 0 {
        out.info(&format!("{:>12} {}", "stages", times.join(", ")));
        out.info(&format!("{:>12} {}", "sha256", b.sha256));
    } else {
        out.info(&format!("{:>12} {}", "", times.join(", ")));
    }
}
