//! `cargo pyship docker`.

use std::process::ExitCode;

use anyhow::{bail, Result};
use pyship_build::env::Env;

use crate::cli::{DockerArgs, Global};
use crate::output::Output;

pub fn run(_g: &Global, _a: DockerArgs, _env: &Env, _out: &Output) -> Result<ExitCode> {
    bail!("`cargo pyship docker` is not built yet")
}
