//! Release notes: `release-notes.md.j2` (overridable per project) rendered
//! with a download table. Values are escaped for Markdown by the `md`,
//! `md_code` and `md_url` filters added here.

use super::{Error, Item};
use crate::plan::Plan;
use crate::templates::{self, Templates};

pub const TEMPLATE: &str = "release-notes.md.j2";

#[derive(serde::Serialize)]
struct NoteAsset<'a> {
    name: &'a str,
    size: u64,
    size_human: String,
    url: String,
    sha256: &'a str,
}

pub(super) fn render(
    plan: &Plan,
    tag: &str,
    prerelease: bool,
    commit: Option<&str>,
    items: &[Item],
    download_url: &dyn Fn(&str) -> String,
) -> Result<String, Error> {
    let assets: Vec<NoteAsset<'_>> = items
        .iter()
        .map(|i| NoteAsset {
            name: &i.name,
            size: i.size,
            size_human: human(i.size),
            url: download_url(&i.name),
            sha256: &i.sha256,
        })
        .collect();
    #[derive(serde::Serialize)]
    struct Ctx<'a> {
        name: &'a str,
        tag: &'a str,
        version: String,
        pep440: String,
        prerelease: bool,
        commit: Option<&'a str>,
        assets: Vec<NoteAsset<'a>>,
    }
    let ctx = Ctx {
        name: &plan.name,
        tag,
        version: plan.version.version.semver(),
        pep440: plan.version.version.pep440(),
        prerelease,
        commit,
        assets,
    };
    let t = Templates::new(Some(&plan.project.root));
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
    Ok(tmpl.render(minijinja::value::Serde(ctx)).map_err(err)?)
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

fn human(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
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
        assert_eq!(human(512), "512 B");
        assert_eq!(human(1536), "1.5 KiB");
    }
}
