//! `cargo pyship plan`: everything `release` would do and produce, with no side
//! effects (it reads git tags; it writes and builds nothing).

use std::process::ExitCode;

use pyship_build::env::Env;
use pyship_build::error::{escaped, Result};
use pyship_build::plan::{DependencyLock, EpochSource, Options};
use pyship_build::release;

use crate::cli::{Format, Global, PlanArgs};
use crate::output::Output;

pub fn run(g: &Global, a: PlanArgs, env: &Env, _out: &Output) -> Result<ExitCode> {
    let plan = super::load_plan(
        g,
        env,
        &Options {
            version: a.version.as_deref(),
            out_dir: a.out.as_deref(),
            ..Options::default()
        },
    )?;
    let rp = release::release_plan(&plan, env);
    match a.format {
        Format::Json => crate::print_json(&rp)?,
        Format::Text => {
            let v = &plan.version.version;
            println!(
                "{} {} ({}; from {})",
                plan.name,
                v.tag(),
                if v.is_prerelease() {
                    "pre-release"
                } else {
                    "stable"
                },
                plan.version.source
            );
            println!(
                "kind: {} ({})",
                match plan.launch.kind {
                    pyship_build::launch::Kind::Console => "console",
                    pyship_build::launch::Kind::Gui => "gui",
                },
                escaped(&plan.launch.kind_origin)
            );
            println!(
                "dependencies: {} ({})",
                escaped(plan.lock.path().display()),
                match &plan.lock {
                    DependencyLock::Uv { .. } => "uv's lock: installed as locked",
                    DependencyLock::Pylock { .. } => "PEP 751 lock: installed as locked",
                    DependencyLock::Pyship { .. } =>
                        "pins of what each target resolved first, reused until the requirements change",
                }
            );
            for l in &plan.local_packages {
                println!(
                    "built from source: {} ({})",
                    escaped(&l.name),
                    escaped(l.pyproject.path.display())
                );
            }
            println!(
                "timestamp: {} ({})",
                plan.epoch.seconds,
                match plan.epoch.source {
                    EpochSource::SourceDateEpoch => "SOURCE_DATE_EPOCH",
                    EpochSource::Commit => "commit time of HEAD",
                    EpochSource::Fixed => "fixed: not in a git repository",
                }
            );
            println!("artifacts:");
            for a in &plan.artifacts {
                println!("  {}", escaped(a.path.display()));
            }
            println!("steps:");
            print_steps(&rp.steps);
            if let Some(sg) = &rp.signing {
                println!(
                    "signing (osslsigncode, certificate {}{}{}):",
                    escaped(&sg.certificate),
                    sg.password_env
                        .as_deref()
                        .map(|v| format!(", password from ${v}"))
                        .unwrap_or_default(),
                    sg.timestamp_url
                        .as_deref()
                        .map(|u| format!(", timestamp {}", escaped(u)))
                        .unwrap_or_else(|| ", no timestamp".into())
                );
                for f in &sg.signs {
                    println!("  {}", escaped(f));
                }
            }
            if let Some(d) = &rp.docker {
                println!("docker tags:");
                for t in &d.tags {
                    println!("  {}", escaped(t));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The release's steps, one a line (`plan`, and `release --dry-run`).
pub fn print_steps(steps: &[release::Step]) {
    for s in steps {
        println!(
            "  {:<10} {}{}",
            s.name,
            if s.runs { "" } else { "(skipped) " },
            escaped(&s.description)
        );
    }
}
