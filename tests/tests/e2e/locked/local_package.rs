//! The app's local PyO3 package (issue 27, item 3): built from its sources
//! for both targets, never fetched, its version untouched by
//! `version --stamp`, also when a `uv.lock` names it as a path source.

use super::*;

/// One Cargo target dir for the PyO3 builds of every test (pyo3 compiles
/// once per test run); the hybrid tests share it.
fn shared_cargo_target() -> PathBuf {
    workspace_root().join("target/pyship-e2e/pyhash-target")
}

/// The `localpkg` fixture: no package index at all, so nothing can come
/// from one; the local Linux runtime.
fn localpkg_project(m: &Mirrors) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = copy_fixture("localpkg");
    let empty = dir.join("no-wheels");
    fs_err::create_dir_all(&empty).unwrap();
    append_manifest(
        &dir,
        &format!(
            "no-index = true\nfind-links = [\"no-wheels\"]\n\n[workspace.metadata.pyship.linux]\nruntime-url = \"{}\"\n",
            m.runtime_url()
        ),
    );
    (tmp, dir)
}

/// `uv lock` of the localpkg app: the local package as a directory source.
const LOCALPKG_UV_LOCK: &str = r#"version = 1
revision = 5
requires-python = ">=3.11"

[[package]]
name = "corelib"
source = { directory = "../core" }

[[package]]
name = "svc"
version = "1.0.0"
source = { virtual = "." }
dependencies = [
    { name = "corelib" },
]

[package.metadata]
requires-dist = [{ name = "corelib", directory = "../core" }]
"#;

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: maturin builds for both targets, runs them under wine"
)]
fn a_local_pyo3_package_is_built_from_source_for_both_targets() {
    require_build_tools();
    let m = mirrors();
    let (_t, dir) = localpkg_project(&m);
    let cache = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        cmd(&m, &dir, cache.path())
            .env("CARGO_TARGET_DIR", shared_cargo_target())
            .args(args)
            .output()
            .unwrap()
    };
    let plan = run(&["plan"]);
    let text = String::from_utf8_lossy(&plan.stdout).into_owned();
    assert!(
        text.contains("built from source: corelib"),
        "{text}{}",
        stderr(&plan)
    );
    let out = run(&["bundle", "--version", "v1.0.0"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    for triple in ["x86_64-pc-windows-gnu", "x86_64-unknown-linux-gnu"] {
        assert!(
            err.contains(&format!("corelib wheel for {triple}")),
            "built for {triple}:\n{err}"
        );
    }
    let dist = dir.join("dist");
    let zip = dist.join("Local-Core-v1.0.0-win-x64.zip");
    let tarball = dist.join("Local-Core-v1.0.0-linux-x64.tar.gz");
    assert_eq!(shipped(&zip), set(&["corelib-0.7.0", "svc-1.0.0"]));
    assert_eq!(shipped(&tarball), set(&["corelib-0.7.0", "svc-1.0.0"]));
    let files = pyship_e2e::testdata::zip_files(&zip);
    assert!(
        files
            .keys()
            .any(|f| f.ends_with("site-packages/corelib/_corelib.pyd")),
        "{:?}",
        files
            .keys()
            .filter(|f| f.contains("corelib"))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        run_linux(&tarball, "Local-Core"),
        "svc 1.0.0\ncorelib 0.7.0\nbyte_sum 669 linux\n"
    );
    // The Windows bundle runs its Rust core under wine.
    let unpacked = tempfile::tempdir().unwrap();
    let mut z = zip::ZipArchive::new(fs_err::File::open(&zip).unwrap()).unwrap();
    z.extract(unpacked.path()).unwrap();
    let prefix = pyship_e2e::wine::WinePrefix::new();
    let root = unpacked.path().join("Local-Core");
    let out = prefix
        .command(root.join("python/python.exe"))
        .args(["-m", "svc"])
        .current_dir(&root)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    prefix.kill();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).replace('\r', ""),
        "svc 1.0.0\ncorelib 0.7.0\nbyte_sum 669 win32\n"
    );

    // The stamp writes the app's version only: the local package's crate
    // (the workspace's only member) keeps its own, and --check agrees. A
    // uv.lock (naming the package as a directory source) keeps the app's
    // entry in step, as `uv version` would.
    fs_err::write(dir.join("app/uv.lock"), LOCALPKG_UV_LOCK).unwrap();
    let core_toml = fs_err::read_to_string(dir.join("core/Cargo.toml")).unwrap();
    let cargo_lock = fs_err::read_to_string(dir.join("Cargo.lock")).unwrap();
    let out = run(&["version", "v2.0.0", "--stamp"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let py = fs_err::read_to_string(dir.join("app/pyproject.toml")).unwrap();
    assert!(py.contains("version = \"2.0.0\""), "{py}");
    assert_eq!(
        fs_err::read_to_string(dir.join("core/Cargo.toml")).unwrap(),
        core_toml
    );
    assert_eq!(
        fs_err::read_to_string(dir.join("Cargo.lock")).unwrap(),
        cargo_lock
    );
    let out = run(&["version", "--check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        fs_err::read_to_string(dir.join("app/uv.lock")).unwrap(),
        LOCALPKG_UV_LOCK.replace("version = \"1.0.0\"", "version = \"2.0.0\"")
    );

    // The lock is honoured and its directory entry is the local build.
    let out = run(&["bundle", "--target", "linux", "--version", "v2.0.0"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("app/uv.lock"), "{err}");
    let tarball = dist.join("Local-Core-v2.0.0-linux-x64.tar.gz");
    assert_eq!(shipped(&tarball), set(&["corelib-0.7.0", "svc-2.0.0"]));
    assert_eq!(
        run_linux(&tarball, "Local-Core"),
        "svc 2.0.0\ncorelib 0.7.0\nbyte_sum 669 linux\n"
    );
}

/// Local packages are built without writing into their folders: a PyO3
/// package whose Cargo workspace is outside the project is refused while it
/// has no Cargo.lock (cargo would write one there), then built with its
/// target folder in the cache; a setuptools package's `build/` and
/// `*.egg-info` are removed after its build, a `build/` it already had is
/// kept.
#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: a cold maturin build and a setuptools build"
)]
fn local_packages_are_built_without_writing_into_their_folders() {
    require_build_tools();
    let m = mirrors();
    let (tmp, dir) = localpkg_project(&m);
    // The PyO3 package moves out of the project, beside it.
    let outside = tmp.path().join("outside-core");
    fs_err::rename(dir.join("core"), &outside).unwrap();
    let manifest = fs_err::read_to_string(dir.join("Cargo.toml")).unwrap();
    fs_err::write(
        dir.join("Cargo.toml"),
        manifest.replace("members = [\"core\"]", "members = []"),
    )
    .unwrap();
    fs_err::remove_file(dir.join("Cargo.lock")).unwrap();
    let py = fs_err::read_to_string(dir.join("app/pyproject.toml")).unwrap();
    fs_err::write(
        dir.join("app/pyproject.toml"),
        py.replace("path = \"../core\"", "path = \"../../outside-core\""),
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let bundle = || {
        cmd(&m, &dir, cache.path())
            .env_remove("CARGO_TARGET_DIR")
            .args(["bundle", "--target", "linux"])
            .output()
            .unwrap()
    };
    let before = pyship_e2e::docker_sim::files_under(&outside);
    let out = bundle();
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("outside the project") && err.contains("has no Cargo.lock"),
        "{err}"
    );
    assert!(
        err.contains("hint:") && err.contains("cargo generate-lockfile"),
        "{err}"
    );
    assert_eq!(pyship_e2e::docker_sim::files_under(&outside), before);

    // With a lock, the build leaves the folder as it was.
    let lock = Command::new("cargo")
        .args(["generate-lockfile", "--offline", "--manifest-path"])
        .arg(outside.join("Cargo.toml"))
        .output()
        .unwrap();
    assert!(lock.status.success(), "{}", stderr(&lock));
    let before = pyship_e2e::docker_sim::files_under(&outside);
    let lock_bytes = fs_err::read(outside.join("Cargo.lock")).unwrap();
    let out = bundle();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_eq!(pyship_e2e::docker_sim::files_under(&outside), before);
    assert_eq!(
        fs_err::read(outside.join("Cargo.lock")).unwrap(),
        lock_bytes
    );
    let tarball = dir.join("dist/Local-Core-v1.0.0-linux-x64.tar.gz");
    assert_eq!(
        run_linux(&tarball, "Local-Core"),
        "svc 1.0.0\ncorelib 0.7.0\nbyte_sum 669 linux\n"
    );

    // A pure-Python local package with setuptools (from PyPI), src layout,
    // with a `build/` folder of its own.
    let helper = dir.join("libs/helper");
    for (path, text) in [
        (
            "pyproject.toml",
            "[build-system]\nrequires = [\"setuptools>=68\"]\nbuild-backend = \"setuptools.build_meta\"\n\n\
             [project]\nname = \"helper\"\nversion = \"0.3.0\"\n",
        ),
        ("src/helper/__init__.py", "X = 42\n"),
        ("build/notes.txt", "the project's own\n"),
    ] {
        let p = helper.join(path);
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(p, text).unwrap();
    }
    let py = fs_err::read_to_string(dir.join("app/pyproject.toml")).unwrap();
    fs_err::write(
        dir.join("app/pyproject.toml"),
        py.replace("\"corelib==0.7.0\"", "\"corelib==0.7.0\", \"helper\"")
            .replace(
                "[tool.uv.sources]\n",
                "[tool.uv.sources]\nhelper = { path = \"../libs/helper\" }\n",
            ),
    )
    .unwrap();
    let before = pyship_e2e::docker_sim::files_under(&helper);
    let out = cmd(&m, &dir, cache.path())
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("UV_NO_INDEX")
        .args(["bundle", "--target", "linux"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("helper wheel (pure Python)"), "{err}");
    assert_eq!(pyship_e2e::docker_sim::files_under(&helper), before);
    assert_eq!(
        shipped(&tarball),
        set(&["corelib-0.7.0", "helper-0.3.0", "svc-1.0.0"])
    );
}
