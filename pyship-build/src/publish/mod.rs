//! Stage: publish the artifacts to a release on Gitea or Forgejo (or
//! GitHub, through the same [`Provider`] interface), idempotently.
//!
//! Why this shape: CI re-runs a failed release job, and Gitea allows several
//! assets of one name on a release, so every step must converge rather than
//! add. The release is found by tag and created only when missing (a 409 from
//! a concurrent or retried create — GitHub: 422 `already_exists` — means
//! "read it again"); name, notes and the prerelease
//! flag are patched when they differ. For each artifact every asset of the
//! same name is deleted, the file uploaded (streamed from disk), and the list
//! read again to check that exactly one asset of that name and size is there.
//! A failed upload is retried only after listing again, so a retry never
//! leaves a duplicate. `SHA256SUMS` goes last: when it is present, the rest is.
//! The Gitea behaviour this relies on is stated in the `gitea` module's docs.

mod api;
mod assets;
pub mod checksums;
mod deltas;
mod error;
mod gitea;
mod github;
pub mod notes;
mod steps;
mod target;
mod unchanged;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use assets::{parallel, publish_asset};
pub use checksums::{render as render_checksums, write_checksums};
pub(crate) use error::with_causes;
pub use error::Error;
pub use gitea::{supports_raw_upload, Gitea};
pub use github::Github;
pub use target::{check_server_url, is_loopback, server_url, split_repo, Target, Token};

use crate::config::Provider as ProviderKind;
use crate::context::Context;
use crate::error::escaped;
use crate::net::Backoff;
use crate::plan::{ArtifactKind, Plan};
use crate::report::{Progress, Reporter};

/// The checksum file's name; uploaded last.
pub const CHECKSUMS: &str = "SHA256SUMS";

/// What the caller chose.
#[derive(Debug, Clone)]
pub struct Options {
    /// Make no write request; return (and report) the planned actions.
    pub dry_run: bool,
    /// Files to publish. Empty: the plan's artifacts found in `plan.out_dir`,
    /// plus a `SHA256SUMS` written for them.
    pub artifacts: Vec<PathBuf>,
    /// Retries of connection errors, 429 and 5xx.
    pub backoff: Backoff,
    /// Uploads running at once (`SHA256SUMS` always alone, last).
    pub parallel: usize,
    /// The key that signs `manifest.json`; `None`: opened from
    /// `update.signing-key-env` when `update.public-keys` is set.
    pub signer: Option<Arc<crate::keys::Signer>>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            dry_run: false,
            artifacts: Vec::new(),
            backoff: Backoff::default(),
            parallel: 3,
            signer: None,
        }
    }
}

impl Options {
    /// Defaults, with the retry base delay from `PYSHIP_RETRY_BASE_MS` when set.
    pub fn from_env(env: &crate::env::Env) -> Self {
        let mut o = Self::default();
        if let Some(ms) = env
            .get(crate::env::PYSHIP_RETRY_BASE_MS)
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            o.backoff.base = Duration::from_millis(ms);
        }
        o
    }
}

/// A release as the server describes it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Release {
    pub id: u64,
    pub tag_name: String,
    /// GitHub sends `null` for an unset name or body.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub name: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub body: String,
    #[serde(default)]
    pub draft: bool,
    #[serde(default)]
    pub prerelease: bool,
    #[serde(default)]
    pub html_url: String,
    #[serde(default)]
    pub url: String,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

/// An asset (attachment) of a release.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Asset {
    pub id: u64,
    pub name: String,
    pub size: u64,
    #[serde(default)]
    pub browser_download_url: String,
    /// `sha256:<hex>` where the server computes it (GitHub); Gitea sends none.
    #[serde(default)]
    pub digest: Option<String>,
}

/// What a release should say.
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseFields {
    pub tag: String,
    pub target_commitish: Option<String>,
    pub name: String,
    pub body: String,
    pub prerelease: bool,
}

/// The answer to a create.
#[derive(Debug)]
pub enum Created {
    New(Release),
    /// 409: a release of this tag exists (created meanwhile): read it again.
    Conflict,
}

/// A release host. Gitea and Forgejo share [`Gitea`]. Implementations retry
/// their own requests except uploads (see the module doc).
pub trait Provider: Sync {
    /// The host's API client, with its token and retries.
    fn api(&self) -> &api::Api<'_>;
    /// The API URL of `tail` inside the repository (`releases`, …).
    fn url(&self, tail: &[&str]) -> reqwest::Url;
    /// `Ok(None)` when the repository has no release of this tag.
    fn release_by_tag(&self, tag: &str) -> Result<Option<Release>, Error>;
    fn create_release(&self, fields: &ReleaseFields) -> Result<Created, Error>;
    /// Both hosts take the same PATCH (see [`api::Api::update_release`]).
    fn update_release(&self, id: u64, fields: &ReleaseFields) -> Result<Release, Error> {
        self.api()
            .update_release(&self.url(&["releases", &id.to_string()]), fields)
    }
    fn list_assets(&self, release_id: u64) -> Result<Vec<Asset>, Error>;
    fn delete_asset(&self, release_id: u64, asset_id: u64) -> Result<(), Error>;
    /// The bytes of a (small) asset of `release`.
    fn download_asset(&self, release: &Release, asset: &Asset) -> Result<Vec<u8>, Error>;
    /// An asset of `release` of any size, into the new file `path` (the
    /// previous release's archive a delta is made from).
    fn download_asset_to(
        &self,
        release: &Release,
        asset: &Asset,
        path: &Path,
    ) -> Result<u64, Error>;
    /// One attempt to add `item` to the release `id`, streamed from its
    /// file; `bar` counts bytes sent.
    fn upload_asset(&self, id: u64, item: &Item, bar: Arc<dyn Progress>) -> Result<Asset, Error>;
}

/// One step, done or (with `dry_run`) planned.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    CreateRelease {
        tag: String,
        name: String,
        prerelease: bool,
        target_commitish: Option<String>,
    },
    UpdateRelease {
        id: u64,
        changed: Vec<String>,
    },
    KeepRelease {
        id: u64,
    },
    DeleteAsset {
        name: String,
        id: u64,
        size: u64,
    },
    Upload {
        name: String,
        size: u64,
    },
    /// The release already has exactly this file (name, size, SHA-256).
    KeepAsset {
        name: String,
        size: u64,
    },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::CreateRelease {
                tag, prerelease, ..
            } => write!(
                f,
                "create release {tag}{}",
                if *prerelease { " (pre-release)" } else { "" }
            ),
            Action::UpdateRelease { id, changed } => {
                write!(f, "update release {id} ({})", changed.join(", "))
            }
            Action::KeepRelease { id } => write!(f, "keep release {id} as it is"),
            Action::DeleteAsset { name, id, size } => {
                write!(f, "delete asset {} (id {id}, {size} bytes)", escaped(name))
            }
            Action::Upload { name, size } => write!(f, "upload {name} ({size} bytes)"),
            Action::KeepAsset { name, size } => {
                write!(f, "keep asset {name} ({size} bytes, unchanged)")
            }
        }
    }
}

/// The release and its assets after the run.
#[derive(Debug, Clone, Serialize)]
pub struct Published {
    pub dry_run: bool,
    pub provider: ProviderKind,
    pub server: String,
    pub repo: String,
    pub tag: String,
    pub prerelease: bool,
    /// `None` only in a dry run when the release does not exist yet.
    pub release: Option<ReleaseRef>,
    /// This run's files: after a real run as the server lists them.
    pub assets: Vec<PublishedAsset>,
    pub actions: Vec<Action>,
    /// What installed apps trust in this release: `signed` (with the key id)
    /// or `unsigned`, in plain words.
    pub signatures: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReleaseRef {
    pub id: u64,
    /// The release page.
    pub url: String,
    pub api_url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PublishedAsset {
    pub name: String,
    pub size: u64,
    /// Download URL (`None` in a dry run).
    pub url: Option<String>,
}

/// One file to publish.
#[derive(Debug, Clone)]
pub struct Item {
    name: String,
    path: PathBuf,
    size: u64,
    sha256: String,
}

/// Publish `plan`'s artifacts (or `opts.artifacts`) to the configured release.
pub fn run(plan: &Plan, opts: &Options, ctx: &Context<'_>) -> Result<Published, Error> {
    let dry_run = opts.dry_run || ctx.dry_run;
    let cfg = &plan.config.publish;
    let target = Target::resolve(cfg, ctx.env, &plan.project.config_source)?;
    let (signer, signatures) = signer(plan, opts, dry_run, ctx)?;
    // Every line this stage reports goes through the token's redaction.
    let redacting = Redacting {
        inner: ctx.reporter,
        token: &target.token,
    };
    let http = ctx.http()?;
    let timeouts = ctx.timeouts()?;
    let api = |auth| api::Api::new(&target, http, opts.backoff, timeouts, &redacting, auth);
    let provider: Box<dyn Provider> = match cfg.provider {
        ProviderKind::Gitea | ProviderKind::Forgejo => {
            Box::new(Gitea::new(&target, api(gitea::AUTH)))
        }
        ProviderKind::Github => Box::new(Github::new(&target, api(github::AUTH))),
    };
    let items = collect_items(plan, opts, dry_run, ctx, signer.as_deref(), &*provider)?;
    let tag = plan.version.version.tag();
    let prerelease = plan.version.version.is_prerelease();
    let commit = plan
        .commit
        .clone()
        .or_else(|| ctx.env.get(crate::env::GITHUB_SHA).map(str::to_owned));
    let download_url = |name: &str| {
        target
            .join(&[
                &target.owner,
                &target.repo,
                "releases",
                "download",
                &tag,
                name,
            ])
            .to_string()
    };
    let fields = ReleaseFields {
        tag: tag.clone(),
        target_commitish: commit.clone(),
        name: format!("{} {}", plan.name, tag),
        body: notes::render(
            plan,
            &tag,
            prerelease,
            commit.as_deref(),
            &items,
            &download_url,
        )?,
        prerelease,
    };
    let reporter: &dyn Reporter = &redacting;
    reporter.status(
        "Publishing",
        &format!(
            "{} {tag} to {}",
            plan.name,
            target.join(&[&target.owner, &target.repo])
        ),
    );
    // Decide with reads only, then report (dry run) or do the same steps.
    let found = provider.release_by_tag(&tag)?;
    let mut steps = steps::decide(&*provider, found, &fields, &items, reporter)?;

    let published = |release: Option<&Release>, assets: Vec<PublishedAsset>, actions| Published {
        dry_run,
        provider: cfg.provider,
        server: target.server.to_string(),
        repo: target.full_name(),
        tag: tag.clone(),
        prerelease,
        release: release.map(|r| ReleaseRef {
            id: r.id,
            url: target.token.redact(&r.html_url),
            api_url: target.token.redact(&r.url),
        }),
        assets,
        actions,
        signatures: signatures.clone(),
    };

    if dry_run {
        let actions = steps.planned(&fields);
        steps::report_planned(&actions, &tag, reporter);
        let assets = items
            .iter()
            .map(|i| PublishedAsset {
                name: i.name.clone(),
                size: i.size,
                url: None,
            })
            .collect();
        return Ok(published(steps.release.existing(), assets, actions));
    }

    let mut actions = Vec::new();
    let p = &*provider;
    let release = match steps::apply_release(p, &steps.release, &fields, reporter, &mut actions)? {
        Some(r) => r,
        None => {
            reporter.debug("409: the release exists now; reading it again");
            let found = provider
                .release_by_tag(&tag)?
                .ok_or_else(|| Error::Vanished { tag: tag.clone() })?;
            steps = steps::decide(p, Some(found), &fields, &items, reporter)?;
            steps::apply_release(p, &steps.release, &fields, reporter, &mut actions)?
                .ok_or_else(|| Error::Vanished { tag: tag.clone() })?
        }
    };
    for item in &steps.keep {
        steps::report_kept(&item.name, item.size, reporter);
        actions.push(steps::keep_asset(item));
    }
    let (last, first): (Vec<&Item>, Vec<&Item>) =
        steps.send.into_iter().partition(|i| i.name == CHECKSUMS);
    let backoff = opts.backoff;
    for group in [first, last] {
        let done = parallel(&group, opts.parallel.max(1), |item| {
            publish_asset(p, &release, item, &backoff, reporter)
        })?;
        actions.extend(done.into_iter().flatten());
    }
    // The final state, read back: a release that is still a draft, or lost its
    // flag, was not published whatever the answers said.
    let check = provider
        .release_by_tag(&tag)?
        .ok_or_else(|| Error::Gone { tag: tag.clone() })?;
    if check.draft || check.prerelease != prerelease || check.id != release.id {
        return Err(Error::NotPublished {
            tag: tag.clone(),
            draft: check.draft,
            prerelease: check.prerelease,
        });
    }
    let listed = provider.list_assets(release.id)?;
    let assets = items
        .iter()
        .filter_map(|i| listed.iter().find(|a| a.name == i.name))
        .map(|a| PublishedAsset {
            name: a.name.clone(),
            size: a.size,
            url: Some(target.token.redact(&a.browser_download_url)),
        })
        .collect();
    reporter.status(
        "Published",
        &format!(
            "{} ({} assets)",
            escaped(target.token.redact(&release.html_url)),
            items.len()
        ),
    );
    Ok(published(Some(&release), assets, actions))
}

/// The key that signs this release's manifest (`None`: unsigned, or in a dry
/// run a key that cannot be opened), and the release's words on signatures.
fn signer(
    plan: &Plan,
    opts: &Options,
    dry_run: bool,
    ctx: &Context<'_>,
) -> Result<(Option<Arc<crate::keys::Signer>>, String), Error> {
    let signer = match &opts.signer {
        Some(s) => Some(s.clone()),
        None => match crate::keys::Signer::from_env(&plan.config.update, ctx.env) {
            Ok(s) => s.map(Arc::new),
            // A dry run says what is missing and goes on.
            Err(e) if dry_run => {
                ctx.reporter.warn(&format!("{e}; a real run fails here"));
                None
            }
            Err(e) => return Err(e.into()),
        },
    };
    let signatures = match &signer {
        Some(s) => format!("signed: manifest.json.minisig by key {}", s.key_id),
        None if plan.config.update.public_keys.is_empty() => crate::plan::signatures_statement(&[]),
        None => "signing key missing (dry run)".into(),
    };
    if signer.is_none() && plan.config.update.public_keys.is_empty() {
        ctx.reporter.warn(&format!(
            "release {} is {signatures}",
            plan.version.version.tag()
        ));
    }
    Ok((signer, signatures))
}

/// A reporter that replaces the token in every line before passing it on.
struct Redacting<'a> {
    inner: &'a dyn Reporter,
    token: &'a Token,
}

impl Reporter for Redacting<'_> {
    fn status(&self, verb: &str, message: &str) {
        self.inner.status(verb, &self.token.redact(message));
    }
    fn warn(&self, message: &str) {
        self.inner.warn(&self.token.redact(message));
    }
    fn debug(&self, message: &str) {
        self.inner.debug(&self.token.redact(message));
    }
    fn progress(&self, label: &str, total: Option<u64>, bytes: bool) -> Box<dyn Progress> {
        self.inner.progress(&self.token.redact(label), total, bytes)
    }
}

/// The files of this run: given, or the plan's artifacts present in its out
/// dir, with `manifest.json` (and its signature) made from them whatever
/// built them, plus a fresh `SHA256SUMS` (none written in a dry run).
fn collect_items(
    plan: &Plan,
    opts: &Options,
    dry_run: bool,
    ctx: &Context<'_>,
    signer: Option<&crate::keys::Signer>,
    provider: &dyn Provider,
) -> Result<Vec<Item>, Error> {
    let item = |path: &Path| -> Result<Item, Error> {
        let read_err = |source| Error::Read {
            path: path.to_owned(),
            source,
        };
        let size = fs_err::metadata(path).map_err(read_err)?.len();
        let sha256 = crate::fs::sha256_file(path).map_err(read_err)?;
        Ok(Item {
            name: checksums::file_name(path),
            path: path.to_owned(),
            size,
            sha256,
        })
    };
    if !opts.artifacts.is_empty() {
        let mut items = opts
            .artifacts
            .iter()
            .map(|p| item(p))
            .collect::<Result<Vec<_>, _>>()?;
        // Stable: SHA256SUMS last, the rest in the given order.
        items.sort_by_key(|i| i.name == CHECKSUMS);
        return Ok(items);
    }
    // The manifest and its signature are made below, never taken as found.
    let made_here = [
        ArtifactKind::Checksums,
        ArtifactKind::Manifest,
        ArtifactKind::Signature,
    ];
    let wanted: Vec<&crate::plan::Artifact> = plan
        .artifacts
        .iter()
        .filter(|a| !made_here.contains(&a.kind))
        .collect();
    let present: Vec<PathBuf> = wanted
        .iter()
        .filter(|a| a.path.is_file())
        .map(|a| a.path.clone())
        .collect();
    if present.is_empty() {
        return Err(Error::NoArtifacts {
            dir: plan.out_dir.clone(),
            expected: wanted.iter().map(|a| a.file_name.clone()).collect(),
        });
    }
    let mut items = present
        .iter()
        .map(|p| item(p))
        .collect::<Result<Vec<_>, _>>()?;
    if dry_run {
        let files: Vec<(&crate::plan::Artifact, &Path)> = wanted
            .iter()
            .filter(|a| {
                a.path.is_file()
                    && (crate::manifest::install_type(a).is_some() || a.kind == ArtifactKind::Sbom)
            })
            .map(|a| (*a, a.path.as_path()))
            .collect();
        let m = crate::manifest::build(plan, ctx.env, &files).map_err(Error::Manifest)?;
        let json = serde_json::to_string_pretty(&m).expect("the manifest serializes") + "\n";
        let path = plan.out_dir.join("manifest.json");
        items.push(Item {
            name: "manifest.json".into(),
            size: json.len() as u64,
            sha256: crate::fs::sha256_hex(json.as_bytes()),
            path,
        });
        if signer.is_some() {
            items.push(Item {
                name: crate::plan::SIGNATURE_FILE.into(),
                path: plan.out_dir.join(crate::plan::SIGNATURE_FILE),
                size: 0,
                sha256: String::new(),
            });
        }
    } else {
        let made = deltas::make_all(plan, provider, ctx);
        for (_, d) in &made {
            items.push(item(&d.path)?);
        }
        let written = crate::manifest::write_with_deltas(plan, ctx.env, signer, false, &made)
            .map_err(Error::Manifest)?;
        for (kind, file) in written.missing_install_types(plan) {
            ctx.reporter.warn(&format!(
                "this release has no asset for install type {} ({file} is not in {}): apps installed that way cannot update from it",
                kind.as_str(),
                plan.out_dir.display()
            ));
        }
        items.push(item(&written.path)?);
        if let Some(sig) = &written.signature {
            items.push(item(sig)?);
        }
    }
    let sums: String = items
        .iter()
        .map(|i| format!("{}  {}\n", i.sha256, i.name))
        .collect();
    let sums_path = plan.out_dir.join(CHECKSUMS);
    if dry_run {
        items.push(Item {
            name: CHECKSUMS.into(),
            path: sums_path,
            size: sums.len() as u64,
            sha256: crate::fs::sha256_hex(sums.as_bytes()),
        });
    } else {
        crate::fs::atomic_write(&sums_path, sums.as_bytes()).map_err(Error::Checksums)?;
        items.push(item(&sums_path)?);
    }
    Ok(items)
}
