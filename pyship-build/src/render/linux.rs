//! Linux templates (run.sh, systemd units). Written in parallel by another
//! engineer; this placeholder only reports that it is missing.

use std::path::Path;

use super::{Error, Rendered};
use crate::context::Context;
use crate::plan::Plan;

/// Not available in this build.
pub fn render(_plan: &Plan, _bundle: &Path, _ctx: &Context<'_>) -> Result<Rendered, Error> {
    Err(Error::Linux(
        "the Linux render stage is not part of this build".into(),
    ))
}
