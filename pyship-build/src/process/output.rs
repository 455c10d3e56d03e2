//! A program's output: read on threads into bounded buffers, its tail for
//! errors, secrets redacted, arguments quoted for the command line shown.

use std::io::Read;
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::time::Instant;

/// Most bytes of one output stream kept: past it the oldest part is dropped.
pub(super) const KEEP_BYTES: usize = 16 << 20;
/// The end of the output an error shows.
pub(super) const TAIL_LINES: usize = 40;
pub(super) const TAIL_BYTES: usize = 4000;

/// One output stream, read to its end on a thread.
pub(super) struct Reader {
    buf: Arc<Mutex<Kept>>,
    done: mpsc::Receiver<()>,
}

/// The bytes of a stream, at most about [`KEEP_BYTES`] of its end.
#[derive(Default)]
pub(super) struct Kept {
    bytes: Vec<u8>,
    dropped: u64,
}

pub(super) fn read_on_thread(mut r: impl Read + Send + 'static) -> Reader {
    let buf = Arc::new(Mutex::new(Kept::default()));
    let (tx, done) = mpsc::channel();
    let b = Arc::clone(&buf);
    std::thread::spawn(move || {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match r.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    let mut k = b.lock().unwrap_or_else(PoisonError::into_inner);
                    k.bytes.extend_from_slice(&chunk[..n]);
                    if k.bytes.len() > 2 * KEEP_BYTES {
                        let cut = k.bytes.len() - KEEP_BYTES;
                        k.bytes.drain(..cut);
                        k.dropped += cut as u64;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = tx.send(());
    });
    Reader { buf, done }
}

impl Reader {
    /// What was read when the stream ended, or at `deadline`.
    pub(super) fn finish(self, deadline: Instant) -> String {
        let _ = self
            .done
            .recv_timeout(deadline.saturating_duration_since(Instant::now()));
        let k = self.buf.lock().unwrap_or_else(PoisonError::into_inner);
        let text = String::from_utf8_lossy(&k.bytes).into_owned();
        if k.dropped > 0 {
            format!("[{} bytes of output left out]\n{text}", k.dropped)
        } else {
            text
        }
    }
}

/// The last [`TAIL_LINES`] non-blank lines of `text`, at most about
/// [`TAIL_BYTES`].
pub fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut kept = Vec::new();
    let mut size = 0;
    for l in lines.iter().rev().take(TAIL_LINES) {
        size += l.len() + 1;
        if size > TAIL_BYTES && !kept.is_empty() {
            break;
        }
        kept.push(if l.len() > TAIL_BYTES {
            let mut cut = l.len() - TAIL_BYTES;
            while !l.is_char_boundary(cut) {
                cut += 1;
            }
            &l[cut..]
        } else {
            l
        });
    }
    kept.reverse();
    kept.join("\n")
}

/// `text` with each secret, and the credentials of each URL in it
/// (`scheme://user:password@host`), replaced by `***`.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        out = out.replace(s.as_str(), "***");
    }
    let mut result = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        result.push_str(head);
        let end = tail
            .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace() || c == '\'')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                result.push_str("***");
                result.push_str(&authority[at..]);
            }
            None => result.push_str(authority),
        }
        rest = &tail[end..];
    }
    result.push_str(rest);
    result
}

/// `arg` as a POSIX shell reads it back: bare when it is made of safe
/// characters, else single-quoted.
pub(super) fn quote(arg: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%^\\".contains(c);
    if !arg.is_empty() && arg.chars().all(safe) {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}
