//! Stage: the Windows Installer package. Why: Windows administrators deploy
//! MSI packages (Group Policy, Intune): per-machine, silent, upgradeable.
//!
//! `{file-name}-{tag}-x64.msi` is made on Linux from the Windows bundle tree
//! with msitools: `wixl` compiles a WiX source written here, then `msibuild`
//! adds what wixl cannot express (the `RemoveFile` rows that delete the
//! `__pycache__` Python writes next to the installed modules, and the
//! Permanent/NeverOverwrite attributes of `data\` files), then the summary
//! information's package code and times, which wixl takes from the clock and
//! a random GUID, are written with values derived from the inputs: the same
//! inputs give the same bytes.
//!
//! What the package does: installs under `Program Files\{file-name}`
//! (`msi-scope = "per-user"`: `%LOCALAPPDATA%\Programs\{file-name}`, no admin
//! rights), a Start-menu shortcut started as the NSIS installer's, an
//! Add/Remove Programs entry with publisher, version, icon and URLs. The
//! UpgradeCode is derived from the publisher and the Python distribution name
//! (or pinned with `msi-upgrade-code`); the ProductCode from it and the
//! version. A newer package removes the installed one first (a major upgrade,
//! one Add/Remove Programs entry); an older one is refused. An MSI compares
//! three numbers only: the pre-releases of `X.Y.Z` and `X.Y.Z` replace each
//! other (see [`crate::version::Version::msi_next`]). Files in `data\` stay
//! on uninstall and upgrade, and a shipped one never replaces the user's.
//!
//! wixl's preprocessor expands `$(…)` in every value (also when written as
//! `&#36;`, and its `$$` escape fails on `$$$$`): a `$` in the name,
//! publisher, URLs or a bundle file name is refused rather than expanded.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::{Launcher, MsiScope};
use crate::context::Context;
use crate::plan::{BundleInputError, IncompleteBundle, Plan};
use crate::platform::Platform;
use crate::tools;

mod summary;
pub use summary::set_summary;

/// The user's folder: its files are never removed or replaced.
const DATA_DIR: &str = "data";
/// `Component.Attributes` of a `data\` file: 64-bit, Permanent, NeverOverwrite.
const DATA_ATTRIBUTES: u32 = 256 | 16 | 128;
/// The updater reads this file in the install folder: an MSI install.
pub const INSTALL_MARKER: &str = ".pyship-install";
/// The WiX source, next to the bundle tree.
pub const SOURCE: &str = "app.wxs";
/// What is built, next to the bundle tree; moved to the output directory once complete.
const PARTIAL: &str = "app.msi.partial";

/// What the stage produced.
#[derive(Debug, Clone, Serialize)]
pub struct Msi {
    /// `{out_dir}/{file-name}-{tag}-x64.msi`.
    pub path: PathBuf,
    pub file_name: String,
    pub size: u64,
    pub sha256: String,
    /// `ProductVersion` (three numbers).
    pub product_version: String,
    pub product_code: String,
    pub upgrade_code: String,
    /// The summary information's revision number (the package code).
    pub package_code: String,
    pub scope: MsiScope,
    /// Whether the package carries a verified Authenticode signature.
    pub signed: bool,
    /// Seconds spent building (wixl, msibuild, the summary) and signing.
    pub seconds: f64,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Bundle(#[from] BundleInputError),
    #[error("version {version} cannot be an MSI ProductVersion: the first number must be at most 255, the second at most 255, the third at most 65535")]
    #[diagnostic(help(
        "release a version whose numbers fit (Windows Installer compares major.minor.build only)"
    ))]
    Version { version: String },
    #[error("{what} `{}` cannot go into the MSI: {why}", crate::error::escaped(.value))]
    #[diagnostic(help("rename it, or set `file-name`/`publisher` without the character; the portable zip and the NSIS installer are not affected"))]
    Value {
        what: String,
        value: String,
        why: &'static str,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Tool(#[from] tools::RunError),
    #[error("{tool} failed on {input}:\n{output}")]
    #[diagnostic(help(
        "read the tool's message above; the WiX source is kept next to the bundle tree for reading"
    ))]
    Failed {
        tool: &'static str,
        input: PathBuf,
        output: String,
    },
    #[error("the MSI {path} has no readable summary information: {message}")]
    Summary { path: PathBuf, message: String },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Write(#[from] crate::fs::WriteError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Sign(#[from] crate::sign::Error),
    #[error("could not place the MSI at {path}")]
    Place {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Installer(#[from] crate::installer::Error),
}

/// A name-based GUID: SHA-256 of the parts, shaped as an RFC 9562 version 8
/// UUID, upper case in braces as Windows Installer writes them.
pub fn derived_guid(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"cargo-pyship msi guid v1");
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    let uuid = crate::fs::hash_uuid(&h.finalize(), 8);
    format!("{{{}}}", uuid.to_ascii_uppercase())
}

/// The UpgradeCode: pinned, or derived from the app's identity (publisher
/// and distribution name), the same for every version.
pub fn upgrade_code(plan: &Plan) -> String {
    plan.config
        .windows
        .msi_upgrade_code
        .clone()
        .unwrap_or_else(|| {
            derived_guid(&["upgrade", &plan.config.windows.publisher, &plan.dist_name])
        })
}

/// The ProductCode: one per version and scope (a rebuild of the same
/// version is the same product).
pub fn product_code(plan: &Plan) -> String {
    derived_guid(&[
        "product",
        &upgrade_code(plan),
        &plan.version.version.pep440(),
        plan.config.windows.msi_scope.key(),
    ])
}

/// A value for a WiX attribute: XML-escaped; refused when wixl would
/// rewrite it (`$`) or XML cannot hold it (control characters).
fn attr(what: &str, value: &str) -> Result<String, Error> {
    let bad = |why| Error::Value {
        what: what.to_owned(),
        value: value.to_owned(),
        why,
    };
    if value.contains('$') {
        return Err(bad(
            "wixl expands `$(…)` in every value and has no working escape for `$`",
        ));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(bad("it holds a control character"));
    }
    Ok(value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;"))
}

/// A value of a Windows Installer `Formatted` column (shortcut arguments,
/// the launch condition's message): `[` and `]` written as `[\[]` and `[\]]`
/// so no property is expanded, then [`attr`].
fn formatted(what: &str, value: &str) -> Result<String, Error> {
    attr(what, &brackets(value))
}

/// [`formatted`] without the XML escape: for a part of a value that goes
/// through [`attr`] whole.
fn brackets(value: &str) -> String {
    let mut s = String::new();
    for c in value.chars() {
        match c {
            '[' => s.push_str("[\\[]"),
            ']' => s.push_str("[\\]]"),
            '{' => s.push_str("[\\{]"),
            '}' => s.push_str("[\\}]"),
            c => s.push(c),
        }
    }
    s
}

/// A file or folder name of the bundle: a valid Windows long file name.
fn file_name_attr(rel: &str, name: &str) -> Result<String, Error> {
    if name.contains(['\\', '?', '|', '>', '<', ':', '/', '*', '"']) {
        return Err(Error::Value {
            what: "the bundle file".into(),
            value: rel.to_owned(),
            why: "Windows file names cannot hold \\ ? | > < : / * \"",
        });
    }
    attr(&format!("the bundle file {rel}"), name)
}

/// The WiX source and the `msibuild` additions for the bundle at `bundle_dir`.
#[derive(Debug)]
pub struct Source {
    pub wxs: String,
    /// `RemoveFile.idt`.
    pub remove_file_idt: String,
    /// Components whose attributes become [`DATA_ATTRIBUTES`].
    pub data_components: Vec<String>,
}

struct Gen<'a> {
    bundle_dir: &'a Path,
    pyc_tag: String,
    n: usize,
    components: Vec<String>,
    remove_rows: Vec<String>,
    data_components: Vec<String>,
    /// The launcher's file, relative (`scripts/start-hidden.vbs`), and the
    /// component that holds it (gets the shortcut).
    launcher_rel: String,
    shortcut: String,
}

impl Gen<'_> {
    fn id(&mut self, prefix: &str) -> String {
        self.n += 1;
        format!("{prefix}{}", self.n)
    }

    /// The `<Directory>` children of `dir` (relative `rel`), depth `depth`.
    fn dir(&mut self, out: &mut String, dir: &Path, rel: &str, depth: usize) -> Result<(), Error> {
        let indent = "  ".repeat(depth);
        let mut entries: Vec<(String, PathBuf, bool)> = Vec::new();
        let unreadable = |source| BundleInputError::unreadable(Platform::Windows, dir, source);
        for e in fs_err::read_dir(dir).map_err(unreadable)? {
            let e = e.map_err(unreadable)?;
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            entries.push((name, path.clone(), path.is_dir()));
        }
        entries.sort();
        let in_data = rel == DATA_DIR || rel.starts_with("data/");
        let mut py_files = Vec::new();
        let mut pycache_id = None;
        for (name, path, is_dir) in &entries {
            let child_rel = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let name_xml = file_name_attr(&child_rel, name)?;
            if *is_dir {
                let id = self.id("d");
                if name == "__pycache__" {
                    pycache_id = Some(id.clone());
                }
                writeln!(out, "{indent}<Directory Id=\"{id}\" Name=\"{name_xml}\">").unwrap();
                self.dir(out, path, &child_rel, depth + 1)?;
                writeln!(out, "{indent}</Directory>").unwrap();
            } else {
                let c = self.id("c");
                let f = self.id("f");
                let source = attr(
                    "a bundle path",
                    &format!("{}/{child_rel}", bundle_name(self.bundle_dir)),
                )?;
                write!(
                    out,
                    "{indent}<Component Id=\"{c}\" Guid=\"*\" Win64=\"yes\"><File Id=\"{f}\" Name=\"{name_xml}\" Source=\"{source}\" KeyPath=\"yes\"/>"
                )
                .unwrap();
                if child_rel == self.launcher_rel {
                    out.push_str(&self.shortcut);
                }
                out.push_str("</Component>\n");
                self.components.push(c.clone());
                if in_data {
                    self.data_components.push(c.clone());
                }
                if let Some(stem) = name.strip_suffix(".py") {
                    py_files.push((stem.to_owned(), c));
                }
            }
        }
        // The caches Python writes beside these modules: removed with them
        // (install and uninstall), so no stale bytecode outlives an upgrade
        // and no folder is left behind.
        if let Some((_, first)) = py_files.first().cloned() {
            let pycache = match pycache_id {
                Some(id) => id,
                None => {
                    let id = self.id("d");
                    writeln!(out, "{indent}<Directory Id=\"{id}\" Name=\"__pycache__\"/>").unwrap();
                    id
                }
            };
            for (stem, component) in &py_files {
                let key = self.id("r");
                self.remove_rows.push(format!(
                    "{key}\t{component}\t{stem}.{}.pyc\t{pycache}\t3",
                    self.pyc_tag
                ));
            }
            let key = self.id("r");
            self.remove_rows
                .push(format!("{key}\t{first}\t\t{pycache}\t3"));
        }
        Ok(())
    }
}

/// The bundle folder's name (the WiX source sits beside it).
fn bundle_name(bundle_dir: &Path) -> String {
    bundle_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Write the WiX source and the `msibuild` additions for `bundle_dir`.
pub fn source(plan: &Plan, bundle_dir: &Path) -> Result<Source, Error> {
    let v = &plan.version.version;
    let version = v.msi().ok_or_else(|| Error::Version { version: v.tag() })?;
    let next = v
        .msi_next()
        .ok_or_else(|| Error::Version { version: v.tag() })?;
    let w = &plan.config.windows;
    let name = attr("the name", &plan.name)?;
    let publisher = attr("the publisher", &w.publisher)?;
    let file_name = attr("the file name", &plan.file_name)?;
    let upgrade = upgrade_code(plan);
    let product = product_code(plan);
    let module = plan.launch.module_for(Platform::Windows);
    let command = plan.launch.command(&plan.file_name);
    let console = crate::render::windows::command_path(plan.launch.kind, &command);
    let (launcher_rel, target, arguments, workdir) = match (&console, w.launcher) {
        // A console app: a command prompt in the user's documents folder
        // that runs bin\{command}.cmd and stays open.
        (Some(rel), _) => (
            rel.clone(),
            "[System64Folder]cmd.exe".to_owned(),
            format!("/k \"[INSTALLDIR]bin\\{}.cmd\"", brackets(&command)),
            "PersonalFolder",
        ),
        (None, Launcher::Vbs) => (
            "scripts/start-hidden.vbs".to_owned(),
            "[System64Folder]wscript.exe".to_owned(),
            "\"[INSTALLDIR]scripts\\start-hidden.vbs\"".to_owned(),
            "INSTALLDIR",
        ),
        (None, Launcher::Pythonw) => (
            "python/pythonw.exe".to_owned(),
            "[INSTALLDIR]python\\pythonw.exe".to_owned(),
            format!("-m {}", brackets(module)),
            "INSTALLDIR",
        ),
    };
    let shortcut = format!(
        "<Shortcut Id=\"StartMenuShortcut\" Directory=\"ProgramMenuFolder\" Name=\"{file_name}\" Description=\"{name}\" Target=\"{}\" Arguments=\"{}\" WorkingDirectory=\"{workdir}\" Icon=\"app.exe\" IconIndex=\"0\"/>",
        attr("the shortcut target", &target)?,
        attr("the shortcut arguments", &arguments)?,
    );
    let mut g = Gen {
        bundle_dir,
        pyc_tag: format!("cpython-{}", plan.python.nodot),
        n: 0,
        components: Vec::new(),
        remove_rows: Vec::new(),
        data_components: Vec::new(),
        launcher_rel,
        shortcut,
    };
    let mut tree = String::new();
    g.dir(&mut tree, bundle_dir, "", 5)?;
    let marker = g.id("c");
    let marker_file = g.id("f");
    writeln!(
        tree,
        "          <Component Id=\"{marker}\" Guid=\"*\" Win64=\"yes\"><File Id=\"{marker_file}\" Name=\"{INSTALL_MARKER}\" Source=\"msi-extra/{INSTALL_MARKER}\" KeyPath=\"yes\"/></Component>"
    )
    .unwrap();
    g.components.push(marker);

    let (scope, root) = match w.msi_scope {
        MsiScope::PerMachine => (
            "perMachine",
            "      <Directory Id=\"ProgramFiles64Folder\">\n        <Directory Id=\"INSTALLDIR\" Name=\"{}\">\n".to_owned(),
        ),
        MsiScope::PerUser => (
            "perUser",
            "      <Directory Id=\"LocalAppDataFolder\">\n        <Directory Id=\"PyshipPrograms\" Name=\"Programs\">\n        <Directory Id=\"INSTALLDIR\" Name=\"{}\">\n".to_owned(),
        ),
    };
    let root = root.replace("{}", &file_name);
    let close = match w.msi_scope {
        MsiScope::PerMachine => "        </Directory>\n      </Directory>\n",
        MsiScope::PerUser => "        </Directory>\n        </Directory>\n      </Directory>\n",
    };
    let mut props = String::new();
    let mut prop = |id: &str, value: &str| -> Result<(), Error> {
        writeln!(
            props,
            "    <Property Id=\"{id}\" Value=\"{}\"/>",
            attr(&format!("the {id} property"), value)?
        )
        .unwrap();
        Ok(())
    };
    prop("ARPPRODUCTICON", "app.exe")?;
    prop("ARPNOMODIFY", "1")?;
    prop("ARPNOREPAIR", "1")?;
    let (server, repo) = plan.config.publish.location(&crate::env::Env::default());
    if let (Some(server), Some(repo)) = (
        server.or(plan.update.as_ref().and_then(|u| u.server_url.clone())),
        repo.or(plan.update.as_ref().and_then(|u| u.repo.clone())),
    ) {
        let home = format!("{}/{repo}", server.trim_end_matches('/'));
        prop("ARPURLINFOABOUT", &home)?;
        prop("ARPHELPLINK", &home)?;
        prop("ARPURLUPDATEINFO", &format!("{home}/releases"))?;
    }
    let newer = formatted(
        "the name",
        &format!("A newer version of {} is already installed.", plan.name),
    )?;
    let refs: String = g
        .components
        .iter()
        .map(|c| format!("      <ComponentRef Id=\"{c}\"/>\n"))
        .collect();
    let description = attr("the description", &format!("{} {}", plan.name, v.tag()))?;
    let icon = attr(
        "the icon",
        &format!("{}/python/pythonw.exe", bundle_name(bundle_dir)),
    )?;
    // The console shortcut's working folder.
    let personal = if console.is_some() {
        "      <Directory Id=\"PersonalFolder\"/>\n"
    } else {
        ""
    };
    let wxs = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<!-- Generated by cargo-pyship from the Windows bundle. -->
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="{product}" Name="{name}" Language="1033" Codepage="65001" Version="{version}" Manufacturer="{publisher}" UpgradeCode="{upgrade}">
    <Package InstallerVersion="500" Compressed="yes" InstallScope="{scope}" Description="{description}" Manufacturer="{publisher}"/>
    <Upgrade Id="{upgrade}">
      <UpgradeVersion Minimum="0.0.0" IncludeMinimum="yes" Maximum="{next}" Property="PYSHIP_OLDER_FOUND"/>
      <UpgradeVersion Minimum="{next}" IncludeMinimum="yes" OnlyDetect="yes" Property="PYSHIP_NEWER_FOUND"/>
    </Upgrade>
    <Condition Message="{newer}">NOT PYSHIP_NEWER_FOUND</Condition>
    <InstallExecuteSequence>
      <RemoveExistingProducts After="InstallValidate"/>
    </InstallExecuteSequence>
    <Icon Id="app.exe" SourceFile="{icon}"/>
{props}    <Media Id="1" Cabinet="app.cab" EmbedCab="yes"/>
    <Directory Id="TARGETDIR" Name="SourceDir">
{root}{tree}{close}      <Directory Id="ProgramMenuFolder"/>
{personal}
    </Directory>
    <Feature Id="Main" Level="1" Title="{name}">
{refs}    </Feature>
  </Product>
</Wix>
"#,
    );
    let mut idt = String::from(
        "FileKey\tComponent_\tFileName\tDirProperty\tInstallMode\ns72\ts72\tL255\ts72\ti2\nRemoveFile\tFileKey\n",
    );
    for row in &g.remove_rows {
        idt.push_str(row);
        idt.push('\n');
    }
    Ok(Source {
        wxs,
        remove_file_idt: idt,
        data_components: g.data_components,
    })
}

/// Check that the bundle has what the package and its shortcut point at
/// (pythonw.exe whatever the start command is).
fn check_bundle(plan: &Plan, bundle_dir: &Path) -> Result<(), Error> {
    let mut needed = crate::installer::launch_files(plan);
    if !needed.iter().any(|f| f == crate::installer::PYTHONW) {
        needed.insert(1, crate::installer::PYTHONW.to_owned());
    }
    IncompleteBundle::check(Platform::Windows, bundle_dir, needed, "msi")
        .map_err(|e| BundleInputError::from(e).into())
}

/// What can be checked before the bundle is built: the version fits an MSI,
/// the values go into one, and the tools are there.
pub fn preflight(plan: &Plan, ctx: &Context<'_>) -> Result<(), Error> {
    let v = &plan.version.version;
    v.msi_next()
        .ok_or_else(|| Error::Version { version: v.tag() })?;
    attr("the name", &plan.name)?;
    attr("the publisher", &plan.config.windows.publisher)?;
    tools::WIXL.find(ctx.env).map_err(tools::RunError::from)?;
    tools::MSIBUILD
        .find(ctx.env)
        .map_err(tools::RunError::from)?;
    Ok(())
}

fn run_tool(
    exe: &Path,
    tool: &'static str,
    args: &[&std::ffi::OsStr],
    cwd: &Path,
    input: &Path,
) -> Result<(), Error> {
    let mut cmd = crate::process::Command::new(exe);
    cmd.args(args)
        .current_dir(cwd)
        .timeout(crate::process::STEP);
    let out = cmd.output().map_err(tools::RunError::from)?;
    if !out.success() {
        return Err(Error::Failed {
            tool,
            input: input.to_owned(),
            output: out.tail(),
        });
    }
    Ok(())
}

/// Build `{file-name}-{tag}-x64.msi` from the Windows bundle tree at
/// `bundle_dir`, signed by `signer` (`None`: unsigned; the callers prepare it
/// with [`crate::sign::Signer::prepare`] from `[…pyship.windows.sign]`).
pub fn run_with(
    plan: &Plan,
    bundle_dir: &Path,
    signer: Option<&crate::sign::Signer>,
    ctx: &Context<'_>,
) -> Result<Msi, Error> {
    let start = std::time::Instant::now();
    let _lock = crate::lock::OutDirLock::acquire(&plan.out_dir, ctx.reporter)
        .map_err(BundleInputError::from)?;
    preflight(plan, ctx)?;
    check_bundle(plan, bundle_dir)?;
    let wixl = tools::WIXL.find(ctx.env).map_err(tools::RunError::from)?;
    let msibuild = tools::MSIBUILD
        .find(ctx.env)
        .map_err(tools::RunError::from)?;
    let file_name = crate::plan::msi_file_name(&plan.file_name, &plan.version.version.tag());
    let path = plan.out_dir.join(&file_name);
    let dir = bundle_dir.parent().unwrap_or(Path::new(".")).to_owned();
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Write(crate::fs::WriteError { path, source })
    };

    let src = source(plan, bundle_dir)?;
    let wxs = dir.join(SOURCE);
    crate::fs::atomic_write(&wxs, src.wxs.as_bytes()).map_err(write_err(&wxs))?;
    let marker = dir.join("msi-extra").join(INSTALL_MARKER);
    crate::fs::atomic_write_creating_dir(&marker, b"msi\n").map_err(write_err(&marker))?;
    // The cabinet stores each file's time: pinned, as for the NSIS installer.
    let file_time = plan.epoch.seconds.max(crate::dates::ZIP_EPOCH);
    crate::installer::pin_file_times(bundle_dir, file_time)?;
    crate::installer::pin_file_times(marker.parent().unwrap(), file_time)?;

    ctx.reporter.status(
        "Building",
        &format!(
            "{file_name} (wixl, ProductVersion {}, {})",
            plan.version.version.msi().unwrap_or_default(),
            plan.config.windows.msi_scope.key()
        ),
    );
    let partial = dir.join(PARTIAL);
    let _ = fs_err::remove_file(&partial);
    let result = (|| {
        run_tool(
            &wixl,
            "wixl",
            &[
                "-a".as_ref(),
                "x64".as_ref(),
                "-o".as_ref(),
                partial.as_os_str(),
                SOURCE.as_ref(),
            ],
            &dir,
            &wxs,
        )?;
        // msibuild reads a table from a file named after it, in its folder.
        let idt_dir = tempfile::Builder::new()
            .prefix(".pyship-msi-")
            .tempdir_in(&dir)
            .map_err(|e| {
                Error::Write(crate::fs::WriteError {
                    path: dir.clone(),
                    source: e.into(),
                })
            })?;
        let idt = idt_dir.path().join("RemoveFile.idt");
        crate::fs::atomic_write(&idt, src.remove_file_idt.as_bytes()).map_err(write_err(&idt))?;
        // wixl 0.101 leaves the database's code page neutral while it stores
        // UTF-8: Windows would read a non-ASCII name in the machine's ANSI
        // code page. The code page of what it stored, made explicit.
        let codepage = idt_dir.path().join("_ForceCodepage.idt");
        crate::fs::atomic_write(&codepage, b"\r\n\r\n65001\t_ForceCodepage\r\n")
            .map_err(write_err(&codepage))?;
        let mut args: Vec<std::ffi::OsString> = vec![
            partial.clone().into(),
            "-i".into(),
            "RemoveFile.idt".into(),
            "_ForceCodepage.idt".into(),
        ];
        for c in &src.data_components {
            args.push("-q".into());
            args.push(
                format!("UPDATE `Component` SET `Attributes` = {DATA_ATTRIBUTES} WHERE `Component` = '{c}'")
                    .into(),
            );
        }
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        run_tool(&msibuild, "msibuild", &args, idt_dir.path(), &partial)?;
        let package_code = derived_guid(&[
            "package",
            &src.wxs,
            &src.remove_file_idt,
            &crate::installer::tree_digest(bundle_dir)?,
            &file_time.to_string(),
        ]);
        set_summary(&partial, &package_code, file_time)?;
        Ok::<_, Error>(package_code)
    })();
    let package_code = match result {
        Ok(c) => c,
        Err(e) => {
            let _ = fs_err::remove_file(&partial);
            return Err(e);
        }
    };

    let signed = match signer {
        Some(signer) => {
            ctx.reporter.status("Signing", &file_name);
            let signed = partial.with_file_name(format!("{PARTIAL}.signed"));
            let verified = signer
                .sign(&partial, &signed, ctx)
                .and_then(|()| signer.verify(&signed));
            let _ = fs_err::remove_file(&partial);
            if let Err(e) = verified {
                let _ = fs_err::remove_file(&signed);
                return Err(e.into());
            }
            place(&signed, &path)?;
            true
        }
        None => {
            place(&partial, &path)?;
            false
        }
    };
    let read = |source| Error::Place {
        path: path.clone(),
        source,
    };
    let size = fs_err::metadata(&path).map_err(read)?.len();
    let sha256 = crate::fs::sha256_file(&path).map_err(read)?;
    ctx.reporter.status(
        "Built",
        &format!("{} ({:.1} MiB)", path.display(), size as f64 / 1048576.0),
    );
    Ok(Msi {
        path,
        file_name,
        size,
        sha256,
        product_version: plan.version.version.msi().unwrap_or_default(),
        product_code: product_code(plan),
        upgrade_code: upgrade_code(plan),
        package_code,
        scope: plan.config.windows.msi_scope,
        signed,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Move the finished package to `dest` (a rename, or a copy and a rename).
fn place(partial: &Path, dest: &Path) -> Result<(), Error> {
    let err = |source| Error::Place {
        path: dest.to_owned(),
        source,
    };
    fs_err::create_dir_all(dest.parent().unwrap_or(Path::new("."))).map_err(err)?;
    if fs_err::rename(partial, dest).is_ok() {
        return Ok(());
    }
    crate::fs::atomic_copy(partial, dest).map_err(err)?;
    let _ = fs_err::remove_file(partial);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_guids_are_stable_and_shaped() {
        let a = derived_guid(&["upgrade", "Example Corp", "hello_app"]);
        assert_eq!(a, derived_guid(&["upgrade", "Example Corp", "hello_app"]));
        assert_ne!(a, derived_guid(&["upgrade", "Example Corp", "hello_ap"]));
        // Parts are length-prefixed: moving a character across parts differs.
        assert_ne!(derived_guid(&["ab", "c"]), derived_guid(&["a", "bc"]));
        assert_eq!(a.len(), 38);
        assert!(a.starts_with('{') && a.ends_with('}'));
        assert_eq!(&a[15..16], "8", "version 8: {a}");
        assert!("89AB".contains(&a[20..21]), "variant: {a}");
    }

    #[test]
    fn values_are_escaped_or_refused() {
        assert_eq!(
            attr("n", "A & <B> \"c\" 'd'").unwrap(),
            "A &amp; &lt;B&gt; &quot;c&quot; &apos;d&apos;"
        );
        for bad in ["$(env.HOME)", "a$b", "x\ny"] {
            assert!(attr("n", bad).is_err(), "{bad}");
        }
        assert_eq!(
            formatted("n", "[ProgramFilesFolder]{x}").unwrap(),
            "[\\[]ProgramFilesFolder[\\]][\\{]x[\\}]"
        );
        assert!(file_name_attr("a/b:c", "b:c").is_err());
    }
}
