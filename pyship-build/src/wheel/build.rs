//! The builds of one target's wheels, each cached under its inputs: the
//! maturin build of the app's own wheel and of maturin local packages, and
//! `uv build --wheel` of pure-Python local packages. A cache hit is linked
//! into the target's folder; a fresh build is staged, then moved into the
//! cache whole.

use std::path::{Path, PathBuf};

use super::key::{input_key, Opens};
use super::toolchain::{self, abi3, import_libs, probed, MaturinCommand, PYO3_CROSS_LIB_DIR};
use super::{
    normalize_wheel, wheels_in, Error, LocalBuild, MaturinBuild, TargetBuild, BUCKET, CARGO_TARGETS,
};
use crate::context::Context;
use crate::error::escaped;
use crate::plan::Plan;
use crate::platform::Platform;
use crate::process::{self, Command};
use crate::tools;

/// Put the wheel `from` (a cache entry, or a staged one about to become
/// one) at `dest`: a hard link, so the file keeps the entry's modification
/// time and its hash is remembered ([`crate::cache::Cache::sha256_file`]);
/// a copy across file systems. Wheels are never written in place.
fn place_wheel(from: &Path, dest: &Path) -> Result<(), Error> {
    let io = |source| Error::Io {
        path: dest.to_owned(),
        source,
    };
    if fs_err::symlink_metadata(dest).is_ok() {
        fs_err::remove_file(dest).map_err(io)?;
    }
    if fs_err::hard_link(from, dest).is_err() {
        fs_err::copy(from, dest).map_err(io)?;
    }
    Ok(())
}

/// The Cargo workspace root of `manifest` (`cargo metadata`), else its folder.
fn cargo_workspace_root(manifest: &Path) -> PathBuf {
    let mut metadata = cargo_metadata::MetadataCommand::new();
    metadata.manifest_path(manifest).no_deps();
    let mut cmd = Command::from_std(metadata.cargo_command());
    cmd.timeout(process::STEP);
    cmd.run()
        .ok()
        .and_then(|o| cargo_metadata::MetadataCommand::parse(&o.stdout).ok())
        .map(|m| m.workspace_root.into_std_path_buf())
        .unwrap_or_else(|| manifest.parent().unwrap_or(Path::new(".")).to_owned())
}

/// Build (or take from the cache) the maturin wheel of `m` into `b.out_dir`:
/// the app's own (`own`, at the release version) or a local package's.
/// Returns whether it came from the cache.
pub(super) fn maturin(
    plan: &Plan,
    b: &TargetBuild,
    m: &MaturinBuild,
    own: bool,
    ctx: &Context<'_>,
) -> Result<bool, Error> {
    let maturin = MaturinCommand::find(ctx, m.zig, &m.project_dir)?;
    let rustc = toolchain::rustc_version(&m.project_dir);
    // The user's Windows import libraries are an input; the ones made here
    // (below) follow from the sources, which the key covers.
    let user_libs = ctx.env.get(PYO3_CROSS_LIB_DIR);
    let libs_key = format!("{PYO3_CROSS_LIB_DIR}={}", user_libs.unwrap_or(""));
    // The output folder is not an input: leave `--out` out of the key.
    let args_key: Vec<&String> = m
        .args
        .iter()
        .take_while(|a| a.as_str() != "--out")
        .collect();
    let roots = if own {
        vec![m.project_dir.clone(), plan.project.workspace_root.clone()]
    } else {
        vec![m.project_dir.clone(), cargo_workspace_root(&m.manifest)]
    };
    let outside = (!own)
        .then(|| outside_target_dir(plan, m, &roots[1], ctx))
        .transpose()?
        .flatten();
    let key = input_key(
        plan,
        &m.name,
        &roots,
        &Opens::Maturin {
            packs: m.packs.clone(),
        },
        &[
            format!("{args_key:?}"),
            maturin.version(ctx, &m.project_dir),
            rustc,
            // A local package keeps its own version (in its sources).
            if own {
                plan.version.version.pep440()
            } else {
                String::new()
            },
            std::env::var("RUSTFLAGS").unwrap_or_default(),
            libs_key,
            // maturin stamps the wheel's entries and its SBOM with it.
            plan.epoch.value(),
        ],
    )?;
    let entry = ctx.cache.bucket(BUCKET).join(&key);
    let what = format!("{} wheel for {}", m.name, b.triple);
    if entry.is_dir() {
        let cached = wheels_in(&entry)?;
        if !cached.is_empty() {
            ctx.reporter.status("Fresh", &what);
            copy_wheels(&cached, &b.out_dir)?;
            return Ok(true);
        }
    }
    ctx.reporter.status(
        "Building",
        &format!(
            "{what} (maturin{}{})",
            if m.zig { " --zig" } else { "" },
            if maturin.through_uv() {
                ", through `uv tool run`"
            } else {
                ""
            }
        ),
    );
    let staging = ctx.cache.staging(BUCKET).map_err(|source| Error::Io {
        path: ctx.cache.incoming(BUCKET),
        source,
    })?;
    let mut args = m.args.clone();
    if let Some(i) = args.iter().position(|a| a == "--out") {
        args[i + 1] = staging.path().display().to_string();
    }
    let mut cmd = maturin.command(&args);
    cmd.current_dir(&m.project_dir)
        .timeout(process::BUILD)
        // maturin stamps the wheel's entries and its SBOM with it, and the
        // linker the PE header of a Windows extension.
        .env(crate::env::SOURCE_DATE_EPOCH, plan.epoch.value());
    if ctx.offline {
        cmd.arg("--offline");
    }
    if let Some(target_dir) = &outside {
        // Cargo keeps the lock as it is (an outdated one is an error) and
        // builds into the cache, not into the package's folder.
        cmd.arg("--locked").env("CARGO_TARGET_DIR", target_dir);
    }
    if b.platform == Platform::Windows && user_libs.is_none() && abi3(&m.manifest, &b.triple) {
        if let Some(dir) = import_libs(&b.triple, &plan.python.xy, ctx) {
            cmd.env(PYO3_CROSS_LIB_DIR, dir);
        }
    }
    ctx.reporter.debug(&format!("running {}", cmd.shown()));
    let out = cmd.output()?;
    let stderr = &out.stderr;
    if !out.success() {
        let tail: Vec<&str> = stderr.lines().rev().take(60).collect();
        return Err(Error::Build {
            triple: b.triple.clone(),
            status: out.status.to_string(),
            command: out.command.clone(),
            output: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    ctx.reporter.debug(stderr.trim_end());
    let built = wheels_in(staging.path())?;
    if built.is_empty() {
        return Err(Error::NoWheel {
            dir: staging.path().to_owned(),
        });
    }
    for w in &built {
        if normalize_wheel(w, &roots)? {
            ctx.reporter.debug(&format!(
                "{}: build paths in its SBOM made relative",
                w.display()
            ));
        }
    }
    keep_built(&built, &b.out_dir, staging, &entry, plan, ctx)?;
    Ok(false)
}

/// For a local package whose Cargo workspace `workspace` is outside the
/// project: the Cargo target folder to build it in, in the cache (`None`
/// inside the project, or when `CARGO_TARGET_DIR` already names one). Cargo
/// would write its target folder, and a missing Cargo.lock, into that
/// workspace: a missing lock is refused instead.
fn outside_target_dir(
    plan: &Plan,
    m: &MaturinBuild,
    workspace: &Path,
    ctx: &Context<'_>,
) -> Result<Option<PathBuf>, Error> {
    let canon = |p: &Path| fs_err::canonicalize(p).unwrap_or_else(|_| p.to_owned());
    let (workspace, project) = (canon(workspace), crate::layout::project_root(&plan.project));
    if workspace.starts_with(&project) {
        return Ok(None);
    }
    if !workspace.join("Cargo.lock").is_file() {
        return Err(Error::OutsideLock {
            name: m.name.clone(),
            workspace,
            project,
        });
    }
    if ctx.env.get("CARGO_TARGET_DIR").is_some() {
        return Ok(None);
    }
    let id = crate::fs::sha256_hex(workspace.as_os_str().as_encoded_bytes());
    Ok(Some(ctx.cache.marked(CARGO_TARGETS).join(&id[..16])))
}

/// Every path under `dir` (files, folders and links; links not followed):
/// what a build that runs in the folder must leave as it found.
fn paths_under(dir: &Path) -> std::collections::BTreeSet<PathBuf> {
    let mut found = std::collections::BTreeSet::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in fs_err::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            }
            found.insert(e.path());
        }
    }
    found
}

/// The build folders PEP 517 backends keep in a project's folder:
/// setuptools' `build/`, pdm-backend's `.pdm-build/`.
const BACKEND_DIRS: &[&str] = &["build", ".pdm-build"];

/// Remove what a PEP 517 backend wrote into the package's folder `dir`
/// during its build (`before`: [`paths_under`] it before): what is new in
/// its build folders ([`BACKEND_DIRS`]) and new `*.egg-info` folders. Only
/// those: a file someone saves in the folder meanwhile is theirs, and a
/// folder that was there keeps what it had.
fn remove_leftovers(dir: &Path, before: &std::collections::BTreeSet<PathBuf>) -> Result<(), Error> {
    let after = paths_under(dir);
    let backend = |p: &Path| {
        BACKEND_DIRS.iter().any(|b| p.starts_with(dir.join(b)))
            || p.extension().is_some_and(|x| x == "egg-info")
    };
    let new: Vec<&PathBuf> = after.difference(before).collect();
    for path in new.iter().filter(|p| {
        backend(p)
            && p.parent()
                .is_none_or(|up| !after.contains(up) || before.contains(up))
    }) {
        let removed = if fs_err::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
            fs_err::remove_dir_all(path)
        } else {
            fs_err::remove_file(path)
        };
        removed.map_err(|source| Error::Leftover {
            path: path.to_path_buf(),
            source,
        })?;
    }
    Ok(())
}

/// Copy `wheels` into `out_dir`.
fn copy_wheels(wheels: &[PathBuf], out_dir: &Path) -> Result<(), Error> {
    for w in wheels {
        let dest = out_dir.join(w.file_name().expect("a wheel file"));
        place_wheel(w, &dest)?;
    }
    Ok(())
}

/// Copy the `built` wheels into `out_dir`, then move their `staging` folder
/// into the cache as `entry`, by rename: a crash never leaves a half-filled
/// entry.
fn keep_built(
    built: &[PathBuf],
    out_dir: &Path,
    staging: crate::lock::OwnedDir,
    entry: &Path,
    plan: &Plan,
    ctx: &Context<'_>,
) -> Result<(), Error> {
    copy_wheels(built, out_dir)?;
    let staged = staging.keep();
    if entry.is_dir() {
        let _ = crate::fs::remove_dir_if_exists(entry, &plan.write_roots(&ctx.cache));
    }
    fs_err::rename(&staged, entry).map_err(|source| Error::Io {
        path: entry.to_owned(),
        source,
    })
}

/// `uv build --wheel` of the pure-Python local package `l` (any PEP 517
/// backend) into `b.out_dir`, cached by its sources like a maturin wheel.
/// Returns whether it came from the cache.
pub(super) fn python_wheel(
    plan: &Plan,
    b: &TargetBuild,
    l: &LocalBuild,
    ctx: &Context<'_>,
) -> Result<bool, Error> {
    let uv_version = tools::UV
        .find(ctx.env)
        .ok()
        .and_then(|uv| {
            let dir = std::env::temp_dir();
            probed(ctx, &["uv --version".into()], &uv, &dir, || {
                let mut c = Command::new(&uv);
                c.arg("--version").timeout(process::QUICK);
                c.run()
                    .map(|o| o.stdout.trim().to_owned())
                    .map_err(|e| e.to_string())
            })
            .ok()
        })
        .unwrap_or_default();
    let key = input_key(
        plan,
        &l.name,
        std::slice::from_ref(&l.project_dir),
        &Opens::Any,
        &["uv build --wheel".into(), uv_version, plan.epoch.value()],
    )?;
    let entry = ctx.cache.bucket(BUCKET).join(&key);
    let what = format!("{} wheel (pure Python)", escaped(&l.name));
    if let Some(cached) = wheels_in(&entry).ok().filter(|w| !w.is_empty()) {
        ctx.reporter.status("Fresh", &what);
        copy_wheels(&cached, &b.out_dir)?;
        return Ok(true);
    }
    ctx.reporter
        .status("Building", &format!("{what} (uv build)"));
    let staging = ctx.cache.staging(BUCKET).map_err(|source| Error::Io {
        path: ctx.cache.incoming(BUCKET),
        source,
    })?;
    let mut cmd = Command::new(tools::UV.find(ctx.env)?);
    if let Some(dir) = crate::pins::uv_cache_dir(ctx) {
        cmd.env("UV_CACHE_DIR", dir);
    }
    cmd.args(["build", "--wheel", "--color", "never", "--no-progress"])
        .arg("--out-dir")
        .arg(staging.path())
        .arg(&l.project_dir)
        .env(crate::env::SOURCE_DATE_EPOCH, plan.epoch.value())
        .timeout(process::BUILD);
    if ctx.offline {
        cmd.arg("--offline");
    }
    ctx.reporter.debug(&format!("running {}", cmd.shown()));
    // The backend builds in the package's folder: what it leaves there is
    // removed, whether the build passed or not.
    let before = paths_under(&l.project_dir);
    let out = cmd.output();
    remove_leftovers(&l.project_dir, &before)?;
    let out = out?;
    if !out.success() {
        return Err(Error::UvBuild {
            name: l.name.clone(),
            dir: l.project_dir.clone(),
            command: out.command.clone(),
            output: out.tail(),
        });
    }
    let built = wheels_in(staging.path())?;
    if built.is_empty() {
        return Err(Error::NoWheel {
            dir: staging.path().to_owned(),
        });
    }
    keep_built(&built, &b.out_dir, staging, &entry, plan, ctx)?;
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// After a build in place, what the backend left in its build folders
    /// and new `*.egg-info` folders go; what was there, and a file saved
    /// in the folder meanwhile, stay.
    #[test]
    fn only_the_backends_leftovers_are_removed() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        let write = |rel: &str| {
            let p = dir.join(rel);
            fs_err::create_dir_all(p.parent().unwrap()).unwrap();
            fs_err::write(p, rel).unwrap();
        };
        write("pyproject.toml");
        write("src/helper/__init__.py");
        write("build/notes.txt");
        let before = paths_under(dir);
        write("build/lib/helper/__init__.py");
        write("build/bdist.linux-x86_64/x");
        write("src/helper.egg-info/PKG-INFO");
        write(".pdm-build/helper.pth");
        write("NOTES.md");
        write("src/helper/new_module.py");
        remove_leftovers(dir, &before).unwrap();
        let mut left: Vec<String> = paths_under(dir)
            .iter()
            .map(|p| {
                p.strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/")
            })
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "NOTES.md",
                "build",
                "build/notes.txt",
                "pyproject.toml",
                "src",
                "src/helper",
                "src/helper/__init__.py",
                "src/helper/new_module.py",
            ]
        );
    }
}
