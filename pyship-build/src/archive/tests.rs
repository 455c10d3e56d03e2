//! Tests of the archive writers: determinism, modes, links, the entry cache.

use super::*;
use std::collections::BTreeMap;

fn sample_tree() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    fs_err::create_dir_all(r.join("python/Lib/site-packages/pkg")).unwrap();
    fs_err::create_dir_all(r.join("empty")).unwrap();
    fs_err::write(r.join("python/python311._pth"), "python311.zip\r\n.\r\n").unwrap();
    for i in 0..600 {
        // More than one batch, text (deflated) and random-ish (stored).
        let body: Vec<u8> = if i % 3 == 0 {
            (0..2000u32)
                .map(|x| (x.wrapping_mul(2_654_435_761).wrapping_add(i) >> 13) as u8)
                .collect()
        } else {
            format!("print('file {i}')\n").repeat(50).into_bytes()
        };
        fs_err::write(
            r.join(format!("python/Lib/site-packages/pkg/m{i:03}.py")),
            body,
        )
        .unwrap();
    }
    fs_err::write(r.join("python/stdlib.zip"), b"PK\x05\x06 not really").unwrap();
    fs_err::write(r.join("empty.txt"), b"").unwrap();
    fs_err::write(r.join("run.sh"), b"#!/bin/sh\necho hi\n").unwrap();
    d
}

fn tree_files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e
                .path()
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (rel, fs_err::read(e.path()).unwrap())
        })
        .collect()
}

#[test]
fn zip_is_byte_identical_at_any_thread_count() {
    let t = sample_tree();
    let out = tempfile::tempdir().unwrap();
    let (a, b) = (out.path().join("a.zip"), out.path().join("b.zip"));
    write_zip(
        t.path(),
        "App",
        &a,
        &Options {
            mtime: Some(1_700_000_000),
            threads: Some(1),
            cache: None,
        },
    )
    .unwrap();
    write_zip(
        t.path(),
        "App",
        &b,
        &Options {
            mtime: Some(1_700_000_000),
            threads: Some(4),
            cache: None,
        },
    )
    .unwrap();
    assert_eq!(fs_err::read(&a).unwrap(), fs_err::read(&b).unwrap());
}

/// The compressed-entry cache never changes the output: cold (no cache),
/// first run (filling it) and warm (reading it) give the same bytes, at
/// one thread and at four, for the zip and the tar.gz.
#[test]
fn cached_entries_give_byte_identical_archives_at_any_thread_count() {
    let t = sample_tree();
    // Large enough entries to be cached (MIN_CACHED), compressible and not.
    for i in 0..8u32 {
        let body: Vec<u8> = if i % 2 == 0 {
            format!("big module {i}\n").repeat(2000).into_bytes()
        } else {
            (0..20_000u32)
                .map(|x| (x.wrapping_mul(2_654_435_761).wrapping_add(i) >> 11) as u8)
                .collect()
        };
        fs_err::write(t.path().join(format!("python/big{i}.bin")), body).unwrap();
    }
    let out = tempfile::tempdir().unwrap();
    let cache = out.path().join("cache");
    let opts = |threads, cache: Option<&Path>| Options {
        mtime: Some(1_700_000_000),
        threads: Some(threads),
        cache: cache.map(Path::to_owned),
    };
    for (ext, write) in [
        (
            "zip",
            write_zip as fn(&Path, &str, &Path, &Options) -> Result<usize, Error>,
        ),
        ("tar.gz", write_tar_gz),
    ] {
        let cold = out.path().join(format!("cold.{ext}"));
        write(t.path(), "App", &cold, &opts(1, None)).unwrap();
        let cold = fs_err::read(&cold).unwrap();
        for (run, threads) in [("fill", 4), ("warm1", 1), ("warm4", 4)] {
            let p = out.path().join(format!("{run}.{ext}"));
            write(t.path(), "App", &p, &opts(threads, Some(&cache))).unwrap();
            assert!(
                fs_err::read(&p).unwrap() == cold,
                "{ext} {run} differs from the cold archive"
            );
        }
    }
    // The zip's records are there, one per cached entry.
    let zip_records = walkdir::WalkDir::new(cache.join(ZIP_SETTING))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .count();
    assert_eq!(zip_records, 8);
    // A damaged record is not used: the output is still the cold one.
    for e in walkdir::WalkDir::new(cache.join(ZIP_SETTING)) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            let mut b = fs_err::read(e.path()).unwrap();
            let n = b.len();
            b[n - 1] ^= 0x55;
            fs_err::write(e.path(), b).unwrap();
        }
    }
    let p = out.path().join("damaged.zip");
    write_zip(t.path(), "App", &p, &opts(2, Some(&cache))).unwrap();
    assert_eq!(
        fs_err::read(&p).unwrap(),
        fs_err::read(out.path().join("cold.zip")).unwrap()
    );
}

#[test]
fn zip_extracts_back_to_the_same_tree() {
    let t = sample_tree();
    let out = tempfile::tempdir().unwrap();
    let z = out.path().join("a.zip");
    let n = write_zip(t.path(), "App", &z, &Options::default()).unwrap();
    let mut zip = zip::ZipArchive::new(fs_err::File::open(&z).unwrap()).unwrap();
    assert_eq!(zip.len(), n);
    let dest = out.path().join("x");
    zip.extract(&dest).unwrap();
    assert_eq!(tree_files(t.path()), tree_files(&dest.join("App")));
    assert!(dest.join("App/empty").is_dir());
    // One top-level folder, sorted names, the exec bit kept, the fixed epoch.
    let names: Vec<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
    assert!(names.iter().all(|n| n == "App/" || n.starts_with("App/")));
    let run = zip.by_name("App/run.sh").unwrap();
    assert_eq!(run.unix_mode().unwrap() & 0o777, 0o755);
    let dt = run.last_modified().unwrap();
    assert_eq!((dt.year(), dt.month(), dt.day()), (1980, 1, 1));
    drop(run);
    assert_eq!(
        zip.by_name("App/python/stdlib.zip").unwrap().compression(),
        zip::CompressionMethod::Stored
    );
    assert_eq!(
        zip.by_name("App/python/Lib/site-packages/pkg/m001.py")
            .unwrap()
            .compression(),
        zip::CompressionMethod::Deflated
    );
}

#[test]
fn file_mode_comes_from_what_the_file_is() {
    assert_eq!(file_mode("App/run.sh", b"#!/b"), 0o755);
    assert_eq!(file_mode("App/install-service.sh", b""), 0o755);
    assert_eq!(file_mode("App/scripts/start.bat", b"@ech"), 0o755);
    assert_eq!(file_mode("App/scripts/Start-Hidden.VBS", b"Set "), 0o755);
    assert_eq!(file_mode("App/python/bin/python3.11", b"\x7fELF"), 0o755);
    assert_eq!(
        file_mode("App/python/lib/libpython3.11.so.1.0", b"\x7fELF"),
        0o755
    );
    assert_eq!(file_mode("App/python/bin/pip3", b"#!/u"), 0o755);
    // A module with a shebang is imported, not run.
    assert_eq!(file_mode("App/app/src/tool.py", b"#!/u"), 0o644);
    assert_eq!(file_mode("App/python/python.exe", b"MZ\x90\0"), 0o644);
    assert_eq!(file_mode("App/python/_ssl.pyd", b"MZ\x90\0"), 0o644);
    assert_eq!(file_mode("App/python/python311._pth", b"pyth"), 0o644);
    assert_eq!(file_mode("App/empty.txt", b""), 0o644);
}

/// The host's exec bits are ignored: a `.pyd` that a wheel left 0755 and
/// a launch script left 0600 give the same archive as a Windows host,
/// which has no exec bit at all.
#[cfg(unix)]
#[test]
fn archive_modes_ignore_the_host_file_system() {
    use std::os::unix::fs::PermissionsExt;
    let t = sample_tree();
    let out = tempfile::tempdir().unwrap();
    let o = Options {
        mtime: Some(1_700_000_000),
        threads: Some(1),
        cache: None,
    };
    let (a, b) = (out.path().join("a.zip"), out.path().join("b.zip"));
    let (ta, tb) = (out.path().join("a.tar.gz"), out.path().join("b.tar.gz"));
    fs_err::write(t.path().join("python/_x.pyd"), b"MZ\x90\0pe").unwrap();
    write_zip(t.path(), "App", &a, &o).unwrap();
    write_tar_gz(t.path(), "App", &ta, &o).unwrap();
    let set = |p: &str, m: u32| {
        fs_err::set_permissions(t.path().join(p), std::fs::Permissions::from_mode(m)).unwrap()
    };
    set("python/_x.pyd", 0o755);
    set("run.sh", 0o600);
    set("python/python311._pth", 0o777);
    write_zip(t.path(), "App", &b, &o).unwrap();
    write_tar_gz(t.path(), "App", &tb, &o).unwrap();
    assert_eq!(fs_err::read(&a).unwrap(), fs_err::read(&b).unwrap());
    assert_eq!(fs_err::read(&ta).unwrap(), fs_err::read(&tb).unwrap());
    let mut zip = zip::ZipArchive::new(fs_err::File::open(&b).unwrap()).unwrap();
    assert_eq!(
        zip.by_name("App/python/_x.pyd").unwrap().unix_mode(),
        Some(0o100644)
    );
    assert_eq!(
        zip.by_name("App/run.sh").unwrap().unix_mode(),
        Some(0o100755)
    );
}

#[cfg(unix)]
#[test]
fn tar_gz_is_deterministic_and_keeps_modes_and_links() {
    let t = sample_tree();
    std::os::unix::fs::symlink("run.sh", t.path().join("run-link")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let (a, b) = (out.path().join("a.tar.gz"), out.path().join("b.tar.gz"));
    let o = Options {
        mtime: Some(1_700_000_000),
        threads: None,
        cache: None,
    };
    write_tar_gz(t.path(), "App", &a, &o).unwrap();
    write_tar_gz(t.path(), "App", &b, &o).unwrap();
    assert_eq!(fs_err::read(&a).unwrap(), fs_err::read(&b).unwrap());
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(
        fs_err::File::open(&a).unwrap(),
    ));
    let mut seen = BTreeMap::new();
    for e in ar.entries().unwrap() {
        let e = e.unwrap();
        let h = e.header();
        seen.insert(
            e.path().unwrap().to_string_lossy().into_owned(),
            (h.mode().unwrap(), h.mtime().unwrap(), h.entry_type()),
        );
    }
    assert_eq!(seen["App/run.sh"].0, 0o755);
    assert_eq!(seen["App/run.sh"].1, 1_700_000_000);
    assert_eq!(seen["App/run-link"].2, tar::EntryType::Symlink);
    assert_eq!(seen["App/python/python311._pth"].0, 0o644);
}

/// The parallel gzip is one stream that `gzip -t` accepts and `tar xzf`
/// unpacks to the same files, over several chunks.
#[cfg(unix)]
#[test]
fn tar_gz_reads_with_gzip_and_tar() {
    use std::process::Command;
    let t = sample_tree();
    for i in 0..3u32 {
        let body: Vec<u8> = (0..(gzip::CHUNK as u32 + 12_345))
            .map(|x| (x.wrapping_mul(2_654_435_761).wrapping_add(i) >> 20) as u8)
            .collect();
        fs_err::write(t.path().join(format!("python/lib{i}.so")), body).unwrap();
    }
    let out = tempfile::tempdir().unwrap();
    let a = out.path().join("a.tar.gz");
    let o = Options {
        mtime: Some(1_700_000_000),
        threads: Some(2),
        cache: None,
    };
    write_tar_gz(t.path(), "App", &a, &o).unwrap();
    let gz = Command::new("gzip")
        .arg("-t")
        .arg(&a)
        .output()
        .expect("this test needs `gzip` (the Debian package `gzip`)");
    assert!(gz.status.success(), "gzip -t: {gz:?}");
    let x = out.path().join("x");
    fs_err::create_dir_all(&x).unwrap();
    let tar = Command::new("tar")
        .arg("xzf")
        .arg(&a)
        .arg("-C")
        .arg(&x)
        .output()
        .expect("this test needs `tar` (the Debian package `tar`)");
    assert!(tar.status.success(), "tar xzf: {tar:?}");
    assert!(tree_files(t.path()) == tree_files(&x.join("App")));
}

#[test]
fn dos_datetime_known_values() {
    assert_eq!(dos_datetime(0), (0x21, 0));
    // 2023-11-14 22:13:20 UTC
    let (d, t) = dos_datetime(1_700_000_000);
    assert_eq!((d >> 9) + 1980, 2023);
    assert_eq!((d >> 5) & 0xF, 11);
    assert_eq!(d & 0x1F, 14);
    assert_eq!((t >> 11, (t >> 5) & 0x3F, (t & 0x1F) * 2), (22, 13, 20));
}

/// A named pipe in a tree to pack fails naming it, in both archive kinds,
/// instead of blocking on the read of its header.
#[cfg(unix)]
#[test]
fn a_named_pipe_in_the_tree_is_refused_not_read() {
    let tree = sample_tree();
    let pipe = tree.path().join("pipe");
    crate::fs::test_support::make_fifo(&pipe);
    for keep_links in [true, false] {
        let e = entries(tree.path(), "App", keep_links).unwrap_err();
        assert!(
            matches!(e, Error::Fs(crate::fs::Error::Special { ref path, .. }) if *path == pipe),
            "{e:?}"
        );
    }
}
