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

use crate::process::Command;
use std::collections::HashSet;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use super::Runtime;
use crate::config::LinuxRuntime;
use crate::context::Context;
use crate::plan::Plan;
use crate::platform::Platform;

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
    #[error("runtime tarball {path}: {reason}")]
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
    #[error("runtime from {source_desc} has no {missing}; expected python-build-standalone's install_only layout")]
    #[diagnostic(help(
        "point `linux.runtime-url` at an `install_only` tarball (one top-level `python/` folder)"
    ))]
    Layout {
        source_desc: String,
        missing: String,
    },
    #[error("runtime from {source_desc} is CPython {found}, but the project is configured for {expected}")]
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
    #[error("`{command}` failed ({status}): {stderr}")]
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
        ctx.reporter.status("Extracting", file_name(url));
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

/// Extract an `install_only` tarball's `python/` folder into `dest`.
///
/// Extraction goes to a temp dir next to `dest`, renamed into place at the
/// end, so a failure leaves no half runtime. Every entry must lie under
/// `python/`; paths go through [`crate::fs::safe_join`]; no entry may be
/// written through a symlink; symlinks must be relative and resolve inside
/// the runtime (leading `..` only); hard links are copied. Unix modes are kept
/// without setuid/setgid/sticky bits.
pub fn extract_install_only(tarball: &Path, dest: &Path, roots: &[&Path]) -> Result<u64, Error> {
    let read_err = |source| Error::Read {
        path: tarball.to_owned(),
        source,
    };
    let parent = dest.parent().unwrap_or(Path::new("."));
    fs_err::create_dir_all(parent).map_err(|source| Error::Io {
        path: parent.to_owned(),
        source,
    })?;
    let staging = tempfile::Builder::new()
        .prefix(".python-extract-")
        .tempdir_in(parent)
        .map_err(|source| Error::Io {
            path: parent.to_owned(),
            source,
        })?;
    let root = staging.path().join("python");
    fs_err::create_dir_all(&root).map_err(|source| Error::Io {
        path: root.clone(),
        source,
    })?;
    let file = fs_err::File::open(tarball).map_err(read_err)?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut links: HashSet<PathBuf> = HashSet::new();
    let mut files = 0u64;
    let bad = |entry: &str, reason: &str| Error::BadEntry {
        path: tarball.to_owned(),
        entry: entry.to_owned(),
        reason: reason.to_owned(),
    };
    for entry in archive.entries().map_err(read_err)? {
        let mut entry = entry.map_err(read_err)?;
        let raw = entry
            .path()
            .map_err(read_err)?
            .to_string_lossy()
            .into_owned();
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        let trimmed = raw.trim_start_matches("./");
        let rel = if trimmed == "python" || trimmed == "python/" {
            ""
        } else if let Some(r) = trimmed.strip_prefix("python/") {
            r
        } else {
            return Err(bad(
                &raw,
                &format!("entry `{raw}` is outside the top-level `python/` folder"),
            ));
        };
        let target = crate::fs::safe_join(&root, rel).map_err(|source| Error::Unsafe {
            path: tarball.to_owned(),
            source,
        })?;
        let rel_path = target
            .strip_prefix(&root)
            .expect("safe_join stays below root")
            .to_owned();
        if through_link(&rel_path, &links) {
            return Err(bad(
                &raw,
                &format!("entry `{raw}` would be written through a symlink"),
            ));
        }
        let io = |source| Error::Io {
            path: target.clone(),
            source,
        };
        let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
        if kind.is_dir() {
            fs_err::create_dir_all(&target).map_err(io)?;
            set_mode(&target, mode | 0o700).map_err(io)?;
            continue;
        }
        if let Some(p) = target.parent() {
            fs_err::create_dir_all(p).map_err(io)?;
        }
        remove_existing(&target).map_err(io)?;
        if kind.is_symlink() {
            let link = entry
                .link_name()
                .map_err(read_err)?
                .ok_or_else(|| bad(&raw, &format!("symlink `{raw}` has no target")))?
                .into_owned();
            if !link_stays_inside(&rel_path, &link) {
                return Err(bad(
                    &raw,
                    &format!(
                        "symlink `{raw}` -> `{}` points outside the runtime",
                        link.display()
                    ),
                ));
            }
            symlink(&link, &target).map_err(io)?;
            links.insert(rel_path);
        } else if kind.is_hard_link() {
            let link = entry
                .link_name()
                .map_err(read_err)?
                .ok_or_else(|| bad(&raw, &format!("hard link `{raw}` has no target")))?
                .to_string_lossy()
                .into_owned();
            let link_rel = link
                .trim_start_matches("./")
                .strip_prefix("python/")
                .ok_or_else(|| {
                    bad(
                        &raw,
                        &format!("hard link `{raw}` -> `{link}` points outside the runtime"),
                    )
                })?;
            let src = crate::fs::safe_join(&root, link_rel).map_err(|source| Error::Unsafe {
                path: tarball.to_owned(),
                source,
            })?;
            let src_rel = src.strip_prefix(&root).expect("below root");
            if through_link(src_rel, &links) || links.contains(src_rel) {
                return Err(bad(
                    &raw,
                    &format!("hard link `{raw}` -> `{link}` goes through a symlink"),
                ));
            }
            fs_err::copy(&src, &target).map_err(io)?;
            files += 1;
        } else if kind.is_file() || kind == tar::EntryType::Continuous {
            let mut out = fs_err::File::create(&target).map_err(io)?;
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = entry.read(&mut buf).map_err(read_err)?;
                if n == 0 {
                    break;
                }
                std::io::Write::write_all(&mut out, &buf[..n]).map_err(io)?;
            }
            drop(out);
            set_mode(&target, mode).map_err(io)?;
            files += 1;
        } else {
            return Err(bad(
                &raw,
                &format!("entry `{raw}` is not a file, directory or link"),
            ));
        }
    }
    crate::fs::remove_dir_if_exists(dest, roots).map_err(|e| Error::Io {
        path: dest.to_owned(),
        source: std::io::Error::other(e),
    })?;
    fs_err::rename(&root, dest).map_err(|source| Error::Io {
        path: dest.to_owned(),
        source,
    })?;
    Ok(files)
}

/// Whether a proper ancestor of `rel` is a symlink made by this extraction.
fn through_link(rel: &Path, links: &HashSet<PathBuf>) -> bool {
    rel.ancestors()
        .skip(1)
        .any(|a| !a.as_os_str().is_empty() && links.contains(a))
}

/// A symlink at `rel` (relative to the runtime root) pointing at `target`:
/// relative, `..` only at the start, and resolving inside the root. Since the
/// link's own parent holds no symlink, this lexical check is exact.
fn link_stays_inside(rel: &Path, target: &Path) -> bool {
    let mut depth = rel.components().count().saturating_sub(1) as i64;
    let mut descended = false;
    for c in target.components() {
        match c {
            Component::ParentDir if !descended => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            Component::CurDir => {}
            Component::Normal(_) => {
                descended = true;
                depth += 1;
            }
            _ => return false,
        }
    }
    true
}

fn remove_existing(path: &Path) -> std::io::Result<()> {
    match fs_err::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs_err::remove_dir_all(path),
        Ok(_) => fs_err::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// A Windows host has no Unix modes; the archive gives each entry its mode
/// from what it is, so nothing is lost.
#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn symlink(link: &Path, at: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(link, at)
}

/// Never reached on a Windows host (a Linux bundle is refused before it
/// starts, see [`crate::platform::Platform::host_support`]); kept an error, not
/// a copy, so a runtime is never silently changed.
#[cfg(not(unix))]
fn symlink(link: &Path, at: &Path) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        format!(
            "cannot create the symlink {} -> {} on this host",
            at.display(),
            link.display()
        ),
    ))
}

/// The build host's CPython X.Y a `venv` runtime is made from (found with
/// `uv python find --system`), and its full version.
pub fn host_python(plan: &Plan, ctx: &Context<'_>) -> Result<(String, String), Error> {
    let xy = &plan.python.xy;
    let uv = crate::tools::UV.find(ctx.env).map_err(Error::Tool)?;
    let mut find = Command::new(&uv);
    find.args([
        "python",
        "find",
        "--system",
        "--no-python-downloads",
        xy.as_str(),
    ]);
    let out = run(find).map_err(|_| Error::NoHostPython { xy: xy.clone() })?;
    let host = out.trim().to_owned();
    if host.is_empty() {
        return Err(Error::NoHostPython { xy: xy.clone() });
    }
    let mut ask = Command::new(&host);
    ask.args([
        "-I",
        "-c",
        "import platform; print(platform.python_version())",
    ]);
    let version = run(ask)?.trim().to_owned();
    Ok((host, version))
}

/// The warning for a `venv` runtime whose host CPython is not the
/// configured `python` (the bundle runs the host's): `None` when they agree.
pub fn venv_mismatch(plan: &Plan, host: &str, version: &str) -> Option<String> {
    (version != plan.python.full).then(|| {
        format!(
            "`linux.runtime = \"venv\"` makes the Linux bundle run the build host's CPython {version} ({host}), not `python = \"{}\"` of [{}]: set `python = \"{version}\"` there, or use `linux.runtime = \"standalone\"` to ship CPython {}",
            plan.python.full,
            plan.project.config_source.table.key(),
            plan.python.full,
        )
    })
}

/// A venv runtime: `python3.X -m venv --copies python/` from the build
/// host's CPython X.Y (found with `uv python find --system`).
fn venv(plan: &Plan, dest: &Path, ctx: &Context<'_>) -> Result<Runtime, super::Error> {
    let xy = &plan.python.xy;
    let (host, host_version) = host_python(plan, ctx)?;
    ctx.reporter.status(
        "Creating",
        &format!(
            "venv runtime from {host} (CPython {host_version}; runs only where that Python is installed at the same path)"
        ),
    );
    if let Some(w) = venv_mismatch(plan, &host, &host_version) {
        ctx.reporter.warn(&w);
    }
    crate::fs::remove_dir_if_exists(dest, &plan.write_roots(&ctx.cache)).map_err(|e| {
        Error::Io {
            path: dest.to_owned(),
            source: std::io::Error::other(e),
        }
    })?;
    // --copies: the bundle holds files, not symlinks into the build host; the
    // interpreter still finds its stdlib through pyvenv.cfg's `home`.
    let mut venv = Command::new(&host);
    venv.args(["-m", "venv", "--copies", "--without-pip"])
        .arg(dest);
    run(venv)?;
    without_build_path(&dest.join("pyvenv.cfg"))?;
    // `bin/activate*` and friends hard-code the build path; run.sh is the way in.
    for entry in fs_err::read_dir(dest.join("bin")).map_err(|source| Error::Io {
        path: dest.join("bin"),
        source,
    })? {
        let entry = entry.map_err(|source| Error::Io {
            path: dest.join("bin"),
            source,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("activate") || name == "Activate.ps1" {
            fs_err::remove_file(entry.path()).map_err(|source| Error::Io {
                path: entry.path(),
                source,
            })?;
        }
    }
    check_layout(dest, xy, &host, plan.project.config_source.table.key())?;
    let files = walkdir::WalkDir::new(dest)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .count() as u64;
    fs_err::create_dir_all(site_packages(dest, xy)).map_err(|source| Error::Io {
        path: site_packages(dest, xy),
        source,
    })?;
    Ok(Runtime {
        dir: dest.to_owned(),
        exe: dest.join("bin").join("python3"),
        site_packages: site_packages(dest, xy),
        // What the bundle runs: the host's CPython, whatever `python` says.
        version: host_version,
        // A venv has no download: its source is the host interpreter, and no hash.
        url: host,
        sha256: String::new(),
        recorded: false,
        files,
    })
}

/// `pyvenv.cfg` without its `command` line, which records how the venv was
/// made, with the absolute build path: two checkouts would ship different
/// bytes, and the path would leak. Python reads only `home`, `executable`,
/// `include-system-site-packages` and `version` from the file.
fn without_build_path(cfg: &Path) -> Result<(), Error> {
    let io = |source| Error::Io {
        path: cfg.to_owned(),
        source,
    };
    let text = fs_err::read_to_string(cfg).map_err(io)?;
    let kept: String = text
        .lines()
        .filter(|l| l.split('=').next().map(str::trim) != Some("command"))
        .map(|l| format!("{l}\n"))
        .collect();
    crate::fs::atomic_write(cfg, kept.as_bytes()).map_err(|e| io(std::io::Error::other(e)))
}

/// The last step of a venv runtime, run by the bundle pipeline after the
/// dependencies are in: for a `venv` runtime, remove the app's own package if
/// a dependency pulled it into site-packages, so `app/src` on PYTHONPATH is the
/// one copy of the app. Skipped when the project ships its own wheels
/// (`wheels = [...]`, e.g. a maturin extension): those are the app's package.
pub fn after_deps(plan: &Plan, site_packages: &Path, ctx: &Context<'_>) -> Result<(), Error> {
    if plan.config.linux.runtime != LinuxRuntime::Venv
        || !plan
            .config
            .for_target(crate::platform::Platform::Linux)
            .wheels
            .is_empty()
        || plan.pyproject().is_maturin()
    {
        return Ok(());
    }
    for p in remove_own_package(site_packages, &plan.dist_name)? {
        ctx.reporter.status(
            "Removed",
            &format!("the app's installed copy {}", p.display()),
        );
    }
    Ok(())
}

/// Remove `dist_name`'s package, dist-info and editable hooks from
/// `site_packages`. Returns the paths removed.
pub fn remove_own_package(site_packages: &Path, dist_name: &str) -> Result<Vec<PathBuf>, Error> {
    let norm = crate::project::normalize_dist_name;
    let want = norm(dist_name);
    let mut removed = Vec::new();
    let Ok(rd) = fs_err::read_dir(site_packages) else {
        return Ok(removed);
    };
    for entry in rd {
        let entry = entry.map_err(|source| Error::Io {
            path: site_packages.to_owned(),
            source,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let stem = name
            .strip_suffix(".dist-info")
            .and_then(|s| s.rsplit_once('-').map(|(d, _)| d))
            .or_else(|| {
                name.strip_prefix("__editable__.")
                    .map(|s| s.split('-').next().unwrap_or(s))
            })
            .or_else(|| name.strip_suffix(".pth"))
            .unwrap_or(&name);
        if norm(stem) != want {
            continue;
        }
        remove_existing(&entry.path()).map_err(|source| Error::Io {
            path: entry.path(),
            source,
        })?;
        removed.push(entry.path());
    }
    removed.sort();
    Ok(removed)
}

fn run(mut cmd: Command) -> Result<String, Error> {
    let shown = cmd.shown();
    cmd.timeout(crate::process::STEP);
    let out = cmd.output().map_err(|e| Error::Command {
        command: shown,
        status: "not finished".into(),
        stderr: e.to_string(),
    })?;
    if !out.success() {
        return Err(Error::Command {
            stderr: out.tail(),
            command: out.command,
            status: out.status.to_string(),
        });
    }
    Ok(out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Hint;
    use std::io::Write;

    /// A venv runtime of another CPython than `python`: a warning naming
    /// both and the two ways out; none when they agree.
    #[test]
    fn a_venv_of_another_cpython_is_named_with_both_versions() {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/hello/Cargo.toml");
        let project = crate::project::load(Some(&manifest), None).unwrap();
        let plan = crate::plan::Plan::build(
            project,
            &crate::env::Env::default(),
            &crate::plan::Options::default(),
        )
        .unwrap();
        assert_eq!(plan.python.full, "3.11.9");
        let w = venv_mismatch(&plan, "/usr/bin/python3.11", "3.11.7").unwrap();
        assert!(w.contains("CPython 3.11.7 (/usr/bin/python3.11)"), "{w}");
        assert!(
            w.contains("`python = \"3.11.9\"` of [package.metadata.pyship]"),
            "{w}"
        );
        assert!(w.contains("linux.runtime = \"standalone\""), "{w}");
        assert_eq!(venv_mismatch(&plan, "/usr/bin/python3.11", "3.11.9"), None);
    }

    #[test]
    fn default_url_for_known_version() {
        assert_eq!(
            runtime_url(None, "3.11.9", "package.metadata.pyship").unwrap(),
            "https://github.com/astral-sh/python-build-standalone/releases/download/20240814/cpython-3.11.9+20240814-x86_64-unknown-linux-gnu-install_only.tar.gz"
        );
    }

    #[test]
    fn unknown_version_asks_for_runtime_url() {
        let err = runtime_url(None, "3.9.1", "workspace.metadata.pyship").unwrap_err();
        assert!(err.to_string().contains("3.9.1"), "{err}");
        assert!(err
            .hint()
            .unwrap()
            .contains("`runtime-url` in [workspace.metadata.pyship.linux]"));
        // A template without {release} needs no table entry.
        assert_eq!(
            runtime_url(
                Some("http://m/{version}/py-{version}.tar.gz"),
                "3.9.1",
                "package.metadata.pyship"
            )
            .unwrap(),
            "http://m/3.9.1/py-3.9.1.tar.gz"
        );
    }

    /// A tarball with the given (path, kind, link target or contents).
    fn tarball(dir: &Path, entries: &[(&str, char, &str)]) -> PathBuf {
        let path = dir.join("rt.tar.gz");
        let f = fs_err::File::create(&path).unwrap();
        let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
            f,
            flate2::Compression::fast(),
        ));
        for (name, kind, data) in entries {
            // Raw names: the tar crate's setters refuse `..`, which these
            // tests need to write.
            let mut h = tar::Header::new_old();
            h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            let (ty, mode, body): (_, u32, &[u8]) = match kind {
                'd' => (tar::EntryType::Directory, 0o755, b""),
                'f' => (tar::EntryType::Regular, 0o644, data.as_bytes()),
                'x' => (tar::EntryType::Regular, 0o4755, data.as_bytes()),
                'l' | 'h' => {
                    h.as_old_mut().linkname[..data.len()].copy_from_slice(data.as_bytes());
                    let ty = if *kind == 'l' {
                        tar::EntryType::Symlink
                    } else {
                        tar::EntryType::Link
                    };
                    (ty, 0o777, b"")
                }
                _ => unreachable!(),
            };
            h.set_entry_type(ty);
            h.set_mode(mode);
            h.set_size(body.len() as u64);
            h.set_cksum();
            b.append(&h, body).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap().flush().unwrap();
        path
    }

    #[cfg(unix)]
    #[test]
    fn extracts_install_only_layout_with_modes_and_links() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let t = tarball(
            d.path(),
            &[
                ("python/", 'd', ""),
                ("python/bin/python3.11", 'x', "ELF"),
                ("python/bin/python3", 'l', "python3.11"),
                ("python/bin/python", 'h', "python/bin/python3.11"),
                ("python/lib/python3.11/os.py", 'f', "#"),
                ("python/lib/python3.11/site-packages/", 'd', ""),
            ],
        );
        let dest = d.path().join("bundle/python");
        fs_err::create_dir_all(dest.join("stale")).unwrap();
        let n = extract_install_only(&t, &dest, &[d.path()]).unwrap();
        assert_eq!(n, 3);
        assert!(!dest.join("stale").exists(), "old runtime files survive");
        let exe = dest.join("bin/python3.11");
        // setuid dropped, executable kept.
        assert_eq!(
            fs_err::metadata(&exe).unwrap().permissions().mode() & 0o7777,
            0o755
        );
        assert_eq!(
            fs_err::read_link(dest.join("bin/python3")).unwrap(),
            Path::new("python3.11")
        );
        assert_eq!(
            fs_err::read_to_string(dest.join("bin/python")).unwrap(),
            "ELF"
        );
        check_layout(&dest, "3.11", "t", "package.metadata.pyship").unwrap();
        let err = check_layout(&dest, "3.12", "t", "package.metadata.pyship").unwrap_err();
        assert!(matches!(err, Error::VersionMismatch { .. }), "{err}");
    }

    #[test]
    fn extraction_refuses_escapes() {
        let cases: &[&[(&str, char, &str)]] = &[
            &[("python/../evil", 'f', "x")],
            &[("other/file", 'f', "x")],
            &[("python/bin/up", 'l', "../../outside")],
            &[("python/bin/abs", 'l', "/etc/passwd")],
            &[("python/bin/mid", 'l', "a/../../../x")],
            // Writing through a symlink that itself looks harmless.
            &[("python/s", 'l', "."), ("python/s/../evil", 'f', "x")],
            &[("python/d", 'l', "lib"), ("python/d/x", 'f', "x")],
            &[("python/h", 'h', "etc/passwd")],
        ];
        for (i, entries) in cases.iter().enumerate() {
            let d = tempfile::tempdir().unwrap();
            let t = tarball(d.path(), entries);
            let dest = d.path().join("out/python");
            let r = extract_install_only(&t, &dest, &[d.path()]);
            assert!(r.is_err(), "case {i} {entries:?} accepted");
            assert!(!dest.exists(), "case {i}: a partial runtime was left");
            assert!(!d.path().join("evil").exists() && !d.path().join("out/evil").exists());
        }
    }

    #[test]
    fn removes_own_package_only() {
        let d = tempfile::tempdir().unwrap();
        let sp = d.path();
        for p in [
            "hello_app",
            "hello_app-0.1.0.dist-info",
            "fastapi",
            "fastapi-0.1.dist-info",
        ] {
            fs_err::create_dir_all(sp.join(p)).unwrap();
        }
        fs_err::write(sp.join("__editable__.hello_app-0.1.0.pth"), "").unwrap();
        let removed = remove_own_package(sp, "hello-app").unwrap();
        assert_eq!(removed.len(), 3, "{removed:?}");
        assert!(sp.join("fastapi").is_dir() && sp.join("fastapi-0.1.dist-info").is_dir());
    }
}
