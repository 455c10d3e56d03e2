//! `cargo pyship generate-docs [--check]` (hidden): the book's generated
//! pages and the config's JSON Schema, from the code. The config reference,
//! the schema and the environment page come from the library
//! (`pyship_build::config::reference`); the command-line reference from the
//! clap definition of this binary. `--check` is the drift check the tests run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;
use pyship_build::config::reference;
use pyship_build::error::{Hinted, Result};
use pyship_build::report::Reporter;

use crate::cli::{Cargo, GenerateDocsArgs};
use crate::output::Output;

/// The command that regenerates the pages, as the check's hint names it.
pub const REGENERATE: &str = "cargo run -p cargo-pyship -- pyship generate-docs";

/// Every generated file, relative to the book's folder, with its contents.
pub fn files() -> Vec<(&'static str, String)> {
    vec![
        ("src/reference/config-keys.md", reference::config_page()),
        ("src/reference/pyship.schema.json", reference::schema_text()),
        ("src/reference/environment.md", reference::env_page()),
        ("src/reference/cli.md", cli_page()),
    ]
}

pub fn run(a: GenerateDocsArgs, out: &Output) -> Result<ExitCode> {
    let docs = a
        .docs
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs"));
    if !docs.join("book.toml").is_file() {
        return Err(Hinted {
            message: format!(
                "{} is not the book's folder (no book.toml)",
                pyship_build::error::escaped(docs.display())
            ),
            hint: "pass --docs DIR, the folder of the book's book.toml".into(),
        }
        .into());
    }
    let mut stale: Vec<PathBuf> = Vec::new();
    for (rel, text) in files() {
        let path = docs.join(rel);
        let on_disk = fs_err::read_to_string(&path).unwrap_or_default();
        if on_disk == text {
            continue;
        }
        if a.check {
            stale.push(path);
        } else {
            pyship_build::fs::atomic_write(&path, text.as_bytes())?;
            out.status("Wrote", &path.display().to_string());
        }
    }
    if !stale.is_empty() {
        let list: Vec<String> = stale.iter().map(|p| p.display().to_string()).collect();
        return Err(Hinted {
            message: format!(
                "generated documentation is out of date: {}",
                list.join(", ")
            ),
            hint: format!("regenerate it with `{REGENERATE}` and commit the result"),
        }
        .into());
    }
    Ok(ExitCode::SUCCESS)
}

/// One line: a help text's lines joined.
fn line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An argument as it is written: `--target <TARGET>`, `-p, --package <SPEC>`, `<DIR>`.
fn spelling(a: &clap::Arg) -> String {
    let value = a
        .get_value_names()
        .and_then(|v| v.first())
        .map(|v| v.to_string())
        .unwrap_or_else(|| a.get_id().as_str().to_uppercase());
    let takes_value = a.get_num_args().is_some_and(|n| n.takes_values())
        && !matches!(
            a.get_action(),
            clap::ArgAction::SetTrue | clap::ArgAction::Count
        );
    if a.is_positional() {
        let dots = if matches!(a.get_action(), clap::ArgAction::Append) {
            "..."
        } else {
            ""
        };
        return format!("<{value}>{dots}");
    }
    let mut names = Vec::new();
    if let Some(s) = a.get_short() {
        names.push(format!("-{s}"));
    }
    if let Some(l) = a.get_long() {
        names.push(format!("--{l}"));
    }
    let mut s = names.join(", ");
    if takes_value {
        s.push_str(&format!(" <{value}>"));
    }
    s
}

/// An argument's line of the page: spelling, help, values, default.
fn arg_line(a: &clap::Arg) -> String {
    let help = a
        .get_long_help()
        .or_else(|| a.get_help())
        .map(|h| line(&h.to_string()))
        .unwrap_or_default();
    let mut s = format!("- `{}`", spelling(a));
    if !help.is_empty() {
        s.push_str(&format!(": {help}"));
    }
    let values: Vec<String> = a
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| format!("`{}`", v.get_name()))
        .collect();
    if !values.is_empty() && a.get_action().takes_values() {
        s.push_str(&format!(" (values: {})", values.join(", ")));
    }
    let defaults: Vec<String> = a
        .get_default_values()
        .iter()
        .map(|d| d.to_string_lossy().into_owned())
        .collect();
    if !defaults.is_empty() {
        s.push_str(&format!(" [default: `{}`]", defaults.join(",")));
    }
    s.push('\n');
    s
}

fn command_section(out: &mut String, cmd: &mut clap::Command, path: &str) {
    out.push_str(&format!("\n## `{path}`\n\n"));
    if let Some(about) = cmd.get_long_about().or_else(|| cmd.get_about()) {
        out.push_str(&line(&about.to_string()));
        out.push_str("\n\n");
    }
    let usage = cmd.render_usage().to_string();
    let usage = usage.trim().trim_start_matches("Usage:").trim();
    out.push_str(&format!("```text\n{usage}\n```\n\n"));
    let args: Vec<String> = cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set() && !a.is_global_set())
        .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"))
        .map(arg_line)
        .collect();
    for a in &args {
        out.push_str(a);
    }
    if !args.is_empty() {
        out.push('\n');
    }
    let names: Vec<String> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in names {
        if let Some(sub) = cmd.find_subcommand_mut(&name) {
            let mut sub = sub.clone();
            command_section(out, &mut sub, &format!("{path} {name}"));
        }
    }
}

/// The command-line reference (`docs/src/reference/cli.md`), from clap.
pub fn cli_page() -> String {
    let mut root = Cargo::command();
    root.build();
    let mut out = String::from("# Command line\n\n");
    out.push_str(
        "<!-- Generated by `cargo run -p cargo-pyship -- pyship generate-docs` from the clap \
         definition in cargo-pyship/src/cli.rs: edit the help texts there, not this file. -->\n\n",
    );
    out.push_str(
        "```text\ncargo pyship [--manifest-path PATH] [-p PACKAGE] [-v|-q] [--color WHEN] <command>\n```\n\n\
         Exit codes: 0 success, 1 a user error (a message naming the file or URL, its\n\
         causes, and a `hint:` line), 2 a usage error. `--format json` prints one JSON\n\
         document on stdout and nothing else there; status lines go to stderr in\n\
         cargo's style. `NO_COLOR`, `CARGO_TERM_COLOR`, `-q` and `-v` are honoured.\n\
         What each command does, beyond its options: [Commands](commands.md) and the\n\
         guides.\n",
    );
    let Some(pyship) = root.find_subcommand_mut("pyship") else {
        return out;
    };
    out.push_str("\n## Options of every command\n\n");
    let globals: Vec<String> = pyship
        .get_arguments()
        .filter(|a| !a.is_hide_set() && a.is_global_set())
        .map(arg_line)
        .collect();
    for g in globals {
        out.push_str(&g);
    }
    let names: Vec<String> = pyship
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in names {
        if let Some(sub) = pyship.find_subcommand_mut(&name) {
            let mut sub = sub.clone();
            command_section(&mut out, &mut sub, &format!("cargo pyship {name}"));
        }
    }
    out
}
