//! `cargo pyship`: the thin binary. Parses arguments, renders progress and
//! errors, maps errors to exit codes (0 ok, 1 user error, 2 usage error).
//! Everything else lives in the `pyship-build` library.

mod cli;
mod cmd;
mod output;
mod signals;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // `cargo pyship …` runs `cargo-pyship pyship …`; running `cargo-pyship …`
    // directly works too (the `pyship` word is inserted).
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).and_then(|a| a.to_str()) != Some("pyship") {
        args.insert(1, "pyship".into());
    }
    let cli::Cargo::Pyship(cli) = match cli::Cargo::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(2),
            };
        }
    };
    let out = output::Output::new(&cli.global);
    signals::install();
    let result = cmd::run(cli, &out);
    signals::defer_to_handler();
    match result {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            out.error(&err);
            ExitCode::from(1)
        }
    }
}

/// A closed stdout (`cargo pyship plan | head`) is not an error (ripgrep).
fn is_broken_pipe(err: &pyship_build::error::Report) -> bool {
    err.chain().any(|e| {
        let io = e
            .downcast_ref::<pyship_build::error::Io>()
            .map(|e| &e.0)
            .or_else(|| e.downcast_ref::<std::io::Error>());
        io.is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Write a JSON document to stdout (the only thing `--format json` prints there).
pub fn print_json(value: &impl serde::Serialize) -> pyship_build::error::Result<()> {
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, value)
        .map_err(|e| pyship_build::error::Io(e.into()))?;
    writeln!(stdout).map_err(pyship_build::error::Io)?;
    Ok(())
}
