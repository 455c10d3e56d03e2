//! Helpers for a project's `build.rs`.
//!
//! `pyship_build::build_script::sync_version()` keeps `pyproject.toml`'s
//! `[project].version` equal to the crate's `CARGO_PKG_VERSION` (in its PEP 440
//! spelling), so `cargo build` after a Cargo version bump also bumps the
//! Python side. It prints only `cargo::rerun-if-changed` lines: cargo reads a
//! build script's stdout as instructions.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};

use crate::version::{stamp, Version};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} is not set; sync_version() must run inside a build script")]
    NotInBuildScript(&'static str),
    #[error(transparent)]
    Version(#[from] crate::version::Error),
    #[error(transparent)]
    Project(#[from] crate::project::Error),
}

/// What [`sync_version_at`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Synced {
    /// The pyproject now says this version (it may already have).
    Stamped { path: PathBuf, changed: bool },
    /// The pyproject's version is dynamic (maturin reads Cargo's): nothing to do.
    Dynamic,
    /// No pyproject.toml at that path.
    NoPyproject,
}

/// From a `build.rs`: sync `pyproject.toml` next to the crate's manifest with
/// `CARGO_PKG_VERSION`. Panics with the error (a build script's way to fail).
pub fn sync_version() {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{}", Error::NotInBuildScript("CARGO_MANIFEST_DIR")));
    let version = std::env::var("CARGO_PKG_VERSION")
        .unwrap_or_else(|_| panic!("{}", Error::NotInBuildScript("CARGO_PKG_VERSION")));
    let path = dir.join("pyproject.toml");
    println!("cargo::rerun-if-changed={}", path.display());
    println!("cargo::rerun-if-changed=Cargo.toml");
    if let Err(e) = sync_version_at(&path, &version) {
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg.push_str(&format!(": {s}"));
            src = s.source();
        }
        panic!("pyship-build: {msg}");
    }
}

/// Sync the pyproject at `path` with `cargo_version` (no printing).
pub fn sync_version_at(path: &Path, cargo_version: &str) -> Result<Synced, Error> {
    if !path.exists() {
        return Ok(Synced::NoPyproject);
    }
    let py = crate::project::Pyproject::read(path)?;
    if py.dynamic_version {
        return Ok(Synced::Dynamic);
    }
    let v = Version::parse_from(cargo_version, Some("CARGO_PKG_VERSION"))?;
    let r = stamp::stamp(
        &[stamp::Target::Pyproject {
            path: path.to_owned(),
        }],
        &v,
    )?;
    Ok(Synced::Stamped {
        path: path.to_owned(),
        changed: r.iter().any(|s| s.changed),
    })
}
