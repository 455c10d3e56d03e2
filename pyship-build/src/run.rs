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
//! working folder is kept, stdin, stdout and stderr are the caller's (under
//! wine relayed through pipes: wine cannot take a regular file as a std
//! handle), and the app's exit code is returned.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use crate::context::Context;
use crate::error::Hint;
use crate::plan::Plan;
use crate::platform::Platform;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Bundle(#[from] crate::bundle::Error),
    #[error(transparent)]
    Sign(#[from] crate::sign::Error),
    #[error(transparent)]
    Wine(#[from] crate::wine::Error),
    #[error("could not start {program}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{program} ended without an exit code ({status})")]
    NoExitCode { program: String, status: String },
}

impl Hint for Error {
    fn hint(&self) -> Option<String> {
        match self {
            Error::Bundle(e) => e.hint(),
            Error::Sign(e) => e.hint(),
            Error::Wine(e) => e.hint(),
            Error::Spawn { .. } => {
                Some("the bundle tree may be damaged: `cargo pyship bundle` builds it again".into())
            }
            Error::NoExitCode { .. } => None,
        }
    }
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
        crate::bundle::prepare(plan, &[platform], ctx)?;
        let signer = if crate::bundle::signs_binaries(plan, platform) {
            crate::sign::Signer::prepare(plan, ctx)?
        } else {
            None
        };
        crate::bundle::run_with(plan, platform, signer.as_ref(), ctx)?;
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
            wait(cmd, &script.display().to_string(), false)?
        }
        Platform::Windows if cfg!(windows) => {
            let python = tree.join(platform.python_exe());
            let module = plan.launch.module_for(platform);
            ctx.reporter.status(
                "Running",
                &format!(
                    "{} -m {module}{} (what scripts\\start.bat runs)",
                    crate::project::display_path(&python),
                    shown(args)
                ),
            );
            let mut cmd = Command::new(&python);
            cmd.args(["-m", module]).args(args);
            wait(cmd, &python.display().to_string(), false)?
        }
        Platform::Windows => {
            let wine = crate::wine::Wine::with_cache(ctx.env, &ctx.cache)?;
            if let Err(e) = wine.add_process_prng(&ctx.cache, ctx.env) {
                ctx.reporter.warn(&format!(
                    "the wine prefix lacks ProcessPrng ({e}): Rust-built extensions will not load"
                ));
            }
            let python = tree.join(platform.python_exe());
            let module = plan.launch.module_for(platform);
            ctx.reporter.status(
                "Running",
                &format!(
                    "{} -m {module}{} under wine (what scripts\\start.bat runs; prefix {})",
                    crate::project::display_path(&python),
                    shown(args),
                    wine.prefix().display()
                ),
            );
            let mut cmd = wine.user_command(&python.to_string_lossy());
            cmd.args(["-m", module]).args(args);
            let code = wait(cmd, "wine python.exe", true)?;
            // Stopped (and its copy removed) before the code is returned.
            drop(wine);
            code
        }
    };
    Ok(Ran { built, code })
}

/// ` ARGS` for a status line (nothing without arguments).
fn shown(args: &[String]) -> String {
    args.iter().map(|a| format!(" {a}")).collect()
}

/// Run `cmd` in the caller's folder with the caller's std handles (relayed
/// through pipes with `relay`); its exit code.
fn wait(mut cmd: Command, program: &str, relay: bool) -> Result<i32, Error> {
    let spawn_err = |source| Error::Spawn {
        program: program.to_owned(),
        source,
    };
    if !relay {
        cmd.stdin(Stdio::inherit())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit());
        let status = cmd.status().map_err(spawn_err)?;
        return exit_code(program, status);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(spawn_err)?;
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    // The input relay may block on a terminal read after the app is gone:
    // it is not waited for (it ends with the process).
    if let Some(mut to_app) = stdin {
        std::thread::spawn(move || {
            let mut from = std::io::stdin().lock();
            let mut buf = [0u8; 8192];
            loop {
                match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if to_app.write_all(&buf[..n]).is_err() || to_app.flush().is_err() {
                            break;
                        }
                    }
                }
            }
            // Dropping the pipe gives the app its end of input.
        });
    }
    let out = stdout
        .map(|mut from| std::thread::spawn(move || relay_to(&mut from, &mut std::io::stdout())));
    let err = stderr
        .map(|mut from| std::thread::spawn(move || relay_to(&mut from, &mut std::io::stderr())));
    let status = child.wait().map_err(spawn_err)?;
    for t in [out, err].into_iter().flatten() {
        let _ = t.join();
    }
    exit_code(program, status)
}

/// Copy `from` to `to` as it comes (unbuffered: the app's output shows as it
/// writes it).
fn relay_to(from: &mut impl Read, to: &mut impl Write) {
    let mut buf = [0u8; 8192];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    return;
                }
                let _ = to.flush();
            }
        }
    }
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
