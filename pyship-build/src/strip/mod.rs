//! Stage: strip site-packages. Why: a bundle carries tests, headers, stubs,
//! build tools and debug symbols that the app never loads; removing them
//! shrinks the download, but a careless stripper breaks the app (deleting
//! `*.py` after `__pycache__`, removing `numpy.linalg` or whole `*.dist-info`
//! folders all do). Here every rule is safe by construction ([`rules`]), `keep`
//! wins over every rule, sources are removed only after they compiled
//! ([`compile`]), stripped binaries are validated ([`symbols`]), and an import
//! check with the target's interpreter ([`check`]) names the rule that broke a
//! package.
//!
//! Under wine, the import check and byte-compiling run in a private prefix, or
//! in the prepared prefix named by `PYSHIP_WINEPREFIX` (see [`crate::wine`]).
//! Wine 8 lacks `ProcessPrng`, so Rust-built extensions (pydantic-core,
//! watchfiles, the project's own PyO3 crate) fail with "DLL load failed" in a
//! plain prefix: the check gives its private prefix a replacement DLL built
//! from this crate's C source ([`crate::wine::Wine::add_process_prng`]); the
//! replacement never ships. Only when it cannot be built is such a failure a
//! warning ("not checkable under this wine").

pub mod check;
pub mod compile;
pub mod rules;
pub mod symbols;

use crate::report::human_bytes;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::config;
use crate::context::Context;
use crate::env::Env;
use crate::error::escaped;
use crate::platform::Platform;
use crate::tools;
use crate::wine::{self, Wine};

pub use check::{import_check, ImportCheck, ImportFailure};
pub use rules::PRESETS;

/// What to strip; built from `[package.metadata.pyship.strip]`.
#[derive(Debug, Clone, Serialize)]
pub struct Options {
    /// The `strip` table: presets, globs to remove and keep, and switches.
    pub rules: config::Strip,
    /// Report what would go, remove nothing.
    pub dry_run: bool,
}

impl Options {
    pub fn from_config(c: &config::Strip) -> Self {
        Self {
            rules: c.clone(),
            dry_run: false,
        }
    }
}

impl Options {
    /// Keep the build-only packages (pip, setuptools and what it installs) that
    /// the app's own requirements (PEP 508 strings of its pyproject) name: the
    /// strip stage cannot see the app's requirements in site-packages.
    pub fn keep_app_dependencies<S: AsRef<str>>(
        &mut self,
        requirements: impl IntoIterator<Item = S>,
    ) {
        for r in requirements {
            let name: String = r
                .as_ref()
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
                .collect::<String>();
            let name = crate::project::pep503_name(&name);
            for g in rules::build_only_keep_globs(&name) {
                if !self.rules.keep.contains(&g) {
                    self.rules.keep.push(g);
                }
            }
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Self::from_config(&config::RawConfig::default().resolve("app").strip)
    }
}

/// A Python interpreter of the target's X.Y, run natively or under wine.
#[derive(Debug, Clone, Serialize)]
pub struct Interpreter {
    pub exe: PathBuf,
    /// `X.Y`.
    pub version: String,
    /// A Windows `python.exe`, run under wine.
    pub wine: bool,
}

impl Interpreter {
    /// `python3` on PATH when its X.Y is `xy`.
    pub fn host(xy: &str, env: &Env) -> Option<Self> {
        Self::host_any(env).filter(|i| i.version == xy)
    }

    /// `python3` on PATH, whatever its version.
    pub fn host_any(_env: &Env) -> Option<Self> {
        Self::native(which::which("python3").ok()?)
    }

    /// A native interpreter at `exe`, with the X.Y it reports.
    fn native(exe: PathBuf) -> Option<Self> {
        let me = Self {
            exe,
            version: String::new(),
            wine: false,
        };
        let out = me
            .run(
                None,
                &[
                    "-c".into(),
                    "import sys;print('%d.%d'%sys.version_info[:2])".into(),
                ],
                Duration::from_secs(30),
            )
            .ok()?;
        let v = out.stdout.trim().to_owned();
        (!v.is_empty()).then_some(Self { version: v, ..me })
    }

    /// The bundle's own interpreter: `python/python.exe` (run directly on a
    /// Windows host, under wine elsewhere when wine is installed) or
    /// `python/bin/python3`.
    pub fn bundled(bundle_root: &Path, platform: Platform, env: &Env) -> Option<Self> {
        let exe = bundle_root.join(platform.python_exe());
        if !exe.is_file() {
            return None;
        }
        match platform {
            Platform::Windows => {
                let wine = !cfg!(windows);
                if wine && !tools::WINE.available(env) {
                    return None;
                }
                // python3XY.dll next to python.exe gives the version without starting wine.
                let dir = exe.parent()?;
                let version = fs_err::read_dir(dir).ok()?.find_map(|e| {
                    let name = e.ok()?.file_name().to_string_lossy().to_ascii_lowercase();
                    let digits = name.strip_prefix("python3")?.strip_suffix(".dll")?;
                    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                        .then(|| format!("3.{digits}"))
                })?;
                Some(Self { exe, version, wine })
            }
            Platform::Linux => Self::native(exe),
        }
    }

    /// For compiling: the host Python when its X.Y is `xy`, else the bundle's
    /// interpreter of that X.Y (wine for Windows).
    pub fn for_target(
        xy: &str,
        platform: Platform,
        bundle_root: Option<&Path>,
        env: &Env,
    ) -> Option<Self> {
        Self::host(xy, env).or_else(|| {
            bundle_root
                .and_then(|r| Self::bundled(r, platform, env))
                .filter(|i| i.version == xy)
        })
    }

    /// A path as this interpreter sees it.
    pub fn path_arg(&self, p: &Path) -> String {
        if self.wine {
            Wine::windows_path(p)
        } else {
            p.display().to_string()
        }
    }

    /// Run with `args`; under wine in `wine`'s prefix (required when `self.wine`).
    pub fn run(
        &self,
        wine: Option<&Wine>,
        args: &[String],
        timeout: Duration,
    ) -> Result<wine::Output, wine::Error> {
        match (self.wine, wine) {
            (true, Some(w)) => w.run(&self.exe, args, timeout),
            _ => {
                let mut c = crate::process::Command::new(&self.exe);
                c.args(args).timeout(timeout);
                Ok(c.output()?)
            }
        }
    }
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("{0} is not a directory (expected a site-packages folder)")]
    #[diagnostic(help(
        "pass the site-packages folder of a bundle (e.g. python/Lib/site-packages)"
    ))]
    NotADir(PathBuf),
    // The strip command also runs on a bare folder, without a project: the
    // keys are named by their place in whichever pyship table is in use.
    #[error("unknown strip preset `{}` (`strip.presets` in the pyship table)", escaped(.0))]
    #[diagnostic(help("use some of: {}", PRESETS.join(", ")))]
    UnknownPreset(String),
    #[error("invalid glob `{}` (`strip.{field}` in the pyship table)", escaped(.glob))]
    #[diagnostic(help(
        "fix the glob: `*` matches within one folder, `**` across folders, `{{a,b}}` alternatives"
    ))]
    Glob {
        glob: String,
        field: &'static str,
        #[source]
        source: globset::Error,
    },
    #[error("cannot read {path}")]
    #[diagnostic(help("check the folder's permissions"))]
    Walk {
        path: PathBuf,
        #[source]
        source: walkdir::Error,
    },
    #[error("cannot remove {path}")]
    #[diagnostic(help("check the folder's permissions"))]
    Remove {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} failed")]
    Run {
        what: String,
        #[source]
        #[diagnostic_source]
        source: wine::Error,
    },
    #[error("the import check could not run {exe}: {message}")]
    #[diagnostic(help("run the interpreter by hand to see why it does not start"))]
    CheckCrashed { exe: PathBuf, message: String },
    #[error("import check failed after stripping {site_packages}: {}", summary(.failures))]
    #[diagnostic(help("add the package to `keep = [{}]` in the `strip` table of the pyship config, or drop the named rule's preset", keep_globs(.failures)))]
    ImportFailed {
        site_packages: PathBuf,
        failures: Vec<ImportFailure>,
    },
    #[error("the app does not start in the bundle: `{}` fails with {}: {}", escaped(.app), escaped(.interpreter), escaped(.error))]
    #[diagnostic(help("{hint}"))]
    AppImport {
        app: String,
        error: String,
        interpreter: String,
        hint: String,
    },
    #[error("`import {}` fails in the bundle: {}", escaped(.module), escaped(.error))]
    #[diagnostic(help("the Tcl/Tk files added by windows.tkinter are incomplete: drop the `tkinter` strip preset, or try the other windows.tkinter-source"))]
    RuntimeImportFailed { module: String, error: String },
    #[error("could not write {path} while stripping it")]
    #[diagnostic(help("free space on the disk of the output folder (or check its permissions and quota), then build again: a bundle is never shipped with files a stage could not write"))]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    #[diagnostic(help("check the folder's permissions"))]
    Io(#[from] std::io::Error),
}

fn summary(failures: &[ImportFailure]) -> String {
    failures
        .iter()
        .map(|f| {
            format!(
                "`import {}` fails ({}); stripped by {}",
                escaped(&f.package),
                escaped(&f.error),
                escaped(f.rules.join(", "))
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The `keep` globs that would keep the failing packages.
fn keep_globs(failures: &[ImportFailure]) -> String {
    failures
        .iter()
        .map(|f| format!("\"{}/**\"", escaped(&f.package)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Files and bytes.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Totals {
    pub files: u64,
    pub bytes: u64,
}

/// What one rule removed.
#[derive(Debug, Clone, Serialize)]
pub struct RuleReport {
    /// `preset:id`, or `remove:<glob>`.
    pub rule: String,
    pub reason: String,
    pub files: u64,
    pub bytes: u64,
    /// Files the rule matched that a `keep` glob protected.
    pub kept: u64,
    /// Top-level names (packages, modules, dist-info folders) it removed files from.
    pub packages: Vec<String>,
}

/// What each rule removed, sorted by rule name (site-packages and runtime alike).
fn rule_reports(rules: &[rules::Rule], decisions: &rules::Decisions) -> Vec<RuleReport> {
    let mut v: Vec<RuleReport> = rules
        .iter()
        .zip(&decisions.tally)
        .map(|(r, t)| RuleReport {
            rule: r.name.clone(),
            reason: r.reason.clone(),
            files: t.files,
            bytes: t.bytes,
            kept: t.kept,
            packages: t.tops.iter().cloned().collect(),
        })
        .collect();
    v.sort_by(|a, b| a.rule.cmp(&b.rule));
    v
}

/// Result of the stage; also what `cargo pyship strip` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub site_packages: PathBuf,
    pub platform: Platform,
    pub dry_run: bool,
    pub before: Totals,
    /// After stripping (in a dry run: what it would be).
    pub after: Totals,
    /// Sorted by rule name; every active rule, also those that removed nothing.
    pub rules: Vec<RuleReport>,
    pub debug_symbols: Option<symbols::Symbols>,
    pub compile: Option<compile::Compiled>,
}

impl Report {
    /// The rules that removed files under top-level name `package`.
    pub fn rules_touching(&self, package: &str) -> Vec<String> {
        self.rules
            .iter()
            .filter(|r| r.packages.iter().any(|p| p == package))
            .map(|r| r.rule.clone())
            .collect()
    }
}

/// Strip `site_packages` for `platform`. `python` (an interpreter of the
/// target's X.Y) is needed only with `opts.rules.compile`.
pub fn run(
    opts: &Options,
    site_packages: &Path,
    platform: Platform,
    python: Option<&Interpreter>,
    ctx: &Context<'_>,
) -> Result<Report, Error> {
    if !site_packages.is_dir() {
        return Err(Error::NotADir(site_packages.to_path_buf()));
    }
    let dry_run = opts.dry_run || ctx.dry_run;
    let (rules, keep) = rules::compile(opts)?;
    ctx.reporter
        .status("Stripping", &site_packages.display().to_string());
    let entries = rules::walk(site_packages)?;
    let before = Totals {
        files: entries.iter().filter(|e| !e.is_dir).count() as u64,
        bytes: entries.iter().map(|e| e.size).sum(),
    };
    let decisions = rules::decide(site_packages, &entries, &rules, &keep);
    if !dry_run {
        rules::remove(site_packages, &decisions.remove)?;
    }
    let removed: std::collections::HashSet<&str> =
        decisions.remove.iter().map(|(r, _)| r.as_str()).collect();
    let report_rules = rule_reports(&rules, &decisions);
    let mut after = Totals {
        files: before.files - decisions.remove.len() as u64,
        bytes: before.bytes - decisions.tally.iter().map(|t| t.bytes).sum::<u64>(),
    };

    let compiled = if opts.rules.compile {
        let c = compile::run(
            site_packages,
            &keep,
            &removed,
            python,
            platform,
            dry_run,
            ctx,
        )?;
        after.files = after.files + c.pyc_files - c.py_files;
        after.bytes = after.bytes + c.pyc_bytes - c.py_bytes;
        Some(c)
    } else {
        None
    };

    let syms = if opts.rules.debug_symbols {
        let natives: Vec<PathBuf> = entries
            .iter()
            .filter(|e| {
                !e.is_dir
                    && !removed.contains(e.rel.as_str())
                    && !keep.is_match(&e.rel)
                    && platform.native_suffixes().iter().any(|s| {
                        e.rel.to_ascii_lowercase().ends_with(s)
                            || (platform == Platform::Linux && e.rel.contains(".so."))
                    })
            })
            .map(|e| site_packages.join(&e.rel))
            .collect();
        let s = symbols::run(site_packages, &natives, platform, dry_run, ctx)?;
        after.bytes -= s.bytes;
        Some(s)
    } else {
        None
    };

    let report = Report {
        site_packages: site_packages.to_path_buf(),
        platform,
        dry_run,
        before,
        after,
        rules: report_rules,
        debug_symbols: syms,
        compile: compiled,
    };
    ctx.reporter.status(
        if dry_run { "Would strip" } else { "Stripped" },
        &format!(
            "{} files, {} (from {} to {})",
            report.before.files - report.after.files.min(report.before.files),
            human_bytes(report.before.bytes - report.after.bytes.min(report.before.bytes)),
            human_bytes(report.before.bytes),
            human_bytes(report.after.bytes)
        ),
    );
    Ok(report)
}

/// Apply the runtime presets among `opts.rules.presets` (today `tkinter`) to the
/// runtime folder `python_dir` (`{bundle}/python`). Their globs are relative
/// to that folder; `keep` and `remove` (relative to site-packages) do not
/// apply. Returns `None` when no runtime preset is configured.
pub fn run_runtime(
    opts: &Options,
    python_dir: &Path,
    platform: Platform,
    ctx: &Context<'_>,
) -> Result<Option<Report>, Error> {
    let rules = rules::compile_runtime(opts)?;
    if rules.is_empty() {
        return Ok(None);
    }
    if !python_dir.is_dir() {
        return Err(Error::NotADir(python_dir.to_path_buf()));
    }
    let dry_run = opts.dry_run || ctx.dry_run;
    let entries = rules::walk(python_dir)?;
    let before = Totals {
        files: entries.iter().filter(|e| !e.is_dir).count() as u64,
        bytes: entries.iter().map(|e| e.size).sum(),
    };
    let none = globset::GlobSet::empty();
    let decisions = rules::decide(python_dir, &entries, &rules, &none);
    if !dry_run {
        rules::remove(python_dir, &decisions.remove)?;
    }
    let report_rules = rule_reports(&rules, &decisions);
    let removed_bytes: u64 = decisions.tally.iter().map(|t| t.bytes).sum();
    let report = Report {
        site_packages: python_dir.to_path_buf(),
        platform,
        dry_run,
        before,
        after: Totals {
            files: before.files - decisions.remove.len() as u64,
            bytes: before.bytes - removed_bytes,
        },
        rules: report_rules,
        debug_symbols: None,
        compile: None,
    };
    ctx.reporter.status(
        if dry_run { "Would strip" } else { "Stripped" },
        &format!(
            "{} files, {} from {} (runtime presets)",
            decisions.remove.len(),
            human_bytes(removed_bytes),
            python_dir.display()
        ),
    );
    Ok(Some(report))
}

#[cfg(test)]
mod tests;
