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
