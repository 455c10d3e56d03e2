//! The post-strip import check of a bundle tree, remembered in the cache by
//! the tree's contents: skipped when this exact tree already passed, narrowed
//! to the changed packages when only Python sources changed since the last
//! tree that passed.

use std::path::PathBuf;

use serde::Serialize;

use super::Error;
use crate::context::Context;
use crate::plan::Plan;
use crate::platform::Platform;

/// The post-strip import check, skipped when this exact tree (same file
/// contents, same platform, CPython and app start) already passed it: the
/// check under wine costs seconds, and a warm rebuild of unchanged inputs
/// need not pay them again. When the last tree built here passed and this
/// one differs from it only in Python sources of the app and of packages
/// (see [`changed_packages`]), only those packages and the app's start are
/// imported. `wine_prep` may hold a private prefix whose session is already
/// started. `digest` is the tree's inputs digest, marked when it passes.
#[allow(clippy::too_many_arguments)]
pub(super) fn import_check(
    plan: &Plan,
    platform: Platform,
    tree: &std::path::Path,
    site_packages: &std::path::Path,
    stripped: &crate::strip::Report,
    ctx: &Context<'_>,
    wine_prep: Option<&crate::wine::Background>,
    digest: &str,
) -> Result<(), Error> {
    let key = check_key(plan, platform, tree, ctx);
    let inputs_passed = || {
        let marker = inputs_passed_marker(digest, ctx);
        if !marker.is_file() {
            let _ = crate::fs::atomic_write_creating_dir(&marker, b"");
        }
    };
    if key.as_ref().is_some_and(|k| k.marker.is_file()) {
        ctx.reporter
            .debug("import check: this site-packages already passed (cached)");
        inputs_passed();
        return Ok(());
    }
    let last = last_passed_path(platform, tree, ctx);
    let only = key.as_ref().and_then(|k| {
        let passed: PassedTree =
            serde_json::from_slice(&fs_err::read(last.as_ref()?).ok()?).ok()?;
        if passed.salt != k.salt {
            return None;
        }
        let sp = site_packages.strip_prefix(tree).ok()?;
        let tops = crate::strip::check::top_level_names(site_packages).ok()?;
        changed_packages(&passed.files, &k.files, sp, &tops.into_iter().collect())
    });
    if let Some(only) = &only {
        ctx.reporter.debug(&format!(
            "import check: only Python sources changed since the last tree passed; checking {} and the app's start",
            if only.is_empty() {
                "no package".to_owned()
            } else {
                only.iter().cloned().collect::<Vec<_>>().join(", ")
            }
        ));
    }
    ctx.reporter
        .status("Checking", &format!("imports ({platform})"));
    let check = crate::strip::import_check(
        tree,
        site_packages,
        platform,
        ctx,
        stripped,
        Some(&plan.launch.target.spec()),
        wine_prep.and_then(crate::wine::Background::take_wine),
        only.as_ref(),
    )?;
    // A pass is remembered (packages this wine cannot judge would be judged the
    // same way again); a check skipped for want of an interpreter is not.
    if check.interpreter.is_some() {
        if let Some(k) = key {
            let _ = crate::fs::atomic_write_creating_dir(&k.marker, check.ok.join("\n").as_bytes());
            inputs_passed();
            if let Some(last) = last {
                let passed = PassedTree {
                    salt: k.salt,
                    files: k.files,
                };
                if let Ok(json) = serde_json::to_vec(&passed) {
                    let _ = crate::fs::atomic_write_creating_dir(&last, &json);
                }
            }
        }
    }
    Ok(())
}

/// Where the cache says that a tree built from the inputs the plan has now
/// (`digest`, from [`inputs_digest`](super::inputs_digest), which leaves the output folder out) passed its import
/// check: a build into a fresh output folder then expects its check cached
/// and starts no wine session ahead of it. Only a hint for that choice: the
/// check itself goes by the tree's contents.
pub(super) fn inputs_passed_marker(digest: &str, ctx: &Context<'_>) -> PathBuf {
    ctx.cache
        .marked(crate::cache::CHECKS)
        .join("inputs")
        .join(digest)
}

/// A tree's files (relative path → SHA-256).
type Listing = std::collections::BTreeMap<String, String>;

/// What the last passed check of a bundle tree saw: the key's salt and the
/// tree's files.
#[derive(Serialize, serde::Deserialize)]
struct PassedTree {
    salt: String,
    files: Listing,
}

/// The key of a tree's import check: what else it depends on (`salt`), its
/// files, and the marker that says it passed.
pub(super) struct CheckKey {
    salt: String,
    files: Listing,
    pub(super) marker: PathBuf,
}

/// Where the last passed check of the tree at `tree` is remembered.
fn last_passed_path(
    platform: Platform,
    tree: &std::path::Path,
    ctx: &Context<'_>,
) -> Option<PathBuf> {
    let tree = fs_err::canonicalize(tree).ok()?;
    let id = crate::fs::sha256_hex(format!("{}\n{}", platform.key(), tree.display()).as_bytes());
    Some(
        ctx.cache
            .marked(crate::cache::CHECKS)
            .join("last")
            .join(format!("{id}.json")),
    )
}

/// The top-level packages to import again when `now` differs from
/// `passed` (a tree that passed the check) only in Python sources: of the
/// app (`app/src`), of packages in site-packages (`sp`, relative to the
/// tree) that are there now (`tops`), and in the `RECORD`s of distributions
/// present in both (which list those sources' hashes). `None` when anything
/// else changed (the runtime, an extension, a `.pth`, a distribution added
/// or removed, its metadata), when a file was removed (another package may
/// import it: stripping is what this check guards against) or a new
/// top-level module appeared (it may shadow another): then everything is
/// checked. Packages that import an edited one need no check of their own:
/// the check is whether each module imports in the shipped runtime, and the
/// edited one is imported again (the app's start, always run, covers the
/// app's own chain).
fn changed_packages(
    passed: &Listing,
    now: &Listing,
    sp: &std::path::Path,
    tops: &std::collections::BTreeSet<String>,
) -> Option<std::collections::BTreeSet<String>> {
    use std::path::Path;
    let app_src = Path::new("app").join("src");
    if passed.keys().any(|p| !now.contains_key(p)) {
        return None;
    }
    let changed = now.iter().filter(|(p, h)| passed.get(*p) != Some(h));
    let mut names = std::collections::BTreeSet::new();
    for (p, _) in changed {
        let added = !passed.contains_key(p);
        let path = Path::new(p);
        let python = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("py" | "pyc")
        );
        if python && path.starts_with(&app_src) {
            continue;
        }
        let rest = path.strip_prefix(sp).ok()?;
        let parts: Vec<&str> = rest
            .components()
            .map(|c| c.as_os_str().to_str())
            .collect::<Option<_>>()?;
        match parts.as_slice() {
            [module] if python && !added => {
                let top = module.split('.').next()?;
                if !tops.contains(top) {
                    return None;
                }
                names.insert(top.to_owned());
            }
            [top, _, ..] if python => {
                if !tops.contains(*top) {
                    return None;
                }
                names.insert((*top).to_owned());
            }
            [dist, "RECORD"] if dist.ends_with(".dist-info") && !added => {}
            _ => return None,
        }
    }
    Some(names)
}

/// The key of `tree`'s import check as the tree is now, with the marker in
/// the cache that says it passed; `None` when the tree cannot be listed
/// (e.g. it does not exist).
pub(super) fn check_key(
    plan: &Plan,
    platform: Platform,
    tree: &std::path::Path,
    ctx: &Context<'_>,
) -> Option<CheckKey> {
    let hash = |p: &std::path::Path| ctx.cache.sha256_file(p);
    // The runtime's own additions (tkinter) are checked too: they are part of the key.
    let runtime_key = crate::strip::check::runtime_modules(tree, platform)
        .iter()
        .map(|m| {
            let listed = |dir: &std::path::Path| {
                tree_files(dir, &hash)
                    .map(|f| listing_hash("", &f))
                    .unwrap_or_default()
            };
            format!(
                "{m}:{}:{}",
                listed(&tree.join("python/Lib").join(m)),
                listed(&tree.join("python/tcl"))
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    // The whole tree: the app's sources and the launchers count, not only site-packages.
    let salt = format!(
        "{platform} {} {} {runtime_key}",
        plan.python.full,
        plan.launch.target.spec()
    );
    let files = tree_files(tree, &hash)?;
    let marker = ctx
        .cache
        .marked(crate::cache::CHECKS)
        .join(listing_hash(&salt, &files));
    Some(CheckKey {
        salt,
        files,
        marker,
    })
}

/// The files under `root` by relative path, with their SHA-256 from `hash`
/// (the cache's memo in a build); `None` when `root` cannot be walked.
fn tree_files(
    root: &std::path::Path,
    hash: &dyn Fn(&std::path::Path) -> std::io::Result<String>,
) -> Option<Listing> {
    let mut files = Listing::new();
    for e in walkdir::WalkDir::new(root) {
        let e = e.ok()?;
        if e.file_type().is_file() {
            let rel = e
                .path()
                .strip_prefix(root)
                .ok()?
                .to_string_lossy()
                .into_owned();
            files.insert(rel, hash(e.path()).ok()?);
        }
    }
    Some(files)
}

/// SHA-256 over `salt` and the sorted (relative path, content hash) list of
/// a tree. Contents, not sizes: an edit that keeps a file's size must check
/// again.
fn listing_hash(salt: &str, files: &Listing) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    for (p, sha) in files {
        h.update(p.as_bytes());
        h.update([0]);
        h.update(sha.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A passed import check is remembered by the tree's contents: an edit
    /// that keeps every size (one import renamed for another of the same
    /// length) is a new key, so the check runs again.
    #[test]
    fn the_check_key_follows_contents_not_sizes() {
        let d = tempfile::tempdir().unwrap();
        let app = d.path().join("app/src/pkg");
        fs_err::create_dir_all(&app).unwrap();
        fs_err::write(app.join("__init__.py"), "import abc\n").unwrap();
        let hash = |p: &std::path::Path| crate::fs::sha256_file(p);
        let key = |salt: &str| listing_hash(salt, &tree_files(d.path(), &hash).unwrap());
        let before = key("s");
        assert_eq!(key("s"), before);
        fs_err::write(app.join("__init__.py"), "import xyz\n").unwrap();
        let after = key("s");
        assert_ne!(after, before, "a same-size edit must change the key");
        assert_ne!(key("t"), after);
    }

    /// After a check passed, a tree that differs only in Python sources of
    /// the app or of packages checks those packages; anything else (an
    /// extension, the runtime, a distribution added, a `.pth`) checks all.
    #[test]
    fn only_changed_python_sources_narrow_the_check() {
        let sp = std::path::Path::new("python/Lib/site-packages");
        let listing = |pairs: &[(&str, &str)]| -> Listing {
            pairs
                .iter()
                .map(|(p, h)| {
                    let p = std::path::Path::new(p).to_string_lossy().into_owned();
                    (p, (*h).to_owned())
                })
                .collect()
        };
        let passed = listing(&[
            ("python/python.exe", "1"),
            ("python/Lib/os.py", "2"),
            ("python/Lib/site-packages/pyhash/__init__.py", "3"),
            ("python/Lib/site-packages/pyhash/server.py", "4"),
            ("python/Lib/site-packages/pyhash/_native.pyd", "5"),
            (
                "python/Lib/site-packages/pyhash-0.2.0.dist-info/RECORD",
                "6",
            ),
            ("python/Lib/site-packages/six.py", "7"),
            ("python/Lib/site-packages/fastapi/__init__.py", "8"),
            ("app/src/main.py", "9"),
        ]);
        let tops: std::collections::BTreeSet<String> =
            ["pyhash", "six", "fastapi"].map(String::from).into();
        let edit = |changes: &[(&str, Option<&str>)]| {
            let mut now = passed.clone();
            for (p, h) in changes {
                let p = std::path::Path::new(p).to_string_lossy().into_owned();
                match h {
                    Some(h) => now.insert(p, (*h).to_owned()),
                    None => now.remove(&p),
                };
            }
            changed_packages(&passed, &now, sp, &tops).map(|n| n.into_iter().collect::<Vec<_>>())
        };
        assert_eq!(edit(&[]), Some(vec![]));
        assert_eq!(
            edit(&[
                ("python/Lib/site-packages/pyhash/server.py", Some("x")),
                (
                    "python/Lib/site-packages/pyhash-0.2.0.dist-info/RECORD",
                    Some("y")
                ),
            ]),
            Some(vec!["pyhash".to_owned()])
        );
        assert_eq!(
            edit(&[
                ("python/Lib/site-packages/six.py", Some("x")),
                ("python/Lib/site-packages/fastapi/routing.py", Some("new")),
                ("app/src/main.py", Some("x")),
                ("app/src/extra.py", Some("new")),
            ]),
            Some(vec!["fastapi".to_owned(), "six".to_owned()])
        );
        for anything_else in [
            // A removed file may be one another package imports.
            ("python/Lib/site-packages/pyhash/server.py", None),
            ("app/src/main.py", None),
            // A new top-level module may shadow a package.
            ("python/Lib/site-packages/fastapi.py", Some("new")),
            ("python/Lib/site-packages/pyhash/_native.pyd", Some("x")),
            ("python/Lib/os.py", Some("x")),
            ("python/python.exe", Some("x")),
            ("python/Lib/site-packages/new.pth", Some("x")),
            (
                "python/Lib/site-packages/attrs-1.0.dist-info/RECORD",
                Some("x"),
            ),
            (
                "python/Lib/site-packages/pyhash-0.2.0.dist-info/RECORD",
                None,
            ),
            (
                "python/Lib/site-packages/pyhash-0.2.0.dist-info/METADATA",
                Some("x"),
            ),
            ("python/Lib/site-packages/attrs/__init__.py", Some("x")),
            ("app/src/data.json", Some("x")),
            ("app/LICENSE", Some("x")),
            ("scripts/run.sh", Some("x")),
        ] {
            assert_eq!(edit(&[anything_else]), None, "{anything_else:?}");
        }
    }
}
