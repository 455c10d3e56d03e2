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
        assert_eq!(
            plan.app.dir.as_deref(),
            Some(dir.join("server/src").as_path())
        );
        assert!(!plan.app.flat);
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

/// `plan` of a fixture copy (after `edit` of its pyship manifest), or its error.
fn plan_or_error(dir: &Path) -> Result<Plan, String> {
    let project = project::load(Some(&dir.join("Cargo.toml")), None).map_err(|e| e.to_string())?;
    Plan::build(project, &Env::default(), &Options::default()).map_err(|e| {
        let hint = pyship_build::hint_for(&e).unwrap_or_default();
        format!("{e}\nhint: {hint}")
    })
}

#[test]
fn app_src_follows_the_layout() {
    // (fixture, app-src relative to the copy, flat project root)
    for (layout, app_src, flat) in [
        ("subfolder", "python/src", false),
        ("virtual-workspace", "server/src", false),
        ("root-flat", ".", true),
        ("src-data", "src", false),
    ] {
        let (_t, dir) = copy_fixture(&format!("layouts/{layout}"));
        let plan = plan_or_error(&dir).unwrap_or_else(|e| panic!("{layout}: {e}"));
        let want = if app_src == "." {
            dir.clone()
        } else {
            dir.join(app_src)
        };
        assert_eq!(plan.app.dir.as_deref(), Some(want.as_path()), "{layout}");
        assert_eq!(plan.app.flat, flat, "{layout}");
        assert!(plan.app.has_module, "{layout}");
    }
}

/// A flat-layout app from PyPI as a user tries it: `cargo init --lib` next to
/// its pyproject (the package at the top level, as datasette, pypiserver and
/// glances have it), a `tests/` package, a virtualenv and an old `dist/`.
fn datasette_like(parent: &Path) -> std::path::PathBuf {
    let dir = parent.join("datasette");
    let files: &[(&str, &str)] = &[
        (
            "Cargo.toml",
            "[package]\nname = \"datasette\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[lib]\n",
        ),
        ("src/lib.rs", "pub fn f() {}\n"),
        (
            "pyproject.toml",
            "[project]\nname = \"datasette\"\ndynamic = [\"version\"]\ndependencies = []\n\n[tool.setuptools.dynamic]\nversion = {attr = \"datasette.version.__version__\"}\n",
        ),
        ("setup.py", "from setuptools import setup\nsetup()\n"),
        ("datasette/__init__.py", "from datasette.version import __version__\n"),
        ("datasette/__main__.py", "print('datasette')\n"),
        ("datasette/version.py", "__version__ = \"1.0a41\"\n"),
        ("datasette/templates/index.html", "<html></html>\n"),
        ("tests/__init__.py", ""),
        ("tests/test_x.py", "def test(): pass\n"),
        ("venv/pyvenv.cfg", "home = /usr/bin\n"),
        ("venv/lib/site.py", "\n"),
        ("dist/old/datasette/__init__.py", "\n"),
    ];
    for (rel, text) in files {
        let p = dir.join(rel);
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(&p, text).unwrap();
    }
    dir
}

fn set_pyship(dir: &Path, table: &str) {
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    fs_err::write(
        &manifest,
        format!("{text}\n[package.metadata.pyship]\n{table}\n"),
    )
    .unwrap();
}

#[test]
fn flat_layout_next_to_cargo_src_is_found_and_cargo_src_is_not_taken() {
    let t = tempfile::tempdir().unwrap();
    let dir = datasette_like(t.path());
    // No config at all: the module defaults to the dist name, app-src to the flat root.
    let plan = plan_or_error(&dir).unwrap();
    assert_eq!(plan.module, "datasette");
    assert_eq!(plan.app.dir.as_deref(), Some(dir.as_path()));
    assert!(plan.app.flat);
    // Only the package is copied from the project root.
    let entries: Vec<String> = pyship_build::layout::flat_entries(&dir, "datasette")
        .iter()
        .map(|p| p.strip_prefix(&dir).unwrap().display().to_string())
        .collect();
    assert_eq!(entries, ["datasette"]);
}

#[test]
fn app_src_mistakes_are_errors_before_anything_is_built() {
    let t = tempfile::tempdir().unwrap();
    let dir = datasette_like(t.path());
    // Cargo's src/ named explicitly: the module is not there.
    set_pyship(&dir, "app-src = \"src\"");
    let e = plan_or_error(&dir).unwrap_err();
    insta::assert_snapshot!(
        "app_src_without_module",
        e.replace(&dir.display().to_string(), "[root]")
    );
    // The package folder itself.
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    fs_err::write(
        &manifest,
        text.replace("app-src = \"src\"", "app-src = \"datasette\""),
    )
    .unwrap();
    let e = plan_or_error(&dir).unwrap_err();
    insta::assert_snapshot!(
        "app_src_is_the_package",
        e.replace(&dir.display().to_string(), "[root]")
    );
    // A module that is nowhere.
    let text = fs_err::read_to_string(&manifest).unwrap();
    fs_err::write(
        &manifest,
        text.replace("app-src = \"datasette\"", "module = \"nope.main\""),
    )
    .unwrap();
    let e = plan_or_error(&dir).unwrap_err();
    insta::assert_snapshot!(
        "module_not_found",
        e.replace(&dir.display().to_string(), "[root]")
    );
    // Nothing was built.
    assert!(!dir.join("dist/.pyship").exists());
}
