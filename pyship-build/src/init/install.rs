//! Which command the generated release workflow installs cargo-pyship with.
//!
//! Why `init` chooses it: `cargo install cargo-pyship` works only once the
//! crate is on crates.io, and a CI job cannot use the developer's build. The
//! command comes, in this order, from `init --install-from` (a git URL, a
//! path inside the repository, or `crates.io`), from `ci.install-command` in
//! the config, from where cargo installed the running cargo-pyship (cargo's
//! own record, `$CARGO_HOME/.crates2.json`: a git commit, a path, a
//! registry), from the git checkout the running binary was built in (its
//! `origin` URL at its HEAD commit), and last from crates.io at this version.
//! `init` writes the choice into `[…pyship.ci] install-command` so that
//! `init --check` gives the same answer on every machine.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::env::Env;

/// This crate's package name, as cargo installs it.
const PACKAGE: &str = "cargo-pyship";

/// The chosen command and where it came from (for `init`'s report).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct InstallCommand {
    pub command: String,
    pub source: String,
    /// Sources passed over on the way (a folder no runner can reach), and a
    /// configured command that installs from one: `init` warns with each.
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("`--install-from {}` is neither `crates.io`, a git URL nor an existing directory", crate::error::escaped(.0))]
    #[diagnostic(help("give `crates.io`, a git URL (`https://host/owner/cargo-pyship.git`, optionally `#<commit>`, `#tag=<tag>` or `#branch=<branch>`) or a path inside the repository"))]
    Unknown(String),
    #[error("`--install-from {}` is outside the repository ({repo}), so a CI checkout does not have it", crate::error::escaped(.path.display()))]
    #[diagnostic(help(
        "vendor cargo-pyship inside the repository (e.g. a git submodule), or give its git URL"
    ))]
    OutsideRepo { path: PathBuf, repo: PathBuf },
    #[error("`--install-from {}` has no Cargo.toml of cargo-pyship", crate::error::escaped(.0.display()))]
    #[diagnostic(help(
        "give the folder of cargo-pyship's workspace (or of its `cargo-pyship` crate)"
    ))]
    NotCargoPyship(PathBuf),
    #[error(
        "`--install-from {}` is a git repository on this machine, which no CI runner can clone",
        crate::error::escaped(.0)
    )]
    #[diagnostic(help("push cargo-pyship to a server the runners reach and give that URL (`https://host/owner/cargo-pyship.git#<commit>`), or `crates.io`"))]
    LocalGit(String),
}

/// The command from `from` (an `--install-from` value), the configured one,
/// or the detected one, in that order.
pub fn choose(
    from: Option<&str>,
    configured: Option<&str>,
    env: &Env,
    repo: &Path,
) -> Result<InstallCommand, Error> {
    if let Some(from) = from {
        return given(from, repo);
    }
    if let Some(c) = configured {
        let warnings = local_git_in(c)
            .map(|url| {
                format!(
                    "`ci.install-command` installs from `{url}`, a folder on this machine that no CI runner can reach: the release workflow will fail there (set a git URL the runners reach, or remove the key and run `init` again)"
                )
            })
            .into_iter()
            .collect();
        return Ok(InstallCommand {
            command: c.to_owned(),
            source: "`ci.install-command` in the config".into(),
            warnings,
        });
    }
    let mut warnings = Vec::new();
    let found = from_install_record(env, repo, &mut warnings).or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|exe| from_build_checkout(&exe, repo, &mut warnings))
    });
    let mut chosen = found.unwrap_or_else(|| {
        crates_io(
            "crates.io (no install record or git checkout of the running cargo-pyship that a runner can reach was found)",
        )
    });
    chosen.warnings = warnings;
    Ok(chosen)
}

/// Whether a git URL names a server (what a runner can clone), not a folder
/// on this machine (`/srv/git/x`, `../x`, `file:///…`, `C:\x`).
fn is_remote(url: &str) -> bool {
    let u = url.trim();
    if [
        "https://",
        "http://",
        "ssh://",
        "git://",
        "git+ssh://",
        "ssh+git://",
    ]
    .iter()
    .any(|p| u.len() > p.len() && u[..p.len()].eq_ignore_ascii_case(p))
    {
        return true;
    }
    // scp-like `user@host:path` (git's own rule: a colon before any slash).
    match (u.find(':'), u.find('/')) {
        (Some(colon), slash) => {
            colon > 1 && slash.is_none_or(|s| colon < s) && u[..colon].contains('@')
        }
        _ => false,
    }
}

/// The local git source a `cargo install … --git X` command names, if any.
fn local_git_in(command: &str) -> Option<String> {
    let mut words = command.split_whitespace();
    while let Some(w) = words.next() {
        let url = match w.strip_prefix("--git=") {
            Some(u) => Some(u),
            None if w == "--git" => words.next(),
            None => None,
        };
        if let Some(url) = url {
            let url = url.trim_matches(|c| c == '\'' || c == '"');
            if !is_remote(url) {
                return Some(url.to_owned());
            }
        }
    }
    None
}

fn crates_io(source: &str) -> InstallCommand {
    InstallCommand {
        command: format!(
            "cargo install {PACKAGE} --locked --version {}",
            env!("CARGO_PKG_VERSION")
        ),
        source: source.into(),
        warnings: Vec::new(),
    }
}

fn git(url: &str, reference: GitRef<'_>, source: String) -> InstallCommand {
    let pin = match reference {
        GitRef::Rev(r) => format!(" --rev {}", sh_word(r)),
        GitRef::Tag(t) => format!(" --tag {}", sh_word(t)),
        GitRef::Branch(b) => format!(" --branch {}", sh_word(b)),
        GitRef::Default => String::new(),
    };
    InstallCommand {
        command: format!(
            "cargo install --locked --git {}{pin} {PACKAGE}",
            sh_word(url)
        ),
        source,
        warnings: Vec::new(),
    }
}

fn path(rel: &str, source: String) -> InstallCommand {
    InstallCommand {
        command: format!("cargo install --locked --path {}", sh_word(rel)),
        source,
        warnings: Vec::new(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GitRef<'a> {
    Rev(&'a str),
    Tag(&'a str),
    Branch(&'a str),
    Default,
}

/// `--install-from`: `crates.io`, a git URL (`#<commit>`, `#tag=…`,
/// `#branch=…`, `#rev=…`), or a folder inside the repository.
fn given(from: &str, repo: &Path) -> Result<InstallCommand, Error> {
    let f = from.trim();
    if f.eq_ignore_ascii_case("crates.io") || f.eq_ignore_ascii_case("crates-io") {
        return Ok(crates_io("crates.io (--install-from)"));
    }
    if f.len() > 7 && f[..7].eq_ignore_ascii_case("file://") {
        return Err(Error::LocalGit(f.to_owned()));
    }
    let is_url = ["https://", "http://", "ssh://", "git://", "git@"]
        .iter()
        .any(|p| f.starts_with(p));
    if is_url {
        let (url, frag) = f.split_once('#').unwrap_or((f, ""));
        let reference = match frag.split_once('=') {
            _ if frag.is_empty() => GitRef::Default,
            Some(("tag", t)) => GitRef::Tag(t),
            Some(("branch", b)) => GitRef::Branch(b),
            Some(("rev", r)) => GitRef::Rev(r),
            _ => GitRef::Rev(frag),
        };
        return Ok(git(url, reference, format!("git {f} (--install-from)")));
    }
    let p = Path::new(f);
    let abs = if p.is_absolute() {
        p.to_owned()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    if !abs.is_dir() {
        return Err(Error::Unknown(from.to_owned()));
    }
    let crate_dir = cargo_pyship_crate(&abs).ok_or_else(|| Error::NotCargoPyship(abs.clone()))?;
    let rel = inside(repo, &crate_dir).ok_or_else(|| Error::OutsideRepo {
        path: abs.clone(),
        repo: repo.to_owned(),
    })?;
    Ok(path(
        &rel,
        format!("the path {rel} in the repository (--install-from)"),
    ))
}

/// The cargo-pyship crate at `dir` or in its `cargo-pyship/` folder.
fn cargo_pyship_crate(dir: &Path) -> Option<PathBuf> {
    [dir.to_owned(), dir.join(PACKAGE)].into_iter().find(|d| {
        crate::fs::read_small_to_string(d.join("Cargo.toml"))
            .ok()
            .and_then(|t| t.parse::<toml_edit::DocumentMut>().ok())
            .is_some_and(|doc| {
                doc.get("package")
                    .and_then(|p| p.get("name"))
                    .and_then(|n| n.as_str())
                    == Some(PACKAGE)
            })
    })
}

/// `p` relative to `repo` with `/`, when it is inside (`.` for the root).
fn inside(repo: &Path, p: &Path) -> Option<String> {
    let canon = |p: &Path| fs_err::canonicalize(p).unwrap_or_else(|_| p.to_owned());
    let rel = canon(p).strip_prefix(canon(repo)).ok()?.to_owned();
    let s = rel.to_string_lossy().replace('\\', "/");
    Some(if s.is_empty() { ".".into() } else { s })
}

/// cargo's install record: `{"installs": {"cargo-pyship 0.1.0 (SOURCE)": …}}`.
fn from_install_record(
    env: &Env,
    repo: &Path,
    warnings: &mut Vec<String>,
) -> Option<InstallCommand> {
    let home = env
        .get(crate::env::CARGO_HOME)
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".cargo")))?;
    let text = crate::fs::read_small_to_string(home.join(".crates2.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let key = v["installs"]
        .as_object()?
        .keys()
        .find(|k| k.starts_with(&format!("{PACKAGE} ")))?;
    let source = key.split_once(" (")?.1.strip_suffix(')')?;
    from_source_id(source, repo, warnings)
}

/// A cargo source id (`git+URL?tag=v1#sha`, `path+file:///…`,
/// `registry+https://github.com/rust-lang/crates.io-index`, `sparse+…`).
fn from_source_id(source: &str, repo: &Path, warnings: &mut Vec<String>) -> Option<InstallCommand> {
    if let Some(rest) = source.strip_prefix("git+") {
        let (url, sha) = rest.split_once('#')?;
        let url = url.split_once('?').map_or(url, |(u, _)| u);
        if !is_remote(url) {
            warnings.push(format!(
                "cargo installed this cargo-pyship from the git repository {url}, a folder on this machine that no CI runner can reach: not used (give `--install-from <git URL>#<commit>`)"
            ));
            return None;
        }
        return Some(git(
            url,
            GitRef::Rev(sha),
            format!("where cargo installed this cargo-pyship from: {url} at {sha}"),
        ));
    }
    if let Some(rest) = source.strip_prefix("path+") {
        let dir = reqwest::Url::parse(rest).ok()?.to_file_path().ok()?;
        return from_local_dir(&dir, repo, "installed from", warnings);
    }
    let crates_io_index = source == "registry+https://github.com/rust-lang/crates.io-index"
        || source == "sparse+https://index.crates.io/";
    crates_io_index.then(|| crates_io("crates.io, where cargo installed this cargo-pyship from"))
}

/// The checkout the running binary was built in (`…/target/{profile}/cargo-pyship`).
fn from_build_checkout(
    exe: &Path,
    repo: &Path,
    warnings: &mut Vec<String>,
) -> Option<InstallCommand> {
    let dir = exe
        .ancestors()
        .skip(1)
        .find(|d| cargo_pyship_crate(d).is_some())?;
    from_local_dir(dir, repo, "built in", warnings)
}

/// A local cargo-pyship source: a path when it is in the repository, else
/// its git `origin` at its HEAD commit.
fn from_local_dir(
    dir: &Path,
    repo: &Path,
    how: &str,
    warnings: &mut Vec<String>,
) -> Option<InstallCommand> {
    let crate_dir = cargo_pyship_crate(dir)?;
    if let Some(rel) = inside(repo, &crate_dir) {
        return Some(path(
            &rel,
            format!("the path {rel} in the repository, which this cargo-pyship was {how}"),
        ));
    }
    let git_out = |args: &[&str]| {
        crate::tools::git(dir, args)
            .map(|out| out.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let url = git_out(&["remote", "get-url", "origin"])?;
    let sha = git_out(&["rev-parse", "HEAD"])?;
    if !is_remote(&url) {
        warnings.push(format!(
            "this cargo-pyship was {how} {}, whose git origin {url} is a folder on this machine that no CI runner can reach: not used (give `--install-from <git URL>#<commit>`)",
            dir.display()
        ));
        return None;
    }
    Some(git(
        &url,
        GitRef::Rev(&sha),
        format!(
            "the git checkout this cargo-pyship was {how} ({}): its origin {url} at {sha}",
            dir.display()
        ),
    ))
}

/// A word for `sh`: as is when it has only safe characters, else single-quoted.
fn sh_word(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:@+=~%,".contains(&b))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_ids_from_cargos_record() {
        let repo = Path::new("/nonexistent-repo");
        let mut w = Vec::new();
        let c = from_source_id(
            "git+https://git.example.com/tools/cargo-pyship.git?tag=v0.1.0#0123abcd",
            repo,
            &mut w,
        )
        .unwrap();
        assert_eq!(
            c.command,
            "cargo install --locked --git https://git.example.com/tools/cargo-pyship.git --rev 0123abcd cargo-pyship"
        );
        let c = from_source_id(
            "registry+https://github.com/rust-lang/crates.io-index",
            repo,
            &mut w,
        )
        .unwrap();
        assert!(c
            .command
            .starts_with("cargo install cargo-pyship --locked --version "));
        assert!(from_source_id("registry+https://my.registry/index", repo, &mut w).is_none());
        assert!(w.is_empty(), "{w:?}");
        // A git install from a folder: passed over, with a warning naming it.
        for local in ["file:///srv/git/cargo-pyship", "/srv/git/cargo-pyship"] {
            let mut w = Vec::new();
            assert!(from_source_id(&format!("git+{local}#0123abcd"), repo, &mut w).is_none());
            assert!(w.len() == 1 && w[0].contains(local), "{w:?}");
        }
    }

    #[test]
    fn only_server_urls_are_reachable_from_a_runner() {
        for url in [
            "https://h/o/c.git",
            "HTTP://h/c",
            "ssh://git@h/c",
            "git://h/c",
            "git@h:o/c.git",
        ] {
            assert!(is_remote(url), "{url}");
        }
        for url in [
            "/srv/git/c",
            "../c",
            "file:///srv/c",
            "C:\\src\\c",
            "c",
            "https://",
            "./a@b:c",
        ] {
            assert!(!is_remote(url), "{url}");
        }
        assert_eq!(
            local_git_in("cargo install --locked --git /srv/c cargo-pyship").as_deref(),
            Some("/srv/c")
        );
        assert_eq!(
            local_git_in("cargo install --git='file:///srv/c' cargo-pyship").as_deref(),
            Some("file:///srv/c")
        );
        assert_eq!(
            local_git_in("cargo install --locked --git https://h/c --rev 1 cargo-pyship"),
            None
        );
        assert_eq!(local_git_in("cargo install cargo-pyship"), None);
    }

    #[test]
    fn a_configured_local_git_command_is_kept_with_a_warning() {
        let env = Env::default();
        let c = choose(
            None,
            Some("cargo install --locked --git /home/me/cargo-pyship cargo-pyship"),
            &env,
            Path::new("/nonexistent-repo"),
        )
        .unwrap();
        assert!(
            c.warnings.len() == 1 && c.warnings[0].contains("/home/me/cargo-pyship"),
            "{c:?}"
        );
        assert!(matches!(
            given("file:///home/me/cargo-pyship", Path::new("/r")),
            Err(Error::LocalGit(_))
        ));
    }

    #[test]
    fn git_urls_with_references() {
        let repo = Path::new("/nonexistent-repo");
        let cmd = |f: &str| given(f, repo).unwrap().command;
        assert_eq!(
            cmd("https://h/o/cargo-pyship.git#tag=v0.1.0"),
            "cargo install --locked --git https://h/o/cargo-pyship.git --tag v0.1.0 cargo-pyship"
        );
        assert_eq!(
            cmd("git@h:o/cargo-pyship.git"),
            "cargo install --locked --git git@h:o/cargo-pyship.git cargo-pyship"
        );
        assert_eq!(
            cmd("https://h/o/c#branch=main"),
            "cargo install --locked --git https://h/o/c --branch main cargo-pyship"
        );
        assert!(matches!(given("no/such/dir", repo), Err(Error::Unknown(_))));
    }

    #[test]
    fn shell_words() {
        assert_eq!(sh_word("https://h/a.git"), "https://h/a.git");
        assert_eq!(sh_word("a b"), "'a b'");
        assert_eq!(sh_word("it's"), "'it'\\''s'");
    }
}
