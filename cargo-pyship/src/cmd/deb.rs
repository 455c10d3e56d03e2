//! `cargo pyship deb`: build `{file-name}_{version}_amd64.deb` from the Linux
//! bundle tree, building the bundle first unless it was built from the inputs
//! as they are now (version, config and sources).

use std::process::ExitCode;

use pyship_build::env::Env;
use pyship_build::error::Result;
use pyship_build::plan::Options;
use pyship_build::platform::Platform;
use pyship_build::{bundle, deb, Context};

use crate::cli::{Global, InstallerArgs};
use crate::output::Output;

pub fn run(g: &Global, a: InstallerArgs, env: &Env, out: &Output) -> Result<ExitCode> {
    let plan = super::load_plan(
        g,
        env,
        &Options {
            version: a.version.as_deref(),
            out_dir: a.out.as_deref(),
            targets: vec![Platform::Linux],
        },
    )?;
    bundle::check_host(&[Platform::Linux])?;
    // What the control file needs is checked before a bundle build that takes minutes.
    deb::package_name(&plan)?;
    deb::maintainer(&plan)?;
    let mut ctx = Context::new(out, env);
    ctx.offline = a.offline;
    let bundle_dir = plan.bundle_dir(Platform::Linux);
    bundle::ensure_current(&plan, Platform::Linux, None, &ctx)?;
    let built = deb::run(&plan, &bundle_dir, &ctx)?;
    out.info(&format!("{:>12} {}", "sha256", built.sha256));
    out.info(&format!("{:>12} {:.1}s", "built in", built.seconds));
    Ok(ExitCode::SUCCESS)
}
