//! Stage: the Windows installer. Why: users expect a `setup.exe` that installs
//! per user (no admin rights), makes shortcuts, registers in Add/Remove Programs,
//! upgrades in place and uninstalls cleanly, keeping their `data\`.
//!
//! Renders `windows/installer.nsi.j2` (overridable by the project's
//! `templates/windows/installer.nsi.j2`) to `installer.nsi` next to the portable
//! tree, runs Debian's `makensis -DVERSION=<four numbers>` on it and places
//! `{name}-{tag}-setup.exe` in the output directory (temp name, then rename).
//! makensis runs inside the bundle folder (`-NOCD`) and every compile-time path
//! in the script is relative to it (`File /r "python/*"`, `OutFile
//! "../setup.exe.partial"`): makensis reads `$` in file paths literally, so a
//! path holding the app's name (`My $App`) could not be written safely.
//!
//! makensis stores each file's modification time and nothing else that varies
//! between runs, so the tree's file times are first set to the portable
//! archive's entry time (the plan's epoch: `SOURCE_DATE_EPOCH`, else the commit time): the same
//! inputs give a byte-identical `setup.exe`, which a re-run release then
//! finds unchanged on the server instead of uploading again.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Launcher;
use crate::context::Context;
use crate::plan::{ArtifactKind, BundleInputError, IncompleteBundle, Plan};
use crate::platform::Platform;
use crate::process::Command;
use crate::templates::{self, Templates};
use crate::tools;
use crate::version::Spellings;

/// The template, relative to a templates directory.
pub const TEMPLATE: &str = "windows/installer.nsi.j2";
/// The rendered script's file name, next to the bundle tree.
pub const SCRIPT: &str = "installer.nsi";
/// The digest of the last build's inputs and its installer's SHA-256.
pub const STAMP: &str = "installer.stamp";
/// What makensis writes, relative to the bundle folder (next to the script);
/// moved to the output directory once complete.
const PARTIAL: &str = "setup.exe.partial";
/// Bundle folders an upgrade replaces whether or not the new bundle has them.
const REPLACED_DIRS: &[&str] = &["python", "app", "scripts"];
/// The user's folder: never removed, its shipped files never overwrite theirs.
const DATA_DIR: &str = "data";

/// What the stage produced.
#[derive(Debug, Clone, Serialize)]
pub struct Installer {
    /// `{out_dir}/{name}-{tag}-setup.exe`.
    pub path: PathBuf,
    pub file_name: String,
    pub size: u64,
    pub sha256: String,
    /// The rendered `installer.nsi`.
    pub script: PathBuf,
    /// Whether the installer and its uninstaller carry a verified signature.
    pub signed: bool,
    /// Seconds spent signing and verifying the installer (the uninstaller's
    /// signing runs inside makensis and is in `makensis_seconds`).
    pub sign_seconds: f64,
    /// Seconds makensis ran (0 when the installer was kept).
    pub makensis_seconds: f64,
    /// Whether the previous installer was kept: its inputs did not change.
    pub fresh: bool,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Bundle(#[from] BundleInputError),
    #[error("the plan has no installer (`installer = false` in [{}.windows] of {})", .table.table.key(), crate::project::display_path(&.table.manifest))]
    #[diagnostic(help("set `installer = true` (the default) or drop the key"))]
    Disabled {
        /// The table in use and the Cargo.toml declaring it.
        table: crate::project::ConfigSource,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Tool(#[from] tools::RunError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Template(#[from] templates::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Write(#[from] crate::fs::WriteError),
    #[error("makensis failed on {script}{}\n{output}", at.as_ref().map(|(n, l)| format!(" line {n}: {}", crate::error::escaped(l.trim()))).unwrap_or_default())]
    #[diagnostic(help("{}", makensis_hint(.template.as_deref())))]
    Makensis {
        script: PathBuf,
        /// The script line makensis named, and its text.
        at: Option<(usize, String)>,
        /// The command line, then makensis's own output (its last lines).
        output: String,
        /// The project's template override, when one was used.
        template: Option<PathBuf>,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Sign(#[from] crate::sign::Error),
    #[error("signing is configured but the installer template {template} has no `!uninstfinalize` line: its uninstaller would ship unsigned")]
    #[diagnostic(help("add `{{% if uninstfinalize %}}!uninstfinalize '{{{{ uninstfinalize | nsis_literal }}}}' = 0{{% endif %}}` after OutFile, as the default template does"))]
    UnsignedUninstaller { template: PathBuf },
    #[error("could not place the installer at {path}")]
    Place {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A project's override is the project's to fix; the default template's
/// failure is a bug to report.
fn makensis_hint(template: Option<&Path>) -> String {
    match template {
        Some(t) => format!(
            "the script comes from the project's override {}; fix it there (the rendered script is kept for reading)",
            t.display()
        ),
        None => "the default template failed to build: please report it with the rendered script".into(),
    }
}

/// What the template sees. Strings are raw; the template escapes each with `| nsis`.
#[derive(Debug, Serialize)]
struct TemplateContext<'a> {
    name: &'a str,
    /// The app's file name (install folder, shortcuts; see [`crate::names`]).
    dir_name: String,
    /// Key under `HKCU\...\Uninstall\`.
    reg_key: String,
    module: &'a str,
    dist_name: &'a str,
    version: Spellings,
    publisher: &'a str,
    port: Option<u16>,
    launcher: &'static str,
    /// Where makensis writes the installer, relative to the bundle folder.
    out_file: String,
    /// Top-level folders of the bundle that hold files, installed recursively.
    dirs: Vec<String>,
    /// Folders removed before an upgrade copies and by the uninstaller (never `data`).
    remove_dirs: Vec<String>,
    /// Top-level files of the bundle.
    files: Vec<String>,
    /// Interpreters whose lock says the app is running (Windows paths under `$INSTDIR`).
    interpreters: Vec<&'static str>,
    /// KiB of the installed tree (Add/Remove Programs `EstimatedSize`).
    estimated_size_kb: u64,
    /// The `!uninstfinalize` command that signs the uninstaller (`None`: unsigned).
    uninstfinalize: Option<String>,
    /// `SetCompressor /SOLID {compression}`: `lzma`, `zlib` or `bzip2`.
    compression: &'static str,
    /// `"console"`: a console shortcut, `bin\` optionally on PATH; `"gui"`:
    /// the hidden launcher's shortcuts (see [`crate::launch::Kind`]).
    kind: crate::launch::Kind,
    /// A console app's command (`bin\{command}.cmd`).
    command: String,
}

/// The bundle's top-level folders and files, and its size in bytes.
fn scan(bundle_dir: &Path) -> Result<(Vec<String>, Vec<String>, u64), Error> {
    let err = |source| BundleInputError::unreadable(Platform::Windows, bundle_dir, source);
    let (mut dirs, mut files) = (Vec::new(), Vec::new());
    for entry in fs_err::read_dir(bundle_dir).map_err(err)? {
        let entry = entry.map_err(err)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() {
            dirs.push(name);
        } else {
            files.push(name);
        }
    }
    dirs.sort();
    files.sort();
    let mut size = 0;
    for entry in walkdir::WalkDir::new(bundle_dir).follow_links(true) {
        let entry = entry.map_err(|e| err(std::io::Error::other(e)))?;
        if entry.file_type().is_file() {
            size += entry
                .metadata()
                .map_err(|e| err(std::io::Error::other(e)))?
                .len();
        }
    }
    Ok((dirs, files, size))
}

/// What the installed app's shortcuts run, relative to the bundle: the
/// interpreter and the start command's target (else the hidden launcher, or
/// pythonw.exe).
pub(crate) fn launch_files(plan: &Plan) -> Vec<String> {
    let mut needed = vec![Platform::Windows.python_exe().to_owned()];
    match crate::render::windows::command_path(
        plan.launch.kind,
        &plan.launch.command(&plan.file_name),
    ) {
        Some(command) => needed.push(command),
        None if plan.config.windows.launcher == Launcher::Vbs => {
            needed.push("scripts/start-hidden.vbs".into())
        }
        None => needed.push(PYTHONW.into()),
    }
    needed
}

/// The bundle's windowless interpreter.
pub(crate) const PYTHONW: &str = "python/pythonw.exe";

/// Check that the bundle has what the script and its shortcuts point at.
fn check_bundle(plan: &Plan, bundle_dir: &Path) -> Result<(), Error> {
    let files = launch_files(plan);
    IncompleteBundle::check(Platform::Windows, bundle_dir, files, "installer")
        .map_err(|e| BundleInputError::from(e).into())
}

/// `Err(Disabled)` when the plan builds no installer (`windows.installer =
/// false`): checked before a bundle is built for it.
pub fn check_enabled(plan: &Plan) -> Result<(), Error> {
    artifact(plan).map(|_| ())
}

/// The installer's file name from the plan (`{name}-{tag}-setup.exe`).
fn artifact(plan: &Plan) -> Result<(String, PathBuf), Error> {
    plan.artifact(ArtifactKind::Installer, Some(Platform::Windows))
        .map(|a| (a.file_name.clone(), a.path.clone()))
        .ok_or_else(|| Error::Disabled {
            table: plan.project.config_source.clone(),
        })
}

/// Render the NSIS script for `bundle_dir`. Returns the script and the
/// project's override it came from, if any.
pub fn render(plan: &Plan, bundle_dir: &Path) -> Result<(String, Option<PathBuf>), Error> {
    render_with(plan, bundle_dir, None)
}

/// [`render`], with the `!uninstfinalize` command that signs the uninstaller.
pub fn render_with(
    plan: &Plan,
    bundle_dir: &Path,
    uninstfinalize: Option<String>,
) -> Result<(String, Option<PathBuf>), Error> {
    let (mut dirs, files, size) = scan(bundle_dir)?;
    let mut remove_dirs: Vec<String> = REPLACED_DIRS.iter().map(|s| s.to_string()).collect();
    remove_dirs.extend(dirs.iter().cloned());
    // `File /r` fails on a folder without files (a maturin app's empty
    // `app/src`: the package is in site-packages); there is nothing to install.
    dirs.retain(|d| {
        walkdir::WalkDir::new(bundle_dir.join(d))
            .follow_links(true)
            .into_iter()
            .filter_map(Result::ok)
            .any(|e| e.file_type().is_file())
    });
    remove_dirs.retain(|d| d != DATA_DIR);
    remove_dirs.sort();
    remove_dirs.dedup();
    let launcher = plan.config.windows.launcher.key();
    let dir_name = plan.file_name.clone();
    let ctx = TemplateContext {
        name: &plan.name,
        reg_key: dir_name.clone(),
        dir_name,
        module: plan.launch.module_for(crate::platform::Platform::Windows),
        dist_name: &plan.dist_name,
        version: plan.version.version.spellings(),
        publisher: &plan.config.windows.publisher,
        port: plan.config.port,
        launcher,
        out_file: format!("../{PARTIAL}"),
        dirs,
        remove_dirs,
        files,
        interpreters: vec!["python\\python.exe", "python\\pythonw.exe"],
        estimated_size_kb: size.div_ceil(1024),
        uninstfinalize,
        compression: plan.config.windows.installer_compression.nsis(),
        kind: plan.launch.kind,
        command: plan.launch.command(&plan.file_name),
    };
    let templates = Templates::new(Some(&plan.project.config_dir));
    let (_, origin) = templates.source(TEMPLATE)?;
    Ok((templates.render(TEMPLATE, &ctx)?, origin))
}

/// The size of the installer placed at `path`.
fn placed_size(path: &Path) -> Result<u64, Error> {
    fs_err::metadata(path)
        .map(|m| m.len())
        .map_err(|source| Error::Place {
            path: path.to_owned(),
            source,
        })
}

/// Build `{name}-{tag}-setup.exe` from the Windows bundle tree at `bundle_dir`,
/// signed when `[…pyship.windows.sign]` is configured.
pub fn run(plan: &Plan, bundle_dir: &Path, ctx: &Context<'_>) -> Result<Installer, Error> {
    let signer = crate::sign::Signer::prepare(plan, ctx)?;
    run_with(plan, bundle_dir, signer.as_ref(), ctx)
}

/// [`run`] with a prepared signer (`None`: unsigned).
pub fn run_with(
    plan: &Plan,
    bundle_dir: &Path,
    signer: Option<&crate::sign::Signer>,
    ctx: &Context<'_>,
) -> Result<Installer, Error> {
    let _lock = crate::lock::OutDirLock::acquire(&plan.out_dir, ctx.reporter)
        .map_err(BundleInputError::from)?;
    let (file_name, path) = artifact(plan)?;
    check_bundle(plan, bundle_dir)?;
    let makensis = tools::MAKENSIS
        .find(ctx.env)
        .map_err(tools::RunError::from)?;
    let uninstfinalize = signer.map(|s| s.uninstaller_command()).transpose()?;
    let (script_text, template) = render_with(plan, bundle_dir, uninstfinalize)?;
    if signer.is_some() && !script_text.contains("!uninstfinalize") {
        return Err(Error::UnsignedUninstaller {
            template: template.clone().unwrap_or_else(|| PathBuf::from(TEMPLATE)),
        });
    }
    let script_dir = bundle_dir.parent().unwrap_or(Path::new("."));
    let script = script_dir.join(SCRIPT);
    let partial = script_dir.join(PARTIAL);
    let _ = fs_err::remove_file(&partial);
    crate::fs::atomic_write(&script, script_text.as_bytes()).map_err(|source| {
        Error::Write(crate::fs::WriteError {
            path: script.clone(),
            source,
        })
    })?;
    ctx.reporter
        .debug(&format!("rendered {}", script.display()));

    let file_time = plan.epoch.seconds.max(crate::dates::ZIP_EPOCH);
    pin_file_times(bundle_dir, file_time)?;

    let windows_version = plan.version.version.windows();
    let stamp_path = script_dir.join(STAMP);
    // The uninstaller's signing command names a temp folder of this run:
    // the signer's identity stands for it in the digest.
    let keyed_script = match &uninstfinalize_text(signer)? {
        Some(cmd) => script_text.replace(cmd, "{uninstfinalize}"),
        None => script_text.clone(),
    };
    let digest = inputs_digest(
        &makensis,
        // The file times makensis stores are an input too.
        &format!("{windows_version} {file_time}"),
        &keyed_script,
        bundle_dir,
        signer,
    )?;
    if let Some(sha256) = fresh_installer(&stamp_path, &digest, &path) {
        let size = placed_size(&path)?;
        ctx.reporter
            .status("Fresh", &format!("{} (inputs unchanged)", path.display()));
        return Ok(Installer {
            path,
            file_name,
            size,
            sha256,
            script,
            signed: signer.is_some(),
            sign_seconds: 0.0,
            makensis_seconds: 0.0,
            fresh: true,
        });
    }
    // The stamp goes before the installer changes: a run stopped halfway
    // never leaves a stamp that vouches for another installer.
    let _ = fs_err::remove_file(&stamp_path);
    ctx.reporter.status(
        "Building",
        &format!("{file_name} (makensis, version {windows_version})"),
    );
    let makensis_start = std::time::Instant::now();
    let mut cmd = Command::new(&makensis);
    cmd.arg("-V2")
        .arg("-NOCD")
        .arg("-INPUTCHARSET")
        .arg("UTF8")
        .arg(format!("-DVERSION={windows_version}"))
        .arg(&script)
        .current_dir(bundle_dir)
        .timeout(crate::process::STEP);
    let out = cmd.output().map_err(tools::RunError::from)?;
    let makensis_seconds = makensis_start.elapsed().as_secs_f64();
    let output = out.combined();
    if !out.success() || !partial.is_file() {
        let _ = fs_err::remove_file(&partial);
        return Err(Error::Makensis {
            at: script_line(&output, &script_text),
            output: format!("`{}`:\n{}", out.command, tail(&output, 30)),
            script,
            template,
        });
    }
    for line in output
        .lines()
        .filter(|l| l.trim_start().starts_with("warning"))
    {
        ctx.reporter.warn(&format!("makensis: {}", line.trim()));
    }
    let sign_start = std::time::Instant::now();
    let signed = match signer {
        Some(signer) => {
            // Signed and verified under a temp name: the final name never
            // holds an unsigned installer, and a failed signature leaves none.
            let _ = fs_err::remove_file(&path);
            ctx.reporter.status("Signing", &file_name);
            let signed = partial.with_file_name(format!("{PARTIAL}.signed"));
            let verified = signer
                .sign(&partial, &signed, ctx)
                .and_then(|()| signer.verify(&signed));
            let _ = fs_err::remove_file(&partial);
            let verified = match verified {
                Ok(v) => v,
                Err(e) => {
                    let _ = fs_err::remove_file(&signed);
                    return Err(e.into());
                }
            };
            place(&signed, &path)?;
            ctx.reporter.status(
                "Verified",
                &format!(
                    "{file_name} signature ({}{})",
                    verified.subject.as_deref().unwrap_or("signer unknown"),
                    if verified.timestamped {
                        ", timestamped"
                    } else {
                        ""
                    }
                ),
            );
            true
        }
        None => {
            place(&partial, &path)?;
            false
        }
    };
    let size = placed_size(&path)?;
    let sha256 = crate::fs::sha256_file(&path).map_err(|source| Error::Place {
        path: path.clone(),
        source,
    })?;
    crate::fs::atomic_write(&stamp_path, format!("{digest}\n{sha256}\n").as_bytes()).map_err(
        |source| {
            Error::Write(crate::fs::WriteError {
                path: stamp_path.clone(),
                source,
            })
        },
    )?;
    ctx.reporter.status(
        "Built",
        &format!("{} ({:.1} MiB)", path.display(), size as f64 / 1048576.0),
    );
    Ok(Installer {
        path,
        file_name,
        size,
        sha256,
        script,
        signed,
        sign_seconds: if signed {
            sign_start.elapsed().as_secs_f64()
        } else {
            0.0
        },
        makensis_seconds,
        fresh: false,
    })
}

/// The uninstaller-signing command the script holds, if signing.
fn uninstfinalize_text(signer: Option<&crate::sign::Signer>) -> Result<Option<String>, Error> {
    Ok(signer.map(|s| s.uninstaller_command()).transpose()?)
}

/// SHA-256 over everything the installer is made from.
fn inputs_digest(
    makensis: &Path,
    windows_version: &str,
    script: &str,
    bundle_dir: &Path,
    signer: Option<&crate::sign::Signer>,
) -> Result<String, Error> {
    use sha2::{Digest, Sha256};
    let mut cmd = Command::new(makensis);
    cmd.arg("-VERSION").timeout(crate::process::QUICK);
    let out = cmd.output().map_err(tools::RunError::from)?;
    let mut h = Sha256::new();
    for part in [
        "installer-v1",
        out.stdout.trim(),
        windows_version,
        script,
        &signer.map(|s| s.identity()).unwrap_or_default(),
        &tree_digest(bundle_dir)?,
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    Ok(hex::encode(h.finalize()))
}

/// SHA-256 over the sorted (relative path, SHA-256 of the content) list of
/// every file under `dir`, hashed in parallel.
pub fn tree_digest(dir: &Path) -> Result<String, Error> {
    use rayon::prelude::*;
    use sha2::{Digest, Sha256};
    let err = |source| BundleInputError::unreadable(Platform::Windows, dir, source);
    let mut files = Vec::new();
    for e in walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
    {
        let e = e.map_err(|e| err(std::io::Error::other(e)))?;
        if e.file_type().is_file() {
            files.push((crate::fs::rel_slash(dir, e.path()), e.into_path()));
        }
    }
    let hashes: Vec<String> = files
        .par_iter()
        .map(|(_, p)| crate::fs::sha256_file(p))
        .collect::<Result<_, _>>()
        .map_err(err)?;
    let mut h = Sha256::new();
    for ((rel, _), sha) in files.iter().zip(hashes) {
        h.update(rel.as_bytes());
        h.update([0]);
        h.update(sha.as_bytes());
        h.update([b'\n']);
    }
    Ok(hex::encode(h.finalize()))
}

/// The SHA-256 of the installer at `path` when `stamp` records `digest` and
/// that installer: then it can be kept.
fn fresh_installer(stamp: &Path, digest: &str, path: &Path) -> Option<String> {
    let text = fs_err::read_to_string(stamp).ok()?;
    let mut lines = text.lines();
    if lines.next()? != digest {
        return None;
    }
    let recorded = lines.next()?.trim().to_owned();
    let actual = crate::fs::sha256_file(path).ok()?;
    (actual == recorded).then_some(actual)
}

/// Move the finished installer to `dest`: a rename, or across file systems a
/// copy to a temp name beside `dest` and then a rename, so `dest` is never partial.
fn place(partial: &Path, dest: &Path) -> Result<(), Error> {
    let err = |source| Error::Place {
        path: dest.to_owned(),
        source,
    };
    let dir = dest.parent().unwrap_or(Path::new("."));
    fs_err::create_dir_all(dir).map_err(err)?;
    if fs_err::rename(partial, dest).is_ok() {
        return Ok(());
    }
    crate::fs::atomic_copy(partial, dest).map_err(err)?;
    let _ = fs_err::remove_file(partial);
    Ok(())
}

/// Set the modification time of every file under `dir` to `secs` (those
/// that have it already are left alone). A file with other hard links (the
/// dependency stage links site-packages from uv's cache) is first replaced by
/// a copy of its own, so pinning changes nothing outside `dir`.
pub fn pin_file_times(dir: &Path, secs: u64) -> Result<(), Error> {
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.map_err(|e| {
            Error::Write(crate::fs::WriteError {
                path: dir.to_owned(),
                source: crate::fs::Error::Io(e.into()),
            })
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let path = entry.path();
        let io = |source: std::io::Error| {
            Error::Write(crate::fs::WriteError {
                path: path.to_owned(),
                source: crate::fs::Error::Io(source),
            })
        };
        let meta = entry.metadata().map_err(|e| io(e.into()))?;
        if meta.modified().ok() == Some(when) {
            continue;
        }
        if linked_elsewhere(&meta) {
            crate::fs::atomic_copy(path, path).map_err(io)?;
        }
        // Windows needs a handle with write access to change a file's times;
        // a read-only file is opened for reading (enough on Unix for its owner).
        let file = fs_err::OpenOptions::new()
            .write(true)
            .open(path)
            .or_else(|_| fs_err::File::open(path))
            .map_err(io)?;
        file.set_modified(when).map_err(io)?;
    }
    Ok(())
}

/// Whether the file has other hard links (Unix). Elsewhere it cannot be
/// told cheaply: every file counts as linked (and is copied once).
#[cfg(unix)]
fn linked_elsewhere(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    meta.nlink() > 1
}

#[cfg(not(unix))]
fn linked_elsewhere(_meta: &std::fs::Metadata) -> bool {
    true
}

/// The line makensis names in `Error in script "installer.nsi" on line N`,
/// with its text from the rendered script (errors in NSIS's own includes name
/// those files: then only the number is known, and the text is makensis's).
fn script_line(output: &str, script: &str) -> Option<(usize, String)> {
    let line = output
        .lines()
        .rev()
        .find(|l| l.contains("rror in script") && l.contains(" on line "))?;
    let rest = &line[line.find(" on line ")? + " on line ".len()..];
    let n: usize = rest
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()?;
    let ours = line.contains(&format!("\"{SCRIPT}\"")) || line.contains(&format!("/{SCRIPT}\""));
    let text = if ours {
        script.lines().nth(n.checked_sub(1)?)?.to_owned()
    } else {
        line.trim().to_owned()
    };
    Some((n, text))
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bundle errors shared with the other packaging stages read as the
    /// installer's own did: the message, the cause under it and the hint.
    #[test]
    fn bundle_errors_read_the_same() {
        let lines = |e: Error| {
            let r = crate::error::Report::from(e);
            let chain: Vec<String> = r.chain().map(|e| e.to_string()).collect();
            (chain, r.hint())
        };
        let denied = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let e = BundleInputError::unreadable(Platform::Windows, Path::new("/w"), denied);
        assert_eq!(
            lines(e.into()),
            (
                vec![
                    "could not read the Windows bundle at /w".to_owned(),
                    "denied".to_owned()
                ],
                None
            )
        );
        let d = tempfile::tempdir().unwrap();
        let incomplete =
            IncompleteBundle::check(Platform::Windows, d.path(), ["a.exe"], "installer")
                .unwrap_err();
        let (chain, hint) = lines(BundleInputError::from(incomplete).into());
        assert_eq!(
            chain,
            [format!(
                "the Windows bundle at {} is incomplete: a.exe is missing",
                d.path().display()
            )]
        );
        assert_eq!(hint.as_deref(), Some("build the bundle first: `cargo pyship bundle --target windows` (`cargo pyship installer` does this when the bundle is missing)"));
    }

    /// Pinning the times of a tree whose file is a hard link elsewhere (as
    /// site-packages is to uv's cache) leaves the other link as it was.
    #[cfg(unix)]
    #[test]
    fn pinning_times_does_not_touch_hard_linked_files_elsewhere() {
        use std::os::unix::fs::MetadataExt;
        let d = tempfile::tempdir().unwrap();
        let cache = d.path().join("cache.bin");
        fs_err::write(&cache, b"shared bytes").unwrap();
        let before = fs_err::metadata(&cache).unwrap().modified().unwrap();
        let tree = d.path().join("tree");
        fs_err::create_dir_all(&tree).unwrap();
        fs_err::hard_link(&cache, tree.join("linked.bin")).unwrap();
        fs_err::write(tree.join("own.txt"), b"own").unwrap();
        super::pin_file_times(&tree, 1_700_000_000).unwrap();
        let pinned = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        for f in ["linked.bin", "own.txt"] {
            let m = fs_err::metadata(tree.join(f)).unwrap();
            assert_eq!(m.modified().unwrap(), pinned, "{f}");
            assert_eq!(m.nlink(), 1, "{f}");
        }
        assert_eq!(
            fs_err::read(tree.join("linked.bin")).unwrap(),
            b"shared bytes"
        );
        let m = fs_err::metadata(&cache).unwrap();
        assert_eq!(
            m.modified().unwrap(),
            before,
            "the other link's time changed"
        );
        assert_eq!(m.nlink(), 1);
    }

    #[test]
    fn script_line_names_the_failing_line() {
        let out = "Invalid command: Bogus\nError in script \"/tmp/x/installer.nsi\" on line 3 -- aborting creation process\n";
        let script = "a\nb\n  Bogus thing\nd\n";
        assert_eq!(script_line(out, script), Some((3, "  Bogus thing".into())));
        let inc = "Error in script \"/usr/share/nsis/Include/MUI2.nsh\" on line 7 -- aborting";
        assert_eq!(script_line(inc, script).map(|x| x.0), Some(7));
        assert_eq!(script_line("all fine", script), None);
    }
}
