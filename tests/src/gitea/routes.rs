//! The test server's Gitea API v1 routes: authentication and token scopes
//! with Gitea's status codes and messages, releases (tag-only rows converted
//! in place, drafts, pagination headers), asset lists sorted by name with
//! duplicates allowed, raw and multipart uploads, 413 over a size limit, and
//! the package link API, and asset downloads (web route and attachments).
//! [`super::github`] speaks GitHub's dialect of the
//! same state.

use super::state::{
    has_scope, is_pat, store_asset, AssetRow, ReleaseRow, State, TokenInfo, UploadKind,
};
use super::transport::{
    base64_decode, encode_component, parse_multipart, path_escape, Request, Response,
};
use serde_json::{json, Value};

pub(super) enum Auth {
    Anonymous,
    Token(TokenInfo),
    Invalid,
}

pub(super) fn authenticate(st: &State, req: &Request) -> (Auth, bool) {
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

pub(super) fn err(st: &State, status: u16, message: &str) -> Response {
    Response::json(
        status,
        &json!({"message": message, "url": format!("{}api/swagger", st.app_url)}),
    )
}

/// `APIErrorNotFound`: `{"errors":null,"message":"not found","url":…}`.
pub(super) fn not_found(st: &State) -> Response {
    Response::json(
        404,
        &json!({"errors": null, "message": "not found", "url": format!("{}api/swagger", st.app_url)}),
    )
}

pub(super) fn route(st: &mut State, req: &Request) -> (Response, Option<UploadKind>) {
    let seg: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let (auth, query_auth) = authenticate(st, req);
    if st.github {
        return super::github::route(st, req, &auth, &seg);
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

pub(super) fn with_warning(
    (mut r, u): (Response, Option<UploadKind>),
    query_auth: bool,
) -> (Response, Option<UploadKind>) {
    if query_auth {
        add_warning(&mut r);
    }
    (r, u)
}

pub(super) fn add_warning(r: &mut Response) {
    r.headers.push((
        "X-Gitea-Warning".into(),
        "token and access_token API authentication is deprecated and will be removed in gitea 1.23. Please use AuthorizationHeaderToken instead. Existing queries will continue to work but without authorization.".into(),
    ));
}

pub(super) fn repo_route(
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

pub(super) fn release_item(
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

pub(super) fn json_body(req: &Request) -> Option<Value> {
    serde_json::from_slice(&req.body).ok()
}

pub(super) fn upload(st: &mut State, req: &Request, i: usize) -> (Response, Option<UploadKind>) {
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

pub(super) fn gitea_at_least(version: &str, major: u64, minor: u64) -> bool {
    let v = version.split_once("+gitea-").map_or(version, |(_, g)| g);
    let mut it = v
        .trim_start_matches('v')
        .split(|c: char| !c.is_ascii_digit());
    let ma: u64 = it.next().and_then(|s| s.parse().ok()).unwrap_or(u64::MAX);
    let mi: u64 = it.next().and_then(|s| s.parse().ok()).unwrap_or(u64::MAX);
    (ma, mi) >= (major, minor)
}

pub(super) fn create_release(st: &mut State, req: &Request, full: &str, user: &str) -> Response {
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
pub(super) fn form_bool(v: &str) -> bool {
    matches!(v, "1" | "t" | "T" | "TRUE" | "true" | "True" | "on")
}

pub(super) fn list_releases(st: &State, req: &Request, full: &str, drafts: bool) -> Response {
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

pub(super) fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = pyship_build::dates::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

pub(super) fn user_json(st: &State, login: &str) -> Value {
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

pub(super) fn asset_json(st: &State, row: &ReleaseRow, a: &AssetRow, in_release: bool) -> Value {
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

pub(super) fn release_json(st: &State, x: &ReleaseRow) -> Value {
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

pub(super) fn package_route(
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
