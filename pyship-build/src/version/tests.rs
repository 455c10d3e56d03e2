//! Unit tests: every accepted form, every rejected one, every source in the chain.

use super::*;
use std::process::Command;

fn sp(s: &str) -> Spellings {
    Version::from_str(s).unwrap().spellings()
}

#[test]
fn stable_forms() {
    for input in ["1.2.3", "v1.2.3"] {
        let s = sp(input);
        assert_eq!(s.tag, "v1.2.3");
        assert_eq!(s.semver, "1.2.3");
        assert_eq!(s.pep440, "1.2.3");
        assert_eq!(s.windows, "1.2.3.0");
        assert_eq!(s.docker, "1.2.3");
        assert!(!s.prerelease);
    }
}

#[test]
fn prerelease_forms_map_to_pep440() {
    let cases = [
        ("v0.3.0-alpha.1", "0.3.0a1", "v0.3.0-alpha.1"),
        ("0.3.0-beta.2", "0.3.0b2", "v0.3.0-beta.2"),
        ("v0.3.0-rc.1", "0.3.0rc1", "v0.3.0-rc.1"),
        ("0.3.0-dev.3", "0.3.0.dev3", "v0.3.0-dev.3"),
        ("0.3.0a1", "0.3.0a1", "v0.3.0-alpha.1"),
        ("0.3.0b2", "0.3.0b2", "v0.3.0-beta.2"),
        ("0.3.0rc1", "0.3.0rc1", "v0.3.0-rc.1"),
        ("0.3.0.dev4", "0.3.0.dev4", "v0.3.0-dev.4"),
        ("v0.3.0rc1", "0.3.0rc1", "v0.3.0-rc.1"),
    ];
    for (input, pep, tag) in cases {
        let s = sp(input);
        assert_eq!(s.pep440, pep, "{input}");
        assert_eq!(s.tag, tag, "{input}");
        assert_eq!(s.windows, "0.3.0.0", "{input}");
        assert!(s.prerelease, "{input}");
    }
}

#[test]
fn post_release_is_not_a_prerelease() {
    let s = sp("1.2.3.post1");
    assert_eq!(s.pep440, "1.2.3.post1");
    assert_eq!(s.semver, "1.2.3+post.1");
    assert_eq!(s.windows, "1.2.3.1");
    assert_eq!(s.docker, "1.2.3-post.1");
    assert!(!s.prerelease);
    // And back from the semver spelling.
    assert_eq!(
        Version::from_str("1.2.3+post.1").unwrap().pep440(),
        "1.2.3.post1"
    );
}

#[test]
fn rejected_forms_name_input_and_accepted_forms() {
    for bad in [
        "vfoo",
        "1",
        "1.2.3.4.5",
        "1.2.3-nightly",
        "",
        "v",
        "v01.2.3",
        "01.2",
        "1.02.3a1",
        " 1.2.3",
        "1.2.3 ",
        "v1.2 .3",
        "1.2.3.4.post1",
        "1.0A41",
        "1.0-alpha41",
        "1.2.3c1",
        "1.2.3-alpha",
        "1!1.2.3",
        "1.2.3+local",
        "1.2.3-rc.01",
        "1.2.3a1.dev1",
        "x1.2.3",
    ] {
        let err = Version::from_str(bad).unwrap_err();
        assert!(
            err.to_string().contains(&format!("`{bad}`")),
            "{bad}: {err}"
        );
        assert!(err.hint().unwrap().contains("-alpha.N"), "{bad}");
    }
}

#[test]
fn prerelease_is_parsed_not_searched() {
    // A stable version whose text happens to contain "rc" elsewhere must stay stable;
    // parse ensures the flag comes from the pre-release part.
    assert!(!Version::from_str("10.0.0").unwrap().is_prerelease());
    assert!(Version::from_str("1.0.0-rc.1").unwrap().is_prerelease());
}

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@t")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@t")
        .output()
        .expect("git runs");
    assert!(
        ok.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

fn repo() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    git(d.path(), &["init", "-q"]);
    git(d.path(), &["commit", "-q", "--allow-empty", "-m", "x"]);
    d
}

fn inputs<'a>(dir: &'a Path, env: &'a Env) -> Inputs<'a> {
    Inputs {
        argument: None,
        repo_dir: dir,
        env,
        pyproject: Some((Path::new("pyproject.toml"), Some("0.4.0"))),
        dynamic: None,
        cargo: Some((Path::new("Cargo.toml"), "0.5.0")),
    }
}

#[test]
fn argument_wins() {
    let d = repo();
    git(d.path(), &["tag", "v9.9.9"]);
    let env = Env::default();
    let mut i = inputs(d.path(), &env);
    i.argument = Some("v1.0.0-rc.2");
    let r = resolve(&i).unwrap();
    assert_eq!(r.source, Source::Argument);
    assert_eq!(r.version.tag(), "v1.0.0-rc.2");
}

#[test]
fn git_tag_at_head_is_next() {
    let d = repo();
    git(d.path(), &["tag", "v2.0.0"]);
    git(d.path(), &["tag", "deploy"]); // not a version tag: skipped
    let env = Env::from_pairs([("GITHUB_REF_NAME", "v3.0.0"), ("GITHUB_REF_TYPE", "tag")]);
    let r = resolve(&inputs(d.path(), &env)).unwrap();
    assert_eq!(
        r.source,
        Source::GitTag {
            tag: "v2.0.0".into()
        }
    );
    assert_eq!(r.version.semver(), "2.0.0");
}

#[test]
fn highest_of_several_tags_wins() {
    let d = repo();
    git(d.path(), &["tag", "v2.0.0-rc.1"]);
    git(d.path(), &["tag", "v2.0.0"]);
    let env = Env::default();
    assert_eq!(
        resolve(&inputs(d.path(), &env)).unwrap().version.semver(),
        "2.0.0"
    );
}

#[test]
fn tag_not_at_head_is_ignored() {
    let d = repo();
    git(d.path(), &["tag", "v2.0.0"]);
    git(d.path(), &["commit", "-q", "--allow-empty", "-m", "y"]);
    let env = Env::default();
    let r = resolve(&inputs(d.path(), &env)).unwrap();
    assert!(
        matches!(r.source, Source::Pyproject { .. }),
        "{:?}",
        r.source
    );
}

#[test]
fn bad_version_tag_is_an_error() {
    let d = repo();
    git(d.path(), &["tag", "v01.2"]);
    let env = Env::default();
    let err = resolve(&inputs(d.path(), &env)).unwrap_err();
    assert!(err.to_string().contains("`v01.2`"), "{err}");
}

#[test]
fn pep440_releases_of_two_to_four_numbers_map_to_every_spelling() {
    // (input, semver, pep440, windows, prerelease)
    for (input, semver, pep440, windows, pre) in [
        ("1.0a41", "1.0.0-alpha.41", "1.0a41", "1.0.0.0", true),
        ("v2.1", "2.1.0", "2.1", "2.1.0.0", false),
        ("1.2.3.4", "1.2.3+4", "1.2.3.4", "1.2.3.4", false),
        ("1.2.3.4rc1", "1.2.3-rc.1+4", "1.2.3.4rc1", "1.2.3.4", true),
        ("2.1.post3", "2.1.0+post.3", "2.1.post3", "2.1.0.3", false),
        ("65535.0.0", "65535.0.0", "65535.0.0", "65535.0.0.0", false),
    ] {
        let v = Version::from_str(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(v.semver(), semver, "{input}");
        assert_eq!(v.pep440(), pep440, "{input}");
        assert_eq!(v.windows(), windows, "{input}");
        assert_eq!(v.is_prerelease(), pre, "{input}");
        // Cargo's spelling reads back as the same version.
        assert_eq!(Version::from_str(&v.semver()).unwrap(), v, "{input}");
        assert_eq!(Version::from_str(&v.pep440()).unwrap(), v, "{input}");
    }
}

#[test]
fn numbers_above_65535_are_rejected_for_windows() {
    for big in [
        "65536.0.0",
        "1.70000",
        "1.2.3.65536",
        "1.2.3.post65536",
        "v1.2.99999-rc.1",
    ] {
        let err = Version::from_str(big).unwrap_err();
        assert!(err.to_string().contains("16-bit"), "{big}: {err}");
        assert!(
            err.to_string().contains(&format!("`{big}`")),
            "{big}: {err}"
        );
        assert!(err.hint().unwrap().contains("65535"), "{big}");
    }
}

#[test]
fn a_pushed_tag_is_kept_exactly_as_written() {
    for tag in ["1.0a41", "v2.1", "1.2.3", "v1.2.3-rc.1", "v1.2.3.4"] {
        let d = repo();
        git(d.path(), &["tag", tag]);
        let env = Env::default();
        let r = resolve(&inputs(d.path(), &env)).unwrap();
        assert_eq!(r.version.tag(), tag);
        let env = Env::from_pairs([("GITHUB_REF_NAME", tag), ("GITHUB_REF_TYPE", "tag")]);
        assert_eq!(ci_tag(&env).unwrap().unwrap().version.tag(), tag);
    }
    // Not from a tag: the canonical `v` + semver.
    assert_eq!(
        Version::from_str("1.0a41").unwrap().tag(),
        "v1.0.0-alpha.41"
    );
}

#[test]
fn not_a_repo_falls_through_to_ci() {
    let d = tempfile::tempdir().unwrap();
    let env = Env::from_pairs([("GITHUB_REF_NAME", "v3.0.0"), ("GITHUB_REF_TYPE", "tag")]);
    let r = resolve(&inputs(d.path(), &env)).unwrap();
    assert_eq!(
        r.source,
        Source::CiRef {
            var: "GITHUB_REF_NAME".into()
        }
    );
    assert_eq!(r.version.semver(), "3.0.0");
}

#[test]
fn ci_branch_ref_is_ignored() {
    let d = tempfile::tempdir().unwrap();
    let env = Env::from_pairs([("GITHUB_REF_NAME", "main"), ("GITHUB_REF_TYPE", "branch")]);
    let r = resolve(&inputs(d.path(), &env)).unwrap();
    assert!(matches!(r.source, Source::Pyproject { .. }));
}

#[test]
fn forgejo_and_gitea_names() {
    let d = tempfile::tempdir().unwrap();
    let env = Env::from_pairs([("FORGEJO_REF_NAME", "v4.0.0"), ("FORGEJO_REF_TYPE", "tag")]);
    let r = resolve(&inputs(d.path(), &env)).unwrap();
    assert_eq!(
        r.source,
        Source::CiRef {
            var: "FORGEJO_REF_NAME".into()
        }
    );
    let env = Env::from_pairs([("GITEA_REF_NAME", "v5.0.0-beta.1")]);
    let r = resolve(&inputs(d.path(), &env)).unwrap();
    assert_eq!(
        r.source,
        Source::CiRef {
            var: "GITEA_REF_NAME".into()
        }
    );
    assert!(r.version.is_prerelease());
    let env = Env::from_pairs([("GITEA_REF_NAME", "main"), ("GITEA_REF", "refs/heads/main")]);
    let r = resolve(&inputs(d.path(), &env)).unwrap();
    assert!(matches!(r.source, Source::Pyproject { .. }));
}

#[test]
fn pyproject_then_cargo() {
    let d = tempfile::tempdir().unwrap();
    let env = Env::default();
    let mut i = inputs(d.path(), &env);
    assert!(matches!(
        resolve(&i).unwrap().source,
        Source::Pyproject { .. }
    ));
    i.pyproject = Some((Path::new("pyproject.toml"), None));
    let r = resolve(&i).unwrap();
    assert!(matches!(r.source, Source::Cargo { .. }));
    assert_eq!(r.version.semver(), "0.5.0");
    i.cargo = None;
    assert!(matches!(resolve(&i).unwrap_err(), Error::NotFound { .. }));
}

#[test]
fn json_shape() {
    let r = Resolved {
        version: Version::from_str("v0.3.0-alpha.1").unwrap(),
        source: Source::Argument,
    };
    let v = serde_json::to_value(&r).unwrap();
    for k in [
        "tag",
        "semver",
        "pep440",
        "windows",
        "docker",
        "prerelease",
        "source",
    ] {
        assert!(v.get(k).is_some(), "missing {k}: {v}");
    }
    assert_eq!(v["pep440"], "0.3.0a1");
    assert_eq!(v["prerelease"], true);
}

mod stamping {
    use super::super::stamp::*;
    use super::*;

    const PYPROJECT: &str = r#"# top comment
[project]
name = "hello-app"   # the dist name
version   =   "0.1.0"    # stamped by cargo pyship
dependencies = ["fastapi"]

[tool.x]
version = "keep-me"
"#;

    #[test]
    fn pyproject_only_version_line_changes() {
        let (out, old) = set_pyproject_version(Path::new("p"), PYPROJECT, "0.3.0a1").unwrap();
        assert_eq!(old, "0.1.0");
        let diff: Vec<_> = PYPROJECT
            .lines()
            .zip(out.lines())
            .filter(|(a, b)| a != b)
            .collect();
        assert_eq!(
            diff,
            vec![(
                r#"version   =   "0.1.0"    # stamped by cargo pyship"#,
                r#"version   =   "0.3.0a1"    # stamped by cargo pyship"#
            )]
        );
        assert_eq!(PYPROJECT.lines().count(), out.lines().count());
    }

    #[test]
    fn cargo_workspace_and_lock() {
        let manifest = "[workspace]\nmembers = [\"a\"]\n\n[workspace.package]\nversion = \"0.1.0\" # shared\nedition = \"2021\"\n";
        let (out, old) = set_cargo_version(Path::new("C"), manifest, true, "0.2.0-rc.1").unwrap();
        assert_eq!(old, "0.1.0");
        assert_eq!(out, manifest.replace("\"0.1.0\"", "\"0.2.0-rc.1\""));
        let lock = "version = 4\n\n[[package]]\nname = \"a\"\nversion = \"0.1.0\"\ndependencies = [\n \"b 0.1.0\",\n \"serde\",\n]\n\n[[package]]\nname = \"b\"\nversion = \"0.1.0\"\n\n[[package]]\nname = \"b\"\nversion = \"0.1.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";
        let out = set_lock_versions(
            Path::new("L"),
            lock,
            &[("a".into(), "0.1.0".into()), ("b".into(), "0.1.0".into())],
            "0.2.0-rc.1",
        )
        .unwrap();
        assert!(
            out.contains("name = \"a\"\nversion = \"0.2.0-rc.1\""),
            "{out}"
        );
        assert!(out.contains("\"b 0.2.0-rc.1\""), "{out}");
        // The registry package of the same name is not ours.
        assert!(out.contains("version = \"0.1.0\"\nsource"), "{out}");
    }

    #[test]
    fn broken_toml_is_untouched() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("pyproject.toml");
        let broken = "[project\nversion = \"1.0.0\"\n";
        fs_err::write(&p, broken).unwrap();
        let err = stamp(
            &[Target::Pyproject { path: p.clone() }],
            &Version::from_str("2.0.0").unwrap(),
        )
        .unwrap_err();
        let chain = format!("{err}: {}", std::error::Error::source(&err).unwrap());
        assert!(chain.contains("pyproject.toml"), "{chain}");
        assert!(chain.contains("line 1"), "{chain}");
        assert_eq!(fs_err::read_to_string(&p).unwrap(), broken);
    }

    #[test]
    fn unchanged_file_is_not_rewritten() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("pyproject.toml");
        fs_err::write(&p, PYPROJECT).unwrap();
        let r = stamp(
            &[Target::Pyproject { path: p.clone() }],
            &Version::from_str("0.1.0").unwrap(),
        )
        .unwrap();
        assert!(!r[0].changed);
        assert_eq!(fs_err::read_to_string(&p).unwrap(), PYPROJECT);
    }

    #[test]
    fn an_undone_stamp_puts_back_only_files_nobody_changed_since() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a.toml"), d.path().join("b.toml"));
        let other = PYPROJECT.replace("0.1.0", "0.2.0");
        fs_err::write(&a, PYPROJECT).unwrap();
        fs_err::write(&b, &other).unwrap();
        let targets = [
            Target::Pyproject { path: a.clone() },
            Target::Pyproject { path: b.clone() },
        ];
        let v = Version::from_str("1.0.0").unwrap();
        let (done, undo) = stamp_undoable(&targets, &v, None).unwrap();
        assert!(done.iter().all(|s| s.changed));
        assert!(fs_err::read_to_string(&a).unwrap().contains("\"1.0.0\""));
        let back = undo.restore().unwrap();
        assert_eq!(
            (back.restored, back.left),
            (vec![a.clone(), b.clone()], vec![])
        );
        assert_eq!(fs_err::read_to_string(&a).unwrap(), PYPROJECT);
        assert_eq!(fs_err::read_to_string(&b).unwrap(), other);

        // A file edited after the stamp keeps the edit.
        let (_, undo) = stamp_undoable(&targets, &v, None).unwrap();
        fs_err::write(&b, "edited meanwhile\n").unwrap();
        let back = undo.restore().unwrap();
        assert_eq!(
            (back.restored, back.left),
            (vec![a.clone()], vec![b.clone()])
        );
        assert_eq!(fs_err::read_to_string(&a).unwrap(), PYPROJECT);
        assert_eq!(fs_err::read_to_string(&b).unwrap(), "edited meanwhile\n");

        // An unchanged file is neither rewritten nor put back.
        let (done, undo) =
            stamp_undoable(&targets[..1], &Version::from_str("0.1.0").unwrap(), None).unwrap();
        assert!(!done[0].changed);
        assert_eq!(undo.restore().unwrap(), Restored::default());
    }

    #[test]
    fn a_stamp_whose_run_was_killed_is_undone_from_its_journal() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("pyproject.toml");
        let journal = d.path().join("journal.json");
        fs_err::write(&a, PYPROJECT).unwrap();
        let targets = [Target::Pyproject { path: a.clone() }];
        let v = Version::from_str("1.0.0").unwrap();

        // Killed once stamped: neither restore nor keep ran.
        let (_, undo) = stamp_undoable(&targets, &v, Some(&journal)).unwrap();
        drop(undo);
        assert!(journal.is_file());
        assert!(fs_err::read_to_string(&a).unwrap().contains("\"1.0.0\""));
        let back = recover(&journal, &targets).unwrap().unwrap();
        assert_eq!((back.restored, back.left), (vec![a.clone()], vec![]));
        assert_eq!(fs_err::read_to_string(&a).unwrap(), PYPROJECT);
        assert!(!journal.exists());
        assert_eq!(recover(&journal, &targets).unwrap(), None);

        // Restored or kept, the journal goes.
        let (_, undo) = stamp_undoable(&targets, &v, Some(&journal)).unwrap();
        undo.restore().unwrap();
        assert!(!journal.exists());
        let (_, undo) = stamp_undoable(&targets, &v, Some(&journal)).unwrap();
        undo.keep();
        assert!(!journal.exists());
        assert!(fs_err::read_to_string(&a).unwrap().contains("\"1.0.0\""));
        // Nothing to change: no journal.
        let (_, undo) = stamp_undoable(&targets, &v, Some(&journal)).unwrap();
        assert!(!journal.exists());
        undo.keep();
    }

    #[test]
    fn a_journal_writes_only_the_files_the_project_stamps() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("pyproject.toml");
        let victim = d.path().join("victim.txt");
        let journal = d.path().join("journal.json");
        fs_err::write(&a, PYPROJECT).unwrap();
        fs_err::write(&victim, "mine\n").unwrap();
        let targets = [Target::Pyproject { path: a.clone() }];
        // A journal made to write another file whose content it knows.
        let forged = serde_json::json!([{
            "path": victim,
            "before": b"planted\n".to_vec(),
            "after": b"mine\n".to_vec(),
        }]);
        fs_err::write(&journal, forged.to_string()).unwrap();
        let back = recover(&journal, &targets).unwrap().unwrap();
        assert_eq!((back.restored, back.left), (vec![], vec![victim.clone()]));
        assert_eq!(fs_err::read_to_string(&victim).unwrap(), "mine\n");
        assert_eq!(fs_err::read_to_string(&a).unwrap(), PYPROJECT);
        assert!(!journal.exists());

        // One that cannot be read fails, naming it, and stays.
        fs_err::write(&journal, "not a journal").unwrap();
        let err = recover(&journal, &targets).unwrap_err();
        assert!(matches!(err, Error::Journal { .. }), "{err:?}");
        assert!(err.to_string().contains("journal.json"), "{err}");
        assert!(journal.exists());
    }

    #[test]
    fn check_names_disagreeing_files() {
        let v = |s| Version::from_str(s).unwrap();
        let err = check(&[
            Declared {
                what: "git tag v1.0.0".into(),
                version: v("1.0.0"),
            },
            Declared {
                what: "Cargo.toml".into(),
                version: v("1.0.0"),
            },
            Declared {
                what: "pyproject.toml".into(),
                version: v("0.9.0"),
            },
        ])
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("pyproject.toml says 0.9.0"), "{msg}");
        assert!(!msg.contains("Cargo.toml says"), "{msg}");
        // PEP 440 and semver spellings of one version agree.
        check(&[
            Declared {
                what: "a".into(),
                version: v("1.0.0rc1"),
            },
            Declared {
                what: "b".into(),
                version: v("v1.0.0-rc.1"),
            },
        ])
        .unwrap();
    }
}

/// A stamp keeps the app's own entry of uv.lock in step (the lock of a uv
/// workspace at a parent folder too), and only that entry: a dependency of
/// the same version and a dynamic member keep theirs.
#[test]
fn stamp_keeps_the_apps_uv_lock_entry_in_step() {
    use crate::version::stamp::{stamp, uv_lock_of, Target};
    let d = tempfile::tempdir().unwrap();
    let app = d.path().join("apps/my_app");
    fs_err::create_dir_all(&app).unwrap();
    let lock = d.path().join("uv.lock");
    let text = r#"version = 1
requires-python = ">=3.11"

[[package]]
name = "idna"
version = "1.0.0"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "my-app"
version = "1.0.0" # kept comment
source = { editable = "apps/my_app" }

[[package]]
name = "core"
source = { editable = "core" }
"#;
    fs_err::write(&lock, text).unwrap();
    let (found, source) = uv_lock_of(&app, "my-app")
        .unwrap()
        .expect("the workspace's lock");
    assert_eq!(
        (found.as_path(), source.as_str()),
        (lock.as_path(), "apps/my_app")
    );
    assert!(uv_lock_of(&app, "other").unwrap().is_none());
    #[cfg(unix)]
    {
        // One that is not a regular file is an error naming it.
        fs_err::remove_file(&lock).unwrap();
        crate::fs::test_support::make_fifo(&lock);
        let e = uv_lock_of(&app, "my-app").unwrap_err();
        assert_eq!(e.path, lock);
        assert!(
            matches!(e.source, crate::fs::Error::Special { .. }),
            "{e:?}"
        );
        fs_err::remove_file(&lock).unwrap();
        fs_err::write(&lock, text).unwrap();
    }
    let target = Target::UvLock {
        lock: lock.clone(),
        name: "my-app".into(),
        source,
    };
    let done = stamp(&[target], &Version::from_str("v2.0.0-rc.1").unwrap()).unwrap();
    assert!(done[0].changed);
    let after = fs_err::read_to_string(&lock).unwrap();
    assert_eq!(
        after,
        text.replace(
            "version = \"1.0.0\" # kept comment",
            "version = \"2.0.0rc1\" # kept comment"
        )
    );
}

#[test]
fn debian_versions_spell_pep440_for_dpkg() {
    for (input, deb) in [
        ("1.0.0", "1.0.0"),
        ("v1.0.0-rc.1", "1.0.0~rc1"),
        ("1.0.0rc1", "1.0.0~rc1"),
        ("1.0.0a2", "1.0.0~a2"),
        ("1.0.0b3", "1.0.0~b3"),
        ("1.0.0.dev4", "1.0.0~~dev4"),
        ("1.0.0.post1", "1.0.0+post1"),
        ("1.2.3.4", "1.2.3.4"),
        ("2.1", "2.1.0"),
    ] {
        assert_eq!(Version::from_str(input).unwrap().debian(), deb, "{input}");
    }
}

/// dpkg orders the Debian spellings as PEP 440 orders the versions.
#[cfg(unix)]
#[test]
fn debian_versions_order_as_pep440_under_dpkg() {
    let dpkg = which::which("dpkg").expect("dpkg (Debian package `dpkg`) is needed for this test");
    let ordered = [
        "0.9.9.post2",
        "1.0.0.dev1",
        "1.0.0.dev2",
        "1.0.0a1",
        "1.0.0a2",
        "1.0.0b1",
        "1.0.0rc1",
        "1.0.0rc2",
        "1.0.0",
        "1.0.0.post1",
        "1.0.0.post2",
        "1.0.1.dev1",
        "1.0.1",
        "1.0.1.1",
        "1.1.0",
    ];
    for pair in ordered.windows(2) {
        let (a, b) = (
            Version::from_str(pair[0]).unwrap(),
            Version::from_str(pair[1]).unwrap(),
        );
        let st = Command::new(&dpkg)
            .args(["--compare-versions", &a.debian(), "lt", &b.debian()])
            .status()
            .unwrap();
        assert!(st.success(), "dpkg: {} !< {}", a.debian(), b.debian());
    }
}

#[test]
fn msi_versions_are_three_numbers_and_the_next_one_up() {
    let v = |s: &str| Version::from_str(s).unwrap();
    assert_eq!(v("1.2.3").msi().as_deref(), Some("1.2.3"));
    assert_eq!(v("1.2.3rc1").msi().as_deref(), Some("1.2.3"));
    assert_eq!(v("1.2.3").msi_next().as_deref(), Some("1.2.4"));
    assert_eq!(v("1.2.65535").msi_next().as_deref(), Some("1.3.0"));
    assert_eq!(v("1.255.65535").msi_next().as_deref(), Some("2.0.0"));
    assert_eq!(v("255.255.65535").msi_next(), None);
    assert_eq!(v("256.0.0").msi(), None);
    assert_eq!(v("1.256.0").msi(), None);
}
