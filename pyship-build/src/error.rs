//! Hints for user-facing errors.
//!
//! Every stage's error type can say how to fix what went wrong. The binary walks
//! an error's cause chain with [`hint_for`] and prints the first hint it finds as
//! a `hint:` line, after the message and its causes (uv's STYLE.md).

use std::error::Error as StdError;

/// An error that knows how the user can fix it.
pub trait Hint {
    fn hint(&self) -> Option<String>;
}

/// A plain message with a hint, for the few places that have no error enum.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Hinted {
    pub message: String,
    pub hint: String,
}

impl Hint for Hinted {
    fn hint(&self) -> Option<String> {
        Some(self.hint.clone())
    }
}

type HintFn = fn(&(dyn StdError + 'static)) -> Option<String>;

fn try_hint<E: Hint + StdError + 'static>(err: &(dyn StdError + 'static)) -> Option<String> {
    err.downcast_ref::<E>().and_then(Hint::hint)
}

/// The error types that carry hints; one line per type.
const HINTERS: &[HintFn] = &[
    try_hint::<Hinted>,
    try_hint::<crate::config::Error>,
    try_hint::<crate::version::Error>,
    try_hint::<crate::project::Error>,
    try_hint::<crate::net::Error>,
    try_hint::<crate::tools::Error>,
    try_hint::<crate::fs::Error>,
    try_hint::<crate::plan::PlanError>,
    try_hint::<crate::layout::Error>,
    try_hint::<crate::names::Error>,
    try_hint::<crate::release::Error>,
    try_hint::<crate::installer::Error>,
    try_hint::<crate::strip::Error>,
    try_hint::<crate::wine::Error>,
    try_hint::<crate::publish::Error>,
    try_hint::<crate::python::Error>,
    try_hint::<crate::deps::Error>,
    try_hint::<crate::wheel::Error>,
    try_hint::<crate::app::Error>,
    try_hint::<crate::render::Error>,
    try_hint::<crate::archive::Error>,
    try_hint::<crate::bundle::Error>,
    try_hint::<crate::docker::Error>,
    try_hint::<crate::init::Error>,
    try_hint::<crate::manifest::Error>,
    try_hint::<crate::python::linux::Error>,
    try_hint::<crate::render::linux::Error>,
];

/// The first hint found along `err`'s cause chain.
pub fn hint_for(err: &(dyn StdError + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(h) = HINTERS.iter().find_map(|f| f(e)) {
            return Some(h);
        }
        cur = e.source();
    }
    None
}
