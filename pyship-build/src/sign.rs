//! Authenticode signing from Linux: `osslsigncode` signs the installer, its
//! uninstaller (through NSIS `!uninstfinalize`) and, with `sign-binaries`,
//! the project's own `.exe`/`.dll`/`.pyd` files; every signature is checked
//! with `osslsigncode verify` before the file takes its final name.
//!
//! Why this shape: Windows SmartScreen warns about unsigned downloads, and CI
//! runs on Linux, where `signtool` does not exist. The certificate is a
//! PKCS#12 file or its base64 content in an environment variable; its
//! password is in another variable. Neither ever reaches a command line, the
//! output, the plan or a file that outlives the run: [`Signer::prepare`]
//! writes them into a private temp folder (0700, files 0600) that is removed
//! when the [`Signer`] is dropped or the build is interrupted (a signal),
//! and osslsigncode and openssl read them from there (`-readpass FILE`,
//! `-passin file:FILE`; osslsigncode's only other way, `-pass`, would put
//! the password on a command line any user can read). The folder's owner
//! holds its lock ([`crate::lock::OwnedDir`]): what a killed build left is
//! removed by the next build.
//!
//! Verification trusts the certificates inside the PKCS#12 plus the host's CA
//! bundle, and requires the leaf certificate to be the configured one
//! (`-require-leaf-hash`): it proves the file carries an intact signature made
//! with this certificate. It does not fetch revocation lists (`-ignore-cdp`):
//! that is the installing machine's job, and a build must not depend on a CA's
//! web server.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::{CertSource, Sign};
use crate::context::Context;
use crate::error::escaped;
use crate::plan::Plan;
use crate::process::{self, Command};
use crate::tools;

/// Where the host's CA bundle usually is (Debian, Fedora, Alpine, openSUSE).
const CA_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
    "/etc/ssl/ca-bundle.pem",
];

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("the signing certificate variable `{var}` (pkcs12-env) is not set or empty")]
    #[diagnostic(help("export {var} with the base64 of the .p12/.pfx file (`base64 -w0 cert.p12`), e.g. from a CI secret"))]
    CertEnvMissing { var: String },
    #[error("the signing certificate variable `{var}` (pkcs12-env) does not hold base64")]
    #[diagnostic(help("{var} must hold the .p12/.pfx file encoded with `base64 -w0 cert.p12`"))]
    CertEnvBase64 { var: String },
    #[error("could not read the signing certificate {}", escaped(.path.display()))]
    #[diagnostic(help("{}", crate::fs::read_hint(.source, &format!("fix `pkcs12` in [{}.windows.sign] (relative to the Cargo.toml that declares it)", .table))))]
    CertFile {
        path: PathBuf,
        #[source]
        source: Box<crate::fs::Error>,
        /// The pyship table in use, for the hint.
        table: &'static str,
    },
    #[error("the password variable `{var}` (password-env) is not set or empty")]
    #[diagnostic(help("export {var} with the certificate's password, e.g. from a CI secret"))]
    PasswordEnvMissing { var: String },
    #[error("wrong password for the signing certificate {}{}", escaped(.certificate), password_env.as_ref().map(|v| format!(" (password from `{v}`)")).unwrap_or_else(|| " (no password-env configured: tried an empty password)".into()))]
    #[diagnostic(help("{}", wrong_password_hint(.password_env.as_deref(), .table)))]
    WrongPassword {
        /// What the certificate is (a path, or `$VAR`), never its content.
        certificate: String,
        password_env: Option<String>,
        /// The pyship table in use, for the hint.
        table: &'static str,
    },
    #[error("the signing certificate {} is not a usable PKCS#12 file:\n{output}", escaped(.certificate))]
    #[diagnostic(help("export the certificate with its private key as PKCS#12 (`openssl pkcs12 -export -inkey key.pem -in cert.pem -out cert.p12`)"))]
    BadCertificate { certificate: String, output: String },
    #[error("could not prepare the signing files in a temp folder")]
    Temp(#[source] std::io::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Tool(#[from] tools::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Process(#[from] process::Error),
    #[error("osslsigncode could not sign {path}:\n{output}")]
    #[diagnostic(help("read osslsigncode's message above; with a timestamp-url, check that the time-stamping server is reachable"))]
    Sign { path: PathBuf, output: String },
    #[error("the signature of {path} did not verify (osslsigncode verify):\n{output}")]
    #[diagnostic(help("the file was not published; read osslsigncode's message above (an expired certificate, or a chain whose root is neither in the PKCS#12 nor in the host's CA bundle)"))]
    Verify { path: PathBuf, output: String },
    #[error("could not replace {path} with its signed copy")]
    Replace {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn wrong_password_hint(password_env: Option<&str>, table: &str) -> String {
    match password_env {
        Some(v) => format!("set {v} to the password the .p12/.pfx file was exported with"),
        None => format!(
            "set `password-env` in [{table}.windows.sign] to the variable holding the password"
        ),
    }
}

/// What `plan` shows about signing: where the certificate comes from and
/// which artifacts will be signed. Holds names only, never secrets.
#[derive(Debug, Clone, Serialize)]
pub struct SignPlan {
    /// `pkcs12 = "path"` (absolute) or `pkcs12-env = "VAR"`.
    pub certificate: String,
    pub password_env: Option<String>,
    pub timestamp_url: Option<String>,
    /// Files that will carry a signature.
    pub signs: Vec<String>,
}

/// The signing plan, `None` when `[…pyship.windows.sign]` is not configured.
pub fn plan(plan: &Plan) -> Option<SignPlan> {
    let sign = plan.config.windows.sign.as_ref()?;
    let mut signs = Vec::new();
    if let Some(a) = plan.artifact(
        crate::plan::ArtifactKind::Installer,
        Some(crate::platform::Platform::Windows),
    ) {
        signs.push(a.file_name.clone());
        signs.push(format!("{} (inside {})", "uninstall.exe", a.file_name));
    }
    if let Some(a) = plan.artifact(
        crate::plan::ArtifactKind::Msi,
        Some(crate::platform::Platform::Windows),
    ) {
        signs.push(a.file_name.clone());
    }
    if sign.sign_binaries && plan.targets.contains(&crate::platform::Platform::Windows) {
        signs.push(
            "the project's own .exe/.dll/.pyd files in the Windows bundle (app/ and the project's wheels)"
                .into(),
        );
    }
    Some(SignPlan {
        certificate: describe(plan, sign),
        password_env: sign.password_env.clone(),
        timestamp_url: sign.timestamp_url.clone(),
        signs,
    })
}

fn describe(plan: &Plan, sign: &Sign) -> String {
    match &sign.certificate {
        CertSource::Pkcs12(p) => plan.project.path(p).display().to_string(),
        CertSource::Pkcs12Env(v) => format!("${v} (base64 PKCS#12)"),
    }
}

/// A certificate ready to sign with. Dropping it removes the temp folder
/// holding the certificate and password.
pub struct Signer {
    // Field order matters for drop: the files go before their folder.
    p12: tempfile::NamedTempFile,
    pass: tempfile::NamedTempFile,
    /// `false`: no `password-env`, the PKCS#12 has an empty password (the
    /// tools read no empty password file, so it is given as `""`).
    has_password: bool,
    /// Certificates of the PKCS#12 plus the host's CA bundle (not secret).
    ca: PathBuf,
    /// SHA-256 of the leaf certificate (DER), for `-require-leaf-hash`.
    leaf_sha256: String,
    dir: crate::lock::OwnedDir,
    /// Removes `dir` if the build is interrupted before the drop.
    _on_interrupt: process::OnInterrupt,
    osslsigncode: PathBuf,
    description: String,
    timestamp_url: Option<String>,
    certificate: String,
    /// The signing time written into signatures without a time-stamping
    /// server: the build's epoch, so two builds of one commit sign alike.
    epoch: u64,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("certificate", &self.certificate)
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

/// What a verification found.
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    pub path: PathBuf,
    /// The signer's subject as osslsigncode prints it (`/CN=...`).
    pub subject: Option<String>,
    pub timestamped: bool,
}

impl Signer {
    /// Read the certificate and password, check the password, and lay out
    /// the temp folder. `Ok(None)` when signing is not configured.
    pub fn prepare(plan: &Plan, ctx: &Context<'_>) -> Result<Option<Self>, Error> {
        let Some(sign) = plan.config.windows.sign.as_ref() else {
            return Ok(None);
        };
        let osslsigncode = tools::OSSLSIGNCODE.find(ctx.env)?;
        let openssl = tools::OPENSSL.find(ctx.env)?;
        let certificate = describe(plan, sign);
        let der = match &sign.certificate {
            CertSource::Pkcs12(p) => {
                let path = plan.project.path(p);
                crate::fs::read_small(&path).map_err(|source| Error::CertFile {
                    path,
                    source: Box::new(source),
                    table: plan.project.config_source.table.key(),
                })?
            }
            CertSource::Pkcs12Env(var) => {
                use base64::Engine;
                let text = ctx
                    .env
                    .get(var)
                    .ok_or_else(|| Error::CertEnvMissing { var: var.clone() })?;
                let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
                base64::engine::general_purpose::STANDARD
                    .decode(compact.as_bytes())
                    .map_err(|_| Error::CertEnvBase64 { var: var.clone() })?
            }
        };
        let password = match &sign.password_env {
            Some(var) => ctx
                .env
                .get(var)
                .ok_or_else(|| Error::PasswordEnvMissing { var: var.clone() })?
                .to_owned(),
            None => String::new(),
        };
        // The folder 0700, each file in it 0600 (tempfile's default) on Unix.
        let tmp = std::env::temp_dir();
        crate::lock::remove_dead(&tmp, crate::lock::SIGN_DIR_PREFIX, &[&tmp]);
        let dir = crate::lock::OwnedDir::new_in(&tmp, crate::lock::SIGN_DIR_PREFIX, true)
            .map_err(Error::Temp)?;
        let on_interrupt = {
            let path = dir.path().to_owned();
            process::on_interrupt(move || {
                let _ = fs_err::remove_dir_all(&path);
                let mut lock = path.clone().into_os_string();
                lock.push(".lock");
                let _ = fs_err::remove_file(lock);
            })
        };
        let secret = |bytes: &[u8]| -> Result<tempfile::NamedTempFile, Error> {
            use std::io::Write;
            let mut f = tempfile::Builder::new()
                .prefix("s")
                .tempfile_in(dir.path())
                .map_err(Error::Temp)?;
            f.write_all(bytes).map_err(Error::Temp)?;
            f.flush().map_err(Error::Temp)?;
            Ok(f)
        };
        let p12 = secret(&der)?;
        let pass = secret(password.as_bytes())?;
        let has_password = !password.is_empty();
        drop(password);

        // The password check and the certificates, in one openssl call each
        // (OpenSSL 3 reads old RC2-encrypted files only with -legacy).
        let certs = |args: &[&str]| -> Result<String, Error> {
            let mut last = String::new();
            for legacy in [false, true] {
                let mut cmd = Command::new(&openssl);
                cmd.timeout(process::QUICK)
                    .args(["pkcs12", "-nokeys"])
                    .args(args)
                    .arg("-in")
                    .arg(p12.path())
                    .arg("-passin")
                    .arg(if has_password {
                        format!("file:{}", pass.path().display())
                    } else {
                        "pass:".to_owned()
                    });
                if legacy {
                    cmd.arg("-legacy");
                }
                let out = cmd.output()?;
                if out.success() {
                    return Ok(out.stdout);
                }
                last = format!("`{}`:\n{}", out.command, tail(&out.stderr, 10));
                let lower = last.to_ascii_lowercase();
                if lower.contains("mac verify") || lower.contains("invalid password") {
                    return Err(Error::WrongPassword {
                        certificate: certificate.clone(),
                        password_env: sign.password_env.clone(),
                        table: plan.project.config_source.table.key(),
                    });
                }
            }
            Err(Error::BadCertificate {
                certificate: certificate.clone(),
                output: last,
            })
        };
        let all = certs(&[])?;
        let leaf = certs(&["-clcerts"])?;
        let leaf_der =
            pem_blocks(&leaf)
                .into_iter()
                .next()
                .ok_or_else(|| Error::BadCertificate {
                    certificate: certificate.clone(),
                    output: "it holds no certificate".into(),
                })?;
        let leaf_sha256 = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(&leaf_der))
        };
        let mut bundle = all;
        if let Some(system) = CA_BUNDLES.iter().map(Path::new).find(|p| p.is_file()) {
            if let Ok(text) = fs_err::read_to_string(system) {
                bundle.push('\n');
                bundle.push_str(&text);
            }
        }
        let ca = dir.path().join("ca.pem");
        fs_err::write(&ca, bundle).map_err(Error::Temp)?;
        ctx.reporter.debug(&format!(
            "signing certificate {certificate} (leaf sha256 {leaf_sha256}) ready in {}",
            dir.path().display()
        ));
        Ok(Some(Self {
            p12,
            pass,
            has_password,
            ca,
            leaf_sha256,
            dir,
            _on_interrupt: on_interrupt,
            osslsigncode,
            description: plan.name.clone(),
            timestamp_url: sign.timestamp_url.clone(),
            certificate,
            epoch: plan.epoch.seconds,
        }))
    }

    /// What identifies the signature (certificate and timestamp server), for
    /// the installer's input digest: never a secret.
    pub fn identity(&self) -> String {
        format!(
            "{} {}",
            self.leaf_sha256,
            self.timestamp_url.as_deref().unwrap_or("")
        )
    }

    /// The temp folder (its files are removed with the signer).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The `osslsigncode sign` arguments before `-in`/`-out`: file paths and
    /// public values only.
    fn sign_args(&self) -> Vec<String> {
        let mut a = vec![
            "sign".to_owned(),
            "-pkcs12".into(),
            self.p12.path().display().to_string(),
        ];
        if self.has_password {
            a.push("-readpass".into());
            a.push(self.pass.path().display().to_string());
        } else {
            a.push("-pass".into());
            a.push(String::new());
        }
        a.extend([
            "-h".into(),
            "sha256".into(),
            "-n".into(),
            self.description.clone(),
        ]);
        match &self.timestamp_url {
            // The server's time: a signature that outlives the certificate.
            Some(url) => {
                a.push("-ts".into());
                a.push(url.clone());
            }
            // Else the build's own time, not the clock: the same bytes from
            // every build of the commit (the RSA signature is deterministic).
            None => {
                a.push("-time".into());
                a.push(self.epoch.to_string());
            }
        }
        a
    }

    fn verify_args(&self) -> Vec<String> {
        vec![
            "verify".to_owned(),
            "-CAfile".into(),
            self.ca.display().to_string(),
            "-TSA-CAfile".into(),
            self.ca.display().to_string(),
            "-ignore-cdp".into(),
            "-require-leaf-hash".into(),
            format!("SHA256:{}", self.leaf_sha256),
        ]
    }

    /// Sign `input` into `output` (which must differ).
    pub fn sign(&self, input: &Path, output: &Path, ctx: &Context<'_>) -> Result<(), Error> {
        let _ = fs_err::remove_file(output);
        let mut cmd = Command::new(&self.osslsigncode);
        cmd.args(self.sign_args())
            .arg("-in")
            .arg(input)
            .arg("-out")
            .arg(output)
            .timeout(process::STEP);
        ctx.reporter.debug(&format!(
            "osslsigncode sign {} -> {}",
            input.display(),
            output.display()
        ));
        let out = cmd.output()?;
        if !out.success() || !output.is_file() {
            let _ = fs_err::remove_file(output);
            return Err(Error::Sign {
                path: input.to_owned(),
                output: format!("`{}`:\n{}", out.command, tail(&out.combined(), 15)),
            });
        }
        Ok(())
    }

    /// Check `path`'s signature: intact, made with this certificate, chain
    /// and (when present) timestamp valid.
    pub fn verify(&self, path: &Path) -> Result<Verified, Error> {
        let mut cmd = Command::new(&self.osslsigncode);
        cmd.args(self.verify_args())
            .arg("-in")
            .arg(path)
            .timeout(process::STEP);
        let out = cmd.output()?;
        let text = out.combined();
        if !out.success() || !text.contains("Signature verification: ok") {
            return Err(Error::Verify {
                path: path.to_owned(),
                output: format!("`{}`:\n{}", out.command, tail(&text, 15)),
            });
        }
        Ok(Verified {
            path: path.to_owned(),
            subject: text
                .lines()
                .find_map(|l| l.trim().strip_prefix("Subject: "))
                .map(str::to_owned),
            timestamped: !text.contains("Timestamp is not available"),
        })
    }

    /// Sign `path` in place: signed copy beside it, verified, then renamed
    /// over it (a hard link into a cache is replaced, never written through).
    pub fn sign_in_place(&self, path: &Path, ctx: &Context<'_>) -> Result<Verified, Error> {
        let tmp = sibling(path, ".signed");
        self.sign(path, &tmp, ctx)?;
        let verified = match self.verify(&tmp) {
            Ok(v) => v,
            Err(e) => {
                let _ = fs_err::remove_file(&tmp);
                return Err(e);
            }
        };
        fs_err::rename(&tmp, path).map_err(|source| Error::Replace {
            path: path.to_owned(),
            source,
        })?;
        Ok(Verified {
            path: path.to_owned(),
            ..verified
        })
    }

    /// Write the script NSIS `!uninstfinalize` runs on the uninstaller
    /// (its path as the one argument) before makensis packs it into the
    /// installer: sign, verify, put the signed copy in place. Returns the
    /// command for the NSIS line; it holds only the script's path, which is
    /// in the private temp folder (removed with the signer).
    pub fn uninstaller_command(&self) -> Result<String, Error> {
        use crate::templates::escape;
        let exe = self.osslsigncode.display().to_string();
        // A path no script language can carry (a quote in a Windows path,
        // NUL) fails here rather than run as something else.
        let unsafe_path = |e: escape::Unrepresentable| Error::Temp(std::io::Error::other(e));
        let (file, text, command) = if cfg!(windows) {
            let q = |s: &str| escape::bat(s).map(|e| format!("\"{e}\""));
            let words = |v: Vec<String>| -> Result<String, escape::Unrepresentable> {
                Ok(v.iter()
                    .map(|a| q(a))
                    .collect::<Result<Vec<_>, _>>()?
                    .join(" "))
            };
            let script = self.dir.path().join("sign-uninstaller.cmd");
            let text = format!(
                "@echo off\r\n{exe} {sign} -in \"%~1\" -out \"%~1.signed\" || exit /b 1\r\n{exe} {verify} -in \"%~1.signed\" || exit /b 1\r\nmove /Y \"%~1.signed\" \"%~1\" || exit /b 1\r\n",
                exe = q(&exe).map_err(unsafe_path)?,
                sign = words(self.sign_args()).map_err(unsafe_path)?,
                verify = words(self.verify_args()).map_err(unsafe_path)?,
            );
            let command = format!("cmd /c \"\"{}\" \"%1\"\"", script.display());
            (script, text, command)
        } else {
            let words = |v: Vec<String>| -> Result<String, escape::Unrepresentable> {
                Ok(v.iter()
                    .map(|a| escape::sh(a))
                    .collect::<Result<Vec<_>, _>>()?
                    .join(" "))
            };
            let script = self.dir.path().join("sign-uninstaller.sh");
            let text = format!(
                "set -e\n{exe} {sign} -in \"$1\" -out \"$1.signed\"\n{exe} {verify} -in \"$1.signed\"\nmv -f \"$1.signed\" \"$1\"\n",
                exe = escape::sh(&exe).map_err(unsafe_path)?,
                sign = words(self.sign_args()).map_err(unsafe_path)?,
                verify = words(self.verify_args()).map_err(unsafe_path)?,
            );
            // makensis runs this line with the shell: the temp folder's path
            // (from TMPDIR) is one quoted word whatever it holds.
            let command = format!(
                "sh {} \"%1\"",
                escape::sh(&script.display().to_string()).map_err(unsafe_path)?
            );
            (script, text, command)
        };
        fs_err::write(&file, text).map_err(Error::Temp)?;
        Ok(command)
    }
}

/// `path` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The DER bytes of each `CERTIFICATE` block of a PEM text.
fn pem_blocks(pem: &str) -> Vec<Vec<u8>> {
    use base64::Engine;
    let mut out = Vec::new();
    let mut body: Option<String> = None;
    for line in pem.lines() {
        let line = line.trim();
        if line == "-----BEGIN CERTIFICATE-----" {
            body = Some(String::new());
        } else if line == "-----END CERTIFICATE-----" {
            if let Some(b) = body.take() {
                if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(b) {
                    out.push(der);
                }
            }
        } else if let Some(b) = body.as_mut() {
            b.push_str(line);
        }
    }
    out
}

/// Files under `dir` that `sign-binaries` signs: Windows executables and
/// libraries (`.exe`, `.dll`, `.pyd`), sorted.
pub fn signable(paths: impl IntoIterator<Item = PathBuf>) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = paths
        .into_iter()
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "exe" | "dll" | "pyd"))
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate file that cannot be read points at the setting; one
    /// refused (a named pipe, a file too large) says why instead.
    #[test]
    fn an_unreadable_certificate_file_hints_at_the_setting_or_the_refusal() {
        use crate::error::Hint;
        let path = PathBuf::from("/p/cert.p12");
        let e = Error::CertFile {
            path: path.clone(),
            source: Box::new(std::io::Error::other("denied").into()),
            table: "package.metadata.pyship",
        };
        assert_eq!(
            e.hint().as_deref(),
            Some("fix `pkcs12` in [package.metadata.pyship.windows.sign] (relative to the Cargo.toml that declares it)")
        );
        let e = Error::CertFile {
            path: path.clone(),
            source: Box::new(crate::fs::Error::Special {
                path,
                kind: "a named pipe (FIFO)",
            }),
            table: "package.metadata.pyship",
        };
        assert!(e.hint().unwrap().contains("regular file"), "{:?}", e.hint());
    }

    #[test]
    fn pem_blocks_decode_each_certificate() {
        let pem = "Bag Attributes\n-----BEGIN CERTIFICATE-----\nAAEC\nAw==\n-----END CERTIFICATE-----\nnoise\n-----BEGIN CERTIFICATE-----\nBAU=\n-----END CERTIFICATE-----\n";
        assert_eq!(pem_blocks(pem), vec![vec![0, 1, 2, 3], vec![4, 5]]);
    }

    #[test]
    fn signable_keeps_windows_binaries_only() {
        let v = signable(
            ["a/x.PYD", "b/y.dll", "c/z.exe", "d/w.py", "e/v.so"]
                .iter()
                .map(PathBuf::from),
        );
        assert_eq!(
            v,
            ["a/x.PYD", "b/y.dll", "c/z.exe"]
                .iter()
                .map(PathBuf::from)
                .collect::<Vec<_>>()
        );
    }
}
