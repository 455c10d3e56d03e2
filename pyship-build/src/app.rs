//! Stage: the app's own files: Python sources to `app/src/`, `include` entries
//! under `app/`, and a `{dist}-{version}.dist-info` in site-packages.
//!
//! Why the dist-info: the app is not pip-installed into the bundle, so without
//! one `importlib.metadata.version("hello-app")` raises `PackageNotFoundError`
//! (or finds nothing to report); with it, the bundle reports the stamped version.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::context::Context;
use crate::error::escaped;
use crate::plan::Plan;

#[derive(Debug, Clone, Serialize)]
pub struct AppFiles {
    /// `{bundle}/app/src`.
    pub src: PathBuf,
    pub files: u64,
    /// `{site-packages}/{dist}-{version}.dist-info`.
    pub dist_info: PathBuf,
    /// Top-level modules and packages of the app.
    pub top_level: Vec<String>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("include `{}` in {table} resolves to {}, which does not exist", escaped(.entry), escaped(.path.display()))]
    #[diagnostic(help("fix `include` in [{}]; paths are relative to {}", .table.table.key(), .table.config_dir().display()))]
    NoInclude {
        entry: String,
        table: crate::project::ConfigSource,
        path: PathBuf,
    },
    #[error("module `{}` is neither in the app sources{} nor in site-packages {}", escaped(.module), .app_src.as_ref().map(|d| format!(" {}", escaped(d.display()))).unwrap_or_default(), .site_packages.display())]
    #[diagnostic(help("the wheel expected to provide the module does not: check `module`, `wheels` and the dependencies"))]
    ModuleNotInstalled {
        module: String,
        app_src: Option<PathBuf>,
        site_packages: PathBuf,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Copy(#[from] crate::fs::Error),
    #[error("`{}` would ship twice: installed as a wheel ({}) and copied from the app sources ({})", escaped(.package), escaped(.installed.display()), escaped(.source_path.display()))]
    #[diagnostic(help("a package comes from one place: point `app-src` at a folder without it (for a maturin project, leave `app-src` unset: the wheel carries the package)"))]
    Twice {
        package: String,
        installed: PathBuf,
        source_path: PathBuf,
    },
    #[error("{count} dist-info folders of `{}` in {site_packages}: {}", escaped(.dist), escaped(.names))]
    #[diagnostic(help("a distribution is installed once: remove the extra wheel from `wheels`, or the copy the app sources provide"))]
    DistInfos {
        dist: String,
        count: usize,
        site_packages: PathBuf,
        names: String,
    },
    #[error("`{}` (the licence files of {pyproject}): {}", escaped(.glob), escaped(.why))]
    #[diagnostic(help("make `license-files` (or `license = {{file = ...}}`) name files inside the pyproject's folder, e.g. license-files = [\"LICENSE*\"]"))]
    LicenseFiles {
        glob: String,
        pyproject: PathBuf,
        why: String,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Write(#[from] crate::fs::WriteError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    IncludeOutside(#[from] crate::plan::IncludeOutside),
    #[error(
        "{} is {kind}, not a regular file: `{key}` in [{table}] would copy it into the bundle",
        escaped(.path.display())
    )]
    #[diagnostic(help("remove {} or replace it by a regular file, or leave it out of `{key}`: a named pipe, socket or device cannot be shipped, and reading one could block forever", escaped(.path.display())))]
    Special {
        path: PathBuf,
        kind: &'static str,
        /// The config key whose entry brought the file in.
        key: &'static str,
        table: &'static str,
    },
    #[error("the symlink {} points outside the project {root} (to {})", escaped(.link.display()), escaped(.target.display()))]
    #[diagnostic(help("replace {} by a copy of what it should ship, or set `allow-outside-project = true` in [{table}] to follow it on purpose", escaped(.link.display())))]
    LinkOutside {
        link: PathBuf,
        target: PathBuf,
        root: PathBuf,
        /// The pyship table in use, for the hint.
        table: &'static str,
    },
}

/// Whether a path inside the app sources is left out of the bundle.
fn skipped(path: &Path, is_dir: bool) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    if is_dir {
        crate::layout::excluded_dir(path)
    } else {
        name.ends_with(".pyc") || name.ends_with(".pyo")
    }
}

/// What a copy may read, and what it leaves out.
#[derive(Debug, Clone)]
struct Rules {
    /// The project root (canonical): symlinks must resolve inside it.
    root: PathBuf,
    /// `allow-outside-project = true`: links may point anywhere.
    allow_outside: bool,
    /// The pyship table in use (errors name it).
    table: &'static str,
    /// Folders never copied (the output folder, when it lies inside an input;
    /// copying it would copy the copy, until the path is too long).
    exclude: Vec<PathBuf>,
}

impl Rules {
    fn for_plan(plan: &Plan) -> Self {
        let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| crate::fs::normalize(p));
        Self {
            root: crate::layout::project_root(&plan.project),
            allow_outside: plan.config.allow_outside_project,
            table: plan.project.config_source.table.key(),
            exclude: vec![canon(&plan.out_dir)],
        }
    }

    fn excluded(&self, path: &Path) -> bool {
        let canon = path.canonicalize().unwrap_or_else(|_| path.to_owned());
        self.exclude.contains(&canon)
    }

    /// A symlink met in a copy must resolve inside the project.
    fn check_link(&self, link: &Path) -> Result<(), Error> {
        if self.allow_outside {
            return Ok(());
        }
        let target = link
            .canonicalize()
            .unwrap_or_else(|_| crate::fs::link_target(link));
        if target.starts_with(&self.root) {
            Ok(())
        } else {
            Err(Error::LinkOutside {
                link: link.to_owned(),
                target,
                root: self.root.clone(),
                table: self.table,
            })
        }
    }
}

/// Copy `from` (file or tree) to `to`, skipping caches, build output, VCS
/// folders, virtualenvs and the output folder. Returns the file count. `key`
/// is the config key that named `from`: a special file (named pipe, socket,
/// device) is refused naming it.
fn copy_filtered(from: &Path, to: &Path, rules: &Rules, key: &'static str) -> Result<u64, Error> {
    if fs_err::symlink_metadata(from).is_ok_and(|m| m.file_type().is_symlink()) {
        rules.check_link(from)?;
    }
    crate::fs::copy_tree_with(from, to, |e| {
        let is_dir = e.file_type().is_dir();
        if skipped(e.path(), is_dir) || is_dir && rules.excluded(e.path()) {
            return Ok(false);
        }
        if e.path_is_symlink() {
            rules.check_link(e.path())?;
        }
        Ok(true)
    })
    .map_err(|e| match e {
        Error::Copy(crate::fs::Error::Special { path, kind }) => Error::Special {
            path,
            kind,
            key,
            table: rules.table,
        },
        e => e,
    })
}

/// Top-level modules and packages in `src` (for `top_level.txt`).
fn top_level(src: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs_err::read_dir(src)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let p = e.path();
                    if p.is_dir() && !skipped(&p, true) && !name.starts_with('.') {
                        Some(name)
                    } else {
                        name.strip_suffix(".py").map(str::to_owned)
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The METADATA file of the app: the fields importlib reads, and its
/// licence (core metadata 2.4 when there is a `License-Expression` or a
/// `License-File`, whose files ship in the dist-info's `licenses/`).
pub fn metadata(
    name: &str,
    version: &str,
    license: &crate::project::LicenseDecl,
    files: &[String],
) -> String {
    let v24 = license.expression.is_some() || !files.is_empty();
    let mut m = format!(
        "Metadata-Version: {}\nName: {name}\nVersion: {version}\n",
        if v24 { "2.4" } else { "2.1" }
    );
    let one_line = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(e) = &license.expression {
        m.push_str(&format!("License-Expression: {}\n", one_line(e)));
    } else if let Some(t) = license
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        // A multi-line text goes on continuation lines (`        |`).
        let mut lines = t.lines();
        m.push_str(&format!(
            "License: {}\n",
            lines.next().unwrap_or_default().trim_end()
        ));
        for l in lines {
            m.push_str(&format!("        |{}\n", l.trim_end()));
        }
    }
    for c in &license.classifiers {
        m.push_str(&format!("Classifier: {}\n", one_line(c)));
    }
    for f in files {
        m.push_str(&format!("License-File: {f}\n"));
    }
    m
}

/// The globs of the app's licence files when the pyproject names none
/// (PEP 639's suggestion, which setuptools, hatchling and maturin follow).
pub const DEFAULT_LICENSE_GLOBS: &[&str] = &["LICEN[CS]E*", "COPYING*", "NOTICE*", "AUTHORS*"];

/// The app's licence files, relative to the pyproject's folder (`/`
/// separators) with their paths: `license = {file = ...}` and the
/// `license-files` globs, else the files at the top of that folder matching
/// [`DEFAULT_LICENSE_GLOBS`]. A declared glob that matches nothing, or one
/// that leads out of the folder, is an error (PEP 639 asks build tools to
/// refuse both).
pub fn license_files(py: &crate::project::Pyproject) -> Result<Vec<(String, PathBuf)>, Error> {
    let dir = py.dir();
    let declared = !py.license.files.is_empty() || py.license.files_declared;
    let globs: Vec<String> = if declared {
        py.license.files.clone()
    } else {
        DEFAULT_LICENSE_GLOBS
            .iter()
            .map(|g| g.to_string())
            .collect()
    };
    let bad = |glob: &str, why: &str| Error::LicenseFiles {
        glob: glob.to_owned(),
        pyproject: py.path.clone(),
        why: why.to_owned(),
    };
    let mut sets = Vec::new();
    for g in &globs {
        let rel = g.replace('\\', "/");
        if rel.starts_with('/') || rel.split('/').any(|c| c == "..") {
            return Err(bad(g, "it leads out of the pyproject's folder"));
        }
        let glob = globset::GlobBuilder::new(&rel)
            .literal_separator(true)
            .build()
            .map_err(|e| bad(g, &e.to_string()))?
            .compile_matcher();
        sets.push((g, glob));
    }
    let depth = if declared { 8 } else { 1 };
    let walk = walkdir::WalkDir::new(dir)
        .max_depth(depth)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            e.depth() == 0
                || !(e.file_type().is_dir()
                    && (crate::layout::excluded_dir(e.path())
                        || e.file_name().to_string_lossy().starts_with('.')))
        });
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    let mut matched = vec![false; sets.len()];
    for e in walk.filter_map(Result::ok) {
        if !e.path().is_file() {
            continue;
        }
        let Ok(rel) = e.path().strip_prefix(dir) else {
            continue;
        };
        let rel = rel.to_string_lossy().replace('\\', "/");
        for (i, (_, m)) in sets.iter().enumerate() {
            if m.is_match(&rel) {
                matched[i] = true;
                if !found.iter().any(|(r, _)| r == &rel) {
                    found.push((rel.clone(), e.path().to_owned()));
                }
            }
        }
    }
    if declared {
        if let Some((g, _)) = sets
            .iter()
            .zip(&matched)
            .find(|(_, m)| !**m)
            .map(|(s, _)| s)
        {
            return Err(bad(g, "it matches no file"));
        }
    }
    Ok(found)
}

/// The dist-info folders of `dist` (normalized) in `site_packages`.
fn dist_infos_of(site_packages: &Path, dist: &str) -> Vec<String> {
    crate::deps::dist_infos(site_packages)
        .into_iter()
        .filter(|n| {
            n.strip_suffix(".dist-info")
                .and_then(|s| s.rsplit_once('-'))
                .is_some_and(|(d, _)| crate::project::normalize_dist_name(d) == dist)
        })
        .collect()
}

/// Where the top-level package or module `name` is installed in
/// `site_packages`, if it is.
fn installed(site_packages: &Path, name: &str) -> Option<PathBuf> {
    let dir = site_packages.join(name);
    if dir.is_dir() {
        return Some(dir);
    }
    fs_err::read_dir(site_packages).ok()?.find_map(|e| {
        let e = e.ok()?;
        let file = e.file_name().to_string_lossy().into_owned();
        let stem = file.split('.').next()?;
        let module = [".py", ".pyd", ".so"].iter().any(|s| file.ends_with(s));
        (stem == name && module && e.path().is_file()).then(|| e.path())
    })
}

/// Copy the app's sources (`app-src`, as [`crate::layout::AppSrc`] says:
/// a project root's Python packages only, never the packages the project's
/// maturin wheel carries) into `src`. Returns the file count. The Docker
/// image of a maturin project gets its app sources the same way.
pub fn copy_app_sources(plan: &Plan, src: &Path) -> Result<u64, Error> {
    let Some(dir) = &plan.app.dir else {
        return Ok(0);
    };
    let rules = Rules::for_plan(plan);
    let module_top = crate::layout::top_package(&plan.module);
    let mut files = 0;
    if plan.app.flat || !plan.app.exclude.is_empty() {
        for entry in crate::layout::app_entries(dir, plan.app.flat, module_top, &plan.app.exclude) {
            let name = entry.file_name().map(PathBuf::from).unwrap_or_default();
            files += copy_filtered(&entry, &src.join(name), &rules, "app-src")?;
        }
    } else {
        files += copy_filtered(dir, src, &rules, "app-src")?;
    }
    Ok(files)
}

/// Copy the app into `{bundle}/app` and write its dist-info into
/// `site_packages`, unless a wheel of the app is installed there (a maturin
/// project): then that wheel's dist-info is the one, and the app's package
/// comes from the wheel only.
pub fn run(
    plan: &Plan,
    bundle: &Path,
    site_packages: &Path,
    ctx: &Context<'_>,
) -> Result<AppFiles, Error> {
    let app = bundle.join("app");
    let src = app.join("src");
    let own_wheel = !dist_infos_of(site_packages, &plan.dist_name).is_empty();
    fs_err::create_dir_all(&src).map_err(|source| {
        Error::Write(crate::fs::WriteError {
            path: src.clone(),
            source: crate::fs::Error::Io(source),
        })
    })?;
    let mut files = 0;
    let mut top = Vec::new();
    let rules = Rules::for_plan(plan);
    let module_top = crate::layout::top_package(&plan.module);
    if let Some(dir) = &plan.app.dir {
        ctx.reporter.status(
            "Copying",
            &format!(
                "app sources from {} ({})",
                escaped(dir.display()),
                plan.app.origin
            ),
        );
        files += copy_app_sources(plan, &src)?;
        top = top_level(&src);
        // One place per package: a wheel (the project's own, or a dependency)
        // installed it, or the app sources carry it; never both.
        for t in &top {
            if let Some(installed) = installed(site_packages, t) {
                return Err(Error::Twice {
                    package: t.clone(),
                    installed,
                    source_path: dir.join(t),
                });
            }
        }
    }
    if !crate::layout::contains_module(&src, module_top)
        && !crate::layout::contains_module(site_packages, module_top)
    {
        return Err(Error::ModuleNotInstalled {
            module: plan.module.clone(),
            app_src: plan.app.dir.clone(),
            site_packages: site_packages.to_owned(),
        });
    }
    for entry in &plan.config.include {
        let path = crate::fs::normalize(&plan.project.path(entry));
        if !path.exists() {
            return Err(Error::NoInclude {
                entry: entry.clone(),
                table: plan.project.config_source.clone(),
                path,
            });
        }
        if !rules.allow_outside {
            crate::plan::check_include_inside(entry, &path, &rules.root, rules.table)?;
        }
        let name = path.file_name().map(PathBuf::from).unwrap_or_default();
        files += copy_filtered(&path, &app.join(name), &rules, "include")?;
    }
    let version = plan.version.version.pep440();
    let dist_info = if own_wheel {
        let names = dist_infos_of(site_packages, &plan.dist_name);
        site_packages.join(&names[0])
    } else {
        let dist_info = site_packages.join(format!("{}-{}.dist-info", plan.dist_name, version));
        let write = |name: &str, text: String| {
            let path = dist_info.join(name);
            crate::fs::atomic_write(&path, text.as_bytes())
                .map_err(|source| Error::Write(crate::fs::WriteError { path, source }))
        };
        fs_err::create_dir_all(&dist_info).map_err(|source| {
            Error::Write(crate::fs::WriteError {
                path: dist_info.clone(),
                source: crate::fs::Error::Io(source),
            })
        })?;
        let py = plan.pyproject();
        let licenses = license_files(py)?;
        for (rel, from) in &licenses {
            let to = dist_info.join("licenses").join(rel);
            if let Some(parent) = to.parent() {
                fs_err::create_dir_all(parent).map_err(|source| {
                    Error::Write(crate::fs::WriteError {
                        path: parent.to_owned(),
                        source: crate::fs::Error::Io(source),
                    })
                })?;
            }
            files += copy_filtered(from, &to, &rules, "license-files")?;
        }
        let names: Vec<String> = licenses.into_iter().map(|(r, _)| r).collect();
        write(
            "METADATA",
            metadata(&py.name, &version, &py.license, &names),
        )?;
        write("INSTALLER", "cargo-pyship\n".into())?;
        write(
            "top_level.txt",
            top.iter().map(|t| format!("{t}\n")).collect(),
        )?;
        dist_info
    };
    // Windows: python3XY._pth already lists `..\app\src` after site-packages.
    let pth = bundle
        .join("python")
        .join(format!("python{}._pth", plan.python.nodot));
    if !pth.exists() {
        write_path_file(bundle, site_packages, &src)?;
    }
    check_one_dist_info_each(site_packages)?;
    Ok(AppFiles {
        src,
        files,
        dist_info,
        top_level: top,
    })
}

/// The `.pth` that puts `app/src` on `sys.path` right after site-packages.
pub const PATH_FILE: &str = "_pyship_app.pth";

/// Write [`PATH_FILE`] into `site_packages`: `app/src` relative to it, so the
/// bundle can move. Windows gets the same order from `python3XY._pth`; with
/// this file Linux (run.sh, the service, the import check) has it too, where
/// PYTHONPATH would put `app/src` before the stdlib and site-packages.
pub fn write_path_file(bundle: &Path, site_packages: &Path, src: &Path) -> Result<(), Error> {
    let depth = site_packages
        .strip_prefix(bundle)
        .map(|r| r.components().count())
        .unwrap_or(0);
    let rel_src = src.strip_prefix(bundle).unwrap_or(src);
    let mut line = "../".repeat(depth);
    line.push_str(&rel_src.to_string_lossy());
    let path = site_packages.join(PATH_FILE);
    crate::fs::atomic_write(&path, format!("{line}\n").as_bytes())
        .map_err(|source| Error::Write(crate::fs::WriteError { path, source }))
}

/// Exactly one dist-info per distribution in `site_packages`.
pub fn check_one_dist_info_each(site_packages: &Path) -> Result<(), Error> {
    let mut by_dist: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for n in crate::deps::dist_infos(site_packages) {
        if let Some((d, _)) = n
            .strip_suffix(".dist-info")
            .and_then(|s| s.rsplit_once('-'))
        {
            by_dist
                .entry(crate::project::normalize_dist_name(d))
                .or_default()
                .push(n.clone());
        }
    }
    match by_dist.into_iter().find(|(_, v)| v.len() > 1) {
        Some((dist, names)) => Err(Error::DistInfos {
            dist,
            count: names.len(),
            site_packages: site_packages.to_owned(),
            names: names.join(", "),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(unix)]
    use crate::error::Hint;

    #[test]
    fn copy_skips_caches() {
        let d = tempfile::tempdir().unwrap();
        let from = d.path().join("src");
        fs_err::create_dir_all(from.join("pkg/__pycache__")).unwrap();
        fs_err::write(from.join("pkg/__init__.py"), "").unwrap();
        fs_err::write(from.join("pkg/mod.pyc"), "").unwrap();
        fs_err::write(from.join("pkg/__pycache__/x.cpython-311.pyc"), "").unwrap();
        fs_err::write(from.join("single.py"), "").unwrap();
        fs_err::create_dir_all(from.join("dist/inner")).unwrap();
        fs_err::write(from.join("dist/inner/x.py"), "").unwrap();
        fs_err::create_dir_all(from.join("out-here")).unwrap();
        fs_err::write(from.join("out-here/y.py"), "").unwrap();
        fs_err::create_dir_all(from.join(".git")).unwrap();
        fs_err::write(from.join(".git/HEAD"), "").unwrap();
        let to = d.path().join("out");
        let mut r = rules(d.path());
        r.exclude
            .push(from.join("out-here").canonicalize().unwrap());
        assert_eq!(copy_filtered(&from, &to, &r, "include").unwrap(), 2);
        assert!(!to.join("dist").exists() && !to.join(".git").exists());
        assert!(to.join("pkg/__init__.py").is_file());
        assert!(!to.join("pkg/__pycache__").exists());
        assert!(!to.join("pkg/mod.pyc").exists());
        assert_eq!(top_level(&to), vec!["pkg", "single"]);
    }

    fn rules(root: &Path) -> Rules {
        Rules {
            root: root.canonicalize().unwrap(),
            allow_outside: false,
            table: "package.metadata.pyship",
            exclude: vec![],
        }
    }

    #[test]
    fn copy_leaves_out_an_output_folder_inside_the_sources() {
        let d = tempfile::tempdir().unwrap();
        let from = d.path().join("src");
        fs_err::create_dir_all(from.join("pkg")).unwrap();
        fs_err::write(from.join("pkg/a.py"), "").unwrap();
        let out = from.join("pkg/dist");
        fs_err::create_dir_all(out.join(".pyship/windows/x/app/src")).unwrap();
        fs_err::write(out.join("old.zip"), "").unwrap();
        let mut r = rules(d.path());
        r.exclude.push(out.canonicalize().unwrap());
        // The copy goes into the output folder itself, as a bundle does.
        let to = out.join(".pyship/windows/x/app/src");
        assert_eq!(copy_filtered(&from, &to, &r, "include").unwrap(), 1);
        assert!(to.join("pkg/a.py").is_file());
        assert!(!to.join("pkg/dist").exists());
    }

    #[cfg(unix)]
    #[test]
    fn links_out_of_the_project_are_refused_by_name() {
        let d = tempfile::tempdir().unwrap();
        let project = d.path().join("project");
        let from = project.join("src");
        fs_err::create_dir_all(from.join("pkg")).unwrap();
        fs_err::write(d.path().join("secret.txt"), "s3cret").unwrap();
        fs_err::write(project.join("shared.py"), "").unwrap();
        // Inside the project: followed.
        std::os::unix::fs::symlink("../../shared.py", from.join("pkg/shared.py")).unwrap();
        let to = d.path().join("out1");
        assert_eq!(
            copy_filtered(&from, &to, &rules(&project), "include").unwrap(),
            1
        );
        assert!(to.join("pkg/shared.py").is_file());
        // A file link and a directory link out of the project: refused.
        for (name, target) in [
            ("leak.txt", d.path().join("secret.txt")),
            ("etc", PathBuf::from("/etc")),
        ] {
            let link = from.join("pkg").join(name);
            std::os::unix::fs::symlink(&target, &link).unwrap();
            let e = copy_filtered(&from, &d.path().join("out2"), &rules(&project), "include")
                .unwrap_err();
            assert!(matches!(e, Error::LinkOutside { .. }), "{e}");
            assert!(e.to_string().contains(&link.display().to_string()), "{e}");
            assert!(e.hint().unwrap().contains("allow-outside-project"));
            let mut allowed = rules(&project);
            allowed.allow_outside = true;
            if name == "leak.txt" {
                copy_filtered(&from, &d.path().join("out3"), &allowed, "include").unwrap();
                assert!(d.path().join("out3/pkg/leak.txt").is_file());
            }
            fs_err::remove_file(&link).unwrap();
        }
    }

    /// A named pipe among the files a config key copies fails the copy
    /// naming the pipe and the key, instead of blocking on it.
    #[cfg(unix)]
    #[test]
    fn a_named_pipe_is_refused_naming_the_key() {
        let d = tempfile::tempdir().unwrap();
        let from = d.path().join("assets");
        fs_err::create_dir_all(&from).unwrap();
        fs_err::write(from.join("a.txt"), "").unwrap();
        crate::fs::test_support::make_fifo(&from.join("pipe"));
        for key in ["include", "app-src"] {
            let e = copy_filtered(&from, &d.path().join("out"), &rules(d.path()), key).unwrap_err();
            assert!(matches!(e, Error::Special { .. }), "{e:?}");
            let msg = e.to_string();
            assert!(
                msg.contains("assets/pipe") && msg.contains("named pipe"),
                "{msg}"
            );
            assert!(msg.contains(&format!("`{key}`")), "{msg}");
            assert!(e
                .hint()
                .unwrap()
                .contains(&format!("leave it out of `{key}`")));
        }
    }

    /// A link loop in the app sources fails the copy naming the link, with
    /// the hint of what to do.
    #[cfg(unix)]
    #[test]
    fn a_link_loop_in_the_sources_has_a_hint() {
        let d = tempfile::tempdir().unwrap();
        let from = d.path().join("src");
        fs_err::create_dir_all(from.join("pkg")).unwrap();
        fs_err::write(from.join("pkg/__init__.py"), "").unwrap();
        std::os::unix::fs::symlink("../..", from.join("pkg/up")).unwrap();
        let e =
            copy_filtered(&from, &d.path().join("out"), &rules(d.path()), "include").unwrap_err();
        assert!(e.to_string().contains("pkg/up"), "{e}");
        let hint = e.hint().expect("a hint");
        assert!(hint.contains("remove the link"), "{hint}");
    }

    #[test]
    fn two_dist_infos_of_one_distribution_fail() {
        let d = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(d.path().join("pyhash-0.2.0rc1.dist-info")).unwrap();
        fs_err::create_dir_all(d.path().join("numpy-1.26.4.dist-info")).unwrap();
        check_one_dist_info_each(d.path()).unwrap();
        fs_err::create_dir_all(d.path().join("PyHash-0.3.0.dist-info")).unwrap();
        let err = check_one_dist_info_each(d.path()).unwrap_err().to_string();
        assert!(err.contains("2 dist-info folders of `pyhash`"), "{err}");
        assert!(
            err.contains("PyHash-0.3.0.dist-info, pyhash-0.2.0rc1.dist-info"),
            "{err}"
        );
    }

    #[test]
    fn metadata_has_name_and_version() {
        let none = crate::project::LicenseDecl::default();
        assert_eq!(
            metadata("hello-app", "0.3.0rc1", &none, &[]),
            "Metadata-Version: 2.1\nName: hello-app\nVersion: 0.3.0rc1\n"
        );
    }

    /// The app's own licence: PEP 639's expression and files, PEP 621's
    /// text, the default files next to the pyproject; globs that match
    /// nothing or leave the folder are refused.
    #[test]
    fn the_apps_licence_goes_into_its_metadata() {
        let d = tempfile::tempdir().unwrap();
        let read = |text: &str| {
            let p = d.path().join("pyproject.toml");
            fs_err::write(&p, text).unwrap();
            crate::project::Pyproject::read(&p).unwrap()
        };
        fs_err::write(d.path().join("LICENSE.txt"), "MIT text").unwrap();
        fs_err::write(d.path().join("NOTICE"), "notice").unwrap();
        fs_err::create_dir_all(d.path().join("licenses")).unwrap();
        fs_err::write(d.path().join("licenses/third.txt"), "3").unwrap();
        // PEP 639.
        let py = read("[project]\nname = \"a\"\nlicense = \"MIT OR Apache-2.0\"\nlicense-files = [\"LICEN[CS]E*\", \"licenses/*.txt\"]\n");
        let files: Vec<String> = license_files(&py)
            .unwrap()
            .into_iter()
            .map(|f| f.0)
            .collect();
        assert_eq!(files, ["LICENSE.txt", "licenses/third.txt"]);
        let m = metadata("a", "1.0", &py.license, &files);
        assert!(m.starts_with("Metadata-Version: 2.4\n"), "{m}");
        assert!(m.contains("License-Expression: MIT OR Apache-2.0\n"), "{m}");
        assert!(m.contains("License-File: licenses/third.txt\n"), "{m}");
        // PEP 621 text and classifiers; the default files.
        let py = read("[project]\nname = \"a\"\nlicense = {text = \"LGPL\\nsee COPYING\"}\nclassifiers = [\"License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)\", \"Programming Language :: Python\"]\n");
        let files: Vec<String> = license_files(&py)
            .unwrap()
            .into_iter()
            .map(|f| f.0)
            .collect();
        assert_eq!(files, ["LICENSE.txt", "NOTICE"]);
        let m = metadata("a", "1.0", &py.license, &files);
        assert!(m.contains("License: LGPL\n        |see COPYING\n"), "{m}");
        assert!(
            m.contains("Classifier: License :: OSI Approved :: GNU Lesser"),
            "{m}"
        );
        assert!(!m.contains("Programming Language"), "{m}");
        // {file = ...}
        let py = read("[project]\nname = \"a\"\nlicense = {file = \"LICENSE.txt\"}\n");
        let files: Vec<String> = license_files(&py)
            .unwrap()
            .into_iter()
            .map(|f| f.0)
            .collect();
        assert_eq!(files, ["LICENSE.txt"]);
        // Refused: nothing matched, a way out.
        for bad in ["[\"COPYING*\"]", "[\"../secret\"]", "[\"/etc/passwd\"]"] {
            let py = read(&format!("[project]\nname = \"a\"\nlicense-files = {bad}\n"));
            let e = license_files(&py).unwrap_err();
            assert!(matches!(e, Error::LicenseFiles { .. }), "{bad}: {e}");
        }
        // Declared empty: no file.
        let py = read("[project]\nname = \"a\"\nlicense-files = []\n");
        assert!(license_files(&py).unwrap().is_empty());
    }
}
