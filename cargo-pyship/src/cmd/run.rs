//! `cargo pyship run`: build (or reuse) one platform's bundle and run its app
//! as a user starts it (the Windows bundle under wine), with the arguments
//! after `--`; cargo-pyship exits with the app's exit code.

use std::process::ExitCode;

use pyship_build::context::Context;
use pyship_build::env::Env;
use pyship_build::error::Result;
use pyship_build::plan::Options;
use pyship_build::platform::Platform;

use crate::cli::{Global, RunArgs, StripPlatform};
use crate::output::Output;

pub fn run(g: &Global, a: RunArgs, env: &Env, out: &Output) -> Result<ExitCode> {
    let platform = match a.target {
        Some(StripPlatform::Windows) => Platform::Windows,
        Some(StripPlatform::Linux) => Platform::Linux,
        None if cfg!(windows) => Platform::Windows,
        None => Platform::Linux,
    };
    let plan = super::load_plan(
        g,
        env,
        &Options {
            version: a.version.as_deref(),
            out_dir: a.out.as_deref(),
            targets: vec![platform],
        },
    )?;
    let mut ctx = Context::new(out, env);
    ctx.offline = a.offline;
    let ran = pyship_build::run::run(&plan, platform, &a.args, &ctx)?;
    // Exit codes are 0-255 on the way out of a process.
    Ok(ExitCode::from(u8::try_from(ran.code & 0xff).unwrap_or(1)))
}
