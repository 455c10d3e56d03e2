//! Other lock shapes: a uv workspace lock with extras, groups, markers and
//! forks ships the app's locked set, and a `pylock.toml` is read like
//! `uv.lock` (a wrong hash installs nothing).

use super::*;

/// Every `*.dist-info` folder under `dir`, by its folder name.
fn dist_infos_under(dir: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs_err::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(stem) = name.strip_suffix(".dist-info") {
                    found.insert(stem.to_owned());
                } else {
                    stack.push(e.path());
                }
            }
        }
    }
    found
}

/// `uv` in `dir`, which must succeed.
fn uv_in(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("uv")
        .args(args)
        .current_dir(dir)
        .env_remove("UV_CACHE_DIR")
        .output()
        .unwrap();
    assert!(out.status.success(), "uv {args:?}: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A uv workspace as real repositories have them, locked by `uv lock`
/// against PyPI: a virtual root with a `dev` group (pytest), the app as a
/// member (its Cargo.toml beside its pyproject) and a second member the app
/// does not depend on (its `six` must not ship). The app declares extras
/// (`net`, configured; `unused`, not), a `dev` group (never shipped), a
/// Windows-only marker, a marker false for the target's Python, and a lock
/// forked by Python version (two `packaging` pins), and a marker on the
/// patch version (true for the bundles' 3.11.9, false for 3.11.0). Versions
/// pinned older than PyPI's newest (`uv lock -P`): idna 3.6, certifi 2024.2.2.
fn uv_workspace(m: &Mirrors) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::Builder::new()
        .prefix("pyship-e2e-ws-")
        .tempdir()
        .unwrap();
    let root = tmp.path().join("repo");
    let app = root.join("apps/wsapp");
    let other = root.join("libs/other");
    fs_err::create_dir_all(app.join("src/wsapp")).unwrap();
    fs_err::create_dir_all(&other).unwrap();
    fs_err::write(
        root.join("pyproject.toml"),
        "[tool.uv.workspace]\nmembers = [\"apps/*\", \"libs/*\"]\n\n[dependency-groups]\ndev = [\"pytest\"]\n",
    )
    .unwrap();
    fs_err::write(
        app.join("pyproject.toml"),
        r#"[project]
name = "wsapp"
version = "0.1.0"
requires-python = ">=3.8"
dependencies = [
    "idna>=3.5",
    "colorama>=0.4; sys_platform == 'win32'",
    "tomli>=2; python_version < '3.11'",
    "packaging==24.0; python_version < '3.10'",
    "packaging==24.2; python_version >= '3.10'",
    "sniffio==1.3.0; python_full_version >= '3.11.5'",
]

[project.optional-dependencies]
net = ["certifi"]
unused = ["attrs"]

[dependency-groups]
dev = ["iniconfig"]
"#,
    )
    .unwrap();
    fs_err::write(
        other.join("pyproject.toml"),
        "[project]\nname = \"other\"\nversion = \"0.1.0\"\nrequires-python = \">=3.8\"\ndependencies = [\"six\"]\n",
    )
    .unwrap();
    fs_err::write(
        app.join("Cargo.toml"),
        format!(
            r#"[package]
name = "wsapp"
version = "0.1.0"
edition = "2021"
publish = false

[package.metadata.pyship]
name = "WS App"
module = "wsapp"
extras = ["net"]

[package.metadata.pyship.linux]
runtime-url = "{}"
"#,
            m.runtime_url()
        ),
    )
    .unwrap();
    fs_err::create_dir_all(app.join("src")).unwrap();
    fs_err::write(app.join("src/main.rs"), "fn main() {}\n").unwrap();
    fs_err::write(app.join("src/wsapp/__init__.py"), "").unwrap();
    fs_err::write(
        app.join("src/wsapp/__main__.py"),
        "import importlib.metadata as m\nfor n in ('idna', 'certifi', 'packaging', 'colorama', 'six'):\n    try:\n        print(n, m.version(n))\n    except m.PackageNotFoundError:\n        print(n, '-')\n",
    )
    .unwrap();
    uv_in(&root, &["lock", "-q"]);
    uv_in(
        &root,
        &["lock", "-q", "-P", "idna==3.6", "-P", "certifi==2024.2.2"],
    );
    (tmp, root, app)
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: bundles both targets"
)]
fn a_workspace_uv_lock_with_extras_groups_markers_and_forks_ships_the_apps_locked_set() {
    require_uv();
    let m = mirrors();
    let (_t, root, app) = uv_workspace(&m);
    let lock = fs_err::read_to_string(root.join("uv.lock")).unwrap();
    for entry in [
        "name = \"idna\"\nversion = \"3.6\"",
        "name = \"certifi\"\nversion = \"2024.2.2\"",
        "name = \"packaging\"\nversion = \"24.0\"",
        "name = \"packaging\"\nversion = \"24.2\"",
        "name = \"pytest\"",
        "name = \"attrs\"",
        "name = \"six\"",
    ] {
        assert!(lock.contains(entry), "the workspace lock has {entry}");
    }
    let cache = tempfile::tempdir().unwrap();
    let out = cmd(&m, &app, cache.path()).arg("bundle").output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&root.join("uv.lock").display().to_string()),
        "the workspace's lock is the one in use:\n{err}"
    );
    let dist = app.join("dist");
    // Not shipped: the root's and the app's dev groups (pytest, iniconfig),
    // the unconfigured extra (attrs), the other member's six, tomli (for
    // Python < 3.11), packaging 24.0 (the lock's fork for Python < 3.10).
    assert_eq!(
        shipped(&dist.join("WS-App-v0.1.0-win-x64.zip")),
        set(&[
            "certifi-2024.2.2",
            "colorama-0.4.6",
            "idna-3.6",
            "packaging-24.2",
            "sniffio-1.3.0",
            "wsapp-0.1.0"
        ])
    );
    let tarball = dist.join("WS-App-v0.1.0-linux-x64.tar.gz");
    assert_eq!(
        shipped(&tarball),
        set(&[
            "certifi-2024.2.2",
            "idna-3.6",
            "packaging-24.2",
            "sniffio-1.3.0",
            "wsapp-0.1.0"
        ])
    );
    assert_eq!(
        run_linux(&tarball, "WS-App"),
        "idna 3.6\ncertifi 2024.2.2\npackaging 24.2\ncolorama -\nsix -\n"
    );
    // The lock was only read.
    assert_eq!(fs_err::read_to_string(root.join("uv.lock")).unwrap(), lock);

    // An extra the app does not declare is named before uv runs.
    let manifest = app.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    fs_err::write(
        &manifest,
        text.replace("extras = [\"net\"]", "extras = [\"nett\"]"),
    )
    .unwrap();
    let out = cmd(&m, &app, cache.path())
        .args(["bundle", "--target", "linux"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("extra `nett` is not in [project.optional-dependencies]"),
        "{err}"
    );
    fs_err::write(&manifest, text).unwrap();

    // Another member's edit leaves the app's lock entries as they were,
    // but the lock is stale for the workspace as a whole: refused, with
    // the hint, the last good tarball untouched.
    let before = sha256_file(&tarball);
    let other = root.join("libs/other/pyproject.toml");
    let t = fs_err::read_to_string(&other).unwrap();
    fs_err::write(&other, t.replace("[\"six\"]", "[\"six\", \"attrs\"]")).unwrap();
    let out = cmd(&m, &app, cache.path())
        .args(["bundle", "--target", "linux"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("hint: run `uv lock`"), "{err}");
    assert_eq!(sha256_file(&tarball), before);
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: bundles both targets"
)]
fn a_pylock_toml_is_read_like_uv_lock_and_a_wrong_hash_installs_nothing() {
    require_uv();
    let m = mirrors();
    // The fixture's uv.lock exported as PEP 751 (what the bundle ships:
    // the `tools` group, no dev), then uv.lock removed.
    let make = || {
        let (t, dir) = locked_project(&m);
        let text = uv_in(
            &dir,
            &[
                "export",
                "--format",
                "pylock.toml",
                "--frozen",
                "--no-emit-project",
                "--no-default-groups",
                "--group",
                "tools",
                "--quiet",
            ],
        );
        fs_err::write(dir.join("pylock.toml"), text).unwrap();
        fs_err::remove_file(dir.join("uv.lock")).unwrap();
        (t, dir)
    };
    let (_t, dir) = make();
    let cache = tempfile::tempdir().unwrap();
    let out = cmd(&m, &dir, cache.path()).arg("bundle").output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("pylock.toml"), "{err}");
    let dist = dir.join("dist");
    assert_eq!(
        shipped(&dist.join(ZIP)),
        set(&[
            "colorama-0.4.5",
            "idna-3.6",
            "locked_app-0.1.0",
            "six-1.16.0"
        ])
    );
    assert_eq!(
        shipped(&dist.join(TARBALL)),
        set(&["idna-3.6", "locked_app-0.1.0", "six-1.16.0"])
    );
    let lock = fs_err::read_to_string(dir.join("pyship.lock")).unwrap();
    assert!(!lock.contains("[deps"), "{lock}");

    // six's hash changed in the lock (idna's stays good): refused, and not
    // even idna or the app reach the bundle tree.
    let (_t2, dir) = make();
    let pylock = dir.join("pylock.toml");
    let text = fs_err::read_to_string(&pylock).unwrap();
    let six = "8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254";
    assert!(text.contains(six), "the export has six 1.16.0's wheel hash");
    fs_err::write(&pylock, text.replace(six, &"0".repeat(64))).unwrap();
    let out = cmd(&m, &dir, cache.path())
        .args(["bundle", "--target", "linux"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Hash mismatch for `six==1.16.0`"), "{err}");
    let dists = dist_infos_under(&dir.join("dist"));
    assert!(
        !dists.iter().any(|d| d.starts_with("six-")
            || d.starts_with("idna-")
            || d.starts_with("locked_app-")),
        "{dists:?}"
    );
    assert!(!dir.join("dist").join(TARBALL).exists());

    // A pylock.toml whose package comes from a VCS checkout is refused
    // before uv runs, naming the package.
    let (_t3, dir) = make();
    let pylock = dir.join("pylock.toml");
    let mut text = fs_err::read_to_string(&pylock).unwrap();
    text.push_str("\n[[packages]]\nname = \"evil\"\nversion = \"1.0\"\nvcs = { type = \"git\", url = \"https://example.invalid/evil.git\", commit-id = \"0000000000000000000000000000000000000000\" }\n");
    fs_err::write(&pylock, text).unwrap();
    let out = cmd(&m, &dir, cache.path())
        .args(["bundle", "--target", "linux"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("`evil` comes from a VCS checkout") && !err.contains("Installing"),
        "{err}"
    );
}
