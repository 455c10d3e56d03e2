//! Trust: an Authenticode-signed installer (and uninstaller) made on Linux
//! with osslsigncode and a certificate made by openssl in the test, the
//! CycloneDX SBOM of the hello bundle checked against the official schema,
//! the licence file, and secrets kept out of every output.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use super::support::*;
use pyship_e2e::gitea::{GiteaServer, REPO, WRITE_TOKEN};
use pyship_e2e::http::StaticServer;
use pyship_e2e::trust::{make_cert, validate_cyclonedx, verify, TestCert};
use pyship_e2e::wine::WinePrefix;

const EMBED: &str = "python-3.11.9-embed-amd64.zip";
const P12_ENV: &str = "PYSHIP_TEST_SIGN_P12";
const PW_ENV: &str = "PYSHIP_TEST_SIGN_PASSWORD";
const PASSWORD: &str = "Tr0ub4dor&3-not-in-any-log";

fn mirror() -> (tempfile::TempDir, StaticServer) {
    let root = tempfile::tempdir().unwrap();
    fs_err::create_dir_all(root.path().join("3.11.9")).unwrap();
    fs_err::copy(
        pyship_e2e::testdata::embed_python_dir().join(EMBED),
        root.path().join("3.11.9").join(EMBED),
    )
    .unwrap();
    let server = StaticServer::start(root.path());
    (root, server)
}

/// The hello fixture with local wheels and `[…windows.sign]` from the environment.
fn signed_hello(wheels: &StaticServer, extra_sign: &str) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = copy_fixture("hello");
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap().replacen(
        "port = 8765\n",
        &format!(
            "port = 8765\nno-index = true\nfind-links = [\"{}/\"]\n",
            wheels.url()
        ),
        1,
    );
    fs_err::write(
        &manifest,
        format!(
            "{text}\n[package.metadata.pyship.windows.sign]\npkcs12-env = \"{P12_ENV}\"\npassword-env = \"{PW_ENV}\"\ntimestamp-url = \"\"\n{extra_sign}"
        ),
    )
    .unwrap();
    (tmp, dir)
}

fn listing(dir: &Path) -> BTreeSet<String> {
    fs_err::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// `name@version` of each dist-info in `site_packages`, names PEP 503-normalized.
fn installed(site_packages: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for name in listing(site_packages) {
        if !name.ends_with(".dist-info") {
            continue;
        }
        let meta = fs_err::read_to_string(site_packages.join(&name).join("METADATA")).unwrap();
        let field = |k: &str| {
            meta.lines()
                .find_map(|l| l.strip_prefix(k))
                .unwrap()
                .trim()
                .to_owned()
        };
        out.insert(format!(
            "{}@{}",
            normalize(&field("Name:")),
            field("Version:")
        ));
    }
    out
}

fn normalize(name: &str) -> String {
    let mut o = String::new();
    for part in name.split(['-', '_', '.']).filter(|p| !p.is_empty()) {
        if !o.is_empty() {
            o.push('-');
        }
        o.push_str(&part.to_ascii_lowercase());
    }
    o
}

fn assert_no_secret(what: &str, text: &str, cert: &TestCert) {
    assert!(
        !text.contains(&cert.password),
        "{what} contains the signing password"
    );
    let b64 = cert.p12_base64();
    for chunk in b64
        .as_bytes()
        .chunks(24)
        .map(|c| String::from_utf8_lossy(c).into_owned())
    {
        if chunk.len() == 24 {
            assert!(
                !text.contains(&chunk),
                "{what} contains part of the certificate's base64: {chunk}"
            );
        }
    }
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: bundles, signs and builds the installer"
)]
fn signed_installer_sbom_and_licences_for_hello() {
    require_tool("makensis", "`apt-get install nsis` (Debian package `nsis`)");
    require_tool("uv", "`pip install uv` (PyPI package `uv`)");
    require_tool(
        "osslsigncode",
        "`apt-get install osslsigncode` (Debian package `osslsigncode`)",
    );
    let (_m, mirror) = mirror();
    let wheels = StaticServer::start(pyship_e2e::testdata::wheelhouse());
    let (tmp, project) = signed_hello(&wheels, "sign-binaries = true\n");
    let cert = make_cert(&tmp.path().join("cert"), PASSWORD);
    let cache = tmp.path().join("cache");

    let start = Instant::now();
    let out = pyship(&cache)
        .env("PYSHIP_PYTHON_MIRROR", mirror.url())
        .env(P12_ENV, cert.p12_base64())
        .env(PW_ENV, &cert.password)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["-vv", "installer", "--version", "v1.0.0", "--manifest-path"])
        .arg(project.join("Cargo.toml"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "installer failed:\n{text}");
    eprintln!("signed installer built in {:?}", start.elapsed());
    assert!(text.contains("Signing"), "{text}");
    assert!(text.contains("Verified"), "{text}");
    assert_no_secret("the -vv output", &text, &cert);
    // The signing folder named by -vv is gone.
    let sign_dir = text
        .lines()
        .find_map(|l| l.split(" ready in ").nth(1))
        .map(|d| PathBuf::from(d.trim()))
        .expect("-vv names the signing folder");
    assert!(
        sign_dir.to_string_lossy().contains("pyship-sign-"),
        "{}",
        sign_dir.display()
    );
    assert!(!sign_dir.exists(), "{} was left behind", sign_dir.display());

    // The installer carries a signature osslsigncode verifies.
    let dist = project.join("dist");
    let setup = dist.join("Hello-App-v1.0.0-setup.exe");
    let (ok, v) = verify(&setup, &cert.cert_pem);
    assert!(ok, "the installer does not verify:\n{v}");
    assert!(v.contains("Pyship Test Signer"), "{v}");
    // What cargo-pyship wrote itself (not the wheels' files): the artifacts,
    // the rendered installer script and the bundle's top-level files.
    let tree = dist.join(".pyship/windows/Hello-App");
    let mut written: Vec<PathBuf> = Vec::new();
    for d in [
        dist.clone(),
        dist.join(".pyship/windows"),
        tree.clone(),
        tree.join("scripts"),
    ] {
        for e in fs_err::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                written.push(p);
            }
        }
    }
    for f in &written {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            !name.contains(".partial") && !name.ends_with(".signed"),
            "{name} left in dist/"
        );
        let bytes = fs_err::read(f).unwrap();
        assert!(
            !bytes
                .windows(cert.password.len())
                .any(|w| w == cert.password.as_bytes()),
            "{} holds the password",
            f.display()
        );
        if bytes.len() < 1_000_000 {
            assert_no_secret(
                &f.display().to_string(),
                &String::from_utf8_lossy(&bytes),
                &cert,
            );
        }
    }

    // The SBOM: valid CycloneDX, exactly the distributions of the bundle.
    let sbom_path = dist.join("Hello-App-v1.0.0-win-x64.cdx.json");
    validate_cyclonedx(&sbom_path);
    let sbom: serde_json::Value =
        serde_json::from_slice(&fs_err::read(&sbom_path).unwrap()).unwrap();
    assert_eq!(sbom["specVersion"], "1.5");
    assert_eq!(sbom["metadata"]["timestamp"], "2023-11-14T22:13:20Z");
    let site = tree.join("python/Lib/site-packages");
    let mut listed = BTreeSet::new();
    let subject = &sbom["metadata"]["component"];
    let comps = sbom["components"].as_array().unwrap();
    for c in comps.iter().chain([subject]) {
        let purl = c["purl"].as_str().unwrap_or("");
        if let Some(p) = purl.strip_prefix("pkg:pypi/") {
            assert!(listed.insert(p.to_owned()), "{p} listed twice");
        }
    }
    assert_eq!(listed, installed(&site), "the SBOM's pypi components");
    assert!(listed.len() > 10, "{listed:?}");
    assert_eq!(subject["name"], "hello-app");
    let hashed = comps
        .iter()
        .filter(|c| {
            c["purl"]
                .as_str()
                .is_some_and(|p| p.starts_with("pkg:pypi/"))
        })
        .filter(|c| c["hashes"][0]["alg"] == "SHA-256")
        .count();
    eprintln!(
        "{hashed} of {} distributions carry their wheel's SHA-256",
        listed.len() - 1
    );
    let numpy = comps
        .iter()
        .find(|c| c["name"] == "numpy")
        .expect("numpy listed");
    assert!(
        numpy["licenses"].as_array().is_some_and(|l| !l.is_empty()),
        "{numpy}"
    );
    let python = comps
        .iter()
        .find(|c| c["name"] == "cpython")
        .expect("cpython listed");
    assert_eq!(python["version"], "3.11.9");
    assert_eq!(
        python["hashes"][0]["content"].as_str().unwrap(),
        sha256_file(&pyship_e2e::testdata::embed_python_dir().join(EMBED))
    );
    assert!(
        python["externalReferences"][0]["url"]
            .as_str()
            .unwrap()
            .ends_with("/3.11.9/python-3.11.9-embed-amd64.zip"),
        "{python}"
    );

    // The licence file names every distribution.
    let licences = fs_err::read_to_string(tree.join("THIRD-PARTY-LICENSES.txt")).unwrap();
    for d in listing(&site).iter().filter(|n| n.ends_with(".dist-info")) {
        let meta = fs_err::read_to_string(site.join(d).join("METADATA")).unwrap();
        let get = |k: &str| {
            meta.lines()
                .find_map(|l| l.strip_prefix(k))
                .unwrap()
                .trim()
                .to_owned()
        };
        let entry = format!("{} {}", get("Name:"), get("Version:"));
        assert!(
            licences.contains(&entry),
            "{entry} not in THIRD-PARTY-LICENSES.txt"
        );
    }
    assert!(licences.contains("CPython 3.11.9"));
    assert!(
        licences.contains("Permission is hereby granted"),
        "no MIT text copied"
    );

    // The signed installer installs under wine; the uninstaller it wrote is signed too.
    let prefix = WinePrefix::new();
    let status = prefix
        .command(&setup)
        .args(["/S", r"/D=C:\Apps\Hello", "App"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(
        status.success(),
        "the signed installer failed under wine: {status}"
    );
    let app = prefix.drive_c().join("Apps/Hello App");
    for rel in [
        "python/python.exe",
        "app/src/hello_app/__main__.py",
        "THIRD-PARTY-LICENSES.txt",
    ] {
        assert!(app.join(rel).is_file(), "{rel} not installed");
    }
    let (ok, v) = verify(&app.join("uninstall.exe"), &cert.cert_pem);
    assert!(ok, "the installed uninstaller is not signed:\n{v}");
    prefix.shutdown();
}

#[test]
fn wrong_password_fails_clearly_and_publishes_nothing() {
    let wheels = StaticServer::start(pyship_e2e::testdata::wheelhouse());
    let (tmp, project) = signed_hello(&wheels, "");
    let cert = make_cert(&tmp.path().join("cert"), PASSWORD);
    let gitea = GiteaServer::start();
    git_init_commit(&project);
    git(&project, &["tag", "v1.0.0"]);
    let wrong = "wrong-password-also-secret";
    let out = pyship(&tmp.path().join("cache"))
        .current_dir(&project)
        .env(P12_ENV, cert.p12_base64())
        .env(PW_ENV, wrong)
        .env("GITHUB_SERVER_URL", gitea.url())
        .env("GITHUB_REPOSITORY", REPO)
        .env("DEPLOY_TOKEN", WRITE_TOKEN)
        .args(["-vv", "release"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("wrong password for the signing certificate")
            && stderr.contains(PW_ENV)
            && stderr.contains("hint:"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(wrong),
        "the password was printed:\n{stderr}"
    );
    assert_no_secret("stderr", &stderr, &cert);
    assert!(gitea.writes().is_empty(), "{:?}", gitea.writes());
    assert!(!project.join("dist").exists(), "something was built");
    // Nothing stamped either.
    assert!(
        fs_err::read_to_string(project.join("python/pyproject.toml"))
            .unwrap()
            .contains("version = \"0.1.0\"")
    );
}

#[test]
fn plan_shows_what_will_be_signed_and_no_secret() {
    let wheels = StaticServer::start(pyship_e2e::testdata::wheelhouse());
    let (tmp, project) = signed_hello(&wheels, "sign-binaries = true\n");
    let cert = make_cert(&tmp.path().join("cert"), PASSWORD);
    let run = |format: &str| {
        let out = pyship(&tmp.path().join("cache"))
            .env(P12_ENV, cert.p12_base64())
            .env(PW_ENV, &cert.password)
            .args([
                "plan",
                "--version",
                "v1.0.0",
                "--format",
                format,
                "--manifest-path",
            ])
            .arg(project.join("Cargo.toml"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let json = run("json");
    assert_no_secret("plan --format json", &json, &cert);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let signing = &v["signing"];
    assert_eq!(signing["password_env"], PW_ENV, "{signing}");
    let signs: Vec<&str> = signing["signs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(signs.contains(&"Hello-App-v1.0.0-setup.exe"), "{signs:?}");
    assert!(
        signs.iter().any(|s| s.contains("uninstall.exe")),
        "{signs:?}"
    );
    assert!(signs.iter().any(|s| s.contains(".pyd")), "{signs:?}");
    let assets: Vec<&str> = v["release"]["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for sbom in [
        "Hello-App-v1.0.0-win-x64.cdx.json",
        "Hello-App-v1.0.0-linux-x64.cdx.json",
    ] {
        assert!(assets.contains(&sbom), "{assets:?}");
    }
    let text = run("text");
    assert_no_secret("plan", &text, &cert);
    assert!(text.contains("signing (osslsigncode"), "{text}");
    assert!(text.contains(&format!("${P12_ENV}")), "{text}");
}

/// A tiny PE made by makensis, to sign without building a bundle.
fn tiny_exe(dir: &Path) -> PathBuf {
    let makensis = require_tool("makensis", "`apt-get install nsis` (Debian package `nsis`)");
    let script = dir.join("tiny.nsi");
    fs_err::write(
        &script,
        "Unicode true\nTarget amd64-unicode\nOutFile \"tiny.exe\"\nSection\nSectionEnd\n",
    )
    .unwrap();
    let out = std::process::Command::new(makensis)
        .arg("-V1")
        .arg(&script)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join("tiny.exe")
}

#[test]
fn pkcs12_file_without_password_signs_in_place_and_cleans_up() {
    use pyship_build::env::Env;
    use pyship_build::plan::{Options, Plan};
    use pyship_build::report::RecordingReporter;
    require_tool(
        "osslsigncode",
        "`apt-get install osslsigncode` (Debian package `osslsigncode`)",
    );
    let (tmp, dir) = copy_fixture("hello");
    let cert = make_cert(&tmp.path().join("cert"), "");
    fs_err::copy(&cert.p12, dir.join("codesign.p12")).unwrap();
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    fs_err::write(
        &manifest,
        format!("{text}\n[package.metadata.pyship.windows.sign]\npkcs12 = \"codesign.p12\"\n"),
    )
    .unwrap();
    let project = pyship_build::project::load(Some(&manifest), None).unwrap();
    let env = Env::default();
    let plan = Plan::build(project, &env, &Options::default()).unwrap();
    let rep = RecordingReporter::default();
    let ctx = pyship_build::Context::new(&rep, &env);
    let signer = pyship_build::sign::Signer::prepare(&plan, &ctx)
        .unwrap()
        .expect("signing is configured");
    let folder = signer.dir().to_owned();
    let exe = tiny_exe(tmp.path());
    // A hard link stands for uv's cache: signing must replace, never write through.
    let linked = tmp.path().join("linked.exe");
    fs_err::hard_link(&exe, &linked).unwrap();
    let before = fs_err::read(&linked).unwrap();
    let v = signer.sign_in_place(&exe, &ctx).unwrap();
    assert_eq!(
        v.subject.as_deref(),
        Some("/CN=Pyship Test Signer/O=cargo-pyship tests")
    );
    assert!(!v.timestamped);
    let (ok, out) = verify(&exe, &cert.cert_pem);
    assert!(ok, "{out}");
    // Without a time-stamping server the signing time is the build's epoch,
    // not the clock: the same file signed a second later is the same bytes.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let again = tmp.path().join("again.exe");
    fs_err::write(&again, &before).unwrap();
    signer.sign_in_place(&again, &ctx).unwrap();
    assert!(
        fs_err::read(&again).unwrap() == fs_err::read(&exe).unwrap(),
        "two signatures of one file differ"
    );
    assert_eq!(
        fs_err::read(&linked).unwrap(),
        before,
        "the hard link was written through"
    );
    // A file the configured certificate did not sign fails verification.
    let other = make_cert(&tmp.path().join("other"), "x");
    let foreign = tmp.path().join("foreign.exe");
    let out = std::process::Command::new("osslsigncode")
        .args(["sign", "-pkcs12"])
        .arg(&other.p12)
        .args(["-pass", "x", "-in"])
        .arg(&linked)
        .arg("-out")
        .arg(&foreign)
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = signer.verify(&foreign).unwrap_err().to_string();
    assert!(err.contains("did not verify"), "{err}");
    drop(signer);
    assert!(!folder.exists(), "{} left behind", folder.display());
}
