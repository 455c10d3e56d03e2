//! One file per command; each turns arguments into library calls.

use std::process::ExitCode;

use pyship_build::env::Env;
use pyship_build::error::Result;
use pyship_build::plan::{Options, Plan};
use pyship_build::project::{self, Project};

use crate::cli::{Cli, Command, Global};
use crate::output::Output;

mod bundle;
mod cache;
mod config;
mod deb;
mod docker;
mod docs;
mod fetch;
mod init;
mod installer;
mod keygen;
mod licenses;
mod msi;
mod plan;
mod publish;
mod release;
mod run;
mod strip;
mod update;
mod updater_wheel;
mod version;

pub fn run(cli: Cli, out: &Output) -> Result<ExitCode> {
    let env = Env::from_process();
    let g = &cli.global;
    match cli.command {
        Command::Init(a) => init::run(g, a, &env, out),
        Command::Version(a) => version::run(g, a, &env, out),
        Command::Bundle(a) => bundle::run(g, a, &env, out),
        Command::Installer(a) => installer::run(g, a, &env, out),
        Command::Msi(a) => msi::run(g, a, &env, out),
        Command::Deb(a) => deb::run(g, a, &env, out),
        Command::Run(a) => run::run(g, a, &env, out),
        Command::Strip(a) => strip::run(g, a, &env, out),
        Command::Licenses(a) => licenses::run(g, a, &env, out),
        Command::Docker(a) => docker::run(g, a, &env, out),
        Command::Publish(a) => publish::run(g, a, &env, out),
        Command::Release(a) => release::run(g, a, &env, out),
        Command::Plan(a) => plan::run(g, a, &env, out),
        Command::Cache(a) => cache::run(a, &env, out),
        Command::Fetch(a) => fetch::run(g, a, &env, out),
        Command::Update(a) => update::run(g, a, &env, out),
        Command::Keygen(a) => keygen::run(g, a, &env, out),
        Command::Config(a) => config::run(a),
        Command::UpdaterWheel(a) => updater_wheel::run(g, a),
        Command::GenerateDocs(a) => docs::run(a, out),
    }
}

/// Load the project selected by `--manifest-path` and `-p`.
pub fn load_project(g: &Global) -> Result<Project> {
    Ok(project::load(
        g.manifest_path.as_deref(),
        g.package.as_deref(),
    )?)
}

/// The opening of every command that works on a release: load the project
/// selected by `--manifest-path` and `-p`, then resolve its plan.
pub fn load_plan(g: &Global, env: &Env, opts: &Options<'_>) -> Result<Plan> {
    Ok(Plan::build(load_project(g)?, env, opts)?)
}
