//! What a publish does, decided before its first write request.
//!
//! [`decide`] reads the release and its assets and returns the [`Steps`]:
//! create, update or keep the release, which files it already has, which to
//! upload. A dry run reports [`Steps::planned`] and stops; a real run walks
//! the same steps ([`apply_release`], then the uploads in `run`), so the two
//! cannot disagree about what is done.

use super::{unchanged, Action, Asset, Error, Item, Provider, Release, ReleaseFields, CHECKSUMS};
use crate::error::escaped;
use crate::report::Reporter;

/// What this run does to the release itself.
pub(super) enum ReleaseStep {
    /// The tag has no release yet.
    Create,
    /// The release's name, notes or flags differ (the names of what differs).
    Update {
        release: Release,
        changed: Vec<String>,
    },
    /// The release says what it should.
    Keep(Release),
}

impl ReleaseStep {
    /// The release as the server has it before this run; `None` when it is
    /// still to be created.
    pub(super) fn existing(&self) -> Option<&Release> {
        match self {
            ReleaseStep::Create => None,
            ReleaseStep::Update { release, .. } | ReleaseStep::Keep(release) => Some(release),
        }
    }

    fn action(&self, fields: &ReleaseFields) -> Action {
        match self {
            ReleaseStep::Create => Action::CreateRelease {
                tag: fields.tag.clone(),
                name: fields.name.clone(),
                prerelease: fields.prerelease,
                target_commitish: fields.target_commitish.clone(),
            },
            ReleaseStep::Update { release, changed } => Action::UpdateRelease {
                id: release.id,
                changed: changed.clone(),
            },
            ReleaseStep::Keep(release) => Action::KeepRelease { id: release.id },
        }
    }
}

/// Every step of a run.
pub(super) struct Steps<'a> {
    pub(super) release: ReleaseStep,
    /// The release's assets before this run (none for a release to create).
    pub(super) existing: Vec<Asset>,
    /// Files the release already has: the same name, size and SHA-256.
    pub(super) keep: Vec<&'a Item>,
    /// Files to upload, each after deleting the assets of its name.
    pub(super) send: Vec<&'a Item>,
}

/// The steps that bring the release of `fields.tag` (`found`, as the server
/// has it) to `fields` and `items`. Reads only.
pub(super) fn decide<'a>(
    provider: &dyn Provider,
    found: Option<Release>,
    fields: &ReleaseFields,
    items: &'a [Item],
    reporter: &dyn Reporter,
) -> Result<Steps<'a>, Error> {
    let release = match found {
        None => ReleaseStep::Create,
        Some(release) => match changed_fields(&release, fields) {
            changed if changed.is_empty() => ReleaseStep::Keep(release),
            changed => ReleaseStep::Update { release, changed },
        },
    };
    let (existing, known) = match release.existing() {
        Some(r) => {
            let existing = provider.list_assets(r.id)?;
            let known = unchanged::known_hashes(provider, r, &existing, reporter);
            (existing, known)
        }
        None => Default::default(),
    };
    let (mut keep, mut send): (Vec<&Item>, Vec<&Item>) = items
        .iter()
        .partition(|i| unchanged::is_unchanged(i, &existing, &known));
    // When anything is uploaded, SHA256SUMS goes again too, so that it stays
    // the newest upload (which is what makes its hashes trusted next time).
    if !send.is_empty() {
        if let Some(pos) = keep.iter().position(|i| i.name == CHECKSUMS) {
            send.push(keep.remove(pos));
        }
    }
    Ok(Steps {
        release,
        existing,
        keep,
        send,
    })
}

/// What differs between the release and what it should say. A draft (made
/// by hand, or left by a tool that stopped halfway) is published: the run is
/// a release, and a draft is invisible to users.
fn changed_fields(r: &Release, fields: &ReleaseFields) -> Vec<String> {
    [
        ("name", r.name != fields.name),
        ("body", r.body.trim_end() != fields.body.trim_end()),
        ("prerelease", r.prerelease != fields.prerelease),
        ("draft", r.draft),
    ]
    .into_iter()
    .filter(|(_, differs)| *differs)
    .map(|(name, _)| name.to_owned())
    .collect()
}

impl Steps<'_> {
    /// The actions of the run in the order it takes them.
    pub(super) fn planned(&self, fields: &ReleaseFields) -> Vec<Action> {
        let mut actions = vec![self.release.action(fields)];
        actions.extend(self.keep.iter().map(|i| keep_asset(i)));
        for item in &self.send {
            actions.extend(
                self.existing
                    .iter()
                    .filter(|a| a.name == item.name)
                    .map(|a| Action::DeleteAsset {
                        name: a.name.clone(),
                        id: a.id,
                        size: a.size,
                    }),
            );
            actions.push(Action::Upload {
                name: item.name.clone(),
                size: item.size,
            });
        }
        actions
    }
}

/// The action for a file the release already has.
pub(super) fn keep_asset(item: &Item) -> Action {
    Action::KeepAsset {
        name: item.name.clone(),
        size: item.size,
    }
}

/// Reports `actions` as a dry run's plan, one line each.
pub(super) fn report_planned(actions: &[Action], tag: &str, reporter: &dyn Reporter) {
    for action in actions {
        match action {
            Action::CreateRelease { .. } => {
                reporter.status("Would create", &format!("release {tag}"));
            }
            Action::UpdateRelease { changed, .. } => {
                reporter.status(
                    "Would update",
                    &format!("release {tag} ({})", changed.join(", ")),
                );
            }
            Action::KeepRelease { id } => reporter.debug(&format!("release {id} is up to date")),
            Action::KeepAsset { name, size } => report_kept(name, *size, reporter),
            Action::DeleteAsset { name, id, size } => reporter.status(
                "Would delete",
                &format!("{} (asset {id}, {size} bytes)", escaped(name)),
            ),
            Action::Upload { name, size } => {
                reporter.status("Would upload", &format!("{name} ({size} bytes)"));
            }
        }
    }
}

/// The line for a file left as it is on the release.
pub(super) fn report_kept(name: &str, size: u64, reporter: &dyn Reporter) {
    reporter.status(
        "Unchanged",
        &format!("{name} ({size} bytes, the same SHA-256 as on the release)"),
    );
}

/// Does the release step; `Ok(None)` when the create met a release of the
/// same tag made meanwhile (a 409, or GitHub's 422 `already_exists`): the
/// caller reads it again and decides anew.
pub(super) fn apply_release(
    provider: &dyn Provider,
    step: &ReleaseStep,
    fields: &ReleaseFields,
    reporter: &dyn Reporter,
    actions: &mut Vec<Action>,
) -> Result<Option<Release>, Error> {
    let release = match step {
        ReleaseStep::Keep(r) => {
            reporter.debug(&format!("release {} is up to date", r.id));
            r.clone()
        }
        ReleaseStep::Update { release, changed } => {
            reporter.status(
                "Updating",
                &format!("release {} ({})", release.tag_name, changed.join(", ")),
            );
            provider.update_release(release.id, fields)?
        }
        ReleaseStep::Create => {
            reporter.status("Creating", &format!("release {}", fields.tag));
            match provider.create_release(fields)? {
                super::Created::New(r) => r,
                super::Created::Conflict => return Ok(None),
            }
        }
    };
    actions.push(step.action(fields));
    Ok(Some(release))
}
