//! The GitHub provider: the same steps through GitHub's REST releases API.
//!
//! Differences from Gitea that matter here: the API lives at
//! `api.github.com` (GitHub Enterprise: `{server}/api/v3`), uploads at
//! `uploads.github.com` (`{server}/api/uploads`); an existing release answers
//! a create with 422 `already_exists` rather than 409; the asset list is
//! paginated (`per_page` ≤ 100); assets are deleted by asset id alone; a
//! duplicate asset name is refused (422), which the delete-then-upload order
//! already avoids. Tokens go as `Authorization: Bearer`.

use std::path::Path;
use std::sync::Arc;

use reqwest::{Method, Url};

use super::api::{Api, Auth};
use super::target::{join_url, Target};
use super::{Asset, Created, Error, Item, Provider, Release, ReleaseFields};
use crate::report::Progress;

/// Assets per page when listing (GitHub's maximum).
const PER_PAGE: usize = 100;
/// Pages listed at most: GitHub allows 1000 assets per release (10 pages).
const MAX_PAGES: usize = 20;

/// How GitHub takes the token, and the API version every request names.
pub const AUTH: Auth = Auth {
    scheme: "Bearer",
    headers: &[("X-GitHub-Api-Version", "2022-11-28")],
};

pub struct Github<'a> {
    target: &'a Target,
    api: Api<'a>,
    api_base: Url,
    uploads_base: Url,
}

impl<'a> Github<'a> {
    pub fn new(target: &'a Target, api: Api<'a>) -> Self {
        let (api_base, uploads_base) = bases(&target.server);
        Self {
            target,
            api,
            api_base,
            uploads_base,
        }
    }
}

/// API and upload bases: github.com's own hosts, or GitHub Enterprise paths.
pub fn bases(server: &Url) -> (Url, Url) {
    if server.host_str() == Some("github.com") {
        (
            Url::parse("https://api.github.com/").expect("valid"),
            Url::parse("https://uploads.github.com/").expect("valid"),
        )
    } else {
        (
            join_url(server, &["api", "v3"]),
            join_url(server, &["api", "uploads"]),
        )
    }
}

impl Provider for Github<'_> {
    fn api(&self) -> &Api<'_> {
        &self.api
    }

    fn url(&self, tail: &[&str]) -> Url {
        let mut segs = vec!["repos", &self.target.owner, &self.target.repo];
        segs.extend_from_slice(tail);
        join_url(&self.api_base, &segs)
    }

    fn release_by_tag(&self, tag: &str) -> Result<Option<Release>, Error> {
        let url = self.url(&["releases", "tags", tag]);
        let resp = self.api.send(Method::GET, &url, None, &[404])?;
        if resp.status().as_u16() == 404 {
            // Tell "no release" from "no repository".
            let repo = self.url(&[]);
            self.api.send(Method::GET, &repo, None, &[])?;
            return Ok(None);
        }
        self.api.json(&Method::GET, &url, resp).map(Some)
    }

    fn create_release(&self, fields: &ReleaseFields) -> Result<Created, Error> {
        let url = self.url(&["releases"]);
        let mut body = serde_json::json!({
            "tag_name": fields.tag,
            "name": fields.name,
            "body": fields.body,
            "draft": false,
            "prerelease": fields.prerelease,
        });
        if let Some(c) = &fields.target_commitish {
            body["target_commitish"] = c.clone().into();
        }
        let resp = self.api.send(Method::POST, &url, Some(&body), &[422])?;
        if resp.status().as_u16() == 422 {
            let err = self.api.error(&Method::POST, &url, resp);
            return match &err {
                Error::Api { message, .. } if message.contains("already_exists") => {
                    Ok(Created::Conflict)
                }
                _ => Err(err),
            };
        }
        self.api.json(&Method::POST, &url, resp).map(Created::New)
    }

    fn list_assets(&self, release_id: u64) -> Result<Vec<Asset>, Error> {
        let base = self.url(&["releases", &release_id.to_string(), "assets"]);
        all_pages(base.as_str(), |page| {
            let mut url = base.clone();
            url.query_pairs_mut()
                .append_pair("per_page", &PER_PAGE.to_string())
                .append_pair("page", &page.to_string());
            let resp = self.api.send(Method::GET, &url, None, &[])?;
            self.api.json(&Method::GET, &url, resp)
        })
    }

    fn delete_asset(&self, _release_id: u64, asset_id: u64) -> Result<(), Error> {
        let url = self.url(&["releases", "assets", &asset_id.to_string()]);
        self.api.send(Method::DELETE, &url, None, &[404]).map(drop)
    }

    fn download_asset(&self, _release: &Release, asset: &Asset) -> Result<Vec<u8>, Error> {
        // The API's asset URL answers the bytes (through a redirect to the
        // storage host, to which reqwest sends no Authorization header).
        let url = self.url(&["releases", "assets", &asset.id.to_string()]);
        self.api.download(&url)
    }

    fn download_asset_to(
        &self,
        _release: &Release,
        asset: &Asset,
        path: &Path,
    ) -> Result<u64, Error> {
        let url = self.url(&["releases", "assets", &asset.id.to_string()]);
        self.api.download_to(&url, path)
    }

    fn upload_asset(&self, id: u64, item: &Item, bar: Arc<dyn Progress>) -> Result<Asset, Error> {
        let mut url = join_url(
            &self.uploads_base,
            &[
                "repos",
                &self.target.owner,
                &self.target.repo,
                "releases",
                &id.to_string(),
                "assets",
            ],
        );
        url.query_pairs_mut().append_pair("name", &item.name);
        let resp = self.api.upload(&url, item, bar, false)?;
        self.api.json(&Method::POST, &url, resp)
    }
}

/// Every asset of a paged listing (`page` gets 1, 2, …): it ends at a short
/// page, or at a page that repeats the one before (a server that ignores
/// `page`); past [`MAX_PAGES`] it is an error, never an endless loop.
fn all_pages(
    url: &str,
    mut page: impl FnMut(usize) -> Result<Vec<Asset>, Error>,
) -> Result<Vec<Asset>, Error> {
    let mut all: Vec<Asset> = Vec::new();
    let mut last: Vec<u64> = Vec::new();
    for n in 1..=MAX_PAGES {
        let batch = page(n)?;
        let ids: Vec<u64> = batch.iter().map(|a| a.id).collect();
        if !ids.is_empty() && ids == last {
            return Ok(all);
        }
        let short = batch.len() < PER_PAGE;
        all.extend(batch.into_iter().filter(|a| !last.contains(&a.id)));
        if short {
            return Ok(all);
        }
        last = ids;
    }
    Err(Error::TooManyPages {
        url: url.to_owned(),
        pages: MAX_PAGES,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_of(ids: std::ops::Range<u64>) -> Vec<Asset> {
        ids.map(|id| Asset {
            id,
            name: format!("a{id}"),
            size: 1,
            browser_download_url: String::new(),
            digest: None,
        })
        .collect()
    }

    /// A listing ends at a short page; a server that repeats its page, or
    /// that never stops, costs a bounded number of requests.
    #[test]
    fn asset_listing_is_bounded() {
        let mut asked = 0;
        let got = all_pages("u", |p| {
            asked += 1;
            let start = (p as u64 - 1) * 100;
            Ok(page_of(start..start + if p < 3 { 100 } else { 7 }))
        })
        .unwrap();
        assert_eq!((got.len(), asked), (207, 3));
        let mut asked = 0;
        let got = all_pages("u", |_| {
            asked += 1;
            Ok(page_of(0..100))
        })
        .unwrap();
        assert_eq!((got.len(), asked), (100, 2), "a repeated page ends it");
        let mut asked = 0;
        let e = all_pages("https://h/assets", |p| {
            asked += 1;
            let start = p as u64 * 1000;
            Ok(page_of(start..start + 100))
        })
        .unwrap_err();
        assert!(
            matches!(
                e,
                Error::TooManyPages {
                    pages: MAX_PAGES,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(asked, MAX_PAGES);
        assert!(crate::error::Hint::hint(&e).is_some());
    }

    #[test]
    fn github_com_and_enterprise_bases() {
        let (a, u) = bases(&Url::parse("https://github.com").unwrap());
        assert_eq!(
            (a.as_str(), u.as_str()),
            ("https://api.github.com/", "https://uploads.github.com/")
        );
        let (a, u) = bases(&Url::parse("https://ghe.example/").unwrap());
        assert_eq!(
            (a.as_str(), u.as_str()),
            (
                "https://ghe.example/api/v3",
                "https://ghe.example/api/uploads"
            )
        );
    }
}
