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
    let valid = is_image_name(&image);
    if !valid {
        return Err(Error::BadImage { image });
    }
    Ok(image)
}

/// Whether `image` is a repository name by Docker's reference grammar
/// (distribution `reference/regexp.go`), without a tag or digest: an optional
/// registry `host[:port]` (told apart as docker does: it has a `.` or `:`, or
/// is `localhost`), then `/`-separated path components of lowercase letters
/// and digits joined by `.`, `_`, `__` or runs of `-`. Why so strict: the name
/// is an argument of `docker push`, so `-x` or `--help` would be read as an
/// option, and `.` or `a/../b` are names no registry holds.
pub fn is_image_name(image: &str) -> bool {
    let path = match image.split_once('/') {
        Some((host, path)) if registry_of(image).is_some() => {
            if !is_registry(host) {
                return false;
            }
            path
        }
        _ => image,
    };
    path.split('/').all(is_path_component)
}

/// `host[:port]`: dot-separated labels of letters, digits and inner `-`,
/// then an optional port of digits.
fn is_registry(s: &str) -> bool {
    let (host, port) = match s.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    let label = |l: &str| {
        let b = l.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
    };
    // Lowercase only: docker refuses an upper-case repository name, and
    // a host is matched without case anyway.
    !host.bytes().any(|b| b.is_ascii_uppercase())
        && host.split('.').all(label)
        && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `[a-z0-9]+ (sep [a-z0-9]+)*` with `sep` one of `.`, `_`, `__`, `-+`.
fn is_path_component(s: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let b = s.as_bytes();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &s[start..i];
        if !(matches!(sep, "." | "_" | "__") || sep.bytes().all(|c| c == b'-')) {
            return false;
        }
    }
    true
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
