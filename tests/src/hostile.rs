//! A misbehaving HTTP server on 127.0.0.1, for the failures a real server or
//! mirror can have: it stalls after accepting, stalls in the middle of a body,
//! cuts a body short, sends an HTML page, or answers any status with a body
//! that echoes the request's headers (and so the `Authorization` token).
//! Stops when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// How the server answers every request.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Accept, read the request, never answer.
    Stall,
    /// Send headers with `Content-Length: total`, then `sent` bytes, then stall.
    StallAfter { sent: usize, total: usize },
    /// Send these bytes with no `Content-Length`, then close (a cut-off body
    /// is indistinguishable from a complete one).
    Body(Vec<u8>),
    /// Answer `status` with a body holding every request header, as JSON
    /// `{"message": "...headers..."}` and, after it, the raw headers again.
    EchoHeaders { status: u16 },
    /// Redirect (302) to the same path with the request's token in the query.
    RedirectWithToken,
}

pub struct HostileServer {
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicUsize>,
    /// Request lines seen (`GET /path`).
    pub seen: Arc<Mutex<Vec<String>>>,
    handle: Option<JoinHandle<()>>,
}

impl HostileServer {
    pub fn start(mode: Mode) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("local addr");
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (s, r, seen2) = (stop.clone(), requests.clone(), seen.clone());
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        r.fetch_add(1, Ordering::SeqCst);
                        let (mode, stop, seen) = (mode.clone(), s.clone(), seen2.clone());
                        std::thread::spawn(move || {
                            let _ = serve(stream, &mode, &stop, &seen);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self {
            addr,
            stop,
            requests,
            seen,
            handle: Some(handle),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Sleep until the server stops (a stalled connection is never answered).
fn stall(stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn serve(
    stream: TcpStream,
    mode: &Mode,
    stop: &AtomicBool,
    seen: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        headers.push(line.trim_end().to_owned());
    }
    // Drain the body so the client is not stuck writing it.
    let mut body = vec![0u8; length.min(64 << 20)];
    reader.read_exact(&mut body)?;
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_owned();
    seen.lock()
        .expect("seen")
        .push(request_line.trim_end().to_owned());
    let mut out = stream;
    match mode {
        Mode::Stall => stall(stop),
        Mode::StallAfter { sent, total } => {
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\nContent-Length: {total}\r\n\r\n"
            )?;
            out.write_all(&vec![b'P'; *sent])?;
            out.flush()?;
            stall(stop);
        }
        Mode::Body(bytes) => {
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n"
            )?;
            out.write_all(bytes)?;
        }
        Mode::EchoHeaders { status } => {
            let echoed = headers.join("\n");
            let json = serde_json::json!({
                "message": format!("bad request {request_line} with headers {echoed}"),
                "errors": [{"resource": echoed, "field": echoed, "code": echoed}],
                "url": format!("http://example.invalid/{echoed}"),
            });
            let text = format!("{json}\n{echoed}\n");
            write!(
                out,
                "HTTP/1.1 {status} Echo\r\nContent-Type: application/json\r\nContent-Length: {}\r\nX-Echo: {}\r\nConnection: close\r\n\r\n{text}",
                text.len(),
                echoed.replace(['\r', '\n'], " ")
            )?;
        }
        Mode::RedirectWithToken => {
            let token = headers
                .iter()
                .find_map(|h| {
                    h.strip_prefix("authorization: ")
                        .or_else(|| h.strip_prefix("Authorization: "))
                })
                .unwrap_or("none")
                .replace(' ', "+");
            let base = path.split('?').next().unwrap_or("/");
            write!(
                out,
                "HTTP/1.1 302 Found\r\nLocation: {base}?leak={token}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )?;
        }
    }
    out.flush()
}
