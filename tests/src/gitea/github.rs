//! GitHub's REST dialect of the test server's state: GitHub Enterprise paths
//! (`/api/v3`, `/api/uploads`), 422 `already_exists`, paginated asset lists.

use super::routes::{json_body, rfc3339, Auth};
use super::state::{has_scope, store_asset, AssetRow, ReleaseRow, State, UploadKind};
use super::transport::{path_escape, Request, Response};
use serde_json::{json, Value};

fn gh_err(status: u16, message: &str) -> Response {
    Response::json(
        status,
        &json!({"message": message, "documentation_url": "https://docs.github.com/rest"}),
    )
}

fn already_exists(resource: &str, field: &str) -> Response {
    Response::json(
        422,
        &json!({"message": "Validation Failed", "errors": [{"resource": resource, "code": "already_exists", "field": field}], "documentation_url": "https://docs.github.com/rest"}),
    )
}

fn asset(st: &State, row: &ReleaseRow, a: &AssetRow) -> Value {
    json!({
        "id": a.id, "name": a.name, "size": a.size, "state": "uploaded",
        "content_type": "application/octet-stream", "download_count": 0,
        "url": format!("{}api/v3/repos/{}/releases/assets/{}", st.app_url, row.repo, a.id),
        "browser_download_url": format!("{}{}/releases/download/{}/{}", st.app_url, row.repo, path_escape(&row.tag), path_escape(&a.name)),
        "created_at": rfc3339(a.created_unix), "updated_at": rfc3339(a.created_unix),
    })
}

fn release(st: &State, x: &ReleaseRow) -> Value {
    let api = format!("{}api/v3/repos/{}/releases/{}", st.app_url, x.repo, x.id);
    json!({
        "id": x.id, "tag_name": x.tag, "target_commitish": x.target,
        "name": if x.name.is_empty() { Value::Null } else { x.name.clone().into() },
        "body": if x.body.is_empty() { Value::Null } else { x.body.clone().into() },
        "draft": x.draft, "prerelease": x.prerelease, "url": api.clone(),
        "html_url": format!("{}{}/releases/tag/{}", st.app_url, x.repo, path_escape(&x.tag)),
        "assets_url": format!("{api}/assets"),
        "upload_url": format!("{}api/uploads/repos/{}/releases/{}/assets{{?name,label}}", st.app_url, x.repo, x.id),
        "created_at": rfc3339(x.created_unix), "published_at": rfc3339(x.created_unix),
        "author": {"login": x.publisher},
        "assets": x.assets.iter().map(|a| asset(st, x, a)).collect::<Vec<_>>(),
    })
}

pub(super) fn route(
    st: &mut State,
    req: &Request,
    auth: &Auth,
    seg: &[&str],
) -> (Response, Option<UploadKind>) {
    let (base, owner, repo, rest) = match seg {
        ["api", b @ ("v3" | "uploads"), "repos", o, r, rest @ ..] => (*b, *o, *r, rest),
        _ => return (gh_err(404, "Not Found"), None),
    };
    let write = req.method != "GET" && req.method != "HEAD";
    let user = match auth {
        Auth::Invalid => return (gh_err(401, "Bad credentials"), None),
        Auth::Anonymous if write => return (gh_err(401, "Requires authentication"), None),
        Auth::Anonymous => None,
        Auth::Token(i) => Some(i.clone()),
    };
    let Some(r) = st
        .repos
        .iter()
        .find(|r| r.owner.eq_ignore_ascii_case(owner) && r.name.eq_ignore_ascii_case(repo))
        .cloned()
    else {
        return (gh_err(404, "Not Found"), None);
    };
    if write {
        let ok = user
            .as_ref()
            .is_some_and(|u| r.writers.contains(&u.user) && has_scope(u, "write:repository"));
        if !ok {
            return (
                gh_err(403, "Resource not accessible by personal access token"),
                None,
            );
        }
    }
    let full = format!("{}/{}", r.owner, r.name);
    let m = req.method.as_str();
    let find = |st: &State, id: &str| {
        let id = id.parse::<u64>().unwrap_or(0);
        st.releases
            .iter()
            .position(|x| x.id == id && x.repo == full && !x.is_tag)
    };
    match (base, m, rest) {
        ("v3", "GET", []) => (
            Response::json(200, &json!({"id": 1, "name": r.name, "full_name": full})),
            None,
        ),
        ("v3", "GET", ["releases", "tags", tag]) => {
            match st
                .releases
                .iter()
                .find(|x| x.repo == full && x.tag == *tag && !x.is_tag && !x.draft)
            {
                Some(x) => (Response::json(200, &release(st, x)), None),
                None => (gh_err(404, "Not Found"), None),
            }
        }
        ("v3", "POST", ["releases"]) => {
            let v = json_body(req).unwrap_or(Value::Null);
            let tag = v["tag_name"].as_str().unwrap_or("").to_owned();
            if tag.is_empty() {
                return (gh_err(422, "Validation Failed"), None);
            }
            let s = |k: &str| v[k].as_str().unwrap_or("").to_owned();
            let b = |k: &str| v[k].as_bool().unwrap_or(false);
            let who = user.map(|u| u.user).unwrap_or_default();
            let i = match st
                .releases
                .iter()
                .position(|x| x.repo == full && x.tag == tag)
            {
                Some(i) if !st.releases[i].is_tag => {
                    return (already_exists("Release", "tag_name"), None)
                }
                Some(i) => i,
                None => {
                    let id = st.next_id;
                    st.next_id += 1;
                    st.releases.push(ReleaseRow {
                        id,
                        repo: full.clone(),
                        tag: tag.clone(),
                        is_tag: true,
                        name: String::new(),
                        body: String::new(),
                        draft: false,
                        prerelease: false,
                        target: String::new(),
                        created_unix: 0,
                        publisher: who.clone(),
                        assets: Vec::new(),
                    });
                    st.releases.len() - 1
                }
            };
            st.clock += 1;
            let now = st.clock;
            let x = &mut st.releases[i];
            x.is_tag = false;
            x.name = s("name");
            x.body = s("body");
            x.draft = b("draft");
            x.prerelease = b("prerelease");
            x.target = Some(s("target_commitish"))
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "main".into());
            x.created_unix = now;
            x.publisher = who;
            (Response::json(201, &release(st, &st.releases[i])), None)
        }
        ("v3", "PATCH", ["releases", id]) => {
            let Some(i) = find(st, id) else {
                return (gh_err(404, "Not Found"), None);
            };
            let v = json_body(req).unwrap_or(Value::Null);
            let x = &mut st.releases[i];
            if let Some(n) = v["name"].as_str() {
                x.name = n.into();
            }
            if let Some(n) = v["body"].as_str() {
                x.body = n.into();
            }
            if let Some(p) = v["prerelease"].as_bool() {
                x.prerelease = p;
            }
            (Response::json(200, &release(st, &st.releases[i])), None)
        }
        ("v3", "GET", ["releases", id, "assets"]) => {
            let Some(i) = find(st, id) else {
                return (gh_err(404, "Not Found"), None);
            };
            let per = req
                .q("per_page")
                .and_then(|p| p.parse::<usize>().ok())
                .filter(|p| *p > 0)
                .unwrap_or(30)
                .min(100);
            let page = req
                .q("page")
                .and_then(|p| p.parse::<usize>().ok())
                .filter(|p| *p > 0)
                .unwrap_or(1);
            let x = &st.releases[i];
            let list: Vec<Value> = x
                .assets
                .iter()
                .skip((page - 1) * per)
                .take(per)
                .map(|a| asset(st, x, a))
                .collect();
            (Response::json(200, &Value::Array(list)), None)
        }
        ("v3", "DELETE", ["releases", "assets", aid]) => {
            let aid = aid.parse::<u64>().unwrap_or(0);
            for x in st.releases.iter_mut().filter(|x| x.repo == full) {
                if let Some(j) = x.assets.iter().position(|a| a.id == aid) {
                    x.assets.remove(j);
                    return (Response::empty(204), None);
                }
            }
            (gh_err(404, "Not Found"), None)
        }
        ("uploads", "POST", ["releases", id, "assets"]) => {
            let Some(i) = find(st, id) else {
                return (gh_err(404, "Not Found"), None);
            };
            let name = req.q("name").unwrap_or("").to_owned();
            if name.is_empty() {
                return (gh_err(422, "Validation Failed"), Some(UploadKind::Raw));
            }
            if st.releases[i].assets.iter().any(|a| a.name == name) {
                return (
                    already_exists("ReleaseAsset", "name"),
                    Some(UploadKind::Raw),
                );
            }
            let rid = st.releases[i].id;
            let aid = store_asset(st, rid, &name, req.body.clone());
            let x = &st.releases[i];
            let a = x.assets.iter().find(|a| a.id == aid).expect("stored");
            (Response::json(201, &asset(st, x, a)), Some(UploadKind::Raw))
        }
        _ => (gh_err(404, "Not Found"), None),
    }
}
