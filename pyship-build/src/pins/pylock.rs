//! Pins from a lock file in PEP 751 form: `uv.lock` through `uv export`
//! (kept in the cache by what uv reads), a project's `pylock.toml`, and the
//! `uv pip compile` output read the same way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{requirements, uv, Error, Pin, Pinned, PinnedWheel};
use crate::context::Context;
use crate::plan::Plan;
use crate::platform::Platform;
use crate::project::normalize_dist_name;

/// The pins of `uv.lock` for the app: `uv export` (no resolution, no
/// network) with the app's extras for `platform` and the configured groups.
pub(super) fn from_uv_lock(
    plan: &Plan,
    platform: Platform,
    lock: &Path,
    ctx: &Context<'_>,
) -> Result<Pinned, Error> {
    let py = plan.pyproject();
    // Extras and groups the pyproject lacks are named here, not by uv.
    requirements(plan, platform)?;
    let args = |check: &str| -> Vec<String> {
        let mut args: Vec<String> = [
            "export",
            "--format",
            "pylock.toml",
            check,
            "--offline",
            "--no-header",
            "--no-emit-project",
            "--no-default-groups",
            "--quiet",
            "--color",
            "never",
        ]
        .map(String::from)
        .into();
        for g in &plan.config.groups {
            args.extend(["--group".to_owned(), g.clone()]);
        }
        for e in &plan.config.for_target(platform).extras {
            args.extend(["--extra".to_owned(), e.clone()]);
        }
        args
    };
    let export = |check: &str| -> Result<crate::process::Output, Error> {
        let mut cmd = uv(ctx)?;
        cmd.current_dir(py.dir()).args(args(check));
        ctx.reporter.debug(&format!("running {}", cmd.shown()));
        Ok(cmd.output().map_err(crate::tools::RunError::from)?)
    };
    let pinned = |packages: Vec<Pin>| {
        ctx.reporter.debug(&format!(
            "{} pins {} packages for {platform}",
            lock.display(),
            packages.len()
        ));
        Pinned {
            platform,
            lock: plan.lock.clone(),
            packages,
            changes: Vec::new(),
        }
    };
    let uv_exe = crate::tools::UV
        .find(ctx.env)
        .map_err(crate::tools::RunError::from)?;
    let memo = export_key(lock, py.dir(), &args("--locked"), &uv_exe, ctx)
        .map(|k| ctx.cache.bucket(EXPORTS).join(k));
    if let Some(text) = memo.as_ref().and_then(|m| fs_err::read_to_string(m).ok()) {
        ctx.reporter.debug(&format!(
            "uv export: {} exported from the same inputs before (cached)",
            lock.display()
        ));
        return Ok(pinned(from_pylock_text(plan, lock, &text)?));
    }
    let out = export("--locked")?;
    if !out.success() {
        // uv's own `error:`/`hint:` decoration goes; the hint is ours.
        let message = crate::process::tail(&out.stderr)
            .lines()
            .filter(|l| !l.starts_with("hint:") && !l.trim().is_empty())
            .map(|l| l.strip_prefix("error: ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        // Does the lock itself export? Then it is only out of date.
        let frozen = export("--frozen")?;
        return Err(if frozen.success() {
            Error::UvLockStale {
                lock: lock.to_owned(),
                pyproject: py.path.clone(),
                message,
            }
        } else {
            Error::UvExport {
                lock: lock.to_owned(),
                message,
            }
        });
    }
    let packages = from_pylock_text(plan, lock, &out.stdout)?;
    // Kept once it was read: an export the pins cannot be made of is not.
    if let Some(m) = &memo {
        ctx.cache.marked(EXPORTS);
        let _ = crate::fs::atomic_write(m, out.stdout.as_bytes());
    }
    Ok(pinned(packages))
}

/// The cache bucket of `uv export`s of a `uv.lock` ([`export_key`]).
pub const EXPORTS: &str = "uv-exports-v0";

/// What `uv export` (with `args`, run in `dir`) of `lock` answers from: the
/// lock's contents; the contents of every `pyproject.toml` and `uv.toml` in
/// `dir`, the folders above it (uv finds its project, workspace and
/// settings there) and each local source the lock names (workspace members,
/// directory sources), since `--locked` checks the lock against them; the
/// SHA-256 of the lock's path sources; uv's user and system settings files;
/// uv's own variables (`UV_*`, `XDG_CONFIG_*`); the uv binary (its
/// canonical path, size and modification time); this tool's version.
/// `None` when the lock cannot be read or parsed: nothing is kept then.
pub(super) fn export_key(
    lock: &Path,
    dir: &Path,
    args: &[String],
    uv: &Path,
    ctx: &Context<'_>,
) -> Option<String> {
    let bytes = crate::fs::read_small(lock).ok()?;
    let parsed: toml::Value = toml::from_str(std::str::from_utf8(&bytes).ok()?).ok()?;
    let root = lock.parent()?;
    let uv = fs_err::canonicalize(uv).unwrap_or_else(|_| uv.to_owned());
    let mut parts = vec![
        env!("CARGO_PKG_VERSION").to_owned(),
        format!("uv {} {}", uv.display(), crate::fs::size_and_mtime(&uv)?),
        format!("in {}", dir.display()),
        args.join("\0"),
        format!("lock {} {}", lock.display(), crate::fs::sha256_hex(&bytes)),
    ];
    let content = |p: &Path| match crate::fs::read_small(p) {
        Ok(b) => format!("{} {}", p.display(), crate::fs::sha256_hex(&b)),
        Err(_) => format!("{} -", p.display()),
    };
    let mut dirs: std::collections::BTreeSet<PathBuf> = dir
        .ancestors()
        .chain(root.ancestors())
        .map(Path::to_path_buf)
        .collect();
    let packages = parsed.get("package").and_then(toml::Value::as_array);
    for source in packages
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("source")?.as_table())
    {
        for kind in ["editable", "virtual", "directory"] {
            if let Some(rel) = source.get(kind).and_then(toml::Value::as_str) {
                dirs.insert(root.join(rel));
            }
        }
        if let Some(rel) = source.get("path").and_then(toml::Value::as_str) {
            let path = root.join(rel);
            let sha = if path.is_file() {
                ctx.cache.sha256_file(&path).ok()?
            } else {
                "-".to_owned()
            };
            parts.push(format!("path {} {sha}", path.display()));
        }
    }
    for d in &dirs {
        parts.push(content(&d.join("pyproject.toml")));
        parts.push(content(&d.join("uv.toml")));
    }
    let settings = dirs::config_dir()
        .map(|c| c.join("uv").join("uv.toml"))
        .into_iter()
        .chain(["/etc/uv/uv.toml", "/etc/xdg/uv/uv.toml"].map(PathBuf::from));
    for f in settings {
        parts.push(content(&f));
    }
    for prefix in ["UV_", "XDG_CONFIG_"] {
        for (k, v) in ctx.env.with_prefix(prefix) {
            parts.push(format!("{k}={v}"));
        }
    }
    Some(crate::fs::sha256_hex(parts.join("\n").as_bytes()))
}

/// PEP 751 `pylock.toml`, the fields cargo-pyship reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Pylock {
    #[serde(default)]
    packages: Vec<PylockPackage>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct PylockPackage {
    name: String,
    version: Option<String>,
    marker: Option<String>,
    index: Option<String>,
    #[serde(default)]
    wheels: Vec<PylockFile>,
    sdist: Option<PylockFile>,
    directory: Option<PylockDirectory>,
    vcs: Option<toml::Value>,
    archive: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
struct PylockFile {
    name: Option<String>,
    url: Option<String>,
    path: Option<String>,
    #[serde(default)]
    hashes: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct PylockDirectory {
    path: String,
}

impl PylockFile {
    /// The file name: `name`, else the last part of `url` or `path`.
    fn file_name(&self) -> Option<String> {
        if let Some(n) = &self.name {
            return Some(n.clone());
        }
        let from = self.url.as_deref().or(self.path.as_deref())?;
        let last = from.rsplit(['/', '\\']).next()?;
        let last = last.split(['#', '?']).next()?;
        Some(crate::net::percent_decode(last))
    }
}

/// The pins of a PEP 751 lock's text (a `uv export`, a `uv pip compile`, or
/// the project's own `pylock.toml`). Local folders must be the app's local
/// packages (built from source, so left out); everything else needs wheels
/// with SHA-256 hashes.
pub(super) fn from_pylock_text(plan: &Plan, path: &Path, text: &str) -> Result<Vec<Pin>, Error> {
    let lock: Pylock = toml::from_str(text).map_err(|e| Error::LockParse {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let unsupported = |package: &str, what: &str| Error::Unsupported {
        path: path.to_owned(),
        package: package.to_owned(),
        what: what.to_owned(),
    };
    let mut pins = Vec::new();
    for p in lock.packages {
        let dist = normalize_dist_name(&p.name);
        if let Some(dir) = &p.directory {
            if dist == plan.dist_name || plan.local_packages.iter().any(|l| l.dist == dist) {
                continue;
            }
            return Err(Error::NotLocal {
                lock: path.to_owned(),
                package: p.name.clone(),
                folder: dir.path.clone(),
            });
        }
        if p.vcs.is_some() || p.archive.is_some() {
            return Err(unsupported(
                &p.name,
                "comes from a VCS checkout or an archive URL, not a wheel",
            ));
        }
        if let Some(m) = &p.marker {
            // PEP 751 lock-only markers: the export names what it ships instead.
            if m.contains("extras") || m.contains("dependency_groups") {
                return Err(unsupported(
                    &p.name,
                    &format!("depends on the lock's extras or dependency groups (`{m}`), which cargo-pyship does not evaluate"),
                ));
            }
        }
        let Some(version) = p.version.clone() else {
            return Err(unsupported(&p.name, "has no version"));
        };
        // Each pin becomes a line of a requirements file: nothing in it may
        // end the line or start an option of its own.
        let plain = |s: &str, extra: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
        };
        if !plain(&p.name, "._-") {
            return Err(unsupported(&p.name, "is not a valid distribution name"));
        }
        if !plain(&version, ".!+_-") {
            return Err(unsupported(
                &p.name,
                &format!("has an invalid version `{version}`"),
            ));
        }
        if let Some(m) = &p.marker {
            if m.chars().any(|c| c.is_control() || c == '\\') || m.contains("--") {
                return Err(unsupported(&p.name, "has an invalid environment marker"));
            }
        }
        let mut wheels = Vec::new();
        for w in &p.wheels {
            let Some(sha256) = w.hashes.get("sha256") else {
                return Err(unsupported(&p.name, "has a wheel without a SHA-256 hash"));
            };
            if !crate::fs::is_sha256_hex(sha256) {
                return Err(unsupported(
                    &p.name,
                    &format!("has an invalid SHA-256 `{sha256}`"),
                ));
            }
            let Some(file) = w.file_name() else {
                return Err(unsupported(
                    &p.name,
                    "has a wheel without a name, url or path",
                ));
            };
            wheels.push(PinnedWheel {
                file,
                sha256: sha256.to_ascii_lowercase(),
                url: w
                    .url
                    .clone()
                    .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
            });
        }
        if wheels.is_empty() && p.sdist.is_none() {
            return Err(unsupported(&p.name, "has neither wheels nor an sdist"));
        }
        pins.push(Pin {
            name: p.name,
            version,
            marker: p.marker,
            index: p.index.map(|i| i.trim_end_matches('/').to_owned()),
            wheels,
        });
    }
    pins.sort_by_key(|p| normalize_dist_name(&p.name));
    Ok(pins)
}
