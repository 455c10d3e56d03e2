//! `cargo pyship init`: write the pyship table and CI workflows, or
//! (`--check`) show how the files on disk differ from what init would write.

use std::io::Write;
use std::process::ExitCode;

use pyship_build::env::Env;
use pyship_build::error::Result;
use pyship_build::init::{self, Ci};
use pyship_build::report::Reporter;
use pyship_build::Context;

use crate::cli::{self, Global, InitArgs};
use crate::output::Output;

pub fn run(g: &Global, a: InitArgs, env: &Env, out: &Output) -> Result<ExitCode> {
    // A Python-only project (a pyproject.toml, no Cargo.toml): init gives it
    // the manifest that holds the pyship table, and takes it back if init fails.
    let cwd = std::env::current_dir().map_err(pyship_build::error::Io)?;
    let created = if g.manifest_path.is_none() && !a.check && init::needs_manifest(&cwd) {
        let path = init::create_manifest(&cwd)?;
        out.status(
            "Created",
            &format!(
                "{}: a virtual Cargo workspace without members (nothing to compile) to hold the [workspace.metadata.pyship] table; cargo-pyship keeps its settings in a Cargo manifest",
                pyship_build::project::display_path(&path)
            ),
        );
        Some(path)
    } else {
        None
    };
    let result = run_in(g, a, env, out);
    if let (Err(_), Some(path)) = (&result, &created) {
        if init::remove_created_manifest(path) {
            out.status(
                "Removed",
                &format!(
                    "{} again (init failed)",
                    pyship_build::project::display_path(path)
                ),
            );
        }
    }
    result
}

fn run_in(g: &Global, a: InitArgs, env: &Env, out: &Output) -> Result<ExitCode> {
    let project = super::load_project(g)?;
    let opts = init::Options {
        ci: match a.ci {
            Some(cli::Ci::Gitea) => Ci::Gitea,
            Some(cli::Ci::Github) => Ci::Github,
            Some(cli::Ci::None) => Ci::None,
            None if a.check => init::detect_ci(&project),
            None => Ci::Gitea,
        },
        force: a.force,
        install_from: a.install_from,
        pyproject: a.pyproject,
    };
    if a.check {
        let drift = init::check(&project, &opts, env)?;
        if drift.is_empty() {
            out.status("Checked", "the generated files are up to date");
            return Ok(ExitCode::SUCCESS);
        }
        let mut stdout = std::io::stdout().lock();
        for d in &drift {
            write!(stdout, "{}", d.diff).map_err(pyship_build::error::Io)?;
        }
        stdout.flush().map_err(pyship_build::error::Io)?;
        out.error(&pyship_build::error::Report::from(pyship_build::error::Hinted {
            message: format!(
                "{} generated file{} from what `cargo pyship init` writes now: {}",
                drift.len(),
                if drift.len() == 1 { " differs" } else { "s differ" },
                drift
                    .iter()
                    .map(|d| d.path.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            hint: "run `cargo pyship init` to regenerate them (`--force` rewrites an existing table; the diff above shows the change), or edit the templates instead of the files".into(),
        }));
        return Ok(ExitCode::from(1));
    }
    let ctx = Context::new(out, env);
    init::run(&project, &opts, &ctx)?;
    Ok(ExitCode::SUCCESS)
}
