//! End-to-end tests: the real `cargo-pyship` binary against fixture projects,
//! with real tools (uv, wine, makensis, systemd-analyze) and local servers.
//! One test binary, one module per area.

mod linux_bundle;
mod support;
mod version_cli;
