//! The test server's state: users, tokens, repositories, release rows with
//! their assets, packages, queued faults and the request log. Plain data and
//! the few mutations both API dialects share; no HTTP here.

use std::collections::{BTreeMap, VecDeque};

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
    /// Answer `status` with this body and `Content-Type`, without doing
    /// anything (a proxy's page, a server echoing the request). `{authorization}`
    /// in the body becomes the request's `Authorization` header value.
    Raw {
        status: u16,
        content_type: &'static str,
        body: String,
    },
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
pub(super) struct TokenInfo {
    pub(super) user: String,
    pub(super) scopes: Vec<String>,
}

#[derive(Debug, Clone)]
pub(super) struct Repo {
    pub(super) owner: String,
    pub(super) name: String,
    pub(super) writers: Vec<String>,
}

#[derive(Debug, Clone)]
pub(super) struct Package {
    pub(super) owner: String,
    pub(super) kind: String,
    pub(super) name: String,
    pub(super) repo: Option<String>,
}

pub(super) struct State {
    pub(super) app_url: String,
    pub(super) version: String,
    pub(super) next_id: u64,
    pub(super) next_asset_id: u64,
    pub(super) clock: i64,
    pub(super) users: Vec<String>,
    pub(super) tokens: BTreeMap<String, TokenInfo>,
    pub(super) repos: Vec<Repo>,
    pub(super) releases: Vec<ReleaseRow>,
    pub(super) packages: Vec<Package>,
    pub(super) faults: VecDeque<(When, Fault)>,
    pub(super) log: Vec<Logged>,
    pub(super) max_size: Option<u64>,
    /// Speak GitHub's REST dialect instead (see [`GiteaServer::start_github`]).
    pub(super) github: bool,
}

pub(super) fn is_pat(t: &str) -> bool {
    t.len() == 40
        && t.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub(super) fn store_asset(st: &mut State, release_id: u64, name: &str, data: Vec<u8>) -> u64 {
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

pub(super) fn fake_uuid(n: u64) -> String {
    format!(
        "{:08x}-0000-4000-8000-{:012x}",
        n,
        n.wrapping_mul(0x9e37_79b9)
    )
}

pub(super) fn has_scope(info: &TokenInfo, want: &str) -> bool {
    let (level, cat) = want.split_once(':').expect("scope form");
    info.scopes.iter().any(|s| {
        s == "all" || s == want || (level == "read" && s.strip_prefix("write:") == Some(cat))
    })
}
