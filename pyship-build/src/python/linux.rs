//! The Linux runtime: the `python/` folder of a Linux bundle.
//!
//! Two kinds (`linux.runtime`):
//! - `standalone` (default): a relocatable CPython in python-build-standalone's
//!   `install_only` layout (`python/bin/python3`, `python/lib/python3.X/`),
//!   fetched from `linux.runtime-url` (a template with `{version}` and
//!   `{release}`), cached by SHA-256 and verified against `linux.runtime-sha256`
//!   when pinned, then extracted entry by entry with every path checked, so a
//!   tampered tarball cannot write outside `python/` or leave a symlink that
//!   points out of it.
//! - `venv`: a venv of the build host's CPython X.Y. It only
//!   runs where the same Python sits at the same path (the bundle's README says
//!   so): a venv records its base interpreter by absolute path.
//!
//! Either way the bundle's interpreter is `python/bin/python3` and its
//! site-packages `python/lib/python3.X/site-packages`, so the dependency stage
//! installs into the same place for both.

use std::path::{Path, PathBuf};

use super::Runtime;
use crate::config::LinuxRuntime;
use crate::context::Context;
use crate::error::escaped;
use crate::plan::Plan;
use crate::platform::Platform;

mod extract;
mod venv;

pub use extract::extract_install_only;
use venv::venv;
pub use venv::{after_deps, host_python, remove_own_package};

/// python-build-standalone's release downloads.
pub const PBS_DOWNLOADS: &str =
    "https://github.com/astral-sh/python-build-standalone/releases/download";

/// The default `linux.runtime-url`: python-build-standalone's `install_only`
/// build for x86_64 glibc Linux.
pub const DEFAULT_RUNTIME_URL: &str = "https://github.com/astral-sh/python-build-standalone/releases/download/{release}/cpython-{version}+{release}-x86_64-unknown-linux-gnu-install_only.tar.gz";

/// CPython versions with a known python-build-standalone release (the newest
/// release that ships that version). Another version needs `linux.runtime-url`.
pub const PBS_RELEASES: &[(&str, &str)] = &[
    ("3.10.19", "20251010"),
    ("3.11.9", "20240814"),
    ("3.11.10", "20241016"),
    ("3.12.7", "20241016"),
];

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("no python-build-standalone release is known for CPython {version}")]
    #[diagnostic(help("set `runtime-url` in [{table}.linux] to a python-build-standalone install_only tarball, e.g. \"{PBS_DOWNLOADS}/<release>/cpython-{{version}}+<release>-x86_64-unknown-linux-gnu-install_only.tar.gz\", or use a version cargo-pyship knows: {}", known_versions()))]
    UnknownVersion {
        version: String,
        /// The pyship table in use, for the hint.
        table: &'static str,
    },
    #[error("could not read the runtime tarball {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("runtime tarball {path}: {}", escaped(.reason))]
    #[diagnostic(help("the tarball is malformed or was tampered with; nothing from it was kept"))]
    BadEntry {
        path: PathBuf,
        entry: String,
        reason: String,
    },
    #[error("runtime tarball {path}: unsafe entry")]
    #[diagnostic(help("the tarball is malformed or was tampered with; nothing from it was kept"))]
    Unsafe {
        path: PathBuf,
        #[source]
        source: crate::fs::Error,
    },
    #[error("runtime from {} has no {missing}; expected python-build-standalone's install_only layout", escaped(.source_desc))]
    #[diagnostic(help(
        "point `linux.runtime-url` at an `install_only` tarball (one top-level `python/` folder)"
    ))]
    Layout {
        source_desc: String,
        missing: String,
    },
    #[error("runtime from {} is CPython {}, but the project is configured for {expected}", escaped(.source_desc), escaped(.found))]
    #[diagnostic(help("make `python` in [{table}] and the runtime tarball agree on X.Y"))]
    VersionMismatch {
        source_desc: String,
        found: String,
        expected: String,
        /// The pyship table in use, for the hint.
        table: &'static str,
    },
    #[error("could not write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Tool(#[from] crate::tools::Error),
    #[error("`{}` failed ({status}): {stderr}", escaped(.command))]
    #[diagnostic(help("see the command's output above"))]
    Command {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("no CPython {xy} found on this machine for the venv runtime")]
    #[diagnostic(help("install CPython {xy} (e.g. `uv python install {xy}` or the distribution's python{xy}), or use `linux.runtime = \"standalone\"`"))]
    NoHostPython { xy: String },
}

/// The CPython versions with a known python-build-standalone release.
fn known_versions() -> String {
    PBS_RELEASES
        .iter()
        .map(|(v, _)| *v)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The runtime URL for `version`: `template` (or the default) with `{version}`
/// and `{release}` filled in.
pub fn runtime_url(
    template: Option<&str>,
    version: &str,
    table: &'static str,
) -> Result<String, Error> {
    let template = template.unwrap_or(DEFAULT_RUNTIME_URL);
    let mut url = template.replace("{version}", version);
    if url.contains("{release}") {
        let release = PBS_RELEASES
            .iter()
            .find(|(v, _)| *v == version)
            .map(|(_, r)| *r)
            .ok_or_else(|| Error::UnknownVersion {
                version: version.to_owned(),
                table,
            })?;
        url = url.replace("{release}", release);
    }
    Ok(url)
}

/// Prepare the runtime of `plan` in `dest` (the bundle's `python/`), replacing
/// whatever is there. Called by [`super::run`] for [`Platform::Linux`].
pub fn fetch(plan: &Plan, dest: &Path, ctx: &Context<'_>) -> Result<Runtime, super::Error> {
    match plan.config.linux.runtime {
        LinuxRuntime::Standalone => standalone(plan, dest, ctx),
        LinuxRuntime::Venv => venv(plan, dest, ctx),
    }
}

/// Fetch (or reuse) and verify the standalone runtime's tarball into the
/// cache: its URL, the cached file and whether its hash was just recorded.
pub fn download(
    plan: &Plan,
    ctx: &Context<'_>,
) -> Result<(String, crate::net::Downloaded, bool), super::Error> {
    let linux = &plan.config.linux;
    let mirrored = match (
        &linux.runtime_url,
        ctx.env.get(crate::env::PYSHIP_LINUX_PYTHON_MIRROR),
    ) {
        (None, Some(m)) => {
            Some(DEFAULT_RUNTIME_URL.replace(PBS_DOWNLOADS, m.trim_end_matches('/')))
        }
        _ => None,
    };
    let template = linux.runtime_url.as_deref().or(mirrored.as_deref());
    let table = plan.project.config_source.table.key();
    let url = runtime_url(template, &plan.python.full, table)?;
    // Pinned by `linux.runtime-sha256`, else by pyship.lock (recorded on first fetch).
    let (fetched, recorded) = super::fetch_pinned(
        plan,
        &super::Source {
            url: &url,
            settings: super::LINUX_SETTINGS,
            validate: &super::validate_tar_gz,
        },
        linux.runtime_sha256.as_deref(),
        ctx,
    )?;
    Ok((url, fetched, recorded))
}

fn standalone(plan: &Plan, dest: &Path, ctx: &Context<'_>) -> Result<Runtime, super::Error> {
    let table = plan.project.config_source.table.key();
    let what = format!("{} (linux x86_64, standalone)", plan.python.full);
    let (url, fetched, recorded) = super::fetch_archive(&what, ctx, || download(plan, ctx))?;
    let files = unpacked(&fetched, &url, dest, plan, ctx)?;
    check_layout(dest, &plan.python.xy, &url, table)?;
    Ok(Runtime {
        dir: dest.to_owned(),
        exe: dest.join("bin").join("python3"),
        site_packages: site_packages(dest, &plan.python.xy),
        version: plan.python.full.clone(),
        url,
        sha256: fetched.sha256,
        recorded,
        files,
    })
}

/// The cache bucket of unpacked runtimes: `{sha256 of the tarball}/python`.
pub const UNPACKED: &str = "runtimes-unpacked-v0";

/// The runtime tarball `fetched` unpacked into `dest`: extracted once into
/// the cache ([`UNPACKED`], by rename, so an entry is whole), then
/// hard-linked (copied across file systems) into `dest`. Returns the number
/// of files, as [`extract_install_only`] counts them.
fn unpacked(
    fetched: &crate::net::Downloaded,
    url: &str,
    dest: &Path,
    plan: &Plan,
    ctx: &Context<'_>,
) -> Result<u64, Error> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Io { path, source }
    };
    let entry = ctx.cache.bucket(UNPACKED).join(&fetched.sha256);
    let tree = entry.join("python");
    if !tree.is_dir() {
        ctx.reporter
            .status("Extracting", &escaped(file_name(url)).to_string());
        let staging = ctx
            .cache
            .staging(UNPACKED)
            .map_err(io(&ctx.cache.incoming(UNPACKED)))?;
        extract_install_only(
            &fetched.path,
            &staging.path().join("python"),
            &[ctx.cache.root()],
        )?;
        let staged = staging.keep();
        if let Err(e) = fs_err::rename(&staged, &entry) {
            // Another build stored the same runtime meanwhile.
            let _ = crate::fs::remove_dir_if_exists(&staged, &[ctx.cache.root()]);
            if !tree.is_dir() {
                return Err(Error::Io {
                    path: entry.clone(),
                    source: e,
                });
            }
        }
    }
    let roots = plan.write_roots(&ctx.cache);
    crate::fs::remove_dir_if_exists(dest, &roots).map_err(|e| Error::Io {
        path: dest.to_owned(),
        source: std::io::Error::other(e),
    })?;
    crate::fs::link_tree(&tree, dest).map_err(|e| Error::Io {
        path: dest.to_owned(),
        source: std::io::Error::other(e),
    })
}

/// `python/lib/python3.X/site-packages`, as [`Platform::site_packages`] says.
fn site_packages(dest: &Path, xy: &str) -> PathBuf {
    let rel = Platform::Linux.site_packages(xy);
    let rel = rel.strip_prefix("python/").unwrap_or(&rel);
    dest.join(rel)
}

fn file_name(url: &str) -> &str {
    url.rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or("runtime.tar.gz")
}

/// `bin/python3` and `lib/python{xy}/` must exist: the layout every later
/// stage (and `run.sh`) relies on.
fn check_layout(dest: &Path, xy: &str, source: &str, table: &'static str) -> Result<(), Error> {
    if !dest.join("bin").join("python3").exists() {
        return Err(Error::Layout {
            source_desc: source.to_owned(),
            missing: "python/bin/python3".into(),
        });
    }
    if !dest.join("lib").join(format!("python{xy}")).is_dir() {
        let found = fs_err::read_dir(dest.join("lib"))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter_map(|e| {
                        let n = e.file_name().to_string_lossy().into_owned();
                        let v = n.strip_prefix("python")?;
                        (v.contains('.') && v.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
                            .then(|| v.to_owned())
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        return Err(if found.is_empty() {
            Error::Layout {
                source_desc: source.to_owned(),
                missing: format!("python/lib/python{xy}/"),
            }
        } else {
            Error::VersionMismatch {
                source_desc: source.to_owned(),
                found,
                expected: xy.to_owned(),
                table,
            }
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
