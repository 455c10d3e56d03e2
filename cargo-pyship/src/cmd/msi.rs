//! `cargo pyship msi`: build `{file-name}-{tag}-x64.msi` from the Windows
//! bundle tree, building the bundle first when it is missing or was built for
//! another version.

use std::process::ExitCode;

use pyship_build::env::Env;
use pyship_build::error::Result;
use pyship_build::plan::Options;
use pyship_build::platform::Platform;
use pyship_build::report::Reporter;
use pyship_build::{bundle, installer, msi, Context};

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
    let mut ctx = Context::new(out, env);
    ctx.offline = a.offline;
    // Before a bundle build that takes minutes: the version and the values
    // fit an MSI, wixl and msibuild are there, the certificate opens.
    msi::preflight(&plan, &ctx)?;
    let signer = pyship_build::sign::Signer::prepare(&plan, &ctx)?;
    let bundle_dir = plan.bundle_dir(Platform::Windows);
    if !installer::bundle_is_current(&plan, &bundle_dir) {
        out.status(
            "Bundling",
            &format!(
                "{} {} for windows (no current bundle at {})",
                plan.name,
                plan.version.version.tag(),
                bundle_dir.display()
            ),
        );
        let b = bundle::run_with(
            &plan,
            Platform::Windows,
            &bundle::Prepared::default(),
            signer.as_ref(),
            &ctx,
        )?;
        out.status(
            "Finished",
            &format!("{} in {:.1}s", b.artifact.display(), b.total_seconds()),
        );
    }
    let built = msi::run_with(&plan, &bundle_dir, signer.as_ref(), &ctx)?;
    out.info(&format!("{:>12} {}", "sha256", built.sha256));
    out.info(&format!("{:>12} {}", "UpgradeCode", built.upgrade_code));
    out.info(&format!("{:>12} {:.1}s", "built in", built.seconds));
    Ok(ExitCode::SUCCESS)
}
