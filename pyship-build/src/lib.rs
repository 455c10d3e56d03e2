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
//! # Architecture
//!
//! Four layers; a module imports its own layer and the ones below, never one
//! above, and no two modules import each other (`.ci/module-graph` prints the
//! graph; `--check`, run by CI and by the `architecture` e2e tests, fails on
//! any upward import or cycle):
//!
//! ```text
//! orchestrators   bundle  release  build_script
//!      |
//! stages          wheel python deps app strip render archive installer
//!      |          update manifest docker publish init dist_info licenses sbom sign
//! resolve         config  project  layout  launch  version  plan
//!      |
//! primitives      error (Hint, Report)  env  platform  names  pe  lock  fs (atomic
//!                 writes, SHA-256)  report (Reporter, human_bytes)  tools
//!                 cache  net  templates  context  wine
//! ```
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod app;
pub mod archive;
pub mod build_script;
pub mod bundle;
pub mod cache;
pub mod config;
pub mod context;
pub mod deps;
pub mod dist_info;
pub mod docker;
pub mod env;
pub mod error;
pub mod fs;
pub mod init;
pub mod installer;
pub mod launch;
pub mod layout;
pub mod licenses;
pub mod lock;
pub mod manifest;
pub mod names;
pub mod net;
pub mod pe;
pub mod plan;
pub mod platform;
pub mod project;
pub mod publish;
pub mod python;
pub mod release;
pub mod render;
pub mod report;
pub mod sbom;
pub mod sign;
pub mod strip;
pub mod templates;
pub mod tools;
pub mod update;
pub mod version;
pub mod wheel;
pub mod wine;

pub use context::Context;
pub use error::hint_for;
pub use plan::Plan;
