//! Hints for user-facing errors, and the report that carries them to the user.
//!
//! A bottom module: it imports nothing from the crate, and every stage imports
//! [`Hint`] from here. Every stage's error type says how to fix what went
//! wrong by implementing [`Hint`]; an error that wraps another stage's error
//! hands that error's hint on (`Error::Python(e) => e.hint()`).
//!
//! No registry of hinting types is needed: any `Error + Hint` converts into a
//! [`Report`] (as any error converts into `anyhow::Error`), which keeps the
//! error as a `dyn` [`Diagnostic`], so its hint is still callable after the
//! concrete type is erased. The binary returns [`Report`]s, prints the message,
//! the cause chain ([`Report::chain`]) and one `hint:` line (uv's STYLE.md).

use std::error::Error as StdError;
use std::fmt;

/// An error that knows how the user can fix it.
pub trait Hint {
    fn hint(&self) -> Option<String>;
}

/// An error with a hint: what a [`Report`] holds. Implemented for every
/// `Error + Hint + Send + Sync`.
pub trait Diagnostic: StdError + Hint + Send + Sync + 'static {}

impl<T: StdError + Hint + Send + Sync + 'static> Diagnostic for T {}

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

/// An I/O error of the binary's own (writing to stdout) has no hint; a
/// library I/O error is wrapped in a stage error that has one.
impl Hint for std::io::Error {
    fn hint(&self) -> Option<String> {
        None
    }
}

/// Any library error on its way to the user, type-erased with its hint.
///
/// Like `anyhow::Error` it converts from any error with `?`, and, like it, it
/// does not implement `std::error::Error` itself (that would make the blanket
/// `From` overlap with `From<Report> for Report`).
pub struct Report(Box<dyn Diagnostic>);

/// `Result` with a [`Report`]: what the binary's commands return.
pub type Result<T, E = Report> = std::result::Result<T, E>;

impl<E: Diagnostic> From<E> for Report {
    fn from(e: E) -> Self {
        Report(Box::new(e))
    }
}

impl Report {
    /// The error's hint: the one the outermost error gives.
    pub fn hint(&self) -> Option<String> {
        self.0.hint()
    }

    /// The error, then its causes (`source()`), outermost first.
    pub fn chain(&self) -> impl Iterator<Item = &(dyn StdError + 'static)> + '_ {
        let top: &(dyn StdError + 'static) = &*self.0;
        std::iter::successors(Some(top), |&e| e.source())
    }
}

impl Hint for Report {
    fn hint(&self) -> Option<String> {
        Report::hint(self)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

/// The hint of an error (or of a [`Report`]), if it has one.
pub fn hint_for<E: Hint + ?Sized>(err: &E) -> Option<String> {
    err.hint()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Hinted);

    impl Hint for Outer {
        fn hint(&self) -> Option<String> {
            self.0.hint()
        }
    }

    #[test]
    fn a_report_keeps_the_hint_and_the_chain_of_any_hinting_error() {
        let r = Report::from(Outer(Hinted {
            message: "inner".into(),
            hint: "do this".into(),
        }));
        assert_eq!(r.hint().as_deref(), Some("do this"));
        assert_eq!(hint_for(&r).as_deref(), Some("do this"));
        let chain: Vec<String> = r.chain().map(|e| e.to_string()).collect();
        assert_eq!(chain, ["outer", "inner"]);
        assert_eq!(r.to_string(), "outer");
    }

    #[test]
    fn an_io_error_converts_without_a_hint() {
        let r = Report::from(std::io::Error::other("closed"));
        assert_eq!(r.hint(), None);
        assert!(r
            .chain()
            .next()
            .unwrap()
            .downcast_ref::<std::io::Error>()
            .is_some());
    }
}
