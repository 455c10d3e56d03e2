//! The rule engine: presets and user globs, decided in one walk of site-packages.
//!
//! Every rule is a glob relative to site-packages with a reason. A directory rule
//! removes the whole directory; `keep` globs win over every rule (a kept
//! directory keeps everything under it). Rules that could break an app carry a
//! check that runs on the walked tree before anything is decided: test folders
//! must be test suites that no other module imports, build-only packages must
//! not be required by an installed distribution, and a `.py` goes only when a
//! compiled extension with the same name shadows it.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use rayon::prelude::*;

use super::{Error, Options};

/// What a rule's glob is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// Directories: the whole directory goes.
    Dir,
    /// Files.
    File,
    /// Both (user `remove` globs).
    Any,
}

/// A safety check that must pass before a match counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    None,
    /// A test suite (has `test_*.py`, `*_test.py` or `conftest.py`) that no
    /// module outside it imports.
    TestSuite,
    /// A build-only package no installed distribution requires.
    BuildOnly,
    /// A `.py` with a compiled extension module of the same name beside it.
    ShadowedByExtension,
}

/// One rule of a preset.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RuleDef {
    pub id: &'static str,
    pub globs: &'static [&'static str],
    pub target: Target,
    pub check: Check,
    pub reason: &'static str,
}

const fn rule(
    id: &'static str,
    globs: &'static [&'static str],
    target: Target,
    reason: &'static str,
) -> RuleDef {
    RuleDef {
        id,
        globs,
        target,
        check: Check::None,
        reason,
    }
}

/// The names accepted in `strip.presets`.
pub const PRESETS: &[&str] = &[
    "generic", "numpy", "opencv", "pillow", "zeroconf", "tkinter",
];

/// Presets whose rules apply to the runtime folder (`python/`), not to
/// site-packages; their globs are relative to that folder.
pub const RUNTIME_PRESETS: &[&str] = &["tkinter"];

/// The rules of a runtime preset ([`RUNTIME_PRESETS`]). `tkinter`: optional
/// trims of what `windows.tkinter = true` added. Never the Tcl/Tk library
/// files Tk loads at start-up (`init.tcl`, `tk.tcl`, `ttk/`, the `tcl8/`
/// modules such as msgcat): the e2e tests start Tk under wine after it.
pub(crate) fn runtime_preset(name: &str) -> Option<Vec<RuleDef>> {
    Some(match name {
        "tkinter" => vec![
            rule(
                "link-libs",
                &["tcl/**/*.{lib,def,exp}"],
                Target::File,
                "import and static libraries and linker files of the Tcl/Tk build, never loaded",
            ),
            rule(
                "build-config",
                &["tcl/*Config.sh", "tcl/{cmake,nmake,pkgconfig}"],
                Target::Any,
                "build configuration of Tcl/Tk (tclConfig.sh, nmake and CMake files), for compiling against Tcl",
            ),
            rule(
                "tzdata",
                &["tcl/tcl8*/tzdata"],
                Target::Dir,
                "Tcl's time zone database: only `clock` with a named -timezone reads it (the local zone falls back to the system's rules)",
            ),
            rule(
                "clock-msgs",
                &["tcl/tcl8*/msgs"],
                Target::Dir,
                "Tcl's `clock -locale` month and day names; Tk's own messages (tk8.x/msgs) stay",
            ),
            rule(
                "tcl-packages",
                &["tcl/{sqlite3*,itcl*,tdbc*,thread*}"],
                Target::Dir,
                "Tcl extension packages of the Tcl build (SQLite, [incr Tcl], TDBC, Thread): tkinter never loads them, only a `package require` in the app's own Tcl code would",
            ),
            rule(
                "demos",
                &["tcl/tk8*/demos"],
                Target::Dir,
                "Tk's widget demos",
            ),
            rule(
                "tests",
                &["Lib/tkinter/test"],
                Target::Dir,
                "tkinter's own test suite",
            ),
        ],
        _ => return None,
    })
}

/// Build-only distributions and the top-level names each installs.
const BUILD_ONLY: &[(&str, &[&str])] = &[
    ("pip", &["pip"]),
    (
        "setuptools",
        &[
            "setuptools",
            "pkg_resources",
            "_distutils_hack",
            "distutils-precedence.pth",
        ],
    ),
];

/// `keep` globs that protect build-only distribution `dist` (normalised name).
pub(crate) fn build_only_keep_globs(dist: &str) -> Vec<String> {
    BUILD_ONLY
        .iter()
        .filter(|(d, _)| *d == dist)
        .flat_map(|(d, names)| {
            names
                .iter()
                .map(|n| n.to_string())
                .chain([format!("{d}-*.dist-info")])
        })
        .collect()
}

pub(crate) fn preset(name: &str, opts: &Options) -> Option<Vec<RuleDef>> {
    Some(match name {
        "generic" => vec![
            rule(
                "pycache",
                &["**/__pycache__"],
                Target::Dir,
                "bytecode caches of the build host; Python rebuilds them (`compile = true` makes legacy .pyc instead)",
            ),
            rule(
                "stubs",
                &["**/*.pyi"],
                Target::File,
                "type stubs: read by type checkers, never imported (py.typed stays)",
            ),
            RuleDef {
                id: "tests",
                globs: &["*/**/tests", "*/**/test"],
                target: Target::Dir,
                check: Check::TestSuite,
                reason: "test suites inside third-party packages that no other module imports",
            },
            rule(
                "c-sources",
                &["**/*.{c,cc,cpp,cxx,h,hh,hpp,hxx,pyx,pxd,pxi}"],
                Target::File,
                "C/C++/Cython sources and headers: used to build extensions, never at run time",
            ),
            rule(
                "link-libs",
                &["**/*.lib", "**/*.a"],
                Target::File,
                "import and static libraries for linking against a package, never loaded",
            ),
            rule(
                "dist-info",
                &["*.dist-info/{RECORD,INSTALLER,REQUESTED,WHEEL,DELVEWHEEL,direct_url.json,uv_cache.json}"],
                Target::File,
                "installer bookkeeping; METADATA, entry_points.txt, top_level.txt and licences stay for importlib.metadata",
            ),
            RuleDef {
                id: "build-only",
                globs: &[
                    "{pip,setuptools,pkg_resources,_distutils_hack}",
                    "{pip,setuptools}-*.dist-info",
                    "distutils-precedence.pth",
                ],
                target: Target::Any,
                check: Check::BuildOnly,
                reason: "packaging tools that no installed distribution requires",
            },
        ],
        "numpy" => vec![
            rule(
                "tests",
                &["numpy/tests", "numpy/**/tests"],
                Target::Dir,
                "numpy's test suites",
            ),
            rule(
                "build-tools",
                &["numpy/f2py", "numpy/distutils", "numpy/_pyinstaller"],
                Target::Dir,
                "f2py, numpy.distutils and PyInstaller hooks: build tools, not imported by `import numpy`",
            ),
            rule(
                "doc",
                &["numpy/doc"],
                Target::Dir,
                "numpy.doc: documentation-only module",
            ),
            rule(
                "headers",
                &[
                    "numpy/core/include",
                    "numpy/_core/include",
                    "numpy/core/lib",
                    "numpy/_core/lib",
                    "numpy/random/lib",
                ],
                Target::Dir,
                "C headers and link libraries for building against numpy",
            ),
            rule(
                "random-examples",
                &["numpy/random/_examples"],
                Target::Dir,
                "example Cython/CFFI/Numba code for numpy.random, never imported",
            ),
        ],
        "opencv" => {
            let mut v = vec![
                rule(
                    "ffmpeg",
                    &["cv2/opencv_videoio_ffmpeg*.dll"],
                    Target::File,
                    "OpenCV's FFmpeg video I/O plugin (~25 MB): only for reading/writing video files and streams; keep it if the app does",
                ),
                rule(
                    "stubs",
                    &["cv2/**/*.pyi"],
                    Target::File,
                    "type stubs of cv2",
                ),
            ];
            if opts.rules.haar_cascades {
                v.push(rule(
                    "haar-cascades",
                    &["cv2/data/haarcascade_*.xml"],
                    Target::File,
                    "Haar cascade models (removed because strip.haar-cascades = true)",
                ));
            }
            v
        }
        "pillow" => vec![rule(
            "headers",
            &["PIL/**/*.h"],
            Target::File,
            "C headers for building against Pillow",
        )],
        "zeroconf" => vec![RuleDef {
            id: "py-shadowed",
            globs: &["zeroconf/**/*.py"],
            target: Target::File,
            check: Check::ShadowedByExtension,
            reason: "pure-Python twins of zeroconf's compiled modules: the extension module is imported first",
        }],
        // Runtime presets have no site-packages rules.
        n if RUNTIME_PRESETS.contains(&n) => vec![],
        _ => return None,
    })
}

/// A rule ready to match: its report name, reason, check and globs.
pub(crate) struct Rule {
    pub name: String,
    pub reason: String,
    pub target: Target,
    pub check: Check,
    pub set: GlobSet,
}

fn glob(pattern: &str, field: &'static str) -> Result<Glob, Error> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map_err(|source| Error::Glob {
            glob: pattern.to_owned(),
            field,
            source,
        })
}

fn set(patterns: &[&str], field: &'static str) -> Result<GlobSet, Error> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        b.add(glob(p, field)?);
    }
    b.build().map_err(|source| Error::Glob {
        glob: patterns.join(", "),
        field,
        source,
    })
}

/// All rules of `opts`, in order (the first match names the rule), and the keep set.
pub(crate) fn compile(opts: &Options) -> Result<(Vec<Rule>, GlobSet), Error> {
    compile_with(opts, |p| preset(p, opts))
}

/// The rules of the runtime presets among `opts.rules.presets` (no `remove`, no `keep`:
/// those are relative to site-packages).
pub(crate) fn compile_runtime(opts: &Options) -> Result<Vec<Rule>, Error> {
    let runtime = Options {
        rules: crate::config::Strip {
            presets: opts
                .rules
                .presets
                .iter()
                .filter(|p| RUNTIME_PRESETS.contains(&p.as_str()))
                .cloned()
                .collect(),
            remove: Vec::new(),
            keep: Vec::new(),
            ..opts.rules.clone()
        },
        ..opts.clone()
    };
    Ok(compile_with(&runtime, runtime_preset)?.0)
}

fn compile_with(
    opts: &Options,
    preset: impl Fn(&str) -> Option<Vec<RuleDef>>,
) -> Result<(Vec<Rule>, GlobSet), Error> {
    let mut rules = Vec::new();
    for p in &opts.rules.presets {
        let defs = preset(p).ok_or_else(|| Error::UnknownPreset(p.clone()))?;
        for d in defs {
            rules.push(Rule {
                name: format!("{p}:{}", d.id),
                reason: d.reason.to_owned(),
                target: d.target,
                check: d.check,
                set: set(d.globs, "presets")?,
            });
        }
    }
    for g in &opts.rules.remove {
        rules.push(Rule {
            name: format!("remove:{g}"),
            reason: "strip.remove in the project's config".into(),
            target: Target::Any,
            check: Check::None,
            set: set(&[g.as_str()], "remove")?,
        });
    }
    let keep: Vec<&str> = opts.rules.keep.iter().map(String::as_str).collect();
    Ok((rules, set(&keep, "keep")?))
}

/// A walked entry, path relative to site-packages with `/` separators.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub rel: String,
    pub depth: usize,
    pub is_dir: bool,
    pub size: u64,
}

/// The one walk: every entry, sorted, with file sizes.
pub(crate) fn walk(root: &Path) -> Result<Vec<Entry>, Error> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(root).min_depth(1).sort_by_file_name() {
        let e = e.map_err(|source| Error::Walk {
            path: root.to_path_buf(),
            source,
        })?;
        let rel = e
            .path()
            .strip_prefix(root)
            .expect("walkdir stays under its root")
            .to_string_lossy()
            .replace('\\', "/");
        let is_dir = e.file_type().is_dir();
        let size = if is_dir {
            0
        } else {
            e.metadata()
                .map_err(|source| Error::Walk {
                    path: e.path().to_path_buf(),
                    source,
                })?
                .len()
        };
        out.push(Entry {
            rel,
            depth: e.depth(),
            is_dir,
            size,
        });
    }
    Ok(out)
}

/// The decision for every file, and per-rule tallies.
#[derive(Debug, Default)]
pub(crate) struct Decisions {
    /// Files to remove (relative) with the rule index that removes each.
    pub remove: Vec<(String, usize)>,
    /// Per rule: files, bytes, files kept by `keep`, top-level names touched.
    pub tally: Vec<Tally>,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Tally {
    pub files: u64,
    pub bytes: u64,
    pub kept: u64,
    pub tops: BTreeSet<String>,
}

/// The top-level import name an entry belongs to (`numpy/linalg/x.py` → `numpy`,
/// `six.py` → `six`, `_yaml.cp311-win_amd64.pyd` → `_yaml`).
pub(crate) fn top_name(rel: &str) -> String {
    let first = rel.split('/').next().unwrap_or(rel);
    if rel.contains('/') || first.ends_with(".dist-info") {
        first.to_owned()
    } else {
        first.split('.').next().unwrap_or(first).to_owned()
    }
}

fn file_name(rel: &str) -> &str {
    rel.rsplit('/').next().unwrap_or(rel)
}

fn parent(rel: &str) -> &str {
    rel.rfind('/').map_or("", |i| &rel[..i])
}

/// Results of the checks, computed from the walked tree before deciding.
struct Checked {
    test_suites: HashSet<String>,
    build_only_needed: HashSet<&'static str>,
    native_stems: HashSet<String>,
}

fn is_test_file(name: &str) -> bool {
    let stem = name
        .strip_suffix(".py")
        .or_else(|| name.strip_suffix(".pyc"));
    match stem {
        Some(s) => s.starts_with("test_") || s.ends_with("_test") || s == "conftest",
        None => false,
    }
}

/// Normalised distribution names required (not through an extra) by any METADATA.
fn required_dists(root: &Path, entries: &[Entry]) -> HashSet<String> {
    entries
        .par_iter()
        .filter(|e| {
            !e.is_dir
                && e.depth == 2
                && e.rel.ends_with("/METADATA")
                && e.rel.contains(".dist-info/")
        })
        .flat_map_iter(|e| {
            let text = fs_err::read_to_string(root.join(&e.rel)).unwrap_or_default();
            text.lines()
                .filter_map(|l| l.strip_prefix("Requires-Dist:"))
                .filter(|l| !l.contains("extra"))
                .map(|l| {
                    crate::project::pep503_name(
                        l.trim()
                            .split(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
                            .next()
                            .unwrap_or(""),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn check(root: &Path, entries: &[Entry], rules: &[Rule]) -> Checked {
    let wants = |c: Check| rules.iter().any(|r| r.check == c);
    // Test-suite candidates: matching directories that hold test files.
    let mut candidates: Vec<&str> = Vec::new();
    if wants(Check::TestSuite) {
        let globs: Vec<&Rule> = rules
            .iter()
            .filter(|r| r.check == Check::TestSuite)
            .collect();
        for e in entries.iter().filter(|e| e.is_dir) {
            if globs.iter().any(|r| r.set.is_match(&e.rel)) {
                let prefix = format!("{}/", e.rel);
                let has_tests = entries.iter().any(|f| {
                    !f.is_dir && f.rel.starts_with(&prefix) && is_test_file(file_name(&f.rel))
                });
                if has_tests {
                    candidates.push(&e.rel);
                }
            }
        }
    }
    let inside_candidate = |rel: &str| {
        candidates
            .iter()
            .any(|c| rel.starts_with(c) && rel[c.len()..].starts_with('/'))
    };
    let scan_build_only = wants(Check::BuildOnly);
    let in_build_only = |rel: &str| {
        let top = rel.split('/').next().unwrap_or(rel);
        BUILD_ONLY.iter().any(|(_, names)| names.contains(&top))
    };
    // One parallel pass over every other module's source: which test candidates
    // and which build-only packages it imports (`tests:…`, `build:…`).
    let found: HashSet<String> = if candidates.is_empty() && !scan_build_only {
        HashSet::new()
    } else {
        entries
            .par_iter()
            .filter(|e| !e.is_dir && e.rel.ends_with(".py") && !inside_candidate(&e.rel))
            .flat_map_iter(|e| {
                let text = fs_err::read_to_string(root.join(&e.rel)).unwrap_or_default();
                let import_lines: Vec<&str> =
                    text.lines().filter(|l| l.contains("import")).collect();
                let mut hits: Vec<String> = candidates
                    .iter()
                    .filter(|c| {
                        let dotted = c.replace('/', ".");
                        let name = file_name(c);
                        let sibling = parent(c) == parent(&e.rel);
                        import_lines.iter().any(|l| {
                            l.contains(&dotted)
                                || (sibling
                                    && (l.contains(&format!("from .{name} "))
                                        || l.contains(&format!("from .{name}."))
                                        || l.contains(&format!("from . import {name}"))))
                        })
                    })
                    .map(|c| format!("tests:{c}"))
                    .collect();
                if scan_build_only && !in_build_only(&e.rel) {
                    for (dist, names) in BUILD_ONLY {
                        let used = names.iter().any(|m| {
                            !m.ends_with(".pth") && import_lines.iter().any(|l| imports(l, m))
                        });
                        if used {
                            hits.push(format!("build:{dist}"));
                        }
                    }
                }
                hits
            })
            .collect()
    };
    let test_suites = candidates
        .iter()
        .filter(|c| !found.contains(&format!("tests:{c}")))
        .map(|c| c.to_string())
        .collect();
    let mut build_only_needed = HashSet::new();
    if scan_build_only {
        let required = required_dists(root, entries);
        for (dist, _) in BUILD_ONLY {
            if required.contains(*dist) || found.contains(&format!("build:{dist}")) {
                build_only_needed.insert(*dist);
            }
        }
    }
    let mut native_stems = HashSet::new();
    if wants(Check::ShadowedByExtension) {
        for e in entries.iter().filter(|e| !e.is_dir) {
            let name = file_name(&e.rel);
            if [".pyd", ".so"].iter().any(|s| name.ends_with(s)) {
                let stem = name.split('.').next().unwrap_or(name);
                let dir = parent(&e.rel);
                native_stems.insert(if dir.is_empty() {
                    stem.to_owned()
                } else {
                    format!("{dir}/{stem}")
                });
            }
        }
    }
    Checked {
        test_suites,
        build_only_needed,
        native_stems,
    }
}

/// Whether a source line imports `module` (`import m`, `import a, m.x`, `from m import …`).
fn imports(line: &str, module: &str) -> bool {
    let l = line.trim_start();
    let names = if let Some(rest) = l.strip_prefix("import ") {
        rest
    } else if let Some(rest) = l.strip_prefix("from ") {
        rest.split(" import").next().unwrap_or("")
    } else {
        return false;
    };
    names.split(',').any(|n| {
        n.trim()
            .strip_prefix(module)
            .is_some_and(|after| !after.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
    })
}

fn passes(rule: &Rule, e: &Entry, checked: &Checked) -> bool {
    match rule.check {
        Check::None => true,
        Check::TestSuite => checked.test_suites.contains(&e.rel),
        Check::BuildOnly => {
            let top = e.rel.split('/').next().unwrap_or(&e.rel);
            !BUILD_ONLY.iter().any(|(dist, names)| {
                checked.build_only_needed.contains(dist)
                    && (names.contains(&top) || top.starts_with(&format!("{dist}-")))
            })
        }
        Check::ShadowedByExtension => e
            .rel
            .strip_suffix(".py")
            .is_some_and(|s| checked.native_stems.contains(s)),
    }
}

/// Decide every file: walk order is depth-first and sorted, so a stack of the
/// ancestors' states is enough.
pub(crate) fn decide(root: &Path, entries: &[Entry], rules: &[Rule], keep: &GlobSet) -> Decisions {
    let checked = check(root, entries, rules);
    let mut d = Decisions {
        remove: Vec::new(),
        tally: vec![Tally::default(); rules.len()],
    };
    #[derive(Clone, Copy, Default)]
    struct State {
        removed_by: Option<usize>,
        /// Depth of the folder whose rule removes this entry.
        removed_depth: Option<usize>,
        kept: bool,
    }
    let mut stack: Vec<(usize, State)> = Vec::new();
    let matching = |e: &Entry, dir: bool| {
        rules.iter().position(|r| {
            let target_ok = match r.target {
                Target::Dir => dir,
                Target::File => !dir,
                Target::Any => true,
            };
            target_ok && r.set.is_match(&e.rel) && passes(r, e, &checked)
        })
    };
    for e in entries {
        while stack.last().is_some_and(|(depth, _)| *depth >= e.depth) {
            stack.pop();
        }
        let mut st = stack.last().map(|(_, s)| *s).unwrap_or_default();
        st.kept |= keep.is_match(&e.rel);
        if e.is_dir {
            if st.removed_by.is_none() {
                st.removed_by = matching(e, true);
                st.removed_depth = st.removed_by.map(|_| e.depth);
            }
            stack.push((e.depth, st));
            continue;
        }
        let Some(idx) = st.removed_by.or_else(|| matching(e, false)) else {
            continue;
        };
        // Licence files of a distribution that stays are never removed
        // (THIRD-PARTY-LICENSES.txt is written from them); only a rule that
        // removes the whole `*.dist-info` folder takes them along.
        let top_depth = e.depth.saturating_sub(e.rel.matches('/').count());
        let licence = crate::dist_info::is_dist_info_license(&e.rel)
            && st.removed_depth.is_none_or(|depth| depth > top_depth);
        let t = &mut d.tally[idx];
        if st.kept || licence {
            t.kept += 1;
        } else {
            t.files += 1;
            t.bytes += e.size;
            t.tops.insert(top_name(&e.rel));
            d.remove.push((e.rel.clone(), idx));
        }
    }
    d
}

/// Remove the decided files (in parallel), then the directories they left empty.
pub(crate) fn remove(root: &Path, remove: &[(String, usize)]) -> Result<(), Error> {
    remove.par_iter().try_for_each(|(rel, _)| {
        let p = root.join(rel);
        fs_err::remove_file(&p).map_err(|source| Error::Remove { path: p, source })
    })?;
    let mut dirs: BTreeMap<usize, BTreeSet<PathBuf>> = BTreeMap::new();
    for (rel, _) in remove {
        let mut p = parent(rel);
        while !p.is_empty() {
            dirs.entry(p.matches('/').count())
                .or_default()
                .insert(root.join(p));
            p = parent(p);
        }
    }
    for (_, level) in dirs.into_iter().rev() {
        for dir in level {
            // Only directories emptied by the removal; anything else is left as it is.
            let empty = fs_err::read_dir(&dir).is_ok_and(|mut r| r.next().is_none());
            if empty {
                fs_err::remove_dir(&dir).map_err(|source| Error::Remove { path: dir, source })?;
            }
        }
    }
    Ok(())
}
