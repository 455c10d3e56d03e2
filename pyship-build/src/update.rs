//! Stage: the self-updater. Puts the stdlib-only `pyship_update` package into
//! the bundle's site-packages, with `pyship_update.json` next to it: where the
//! releases are (provider, server, repository), this bundle's version, the
//! channel, the asset names per install type and how the app is started.
//!
//! Why in every bundle: replacing an app's own files while they are in use
//! (and getting back when the new version does not start) is the part every
//! app gets wrong on its own. The package's source is in `templates/update/`
//! (a project may override a file in its own `templates/update/`); its unit
//! tests run with the host's `python3` (see the tests below).
//! `[…pyship.update] enabled = false` leaves it out.

use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::context::Context;
use crate::plan::Plan;
use crate::platform::Platform;
use crate::templates::Templates;

/// The package's import name.
pub const PACKAGE: &str = crate::plan::UPDATE_PACKAGE;
/// The generated config, next to the package in site-packages.
pub const CONFIG_FILE: &str = "pyship_update.json";
/// Version of [`BundleConfig`]'s layout (the updater reads schema 1).
pub const CONFIG_SCHEMA: u32 = 1;

/// The package's files: (template name, file name inside the package).
pub const FILES: &[(&str, &str)] = &[
    ("update/pyship_update/__init__.py", "__init__.py"),
    ("update/pyship_update/__main__.py", "__main__.py"),
    ("update/pyship_update/_helper.py", "_helper.py"),
    ("update/pyship_update/_minisign.py", "_minisign.py"),
    ("update/pyship_update/update.sh", "update.sh"),
];

/// `pyship_update.json` of one bundle: [`Settings`] plus where the bundle is
/// and how it starts on its platform.
#[derive(Debug, Clone, Serialize)]
pub struct BundleConfig<'a> {
    pub schema: u32,
    pub name: &'a str,
    #[serde(flatten)]
    pub settings: &'a Settings,
    pub platform: Platform,
    /// The bundle folder relative to this file (`../../..`).
    pub root: String,
    /// `run.sh` (Linux), `vbs` or `pythonw` (Windows).
    pub launcher: &'static str,
}

pub use crate::plan::{update_api_url as api_url, UpdateSettings as Settings};

/// What the stage wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Installed {
    /// `{site-packages}/pyship_update`.
    pub package: PathBuf,
    /// `{site-packages}/pyship_update.json`.
    pub config: PathBuf,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Template(#[from] crate::templates::Error),
    #[error("could not write {path}")]
    #[diagnostic(help("check that the output directory is writable and the disk is not full"))]
    Write {
        path: PathBuf,
        #[source]
        source: crate::fs::Error,
    },
    #[error("site-packages {site_packages} is not inside the bundle {bundle}")]
    #[diagnostic(help("this is a bug in cargo-pyship; please report it"))]
    Layout {
        site_packages: PathBuf,
        bundle: PathBuf,
    },
}

/// `../` once per folder between `site_packages` and `bundle`.
fn root_from(site_packages: &Path, bundle: &Path) -> Result<String, Error> {
    let rel = site_packages
        .strip_prefix(bundle)
        .map_err(|_| Error::Layout {
            site_packages: site_packages.to_owned(),
            bundle: bundle.to_owned(),
        })?;
    let n = rel
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count();
    Ok(vec![".."; n].join("/"))
}

/// The generated config of `platform`'s bundle.
pub fn bundle_config(plan: &Plan, settings: &Settings, platform: Platform, root: String) -> String {
    let launcher = match platform {
        Platform::Linux => "run.sh",
        Platform::Windows => plan.config.windows.launcher.key(),
    };
    let config = BundleConfig {
        schema: CONFIG_SCHEMA,
        name: &plan.name,
        settings,
        platform,
        root,
        launcher,
    };
    let mut json = serde_json::to_string_pretty(&config).expect("the config serializes");
    json.push('\n');
    json
}

/// Write the package and its config into `site_packages` of the bundle tree
/// `bundle`. Does nothing (returns `None`) when the updater is off.
pub fn run(
    plan: &Plan,
    platform: Platform,
    bundle: &Path,
    site_packages: &Path,
    ctx: &Context<'_>,
) -> Result<Option<Installed>, Error> {
    let Some(settings) = &plan.update else {
        ctx.reporter.debug("updater: off (update.enabled = false)");
        return Ok(None);
    };
    let templates = Templates::new(Some(&plan.project.config_dir));
    let package = site_packages.join(PACKAGE);
    let write = |path: PathBuf, text: &str| {
        if let Some(dir) = path.parent() {
            fs_err::create_dir_all(dir).map_err(|e| Error::Write {
                path: path.clone(),
                source: e.into(),
            })?;
        }
        crate::fs::atomic_write(&path, text.as_bytes())
            .map_err(|source| Error::Write { path, source })
    };
    for (template, file) in FILES {
        let (text, _) = templates.source(template)?;
        // cmd.exe misparses labels in LF-only batch files.
        let text = if file.ends_with(".bat") {
            text.replace("\r\n", "\n").replace('\n', "\r\n")
        } else {
            text
        };
        write(package.join(file), &text)?;
    }
    let config = site_packages.join(CONFIG_FILE);
    let root = root_from(site_packages, bundle)?;
    write(
        config.clone(),
        &bundle_config(plan, settings, platform, root),
    )?;
    ctx.reporter.debug(&format!(
        "updater: {} and {}",
        package.display(),
        config.display()
    ));
    Ok(Some(Installed { package, config }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Provider;

    #[test]
    fn root_counts_folders() {
        let b = Path::new("/t/App");
        assert_eq!(
            root_from(&b.join("python/Lib/site-packages"), b).unwrap(),
            "../../.."
        );
        assert_eq!(
            root_from(&b.join("python/lib/python3.11/site-packages"), b).unwrap(),
            "../../../.."
        );
        assert!(root_from(Path::new("/elsewhere"), b).is_err());
    }

    #[test]
    fn api_urls() {
        assert_eq!(
            api_url(Provider::Gitea, "https://git.example/"),
            "https://git.example/api/v1"
        );
        assert_eq!(
            api_url(Provider::Forgejo, "https://f.example"),
            "https://f.example/api/v1"
        );
        assert_eq!(
            api_url(Provider::Github, "https://github.com"),
            "https://api.github.com"
        );
        assert_eq!(
            api_url(Provider::Github, "https://ghe.example"),
            "https://ghe.example/api/v3"
        );
    }

    /// The package's own unit tests (`templates/update/tests`), with the
    /// host's `python3`: the updater is stdlib-only, so any CPython 3.8+ runs it.
    #[test]
    fn pyship_update_python_unit_tests() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/update");
        let python = which::which("python3").unwrap_or_else(|_| {
            panic!("this test needs `python3` on PATH (Debian package `python3`)")
        });
        let out = std::process::Command::new(python)
            .args(["-B", "-m", "unittest", "discover", "-s", "tests", "-v"])
            .current_dir(&dir)
            .output()
            .expect("python3 runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "the Python unit tests failed:\n{text}"
        );
        assert!(text.contains("\nOK"), "{text}");
    }
}
