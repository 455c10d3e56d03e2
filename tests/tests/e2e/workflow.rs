//! A small runner for the generated workflows, to run their jobs on this
//! machine as a CI runner would: each `run:` step in `bash -eo pipefail` in
//! the job's working directory, with `GITHUB_PATH`/`GITHUB_ENV` honoured
//! between steps, the step's `env:` with its `${{ }}` expressions evaluated,
//! and the actions a test needs (checkout, artifact upload and download,
//! cache) done the way the runner does them, step outputs (`GITHUB_OUTPUT`,
//! `steps.ID.outputs.KEY`) and the `if:` conditions the generated workflows
//! use. Steps that install tools the host already has are skipped by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml_ng::Value;

/// One job's context.
pub struct Job<'a> {
    /// The checked-out repository (`GITHUB_WORKSPACE`).
    pub workspace: PathBuf,
    /// Steps whose `name` is listed are skipped (the host has those tools).
    pub skip: &'a [&'a str],
    /// Environment for every step (`GITHUB_*`, `HOME`, caches).
    pub env: BTreeMap<String, String>,
    /// `secrets.NAME`.
    pub secrets: BTreeMap<String, String>,
    /// `matrix.KEY`, for one entry of a matrix job.
    pub matrix: BTreeMap<String, String>,
    /// Where `actions/upload-artifact` puts, and `download-artifact` gets,
    /// named artifacts (one folder per name), shared by a workflow's jobs.
    pub artifacts: Option<PathBuf>,
    /// Where `checkout` clones from (`None`: the workspace is already there).
    pub clone_from: Option<PathBuf>,
}

/// What a job did: each step's name and whether it ran.
#[derive(Debug, Default)]
pub struct Ran {
    pub steps: Vec<(String, bool)>,
    pub log: String,
}

/// The job being run: its name and its steps' outputs so far.
#[derive(Default)]
struct State {
    job: String,
    outputs: BTreeMap<String, BTreeMap<String, String>>,
}

impl Job<'_> {
    /// A job context for `workspace` with nothing else set.
    pub fn new<'a>(workspace: &Path, skip: &'a [&'a str]) -> Job<'a> {
        Job {
            workspace: workspace.to_owned(),
            skip,
            env: BTreeMap::new(),
            secrets: BTreeMap::new(),
            matrix: BTreeMap::new(),
            artifacts: None,
            clone_from: None,
        }
    }

    /// Evaluate the `${{ }}` expressions of `text` (property lookups only:
    /// `matrix.*`, `secrets.*`, `github.*`, `runner.*`, `env.*`; `hashFiles`
    /// gives a fixed value). Panics on anything else: the test must know
    /// every expression the generated workflow uses.
    fn eval_in(&self, state: &State, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(i) = rest.find("${{") {
            out.push_str(&rest[..i]);
            let end = rest[i..].find("}}").expect("closed expression") + i;
            let expr = rest[i + 3..end].trim();
            out.push_str(&self.value(state, expr));
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }

    /// An `if:` condition: `VALUE == 'text'` or `VALUE != 'text'` (with
    /// or without `${{ }}`).
    fn condition(&self, state: &State, cond: &str) -> bool {
        let cond = cond.trim();
        let cond = cond
            .strip_prefix("${{")
            .and_then(|c| c.strip_suffix("}}"))
            .unwrap_or(cond)
            .trim();
        for (op, equal) in [("!=", false), ("==", true)] {
            if let Some((l, r)) = cond.split_once(op) {
                return (self.value(state, l.trim()) == self.value(state, r.trim())) == equal;
            }
        }
        panic!("the test runner cannot evaluate the condition `{cond}`")
    }

    fn value(&self, state: &State, expr: &str) -> String {
        if expr.starts_with("hashFiles(") {
            return "hash".into();
        }
        if let Some(s) = expr.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
            return s.replace("''", "'");
        }
        let (scope, key) = expr.split_once('.').unwrap_or((expr, ""));
        let found = match scope {
            "matrix" => self.matrix.get(key).cloned(),
            "secrets" => self.secrets.get(key).cloned(),
            "env" => self.env.get(key).cloned(),
            "runner" => match key {
                "os" => Some("Linux".into()),
                "temp" => Some(std::env::temp_dir().display().to_string()),
                _ => None,
            },
            // A step that set no such output (a cache that missed) gives ''.
            "steps" => {
                let (id, rest) = key.split_once(".outputs.").expect("steps.ID.outputs.KEY");
                Some(
                    state
                        .outputs
                        .get(id)
                        .and_then(|o| o.get(rest))
                        .cloned()
                        .unwrap_or_default(),
                )
            }
            "github" => match key {
                "workspace" => Some(self.workspace.display().to_string()),
                "job" => Some(state.job.clone()),
                _ => self
                    .env
                    .get(&format!("GITHUB_{}", key.to_uppercase()))
                    .cloned(),
            },
            _ => None,
        };
        found.unwrap_or_else(|| panic!("the test runner cannot evaluate `${{{{ {expr} }}}}`"))
    }

    /// Run job `name` of `workflow`; panics (with the log) when a step fails.
    pub fn run(&self, workflow: &Value, name: &str) -> Ran {
        let job = &workflow["jobs"][name];
        assert!(job.is_mapping(), "no job {name}");
        let mut ran = Ran::default();
        let mut st = State {
            job: name.to_owned(),
            ..State::default()
        };
        let state = tempfile::tempdir().unwrap();
        let path_file = state.path().join("path");
        let env_file = state.path().join("env");
        let output_file = state.path().join("output");
        fs_err::write(&path_file, "").unwrap();
        fs_err::write(&env_file, "").unwrap();
        let default_dir = job["defaults"]["run"]["working-directory"]
            .as_str()
            .map(|d| self.eval_in(&st, d))
            .unwrap_or_else(|| ".".into());
        let mut job_env = self.env.clone();
        if let Some(m) = job["env"].as_mapping() {
            for (k, v) in m {
                job_env.insert(k.as_str().unwrap().into(), self.eval_in(&st, &scalar(v)));
            }
        }
        for step in job["steps"].as_sequence().expect("steps") {
            let label = step["name"]
                .as_str()
                .or_else(|| step["uses"].as_str())
                .unwrap_or("run")
                .to_owned();
            let skipped = self.skip.contains(&label.as_str())
                || step["if"].as_str().is_some_and(|c| !self.condition(&st, c));
            if skipped {
                ran.steps.push((label, false));
                continue;
            }
            let with = |k: &str| step["with"][k].as_str().map(|v| self.eval_in(&st, v));
            if let Some(uses) = step["uses"].as_str() {
                let action = uses.split('@').next().unwrap();
                match action {
                    "actions/checkout" => self.checkout(),
                    "actions/upload-artifact" => {
                        let store = self.artifacts.as_ref().expect("an artifact store");
                        let name = with("name").expect("artifact name");
                        let dest = store.join(&name);
                        let paths: Vec<PathBuf> = with("path")
                            .expect("artifact path")
                            .lines()
                            .map(|p| self.workspace.join(p.trim()))
                            .collect();
                        for src in &paths {
                            assert!(
                                src.exists(),
                                "upload-artifact {name}: {} is missing",
                                src.display()
                            );
                            // The actions' rule: the paths' common folder is the
                            // artifact's root (one folder: its contents).
                            if paths.len() == 1 && src.is_dir() {
                                copy_any(src, &dest);
                            } else {
                                copy_any(src, &dest.join(src.file_name().unwrap()));
                            }
                        }
                        if with("if-no-files-found").as_deref() == Some("error") {
                            assert!(
                                fs_err::read_dir(&dest).is_ok_and(|mut d| d.next().is_some()),
                                "upload-artifact {name}: no files"
                            );
                        }
                    }
                    "actions/download-artifact" => {
                        let store = self.artifacts.as_ref().expect("an artifact store");
                        let name = with("name").expect("artifact name");
                        let dest = self.workspace.join(with("path").unwrap_or_default());
                        let src = store.join(&name);
                        assert!(src.is_dir(), "download-artifact: no artifact {name}");
                        copy_any(&src, &dest);
                    }
                    // A fresh runner: every cache misses, nothing is kept.
                    "actions/cache"
                    | "actions/cache/restore"
                    | "actions/cache/save"
                    | "actions/setup-python" => {}
                    other => panic!("the test runner does not know {other}"),
                }
                ran.steps.push((label, true));
                continue;
            }
            let script = step["run"].as_str().expect("a run step");
            let dir = step["working-directory"]
                .as_str()
                .map(|d| self.eval_in(&st, d))
                .unwrap_or_else(|| default_dir.clone());
            let mut env = job_env.clone();
            if let Some(m) = step["env"].as_mapping() {
                for (k, v) in m {
                    env.insert(k.as_str().unwrap().into(), self.eval_in(&st, &scalar(v)));
                }
            }
            for line in fs_err::read_to_string(&env_file).unwrap().lines() {
                if let Some((k, v)) = line.split_once('=') {
                    env.insert(k.into(), v.into());
                }
            }
            let mut path: Vec<PathBuf> = fs_err::read_to_string(&path_file)
                .unwrap()
                .lines()
                .rev()
                .map(PathBuf::from)
                .collect();
            let base = env
                .get("PATH")
                .map(std::ffi::OsString::from)
                .or_else(|| std::env::var_os("PATH"))
                .unwrap();
            path.extend(std::env::split_paths(&base));
            fs_err::write(&output_file, "").unwrap();
            let mut cmd = Command::new("bash");
            // A runner's environment: none of this machine's pyship
            // settings, and `CI` set as every runner sets it (`release`
            // is then `--locked`).
            for v in pyship_build::env::ALL {
                if *v != pyship_build::env::CARGO_HOME {
                    cmd.env_remove(v);
                }
            }
            let out = cmd
                .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
                .current_dir(self.workspace.join(&dir))
                .env("CI", "true")
                .envs(&env)
                .env("PATH", std::env::join_paths(path).unwrap())
                .env("GITHUB_PATH", &path_file)
                .env("GITHUB_ENV", &env_file)
                .env("GITHUB_OUTPUT", &output_file)
                .env("GITHUB_WORKSPACE", &self.workspace)
                .output()
                .unwrap_or_else(|e| panic!("step {label}: {e}"));
            ran.log.push_str(&format!(
                "--- {label}\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
            assert!(
                out.status.success(),
                "job {name}, step {label:?} failed ({}):\n{}",
                out.status,
                ran.log
            );
            if let Some(id) = step["id"].as_str() {
                st.outputs.insert(
                    id.to_owned(),
                    outputs(&fs_err::read_to_string(&output_file).unwrap()),
                );
            }
            ran.steps.push((label, true));
        }
        ran
    }

    fn checkout(&self) {
        let Some(from) = &self.clone_from else {
            return;
        };
        let out = Command::new("git")
            .args(["clone", "-q", "--no-hardlinks"])
            .arg(from)
            .arg(&self.workspace)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "clone: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `KEY=VALUE` lines and `KEY<<DELIMITER` blocks of a `GITHUB_OUTPUT` file.
fn outputs(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((k, delim)) = line.split_once("<<") {
            let value: Vec<&str> = lines.by_ref().take_while(|l| *l != delim).collect();
            out.insert(k.to_owned(), value.join("\n"));
        } else if let Some((k, v)) = line.split_once('=') {
            out.insert(k.to_owned(), v.to_owned());
        }
    }
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

fn copy_any(src: &Path, dest: &Path) {
    if src.is_dir() {
        pyship_build::fs::copy_tree_with(src, dest, |_| Ok::<_, pyship_build::fs::Error>(true))
            .unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
    } else {
        fs_err::create_dir_all(dest.parent().unwrap()).unwrap();
        fs_err::copy(src, dest).unwrap();
    }
}

/// Parse a workflow file.
pub fn load(path: &Path) -> Value {
    let text = fs_err::read_to_string(path).unwrap();
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
