//! `cargo pyship config [KEY] [--format json]`: the config reference on the
//! terminal, as the library selects it (`pyship_build::config::describe`).
//! Needs no project: it describes the keys, not their values in one.

use std::process::ExitCode;

use pyship_build::config::describe;
use pyship_build::error::Result;

use crate::cli::{ConfigArgs, Format};

pub fn run(a: ConfigArgs) -> Result<ExitCode> {
    let selection = describe::select(a.key.as_deref())?;
    match a.format {
        Format::Json => crate::print_json(&selection)?,
        Format::Text => print!("{}", selection.text()),
    }
    Ok(ExitCode::SUCCESS)
}
