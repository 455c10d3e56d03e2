//! `pyship-build`: the library behind `cargo pyship`.
//!
//! It resolves a project's configuration, version and paths into one [`plan::Plan`],
//! then runs the pipeline stages against it, one module per stage:
//! [`config`] → [`version`] → [`wheel`] → [`python`] → [`deps`] → [`app`] → [`strip`] →
//! [`update`] → [`render`] → [`archive`] → [`installer`] → [`docker`] → [`publish`].
//!
//! The library never prints: progress and status go through [`report::Reporter`],
//! so it is safe to call from a `build.rs` (see [`build_script`]).
//!
//! # Features
//!
//! `net` (default): the pipeline, everything that fetches, bundles, publishes
//! or links (reqwest and the archive, template and PE crates come with it).
//! With `default-features = false` only [`config`], [`project`], [`version`]
//! and [`build_script`] (with the [`error`], [`env`](mod@env), [`platform`], [`fs`],
//! [`report`], [`process`] and [`tools`] primitives they use) are compiled: what a `build.rs` calling
//! [`build_script::sync_version`] needs, without an HTTP stack.
//!
//! # Architecture
//!
//! Four layers; a module imports its own layer and the ones below, never one
//! above, and no two modules import each other. A stage imports another
//! stage only to build on its product (the list, with the reasons, is
//! `STAGE_IMPORTS` in `.ci/module-graph`); a helper two stages share lives a
//! layer down. `.ci/module-graph` prints the graph; `--check`, run by the
//! `architecture` e2e tests, fails on any upward import, unlisted
//! stage-to-stage import or cycle:
//!
//! ```text
//! orchestrators   bundle  release (and the release plan)  run  build_script  fetch
//!      |          docker (builds the wheel and the updater into its image)
//!      |          init (the release workflow runs the release plan's jobs)
//! stages          wheel python pins deps app strip render archive installer
//!      |          update manifest keys publish dist_info licenses sbom sign
//!      |          crates deb msi delta
//! resolve         config (and the release location)  project (PEP 503 names)
//!      |          layout  launch  version  local_deps (the app's local packages)
//!      |          plan (artifacts, install types, updater settings and where the
//!      |          release lives, lock file, epoch)
//!      |          packaging (wheel file names, index pages, RECORD)
//!                 project_version (a project's version across its files)
//! primitives      error (Hint, Hinted, Report, escaped)  env  platform  names  pe  lock
//!                 process (every child process: timeout, kill, output)
//!                 fs (atomic writes and copies, the tree copy, SHA-256)
//!                 report (Reporter, human_bytes)  tools (and the git wrapper)
//!                 cache  net (the HTTP client, the retry loop, percent-encoding)
//!                 templates  context  wine  dates (artifact timestamps)
//! ```
//!
//! Each helper has one home: write a file through [`fs::atomic_write`], copy a
//! tree through [`fs::copy_tree_with`], retry through `net::Backoff`, read the
//! repository through [`tools::git`], run a program through [`process::Command`].
#![deny(clippy::print_stdout, clippy::print_stderr)]

#[cfg(feature = "net")]
pub mod app;
#[cfg(feature = "net")]
pub mod archive;
pub mod build_script;
#[cfg(feature = "net")]
pub mod bundle;
#[cfg(feature = "net")]
pub mod cache;
pub mod config;
#[cfg(feature = "net")]
pub mod context;
#[cfg(feature = "net")]
pub mod crates;
#[cfg(feature = "net")]
pub mod dates;
#[cfg(feature = "net")]
pub mod deb;
#[cfg(feature = "net")]
pub mod delta;
#[cfg(feature = "net")]
pub mod deps;
#[cfg(feature = "net")]
pub mod dist_info;
#[cfg(feature = "net")]
pub mod docker;
pub mod env;
pub mod error;
#[cfg(feature = "net")]
pub mod fetch;
pub mod fs;
#[cfg(feature = "net")]
pub mod init;
#[cfg(feature = "net")]
pub mod installer;
#[cfg(feature = "net")]
pub mod keys;
#[cfg(feature = "net")]
pub mod launch;
#[cfg(feature = "net")]
pub mod layout;
#[cfg(feature = "net")]
pub mod licenses;
#[cfg(feature = "net")]
pub mod local_deps;
#[cfg(feature = "net")]
pub mod lock;
#[cfg(feature = "net")]
pub mod manifest;
#[cfg(feature = "net")]
pub mod msi;
#[cfg(feature = "net")]
pub mod names;
#[cfg(feature = "net")]
pub mod net;
#[cfg(feature = "net")]
pub mod packaging;
#[cfg(feature = "net")]
pub mod pe;
#[cfg(feature = "net")]
pub mod pins;
#[cfg(feature = "net")]
pub mod plan;
pub mod platform;
pub mod process;
pub mod project;
#[cfg(feature = "net")]
pub mod project_version;
#[cfg(feature = "net")]
pub mod publish;
#[cfg(feature = "net")]
pub mod python;
#[cfg(feature = "net")]
pub mod release;
#[cfg(feature = "net")]
pub mod render;
pub mod report;
#[cfg(feature = "net")]
pub mod run;
#[cfg(feature = "net")]
pub mod sbom;
#[cfg(feature = "net")]
pub mod sign;
#[cfg(feature = "net")]
pub mod strip;
#[cfg(feature = "net")]
pub mod templates;
pub mod tools;
#[cfg(feature = "net")]
pub mod update;
pub mod version;
#[cfg(feature = "net")]
pub mod wheel;
#[cfg(feature = "net")]
pub mod wine;

#[cfg(feature = "net")]
pub use context::Context;
pub use error::hint_for;
#[cfg(feature = "net")]
pub use plan::Plan;
