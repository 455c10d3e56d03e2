//! `cargo pyship release`, the one CI step, end to end: on a tagged commit with
//! CI variables pointing at the test Gitea server, it stamps the version, builds
//! the Windows zip, the installer and the Linux tarball from local test data,
//! writes manifest.json, and publishes everything with SHA256SUMS last. A second
//! run converges on the same release with one asset per name; `--dry-run`
//! changes nothing. Signing is configured (a PKCS#12 file made by openssl):
//! the published installer carries a signature, the SBOMs are assets listed
//! in SHA256SUMS and manifest.json, and the bundles carry the licence file.

use std::path::{Path, PathBuf};

use super::support::*;
use predicates::prelude::*;
use pyship_e2e::gitea::{GiteaServer, REPO, WRITE_TOKEN};
use pyship_e2e::http::StaticServer;

pub(super) const TAG: &str = "v0.4.0-rc.1";
const RUNTIME_FILE: &str = "cpython-3.11.9-test-x86_64-unknown-linux-gnu-install_only.tar.gz";

pub(super) struct Servers {
    pub(super) gitea: GiteaServer,
    _mirror_dir: tempfile::TempDir,
    mirror: StaticServer,
    wheels: StaticServer,
    _runtime_file: tempfile::TempDir,
    runtime: StaticServer,
    cert_dir: tempfile::TempDir,
    cert: pyship_e2e::trust::TestCert,
}

pub(super) const SIGN_PASSWORD_ENV: &str = "PYSHIP_TEST_SIGN_PASSWORD";

impl Servers {
    /// The Python mirror's URL (`PYSHIP_PYTHON_MIRROR`).
    pub(super) fn python_mirror_url(&self) -> String {
        self.mirror.url()
    }

    /// The code-signing certificate's password.
    pub(super) fn sign_password(&self) -> String {
        self.cert.password.clone()
    }
}

pub(super) fn servers() -> Servers {
    let (mirror_dir, mirror) = pyship_e2e::testdata::python_mirror();
    let (runtime_file, runtime) = pyship_e2e::pbs::serve(RUNTIME_FILE);
    let cert_dir = tempfile::tempdir().unwrap();
    let cert = pyship_e2e::trust::make_cert(cert_dir.path(), "release-test-password");
    Servers {
        cert_dir,
        cert,
        gitea: GiteaServer::start(),
        mirror,
        _mirror_dir: mirror_dir,
        wheels: StaticServer::start(pyship_e2e::testdata::wheelhouse()),
        _runtime_file: runtime_file,
        runtime,
    }
}

/// The hello fixture as a tagged git repository, configured for the local data.
pub(super) fn project(s: &Servers) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = copy_fixture("hello");
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap().replacen(
        "port = 8765\n",
        &format!(
            "port = 8765\nno-index = true\nfind-links = [\"{}/\"]\n",
            s.wheels.url()
        ),
        1,
    );
    let runtime_url = format!(
        "{}/cpython-{{version}}-test-x86_64-unknown-linux-gnu-install_only.tar.gz",
        s.runtime.url()
    );
    // The certificate as a file of the project (`pkcs12 = "path"`).
    fs_err::create_dir_all(dir.join("certs")).unwrap();
    fs_err::copy(&s.cert.p12, dir.join("certs/codesign.p12")).unwrap();
    assert!(s.cert_dir.path().is_dir());
    fs_err::write(
        &manifest,
        format!("{text}\n[package.metadata.pyship.linux]\nruntime-url = \"{runtime_url}\"\n\n[package.metadata.pyship.windows.sign]\npkcs12 = \"certs/codesign.p12\"\npassword-env = \"{SIGN_PASSWORD_ENV}\"\n"),
    )
    .unwrap();
    fs_err::write(dir.join(".gitignore"), "dist/\ntarget/\n").unwrap();
    git_init_commit(&dir);
    git(&dir, &["tag", TAG]);
    (tmp, dir)
}

pub(super) fn release(s: &Servers, dir: &Path, cache: &Path) -> assert_cmd::Command {
    assert_cmd::Command::from_std(release_command(s, dir, cache))
}

/// [`release`] as a [`std::process::Command`].
fn release_command(s: &Servers, dir: &Path, cache: &Path) -> std::process::Command {
    require_tool("uv", "`pip install uv` (PyPI package `uv`)");
    require_tool("makensis", "`apt-get install nsis` (Debian package `nsis`)");
    let mut c = pyship_command(cache);
    c.current_dir(dir)
        .env("PYSHIP_PYTHON_MIRROR", s.mirror.url())
        .env("GITHUB_SERVER_URL", s.gitea.url())
        .env("GITHUB_REPOSITORY", REPO)
        .env("GITHUB_REF_NAME", TAG)
        .env("GITHUB_REF_TYPE", "tag")
        .env("DEPLOY_TOKEN", WRITE_TOKEN)
        .env("PYSHIP_RETRY_BASE_MS", "5")
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env(SIGN_PASSWORD_ENV, &s.cert.password)
        .args(["pyship", "release"]);
    c
}

const ASSETS: &[&str] = &[
    "Hello-App-v0.4.0-rc.1-linux-x64.cdx.json",
    "Hello-App-v0.4.0-rc.1-linux-x64.tar.gz",
    "Hello-App-v0.4.0-rc.1-setup.exe",
    "Hello-App-v0.4.0-rc.1-win-x64.cdx.json",
    "Hello-App-v0.4.0-rc.1-win-x64.zip",
    "SHA256SUMS",
    "manifest.json",
];

fn assert_release(s: &Servers, dir: &Path) {
    let rel = s.gitea.release(REPO, TAG).expect("the release exists");
    assert!(!rel.is_tag && rel.prerelease, "a real pre-release: {rel:?}");
    let mut names: Vec<&str> = rel.assets.iter().map(|a| a.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ASSETS, "one asset per name");
    let dist = dir.join("dist");
    for a in &rel.assets {
        assert_eq!(
            a.data,
            fs_err::read(dist.join(&a.name)).unwrap(),
            "{}",
            a.name
        );
    }
    // SHA256SUMS covers every other artifact.
    let sums = fs_err::read_to_string(dist.join("SHA256SUMS")).unwrap();
    for name in ASSETS.iter().filter(|n| **n != "SHA256SUMS") {
        let line = format!("{}  {name}", sha256_file(&dist.join(name)));
        assert!(sums.lines().any(|l| l == line), "{line} missing:\n{sums}");
    }
    // The last upload is SHA256SUMS.
    let uploads: Vec<_> = s
        .gitea
        .writes()
        .into_iter()
        .filter(|l| l.method == "POST" && l.path.ends_with("/assets"))
        .collect();
    assert!(
        uploads.last().unwrap().query.contains("SHA256SUMS"),
        "{uploads:?}"
    );
    // manifest.json names the artifacts by platform and install type.
    let m: serde_json::Value =
        serde_json::from_slice(&fs_err::read(dist.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["version"]["pep440"], "0.4.0rc1", "{m}");
    let sboms: Vec<&str> = m["sboms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        sboms,
        [
            "Hello-App-v0.4.0-rc.1-win-x64.cdx.json",
            "Hello-App-v0.4.0-rc.1-linux-x64.cdx.json"
        ],
        "{m}"
    );
    // The published installer is signed with the configured certificate.
    let setup = rel
        .assets
        .iter()
        .find(|a| a.name.ends_with("-setup.exe"))
        .unwrap();
    let downloaded = tempfile::tempdir().unwrap();
    let exe = downloaded.path().join("setup.exe");
    fs_err::write(&exe, &setup.data).unwrap();
    let (ok, out) = pyship_e2e::trust::verify(&exe, &s.cert.cert_pem);
    assert!(ok, "the published installer does not verify:\n{out}");
    // Both bundles carry the licence file at the top of their folder.
    let zip = rel
        .assets
        .iter()
        .find(|a| a.name.ends_with(".zip"))
        .unwrap();
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(zip.data.clone())).unwrap();
    assert!(z.by_name("Hello-App/THIRD-PARTY-LICENSES.txt").is_ok());
    let tgz = rel
        .assets
        .iter()
        .find(|a| a.name.ends_with(".tar.gz"))
        .unwrap();
    let mut t = tar::Archive::new(flate2::read::GzDecoder::new(&tgz.data[..]));
    assert!(t
        .entries()
        .unwrap()
        .any(|e| e.unwrap().path().unwrap().to_string_lossy()
            == "Hello-App/THIRD-PARTY-LICENSES.txt"));
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: builds every target and the installer"
)]
fn release_builds_everything_and_publishes_idempotently() {
    let s = servers();
    let (_t, dir) = project(&s);
    let cache = tempfile::tempdir().unwrap();

    // Dry run first: no write request, nothing stamped, nothing built.
    let py = dir.join("python/pyproject.toml");
    let before = fs_err::read(&py).unwrap();
    release(&s, &dir, cache.path())
        .arg("--dry-run")
        .assert()
        .success()
        .stdout(predicate::str::contains("publish"));
    assert!(s.gitea.writes().is_empty(), "{:?}", s.gitea.writes());
    assert_eq!(fs_err::read(&py).unwrap(), before);
    assert!(!dir.join("dist").exists());

    let out = release(&s, &dir, cache.path())
        .args(["--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).expect("one JSON document");
    // What signing, the licence file and the SBOMs cost in this release
    // (README, Performance): the bundle stages and the installer's signing.
    for b in v["bundles"].as_array().unwrap() {
        eprintln!(
            "bundle {} {}s: {}",
            b["platform"], b["seconds"], b["stages"]
        );
    }
    eprintln!(
        "installer: makensis {}s (uninstaller signing included), signing {}s",
        v["installer"]["makensis_seconds"], v["installer"]["sign_seconds"]
    );
    assert_eq!(v["tag"], TAG);
    assert_eq!(v["prerelease"], true);
    assert!(v["url"].as_str().unwrap().contains("/releases/tag/"), "{v}");
    assert_eq!(v["assets"].as_array().unwrap().len(), ASSETS.len(), "{v}");
    assert!(fs_err::read_to_string(&py)
        .unwrap()
        .contains("version = \"0.4.0rc1\""));
    assert_release(&s, &dir);
    let id = s.gitea.release(REPO, TAG).unwrap().id;

    // Again: the same release, still one asset per name.
    release(&s, &dir, cache.path()).assert().success();
    assert_eq!(s.gitea.release(REPO, TAG).unwrap().id, id);
    assert_release(&s, &dir);
}

/// A release that fails before it publishes puts back the files it stamped:
/// here the app cannot be imported, so the Linux bundle's import check fails
/// after the stamp. The project is left as it was, and so it is when the
/// release is stopped by a signal after the stamp; the release is not made.
/// Start `release --only linux` and read its stderr until it stamped:
/// (the process, what it wrote so far, what it writes after).
fn stamped(
    mut cmd: std::process::Command,
) -> (std::process::Child, String, std::thread::JoinHandle<String>) {
    let mut child = cmd
        .args(["--only", "linux"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stderr.take().unwrap()));
    let mut seen = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("Stamped") {
            break;
        }
    }
    assert!(seen.contains("Stamped"), "{seen}");
    let rest =
        std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>().join("\n"));
    (child, seen, rest)
}

/// `kill -NAME` the child.
fn signal(child: &std::process::Child, name: &str) {
    assert!(std::process::Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap()
        .success());
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: builds the Linux bundle"
)]
fn a_release_that_fails_before_publishing_puts_the_stamped_files_back() {
    let s = servers();
    let (_t, dir) = project(&s);
    let init = dir.join("python/src/hello_app/__init__.py");
    let mut code = fs_err::read_to_string(&init).unwrap();
    code.push_str("import hello_app_has_no_such_module\n");
    fs_err::write(&init, code).unwrap();
    git(&dir, &["commit", "-qam", "an app that cannot be imported"]);
    git(&dir, &["tag", "-f", TAG]);
    let files = ["python/pyproject.toml", "Cargo.toml", "Cargo.lock"];
    let before: Vec<Vec<u8>> = files
        .iter()
        .map(|f| fs_err::read(dir.join(f)).unwrap())
        .collect();
    let cache = tempfile::tempdir().unwrap();
    let unchanged = |when: &str| {
        for (f, was) in files.iter().zip(&before) {
            assert_eq!(
                &fs_err::read(dir.join(f)).unwrap(),
                was,
                "{f} was not put back {when}"
            );
        }
    };

    // Stopped by a signal once stamped: the handler puts the files back.
    let (mut child, seen, rest) = stamped(release_command(&s, &dir, cache.path()));
    assert_ne!(
        fs_err::read(dir.join(files[0])).unwrap(),
        before[0],
        "stamped"
    );
    signal(&child, "TERM");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "{seen}{}", rest.join().unwrap());
    unchanged("after SIGTERM");

    // Killed once stamped, when no handler runs: the files stay stamped, and
    // the journal in the output folder says what they were.
    let journal = dir.join("dist/.pyship-stamped.json");
    let (mut child, seen, _) = stamped(release_command(&s, &dir, cache.path()));
    signal(&child, "KILL");
    child.wait().unwrap();
    assert_ne!(
        fs_err::read(dir.join(files[0])).unwrap(),
        before[0],
        "{seen}"
    );
    assert!(journal.is_file(), "{seen}");

    let out = release(&s, &dir, cache.path())
        .args(["--only", "linux"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    // The next release puts them back before it stamps again.
    assert!(
        stderr.contains(
            "pyproject.toml (an earlier release was stopped before it could put it back)"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("Stamped"), "{stderr}");
    assert!(stderr.contains("hello_app_has_no_such_module"), "{stderr}");
    assert!(
        stderr.contains("Restored") && stderr.contains("pyproject.toml (the release failed)"),
        "{stderr}"
    );
    unchanged("after the failure");
    assert!(!journal.exists());
    // Only the lock of what was resolved is new, as cargo keeps a Cargo.lock
    // written by a build that failed.
    assert_eq!(
        git(&dir, &["status", "--porcelain"]).trim(),
        "?? pyship.lock",
        "the checkout is otherwise clean"
    );
    assert!(s.gitea.release(pyship_e2e::gitea::REPO, TAG).is_none());
}
