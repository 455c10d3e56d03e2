//! Optional byte-compiling (`strip.compile = true`): `.py` → legacy `.pyc` next
//! to the source (`compileall -b`), with an interpreter of the target's X.Y.
//!
//! A `.py` is removed only when its `.pyc` was written by this run: a file that
//! failed to compile keeps its source (deleting sources that never compiled
//! breaks imports, e.g. `import fastapi`). With no suitable interpreter,
//! nothing is removed and the user is told. A `.pyc`-only tree zips larger
//! than the `.py` tree (about 7% for the hello fixture), so this is for
//! start-up time and source hiding, not size.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, SystemTime};

use globset::GlobSet;
use rayon::prelude::*;
use serde::Serialize;

use super::{Error, Interpreter};
use crate::context::Context;
use crate::error::escaped;
use crate::platform::Platform;
use crate::wine::Wine;

/// What compiling did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Compiled {
    /// The interpreter used; `None` when none fitted (sources kept).
    pub interpreter: Option<String>,
    /// `.py` files removed after they compiled, and their bytes.
    pub py_files: u64,
    pub py_bytes: u64,
    /// `.pyc` files written, and their bytes.
    pub pyc_files: u64,
    pub pyc_bytes: u64,
    /// Sources kept because they did not compile (relative paths, sorted).
    pub not_compiled: Vec<String>,
}

/// One compiled source: its bytes when it was removed (`None`: kept), and its `.pyc` bytes.
type Compiled1 = (Option<u64>, u64);

pub(crate) fn run(
    root: &Path,
    keep: &GlobSet,
    removed: &HashSet<&str>,
    python: Option<&Interpreter>,
    platform: Platform,
    dry_run: bool,
    ctx: &Context<'_>,
) -> Result<Compiled, Error> {
    let Some(py) = python else {
        ctx.reporter.warn(&format!(
            "strip.compile is on, but no Python of the target's version was found to compile with (host python3 of the same X.Y{}): .py files kept",
            if platform == Platform::Windows { ", or the bundle's python.exe under wine" } else { "" }
        ));
        return Ok(Compiled::default());
    };
    let label = format!(
        "{}{} (Python {})",
        if py.wine { "wine " } else { "" },
        py.exe.display(),
        py.version
    );
    if dry_run {
        ctx.reporter.status(
            "Skipping",
            &format!("byte-compiling in a dry run ({label})"),
        );
        return Ok(Compiled {
            interpreter: Some(label),
            ..Default::default()
        });
    }
    ctx.reporter
        .status("Compiling", &format!("sources with {label}"));
    let wine = if py.wine {
        let w = Wine::with_cache(ctx.env, &ctx.cache).map_err(|source| Error::Run {
            what: "starting wine to byte-compile".into(),
            source,
        })?;
        if let Some(n) = w.notice() {
            ctx.reporter.warn(n);
        }
        Some(w)
    } else {
        None
    };
    // pyc files written before this instant are not ours (a wheel may ship stale ones).
    let start = SystemTime::now() - Duration::from_secs(2);
    let mut args: Vec<String> = Vec::new();
    if !py.wine {
        args.push("-I".into());
    }
    args.extend(
        ["-m", "compileall", "-b", "-f", "-q", "-j"]
            .iter()
            .map(|s| s.to_string()),
    );
    // Worker processes are slow to start under wine.
    args.push(if py.wine { "1" } else { "0" }.into());
    args.push(py.path_arg(root));
    let out = py
        .run(wine.as_ref(), &args, Duration::from_secs(1800))
        .map_err(|source| Error::Run {
            what: format!("byte-compiling {} with {label}", root.display()),
            source,
        })?;
    if !out.success() {
        ctx.reporter.debug(&format!(
            "compileall reported errors (their sources stay): {}",
            out.stdout.trim()
        ));
    }
    let sources: Vec<(String, u64)> = walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "py"))
        .filter_map(|e| {
            let rel = e
                .path()
                .strip_prefix(root)
                .ok()?
                .to_string_lossy()
                .replace('\\', "/");
            Some((rel, e.metadata().ok()?.len()))
        })
        .filter(|(rel, _)| !removed.contains(rel.as_str()))
        .collect();
    let results: Vec<Result<Option<Compiled1>, Error>> = sources
        .par_iter()
        .map(|(rel, size)| {
            let py_path = root.join(rel);
            let pyc = py_path.with_extension("pyc");
            let fresh = fs_err::metadata(&pyc)
                .ok()
                .and_then(|m| m.modified().ok())
                .is_some_and(|t| t >= start);
            if !fresh {
                return Ok(None);
            }
            let pyc_len = fs_err::metadata(&pyc).map(|m| m.len()).unwrap_or(0);
            if keep.is_match(rel) {
                return Ok(Some((None, pyc_len)));
            }
            fs_err::remove_file(&py_path).map_err(|source| Error::Remove {
                path: py_path.clone(),
                source,
            })?;
            Ok(Some((Some(*size), pyc_len)))
        })
        .collect();
    let mut c = Compiled {
        interpreter: Some(label),
        ..Default::default()
    };
    for ((rel, _), r) in sources.iter().zip(results) {
        match r? {
            Some((py_bytes, pyc_bytes)) => {
                if let Some(b) = py_bytes {
                    c.py_files += 1;
                    c.py_bytes += b;
                }
                c.pyc_files += 1;
                c.pyc_bytes += pyc_bytes;
            }
            None => c.not_compiled.push(rel.clone()),
        }
    }
    if let Some(first) = c.not_compiled.first() {
        // compileall says why a file failed only in words: whether the disk
        // refused its .pyc is learnt by writing a file of the source's size
        // beside it. A write error fails the build; a syntax error keeps the
        // source, as it always did.
        let py = root.join(first);
        let probe = || -> std::io::Result<()> {
            let dir = py.parent().unwrap_or(root);
            let mut tmp = tempfile::Builder::new()
                .prefix(crate::fs::TEMP_PREFIX)
                .tempfile_in(dir)?;
            std::io::copy(&mut fs_err::File::open(&py)?, tmp.as_file_mut())?;
            tmp.as_file().sync_all()
        };
        if let Err(source) = probe() {
            return Err(Error::Write {
                path: py.with_extension("pyc"),
                source,
            });
        }
        ctx.reporter.warn(&format!(
            "{} source file(s) did not compile and were kept as .py (e.g. {})",
            c.not_compiled.len(),
            escaped(&c.not_compiled[0])
        ));
    }
    Ok(c)
}
