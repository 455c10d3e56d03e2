//! Unit tests of the Linux runtime.

use super::venv::venv_mismatch;
use super::*;
use crate::error::Hint;
use std::io::Write;

/// A venv runtime of another CPython than `python`: a warning naming
/// both and the two ways out; none when they agree.
#[test]
fn a_venv_of_another_cpython_is_named_with_both_versions() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/hello/Cargo.toml");
    let project = crate::project::load(Some(&manifest), None).unwrap();
    let plan = crate::plan::Plan::build(
        project,
        &crate::env::Env::default(),
        &crate::plan::Options::default(),
    )
    .unwrap();
    assert_eq!(plan.python.full, "3.11.9");
    let w = venv_mismatch(&plan, "/usr/bin/python3.11", "3.11.7").unwrap();
    assert!(w.contains("CPython 3.11.7 (/usr/bin/python3.11)"), "{w}");
    assert!(
        w.contains("`python = \"3.11.9\"` of [package.metadata.pyship]"),
        "{w}"
    );
    assert!(w.contains("linux.runtime = \"standalone\""), "{w}");
    assert_eq!(venv_mismatch(&plan, "/usr/bin/python3.11", "3.11.9"), None);
}

#[test]
fn default_url_for_known_version() {
    assert_eq!(
        runtime_url(None, "3.11.9", "package.metadata.pyship").unwrap(),
        "https://github.com/astral-sh/python-build-standalone/releases/download/20240814/cpython-3.11.9+20240814-x86_64-unknown-linux-gnu-install_only.tar.gz"
    );
}

#[test]
fn unknown_version_asks_for_runtime_url() {
    let err = runtime_url(None, "3.9.1", "workspace.metadata.pyship").unwrap_err();
    assert!(err.to_string().contains("3.9.1"), "{err}");
    assert!(err
        .hint()
        .unwrap()
        .contains("`runtime-url` in [workspace.metadata.pyship.linux]"));
    // A template without {release} needs no table entry.
    assert_eq!(
        runtime_url(
            Some("http://m/{version}/py-{version}.tar.gz"),
            "3.9.1",
            "package.metadata.pyship"
        )
        .unwrap(),
        "http://m/3.9.1/py-3.9.1.tar.gz"
    );
}

/// A tarball with the given (path, kind, link target or contents).
fn tarball(dir: &Path, entries: &[(&str, char, &str)]) -> PathBuf {
    let path = dir.join("rt.tar.gz");
    let f = fs_err::File::create(&path).unwrap();
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        f,
        flate2::Compression::fast(),
    ));
    for (name, kind, data) in entries {
        // Raw names: the tar crate's setters refuse `..`, which these
        // tests need to write.
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        let (ty, mode, body): (_, u32, &[u8]) = match kind {
            'd' => (tar::EntryType::Directory, 0o755, b""),
            'f' => (tar::EntryType::Regular, 0o644, data.as_bytes()),
            'x' => (tar::EntryType::Regular, 0o4755, data.as_bytes()),
            'l' | 'h' => {
                h.as_old_mut().linkname[..data.len()].copy_from_slice(data.as_bytes());
                let ty = if *kind == 'l' {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                };
                (ty, 0o777, b"")
            }
            _ => unreachable!(),
        };
        h.set_entry_type(ty);
        h.set_mode(mode);
        h.set_size(body.len() as u64);
        h.set_cksum();
        b.append(&h, body).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap().flush().unwrap();
    path
}

#[cfg(unix)]
#[test]
fn extracts_install_only_layout_with_modes_and_links() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let t = tarball(
        d.path(),
        &[
            ("python/", 'd', ""),
            ("python/bin/python3.11", 'x', "ELF"),
            ("python/bin/python3", 'l', "python3.11"),
            ("python/bin/python", 'h', "python/bin/python3.11"),
            ("python/lib/python3.11/os.py", 'f', "#"),
            ("python/lib/python3.11/site-packages/", 'd', ""),
        ],
    );
    let dest = d.path().join("bundle/python");
    fs_err::create_dir_all(dest.join("stale")).unwrap();
    let n = extract_install_only(&t, &dest, &[d.path()]).unwrap();
    assert_eq!(n, 3);
    assert!(!dest.join("stale").exists(), "old runtime files survive");
    let exe = dest.join("bin/python3.11");
    // setuid dropped, executable kept.
    assert_eq!(
        fs_err::metadata(&exe).unwrap().permissions().mode() & 0o7777,
        0o755
    );
    assert_eq!(
        fs_err::read_link(dest.join("bin/python3")).unwrap(),
        Path::new("python3.11")
    );
    assert_eq!(
        fs_err::read_to_string(dest.join("bin/python")).unwrap(),
        "ELF"
    );
    check_layout(&dest, "3.11", "t", "package.metadata.pyship").unwrap();
    let err = check_layout(&dest, "3.12", "t", "package.metadata.pyship").unwrap_err();
    assert!(matches!(err, Error::VersionMismatch { .. }), "{err}");
}

#[test]
fn extraction_refuses_escapes() {
    let cases: &[&[(&str, char, &str)]] = &[
        &[("python/../evil", 'f', "x")],
        &[("other/file", 'f', "x")],
        &[("python/bin/up", 'l', "../../outside")],
        &[("python/bin/abs", 'l', "/etc/passwd")],
        &[("python/bin/mid", 'l', "a/../../../x")],
        // Writing through a symlink that itself looks harmless.
        &[("python/s", 'l', "."), ("python/s/../evil", 'f', "x")],
        &[("python/d", 'l', "lib"), ("python/d/x", 'f', "x")],
        &[("python/h", 'h', "etc/passwd")],
    ];
    for (i, entries) in cases.iter().enumerate() {
        let d = tempfile::tempdir().unwrap();
        let t = tarball(d.path(), entries);
        let dest = d.path().join("out/python");
        let r = extract_install_only(&t, &dest, &[d.path()]);
        assert!(r.is_err(), "case {i} {entries:?} accepted");
        assert!(!dest.exists(), "case {i}: a partial runtime was left");
        assert!(!d.path().join("evil").exists() && !d.path().join("out/evil").exists());
    }
}

#[test]
fn removes_own_package_only() {
    let d = tempfile::tempdir().unwrap();
    let sp = d.path();
    for p in [
        "hello_app",
        "hello_app-0.1.0.dist-info",
        "fastapi",
        "fastapi-0.1.dist-info",
    ] {
        fs_err::create_dir_all(sp.join(p)).unwrap();
    }
    fs_err::write(sp.join("__editable__.hello_app-0.1.0.pth"), "").unwrap();
    let removed = remove_own_package(sp, "hello-app").unwrap();
    assert_eq!(removed.len(), 3, "{removed:?}");
    assert!(sp.join("fastapi").is_dir() && sp.join("fastapi-0.1.dist-info").is_dir());
}
