//! End-to-end tests: the real `cargo-pyship` binary against fixture projects,
//! with real tools (uv, wine, makensis, systemd-analyze) and local servers.
//! One test binary, one module per area.

mod build_script;
mod docker;
mod init;
mod installer;
mod packaging;
mod plan;
mod publish;
mod strip;
mod support;
mod version_cli;
mod windows_bundle;
