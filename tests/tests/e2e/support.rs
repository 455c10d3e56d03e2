//! Shared helpers of the e2e tests (the crate's lib has the heavier ones).

pub use pyship_e2e::*;

use std::path::PathBuf;

/// The `cargo-pyship` binary of this build: `target/<profile>/cargo-pyship`,
/// next to the `deps/` folder that holds this test executable. `cargo test
/// --workspace` builds it before any test runs.
pub fn bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>");
    let bin = profile_dir.join("cargo-pyship");
    assert!(
        bin.is_file(),
        "{} is missing: run the tests with `cargo test --workspace`, which builds it for cargo-pyship/tests/cli.rs (or `cargo build -p cargo-pyship` first)",
        bin.display()
    );
    bin
}

/// `cargo-pyship` as a command, with the environment cleared of variables that
/// would change its behaviour (CI refs, caches, tokens) and a private cache dir.
pub fn pyship(cache: &std::path::Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(bin());
    for v in pyship_build::env::ALL {
        cmd.env_remove(v);
    }
    cmd.env("PYSHIP_CACHE_DIR", cache)
        .env("NO_COLOR", "1")
        .env("CARGO_TERM_COLOR", "never");
    cmd
}
