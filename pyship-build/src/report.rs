//! Progress reporting: the only way the library talks to the user.
//!
//! A stage calls [`Reporter::status`] for cargo-style status lines
//! (`Fetching CPython 3.11.9`) and [`Reporter::progress`] for byte or item
//! counts. The binary renders these with indicatif; tests and `build.rs` use
//! [`NullReporter`] or [`RecordingReporter`].

use std::sync::Mutex;

/// A byte count as people read it: `512 B`, `1.5 KiB`, `12.3 MiB` (binary
/// units, one decimal). Every size the tool shows goes through this.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A running progress bar (bytes or items).
pub trait Progress: Send + Sync {
    fn inc(&self, n: u64);
    fn set_length(&self, total: u64);
    fn finish(&self);
}

/// Receives everything the library wants the user to see.
pub trait Reporter: Send + Sync {
    /// A status line: `verb` right-aligned (`Fetching`, `Packing`), then `message`.
    fn status(&self, verb: &str, message: &str);
    /// Something the user should know that does not stop the run.
    fn warn(&self, message: &str);
    /// Detail shown only with `-v`.
    fn debug(&self, _message: &str) {}
    /// A progress bar; `total` in bytes when `bytes`, else in items.
    fn progress(&self, label: &str, total: Option<u64>, bytes: bool) -> Box<dyn Progress>;
}

/// Discards everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullReporter;

struct NullProgress;
impl Progress for NullProgress {
    fn inc(&self, _: u64) {}
    fn set_length(&self, _: u64) {}
    fn finish(&self) {}
}

impl Reporter for NullReporter {
    fn status(&self, _: &str, _: &str) {}
    fn warn(&self, _: &str) {}
    fn progress(&self, _: &str, _: Option<u64>, _: bool) -> Box<dyn Progress> {
        Box::new(NullProgress)
    }
}

/// Keeps every line, for tests that check what a stage said.
#[derive(Debug, Default)]
pub struct RecordingReporter {
    pub lines: Mutex<Vec<String>>,
}

impl RecordingReporter {
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("reporter lock").clone()
    }
}

impl Reporter for RecordingReporter {
    fn status(&self, verb: &str, message: &str) {
        self.lines
            .lock()
            .expect("reporter lock")
            .push(format!("{verb} {message}"));
    }
    fn warn(&self, message: &str) {
        self.lines
            .lock()
            .expect("reporter lock")
            .push(format!("warning: {message}"));
    }
    fn debug(&self, message: &str) {
        self.lines
            .lock()
            .expect("reporter lock")
            .push(format!("debug: {message}"));
    }
    fn progress(&self, _: &str, _: Option<u64>, _: bool) -> Box<dyn Progress> {
        Box::new(NullProgress)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn human_sizes() {
        assert_eq!(super::human_bytes(512), "512 B");
        assert_eq!(super::human_bytes(1536), "1.5 KiB");
    }
}
