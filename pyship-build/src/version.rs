//! Stage: the release version. Parse it once, spell it every way a consumer
//! needs (git tag, Cargo semver, PEP 440, Windows four numbers, Docker tag),
//! find it in the documented order of sources, stamp it into pyproject.toml or
//! Cargo.toml without touching anything else, and check that they agree.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;

use crate::env::{self, Env};
use crate::error::{escaped, Hint};

/// The accepted spellings, for error messages.
pub const ACCEPTED_FORMS: &str =
    "1.2.3 or v1.2.3, optionally with -alpha.N, -beta.N, -rc.N or -dev.N \
(v1.2.3-rc.1), or a canonical PEP 440 release of 2 to 4 numbers (2.1, 1.2.3.4, 1.0a41, \
1.2.3b2, 1.2.3rc1, 1.2.3.dev4, 1.2.3.post1); numbers without leading zeros, at most 65535, \
no spaces";

/// The largest number of a Windows version field (`VIProductVersion` is four 16-bit numbers).
pub const MAX_WINDOWS_FIELD: u64 = 65535;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("`{}` is not a valid version{}", escaped(.input), from.as_ref().map(|f| format!(" (from {})", escaped(f))).unwrap_or_default())]
    #[diagnostic(help("use one of the accepted forms: {}", ACCEPTED_FORMS))]
    Invalid { input: String, from: Option<String> },
    #[error("`{}` has a number above 65535{}: Windows version fields are 16-bit", escaped(.input), from.as_ref().map(|f| format!(" (from {})", escaped(f))).unwrap_or_default())]
    #[diagnostic(help("use release numbers up to 65535 (the installer's VIProductVersion and the Windows file version hold 16 bits each)"))]
    TooLarge { input: String, from: Option<String> },
    #[error("no version found: no argument, no version tag at HEAD, no CI tag, no [project].version in {pyproject} and no Cargo package version")]
    #[diagnostic(help("pass a version (`cargo pyship version 1.2.3`), tag HEAD (`git tag v1.2.3`) or set [project].version"))]
    NotFound { pyproject: String },
    #[error("could not parse {path}")]
    #[diagnostic(help(
        "fix the TOML syntax at the line and column shown; the file was not changed"
    ))]
    Toml {
        path: PathBuf,
        #[source]
        source: toml_edit::TomlError,
    },
    #[error("{path} has no {key} to stamp")]
    #[diagnostic(help("add `{key}` to the file, or declare `dynamic = [\"version\"]` in pyproject.toml to stamp Cargo.toml instead"))]
    NoVersionKey { path: PathBuf, key: &'static str },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Read(#[from] crate::fs::ReadError),
    #[error(transparent)]
    #[diagnostic(help("{}", write_hint(.0)))]
    Write(#[from] crate::fs::Error),
    #[error("versions disagree:\n{}", .0.join("\n"))]
    #[diagnostic(help(
        "run `cargo pyship version --stamp` (with the tag's version) to bring the files in line"
    ))]
    Disagree(Vec<String>),
    #[error("{} declares a dynamic version that cannot be read: {}", .pyproject.display(), escaped(.message))]
    #[diagnostic(help("fix the pointer in pyproject.toml, or keep the version as a string literal where it points (`__version__ = \"1.2.3\"`), or pass a version"))]
    DynamicUnreadable { pyproject: PathBuf, message: String },
    #[error("{} changed while stamping: {} is no longer there", .path.display(), escaped(.what))]
    #[diagnostic(help("run the command again; nothing was written"))]
    VersionGone { path: PathBuf, what: String },
    #[error("could not read {}, the record of a stamp a stopped release left: {}", .path.display(), escaped(.message))]
    #[diagnostic(help("check the stamped files with `git diff` (put back the version they had before the release if it is still there), then remove {}", .path.display()))]
    Journal { path: PathBuf, message: String },
}

/// A rollback that failed names what to restore; any other write error
/// changed no file.
fn write_hint(e: &crate::fs::Error) -> String {
    match e {
        crate::fs::Error::RolledBack { .. } => e.hint().unwrap_or_default(),
        _ => "check that every file named is writable (not read-only, not on a read-only mount) and so is its folder; no file was changed".into(),
    }
}

/// A pre-release kind, in increasing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PreKind {
    Dev,
    Alpha,
    Beta,
    Rc,
}

/// One release version. Every spelling is derived from this.
#[derive(Debug, Clone, Copy)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    /// A fourth release number (`1.2.3.4`): Windows' fourth field.
    pub build: Option<u64>,
    pub pre: Option<(PreKind, u64)>,
    pub post: Option<u64>,
    /// How it was written: release numbers (2, 3 or 4), `v` prefix, PEP 440 form.
    pub written: Written,
    /// The version came from a pushed tag: [`Version::tag`] is that tag as written.
    pub pushed_tag: bool,
}

/// How a version was spelled where it was read (for keeping a tag as pushed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Written {
    pub segments: u8,
    pub v_prefix: bool,
    pub pep440: bool,
}

/// Equal when they mean the same release, whatever the spelling.
impl PartialEq for Version {
    fn eq(&self, o: &Self) -> bool {
        (
            self.major, self.minor, self.patch, self.build, self.pre, self.post,
        ) == (o.major, o.minor, o.patch, o.build, o.pre, o.post)
    }
}
impl Eq for Version {}

impl Version {
    pub fn new(major: u64, minor: u64, patch: u64) -> Self {
        Self {
            major,
            minor,
            patch,
            build: None,
            pre: None,
            post: None,
            written: Written {
                segments: 3,
                v_prefix: false,
                pep440: false,
            },
            pushed_tag: false,
        }
    }

    /// The same version, its [`Version::tag`] being the tag exactly as written.
    pub fn as_pushed_tag(mut self) -> Self {
        self.pushed_tag = true;
        self
    }

    /// Whether this is a pre-release (alpha, beta, rc or dev), from the parsed parts.
    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some()
    }

    /// Cargo's spelling: `0.3.0-alpha.1`; a post-release is build metadata (`1.2.3+post.1`).
    pub fn semver(&self) -> String {
        let mut s = format!("{}.{}.{}", self.major, self.minor, self.patch);
        if let Some((kind, n)) = self.pre {
            let word = match kind {
                PreKind::Dev => "dev",
                PreKind::Alpha => "alpha",
                PreKind::Beta => "beta",
                PreKind::Rc => "rc",
            };
            s.push_str(&format!("-{word}.{n}"));
        }
        if let Some(p) = self.post {
            s.push_str(&format!("+post.{p}"));
        }
        if let Some(b) = self.build {
            s.push_str(&format!("+{b}"));
        }
        s
    }

    /// The git tag: `v` + semver, or the pushed tag exactly as written
    /// (`1.0a41`, `v2.1`) when the version came from one.
    pub fn tag(&self) -> String {
        if !self.pushed_tag {
            return format!("v{}", self.semver());
        }
        let body = if self.written.pep440 {
            self.pep440()
        } else {
            self.semver()
        };
        format!("{}{body}", if self.written.v_prefix { "v" } else { "" })
    }

    /// PEP 440: `0.3.0a1`, `0.3.0b2`, `0.3.0rc1`, `0.3.0.dev3`, `1.2.3.post1`,
    /// `1.0a41` (two numbers when written so), `1.2.3.4`.
    pub fn pep440(&self) -> String {
        let release = if self.written.segments == 2 && self.patch == 0 && self.build.is_none() {
            format!("{}.{}", self.major, self.minor)
        } else {
            format!("{}.{}.{}", self.major, self.minor, self.patch)
        };
        self.with_suffixes(release, ".post", [".dev", "a", "b", "rc"])
    }

    /// Four numbers for NSIS `VIProductVersion`: `0.3.0.0` (the fourth is
    /// the fourth release number or the post number).
    pub fn windows(&self) -> String {
        format!(
            "{}.{}.{}.{}",
            self.major,
            self.minor,
            self.patch,
            self.build.or(self.post).unwrap_or(0)
        )
    }

    /// The Debian package version, ordered by dpkg as PEP 440 orders the
    /// release: a pre-release sorts before its release through `~`
    /// (`1.0.0~rc1 < 1.0.0`), a dev release before its alphas through `~~`
    /// (`1.0.0~~dev3 < 1.0.0~a1`), a post-release after it through `+`
    /// (`1.0.0 < 1.0.0+post1 < 1.0.1`).
    pub fn debian(&self) -> String {
        let release = format!("{}.{}.{}", self.major, self.minor, self.patch);
        self.with_suffixes(release, "+post", ["~~dev", "~a", "~b", "~rc"])
    }

    /// `release`, then the fourth number (`.N`), the post-release number after
    /// `post` and the pre-release number after its kind's spelling in `pre`
    /// (dev, alpha, beta, rc): what PEP 440 and Debian versions share.
    fn with_suffixes(&self, mut release: String, post: &str, pre: [&str; 4]) -> String {
        if let Some(b) = self.build {
            release.push_str(&format!(".{b}"));
        }
        if let Some(p) = self.post {
            release.push_str(&format!("{post}{p}"));
        }
        if let Some((kind, n)) = self.pre {
            let spelled = match kind {
                PreKind::Dev => pre[0],
                PreKind::Alpha => pre[1],
                PreKind::Beta => pre[2],
                PreKind::Rc => pre[3],
            };
            release.push_str(&format!("{spelled}{n}"));
        }
        release
    }

    /// The Windows Installer `ProductVersion`: three numbers, the only ones an
    /// MSI upgrade compares (`major.minor.build`, at most 255, 255 and 65535).
    /// `None` when a number is above those limits. Pre-releases of `X.Y.Z`
    /// share `X.Y.Z` (see [`Version::msi_next`]).
    pub fn msi(&self) -> Option<String> {
        (self.major <= 255 && self.minor <= 255 && self.patch <= MAX_WINDOWS_FIELD)
            .then(|| format!("{}.{}.{}", self.major, self.minor, self.patch))
    }

    /// The smallest MSI `ProductVersion` above [`Version::msi`]: an MSI
    /// upgrades what lies below it and refuses to replace what lies at or
    /// above it. `None` past `255.255.65535`.
    pub fn msi_next(&self) -> Option<String> {
        self.msi()?;
        let (mut major, mut minor, mut patch) = (self.major, self.minor, self.patch + 1);
        if patch > MAX_WINDOWS_FIELD {
            patch = 0;
            minor += 1;
        }
        if minor > 255 {
            minor = 0;
            major += 1;
        }
        (major <= 255).then(|| format!("{major}.{minor}.{patch}"))
    }

    /// A Docker tag (`[A-Za-z0-9_.-]`): semver with `+` made `-`, as docker/metadata-action does.
    pub fn docker(&self) -> String {
        self.semver().replace('+', "-")
    }

    /// Every spelling at once.
    pub fn spellings(&self) -> Spellings {
        Spellings {
            tag: self.tag(),
            semver: self.semver(),
            pep440: self.pep440(),
            windows: self.windows(),
            docker: self.docker(),
            prerelease: self.is_prerelease(),
        }
    }

    /// Parse any accepted spelling; `from` says where the input came from (for errors).
    pub fn parse_from(input: &str, from: Option<&str>) -> Result<Self, Error> {
        let invalid = || Error::Invalid {
            input: input.to_owned(),
            from: from.map(str::to_owned),
        };
        // Spaces (inside or around) are refused, not trimmed: a tag is used
        // exactly as written, so what is read must be what was pushed.
        let v_prefix = input.starts_with('v');
        let s = input.strip_prefix('v').unwrap_or(input);
        if s.is_empty() || !s.as_bytes()[0].is_ascii_digit() || s.chars().any(char::is_whitespace) {
            return Err(invalid());
        }
        let mut v = if let Ok(v) = semver::Version::parse(s) {
            let mut v = Self::from_semver(&v).ok_or_else(invalid)?;
            v.written = Written {
                segments: 3,
                v_prefix,
                pep440: false,
            };
            v
        } else {
            // A `-` means the semver spelling; PEP 440's dash forms (`1.2.3-rc.01`,
            // `1.2.3-1`) are not accepted, so one input has one reading.
            if s.contains('-') {
                return Err(invalid());
            }
            let p = pep440_rs::Version::from_str(s).map_err(|_| invalid())?;
            let mut v = Self::from_pep440(&p).ok_or_else(invalid)?;
            v.written = Written {
                segments: p.release().len() as u8,
                v_prefix,
                pep440: true,
            };
            // Only the canonical spelling (`1.0a41`, not `01.0A41` or `1.0-alpha41`):
            // one reading, and a tag that can be written back as it was.
            if v.pep440() != s {
                return Err(invalid());
            }
            v
        };
        if [v.major, v.minor, v.patch, v.build.or(v.post).unwrap_or(0)]
            .iter()
            .any(|n| *n > MAX_WINDOWS_FIELD)
        {
            return Err(Error::TooLarge {
                input: input.to_owned(),
                from: from.map(str::to_owned),
            });
        }
        v.pushed_tag = false;
        Ok(v)
    }

    fn from_semver(v: &semver::Version) -> Option<Self> {
        let pre = if v.pre.is_empty() {
            None
        } else {
            let (word, n) = v.pre.as_str().split_once('.')?;
            let kind = match word {
                "alpha" => PreKind::Alpha,
                "beta" => PreKind::Beta,
                "rc" => PreKind::Rc,
                "dev" => PreKind::Dev,
                _ => return None,
            };
            Some((kind, parse_number(n)?))
        };
        let (post, build) = match v.build.as_str() {
            "" => (None, None),
            b => match b.strip_prefix("post.") {
                Some(n) => (Some(parse_number(n)?), None),
                None => (None, Some(parse_number(b)?)),
            },
        };
        Some(Self {
            major: v.major,
            minor: v.minor,
            patch: v.patch,
            build,
            pre,
            post,
            ..Self::new(v.major, v.minor, v.patch)
        })
    }

    fn from_pep440(v: &pep440_rs::Version) -> Option<Self> {
        let rel = v.release();
        if !(2..=4).contains(&rel.len()) || v.epoch() != 0 || !v.local().is_empty() {
            return None;
        }
        let build = rel.get(3).copied();
        // One qualifier at most besides post: a pre-release or a dev release.
        let pre = match (v.pre(), v.dev()) {
            (Some(p), None) => Some((
                match p.kind {
                    pep440_rs::PrereleaseKind::Alpha => PreKind::Alpha,
                    pep440_rs::PrereleaseKind::Beta => PreKind::Beta,
                    pep440_rs::PrereleaseKind::Rc => PreKind::Rc,
                },
                p.number,
            )),
            (None, Some(d)) => Some((PreKind::Dev, d)),
            (None, None) => None,
            (Some(_), Some(_)) => return None,
        };
        let post = v.post();
        // Windows has one fourth field: a fourth number or a post release, not both.
        if post.is_some() && (pre.is_some() || build.is_some()) {
            return None;
        }
        let patch = rel.get(2).copied().unwrap_or(0);
        Some(Self {
            build,
            pre,
            post,
            ..Self::new(rel[0], rel[1], patch)
        })
    }
}

fn parse_number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

impl FromStr for Version {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse_from(s, None)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.semver())
    }
}

/// Every spelling of one version (the JSON of `cargo pyship version --format json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Spellings {
    pub tag: String,
    pub semver: String,
    pub pep440: String,
    pub windows: String,
    pub docker: String,
    pub prerelease: bool,
}

/// Where the version came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Source {
    Argument,
    GitTag {
        tag: String,
    },
    CiRef {
        var: String,
    },
    Pyproject {
        path: PathBuf,
    },
    /// A dynamic version kept in a file the build backend reads.
    VersionFile {
        file: dynamic::VersionFile,
    },
    Cargo {
        path: PathBuf,
    },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Argument => f.write_str("command-line argument"),
            Source::GitTag { tag } => write!(f, "git tag {tag} at HEAD"),
            Source::CiRef { var } => write!(f, "CI variable {var}"),
            Source::Pyproject { path } => write!(f, "[project].version in {}", path.display()),
            Source::VersionFile { file } => f.write_str(&file.describe()),
            Source::Cargo { path } => write!(f, "package version in {}", path.display()),
        }
    }
}

/// A version and the source that won.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub version: Version,
    pub source: Source,
}

impl Serialize for Resolved {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Out<'a> {
            #[serde(flatten)]
            spellings: Spellings,
            source: String,
            source_detail: &'a Source,
        }
        Out {
            spellings: self.version.spellings(),
            source: self.source.to_string(),
            source_detail: &self.source,
        }
        .serialize(s)
    }
}

/// What the chain of sources needs to look at.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    pub argument: Option<&'a str>,
    /// Directory of the git work tree (the manifest's directory).
    pub repo_dir: &'a Path,
    pub env: &'a Env,
    pub pyproject: Option<(&'a Path, Option<&'a str>)>,
    /// A dynamic pyproject version: where it is kept, or why it cannot be
    /// read there (an error: the pyproject points at it).
    pub dynamic: Option<Result<&'a dynamic::VersionFile, &'a str>>,
    pub cargo: Option<(&'a Path, &'a str)>,
}

/// Resolve in the documented order: argument → exact git tag at HEAD → CI tag
/// variables → pyproject `[project].version` → Cargo package version.
pub fn resolve(inputs: &Inputs<'_>) -> Result<Resolved, Error> {
    if let Some(arg) = inputs.argument {
        return Ok(Resolved {
            version: Version::parse_from(arg, Some("the command line"))?,
            source: Source::Argument,
        });
    }
    if let Some(tag) = git_tag_at_head(inputs.repo_dir)? {
        return Ok(tag);
    }
    if let Some(ci) = ci_tag(inputs.env)? {
        return Ok(ci);
    }
    if let Some((path, Some(v))) = inputs.pyproject {
        return Ok(Resolved {
            version: Version::parse_from(v, Some(&path.display().to_string()))?,
            source: Source::Pyproject {
                path: path.to_owned(),
            },
        });
    }
    match inputs.dynamic {
        Some(Ok(file)) => {
            return Ok(Resolved {
                version: Version::parse_from(&file.value, Some(&file.describe()))?,
                source: Source::VersionFile { file: file.clone() },
            })
        }
        Some(Err(message)) => {
            return Err(Error::DynamicUnreadable {
                pyproject: inputs
                    .pyproject
                    .map(|(p, _)| p.to_owned())
                    .unwrap_or_default(),
                message: message.to_owned(),
            })
        }
        None => {}
    }
    if let Some((path, v)) = inputs.cargo {
        return Ok(Resolved {
            version: Version::parse_from(v, Some(&path.display().to_string()))?,
            source: Source::Cargo {
                path: path.to_owned(),
            },
        });
    }
    Err(Error::NotFound {
        pyproject: inputs
            .pyproject
            .map(|(p, _)| p.display().to_string())
            .unwrap_or_else(|| "pyproject.toml".into()),
    })
}

/// Whether a tag looks like it means a version (`v1…`, `1…`); others (`latest`,
/// `deploy-prod`) are not version tags and are skipped.
fn looks_like_version(tag: &str) -> bool {
    let t = tag.strip_prefix('v').unwrap_or(tag);
    t.as_bytes().first().is_some_and(u8::is_ascii_digit)
}

/// The version tag at HEAD, if any. Not a git repo, no git, or no tag: `None`.
/// A version-looking tag that does not parse is an error (a release on it would
/// otherwise ship the wrong version). Several version tags: the highest wins.
pub fn git_tag_at_head(dir: &Path) -> Result<Option<Resolved>, Error> {
    let Some(out) = crate::tools::git(dir, &["tag", "--points-at", "HEAD"]) else {
        return Ok(None);
    };
    let mut best: Option<(Version, String)> = None;
    for tag in out.lines().map(str::trim) {
        if !looks_like_version(tag) {
            continue;
        }
        let v = Version::parse_from(tag, Some(&format!("git tag {tag}")))?.as_pushed_tag();
        if best
            .as_ref()
            .is_none_or(|(b, _)| ordering_key(&v) > ordering_key(b))
        {
            best = Some((v, tag.to_owned()));
        }
    }
    Ok(best.map(|(version, tag)| Resolved {
        version,
        source: Source::GitTag { tag },
    }))
}

/// Precedence for picking the highest of several tags.
fn ordering_key(v: &Version) -> (u64, u64, u64, u64, u8, PreKind, u64, u64) {
    let (stable, kind, n) = match v.pre {
        None => (1, PreKind::Rc, 0),
        Some((k, n)) => (0, k, n),
    };
    (
        v.major,
        v.minor,
        v.patch,
        v.build.unwrap_or(0),
        stable,
        kind,
        n,
        v.post.unwrap_or(0),
    )
}

/// The tag of a CI run: `GITHUB_REF_NAME` when `GITHUB_REF_TYPE=tag`, then the
/// Forgejo and Gitea mirrors. A mirror without a type variable counts when its
/// ref is under `refs/tags/`, or when neither type nor ref is set (a workflow
/// that exports only the name).
pub fn ci_tag(env: &Env) -> Result<Option<Resolved>, Error> {
    let chain = [
        (
            env::GITHUB_REF_NAME,
            env::GITHUB_REF_TYPE,
            env::GITHUB_REF,
            false,
        ),
        (
            env::FORGEJO_REF_NAME,
            env::FORGEJO_REF_TYPE,
            env::FORGEJO_REF,
            true,
        ),
        (
            env::GITEA_REF_NAME,
            env::GITEA_REF_TYPE,
            env::GITEA_REF,
            true,
        ),
    ];
    for (name_var, type_var, ref_var, name_alone_ok) in chain {
        let Some(name) = env.get(name_var) else {
            continue;
        };
        let is_tag = match (env.get(type_var), env.get(ref_var)) {
            (Some(t), _) => t == "tag",
            (None, Some(r)) => r.starts_with("refs/tags/"),
            (None, None) => name_alone_ok,
        };
        if is_tag {
            return Ok(Some(Resolved {
                version: Version::parse_from(name, Some(name_var))?.as_pushed_tag(),
                source: Source::CiRef {
                    var: name_var.to_owned(),
                },
            }));
        }
    }
    Ok(None)
}

pub mod dynamic;
pub mod stamp;

#[cfg(test)]
mod tests;
