//! `cargo pyship strip`.

use std::process::ExitCode;

use anyhow::{bail, Result};
use pyship_build::env::Env;

use crate::cli::{Global, StripArgs};
use crate::output::Output;

pub fn run(_g: &Global, _a: StripArgs, _env: &Env, _out: &Output) -> Result<ExitCode> {
    bail!("`cargo pyship strip` is not built yet")
}
