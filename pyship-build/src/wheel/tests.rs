//! Unit tests of the wheel stage.

use super::key::without_pyship_tables;
use super::*;

/// Editing a pyship key leaves the wheel's key as it was; editing
/// anything cargo reads changes it.
#[test]
fn the_wheel_key_ignores_the_pyship_tables() {
    let a = "[package]\nname = \"x\"\nversion = \"1.0.0\"\n\n[package.metadata.pyship]\nport = 1\n\n[package.metadata.pyship.windows]\nargs = [\"a\"]\n";
    let b = a
        .replace("port = 1", "port = 2")
        .replace("[\"a\"]", "[\"b\"]");
    let c = a.replace("1.0.0", "1.0.1");
    let ws = "[workspace]\nmembers = []\n\n[workspace.metadata.pyship]\nname = \"A\"\n";
    let key = |t: &str| without_pyship_tables(t.as_bytes().to_vec());
    assert_eq!(key(a), key(&b));
    assert_ne!(key(a), key(&c));
    assert_eq!(key(ws), key(&ws.replace("\"A\"", "\"B\"")));
    assert!(!String::from_utf8(key(a)).unwrap().contains("pyship"));
    // Not TOML: taken as it is.
    assert_eq!(key("[package"), b"[package".to_vec());
}

/// A named pipe in a maturin workspace fails the wheel's key only where
/// the build opens it: in a package maturin packs, in a `src/` or `.cargo/`
/// folder, or as a file read by name. One in a crate's tests or benches, or
/// elsewhere in the workspace, is left out of the key: cargo and maturin
/// build the wheel without opening it. For `uv build`, whose backend may
/// open any file of its folder, every one counts.
#[cfg(unix)]
#[test]
fn the_wheel_key_refuses_only_the_named_pipes_the_build_opens() {
    use super::key::{input_key, Opens};
    let plan = crate::plan::tests_support::hello_plan();
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("ws");
    for (rel, text) in [
        ("Cargo.toml", "[workspace]\nmembers = [\"crates/core\"]\n"),
        ("pyproject.toml", "[project]\nname = \"pkg\"\n"),
        ("crates/core/Cargo.toml", "[package]\nname = \"core\"\n"),
        ("crates/core/src/lib.rs", ""),
        ("python/pkg/__init__.py", ""),
    ] {
        let p = root.join(rel);
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(p, text).unwrap();
    }
    let maturin = Opens::Maturin {
        packs: vec![root.join("python/pkg"), root.join("python/pkg.py")],
    };
    let key = |opens: &Opens| input_key(&plan, "pkg", std::slice::from_ref(&root), opens, &[]);
    let clean = key(&maturin).unwrap();
    let with_pipe = |rel: &str, check: &dyn Fn(&Path)| {
        let pipe = root.join(rel);
        fs_err::create_dir_all(pipe.parent().unwrap()).unwrap();
        crate::fs::test_support::make_fifo(&pipe);
        check(&pipe);
        fs_err::remove_file(&pipe).unwrap();
    };
    for rel in [
        "crates/core/tests/pipe",
        "crates/core/benches/pipe.rs",
        "docs/pipe",
    ] {
        with_pipe(rel, &|pipe| {
            assert_eq!(key(&maturin).unwrap(), clean, "{rel}");
            let e = key(&Opens::Any).unwrap_err();
            assert!(
                matches!(&e, Error::SpecialSource { path, .. } if path == pipe),
                "{rel}: {e:?}"
            );
        });
    }
    for rel in [
        "python/pkg/pipe",
        "python/pkg.py",
        "crates/core/src/pipe.rs",
        "crates/core/Cargo.lock",
        ".cargo/config.toml",
    ] {
        with_pipe(rel, &|pipe| {
            let e = key(&maturin).unwrap_err();
            assert!(
                matches!(&e, Error::SpecialSource { path, .. } if path == pipe),
                "{rel}: {e:?}"
            );
        });
    }
    assert_eq!(key(&maturin).unwrap(), clean);
}

#[test]
fn manylinux_platforms_parse() {
    assert_eq!(manylinux_glibc("x86_64-manylinux_2_28"), Some((2, 28)));
    assert_eq!(manylinux_glibc("manylinux_2_34_x86_64"), Some((2, 34)));
    assert_eq!(manylinux_glibc("x86_64-manylinux2014"), Some((2, 17)));
    assert_eq!(manylinux_glibc("manylinux2014_x86_64"), Some((2, 17)));
    assert_eq!(manylinux_glibc("manylinux1_x86_64"), Some((2, 5)));
    assert_eq!(manylinux_glibc("x86_64-unknown-linux-gnu"), Some((2, 17)));
    assert_eq!(manylinux_glibc("x86_64-unknown-linux-musl"), None);
    assert_eq!(manylinux_glibc("linux_x86_64"), None);
}

/// maturin's Rust SBOM names local crates by absolute path: the wheel is
/// rewritten with paths relative to the workspace, RECORD in step, every
/// other entry byte for byte; the same wheel built elsewhere becomes the
/// same bytes.
#[test]
fn wheel_sboms_lose_the_checkout_path() {
    use std::io::{Read, Write};
    let make = |root: &str, dir: &Path| -> PathBuf {
        let sbom = format!(
            "{{\"bom-ref\": \"path+file://{root}/crates/core#0.2.0\", \"ref\": \"path+file://{root}#0.2.0\"}}"
        );
        let path = dir.join("app-0.2.0-cp39-abi3-win_amd64.whl");
        let mut w = zip::ZipWriter::new(fs_err::File::create(&path).unwrap());
        let t = zip::DateTime::from_date_and_time(2023, 11, 14, 22, 13, 20).unwrap();
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(t);
        let files: Vec<(&str, String)> = vec![
            ("app/_native.pyd", "MZ binary".into()),
            ("app-0.2.0.dist-info/sboms/core.cyclonedx.json", sbom),
            (
                "app-0.2.0.dist-info/RECORD",
                "app/_native.pyd,sha256=x,9\napp-0.2.0.dist-info/sboms/core.cyclonedx.json,sha256=old,1\napp-0.2.0.dist-info/RECORD,,\n".into(),
            ),
        ];
        for (name, body) in files {
            w.start_file(name, opts).unwrap();
            w.write_all(body.as_bytes()).unwrap();
        }
        w.finish().unwrap();
        path
    };
    let read = |p: &Path, name: &str| {
        let mut z = zip::ZipArchive::new(fs_err::File::open(p).unwrap()).unwrap();
        let mut s = String::new();
        z.by_name(name).unwrap().read_to_string(&mut s).unwrap();
        s
    };
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let wa = make("/tmp/one/proj", a.path());
    let wb = make("/srv/ci/builds/x/proj", b.path());
    assert!(normalize_wheel(&wa, &[PathBuf::from("/tmp/one/proj")]).unwrap());
    assert!(normalize_wheel(&wb, &[PathBuf::from("/srv/ci/builds/x/proj/")]).unwrap());
    let sbom = read(&wa, "app-0.2.0.dist-info/sboms/core.cyclonedx.json");
    assert_eq!(
        sbom,
        "{\"bom-ref\": \"path+file:crates/core#0.2.0\", \"ref\": \"path+file:.#0.2.0\"}"
    );
    let record = read(&wa, "app-0.2.0.dist-info/RECORD");
    use base64::Engine;
    use sha2::Digest;
    let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(sbom.as_bytes()));
    assert_eq!(
        record,
        format!("app/_native.pyd,sha256=x,9\napp-0.2.0.dist-info/sboms/core.cyclonedx.json,sha256={hash},{}\napp-0.2.0.dist-info/RECORD,,\n", sbom.len())
    );
    assert_eq!(read(&wa, "app/_native.pyd"), "MZ binary");
    assert_eq!(fs_err::read(&wa).unwrap(), fs_err::read(&wb).unwrap());
    // Nothing left to rewrite: untouched.
    let before = fs_err::read(&wa).unwrap();
    assert!(!normalize_wheel(&wa, &[PathBuf::from("/tmp/one/proj")]).unwrap());
    assert_eq!(fs_err::read(&wa).unwrap(), before);
}

/// Without zig, the hint names a `linux.platform` this host builds for, one
/// the config accepts, and none when there is no such name.
#[test]
fn the_no_zig_hint_names_a_platform_the_config_accepts() {
    use crate::error::Hint;
    let err = |host_platform: Option<&str>| Error::NoZig {
        platform: "x86_64-manylinux_2_28".into(),
        want: "2.28".into(),
        host: "2.36".into(),
        host_platform: host_platform.map(str::to_owned),
    };
    let with = err(Some("x86_64-manylinux_2_36")).hint().unwrap();
    assert!(
        with.ends_with(", or set `linux.platform = \"x86_64-manylinux_2_36\"` if the target machines have this host's glibc"),
        "{with}"
    );
    let without = err(None).hint().unwrap();
    assert!(
        without.starts_with("install zig") && !without.contains("linux.platform"),
        "{without}"
    );
}
