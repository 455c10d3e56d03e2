//! Release notes: `release-notes.md.j2` (overridable per project) rendered
//! with a download table. Values are escaped for Markdown by the `md`,
//! `md_code` and `md_url` filters of [`crate::templates::escape`].

use super::{Error, Item};
use crate::plan::Plan;
use crate::templates::Templates;

pub const TEMPLATE: &str = "release-notes.md.j2";

/// One row of the download table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NoteAsset {
    pub name: String,
    pub size: u64,
    pub size_human: String,
    pub url: String,
    pub sha256: String,
}

/// Everything the notes template sees.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Notes {
    pub name: String,
    pub tag: String,
    /// semver spelling
    pub version: String,
    pub pep440: String,
    pub prerelease: bool,
    pub commit: Option<String>,
    pub assets: Vec<NoteAsset>,
}

pub(super) fn render(
    plan: &Plan,
    tag: &str,
    prerelease: bool,
    commit: Option<&str>,
    items: &[Item],
    download_url: &dyn Fn(&str) -> String,
) -> Result<String, Error> {
    let notes = Notes {
        name: plan.name.clone(),
        tag: tag.to_owned(),
        version: plan.version.version.semver(),
        pep440: plan.version.version.pep440(),
        prerelease,
        commit: commit.map(str::to_owned),
        assets: items
            .iter()
            .map(|i| NoteAsset {
                name: i.name.clone(),
                size: i.size,
                size_human: crate::report::human_bytes(i.size),
                url: download_url(&i.name),
                sha256: i.sha256.clone(),
            })
            .collect(),
    };
    release_notes(&notes, Some(&plan.project.config_dir))
}

/// Render `release-notes.md.j2` (the project's override in
/// `project_dir/templates/` when there is one).
pub fn release_notes(
    notes: &Notes,
    project_dir: Option<&std::path::Path>,
) -> Result<String, Error> {
    Ok(Templates::new(project_dir).render(TEMPLATE, notes)?)
}
