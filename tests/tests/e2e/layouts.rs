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

mod matrix;
