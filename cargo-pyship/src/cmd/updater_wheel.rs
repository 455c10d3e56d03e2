//! `cargo pyship updater-wheel [--out DIR]`: the wheel of `pyship_update`
//! (the self-updater every bundle ships) for a development checkout, where
//! the app's `import pyship_update` must work too. Installed as a dev
//! dependency it says install type `dev`: `check()` finds nothing, `apply()`
//! refuses. The project's own `templates/update/` overrides are used.

use std::process::ExitCode;

use pyship_build::error::Result;

use crate::cli::{Global, UpdaterWheelArgs};

pub fn run(g: &Global, a: UpdaterWheelArgs) -> Result<ExitCode> {
    let project = super::load_project(g)?;
    let out = a.out.unwrap_or_else(|| project.config_dir.join("dist"));
    let wheel = pyship_build::update::dev_wheel(&project.config_dir, &out)?;
    println!("{}", wheel.display());
    Ok(ExitCode::SUCCESS)
}
