//! `cargo pyship installer`: build `{name}-{tag}-setup.exe` from the Windows
//! bundle tree, building the bundle first unless it was built from the inputs
//! as they are now (version, config and sources).

use std::process::ExitCode;

use pyship_build::env::Env;
use pyship_build::error::Result;
use pyship_build::plan::Options;
use pyship_build::platform::Platform;
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
    bundle::ensure_current(&plan, Platform::Windows, signer.as_ref(), &ctx)?;
    let built = installer::run_with(&plan, &bundle_dir, signer.as_ref(), &ctx)?;
    out.info(&format!("{:>12} {}", "sha256", built.sha256));
    Ok(ExitCode::SUCCESS)
}
