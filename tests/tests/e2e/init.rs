//! `cargo pyship init`: the documented config table (decor kept, existing table
//! kept without --force), the CI workflows (snapshots, valid YAML, `${{ }}`
//! expressions intact) and `init --check` drift detection.

use std::path::{Path, PathBuf};

use super::support::*;
use predicates::prelude::*;

/// The hello fixture without its `[package.metadata.pyship]` table.
fn bare_hello() -> (tempfile::TempDir, PathBuf, String) {
    let (t, dir) = copy_fixture("hello");
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    let cut = text
        .find("[package.metadata.pyship]")
        .expect("fixture has the table");
    let bare = text[..cut].to_owned();
    fs_err::write(&manifest, &bare).unwrap();
    (t, dir, bare)
}

/// A git source for `--install-from`, as a project whose cargo-pyship is not
/// on crates.io gives it.
const GIT_SOURCE: &str = "https://git.example.com/tools/cargo-pyship.git#tag=v0.1.0";

fn init(dir: &Path, cache: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    let mut all = vec!["pyship", "init"];
    all.extend_from_slice(args);
    pyship(cache).current_dir(dir).args(&all).assert()
}

fn yaml(path: &Path) -> serde_yaml_ng::Value {
    let text = fs_err::read_to_string(path).unwrap();
    serde_yaml_ng::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}\n{text}", path.display()))
}

#[test]
fn init_adds_documented_table_and_keeps_cargo_toml_decor() {
    let (_t, dir, bare) = bare_hello();
    let cache = tempfile::tempdir().unwrap();
    init(&dir, cache.path(), &["--install-from", GIT_SOURCE]).success();
    let after = fs_err::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(
        after.starts_with(&bare),
        "every byte before the new table is kept:\n{after}"
    );
    let table = &after[bare.len()..];
    insta::assert_snapshot!("init_metadata_table", table);
    // The written table is valid config: the project loads with it, and the
    // pyproject it found in python/ is the one the plan uses.
    let project = pyship_build::project::load(Some(&dir.join("Cargo.toml")), None).unwrap();
    assert_eq!(
        project.config_source.table,
        pyship_build::project::ConfigTable::Package
    );
    // `module` is derived (the package named after the project), so it is
    // not written; the pyproject is not next to Cargo.toml, so it is.
    assert_eq!(project.config.module, None);
    assert_eq!(
        project.pyproject.as_ref().unwrap().path,
        dir.join("python/pyproject.toml")
    );
    let plan = pyship_build::plan::Plan::build(
        project,
        &pyship_build::env::Env::default(),
        &pyship_build::plan::Options::default(),
    )
    .unwrap();
    assert_eq!(plan.module, "hello_app");
    assert_eq!(
        plan.app.dir.as_deref(),
        Some(dir.join("python/src").as_path())
    );
}

#[test]
fn init_keeps_existing_table_without_force_and_replaces_with_force() {
    let (_t, dir) = copy_fixture("hello");
    let cache = tempfile::tempdir().unwrap();
    let manifest = dir.join("Cargo.toml");
    let before = fs_err::read_to_string(&manifest).unwrap();
    init(&dir, cache.path(), &[])
        .success()
        .stderr(predicate::str::contains(
            "kept the existing [package.metadata.pyship]",
        ))
        .stderr(predicate::str::contains("--force"));
    assert_eq!(fs_err::read_to_string(&manifest).unwrap(), before);
    assert!(dir.join(".gitea/workflows/release.yml").is_file());

    init(&dir, cache.path(), &["--force"]).success();
    let after = fs_err::read_to_string(&manifest).unwrap();
    assert_eq!(
        after.matches("[package.metadata.pyship]").count(),
        1,
        "{after}"
    );
    assert!(
        after.starts_with("# A hybrid Rust + Python project"),
        "{after}"
    );
    // The project's values survive; the rest is documented defaults.
    assert!(after.contains("name = \"Hello App\""), "{after}");
    assert!(after.contains("port = 8765"), "{after}");
    assert!(after.contains("publisher = \"Example Corp\""), "{after}");
    assert!(after.contains("# \"vbs\" (wscript"), "{after}");
    let project = pyship_build::project::load(Some(&manifest), None).unwrap();
    assert_eq!(project.config.name, "Hello App");
    assert_eq!(project.config.port, Some(8765));
}

#[test]
fn workflow_snapshots_gitea_and_github() {
    for ci in ["gitea", "github"] {
        let (_t, dir, _) = bare_hello();
        let cache = tempfile::tempdir().unwrap();
        init(
            &dir,
            cache.path(),
            &["--ci", ci, "--install-from", GIT_SOURCE],
        )
        .success();
        let wf = dir.join(format!(".{ci}/workflows"));
        for name in ["test", "release"] {
            let text = fs_err::read_to_string(wf.join(format!("{name}.yml"))).unwrap();
            insta::assert_snapshot!(format!("workflow_{ci}_{name}"), text);
        }
        let other = if ci == "gitea" { ".github" } else { ".gitea" };
        assert!(!dir.join(other).exists(), "--ci {ci} writes only .{ci}/");
    }
}

#[test]
fn generated_workflows_are_valid_yaml_with_expressions_intact() {
    let (_t, dir, _) = bare_hello();
    let cache = tempfile::tempdir().unwrap();
    init(&dir, cache.path(), &["--install-from", "crates.io"]).success();
    let wf = dir.join(".gitea/workflows");
    for name in ["test.yml", "release.yml"] {
        let text = fs_err::read_to_string(wf.join(name)).unwrap();
        assert!(
            text.starts_with("# Generated by cargo-pyship "),
            "header: {text}"
        );
        assert!(!text.contains("{{{") && !text.contains("{%%"), "{text}");
    }

    let release = yaml(&wf.join("release.yml"));
    assert_eq!(release["on"]["push"]["tags"][0], "v*");
    let jobs = release["jobs"].as_mapping().unwrap();
    let names: Vec<&str> = jobs.keys().filter_map(|k| k.as_str()).collect();
    assert_eq!(
        names,
        ["plan", "build-windows", "build-linux", "publish"],
        "no image configured"
    );
    assert_eq!(release["jobs"]["build-windows"]["needs"], "plan");
    assert_eq!(release["jobs"]["build-linux"]["needs"], "plan");
    for job in jobs.values() {
        let steps = job["steps"].as_sequence().unwrap();
        assert_eq!(
            steps[0]["uses"],
            pyship_build::init::actions::CHECKOUT
                .uses()
                .split("  #")
                .next()
                .unwrap(),
            "pinned by commit (the version in a comment)"
        );
        assert_eq!(steps[0]["with"]["fetch-depth"], 0);
        let runs: String = steps
            .iter()
            .filter_map(|s| s["run"].as_str())
            .collect::<Vec<_>>()
            .join("\n");
        for needle in ["sh.rustup.rs", "cargo install cargo-pyship --locked"] {
            assert!(
                runs.contains(needle),
                "every job installs {needle}:\n{runs}"
            );
        }
    }
    let step = |job: &str, name: &str| -> serde_yaml_ng::Value {
        release["jobs"][job]["steps"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{job} has no step {name}"))
            .clone()
    };
    for target in ["windows", "linux"] {
        assert_eq!(
            step(&format!("build-{target}"), "Release")["run"],
            format!("cargo pyship release --only {target}")
        );
    }
    let publish = step("publish", "Publish");
    assert_eq!(publish["run"], "cargo pyship release --only publish");
    assert_eq!(
        publish["env"]["DEPLOY_TOKEN"], "${{ secrets.DEPLOY_TOKEN }}",
        "the template engine must leave GitHub expressions alone"
    );
    // No signing configured: the build jobs get no secret at all.
    for target in ["windows", "linux"] {
        assert!(step(&format!("build-{target}"), "Release")["env"].is_null());
    }
    let tools = step("build-windows", "Install the job's tools")["run"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(tools.contains("nsis") && tools.contains("wine"), "{tools}");
    assert!(
        release["jobs"]["build-linux"]["steps"]
            .as_sequence()
            .unwrap()
            .iter()
            .all(|s| s["name"] != "Install the job's tools"),
        "the Linux job needs no Debian package"
    );
    assert_eq!(
        release["jobs"]["publish"]["needs"],
        serde_yaml_ng::from_str::<serde_yaml_ng::Value>("[build-windows, build-linux]").unwrap()
    );
    let build = release["jobs"]["build-linux"]["steps"]
        .as_sequence()
        .unwrap();
    assert!(build.iter().any(|s| s["uses"]
        .as_str()
        .is_some_and(|u| u.starts_with("actions/setup-python@"))));
    assert!(build.iter().any(|s| s["uses"]
        .as_str()
        .is_some_and(|u| u.starts_with("actions/upload-artifact@"))));
    let downloads = release["jobs"]["publish"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter(|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/download-artifact@"))
        })
        .count();
    assert_eq!(downloads, 2, "the publish job gets both targets' files");

    let test = yaml(&wf.join("test.yml"));
    assert_eq!(test["on"]["push"]["branches"][0], "main");
    assert_eq!(test["on"]["pull_request"]["branches"][0], "main");
    let mut runs = Vec::new();
    for job in test["jobs"].as_mapping().unwrap().values() {
        for s in job["steps"].as_sequence().unwrap() {
            if let Some(r) = s["run"].as_str() {
                runs.push(r.to_owned());
            }
        }
    }
    let runs = runs.join("\n");
    for needle in [
        "cargo fmt --all -- --check",
        "cargo clippy",
        "cargo test",
        "pytest",
    ] {
        assert!(
            runs.contains(needle),
            "test workflow runs {needle}:\n{runs}"
        );
    }
    // The fixture configures no ruff and declares none: no lint step.
    assert!(!runs.contains("ruff check"), "{runs}");
    assert_eq!(
        test["jobs"]["python"]["defaults"]["run"]["working-directory"],
        "python"
    );
}

#[test]
fn init_check_detects_drift_and_writes_nothing() {
    let (_t, dir, _) = bare_hello();
    let cache = tempfile::tempdir().unwrap();
    // Nothing generated yet: the table and both workflows are missing.
    init(&dir, cache.path(), &["--check"])
        .code(1)
        .stdout(predicate::str::contains("+[package.metadata.pyship]"))
        .stdout(predicate::str::contains(".gitea/workflows/release.yml"))
        .stderr(predicate::str::contains("3 generated files differ"));
    assert!(!dir.join(".gitea").exists(), "--check writes nothing");

    init(&dir, cache.path(), &[]).success();
    init(&dir, cache.path(), &["--check"])
        .success()
        .stdout(predicate::str::is_empty());

    // A hand edit is drift: exit 1, a unified diff on stdout, file untouched.
    let test = dir.join(".gitea/workflows/test.yml");
    let edited = fs_err::read_to_string(&test)
        .unwrap()
        .replace("python -m pytest", "python -m pytest -x");
    fs_err::write(&test, &edited).unwrap();
    let a = init(&dir, cache.path(), &["--check"])
        .code(1)
        .stdout(predicate::str::contains(
            "-          python -m pytest -x || status=$?",
        ))
        .stdout(predicate::str::contains(
            "+          python -m pytest || status=$?\n",
        ));
    path_filters(&[(&dir, "[root]")])
        .bind(|| insta::assert_snapshot!("init_check_drift_error", stderr_text(&a)));
    assert_eq!(fs_err::read_to_string(&test).unwrap(), edited);

    // A deleted workflow is drift too.
    fs_err::remove_file(dir.join(".gitea/workflows/release.yml")).unwrap();
    init(&dir, cache.path(), &["--check"]).code(1);
    init(&dir, cache.path(), &[]).success();
    init(&dir, cache.path(), &["--check"]).success();
}

#[test]
fn init_ci_none_writes_only_the_table() {
    let (_t, dir, _) = bare_hello();
    let cache = tempfile::tempdir().unwrap();
    init(&dir, cache.path(), &["--ci", "none"]).success();
    assert!(!dir.join(".gitea").exists() && !dir.join(".github").exists());
    assert!(fs_err::read_to_string(dir.join("Cargo.toml"))
        .unwrap()
        .contains("[package.metadata.pyship.docker]"));
    // Without --ci, --check finds no generated workflow and checks the table
    // only (it asked for Gitea's workflows the project never had).
    init(&dir, cache.path(), &["--check"])
        .success()
        .stdout(predicate::str::is_empty());
    assert!(!dir.join(".gitea").exists(), "--check writes nothing");
}

#[test]
fn init_workflows_go_to_the_git_root_with_the_project_dir() {
    // The project lives in a subdirectory of the repository: workflows belong
    // at the repository root and run cargo inside the project.
    let (t, dir, _) = bare_hello();
    let repo = t.path();
    git(repo, &["init", "-q", "-b", "trunk"]);
    let cache = tempfile::tempdir().unwrap();
    init(&dir, cache.path(), &[]).success();
    let wf = repo.join(".gitea/workflows/test.yml");
    assert!(wf.is_file(), "workflows at the git root");
    let v = yaml(&wf);
    assert_eq!(
        v["jobs"]["rust"]["defaults"]["run"]["working-directory"],
        "hello"
    );
    assert_eq!(
        v["jobs"]["python"]["defaults"]["run"]["working-directory"],
        "hello/python"
    );
    // No origin: the default branch is `main`, whatever branch is checked out.
    assert_eq!(v["on"]["push"]["branches"][0], "main");
}

#[test]
fn init_rejects_a_token_env_that_cannot_be_a_secret() {
    let (_t, dir) = copy_fixture("hello");
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    fs_err::write(
        &manifest,
        format!("{text}\n[package.metadata.pyship.publish]\ntoken-env = \"GITHUB_TOKEN\"\n"),
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let a = init(&dir, cache.path(), &[]).code(1);
    path_filters(&[(&dir, "[root]")])
        .bind(|| insta::assert_snapshot!("init_token_env_not_a_secret", stderr_text(&a)));
    assert!(!dir.join(".gitea").exists());
}

#[test]
fn init_uses_the_projects_template_override_and_checks_against_it() {
    let (_t, dir, _) = bare_hello();
    let tdir = dir.join("templates/ci");
    fs_err::create_dir_all(&tdir).unwrap();
    fs_err::write(
        tdir.join("test.yml.j2"),
        "{{{ header }}}\nname: custom\non: [push]\njobs:\n  t:\n    runs-on: self-hosted\n    steps:\n      - run: echo ${{ github.sha }} {{{ python_dir | yaml }}}\n",
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    init(&dir, cache.path(), &[]).success();
    let wf = dir.join(".gitea/workflows/test.yml");
    let v = yaml(&wf);
    assert_eq!(v["name"], "custom");
    assert_eq!(
        v["jobs"]["t"]["steps"][0]["run"],
        "echo ${{ github.sha }} \"python\""
    );
    init(&dir, cache.path(), &["--check"]).success();
    // Editing the override makes the generated file drift.
    let t = tdir.join("test.yml.j2");
    let text = fs_err::read_to_string(&t).unwrap();
    fs_err::write(&t, text.replace("self-hosted", "ubuntu-latest")).unwrap();
    init(&dir, cache.path(), &["--check"])
        .code(1)
        .stdout(predicate::str::contains("+    runs-on: ubuntu-latest"));
}

#[test]
fn init_force_never_replaces_a_workspace_table() {
    let (_t, dir) = copy_fixture("hello");
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest)
        .unwrap()
        .replace("[package.metadata.pyship", "[workspace.metadata.pyship");
    fs_err::write(&manifest, &text).unwrap();
    let cache = tempfile::tempdir().unwrap();
    init(&dir, cache.path(), &["--force"])
        .success()
        .stderr(predicate::str::contains(
            "kept the existing [workspace.metadata.pyship] in ./Cargo.toml",
        ))
        .stderr(predicate::str::contains("edit this one by hand"));
    assert_eq!(fs_err::read_to_string(&manifest).unwrap(), text);
}

#[test]
fn init_check_without_ci_finds_the_github_workflows() {
    let (_t, dir, _) = bare_hello();
    let cache = tempfile::tempdir().unwrap();
    init(&dir, cache.path(), &["--ci", "github"]).success();
    assert!(dir.join(".github/workflows/release.yml").is_file());
    // No --ci: the repository's GitHub workflows are the ones checked.
    init(&dir, cache.path(), &["--check"])
        .success()
        .stdout(predicate::str::is_empty());
    // And drift in them is found.
    let release = dir.join(".github/workflows/release.yml");
    let text = fs_err::read_to_string(&release).unwrap();
    fs_err::write(&release, format!("{text}# edited\n")).unwrap();
    init(&dir, cache.path(), &["--check"])
        .code(1)
        .stdout(predicate::str::contains(".github/workflows/release.yml"));
}

/// Adds a second member `ws-cli` to a copy of the virtual-workspace layout.
fn two_member_workspace(dir: &Path) {
    let cli = dir.join("cli");
    copy_dir(&dir.join("core"), &cli);
    let toml = cli.join("Cargo.toml");
    let text = fs_err::read_to_string(&toml).unwrap();
    let text = text.replacen("name = \"ws-core\"", "name = \"ws-cli\"", 1);
    assert!(
        text.contains("ws-cli"),
        "fixture's member is ws-core:\n{text}"
    );
    fs_err::write(&toml, text).unwrap();
    let root = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&root)
        .unwrap()
        .replace("members = [\"core\"]", "members = [\"core\", \"cli\"]");
    fs_err::write(&root, text).unwrap();
}

#[test]
fn a_workspace_of_several_members_ships_the_one_its_table_names() {
    let (_t, dir) = copy_fixture("layouts/virtual-workspace");
    two_member_workspace(&dir);
    let cache = tempfile::tempdir().unwrap();
    let plan = |cwd: &Path, args: &[&str]| {
        let mut all = vec!["pyship", "plan"];
        all.extend_from_slice(args);
        pyship(cache.path()).current_dir(cwd).args(&all).assert()
    };
    // The fixture's table names no member: two candidates, and the hint says
    // how to name one.
    plan(&dir, &[])
        .code(1)
        .stderr(predicate::str::contains(
            "virtual workspace with several candidate packages: ws-core, ws-cli",
        ))
        .stderr(predicate::str::contains(
            "`package = \"NAME\"` in [workspace.metadata.pyship]",
        ));

    // init, told the member once, writes it into the workspace's table.
    let root = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&root).unwrap();
    let bare = text[..text.find("[workspace.metadata.pyship]").unwrap()].to_owned();
    fs_err::write(&root, &bare).unwrap();
    init(&dir, cache.path(), &["-p", "ws-cli", "--ci", "none"]).success();
    let written = fs_err::read_to_string(&root).unwrap();
    assert!(written.contains("\npackage = \"ws-cli\"\n"), "{written}");
    assert!(
        written.contains("# Set by init: the workspace has 2 members (ws-core, ws-cli)"),
        "{written}"
    );
    // Then every command finds it, from the root and from another member's folder.
    for cwd in [dir.clone(), dir.join("core"), dir.join("cli")] {
        let out = plan(&cwd, &["--format", "json"]).success();
        let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        assert_eq!(v["project"]["package_name"], "ws-cli", "{}", cwd.display());
        // The name is the Python project's, whichever member ships.
        assert_eq!(v["name"], "ws-app");
    }
    init(&dir, cache.path(), &["--check", "--ci", "none"]).success();

    // -p against the table's choice, and a member that does not exist.
    plan(&dir, &["-p", "ws-core"])
        .code(1)
        .stderr(predicate::str::contains(
            "`package = \"ws-cli\"` in [workspace.metadata.pyship]",
        ))
        .stderr(predicate::str::contains(
            "but the package selected is `ws-core`",
        ));
    fs_err::write(
        &root,
        written.replace("package = \"ws-cli\"", "package = \"nope\""),
    )
    .unwrap();
    plan(&dir, &[]).code(1).stderr(predicate::str::contains(
        "no such workspace member (members: ws-core, ws-cli)",
    ));
    // A mistyped value is the config's own error, not "several candidates".
    fs_err::write(
        &root,
        written.replace("package = \"ws-cli\"", "package = 5"),
    )
    .unwrap();
    plan(&dir, &[])
        .code(1)
        .stderr(predicate::str::contains(
            "invalid `package` in [workspace.metadata.pyship]",
        ))
        .stderr(predicate::str::contains("expected a string"));
}

#[test]
fn a_maturin_workspace_of_several_members_ships_the_crate_maturin_builds() {
    let (_t, dir) = copy_fixture("pyhash");
    let other = dir.join("crates/other");
    copy_dir(&dir.join("crates/fastcore"), &other);
    let toml = other.join("Cargo.toml");
    let text = fs_err::read_to_string(&toml).unwrap();
    let name_line = text
        .lines()
        .find(|l| l.starts_with("name = "))
        .expect("member has a name")
        .to_owned();
    fs_err::write(&toml, text.replacen(&name_line, "name = \"other\"", 1)).unwrap();
    let root = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&root).unwrap();
    assert!(text.contains("members = [\"crates/fastcore\"]"), "{text}");
    fs_err::write(
        &root,
        text.replace(
            "members = [\"crates/fastcore\"]",
            "members = [\"crates/other\", \"crates/fastcore\"]",
        ),
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "version"])
        .assert()
        .success()
        .stderr(predicate::str::contains("crates/fastcore/Cargo.toml"));
}

#[test]
fn init_finds_the_maturin_project_above_a_crate_in_its_own_folder() {
    // maturin's documented split: pyproject.toml and python/ at the top, the
    // crate in rust/ (`[tool.maturin] manifest-path = "rust/Cargo.toml"`).
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("split");
    let write = |rel: &str, text: &str| {
        let p = dir.join(rel);
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(p, text).unwrap();
    };
    write(
        "pyproject.toml",
        "[build-system]\nrequires = [\"maturin>=1,<2\"]\nbuild-backend = \"maturin\"\n\n\
         [project]\nname = \"splitapp\"\ndynamic = [\"version\"]\n\n\
         [tool.maturin]\nmanifest-path = \"rust/Cargo.toml\"\npython-source = \"python\"\n\
         module-name = \"splitapp._native\"\n",
    );
    write("python/splitapp/__init__.py", "");
    write("python/splitapp/__main__.py", "print('split')\n");
    write(
        "rust/Cargo.toml",
        "[package]\nname = \"splitapp\"\nversion = \"0.3.0\"\nedition = \"2021\"\n\n\
         [lib]\nname = \"_native\"\ncrate-type = [\"cdylib\"]\n",
    );
    write("rust/src/lib.rs", "");
    let manifest = dir.join("rust/Cargo.toml");
    let cache = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        pyship(cache.path())
            .current_dir(&dir)
            .args(["pyship"])
            .args(args)
            .arg("--manifest-path")
            .arg(&manifest)
            .assert()
    };
    run(&["init", "--ci", "none"])
        .success()
        .stderr(predicate::str::contains(
            "Found ../pyproject.toml (above the Cargo.toml: its [tool.maturin] builds this crate)",
        ));
    let written = fs_err::read_to_string(&manifest).unwrap();
    assert!(
        written.contains("\npyproject = \"../pyproject.toml\"\n"),
        "{written}"
    );
    run(&["plan"])
        .success()
        .stdout(predicate::str::contains("splitapp v0.3.0"));
    run(&["init", "--check", "--ci", "none"]).success();
}

/// The `run` of the release workflow's "Install cargo-pyship" step.
fn install_step(dir: &Path) -> String {
    let v = yaml(&dir.join(".gitea/workflows/release.yml"));
    v["jobs"]["publish"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Install cargo-pyship")
        .and_then(|s| s["run"].as_str())
        .expect("an Install cargo-pyship step")
        .to_owned()
}

#[test]
fn init_installs_cargo_pyship_the_way_cargo_installed_it() {
    // cargo's install record says this cargo-pyship came from a git commit:
    // the workflow installs that commit, init says so and records the choice.
    let (_t, dir, _) = bare_hello();
    let cache = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let sha = "4f2a1c0de5b1a7e6f0c9d8b7a6e5f4c3b2a19081";
    fs_err::write(
        home.path().join(".crates2.json"),
        format!(
            r#"{{"installs":{{"cargo-pyship 0.1.0 (git+https://git.example.com/tools/cargo-pyship.git?branch=main#{sha})":{{"version_req":null,"bins":["cargo-pyship"],"features":[],"all_features":false,"no_default_features":false,"profile":"release","target":"x86_64-unknown-linux-gnu","rustc":"rustc 1.95.0"}}}}}}"#
        ),
    )
    .unwrap();
    let want = format!(
        "cargo install --locked --git https://git.example.com/tools/cargo-pyship.git --rev {sha} cargo-pyship"
    );
    pyship(cache.path())
        .current_dir(&dir)
        .env("CARGO_HOME", home.path())
        .args(["pyship", "init"])
        .assert()
        .success()
        .stderr(predicate::str::contains(format!("Chose `{want}`")))
        .stderr(predicate::str::contains(
            "where cargo installed this cargo-pyship from",
        ));
    assert_eq!(install_step(&dir), want);
    let toml = fs_err::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(
        toml.contains(
            "[package.metadata.pyship.ci]\n# How the release workflow installs cargo-pyship"
        ),
        "{toml}"
    );
    let project = pyship_build::project::load(Some(&dir.join("Cargo.toml")), None).unwrap();
    assert_eq!(
        project.config.ci.install_command.as_deref(),
        Some(want.as_str())
    );
    // Another machine (no install record) checks against the recorded choice.
    let empty = tempfile::tempdir().unwrap();
    pyship(cache.path())
        .current_dir(&dir)
        .env("CARGO_HOME", empty.path())
        .args(["pyship", "init", "--check"])
        .assert()
        .success();
}

#[test]
fn init_install_command_from_the_config_or_a_path_in_the_repository() {
    // A configured command is used as written.
    let (_t, dir) = copy_fixture("hello");
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    fs_err::write(
        &manifest,
        format!("{text}\n[package.metadata.pyship.ci]\ninstall-command = \"pip install cargo-pyship-bin && echo 'ok'\"\n"),
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    init(&dir, cache.path(), &[])
        .success()
        .stderr(predicate::str::contains(
            "`ci.install-command` in the config",
        ));
    assert_eq!(
        install_step(&dir),
        "pip install cargo-pyship-bin && echo 'ok'"
    );

    // A vendored cargo-pyship inside the repository: `cargo install --path`.
    let (_t, dir, _) = bare_hello();
    let vendored = dir.join("tools/cargo pyship/cargo-pyship");
    fs_err::create_dir_all(&vendored).unwrap();
    fs_err::write(
        vendored.join("Cargo.toml"),
        "[package]\nname = \"cargo-pyship\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    init(
        &dir,
        cache.path(),
        &["--install-from", "tools/cargo pyship"],
    )
    .success()
    .stderr(predicate::str::contains(
        "the path tools/cargo pyship/cargo-pyship in the repository",
    ));
    assert_eq!(
        install_step(&dir),
        "cargo install --locked --path 'tools/cargo pyship/cargo-pyship'"
    );

    // A path outside the repository cannot work in CI: refused, nothing written.
    let (_t, dir, bare) = bare_hello();
    git(&dir, &["init", "-q", "-b", "main"]);
    let outside = tempfile::tempdir().unwrap();
    fs_err::write(
        outside.path().join("Cargo.toml"),
        "[package]\nname = \"cargo-pyship\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    init(
        &dir,
        cache.path(),
        &["--install-from", outside.path().to_str().unwrap()],
    )
    .code(1)
    .stderr(predicate::str::contains("is outside the repository"))
    .stderr(predicate::str::contains(
        "hint: vendor cargo-pyship inside the repository",
    ));
    assert_eq!(
        fs_err::read_to_string(dir.join("Cargo.toml")).unwrap(),
        bare
    );
    assert!(!dir.join(".gitea").exists());
}

/// `windows.msi = true`: the release workflow installs the msitools that
/// build the MSI (and only then).
#[test]
fn release_workflow_installs_msitools_when_the_msi_is_on() {
    for msi in [false, true] {
        let (_t, dir) = copy_fixture("hello");
        if msi {
            let manifest = dir.join("Cargo.toml");
            let text = fs_err::read_to_string(&manifest).unwrap();
            fs_err::write(
                &manifest,
                text.replacen(
                    "publisher = \"Example Corp\"",
                    "publisher = \"Example Corp\"\nmsi = true",
                    1,
                ),
            )
            .unwrap();
        }
        let cache = tempfile::tempdir().unwrap();
        init(
            &dir,
            cache.path(),
            &["--ci", "gitea", "--install-from", GIT_SOURCE],
        )
        .success();
        let release = fs_err::read_to_string(dir.join(".gitea/workflows/release.yml")).unwrap();
        let v = yaml(&dir.join(".gitea/workflows/release.yml"));
        let apt = v["jobs"]["build-windows"]["steps"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "Install the job's tools")
            .and_then(|s| s["run"].as_str())
            .unwrap()
            .to_owned();
        assert_eq!(apt.contains(" nsis wixl msitools\n"), msi, "{release}");
        yaml(&dir.join(".gitea/workflows/release.yml"));
    }
}
