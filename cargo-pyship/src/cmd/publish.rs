//! `cargo pyship publish`.

use std::process::ExitCode;

use anyhow::{bail, Result};
use pyship_build::env::Env;

use crate::cli::{Global, PublishArgs};
use crate::output::Output;

pub fn run(_g: &Global, _a: PublishArgs, _env: &Env, _out: &Output) -> Result<ExitCode> {
    bail!("`cargo pyship publish` is not built yet")
}
