//! `cargo pyship release`.

use std::process::ExitCode;

use anyhow::{bail, Result};
use pyship_build::env::Env;

use crate::cli::{Global, ReleaseArgs};
use crate::output::Output;

pub fn run(_g: &Global, _a: ReleaseArgs, _env: &Env, _out: &Output) -> Result<ExitCode> {
    bail!("`cargo pyship release` is not built yet")
}
