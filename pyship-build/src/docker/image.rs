//! The image's name and the repository's tags that decide whether it is
//! also `latest`.

use std::path::Path;

use super::Error;
use crate::config::strings::valid_image_name;
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
/// repository (Gitea's registry lives on the same host), lowercased. Either
/// is held to Docker's grammar ([`valid_image_name`], which the config's
/// `docker.image` already passed when it was loaded).
pub fn image_name(plan: &Plan, env: &Env) -> Result<String, Error> {
    let table = plan.project.config_source.table.key();
    let (image, origin) = match &plan.config.docker.image {
        Some(i) => (i.clone(), "`docker.image`"),
        None => {
            let (url, repo) = plan.config.publish.location(env);
            let (Some(url), Some(repo)) = (url, repo) else {
                return Err(Error::NoImage { table });
            };
            (
                format!("{}/{repo}", host_of(&url)).to_ascii_lowercase(),
                "made from the release's server and repository, as `docker.image` is not set",
            )
        }
    };
    if !valid_image_name(&image) {
        return Err(Error::BadImage {
            image,
            origin,
            table,
        });
    }
    Ok(image)
}

/// `host[:port]` of a URL.
pub(super) fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let host = rest.split('/').next().unwrap_or_default();
    host.rsplit_once('@').map(|(_, h)| h).unwrap_or(host)
}
