//! Real project layouts (`fixtures/layouts/`): the path rule (every path in a
//! pyship table is relative to the Cargo.toml declaring it), errors that name
//! the table in use, and the layout matrix.

use std::path::Path;

use super::support::*;
use pyship_build::env::Env;
use pyship_build::plan::{Options, Plan};
use pyship_build::project::{self, ConfigTable};

fn plan_of(manifest: &Path) -> Plan {
    let project = project::load(Some(manifest), None).expect("project loads");
    Plan::build(project, &Env::default(), &Options::default()).expect("plan builds")
}

/// stderr of a failing `cargo pyship ...` run in `dir`, with `dir` redacted.
fn failure(dir: &Path, args: &[&str]) -> String {
    let cache = tempfile::tempdir().unwrap();
    let out = pyship(cache.path())
        .current_dir(dir)
        .arg("pyship")
        .args(args)
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).replace(&dir.display().to_string(), "[root]")
}

#[test]
fn virtual_workspace_paths_are_relative_to_the_workspace_root() {
    let (_t, dir) = copy_fixture("layouts/virtual-workspace");
    // The same plan whichever manifest selects the project: the root's or the member's.
    for manifest in [dir.join("Cargo.toml"), dir.join("core/Cargo.toml")] {
        let plan = plan_of(&manifest);
        assert_eq!(plan.project.config_source.table, ConfigTable::Workspace);
        assert_eq!(plan.project.config_source.manifest, dir.join("Cargo.toml"));
        assert_eq!(plan.project.config_dir, dir);
        assert_eq!(plan.project.manifest_path, dir.join("core/Cargo.toml"));
        assert_eq!(plan.pyproject().path, dir.join("server/pyproject.toml"));
        assert_eq!(plan.app_src, dir.join("server/src"));
        assert_eq!(plan.out_dir, dir.join("dist"));
        assert_eq!(plan.project.path("server"), dir.join("server"));
        assert_eq!(plan.version.version.tag(), "v0.4.0");
    }
}

#[test]
fn missing_pyproject_is_an_error_naming_table_and_paths() {
    let (_t, dir) = copy_fixture("layouts/virtual-workspace");
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    fs_err::write(
        &manifest,
        text.replace("\"server/pyproject.toml\"", "\"srv/pyproject.toml\""),
    )
    .unwrap();
    let check = failure(&dir, &["version", "--check"]);
    insta::assert_snapshot!("missing_pyproject_written", check);
    // plan, stamp and plain version (the path is configured) fail the same way.
    assert_eq!(failure(&dir, &["plan"]), check);
    assert_eq!(failure(&dir, &["version", "--stamp", "1.0.0"]), check);
    assert_eq!(failure(&dir, &["version"]), check);
    // From the member crate the table's file is named by its full path.
    let from_core = failure(&dir.join("core"), &["plan", "--format", "json"]);
    assert!(
        from_core.contains(&format!(
            "in [workspace.metadata.pyship] in {}",
            dir.join("Cargo.toml").display()
        )),
        "{from_core}"
    );

    // The default pyproject (no `pyproject` key) is named as a default.
    fs_err::write(
        &manifest,
        text.replace("pyproject = \"server/pyproject.toml\"\n", ""),
    )
    .unwrap();
    insta::assert_snapshot!(
        "missing_pyproject_default",
        failure(&dir, &["version", "--check"])
    );
}
