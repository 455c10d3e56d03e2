//! Terminal output: cargo-style status lines, progress bars, errors with hints.
//!
//! Status goes to stderr (stdout is kept for `--format json`). Colours follow
//! `--color`, then `CARGO_TERM_COLOR`, then `NO_COLOR`, then whether stderr is
//! a terminal.
//!
//! Every text printed here passes [`terminal_safe`] before it is styled: a
//! message can carry what a config key, a server's answer or an archive's
//! member name said, and none of that may drive the terminal.

use std::borrow::Cow;
use std::time::Duration;

use console::Style;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use pyship_build::error::needs_escape;
use pyship_build::report::{Progress, Reporter};

use crate::cli::{ColorChoice, Global};

pub struct Output {
    verbose: u8,
    quiet: bool,
    bars: MultiProgress,
}

impl Output {
    pub fn new(g: &Global) -> Self {
        let colors = match g.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => match std::env::var("CARGO_TERM_COLOR").as_deref() {
                Ok("always") => true,
                Ok("never") => false,
                _ => {
                    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                        && console::Term::stderr().features().colors_supported()
                }
            },
        };
        console::set_colors_enabled_stderr(colors);
        console::set_colors_enabled(colors);
        let bars = MultiProgress::new();
        if g.quiet || !console::Term::stderr().is_term() {
            bars.set_draw_target(ProgressDrawTarget::hidden());
        }
        Self {
            verbose: g.verbose,
            quiet: g.quiet,
            bars,
        }
    }

    pub fn verbose(&self) -> u8 {
        self.verbose
    }

    fn line(&self, s: String) {
        // Through MultiProgress so lines do not tear running bars. A closed
        // stderr (`… 2>&1 | head`) loses the line but stops nothing: the
        // build goes on, as cargo's does (eprintln! would panic mid-build).
        if self.bars.is_hidden() {
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "{s}");
        } else {
            let _ = self.bars.println(s);
        }
    }

    /// Print an error: message, causes, then one `hint:` line.
    pub fn error(&self, err: &pyship_build::error::Report) {
        let red = Style::new().red().bold();
        let cyan = Style::new().cyan().bold();
        let mut msg = format!(
            "{} {}",
            red.apply_to("error:"),
            terminal_safe(&err.to_string())
        );
        for cause in err.chain().skip(1) {
            msg.push_str(&format!(
                "\n  {} {}",
                Style::new().bold().apply_to("caused by:"),
                terminal_safe(&cause.to_string())
            ));
        }
        if let Some(h) = err.hint() {
            msg.push_str(&format!(
                "\n{} {}",
                cyan.apply_to("hint:"),
                terminal_safe(&h)
            ));
        }
        self.line(msg);
    }

    /// A plain line on stderr (summaries), shown unless `-q`.
    pub fn info(&self, s: &str) {
        if !self.quiet {
            self.line(terminal_safe(s).into_owned());
        }
    }
}

impl Reporter for Output {
    fn status(&self, verb: &str, message: &str) {
        if !self.quiet {
            let green = Style::new().green().bold();
            self.line(format!(
                "{} {}",
                green.apply_to(format!("{verb:>12}")),
                terminal_safe(message)
            ));
        }
    }

    fn warn(&self, message: &str) {
        let yellow = Style::new().yellow().bold();
        self.line(format!(
            "{} {}",
            yellow.apply_to("warning:"),
            terminal_safe(message)
        ));
    }

    fn debug(&self, message: &str) {
        if self.verbose > 0 {
            let dim = Style::new().dim();
            self.line(format!(
                "{}",
                dim.apply_to(format!("{:>12} {}", "debug", terminal_safe(message)))
            ));
        }
    }

    fn progress(&self, label: &str, total: Option<u64>, bytes: bool) -> Box<dyn Progress> {
        let bar = match total {
            Some(t) => ProgressBar::new(t),
            None => ProgressBar::new_spinner(),
        };
        let tmpl = if bytes {
            "{prefix:>12.cyan.bold} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {msg}"
        } else {
            "{prefix:>12.cyan.bold} [{bar:30}] {pos}/{len} {msg}"
        };
        bar.set_style(
            ProgressStyle::with_template(tmpl)
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix("Progress");
        bar.set_message(label.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        let bar = self.bars.add(bar);
        Box::new(Bar(bar))
    }
}

/// `s` with every character that could drive the terminal written as its
/// escape, as [`pyship_build::error::escaped`] writes it (`\r`, `\u{1b}`,
/// `\u{202e}`): what [`needs_escape`] says, but the line feeds and tabs a
/// message is laid out with. A value inside a message was escaped where the
/// message was made, so a line feed here is the message's own. Text without
/// any such character is returned as it is.
pub fn terminal_safe(s: &str) -> Cow<'_, str> {
    fn unsafe_char(c: char) -> bool {
        c != '\n' && c != '\t' && needs_escape(c)
    }
    if !s.chars().any(unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

struct Bar(ProgressBar);

impl Progress for Bar {
    fn inc(&self, n: u64) {
        self.0.inc(n);
    }
    fn set_length(&self, total: u64) {
        self.0.set_length(total);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::terminal_safe;

    #[test]
    fn text_that_could_drive_a_terminal_is_escaped() {
        assert_eq!(
            terminal_safe("key `\u{1b}]0;pwned\u{7}\u{1b}[31mx\r`"),
            "key `\\u{1b}]0;pwned\\u{7}\\u{1b}[31mx\\r`"
        );
        assert_eq!(
            terminal_safe("a\u{202e}b\u{9b}c\u{0}d\u{2028}"),
            "a\\u{202e}b\\u{9b}c\\0d\\u{2028}"
        );
        // Lines, tabs and non-ASCII letters stay as they are.
        let plain = "error: naïve\n\tcaused by: ünïcode ✓";
        assert!(matches!(
            terminal_safe(plain),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn a_value_escaped_in_the_message_is_not_escaped_again() {
        let msg = format!(
            "`{}` is not a valid version",
            pyship_build::error::escaped("v1\nerror: fake\u{1b}[31m")
        );
        assert_eq!(msg, "`v1\\nerror: fake\\u{1b}[31m` is not a valid version");
        assert_eq!(terminal_safe(&msg), msg);
    }
}
