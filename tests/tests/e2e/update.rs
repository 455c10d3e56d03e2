//! Self-update (`pyship_update`), end to end: v0.1.0 and v0.2.0 of the
//! `updater` fixture (a FastAPI app with `port`) are released once per test
//! run with `cargo pyship release` to the test Gitea server; each test puts
//! the releases it needs on the server, unpacks or installs v0.1.0, and has
//! it update itself: portable Linux, portable Windows and the installer under
//! wine, rollback of a v0.2.0 that exits at start-up, and the refusals.
//! The tests share the server and the builds, so they run one at a time.

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
    // The shared build lives as long as the test process (it is never
    // dropped), so it goes in one folder per target directory that the next
    // run empties first: a run leaves at most one copy behind, not one per
    // run. It stays outside this workspace, whose manifest would claim the
    // fixture.
    let key = hex_sha256(env!("CARGO_TARGET_TMPDIR").as_bytes());
    let parent = std::env::temp_dir().join(format!("pyship-e2e-update-{}", &key[..12]));
    if parent.exists() {
        fs_err::remove_dir_all(&parent).unwrap();
    }
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
        let out = pyship(&cache)
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
            .output()
            .unwrap();
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
    let out = pyship(cache)
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
        .output()
        .unwrap();
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
        .output()
        .unwrap();
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

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, updates under wine"
)]
fn update_portable_linux_keeps_data_and_answers_with_the_new_version() {
    let s = shared();
    s.publish(&[(&s.v1, false), (&s.v2, false)]);
    let tmp = tempfile::tempdir().unwrap();
    let (_, tarball) = s.asset(&s.v1, "-linux-x64.tar.gz");
    let root = untar(&tarball, tmp.path());
    user_data(&root);
    let port = free_port();
    let app = start_linux(&root, port);
    let first = wait_version(port, "0.1.0", Duration::from_secs(60));
    let (_, checked, _, took_check) = cli(&root, &["check"]);
    let start = Instant::now();
    let (status, body) = http_post(port, "/update");
    let took_apply = start.elapsed();
    let start = Instant::now();
    let took = wait_version(port, "0.2.0", Duration::from_secs(120));
    let (so, se) = app.stop();
    stop_linux_helper_app(&root);
    assert!(first.is_some(), "v0.1.0 never answered\n{so}\n{se}");
    assert!(checked.contains("delta from 0.1.0: "), "{checked}");
    eprintln!(
        "portable Linux: signed check {took_check:.1?}; POST /update (download + rebuild + helper started) {took_apply:.1?}"
    );
    assert_eq!(status, 200, "{body}\n{se}");
    assert!(body.contains("\"update\":\"v0.2.0\""), "{body}");
    let took = took.unwrap_or_else(|| {
        panic!(
            "v0.2.0 never answered\nhelper log:\n{}\napp:\n{se}",
            helper_log(&root)
        )
    });
    eprintln!(
        "portable Linux: apply to v0.2.0 answering: {:.1?} (after the POST: {:.1?})",
        took,
        start.elapsed()
    );
    // The helper deletes the .old folders once the new version answered.
    let done = wait_for_log(&root, "updated to v0.2.0", Duration::from_secs(60));
    assert!(done.is_some(), "{}", helper_log(&root));
    assert_user_data(&root);
    assert_no_old(&root);
    assert_no_archive(&root);
    assert!(root
        .join("python/lib/python3.11/site-packages/upd_demo-0.2.0.dist-info")
        .is_dir());
    assert!(!root
        .join("python/lib/python3.11/site-packages/upd_demo-0.1.0.dist-info")
        .exists());
    // By delta, into the tree a fresh install of v0.2.0 has.
    assert_delta_used(&s, &root, "-linux-x64.tar.gz");
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

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, updates under wine"
)]
fn rollback_portable_linux_restores_the_old_version_byte_for_byte() {
    let s = shared();
    let (_, good) = s.asset(&s.v2, "-linux-x64.tar.gz");
    let broken = s.republished(&s.v2, "-linux-x64.tar.gz", broken_tarball(&good));
    s.publish(&[(&s.v1, false), (&broken, false)]);
    let tmp = tempfile::tempdir().unwrap();
    let (_, tarball) = s.asset(&s.v1, "-linux-x64.tar.gz");
    let root = untar(&tarball, tmp.path());
    user_data(&root);
    let port = free_port();
    let app = start_linux(&root, port);
    let first = wait_version(port, "0.1.0", Duration::from_secs(60));
    let before = tree(&root);
    let (status, body) = http_post(port, "/update");
    // The helper starts v0.2.0, sees it exit, restores v0.1.0 and starts it.
    let back = wait_for_log(&root, "rolled back", Duration::from_secs(120))
        .and_then(|_| wait_version(port, "0.1.0", Duration::from_secs(60)));
    let (so, se) = app.stop();
    stop_linux_helper_app(&root);
    assert!(first.is_some(), "v0.1.0 never answered\n{so}\n{se}");
    assert_eq!(status, 200, "{body}");
    assert!(
        back.is_some(),
        "v0.1.0 did not come back\n{}",
        helper_log(&root)
    );
    let log = helper_log(&root);
    // Under wine the broken version may be seen to exit, or (on a loaded
    // machine) not to come up within the start timeout: either way it rolls back.
    assert!(
        log.contains("the new version exited during start-up")
            || log.contains("the new version did not start within"),
        "{log}"
    );
    assert_eq!(tree(&root), before, "the old version is not byte-identical");
    assert_user_data(&root);
    assert_no_old(&root);
    assert_no_archive(&root);
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
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, updates under wine"
)]
fn refusals_change_nothing_and_say_why() {
    let s = shared();
    let tmp = tempfile::tempdir().unwrap();
    let (_, tarball) = s.asset(&s.v1, "-linux-x64.tar.gz");
    let root = untar(&tarball, tmp.path());
    user_data(&root);
    let before = tree(&root);
    let unchanged = |what: &str| {
        assert_eq!(tree(&root), before, "{what} changed the bundle");
        assert!(
            !root.join(".pyship-update").exists(),
            "{what} left .pyship-update behind"
        );
        assert_user_data(&root);
    };

    // No newer release.
    s.publish(&[(&s.v1, false)]);
    let (code, out, err) = cli_apply(&root, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("install type: portable-linux"), "{out}");
    assert!(
        out.contains("no newer stable release than v0.1.0\n"),
        "{out}"
    );
    unchanged("no newer release");

    // Only a pre-release is newer, and this bundle is on the stable channel.
    let mut rc = s.v2.clone();
    rc.tag = "v0.2.0-rc.1".into();
    s.publish(&[(&s.v1, false), (&rc, true)]);
    let (code, out, err) = cli_apply(&root, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(
            "no newer stable release than v0.1.0; skipped pre-release v0.2.0-rc.1 (use --prerelease to include it)"
        ),
        "{out}"
    );
    unchanged("a pre-release on the stable channel");

    // A tampered asset: same name and size, other bytes.
    let (name, mut data) = s.asset(&s.v2, "-linux-x64.tar.gz");
    let mid = data.len() / 2;
    data[mid] ^= 0xff;
    let mut tampered = s.v2.clone();
    tampered.assets.insert(name.clone(), data);
    // Without its patch (which rebuilds the signed tree whatever the full
    // archive holds), so that the full archive is what gets downloaded.
    tampered.assets.retain(|n, _| !n.contains("-delta-from-"));
    s.publish(&[(&s.v1, false), (&tampered, false)]);
    let (code, out, err) = cli_apply(&root, &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains(&format!(
            "error: {name} does not match its SHA-256 (manifest.json: "
        )),
        "{err}"
    );
    assert!(err.contains("refusing it\nhint: the asset on the server was changed after publishing; nothing was changed here"), "{err}");
    unchanged("a tampered asset");

    // The connection drops in the middle of the download (of the full
    // archive: the release without its patch).
    let mut whole = s.v2.clone();
    whole.assets.retain(|n, _| !n.contains("-delta-from-"));
    s.publish(&[(&s.v1, false), (&whole, false)]);
    let size = s.asset(&s.v2, "-linux-x64.tar.gz").1.len();
    s.gitea.truncate_next_download(&name, size / 3);
    let (code, out, err) = cli_apply(&root, &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(
        s.gitea.pending_faults(),
        0,
        "the download was not cut: {err}"
    );
    assert!(
        err.contains(&format!("error: the download of {name} ")),
        "{err}"
    );
    assert!(err.contains("hint: try again later"), "{err}");
    unchanged("a dropped connection");
}

/// `v` with the asset ending in `suffix` renamed to `name` (manifest.json
/// and SHA256SUMS say so too: a server that lies consistently).
fn renamed(v: &Version, key: &Path, suffix: &str, name: &str) -> Version {
    let (old, data) = v
        .assets
        .iter()
        .find(|(n, _)| n.ends_with(suffix))
        .map(|(n, d)| (n.clone(), d.clone()))
        .unwrap();
    let mut out = v.clone();
    out.assets.remove(&old);
    out.assets.insert(name.to_owned(), data);
    let mut m: serde_json::Value = serde_json::from_slice(&v.assets["manifest.json"]).unwrap();
    for a in m["assets"].as_array_mut().unwrap() {
        if a["name"] == old.as_str() {
            a["name"] = name.into();
        }
    }
    out.assets.insert(
        "manifest.json".into(),
        serde_json::to_vec_pretty(&m).unwrap(),
    );
    resigned(&out, key, |_| {})
}

/// Issue 24, items 1, 2 and 5, with real bundles: a release whose asset name
/// leaves the staging folder, whose tarball has a hard link or a symlink
/// out of the bundle (hashes made to match), or whose bundle lacks its
/// interpreter is refused by `apply` with `error:`/`hint:` lines, the
/// install tree and a file beside it unchanged; one whose interpreter cannot
/// run gets as far as the helper, which says so in update.log, changes
/// nothing and removes the download.
#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, updates under wine"
)]
fn hostile_releases_are_refused_with_the_tree_unchanged() {
    let s = shared();
    let tmp = tempfile::tempdir().unwrap();
    let (_, tarball) = s.asset(&s.v1, "-linux-x64.tar.gz");
    let root = untar(&tarball, tmp.path());
    user_data(&root);
    let victim = tmp.path().join("victim");
    fs_err::write(&victim, "victim\n").unwrap();
    let before = tree(&root);
    let unchanged = |what: &str| {
        assert_eq!(tree(&root), before, "{what} changed the bundle");
        assert!(
            !root.join(".pyship-update").exists(),
            "{what} left .pyship-update behind"
        );
        assert_eq!(
            fs_err::read_to_string(&victim).unwrap(),
            "victim\n",
            "{what}"
        );
        assert_eq!(
            fs_err::read_dir(tmp.path()).unwrap().count(),
            2,
            "{what} wrote beside the bundle"
        );
    };
    let refused = |v: &Version, what: &str, says: &str| {
        s.publish(&[(&s.v1, false), (v, false)]);
        let (code, out, err) = cli_apply(&root, &[]);
        assert_eq!(code, 1, "{what}: {out}{err}");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 2, "{what}: {err}");
        assert!(
            lines[0].starts_with("error: ") && lines[0].contains(says),
            "{what}: {err}"
        );
        assert!(lines[1].starts_with("hint: "), "{what}: {err}");
        unchanged(what);
    };
    let (_, good) = s.asset(&s.v2, "-linux-x64.tar.gz");

    // Item 1: names from the server are plain file names.
    for name in [
        "../../victim",
        "../../../../victim.tar.gz",
        victim.to_str().unwrap(),
    ] {
        refused(
            &renamed(&s.v2, &s.key, "-linux-x64.tar.gz", name),
            name,
            "which is not a plain .tar.gz file name",
        );
    }
    // Item 2: tar resolves a hard link's target from the archive root.
    for (what, extra) in [
        (
            "hard link out",
            Extra::HardLink("Upd-Demo/app/h", "../../victim"),
        ),
        (
            "hard link to a root member",
            Extra::HardLink("Upd-Demo/app/h", "victim"),
        ),
        (
            "hard link to nothing",
            Extra::HardLink("Upd-Demo/app/h", "Upd-Demo/app/missing"),
        ),
        (
            "symlink out",
            Extra::Symlink("Upd-Demo/app/l", "../../victim"),
        ),
    ] {
        let bad = edited_tarball(&good, |_| None, &[extra]);
        refused(
            &s.republished(&s.v2, "-linux-x64.tar.gz", bad),
            what,
            "refusing it",
        );
    }
    // A bundle without its interpreter never reaches the helper.
    let bad = edited_tarball(
        &good,
        |p| {
            p.starts_with(&format!("{NAME}/python/bin/python3"))
                .then_some(None)
        },
        &[],
    );
    refused(
        &s.republished(&s.v2, "-linux-x64.tar.gz", bad),
        "no interpreter",
        "has no python/bin/python3",
    );

    // Item 5: an interpreter that cannot run: the log says so, not "the app
    // did not exit"; nothing changed and the download is gone.
    let bad = edited_tarball(
        &good,
        |p| {
            (p == format!("{NAME}/python/bin/python3"))
                .then(|| Some((b"#!/bin/sh\nexit 126\n".to_vec(), 0o755)))
        },
        &[],
    );
    s.publish(&[
        (&s.v1, false),
        (&s.republished(&s.v2, "-linux-x64.tar.gz", bad), false),
    ]);
    let (code, out, err) = cli_apply(&root, &["--pid", "999999"]);
    assert_eq!(code, 0, "{out}{err}");
    let done = wait_for_log(&root, "nothing was changed", Duration::from_secs(60));
    let log = helper_log(&root);
    assert!(done.is_some(), "{log}");
    assert!(
        log.contains("could not run the helper (exit status 126)"),
        "{log}"
    );
    assert!(!log.contains("did not exit"), "{log}");
    assert_eq!(
        tree(&root),
        before,
        "a helper that could not run changed the bundle"
    );
    assert_no_old(&root);
    assert_no_archive(&root);
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
        .output()
        .unwrap();
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
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Issue 25 with real bundles: Debian's `minisign -V` accepts what `release`
/// signed; the installed v0.1.0 (built with the release key in
/// `update.public-keys`) refuses a v0.3.0 signed with an untrusted key, a
/// replayed v0.1.0 manifest, another app's manifest, a manifest whose hash
/// disagrees with the asset and an unsigned manifest, each with `error:` and
/// `hint:` lines and the tree unchanged; it accepts the signed v0.2.0.
#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, updates the Linux bundle"
)]
fn signed_releases_refuse_what_the_key_did_not_sign() {
    let s = shared();
    for v in [&s.v1, &s.v2] {
        let (ok, text) = minisign_verify(
            &s.public_key,
            &v.assets["manifest.json"],
            &v.assets["manifest.json.minisig"],
        );
        assert!(ok, "minisign -V refused {}'s signature: {text}", v.tag);
        assert!(
            text.contains(&format!("pyship manifest of Upd Demo {}", v.tag)),
            "{text}"
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let (_, tarball) = s.asset(&s.v1, "-linux-x64.tar.gz");
    let root = untar(&tarball, tmp.path());
    user_data(&root);
    let before = tree(&root);

    // The genuine signed v0.2.0 is offered; the check is timed.
    s.publish(&[(&s.v1, false), (&s.v2, false)]);
    let (code, out, err, took) = cli(&root, &["check"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("signatures: required (key "), "{out}");
    assert!(out.contains("release v0.2.0"), "{out}");
    eprintln!("portable Linux: signed `python -m pyship_update check`: {took:.1?}");

    let untrusted = s.keys_dir.join("untrusted.key");
    let (untrusted_pub, untrusted_id) = keygen(&s.cache, &s.dir, &untrusted);
    let mut replayed = s.v2.clone();
    replayed.tag = "v0.3.0".into();
    for n in ["manifest.json", "manifest.json.minisig"] {
        replayed.assets.insert(n.into(), s.v1.assets[n].clone());
    }
    let mut unsigned = relabeled(&s.v2, "v0.3.0", &s.key, &[&s.public_key]);
    unsigned.assets.remove("manifest.json.minisig");
    let cases = [
        (
            "an untrusted key",
            relabeled(&s.v2, "v0.3.0", &untrusted, &[&untrusted_pub]),
            format!("is signed by key {untrusted_id}, which this app does not trust"),
        ),
        (
            "a replayed v0.1.0 manifest",
            replayed,
            "describes 'v0.1.0', not this release".to_owned(),
        ),
        (
            "another app's manifest",
            resigned(&s.v2, &s.key, |m| m["repo"] = "mallory/other".into()),
            "is for repo 'mallory/other', not for this app".to_owned(),
        ),
        (
            "a hash list that disagrees with the asset",
            resigned(&s.v2, &s.key, |m| {
                for a in m["assets"].as_array_mut().unwrap() {
                    a["sha256"] = "0".repeat(64).into();
                }
            }),
            "SHA-256".to_owned(),
        ),
        (
            "an unsigned manifest",
            unsigned,
            "release v0.3.0 is not signed (it has no manifest.json.minisig)".to_owned(),
        ),
    ];
    for (what, v, says) in cases {
        s.publish(&[(&s.v1, false), (&v, false)]);
        let (code, out, err) = cli_apply(&root, &[]);
        assert_eq!(code, 1, "{what}: {out}{err}");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 2, "{what}: {err}");
        assert!(
            lines[0].starts_with("error: ") && lines[0].contains(&says),
            "{what}: {err}"
        );
        assert!(lines[1].starts_with("hint: "), "{what}: {err}");
        assert_eq!(tree(&root), before, "{what} changed the bundle");
        assert!(
            !root.join(".pyship-update").exists(),
            "{what} left .pyship-update"
        );
        assert!(!root.join(".pyship-trust.json").exists(), "{what}");
    }
}

/// Key rotation with real bundles: v0.1.5 (signed with the release key)
/// hands over to a new key, v0.2.0 is signed with the new key only; the
/// installed v0.1.0, two releases behind, updates to v0.2.0 with data/
/// kept, and stores the rotation next to the app.
#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, updates the Linux bundle"
)]
fn key_rotation_reaches_an_app_two_releases_behind() {
    let s = shared();
    let new_key = s.keys_dir.join("rotated.key");
    let (new_pub, _) = keygen(&s.cache, &s.dir, &new_key);
    let v15 = relabeled(&s.v2, "v0.1.5", &s.key, &[&new_pub]);
    let v20 = relabeled(&s.v2, "v0.2.0", &new_key, &[&new_pub]);
    s.publish(&[(&s.v1, false), (&v15, false), (&v20, false)]);
    let tmp = tempfile::tempdir().unwrap();
    let (_, tarball) = s.asset(&s.v1, "-linux-x64.tar.gz");
    let root = untar(&tarball, tmp.path());
    user_data(&root);
    let port = free_port();
    let app = start_linux(&root, port);
    let first = wait_version(port, "0.1.0", Duration::from_secs(60));
    let (status, body) = http_post(port, "/update");
    let took = wait_version(port, "0.2.0", Duration::from_secs(120));
    let done = wait_for_log(&root, "updated to v0.2.0", Duration::from_secs(60));
    let (so, se) = app.stop();
    stop_linux_helper_app(&root);
    assert!(first.is_some(), "v0.1.0 never answered\n{so}\n{se}");
    assert_eq!(status, 200, "{body}\n{se}");
    assert!(body.contains("\"update\":\"v0.2.0\""), "{body}");
    assert!(
        took.is_some(),
        "v0.2.0 never answered\n{}",
        helper_log(&root)
    );
    assert!(done.is_some(), "{}", helper_log(&root));
    assert_user_data(&root);
    let trust: serde_json::Value =
        serde_json::from_slice(&fs_err::read(root.join(".pyship-trust.json")).unwrap()).unwrap();
    assert_eq!(trust["keys"][0]["key"], new_pub.as_str(), "{trust}");
    assert_eq!(trust["keys"][0]["from"], "v0.1.5", "{trust}");
    assert_eq!(trust["revoked"][0]["key"], s.public_key.as_str(), "{trust}");
    assert_eq!(trust["revoked"][0]["at"], "v0.1.5", "{trust}");
    assert!(!root.join("data/.pyship-trust.json").exists());
}

/// Issue 25 item 4: a release made by `bundle`, `installer` and `publish`
/// (not `release`) has a signed manifest.json that `minisign -V` accepts, and
/// the installed v0.1.0 finds and downloads its update.
#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, then bundles both targets and builds the installer"
)]
fn a_release_made_by_bundle_installer_publish_is_updatable() {
    let s = shared();
    s.gitea.clear_releases(REPO);
    git(&s.dir, &["commit", "-q", "--allow-empty", "-m", "v0.3.0"]);
    git(&s.dir, &["tag", "v0.3.0"]);
    let run = |args: &[&str]| {
        let out = pyship(&s.cache)
            .current_dir(&s.dir)
            .env("PYSHIP_PYTHON_MIRROR", &s.mirror)
            .env("GITHUB_SERVER_URL", s.gitea.url())
            .env("GITHUB_REPOSITORY", REPO)
            .env("DEPLOY_TOKEN", WRITE_TOKEN)
            .env(
                "PYSHIP_SIGNING_KEY",
                fs_err::read_to_string(&s.key).unwrap(),
            )
            .env("PYSHIP_RETRY_BASE_MS", "5")
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .arg("pyship")
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "cargo pyship {args:?} failed:\n{err}");
        err
    };
    run(&["bundle", "--target", "all"]);
    run(&["installer"]);
    let published = run(&["publish"]);
    assert!(!published.contains("unsigned"), "{published}");
    let rel = s.gitea.release(REPO, "v0.3.0").expect("published");
    let assets: BTreeMap<String, Vec<u8>> = rel
        .assets
        .iter()
        .map(|a| (a.name.clone(), a.data.clone()))
        .collect();
    fs_err::remove_dir_all(s.dir.join("dist")).unwrap();
    for name in ["manifest.json", "manifest.json.minisig", "SHA256SUMS"] {
        assert!(
            assets.contains_key(name),
            "{name} missing: {:?}",
            assets.keys()
        );
    }
    assert!(
        String::from_utf8_lossy(&assets["SHA256SUMS"]).contains("  manifest.json.minisig\n"),
        "SHA256SUMS covers the signature"
    );
    let (ok, text) = minisign_verify(
        &s.public_key,
        &assets["manifest.json"],
        &assets["manifest.json.minisig"],
    );
    assert!(ok, "minisign -V: {text}");
    let m: serde_json::Value = serde_json::from_slice(&assets["manifest.json"]).unwrap();
    let kinds: Vec<&str> = m["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["install_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["portable-windows", "installer", "portable-linux"],
        "{m}"
    );
    assert_eq!(m["previous"], "0.2.0", "{m}");
    assert_eq!(m["repo"], REPO, "{m}");
    let v3 = Version {
        tag: "v0.3.0".into(),
        assets,
    };
    s.publish(&[(&s.v1, false), (&s.v2, false), (&v3, false)]);
    let tmp = tempfile::tempdir().unwrap();
    let (_, tarball) = s.asset(&s.v1, "-linux-x64.tar.gz");
    let root = untar(&tarball, tmp.path());
    let out = Command::new(root.join("python/bin/python3"))
        .args([
            "-c",
            "import pyship_update as p; u = p.check(); print(u.tag, p.download(u))",
        ])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir(&root)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("v0.3.0 "), "{text}");
    assert!(text.contains("Upd-Demo-v0.3.0-linux-x64.tar.gz"), "{text}");
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

/// v0.1.0's zip unpacked, started under wine, updated through `/update`.
/// Returns the unpacked folder, the time to the new version, and the logs.
fn windows_portable_update(
    s: &Shared,
    prefix: &WinePrefix,
    expect: &str,
) -> (PathBuf, Option<Duration>, String) {
    let tmp = prefix.drive_c().join("portable");
    let (_, zip) = s.asset(&s.v1, "-win-x64.zip");
    let root = unzip(&zip, &tmp);
    user_data(&root);
    let port = free_port();
    let app = start_windows(prefix, &root, port);
    let first = wait_version(port, "0.1.0", Duration::from_secs(180));
    if first.is_none() {
        prefix.kill();
        let (so, se) = app.stop();
        panic!("v0.1.0 never answered under wine\n{so}\n{se}");
    }
    // A signed check under wine, timed (the figure the README quotes).
    let start = Instant::now();
    let out = prefix
        .command(root.join("python/python.exe"))
        .args(["-m", "pyship_update", "check"])
        .current_dir(&root)
        .output()
        .unwrap();
    let took_check = start.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("signatures: required (key "), "{text}");
    assert!(text.contains(&format!("release v{expect}")), "{text}");
    eprintln!("portable Windows (wine): signed `python -m pyship_update check`: {took_check:.1?}");
    let start = Instant::now();
    let (status, body) = http_post(port, "/update");
    eprintln!(
        "portable Windows (wine): POST /update (download + rebuild + helper started): {:.1?}",
        start.elapsed()
    );
    assert_eq!(status, 200, "{body}");
    let took = wait_version(port, expect, Duration::from_secs(240));
    (root, took, body)
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, updates under wine"
)]
fn update_portable_windows_under_wine() {
    let s = shared();
    s.publish(&[(&s.v1, false), (&s.v2, false)]);
    let prefix = WinePrefix::new();
    let (root, took, body) = windows_portable_update(&s, &prefix, "0.2.0");
    assert!(body.contains("\"update\":\"v0.2.0\""), "{body}");
    let done = wait_for_log(&root, "updated to v0.2.0", Duration::from_secs(60));
    prefix.kill();
    let took = took.unwrap_or_else(|| panic!("v0.2.0 never answered\n{}", helper_log(&root)));
    assert!(done.is_some(), "{}", helper_log(&root));
    eprintln!("portable Windows (wine): apply to v0.2.0 answering: {took:.1?}");
    assert_user_data(&root);
    assert_no_old(&root);
    assert!(root
        .join("python/Lib/site-packages/upd_demo-0.2.0.dist-info")
        .is_dir());
    assert_delta_used(&s, &root, "-win-x64.zip");
}

/// Two threads of the app's own interpreter call `apply()` at once (the
/// same `Update`, released together by a barrier), then the process exits.
const RACE: &str = r#"import json, os, threading
import pyship_update

u = pyship_update.check()
gate = threading.Barrier(2)
out = []


def go():
    gate.wait()
    try:
        pyship_update.apply(u, port=int(os.environ["UPD_PORT"]))
        out.append(["updated", ""])
    except pyship_update.UpdateError as e:
        out.append(["UpdateError", e.message])
    except BaseException as e:
        out.append([type(e).__name__, str(e)])


ts = [threading.Thread(target=go) for _ in range(2)]
for t in ts:
    t.start()
for t in ts:
    t.join()
with open("C:\\race.json", "w") as f:
    json.dump(sorted(out), f)
"#;

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, updates under wine"
)]
fn two_concurrent_applies_give_one_update_and_one_update_error_under_wine() {
    let s = shared();
    s.publish(&[(&s.v1, false), (&s.v2, false)]);
    let prefix = WinePrefix::new();
    let (_, zip) = s.asset(&s.v1, "-win-x64.zip");
    let root = unzip(&zip, &prefix.drive_c().join("portable"));
    user_data(&root);
    let script = prefix.drive_c().join("race.py");
    fs_err::write(&script, RACE).unwrap();
    // The helper starts the new version with this process's environment.
    let port = free_port();
    // The outcome goes to a file: the helper and the app it starts inherit
    // wine's descriptors, so the pipes stay open as long as they run.
    let mut cmd = prefix.command(root.join("python/python.exe"));
    cmd.arg(r"C:\race.py")
        .env("UPD_PORT", port.to_string())
        .current_dir(&root);
    let mut race = Running::spawn(cmd);
    let status = race.child.wait().unwrap();
    let took = wait_version(port, "0.2.0", Duration::from_secs(240));
    let done = wait_for_log(&root, "updated to v0.2.0", Duration::from_secs(60));
    prefix.kill();
    let (so, se) = race.stop();
    let log = helper_log(&root);
    assert!(status.success(), "{so}{se}");
    let text = fs_err::read_to_string(prefix.drive_c().join("race.json")).unwrap();
    let got: Vec<(String, String)> = serde_json::from_str(&text).unwrap();
    assert_eq!(got.len(), 2, "{text}");
    assert_eq!(got[0].0, "UpdateError", "{got:?}");
    assert!(
        got[0].1.contains("another update is already running"),
        "{got:?}"
    );
    assert_eq!(got[1].0, "updated", "{got:?}");
    assert!(
        took.is_some() && done.is_some(),
        "v0.2.0 never answered\n{log}"
    );
    // One helper ran: one update in the log, whole and by delta.
    assert_eq!(log.matches("] update of ").count(), 1, "{log}");
    assert_user_data(&root);
    assert_no_old(&root);
    assert_no_archive(&root);
    assert!(!root.join(".pyship-update/lock").exists(), "{log}");
    assert_delta_used(&s, &root, "-win-x64.zip");
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, updates under wine"
)]
fn rollback_portable_windows_under_wine() {
    let s = shared();
    let (_, good) = s.asset(&s.v2, "-win-x64.zip");
    let broken = s.republished(&s.v2, "-win-x64.zip", broken_zip(&good));
    s.publish(&[(&s.v1, false), (&broken, false)]);
    let prefix = WinePrefix::new();
    let tmp = prefix.drive_c().join("portable");
    let (_, zip) = s.asset(&s.v1, "-win-x64.zip");
    let root = unzip(&zip, &tmp);
    user_data(&root);
    let port = free_port();
    let app = start_windows(&prefix, &root, port);
    if wait_version(port, "0.1.0", Duration::from_secs(180)).is_none() {
        prefix.kill();
        let (so, se) = app.stop();
        panic!("v0.1.0 never answered under wine\n{so}\n{se}");
    }
    let before = tree(&root);
    let (status, body) = http_post(port, "/update");
    assert_eq!(status, 200, "{body}");
    let back = wait_for_log(&root, "rolled back", Duration::from_secs(240))
        .and_then(|_| wait_version(port, "0.1.0", Duration::from_secs(180)));
    prefix.kill();
    let log = helper_log(&root);
    assert!(back.is_some(), "v0.1.0 did not come back\n{log}");
    // The broken version may be seen to exit, or (on a loaded machine) not to
    // come up within the start timeout: either way it rolls back.
    assert!(
        log.contains("the new version exited during start-up")
            || log.contains("the new version did not start within"),
        "{log}"
    );
    assert_eq!(tree(&root), before, "the old version is not byte-identical");
    assert_user_data(&root);
    assert_no_old(&root);
    assert_no_archive(&root);
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, updates under wine"
)]
fn update_installer_under_wine() {
    let s = shared();
    s.publish(&[(&s.v1, false), (&s.v2, false)]);
    let prefix = WinePrefix::new();
    let root = install_setup(&s, &prefix, &s.v1, r"C:\Apps\Upd Demo");
    assert!(root.join("uninstall.exe").is_file(), "not installed");
    user_data(&root);
    let port = free_port();
    let app = start_windows(&prefix, &root, port);
    if wait_version(port, "0.1.0", Duration::from_secs(180)).is_none() {
        prefix.kill();
        let (so, se) = app.stop();
        panic!("v0.1.0 never answered under wine\n{so}\n{se}");
    }
    let (_, body) = http_get(port, "/version").unwrap();
    assert!(body.contains("\"install_type\":\"installer\""), "{body}");
    let start = Instant::now();
    let out = prefix
        .command(root.join("python/python.exe"))
        .args(["-m", "pyship_update", "check"])
        .current_dir(&root)
        .output()
        .unwrap();
    let took_check = start.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("delta from 0.1.0: "), "{text}");
    let start = Instant::now();
    let (status, body) = http_post(port, "/update");
    let took_apply = start.elapsed();
    assert_eq!(status, 200, "{body}");
    let took = wait_version(port, "0.2.0", Duration::from_secs(300));
    let done = wait_for_log(&root, "updated to v0.2.0", Duration::from_secs(60));
    let uninstall = uninstall_entries(&prefix);
    let log = helper_log(&root);
    let took = took.unwrap_or_else(|| {
        prefix.kill();
        panic!("v0.2.0 never answered\n{log}")
    });
    assert!(done.is_some(), "{log}");
    eprintln!(
        "installer (wine): signed check {took_check:.1?}; POST /update (download + rebuild + helper started) {took_apply:.1?}; then v0.2.0 answering after {took:.1?}"
    );
    assert_user_data(&root);
    assert_no_old(&root);
    assert_no_archive(&root);
    assert!(root
        .join("python/Lib/site-packages/upd_demo-0.2.0.dist-info")
        .is_dir());
    assert!(!root
        .join("python/Lib/site-packages/upd_demo-0.1.0.dist-info")
        .exists());
    // By the zip's delta: the setup was not downloaded.
    let (setup_name, _) = s.asset(&s.v2, "-setup.exe");
    let m: serde_json::Value = serde_json::from_slice(&s.v2.assets["manifest.json"]).unwrap();
    let entry = |name: &str| {
        m["assets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap()
            .clone()
    };
    let (zip_name, _) = s.asset(&s.v2, "-win-x64.zip");
    let delta = entry(&setup_name)["delta"].clone();
    assert_eq!(delta, entry(&zip_name)["delta"], "{m}");
    let patch = delta["name"].as_str().expect("the setup has a delta");
    assert!(
        log.contains(&format!("downloaded the delta {patch}")),
        "{log}"
    );
    assert!(log.contains("(installer, by delta)"), "{log}");
    // One Add/Remove Programs entry, at the new version, for this folder.
    let versions: Vec<&str> = uninstall
        .lines()
        .filter(|l| l.trim_start().starts_with("DisplayVersion"))
        .collect();
    assert_eq!(versions.len(), 1, "{uninstall}");
    assert!(versions[0].trim_end().ends_with("0.2.0"), "{uninstall}");
    assert!(log.contains("now says version 0.2.0"), "{log}");
    // The kept setup is still v0.1.0's, noted as such for a later rollback.
    let (_, setup_v1) = s.asset(&s.v1, "-setup.exe");
    assert_eq!(
        fs_err::read(root.join(".pyship-setup/setup.exe")).unwrap(),
        setup_v1
    );
    let note = fs_err::read_to_string(root.join(".pyship-setup/setup-version.txt")).unwrap();
    assert_eq!(note.trim(), format!("{} 0.1.0", hex_sha256(&setup_v1)));
    // The same tree as a fresh install of v0.2.0 by its setup, files and
    // folders (the uninstaller and the kept setup are the installer's own:
    // the v0.1.0 ones stay, and remove the same entries by name).
    let fresh = install_setup(&s, &prefix, &s.v2, r"C:\Apps\Fresh");
    prefix.kill();
    let strip = |t: BTreeMap<String, String>| -> BTreeMap<String, String> {
        t.into_iter()
            .filter(|(k, _)| {
                !k.starts_with("data") && !k.starts_with(".pyship") && k != "uninstall.exe"
            })
            .collect()
    };
    let (mine, want) = (strip(tree(&root)), strip(tree(&fresh)));
    let differ: Vec<&String> = mine
        .keys()
        .chain(want.keys())
        .filter(|k| mine.get(*k) != want.get(*k))
        .collect();
    assert!(
        differ.is_empty(),
        "the updated tree differs from a fresh install: {differ:?}"
    );
    assert_eq!(folders(&root), folders(&fresh));
    let size = delta["size"].as_u64().unwrap();
    let full = s.v2.assets[&setup_name].len();
    eprintln!(
        "installer delta {patch}: {size} bytes = {:.3}% of {setup_name} ({full} bytes)",
        100.0 * size as f64 / full as f64
    );
}

/// Install `v`'s setup silently into `dir` (a Windows path); the folder.
fn install_setup(s: &Shared, prefix: &WinePrefix, v: &Version, dir: &str) -> PathBuf {
    let dl = tempfile::tempdir().unwrap();
    let (setup_name, setup) = s.asset(v, "-setup.exe");
    let setup_path = dl.path().join(&setup_name);
    fs_err::write(&setup_path, setup).unwrap();
    // NSIS reads /D= to the end of its command line, unquoted: a space in
    // the folder goes as two arguments, which wine joins with one space.
    // No pipes: a wine process the setup starts (explorer.exe) inherits
    // them and keeps them open.
    let run = |attempt: u32| {
        let out = dl.path().join(format!("setup{attempt}.out"));
        let err = dl.path().join(format!("setup{attempt}.err"));
        let status = prefix
            .command(&setup_path)
            .arg("/S")
            .args(format!("/D={dir}").split(' '))
            .stdin(std::process::Stdio::null())
            .stdout(fs_err::File::create(&out).unwrap().into_parts().0)
            .stderr(fs_err::File::create(&err).unwrap().into_parts().0)
            .status()
            .unwrap();
        let text = format!(
            "{status:?}\n{}{}",
            fs_err::read_to_string(&out).unwrap_or_default(),
            fs_err::read_to_string(&err).unwrap_or_default()
        );
        (status.success(), text)
    };
    // A silent NSIS setup under wine can exit 1 with no output on a loaded
    // machine: it runs again once in a stopped prefix, and a second failure
    // fails the test with both runs' output.
    let (ok, first) = run(1);
    if !ok {
        eprintln!("setup {} failed once, run again: {first}", v.tag);
        prefix.shutdown();
        let (ok, second) = run(2);
        assert!(ok, "setup {} failed twice:\n{first}\n{second}", v.tag);
    }
    let rel = dir.trim_start_matches(r"C:\").replace('\\', "/");
    prefix.drive_c().join(rel)
}

/// `reg query` of the per-user Add/Remove Programs entries.
fn uninstall_entries(prefix: &WinePrefix) -> String {
    let out = prefix
        .command("reg")
        .args([
            "query",
            r"HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall",
            "/s",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
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

// ------------------------------------------------------------------ held files, folder names

/// A second Windows process that holds a file open the way a virus scanner
/// does (no delete sharing: Windows and wine refuse to delete or rename the
/// file meanwhile). It waits for `wait_for` to exist, opens `file`, writes
/// `held` to `marker`, keeps it open until `until` exists (or 300 s) plus
/// `extra` seconds, then writes `released`. Its interpreter is a copy of
/// v0.1.0 outside the app folder (the helper waits for anything running
/// from the app's own `python\`).
fn hold_file(
    s: &Shared,
    prefix: &WinePrefix,
    file: &str,
    until: &str,
    extra: u32,
    marker: &Path,
) -> Running {
    let holder = prefix.drive_c().join("holder");
    if !holder.join(NAME).is_dir() {
        let (_, zip) = s.asset(&s.v1, "-win-x64.zip");
        unzip(&zip, &holder);
    }
    let script = prefix.drive_c().join("hold.py");
    fs_err::write(
        &script,
        "import os, sys, time\n\
         path, until, extra, marker = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]\n\
         deadline = time.time() + 600\n\
         while True:\n\
         \x20   try:\n\
         \x20       f = open(path, 'rb')\n\
         \x20       break\n\
         \x20   except OSError:\n\
         \x20       if time.time() > deadline: raise\n\
         \x20       time.sleep(0.05)\n\
         open(marker, 'w').write('held')\n\
         deadline = time.time() + 300\n\
         while not os.path.exists(until) and time.time() < deadline:\n\
         \x20   time.sleep(0.1)\n\
         time.sleep(extra)\n\
         f.close()\n\
         open(marker, 'w').write('released')\n",
    )
    .unwrap();
    let mut cmd = prefix.command(holder.join(NAME).join("python/python.exe"));
    cmd.arg(WinePrefix::windows_path(&script))
        .arg(file)
        .arg(until)
        .arg(extra.to_string())
        .arg(WinePrefix::windows_path(marker));
    Running::spawn(cmd)
}

/// No entry of the bundle holds a `.old` or `.failed` folder (the old
/// helper moved the old folder into a new one that a held file kept).
fn assert_not_nested(root: &Path) {
    for e in fs_err::read_dir(root).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            let nested: Vec<String> = fs_err::read_dir(&p)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".old") || n.ends_with(".failed"))
                .collect();
            assert!(
                nested.is_empty(),
                "{} holds {nested:?}\n{}",
                p.display(),
                helper_log(root)
            );
        }
    }
}

/// The Windows path of `root`'s `rel` (`C:\…`).
fn win_path(prefix: &WinePrefix, root: &Path, rel: &str) -> String {
    let inside = root.strip_prefix(prefix.drive_c()).unwrap();
    format!("C:\\{}\\{}", inside.display(), rel).replace('/', "\\")
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, updates under wine"
)]
fn update_portable_windows_from_a_folder_cmd_cannot_quote_under_wine() {
    let s = shared();
    s.publish(&[(&s.v1, false), (&s.v2, false)]);
    let prefix = WinePrefix::new();
    // Every character cmd.exe treats specially, spaces and non-ASCII.
    let tmp = prefix.drive_c().join("Tools (x86) & Co %PATH% ^ ! é");
    let (_, zip) = s.asset(&s.v1, "-win-x64.zip");
    let root = unzip(&zip, &tmp);
    user_data(&root);
    let port = free_port();
    let app = start_windows(&prefix, &root, port);
    if wait_version(port, "0.1.0", Duration::from_secs(180)).is_none() {
        prefix.kill();
        let (so, se) = app.stop();
        panic!("v0.1.0 never answered under wine\n{so}\n{se}");
    }
    let start = Instant::now();
    let (status, body) = http_post(port, "/update");
    assert_eq!(status, 200, "{body}");
    let took = wait_version(port, "0.2.0", Duration::from_secs(240));
    let done = wait_for_log(&root, "updated to v0.2.0", Duration::from_secs(60));
    // The helper's copied runtime is deleted once the helper has exited.
    let runtime = root.join(".pyship-update/runtime");
    let staged = runtime.join("python.exe").is_file() || done.is_some();
    let start_gone = Instant::now();
    while runtime.exists() && start_gone.elapsed() < Duration::from_secs(90) {
        std::thread::sleep(Duration::from_millis(250));
    }
    prefix.kill();
    let log = helper_log(&root);
    let took = took.unwrap_or_else(|| panic!("v0.2.0 never answered\nhelper log:\n{log}"));
    assert!(done.is_some(), "{log}");
    assert!(staged, "{log}");
    assert!(
        !runtime.exists(),
        ".pyship-update/runtime left behind: {:?}",
        fs_err::read_dir(&runtime).map(|d| d.count())
    );
    eprintln!(
        "portable Windows (wine) in {:?}: POST /update to v0.2.0 answering: {took:.1?} ({:.1?} to the log's last line)",
        tmp.file_name().unwrap(),
        start.elapsed()
    );
    assert!(log.contains("Tools (x86) & Co %PATH% ^ ! é"), "{log}");
    assert_user_data(&root);
    assert_no_old(&root);
    assert_no_archive(&root);
    assert!(root
        .join("python/Lib/site-packages/upd_demo-0.2.0.dist-info")
        .is_dir());
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, updates under wine"
)]
fn rollback_with_a_held_file_of_the_new_version_under_wine() {
    let s = shared();
    let (_, good) = s.asset(&s.v2, "-win-x64.zip");
    let broken = s.republished(&s.v2, "-win-x64.zip", broken_zip(&good));
    s.publish(&[(&s.v1, false), (&broken, false)]);
    let prefix = WinePrefix::new();
    let tmp = prefix.drive_c().join("portable");
    let (_, zip) = s.asset(&s.v1, "-win-x64.zip");
    let root = unzip(&zip, &tmp);
    user_data(&root);
    let port = free_port();
    let app = start_windows(&prefix, &root, port);
    if wait_version(port, "0.1.0", Duration::from_secs(180)).is_none() {
        prefix.kill();
        let (so, se) = app.stop();
        panic!("v0.1.0 never answered under wine\n{so}\n{se}");
    }
    let before = tree(&root);
    // A file only v0.2.0 has is held from the moment the swap puts it in
    // place until 15 s after the rollback moved the new python\ aside.
    let marker = prefix.drive_c().join("held.txt");
    let holder = hold_file(
        &s,
        &prefix,
        &win_path(
            &prefix,
            &root,
            r"python\Lib\site-packages\upd_demo-0.2.0.dist-info\METADATA",
        ),
        &win_path(&prefix, &root, "python.failed"),
        15,
        &marker,
    );
    let (status, body) = http_post(port, "/update");
    assert_eq!(status, 200, "{body}");
    let back = wait_for_log(&root, "rolled back", Duration::from_secs(300))
        .and_then(|_| wait_version(port, "0.1.0", Duration::from_secs(180)));
    let log = helper_log(&root);
    let held = fs_err::read_to_string(&marker).unwrap_or_default();
    prefix.kill();
    let (ho, he) = holder.stop();
    assert!(
        back.is_some(),
        "v0.1.0 did not come back\n{log}\nholder: {held}\n{ho}\n{he}"
    );
    assert!(
        log.contains("rolled back; the old version was started again"),
        "{log}"
    );
    assert!(
        held == "released" || held == "held",
        "the file was never held: {held:?}\n{ho}\n{he}\n{log}"
    );
    assert_not_nested(&root);
    assert_eq!(
        tree(&root),
        before,
        "the old version is not byte-identical\n{log}"
    );
    assert_user_data(&root);
    assert_no_old(&root);
    assert_no_archive(&root);
    eprintln!("rollback with a held file (wine), helper log:\n{log}");
    // The rolled-back version is not offered again.
    let prefix2 = &prefix;
    let out = prefix2
        .command(root.join("python/python.exe"))
        .args(["-m", "pyship_update", "check"])
        .current_dir(&root)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    prefix.kill();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("skipped v0.2.0: an update to it was rolled back here"),
        "{text}"
    );
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, updates under wine"
)]
fn update_with_a_held_file_of_the_old_version_under_wine() {
    let s = shared();
    s.publish(&[(&s.v1, false), (&s.v2, false)]);
    let prefix = WinePrefix::new();
    let tmp = prefix.drive_c().join("portable");
    let (_, zip) = s.asset(&s.v1, "-win-x64.zip");
    let root = unzip(&zip, &tmp);
    user_data(&root);
    let port = free_port();
    let app = start_windows(&prefix, &root, port);
    if wait_version(port, "0.1.0", Duration::from_secs(180)).is_none() {
        prefix.kill();
        let (so, se) = app.stop();
        panic!("v0.1.0 never answered under wine\n{so}\n{se}");
    }
    // A DLL of the old runtime is held from before the update until 40 s
    // after the new version is in place: deleting python.old waits for it.
    let marker = prefix.drive_c().join("held.txt");
    let dll = fs_err::read_dir(root.join("python"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|n| n.to_ascii_lowercase().ends_with(".dll"))
        .expect("a DLL in python/");
    let holder = hold_file(
        &s,
        &prefix,
        &win_path(&prefix, &root, &format!("python\\{dll}")),
        &win_path(
            &prefix,
            &root,
            r"python\Lib\site-packages\upd_demo-0.2.0.dist-info",
        ),
        40,
        &marker,
    );
    let mut waited = 0;
    while fs_err::read_to_string(&marker).unwrap_or_default() != "held" && waited < 600 {
        std::thread::sleep(Duration::from_millis(100));
        waited += 1;
    }
    let (status, body) = http_post(port, "/update");
    assert_eq!(status, 200, "{body}");
    let took = wait_version(port, "0.2.0", Duration::from_secs(240));
    let done = wait_for_log(&root, "updated to v0.2.0", Duration::from_secs(120));
    let held = fs_err::read_to_string(&marker).unwrap_or_default();
    prefix.kill();
    let (ho, he) = holder.stop();
    let log = helper_log(&root);
    assert!(took.is_some(), "v0.2.0 never answered\n{log}\n{ho}\n{he}");
    assert!(done.is_some(), "{log}");
    assert_eq!(held, "released", "{log}\n{ho}\n{he}");
    assert_not_nested(&root);
    assert_user_data(&root);
    assert_no_old(&root);
    assert_no_archive(&root);
    eprintln!("update with a held old DLL (wine), helper log:\n{log}");
}

// ------------------------------------------------------------------ staged rollout

/// This install's draw for `tag` as the updater makes it: the first 8 bytes
/// of SHA-256(`id` LF `tag`) as a fraction of 2^64.
fn rollout_draw(id: &str, tag: &str) -> f64 {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(format!("{id}\n{tag}").as_bytes());
    u64::from_be_bytes(d[..8].try_into().unwrap()) as f64 / 2f64.powi(64)
}

/// An install id whose draw for `tag` is below `fraction` (`inside`) or not.
fn rollout_id(tag: &str, fraction: f64, inside: bool) -> String {
    (1u64..)
        .map(|n| format!("{:032x}", n * 7919))
        .find(|id| (rollout_draw(id, tag) < fraction) == inside)
        .unwrap()
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, then publishes one again"
)]
fn a_staged_rollout_is_offered_to_its_fraction_of_installs() {
    let s = shared();
    s.publish(&[(&s.v1, false)]);
    // v0.2.0's files as `release` built them, published with `--rollout`.
    let out_dir = tempfile::tempdir().unwrap();
    for (name, data) in &s.v2.assets {
        if !["manifest.json", "manifest.json.minisig", "SHA256SUMS"].contains(&name.as_str()) {
            fs_err::write(out_dir.path().join(name), data).unwrap();
        }
    }
    let publish = |extra: &[&str]| {
        pyship(&s.cache)
            .current_dir(&s.dir)
            .env("GITHUB_SERVER_URL", s.gitea.url())
            .env("GITHUB_REPOSITORY", REPO)
            .env("DEPLOY_TOKEN", WRITE_TOKEN)
            .env(
                "PYSHIP_SIGNING_KEY",
                fs_err::read_to_string(&s.key).unwrap(),
            )
            .env("PYSHIP_RETRY_BASE_MS", "5")
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args(["pyship", "publish", "--version", "0.2.0", "--out"])
            .arg(out_dir.path())
            .args(extra)
            .output()
            .unwrap()
    };
    for bad in ["0", "1.5", "-1", "a quarter"] {
        let out = publish(&[&format!("--rollout={bad}")]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "--rollout {bad} was accepted");
        assert!(err.contains("--rollout"), "{err}");
    }
    assert!(
        s.gitea.release(REPO, "v0.2.0").is_none(),
        "a refused --rollout published"
    );
    let out = publish(&["--rollout", "0.25"]);
    assert!(
        out.status.success(),
        "publish --rollout 0.25: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rel = s.gitea.release(REPO, "v0.2.0").expect("published");
    let asset = |name: &str| {
        rel.assets
            .iter()
            .find(|a| a.name == name)
            .unwrap_or_else(|| panic!("{name} missing"))
            .data
            .clone()
    };
    let manifest = asset("manifest.json");
    let m: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(m["rollout"], serde_json::json!(0.25), "{m}");
    let (ok, text) = minisign_verify(&s.public_key, &manifest, &asset("manifest.json.minisig"));
    assert!(ok, "the staged manifest is signed: {text}");

    let tmp = tempfile::tempdir().unwrap();
    let (_, tarball) = s.asset(&s.v1, "-linux-x64.tar.gz");
    let root = untar(&tarball, tmp.path());
    let id_file = root.join(".pyship-install-id");
    // A fresh install makes its id on its first check, next to the app.
    let (code, _, err, _) = cli(&root, &["check"]);
    assert_eq!(code, 0, "{err}");
    let id = fs_err::read_to_string(&id_file).unwrap();
    assert!(
        id.trim().len() == 32 && id.trim().bytes().all(|b| b.is_ascii_hexdigit()),
        "{id:?}"
    );
    assert!(!root.join("data/.pyship-install-id").exists());

    let outside = rollout_id("v0.2.0", 0.25, false);
    fs_err::write(&id_file, format!("{outside}\n")).unwrap();
    let (code, stdout, err, took) = cli(&root, &["check"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        stdout.contains("no newer stable release than v0.1.0")
            && stdout.contains(
                "skipped v0.2.0: it is rolled out to 25% of installs so far and this one (draw "
            ),
        "{stdout}"
    );
    eprintln!("rollout: check outside the fraction: {took:.1?}\n{stdout}");
    let before = tree(&root);

    let inside = rollout_id("v0.2.0", 0.25, true);
    fs_err::write(&id_file, format!("{inside}\n")).unwrap();
    let (code, stdout, err, _) = cli(&root, &["check"]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("release v0.2.0"), "{stdout}");
    assert!(!stdout.contains("skipped"), "{stdout}");

    // Widened to every install by publishing again.
    let out = publish(&["--rollout", "1"]);
    assert!(
        out.status.success(),
        "publish --rollout 1: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rel = s.gitea.release(REPO, "v0.2.0").expect("published");
    let m: serde_json::Value = serde_json::from_slice(
        &rel.assets
            .iter()
            .find(|a| a.name == "manifest.json")
            .unwrap()
            .data,
    )
    .unwrap();
    assert!(m.get("rollout").is_none(), "{m}");
    fs_err::write(&id_file, format!("{outside}\n")).unwrap();
    let (code, stdout, err, _) = cli(&root, &["check"]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("release v0.2.0"), "{stdout}");
    // Checking changed nothing in the bundle but the id this test wrote.
    fs_err::write(&id_file, format!("{outside}\n")).unwrap();
    assert_eq!(tree(&root), before);
}

// ------------------------------------------------------------------ delta fallbacks

/// v0.2.0's Linux patch with `edit` applied to each object it carries,
/// published as a signed release (manifest and SHA256SUMS made to match the
/// new patch bytes): a patch its signer made wrong.
fn with_patch(s: &Shared, v: &Version, edit: impl Fn(&mut Vec<u8>), base: Option<&str>) -> Version {
    with_patch_of(s, v, "portable-linux", edit, base)
}

/// [`with_patch`] for the patch of install type `kind` (the Windows zip's
/// patch is the setup's too: both entries are edited).
fn with_patch_of(
    s: &Shared,
    v: &Version,
    kind: &str,
    edit: impl Fn(&mut Vec<u8>),
    base: Option<&str>,
) -> Version {
    let m: serde_json::Value = serde_json::from_slice(&v.assets["manifest.json"]).unwrap();
    let entry = m["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["install_type"] == kind)
        .unwrap()
        .clone();
    let name = entry["delta"]["name"].as_str().unwrap().to_owned();
    let mut t = tar::Archive::new(flate2::read::GzDecoder::new(&v.assets[&name][..]));
    let mut out = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for e in t.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        if path.starts_with("delta/objects/") && e.header().entry_type().is_file() {
            edit(&mut data);
        }
        let mut h = e.header().clone();
        h.set_size(data.len() as u64);
        h.set_cksum();
        out.append(&h, &data[..]).unwrap();
    }
    let patch = out.into_inner().unwrap().finish().unwrap();
    let sha = hex_sha256(&patch);
    let size = patch.len();
    let mut edited = v.clone();
    edited.assets.insert(name.clone(), patch);
    resigned(&edited, &s.key, |m| {
        for a in m["assets"].as_array_mut().unwrap() {
            if a["delta"]["name"] == name.as_str() {
                a["delta"]["sha256"] = sha.clone().into();
                a["delta"]["size"] = size.into();
                if let Some(b) = base {
                    a["delta"]["base"] = b.into();
                }
            }
        }
    })
}

/// v0.1.0 (Linux) updated through `/update` to `v`; the helper log.
fn linux_update_to(s: &Shared, v: &Version) -> (PathBuf, tempfile::TempDir, String) {
    s.publish(&[(&s.v1, false), (v, false)]);
    let tmp = tempfile::tempdir().unwrap();
    let (_, tarball) = s.asset(&s.v1, "-linux-x64.tar.gz");
    let root = untar(&tarball, tmp.path());
    user_data(&root);
    let port = free_port();
    let app = start_linux(&root, port);
    let first = wait_version(port, "0.1.0", Duration::from_secs(60));
    let (status, body) = http_post(port, "/update");
    let took = wait_version(port, "0.2.0", Duration::from_secs(120));
    let done = wait_for_log(&root, "updated to v0.2.0", Duration::from_secs(60));
    let (so, se) = app.stop();
    stop_linux_helper_app(&root);
    let log = helper_log(&root);
    assert!(first.is_some(), "v0.1.0 never answered\n{so}\n{se}");
    assert_eq!(status, 200, "{body}\n{se}");
    assert!(
        took.is_some() && done.is_some(),
        "v0.2.0 never answered\n{log}"
    );
    assert_user_data(&root);
    assert_no_old(&root);
    assert_no_archive(&root);
    (root, tmp, log)
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, updates three times"
)]
fn a_delta_for_another_base_or_that_does_not_verify_falls_back_to_the_full_archive() {
    let s = shared();
    let (_, full) = s.asset(&s.v2, "-linux-x64.tar.gz");
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = untar(&full, fresh_dir.path());
    let same_as_fresh = |root: &Path| {
        let strip = |t: BTreeMap<String, String>| -> BTreeMap<String, String> {
            t.into_iter()
                .filter(|(k, _)| !k.starts_with("data") && !k.starts_with(".pyship"))
                .collect()
        };
        assert_eq!(strip(tree(root)), strip(tree(&fresh)));
    };
    // Another base: not even downloaded.
    let other = with_patch(&s, &s.v2, |_| {}, Some("0.0.9"));
    let (root, _keep, log) = linux_update_to(&s, &other);
    assert!(
        log.contains("the delta applies to '0.0.9', not to this version ('0.1.0'); downloaded the full archive"),
        "{log}"
    );
    same_as_fresh(&root);
    // Carried files whose content is not what the index says.
    let bad = with_patch(&s, &s.v2, |d| d.extend_from_slice(b"\n# changed\n"), None);
    let (root, _keep, log) = linux_update_to(&s, &bad);
    assert!(log.contains("the delta was not used ("), "{log}");
    assert!(
        log.contains("is not the release's (SHA-256 or size differs)"),
        "{log}"
    );
    same_as_fresh(&root);
    // A patch cut short on the server: its SHA-256 does not match.
    let mut cut = s.v2.clone();
    let name = cut
        .assets
        .keys()
        .find(|n| n.contains("linux-x64-delta-from-"))
        .unwrap()
        .clone();
    let bytes = cut.assets[&name].clone();
    let mut damaged = bytes.clone();
    let mid = damaged.len() / 2;
    damaged[mid] ^= 0xff;
    cut.assets.insert(name, damaged);
    let (root, _keep, log) = linux_update_to(&s, &cut);
    assert!(log.contains("the delta was not used ("), "{log}");
    assert!(log.contains("does not match its SHA-256"), "{log}");
    same_as_fresh(&root);
}

// ------------------------------------------------------------------ installer rollback

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases three versions, installs and updates under wine"
)]
fn an_installed_app_updated_to_a_broken_release_is_reinstalled_at_the_old_version_under_wine() {
    let s = shared();
    // v0.2.5, released by `release` from a commit whose app exits at start-up.
    let main = s.dir.join("python/src/upd_demo/__main__.py");
    fs_err::write(&main, BROKEN_MAIN).unwrap();
    git(&s.dir, &["commit", "-q", "-am", "v0.2.5 exits at start-up"]);
    git(&s.dir, &["tag", "v0.2.5"]);
    s.publish(&[(&s.v1, false), (&s.v2, false)]);
    let out = pyship(&s.cache)
        .current_dir(&s.dir)
        .env("PYSHIP_PYTHON_MIRROR", &s.mirror)
        .env("GITHUB_SERVER_URL", s.gitea.url())
        .env("GITHUB_REPOSITORY", REPO)
        .env("GITHUB_REF_NAME", "v0.2.5")
        .env("GITHUB_REF_TYPE", "tag")
        .env("DEPLOY_TOKEN", WRITE_TOKEN)
        .env(
            "PYSHIP_SIGNING_KEY",
            fs_err::read_to_string(&s.key).unwrap(),
        )
        .env("PYSHIP_RETRY_BASE_MS", "5")
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["pyship", "release", "--only", "windows,publish"])
        .output()
        .unwrap();
    // The project as the other tests know it.
    git(&s.dir, &["tag", "-d", "v0.2.5"]);
    git(&s.dir, &["reset", "-q", "--hard", "HEAD~1"]);
    let _ = fs_err::remove_dir_all(s.dir.join("dist"));
    assert!(
        out.status.success(),
        "release v0.2.5 failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rel = s.gitea.release(REPO, "v0.2.5").expect("released");
    let broken = Version {
        tag: "v0.2.5".into(),
        assets: rel
            .assets
            .iter()
            .map(|a| (a.name.clone(), a.data.clone()))
            .collect(),
    };
    s.publish(&[(&s.v1, false), (&broken, false)]);

    let prefix = WinePrefix::new();
    let dl = tempfile::tempdir().unwrap();
    let (setup_name, setup) = s.asset(&s.v1, "-setup.exe");
    let setup_path = dl.path().join(&setup_name);
    fs_err::write(&setup_path, &setup).unwrap();
    let mut cmd = prefix.command(&setup_path);
    cmd.args(["/S", r"/D=C:\Apps\Upd", "Demo"]);
    assert!(
        cmd.output().unwrap().status.success(),
        "setup v0.1.0 failed"
    );
    let root = prefix.drive_c().join("Apps/Upd Demo");
    // The installer keeps its own setup for the updater.
    assert_eq!(
        fs_err::read(root.join(".pyship-setup/setup.exe")).unwrap(),
        setup,
        "the kept setup is v0.1.0's"
    );
    user_data(&root);
    let port = free_port();
    let app = start_windows(&prefix, &root, port);
    if wait_version(port, "0.1.0", Duration::from_secs(180)).is_none() {
        prefix.kill();
        let (so, se) = app.stop();
        panic!("v0.1.0 never answered under wine\n{so}\n{se}");
    }
    let start = Instant::now();
    let (status, body) = http_post(port, "/update");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"update\":\"v0.2.5\""), "{body}");
    let back = wait_for_log(&root, "rolled back", Duration::from_secs(420))
        .and_then(|_| wait_version(port, "0.1.0", Duration::from_secs(180)));
    let took = start.elapsed();
    let log = helper_log(&root);
    let check = prefix
        .command(root.join("python/python.exe"))
        .args(["-m", "pyship_update", "check"])
        .current_dir(&root)
        .output()
        .unwrap();
    let uninstall = prefix
        .command("reg")
        .args([
            "query",
            r"HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall",
            "/s",
        ])
        .output()
        .unwrap();
    prefix.kill();
    assert!(back.is_some(), "v0.1.0 did not come back\n{log}");
    eprintln!("installer (wine): update to a broken v0.2.5 → v0.1.0 reinstalled and answering: {took:.1?}");
    // v0.2.5's delta is from v0.2.0: the full setup is downloaded.
    assert!(
        log.contains("the delta applies to '0.2.0', not to this version ('0.1.0'); downloaded the full setup"),
        "{log}"
    );
    assert!(
        log.contains("the new version did not come up; reinstalling the previous version"),
        "{log}"
    );
    assert!(
        log.contains("rolled back; the previous version was reinstalled and started again"),
        "{log}"
    );
    assert_user_data(&root);
    assert!(root
        .join("python/Lib/site-packages/upd_demo-0.1.0.dist-info")
        .is_dir());
    assert!(!root
        .join("python/Lib/site-packages/upd_demo-0.2.5.dist-info")
        .exists());
    assert_eq!(
        fs_err::read(root.join(".pyship-setup/setup.exe")).unwrap(),
        setup,
        "the kept setup is v0.1.0's again"
    );
    // One Add/Remove Programs entry, at the old version.
    let reg = String::from_utf8_lossy(&uninstall.stdout);
    let versions: Vec<&str> = reg
        .lines()
        .filter(|l| l.trim_start().starts_with("DisplayVersion"))
        .collect();
    assert_eq!(versions.len(), 1, "{reg}");
    assert!(versions[0].trim_end().ends_with("0.1.0"), "{reg}");
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(
        text.contains("skipped v0.2.5: an update to it was rolled back here"),
        "{text}{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, installs and updates under wine"
)]
fn an_installed_app_whose_delta_does_not_verify_runs_the_full_setup_under_wine() {
    let s = shared();
    let bad = with_patch_of(
        &s,
        &s.v2,
        "portable-windows",
        |d| d.extend_from_slice(b"\n# changed\n"),
        None,
    );
    s.publish(&[(&s.v1, false), (&bad, false)]);
    let prefix = WinePrefix::new();
    let root = install_setup(&s, &prefix, &s.v1, r"C:\Apps\Upd Demo");
    user_data(&root);
    let port = free_port();
    let app = start_windows(&prefix, &root, port);
    if wait_version(port, "0.1.0", Duration::from_secs(180)).is_none() {
        prefix.kill();
        let (so, se) = app.stop();
        panic!("v0.1.0 never answered under wine\n{so}\n{se}");
    }
    let (status, body) = http_post(port, "/update");
    assert_eq!(status, 200, "{body}");
    let took = wait_version(port, "0.2.0", Duration::from_secs(300));
    let done = wait_for_log(&root, "updated to v0.2.0", Duration::from_secs(60));
    let uninstall = uninstall_entries(&prefix);
    prefix.kill();
    let log = helper_log(&root);
    assert!(
        took.is_some() && done.is_some(),
        "v0.2.0 never answered\n{log}"
    );
    assert!(log.contains("the delta was not used ("), "{log}");
    assert!(
        log.contains("is not the release's (SHA-256 or size differs)); downloaded the full setup"),
        "{log}"
    );
    assert!(log.contains("(installer)"), "{log}");
    assert_user_data(&root);
    let versions: Vec<&str> = uninstall
        .lines()
        .filter(|l| l.trim_start().starts_with("DisplayVersion"))
        .collect();
    assert_eq!(versions.len(), 1, "{uninstall}");
    assert!(versions[0].trim_end().ends_with("0.2.0"), "{uninstall}");
    // The full setup replaced the kept one: it installs v0.2.0.
    let (_, setup_v2) = s.asset(&s.v2, "-setup.exe");
    assert_eq!(
        fs_err::read(root.join(".pyship-setup/setup.exe")).unwrap(),
        setup_v2
    );
}
