//! Self-update (`pyship_update`), end to end: v0.1.0 and v0.2.0 of the
//! `updater` fixture (a FastAPI app with `port`) are released once per test
//! run with `cargo pyship release` to the test Gitea server; each test puts
//! the releases it needs on the server, unpacks or installs v0.1.0, and has
//! it update itself. This file holds the shared server, builds and helpers;
//! the tests are grouped by concern in `update/`. The tests share the server
//! and the builds, so they run one at a time.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use super::support::*;
use pyship_e2e::gitea::{GiteaServer, REPO, WRITE_TOKEN};
use pyship_e2e::http::StaticServer;
use pyship_e2e::wine::{free_port, http_get, Running, WinePrefix};

const RUNTIME_FILE: &str = "cpython-3.11.9-test-x86_64-unknown-linux-gnu-install_only.tar.gz";
const EMBED: &str = "python-3.11.9-embed-amd64.zip";
/// The bundle's top folder (the app name as a file name).
const NAME: &str = "Upd-Demo";

/// One released version: its assets as uploaded.
#[derive(Clone)]
struct Version {
    tag: String,
    assets: BTreeMap<String, Vec<u8>>,
}

struct Shared {
    gitea: GiteaServer,
    _keep: Vec<tempfile::TempDir>,
    _servers: Vec<StaticServer>,
    v1: Version,
    v2: Version,
    /// The project, tagged v0.1.0 and v0.2.0, and how to run cargo pyship on it.
    dir: PathBuf,
    cache: PathBuf,
    mirror: String,
    /// The release key (`cargo pyship keygen --unencrypted`), its public key
    /// (`update.public-keys` of both releases) and where keys go.
    key: PathBuf,
    public_key: String,
    keys_dir: PathBuf,
}

/// The server, and v0.1.0 and v0.2.0 released to it (built once per run).
fn shared() -> MutexGuard<'static, &'static Shared> {
    static LOCK: OnceLock<Mutex<&'static Shared>> = OnceLock::new();
    LOCK.get_or_init(|| Mutex::new(Box::leak(Box::new(build()))))
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

fn build() -> Shared {
    require_tool("uv", "`pip install uv` (PyPI package `uv`)");
    require_tool("makensis", "`apt-get install nsis` (Debian package `nsis`)");
    let gitea = GiteaServer::start();
    // The shared build (about 900 MB) lives as long as the test process: it
    // is never dropped. So it goes in a folder named after the process, and
    // each run first removes the folders of processes that have ended: runs
    // from every checkout (CI clones one per run) leave at most one behind
    // between them. It stays outside this workspace, whose manifest would
    // claim the fixture.
    let parent = std::env::temp_dir().join(format!("{SHARED_PREFIX}{}", std::process::id()));
    remove_ended_runs_builds();
    fs_err::create_dir_all(&parent).unwrap();
    let mirror_dir = tempfile::tempdir_in(&parent).unwrap();
    fs_err::create_dir_all(mirror_dir.path().join("3.11.9")).unwrap();
    fs_err::copy(
        pyship_e2e::testdata::embed_python_dir().join(EMBED),
        mirror_dir.path().join("3.11.9").join(EMBED),
    )
    .unwrap();
    let mirror = StaticServer::start(mirror_dir.path());
    let wheels = StaticServer::start(pyship_e2e::testdata::wheelhouse());
    let (runtime_dir, runtime) = pyship_e2e::pbs::serve(RUNTIME_FILE);
    let tmp = tempfile::Builder::new()
        .prefix("run-")
        .tempdir_in(&parent)
        .unwrap();
    let dir = tmp.path().join("updater");
    copy_dir(&workspace_root().join("fixtures").join("updater"), &dir);
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap().replacen(
        "port = 8766\n",
        &format!(
            "port = 8766\nno-index = true\nfind-links = [\"{}/\"]\n",
            wheels.url()
        ),
        1,
    );
    let runtime_url = format!(
        "{}/cpython-{{version}}-test-x86_64-unknown-linux-gnu-install_only.tar.gz",
        runtime.url()
    );
    fs_err::write(
        &manifest,
        format!("{text}\n[package.metadata.pyship.linux]\nruntime-url = \"{runtime_url}\"\n"),
    )
    .unwrap();
    fs_err::write(dir.join(".gitignore"), "dist/\ntarget/\n").unwrap();
    let cache = tmp.path().join("cache");
    // Releases are signed: a key made by the tool, trusted by both versions.
    let keys_dir = tmp.path().join("keys");
    let key = keys_dir.join("release.key");
    let (public_key, _) = keygen(&cache, &dir, &key);
    let text = fs_err::read_to_string(&manifest).unwrap();
    fs_err::write(
        &manifest,
        format!("{text}\n[package.metadata.pyship.update]\npublic-keys = [\"{public_key}\"]\n"),
    )
    .unwrap();
    git_init_commit(&dir);
    let release = |tag: &str| -> Version {
        git(&dir, &["tag", tag]);
        let start = Instant::now();
        let out = pyship_command(&cache)
            .current_dir(&dir)
            .env("PYSHIP_PYTHON_MIRROR", mirror.url())
            .env("GITHUB_SERVER_URL", gitea.url())
            .env("GITHUB_REPOSITORY", REPO)
            .env("GITHUB_REF_NAME", tag)
            .env("GITHUB_REF_TYPE", "tag")
            .env("DEPLOY_TOKEN", WRITE_TOKEN)
            .env("PYSHIP_SIGNING_KEY", fs_err::read_to_string(&key).unwrap())
            .env("PYSHIP_RETRY_BASE_MS", "5")
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args(["pyship", "release"])
            .output_within(RUN_LIMIT);
        assert!(
            out.status.success(),
            "release {tag} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("released {tag} in {:?}", start.elapsed());
        let rel = gitea.release(REPO, tag).expect("the release exists");
        let assets = rel
            .assets
            .iter()
            .map(|a| (a.name.clone(), a.data.clone()))
            .collect();
        // The next release builds from a clean output folder.
        fs_err::remove_dir_all(dir.join("dist")).unwrap();
        Version {
            tag: tag.to_owned(),
            assets,
        }
    };
    let v1 = release("v0.1.0");
    git(&dir, &["commit", "-q", "--allow-empty", "-m", "v0.2.0"]);
    let v2 = release("v0.2.0");
    Shared {
        gitea,
        mirror: mirror.url(),
        dir,
        cache,
        key,
        public_key,
        keys_dir,
        _keep: vec![tmp, mirror_dir, runtime_dir],
        _servers: vec![mirror, wheels, runtime],
        v1,
        v2,
    }
}

/// `cargo pyship keygen --unencrypted --out key` in `dir`: (public key, key id).
fn keygen(cache: &Path, dir: &Path, key: &Path) -> (String, String) {
    let out = pyship_command(cache)
        .current_dir(dir)
        .args([
            "pyship",
            "keygen",
            "--unencrypted",
            "--format",
            "json",
            "--out",
        ])
        .arg(key)
        .output_within(RUN_LIMIT);
    assert!(
        out.status.success(),
        "keygen failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let g: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let public = g["public_key"].as_str().unwrap().to_owned();
    assert!(fs_err::read_to_string(format!("{}.pub", key.display()))
        .unwrap()
        .contains(&public));
    (public, g["key_id"].as_str().unwrap().to_owned())
}

/// `minisign -S` of `data` with the (unencrypted) secret key file `key`:
/// the `.minisig` text. Debian's minisign reads the keys the tool makes.
fn minisign_sign(key: &Path, data: &[u8]) -> Vec<u8> {
    let minisign = require_tool(
        "minisign",
        "`apt-get install minisign` (Debian package `minisign`)",
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("manifest.json");
    fs_err::write(&file, data).unwrap();
    let out = Command::new(minisign)
        .arg("-S")
        .arg("-s")
        .arg(key)
        .arg("-m")
        .arg(&file)
        .args(["-t", "re-signed by the e2e test"])
        .stdin(std::process::Stdio::null())
        .output_within(RUN_LIMIT);
    assert!(
        out.status.success(),
        "minisign -S: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs_err::read(dir.path().join("manifest.json.minisig")).unwrap()
}

/// `v` with its manifest changed by `edit`, signed with `key`, and
/// SHA256SUMS made to match (a release its signer made that way).
fn resigned(v: &Version, key: &Path, edit: impl FnOnce(&mut serde_json::Value)) -> Version {
    let mut out = v.clone();
    let mut m: serde_json::Value = serde_json::from_slice(&v.assets["manifest.json"]).unwrap();
    edit(&mut m);
    let manifest = serde_json::to_vec_pretty(&m).unwrap();
    out.assets.insert(
        "manifest.json.minisig".into(),
        minisign_sign(key, &manifest),
    );
    out.assets.insert("manifest.json".into(), manifest);
    let sums: String = out
        .assets
        .iter()
        .filter(|(n, _)| *n != "SHA256SUMS")
        .map(|(n, d)| format!("{}  {n}\n", hex_sha256(d)))
        .collect();
    out.assets.insert("SHA256SUMS".into(), sums.into_bytes());
    out
}

/// `v` as release `tag` (its manifest says so), signed with `key`, listing `keys`.
fn relabeled(v: &Version, tag: &str, key: &Path, keys: &[&str]) -> Version {
    let mut out = resigned(v, key, |m| {
        m["tag"] = tag.into();
        m["version"]["tag"] = tag.into();
        m["version"]["pep440"] = tag.trim_start_matches('v').into();
        m["public_keys"] = keys.iter().map(|k| serde_json::Value::from(*k)).collect();
    });
    out.tag = tag.to_owned();
    out
}

impl Shared {
    /// Make `releases` the repository's only releases (in this order, oldest first).
    fn publish(&self, releases: &[(&Version, bool)]) {
        self.gitea.clear_releases(REPO);
        for (v, prerelease) in releases {
            let id = self.gitea.add_release(REPO, &v.tag, false, *prerelease);
            for (name, data) in &v.assets {
                self.gitea.add_asset(id, name, data);
            }
        }
    }

    fn asset(&self, v: &Version, suffix: &str) -> (String, Vec<u8>) {
        v.assets
            .iter()
            .find(|(n, _)| n.ends_with(suffix))
            .map(|(n, d)| (n.clone(), d.clone()))
            .unwrap_or_else(|| panic!("{} has no *{suffix}", v.tag))
    }
}

impl Shared {
    /// `v` with the asset ending in `suffix` replaced by `data`, manifest.json
    /// and SHA256SUMS made to match it and the manifest signed again with the
    /// release key (a properly published, signed release).
    fn republished(&self, v: &Version, suffix: &str, data: Vec<u8>) -> Version {
        let name = v
            .assets
            .keys()
            .find(|n| n.ends_with(suffix))
            .unwrap()
            .clone();
        let sha = hex_sha256(&data);
        let size = data.len();
        let mut out = v.clone();
        out.assets.insert(name.clone(), data);
        resigned(&out, &self.key, |m| {
            for a in m["assets"].as_array_mut().unwrap() {
                if a["name"] == name.as_str() {
                    a["sha256"] = sha.clone().into();
                    a["size"] = size.into();
                    // The patch rebuilds the asset as published: an edited
                    // asset has none.
                    a.as_object_mut().unwrap().remove("delta");
                }
            }
        })
    }
}

/// The name of a test process's shared-build folder, before its process ID.
const SHARED_PREFIX: &str = "pyship-e2e-update-";

/// Removes the shared-build folders of test processes that are no longer
/// running (and those named the earlier way, after a target folder).
fn remove_ended_runs_builds() {
    for entry in fs_err::read_dir(std::env::temp_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(owner) = name.strip_prefix(SHARED_PREFIX) else {
            continue;
        };
        let running = owner
            .parse::<u32>()
            .is_ok_and(|pid| Path::new("/proc").join(pid.to_string()).exists());
        if !running {
            // Another run may be removing it at the same time.
            let _ = fs_err::remove_dir_all(&path);
        }
    }
}

fn hex_sha256(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(data))
}

/// The app module's `__main__.py` as a v0.2.0 that exits at start-up.
const BROKEN_MAIN: &[u8] = b"raise SystemExit('v0.2.0 exits at start-up (test)')\n";
const MAIN_PY: &str = "app/src/upd_demo/__main__.py";

fn broken_tarball(tarball: &[u8]) -> Vec<u8> {
    let target = format!("{NAME}/{MAIN_PY}");
    edited_tarball(
        tarball,
        |path| (path == target).then(|| Some((BROKEN_MAIN.to_vec(), 0o644))),
        &[],
    )
}

/// One entry a test adds to a release tarball.
enum Extra<'a> {
    /// A hard link (its target named from the archive root, as tar does).
    HardLink(&'a str, &'a str),
    Symlink(&'a str, &'a str),
}

/// `tarball` with each entry `edit` answers for replaced (`Some(Some((data,
/// mode)))`: a regular file) or dropped (`Some(None)`), and `extra` appended.
fn edited_tarball(
    tarball: &[u8],
    edit: impl Fn(&str) -> Option<Option<(Vec<u8>, u32)>>,
    extra: &[Extra<'_>],
) -> Vec<u8> {
    let mut a = tar::Archive::new(flate2::read::GzDecoder::new(tarball));
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let mut edited = 0;
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().to_string_lossy().into_owned();
        // The header alone holds a long name cut at 100 bytes (the full one
        // came in a GNU extension entry): append_data/append_link write it
        // again with the full path.
        let mut header = e.header().clone();
        match edit(&path) {
            Some(None) => edited += 1,
            Some(Some((data, mode))) => {
                edited += 1;
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(data.len() as u64);
                header.set_mode(mode);
                b.append_data(&mut header, &path, &data[..]).unwrap();
            }
            None if header.entry_type().is_symlink() || header.entry_type().is_hard_link() => {
                let target = e.link_name().unwrap().unwrap().into_owned();
                b.append_link(&mut header, &path, &target).unwrap();
            }
            None => {
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                b.append_data(&mut header, &path, &data[..]).unwrap();
            }
        }
    }
    assert!(edited > 0 || !extra.is_empty(), "the edit matched no entry");
    for x in extra {
        let (kind, name, target) = match x {
            Extra::HardLink(n, t) => (tar::EntryType::Link, n, t),
            Extra::Symlink(n, t) => (tar::EntryType::Symlink, n, t),
        };
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(0);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        // `append_link` would refuse these targets; a hostile server would not.
        h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
        h.as_gnu_mut().unwrap().linkname[..target.len()].copy_from_slice(target.as_bytes());
        h.set_cksum();
        b.append(&h, std::io::empty()).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

fn broken_zip(zip_bytes: &[u8]) -> Vec<u8> {
    let mut a = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).unwrap();
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let target = format!("{NAME}/{MAIN_PY}");
    let mut found = false;
    for i in 0..a.len() {
        let mut e = a.by_index(i).unwrap();
        let name = e.name().expect("utf-8 name").into_owned();
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        if e.is_dir() {
            w.add_directory(name, opts).unwrap();
            continue;
        }
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        if name == target {
            found = true;
            data = BROKEN_MAIN.to_vec();
        }
        w.start_file(name, opts).unwrap();
        w.write_all(&data).unwrap();
    }
    assert!(found, "{target} not in the zip");
    w.finish().unwrap().into_inner()
}

fn untar(data: &[u8], into: &Path) -> PathBuf {
    let mut a = tar::Archive::new(flate2::read::GzDecoder::new(data));
    a.set_preserve_permissions(true);
    a.unpack(into).unwrap();
    into.join(NAME)
}

fn unzip(data: &[u8], into: &Path) -> PathBuf {
    zip::ZipArchive::new(std::io::Cursor::new(data))
        .unwrap()
        .extract(into)
        .unwrap();
    into.join(NAME)
}

/// (relative path → SHA-256) of every file under `root`, caches left out.
fn tree(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs_err::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            let ft = e.file_type().unwrap();
            if name == "__pycache__" || name == ".pyship-update" || name == "logs" {
                continue;
            }
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_symlink() {
                out.insert(
                    rel,
                    format!("-> {}", fs_err::read_link(&p).unwrap().display()),
                );
            } else {
                out.insert(rel, sha256_file(&p));
            }
        }
    }
    out
}

/// POST `path` on loopback; (status, body).
fn http_post(port: u16, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(300))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    let status = buf
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = buf
        .split_once("\r\n\r\n")
        .map(|x| x.1)
        .unwrap_or("")
        .to_owned();
    (status, body)
}

/// Wait until `/version` answers with `version`; the time it took.
fn wait_version(port: u16, version: &str, timeout: Duration) -> Option<Duration> {
    let start = Instant::now();
    let want = format!("\"version\":\"{version}\"");
    while start.elapsed() < timeout {
        if let Some((200, body)) = http_get(port, "/version") {
            if body.contains(&want) {
                return Some(start.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

fn helper_log(root: &Path) -> String {
    fs_err::read_to_string(root.join(".pyship-update/update.log")).unwrap_or_default()
}

fn assert_no_old(root: &Path) {
    let old: Vec<String> = fs_err::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".old"))
        .collect();
    assert!(old.is_empty(), "left behind: {old:?}\n{}", helper_log(root));
    let stage = root.join(".pyship-update");
    for gone in ["new", "lock"] {
        assert!(
            !stage.join(gone).exists(),
            ".pyship-update/{gone} left behind"
        );
    }
}

fn user_data(root: &Path) {
    fs_err::create_dir_all(root.join("data")).unwrap();
    fs_err::write(root.join("data/user.json"), "{\"mine\": true}\n").unwrap();
}

fn assert_user_data(root: &Path) {
    assert_eq!(
        fs_err::read_to_string(root.join("data/user.json")).unwrap(),
        "{\"mine\": true}\n",
        "data/ changed"
    );
    assert_eq!(
        fs_err::read_dir(root.join("data")).unwrap().count(),
        1,
        "data/ changed"
    );
}

// ------------------------------------------------------------------ Linux

/// Start the unpacked Linux bundle at `root` with `run.sh` on `port`.
fn start_linux(root: &Path, port: u16) -> Running {
    let mut cmd = Command::new(root.join("run.sh"));
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("UPD_PORT", port.to_string())
        .current_dir(root);
    Running::spawn(cmd)
}

/// Stop what the helper started (its pid file).
fn stop_linux_helper_app(root: &Path) {
    if let Ok(pid) = fs_err::read_to_string(root.join(".pyship-update/app.pid")) {
        let _ = Command::new("kill").arg(pid.trim()).status();
    }
}

/// The helper log says the update downloaded v0.2.0's patch, and the
/// updated folder holds what a fresh install of v0.2.0's `suffix` asset
/// holds (user data and what the app wrote at run time aside).
fn assert_delta_used(s: &Shared, root: &Path, suffix: &str) {
    let log = helper_log(root);
    let (full_name, full) = s.asset(&s.v2, suffix);
    let m: serde_json::Value = serde_json::from_slice(&s.v2.assets["manifest.json"]).unwrap();
    let entry = m["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == full_name.as_str())
        .unwrap();
    let delta = &entry["delta"];
    let name = delta["name"]
        .as_str()
        .unwrap_or_else(|| panic!("{full_name} has no delta: {entry}"));
    assert!(
        log.contains(&format!("downloaded the delta {name}")),
        "{log}"
    );
    assert_eq!(delta["base"], "0.1.0", "{delta}");
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = if suffix.ends_with(".zip") {
        unzip(&full, fresh_dir.path())
    } else {
        untar(&full, fresh_dir.path())
    };
    let mine: BTreeMap<String, String> = tree(root)
        .into_iter()
        .filter(|(k, _)| !k.starts_with("data") && !k.starts_with(".pyship"))
        .collect();
    let want: BTreeMap<String, String> = tree(&fresh)
        .into_iter()
        .filter(|(k, _)| !k.starts_with("data") && !k.starts_with(".pyship"))
        .collect();
    let differ: Vec<&String> = mine
        .keys()
        .chain(want.keys())
        .filter(|k| mine.get(*k) != want.get(*k))
        .collect();
    assert!(
        differ.is_empty(),
        "the updated tree differs from a fresh install: {differ:?}"
    );
    let size = delta["size"].as_u64().unwrap();
    eprintln!(
        "delta {name}: {size} bytes = {:.3}% of {full_name} ({} bytes)",
        100.0 * size as f64 / full.len() as f64,
        full.len()
    );
}

/// The downloaded archive is gone from `.pyship-update/` however the update ended.
fn assert_no_archive(root: &Path) {
    let left: Vec<String> = fs_err::read_dir(root.join(".pyship-update"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| {
                    n.ends_with(".zip")
                        || n.ends_with(".tar.gz")
                        || n.ends_with(".exe")
                        || n.ends_with(".part")
                })
                .collect()
        })
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "left in .pyship-update: {left:?}\n{}",
        helper_log(root)
    );
}

fn wait_for_log(root: &Path, text: &str, timeout: Duration) -> Option<()> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if helper_log(root).contains(text) {
            return Some(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

/// `python -m pyship_update apply` of the unpacked Linux v0.1.0: (code, stdout, stderr).
fn cli_apply(root: &Path, extra: &[&str]) -> (i32, String, String) {
    let out = Command::new(root.join("python/bin/python3"))
        .args(["-m", "pyship_update", "apply"])
        .args(extra)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir(root)
        .output_within(RUN_LIMIT);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `python -m pyship_update ARGS` of the unpacked Linux bundle: (code, stdout, stderr, time).
fn cli(root: &Path, args: &[&str]) -> (i32, String, String, Duration) {
    let start = Instant::now();
    let out = Command::new(root.join("python/bin/python3"))
        .args(["-m", "pyship_update"])
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir(root)
        .output_within(RUN_LIMIT);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        start.elapsed(),
    )
}

/// `minisign -V` of `manifest` and its `signature` with `public_key`.
fn minisign_verify(public_key: &str, manifest: &[u8], signature: &[u8]) -> (bool, String) {
    let minisign = require_tool(
        "minisign",
        "`apt-get install minisign` (Debian package `minisign`)",
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("manifest.json");
    fs_err::write(&file, manifest).unwrap();
    fs_err::write(dir.path().join("manifest.json.minisig"), signature).unwrap();
    let out = Command::new(minisign)
        .args(["-V", "-P", public_key, "-m"])
        .arg(&file)
        .output_within(RUN_LIMIT);
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

// ------------------------------------------------------------------ Windows

/// Start `python.exe -m upd_demo` of the bundle at `root` under wine.
fn start_windows(prefix: &WinePrefix, root: &Path, port: u16) -> Running {
    let mut cmd = prefix.command(root.join("python/python.exe"));
    cmd.args(["-m", "upd_demo"])
        .env("UPD_PORT", port.to_string())
        .current_dir(root);
    Running::spawn(cmd)
}

/// Every folder below `root` (relative), what the app writes aside.
fn folders(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs_err::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let skip = rel.starts_with("data")
                || rel.starts_with(".pyship")
                || rel.starts_with("logs")
                || rel.ends_with("__pycache__");
            if e.file_type().unwrap().is_dir() && !skip {
                stack.push(p);
                out.push(rel);
            }
        }
    }
    out.sort();
    out
}

// ------------------------------------------------------------------ the tests

mod delta;
mod held_files;
mod installer;
mod linux;
mod refusals;
mod rollout;
mod signing;
mod windows;
