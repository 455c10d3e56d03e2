//! Hints for user-facing errors, and the report that carries them to the user.
//!
//! A bottom module: it imports nothing from the crate. Every error type
//! declares how to fix what went wrong next to its message, with miette's
//! derive: `#[diagnostic(help("..."))]` on a variant (fields by name as in
//! `#[error]`), `#[diagnostic(transparent)]` on a variant that only wraps
//! another error (its help is passed on), and `#[diagnostic_source]` on the
//! wrapped error of a variant that adds context but no help of its own.
//!
//! [`Hint`] reads that help: an error's own, else its diagnostic source's.
//! Any [`Diagnostic`] converts into a [`Report`] (as any error converts into
//! `anyhow::Error`), which keeps it as a `dyn` [`Diagnostic`], so its hint is
//! still there after the concrete type is erased. The binary returns
//! [`Report`]s, prints the message, the cause chain ([`Report::chain`]) and one
//! `hint:` line (uv's STYLE.md).
//!
//! [`escaped`] shows a value from outside in a message without letting its
//! control characters add lines or drive the terminal.

use std::error::Error as StdError;
use std::fmt;

pub use miette::Diagnostic;

/// The hint of an error: how the user can fix it.
pub trait Hint {
    fn hint(&self) -> Option<String>;
}

/// An error's own help, else the help its diagnostic source gives. An empty
/// help is none: a variant whose help depends on its fields (an HTTP status)
/// may have nothing to add.
impl<T: Diagnostic + ?Sized> Hint for T {
    fn hint(&self) -> Option<String> {
        match self.help() {
            Some(help) => Some(help.to_string()).filter(|h| !h.is_empty()),
            None => self.diagnostic_source().and_then(|source| source.hint()),
        }
    }
}

/// A plain message with a hint, for the few places that have no error enum.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{message}")]
#[diagnostic(help("{hint}"))]
pub struct Hinted {
    pub message: String,
    pub hint: String,
}

/// An I/O error of the binary's own (writing to stdout): no hint. A library
/// I/O error is wrapped in a stage error that has one.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error(transparent)]
pub struct Io(#[from] pub std::io::Error);

/// Any library error on its way to the user, type-erased with its hint.
///
/// Like `anyhow::Error` it converts from any error with `?`, and, like it, it
/// does not implement `std::error::Error` itself (that would make the blanket
/// `From` overlap with `From<Report> for Report`).
pub struct Report(Box<dyn Diagnostic + Send + Sync>);

/// `Result` with a [`Report`]: what the binary's commands return.
pub type Result<T, E = Report> = std::result::Result<T, E>;

impl<E: Diagnostic + Send + Sync + 'static> From<E> for Report {
    fn from(e: E) -> Self {
        Report(Box::new(e))
    }
}

impl Report {
    /// The error's hint: the one the outermost error gives.
    pub fn hint(&self) -> Option<String> {
        Hint::hint(&*self.0)
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

/// Whether `c` is shown as an escape rather than as itself: a control
/// character (C0, DEL, C1), a line or paragraph separator, or an invisible
/// character that reorders or hides text (bidi controls, zero-width ones).
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{feff}'
        )
}

/// A value from outside (an argument, a config string, a git tag, a file
/// name, a server's answer) as a message shows it: each character
/// [`needs_escape`] says is written as [`char::escape_debug`] writes it
/// (`\n`, `\r`, `\t`, `\u{1b}`, `\u{202e}`), everything else as it is
/// (`é`, `日本`, a backslash). Why: a message is laid out in lines and read
/// on a terminal, so a line break in a value would add a line that reads as
/// the tool's own (`error: …`), and an escape sequence would drive the
/// terminal. Use it for every such value a message, a warning or a status
/// line interpolates with `{}`; one shown with `{:?}` is escaped already.
/// Escaping again changes nothing (the escapes are printable), so a one-line
/// message made of escaped values may be escaped whole.
pub fn escaped<T: fmt::Display>(value: T) -> Escaped<T> {
    Escaped(value)
}

/// See [`escaped`].
#[derive(Debug, Clone, Copy)]
pub struct Escaped<T>(pub T);

impl<T: fmt::Display> fmt::Display for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write as _;
        write!(EscapeWriter(f), "{}", self.0)
    }
}

/// Writes through to `W`, escaping what [`needs_escape`] says.
struct EscapeWriter<W>(W);

impl<W: fmt::Write> fmt::Write for EscapeWriter<W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s;
        while let Some((at, c)) = rest.char_indices().find(|&(_, c)| needs_escape(c)) {
            self.0.write_str(&rest[..at])?;
            for e in c.escape_debug() {
                self.0.write_char(e)?;
            }
            rest = &rest[at + c.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error, Diagnostic)]
    #[error("outer")]
    struct Outer(
        #[source]
        #[diagnostic_source]
        Hinted,
    );

    #[derive(Debug, thiserror::Error, Diagnostic)]
    enum Wrapper {
        #[error(transparent)]
        #[diagnostic(transparent)]
        Passed(Outer),
        #[error("own")]
        #[diagnostic(help("its own, not {0}'s"))]
        Own(
            #[source]
            #[diagnostic_source]
            Outer,
        ),
        #[error("none")]
        Silent(#[source] Outer),
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
    fn help_is_passed_on_through_transparent_and_diagnostic_sources_only() {
        let outer = || {
            Outer(Hinted {
                message: "inner".into(),
                hint: "do this".into(),
            })
        };
        assert_eq!(Wrapper::Passed(outer()).hint().as_deref(), Some("do this"));
        assert_eq!(
            Wrapper::Own(outer()).hint().as_deref(),
            Some("its own, not outer's")
        );
        assert_eq!(Wrapper::Silent(outer()).hint(), None);
    }

    #[test]
    fn escaped_writes_control_characters_as_rust_escapes_them() {
        assert_eq!(escaped("v1\nerror: fake").to_string(), "v1\\nerror: fake");
        assert_eq!(
            escaped("\u{1b}[31mred\r\t\0\u{7f}\u{9b}").to_string(),
            "\\u{1b}[31mred\\r\\t\\0\\u{7f}\\u{9b}"
        );
        assert_eq!(
            escaped("a\u{202e}b\u{200b}c\u{2028}d\u{feff}").to_string(),
            "a\\u{202e}b\\u{200b}c\\u{2028}d\\u{feff}"
        );
    }

    #[test]
    fn escaped_keeps_printable_text_as_it_is() {
        for plain in ["Café 日本 ✓", "C:\\Users\\me", "`quoted` \"and\" 'not'", ""] {
            assert_eq!(escaped(plain).to_string(), plain);
        }
        // Any Display value: a path, a number.
        let path = std::path::Path::new("dir/a\nb");
        assert_eq!(escaped(path.display()).to_string(), "dir/a\\nb");
        assert_eq!(escaped(42).to_string(), "42");
        // Escaping twice is escaping once.
        let once = escaped("a\nb\u{1b}c\\n").to_string();
        assert_eq!(escaped(&once).to_string(), once);
        // In a larger message, only the value is escaped.
        assert_eq!(
            format!("line one\n`{}` here", escaped("x\ny")),
            "line one\n`x\\ny` here"
        );
    }

    #[test]
    fn an_io_error_converts_without_a_hint() {
        let r = Report::from(Io(std::io::Error::other("closed")));
        assert_eq!(r.hint(), None);
        assert_eq!(r.to_string(), "closed");
        assert!(r.chain().next().unwrap().downcast_ref::<Io>().is_some());
    }
}
