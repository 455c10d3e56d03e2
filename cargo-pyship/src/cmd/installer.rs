//! `cargo pyship installer`.

use std::process::ExitCode;

use anyhow::{bail, Result};
use pyship_build::env::Env;

use crate::cli::{Global, InstallerArgs};
use crate::output::Output;

pub fn run(_g: &Global, _a: InstallerArgs, _env: &Env, _out: &Output) -> Result<ExitCode> {
    bail!("`cargo pyship installer` is not built yet")
}
