//! Orchestrator: `cargo pyship run`. Why: a developer on Linux should try
//! the Windows build of the app the way a user starts it, in one command,
//! without knowing that plain wine 8 cannot load Rust-built extensions
//! (`ProcessPrng`) or how the bundle's interpreter is started.
//!
//! It builds the bundle of one platform, or reuses the tree when the inputs
//! it was built from are unchanged ([`crate::bundle::is_current`]), then
//! starts the app from that tree: on Linux through `run.sh`, as the tarball's
//! user does; on Windows what `scripts\start.bat` runs, the bundle's
//! `python\python.exe -m {module}`, under wine in a private copy of the prefix
//! cargo-pyship prepares for its import check (with the `ProcessPrng`
//! replacement). The arguments follow the configured ones, the caller's
//! working folder is kept, stdin, stdout and stderr are the caller's,
//! relayed through pipes ([`crate::process::Command::relayed`]: the app
//! ends with the build, and wine cannot take a regular file as a std
//! handle), and the app's exit code is returned.

use std::path::{Path, PathBuf};

use crate::process::Command;

use crate::context::Context;
use crate::plan::Plan;
use crate::platform::Platform;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Bundle(#[from] crate::bundle::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Sign(#[from] crate::sign::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Wine(#[from] crate::wine::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Process(#[from] crate::process::Error),
    #[error("{} ended without an exit code ({status})", crate::error::escaped(.program))]
    NoExitCode { program: String, status: String },
}

/// What [`run`] did before the app started, and how it ended.
#[derive(Debug, Clone)]
pub struct Ran {
    /// The bundle was built (else an unchanged tree was reused).
    pub built: bool,
    /// The app's exit code (a signal's number + 128 on Linux).
    pub code: i32,
}

/// Build `platform`'s bundle (or reuse it) and run its app with `args`
/// (see the module docs). Returns the app's exit code.
pub fn run(
    plan: &Plan,
    platform: Platform,
    args: &[String],
    ctx: &Context<'_>,
) -> Result<Ran, Error> {
    let tree = plan.bundle_dir(platform);
    let built = !crate::bundle::is_current(plan, platform);
    if built {
        ctx.reporter.status(
            "Bundling",
            &format!(
                "{} {} for {platform}",
                plan.name,
                plan.version.version.tag()
            ),
        );
        let prepared = crate::bundle::prepare(plan, &[platform], ctx)?;
        let signer = if crate::bundle::signs_binaries(plan, platform) {
            crate::sign::Signer::prepare(plan, ctx)?
        } else {
            None
        };
        crate::bundle::run_with(plan, platform, &prepared, signer.as_ref(), ctx)?;
    } else {
        ctx.reporter.status(
            "Fresh",
            &format!(
                "{} (built from the same inputs)",
                crate::project::display_path(&tree)
            ),
        );
    }
    let code = match platform {
        Platform::Linux => {
            let script = tree.join("run.sh");
            ctx.reporter.status(
                "Running",
                &format!("{}{}", crate::project::display_path(&script), shown(args)),
            );
            let mut cmd = Command::new(&script);
            cmd.args(args);
            exit_code(&script.display().to_string(), cmd.relayed()?)?
        }
        Platform::Windows if cfg!(windows) => {
            let (python, module, line) = windows_command(plan, &tree, args);
            ctx.reporter
                .status("Running", &format!("{line} (what scripts\\start.bat runs)"));
            let mut cmd = Command::new(&python);
            cmd.args(["-m", module]).args(args);
            exit_code(&python.display().to_string(), cmd.relayed()?)?
        }
        Platform::Windows => {
            let wine = crate::wine::Wine::with_cache(ctx.env, &ctx.cache)?;
            if let Some(n) = wine.notice() {
                ctx.reporter.warn(n);
            }
            if let Err(e) = wine.add_process_prng(&ctx.cache, ctx.env) {
                ctx.reporter.warn(&format!(
                    "the wine prefix lacks ProcessPrng ({e}): Rust-built extensions will not load"
                ));
            }
            let (python, module, line) = windows_command(plan, &tree, args);
            ctx.reporter.status(
                "Running",
                &format!(
                    "{line} under wine (what scripts\\start.bat runs; prefix {})",
                    wine.prefix().display()
                ),
            );
            let mut cmd = wine.user_command(&python.to_string_lossy());
            cmd.args(["-m", module]).args(args);
            // The std handles are pipes to a Linux terminal, which reads
            // UTF-8; on a pipe Windows' Python writes the ANSI code page
            // (cp1252), where a console would show the text as it is.
            if ctx.env.get(crate::env::PYTHONIOENCODING).is_none() {
                cmd.env(crate::env::PYTHONIOENCODING, "utf-8");
            }
            let code = exit_code("wine python.exe", cmd.relayed()?)?;
            // Stopped (and its copy removed) before the code is returned.
            drop(wine);
            code
        }
    };
    Ok(Ran { built, code })
}

/// The Windows bundle's Python in `tree`, the module it runs (as
/// scripts\\start.bat does) and `{python} -m {module} ARGS` for a status line.
fn windows_command<'p>(plan: &'p Plan, tree: &Path, args: &[String]) -> (PathBuf, &'p str, String) {
    let python = tree.join(Platform::Windows.python_exe());
    let module = plan.launch.module_for(Platform::Windows);
    let line = format!(
        "{} -m {module}{}",
        crate::project::display_path(&python),
        shown(args)
    );
    (python, module, line)
}

/// ` ARGS` for a status line (nothing without arguments), each argument
/// quoted when a shell would need it.
fn shown(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
            if plain {
                format!(" {a}")
            } else {
                format!(" '{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect()
}

#[cfg(unix)]
fn exit_code(program: &str, status: std::process::ExitStatus) -> Result<i32, Error> {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .ok_or_else(|| Error::NoExitCode {
            program: program.to_owned(),
            status: status.to_string(),
        })
}

#[cfg(not(unix))]
fn exit_code(program: &str, status: std::process::ExitStatus) -> Result<i32, Error> {
    status.code().ok_or_else(|| Error::NoExitCode {
        program: program.to_owned(),
        status: status.to_string(),
    })
}
