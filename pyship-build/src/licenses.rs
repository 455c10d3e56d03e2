//! Stage: `THIRD-PARTY-LICENSES.txt` at the top of the bundle folder (next to
//! `python/` and `app/`), from the licence files in the dist-info folders and
//! those of the Rust crates linked into the project's own extension
//! ([`crate::crates`]).
//!
//! Why: most licences of the shipped distributions (MIT, BSD, Apache) require
//! their text to travel with every copy; people installing on company
//! machines are asked what is inside. The strip stage keeps the licence files
//! (see [`crate::dist_info::is_dist_info_license`]) so this file can be
//! written again from a finished tree (`cargo pyship licenses`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::dist_info::Distribution;
use crate::plan::Plan;
use crate::platform::Platform;

/// The file's name, at the top of the bundle folder.
pub const FILE_NAME: &str = "THIRD-PARTY-LICENSES.txt";

const RULE: &str =
    "================================================================================";
const THIN: &str =
    "--------------------------------------------------------------------------------";

/// What was written.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    pub platform: Platform,
    pub path: PathBuf,
    /// Distributions listed (the app's own included).
    pub distributions: usize,
    /// Licence files whose text was included.
    pub license_files: usize,
    /// Distributions with no licence information at all (warned about).
    pub missing: Vec<String>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("there is no {platform} bundle tree at {dir}")]
    #[diagnostic(help("build it first: `cargo pyship bundle --target {}`", .platform.key()))]
    NoBundle { platform: Platform, dir: PathBuf },
    #[error(transparent)]
    #[diagnostic(transparent)]
    DistInfo(#[from] crate::dist_info::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Crates(#[from] crate::crates::Error),
    #[error("could not read the licence file {path}")]
    Read {
        path: PathBuf,
        #[source]
        #[diagnostic_source]
        source: crate::fs::Error,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Write(#[from] crate::fs::WriteError),
}

/// Licence files of the Python runtime, relative to the bundle folder.
fn runtime_license(plan: &Plan, platform: Platform, tree: &Path) -> Option<PathBuf> {
    let candidates = match platform {
        Platform::Windows => vec!["python/LICENSE.txt".to_owned()],
        Platform::Linux => vec![
            format!("python/lib/python{}/LICENSE.txt", plan.python.xy),
            "python/LICENSE.txt".to_owned(),
        ],
    };
    candidates
        .into_iter()
        .map(PathBuf::from)
        .find(|rel| tree.join(rel).is_file())
}

/// Render the licence file for `dists` (read from `site_packages`).
pub fn render(
    plan: &Plan,
    platform: Platform,
    tree: &Path,
    site_packages: &Path,
    dists: &[Distribution],
    linked: &crate::crates::Linked,
) -> Result<(String, usize), Error> {
    let tag = plan.version.version.tag();
    let own = crate::dist_info::normalize(&plan.dist_name);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Third-party software in {} {tag} ({})\n",
        plan.name,
        platform.artifact_suffix().split('.').next().unwrap_or("")
    );
    let _ = writeln!(
        s,
        "This bundle ships the Python distributions and the runtime listed below.\nEach section gives a distribution's name, version and licence, then the\nfull text of the licence files it ships. The same list, with versions and\nhashes, is in the release's CycloneDX SBOM ({}-{tag}-{}.cdx.json).\n",
        plan.file_name,
        platform.os_arch()
    );
    let _ = writeln!(s, "Contents:");
    let _ = writeln!(
        s,
        "  CPython {} (Python Software Foundation License)",
        plan.python.full
    );
    for d in dists {
        let _ = writeln!(
            s,
            "  {} {}: {}{}",
            d.name,
            d.version,
            d.license_summary()
                .as_deref()
                .unwrap_or("no licence information"),
            if d.normalized_name() == own {
                " (this application)"
            } else {
                ""
            }
        );
    }
    if !linked.crates.is_empty() {
        let _ = writeln!(
            s,
            "\nRust crates linked into the extension (package {}, built for {}; Cargo's\nresolve for that target, without build-only crates and procedural macros):",
            linked.root, linked.triple
        );
        for k in &linked.crates {
            let _ = writeln!(
                s,
                "  {} {}: {}{}",
                k.name,
                k.version,
                k.license.as_deref().unwrap_or("no licence in its manifest"),
                if k.own { " (this project)" } else { "" }
            );
        }
    }
    let mut files = 0;
    let mut section =
        |title: &str, license: &str, paths: Vec<(PathBuf, PathBuf)>| -> Result<(), Error> {
            let _ = writeln!(s, "\n{RULE}\n{title}\nLicense: {license}");
            if paths.is_empty() {
                let _ = writeln!(s, "(no licence file shipped)");
            }
            for (shown, full) in paths {
                let text = crate::fs::read_small(&full).map_err(|source| Error::Read {
                    path: full.clone(),
                    source,
                })?;
                let _ = writeln!(
                    s,
                    "{THIN}\n{}\n{THIN}",
                    shown.display().to_string().replace('\\', "/")
                );
                let text = String::from_utf8_lossy(&text);
                s.push_str(text.trim_end());
                s.push('\n');
                files += 1;
            }
            Ok(())
        };
    let runtime = runtime_license(plan, platform, tree);
    section(
        &format!("CPython {}", plan.python.full),
        "Python Software Foundation License (PSF-2.0)",
        runtime
            .map(|rel| (rel.clone(), tree.join(rel)))
            .into_iter()
            .collect(),
    )?;
    for d in dists {
        let files_of: Vec<(PathBuf, PathBuf)> = d
            .license_files
            .iter()
            .map(|rel| (rel.clone(), site_packages.join(rel)))
            .collect();
        let license = d.license_summary();
        let license = match (&license, &d.license) {
            // A whole licence text in `License:` with no file: keep the text.
            (Some(_), Some(full)) if files_of.is_empty() && full.contains('\n') => full.clone(),
            (Some(l), _) => l.clone(),
            (None, _) => "no licence information in its metadata".into(),
        };
        section(&format!("{} {}", d.name, d.version), &license, files_of)?;
    }
    for k in &linked.crates {
        let paths: Vec<(PathBuf, PathBuf)> = k
            .license_files
            .iter()
            .map(|full| {
                let name = full.file_name().map(PathBuf::from).unwrap_or_default();
                (
                    PathBuf::from(format!("{}-{}", k.name, k.version)).join(name),
                    full.clone(),
                )
            })
            .collect();
        section(
            &format!("{} {} (Rust crate)", k.name, k.version),
            k.license.as_deref().unwrap_or("no licence in its manifest"),
            paths,
        )?;
    }
    Ok((s, files))
}

/// Write `{tree}/THIRD-PARTY-LICENSES.txt` for the distributions in
/// `site_packages` (`dists`: already read, or `None` to read them now).
pub fn write(
    plan: &Plan,
    platform: Platform,
    tree: &Path,
    site_packages: &Path,
    dists: Option<&[Distribution]>,
    linked: &crate::crates::Linked,
) -> Result<Written, Error> {
    let read;
    let dists = match dists {
        Some(d) => d,
        None => {
            read = crate::dist_info::read_all(site_packages)?;
            &read
        }
    };
    let (text, license_files) = render(plan, platform, tree, site_packages, dists, linked)?;
    let path = tree.join(FILE_NAME);
    crate::fs::atomic_write(&path, text.as_bytes()).map_err(|source| {
        Error::Write(crate::fs::WriteError {
            path: path.clone(),
            source,
        })
    })?;
    Ok(Written {
        platform,
        path,
        distributions: dists.len(),
        license_files,
        missing: dists
            .iter()
            .filter(|d| !d.has_license_info())
            .filter(|d| d.normalized_name() != crate::dist_info::normalize(&plan.dist_name))
            .map(|d| format!("{} {}", d.name, d.version))
            .chain(
                linked
                    .crates
                    .iter()
                    .filter(|k| !k.own && k.license.is_none() && k.license_files.is_empty())
                    .map(|k| format!("the Rust crate {} {}", k.name, k.version)),
            )
            .collect(),
    })
}

/// `cargo pyship licenses`: rewrite the file in the finished bundle tree of `platform`.
pub fn run(plan: &Plan, platform: Platform, ctx: &crate::Context<'_>) -> Result<Written, Error> {
    let tree = plan.bundle_dir(platform);
    let site_packages = tree.join(platform.site_packages(&plan.python.xy));
    if !site_packages.is_dir() {
        return Err(Error::NoBundle {
            platform,
            dir: tree,
        });
    }
    let linked = crate::crates::linked(plan, platform, ctx)?;
    write(plan, platform, &tree, &site_packages, None, &linked)
}
