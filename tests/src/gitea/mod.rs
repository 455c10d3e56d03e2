//! A Gitea-compatible test server (HTTP/1.1 on std, 127.0.0.1 only), written
//! from Gitea's API documentation and source: releases and their assets, auth and scopes
//! with Gitea's status codes and messages, tag-only rows converted in place,
//! drafts, pagination headers, asset lists sorted by name with duplicates
//! allowed, raw and multipart uploads, 413 over a size limit, and the package
//! link API. Fault injection (fail the next N requests, drop a connection in
//! the middle of an upload) and a request log let tests prove convergence and
//! the absence of writes. The server stops when dropped.
//!
//! Layout: [`state`] holds the data, [`transport`] the HTTP/1.1 plumbing and
//! the fault injection, [`routes`] the Gitea API and [`github`] GitHub's
//! dialect; this file is the handle tests drive.

mod github;
mod routes;
mod state;
mod transport;

use state::{is_pat, store_asset, Package, Repo, State, TokenInfo};
pub use state::{AssetRow, Fault, Logged, ReleaseRow, UploadKind, When};
use transport::{find, serve};

use std::collections::{BTreeMap, VecDeque};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// A token with every scope a publish needs, owned by `alice`.
pub const WRITE_TOKEN: &str = "0123456789abcdef0123456789abcdef01234567";
/// A `read:repository` token of `alice`.
pub const READ_TOKEN: &str = "fedcba9876543210fedcba9876543210fedcba98";
/// The repository that exists from the start: `alice/hello`.
pub const REPO: &str = "alice/hello";

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
