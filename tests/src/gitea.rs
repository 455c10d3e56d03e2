//! A Gitea-compatible test server (HTTP/1.1 on std, 127.0.0.1 only), written
//! from `reference/gitea-api.md`: releases and their assets, auth and scopes
//! with Gitea's status codes and messages, tag-only rows converted in place,
//! drafts, pagination headers, asset lists sorted by name with duplicates
//! allowed, raw and multipart uploads, 413 over a size limit, and the package
//! link API. Fault injection (fail the next N requests, drop a connection in
//! the middle of an upload) and a request log let tests prove convergence and
//! the absence of writes. The server stops when dropped.

use crate::http::{decode, percent_decode};
use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value};

/// A token with every scope a publish needs, owned by `alice`.
pub const WRITE_TOKEN: &str = "0123456789abcdef0123456789abcdef01234567";
/// A `read:repository` token of `alice`.
pub const READ_TOKEN: &str = "fedcba9876543210fedcba9876543210fedcba98";
/// The repository that exists from the start: `alice/hello`.
pub const REPO: &str = "alice/hello";

/// How an asset arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadKind {
    Raw,
    Multipart,
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    /// Decoded path, without the query.
    pub path: String,
    pub query: String,
    /// Anything but GET/HEAD.
    pub write: bool,
    /// The status sent; 0 when the connection was dropped.
    pub status: u16,
    pub upload: Option<UploadKind>,
}

/// Which requests a fault applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum When {
    Any,
    /// `POST …/releases/{id}/assets`.
    Uploads,
    /// Requests of this method (`"POST"`, `"PATCH"`, …).
    Method(&'static str),
    /// Downloads of the asset of this name (`GET /{owner}/{repo}/releases/download/{tag}/{name}`).
    Download(String),
}

/// An injected failure, consumed by the next matching request. Faults are
/// taken in order: one waiting for an upload holds back those behind it.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer `status` without doing anything (`retry_after` in seconds).
    Status {
        status: u16,
        retry_after: Option<u64>,
    },
    /// Do the request (store the upload, create the release), then answer
    /// `status`: the answer "got lost".
    StatusAfterStore { status: u16 },
    /// Read `after` bytes of the body, then close the connection.
    Drop { after: usize },
    /// Answer with the full `Content-Length` but only `after` bytes of the
    /// body, then close the connection (a download cut off midway).
    Truncate { after: usize },
}

#[derive(Debug, Clone)]
pub struct AssetRow {
    pub id: u64,
    pub uuid: String,
    pub name: String,
    pub size: u64,
    pub data: Vec<u8>,
    pub created_unix: i64,
}

#[derive(Debug, Clone)]
pub struct ReleaseRow {
    pub id: u64,
    /// `owner/name` as created.
    pub repo: String,
    pub tag: String,
    pub is_tag: bool,
    pub name: String,
    pub body: String,
    pub draft: bool,
    pub prerelease: bool,
    pub target: String,
    pub created_unix: i64,
    pub publisher: String,
    pub assets: Vec<AssetRow>,
}

#[derive(Debug, Clone)]
struct TokenInfo {
    user: String,
    scopes: Vec<String>,
}

#[derive(Debug, Clone)]
struct Repo {
    owner: String,
    name: String,
    writers: Vec<String>,
}

#[derive(Debug, Clone)]
struct Package {
    owner: String,
    kind: String,
    name: String,
    repo: Option<String>,
}

struct State {
    app_url: String,
    version: String,
    next_id: u64,
    next_asset_id: u64,
    clock: i64,
    users: Vec<String>,
    tokens: BTreeMap<String, TokenInfo>,
    repos: Vec<Repo>,
    releases: Vec<ReleaseRow>,
    packages: Vec<Package>,
    faults: VecDeque<(When, Fault)>,
    log: Vec<Logged>,
    max_size: Option<u64>,
    /// Speak GitHub's REST dialect instead (see [`GiteaServer::start_github`]).
    github: bool,
}

pub struct GiteaServer {
    addr: std::net::SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl GiteaServer {
    /// A server with user `alice`, repository `alice/hello`, [`WRITE_TOKEN`]
    /// (`write:repository,write:package`) and [`READ_TOKEN`] (`read:repository`).
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(State {
            app_url: format!("http://{addr}/"),
            version: "1.25.4".into(),
            next_id: 1,
            next_asset_id: 1,
            clock: 1_700_000_000,
            users: vec!["alice".into()],
            tokens: BTreeMap::new(),
            repos: Vec::new(),
            releases: Vec::new(),
            packages: Vec::new(),
            faults: VecDeque::new(),
            log: Vec::new(),
            max_size: None,
            github: false,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (stop.clone(), state.clone());
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let st = st.clone();
                        std::thread::spawn(move || {
                            let _ = serve(stream, &st);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        let srv = Self {
            addr,
            state,
            stop,
            handle: Some(handle),
        };
        srv.add_repo(REPO);
        srv.add_token(WRITE_TOKEN, "alice", &["write:repository", "write:package"]);
        srv.add_token(READ_TOKEN, "alice", &["read:repository"]);
        srv
    }

    /// The same server speaking GitHub's REST dialect, as GitHub Enterprise
    /// lays it out: API under `/api/v3`, uploads under `/api/uploads`, 422
    /// `already_exists` for an existing release or asset name, paginated asset
    /// lists, `DELETE /releases/assets/{id}`, `Bad credentials` on 401.
    pub fn start_github() -> Self {
        let srv = Self::start();
        srv.state().github = true;
        srv
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("server state")
    }

    /// The version `GET /api/v1/version` reports; below 1.22 raw uploads fail.
    pub fn set_version(&self, v: &str) {
        self.state().version = v.into();
    }

    /// Uploads larger than `bytes` answer 413.
    pub fn set_max_size(&self, bytes: u64) {
        self.state().max_size = Some(bytes);
    }

    /// A personal access token (40 lowercase hex characters, as Gitea's).
    pub fn add_token(&self, token: &str, user: &str, scopes: &[&str]) {
        assert!(
            is_pat(token),
            "Gitea tokens are 40 lowercase hex characters"
        );
        let mut st = self.state();
        if !st.users.iter().any(|u| u == user) {
            st.users.push(user.into());
        }
        st.tokens.insert(
            token.into(),
            TokenInfo {
                user: user.into(),
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
            },
        );
    }

    /// A repository `owner/name`; its owner can write.
    pub fn add_repo(&self, full: &str) {
        let (owner, name) = full.split_once('/').expect("owner/name");
        let mut st = self.state();
        if !st.users.iter().any(|u| u == owner) {
            st.users.push(owner.into());
        }
        st.repos.push(Repo {
            owner: owner.into(),
            name: name.into(),
            writers: vec![owner.into()],
        });
    }

    /// A pushed tag without a release (an `is_tag` row); returns its id.
    pub fn add_tag(&self, repo: &str, tag: &str) -> u64 {
        self.insert_row(repo, tag, true, false, false)
    }

    /// A release; returns its id.
    pub fn add_release(&self, repo: &str, tag: &str, draft: bool, prerelease: bool) -> u64 {
        self.insert_row(repo, tag, false, draft, prerelease)
    }

    fn insert_row(&self, repo: &str, tag: &str, is_tag: bool, draft: bool, pre: bool) -> u64 {
        let mut st = self.state();
        let id = st.next_id;
        st.next_id += 1;
        st.clock += 1;
        let created_unix = st.clock;
        st.releases.push(ReleaseRow {
            id,
            repo: repo.into(),
            tag: tag.into(),
            is_tag,
            name: if is_tag { String::new() } else { tag.into() },
            body: String::new(),
            draft,
            prerelease: pre,
            target: "main".into(),
            created_unix,
            publisher: "alice".into(),
            assets: Vec::new(),
        });
        id
    }

    /// An asset on release `release_id` (duplicates allowed, as in Gitea).
    pub fn add_asset(&self, release_id: u64, name: &str, data: &[u8]) -> u64 {
        let mut st = self.state();
        store_asset(&mut st, release_id, name, data.to_vec())
    }

    /// The release row of `tag` in `repo` (tag-only rows too), case-insensitive.
    pub fn release(&self, repo: &str, tag: &str) -> Option<ReleaseRow> {
        let st = self.state();
        st.releases
            .iter()
            .find(|r| r.repo.eq_ignore_ascii_case(repo) && r.tag.eq_ignore_ascii_case(tag))
            .cloned()
    }

    /// Every release row.
    pub fn releases(&self) -> Vec<ReleaseRow> {
        self.state().releases.clone()
    }

    /// A package that can be linked to a repository.
    pub fn add_package(&self, owner: &str, kind: &str, name: &str) {
        self.state().packages.push(Package {
            owner: owner.into(),
            kind: kind.into(),
            name: name.into(),
            repo: None,
        });
    }

    /// The repository a package is linked to.
    pub fn package_link(&self, owner: &str, kind: &str, name: &str) -> Option<String> {
        self.state()
            .packages
            .iter()
            .find(|p| p.owner == owner && p.kind == kind && p.name == name)
            .and_then(|p| p.repo.clone())
    }

    /// Fail the next `n` requests (of any kind) with `status`.
    pub fn fail_next(&self, n: usize, status: u16) {
        self.inject(
            n,
            When::Any,
            Fault::Status {
                status,
                retry_after: None,
            },
        );
    }

    /// Fail the next `n` requests with 429 and `Retry-After: secs`.
    pub fn throttle_next(&self, n: usize, secs: u64) {
        self.inject(
            n,
            When::Any,
            Fault::Status {
                status: 429,
                retry_after: Some(secs),
            },
        );
    }

    /// Fail the next `n` uploads with `status` (other requests pass).
    pub fn fail_uploads(&self, n: usize, status: u16) {
        self.inject(
            n,
            When::Uploads,
            Fault::Status {
                status,
                retry_after: None,
            },
        );
    }

    /// Store the next `n` uploads but answer `status` (a lost answer).
    pub fn fail_uploads_after_store(&self, n: usize, status: u16) {
        self.inject(n, When::Uploads, Fault::StatusAfterStore { status });
    }

    /// Close the connection of the next upload after `after` body bytes.
    pub fn drop_next_upload(&self, after: usize) {
        self.inject(1, When::Uploads, Fault::Drop { after });
    }

    /// Cut the next download of asset `name` off after `after` bytes of its body.
    pub fn truncate_next_download(&self, name: &str, after: usize) {
        self.inject(
            1,
            When::Download(name.to_owned()),
            Fault::Truncate { after },
        );
    }

    /// Delete every release (and tag row) of `repo`, assets included.
    pub fn clear_releases(&self, repo: &str) {
        self.state().releases.retain(|r| r.repo != repo);
    }

    /// Queue `n` copies of `fault` for requests matching `when`.
    pub fn inject(&self, n: usize, when: When, fault: Fault) {
        let mut st = self.state();
        for _ in 0..n {
            st.faults.push_back((when.clone(), fault.clone()));
        }
    }

    /// Faults not consumed yet.
    pub fn pending_faults(&self) -> usize {
        self.state().faults.len()
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Logged> {
        self.state().log.clone()
    }

    /// The requests that were not GET/HEAD.
    pub fn writes(&self) -> Vec<Logged> {
        self.requests().into_iter().filter(|l| l.write).collect()
    }

    /// Send one raw HTTP/1.1 request (for tests of the server itself):
    /// `headers` as `("Name", "value")`. Returns status, headers, body.
    pub fn raw_request(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let mut s = TcpStream::connect(self.addr).expect("connect to the test server");
        let mut head = format!(
            "{method} {path_and_query} HTTP/1.1\r\nHost: {}\r\n",
            self.addr
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        ));
        s.write_all(head.as_bytes()).expect("send head");
        s.write_all(body).expect("send body");
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).expect("read answer");
        let split = find(&raw, b"\r\n\r\n", 0).expect("complete head");
        let text = String::from_utf8_lossy(&raw[..split]).into_owned();
        let mut lines = text.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|c| c.parse().ok())
            .expect("status line");
        let hdrs = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        (status, hdrs, raw[split + 4..].to_vec())
    }

    /// Forget the request log.
    pub fn clear_log(&self) {
        self.state().log.clear();
    }
}

impl Drop for GiteaServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn is_pat(t: &str) -> bool {
    t.len() == 40
        && t.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn store_asset(st: &mut State, release_id: u64, name: &str, data: Vec<u8>) -> u64 {
    let id = st.next_asset_id;
    st.next_asset_id += 1;
    st.clock += 1;
    let created_unix = st.clock;
    let uuid = fake_uuid(id);
    let row = st
        .releases
        .iter_mut()
        .find(|r| r.id == release_id)
        .expect("release exists");
    row.assets.push(AssetRow {
        id,
        uuid,
        name: name.into(),
        size: data.len() as u64,
        data,
        created_unix,
    });
    id
}

fn fake_uuid(n: u64) -> String {
    format!(
        "{:08x}-0000-4000-8000-{:012x}",
        n,
        n.wrapping_mul(0x9e37_79b9)
    )
}

// ---------------------------------------------------------------- HTTP layer

struct Request {
    method: String,
    segments: Vec<String>,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn q(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl Response {
    fn json(status: u16, v: &Value) -> Self {
        Self {
            status,
            headers: vec![],
            body: Some(serde_json::to_vec(v).expect("json")),
        }
    }
    fn empty(status: u16) -> Self {
        Self {
            status,
            headers: vec![],
            body: None,
        }
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
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
        r.headers.push(("X-Truncated".into(), "1".into()));
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

fn req_path(target: &str) -> String {
    percent_decode(target.split('?').next().unwrap_or(target))
}

fn read_chunked(r: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
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

fn reason(status: u16) -> &'static str {
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

fn write_response(out: &mut TcpStream, r: Response) -> std::io::Result<()> {
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

fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k, true), decode(v, true))
        })
        .collect()
}

fn encode_component(s: &str) -> String {
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
fn path_escape(s: &str) -> String {
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

// ---------------------------------------------------------------- API layer

enum Auth {
    Anonymous,
    Token(TokenInfo),
    Invalid,
}

fn authenticate(st: &State, req: &Request) -> (Auth, bool) {
    let lookup = |t: &str| match st.tokens.get(t) {
        Some(info) if is_pat(t) => Auth::Token(info.clone()),
        _ => Auth::Invalid,
    };
    // Query tokens are checked before the header (and are deprecated).
    if let Some(t) = req.q("token").or_else(|| req.q("access_token")) {
        return (lookup(t), true);
    }
    let Some(h) = req.header("authorization") else {
        return (Auth::Anonymous, false);
    };
    let fields: Vec<&str> = h.split_whitespace().collect();
    match fields.as_slice() {
        [scheme, t]
            if scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer") =>
        {
            (lookup(t), false)
        }
        [scheme, b] if scheme.eq_ignore_ascii_case("basic") => {
            let Some(decoded) = base64_decode(b) else {
                return (Auth::Invalid, false);
            };
            let (user, pass) = decoded.split_once(':').unwrap_or((&decoded, ""));
            if pass.is_empty() || pass == "x-oauth-basic" {
                (lookup(user), false)
            } else {
                (lookup(pass), false)
            }
        }
        _ => (Auth::Invalid, false),
    }
}

fn base64_decode(s: &str) -> Option<String> {
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

fn has_scope(info: &TokenInfo, want: &str) -> bool {
    let (level, cat) = want.split_once(':').expect("scope form");
    info.scopes.iter().any(|s| {
        s == "all" || s == want || (level == "read" && s.strip_prefix("write:") == Some(cat))
    })
}

fn err(st: &State, status: u16, message: &str) -> Response {
    Response::json(
        status,
        &json!({"message": message, "url": format!("{}api/swagger", st.app_url)}),
    )
}

/// `APIErrorNotFound`: `{"errors":null,"message":"not found","url":…}`.
fn not_found(st: &State) -> Response {
    Response::json(
        404,
        &json!({"errors": null, "message": "not found", "url": format!("{}api/swagger", st.app_url)}),
    )
}

fn route(st: &mut State, req: &Request) -> (Response, Option<UploadKind>) {
    let seg: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let (auth, query_auth) = authenticate(st, req);
    if st.github {
        return github::route(st, req, &auth, &seg);
    }
    let mut resp = match seg.as_slice() {
        ["api", "v1", "version"] => Response::json(200, &json!({"version": st.version})),
        ["api", "v1", "repos", owner, repo, rest @ ..] => {
            return with_warning(repo_route(st, req, &auth, owner, repo, rest), query_auth)
        }
        ["api", "v1", "packages", owner, kind, name, "-", rest @ ..] => {
            package_route(st, req, &auth, owner, kind, name, rest)
        }
        [owner, repo, "releases", "download", tag, name] if req.method == "GET" => download(
            st,
            |r| r.repo.eq_ignore_ascii_case(&format!("{owner}/{repo}")) && r.tag == *tag,
            |a| a.name == *name,
        ),
        ["attachments", uuid] if req.method == "GET" => download(st, |_| true, |a| a.uuid == *uuid),
        _ => not_found(st),
    };
    if query_auth {
        add_warning(&mut resp);
    }
    (resp, None)
}

/// The web download of an asset (`/{owner}/{repo}/releases/download/{tag}/{name}`
/// or `/attachments/{uuid}`): its bytes, as `application/octet-stream`. Drafts
/// and tag rows have no downloads; with duplicate names the first row wins.
fn download(
    st: &State,
    release: impl Fn(&ReleaseRow) -> bool,
    asset: impl Fn(&AssetRow) -> bool,
) -> Response {
    let found = st
        .releases
        .iter()
        .filter(|r| !r.draft && !r.is_tag && release(r))
        .find_map(|r| r.assets.iter().find(|a| asset(a)));
    match found {
        Some(a) => Response {
            status: 200,
            headers: vec![("Content-Type".into(), "application/octet-stream".into())],
            body: Some(a.data.clone()),
        },
        None => not_found(st),
    }
}

fn with_warning(
    (mut r, u): (Response, Option<UploadKind>),
    query_auth: bool,
) -> (Response, Option<UploadKind>) {
    if query_auth {
        add_warning(&mut r);
    }
    (r, u)
}

fn add_warning(r: &mut Response) {
    r.headers.push((
        "X-Gitea-Warning".into(),
        "token and access_token API authentication is deprecated and will be removed in gitea 1.23. Please use AuthorizationHeaderToken instead. Existing queries will continue to work but without authorization.".into(),
    ));
}

fn repo_route(
    st: &mut State,
    req: &Request,
    auth: &Auth,
    owner: &str,
    repo: &str,
    rest: &[&str],
) -> (Response, Option<UploadKind>) {
    let write = req.method != "GET" && req.method != "HEAD";
    // apiAuth: credentials present but unknown.
    if matches!(auth, Auth::Invalid) {
        return (err(st, 401, "invalid username, password or token"), None);
    }
    // tokenRequiresScopes(repository), before the repository lookup.
    if let Auth::Token(info) = auth {
        let want = if write {
            "write:repository"
        } else {
            "read:repository"
        };
        if !has_scope(info, want) {
            let msg = format!(
                "token does not have at least one of required scope(s), required=[{want}], token scope={}",
                info.scopes.join(",")
            );
            return (err(st, 403, &msg), None);
        }
    }
    let Some(r) = st
        .repos
        .iter()
        .find(|r| r.owner.eq_ignore_ascii_case(owner) && r.name.eq_ignore_ascii_case(repo))
        .cloned()
    else {
        return (not_found(st), None);
    };
    let full = format!("{}/{}", r.owner, r.name);
    let user = match auth {
        Auth::Token(i) => Some(i.user.clone()),
        _ => None,
    };
    let can_write = user.as_ref().is_some_and(|u| r.writers.contains(u));
    // Drafts: write access and, for tokens, the write:repository scope (G).
    let drafts = can_write
        && match auth {
            Auth::Token(i) => has_scope(i, "write:repository"),
            _ => false,
        };
    if write {
        if user.is_none() {
            return (err(st, 401, "token is required"), None);
        }
        if !can_write {
            return (
                err(st, 403, "user should have a permission to write to a repo"),
                None,
            );
        }
    }
    let m = req.method.as_str();
    let parse_id = |s: &str| s.parse::<u64>().unwrap_or(0);
    match (m, rest) {
        ("GET", ["releases"]) => (list_releases(st, req, &full, drafts), None),
        ("POST", ["releases"]) => (
            create_release(st, req, &full, user.as_deref().unwrap_or("")),
            None,
        ),
        ("GET", ["releases", "latest"]) => {
            let mut rows: Vec<&ReleaseRow> = st
                .releases
                .iter()
                .filter(|x| x.repo == full && !x.is_tag && !x.draft && !x.prerelease)
                .collect();
            rows.sort_by_key(|x| std::cmp::Reverse((x.created_unix, x.id)));
            match rows.first() {
                Some(x) => (Response::json(200, &release_json(st, x)), None),
                None => (not_found(st), None),
            }
        }
        ("GET", ["releases", "tags", tag]) => {
            match st
                .releases
                .iter()
                .find(|x| x.repo == full && x.tag.eq_ignore_ascii_case(tag))
            {
                Some(x) if !x.is_tag && (!x.draft || can_write) => {
                    (Response::json(200, &release_json(st, x)), None)
                }
                _ => (not_found(st), None),
            }
        }
        ("DELETE", ["releases", "tags", tag]) => {
            match st
                .releases
                .iter()
                .position(|x| x.repo == full && x.tag.eq_ignore_ascii_case(tag) && !x.is_tag)
            {
                Some(i) => {
                    let x = &mut st.releases[i];
                    x.is_tag = true;
                    x.assets.clear();
                    (Response::empty(204), None)
                }
                None => (not_found(st), None),
            }
        }
        (_, ["releases", id, tail @ ..]) => {
            let id = parse_id(id);
            let Some(i) = st
                .releases
                .iter()
                .position(|x| x.id == id && x.repo == full && !x.is_tag && (!x.draft || drafts))
            else {
                return (not_found(st), None);
            };
            release_item(st, req, i, tail)
        }
        _ => (not_found(st), None),
    }
}

fn release_item(
    st: &mut State,
    req: &Request,
    i: usize,
    tail: &[&str],
) -> (Response, Option<UploadKind>) {
    let m = req.method.as_str();
    match (m, tail) {
        ("GET", []) => (
            Response::json(200, &release_json(st, &st.releases[i])),
            None,
        ),
        ("PATCH", []) => {
            let Some(v) = json_body(req) else {
                return (err(st, 422, "[Body]: invalid JSON"), None);
            };
            let x = &mut st.releases[i];
            // Strings only when non-empty; bools only when present.
            for (key, field) in [
                ("tag_name", &mut x.tag),
                ("target_commitish", &mut x.target),
                ("name", &mut x.name),
                ("body", &mut x.body),
            ] {
                if let Some(s) = v[key].as_str().filter(|s| !s.is_empty()) {
                    *field = s.to_owned();
                }
            }
            if let Some(b) = v["draft"].as_bool() {
                x.draft = b;
            }
            if let Some(b) = v["prerelease"].as_bool() {
                x.prerelease = b;
            }
            (
                Response::json(200, &release_json(st, &st.releases[i])),
                None,
            )
        }
        ("DELETE", []) => {
            let x = &mut st.releases[i];
            x.is_tag = true;
            x.assets.clear();
            (Response::empty(204), None)
        }
        ("GET", ["assets"]) => {
            let v = release_json(st, &st.releases[i]);
            (Response::json(200, &v["assets"]), None)
        }
        ("POST", ["assets"]) => upload(st, req, i),
        (_, ["assets", aid]) => {
            let aid = aid.parse::<u64>().unwrap_or(0);
            let Some(j) = st.releases[i].assets.iter().position(|a| a.id == aid) else {
                return (not_found(st), None);
            };
            match m {
                "GET" => (
                    Response::json(
                        200,
                        &asset_json(st, &st.releases[i], &st.releases[i].assets[j], false),
                    ),
                    None,
                ),
                "PATCH" => {
                    if let Some(n) = json_body(req)
                        .and_then(|v| v["name"].as_str().map(str::to_owned))
                        .filter(|n| !n.is_empty())
                    {
                        st.releases[i].assets[j].name = n;
                    }
                    (
                        Response::json(
                            201,
                            &asset_json(st, &st.releases[i], &st.releases[i].assets[j], false),
                        ),
                        None,
                    )
                }
                "DELETE" => {
                    st.releases[i].assets.remove(j);
                    (Response::empty(204), None)
                }
                _ => (not_found(st), None),
            }
        }
        _ => (not_found(st), None),
    }
}

fn json_body(req: &Request) -> Option<Value> {
    serde_json::from_slice(&req.body).ok()
}

fn upload(st: &mut State, req: &Request, i: usize) -> (Response, Option<UploadKind>) {
    let ctype = req
        .header("content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    let old_server = !gitea_at_least(&st.version, 1, 22);
    let (kind, mut name, data) = if ctype.contains("multipart/form-data") {
        let raw_ct = req.header("content-type").unwrap_or("");
        let Some(idx) = ctype.find("boundary=") else {
            return (err(st, 500, ""), None);
        };
        // ASCII lowercasing keeps byte offsets: the boundary in its sent case.
        let b = raw_ct[idx + 9..]
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches('"')
            .to_owned();
        let parts = parse_multipart(&req.body, &b);
        let Some(file) = parts
            .iter()
            .find(|p| p.name == "attachment" && p.filename.is_some())
        else {
            // FormFile("attachment") fails: a 500 with a blank message.
            return (err(st, 500, ""), None);
        };
        let field_name = parts
            .iter()
            .find(|p| p.name == "name" && p.filename.is_none())
            .map(|p| String::from_utf8_lossy(&p.data).into_owned());
        let name = req
            .q("name")
            .map(str::to_owned)
            .filter(|n| !n.is_empty())
            .or(field_name.filter(|n| !n.is_empty()))
            .unwrap_or_else(|| file.filename.clone().unwrap_or_default());
        (UploadKind::Multipart, name, file.data.clone())
    } else {
        if old_server {
            // Before 1.22 only multipart existed: FormFile fails.
            return (err(st, 500, ""), None);
        }
        (
            UploadKind::Raw,
            req.q("name").unwrap_or("").to_owned(),
            req.body.clone(),
        )
    };
    name = name.trim().to_owned();
    if name.is_empty() {
        return (
            err(st, 400, "Could not determine name of attachment."),
            Some(kind),
        );
    }
    if let Some(max) = st.max_size {
        if data.len() as u64 > max {
            return (
                err(st, 413, &format!("attachment exceeds limit {max}")),
                Some(kind),
            );
        }
    }
    let rid = st.releases[i].id;
    let aid = store_asset(st, rid, &name, data);
    let row = &st.releases[i];
    let a = row.assets.iter().find(|a| a.id == aid).expect("stored");
    (
        Response::json(201, &asset_json(st, row, a, false)),
        Some(kind),
    )
}

struct Part {
    name: String,
    filename: Option<String>,
    data: Vec<u8>,
}

fn parse_multipart(body: &[u8], boundary: &str) -> Vec<Part> {
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

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn gitea_at_least(version: &str, major: u64, minor: u64) -> bool {
    let v = version.split_once("+gitea-").map_or(version, |(_, g)| g);
    let mut it = v
        .trim_start_matches('v')
        .split(|c: char| !c.is_ascii_digit());
    let ma: u64 = it.next().and_then(|s| s.parse().ok()).unwrap_or(u64::MAX);
    let mi: u64 = it.next().and_then(|s| s.parse().ok()).unwrap_or(u64::MAX);
    (ma, mi) >= (major, minor)
}

fn create_release(st: &mut State, req: &Request, full: &str, user: &str) -> Response {
    let ctype = req.header("content-type").unwrap_or("");
    if ctype.is_empty() {
        return err(st, 422, "Empty Content-Type");
    }
    let v: Value = json_body(req).unwrap_or(Value::Null);
    let tag = v["tag_name"].as_str().unwrap_or("").to_owned();
    if tag.is_empty() {
        return err(st, 422, "[TagName]: Required");
    }
    let s = |k: &str| v[k].as_str().unwrap_or("").to_owned();
    let b = |k: &str| v[k].as_bool().unwrap_or(false);
    if let Some(i) = st
        .releases
        .iter()
        .position(|x| x.repo == full && x.tag.eq_ignore_ascii_case(&tag))
    {
        if !st.releases[i].is_tag {
            return err(st, 409, "Release is has no Tag");
        }
        // A tag without a release: converted in place, same id, tag's time.
        let x = &mut st.releases[i];
        x.is_tag = false;
        x.name = s("name");
        x.body = s("body");
        x.draft = b("draft");
        x.prerelease = b("prerelease");
        x.target = s("target_commitish");
        x.publisher = user.into();
        return Response::json(201, &release_json(st, &st.releases[i]));
    }
    let mut target = s("target_commitish");
    if target.is_empty() {
        target = "main".into();
    }
    let draft = b("draft");
    if !draft {
        let known = target == "main"
            || (target.len() >= 7 && target.bytes().all(|c| c.is_ascii_hexdigit()))
            || st
                .releases
                .iter()
                .any(|x| x.repo == full && x.tag == target);
        if !known {
            return err(
                st,
                404,
                &format!("target \"{target}\" not found: object does not exist [id: {target}, rel_path: ]"),
            );
        }
    }
    let id = st.next_id;
    st.next_id += 1;
    st.clock += 1;
    let created_unix = st.clock;
    st.releases.push(ReleaseRow {
        id,
        repo: full.into(),
        tag,
        is_tag: false,
        name: s("name"),
        body: s("body"),
        draft,
        prerelease: b("prerelease"),
        target,
        created_unix,
        publisher: user.into(),
        assets: Vec::new(),
    });
    let row = st.releases.last().expect("pushed");
    Response::json(201, &release_json(st, row))
}

/// Go's `strconv.ParseBool`, or "on"; any other non-empty value is false.
fn form_bool(v: &str) -> bool {
    matches!(v, "1" | "t" | "T" | "TRUE" | "true" | "True" | "on")
}

fn list_releases(st: &State, req: &Request, full: &str, drafts: bool) -> Response {
    let mut rows: Vec<&ReleaseRow> = st
        .releases
        .iter()
        .filter(|x| x.repo == full && !x.is_tag && (drafts || !x.draft))
        .filter(|x| {
            req.q("draft")
                .filter(|v| !v.is_empty())
                .is_none_or(|v| x.draft == form_bool(v))
        })
        .filter(|x| {
            req.q("pre-release")
                .filter(|v| !v.is_empty())
                .is_none_or(|v| x.prerelease == form_bool(v))
        })
        .collect();
    rows.sort_by_key(|x| std::cmp::Reverse((x.created_unix, x.id)));
    let page = req
        .q("page")
        .and_then(|p| p.parse::<i64>().ok())
        .filter(|p| *p > 0)
        .unwrap_or(1) as usize;
    let limit = match req.q("limit").and_then(|p| p.parse::<i64>().ok()) {
        Some(l) if l > 0 => (l as usize).min(50),
        _ => 30,
    };
    let total = rows.len();
    let body: Vec<Value> = rows
        .iter()
        .skip((page - 1) * limit)
        .take(limit)
        .map(|x| release_json(st, x))
        .collect();
    let mut r = Response::json(200, &Value::Array(body));
    r.headers.push(("X-Total-Count".into(), total.to_string()));
    let last = total.div_ceil(limit);
    let cur = page.min(last);
    let link = |p: usize, rel: &str| {
        let mut q: Vec<(String, String)> = req
            .query
            .iter()
            .filter(|(k, _)| k != "page")
            .cloned()
            .collect();
        q.push(("page".into(), p.to_string()));
        q.sort();
        let qs: Vec<String> = q
            .iter()
            .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
            .collect();
        format!(
            "<{}{}?{}>; rel=\"{rel}\"",
            st.app_url,
            req.path.trim_start_matches('/'),
            qs.join("&")
        )
    };
    let mut links = Vec::new();
    if cur < last {
        links.push(link(cur + 1, "next"));
        links.push(link(last, "last"));
    }
    if cur > 1 {
        links.push(link(1, "first"));
        links.push(link(cur - 1, "prev"));
    }
    let mut expose = vec!["X-Total-Count"];
    if !links.is_empty() {
        r.headers.push(("Link".into(), links.join(",")));
        expose.insert(0, "Link");
    }
    r.headers
        .push(("Access-Control-Expose-Headers".into(), expose.join(", ")));
    r
}

fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = pyship_build::archive::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn user_json(st: &State, login: &str) -> Value {
    let id = st
        .users
        .iter()
        .position(|u| u == login)
        .map_or(0, |i| i + 1);
    json!({
        "id": id, "login": login, "login_name": "", "source_id": 0, "full_name": "",
        "email": format!("{login}@noreply.localhost"), "avatar_url": "", "html_url": format!("{}{login}", st.app_url),
        "language": "", "is_admin": false, "last_login": "0001-01-01T00:00:00Z", "created": rfc3339(1_600_000_000),
        "restricted": false, "active": false, "prohibit_login": false, "location": "", "website": "", "description": "",
        "visibility": "public", "followers_count": 0, "following_count": 0, "starred_repos_count": 0, "username": login,
    })
}

fn asset_json(st: &State, row: &ReleaseRow, a: &AssetRow, in_release: bool) -> Value {
    let unique = row.assets.iter().filter(|b| b.name == a.name).count() == 1 && {
        let mut names: Vec<&str> = row.assets.iter().map(|b| b.name.as_str()).collect();
        names.sort();
        names.windows(2).all(|w| w[0] != w[1])
    };
    let url = if in_release && unique {
        format!(
            "{}{}/releases/download/{}/{}",
            st.app_url,
            row.repo,
            path_escape(&row.tag),
            path_escape(&a.name)
        )
    } else {
        format!("{}attachments/{}", st.app_url, a.uuid)
    };
    json!({
        "id": a.id, "name": a.name, "size": a.size, "download_count": 0,
        "created_at": rfc3339(a.created_unix), "uuid": a.uuid, "browser_download_url": url,
    })
}

fn release_json(st: &State, x: &ReleaseRow) -> Value {
    let api = format!("{}api/v1/repos/{}/releases/{}", st.app_url, x.repo, x.id);
    let html = format!("{}{}", st.app_url, x.repo);
    let mut assets: Vec<&AssetRow> = x.assets.iter().collect();
    assets.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    json!({
        "id": x.id,
        "tag_name": x.tag,
        "target_commitish": x.target,
        "name": x.name,
        "body": x.body,
        "url": api,
        "html_url": format!("{html}/releases/tag/{}", path_escape(&x.tag)),
        "tarball_url": format!("{html}/archive/{}.tar.gz", x.tag),
        "zipball_url": format!("{html}/archive/{}.zip", x.tag),
        "upload_url": format!("{api}/assets"),
        "draft": x.draft,
        "prerelease": x.prerelease,
        "created_at": rfc3339(x.created_unix),
        "published_at": rfc3339(x.created_unix),
        "author": user_json(st, &x.publisher),
        "assets": assets.iter().map(|a| asset_json(st, x, a, true)).collect::<Vec<_>>(),
    })
}

fn package_route(
    st: &mut State,
    req: &Request,
    auth: &Auth,
    owner: &str,
    kind: &str,
    name: &str,
    rest: &[&str],
) -> Response {
    let info = match auth {
        Auth::Invalid => return err(st, 401, "invalid username, password or token"),
        Auth::Anonymous => return err(st, 401, "token is required"),
        Auth::Token(i) => i.clone(),
    };
    let want = if req.method == "GET" {
        "read:package"
    } else {
        "write:package"
    };
    if !has_scope(&info, want) {
        let msg = format!(
            "token does not have at least one of required scope(s), required=[{want}], token scope={}",
            info.scopes.join(",")
        );
        return err(st, 403, &msg);
    }
    let Some(uid) = st.users.iter().position(|u| u == owner).map(|i| i + 1) else {
        return not_found(st);
    };
    let Some(pi) = st
        .packages
        .iter()
        .position(|p| p.owner == owner && p.kind == kind && p.name == name)
    else {
        return err(st, 404, "package does not exist");
    };
    if info.user != owner {
        return err(
            st,
            403,
            "user should have specific permission or be a site admin",
        );
    }
    match (req.method.as_str(), rest) {
        ("POST", ["link", repo_name]) => {
            if !st
                .repos
                .iter()
                .any(|r| r.owner == owner && r.name.eq_ignore_ascii_case(repo_name))
            {
                let msg = format!("repository does not exist [id: 0, uid: {uid}, owner_name: , name: {repo_name}]");
                return err(st, 404, &msg);
            }
            if st.packages[pi].repo.is_some() {
                return err(st, 400, "invalid argument");
            }
            st.packages[pi].repo = Some(format!("{owner}/{repo_name}"));
            Response::empty(201)
        }
        ("POST", ["unlink"]) => {
            if st.packages[pi].repo.take().is_none() {
                return err(st, 400, "invalid argument");
            }
            Response::empty(204)
        }
        _ => not_found(st),
    }
}

/// GitHub's dialect of the same state (GitHub Enterprise paths).
mod github;
