//! The test data: the embeddable CPython and the wheelhouse.
//!
//! From `../shared/fixtures` beside the checkout when it exists.
//! (The PyPI fallback for a clone without `../shared` is added by the Windows
//! bundle work, issue 3.)

use std::path::PathBuf;

/// `../shared/fixtures` beside the workspace, if present.
pub fn shared_fixtures() -> Option<PathBuf> {
    let p = crate::workspace_root()
        .parent()?
        .join("shared")
        .join("fixtures");
    p.is_dir().then_some(p)
}

/// The directory holding `python-3.11.9-embed-amd64.zip`.
pub fn embed_python_dir() -> PathBuf {
    shared_fixtures()
        .map(|p| p.join("python"))
        .expect("../shared/fixtures is missing")
}

/// The wheelhouse directory (cp311 win_amd64 + manylinux wheels).
pub fn wheelhouse() -> PathBuf {
    shared_fixtures()
        .map(|p| p.join("wheelhouse"))
        .expect("../shared/fixtures is missing")
}
