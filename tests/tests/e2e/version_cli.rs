//! `cargo pyship version` and the CLI surface: help, usage errors, bad input,
//! JSON output, stamping (pyproject and maturin-style Cargo), `--check`.

use super::support::*;
use predicates::prelude::*;

#[test]
fn help_works_both_ways() {
    let cache = tempfile::tempdir().unwrap();
    pyship(cache.path())
        .args(["pyship", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Usage: cargo pyship"));
    pyship(cache.path())
        .args(["--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("bundle"));
}

#[test]
fn usage_error_exits_2() {
    let cache = tempfile::tempdir().unwrap();
    pyship(cache.path())
        .args(["pyship", "bundle", "--target", "macos"])
        .assert()
        .code(2);
}

#[test]
fn version_json_has_every_spelling() {
    let (_t, dir) = copy_fixture("hello");
    let cache = tempfile::tempdir().unwrap();
    let out = pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "version", "v0.3.0-alpha.1", "--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).expect("stdout is one JSON document");
    assert_eq!(v["tag"], "v0.3.0-alpha.1");
    assert_eq!(v["semver"], "0.3.0-alpha.1");
    assert_eq!(v["pep440"], "0.3.0a1");
    assert_eq!(v["windows"], "0.3.0.0");
    assert_eq!(v["docker"], "0.3.0-alpha.1");
    assert_eq!(v["prerelease"], true);
    assert_eq!(v["source"], "command-line argument");
}

#[test]
fn source_chain_tag_then_ci_then_pyproject() {
    let (_t, dir) = copy_fixture("hello");
    let cache = tempfile::tempdir().unwrap();
    let json = |cmd: &mut assert_cmd::Command| -> serde_json::Value {
        let out = cmd.assert().success().get_output().stdout.clone();
        serde_json::from_slice(&out).unwrap()
    };
    // Not a git repo, no CI: pyproject wins.
    let v = json(
        pyship(cache.path())
            .current_dir(&dir)
            .args(["pyship", "version", "--format", "json"]),
    );
    assert!(
        v["source"].as_str().unwrap().contains("pyproject.toml"),
        "{v}"
    );
    // CI tag.
    let v = json(
        pyship(cache.path())
            .current_dir(&dir)
            .env("GITHUB_REF_NAME", "v2.0.0-rc.1")
            .env("GITHUB_REF_TYPE", "tag")
            .args(["pyship", "version", "--format", "json"]),
    );
    assert_eq!(v["pep440"], "2.0.0rc1");
    assert_eq!(v["source"], "CI variable GITHUB_REF_NAME");
    // A git tag at HEAD beats CI.
    git_init_commit(&dir);
    git(&dir, &["tag", "v1.5.0"]);
    let v = json(
        pyship(cache.path())
            .current_dir(&dir)
            .env("GITHUB_REF_NAME", "v2.0.0-rc.1")
            .env("GITHUB_REF_TYPE", "tag")
            .args(["pyship", "version", "--format", "json"]),
    );
    assert_eq!(v["semver"], "1.5.0");
    assert_eq!(v["source"], "git tag v1.5.0 at HEAD");
}

#[test]
fn invalid_version_is_exit_1_and_touches_nothing() {
    let (_t, dir) = copy_fixture("hello");
    let cache = tempfile::tempdir().unwrap();
    let py = dir.join("python/pyproject.toml");
    let before = fs_err::read(&py).unwrap();
    for (bad, name) in [
        ("vfoo", "invalid_version_vfoo"),
        ("v01.2", "invalid_version_leading_zero"),
        ("1.2.3-nightly", "invalid_version_nightly"),
    ] {
        let a = pyship(cache.path())
            .current_dir(&dir)
            .args(["pyship", "version", bad, "--stamp"])
            .assert()
            .code(1);
        path_filters(&[(&dir, "[root]")]).bind(|| insta::assert_snapshot!(name, stderr_text(&a)));
        assert_eq!(fs_err::read(&py).unwrap(), before, "{bad} changed the file");
    }
}

#[test]
fn stamp_pyproject_changes_only_the_version_line() {
    let (_t, dir) = copy_fixture("hello");
    let cache = tempfile::tempdir().unwrap();
    let py = dir.join("python/pyproject.toml");
    let before = fs_err::read_to_string(&py).unwrap();
    pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "version", "v0.3.0-rc.2", "--stamp"])
        .assert()
        .success()
        .stderr(predicate::str::contains("Stamped"));
    let after = fs_err::read_to_string(&py).unwrap();
    let changed: Vec<(&str, &str)> = before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .collect();
    insta::assert_snapshot!(format!("{changed:#?}"), @r#"
    [
        (
            "version = \"0.1.0\"  # stamped by `cargo pyship version --stamp`",
            "version = \"0.3.0rc2\"  # stamped by `cargo pyship version --stamp`",
        ),
    ]
    "#);
    assert_eq!(before.lines().count(), after.lines().count());
    // Cargo's version is stamped too, so the files agree afterwards.
    let manifest = fs_err::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("version = \"0.3.0-rc.2\""), "{manifest}");
    pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "version", "v0.3.0-rc.2", "--check"])
        .assert()
        .success();
}

#[test]
fn a_manifest_without_a_version_is_neither_stamped_nor_checked() {
    // Cargo allows leaving `version` out (it is 0.0.0 then): the pyproject is
    // the only place the version is declared.
    let (_t, dir) = copy_fixture("hello");
    let cache = tempfile::tempdir().unwrap();
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    let without = text.replacen("version = \"0.1.0\"\n", "", 1);
    assert_ne!(text, without);
    fs_err::write(&manifest, &without).unwrap();
    pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "version", "1.2.0", "--stamp"])
        .assert()
        .success();
    assert_eq!(fs_err::read_to_string(&manifest).unwrap(), without);
    pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "version", "--check"])
        .assert()
        .success()
        .stderr(predicate::str::contains("agree on 1.2.0"));
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: compiles a maturin fixture"
)]
fn stamp_maturin_workspace_version_and_lock() {
    let (_t, dir) = copy_fixture("maturin");
    let cache = tempfile::tempdir().unwrap();
    pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "version", "v0.3.0-beta.1", "--stamp"])
        .assert()
        .success();
    let manifest = fs_err::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("version = \"0.3.0-beta.1\"  # the one version of the workspace"),
        "{manifest}"
    );
    let lock = fs_err::read_to_string(dir.join("Cargo.lock")).unwrap();
    assert!(
        lock.contains("name = \"fastcore\"\nversion = \"0.3.0-beta.1\""),
        "{lock}"
    );
    // The crate manifest still inherits.
    let crate_manifest = fs_err::read_to_string(dir.join("crates/fastcore/Cargo.toml")).unwrap();
    assert!(crate_manifest.contains("version.workspace = true"));
    // Cargo agrees the lock is consistent.
    let status = std::process::Command::new("cargo")
        .args(["metadata", "--locked", "--offline", "--format-version", "1"])
        .current_dir(&dir)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "Cargo.lock out of step after stamping");
    let status = std::process::Command::new("cargo")
        .args(["build", "--locked", "--offline", "--quiet"])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .status()
        .unwrap();
    assert!(
        status.success(),
        "cargo build --locked failed after stamping"
    );
}

/// `--stamp` writes every file or none. A Cargo.lock on a read-only mount
/// is found before pyproject.toml or Cargo.toml change; one that cannot be
/// replaced midway (a mount point is never renamed over) gets the files
/// already replaced put back. Either way: exit 1 naming the lock and the
/// system's error, with a hint, and every file as it was, no temp file left.
#[test]
fn stamp_writes_every_file_or_none() {
    let (_t, dir) = copy_fixture("hello");
    let cache = tempfile::tempdir().unwrap();
    let files = ["python/pyproject.toml", "Cargo.toml", "Cargo.lock"];
    let snapshot = || {
        let mut names: Vec<String> = ["", "python"]
            .iter()
            .flat_map(|d| fs_err::read_dir(dir.join(d)).unwrap())
            .map(|e| e.unwrap().path().display().to_string())
            .collect();
        names.sort();
        (names, files.map(|f| fs_err::read(dir.join(f)).unwrap()))
    };
    let before = snapshot();
    for (setup, error) in [
        (
            "mount --bind \"$LOCK\" \"$LOCK\"\nmount -o remount,bind,ro \"$LOCK\"",
            "Read-only file system",
        ),
        ("mount --bind \"$LOCK\" \"$LOCK\"", "busy"),
    ] {
        let out = pyship_with_mounts(cache.path(), setup)
            .env("LOCK", dir.join("Cargo.lock"))
            .current_dir(&dir)
            .args(["pyship", "version", "v2.0.0", "--stamp"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("Cargo.lock") && stderr.contains(error),
            "{stderr}"
        );
        assert!(
            stderr.contains("hint:") && stderr.contains("no file was changed"),
            "{stderr}"
        );
        assert!(
            before == snapshot(),
            "a file changed or a temp file stayed:\n{stderr}"
        );
    }
}

/// `--check` compares Cargo.lock too: a lock behind Cargo.toml fails
/// `cargo build --locked`, so the files do not agree; `--stamp` brings the
/// lock in line.
#[test]
fn check_compares_the_lock() {
    let (_t, dir) = copy_fixture("hello");
    let cache = tempfile::tempdir().unwrap();
    for (file, from, to) in [
        ("Cargo.toml", "version = \"0.1.0\"", "version = \"0.2.0\""),
        (
            "python/pyproject.toml",
            "version = \"0.1.0\"",
            "version = \"0.2.0\"",
        ),
    ] {
        let path = dir.join(file);
        let text = fs_err::read_to_string(&path).unwrap();
        fs_err::write(&path, text.replacen(from, to, 1)).unwrap();
    }
    pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "version", "--check"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "Cargo.lock (package `hello`) says 0.1.0 but",
        ));
    pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "version", "0.2.0", "--stamp"])
        .assert()
        .success();
    pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "version", "--check"])
        .assert()
        .success()
        .stderr(predicate::str::contains("3 agree on 0.2.0"));
}

#[test]
fn broken_toml_names_file_line_and_column() {
    let (_t, dir) = copy_fixture("hello");
    let cache = tempfile::tempdir().unwrap();
    let py = dir.join("python/pyproject.toml");
    let broken = "[project\nname = \"x\"\nversion = \"1.0.0\"\n";
    fs_err::write(&py, broken).unwrap();
    pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "version", "2.0.0", "--stamp"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("pyproject.toml"))
        .stderr(predicate::str::contains("line 1"))
        .stderr(predicate::str::contains("column"));
    assert_eq!(fs_err::read_to_string(&py).unwrap(), broken);
}

#[test]
fn unknown_config_key_is_rejected() {
    let (_t, dir) = copy_fixture("hello");
    let cache = tempfile::tempdir().unwrap();
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    fs_err::write(&manifest, text.replace("publisher = ", "publsher = ")).unwrap();
    let a = pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "version"])
        .assert()
        .code(1);
    path_filters(&[(&dir, "[root]")])
        .bind(|| insta::assert_snapshot!("unknown_config_key", stderr_text(&a)));
    // The hint's command runs as written and lists the key meant.
    let err = stderr_text(&a);
    let hinted = err
        .split('`')
        .find(|s| s.starts_with("cargo pyship config"))
        .unwrap_or_else(|| panic!("no command in the hint: {err}"));
    let args: Vec<&str> = hinted.split_whitespace().skip(1).collect();
    let listed = pyship(cache.path())
        .current_dir(&dir)
        .args(args)
        .assert()
        .success();
    let listed = String::from_utf8_lossy(&listed.get_output().stdout).into_owned();
    assert!(
        listed.starts_with("[package.metadata.pyship.windows]")
            && listed.contains("\n  publisher: "),
        "{listed}"
    );
}

#[test]
fn check_reports_disagreeing_files() {
    let (_t, dir) = copy_fixture("hello");
    let cache = tempfile::tempdir().unwrap();
    git_init_commit(&dir);
    git(&dir, &["tag", "v0.1.0"]);
    pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "version", "--check"])
        .assert()
        .success();
    git(&dir, &["tag", "v0.2.0"]);
    let a = pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "version", "--check"])
        .assert()
        .code(1);
    path_filters(&[(&dir, "[root]")])
        .bind(|| insta::assert_snapshot!("check_disagreeing_files", stderr_text(&a)));
}

#[test]
fn broken_cargo_toml_is_reported_by_file_and_line() {
    let (_t, dir) = copy_fixture("hello");
    let cache = tempfile::tempdir().unwrap();
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    let broken = text.replace("[package]\nname", "[package\nname");
    fs_err::write(&manifest, &broken).unwrap();
    let a = pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "version", "1.0.0", "--stamp"])
        .assert()
        .code(1);
    path_filters(&[(&dir, "[root]")])
        .bind(|| insta::assert_snapshot!("broken_cargo_toml", stderr_text(&a)));
    assert_eq!(fs_err::read_to_string(&manifest).unwrap(), broken);
}

#[test]
fn package_selection_with_p() {
    let (_t, dir) = copy_fixture("maturin");
    let cache = tempfile::tempdir().unwrap();
    // A virtual workspace with one member: found without -p.
    pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "version"])
        .assert()
        .success()
        .stdout("v0.2.0\n");
    pyship(cache.path())
        .args(["pyship", "-p", "fastcore", "version", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .assert()
        .success()
        .stdout("v0.2.0\n");
    let a = pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "-p", "nope", "version"])
        .assert()
        .code(1);
    path_filters(&[(&dir, "[root]")])
        .bind(|| insta::assert_snapshot!("no_such_package", stderr_text(&a)));
}

/// A Cargo package (version `cargo_version`) next to a pyproject with
/// `dynamic = ["version"]` and `tool` (the backend's settings), plus `files`.
fn dynamic_project(
    cargo_version: &str,
    tool: &str,
    files: &[(&str, &str)],
) -> (tempfile::TempDir, std::path::PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("app");
    let mut all = vec![
        (
            "Cargo.toml".to_owned(),
            format!(
                "[package]\nname = \"app\"\nversion = \"{cargo_version}\"\nedition = \"2021\"\n"
            ),
        ),
        ("src/main.rs".to_owned(), "fn main() {}\n".to_owned()),
        (
            "pyproject.toml".to_owned(),
            format!("[project]\nname = \"datasette\"\ndynamic = [\"version\"]\n\n{tool}"),
        ),
    ];
    all.extend(files.iter().map(|(p, t)| (p.to_string(), t.to_string())));
    for (rel, text) in all {
        let p = dir.join(rel);
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(&p, text).unwrap();
    }
    (t, dir)
}

fn version_json(dir: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let cache = tempfile::tempdir().unwrap();
    let out = pyship(cache.path())
        .current_dir(dir)
        .args(["pyship", "version", "--format", "json"])
        .args(args)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn dynamic_versions_are_read_checked_and_stamped_where_the_backend_keeps_them() {
    // (backend settings, files, the file holding the version, its text after `--stamp 1.0b2`, source)
    let version_py = "\"\"\"Version.\"\"\"\n__version__ = \"1.0a41\"  # bumped by release\n__version_info__ = tuple(__version__.split(\".\"))\n";
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, &'a str, &'a str);
    let cases: &[Case] = &[
        (
            "[tool.setuptools.dynamic]\nversion = {attr = \"datasette.__version__\"}\n",
            &[
                ("datasette/__init__.py", "from datasette.version import __version_info__, __version__  # noqa\n"),
                ("datasette/version.py", version_py),
            ],
            "datasette/version.py",
            "\"\"\"Version.\"\"\"\n__version__ = \"1.0b2\"  # bumped by release\n__version_info__ = tuple(__version__.split(\".\"))\n",
            "`__version__` in [root]/datasette/version.py ([tool.setuptools.dynamic] version attr = \"datasette.__version__\", imported from datasette.version)",
        ),
        (
            "[tool.setuptools.dynamic]\nversion = {file = \"VERSION\"}\n",
            &[("VERSION", "1.0a41\n"), ("datasette/__init__.py", "")],
            "VERSION",
            "1.0b2\n",
            "[root]/VERSION ([tool.setuptools.dynamic] version file = \"VERSION\")",
        ),
        (
            "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\n[tool.hatch.version]\npath = \"src/datasette/__about__.py\"\n",
            &[("src/datasette/__about__.py", "# SPDX\n__version__ = 'v1.0a41'\n")],
            "src/datasette/__about__.py",
            "# SPDX\n__version__ = 'v1.0b2'\n",
            "`__version__` in [root]/src/datasette/__about__.py ([tool.hatch.version] path = \"src/datasette/__about__.py\")",
        ),
        (
            "[build-system]\nrequires = [\"flit_core\"]\nbuild-backend = \"flit_core.buildapi\"\n",
            &[("datasette/__init__.py", "\"\"\"An app.\"\"\"\n\n__version__ = \"1.0a41\"\n")],
            "datasette/__init__.py",
            "\"\"\"An app.\"\"\"\n\n__version__ = \"1.0b2\"\n",
            "`__version__` in [root]/datasette/__init__.py (`__version__` of the package datasette)",
        ),
    ];
    for (tool, files, holder, stamped, source) in cases {
        let (_t, dir) = dynamic_project("1.0.0-alpha.41", tool, files);
        let v = version_json(&dir, &[]);
        assert_eq!(v["pep440"], "1.0a41", "{tool}: {v}");
        assert_eq!(v["source_detail"]["kind"], "version-file", "{tool}: {v}");
        assert_eq!(
            v["source"]
                .as_str()
                .unwrap()
                .replace(&dir.display().to_string(), "[root]"),
            *source
        );
        // --check reads it: it agrees with Cargo's 1.0.0-alpha.41.
        let v = version_json(&dir, &["--check"]);
        assert_eq!(v["pep440"], "1.0a41");

        // --stamp writes that file (only the version) and Cargo's version
        // (with Cargo.lock), the places --check compares; nothing else.
        let cargo = fs_err::read_to_string(dir.join("Cargo.toml")).unwrap();
        let py = fs_err::read_to_string(dir.join("pyproject.toml")).unwrap();
        let v = version_json(&dir, &["--stamp", "1.0b2"]);
        assert_eq!(
            v["stamped"][0]["path"],
            dir.join(holder).display().to_string(),
            "{tool}"
        );
        assert_eq!(
            v["stamped"][1]["path"],
            dir.join("Cargo.toml").display().to_string(),
            "{tool}"
        );
        assert_eq!(
            fs_err::read_to_string(dir.join(holder)).unwrap(),
            *stamped,
            "{tool}"
        );
        assert_eq!(
            fs_err::read_to_string(dir.join("Cargo.toml")).unwrap(),
            cargo.replace("\"1.0.0-alpha.41\"", "\"1.0.0-beta.2\""),
            "{tool}"
        );
        assert_eq!(
            fs_err::read_to_string(dir.join("pyproject.toml")).unwrap(),
            py
        );
        assert_eq!(version_json(&dir, &[])["pep440"], "1.0b2", "{tool}");
        let v = version_json(&dir, &["--check"]);
        assert_eq!(v["pep440"], "1.0b2", "{tool}");

        // Cargo.toml changed by hand: --check names the file that holds the
        // Python version and Cargo.toml.
        fs_err::write(dir.join("Cargo.toml"), &cargo).unwrap();
        let cache = tempfile::tempdir().unwrap();
        pyship(cache.path())
            .current_dir(&dir)
            .args(["pyship", "version", "--check"])
            .assert()
            .code(1)
            .stderr(predicate::str::contains("versions disagree"))
            .stderr(predicate::str::contains(
                dir.join(holder).display().to_string(),
            ));
    }
}

#[test]
fn dynamic_version_pointing_nowhere_is_an_error_and_a_computed_one_says_cargo() {
    // The attr names a module that does not exist: no silent fall back.
    let (_t, dir) = dynamic_project(
        "0.2.0",
        "[tool.setuptools.dynamic]\nversion = {attr = \"datasette.version.__version__\"}\n",
        &[("datasette/__init__.py", "")],
    );
    let cache = tempfile::tempdir().unwrap();
    for args in [
        &["version"][..],
        &["version", "--check"],
        &["version", "--stamp", "1.0"],
    ] {
        pyship(cache.path())
            .current_dir(&dir)
            .arg("pyship")
            .args(args)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(
                "declares a dynamic version that cannot be read",
            ))
            .stderr(predicate::str::contains("no module `datasette.version`"))
            .stderr(predicate::str::contains("hint:"));
    }
    // hatch-vcs computes it: Cargo's version, and the output says why.
    let (_t, dir) = dynamic_project("0.2.0", "[tool.hatch.version]\nsource = \"vcs\"\n", &[]);
    pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "version"])
        .assert()
        .success()
        .stdout("v0.2.0\n")
        .stderr(predicate::str::contains(
            "declares a dynamic version that its build backend computes",
        ))
        .stderr(predicate::str::contains("source: package version in"));
    // No pyproject at all: said, not silent.
    fs_err::remove_file(dir.join("pyproject.toml")).unwrap();
    pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "version"])
        .assert()
        .success()
        .stdout("v0.2.0\n")
        .stderr(predicate::str::contains("no pyproject.toml at"))
        .stderr(predicate::str::contains("the version is Cargo's"));
}
