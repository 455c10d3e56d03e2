//! Stage helper: the minisign (Ed25519) keys that sign `manifest.json`, so
//! that an installed app (`pyship_update`) accepts only releases made by
//! whoever holds a key the app was built to trust.
//!
//! Why minisign: its formats are small and documented, `minisign -V` and
//! `rsign2` verify what this writes (a team can use keys it already has),
//! and a signature is checked in a few dozen lines of stdlib Python in the
//! bundle's updater. The `minisign` crate does the key generation, the
//! scrypt encryption of secret keys and the (prehashed, `ED`) signing.
//!
//! Secrets: the secret key is read from the variable `update.signing-key-env`
//! names (the key file's text), its password from `update.signing-password-env`
//! (unset or empty: an unencrypted key). Neither is ever written to output,
//! to a file other than the one `keygen` is told to write, or to an error.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use crate::env::Env;

/// What `keygen` made: the public key (as `update.public-keys` takes it)
/// and where the secret key went.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Generated {
    /// The base64 line (`RW…`).
    pub public_key: String,
    /// minisign's key id (hex), as `minisign -V` prints it.
    pub key_id: String,
    pub secret_key_file: PathBuf,
    pub public_key_file: PathBuf,
    pub encrypted: bool,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("{path} already exists; refusing to overwrite a key")]
    #[diagnostic(help("choose another file with --out, or move the old key away first"))]
    Exists { path: PathBuf },
    #[error("could not write {path}")]
    #[diagnostic(help("check that the folder is writable"))]
    Write {
        path: PathBuf,
        #[source]
        source: crate::fs::Error,
    },
    #[error("could not make a key pair: {0}")]
    #[diagnostic(help(
        "this is a bug in cargo-pyship or the system's random source; please report it"
    ))]
    Generate(String),
    #[error("`update.public-keys` entry {key:?} is not a minisign public key: {reason}")]
    #[diagnostic(help(
        "use the `RW…` line of a minisign .pub file (`cargo pyship keygen` prints it)"
    ))]
    PublicKey { key: String, reason: String },
    #[error("`update.public-keys` is set but ${var} (update.signing-key-env) is not: manifest.json cannot be signed, and apps built with those keys refuse unsigned releases")]
    #[diagnostic(help("set {var} to the secret key file's text (a CI secret), or run without update.public-keys to publish unsigned releases"))]
    NoSigningKey { var: String },
    #[error("${var} (update.signing-key-env) does not hold a minisign secret key")]
    #[diagnostic(help("put the whole text of the secret key file (`cargo pyship keygen --out FILE` writes it) in {var}"))]
    BadSecretKey { var: String },
    #[error("the secret key in ${var} is encrypted and ${password_var} (update.signing-password-env) is not set")]
    #[diagnostic(help("set {password_var} to the key's password"))]
    NeedPassword { var: String, password_var: String },
    #[error("the secret key in ${var} cannot be decrypted with the password in ${password_var}")]
    #[diagnostic(help("check the password in {password_var}"))]
    WrongPassword { var: String, password_var: String },
    #[error("the secret key in ${var} (key id {key_id}) is not one of `update.public-keys`; apps would refuse what it signs")]
    #[diagnostic(help("add the key's public key to update.public-keys (`cargo pyship keygen` prints it), or sign with a listed key"))]
    NotTrusted { var: String, key_id: String },
    #[error("could not sign manifest.json: {0}")]
    #[diagnostic(help("this is a bug in cargo-pyship; please report it"))]
    Sign(String),
}

/// The minisign key id of a public key, as `minisign` prints it.
fn key_id(keynum: &[u8]) -> String {
    keynum.iter().rev().map(|b| format!("{b:02X}")).collect()
}

/// Parse `text` (the `RW…` line) as a minisign public key; returns its key id.
pub fn parse_public_key(text: &str) -> Result<(minisign::PublicKey, String), Error> {
    let pk = minisign::PublicKey::from_base64(text.trim()).map_err(|e| Error::PublicKey {
        key: text.to_owned(),
        reason: e.to_string(),
    })?;
    let id = key_id(pk.keynum());
    Ok((pk, id))
}

/// Make a key pair: the secret key (encrypted with `password`, or not) to
/// `out` (mode 0600 on Unix), the public key to `out` + `.pub`. Refuses to
/// overwrite either.
pub fn keygen(out: &Path, password: Option<String>) -> Result<Generated, Error> {
    let pub_path = {
        let mut p = out.as_os_str().to_owned();
        p.push(".pub");
        PathBuf::from(p)
    };
    for p in [out, pub_path.as_path()] {
        if p.exists() || p.is_symlink() {
            return Err(Error::Exists { path: p.to_owned() });
        }
    }
    let encrypted = password.as_deref().is_some_and(|p| !p.is_empty());
    let pair = if encrypted {
        minisign::KeyPair::generate_encrypted_keypair(password)
    } else {
        minisign::KeyPair::generate_unencrypted_keypair()
    }
    .map_err(|e| Error::Generate(e.to_string()))?;
    let id = key_id(pair.pk.keynum());
    let pk_text = pair
        .pk
        .to_box()
        .map_err(|e| Error::Generate(e.to_string()))?
        .to_string();
    let sk_text = pair
        .sk
        .to_box(Some(&format!("cargo-pyship secret key {id}")))
        .map_err(|e| Error::Generate(e.to_string()))?
        .to_string();
    write_new(out, &sk_text, true)?;
    if let Err(e) = write_new(&pub_path, &pk_text, false) {
        // No secret key without its public key: the pair goes together.
        let _ = fs_err::remove_file(out);
        return Err(e);
    }
    Ok(Generated {
        public_key: pair.pk.to_base64(),
        key_id: id,
        secret_key_file: out.to_owned(),
        public_key_file: pub_path,
        encrypted,
    })
}

/// Write `text` to the new file `path` (refused when it exists, as a link
/// too): a temp file in the same folder, synced, then linked into place
/// without replacing anything. `private`: mode 0600 (a temp file's), else 0644.
fn write_new(path: &Path, text: &str, private: bool) -> Result<(), Error> {
    let err = |source: std::io::Error| Error::Write {
        path: path.to_owned(),
        source: crate::fs::Error::Io(source),
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs_err::create_dir_all(dir).map_err(err)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".pyship-key-")
        .tempfile_in(dir)
        .map_err(err)?;
    std::io::Write::write_all(tmp.as_file_mut(), text.as_bytes()).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    #[cfg(unix)]
    if !private {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(err)?;
    }
    #[cfg(not(unix))]
    let _ = private;
    tmp.persist_noclobber(path).map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            Error::Exists {
                path: path.to_owned(),
            }
        } else {
            err(e.error)
        }
    })?;
    Ok(())
}

/// The secret key box text of `value` (a variable's content): the key
/// file's text, or only its base64 line (CI secrets often lose line breaks
/// or the comment line).
fn secret_key_box(value: &str) -> String {
    let lines: Vec<&str> = value
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let key = lines
        .iter()
        .rev()
        .find(|l| !l.starts_with("untrusted comment:"))
        .copied()
        .unwrap_or("");
    format!("untrusted comment: minisign secret key\n{key}\n")
}

/// Whether the secret key in `text` (a key box) is encrypted: minisign's
/// key bytes start with the signature algorithm, then the KDF (`Sc`:
/// scrypt, zeros: none). `None`: not a key.
fn box_is_encrypted(text: &str) -> Option<bool> {
    use base64::Engine;
    let line = text.lines().nth(1)?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(line.trim())
        .ok()?;
    match raw.get(2..4)? {
        b"Sc" => Some(true),
        [0, 0] => Some(false),
        _ => None,
    }
}

/// A secret key ready to sign, and the public key that goes with it.
pub struct Signer {
    pk: minisign::PublicKey,
    sk: minisign::SecretKey,
    /// Its key id.
    pub key_id: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key itself.
        write!(f, "Signer({})", self.key_id)
    }
}

impl Signer {
    /// The signer of `update`: `None` when no public key is configured
    /// (unsigned releases); an error when keys are configured but the
    /// secret key is missing, cannot be opened, or is not one of them.
    pub fn from_env(update: &crate::config::Update, env: &Env) -> Result<Option<Self>, Error> {
        if update.public_keys.is_empty() {
            return Ok(None);
        }
        let mut trusted = Vec::new();
        for k in &update.public_keys {
            trusted.push(parse_public_key(k)?.0);
        }
        let var = update.signing_key_env.clone();
        let password_var = update.signing_password_env.clone();
        let text = env
            .get(&var)
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| Error::NoSigningKey { var: var.clone() })?;
        let text = secret_key_box(text);
        let encrypted =
            box_is_encrypted(&text).ok_or_else(|| Error::BadSecretKey { var: var.clone() })?;
        let boxed = minisign::SecretKeyBox::from_string(&text)
            .map_err(|_| Error::BadSecretKey { var: var.clone() })?;
        let sk = if encrypted {
            let password = env
                .get(&password_var)
                .filter(|p| !p.is_empty())
                .ok_or_else(|| Error::NeedPassword {
                    var: var.clone(),
                    password_var: password_var.clone(),
                })?;
            // Always Some: with None the crate would prompt on the terminal.
            boxed
                .into_secret_key(Some(password.to_owned()))
                .map_err(|_| Error::WrongPassword {
                    var: var.clone(),
                    password_var: password_var.clone(),
                })?
        } else {
            boxed
                .into_unencrypted_secret_key()
                .map_err(|_| Error::BadSecretKey { var: var.clone() })?
        };
        let pk = minisign::PublicKey::from_secret_key(&sk)
            .map_err(|_| Error::BadSecretKey { var: var.clone() })?;
        let id = key_id(pk.keynum());
        if !trusted.iter().any(|t| t.to_base64() == pk.to_base64()) {
            return Err(Error::NotTrusted { var, key_id: id });
        }
        Ok(Some(Self { pk, sk, key_id: id }))
    }

    /// The `.minisig` text of `data`, with `trusted_comment`.
    pub fn sign(&self, data: &[u8], trusted_comment: &str) -> Result<String, Error> {
        let sig = minisign::sign(
            Some(&self.pk),
            &self.sk,
            Cursor::new(data),
            Some(trusted_comment),
            Some(&format!("signature from cargo-pyship key {}", self.key_id)),
        )
        .map_err(|e| Error::Sign(e.to_string()))?;
        Ok(sig.into_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Update;
    use crate::error::Hint;

    fn update(keys: &[&str]) -> Update {
        Update {
            enabled: true,
            channel: Default::default(),
            token_env: None,
            start_timeout: 60,
            rollout: 1.0,
            public_keys: keys.iter().map(|k| k.to_string()).collect(),
            signing_key_env: "SK".into(),
            signing_password_env: "SKP".into(),
        }
    }

    fn minisign_cli() -> std::path::PathBuf {
        which::which("minisign").unwrap_or_else(|_| {
            panic!("this test needs `minisign` on PATH (Debian package `minisign`; .ci/install-tools installs it)")
        })
    }

    /// `minisign -V` of `data` signed as `sig` with the public key file `pub_file`.
    fn minisign_verifies(pub_file: &Path, data: &[u8], sig: &str) -> (bool, String) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("manifest.json");
        fs_err::write(&file, data).unwrap();
        fs_err::write(dir.path().join("manifest.json.minisig"), sig).unwrap();
        let out = std::process::Command::new(minisign_cli())
            .arg("-V")
            .arg("-p")
            .arg(pub_file)
            .arg("-m")
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

    #[test]
    fn keygen_sign_and_minisign_verifies_both_kinds_of_key() {
        let dir = tempfile::tempdir().unwrap();
        for (name, password) in [("plain.key", None), ("locked.key", Some("pw 1"))] {
            let out = dir.path().join(name);
            let g = keygen(&out, password.map(str::to_owned)).unwrap();
            assert_eq!(g.encrypted, password.is_some());
            assert!(
                crate::config::is_public_key_line(&g.public_key),
                "{}",
                g.public_key
            );
            let pub_text = fs_err::read_to_string(&g.public_key_file).unwrap();
            assert!(pub_text.contains(&g.public_key), "{pub_text}");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = fs_err::metadata(&out).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "the secret key file is private");
            }
            // A second keygen never overwrites a key.
            assert!(matches!(keygen(&out, None), Err(Error::Exists { .. })));
            let secret = fs_err::read_to_string(&out).unwrap();
            let mut env = Env::from_pairs([("SK", secret.as_str())]);
            if let Some(p) = password {
                env.set("SKP", p);
            }
            let signer = Signer::from_env(&update(&[&g.public_key]), &env)
                .unwrap()
                .unwrap();
            assert_eq!(signer.key_id, g.key_id);
            assert!(!format!("{signer:?}").contains(&secret[40..60]));
            let data = b"{\"schema\": 1}\n";
            let sig = signer.sign(data, "pyship App v0.2.0").unwrap();
            assert!(sig.contains("trusted comment: pyship App v0.2.0"), "{sig}");
            let (ok, text) = minisign_verifies(&g.public_key_file, data, &sig);
            assert!(ok, "minisign -V refused the signature: {text}");
            assert!(text.contains("pyship App v0.2.0"), "{text}");
            let (ok, _) = minisign_verifies(&g.public_key_file, b"other", &sig);
            assert!(!ok, "minisign -V accepted a signature of other data");
            // Only the base64 line in the variable (a CI secret without its comment).
            let line = secret.lines().nth(1).unwrap();
            let mut env2 = Env::from_pairs([("SK", line)]);
            if let Some(p) = password {
                env2.set("SKP", p);
            }
            assert!(Signer::from_env(&update(&[&g.public_key]), &env2).is_ok());
        }
    }

    #[test]
    fn signing_refusals_name_the_variable_never_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let g = keygen(&dir.path().join("k"), Some("right".into())).unwrap();
        let other = keygen(&dir.path().join("o"), None).unwrap();
        let secret = fs_err::read_to_string(dir.path().join("k")).unwrap();
        let keys = [g.public_key.as_str()];
        assert!(Signer::from_env(&update(&[]), &Env::default())
            .unwrap()
            .is_none());
        let cases: Vec<(Env, &[&str], &str)> = vec![
            (Env::default(), &keys, "$SK (update.signing-key-env) is not"),
            (
                Env::from_pairs([("SK", "not a key")]),
                &keys,
                "does not hold a minisign secret key",
            ),
            (
                Env::from_pairs([("SK", secret.as_str())]),
                &keys,
                "$SKP (update.signing-password-env) is not set",
            ),
            (
                Env::from_pairs([("SK", secret.as_str()), ("SKP", "wrong")]),
                &keys,
                "cannot be decrypted",
            ),
        ];
        for (env, keys, says) in cases {
            let err = Signer::from_env(&update(keys), &env).unwrap_err();
            let text = format!("{err} {}", err.hint().unwrap_or_default());
            assert!(text.contains(says), "{text}");
            assert!(!text.contains(&secret[40..70]), "the secret leaked: {text}");
            assert!(!text.contains("right"), "the password leaked: {text}");
        }
        let env = Env::from_pairs([("SK", secret.as_str()), ("SKP", "right")]);
        let err = Signer::from_env(&update(&[&other.public_key]), &env).unwrap_err();
        assert!(
            err.to_string().contains(&format!("key id {}", g.key_id)),
            "{err}"
        );
        assert!(
            err.to_string().contains("not one of `update.public-keys`"),
            "{err}"
        );
    }
}
