//! Configuration: `[package.metadata.pyship]` (or `[workspace.metadata.pyship]`).
//!
//! [`RawConfig`] mirrors the TOML exactly: every field optional, kebab-case,
//! unknown keys rejected. [`RawConfig::resolve`] applies every default in one
//! place and gives a [`Config`] with concrete values, which the plan carries.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::escaped;

pub mod describe;
mod raw;
pub mod reference;
pub mod strings;

pub use raw::*;

/// Default python.org mirror of the embeddable CPython.
pub const DEFAULT_PYTHON_MIRROR: &str = "https://www.python.org/ftp/python";
/// Default CPython version.
pub const DEFAULT_PYTHON: &str = "3.11.9";
/// The default Rust target of a maturin project's Windows wheel: builds on
/// Linux with Debian's `gcc-mingw-w64-x86-64`.
pub const DEFAULT_WINDOWS_RUST_TARGET: &str = "x86_64-pc-windows-gnu";
/// Default wheel platform for Linux bundles.
pub const DEFAULT_LINUX_PLATFORM: &str = "x86_64-manylinux_2_28";
/// Strip presets applied by default.
pub const DEFAULT_PRESETS: &[&str] = &["generic", "numpy", "opencv", "pillow", "zeroconf"];
/// Default environment variable holding the publish token.
pub const DEFAULT_TOKEN_ENV: &str = crate::env::DEPLOY_TOKEN;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("invalid `{}` in [{table}] of {file}: {}", escaped(.key), escaped(.message))]
    #[diagnostic(help("{}", invalid_hint(.key)))]
    Invalid {
        key: String,
        table: String,
        file: PathBuf,
        message: String,
    },
    /// A key the table does not have (serde's `unknown field` message).
    #[error("invalid `{}` in [{table}] of {file}: {}", escaped(.key), escaped(.message))]
    #[diagnostic(help("{}", unknown_key_hint(.key)))]
    UnknownKey {
        key: String,
        table: String,
        file: PathBuf,
        message: String,
    },
    /// A string the generated files could not carry as plain data, or a
    /// tool would refuse ([`strings::check`]; boxed: the error stays small
    /// where a path is larger, on Windows).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Unsafe(Box<UnsafeValue>),
    /// `update.token-env` names a variable of a build secret: every bundle
    /// would tell the installed app to read (and send) that secret.
    #[error("invalid `update.token-env` in [{table}] of {file}: `{var}` is also `{other}`, a build secret that the installed app must never read or send to the server")]
    #[diagnostic(help("name a variable of its own for the installed app's read-only token (e.g. `update.token-env = \"APP_UPDATE_TOKEN\"`), or remove `update.token-env` for a public repository; the variable named in `{other}` stays a CI secret"))]
    SecretTokenEnv {
        var: String,
        /// The key whose variable it is (`publish.token-env`, …).
        other: &'static str,
        table: String,
        file: PathBuf,
    },
}

/// What [`Error::Unsafe`] says.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("invalid `{}` in [{table}] of {file}: {}", escaped(.key), escaped(.message))]
#[diagnostic(help("{hint}"))]
pub struct UnsafeValue {
    pub key: String,
    pub table: String,
    pub file: PathBuf,
    pub message: String,
    pub hint: String,
}

/// The hint of an invalid value: the accepted values where they are few,
/// else the key's type and summary from the config reference.
fn invalid_hint(key: &str) -> String {
    if key.ends_with("installer-compression") {
        return "use \"lzma\" (the default: smallest), \"zlib\" (fastest to build) or \"bzip2\""
            .into();
    }
    match reference::key(key) {
        Some(k) => {
            let article = if k.ty.starts_with('"') {
                "one of"
            } else if k.ty.starts_with('i') {
                "an"
            } else {
                "a"
            };
            format!(
                "fix the value: `{}` takes {article} {} ({}); `cargo pyship config {}` describes the key",
                k.path(),
                k.ty,
                k.summary.trim_end_matches('.'),
                k.path()
            )
        }
        None => "fix the value; `cargo pyship config` lists each key's type".into(),
    }
}

/// The hint of an unknown key: the nearest known key, and the command that
/// lists the keys of its table (of the whole pyship table when the table is
/// unknown too).
fn unknown_key_hint(key: &str) -> String {
    let (tables, keys) = reference::tables_and_keys();
    let near = closest_key(key, &tables, &keys)
        .map(|k| format!("did you mean `{k}`? "))
        .unwrap_or_default();
    let table = key
        .rsplit_once('.')
        .map(|(t, _)| t)
        .filter(|t| tables.iter().any(|x| x.path == *t));
    let list = match table {
        Some(t) => format!("`cargo pyship config {t}` lists the keys of [{t}]"),
        None => "`cargo pyship config` lists every key".into(),
    };
    format!("{near}remove or rename the key; {list}, with their types and defaults")
}

/// The key of the same table closest to a mistyped one (`windows.publsher`
/// → `windows.publisher`), when one is within two edits, among the
/// reference's `tables` and `keys`.
fn closest_key(path: &str, tables: &[reference::Table], keys: &[reference::Key]) -> Option<String> {
    let (table, name) = path.rsplit_once('.').unwrap_or(("", path));
    let names = keys
        .iter()
        .filter(|k| k.table == table)
        .map(|k| k.name.clone())
        .chain(tables.iter().filter_map(|t| {
            let (parent, last) = t.path.rsplit_once('.').unwrap_or(("", &t.path));
            (parent == table && !last.is_empty()).then(|| last.to_owned())
        }));
    names
        .map(|n| (edit_distance(name, &n), n))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, n)| {
            if table.is_empty() {
                n
            } else {
                format!("{table}.{n}")
            }
        })
}

/// Levenshtein distance of two short strings.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// `[package.metadata.pyship]` as written (or `[workspace.metadata.pyship]`).
///
/// The configuration with every default applied. Paths are still relative to
/// the manifest directory; [`crate::plan`] makes them absolute.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Config {
    pub name: String,
    /// Explicit file name (folders, artifacts, unit); `None`: derived from
    /// `name` by [`crate::names::file_name`].
    pub file_name: Option<String>,
    /// `None`: derived from the pyproject name by the plan.
    pub module: Option<String>,
    pub pyproject: PathBuf,
    /// `None`: the pyproject's directory + `/src`.
    pub app_src: Option<PathBuf>,
    pub include: Vec<String>,
    /// `include` entries and symlinks in the app sources may lead outside the
    /// project (off: such paths are errors).
    pub allow_outside_project: bool,
    pub python: String,
    pub extras: Vec<String>,
    /// Dependency groups of the pyproject (`[dependency-groups]`, PEP 735)
    /// the bundles ship; default none, so a `dev` group never ships unless
    /// named here.
    pub groups: Vec<String>,
    pub wheels: Vec<String>,
    pub index_url: Option<String>,
    pub find_links: Vec<String>,
    /// Ignore the package index; only `find-links` (uv `--no-index`).
    pub no_index: bool,
    pub constraints: Vec<PathBuf>,
    pub prebuild: Option<String>,
    pub port: Option<u16>,
    /// What kind of app this is, as configured; `None`: decided from the
    /// project when the launch is resolved ([`crate::launch::Launch`]).
    pub kind: Option<AppKind>,
    /// Arguments every launcher passes (per-target overrides in `windows`/`linux`).
    pub args: Vec<String>,
    pub windows: Windows,
    pub linux: Linux,
    pub strip: Strip,
    pub publish: Publish,
    pub docker: Docker,
    pub update: Update,
    pub ci: Ci,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Windows {
    pub python_mirror: String,
    pub python_sha256: Option<String>,
    pub installer: bool,
    pub installer_compression: InstallerCompression,
    pub launcher: Launcher,
    pub tkinter: bool,
    pub tkinter_source: TkinterSource,
    pub publisher: String,
    /// Replaces the top-level `args` for Windows launchers.
    pub args: Option<Vec<String>>,
    /// Rust target triple of the project's extension wheel (maturin projects).
    pub rust_target: String,
    /// Target-specific settings (`wheels`, `prebuild`, `find-links`, `extras`).
    #[serde(flatten)]
    pub target: TargetSettings,
    /// `None`: nothing is signed.
    pub sign: Option<Sign>,
    /// `release` builds the MSI too.
    pub msi: bool,
    pub msi_scope: MsiScope,
    /// A pinned UpgradeCode (`{XXXXXXXX-…}`, upper case); `None`: derived.
    pub msi_upgrade_code: Option<String>,
}

/// Where the code-signing certificate comes from. Only names are held here
/// (a path, variable names): the secrets are read when signing, never kept
/// in the plan.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum CertSource {
    /// A PKCS#12 file, relative to the manifest directory.
    Pkcs12(PathBuf),
    /// The name of an environment variable holding the PKCS#12 file, base64-encoded.
    Pkcs12Env(String),
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct Sign {
    pub certificate: CertSource,
    /// The name of the environment variable holding the PKCS#12 password
    /// (`None`: the PKCS#12 has an empty password).
    pub password_env: Option<String>,
    /// RFC 3161 time-stamping server (`None`: no timestamp).
    pub timestamp_url: Option<String>,
    /// Also sign the project's own `.exe`/`.dll`/`.pyd` files in the bundle.
    pub sign_binaries: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Linux {
    pub runtime: LinuxRuntime,
    /// `None`: the built-in python-build-standalone URL for the configured version.
    pub runtime_url: Option<String>,
    pub runtime_sha256: Option<String>,
    pub platform: String,
    pub service: bool,
    /// `User=` of the unit; `None`: root, unless `--user` is given at install.
    pub user: Option<String>,
    /// Replaces the top-level `args` for the Linux launcher, unit and Docker.
    pub args: Option<Vec<String>>,
    /// `release` builds the Debian package too.
    pub deb: bool,
    /// The Debian `Maintainer`; `None`: from the pyproject.
    pub maintainer: Option<String>,
    /// Bundle paths installed under `/etc/{file-name}/` as conffiles.
    pub conffiles: Vec<String>,
    /// Extra Debian dependencies.
    pub depends: Vec<String>,
    /// Target-specific settings (`wheels`, `prebuild`, `find-links`, `extras`).
    #[serde(flatten)]
    pub target: TargetSettings,
}

/// The keys that can be set globally and per target. Per target, lists are
/// added after the global ones and `prebuild` replaces the global command.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct TargetSettings {
    pub wheels: Vec<String>,
    pub prebuild: Option<String>,
    pub find_links: Vec<String>,
    pub extras: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Strip {
    pub presets: Vec<String>,
    pub remove: Vec<String>,
    pub keep: Vec<String>,
    pub compile: bool,
    pub debug_symbols: bool,
    pub haar_cascades: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Publish {
    pub provider: Provider,
    /// `None`: `$GITHUB_SERVER_URL` at publish time.
    pub url: Option<String>,
    /// `None`: `$GITHUB_REPOSITORY` at publish time.
    pub repo: Option<String>,
    pub token_env: String,
}

impl Publish {
    /// Server URL (without a trailing `/`) and `owner/name` of the release:
    /// the config first, then the CI variables.
    pub fn location(&self, env: &crate::env::Env) -> (Option<String>, Option<String>) {
        let (url, repo) = self.given_location(env);
        (url.map(|u| u.trim_end_matches('/').to_owned()), repo)
    }

    /// [`Publish::location`] as written, the URL not yet normalized.
    pub fn given_location(&self, env: &crate::env::Env) -> (Option<String>, Option<String>) {
        let url = self
            .url
            .clone()
            .or_else(|| env.get(crate::env::GITHUB_SERVER_URL).map(str::to_owned));
        let repo = self
            .repo
            .clone()
            .or_else(|| env.get(crate::env::GITHUB_REPOSITORY).map(str::to_owned));
        (url, repo)
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Docker {
    pub image: Option<String>,
    pub context: PathBuf,
}

impl Config {
    /// `--python-platform` for uv: Windows is always `x86_64-pc-windows-msvc`
    /// (the embeddable CPython's ABI); Linux's comes from `linux.platform`.
    pub fn uv_platform(&self, platform: crate::platform::Platform) -> String {
        match platform {
            crate::platform::Platform::Windows => "x86_64-pc-windows-msvc".to_owned(),
            crate::platform::Platform::Linux => self.linux.platform.clone(),
        }
    }

    /// The target-specific settings of `platform`: the global lists followed
    /// by the target's own (duplicates dropped), and the target's `prebuild`
    /// if it has one, else the global one.
    pub fn for_target(&self, platform: crate::platform::Platform) -> TargetSettings {
        let own = match platform {
            crate::platform::Platform::Windows => &self.windows.target,
            crate::platform::Platform::Linux => &self.linux.target,
        };
        let join = |global: &[String], own: &[String]| {
            let mut v: Vec<String> = Vec::new();
            for s in global.iter().chain(own) {
                if !v.contains(s) {
                    v.push(s.clone());
                }
            }
            v
        };
        TargetSettings {
            wheels: join(&self.wheels, &own.wheels),
            prebuild: own.prebuild.clone().or_else(|| self.prebuild.clone()),
            find_links: join(&self.find_links, &own.find_links),
            extras: join(&self.extras, &own.extras),
        }
    }
}

/// `[package.metadata.pyship.update]`: the `pyship_update` package in every bundle.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Update {
    /// `false`: no `pyship_update` in the bundles.
    pub enabled: bool,
    pub channel: Channel,
    /// Name of the variable the installed app reads a read token from (private
    /// repositories); never the token itself, never the publish token's variable.
    pub token_env: Option<String>,
    /// Seconds the update helper waits for the new version to come up.
    pub start_timeout: u32,
    /// Staged rollout: the fraction (above 0, at most 1) of installs that
    /// are offered a release when it is published. Written into the signed
    /// `manifest.json` as `rollout`; each install draws a number from its own
    /// random id (`.pyship-install-id`, next to the app) and the release's
    /// tag, and sees the release when the draw is below the fraction.
    /// `publish --rollout` / `release --rollout` override it for one run;
    /// publishing the same release again with a higher fraction widens it.
    pub rollout: f64,
    /// Minisign public keys (the `RW…` line of a `.pub` file; `cargo pyship
    /// keygen` makes a pair) that sign releases. Set: `publish` signs
    /// `manifest.json` (`manifest.json.minisig`) and every bundle's updater
    /// accepts only releases signed by one of them (or by a key a signed
    /// release rotated to). Empty (the default): releases are unsigned and
    /// checked by SHA-256 from the release server only.
    pub public_keys: Vec<String>,
    /// Variable holding the minisign secret key (the key file's text) that
    /// `publish` and `release` sign with; never printed or written elsewhere.
    pub signing_key_env: String,
    /// Variable holding the secret key's password; unset or empty: the key is
    /// not encrypted.
    pub signing_password_env: String,
}

/// Default of `update.signing-key-env`.
pub const DEFAULT_SIGNING_KEY_ENV: &str = crate::env::PYSHIP_SIGNING_KEY;
/// Default of `update.signing-password-env`.
pub const DEFAULT_SIGNING_PASSWORD_ENV: &str = crate::env::PYSHIP_SIGNING_PASSWORD;

/// `fraction` when it is a usable staged-rollout fraction (above 0, at most
/// 1); the reason otherwise.
pub fn check_rollout(fraction: f64) -> Result<f64, String> {
    if fraction.is_finite() && fraction > 0.0 && fraction <= 1.0 {
        Ok(fraction)
    } else {
        Err(format!(
            "{fraction} is not a rollout fraction: it must be above 0 and at most 1 (0.25: a quarter of the installs)"
        ))
    }
}

/// Whether `key` looks like a minisign public key line (`RW` + base64 of 42
/// bytes). The full parse (and the key id) is `keys::parse_public_key`'s.
pub fn is_public_key_line(key: &str) -> bool {
    key.len() == 56
        && key.starts_with("RW")
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// `[package.metadata.pyship.ci]`.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Ci {
    /// The shell command the release workflow installs cargo-pyship with;
    /// `None`: `init` chooses one (see [`crate::init::install::choose`]).
    pub install_command: Option<String>,
}

/// Default of `update.start-timeout`.
pub const DEFAULT_START_TIMEOUT: u32 = 60;

/// `update.token-env` (shipped in every bundle) and the first key naming
/// the same variable of a build secret: the publish token or the keys that
/// sign releases and binaries, defaults included. Compared without case, as
/// Windows reads variables.
fn update_token_env_clash(raw: &RawConfig) -> Option<(String, &'static str)> {
    let var = non_empty(raw.update.as_ref()?.token_env.clone())?;
    let given = |v: Option<&String>| non_empty(v.cloned());
    let update = raw.update.as_ref();
    let sign = raw.windows.as_ref().and_then(|w| w.sign.as_ref());
    let secrets = [
        (
            "publish.token-env",
            given(raw.publish.as_ref().and_then(|p| p.token_env.as_ref()))
                .unwrap_or_else(|| DEFAULT_TOKEN_ENV.into()),
        ),
        (
            "update.signing-key-env",
            given(update.and_then(|u| u.signing_key_env.as_ref()))
                .unwrap_or_else(|| DEFAULT_SIGNING_KEY_ENV.into()),
        ),
        (
            "update.signing-password-env",
            given(update.and_then(|u| u.signing_password_env.as_ref()))
                .unwrap_or_else(|| DEFAULT_SIGNING_PASSWORD_ENV.into()),
        ),
        (
            "windows.sign.pkcs12-env",
            given(sign.and_then(|s| s.pkcs12_env.as_ref())).unwrap_or_default(),
        ),
        (
            "windows.sign.password-env",
            given(sign.and_then(|s| s.password_env.as_ref())).unwrap_or_default(),
        ),
    ];
    secrets
        .into_iter()
        .find(|(_, secret)| secret.trim().eq_ignore_ascii_case(var.trim()))
        .map(|(key, _)| (var, key))
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

impl RawConfig {
    /// Parse the `pyship` metadata value. `table` and `file` name where it came
    /// from for error messages.
    pub fn from_json(
        value: &serde_json::Value,
        table: &str,
        file: &std::path::Path,
    ) -> Result<Self, Error> {
        let raw: Self = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner().to_string();
            // serde_json appends " at line L column C" of the JSON cargo made: noise here.
            let message = match inner.find(" at line ") {
                Some(i) => inner[..i].to_owned(),
                None => inner,
            };
            let key = if path == "." { "pyship".into() } else { path };
            let (table, file) = (table.to_owned(), file.to_owned());
            if message.starts_with("unknown field") {
                Error::UnknownKey {
                    key,
                    table,
                    file,
                    message,
                }
            } else {
                Error::Invalid {
                    key,
                    table,
                    file,
                    message,
                }
            }
        })?;
        if let Some(update) = &raw.update {
            if let Some(Err(message)) = update.rollout.map(check_rollout) {
                return Err(Error::Invalid {
                    key: "update.rollout".into(),
                    table: table.to_owned(),
                    file: file.to_owned(),
                    message,
                });
            }
            for (i, key) in update.public_keys.iter().flatten().enumerate() {
                if !is_public_key_line(key.trim()) {
                    return Err(Error::Invalid {
                        key: format!("update.public-keys[{i}]"),
                        table: table.to_owned(),
                        file: file.to_owned(),
                        message: format!(
                            "{key:?} is not a minisign public key (the `RW…` line of a .pub file; `cargo pyship keygen` makes one)"
                        ),
                    });
                }
            }
        }
        if let Some((var, other)) = update_token_env_clash(&raw) {
            return Err(Error::SecretTokenEnv {
                var,
                other,
                table: table.to_owned(),
                file: file.to_owned(),
            });
        }
        strings::check(value, &raw).map_err(|u| {
            Error::Unsafe(Box::new(UnsafeValue {
                key: u.key,
                table: table.to_owned(),
                file: file.to_owned(),
                message: u.message,
                hint: u.hint,
            }))
        })?;
        let invalid = |key: &str, message: String| Error::Invalid {
            key: key.to_owned(),
            table: table.to_owned(),
            file: file.to_owned(),
            message,
        };
        if let Some(code) = raw
            .windows
            .as_ref()
            .and_then(|w| w.msi_upgrade_code.as_deref())
        {
            if !code.trim().is_empty() && !is_guid(code) {
                return Err(invalid(
                    "windows.msi-upgrade-code",
                    format!("`{code}` is not a GUID (XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX, braces optional)"),
                ));
            }
        }
        if let Some(l) = &raw.linux {
            if let Some(m) = l.maintainer.as_deref().filter(|m| !m.trim().is_empty()) {
                if !is_maintainer(m) {
                    return Err(invalid(
                        "linux.maintainer",
                        format!("`{m}` is not `Name <email>` on one line"),
                    ));
                }
            }
            for c in l.conffiles.iter().flatten() {
                if !is_bundle_path(c) {
                    return Err(invalid(
                        "linux.conffiles",
                        format!("`{c}` is not a relative path of a file or folder inside the bundle (not the bundle itself, no `..`, no leading `/`, no control characters)"),
                    ));
                }
            }
            if let Some(url) = l.runtime_url.as_deref() {
                let unknown = url
                    .split('{')
                    .skip(1)
                    .map(|rest| rest.split_once('}').map_or(rest, |(name, _)| name))
                    .find(|name| !matches!(*name, "version" | "release"));
                if let Some(name) = unknown {
                    return Err(invalid(
                        "linux.runtime-url",
                        format!("`{{{name}}}` in `{url}` is no placeholder (only `{{version}}` and `{{release}}` are filled in)"),
                    ));
                }
            }
            for d in l.depends.iter().flatten() {
                if !strings::valid_debian_relation(d) {
                    return Err(invalid(
                        "linux.depends",
                        format!("`{d}` is not one Debian dependency of a binary package (`pkg`, `pkg (>= 1.0)` or alternatives `a | b`, one per entry; no commas, `[arch]` or `<profile>` restrictions)"),
                    ));
                }
            }
        }
        if let Some(sha) = raw
            .windows
            .as_ref()
            .and_then(|w| w.python_sha256.as_deref())
            .filter(|s| !s.trim().is_empty())
        {
            if !crate::fs::is_sha256_hex(sha) {
                return Err(invalid(
                    "windows.python-sha256",
                    format!("`{sha}` is not a SHA-256 (64 hexadecimal digits)"),
                ));
            }
        }
        if let Some(sign) = raw.windows.as_ref().and_then(|w| w.sign.as_ref()) {
            check_sign(sign).map_err(|(key, message)| Error::Invalid {
                key: format!("windows.sign.{key}"),
                table: table.to_owned(),
                file: file.to_owned(),
                message: message.into(),
            })?;
        }
        Ok(raw)
    }

    /// Apply the defaults. `package_name` is the Cargo package's name.
    pub fn resolve(self, package_name: &str) -> Config {
        let w = self.windows.unwrap_or_default();
        let l = self.linux.unwrap_or_default();
        let s = self.strip.unwrap_or_default();
        let p = self.publish.unwrap_or_default();
        let d = self.docker.unwrap_or_default();
        let u = self.update.unwrap_or_default();
        let name = non_empty(self.name).unwrap_or_else(|| package_name.to_owned());
        Config {
            module: non_empty(self.module),
            pyproject: self
                .pyproject
                .unwrap_or_else(|| PathBuf::from("pyproject.toml")),
            app_src: self.app_src,
            include: self.include.unwrap_or_default(),
            allow_outside_project: self.allow_outside_project.unwrap_or(false),
            python: non_empty(self.python).unwrap_or_else(|| DEFAULT_PYTHON.into()),
            extras: self.extras.unwrap_or_default(),
            groups: self.groups.unwrap_or_default(),
            wheels: self.wheels.unwrap_or_default(),
            index_url: non_empty(self.index_url),
            find_links: self.find_links.unwrap_or_default(),
            no_index: self.no_index.unwrap_or(false),
            constraints: self.constraints.unwrap_or_default(),
            prebuild: non_empty(self.prebuild),
            port: self.port,
            kind: self.kind,
            args: self.args.unwrap_or_default(),
            windows: Windows {
                python_mirror: non_empty(w.python_mirror)
                    .unwrap_or_else(|| DEFAULT_PYTHON_MIRROR.into()),
                python_sha256: non_empty(w.python_sha256).map(|s| s.to_ascii_lowercase()),
                installer: w.installer.unwrap_or(true),
                installer_compression: w.installer_compression.unwrap_or_default(),
                launcher: w.launcher.unwrap_or_default(),
                tkinter: w.tkinter.unwrap_or(false),
                tkinter_source: w.tkinter_source.unwrap_or_default(),
                publisher: non_empty(w.publisher).unwrap_or_else(|| name.clone()),
                sign: w.sign.and_then(resolve_sign),
                msi: w.msi.unwrap_or(false),
                msi_scope: w.msi_scope.unwrap_or_default(),
                msi_upgrade_code: non_empty(w.msi_upgrade_code)
                    .map(|g| format!("{{{}}}", g.trim_matches(['{', '}']).to_ascii_uppercase())),
                args: w.args,
                rust_target: non_empty(w.rust_target)
                    .unwrap_or_else(|| DEFAULT_WINDOWS_RUST_TARGET.into()),
                target: TargetSettings {
                    wheels: w.wheels.unwrap_or_default(),
                    prebuild: non_empty(w.prebuild),
                    find_links: w.find_links.unwrap_or_default(),
                    extras: w.extras.unwrap_or_default(),
                },
            },
            linux: Linux {
                runtime: l.runtime.unwrap_or_default(),
                runtime_url: non_empty(l.runtime_url),
                runtime_sha256: non_empty(l.runtime_sha256).map(|s| s.to_ascii_lowercase()),
                platform: non_empty(l.platform).unwrap_or_else(|| DEFAULT_LINUX_PLATFORM.into()),
                service: l.service.unwrap_or(true),
                user: non_empty(l.user),
                args: l.args,
                deb: l.deb.unwrap_or(false),
                maintainer: non_empty(l.maintainer),
                conffiles: l.conffiles.unwrap_or_default(),
                depends: l.depends.unwrap_or_default(),
                target: TargetSettings {
                    wheels: l.wheels.unwrap_or_default(),
                    prebuild: non_empty(l.prebuild),
                    find_links: l.find_links.unwrap_or_default(),
                    extras: l.extras.unwrap_or_default(),
                },
            },
            strip: Strip {
                presets: s
                    .presets
                    .unwrap_or_else(|| DEFAULT_PRESETS.iter().map(|s| s.to_string()).collect()),
                remove: s.remove.unwrap_or_default(),
                keep: s.keep.unwrap_or_default(),
                compile: s.compile.unwrap_or(false),
                debug_symbols: s.debug_symbols.unwrap_or(true),
                haar_cascades: s.haar_cascades.unwrap_or(false),
            },
            publish: Publish {
                provider: p.provider.unwrap_or_default(),
                url: non_empty(p.url),
                repo: non_empty(p.repo),
                token_env: non_empty(p.token_env).unwrap_or_else(|| DEFAULT_TOKEN_ENV.into()),
            },
            docker: Docker {
                image: non_empty(d.image),
                context: d.context.unwrap_or_else(|| PathBuf::from(".")),
            },
            update: Update {
                enabled: u.enabled.unwrap_or(true),
                channel: u.channel.unwrap_or_default(),
                token_env: non_empty(u.token_env),
                start_timeout: u.start_timeout.unwrap_or(DEFAULT_START_TIMEOUT),
                rollout: u.rollout.unwrap_or(1.0),
                public_keys: u
                    .public_keys
                    .unwrap_or_default()
                    .into_iter()
                    .map(|k| k.trim().to_owned())
                    .collect(),
                signing_key_env: non_empty(u.signing_key_env)
                    .unwrap_or_else(|| DEFAULT_SIGNING_KEY_ENV.into()),
                signing_password_env: non_empty(u.signing_password_env)
                    .unwrap_or_else(|| DEFAULT_SIGNING_PASSWORD_ENV.into()),
            },
            ci: Ci {
                install_command: non_empty(self.ci.and_then(|c| c.install_command)),
            },
            name,
            file_name: non_empty(self.file_name),
        }
    }
}

/// A GUID, with or without braces.
fn is_guid(s: &str) -> bool {
    let s = s.trim_start_matches('{').trim_end_matches('}');
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `Name <email>` on one line, as Debian's `Maintainer` field wants it.
fn is_maintainer(s: &str) -> bool {
    let Some((name, rest)) = s.split_once('<') else {
        return false;
    };
    let Some(email) = rest.strip_suffix('>') else {
        return false;
    };
    !name.trim().is_empty()
        && email.contains('@')
        && !s.chars().any(|c| c.is_control() || c == ',')
        && !email.contains(['<', '>', ' '])
}

/// A relative path that stays inside the folder it is relative to and names
/// something in it (not the folder itself, as `.` does).
fn is_bundle_path(s: &str) -> bool {
    let p = std::path::Path::new(s);
    !s.trim().is_empty()
        && !s.chars().any(char::is_control)
        && !s.contains('\\')
        && p.components().all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        })
        && p.components()
            .any(|c| matches!(c, std::path::Component::Normal(_)))
}

/// `[…pyship.windows.sign]` makes sense: exactly one certificate source, a
/// time-stamping URL that is a URL. Returns the key at fault and why.
fn check_sign(s: &RawSign) -> Result<(), (&'static str, &'static str)> {
    let pkcs12 = s.pkcs12.as_ref().is_some_and(|p| !p.as_os_str().is_empty());
    let env = s.pkcs12_env.as_ref().is_some_and(|v| !v.trim().is_empty());
    if pkcs12 && env {
        return Err((
            "pkcs12",
            "set either `pkcs12` (a file) or `pkcs12-env` (a variable with its base64 content), not both",
        ));
    }
    if !pkcs12 && !env {
        return Err((
            "pkcs12",
            "signing needs a certificate: set `pkcs12` (a PKCS#12 file) or `pkcs12-env` (a variable holding its base64 content)",
        ));
    }
    if let Some(u) = s.timestamp_url.as_deref().filter(|u| !u.trim().is_empty()) {
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            return Err((
                "timestamp-url",
                "must be the http:// or https:// URL of an RFC 3161 time-stamping server, or empty for no timestamp",
            ));
        }
    }
    Ok(())
}

/// The checked sign table with its defaults (`None` never happens after
/// [`check_sign`]; kept total for [`RawConfig::resolve`] on unchecked input).
fn resolve_sign(s: RawSign) -> Option<Sign> {
    let certificate = match (
        s.pkcs12.filter(|p| !p.as_os_str().is_empty()),
        non_empty(s.pkcs12_env),
    ) {
        (Some(p), _) => CertSource::Pkcs12(p),
        (None, Some(v)) => CertSource::Pkcs12Env(v),
        (None, None) => return None,
    };
    Some(Sign {
        certificate,
        password_env: non_empty(s.password_env),
        timestamp_url: non_empty(s.timestamp_url),
        sign_binaries: s.sign_binaries.unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Hint;
    use serde_json::json;

    #[test]
    fn unknown_key_names_key_and_file() {
        let err = RawConfig::from_json(
            &json!({"windows": {"instaler": true}}),
            "package.metadata.pyship",
            std::path::Path::new("/p/Cargo.toml"),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("`windows.instaler`"), "{msg}");
        assert!(msg.contains("/p/Cargo.toml"), "{msg}");
        assert!(msg.contains("unknown field"), "{msg}");
        assert!(err.hint().unwrap().contains("remove or rename"));
    }

    #[test]
    fn installer_compression_is_validated_with_a_hint() {
        let f = std::path::Path::new("/p/Cargo.toml");
        let t = "package.metadata.pyship";
        let err = RawConfig::from_json(&json!({"windows": {"installer-compression": "xz"}}), t, f)
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("`windows.installer-compression`"), "{msg}");
        assert!(msg.contains("unknown variant `xz`"), "{msg}");
        assert!(err.hint().unwrap().contains("\"zlib\""), "{:?}", err.hint());
        let ok = RawConfig::from_json(&json!({"windows": {"installer-compression": "zlib"}}), t, f)
            .unwrap()
            .resolve("app");
        assert_eq!(ok.windows.installer_compression, InstallerCompression::Zlib);
        let default = RawConfig::from_json(&json!({}), t, f)
            .unwrap()
            .resolve("app");
        assert_eq!(
            default.windows.installer_compression,
            InstallerCompression::Lzma
        );
    }

    #[test]
    fn wrong_type_is_rejected() {
        let err = RawConfig::from_json(
            &json!({"port": "eighty"}),
            "package.metadata.pyship",
            std::path::Path::new("Cargo.toml"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("`port`"), "{err}");
        assert!(err.to_string().contains("invalid type"), "{err}");
    }

    #[test]
    fn sign_needs_exactly_one_certificate_source() {
        let f = std::path::Path::new("Cargo.toml");
        let t = "package.metadata.pyship";
        let err = RawConfig::from_json(&json!({"windows": {"sign": {"password-env": "P"}}}), t, f)
            .unwrap_err();
        assert!(err.to_string().contains("`windows.sign.pkcs12`"), "{err}");
        let err = RawConfig::from_json(
            &json!({"windows": {"sign": {"pkcs12": "a.p12", "pkcs12-env": "CERT"}}}),
            t,
            f,
        )
        .unwrap_err();
        assert!(err.to_string().contains("not both"), "{err}");
        let err = RawConfig::from_json(
            &json!({"windows": {"sign": {"pkcs12": "a.p12", "timestamp-url": "timestamp.example"}}}),
            t,
            f,
        )
        .unwrap_err();
        assert!(err.to_string().contains("timestamp-url"), "{err}");
        let c = RawConfig::from_json(
            &json!({"windows": {"sign": {"pkcs12-env": "CERT", "password-env": "PW", "timestamp-url": ""}}}),
            t,
            f,
        )
        .unwrap()
        .resolve("x");
        let s = c.windows.sign.unwrap();
        assert_eq!(s.certificate, CertSource::Pkcs12Env("CERT".into()));
        assert_eq!(s.password_env.as_deref(), Some("PW"));
        assert_eq!(s.timestamp_url, None);
        assert!(!s.sign_binaries);
    }

    /// What a generated file cannot carry is refused at load time, naming
    /// the key, with a hint; what it can carry is left to the filters.
    #[test]
    fn strings_no_generated_file_can_carry_are_refused() {
        let f = std::path::Path::new("/p/Cargo.toml");
        let t = "package.metadata.pyship";
        let refused = |v: serde_json::Value, key: &str| {
            let err = RawConfig::from_json(&v, t, f).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(&format!("`{key}`")), "{msg}");
            assert!(msg.contains("/p/Cargo.toml"), "{msg}");
            assert!(err.hint().is_some_and(|h| !h.is_empty()), "{msg}");
        };
        refused(json!({"name": "Hello\nApp"}), "name");
        refused(json!({"name": "A\u{2028}B"}), "name");
        refused(
            json!({"windows": {"publisher": "Corp\r"}}),
            "windows.publisher",
        );
        refused(json!({"args": ["ok", "a\u{0}b"]}), "args[1]");
        refused(json!({"linux": {"args": ["\u{0}"]}}), "linux.args[0]");
        refused(json!({"prebuild": "make\u{0}"}), "prebuild");
        refused(json!({"linux": {"user": "nobody\\"}}), "linux.user");
        refused(json!({"linux": {"user": "a b"}}), "linux.user");
        refused(json!({"linux": {"user": "-x"}}), "linux.user");
        refused(json!({"linux": {"user": "4294967295"}}), "linux.user");
        refused(
            json!({"publish": {"token-env": "A-B"}}),
            "publish.token-env",
        );
        refused(json!({"update": {"token-env": "$X"}}), "update.token-env");
        refused(
            json!({"windows": {"sign": {"pkcs12": "a.p12", "password-env": "P W"}}}),
            "windows.sign.password-env",
        );
        refused(json!({"extras": ["web", "x y"]}), "extras");
        refused(json!({"linux": {"extras": ["a\n"]}}), "linux.extras");
        for user in ["nobody", "svc-app", "_x", "1000", "root"] {
            let c = RawConfig::from_json(&json!({"linux": {"user": user}}), t, f).unwrap();
            assert_eq!(c.linux.unwrap().user.as_deref(), Some(user));
        }
        // Quotes, `$`, `%`, braces, backslashes and any script are data.
        let ok = r#"Corp "q" 'x' $%SECRET% ${NSISDIR} %n \ """ {{ x }}"#;
        let c = RawConfig::from_json(
            &json!({"name": ok, "windows": {"publisher": ok}, "args": [ok, "a\nb"]}),
            t,
            f,
        )
        .unwrap()
        .resolve("x");
        assert_eq!(c.name, ok);
        assert_eq!(c.args[1], "a\nb");
    }

    /// `docker.image` is held to Docker's grammar when the config is
    /// loaded, by the function the docker stage uses: a name docker would
    /// refuse or read as an option fails before anything is built.
    #[test]
    fn a_docker_image_docker_would_refuse_is_refused_at_load() {
        let f = std::path::Path::new("/p/Cargo.toml");
        let t = "workspace.metadata.pyship";
        for bad in [
            "-x",
            "--help",
            "UPPER/case",
            "a b",
            "o/app:tag",
            "a/../b",
            "a\nb",
        ] {
            let err = RawConfig::from_json(&json!({"docker": {"image": bad}}), t, f).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.contains(
                    "invalid `docker.image` in [workspace.metadata.pyship] of /p/Cargo.toml"
                ) && msg.contains("is not a Docker image name"),
                "{bad:?}: {msg}"
            );
            assert!(err.hint().is_some_and(|h| h.contains("lowercase")), "{msg}");
        }
        for ok in ["ghcr.io/acme/app", "localhost:5000/app", "acme/app", ""] {
            let c = RawConfig::from_json(&json!({"docker": {"image": ok}}), t, f)
                .unwrap_or_else(|e| panic!("{ok:?}: {e}"))
                .resolve("x");
            assert_eq!(
                c.docker.image.as_deref(),
                Some(ok).filter(|s| !s.is_empty())
            );
        }
    }

    /// `linux.platform` goes to uv's `--python-platform` and maturin's
    /// `--compatibility`: a value either would refuse, or that names no
    /// x86_64 glibc target, fails when the config is loaded, naming the key;
    /// every value that builds today still loads.
    #[test]
    fn a_linux_platform_uv_or_maturin_would_refuse_is_refused_at_load() {
        let f = std::path::Path::new("/p/Cargo.toml");
        let t = "package.metadata.pyship";
        for bad in [
            "manylinux_2_28_x86_64",
            "x86_64-manylinux_2_24",
            "aarch64-manylinux_2_28",
            "x86_64-unknown-linux-musl",
            "linux_x86_64",
            "--help",
        ] {
            let err = RawConfig::from_json(&json!({"linux": {"platform": bad}}), t, f).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.contains(
                    "invalid `linux.platform` in [package.metadata.pyship] of /p/Cargo.toml"
                ) && msg.contains(&format!("{bad:?}")),
                "{bad:?}: {msg}"
            );
            assert!(
                err.hint()
                    .is_some_and(|h| h.contains("x86_64-manylinux_2_Y") && h.contains("31, 32")),
                "{msg}"
            );
        }
        for ok in [
            "x86_64-manylinux_2_28",
            "x86_64-manylinux_2_17",
            "x86_64-manylinux_2_35",
            "x86_64-manylinux2014",
            "x86_64-unknown-linux-gnu",
            "linux",
        ] {
            let c = RawConfig::from_json(&json!({"linux": {"platform": ok}}), t, f)
                .unwrap_or_else(|e| panic!("{ok:?}: {e}"))
                .resolve("x");
            assert_eq!(c.linux.platform, ok);
        }
        let c = RawConfig::from_json(&json!({"linux": {"platform": " "}}), t, f)
            .unwrap()
            .resolve("x");
        assert_eq!(c.linux.platform, DEFAULT_LINUX_PLATFORM);
    }

    #[test]
    fn defaults_apply() {
        let c = RawConfig::default().resolve("hello");
        assert_eq!(c.name, "hello");
        assert_eq!(c.python, DEFAULT_PYTHON);
        assert!(c.windows.installer);
        assert_eq!(c.windows.launcher, Launcher::Vbs);
        assert_eq!(c.windows.publisher, "hello");
        assert_eq!(c.strip.presets.len(), 5);
        assert!(!c.strip.compile);
        assert_eq!(c.publish.token_env, "DEPLOY_TOKEN");
        assert_eq!(c.linux.platform, DEFAULT_LINUX_PLATFORM);
        assert_eq!(c.windows.sign, None);
        assert!(c.update.enabled);
        assert_eq!(c.update.channel, Channel::Stable);
        assert_eq!(c.update.token_env, None);
    }

    #[test]
    fn update_signing_keys() {
        let resolve = |v: &serde_json::Value| {
            RawConfig::from_json(
                v,
                "package.metadata.pyship",
                std::path::Path::new("Cargo.toml"),
            )
            .map(|r| r.resolve("hello"))
        };
        let key = "RWQBP5ju3DTGVwfv5i4WokQZG3HAzbdvcw5yzVDKu4u5ErP7YcnP7j5d";
        let c = resolve(&json!({"update": {"public-keys": [key]}})).unwrap();
        assert_eq!(c.update.public_keys, vec![key.to_owned()]);
        assert_eq!(c.update.signing_key_env, "PYSHIP_SIGNING_KEY");
        assert_eq!(c.update.signing_password_env, "PYSHIP_SIGNING_PASSWORD");
        let c = resolve(&json!({})).unwrap();
        assert!(c.update.public_keys.is_empty());
        for bad in [
            "RW",
            "untrusted comment: minisign public key",
            "RWQ!P5ju3DTGVwfv5i4WokQZG3HAzbdvcw5yzVDKu4u5ErP7YcnP7j5d",
        ] {
            let err = resolve(&json!({"update": {"public-keys": [bad]}})).unwrap_err();
            assert!(err.to_string().contains("`update.public-keys[0]`"), "{err}");
        }
        let err =
            resolve(&json!({"update": {"signing-key-env": "untrusted comment: x"}})).unwrap_err();
        assert!(err.to_string().contains("update.signing-key-env"), "{err}");
        let err = resolve(&json!({"update": {"signing-password-env": "1PASS"}})).unwrap_err();
        assert!(
            err.to_string().contains("update.signing-password-env"),
            "{err}"
        );
    }

    #[test]
    fn update_rollout() {
        let resolve = |v: &serde_json::Value| {
            RawConfig::from_json(
                v,
                "package.metadata.pyship",
                std::path::Path::new("Cargo.toml"),
            )
            .map(|r| r.resolve("hello"))
        };
        assert_eq!(resolve(&json!({})).unwrap().update.rollout, 1.0);
        let c = resolve(&json!({"update": {"rollout": 0.25}})).unwrap();
        assert_eq!(c.update.rollout, 0.25);
        assert_eq!(
            resolve(&json!({"update": {"rollout": 1}}))
                .unwrap()
                .update
                .rollout,
            1.0
        );
        for bad in [json!(0), json!(-0.5), json!(1.5), json!("0.5")] {
            let err = resolve(&json!({"update": {"rollout": bad}})).unwrap_err();
            assert!(err.to_string().contains("update.rollout"), "{bad}: {err}");
        }
        assert!(check_rollout(f64::NAN).is_err());
        assert!(check_rollout(f64::INFINITY).is_err());
    }

    /// `update.token-env` is shipped in every bundle: it must never name the
    /// variable of the publish token or of a signing key, as given or by
    /// default, in any case (Windows reads variables without case).
    #[test]
    fn update_token_env_is_never_a_build_secret() {
        let parse = |v: serde_json::Value| {
            RawConfig::from_json(
                &v,
                "package.metadata.pyship",
                std::path::Path::new("Cargo.toml"),
            )
        };
        for (config, other) in [
            (
                json!({"update": {"token-env": "DEPLOY_TOKEN"}}),
                "publish.token-env",
            ),
            (
                json!({"update": {"token-env": "deploy_token"}}),
                "publish.token-env",
            ),
            (
                json!({"publish": {"token-env": "GITEA_WRITE"}, "update": {"token-env": "GITEA_WRITE"}}),
                "publish.token-env",
            ),
            (
                json!({"update": {"token-env": "PYSHIP_SIGNING_KEY"}}),
                "update.signing-key-env",
            ),
            (
                json!({"update": {"token-env": "SK", "signing-key-env": "SK"}}),
                "update.signing-key-env",
            ),
            (
                json!({"update": {"token-env": "PYSHIP_SIGNING_PASSWORD"}}),
                "update.signing-password-env",
            ),
            (
                json!({"update": {"token-env": "P12"}, "windows": {"sign": {"pkcs12-env": "P12"}}}),
                "windows.sign.pkcs12-env",
            ),
        ] {
            let e = parse(config.clone()).unwrap_err();
            assert!(
                matches!(&e, Error::SecretTokenEnv { other: o, .. } if *o == other),
                "{config}: {e}"
            );
            let text = e.to_string();
            assert!(
                text.contains("`update.token-env`") && text.contains(other),
                "{text}"
            );
            assert!(
                e.hint().is_some_and(|h| h.contains("APP_UPDATE_TOKEN")),
                "{config}"
            );
        }
        // The default publish variable is free once the publish token is elsewhere.
        for ok in [
            json!({"update": {"token-env": "APP_UPDATE_TOKEN"}}),
            json!({"publish": {"token-env": "GITEA_WRITE"}, "update": {"token-env": "DEPLOY_TOKEN"}}),
            json!({"update": {"token-env": ""}}),
        ] {
            parse(ok.clone()).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }

    #[test]
    fn update_table() {
        let c = RawConfig::from_json(
            &json!({"update": {"enabled": false, "channel": "prerelease", "token-env": "APP_TOKEN"}}),
            "package.metadata.pyship",
            std::path::Path::new("Cargo.toml"),
        )
        .unwrap()
        .resolve("hello");
        assert!(!c.update.enabled);
        assert_eq!(c.update.channel, Channel::Prerelease);
        assert_eq!(c.update.token_env.as_deref(), Some("APP_TOKEN"));
        let err = RawConfig::from_json(
            &json!({"update": {"channel": "nightly"}}),
            "package.metadata.pyship",
            std::path::Path::new("Cargo.toml"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("`update.channel`"), "{err}");
    }

    #[test]
    fn per_target_settings_add_to_global_ones() {
        let raw = RawConfig::from_json(
            &json!({
                "wheels": ["common/*.whl"],
                "extras": ["web"],
                "prebuild": "make all",
                "windows": {"wheels": ["win/*.whl"], "prebuild": "make win", "find-links": ["wl"]},
                "linux": {"wheels": ["lin/*.whl"], "extras": ["web", "systemd"]},
            }),
            "package.metadata.pyship",
            std::path::Path::new("Cargo.toml"),
        )
        .unwrap();
        let c = raw.resolve("app");
        use crate::platform::Platform;
        let w = c.for_target(Platform::Windows);
        assert_eq!(w.wheels, ["common/*.whl", "win/*.whl"]);
        assert_eq!(w.prebuild.as_deref(), Some("make win"));
        assert_eq!(w.find_links, ["wl"]);
        assert_eq!(w.extras, ["web"]);
        let l = c.for_target(Platform::Linux);
        assert_eq!(l.wheels, ["common/*.whl", "lin/*.whl"]);
        assert_eq!(l.prebuild.as_deref(), Some("make all"));
        assert!(l.find_links.is_empty());
        assert_eq!(l.extras, ["web", "systemd"]);
    }
}

#[cfg(test)]
mod package_tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<Config, Error> {
        RawConfig::from_json(
            &v,
            "package.metadata.pyship",
            std::path::Path::new("Cargo.toml"),
        )
        .map(|r| r.resolve("app"))
    }

    #[test]
    fn msi_and_deb_keys_have_defaults_and_are_validated() {
        let c = parse(json!({})).unwrap();
        assert!(!c.windows.msi && !c.linux.deb);
        assert_eq!(c.windows.msi_scope, MsiScope::PerMachine);
        assert_eq!(c.windows.msi_upgrade_code, None);
        let c = parse(json!({
            "windows": {"msi": true, "msi-scope": "per-user", "msi-upgrade-code": "6f0d1c9a-0000-4000-8000-00000000000a"},
            "linux": {"deb": true, "maintainer": "Ann Example <ann@example.com>", "conffiles": ["app/config"], "depends": ["libfoo1 (>= 1.2)"]},
        }))
        .unwrap();
        assert_eq!(c.windows.msi_scope, MsiScope::PerUser);
        assert_eq!(
            c.windows.msi_upgrade_code.as_deref(),
            Some("{6F0D1C9A-0000-4000-8000-00000000000A}")
        );
        assert_eq!(c.linux.conffiles, ["app/config"]);
        for (bad, key) in [
            (
                json!({"windows": {"msi-upgrade-code": "not-a-guid"}}),
                "windows.msi-upgrade-code",
            ),
            (
                json!({"windows": {"msi-scope": "everyone"}}),
                "windows.msi-scope",
            ),
            (json!({"linux": {"maintainer": "Ann"}}), "linux.maintainer"),
            (
                json!({"linux": {"maintainer": "Ann <ann@x>\nDepends: evil"}}),
                "linux.maintainer",
            ),
            (
                json!({"linux": {"conffiles": ["../etc/passwd"]}}),
                "linux.conffiles",
            ),
            (
                json!({"linux": {"conffiles": ["/etc/passwd"]}}),
                "linux.conffiles",
            ),
            (json!({"linux": {"conffiles": ["./"]}}), "linux.conffiles"),
            (json!({"linux": {"depends": ["a, b"]}}), "linux.depends"),
            (
                json!({"linux": {"runtime-url": "https://x.example/{evil}/py-{version}.tar.gz"}}),
                "linux.runtime-url",
            ),
            (
                json!({"linux": {"runtime-url": "https://x.example/py-{version.tar.gz"}}),
                "linux.runtime-url",
            ),
            (
                json!({"windows": {"python-sha256": "zz; rm"}}),
                "windows.python-sha256",
            ),
            (
                json!({"linux": {"depends": ["x (>= 1) [amd64]"]}}),
                "linux.depends",
            ),
            (
                json!({"linux": {"depends": ["y <!nocheck>"]}}),
                "linux.depends",
            ),
            (
                json!({"linux": {"depends": ["${shlibs:Depends}"]}}),
                "linux.depends",
            ),
            (
                json!({"linux": {"depends": ["a\nEvil: x"]}}),
                "linux.depends",
            ),
        ] {
            let e = parse(bad.clone()).unwrap_err().to_string();
            assert!(e.contains(key), "{bad}: {e}");
        }
    }
}
