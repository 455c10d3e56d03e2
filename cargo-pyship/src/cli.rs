//! The command line, in cargo's subcommand shape.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "cargo", bin_name = "cargo", styles = clap::builder::styling::Styles::styled())]
pub enum Cargo {
    /// Ship Rust-plus-Python applications: Windows zip and installer, Linux
    /// tarball with systemd service, Docker image, Gitea release.
    #[command(version)]
    Pyship(Cli),
}

#[derive(Debug, Args)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Path to Cargo.toml
    #[arg(long, global = true, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// Package to ship (in a workspace)
    #[arg(short = 'p', long, global = true, value_name = "SPEC")]
    pub package: Option<String>,
    /// More output (-vv: debug detail)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// No output but errors and warnings
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Coloring
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto")]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, Default, ValueEnum, PartialEq, Eq)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Target {
    Windows,
    Linux,
    All,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Ci {
    Gitea,
    Github,
    None,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write the pyship table (found from the project) and CI workflows
    Init(InitArgs),
    /// Show the release version, stamp it, or check that files agree
    Version(VersionArgs),
    /// Build bundles (Windows portable zip, Linux tarball)
    Bundle(BundleArgs),
    /// Build the Windows installer (builds the Windows bundle when missing)
    Installer(InstallerArgs),
    /// Build the Windows Installer package, `.msi` (builds the Windows bundle when missing)
    Msi(InstallerArgs),
    /// Build the Debian package, `.deb` (builds the Linux bundle when missing)
    Deb(InstallerArgs),
    /// Build (or reuse) a bundle and run its app as a user starts it
    /// (Windows: under wine), passing ARGS; exits with the app's exit code
    Run(RunArgs),
    /// Strip a site-packages directory
    Strip(StripArgs),
    /// Write THIRD-PARTY-LICENSES.txt into the bundle trees (also a bundle step)
    Licenses(LicensesArgs),
    /// Build (and push) the Docker image
    Docker(DockerArgs),
    /// Publish the artifacts in the output directory to a release
    Publish(PublishArgs),
    /// The one CI step: version --stamp, bundle all, installer, publish, docker
    Release(ReleaseArgs),
    /// Show what `release` would do, without side effects
    Plan(PlanArgs),
    /// Show or empty the pyship cache (downloads, compressed archive entries, wine prefix)
    Cache(CacheArgs),
    /// Download everything a release needs, so builds can then run with --offline
    Fetch(FetchArgs),
    /// Re-resolve the dependencies pinned in pyship.lock and print what changed
    Update(UpdateArgs),
    /// Make a minisign key pair that signs releases (update.public-keys)
    Keygen(KeygenArgs),
    /// Show the config reference: each key of the pyship table with its type,
    /// default and meaning
    Config(ConfigArgs),
    /// Write the wheel of the bundled self-updater, `pyship_update`, for a
    /// development checkout (`uv add --dev` it: there it says install type dev)
    UpdaterWheel(UpdaterWheelArgs),
    /// Regenerate the book's reference pages and the config's JSON Schema
    /// from the code (a development command of this repository)
    #[command(hide = true)]
    GenerateDocs(GenerateDocsArgs),
}

#[derive(Debug, Args)]
pub struct UpdaterWheelArgs {
    /// Folder to write the wheel to [default: dist/ next to the manifest]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct GenerateDocsArgs {
    /// Write nothing; exit 1 naming each generated file that is out of date
    #[arg(long)]
    pub check: bool,
    /// The book's folder [default: docs/ of the checkout this binary was built from]
    #[arg(long, value_name = "DIR")]
    pub docs: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Platforms to fetch for (repeatable) [default: all]
    #[arg(long, value_enum)]
    pub target: Vec<Target>,
    #[arg(long)]
    pub version: Option<String>,
    /// Fill DIR instead of the pyship cache: a cache of its own, with uv's
    /// downloads inside, for `PYSHIP_CACHE_DIR=DIR cargo pyship release --offline`
    #[arg(long, value_name = "DIR")]
    pub into: Option<PathBuf>,
    /// Fail when pyship.lock would change (as `cargo fetch --locked`)
    #[arg(long)]
    pub locked: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Packages to update (the others keep their versions where they can)
    /// [default: every package]
    #[arg(value_name = "PACKAGE")]
    pub packages: Vec<String>,
    /// Platforms whose pins to update (repeatable) [default: all]
    #[arg(long, value_enum)]
    pub target: Vec<Target>,
    /// Print what would change; write nothing
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// A table (`windows`) or a key (`windows.publisher`), dotted below the
    /// pyship table [default: every table and key]
    #[arg(value_name = "KEY")]
    pub key: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// The secret key file to write (the public key goes to FILE.pub)
    /// [default: ~/.minisign/{file name of the app}.key, or pyship.key]
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Leave the secret key unencrypted (for a CI secret that has no password)
    #[arg(long)]
    pub unencrypted: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct CacheArgs {
    #[command(subcommand)]
    pub action: CacheAction,
}

#[derive(Debug, Subcommand)]
pub enum CacheAction {
    /// Print the cache folder and each bucket's file count and size
    Info {
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Remove cached files: every bucket, or only the named ones
    Clean {
        /// Buckets to remove (names as `cache info` prints them) [default: all]
        bucket: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// CI system to write workflows for [default: gitea; with --check: the
    /// one whose workflows are in the repository]
    #[arg(long, value_enum)]
    pub ci: Option<Ci>,
    /// Fail (exit 1) and show a diff when generated files differ from disk
    #[arg(long)]
    pub check: bool,
    /// Rewrite an existing pyship table (its values are kept)
    #[arg(long)]
    pub force: bool,
    /// Where the release workflow installs cargo-pyship from: `crates.io`, a
    /// git URL (`#<commit>`, `#tag=<tag>`, `#branch=<branch>`) or a path
    /// inside the repository [default: ci.install-command, else where cargo
    /// installed this cargo-pyship from]
    #[arg(long, value_name = "SOURCE")]
    pub install_from: Option<String>,
    /// The app's pyproject.toml, when the search finds several
    #[arg(long, value_name = "PATH")]
    pub pyproject: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Use this version instead of detecting it
    pub version: Option<String>,
    /// Write the version into pyproject.toml (or Cargo.toml for dynamic versions)
    #[arg(long, conflicts_with = "check")]
    pub stamp: bool,
    /// Exit 1 when the tag, Cargo.toml and pyproject.toml disagree
    #[arg(long)]
    pub check: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct BundleArgs {
    /// Platforms to bundle (repeatable)
    #[arg(long, value_enum)]
    pub target: Vec<Target>,
    /// Use this version instead of detecting it
    #[arg(long)]
    pub version: Option<String>,
    /// Output directory (default: dist/ next to the manifest)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Make no network requests (uses the caches and local indexes)
    #[arg(long)]
    pub offline: bool,
    /// Fail when pyship.lock would change (as `cargo build --locked`)
    #[arg(long)]
    pub locked: bool,
}

#[derive(Debug, Args)]
pub struct InstallerArgs {
    #[arg(long)]
    pub version: Option<String>,
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Make no network requests (uses the caches and local indexes)
    #[arg(long)]
    pub offline: bool,
    /// Fail when pyship.lock would change (as `cargo build --locked`)
    #[arg(long)]
    pub locked: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The bundle to run [default: this host's platform]
    #[arg(long, value_enum)]
    pub target: Option<StripPlatform>,
    /// Use this version instead of detecting it
    #[arg(long)]
    pub version: Option<String>,
    /// Output directory (default: dist/ next to the manifest)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Make no network requests when the bundle has to be built
    #[arg(long)]
    pub offline: bool,
    /// Arguments for the app (after `--`), after the configured `args`
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum StripPlatform {
    Windows,
    Linux,
}

#[derive(Debug, Args)]
pub struct StripArgs {
    /// The site-packages directory to strip
    pub dir: PathBuf,
    #[arg(long, value_enum, default_value = "windows")]
    pub platform: StripPlatform,
    /// Report what would be removed, remove nothing
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct LicensesArgs {
    /// Bundles whose licence file to write (repeatable) [default: those built]
    #[arg(long, value_enum)]
    pub target: Vec<Target>,
    #[arg(long)]
    pub version: Option<String>,
    /// Output directory the bundles were built in (default: dist/ next to the manifest)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct DockerArgs {
    #[arg(long)]
    pub version: Option<String>,
    /// Log in and push all tags
    #[arg(long)]
    pub push: bool,
    /// Print the commands instead of running them
    #[arg(long)]
    pub print_commands: bool,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    #[arg(long)]
    pub version: Option<String>,
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Staged rollout: offer the release to this fraction of installs
    /// (0 < F <= 1) [default: update.rollout]; publish again with a higher
    /// one to widen it
    #[arg(long, value_name = "F", value_parser = parse_rollout)]
    pub rollout: Option<f64>,
    /// Make no write request; print the plan
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// Make no change anywhere; print what would happen
    #[arg(long)]
    pub dry_run: bool,
    /// Staged rollout: offer the release to this fraction of installs
    /// (0 < F <= 1) [default: update.rollout]
    #[arg(long, value_name = "F", value_parser = parse_rollout)]
    pub rollout: Option<f64>,
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Make no network requests (uses the caches and local indexes)
    #[arg(long)]
    pub offline: bool,
    /// Fail when pyship.lock would change [default: on when CI is set]
    #[arg(long)]
    pub locked: bool,
    /// Do only these parts, one CI job's share: `windows`/`linux` (that
    /// target's bundle and the installer, MSI or .deb made from it), `publish`
    /// (from the artifacts already in --out), `docker`
    #[arg(long, value_name = "PART", value_delimiter = ',')]
    pub only: Vec<pyship_build::release::Part>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[arg(long)]
    pub version: Option<String>,
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

/// `--rollout F`: a fraction above 0 and at most 1.
fn parse_rollout(text: &str) -> Result<f64, String> {
    let f: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    pyship_build::config::check_rollout(f)
}
