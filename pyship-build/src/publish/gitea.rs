//! The Gitea (and Forgejo, same API) provider: `/api/v1/repos/{owner}/{repo}/releases…`.
//!
//! Behaviour follows Gitea's source (routers/api/v1/repo/release*.go):
//! create answers 201, or 409 when a release of that tag exists (a tag without
//! a release is converted in place); the asset list is a plain array sorted by
//! name and may hold duplicates; raw uploads (`application/octet-stream` with
//! `?name=`) exist since 1.22, older servers need multipart field `attachment`.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use reqwest::{Method, Url};

use super::api::{Api, Auth};
use super::target::Target;
use super::{Asset, Created, Error, Item, Provider, Release, ReleaseFields};
use crate::report::Progress;

/// How Gitea and Forgejo take the token.
pub const AUTH: Auth = Auth {
    scheme: "token",
    headers: &[],
};

pub struct Gitea<'a> {
    target: &'a Target,
    api: Api<'a>,
    raw_upload: OnceLock<bool>,
}

impl<'a> Gitea<'a> {
    pub fn new(target: &'a Target, api: Api<'a>) -> Self {
        Self {
            target,
            api,
            raw_upload: OnceLock::new(),
        }
    }

    /// The web download route of this server for `asset` (never the URL the
    /// answer names, which could point elsewhere and would get the token).
    fn download_url(&self, release: &Release, asset: &Asset) -> Url {
        self.target.join(&[
            &self.target.owner,
            &self.target.repo,
            "releases",
            "download",
            &release.tag_name,
            &asset.name,
        ])
    }

    /// Whether the server takes raw uploads (Gitea ≥ 1.22, Forgejo ≥ 7), from
    /// `GET /api/v1/version`; when that fails, assume a current server.
    fn raw_upload(&self) -> bool {
        *self.raw_upload.get_or_init(|| {
            let url = self.target.join(&["api", "v1", "version"]);
            let version = self
                .api
                .send(Method::GET, &url, None, &[])
                .and_then(|r| self.api.json::<serde_json::Value>(&Method::GET, &url, r))
                .ok()
                .and_then(|v| v["version"].as_str().map(str::to_owned));
            let raw = version.as_deref().is_none_or(supports_raw_upload);
            self.api.reporter.debug(&format!(
                "server version {}: {} uploads",
                version.as_deref().unwrap_or("unknown"),
                if raw { "raw" } else { "multipart" }
            ));
            raw
        })
    }
}

/// Gitea ≥ 1.22 (and Forgejo, whose versions say `+gitea-1.22…` since v7).
pub fn supports_raw_upload(version: &str) -> bool {
    let v = version.split_once("+gitea-").map_or(version, |(_, g)| g);
    let v = v.trim_start_matches('v');
    let mut it = v.split(|c: char| !c.is_ascii_digit());
    let major: u64 = it.next().and_then(|s| s.parse().ok()).unwrap_or(u64::MAX);
    let minor: u64 = it.next().and_then(|s| s.parse().ok()).unwrap_or(u64::MAX);
    !(major == 1 && minor < 22)
}

impl Provider for Gitea<'_> {
    fn api(&self) -> &Api<'_> {
        &self.api
    }

    fn url(&self, tail: &[&str]) -> Url {
        let mut segs = vec!["api", "v1", "repos", &self.target.owner, &self.target.repo];
        segs.extend_from_slice(tail);
        self.target.join(&segs)
    }

    fn release_by_tag(&self, tag: &str) -> Result<Option<Release>, Error> {
        let url = self.url(&["releases", "tags", tag]);
        let resp = self.api.send(Method::GET, &url, None, &[404])?;
        if resp.status().as_u16() == 404 {
            // A missing repository answers 404 too: tell the two apart.
            let mut list = self.url(&["releases"]);
            list.query_pairs_mut().append_pair("limit", "1");
            self.api.send(Method::GET, &list, None, &[])?;
            return Ok(None);
        }
        self.api.json(&Method::GET, &url, resp).map(Some)
    }

    fn create_release(&self, fields: &ReleaseFields) -> Result<Created, Error> {
        let url = self.url(&["releases"]);
        let body = serde_json::json!({
            "tag_name": fields.tag,
            "target_commitish": fields.target_commitish.clone().unwrap_or_default(),
            "name": fields.name,
            "body": fields.body,
            "draft": false,
            "prerelease": fields.prerelease,
        });
        let resp = self.api.send(Method::POST, &url, Some(&body), &[409])?;
        if resp.status().as_u16() == 409 {
            return Ok(Created::Conflict);
        }
        self.api.json(&Method::POST, &url, resp).map(Created::New)
    }

    fn list_assets(&self, release_id: u64) -> Result<Vec<Asset>, Error> {
        // Gitea answers the asset list as one plain array, without pagination.
        let url = self.url(&["releases", &release_id.to_string(), "assets"]);
        let resp = self.api.send(Method::GET, &url, None, &[])?;
        self.api.json(&Method::GET, &url, resp)
    }

    fn delete_asset(&self, release_id: u64, asset_id: u64) -> Result<(), Error> {
        let url = self.url(&[
            "releases",
            &release_id.to_string(),
            "assets",
            &asset_id.to_string(),
        ]);
        // 404: already gone (e.g. a retried DELETE whose first answer was lost).
        self.api.send(Method::DELETE, &url, None, &[404]).map(drop)
    }

    fn download_asset(&self, release: &Release, asset: &Asset) -> Result<Vec<u8>, Error> {
        self.api.download(&self.download_url(release, asset))
    }

    fn download_asset_to(
        &self,
        release: &Release,
        asset: &Asset,
        path: &Path,
    ) -> Result<u64, Error> {
        self.api
            .download_to(&self.download_url(release, asset), path)
    }

    fn upload_asset(&self, id: u64, item: &Item, bar: Arc<dyn Progress>) -> Result<Asset, Error> {
        let mut url = self.url(&["releases", &id.to_string(), "assets"]);
        url.query_pairs_mut().append_pair("name", &item.name);
        let multipart = !self.raw_upload();
        let resp = self.api.upload(&url, item, bar, multipart)?;
        self.api.json(&Method::POST, &url, resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_upload_needs_gitea_1_22() {
        assert!(supports_raw_upload("1.22.0"));
        assert!(supports_raw_upload("1.25.4"));
        assert!(supports_raw_upload("1.26.0+dev-123-gabc"));
        assert!(supports_raw_upload("9.0.0+gitea-1.22.0"));
        assert!(!supports_raw_upload("1.21.11"));
        assert!(!supports_raw_upload("1.21.11-0+gitea-1.21.11"));
        assert!(!supports_raw_upload("v1.20.0"));
        assert!(supports_raw_upload("garbage"));
    }
}
