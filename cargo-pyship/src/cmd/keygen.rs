//! `cargo pyship keygen [--out FILE] [--unencrypted]`: a minisign key pair
//! that signs `manifest.json`. The secret key is encrypted with a password
//! (asked twice on the terminal, or read from the variable
//! `update.signing-password-env` names) unless `--unencrypted`; it is written
//! to FILE (0600) and never printed. The public key goes to FILE.pub and is
//! printed with the config line that makes bundles trust it.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use pyship_build::env::Env;
use pyship_build::error::{Hinted, Result};
use pyship_build::report::Reporter;

use crate::cli::{Format, Global, KeygenArgs};
use crate::output::Output;

pub fn run(g: &Global, a: KeygenArgs, env: &Env, out: &Output) -> Result<ExitCode> {
    // A project is optional: it names the default file and the variables.
    let project = super::load_project(g).ok();
    let update = project.as_ref().map(|p| p.config.update.clone());
    let password_var = update
        .as_ref()
        .map(|u| u.signing_password_env.clone())
        .unwrap_or_else(|| pyship_build::config::DEFAULT_SIGNING_PASSWORD_ENV.into());
    let key_var = update
        .as_ref()
        .map(|u| u.signing_key_env.clone())
        .unwrap_or_else(|| pyship_build::config::DEFAULT_SIGNING_KEY_ENV.into());
    let table = project
        .as_ref()
        .map(|p| p.config_source.table.key())
        .unwrap_or("package.metadata.pyship");
    let file = match a.out {
        Some(f) => f,
        None => {
            let name = project
                .as_ref()
                .and_then(|p| pyship_build::names::file_name(&p.config.name, table).ok())
                .unwrap_or_else(|| "pyship".into());
            match std::env::home_dir() {
                Some(home) => home.join(".minisign").join(format!("{name}.key")),
                None => PathBuf::from(format!("{name}.key")),
            }
        }
    };
    let password = if a.unencrypted {
        None
    } else if let Some(p) = env.get(&password_var) {
        Some(p.to_owned())
    } else {
        Some(ask_password(&password_var)?)
    };
    let g = pyship_build::keys::keygen(&file, password)?;
    match a.format {
        Format::Json => crate::print_json(&g)?,
        Format::Text => {
            out.status(
                "Wrote",
                &format!(
                    "{} (secret key{}, mode 0600) and {}",
                    g.secret_key_file.display(),
                    if g.encrypted {
                        ", encrypted"
                    } else {
                        ", NOT encrypted"
                    },
                    g.public_key_file.display()
                ),
            );
            println!("public key (key id {}):\n{}\n", g.key_id, g.public_key);
            println!("Bundles trust it with, in [{table}.update]:");
            println!("public-keys = [\"{}\"]\n", g.public_key);
            println!(
                "`publish` and `release` sign manifest.json with the secret key's text in ${key_var}{}.",
                if g.encrypted {
                    format!(" and its password in ${password_var}")
                } else {
                    String::new()
                }
            );
            println!("Keep the secret key file out of the repository; store it as CI secrets.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The password, asked twice on the terminal without echo.
fn ask_password(var: &str) -> Result<String> {
    if !std::io::stdin().is_terminal() {
        return Err(Hinted {
            message: "no password for the secret key: not a terminal to ask on".into(),
            hint: format!("set {var} to the password, or pass --unencrypted for a key without one"),
        }
        .into());
    }
    let first =
        rpassword::prompt_password("Password for the new secret key: ").map_err(|e| Hinted {
            message: format!("could not read the password: {e}"),
            hint: "try again".into(),
        })?;
    if first.is_empty() {
        return Err(Hinted {
            message: "an empty password".into(),
            hint: "type a password, or pass --unencrypted for a key without one".into(),
        }
        .into());
    }
    let second = rpassword::prompt_password("The same password again: ").map_err(|e| Hinted {
        message: format!("could not read the password: {e}"),
        hint: "try again".into(),
    })?;
    if first != second {
        return Err(Hinted {
            message: "the two passwords differ".into(),
            hint: "run keygen again".into(),
        }
        .into());
    }
    Ok(first)
}
