//! The image's name and the repository's tags that decide whether it is
//! also `latest`.

use std::path::Path;

use super::Error;
use crate::env::Env;
use crate::plan::Plan;
use crate::version::Version;

/// The repository's version tags (`git tag --list 'v*'`); empty outside git.
pub fn repo_version_tags(dir: &Path) -> Vec<String> {
    crate::tools::git(dir, &["tag", "--list", "v*"])
        .map(|out| {
            out.lines()
                .map(|l| l.trim().to_owned())
                .filter(|l| !l.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// `latest` only for a stable version that is at least as high as every stable
/// version among the repository's tags: a backport (`v1.0.1` after `v1.1.0`)
/// must not move `latest`. Tags that do not parse as versions are ignored.
pub fn is_latest(version: &Version, repo_tags: &[String]) -> bool {
    if version.is_prerelease() {
        return false;
    }
    let key = |v: &Version| (v.major, v.minor, v.patch, v.post.unwrap_or(0));
    let mine = key(version);
    repo_tags
        .iter()
        .filter_map(|t| t.parse::<Version>().ok())
        .filter(|v| !v.is_prerelease())
        .all(|v| key(&v) <= mine)
}

/// The image name: `docker.image`, else `{host}/{owner}/{name}` of the release
/// repository (Gitea's registry lives on the same host), lowercased.
pub fn image_name(plan: &Plan, env: &Env) -> Result<String, Error> {
    let image = match &plan.config.docker.image {
        Some(i) => i.clone(),
        None => {
            let (url, repo) = plan.config.publish.location(env);
            let (Some(url), Some(repo)) = (url, repo) else {
                return Err(Error::NoImage {
                    table: plan.project.config_source.table.key(),
                });
            };
            format!("{}/{repo}", host_of(&url)).to_ascii_lowercase()
        }
    };
    let valid = !image.is_empty()
        && !image.starts_with('/')
        && !image.ends_with('/')
        && !image.contains("//")
        && image
            .rsplit('/')
            .next()
            .is_some_and(|last| !last.contains(':'))
        && image.bytes().all(|b| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || matches!(b, b'.' | b'_' | b'-' | b'/' | b':')
        });
    if !valid {
        return Err(Error::BadImage { image });
    }
    Ok(image)
}

/// `host[:port]` of a URL.
pub(super) fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let host = rest.split('/').next().unwrap_or_default();
    host.rsplit_once('@').map(|(_, h)| h).unwrap_or(host)
}

/// The registry host of `image`: its first component when it looks like a host
/// (has a `.` or `:`, or is `localhost`), as docker decides.
pub fn registry_of(image: &str) -> Option<String> {
    let (first, rest) = image.split_once('/')?;
    let _ = rest;
    (first.contains('.') || first.contains(':') || first == "localhost").then(|| first.to_owned())
}
