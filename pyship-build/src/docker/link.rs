//! The Gitea container package link (Gitea ≥ 1.24). Why: a pushed image is
//! a package of the owner, not of the repository, until it is linked; the
//! repository's Packages tab shows it only then. Gitea has no automatic link
//! from image labels, so the stage calls the API after a push, and tells the
//! user how to do it by hand where the API is missing (older Gitea, Forgejo).

use serde::Serialize;

use super::Error;
use crate::error::escaped;
use crate::publish::{server_url, Token};
use crate::Context;

/// The package link request made after a push to Gitea.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkPlan {
    pub url: String,
    pub owner: String,
    pub package: String,
    pub repo: String,
}

/// The result of the package link request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkOutcome {
    Linked,
    AlreadyLinked,
    /// The server has no link API (Gitea < 1.24, Forgejo); a warning was shown.
    Unsupported,
}

/// The manual steps when the server cannot link a package through the API.
pub fn manual_link_steps(link: &LinkPlan) -> String {
    format!(
        "link the package by hand: in Gitea's web UI open {}/{}/-/packages, choose the container package `{}`, then Settings → Link to repository → `{}`",
        link.url.trim_end_matches('/'),
        link.owner,
        link.package,
        link.repo
    )
}

/// `POST {url}/api/v1/packages/{owner}/container/{package}/-/link/{repo}`,
/// with the URL and token checks of [`crate::publish`] (https, or
/// plain http to loopback only; the token only in a sensitive header).
/// 201/204: linked; 400 (already linked): success; 404/405 without a reason
/// (no such API: Gitea < 1.24, Forgejo): a warning with the manual steps.
/// Other answers, including 404 "package does not exist", are errors naming
/// the URL and the server's message.
pub fn link_package(
    ctx: &Context<'_>,
    link: &LinkPlan,
    token: &Token,
) -> Result<LinkOutcome, Error> {
    let mut url = server_url(&link.url)?;
    url.path_segments_mut()
        .expect("server_url accepts only http(s) URLs, which have paths")
        .pop_if_empty()
        .extend([
            "api",
            "v1",
            "packages",
            &link.owner,
            "container",
            &link.package,
            "-",
            "link",
            &link.repo,
        ]);
    let shown = url.to_string();
    let auth = token.header("token").ok_or(Error::BadToken)?;
    ctx.reporter.status(
        "Linking",
        &format!("package {} to {}/{}", link.package, link.owner, link.repo),
    );
    let client = ctx.http()?;
    let backoff = crate::net::Backoff::default();
    let (status, body) = backoff.retry(|_| {
        let r = client
            .post(url.clone())
            .header(reqwest::header::AUTHORIZATION, auth.clone())
            .send()
            .map_err(|source| crate::net::Error::Request {
                url: shown.clone(),
                source,
            })?;
        let status = r.status().as_u16();
        if status == 429 || status >= 500 {
            return Err(crate::net::Error::Status {
                url: shown.clone(),
                status,
            });
        }
        Ok((status, r.text().unwrap_or_default()))
    })?;
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| body.trim().to_owned());
    match status {
        200..=299 => Ok(LinkOutcome::Linked),
        400 => {
            ctx.reporter
                .debug(&format!("package already linked ({})", escaped(&message)));
            Ok(LinkOutcome::AlreadyLinked)
        }
        // Gitea ≥ 1.24 answers 404 with a reason when the package or the
        // repository is missing: a real error. A bare 404/405 means no such route.
        404 if message.contains("does not exist") => Err(Error::Link {
            url: shown,
            status,
            message,
        }),
        404 | 405 => {
            ctx.reporter.warn(&format!(
                "the server has no package link API (POST {shown} answered {status}: it needs Gitea 1.24 or newer); {}",
                manual_link_steps(link)
            ));
            Ok(LinkOutcome::Unsupported)
        }
        _ => Err(Error::Link {
            url: shown,
            status,
            message,
        }),
    }
}
