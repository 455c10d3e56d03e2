//! Terminal output: cargo-style status lines, progress bars, errors with hints.
//!
//! Status goes to stderr (stdout is kept for `--format json`). Colours follow
//! `--color`, then `CARGO_TERM_COLOR`, then `NO_COLOR`, then whether stderr is
//! a terminal.

use std::time::Duration;

use console::Style;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
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
        // Through MultiProgress so lines do not tear running bars.
        if self.bars.is_hidden() {
            eprintln!("{s}");
        } else {
            let _ = self.bars.println(s);
        }
    }

    /// Print an error: message, causes, then one `hint:` line.
    pub fn error(&self, err: &pyship_build::error::Report) {
        let red = Style::new().red().bold();
        let cyan = Style::new().cyan().bold();
        let mut msg = format!("{} {err}", red.apply_to("error:"));
        for cause in err.chain().skip(1) {
            msg.push_str(&format!(
                "\n  {} {cause}",
                Style::new().bold().apply_to("caused by:")
            ));
        }
        if let Some(h) = err.hint() {
            msg.push_str(&format!("\n{} {h}", cyan.apply_to("hint:")));
        }
        self.line(msg);
    }

    /// A plain line on stderr (summaries), shown unless `-q`.
    pub fn info(&self, s: &str) {
        if !self.quiet {
            self.line(s.to_owned());
        }
    }
}

impl Reporter for Output {
    fn status(&self, verb: &str, message: &str) {
        if !self.quiet {
            let green = Style::new().green().bold();
            self.line(format!(
                "{} {message}",
                green.apply_to(format!("{verb:>12}"))
            ));
        }
    }

    fn warn(&self, message: &str) {
        let yellow = Style::new().yellow().bold();
        self.line(format!("{} {message}", yellow.apply_to("warning:")));
    }

    fn debug(&self, message: &str) {
        if self.verbose > 0 {
            let dim = Style::new().dim();
            self.line(format!(
                "{}",
                dim.apply_to(format!("{:>12} {message}", "debug"))
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
