//! Stage: render the platform's templates (launchers, scripts) into the bundle.
//!
//! Why a stage: every generated file comes from a template the project can
//! override (`<project>/templates/<name>`), rendered with strict undefined and
//! each value escaped for the file's language ([`crate::templates`]).

pub mod linux;
pub mod windows;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::context::Context;
use crate::plan::Plan;
use crate::platform::Platform;

/// The files a render wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Rendered {
    pub files: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Template(#[from] crate::templates::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Write(#[from] crate::fs::WriteError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Linux(#[from] linux::Error),
}

/// Render `platform`'s templates into the bundle tree at `bundle`.
pub fn run(
    plan: &Plan,
    platform: Platform,
    bundle: &Path,
    ctx: &Context<'_>,
) -> Result<Rendered, Error> {
    let mut rendered = match platform {
        Platform::Windows => windows::render(plan, bundle, ctx)?,
        Platform::Linux => linux::render(plan, bundle, ctx)?,
    };
    // The launcher module the scripts above run, when the app starts through
    // an entry point or with args (see crate::launch).
    if let Some(source) = plan.launch.launcher_source(platform) {
        let path = bundle
            .join("app")
            .join("src")
            .join(format!("{}.py", crate::launch::LAUNCHER_MODULE));
        crate::fs::atomic_write(&path, source.as_bytes()).map_err(|source| {
            Error::Write(crate::fs::WriteError {
                path: path.clone(),
                source,
            })
        })?;
        rendered.files.push(path);
    }
    Ok(rendered)
}

/// Write a rendered file, creating its directory.
pub(crate) fn write(path: &Path, text: &str) -> Result<(), Error> {
    crate::fs::atomic_write_creating_dir(path, text.as_bytes()).map_err(|source| {
        Error::Write(crate::fs::WriteError {
            path: path.to_owned(),
            source,
        })
    })
}
