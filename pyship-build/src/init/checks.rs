//! What the generated test workflow installs and runs, read from the project.
//!
//! Why: a test job that installs only the app fails on the first real
//! project: its tests need the project's test dependencies (a `pytest.ini`
//! option from a plugin stops pytest before it collects anything), a newer
//! linter than the project was written for reports new errors, a project
//! without tests makes pytest exit 5, and `cargo clippy --locked` fails where
//! no Cargo.lock is committed. So the job follows the project:
//!
//! - **Python dependencies.** A `uv.lock` (next to the pyproject, or at the
//!   root of the uv workspace it belongs to) is the truth: `uv sync
//!   --locked`. Otherwise the app is installed editable into a fresh venv
//!   with its test and development dependencies: the PEP 735
//!   `[dependency-groups]` and the extras named in [`GROUPS`], and the
//!   `requirements-*.txt` files named in [`REQUIREMENTS`].
//! - **ruff** runs where the project uses it (a `[tool.ruff]` table, a
//!   `ruff.toml`, or ruff among the dependencies above), at the project's
//!   own pin when it declares ruff, else at [`RUFF_VERSION`]; ruff reads the
//!   project's configuration itself. pytest, when the project declares none,
//!   is [`PYTEST_VERSION`].
//! - **Rust** is checked where there is Rust (workspace members), with the
//!   project's `rust-toolchain.toml` when it has one, and with `--locked`
//!   only when a Cargo.lock is committed (outside git: present).
//!
//! Every shell line built here is made of fixed words and paths of `..`
//! segments only: nothing from a config or pyproject string reaches it.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::project::{Project, Pyproject};

/// The uv the workflows install (astral's installer at this version).
pub const UV_VERSION: &str = "0.13.9";
/// The ruff the test workflow runs when the project uses ruff without
/// declaring it.
pub const RUFF_VERSION: &str = "0.17.6";
/// The pytest the test workflow installs when the project declares none.
pub const PYTEST_VERSION: &str = "9.2.0";

/// Dependency groups (PEP 735) and extras installed for the tests, when the
/// project has them: the names projects give their test and development
/// dependencies (a lint group is where a ruff pin usually is).
pub const GROUPS: [&str; 5] = ["dev", "test", "tests", "testing", "lint"];

/// Requirement files installed for the tests, when present next to the pyproject.
pub const REQUIREMENTS: [&str; 5] = [
    "requirements-dev.txt",
    "requirements-test.txt",
    "requirements-tests.txt",
    "dev-requirements.txt",
    "test-requirements.txt",
];

/// Folders whose presence makes "no tests collected" (pytest's exit 5) a failure.
pub const TEST_FOLDERS: [&str; 2] = ["tests", "test"];

/// The test workflow's Python job.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PythonJob {
    /// The lines of the install step, in order (the last puts the venv on `PATH`).
    pub install: Vec<String>,
    /// Whether ruff runs (the project uses it).
    pub ruff: bool,
    /// Where ruff comes from: `the project's own pin` or `ruff==X`.
    pub ruff_source: Option<String>,
    /// How the dependencies are chosen, for the workflow's comment.
    pub source: String,
    /// [`TEST_FOLDERS`], for the pytest step's exit-5 check.
    pub test_folders: Vec<&'static str>,
}

/// The test workflow's Rust job (and the Rust install of a hybrid Python job).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RustJob {
    /// The project's `rust-toolchain.toml` (or `rust-toolchain`) governs.
    pub toolchain_file: bool,
    /// `--locked` on cargo's commands (a Cargo.lock is committed).
    pub locked: bool,
}

/// Read what the test workflow needs from the project.
pub fn python_job(pyproject: Option<&Pyproject>, python_xy: &str, repo: &Path) -> PythonJob {
    let Some(py) = pyproject else {
        return PythonJob {
            install: vec![
                format!("uv venv --python {python_xy} .venv"),
                format!("uv pip install --python .venv pytest=={PYTEST_VERSION}"),
                "echo \"$PWD/.venv/bin\" >> \"$GITHUB_PATH\"".into(),
            ],
            ruff: false,
            ruff_source: None,
            source: "no pyproject.toml".into(),
            test_folders: TEST_FOLDERS.to_vec(),
        };
    };
    let dir = py.path.parent().unwrap_or(Path::new("."));
    let doc = read_toml(&py.path);
    let groups_table = doc.get("dependency-groups").and_then(|g| g.as_table());
    let groups: Vec<&str> = GROUPS
        .iter()
        .copied()
        .filter(|g| groups_table.is_some_and(|t| t.contains_key(g)))
        .collect();
    let extras: Vec<&str> = GROUPS
        .iter()
        .copied()
        .filter(|g| py.optional_dependencies.contains_key(*g))
        .collect();
    let requirements: Vec<&str> = REQUIREMENTS
        .iter()
        .copied()
        .filter(|r| dir.join(r).is_file())
        .collect();
    // Every requirement the job installs besides the app's own.
    let named: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
    let mut declared = crate::local_deps::dependency_group_requirements(py, &named);
    for e in &extras {
        declared.extend(py.optional_dependencies[*e].iter().cloned());
    }
    for r in &requirements {
        if let Ok(text) = crate::fs::read_small_to_string(dir.join(r)) {
            declared.extend(
                text.lines()
                    .map(|l| l.split('#').next().unwrap_or("").trim().to_owned())
                    .filter(|l| !l.is_empty() && !l.starts_with('-')),
            );
        }
    }
    let declares = |name: &str| declared.iter().any(|r| requirement_name(r) == name);
    let ruff_pinned = declares("ruff");
    let ruff = ruff_pinned || ruff_configured(dir, &doc, repo);
    let mut extra_tools = Vec::new();
    if ruff && !ruff_pinned {
        extra_tools.push(format!("ruff=={RUFF_VERSION}"));
    }
    if !declares("pytest") {
        extra_tools.push(format!("pytest=={PYTEST_VERSION}"));
    }

    let mut install = Vec::new();
    let (venv, source) = match uv_lock_dir(dir, repo) {
        Some(lock_dir) => {
            let mut sync = format!("uv sync --locked --python {python_xy}");
            for g in &groups {
                sync.push_str(&format!(" --group {g}"));
            }
            for e in &extras {
                sync.push_str(&format!(" --extra {e}"));
            }
            install.push(sync);
            let up = up_to(dir, &lock_dir);
            let venv = if up.is_empty() {
                ".venv".to_owned()
            } else {
                format!("{up}/.venv")
            };
            (venv, "uv.lock (uv sync --locked)".to_owned())
        }
        None => {
            install.push(format!("uv venv --python {python_xy} .venv"));
            let mut pip = "uv pip install --python .venv".to_owned();
            if extras.is_empty() {
                pip.push_str(" -e .");
            } else {
                pip.push_str(&format!(" -e \".[{}]\"", extras.join(",")));
            }
            for g in &groups {
                pip.push_str(&format!(" --group {g}"));
            }
            for r in &requirements {
                pip.push_str(&format!(" -r {r}"));
            }
            install.push(pip);
            let mut from = Vec::new();
            if !groups.is_empty() {
                from.push(format!("dependency groups {}", groups.join(", ")));
            }
            if !extras.is_empty() {
                from.push(format!("extras {}", extras.join(", ")));
            }
            if !requirements.is_empty() {
                from.push(requirements.join(", "));
            }
            let source = if from.is_empty() {
                "the app alone (no test or dev dependency group, extra or requirements file)".into()
            } else {
                format!("the app with its {}", from.join(" and "))
            };
            (".venv".to_owned(), source)
        }
    };
    if !extra_tools.is_empty() {
        install.push(format!(
            "uv pip install --python {venv} {}",
            extra_tools.join(" ")
        ));
    }
    install.push(format!("echo \"$PWD/{venv}/bin\" >> \"$GITHUB_PATH\""));
    PythonJob {
        install,
        ruff,
        ruff_source: ruff.then(|| {
            if ruff_pinned {
                "the project's own pin".to_owned()
            } else {
                format!("ruff=={RUFF_VERSION}")
            }
        }),
        source,
        test_folders: TEST_FOLDERS.to_vec(),
    }
}

/// The Rust job's settings for the workspace at `workspace_root`.
pub fn rust_job(project: &Project, repo: &Path) -> RustJob {
    let root = &project.workspace_root;
    let toolchain_file = ancestors_within(root, repo)
        .any(|d| d.join("rust-toolchain.toml").is_file() || d.join("rust-toolchain").is_file());
    let lock = root.join("Cargo.lock");
    let locked = lock.is_file()
        && match crate::tools::git(root, &["rev-parse", "--is-inside-work-tree"]) {
            // In a repository, only a committed (or staged) lock file reaches CI.
            Some(_) => {
                crate::tools::git(root, &["ls-files", "--error-unmatch", "Cargo.lock"]).is_some()
            }
            None => true,
        };
    RustJob {
        toolchain_file,
        locked,
    }
}

fn read_toml(path: &Path) -> toml_edit::DocumentMut {
    crate::fs::read_small_to_string(path)
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or_default()
}

/// The normalized (PEP 503) name a PEP 508 requirement starts with.
pub fn requirement_name(req: &str) -> String {
    let name: String = req
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    crate::project::pep503_name(&name)
}

/// A ruff configuration applies to `dir`: `[tool.ruff]` in its pyproject, or
/// a `ruff.toml`/`.ruff.toml`, or a pyproject with `[tool.ruff]` in a folder
/// above it (within the repository), as ruff itself looks.
fn ruff_configured(dir: &Path, pyproject: &toml_edit::DocumentMut, repo: &Path) -> bool {
    let has_tool_ruff =
        |doc: &toml_edit::DocumentMut| doc.get("tool").and_then(|t| t.get("ruff")).is_some();
    if has_tool_ruff(pyproject) {
        return true;
    }
    ancestors_within(dir, repo).any(|d| {
        d.join("ruff.toml").is_file()
            || d.join(".ruff.toml").is_file()
            || (d != dir && has_tool_ruff(&read_toml(&d.join("pyproject.toml"))))
    })
}

/// The folder of the `uv.lock` that governs the project in `dir`: `dir`
/// itself, or the uv workspace root above it (a pyproject with
/// `[tool.uv.workspace]` next to the lock file).
fn uv_lock_dir(dir: &Path, repo: &Path) -> Option<PathBuf> {
    if dir.join("uv.lock").is_file() {
        return Some(dir.to_owned());
    }
    ancestors_within(dir, repo).skip(1).find_map(|d| {
        let doc = read_toml(&d.join("pyproject.toml"));
        let workspace = doc
            .get("tool")
            .and_then(|t| t.get("uv"))
            .and_then(|u| u.get("workspace"))
            .is_some();
        (workspace && d.join("uv.lock").is_file()).then(|| d.to_owned())
    })
}

/// `dir` and its ancestors, stopping at `repo` (or at the root when `dir` is
/// not inside `repo`).
fn ancestors_within<'a>(dir: &'a Path, repo: &'a Path) -> impl Iterator<Item = &'a Path> + 'a {
    let canon = |p: &Path| fs_err::canonicalize(p).unwrap_or_else(|_| p.to_owned());
    let repo_c = canon(repo);
    let inside = canon(dir).starts_with(&repo_c);
    let mut done = false;
    dir.ancestors().take_while(move |d| {
        if done {
            return false;
        }
        if inside && canon(d) == repo_c {
            done = true;
        }
        true
    })
}

/// `../..` from `dir` up to its ancestor `to` (empty when they are the same).
fn up_to(dir: &Path, to: &Path) -> String {
    let n = dir.ancestors().position(|a| a == to).unwrap_or(0);
    vec![".."; n].join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        for (rel, text) in files {
            let p = t.path().join(rel);
            fs_err::create_dir_all(p.parent().unwrap()).unwrap();
            fs_err::write(p, text).unwrap();
        }
        t
    }

    const BASE: &str = "[project]\nname = \"demo\"\nversion = \"0.1.0\"\n";

    fn job(t: &tempfile::TempDir, rel: &str) -> PythonJob {
        let py = Pyproject::read(&t.path().join(rel)).unwrap();
        python_job(Some(&py), "3.11", t.path())
    }

    #[test]
    fn dependency_groups_and_extras_are_installed_with_the_app() {
        let t = project(&[(
            "pyproject.toml",
            &format!(
                "{BASE}[project.optional-dependencies]\ndev = [\"black\"]\ngui = [\"pyside6\"]\n\
                 [dependency-groups]\ntesting = [\"pytest>=8\", \"pytest-timeout\"]\n\
                 dev = [{{include-group = \"testing\"}}, \"ruff==0.9.1\"]\ndocs = [\"sphinx\"]\n"
            ),
        )]);
        let j = job(&t, "pyproject.toml");
        assert_eq!(
            j.install,
            [
                "uv venv --python 3.11 .venv",
                "uv pip install --python .venv -e \".[dev]\" --group dev --group testing",
                "echo \"$PWD/.venv/bin\" >> \"$GITHUB_PATH\"",
            ]
        );
        // ruff and pytest are the project's own (through include-group).
        assert!(j.ruff);
        assert_eq!(j.ruff_source.as_deref(), Some("the project's own pin"));
    }

    #[test]
    fn a_uv_lock_is_synced_and_its_workspace_venv_used() {
        let t = project(&[
            (
                "pyproject.toml",
                "[project]\nname = \"root\"\nversion = \"1\"\n[tool.uv.workspace]\nmembers = [\"apps/*\"]\n",
            ),
            ("uv.lock", "version = 1\n"),
            (
                "apps/web/pyproject.toml",
                &format!("{BASE}[dependency-groups]\ntest = [\"pytest\"]\n"),
            ),
        ]);
        let j = job(&t, "apps/web/pyproject.toml");
        assert_eq!(
            j.install,
            [
                "uv sync --locked --python 3.11 --group test",
                "echo \"$PWD/../../.venv/bin\" >> \"$GITHUB_PATH\"",
            ]
        );
        assert!(!j.ruff, "no ruff config, no ruff pin: no lint step");
    }

    #[test]
    fn ruff_and_pytest_are_pinned_when_the_project_declares_neither() {
        let t = project(&[
            ("pyproject.toml", BASE),
            ("ruff.toml", "line-length = 100\n"),
            ("requirements-dev.txt", "# tools\nblack==24.1 # fmt\n-e .\n"),
        ]);
        let j = job(&t, "pyproject.toml");
        assert_eq!(
            j.install[1],
            "uv pip install --python .venv -e . -r requirements-dev.txt"
        );
        assert_eq!(
            j.install[2],
            format!("uv pip install --python .venv ruff=={RUFF_VERSION} pytest=={PYTEST_VERSION}")
        );
        assert!(j.ruff);
    }

    #[test]
    fn requirement_names_are_normalized() {
        assert_eq!(requirement_name("Ruff>=0.5"), "ruff");
        assert_eq!(
            requirement_name(" pytest_timeout ; python_version>'3'"),
            "pytest-timeout"
        );
        assert_eq!(requirement_name("pytest[extra]==8"), "pytest");
    }
}
