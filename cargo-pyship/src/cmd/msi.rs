//! `cargo pyship msi`: build `{file-name}-{tag}-x64.msi` from the Windows
//! bundle tree, building the bundle first unless it was built from the inputs
//! as they are now (version, config and sources).

use std::process::ExitCode;

use pyship_build::env::Env;
use pyship_build::error::Result;
use pyship_build::plan::Options;
use pyship_build::platform::Platform;
use pyship_build::{bundle, msi, Context};

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
    bundle::ensure_current(&plan, Platform::Windows, signer.as_ref(), &ctx)?;
    let built = msi::run_with(&plan, &bundle_dir, signer.as_ref(), &ctx)?;
    out.info(&format!("{:>12} {}", "sha256", built.sha256));
    out.info(&format!("{:>12} {}", "UpgradeCode", built.upgrade_code));
    out.info(&format!("{:>12} {:.1}s", "built in", built.seconds));
    Ok(ExitCode::SUCCESS)
}
