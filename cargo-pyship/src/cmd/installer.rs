//! `cargo pyship installer`: build `{name}-{tag}-setup.exe` from the Windows
//! bundle tree (building the bundle first when it is missing).

use std::process::ExitCode;

use anyhow::Result;
use pyship_build::env::Env;
use pyship_build::plan::{Options, Plan};
use pyship_build::platform::Platform;
use pyship_build::{installer, Context};

use crate::cli::{Global, InstallerArgs};
use crate::output::Output;

pub fn run(g: &Global, a: InstallerArgs, env: &Env, out: &Output) -> Result<ExitCode> {
    let project = super::load_project(g)?;
    let plan = Plan::build(
        project,
        env,
        &Options {
            version: a.version.as_deref(),
            out_dir: a.out.as_deref(),
            targets: vec![Platform::Windows],
        },
    )?;
    let mut ctx = Context::new(out, env);
    ctx.offline = a.offline;
    let bundle_dir = plan.bundle_dir(Platform::Windows);
    if !bundle_dir.join(Platform::Windows.python_exe()).is_file() {
        anyhow::bail!(pyship_build::error::Hinted {
            message: format!(
                "no Windows bundle at {} (and building it here is not wired up yet)",
                bundle_dir.display()
            ),
            hint:
                "run `cargo pyship bundle --target windows` with the same --version and --out first"
                    .into(),
        });
    }
    let built = installer::run(&plan, &bundle_dir, &ctx)?;
    out.info(&format!("sha256 {}", built.sha256));
    Ok(ExitCode::SUCCESS)
}
