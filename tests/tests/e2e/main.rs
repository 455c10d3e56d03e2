//! End-to-end tests: the real `cargo-pyship` binary against fixture projects,
//! with real tools (uv, wine, makensis, systemd-analyze) and local servers.
//! One test binary, one module per area.

mod bench;
mod build_script;
mod docker;
mod init;
mod installer;
mod layouts;
mod linux_bundle;
mod packaging;
mod plan;
mod publish;
mod release;
mod strip;
mod support;
mod tkinter;
mod trust;
mod version_cli;
mod windows_bundle;
