//! Every environment variable the tool reads, one documented constant each.
//!
//! Reading the environment in one place keeps the list honest (the README's table
//! comes from here) and lets tests pass a fixed [`Env`] instead of mutating the
//! process environment, which is shared between test threads.

use std::collections::BTreeMap;

/// Cache root. Default: the platform cache dir + `/pyship`.
pub const PYSHIP_CACHE_DIR: &str = "PYSHIP_CACHE_DIR";
/// Mirror for the embeddable CPython (overrides `windows.python-mirror`).
pub const PYSHIP_PYTHON_MIRROR: &str = "PYSHIP_PYTHON_MIRROR";
/// Path of the `uv` binary (default: `uv` on `PATH`).
pub const PYSHIP_UV: &str = "PYSHIP_UV";
/// Path of `maturin` (default: `maturin` on `PATH`, else `uv tool run maturin`).
pub const PYSHIP_MATURIN: &str = "PYSHIP_MATURIN";
/// Path of `makensis` (default: `makensis` on `PATH`).
pub const PYSHIP_MAKENSIS: &str = "PYSHIP_MAKENSIS";
/// A prepared wine prefix for running Windows programs (strip import check and
/// byte-compiling); default: a fresh private prefix per run.
pub const PYSHIP_WINEPREFIX: &str = "PYSHIP_WINEPREFIX";
/// wine's own prefix variable: used (never created or stopped) when
/// `PYSHIP_WINEPREFIX` is not set.
pub const WINEPREFIX: &str = "WINEPREFIX";
/// Python's std stream encoding: when unset, `cargo pyship run` sets it to
/// `utf-8` for the Windows app under wine (its std handles are pipes to a
/// Linux terminal); when set, it is passed on as it is.
pub const PYTHONIOENCODING: &str = "PYTHONIOENCODING";
/// A file to which every child process the tool starts appends one line
/// (its command line, secrets redacted): what a build ran, for debugging and
/// the tests that check a warm build runs no uv and no maturin.
pub const PYSHIP_PROCESS_LOG: &str = "PYSHIP_PROCESS_LOG";
/// Base delay of network retries in milliseconds (default 500; tests shrink it).
pub const PYSHIP_RETRY_BASE_MS: &str = "PYSHIP_RETRY_BASE_MS";
/// Connect timeout of every HTTP request in seconds (default 15).
pub const PYSHIP_CONNECT_TIMEOUT: &str = "PYSHIP_CONNECT_TIMEOUT";
/// Read-idle timeout of every HTTP request in seconds (default 60): the
/// longest wait for an answer or for the next bytes of a download.
pub const PYSHIP_HTTP_TIMEOUT: &str = "PYSHIP_HTTP_TIMEOUT";
/// Total time of one download in seconds, its retries included (default
/// 1800): a server that trickles a body a few bytes at a time fails then.
pub const PYSHIP_DOWNLOAD_TIMEOUT: &str = "PYSHIP_DOWNLOAD_TIMEOUT";
/// Mirror for the Linux standalone CPython: replaces the default
/// python-build-standalone release URL's `https://github.com/astral-sh/python-build-standalone/releases/download` prefix
/// (overridden itself by `linux.runtime-url`).
pub const PYSHIP_LINUX_PYTHON_MIRROR: &str = "PYSHIP_LINUX_PYTHON_MIRROR";
/// Fixed timestamp (seconds since the epoch) for archive entries.
pub const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";
/// CI ref name and type (GitHub, Gitea and Forgejo runners all set these).
pub const GITHUB_REF_NAME: &str = "GITHUB_REF_NAME";
pub const GITHUB_REF_TYPE: &str = "GITHUB_REF_TYPE";
pub const GITHUB_REF: &str = "GITHUB_REF";
/// Forgejo runner mirrors of the `GITHUB_*` names (since July 2025).
pub const FORGEJO_REF_NAME: &str = "FORGEJO_REF_NAME";
pub const FORGEJO_REF_TYPE: &str = "FORGEJO_REF_TYPE";
pub const FORGEJO_REF: &str = "FORGEJO_REF";
/// Not set by Gitea's runner itself; honoured when a workflow sets it.
pub const GITEA_REF_NAME: &str = "GITEA_REF_NAME";
pub const GITEA_REF_TYPE: &str = "GITEA_REF_TYPE";
pub const GITEA_REF: &str = "GITEA_REF";
/// Server and repository of the CI run (defaults for `publish.url` / `publish.repo`).
pub const GITHUB_SERVER_URL: &str = "GITHUB_SERVER_URL";
pub const GITHUB_REPOSITORY: &str = "GITHUB_REPOSITORY";
/// Commit being built (falls back to `git rev-parse HEAD`).
pub const GITHUB_SHA: &str = "GITHUB_SHA";
/// The user who started the CI run (username for `docker login`).
pub const GITHUB_ACTOR: &str = "GITHUB_ACTOR";
/// Default name of the variable holding the publish token (`publish.token-env`).
pub const DEPLOY_TOKEN: &str = "DEPLOY_TOKEN";
/// Default name of the variable holding the minisign secret key that signs
/// `manifest.json` (`update.signing-key-env`).
pub const PYSHIP_SIGNING_KEY: &str = "PYSHIP_SIGNING_KEY";
/// Default name of the variable holding that key's password
/// (`update.signing-password-env`).
pub const PYSHIP_SIGNING_PASSWORD: &str = "PYSHIP_SIGNING_PASSWORD";
/// Set by CI systems; used only to pick defaults, never to change results
/// (`release` is `--locked` there).
pub const CI: &str = "CI";
/// cargo's home (default `~/.cargo`): `init` reads cargo's install record
/// (`.crates2.json`) there to learn where cargo-pyship was installed from.
pub const CARGO_HOME: &str = "CARGO_HOME";
/// Windows hosts: where installers put tools (`makensis.exe` in `{dir}\NSIS`).
pub const PROGRAM_FILES_X86: &str = "ProgramFiles(x86)";
pub const PROGRAM_FILES: &str = "ProgramFiles";

/// All variables above, for documentation and `cargo pyship plan`.
pub const ALL: &[&str] = &[
    PYSHIP_CACHE_DIR,
    PYSHIP_PYTHON_MIRROR,
    PYSHIP_UV,
    PYSHIP_MAKENSIS,
    PYSHIP_MATURIN,
    PYSHIP_WINEPREFIX,
    CARGO_HOME,
    WINEPREFIX,
    PYSHIP_RETRY_BASE_MS,
    PYSHIP_PROCESS_LOG,
    PYSHIP_CONNECT_TIMEOUT,
    PYSHIP_HTTP_TIMEOUT,
    PYSHIP_DOWNLOAD_TIMEOUT,
    PYSHIP_LINUX_PYTHON_MIRROR,
    SOURCE_DATE_EPOCH,
    GITHUB_REF_NAME,
    GITHUB_REF_TYPE,
    GITHUB_REF,
    FORGEJO_REF_NAME,
    FORGEJO_REF_TYPE,
    FORGEJO_REF,
    GITEA_REF_NAME,
    GITEA_REF_TYPE,
    GITEA_REF,
    GITHUB_SERVER_URL,
    GITHUB_REPOSITORY,
    GITHUB_SHA,
    GITHUB_ACTOR,
    DEPLOY_TOKEN,
    PYSHIP_SIGNING_KEY,
    PYSHIP_SIGNING_PASSWORD,
    CI,
    PROGRAM_FILES_X86,
    PROGRAM_FILES,
];

/// Whether this runs in CI: `CI` set to anything but `false` or `0`.
pub fn is_ci(env: &Env) -> bool {
    env.get(CI)
        .is_some_and(|v| !v.eq_ignore_ascii_case("false") && v != "0")
}

/// A snapshot of the variables the tool reads.
///
/// Built once from the process ([`Env::from_process`]) or from a list in tests.
/// The token variable named by `publish.token-env` is read through [`Env::get`]
/// too, so tests never need to touch the real environment.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// Every variable of the process (the token variable's name is configurable,
    /// so the whole environment is kept; [`Env`]'s `Debug` is never printed).
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// An environment made of exactly these pairs.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The value of `name`, or `None` when unset or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Set (or replace) one variable; used by tests and by `--version`-like overrides.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.vars.insert(name.into(), value.into());
    }

    /// `SOURCE_DATE_EPOCH` parsed, if set and valid.
    pub fn source_date_epoch(&self) -> Option<u64> {
        self.get(SOURCE_DATE_EPOCH)?.trim().parse().ok()
    }
}
