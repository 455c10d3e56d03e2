//! The published `pyship-build` crate must carry its default templates: they
//! live in the workspace's `templates/`, reached through the symlink
//! `pyship-build/templates`, and `include_str!` needs them at build time.

use super::support::*;

#[test]
fn cargo_package_carries_every_default_template() {
    let out = std::process::Command::new("cargo")
        .args([
            "package",
            "-p",
            "pyship-build",
            "--list",
            "--allow-dirty",
            "--offline",
        ])
        .current_dir(workspace_root())
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo package --list failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8_lossy(&out.stdout);
    let files: Vec<&str> = listed.lines().collect();
    assert!(files.contains(&"templates/README.md"), "{listed}");
    for (name, _) in pyship_build::templates::DEFAULTS {
        let want = format!("templates/{name}");
        assert!(
            files.contains(&want.as_str()),
            "{want} missing from the package:\n{listed}"
        );
    }
}
