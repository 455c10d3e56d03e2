//! Every environment variable the tool reads, one documented constant each.
//!
//! Reading the environment in one place keeps the list honest (the book's
//! environment page is generated from [`DOCS`]) and lets tests pass a fixed [`Env`] instead of mutating the
//! process environment, which is shared between test threads.

use std::collections::BTreeMap;

/// Declares every variable: a documented constant each, [`ALL`] (their names)
/// and [`DOCS`] (names with their doc comments, the book's environment page).
macro_rules! vars {
    ($( $(#[doc = $doc:literal])+ $name:ident = $value:literal; )*) => {
        $( $(#[doc = $doc])+ pub const $name: &str = $value; )*
        /// All variables above, in order.
        pub const ALL: &[&str] = &[$($name),*];
        /// Each variable with its doc comment (one line per `///` line).
        pub const DOCS: &[(&str, &str)] = &[$( ($name, concat!($($doc, "\n"),+)) ),*];
    };
}

vars! {
    /// Cache root. Default: the platform cache dir + `/pyship`.
    PYSHIP_CACHE_DIR = "PYSHIP_CACHE_DIR";
    /// Mirror for the embeddable CPython (overrides `windows.python-mirror`).
    PYSHIP_PYTHON_MIRROR = "PYSHIP_PYTHON_MIRROR";
    /// Mirror for the Linux standalone CPython: replaces the default
    /// python-build-standalone release URL's `https://github.com/astral-sh/python-build-standalone/releases/download` prefix
    /// (overridden itself by `linux.runtime-url`).
    PYSHIP_LINUX_PYTHON_MIRROR = "PYSHIP_LINUX_PYTHON_MIRROR";
    /// Path of the `uv` binary (default: `uv` on `PATH`).
    PYSHIP_UV = "PYSHIP_UV";
    /// Path of `makensis` (default: `makensis` on `PATH`).
    PYSHIP_MAKENSIS = "PYSHIP_MAKENSIS";
    /// Path of `maturin` (default: `maturin` on `PATH`, else `uv tool run maturin`).
    PYSHIP_MATURIN = "PYSHIP_MATURIN";
    /// A prepared wine prefix for running Windows programs (the import check,
    /// byte-compiling, `cargo pyship run`), used as it is: never created or
    /// stopped. Default: a private copy of the prefix cargo-pyship prepares in
    /// its cache.
    PYSHIP_WINEPREFIX = "PYSHIP_WINEPREFIX";
    /// wine's own prefix variable: used (never created or stopped) when
    /// `PYSHIP_WINEPREFIX` is not set.
    WINEPREFIX = "WINEPREFIX";
    /// Python's std stream encoding: when unset, `cargo pyship run` sets it to
    /// `utf-8` for the Windows app under wine (its std handles are pipes to a
    /// Linux terminal); when set, it is passed on as it is.
    PYTHONIOENCODING = "PYTHONIOENCODING";
    /// A file to which every child process the tool starts appends one line
    /// (its command line, secrets redacted): what a build ran, for debugging and
    /// the tests that check a warm build runs no uv and no maturin.
    PYSHIP_PROCESS_LOG = "PYSHIP_PROCESS_LOG";
    /// Base delay of network retries in milliseconds (default 500).
    PYSHIP_RETRY_BASE_MS = "PYSHIP_RETRY_BASE_MS";
    /// Connect timeout of every HTTP request in seconds (default 15).
    PYSHIP_CONNECT_TIMEOUT = "PYSHIP_CONNECT_TIMEOUT";
    /// Read-idle timeout of every HTTP request in seconds (default 60): the
    /// longest wait for an answer or for the next bytes of a download.
    PYSHIP_HTTP_TIMEOUT = "PYSHIP_HTTP_TIMEOUT";
    /// Total time of one download in seconds, its retries included (default
    /// 1800): a server that trickles a body a few bytes at a time fails then.
    PYSHIP_DOWNLOAD_TIMEOUT = "PYSHIP_DOWNLOAD_TIMEOUT";
    /// The build's time in seconds since the epoch: archive entries, the
    /// installer, the MSI, the deb, the SBOMs, `manifest.json`, maturin and
    /// `prebuild`. Default: the commit time of HEAD, else 1980-01-01.
    SOURCE_DATE_EPOCH = "SOURCE_DATE_EPOCH";
    /// The CI tag: its name (GitHub, Gitea and Forgejo runners set it).
    GITHUB_REF_NAME = "GITHUB_REF_NAME";
    /// The CI ref's type: `tag` makes `GITHUB_REF_NAME` a version source.
    GITHUB_REF_TYPE = "GITHUB_REF_TYPE";
    /// The CI ref (`refs/tags/v1.2.3`).
    GITHUB_REF = "GITHUB_REF";
    /// Forgejo runner mirror of `GITHUB_REF_NAME`.
    FORGEJO_REF_NAME = "FORGEJO_REF_NAME";
    /// Forgejo runner mirror of `GITHUB_REF_TYPE`.
    FORGEJO_REF_TYPE = "FORGEJO_REF_TYPE";
    /// Forgejo runner mirror of `GITHUB_REF`.
    FORGEJO_REF = "FORGEJO_REF";
    /// Not set by Gitea's runner itself; honoured when a workflow sets it.
    GITEA_REF_NAME = "GITEA_REF_NAME";
    /// Not set by Gitea's runner itself; honoured when a workflow sets it.
    GITEA_REF_TYPE = "GITEA_REF_TYPE";
    /// Not set by Gitea's runner itself; honoured when a workflow sets it.
    GITEA_REF = "GITEA_REF";
    /// Server of the CI run (default of `publish.url`).
    GITHUB_SERVER_URL = "GITHUB_SERVER_URL";
    /// Repository of the CI run, `owner/name` (default of `publish.repo`).
    GITHUB_REPOSITORY = "GITHUB_REPOSITORY";
    /// Commit being built (falls back to `git rev-parse HEAD`).
    GITHUB_SHA = "GITHUB_SHA";
    /// The user who started the CI run (username for `docker login`).
    GITHUB_ACTOR = "GITHUB_ACTOR";
    /// Default name of the variable holding the publish token (`publish.token-env`).
    DEPLOY_TOKEN = "DEPLOY_TOKEN";
    /// Default name of the variable holding the minisign secret key that signs
    /// `manifest.json` (`update.signing-key-env`).
    PYSHIP_SIGNING_KEY = "PYSHIP_SIGNING_KEY";
    /// Default name of the variable holding that key's password
    /// (`update.signing-password-env`); `keygen` reads the password from it too.
    PYSHIP_SIGNING_PASSWORD = "PYSHIP_SIGNING_PASSWORD";
    /// Set by CI systems (to anything but `false` or `0`): `release` is
    /// `--locked` there. Never changes what a build produces.
    CI = "CI";
    /// cargo's home (default `~/.cargo`): `init` reads cargo's install record
    /// (`.crates2.json`) there to learn where cargo-pyship was installed from.
    CARGO_HOME = "CARGO_HOME";
    /// Windows hosts: where installers put tools (`makensis.exe` in `{dir}\NSIS`).
    PROGRAM_FILES_X86 = "ProgramFiles(x86)";
    /// Windows hosts: where installers put tools (`makensis.exe` in `{dir}\NSIS`).
    PROGRAM_FILES = "ProgramFiles";
}

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

    /// Every variable whose name starts with `prefix`, by name (uv's own
    /// `UV_*`: they change what uv answers, so they are part of the keys of
    /// the uv answers the cache keeps).
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.vars
            .iter()
            .filter(move |(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_str(), v.as_str()))
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
