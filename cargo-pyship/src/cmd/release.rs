//! `cargo pyship release`: the one CI step. Stamp the version, build every
//! bundle and the installer, write manifest.json, publish (SHA256SUMS last),
//! then the Docker image when configured. `--dry-run` changes nothing and
//! prints what would happen (the same as `cargo pyship plan`).

use std::process::ExitCode;

use pyship_build::env::Env;
use pyship_build::error::Result;
use pyship_build::plan::Options;
use pyship_build::report::Reporter;
use pyship_build::{release, Context};

use crate::cli::{Format, Global, ReleaseArgs};
use crate::output::Output;

pub fn run(g: &Global, a: ReleaseArgs, env: &Env, out: &Output) -> Result<ExitCode> {
    let mut plan = super::load_plan(
        g,
        env,
        &Options {
            version: None,
            out_dir: a.out.as_deref(),
            targets: Vec::new(),
        },
    )?;
    if let Some(r) = a.rollout {
        plan.config.update.rollout = r;
    }
    if a.dry_run {
        let rp = release::release_plan(&plan, env);
        match a.format {
            Format::Json => crate::print_json(&rp)?,
            Format::Text => {
                out.status("Dry run", "nothing is changed; the release would:");
                super::plan::print_steps(&rp.steps);
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut ctx = Context::new(out, env);
    ctx.offline = a.offline;
    // In CI a release builds what was committed: pyship.lock must not change.
    ctx.locked = a.locked || pyship_build::env::is_ci(env);
    let released = release::run_parts(&plan, &a.only, &ctx)?;
    match a.format {
        Format::Json => {
            #[derive(serde::Serialize)]
            struct Summary<'a> {
                tag: &'a str,
                prerelease: bool,
                url: Option<&'a str>,
                assets: &'a [pyship_build::publish::PublishedAsset],
                docker: Option<&'a pyship_build::docker::Output>,
                /// Seconds per bundle stage (sign, licenses and sbom included).
                bundles: Vec<Timed<'a>>,
                installer: Option<&'a pyship_build::installer::Installer>,
            }
            #[derive(serde::Serialize)]
            struct Timed<'a> {
                platform: pyship_build::platform::Platform,
                seconds: f64,
                stages: &'a [pyship_build::bundle::StageTime],
            }
            crate::print_json(&Summary {
                tag: &released.tag,
                prerelease: released.prerelease,
                url: released
                    .published
                    .as_ref()
                    .and_then(|p| p.release.as_ref())
                    .map(|r| r.url.as_str()),
                assets: released
                    .published
                    .as_ref()
                    .map_or(&[], |p| p.assets.as_slice()),
                docker: released.docker.as_ref(),
                bundles: released
                    .bundles
                    .iter()
                    .map(|b| Timed {
                        platform: b.platform,
                        seconds: b.seconds,
                        stages: &b.stages,
                    })
                    .collect(),
                installer: released.installer.as_ref(),
            })?;
        }
        Format::Text => {
            if let Some(r) = released.published.as_ref().and_then(|p| p.release.as_ref()) {
                // The server's answer: one line, whatever it holds.
                let url = pyship_build::error::escaped(&r.url).to_string();
                out.status("Released", &url);
                println!("{url}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
