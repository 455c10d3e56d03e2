//! Linux runtime (python-build-standalone or a venv). Written in parallel by
//! another engineer; this placeholder only reports that it is missing.

use std::path::Path;

use super::{Error, Runtime};
use crate::context::Context;
use crate::plan::Plan;

/// Not available in this build.
pub fn fetch(_plan: &Plan, _dest: &Path, _ctx: &Context<'_>) -> Result<Runtime, Error> {
    Err(Error::Linux(
        "the Linux runtime stage is not part of this build".into(),
    ))
}
