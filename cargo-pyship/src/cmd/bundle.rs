//! `cargo pyship bundle`.

use std::process::ExitCode;

use anyhow::{bail, Result};
use pyship_build::env::Env;

use crate::cli::{BundleArgs, Global};
use crate::output::Output;

pub fn run(_g: &Global, _a: BundleArgs, _env: &Env, _out: &Output) -> Result<ExitCode> {
    bail!("`cargo pyship bundle` is not built yet")
}
