//! `cargo pyship strip DIR`: strip a site-packages folder with the project's
//! `[package.metadata.pyship.strip]` config (defaults outside a project), then
//! check that every top-level package still imports.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use pyship_build::context::Context;
use pyship_build::env::Env;
use pyship_build::error::{escaped, Result};
use pyship_build::platform::Platform;
use pyship_build::report::human_bytes;
use pyship_build::strip::{self, ImportCheck, Interpreter, Options, Report};

use crate::cli::{Format, Global, StripArgs, StripPlatform};
use crate::output::Output;

pub fn run(g: &Global, a: StripArgs, env: &Env, out: &Output) -> Result<ExitCode> {
    // The project's config when there is one; a bare folder strips with defaults.
    let mut opts = if g.manifest_path.is_some() {
        Options::from_config(&super::load_project(g)?.config.strip)
    } else {
        match super::load_project(g) {
            Ok(p) => Options::from_config(&p.config.strip),
            Err(_) => Options::default(),
        }
    };
    opts.dry_run = a.dry_run;
    let platform = match a.platform {
        StripPlatform::Windows => Platform::Windows,
        StripPlatform::Linux => Platform::Linux,
    };
    let dir = a.dir;
    let root = bundle_root(&dir, platform);
    let ctx = Context::new(out, env);
    let python = if opts.rules.compile {
        let xy = strip::check::extension_xy_of(&dir)
            .or_else(|| Interpreter::bundled(&root, platform, env).map(|i| i.version));
        xy.and_then(|xy| Interpreter::for_target(&xy, platform, Some(&root), env))
    } else {
        None
    };
    let report = strip::run(&opts, &dir, platform, python.as_ref(), &ctx)?;
    let check = if opts.dry_run {
        None
    } else {
        Some(strip::import_check(
            &root, &dir, platform, &ctx, &report, None, None, None,
        )?)
    };
    match a.format {
        Format::Json => {
            #[derive(serde::Serialize)]
            struct Doc<'a> {
                #[serde(flatten)]
                report: &'a Report,
                import_check: Option<&'a ImportCheck>,
            }
            crate::print_json(&Doc {
                report: &report,
                import_check: check.as_ref(),
            })?;
        }
        Format::Text => print_table(&report),
    }
    Ok(ExitCode::SUCCESS)
}

/// The bundle root of a site-packages folder laid out as in a bundle
/// (`python/Lib/site-packages`, `python/lib/pythonX.Y/site-packages`), else its parent.
fn bundle_root(dir: &Path, platform: Platform) -> PathBuf {
    let up = match platform {
        Platform::Windows => 3,
        Platform::Linux => 4,
    };
    let root = dir.ancestors().nth(up).map(Path::to_path_buf);
    match root {
        Some(r) if r.join(platform.python_exe()).is_file() => r,
        _ => dir.parent().unwrap_or(dir).to_path_buf(),
    }
}

fn print_table(r: &Report) {
    // A rule's name holds a `remove`/`keep` glob from the config.
    let names: Vec<String> = r
        .rules
        .iter()
        .map(|x| escaped(&x.rule).to_string())
        .collect();
    let width = names.iter().map(String::len).max().unwrap_or(4).max(4);
    println!(
        "{:<width$}  {:>6}  {:>10}  {:>5}",
        "rule", "files", "bytes", "kept"
    );
    for (x, name) in r.rules.iter().zip(&names) {
        println!(
            "{:<width$}  {:>6}  {:>10}  {:>5}",
            name,
            x.files,
            human_bytes(x.bytes),
            x.kept
        );
    }
    if let Some(s) = &r.debug_symbols {
        println!(
            "{:<width$}  {:>6}  {:>10}  {:>5}",
            "debug-symbols",
            s.stripped,
            human_bytes(s.bytes),
            "-"
        );
    }
    if let Some(c) = &r.compile {
        println!(
            "{:<width$}  {:>6}  {:>10}  {:>5}",
            "compile (.py removed)",
            c.py_files,
            human_bytes(c.py_bytes),
            c.not_compiled.len()
        );
    }
    let pct = if r.before.bytes == 0 {
        0.0
    } else {
        100.0 * (r.before.bytes - r.after.bytes.min(r.before.bytes)) as f64 / r.before.bytes as f64
    };
    println!(
        "{} {} files, {} -> {} files, {} ({pct:.1}% smaller){}",
        if r.dry_run {
            "would go from"
        } else {
            "went from"
        },
        r.before.files,
        human_bytes(r.before.bytes),
        r.after.files,
        human_bytes(r.after.bytes),
        if r.dry_run { " [dry run]" } else { "" }
    );
}
