//! The post-strip import check: import every top-level package of
//! site-packages with the target's interpreter, and on failure name the
//! package and the rule(s) that removed files it needed.
//!
//! Interpreter: Windows, the bundle's `python/python.exe` under wine; Linux, the
//! bundle's `python/bin/python3`, else the host `python3` when its X.Y matches
//! the extension modules' tag (`cpython-311`). No interpreter: a warning, no check.
//!
//! Classification of a failed import:
//! - "DLL load failed" for an extension that imports `ProcessPrng` while the
//!   prefix's `bcryptprimitives.dll` lacks it: a wine 8 limitation, reported
//!   as "not checkable under this wine" (a warning);
//! - some rule removed files from the package, from the module it failed to
//!   import, or from a package in the traceback: a failure, the build stops;
//! - otherwise stripping took nothing it uses: it fails without stripping too,
//!   a warning naming the error.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Error, Interpreter, Report};
use crate::context::Context;
use crate::error::escaped;
use crate::platform::Platform;
use crate::wine::Wine;

/// A package whose import failed because of stripping.
#[derive(Debug, Clone, Serialize)]
pub struct ImportFailure {
    pub package: String,
    pub error: String,
    /// Rules that removed files under the package or what it imports.
    pub rules: Vec<String>,
}

/// A package that could not be judged (a limitation of the checking
/// environment, or a failure that stripping did not cause).
#[derive(Debug, Clone, Serialize)]
pub struct Unchecked {
    pub package: String,
    pub reason: String,
}

/// Result of [`import_check`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportCheck {
    /// The interpreter used; `None` when none was available (nothing checked).
    pub interpreter: Option<String>,
    /// Packages that imported.
    pub ok: Vec<String>,
    /// Packages that could not be judged, with why.
    pub unchecked: Vec<Unchecked>,
}

impl ImportCheck {
    /// Record `package` as not judged, and warn saying why.
    fn unchecked(&mut self, ctx: &Context<'_>, package: String, reason: String) {
        ctx.reporter.warn(&format!(
            "import {}: {}",
            escaped(&package),
            escaped(&reason)
        ));
        self.unchecked.push(Unchecked { package, reason });
    }
}

const SCRIPT: &str = r#"
import importlib, importlib.util, json, os, runpy, site, sys, traceback
sp = sys.argv[1]
if os.path.normcase(os.path.abspath(sp)) not in [os.path.normcase(os.path.abspath(p)) for p in sys.path]:
    site.addsitedir(sp)
app = sys.argv[2]

def start_app(spec):
    # As the launcher starts it: `python -m pkg` runs pkg/__main__.py, whose
    # top level imports the app; `mod:func` imports mod and looks up func.
    # A __main__ without a `__name__` guard would start the app: only its
    # top-level import statements run (every start runs them; an import
    # inside `try`, `if` or a function may be optional and is left alone).
    mod, _, attr = spec.partition(":")
    if attr:
        obj = importlib.import_module(mod)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return
    main = None
    m = importlib.import_module(mod)
    if hasattr(m, "__path__"):
        main = importlib.util.find_spec(mod + ".__main__")
        if main is None:
            raise ImportError("No module named %s.__main__; '%s' is a package and cannot be directly executed" % (mod, mod), name=mod + ".__main__")
    elif importlib.util.find_spec(mod) is None:
        raise ImportError("No module named " + mod, name=mod)
    if main is not None and main.origin and os.path.isfile(main.origin):
        with open(main.origin, "rb") as f:
            source = f.read()
        if b"__name__" in source:
            runpy.run_module(mod + ".__main__", run_name="__pyship_check__", alter_sys=False)
        else:
            import ast
            tree = ast.parse(source, main.origin)
            tree.body = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
            exec(compile(tree, main.origin, "exec"), {"__name__": "__pyship_check__",
                 "__package__": mod, "__file__": main.origin, "__builtins__": __builtins__})

out = []
jobs = ([(app, True)] if app else []) + [(n, False) for n in sys.argv[3:]]
for name, is_app in jobs:
    try:
        if is_app:
            start_app(name)
        else:
            m = importlib.import_module(name)
            if name == "tkinter":
                # Starting Tcl finds and runs init.tcl: the library is in place.
                m.Tcl().eval("info patchlevel")
        out.append({"name": name, "ok": True, "app": is_app})
    except BaseException as e:
        paths, missing, files, seen, x = [], [], [], set(), e
        while x is not None and id(x) not in seen:
            seen.add(id(x))
            if isinstance(x, ImportError):
                if getattr(x, "path", None):
                    paths.append(str(x.path))
                if getattr(x, "name", None):
                    missing.append(str(x.name))
            files += [f.filename for f in traceback.extract_tb(x.__traceback__)]
            x = x.__cause__ or x.__context__
        msg = "".join(traceback.format_exception_only(type(e), e)).strip()
        out.append({"name": name, "ok": False, "error": msg, "paths": paths,
                    "missing": missing, "files": files, "app": is_app})
sys.stdout.write("PYSHIP-IMPORT-CHECK " + json.dumps(out) + "\n")
"#;

#[derive(Debug, Deserialize)]
struct Outcome {
    name: String,
    ok: bool,
    #[serde(default)]
    error: String,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    missing: Vec<String>,
    #[serde(default)]
    files: Vec<String>,
    #[serde(default)]
    app: bool,
}

/// Top-level importable names of site-packages: packages with `__init__`,
/// modules (`.py`, `.pyc`) and extension modules. Namespace packages and
/// names that are not identifiers are left out.
pub fn top_level_names(site_packages: &Path) -> Result<Vec<String>, Error> {
    let mut names = BTreeSet::new();
    for e in fs_err::read_dir(site_packages)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        let candidate = if path.is_dir() {
            let has_init = fs_err::read_dir(&path)?.filter_map(Result::ok).any(|f| {
                let n = f.file_name().to_string_lossy().into_owned();
                n == "__init__.py" || n == "__init__.pyc" || n.starts_with("__init__.")
            });
            has_init.then_some(name)
        } else {
            let lower = name.to_ascii_lowercase();
            [".py", ".pyc", ".pyd", ".so"]
                .iter()
                .any(|s| lower.ends_with(s))
                .then(|| name.split('.').next().unwrap_or("").to_owned())
        };
        if let Some(n) = candidate {
            let ident = !n.is_empty()
                && !n.starts_with(|c: char| c.is_ascii_digit())
                && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            // `__editable__` finders and `_virtualenv` are installer artefacts.
            if ident && !n.starts_with("__editable__") && n != "_virtualenv" {
                names.insert(n);
            }
        }
    }
    Ok(names.into_iter().collect())
}

/// The X.Y that the extension modules are built for (`cp311-win_amd64`,
/// `cpython-311-x86_64-linux-gnu`), if any.
fn extension_xy(site_packages: &Path) -> Option<String> {
    walkdir::WalkDir::new(site_packages)
        .max_depth(4)
        .into_iter()
        .filter_map(Result::ok)
        .find_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let tag = n
                .split_once(".cpython-3")
                .or_else(|| n.split_once(".cp3"))?
                .1;
            let digits: String = tag.chars().take_while(char::is_ascii_digit).collect();
            (!digits.is_empty()).then(|| format!("3.{digits}"))
        })
}

fn interpreter(
    bundle_root: &Path,
    site_packages: &Path,
    platform: Platform,
    ctx: &Context<'_>,
) -> Result<Interpreter, String> {
    if let Some(i) = Interpreter::bundled(bundle_root, platform, ctx.env) {
        return Ok(i);
    }
    match platform {
        Platform::Windows => Err(if bundle_root.join(platform.python_exe()).is_file() {
            format!(
                "`wine` not found (install it with {})",
                crate::tools::WINE.install
            )
        } else {
            format!(
                "no {} under {}",
                platform.python_exe(),
                bundle_root.display()
            )
        }),
        Platform::Linux => {
            let host = |xy: &str| Interpreter::host(xy, ctx.env);
            match extension_xy(site_packages) {
                Some(xy) => host(&xy).ok_or(format!("no python{xy} (bundle or host python3)")),
                // Pure Python: any host python3 will do.
                None => Interpreter::host_any(ctx.env).ok_or("no python3 on PATH".into()),
            }
        }
    }
}

/// Import every top-level package of `site_packages` with the target's
/// interpreter; fail naming the package and the rules that broke it. With
/// `app` (`module` or `module:function`), first start the app's module the way
/// its launcher does, with the launcher's `sys.path` (the bundled interpreter's
/// own, which puts `app/src` after site-packages on every target); a failure
/// there is always an error. Under wine the check runs in `wine` when given
/// (a private prefix whose session may already be started), else in a fresh
/// copy of the cached prefix.
///
/// With `only`, just the top-level packages in it (those that are in
/// site-packages) and the app's start: what changed since a check of the
/// same tree passed. The runtime's own modules are left out then (the
/// runtime did not change).
#[allow(clippy::too_many_arguments)]
pub fn import_check(
    bundle_root: &Path,
    site_packages: &Path,
    platform: Platform,
    ctx: &Context<'_>,
    report: &Report,
    app: Option<&str>,
    wine: Option<Wine>,
    only: Option<&BTreeSet<String>>,
) -> Result<ImportCheck, Error> {
    let py = match interpreter(bundle_root, site_packages, platform, ctx) {
        Ok(p) => p,
        Err(why) => {
            ctx.reporter
                .warn(&format!("import check skipped for {platform}: {why}"));
            return Ok(ImportCheck::default());
        }
    };
    let mut names = top_level_names(site_packages)?;
    let runtime = if let Some(only) = only {
        names.retain(|n| only.contains(n));
        Vec::new()
    } else {
        runtime_modules(bundle_root, platform)
    };
    names.extend(runtime.iter().cloned());
    let label = format!(
        "{}{} (Python {})",
        if py.wine { "wine " } else { "" },
        py.exe.display(),
        py.version
    );
    let starts_app = app.is_some() && py.exe.starts_with(bundle_root);
    ctx.reporter.status(
        "Checking",
        &format!(
            "{}imports of {} {}packages with {label}",
            if starts_app {
                "the app's start and the "
            } else {
                ""
            },
            names.len(),
            if only.is_some() { "changed " } else { "" }
        ),
    );
    let wine = if py.wine {
        let w = match wine {
            Some(w) => w,
            None => Wine::with_cache(ctx.env, &ctx.cache).map_err(|source| Error::Run {
                what: "starting wine for the import check".into(),
                source,
            })?,
        };
        if let Some(n) = w.notice() {
            ctx.reporter.warn(n);
        }
        // Rust-built extensions need ProcessPrng, which wine 8 lacks.
        if let Err(e) = w.add_process_prng(&ctx.cache, ctx.env) {
            ctx.reporter.warn(&format!(
                "the import check cannot give wine ProcessPrng ({e}); Rust-built extensions will not be checkable"
            ));
        }
        Some(w)
    } else {
        None
    };
    let tmp = tempfile::Builder::new().prefix("pyship-check-").tempdir()?;
    let script = tmp.path().join("import_check.py");
    fs_err::write(&script, SCRIPT)?;
    let bundled = py.exe.starts_with(bundle_root);
    let app = app.filter(|_| bundled).unwrap_or("");
    // One interpreter imports `names` after starting `app` (when not empty).
    let check = |app: &str, names: &[String]| -> Result<Vec<Outcome>, Error> {
        // -B: importing must not write __pycache__ into the bundle tree: the
        // archive may be reading it, and a rebuild whose check is cached would
        // pack different files (found by the Linux bundle e2e test).
        let mut args: Vec<String> = vec!["-B".to_string()];
        if !py.wine {
            // Isolated: no PYTHONPATH, no user site. The bundle's own
            // interpreter keeps `site` (as its launcher does: it reads
            // site-packages' .pth files); a host interpreter must not see its
            // own site-packages.
            args.push("-I".to_string());
            if !bundled {
                args.push("-S".to_string());
            }
        }
        args.push(py.path_arg(&script));
        args.push(py.path_arg(site_packages));
        args.push(app.to_owned());
        args.extend(names.iter().cloned());
        let out = py
            .run(wine.as_ref(), &args, Duration::from_secs(900))
            .map_err(|source| Error::Run {
                what: format!("the import check with {label}"),
                source,
            })?;
        let json = out
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("PYSHIP-IMPORT-CHECK "))
            .ok_or_else(|| Error::CheckCrashed {
                exe: py.exe.clone(),
                message: format!(
                    "{}, stderr: {}",
                    out.code()
                        .map_or("killed by a signal".to_owned(), |c| format!(
                            "exit code {c}"
                        )),
                    out.stderr.trim().chars().take(2000).collect::<String>()
                ),
            })?;
        serde_json::from_str(json).map_err(|e| Error::CheckCrashed {
            exe: py.exe.clone(),
            message: format!("unreadable output: {e}"),
        })
    };
    let mut outcomes = check(app, &names)?;
    // All packages share one interpreter, so one import can break a later
    // one that the app never imports after it (setuptools fails after pip
    // has replaced distutils). A failure is judged on its own: the package
    // is imported again in a fresh interpreter, which is how the app, which
    // imports what it needs in its own order, would meet it.
    for o in outcomes.iter_mut() {
        if o.ok || o.app || runtime.contains(&o.name) {
            continue;
        }
        if let Some(alone) = check("", std::slice::from_ref(&o.name))?.pop() {
            if alone.ok {
                ctx.reporter.debug(&format!(
                    "import {} failed after the other packages ({}) but imports on its own",
                    o.name, o.error
                ));
            }
            *o = alone;
        }
    }
    let mut result = ImportCheck {
        interpreter: Some(label),
        ..Default::default()
    };
    let mut failures = Vec::new();
    let mut app_failure = None;
    let mut app_started = false;
    for o in outcomes {
        if o.ok {
            app_started |= o.app;
            result.ok.push(o.name);
            continue;
        }
        if runtime.contains(&o.name) {
            return Err(Error::RuntimeImportFailed {
                module: o.name,
                error: o.error,
            });
        }
        if let Some(w) = &wine {
            if let Some(dll) = wine_limitation(w, &o.paths) {
                let reason = format!(
                    "not checkable under this wine: {dll} needs ProcessPrng, which this prefix's bcryptprimitives.dll lacks (wine 8); install x86_64-w64-mingw32-gcc (Debian package `gcc-mingw-w64-x86-64`) so the check can build its replacement, or set PYSHIP_WINEPREFIX to a prefix that provides it"
                );
                result.unchecked(ctx, o.name, reason);
                continue;
            }
        }
        if o.app {
            let hint = app_hint(platform, &o.missing);
            app_failure = Some((o.name, o.error, hint));
            continue;
        }
        let mut tops: BTreeSet<String> = BTreeSet::new();
        tops.insert(o.name.clone());
        for m in &o.missing {
            tops.insert(m.split('.').next().unwrap_or(m).to_owned());
        }
        for f in o.paths.iter().chain(&o.files) {
            if let Some(t) = top_under(site_packages, f, py.wine) {
                tops.insert(t);
            }
        }
        let rules: BTreeSet<String> = tops
            .iter()
            .flat_map(|t| report.rules_touching(t))
            .chain(build_only_rules(report, &o.missing))
            .collect();
        if rules.is_empty() {
            let reason = format!(
                "fails to import, but stripping removed nothing from it or from what it imports: {}",
                o.error
            );
            result.unchecked(ctx, o.name, reason);
        } else {
            failures.push(ImportFailure {
                package: o.name,
                error: o.error,
                rules: rules.into_iter().collect(),
            });
        }
    }
    if let Some((app, error, hint)) = app_failure {
        return Err(Error::AppImport {
            app,
            error,
            interpreter: result.interpreter.clone().unwrap_or_default(),
            hint,
        });
    }
    if !failures.is_empty() {
        return Err(Error::ImportFailed {
            site_packages: site_packages.to_path_buf(),
            failures,
        });
    }
    let packages = result.ok.len() - usize::from(app_started);
    ctx.reporter.status(
        "Imported",
        &format!(
            "{packages} of {} packages{}",
            names.len(),
            if app_started {
                " (and started the app's module)"
            } else {
                ""
            }
        ),
    );
    Ok(result)
}

/// Standard-library packages the bundle added to its runtime, which must
/// import too: `tkinter` (with `windows.tkinter = true`, in `python/Lib/`).
pub fn runtime_modules(bundle_root: &Path, platform: Platform) -> Vec<String> {
    let tkinter = bundle_root.join("python/Lib/tkinter/__init__.py");
    if platform == Platform::Windows && tkinter.is_file() {
        vec!["tkinter".to_owned()]
    } else {
        Vec::new()
    }
}

/// Rules that removed a whole build-only package that a failed import asked for.
fn build_only_rules(report: &Report, missing: &[String]) -> Vec<String> {
    missing
        .iter()
        .flat_map(|m| report.rules_touching(m.split('.').next().unwrap_or(m)))
        .collect()
}

/// The top-level name under site-packages of a path the interpreter reported.
fn top_under(site_packages: &Path, reported: &str, wine: bool) -> Option<String> {
    let unix = if wine {
        PathBuf::from(
            reported
                .strip_prefix("Z:")
                .or(reported.strip_prefix("z:"))?
                .replace('\\', "/"),
        )
    } else {
        PathBuf::from(reported)
    };
    let rel = unix.strip_prefix(site_packages).ok()?;
    Some(super::rules::top_name(&rel.to_string_lossy()))
}

/// The hint of an app that does not start: on Windows, a missing tkinter
/// is the embeddable CPython's (it has none); else where the app and its
/// imports must be.
fn app_hint(platform: Platform, missing: &[String]) -> String {
    let tk = missing.iter().any(|m| {
        let top = m.split('.').next().unwrap_or(m);
        top == "tkinter" || top == "_tkinter"
    });
    if tk && platform == Platform::Windows {
        "the app imports tkinter, which the embeddable CPython of the Windows bundle lacks: set `tkinter = true` in the `windows` table of the pyship config (it adds tkinter and Tcl/Tk)".into()
    } else {
        "the bundle starts the app with site-packages before app/src on every target: check that the module is in `app-src` or in the project's wheel, and that what it imports is a dependency in pyproject.toml".into()
    }
}

/// The extension behind a "DLL load failed", when it needs `ProcessPrng` and
/// the prefix's `bcryptprimitives.dll` does not provide it.
fn wine_limitation(wine: &Wine, paths: &[String]) -> Option<String> {
    let contains = |hay: &[u8]| hay.windows(11).any(|w| w == b"ProcessPrng");
    if wine.has_process_prng() {
        return None;
    }
    paths.iter().find_map(|p| {
        let unix = p
            .strip_prefix("Z:")
            .or(p.strip_prefix("z:"))?
            .replace('\\', "/");
        fs_err::read(&unix)
            .is_ok_and(|b| contains(&b))
            .then_some(unix)
    })
}

/// The X.Y that `site_packages`' extension modules target, if any (for picking
/// a compiling interpreter).
pub fn extension_xy_of(site_packages: &Path) -> Option<String> {
    extension_xy(site_packages)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`SCRIPT`] run by the host's python3 on `sp` as site-packages,
    /// starting `app` and importing nothing else: its one outcome.
    fn run_script(sp: &Path, app: &str) -> Outcome {
        let script = sp.join("import_check.py");
        fs_err::write(&script, SCRIPT).unwrap();
        let out = std::process::Command::new("python3")
            .args(["-I", "-S", "-B"])
            .arg(&script)
            .arg(sp)
            .arg(app)
            .output()
            .expect("this test needs python3 on PATH");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let json = stdout
            .lines()
            .find_map(|l| l.strip_prefix("PYSHIP-IMPORT-CHECK "))
            .unwrap_or_else(|| panic!("no result: {out:?}"));
        let mut v: Vec<Outcome> = serde_json::from_str(json).unwrap();
        assert_eq!(v.len(), 1);
        v.remove(0)
    }

    /// The app is started as its launcher starts it: an entry point in a
    /// package without `__main__.py` (what `uv init --package` writes,
    /// `app = "app:main"`) starts; `python -m` of that package does not.
    #[test]
    fn a_package_entry_point_starts_without_a_main_module() {
        let sp = tempfile::tempdir().unwrap();
        let pkg = sp.path().join("tally");
        fs_err::create_dir(&pkg).unwrap();
        fs_err::write(pkg.join("__init__.py"), "def main():\n    return 0\n").unwrap();
        let check = |app: &str| run_script(sp.path(), app);
        let entry = check("tally:main");
        assert!(entry.ok && entry.app, "{}", entry.error);
        let missing = check("tally:nope");
        assert!(!missing.ok, "a missing function fails");
        let module = check("tally");
        assert!(
            !module.ok && module.error.contains("tally.__main__"),
            "{}",
            module.error
        );
    }

    /// A missing tkinter has its own hint on Windows only (the Linux
    /// runtimes carry tkinter: there it is a missing dependency).
    #[test]
    fn a_missing_tkinter_names_the_setting_on_windows() {
        let missing = ["tkinter".to_owned()];
        assert!(app_hint(Platform::Windows, &missing).contains("set `tkinter = true`"));
        assert!(!app_hint(Platform::Linux, &missing).contains("tkinter"));
        let other = ["numpy".to_owned()];
        assert!(!app_hint(Platform::Windows, &other).contains("tkinter"));
    }

    /// A `__main__.py` without a `__name__` guard (`from .cli import main`
    /// then `main()`) is not run, or the check would start the app: its
    /// top-level imports are, so a module the app imports on every start
    /// and the bundle lacks fails the check; an optional import (in `try`)
    /// does not.
    #[test]
    fn an_unguarded_main_module_has_its_imports_checked_without_starting() {
        let sp = tempfile::tempdir().unwrap();
        let started = sp.path().join("started");
        let check = |app: &str| run_script(sp.path(), app);
        let package = |name: &str, cli: &str| {
            let pkg = sp.path().join(name);
            fs_err::create_dir(&pkg).unwrap();
            fs_err::write(pkg.join("__init__.py"), "").unwrap();
            fs_err::write(pkg.join("cli.py"), cli).unwrap();
            fs_err::write(
                pkg.join("__main__.py"),
                format!(
                    "# -*- coding: utf-8 -*-\nfrom __future__ import annotations\nimport os\ntry:\n    import uvloop_not_here\nexcept ImportError:\n    pass\nfrom .cli import main\nopen({:?}, 'w').close()\nmain()\n",
                    started.display().to_string()
                ),
            )
            .unwrap();
        };
        package("good", "def main():\n    raise SystemExit(3)\n");
        package("broken", "import gone_by_strip\ndef main():\n    pass\n");
        let good = check("good");
        assert!(good.ok && good.app, "{}", good.error);
        let broken = check("broken");
        assert!(
            !broken.ok && broken.missing.contains(&"gone_by_strip".to_owned()),
            "{broken:?}"
        );
        assert!(!started.exists(), "the check ran the app's __main__");
    }
}
