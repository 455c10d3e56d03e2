//! The actions the generated workflows use, each pinned by commit.
//!
//! Why pinned by commit: a tag can be moved to other code after a workflow
//! was reviewed (zizmor's `unpinned-uses`); the version stays in a comment
//! for the reader and for update tools. Why the artifact actions differ by
//! CI system: `actions/upload-artifact` and `download-artifact` v4 speak a
//! protocol that Gitea's and Forgejo's runners do not offer to them (they
//! stop with `GHESNotSupportedError`), while v3 works there; github.com no
//! longer serves v3, so GitHub gets v4. The `-node20` builds of v3 are used:
//! runners dropped Node 16.

use serde::Serialize;

use super::Ci;

/// One action at one commit.
#[derive(Debug, Clone, Copy)]
pub struct Pinned {
    pub repo: &'static str,
    pub sha: &'static str,
    pub version: &'static str,
}

impl Pinned {
    /// `owner/name@sha  # version`, what a `uses:` line holds.
    pub fn uses(&self) -> String {
        format!("{}@{}  # {}", self.repo, self.sha, self.version)
    }
}

/// Declares each pin as a constant, one line each: `NAME = "repo" @ "sha" # "version";`.
macro_rules! pinned {
    ($($(#[$doc:meta])* $name:ident = $repo:literal @ $sha:literal # $version:literal;)*) => {
        $(
            $(#[$doc])*
            pub const $name: Pinned = Pinned { repo: $repo, sha: $sha, version: $version };
        )*
    };
}

pinned! {
    CHECKOUT = "actions/checkout" @ "11bd71901bbe5b1630ceea73d27597364c9af683" # "v4.2.2";
    SETUP_PYTHON = "actions/setup-python" @ "a26af69be951a213d495a4c3e4e4022e16d87065" # "v5.6.0";
    /// The cache's read half: the release workflow restores with it and saves
    /// with [`CACHE_SAVE`] only what is checked on use (zizmor's
    /// `cache-poisoning` flags `actions/cache` in a tag-triggered workflow).
    CACHE_RESTORE = "actions/cache/restore" @ "5a3ec84eff668545956fd18022155c47e93e2684" # "v4.2.3";
    CACHE_SAVE = "actions/cache/save" @ "5a3ec84eff668545956fd18022155c47e93e2684" # "v4.2.3";
    UPLOAD_ARTIFACT_V3 = "actions/upload-artifact" @ "c24449f33cd45d4826c6702db7e49f7cdb9b551d" # "v3.2.1-node20";
    DOWNLOAD_ARTIFACT_V3 = "actions/download-artifact" @ "246d7188e736d3686f6d19628d253ede9697bd55" # "v3-node20";
    UPLOAD_ARTIFACT_V4 = "actions/upload-artifact" @ "ea165f8d65b6e75b540449e92b4886f43607fa02" # "v4.6.2";
    DOWNLOAD_ARTIFACT_V4 = "actions/download-artifact" @ "d3f86a106a0bac45b974a628896c90dbdf5c8093" # "v4.3.0";
}

/// The `uses:` values for one CI system (the templates' `actions`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Actions {
    pub checkout: String,
    pub setup_python: String,
    pub cache_restore: String,
    pub cache_save: String,
    pub upload_artifact: String,
    pub download_artifact: String,
}

impl Actions {
    pub fn for_ci(ci: Ci) -> Self {
        let (up, down) = match ci {
            Ci::Github => (UPLOAD_ARTIFACT_V4, DOWNLOAD_ARTIFACT_V4),
            Ci::Gitea | Ci::None => (UPLOAD_ARTIFACT_V3, DOWNLOAD_ARTIFACT_V3),
        };
        Self {
            checkout: CHECKOUT.uses(),
            setup_python: SETUP_PYTHON.uses(),
            cache_restore: CACHE_RESTORE.uses(),
            cache_save: CACHE_SAVE.uses(),
            upload_artifact: up.uses(),
            download_artifact: down.uses(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pin_is_a_full_commit() {
        for p in [
            CHECKOUT,
            SETUP_PYTHON,
            CACHE_RESTORE,
            CACHE_SAVE,
            UPLOAD_ARTIFACT_V3,
            DOWNLOAD_ARTIFACT_V3,
            UPLOAD_ARTIFACT_V4,
            DOWNLOAD_ARTIFACT_V4,
        ] {
            assert_eq!(p.sha.len(), 40, "{}", p.repo);
            assert!(p.sha.bytes().all(|b| b.is_ascii_hexdigit()), "{}", p.repo);
        }
    }
}
