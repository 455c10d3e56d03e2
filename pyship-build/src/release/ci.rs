//! The release split into CI jobs: one per target, publish, then the Docker
//! image, each with its share of the action list, the artifacts it leaves
//! and the secrets it reads.

use serde::Serialize;

use super::{select, Action, Part, Planned};
use crate::plan::Plan;

/// One CI job of the release split across runners: `release --only
/// {name}`, its share of [`actions`](super::actions) (the list `release` walks, cut by
/// [`select`]). The installer and the MSI are in the Windows job and the
/// .deb in the Linux job: each is made from its target's unpacked bundle
/// folder, which stays on that runner.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    /// The job's name and its `--only` value: a target, `publish` or `docker`.
    pub name: String,
    /// The command the job runs (in the project's folder).
    pub run: String,
    /// The jobs that must finish first; the publish job needs their
    /// artifacts, the Docker job runs after the release is published.
    pub needs: Vec<String>,
    /// What it does, in the order `release` does it.
    pub actions: Vec<Action>,
    /// The files it leaves in the output folder (`--out`, default `dist/`),
    /// the job's artifact folder: a build job's are what the publish job
    /// needs in its own output folder.
    pub artifacts: Vec<String>,
    /// The secrets its actions read, and no others: the code-signing
    /// certificate's only where Windows files are signed, the update key
    /// and the deploy token only where they publish.
    pub secrets: Vec<Secret>,
}

/// A secret a job reads from its environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Secret {
    /// The environment variable (and CI secret) holding it.
    pub env: String,
    /// The config key that names the variable.
    pub key: &'static str,
}

/// The secrets `actions` read (in the order the release reads them).
fn secrets(plan: &Plan, actions: &[Action]) -> Vec<Secret> {
    let mut out = Vec::new();
    let mut add = |env: &str, key: &'static str| {
        if !out.iter().any(|s: &Secret| s.env == env) {
            out.push(Secret {
                env: env.to_owned(),
                key,
            });
        }
    };
    if actions.iter().any(|a| a.signs(plan)) {
        if let Some(sign) = &plan.config.windows.sign {
            if let crate::config::CertSource::Pkcs12Env(var) = &sign.certificate {
                add(var, "windows.sign.pkcs12-env");
            }
            if let Some(var) = &sign.password_env {
                add(var, "windows.sign.password-env");
            }
        }
    }
    if actions.contains(&Action::Publish) && !plan.config.update.public_keys.is_empty() {
        add(
            &plan.config.update.signing_key_env,
            "update.signing-key-env",
        );
        add(
            &plan.config.update.signing_password_env,
            "update.signing-password-env",
        );
    }
    if actions
        .iter()
        .any(|a| matches!(a, Action::Publish | Action::Docker))
    {
        add(&plan.config.publish.token_env, "publish.token-env");
    }
    out
}

/// The release's CI jobs over `all` (the plan's [`actions`](super::actions)): one per
/// target, publish (which needs every target job's artifacts), then the
/// Docker image when one is configured.
pub fn jobs(plan: &Plan, all: &[Planned]) -> Vec<Job> {
    let mut parts: Vec<Part> = plan.targets.iter().map(|&t| Part::Target(t)).collect();
    parts.push(Part::Publish);
    if all.iter().any(|p| p.action == Action::Docker && p.runs) {
        parts.push(Part::Docker);
    }
    let builds: Vec<String> = plan.targets.iter().map(|t| t.key().to_owned()).collect();
    parts
        .into_iter()
        .map(|part| {
            let actions: Vec<Action> = select(all.to_vec(), &[part])
                .into_iter()
                .filter(|p| p.runs)
                .map(|p| p.action)
                .collect();
            let artifacts = plan
                .artifacts
                .iter()
                .filter(|a| actions.iter().any(|act| act.makes(a)))
                .map(|a| a.file_name.clone())
                .collect();
            Job {
                name: part.to_string(),
                run: format!("cargo pyship release --only {part}"),
                needs: match part {
                    Part::Target(_) => Vec::new(),
                    Part::Publish => builds.clone(),
                    Part::Docker => vec![Part::Publish.to_string()],
                },
                secrets: secrets(plan, &actions),
                actions,
                artifacts,
            }
        })
        .collect()
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Env;
    use crate::platform::Platform;
    use crate::release::actions;

    /// The CI jobs are the one action list cut by part: each target's job
    /// leaves its bundle and SBOM (and the installer, from the Windows
    /// bundle), publish needs both and leaves manifest.json and SHA256SUMS;
    /// every artifact of the plan is left by exactly one job.
    #[test]
    fn the_jobs_cut_the_one_action_list_and_leave_every_artifact_once() {
        let mut plan = crate::plan::tests_support::hello_plan();
        plan.config.docker.image = None;
        let env = Env::from_pairs(Vec::<(String, String)>::new());
        let all = actions(&plan, &env);
        let jobs = jobs(&plan, &all);
        let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
        assert!(
            names.starts_with(&["windows", "linux", "publish"]),
            "{names:?}"
        );
        let job = |n: &str| jobs.iter().find(|j| j.name == n).unwrap();
        let windows = job("windows");
        assert_eq!(windows.run, "cargo pyship release --only windows");
        assert!(windows.needs.is_empty());
        assert_eq!(
            windows.actions[..3],
            [
                Action::Stamp,
                Action::Bundles(vec![Platform::Windows]),
                Action::Installer
            ]
        );
        let has = |j: &Job, end: &str| j.artifacts.iter().any(|a| a.ends_with(end));
        assert!(has(windows, "-win-x64.zip") && has(windows, "-win-x64.cdx.json"));
        assert!(has(windows, "-setup.exe") && !has(windows, ".tar.gz"));
        let linux = job("linux");
        assert!(has(linux, "-linux-x64.tar.gz") && !has(linux, ".zip"));
        let publish = job("publish");
        assert_eq!(publish.needs, ["windows", "linux"]);
        assert_eq!(publish.actions, [Action::Publish]);
        assert!(has(publish, "manifest.json") && has(publish, "SHA256SUMS"));
        let mut left: Vec<&String> = jobs.iter().flat_map(|j| &j.artifacts).collect();
        left.sort();
        let mut want: Vec<&String> = plan.artifacts.iter().map(|a| &a.file_name).collect();
        want.sort();
        assert_eq!(left, want);
        // Walking the jobs in order does what one release does.
        let walked: Vec<Action> = jobs.iter().flat_map(|j| j.actions.clone()).collect();
        for a in all.iter().filter(|p| p.runs).map(|p| &p.action) {
            if let Action::Bundles(ts) = a {
                for t in ts {
                    assert!(walked.contains(&Action::Bundles(vec![*t])));
                }
            } else {
                assert!(walked.contains(a), "{a:?} is in no job");
            }
        }
        if let Some(d) = jobs.iter().find(|j| j.name == "docker") {
            assert_eq!(d.needs, ["publish"]);
        }
    }
}
