//! The release's one list of actions ([`Action`], in order, each with the
//! lines `plan` shows for it), and its cut by [`Part`] for one CI job:
//! `release`, `release --dry-run`, `release --only` and `cargo pyship plan`
//! all walk this list.

use serde::Serialize;

use super::docker_configured;
use crate::env::Env;
use crate::plan::{ArtifactKind, Plan};
use crate::platform::Platform;

/// One thing `release` does. [`actions`] lists them in order; `release`
/// ([`run`](super::run)), `release --dry-run` and `cargo pyship plan` all
/// walk that one list, so what the plan shows is what the run does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Stamp the version into the project's files.
    Stamp,
    /// Build each target's wheels and bundle (with its license file and SBOM).
    Bundles(Vec<Platform>),
    /// The NSIS installer from the Windows bundle.
    Installer,
    /// The MSI from the Windows bundle (`windows.msi`).
    Msi,
    /// The .deb from the Linux bundle (`linux.deb`).
    Deb,
    /// Write (and sign) manifest.json and SHA256SUMS, upload every asset.
    Publish,
    /// Build and push the Docker image.
    Docker,
}

/// An [`Action`] with what the plan shows for it.
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    pub action: Action,
    /// Whether the run does it. A step can show `runs: false` (it cannot be
    /// planned, e.g. no stamp target) while its action still runs: the run
    /// then fails with the cause rather than skip it.
    pub runs: bool,
    /// What `plan` prints for it, one line each (in the plan's `steps`).
    #[serde(skip)]
    pub steps: Vec<Step>,
}

/// One CI job's share of the release (`release --only`): the builds of one
/// target (its bundle, and the installer, MSI or .deb made from it), the
/// publish (manifest.json, SHA256SUMS and every asset, from the artifacts
/// already in the output folder), or the Docker image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Part {
    Target(Platform),
    Publish,
    Docker,
}

impl std::str::FromStr for Part {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "publish" => Ok(Part::Publish),
            "docker" => Ok(Part::Docker),
            other => other.parse().map(Part::Target).map_err(|_| {
                format!("unknown part `{other}` (expected windows, linux, publish or docker)")
            }),
        }
    }
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Part::Target(p) => f.write_str(p.key()),
            Part::Publish => f.write_str("publish"),
            Part::Docker => f.write_str("docker"),
        }
    }
}

impl Action {
    /// Whether this action signs files with the code-signing certificate
    /// (`windows.sign`): the installer, the MSI, and the Windows bundle when
    /// `sign-binaries` is on.
    pub fn signs(&self, plan: &Plan) -> bool {
        plan.config.windows.sign.is_some()
            && match self {
                Action::Bundles(platforms) => platforms
                    .iter()
                    .any(|&p| crate::bundle::signs_binaries(plan, p)),
                Action::Installer | Action::Msi => true,
                _ => false,
            }
    }

    /// Whether this action writes `artifact`.
    pub(super) fn makes(&self, artifact: &crate::plan::Artifact) -> bool {
        use ArtifactKind as K;
        match self {
            Action::Bundles(platforms) => {
                matches!(artifact.kind, K::Bundle | K::Sbom)
                    && artifact.platform.is_some_and(|p| platforms.contains(&p))
            }
            Action::Installer => artifact.kind == K::Installer,
            Action::Msi => artifact.kind == K::Msi,
            Action::Deb => artifact.kind == K::Deb,
            Action::Publish => matches!(artifact.kind, K::Manifest | K::Signature | K::Checksums),
            Action::Stamp | Action::Docker => false,
        }
    }
}

/// The actions of `parts` (every action when `parts` is empty). A job that
/// builds anything stamps the version first: every artifact is built from
/// the stamped sources, in whichever job.
pub fn select(actions: Vec<Planned>, parts: &[Part]) -> Vec<Planned> {
    if parts.is_empty() {
        return actions;
    }
    let has = |p: Platform| parts.contains(&Part::Target(p));
    let builds = parts
        .iter()
        .any(|p| matches!(p, Part::Target(_) | Part::Docker));
    actions
        .into_iter()
        .filter_map(|mut p| {
            let keep = match &mut p.action {
                Action::Stamp => builds,
                Action::Bundles(platforms) => {
                    platforms.retain(|&t| has(t));
                    !platforms.is_empty()
                }
                Action::Installer | Action::Msi => has(Platform::Windows),
                Action::Deb => has(Platform::Linux),
                Action::Publish => parts.contains(&Part::Publish),
                Action::Docker => parts.contains(&Part::Docker),
            };
            keep.then_some(p)
        })
        .collect()
}

/// One step of `release`, in order.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub name: &'static str,
    pub description: String,
    /// `false` when the step will be skipped (`description` says why).
    pub runs: bool,
}

/// ` (Windows with tkinter from …)` when `windows.tkinter = true`.
fn tkinter_note(plan: &Plan, env: &Env) -> String {
    let w = &plan.config.windows;
    if !(w.tkinter && plan.targets.contains(&Platform::Windows)) {
        return String::new();
    }
    let mirror = env
        .get(crate::env::PYSHIP_PYTHON_MIRROR)
        .unwrap_or(&w.python_mirror);
    let from = match w.tkinter_source {
        crate::config::TkinterSource::Msi => format!(
            "python.org's {}",
            crate::python::tkinter::msi_url(mirror, &plan.python, "tcltk")
        ),
        crate::config::TkinterSource::Pypi => format!(
            "the {} package for CPython {}",
            crate::python::tkinter::PYPI_PROJECT,
            plan.python.xy
        ),
    };
    format!(" (Windows with tkinter from {from})")
}

/// Asset names in upload order (`SHA256SUMS` last).
pub(super) fn asset_order(plan: &Plan) -> Vec<String> {
    let (sums, mut assets): (Vec<_>, Vec<_>) = plan
        .artifacts
        .iter()
        .partition(|a| a.kind == ArtifactKind::Checksums);
    assets.extend(sums);
    assets.into_iter().map(|a| a.file_name.clone()).collect()
}

/// The release's actions in order, each with what the plan shows for it
/// (reads git tags for the Docker `latest` rule; no side effects).
pub fn actions(plan: &Plan, env: &Env) -> Vec<Planned> {
    let (server_url, repo) = plan.config.publish.location(env);
    let v = &plan.version.version;
    let names = |kind| {
        plan.artifacts
            .iter()
            .filter(|a| a.kind == kind)
            .map(|a| a.file_name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let step = |name, runs, description: String| Step {
        name,
        description,
        runs,
    };
    let planned = |action, runs, steps| Planned {
        action,
        runs,
        steps,
    };
    let mut out = Vec::new();

    out.push(planned(
        Action::Stamp,
        true,
        vec![match plan.project.stamp_targets() {
            Ok(targets) => step(
                "version",
                true,
                format!(
                    "stamp {}",
                    targets
                        .iter()
                        .map(|t| t.describe(v))
                        .collect::<Vec<_>>()
                        .join(", and ")
                ),
            ),
            Err(e) => step("version", false, e.to_string()),
        }],
    ));

    let mut bundle_steps = Vec::new();
    for &t in &plan.targets {
        match crate::wheel::planned(plan, t) {
            Ok(b) => {
                if let Some(cmd) = &b.prebuild {
                    bundle_steps.push(step(
                        "prebuild",
                        true,
                        format!(
                            "{t}: `{cmd}` in {} (PYSHIP_TARGET_TRIPLE={}, PYSHIP_OUT_DIR={})",
                            b.working_dir.display(),
                            b.triple,
                            b.out_dir.display()
                        ),
                    ));
                }
                if let Some(m) = &b.maturin {
                    bundle_steps.push(step(
                        "wheel",
                        true,
                        format!(
                            "{t}: maturin {} in {} (cached by its inputs)",
                            m.args.join(" "),
                            m.project_dir.display()
                        ),
                    ));
                }
            }
            Err(e) => bundle_steps.push(step("wheel", false, format!("{t}: {e}"))),
        }
    }
    bundle_steps.push(step(
        "bundle",
        true,
        format!(
            "build {}{} (each with THIRD-PARTY-LICENSES.txt{}), and their SBOMs {}",
            names(ArtifactKind::Bundle),
            tkinter_note(plan, env),
            if plan
                .config
                .windows
                .sign
                .as_ref()
                .is_some_and(|s| s.sign_binaries)
            {
                "; the project's own Windows binaries signed"
            } else {
                ""
            },
            names(ArtifactKind::Sbom)
        ),
    ));
    out.push(planned(
        Action::Bundles(plan.targets.clone()),
        true,
        bundle_steps,
    ));

    let installer = names(ArtifactKind::Installer);
    out.push(planned(
        Action::Installer,
        !installer.is_empty(),
        vec![step(
            "installer",
            !installer.is_empty(),
            if installer.is_empty() {
                "no Windows target, or windows.installer = false".into()
            } else if plan.config.windows.sign.is_some() {
                format!("build {installer} with makensis, sign it and its uninstaller with osslsigncode, verify both")
            } else {
                format!("build {installer} with makensis")
            },
        )],
    ));

    // The packages' actions are listed when they run (each is opt-in).
    let msi = names(ArtifactKind::Msi);
    if !msi.is_empty() {
        out.push(planned(
            Action::Msi,
            true,
            vec![step(
                "msi",
                true,
                format!(
                    "build {msi} with wixl ({}, UpgradeCode {}){}",
                    plan.config.windows.msi_scope.key(),
                    crate::msi::upgrade_code(plan),
                    if plan.config.windows.sign.is_some() {
                        ", sign it with osslsigncode and verify"
                    } else {
                        ""
                    }
                ),
            )],
        ));
    }
    let deb = names(ArtifactKind::Deb);
    if !deb.is_empty() {
        out.push(planned(
            Action::Deb,
            true,
            vec![step(
                "deb",
                true,
                format!("build {deb} (the Linux bundle under /opt, the systemd unit, Depends from its ELF files)"),
            )],
        ));
    }

    out.push(planned(
        Action::Publish,
        true,
        vec![
            step(
                "manifest",
                true,
                format!(
                    "write manifest.json ({}) and SHA256SUMS (covering {})",
                    if plan.config.update.public_keys.is_empty() {
                        "UNSIGNED: no update.public-keys, installed apps check releases by SHA-256 from the server only".to_owned()
                    } else {
                        format!(
                            "signed into {} with the key in ${}",
                            crate::plan::SIGNATURE_FILE,
                            plan.config.update.signing_key_env
                        )
                    },
                    names(ArtifactKind::Sbom)
                ),
            ),
            step(
                "publish",
                true,
                format!(
                    "{} release {} ({}) with {} assets",
                    if v.is_prerelease() {
                        "pre-release"
                    } else {
                        "stable"
                    },
                    v.tag(),
                    match (&server_url, &repo) {
                        (Some(u), Some(r)) => format!("{u}/{r}"),
                        _ => "server and repository from the CI variables".into(),
                    },
                    asset_order(plan).len()
                ),
            ),
        ],
    ));

    // The run builds the image whenever one is configured (a plan that cannot
    // name its tags then fails the run with the cause); the plan says why not.
    let configured = docker_configured(plan);
    let docker_step = match crate::docker::plan(
        plan,
        &crate::docker::Options {
            push: true,
            repo_tags: crate::docker::repo_version_tags(&plan.project.config_dir),
        },
        env,
    ) {
        Ok(d) if configured => step(
            "docker",
            true,
            format!("build and push {}", d.tags.join(", ")),
        ),
        Ok(_) => step(
            "docker",
            false,
            format!(
                "no image configured (`image` in [{}.docker]) and no Dockerfile",
                plan.project.config_source.table.key()
            ),
        ),
        Err(e) => step("docker", false, e.to_string()),
    };
    out.push(planned(Action::Docker, configured, vec![docker_step]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Planned> {
        [
            Action::Stamp,
            Action::Bundles(vec![Platform::Windows, Platform::Linux]),
            Action::Installer,
            Action::Msi,
            Action::Deb,
            Action::Publish,
            Action::Docker,
        ]
        .into_iter()
        .map(|action| Planned {
            action,
            runs: true,
            steps: Vec::new(),
        })
        .collect()
    }

    fn only(parts: &[&str]) -> Vec<Action> {
        let parts: Vec<Part> = parts.iter().map(|p| p.parse().unwrap()).collect();
        select(all(), &parts)
            .into_iter()
            .map(|p| p.action)
            .collect()
    }

    #[test]
    fn each_part_selects_its_share_of_the_one_list() {
        assert_eq!(
            only(&[]),
            all().into_iter().map(|p| p.action).collect::<Vec<_>>()
        );
        assert_eq!(
            only(&["windows"]),
            [
                Action::Stamp,
                Action::Bundles(vec![Platform::Windows]),
                Action::Installer,
                Action::Msi
            ]
        );
        assert_eq!(
            only(&["linux"]),
            [
                Action::Stamp,
                Action::Bundles(vec![Platform::Linux]),
                Action::Deb
            ]
        );
        // The publish job builds nothing, so it stamps nothing either.
        assert_eq!(only(&["publish"]), [Action::Publish]);
        assert_eq!(only(&["docker"]), [Action::Stamp, Action::Docker]);
        assert_eq!(
            only(&["linux", "publish"]),
            [
                Action::Stamp,
                Action::Bundles(vec![Platform::Linux]),
                Action::Deb,
                Action::Publish
            ]
        );
        assert!("macos"
            .parse::<Part>()
            .unwrap_err()
            .contains("expected windows, linux, publish or docker"));
    }
}
