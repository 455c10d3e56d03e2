//! The pyship table as written: [`RawConfig`] and its sub-tables mirror the
//! TOML exactly (every field optional, kebab-case, unknown keys rejected), and
//! the enums of the keys that take one of a few words. Their doc comments are
//! the config reference's descriptions.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The doc comment of each field is the key's description in the book's
/// config reference, the JSON Schema and the table `init` writes (its first
/// paragraph there): write it for the user. Defaults are applied in
/// [`RawConfig::resolve`], the only place that knows them.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(title = "[package.metadata.pyship]")]
pub struct RawConfig {
    /// The workspace member shipped (its name and version); `-p/--package` need not be given.
    ///
    /// Only in `[workspace.metadata.pyship]` of a workspace of several members.
    pub package: Option<String>,
    /// Display name: installer title, Add/Remove Programs, release name.
    ///
    /// Default: the pyproject's `[project] name`, else the Cargo package name.
    pub name: Option<String>,
    /// File name of artifacts, folders and the systemd unit (default: derived from `name`).
    ///
    /// `name` with spaces turned into `-`; set it when `name` has other
    /// characters than ASCII letters, digits, spaces, `-`, `_` and `.`.
    pub file_name: Option<String>,
    /// What the launchers start: `python -m {module}`, or an entry point `pkg.mod:func`.
    ///
    /// Default: the `[project.scripts]` entry named after the project (or the
    /// only one), else the package named after the project.
    pub module: Option<String>,
    /// The app's pyproject.toml.
    ///
    /// Default: `pyproject.toml` next to this Cargo.toml.
    pub pyproject: Option<PathBuf>,
    /// The folder containing the app's top-level package(s), copied to app/src.
    ///
    /// Default: from the layout: maturin's `python-source`, a src layout's
    /// `src/`, else next to the pyproject. Never the package folder itself.
    /// Inside the project or beside the pyproject (else
    /// `allow-outside-project`).
    pub app_src: Option<PathBuf>,
    /// Extra files or directories copied under app/, each at `app/` plus its
    /// last name: none may be named `src` (the app's sources) or share its
    /// name with another.
    pub include: Option<Vec<String>>,
    /// Let `include` and symlinks in the app sources lead outside the project.
    pub allow_outside_project: Option<bool>,
    /// CPython version bundled for Windows and Linux.
    ///
    /// Must satisfy the pyproject's `requires-python`.
    pub python: Option<String>,
    /// pyproject extras to install.
    pub extras: Option<Vec<String>>,
    /// `[dependency-groups]` (PEP 735) to ship; none by default, so `dev` never ships.
    pub groups: Option<Vec<String>>,
    /// The project's own prebuilt wheels (paths or globs), installed with their hashes.
    pub wheels: Option<Vec<String>>,
    /// Package index for uv (default: uv's default).
    pub index_url: Option<String>,
    /// Extra wheel sources for uv (folders or pages).
    pub find_links: Option<Vec<String>>,
    /// Use only `find-links`, no package index (offline wheelhouses).
    pub no_index: Option<bool>,
    /// uv constraint files.
    pub constraints: Option<Vec<PathBuf>>,
    /// A command run before bundling, once per target (and in the Docker image's first stage).
    ///
    /// Runs with `sh -c` (`cmd /C` on Windows) in this Cargo.toml's folder;
    /// every `*.whl` it writes into `$PYSHIP_OUT_DIR` is installed.
    pub prebuild: Option<String>,
    /// The app's web port: opened after install, EXPOSEd and health-checked in Docker.
    pub port: Option<u16>,
    /// "console" (a command-line tool: console launchers, PATH option) or "gui" (started hidden).
    ///
    /// Unset: a `[project.scripts]` entry point is a console app; `port` or
    /// `[project.gui-scripts]` a GUI app.
    pub kind: Option<AppKind>,
    /// Arguments every launcher passes (per target: `args` in [...windows] / [...linux]).
    ///
    /// Passed by every launcher, the systemd unit, the shortcuts and the Docker CMD,
    /// before the arguments the user gives.
    pub args: Option<Vec<String>>,
    /// Windows settings.
    pub windows: Option<RawWindows>,
    /// Linux settings.
    pub linux: Option<RawLinux>,
    /// What the strip stage removes from site-packages.
    pub strip: Option<RawStrip>,
    /// Where `publish` and `release` upload.
    pub publish: Option<RawPublish>,
    /// The Docker image.
    pub docker: Option<RawDocker>,
    /// The bundled self-updater, `pyship_update`.
    pub update: Option<RawUpdate>,
    /// What the workflows `init` writes run.
    pub ci: Option<RawCi>,
}

/// `[…pyship.windows]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawWindows {
    /// Where the embeddable CPython is downloaded from.
    ///
    /// `PYSHIP_PYTHON_MIRROR` overrides it; `file://` mirrors work too.
    pub python_mirror: Option<String>,
    /// Pin of the embeddable zip's SHA-256 (also recorded in pyship.lock on first fetch).
    pub python_sha256: Option<String>,
    /// Build the NSIS installer next to the portable zip.
    pub installer: Option<bool>,
    /// The installer's compressor: "lzma" (smallest), "zlib" (fastest to build) or "bzip2".
    pub installer_compression: Option<InstallerCompression>,
    /// "vbs" (wscript start-hidden.vbs) or "pythonw" (no VBScript).
    pub launcher: Option<Launcher>,
    /// Add tkinter to the embedded CPython.
    pub tkinter: Option<bool>,
    /// "msi" (python.org's tcltk.msi, needs msitools) or "pypi" (the tkinter-embed package).
    pub tkinter_source: Option<TkinterSource>,
    /// Shown by the installer and in Add/Remove Programs (default: `name`).
    pub publisher: Option<String>,
    /// Replaces the top-level `args` for the Windows launchers and shortcuts.
    pub args: Option<Vec<String>>,
    /// Rust target of a maturin project's Windows wheel.
    pub rust_target: Option<String>,
    /// Windows only: wheels added to the global `wheels`.
    pub wheels: Option<Vec<String>>,
    /// Windows only: replaces the global `prebuild`.
    pub prebuild: Option<String>,
    /// Windows only: added to the global `find-links`.
    pub find_links: Option<Vec<String>>,
    /// Windows only: added to the global `extras`.
    pub extras: Option<Vec<String>>,
    /// Authenticode signing of the installer (and the project's own binaries).
    pub sign: Option<RawSign>,
    /// `release` also builds `{file-name}-{tag}-x64.msi` (`cargo pyship msi` builds it either way).
    pub msi: Option<bool>,
    /// Who the MSI installs for: "per-machine" (Program Files, admin rights) or "per-user".
    pub msi_scope: Option<MsiScope>,
    /// The MSI's UpgradeCode (a GUID), to keep one an earlier package used.
    ///
    /// Default: derived from `publisher` and the Python distribution name.
    pub msi_upgrade_code: Option<String>,
}

/// `[…pyship.windows.sign]`: Authenticode signing with osslsigncode.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawSign {
    /// A PKCS#12 (.p12/.pfx) file with the certificate and its key (or `pkcs12-env`).
    pub pkcs12: Option<PathBuf>,
    /// A variable holding the PKCS#12 file's base64 (`base64 -w0 codesign.p12`), instead of `pkcs12`.
    pub pkcs12_env: Option<String>,
    /// The variable holding the PKCS#12 password (unset: an empty password).
    pub password_env: Option<String>,
    /// RFC 3161 time-stamping server; empty: no timestamp.
    pub timestamp_url: Option<String>,
    /// Also sign the project's own .exe, .dll and .pyd files in the bundle.
    pub sign_binaries: Option<bool>,
}

/// `[…pyship.linux]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawLinux {
    /// "standalone" (relocatable CPython) or "venv" (tied to the build host's Python path).
    pub runtime: Option<LinuxRuntime>,
    /// The standalone runtime's tarball URL, with `{version}` and `{release}` placeholders.
    ///
    /// Default: python-build-standalone's release of `python`.
    pub runtime_url: Option<String>,
    /// Pin of the runtime tarball's SHA-256.
    pub runtime_sha256: Option<String>,
    /// Wheel platform for the Linux bundle.
    ///
    /// An x86_64 glibc platform as uv's `--python-platform` names it:
    /// `x86_64-manylinux_2_Y` (a Y uv knows: the oldest glibc of the target
    /// machines), `x86_64-manylinux2014` or `x86_64-unknown-linux-gnu`.
    pub platform: Option<String>,
    /// Ship install-service.sh / uninstall-service.sh (systemd).
    pub service: Option<bool>,
    /// The user the systemd service runs as (default: root).
    ///
    /// `install-service.sh --user NAME` replaces it where it is installed; the
    /// Debian package creates this system user.
    pub user: Option<String>,
    /// Replaces the top-level `args` for the Linux launcher, unit and Docker.
    pub args: Option<Vec<String>>,
    /// `release` also builds `{file-name}_{version}_amd64.deb` (`cargo pyship deb` builds it either way).
    pub deb: Option<bool>,
    /// The Debian package's Maintainer, `Name <email>`.
    ///
    /// Default: the first `[project]` maintainer, else author, that has an email.
    pub maintainer: Option<String>,
    /// Bundle paths the Debian package installs under /etc/{file-name}/ as conffiles.
    pub conffiles: Option<Vec<String>>,
    /// Debian packages added to the Depends computed from the bundle's ELF files.
    pub depends: Option<Vec<String>>,
    /// Linux only: wheels added to the global `wheels`.
    pub wheels: Option<Vec<String>>,
    /// Linux only: replaces the global `prebuild`.
    pub prebuild: Option<String>,
    /// Linux only: added to the global `find-links`.
    pub find_links: Option<Vec<String>>,
    /// Linux only: added to the global `extras`.
    pub extras: Option<Vec<String>>,
}

/// `[…pyship.strip]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawStrip {
    /// Safe removal rules for known packages ("generic", "numpy", "opencv", "pillow", "zeroconf", "tkinter").
    pub presets: Option<Vec<String>>,
    /// Extra globs to remove, relative to site-packages.
    pub remove: Option<Vec<String>>,
    /// Globs no rule may remove (they win over every rule).
    pub keep: Option<Vec<String>>,
    /// Byte-compile .py to .pyc with the target's interpreter and drop the .py (zips about 7% larger).
    pub compile: Option<bool>,
    /// Strip debug symbols from extension modules.
    pub debug_symbols: Option<bool>,
    /// Let the opencv preset remove OpenCV's Haar cascade data files.
    pub haar_cascades: Option<bool>,
}

/// `[…pyship.publish]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawPublish {
    /// "gitea", "forgejo" or "github".
    pub provider: Option<Provider>,
    /// The server (default: $GITHUB_SERVER_URL in CI).
    pub url: Option<String>,
    /// The repository, owner/name (default: $GITHUB_REPOSITORY in CI).
    pub repo: Option<String>,
    /// The environment variable (and CI secret) holding the token.
    pub token_env: Option<String>,
}

/// `[…pyship.docker]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawDocker {
    /// The image, without a tag (default: {server host}/{owner}/{name} of the release repository).
    ///
    /// A name by Docker's grammar: `[registry/]owner/name` in lowercase
    /// letters and digits, each part joined by `.`, `_` or `-`.
    pub image: Option<String>,
    /// The Docker build context: a folder of the project (or the
    /// pyproject's) holding the pyproject and the app sources (else
    /// `allow-outside-project`).
    pub context: Option<PathBuf>,
}

/// `[…pyship.update]`: the `pyship_update` package in every bundle.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawUpdate {
    /// Ship the pyship_update package (self-update from this project's releases).
    pub enabled: Option<bool>,
    /// "stable" or "prerelease": which releases check() offers by default.
    pub channel: Option<Channel>,
    /// The variable the installed app reads a read-only token from (private repositories).
    ///
    /// Never the token itself, never the publish token's variable.
    pub token_env: Option<String>,
    /// Seconds the update helper waits for the new version to come up.
    pub start_timeout: Option<u32>,
    /// Staged rollout: the fraction of installs offered a release when it is published (above 0, at most 1).
    ///
    /// Written into the signed `manifest.json`; each install draws from its
    /// own random id and the release's tag. `publish --rollout` and
    /// `release --rollout` override it for one run; publishing the same
    /// release again with a higher fraction widens it.
    #[schemars(extend("exclusiveMinimum" = 0.0, "maximum" = 1.0))]
    pub rollout: Option<f64>,
    /// Minisign public keys (`RW…`, from `cargo pyship keygen`) that sign releases.
    ///
    /// Set: `publish` signs `manifest.json` and every bundle's updater accepts
    /// only releases signed by one of them (or by a key a signed release
    /// rotated to). Empty: releases are unsigned.
    pub public_keys: Option<Vec<String>>,
    /// The variable holding the minisign secret key (the key file's text) `publish` signs with.
    pub signing_key_env: Option<String>,
    /// The variable holding that key's password (unset or empty: the key is not encrypted).
    pub signing_password_env: Option<String>,
}

/// `[…pyship.ci]`: what the workflows `init` writes run.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawCi {
    /// The command the release workflow installs cargo-pyship with.
    ///
    /// Default: chosen and written by `cargo pyship init`.
    pub install_command: Option<String>,
}

/// Which releases the bundled updater offers by default.
#[derive(
    Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    /// Stable releases only (`check(include_prerelease=True)` adds pre-releases).
    #[default]
    Stable,
    /// Pre-releases too.
    Prerelease,
}

/// The compressor of the Windows installer (NSIS `SetCompressor /SOLID`).
#[derive(
    Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum InstallerCompression {
    /// Smallest installer, slowest to build (one core).
    #[default]
    Lzma,
    /// Fastest to build, largest installer: for local iteration.
    Zlib,
    /// In between.
    Bzip2,
}

impl InstallerCompression {
    /// The NSIS name of the compressor.
    pub fn nsis(self) -> &'static str {
        match self {
            InstallerCompression::Lzma => "lzma",
            InstallerCompression::Zlib => "zlib",
            InstallerCompression::Bzip2 => "bzip2",
        }
    }
}

/// What the app is to its user, which decides its Windows shortcuts.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AppKind {
    /// A command-line tool: a console shortcut (a command prompt that runs
    /// it), `bin\{command}.cmd`, and an installer option to put `bin\` on
    /// the user's PATH.
    Console,
    /// A window or a server: started hidden (`windows.launcher`), with
    /// Desktop and Startup shortcuts on offer.
    Gui,
}

/// Who the MSI installs for (`windows.msi-scope`).
#[derive(
    Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum MsiScope {
    /// Every user of the machine, under Program Files (needs admin rights).
    #[default]
    PerMachine,
    /// The installing user only, under `%LOCALAPPDATA%\Programs`, without admin rights.
    PerUser,
}

impl MsiScope {
    /// The value as written in the config.
    pub fn key(self) -> &'static str {
        match self {
            MsiScope::PerMachine => "per-machine",
            MsiScope::PerUser => "per-user",
        }
    }
}

/// How the Windows shortcuts start the app.
#[derive(
    Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Launcher {
    /// `wscript.exe scripts\start-hidden.vbs` (the default).
    #[default]
    Vbs,
    /// `python\pythonw.exe -m {module}` (no VBScript; future-proof).
    Pythonw,
}

/// Where `windows.tkinter = true` takes tkinter (`_tkinter.pyd`, Tcl/Tk, the
/// `tkinter` package) from.
#[derive(
    Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum TkinterSource {
    /// python.org's `tcltk.msi` (and `lib.msi`) of the bundled CPython X.Y.Z,
    /// from `windows.python-mirror`; unpacked with `msiextract` (msitools).
    #[default]
    Msi,
    /// The `tkinter-embed` sdist for the bundled X.Y from the package index
    /// (or `find-links`); its data only, no code of it runs.
    Pypi,
}

impl Launcher {
    /// The value as written in the config (`windows.launcher`).
    pub fn key(self) -> &'static str {
        match self {
            Launcher::Vbs => "vbs",
            Launcher::Pythonw => "pythonw",
        }
    }
}

impl LinuxRuntime {
    /// The value as written in the config (`linux.runtime`).
    pub fn key(self) -> &'static str {
        match self {
            LinuxRuntime::Standalone => "standalone",
            LinuxRuntime::Venv => "venv",
        }
    }
}

impl TkinterSource {
    pub fn key(self) -> &'static str {
        match self {
            TkinterSource::Msi => "msi",
            TkinterSource::Pypi => "pypi",
        }
    }
}

/// Where the Linux bundle's Python comes from.
#[derive(
    Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum LinuxRuntime {
    /// A relocatable CPython (python-build-standalone `install_only` layout).
    #[default]
    Standalone,
    /// A venv of the build host's Python (runs only where that Python sits at the same path).
    Venv,
}

#[derive(
    Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    /// Gitea's API v1.
    #[default]
    Gitea,
    /// Forgejo (Gitea's API v1).
    Forgejo,
    /// GitHub's REST API.
    Github,
}
