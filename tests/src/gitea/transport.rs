//! The test server's HTTP/1.1 plumbing on std: read one request (Content-Length
//! or chunked body), apply the queued transport faults (a status without
//! doing anything, a status after doing it, a dropped connection), hand the
//! request to [`super::routes::route`], log it and write the answer. Also the
//! codecs the routes share: query strings, multipart bodies, URL escaping,
//! Basic credentials.

use super::routes::route;
use super::state::{Fault, Logged, State, UploadKind, When};
use crate::http::{decode, percent_decode};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Mutex;
use std::time::Duration;

pub(super) struct Request {
    pub(super) method: String,
    pub(super) segments: Vec<String>,
    pub(super) path: String,
    pub(super) query: Vec<(String, String)>,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
}

impl Request {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub(super) fn q(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

pub(super) struct Response {
    pub(super) status: u16,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Option<Vec<u8>>,
}

impl Response {
    pub(super) fn json(status: u16, v: &Value) -> Self {
        Self {
            status,
            headers: vec![],
            body: Some(serde_json::to_vec(v).expect("json")),
        }
    }
    pub(super) fn empty(status: u16) -> Self {
        Self {
            status,
            headers: vec![],
            body: None,
        }
    }
}

pub(super) fn serve(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(());
    }
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let target = parts.next().unwrap_or("/").to_owned();
    let (path, raw_query) = target.split_once('?').unwrap_or((&target, ""));
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let mut req = Request {
        method: method.clone(),
        path: percent_decode(path),
        segments,
        query: parse_query(raw_query),
        headers,
        body: Vec::new(),
    };
    let len: usize = req
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let is_upload = method == "POST"
        && req.segments.len() == 8
        && (req.segments[..3] == ["api", "v1", "repos"]
            || req.segments[..3] == ["api", "uploads", "repos"])
        && req.segments[5] == "releases"
        && req.segments[7] == "assets";
    let download_of = (method == "GET"
        && req.segments.len() == 6
        && req.segments[2] == "releases"
        && req.segments[3] == "download")
        .then(|| req.segments[5].clone());
    let fault = {
        let mut st = state.lock().expect("state");
        let hit = match st.faults.front() {
            Some((When::Any, _)) => true,
            Some((When::Uploads, _)) => is_upload,
            Some((When::Download(name), _)) => download_of.as_ref() == Some(name),
            Some((When::Method(m), _)) => *m == method,
            None => false,
        };
        if hit {
            st.faults.pop_front().map(|(_, f)| f)
        } else {
            None
        }
    };
    let log = |status: u16, upload: Option<UploadKind>| {
        state.lock().expect("state").log.push(Logged {
            method: method.clone(),
            path: req_path(&target),
            query: raw_query.to_owned(),
            write: method != "GET" && method != "HEAD",
            status,
            upload,
        });
    };
    let mut out = stream;
    if let Some(Fault::Drop { after }) = fault {
        let mut buf = vec![0u8; after.min(len)];
        let _ = reader.read_exact(&mut buf);
        log(0, None);
        let _ = out.shutdown(Shutdown::Both);
        return Ok(());
    }
    // The body: Content-Length, or chunked.
    if req
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        req.body = read_chunked(&mut reader)?;
    } else {
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body)?;
        req.body = body;
    }
    let app_url = state.lock().expect("state").app_url.clone();
    if let Some(Fault::Status {
        status,
        retry_after,
        ..
    }) = &fault
    {
        let mut r = Response::json(
            *status,
            &json!({"message": "", "url": format!("{app_url}api/swagger")}),
        );
        if let Some(s) = retry_after {
            r.headers.push(("Retry-After".into(), s.to_string()));
        }
        log(*status, None);
        return write_response(&mut out, r);
    }
    if let Some(Fault::Raw {
        status,
        content_type,
        body,
    }) = &fault
    {
        let echoed = body.replace("{authorization}", req.header("authorization").unwrap_or(""));
        let r = Response {
            status: *status,
            headers: vec![("Content-Type".into(), (*content_type).into())],
            body: Some(echoed.into_bytes()),
        };
        log(*status, None);
        return write_response(&mut out, r);
    }
    let (mut resp, upload) = {
        let mut st = state.lock().expect("state");
        route(&mut st, &req)
    };
    if let Some(Fault::Truncate { after }) = fault {
        log(0, upload);
        let mut r = resp;
        let body = r.body.take().unwrap_or_default();
        r.headers
            .push(("Content-Length".into(), body.len().to_string()));
        let mut head = format!("HTTP/1.1 {} {}\r\n", r.status, reason(r.status));
        for (k, v) in &r.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("Connection: close\r\n\r\n");
        let _ = out.write_all(head.as_bytes());
        let _ = out.write_all(&body[..after.min(body.len())]);
        let _ = out.flush();
        let _ = out.shutdown(Shutdown::Both);
        return Ok(());
    }
    if let Some(Fault::StatusAfterStore { status }) = fault {
        resp = Response::json(
            status,
            &json!({"message": "", "url": format!("{app_url}api/swagger")}),
        );
    }
    log(resp.status, upload);
    write_response(&mut out, resp)
}

pub(super) fn req_path(target: &str) -> String {
    percent_decode(target.split('?').next().unwrap_or(target))
}

pub(super) fn read_chunked(r: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        r.read_line(&mut size)?;
        let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        let mut chunk = vec![0u8; n + 2];
        if n == 0 {
            let mut end = String::new();
            r.read_line(&mut end)?;
            return Ok(body);
        }
        r.read_exact(&mut chunk)?;
        body.extend_from_slice(&chunk[..n]);
    }
}

pub(super) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        413 => "Request Entity Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

pub(super) fn write_response(out: &mut TcpStream, r: Response) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", r.status, reason(r.status));
    for (k, v) in &r.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = r.body.unwrap_or_default();
    let typed = r
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    if r.status != 204 {
        if !typed {
            head.push_str("Content-Type: application/json;charset=utf-8\r\n");
        }
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    out.write_all(head.as_bytes())?;
    out.write_all(&body)?;
    out.flush()
}

pub(super) fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k, true), decode(v, true))
        })
        .collect()
}

pub(super) fn encode_component(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

/// Go's `url.PathEscape`-like escaping for one segment.
pub(super) fn path_escape(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~$&+,:;=@!'()*".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

pub(super) fn base64_decode(s: &str) -> Option<String> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.trim_end_matches('=').bytes() {
        let v = A.iter().position(|&x| x == c)? as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    String::from_utf8(out).ok()
}

pub(super) struct Part {
    pub(super) name: String,
    pub(super) filename: Option<String>,
    pub(super) data: Vec<u8>,
}

pub(super) fn parse_multipart(body: &[u8], boundary: &str) -> Vec<Part> {
    let delim = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut pos = match find(body, &delim, 0) {
        Some(p) => p + delim.len(),
        None => return parts,
    };
    loop {
        if body[pos..].starts_with(b"--") {
            break;
        }
        pos += 2; // CRLF after the delimiter
        let Some(hend) = find(body, b"\r\n\r\n", pos) else {
            break;
        };
        let head = String::from_utf8_lossy(&body[pos..hend]).into_owned();
        let start = hend + 4;
        let mut end_delim = b"\r\n".to_vec();
        end_delim.extend_from_slice(&delim);
        let Some(end) = find(body, &end_delim, start) else {
            break;
        };
        let mut name = String::new();
        let mut filename = None;
        for line in head.split("\r\n") {
            if line
                .to_ascii_lowercase()
                .starts_with("content-disposition:")
            {
                for p in line.split(';').skip(1) {
                    if let Some((k, v)) = p.trim().split_once('=') {
                        let v = v.trim_matches('"').to_owned();
                        match k {
                            "name" => name = v,
                            "filename" => filename = Some(v),
                            _ => {}
                        }
                    }
                }
            }
        }
        parts.push(Part {
            name,
            filename,
            data: body[start..end].to_vec(),
        });
        pos = end + end_delim.len();
    }
    parts
}

pub(super) fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}
