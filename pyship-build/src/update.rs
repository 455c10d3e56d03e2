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
    #[error(transparent)]
    #[diagnostic(transparent)]
    Write(#[from] crate::fs::OutputWriteError),
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
        crate::fs::atomic_write_creating_dir(&path, text.as_bytes())
            .map_err(|source| Error::Write(crate::fs::OutputWriteError { path, source }))
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

/// The wheel of the package alone (no `pyship_update.json`), for a
/// development checkout: installed as a dev dependency, `import
/// pyship_update` works there, `install_type()` is `dev`, `check()` finds
/// nothing to update and `apply()` refuses. Named after cargo-pyship's
/// version; the same bytes on every run. Returns its path in `out_dir`.
pub fn dev_wheel(project_dir: &Path, out_dir: &Path) -> Result<PathBuf, Error> {
    use base64::Engine as _;
    use sha2::Digest as _;
    use std::io::Write as _;

    let version = env!("CARGO_PKG_VERSION");
    let dist_info = format!("{PACKAGE}-{version}.dist-info");
    let templates = Templates::new(Some(project_dir));
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for (template, file) in FILES {
        let (text, _) = templates.source(template)?;
        files.push((format!("{PACKAGE}/{file}"), text.into_bytes()));
    }
    files.push((
        format!("{dist_info}/METADATA"),
        format!(
            "Metadata-Version: 2.1\nName: pyship-update\nVersion: {version}\n\
             Summary: The self-updater cargo-pyship ships in every bundle (here for a development checkout: install type dev)\n\
             Requires-Python: >=3.8\n"
        )
        .into_bytes(),
    ));
    files.push((
        format!("{dist_info}/WHEEL"),
        b"Wheel-Version: 1.0\nGenerator: cargo-pyship\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
            .to_vec(),
    ));
    let mut record = String::new();
    for (name, data) in &files {
        let digest =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(data));
        record.push_str(&format!("{name},sha256={digest},{}\n", data.len()));
    }
    record.push_str(&format!("{dist_info}/RECORD,,\n"));
    files.push((format!("{dist_info}/RECORD"), record.into_bytes()));
    let path = out_dir.join(format!("{PACKAGE}-{version}-py3-none-any.whl"));
    let write_err = |e: std::io::Error| {
        Error::Write(crate::fs::OutputWriteError {
            path: path.clone(),
            source: e.into(),
        })
    };
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    for (name, data) in &files {
        zip.start_file(name.as_str(), options)
            .map_err(|e| write_err(std::io::Error::other(e)))?;
        zip.write_all(data).map_err(write_err)?;
    }
    let bytes = zip
        .finish()
        .map_err(|e| write_err(std::io::Error::other(e)))?
        .into_inner();
    fs_err::create_dir_all(out_dir).map_err(write_err)?;
    crate::fs::atomic_write(&path, &bytes).map_err(|source| {
        Error::Write(crate::fs::OutputWriteError {
            path: path.clone(),
            source,
        })
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Provider;

    /// The dev wheel installs with pip into a fresh venv; there the package
    /// imports, says `dev`, finds nothing to check and refuses to apply.
    #[test]
    fn the_dev_wheel_imports_and_says_dev() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dev_wheel(dir.path(), &dir.path().join("out")).unwrap();
        assert_eq!(
            fs_err::read(&wheel).unwrap(),
            fs_err::read(dev_wheel(dir.path(), &dir.path().join("out")).unwrap()).unwrap(),
            "the same bytes each time"
        );
        let venv = dir.path().join("venv");
        let ok = std::process::Command::new("python3")
            .args(["-m", "venv", "--without-pip"])
            .arg(&venv)
            .status()
            .unwrap();
        assert!(ok.success());
        let python = venv.join("bin/python");
        // pip from the host installs into the venv (no network: a local wheel).
        let out = std::process::Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--no-deps",
                "--no-index",
                "--quiet",
                "--target",
            ])
            .arg(venv.join("site"))
            .arg(&wheel)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let script = "import pyship_update as p, sys\n\
            print(p.install_type(), p.check())\n\
            try:\n    p.apply(None)\nexcept p.UpdateError as e:\n    print('refused:', e.message)\n";
        let out = std::process::Command::new(&python)
            .args(["-c", script])
            .env("PYTHONPATH", venv.join("site"))
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env_remove("container")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.starts_with("dev None\n"), "{text}");
        assert!(
            text.contains("refused: this copy is not an installed bundle (install type dev)"),
            "{text}"
        );
        let out = std::process::Command::new(&python)
            .args(["-m", "pyship_update", "check"])
            .env("PYTHONPATH", venv.join("site"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("install type: dev"), "{text}");
        assert!(text.contains("a development checkout"), "{text}");
    }

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
