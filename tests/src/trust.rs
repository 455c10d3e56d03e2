//! Test helpers for signing and SBOMs: a code-signing certificate made with
//! `openssl` in the test's temp dir, `osslsigncode verify`, and the CycloneDX
//! schema validation of the Python `cyclonedx-python-lib` (pinned, run by uv).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The validator, pinned (`.ci/install-tools` warms uv's cache with it).
pub const CYCLONEDX_LIB: &str = "cyclonedx-python-lib[json-validation]==11.12.0";

/// A self-signed code-signing certificate and its PKCS#12.
pub struct TestCert {
    pub dir: PathBuf,
    /// The certificate (PEM), to verify signatures against.
    pub cert_pem: PathBuf,
    /// PKCS#12 with key and certificate, protected by `password`.
    pub p12: PathBuf,
    pub password: String,
}

impl TestCert {
    /// The PKCS#12 file as base64 (what `pkcs12-env` holds).
    pub fn p12_base64(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(fs_err::read(&self.p12).expect("read p12"))
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Make a certificate in `dir` with `openssl` (Debian package `openssl`).
pub fn make_cert(dir: &Path, password: &str) -> TestCert {
    let openssl = crate::require_tool(
        "openssl",
        "`apt-get install openssl` (Debian package `openssl`)",
    );
    fs_err::create_dir_all(dir).unwrap();
    let key = dir.join("key.pem");
    let cert_pem = dir.join("cert.pem");
    let p12 = dir.join("cert.p12");
    run(Command::new(&openssl)
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
        ])
        .args(["-subj", "/CN=Pyship Test Signer/O=cargo-pyship tests"])
        .args(["-addext", "extendedKeyUsage=codeSigning"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert_pem));
    // The password goes through a file, as a careful user would pass it.
    let pass = dir.join("pass.txt");
    fs_err::write(&pass, password).unwrap();
    run(Command::new(&openssl)
        .args(["pkcs12", "-export", "-inkey"])
        .arg(&key)
        .arg("-in")
        .arg(&cert_pem)
        .arg("-out")
        .arg(&p12)
        .arg("-passout")
        .arg(if password.is_empty() {
            "pass:".to_owned()
        } else {
            format!("file:{}", pass.display())
        }));
    fs_err::remove_file(&pass).unwrap();
    fs_err::remove_file(&key).unwrap();
    TestCert {
        dir: dir.to_owned(),
        cert_pem,
        p12,
        password: password.to_owned(),
    }
}

/// `osslsigncode verify` of `file` against `cert`; returns (success, output).
pub fn verify(file: &Path, cert: &Path) -> (bool, String) {
    let exe = crate::require_tool(
        "osslsigncode",
        "`apt-get install osslsigncode` (Debian package `osslsigncode`)",
    );
    let out = Command::new(exe)
        .args(["verify", "-ignore-cdp", "-CAfile"])
        .arg(cert)
        .arg("-in")
        .arg(file)
        .output()
        .expect("osslsigncode runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.success() && text.contains("Signature verification: ok"),
        text,
    )
}

/// Validate `sbom` against the CycloneDX 1.5 JSON schema with the CycloneDX
/// project's Python library; panics with its message when invalid.
pub fn validate_cyclonedx(sbom: &Path) {
    let uv = crate::require_tool("uv", "`pip install uv` (PyPI package `uv`)");
    let script = "import sys\nfrom cyclonedx.validation.json import JsonStrictValidator\nfrom cyclonedx.schema import SchemaVersion\nerr = JsonStrictValidator(SchemaVersion.V1_5).validate_str(open(sys.argv[1], encoding='utf-8').read())\nif err is not None:\n    print(err)\n    sys.exit(1)\nprint('valid')\n";
    let out = Command::new(uv)
        .args([
            "run",
            "--no-project",
            "--quiet",
            "--with",
            CYCLONEDX_LIB,
            "python",
            "-c",
            script,
        ])
        .arg(sbom)
        .output()
        .expect("uv runs");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("valid"),
        "{} does not validate against the CycloneDX 1.5 schema:\n{}{}",
        sbom.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
