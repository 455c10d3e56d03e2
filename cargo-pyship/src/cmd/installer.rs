//! `cargo pyship installer`: build `{name}-{tag}-setup.exe` from the Windows
//! bundle tree, building the bundle first when it is missing or was built for
//! another version.

use std::process::ExitCode;

use pyship_build::env::Env;
use pyship_build::error::Result;
use pyship_build::plan::Options;
use pyship_build::platform::Platform;
use pyship_build::report::Reporter;
use pyship_build::{bundle, installer, tools, Context};

use crate::cli::{Global, InstallerArgs};
use crate::output::Output;

pub fn run(g: &Global, a: InstallerArgs, env: &Env, out: &Output) -> Result<ExitCode> {
    let plan = super::load_plan(
        g,
        env,
        &Options {
            version: a.version.as_deref(),
            out_dir: a.out.as_deref(),
            targets: vec![Platform::Windows],
        },
    )?;
    // Before a bundle build that takes minutes: an installer must be
    // configured, and makensis must be there.
    installer::check_enabled(&plan)?;
    tools::MAKENSIS.find(env)?;
    let mut ctx = Context::new(out, env);
    ctx.offline = a.offline;
    ctx.locked = a.locked;
    // The certificate and password are checked before anything is built.
    let signer = pyship_build::sign::Signer::prepare(&plan, &ctx)?;
    let bundle_dir = plan.bundle_dir(Platform::Windows);
    // The tree must be what a bundle built from the inputs as they are now
    // (config included), or the installer would ship a stale one.
    if !bundle::is_current(&plan, Platform::Windows) {
        let why = if installer::bundle_is_current(&plan, &bundle_dir) {
            format!(
                "its inputs changed since the bundle at {} was built",
                bundle_dir.display()
            )
        } else {
            format!("no current bundle at {}", bundle_dir.display())
        };
        out.status(
            "Bundling",
            &format!(
                "{} {} for windows ({why})",
                plan.name,
                plan.version.version.tag(),
            ),
        );
        let prepared = bundle::prepare(&plan, &[Platform::Windows], &ctx)?;
        let b = bundle::run_with(&plan, Platform::Windows, &prepared, signer.as_ref(), &ctx)?;
        out.status(
            "Finished",
            &format!("{} in {:.1}s", b.artifact.display(), b.total_seconds()),
        );
    }
    let built = installer::run_with(&plan, &bundle_dir, signer.as_ref(), &ctx)?;
    out.info(&format!("{:>12} {}", "sha256", built.sha256));
    Ok(ExitCode::SUCCESS)
}
