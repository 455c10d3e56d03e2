//! `cargo pyship plan`.

use std::process::ExitCode;

use anyhow::{bail, Result};
use pyship_build::env::Env;

use crate::cli::{Global, PlanArgs};
use crate::output::Output;

pub fn run(_g: &Global, _a: PlanArgs, _env: &Env, _out: &Output) -> Result<ExitCode> {
    bail!("`cargo pyship plan` is not built yet")
}
