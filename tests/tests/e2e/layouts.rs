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

#[test]
fn hints_name_the_workspace_table_in_use() {
    // Each error (or its hint) names [workspace.metadata.pyship] (the table
    // in use), never the package table the member crate does not have; the
    // installer refuses before building a bundle it would not use.
    let (_t, dir) = copy_fixture("layouts/virtual-workspace");
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    let cases: [(&str, String, &[&str]); 7] = [
        (
            "file name",
            text.replace("name = \"WsApp\"", "name = \"Ws/App\""),
            &["plan"],
        ),
        (
            "linux runtime",
            text.replace("python = \"3.11.9\"", "python = \"3.13.1\""),
            &["bundle", "--target", "linux"],
        ),
        (
            "requires-python",
            text.replace("python = \"3.11.9\"", "python = \"3.10.19\""),
            &["plan"],
        ),
        (
            "include outside",
            text.replace(
                "python = \"3.11.9\"",
                "python = \"3.11.9\"\ninclude = [\"../\"]",
            ),
            &["plan"],
        ),
        ("docker image", text.clone(), &["docker"]),
        (
            "publish server",
            text.clone(),
            &["publish", "--version", "v0.4.0"],
        ),
        (
            "installer off",
            format!("{text}\n[workspace.metadata.pyship.windows]\ninstaller = false\n"),
            &["installer"],
        ),
    ];
    let mut all = String::new();
    for (what, toml, args) in cases {
        fs_err::write(&manifest, toml).unwrap();
        // From the member crate: the table is still the workspace's.
        let err = failure(&dir.join("core"), args);
        assert!(
            err.lines().any(|l| l.contains("[workspace.metadata.pyship")
                && (l.starts_with("hint:") || l.starts_with("error:"))),
            "{what}: {err}"
        );
        assert!(!err.contains("package.metadata.pyship"), "{what}: {err}");
        all.push_str(&format!(
            "== {what}: cargo pyship {}\n{err}",
            args.join(" ")
        ));
    }
    let parent = dir.parent().unwrap().display().to_string();
    insta::assert_snapshot!("hints_workspace_table", all.replace(&parent, "[parent]"));
}

// ------------------------------------------------------------- init discovery

/// The six layouts of the matrix.
const LAYOUTS: [&str; 6] = [
    "subfolder",
    "virtual-workspace",
    "root-flat",
    "scripts",
    "src-data",
    "cargo-init-flat",
];

/// Remove the pyship tables (the last tables of every layout's root
/// Cargo.toml) from a fixture copy; returns the text that is left.
fn strip_pyship(dir: &Path) -> String {
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    let cut = ["[package.metadata.pyship", "[workspace.metadata.pyship"]
        .iter()
        .filter_map(|h| text.find(h))
        .min()
        .expect("the fixture has a pyship table");
    let rest = &text[cut..];
    assert!(
        rest.lines()
            .filter(|l| l.starts_with('['))
            .all(|l| l.contains("metadata.pyship")),
        "the pyship tables are the last ones:\n{rest}"
    );
    let bare = text[..cut].trim_end().to_owned() + "\n";
    fs_err::write(&manifest, &bare).unwrap();
    bare
}

/// `cargo pyship init ARGS` in `dir`: its stderr, `dir` shown as `[root]`.
fn run_init(dir: &Path, args: &[&str]) -> String {
    let cache = tempfile::tempdir().unwrap();
    let out = pyship(cache.path())
        .current_dir(dir)
        .args(["pyship", "init"])
        .args(args)
        .assert()
        .success()
        .get_output()
        .clone();
    String::from_utf8_lossy(&out.stderr).replace(&dir.display().to_string(), "[root]")
}

/// `init --check` in `dir` passes and prints nothing on stdout.
fn init_check_passes(dir: &Path, args: &[&str]) {
    let cache = tempfile::tempdir().unwrap();
    pyship(cache.path())
        .current_dir(dir)
        .args(["pyship", "init", "--check"])
        .args(args)
        .assert()
        .success()
        .stdout("");
}

fn rel(dir: &Path, p: Option<&Path>) -> Option<String> {
    p.map(|p| p.strip_prefix(dir).unwrap_or(p).display().to_string())
}

#[test]
fn init_finds_each_layout_as_its_own_config_has_it() {
    for layout in LAYOUTS {
        // What the fixture's hand-written table gives.
        let (_o, orig) = copy_fixture(&format!("layouts/{layout}"));
        let want = plan_of(&orig.join("Cargo.toml"));

        let (_t, dir) = copy_fixture(&format!("layouts/{layout}"));
        let bare = strip_pyship(&dir);
        let output = run_init(&dir, &["--ci", "none"]);
        let after = fs_err::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(
            after.starts_with(&bare),
            "{layout}: every byte before the table is kept:\n{after}"
        );
        insta::assert_snapshot!(format!("init_output_{layout}"), output);
        insta::assert_snapshot!(format!("init_table_{layout}"), &after[bare.len()..]);

        // The written table finds what the hand-written one names.
        let got = plan_of(&dir.join("Cargo.toml"));
        assert_eq!(
            got.project.config_source.table, want.project.config_source.table,
            "{layout}"
        );
        assert_eq!(got.project.config_dir, dir, "{layout}");
        assert_eq!(
            rel(&dir, Some(&got.pyproject().path)),
            rel(&orig, Some(&want.pyproject().path)),
            "{layout}"
        );
        assert_eq!(got.module, want.module, "{layout}");
        // Named after the Python project, not the crate.
        assert_eq!(got.name, got.pyproject().name, "{layout}");
        assert_eq!(
            rel(&dir, got.app.dir.as_deref()),
            rel(&orig, want.app.dir.as_deref()),
            "{layout}"
        );
        assert_eq!(got.app.flat, want.app.flat, "{layout}");
        init_check_passes(&dir, &["--ci", "none"]);
    }
}

#[test]
fn init_in_a_virtual_workspace_member_writes_the_root_table() {
    let (_t, dir) = copy_fixture("layouts/virtual-workspace");
    let bare = strip_pyship(&dir);
    let core = fs_err::read_to_string(dir.join("core/Cargo.toml")).unwrap();
    let output = run_init(&dir.join("core"), &["--ci", "none"]);
    assert!(
        output.contains(&format!(
            "Chose [workspace.metadata.pyship] in {}",
            dir.join("Cargo.toml").display()
        )),
        "{output}"
    );
    assert_eq!(
        fs_err::read_to_string(dir.join("core/Cargo.toml")).unwrap(),
        core,
        "the member's Cargo.toml is untouched"
    );
    let after = fs_err::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(after.starts_with(&bare), "{after}");
    assert!(
        after[bare.len()..].starts_with("\n[workspace.metadata.pyship]\n"),
        "{after}"
    );
    assert!(
        after.contains("\npyproject = \"server/pyproject.toml\"\n"),
        "{after}"
    );
    init_check_passes(&dir.join("core"), &["--ci", "none"]);
    init_check_passes(&dir, &["--ci", "none"]);
}

/// Write `files` (path, text) under `dir`.
fn tree(dir: &Path, files: &[(&str, &str)]) {
    for (rel, text) in files {
        let p = dir.join(rel);
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(&p, text).unwrap();
    }
}

/// A shape none of the fixtures has: a tool-only pyproject.toml at the root
/// (ruff settings), the app's pyproject two levels down in a flat layout
/// with `tests/` and `docs/` beside its package, whose name is not the
/// project's (so `module` comes from the package with `__main__.py`), and
/// pyprojects in a virtualenv, node_modules and a vendored project that the
/// search must not take.
pub(crate) fn nested_flat(parent: &Path) -> std::path::PathBuf {
    let dir = parent.join("monorepo");
    tree(
        &dir,
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"monorepo\"\nversion = \"0.7.0\"\nedition = \"2021\"\npublish = false\n",
            ),
            ("src/main.rs", "fn main() {}\n"),
            ("pyproject.toml", "[tool.ruff]\nline-length = 100\n"),
            (
                "apps/web/pyproject.toml",
                "[project]\nname = \"web-service\"\nversion = \"0.7.0\"\nrequires-python = \">=3.11\"\ndependencies = []\n",
            ),
            ("apps/web/webapp/__init__.py", ""),
            (
                "apps/web/webapp/__main__.py",
                "import importlib.metadata, json, sys\nprint(json.dumps({\"version\": importlib.metadata.version(\"web-service\"), \"args\": sys.argv[1:]}))\n",
            ),
            ("apps/web/tests/__init__.py", ""),
            ("apps/web/tests/test_web.py", "def test(): pass\n"),
            ("apps/web/docs/conf.py", "project = 'web'\n"),
            (
                "apps/web/vendor/lib/pyproject.toml",
                "[project]\nname = \"vendored\"\n",
            ),
            (".venv/pyproject.toml", "[project]\nname = \"venv-thing\"\n"),
            ("node_modules/x/pyproject.toml", "[project]\nname = \"node-thing\"\n"),
        ],
    );
    dir
}

#[test]
fn init_on_a_nested_flat_app_with_tests_and_docs() {
    let t = tempfile::tempdir().unwrap();
    let dir = nested_flat(t.path());
    let before = fs_err::read_to_string(dir.join("Cargo.toml")).unwrap();
    let output = run_init(&dir, &["--ci", "none"]);
    insta::assert_snapshot!("init_output_nested_flat", output);
    let after = fs_err::read_to_string(dir.join("Cargo.toml")).unwrap();
    let table = &after[before.len()..];
    assert!(
        table.contains("\npyproject = \"apps/web/pyproject.toml\"\n"),
        "{table}"
    );
    assert!(table.contains("\nmodule = \"webapp\"\n"), "{table}");
    assert!(table.contains("\n# app-src = \"apps/web\"\n"), "{table}");
    let plan = plan_of(&dir.join("Cargo.toml"));
    assert_eq!(plan.module, "webapp");
    assert_eq!(
        plan.app.dir.as_deref(),
        Some(dir.join("apps/web").as_path())
    );
    assert!(plan.app.flat);
    let copied: Vec<String> = pyship_build::layout::flat_entries(&dir.join("apps/web"), "webapp")
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        copied,
        ["webapp"],
        "tests/, docs/ and vendor/ are not shipped"
    );
    init_check_passes(&dir, &["--ci", "none"]);
}

#[test]
fn init_refuses_several_pyprojects_and_takes_the_one_given() {
    let t = tempfile::tempdir().unwrap();
    let dir = nested_flat(t.path());
    tree(
        &dir,
        &[
            (
                "tools/lint/pyproject.toml",
                "[project]\nname = \"lint-tools\"\nversion = \"1.0\"\n",
            ),
            ("tools/lint/lint_tools/__main__.py", ""),
        ],
    );
    let before = fs_err::read_to_string(dir.join("Cargo.toml")).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let out = pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "init", "--ci", "none"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr).replace(&dir.display().to_string(), "[root]");
    insta::assert_snapshot!("init_several_pyprojects", stderr);
    assert_eq!(
        fs_err::read_to_string(dir.join("Cargo.toml")).unwrap(),
        before
    );

    // --pyproject PATH (from the current directory, here a subfolder).
    run_init(
        &dir.join("apps"),
        &["--ci", "none", "--pyproject", "web/pyproject.toml"],
    );
    let after = fs_err::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(
        after.contains("\npyproject = \"apps/web/pyproject.toml\"\n"),
        "{after}"
    );
    // --check keeps the table as it is: the choice stays valid.
    init_check_passes(&dir, &["--ci", "none"]);
}

#[test]
fn init_finds_a_package_outside_src_and_flat_layouts() {
    // server/lib/ holds the package: neither a src layout nor flat.
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("odd");
    tree(
        &dir,
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"odd\"\nversion = \"1.0.0\"\nedition = \"2021\"\n",
            ),
            ("src/lib.rs", ""),
            (
                "server/pyproject.toml",
                "[project]\nname = \"odd-app\"\nversion = \"1.0.0\"\n\n[project.scripts]\nodd-serve = \"odd_app.cli:serve\"\nodd-admin = \"odd_app.cli:admin\"\n",
            ),
            ("server/lib/odd_app/__init__.py", ""),
            ("server/lib/odd_app/cli.py", "def serve(): pass\ndef admin(): pass\n"),
        ],
    );
    let output = run_init(&dir, &["--ci", "none"]);
    let text = fs_err::read_to_string(dir.join("Cargo.toml")).unwrap();
    // Several scripts, none named after the project: the first, said so.
    assert!(
        text.contains("\nmodule = \"odd_app.cli:admin\"\n"),
        "{text}"
    );
    assert!(
        output.contains("the first of several (also: odd-serve)"),
        "{output}"
    );
    assert!(text.contains("\napp-src = \"server/lib\"\n"), "{text}");
    let plan = plan_of(&dir.join("Cargo.toml"));
    assert_eq!(plan.module, "odd_app.cli");
    assert_eq!(
        plan.app.dir.as_deref(),
        Some(dir.join("server/lib").as_path())
    );
    init_check_passes(&dir, &["--ci", "none"]);

    // The package moves: --check reports the table's app-src, and what init writes now.
    fs_err::rename(dir.join("server/lib"), dir.join("server/python")).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let out = pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "init", "--check", "--ci", "none"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stdout = String::from_utf8_lossy(&out.stdout).replace(&dir.display().to_string(), "[root]");
    insta::assert_snapshot!("init_check_table_drift", stdout);
}

#[test]
fn init_on_a_maturin_virtual_workspace_sets_nothing_the_wheel_provides() {
    // pyhash: a virtual workspace whose root pyproject is built by maturin.
    let (_t, dir) = copy_fixture("pyhash");
    let bare = strip_pyship(&dir);
    let output = run_init(&dir, &["--ci", "none"]);
    assert!(
        output.contains("Chose no app-src (none: the module is in the project's maturin wheel, which packs pyhash from python/pyhash and the extension pyhash._native (`module-name` in [tool.maturin]))"),
        "{output}"
    );
    let after = fs_err::read_to_string(dir.join("Cargo.toml")).unwrap();
    let table = &after[bare.len()..];
    assert!(
        table.starts_with("\n[workspace.metadata.pyship]\n"),
        "{table}"
    );
    assert!(
        table
            .contains("# In use: no app sources (the module is in the project's maturin wheel, which packs pyhash from python/pyhash"),
        "{table}"
    );
    assert!(
        !table.lines().any(|l| l.starts_with("module =")
            || l.starts_with("app-src =")
            || l.starts_with("pyproject =")),
        "{table}"
    );
    let plan = plan_of(&dir.join("Cargo.toml"));
    assert_eq!(plan.module, "pyhash");
    assert_eq!(plan.app.dir, None);
    init_check_passes(&dir, &["--ci", "none"]);
}

// ---------------------------------------------------------------- the matrix

mod matrix {
    //! Each layout bundled for both targets with `bundle --target all`, then
    //! run: Linux from the extracted tarball in another directory, Windows
    //! under wine through the launcher the shortcuts use; each answers
    //! /health with the stamped version and the configured args.

    use std::io::Read;
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::time::Duration;

    use super::super::support::*;
    use pyship_e2e::http::StaticServer;
    use pyship_e2e::wine::{free_port, wait_http, Running, WinePrefix};

    const EMBED: &str = "python-3.11.9-embed-amd64.zip";
    const RUNTIME_FILE: &str = "cpython-3.11.9-test-x86_64-unknown-linux-gnu-install_only.tar.gz";

    struct Case {
        layout: &'static str,
        /// The table the fixture's config is in.
        table: &'static str,
        /// Folder name in the archives (the configured `name`).
        name: &'static str,
        version: &'static str,
        pep440: &'static str,
        linux_args: &'static [&'static str],
        windows_args: &'static [&'static str],
    }

    /// Add the offline sources to the fixture's pyship table.
    fn offline(dir: &Path, case: &Case, wheels: &str, runtime_url: &str) {
        let manifest = dir.join("Cargo.toml");
        let text = fs_err::read_to_string(&manifest).unwrap();
        let header = format!("[{}]\n", case.table);
        assert!(text.contains(&header), "{}: no {header}", case.layout);
        let text = text.replacen(
            &header,
            &format!("{header}no-index = true\nfind-links = [\"{wheels}/\"]\n"),
            1,
        );
        fs_err::write(
            &manifest,
            format!(
                "{text}\n[{}.linux]\nruntime-url = \"{runtime_url}\"\n",
                case.table
            ),
        )
        .unwrap();
    }

    fn unzip(zip: &Path, dest: &Path) {
        let mut z = zip::ZipArchive::new(fs_err::File::open(zip).unwrap()).unwrap();
        for i in 0..z.len() {
            let mut e = z.by_index(i).unwrap();
            let path = dest.join(e.enclosed_name().expect("safe entry name"));
            if e.is_dir() {
                fs_err::create_dir_all(&path).unwrap();
            } else {
                fs_err::create_dir_all(path.parent().unwrap()).unwrap();
                let mut buf = Vec::new();
                e.read_to_end(&mut buf).unwrap();
                fs_err::write(&path, buf).unwrap();
            }
        }
    }

    fn untar(tarball: &Path, into: &Path) {
        fs_err::create_dir_all(into).unwrap();
        let st = Command::new(require_tool("tar", "`apt-get install tar`"))
            .arg("-xzf")
            .arg(tarball)
            .arg("-C")
            .arg(into)
            .status()
            .unwrap();
        assert!(st.success(), "tar -xzf {} failed", tarball.display());
    }

    /// The /health answer of `cmd` (with LAYOUT_PORT set), then stop it.
    fn health(mut cmd: Command, what: &str, after: impl FnOnce()) -> serde_json::Value {
        let port = free_port();
        cmd.env("LAYOUT_PORT", port.to_string());
        let running = Running::spawn(cmd);
        let answer = wait_http(port, "/health", Duration::from_secs(180));
        after();
        let (so, se) = running.stop();
        let (status, body) = answer
            .unwrap_or_else(|| panic!("{what} never served /health\nstdout:\n{so}\nstderr:\n{se}"));
        assert_eq!(status, 200, "{what}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{what}: {e}: {body}"))
    }

    fn check(v: &serde_json::Value, case: &Case, args: &[&str], what: &str) {
        assert_eq!(v["version"], case.pep440, "{what}: {v}");
        let got: Vec<&str> = v["args"]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: {v}"))
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(got, args, "{what}: {v}");
    }

    fn run(case: Case) {
        require_tool("uv", "`pip install uv` (PyPI package `uv`)");
        pyship_e2e::pbs::runtime();
        let (_served, runtime_server) = pyship_e2e::pbs::serve(RUNTIME_FILE);
        let wheels = StaticServer::start(pyship_e2e::testdata::wheelhouse());
        let mirror_root = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(mirror_root.path().join("3.11.9")).unwrap();
        fs_err::copy(
            pyship_e2e::testdata::embed_python_dir().join(EMBED),
            mirror_root.path().join("3.11.9").join(EMBED),
        )
        .unwrap();
        let mirror = StaticServer::start(mirror_root.path());
        let (_t, dir) = copy_fixture(&format!("layouts/{}", case.layout));
        let runtime_url = format!(
            "{}/cpython-{{version}}-test-x86_64-unknown-linux-gnu-install_only.tar.gz",
            runtime_server.url()
        );
        offline(&dir, &case, &wheels.url(), &runtime_url);
        let cache = tempfile::tempdir().unwrap();
        // From a member crate when there is one: paths follow the table, not the cwd.
        let cwd: PathBuf = ["core", "crates/engine"]
            .iter()
            .map(|m| dir.join(m))
            .find(|p| p.is_dir())
            .unwrap_or_else(|| dir.clone());
        let out = pyship(cache.path())
            .current_dir(&cwd)
            .env("PYSHIP_PYTHON_MIRROR", mirror.url())
            .args([
                "pyship",
                "bundle",
                "--target",
                "all",
                "--version",
                case.version,
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{}: bundle failed:\n{stderr}",
            case.layout
        );
        let dist = dir.join("dist");
        let find = |suffix: &str| {
            fs_err::read_dir(&dist)
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.to_string_lossy().ends_with(suffix))
                .unwrap_or_else(|| panic!("no *{suffix} in {}:\n{stderr}", dist.display()))
        };
        let (tarball, zip) = (find("-linux-x64.tar.gz"), find("-win-x64.zip"));

        // Linux: from the extracted tarball, started from an unrelated directory.
        let linux = tempfile::tempdir().unwrap();
        untar(&tarball, linux.path());
        let elsewhere = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(linux.path().join(case.name).join("run.sh"));
        cmd.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .current_dir(elsewhere.path());
        let v = health(cmd, "run.sh", || ());
        check(
            &v,
            &case,
            case.linux_args,
            &format!("{} linux", case.layout),
        );

        // Windows: under wine, through the hidden launcher the shortcuts run.
        let win = tempfile::tempdir().unwrap();
        unzip(&zip, win.path());
        let root = win.path().join(case.name);
        let prefix = WinePrefix::new();
        let mut cmd = prefix.command("wscript");
        cmd.arg("scripts\\start-hidden.vbs").current_dir(&root);
        let v = health(cmd, "start-hidden.vbs", || prefix.kill());
        check(
            &v,
            &case,
            case.windows_args,
            &format!("{} windows", case.layout),
        );
    }

    /// Uncomment-and-set edits of the table init wrote, as a user makes them.
    fn set_commented(dir: &Path, edits: &[(&str, String)]) {
        let manifest = dir.join("Cargo.toml");
        let mut text = fs_err::read_to_string(&manifest).unwrap();
        for (commented, line) in edits {
            assert!(
                text.contains(&format!("\n{commented}\n")),
                "no `{commented}` line in:\n{text}"
            );
            text = text.replacen(&format!("\n{commented}\n"), &format!("\n{line}\n"), 1);
        }
        fs_err::write(&manifest, text).unwrap();
    }

    /// The init round trip: on a copy of `layout` without its pyship table,
    /// `cargo pyship init` → `bundle --target linux` (only the offline
    /// sources set, plus `extra` for what no discovery can know) → the app
    /// runs from the extracted tarball and answers with the version →
    /// `cargo pyship init --check` passes.
    fn roundtrip(layout: &str, version: &str, pep440: &str, extra: &[(&str, &str)], args: &[&str]) {
        require_tool("uv", "`pip install uv` (PyPI package `uv`)");
        pyship_e2e::pbs::runtime();
        let (_served, runtime_server) = pyship_e2e::pbs::serve(RUNTIME_FILE);
        let wheels = StaticServer::start(pyship_e2e::testdata::wheelhouse());
        let (_t, dir) = copy_fixture(&format!("layouts/{layout}"));
        super::strip_pyship(&dir);
        let cache = tempfile::tempdir().unwrap();
        pyship(cache.path())
            .current_dir(&dir)
            .args(["pyship", "init"])
            .assert()
            .success();
        let mut edits: Vec<(&str, String)> = vec![
            ("# no-index = false", "no-index = true".into()),
            ("# find-links = []", format!("find-links = [\"{}/\"]", wheels.url())),
            (
                "# runtime-url = \"\"",
                format!(
                    "runtime-url = \"{}/cpython-{{version}}-test-x86_64-unknown-linux-gnu-install_only.tar.gz\"",
                    runtime_server.url()
                ),
            ),
        ];
        edits.extend(extra.iter().map(|(c, l)| (*c, (*l).to_owned())));
        set_commented(&dir, &edits);

        let cwd: PathBuf = ["core", "crates/engine"]
            .iter()
            .map(|m| dir.join(m))
            .find(|p| p.is_dir())
            .unwrap_or_else(|| dir.clone());
        let out = pyship(cache.path())
            .current_dir(&cwd)
            .args([
                "pyship",
                "bundle",
                "--target",
                "linux",
                "--version",
                version,
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{layout}: bundle failed:\n{stderr}");
        let tarball = fs_err::read_dir(dir.join("dist"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with("-linux-x64.tar.gz"))
            .unwrap_or_else(|| panic!("{layout}: no tarball in dist/:\n{stderr}"));
        let linux = tempfile::tempdir().unwrap();
        untar(&tarball, linux.path());
        let top: Vec<PathBuf> = fs_err::read_dir(linux.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(top.len(), 1, "{layout}: one top-level folder: {top:?}");
        let elsewhere = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(top[0].join("run.sh"));
        cmd.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .current_dir(elsewhere.path());
        let v = health(cmd, &format!("{layout} run.sh"), || ());
        assert_eq!(v["version"], pep440, "{layout}: {v}");
        assert_eq!(v["args"], serde_json::json!(args), "{layout}: {v}");

        let check = pyship(cache.path())
            .current_dir(&dir)
            .args(["pyship", "init", "--check"])
            .output()
            .unwrap();
        assert!(
            check.status.success() && check.stdout.is_empty(),
            "{layout}: init --check after the bundle:\n{}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
    }

    #[test]
    #[cfg_attr(
        not(feature = "slow-tests"),
        ignore = "slow tier: inits, bundles and runs the layout"
    )]
    fn init_roundtrip_subfolder() {
        roundtrip("subfolder", "v1.1.1", "1.1.1", &[], &[]);
    }

    #[test]
    #[cfg_attr(
        not(feature = "slow-tests"),
        ignore = "slow tier: inits, bundles and runs the layout"
    )]
    fn init_roundtrip_virtual_workspace() {
        roundtrip("virtual-workspace", "v0.4.2", "0.4.2", &[], &[]);
    }

    #[test]
    #[cfg_attr(
        not(feature = "slow-tests"),
        ignore = "slow tier: inits, bundles and runs the layout"
    )]
    fn init_roundtrip_root_flat() {
        roundtrip("root-flat", "2.0.2", "2.0.2", &[], &[]);
    }

    #[test]
    #[cfg_attr(
        not(feature = "slow-tests"),
        ignore = "slow tier: inits, bundles and runs the layout"
    )]
    fn init_roundtrip_scripts_entry_point() {
        roundtrip("scripts", "v0.9.2", "0.9.2", &[], &[]);
    }

    #[test]
    #[cfg_attr(
        not(feature = "slow-tests"),
        ignore = "slow tier: inits, bundles and runs the layout"
    )]
    fn init_roundtrip_src_data() {
        // The data folder and the extra are the user's choices: no layout
        // tells them. Everything else is what init wrote.
        roundtrip(
            "src-data",
            "v3.1.1",
            "3.1.1",
            &[
                ("# include = []", "include = [\"config\"]"),
                ("# extras = []", "extras = [\"idn\"]"),
            ],
            &["from settings.json"],
        );
    }

    #[test]
    #[cfg_attr(
        not(feature = "slow-tests"),
        ignore = "slow tier: inits, bundles and runs the layout"
    )]
    fn init_roundtrip_cargo_init_flat() {
        roundtrip("cargo-init-flat", "v0.5.1", "0.5.1", &[], &[]);
    }

    #[test]
    #[cfg_attr(
        not(feature = "slow-tests"),
        ignore = "slow tier: inits, bundles and runs the layout"
    )]
    fn init_roundtrip_nested_flat_app() {
        // The shape no fixture has (see `nested_flat`): init, bundle, run, check.
        pyship_e2e::pbs::runtime();
        require_tool("uv", "`pip install uv` (PyPI package `uv`)");
        let (_served, runtime_server) = pyship_e2e::pbs::serve(RUNTIME_FILE);
        let t = tempfile::tempdir().unwrap();
        let dir = super::nested_flat(t.path());
        let cache = tempfile::tempdir().unwrap();
        pyship(cache.path())
            .current_dir(&dir)
            .args(["pyship", "init", "--ci", "none"])
            .assert()
            .success();
        set_commented(
            &dir,
            &[
                ("# no-index = false", "no-index = true".into()),
                (
                    "# runtime-url = \"\"",
                    format!(
                        "runtime-url = \"{}/cpython-{{version}}-test-x86_64-unknown-linux-gnu-install_only.tar.gz\"",
                        runtime_server.url()
                    ),
                ),
            ],
        );
        let out = pyship(cache.path())
            .current_dir(&dir)
            .args([
                "pyship",
                "bundle",
                "--target",
                "linux",
                "--version",
                "0.7.1",
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "bundle failed:\n{stderr}");
        // Named after the Python project (`web-service`), not the crate.
        let linux = tempfile::tempdir().unwrap();
        untar(
            &dir.join("dist/web-service-v0.7.1-linux-x64.tar.gz"),
            linux.path(),
        );
        let root = linux.path().join("web-service");
        let mut names: Vec<String> = fs_err::read_dir(root.join("app/src"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.ends_with(".dist-info") && n != "pyship_update")
            .collect();
        names.sort();
        assert_eq!(names, ["webapp"], "only the app's package is shipped");
        let run = Command::new(root.join("run.sh"))
            .arg("--flag")
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .current_dir(t.path())
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        assert_eq!(v["version"], "0.7.1");
        assert_eq!(v["args"], serde_json::json!(["--flag"]));
        pyship(cache.path())
            .current_dir(&dir)
            .args(["pyship", "init", "--check", "--ci", "none"])
            .assert()
            .success()
            .stdout("");
    }

    #[test]
    #[cfg_attr(
        not(feature = "slow-tests"),
        ignore = "slow tier: bundles the layout and runs it"
    )]
    fn layout_subfolder() {
        run(Case {
            layout: "subfolder",
            table: "package.metadata.pyship",
            name: "SubApp",
            version: "v1.1.0",
            pep440: "1.1.0",
            linux_args: &[],
            windows_args: &[],
        });
    }

    #[test]
    #[cfg_attr(
        not(feature = "slow-tests"),
        ignore = "slow tier: bundles the layout and runs it"
    )]
    fn layout_virtual_workspace() {
        run(Case {
            layout: "virtual-workspace",
            table: "workspace.metadata.pyship",
            name: "WsApp",
            version: "v0.4.1-rc.2",
            pep440: "0.4.1rc2",
            linux_args: &[],
            windows_args: &[],
        });
    }

    #[test]
    #[cfg_attr(
        not(feature = "slow-tests"),
        ignore = "slow tier: bundles the layout and runs it"
    )]
    fn layout_root_flat() {
        run(Case {
            layout: "root-flat",
            table: "package.metadata.pyship",
            name: "RootFlat",
            version: "2.0.1",
            pep440: "2.0.1",
            linux_args: &[],
            windows_args: &[],
        });
    }

    #[test]
    #[cfg_attr(
        not(feature = "slow-tests"),
        ignore = "slow tier: bundles the layout and runs it"
    )]
    fn layout_scripts_entry_point() {
        run(Case {
            layout: "scripts",
            table: "package.metadata.pyship",
            name: "Scripted",
            version: "v0.9.1",
            pep440: "0.9.1",
            linux_args: &[],
            windows_args: &[],
        });
    }

    #[test]
    #[cfg_attr(
        not(feature = "slow-tests"),
        ignore = "slow tier: bundles the layout and runs it"
    )]
    fn layout_src_data_with_include_and_extra() {
        run(Case {
            layout: "src-data",
            table: "package.metadata.pyship",
            name: "SrcData",
            version: "v3.1.0-beta.1",
            pep440: "3.1.0b1",
            // The greeting read from app/config/settings.json (the include).
            linux_args: &["from settings.json"],
            windows_args: &["from settings.json"],
        });
    }

    #[test]
    #[cfg_attr(
        not(feature = "slow-tests"),
        ignore = "slow tier: bundles the layout and runs it"
    )]
    fn layout_cargo_init_flat_with_args() {
        run(Case {
            layout: "cargo-init-flat",
            table: "package.metadata.pyship",
            name: "Greeter",
            version: "v0.5.0",
            pep440: "0.5.0",
            linux_args: &["--greeting", "hello world", "it's \"quoted\" 100% $HOME"],
            windows_args: &["--greeting", "hello windows", "it's \"quoted\" 100% %PATH%"],
        });
    }
}
