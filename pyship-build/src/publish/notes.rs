//! Release notes: `release-notes.md.j2` (overridable per project) rendered
//! with a download table. Values are escaped for Markdown by the `md`,
//! `md_code` and `md_url` filters added here.

use super::{Error, Item};
use crate::plan::Plan;
use crate::templates::{self, Templates};

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
    let t = Templates::new(project_dir);
    let (src, origin) = t.source(TEMPLATE)?;
    let mut env = templates::environment();
    env.add_filter("md", |s: String| md(&s));
    env.add_filter("md_code", |s: String| md_code(&s));
    env.add_filter("md_url", |s: String| md_url(&s));
    let err = |source| templates::Error::Render {
        name: TEMPLATE.to_owned(),
        origin: origin.clone(),
        source,
    };
    let tmpl = env.template_from_named_str(TEMPLATE, &src).map_err(err)?;
    Ok(tmpl.render(minijinja::value::Serde(notes)).map_err(err)?)
}

/// Markdown text, also safe inside a table cell: punctuation that Markdown
/// or HTML would interpret is backslash-escaped, line breaks become spaces.
pub fn md(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '!' | '|'
            | '<' | '>' | '~' | '&' => {
                o.push('\\');
                o.push(c);
            }
            '\n' | '\r' => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// Inside a single-backtick code span in a table cell.
pub fn md_code(s: &str) -> String {
    s.replace(['`', '\n', '\r'], "").replace('|', "\\|")
}

/// A URL inside `<…>`: spaces, `<`, `>` and `|` percent-encoded.
pub fn md_url(s: &str) -> String {
    s.replace(' ', "%20")
        .replace('<', "%3C")
        .replace('>', "%3E")
        .replace('|', "%7C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escapes() {
        assert_eq!(md("a|b *c* [d](e)"), "a\\|b \\*c\\* \\[d\\]\\(e\\)");
        assert_eq!(md("x\ny"), "x y");
        assert_eq!(md_code("ab`|c"), "ab\\|c");
        assert_eq!(md_url("http://h/a b>"), "http://h/a%20b%3E");
        assert_eq!(crate::report::human_bytes(512), "512 B");
        assert_eq!(crate::report::human_bytes(1536), "1.5 KiB");
    }
}
