//! `cargo pyship licenses`: write `THIRD-PARTY-LICENSES.txt` at the top of
//! each built bundle tree, from the licence files in its dist-info folders
//! (the bundle command does the same as one of its steps).

use std::process::ExitCode;

use pyship_build::env::Env;
use pyship_build::error::{Hinted, Result};
use pyship_build::licenses;
use pyship_build::plan::Options;
use pyship_build::report::Reporter;

use crate::cli::{Format, Global, LicensesArgs};
use crate::output::Output;

pub fn run(g: &Global, a: LicensesArgs, env: &Env, out: &Output) -> Result<ExitCode> {
    let explicit = !a.target.is_empty();
    let plan = super::load_plan(
        g,
        env,
        &Options {
            version: a.version.as_deref(),
            out_dir: a.out.as_deref(),
            targets: super::bundle::platforms(&a.target),
        },
    )?;
    // Without --target: the platforms that have a bundle tree.
    let platforms: Vec<_> = plan
        .targets
        .iter()
        .copied()
        .filter(|&p| {
            explicit
                || plan
                    .bundle_dir(p)
                    .join(p.site_packages(&plan.python.xy))
                    .is_dir()
        })
        .collect();
    if platforms.is_empty() {
        return Err(Hinted {
            message: format!("no bundle tree under {}", plan.work_dir.display()),
            hint: "build one first with `cargo pyship bundle`".into(),
        }
        .into());
    }
    let ctx = pyship_build::Context::new(out, env);
    let mut written = Vec::new();
    for p in platforms {
        let w = licenses::run(&plan, p, &ctx)?;
        for m in &w.missing {
            out.warn(&format!(
                "{m} has no licence information (no License/License-Expression metadata, classifier or licence file)"
            ));
        }
        out.status(
            "Wrote",
            &format!(
                "{} ({} distributions, {} licence files)",
                w.path.display(),
                w.distributions,
                w.license_files
            ),
        );
        written.push(w);
    }
    if a.format == Format::Json {
        crate::print_json(&written)?;
    }
    Ok(ExitCode::SUCCESS)
}
