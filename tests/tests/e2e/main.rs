//! End-to-end tests: the real `cargo-pyship` binary against fixture projects,
//! with real tools (uv, wine, makensis, systemd-analyze) and local servers.
//! One test binary, one module per area.
//!
//! They run on a Linux host (the tools are Linux's; Windows programs run
//! under wine, including the cross-built `cargo-pyship.exe`, see
//! `windows_host`), so on any other host the binary is empty.
#![cfg(unix)]

mod architecture;
mod bench;
mod book;
mod build_script;
mod ci;
mod console;
mod docker;
mod escaping;
mod first_hour;
mod gitea_server;
mod hostile;
mod hybrid;
mod init;
mod installer;
mod interrupt;
mod layouts;
mod linux_bundle;
mod locked;
mod packages;
mod packaging;
mod plan;
mod publish;
mod release;
mod strip;
mod support;
mod tkinter;
mod trust;
mod update;
mod version_cli;
mod windows_bundle;
mod windows_host;
mod workflow;
