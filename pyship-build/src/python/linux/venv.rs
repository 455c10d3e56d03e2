//! The `venv` runtime: a venv of the build host's CPython X.Y, and the
//! removal of the app's own package a dependency pulled into it.

use std::path::{Path, PathBuf};

use super::extract::remove_existing;
use super::{check_layout, site_packages, Error};
use crate::config::LinuxRuntime;
use crate::context::Context;
use crate::plan::Plan;
use crate::process::Command;
use crate::python::Runtime;

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
pub(super) fn venv(
    plan: &Plan,
    dest: &Path,
    ctx: &Context<'_>,
) -> Result<Runtime, crate::python::Error> {
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
pub(super) fn without_build_path(cfg: &Path) -> Result<(), Error> {
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

pub(super) fn run(mut cmd: Command) -> Result<String, Error> {
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
