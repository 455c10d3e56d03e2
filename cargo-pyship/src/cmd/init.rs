//! `cargo pyship init`.

use std::process::ExitCode;

use anyhow::{bail, Result};
use pyship_build::env::Env;

use crate::cli::{Global, InitArgs};
use crate::output::Output;

pub fn run(_g: &Global, _a: InitArgs, _env: &Env, _out: &Output) -> Result<ExitCode> {
    bail!("`cargo pyship init` is not built yet")
}
