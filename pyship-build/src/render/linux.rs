//! The Linux bundle's generated files: `run.sh`, `install-service.sh`,
//! `uninstall-service.sh` (with the systemd unit inside) and `README.txt`.
//!
//! Why the unit is inside `install-service.sh` and not a file of its own: its
//! `ExecStart=` must be the absolute path of `run.sh`, which is known only where
//! the bundle is unpacked. The unit is rendered here from `linux/app.service.j2`
//! with a marker for that folder, and the install script fills it in with the
//! folder's path escaped for systemd (`%` → `%%`; a path with quotes,
//! backslashes or control characters is refused, as systemd refuses such an
//! executable). `install-service.sh --print-unit` shows the result without
//! installing; `--user NAME` makes the service run as NAME (checked like
//! `linux.user`, and that it exists and can run `run.sh`).

use std::path::Path;

use serde::Serialize;

use crate::context::Context;
use crate::plan::Plan;
use crate::templates::Templates;

/// Replaced by `install-service.sh` with the install folder, escaped for
/// systemd. Neither filter the unit uses changes it.
pub const DIR_MARKER: &str = "@PYSHIP_DIR@";
/// The here-document delimiter that carries the unit inside `install-service.sh`.
const UNIT_END: &str = "PYSHIP_UNIT_END";

/// Template names (overridable in the project's `templates/`).
pub const RUN_SH: &str = "linux/run.sh.j2";
pub const UNIT: &str = "linux/app.service.j2";
pub const INSTALL_SERVICE: &str = "linux/install-service.sh.j2";
pub const UNINSTALL_SERVICE: &str = "linux/uninstall-service.sh.j2";
pub const README: &str = "linux/README.txt.j2";

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Template(#[from] crate::templates::Error),
    #[error("the rendered systemd unit has a line `{UNIT_END}`, which would end install-service.sh's here-document early")]
    #[diagnostic(help("remove the line `{UNIT_END}` from the project's templates/{UNIT}"))]
    UnitDelimiter,
    #[error("a value of the systemd unit holds `{DIR_MARKER}`, which install-service.sh replaces with the install folder")]
    #[diagnostic(help("remove `{DIR_MARKER}` from the app's name (and `linux.user`)"))]
    MarkerInValue,
    #[error(transparent)]
    #[diagnostic(transparent)]
    Write(#[from] crate::fs::OutputWriteError),
}

/// One generated file, relative to the bundle root.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct File {
    pub path: String,
    pub mode: u32,
    #[serde(skip)]
    pub contents: String,
}

/// The generated files of a Linux bundle, before they are written.
#[derive(Debug, Clone, Serialize)]
pub struct Generated {
    /// The systemd unit name, without `.service`.
    pub service: String,
    pub files: Vec<File>,
}

/// The values of the unit template.
#[derive(Debug, Clone, Serialize)]
pub struct Unit<'a> {
    pub name: &'a str,
    pub service: &'a str,
    /// Absolute path of `run.sh`.
    pub exec_start: &'a str,
    pub working_directory: &'a str,
    pub user: Option<&'a str>,
}

/// Render the unit for a known install location.
pub fn unit(templates: &Templates, unit: &Unit<'_>) -> Result<String, Error> {
    Ok(templates.render(UNIT, unit)?)
}

/// Every generated file of the Linux bundle of `plan`. `host_python` is the
/// interpreter a venv runtime is tied to (shown in the README).
pub fn files(
    plan: &Plan,
    templates: &Templates,
    host_python: Option<&str>,
) -> Result<Generated, Error> {
    let linux = &plan.config.linux;
    // The unit is named like every other file of the app (crate::names).
    let service = plan.file_name.clone();
    let mut out = vec![File {
        path: "run.sh".into(),
        mode: 0o755,
        contents: templates.render(
            RUN_SH,
            minijinja::context! {
                name => &plan.name,
                module => plan.launch.module_for(crate::platform::Platform::Linux),
            },
        )?,
    }];
    if linux.service {
        let render_unit = |dir: &str| {
            let exec_start = format!("{dir}/run.sh");
            unit(
                templates,
                &Unit {
                    name: &plan.name,
                    service: &service,
                    exec_start: &exec_start,
                    working_directory: dir,
                    user: linux.user.as_deref(),
                },
            )
        };
        let unit_text = render_unit(DIR_MARKER)?;
        // The marker must come only from the folder values: rendered with
        // another one, every marker (and nothing else) must change.
        let other = "@PYSHIP_OTHER_DIR@";
        if unit_text.replace(DIR_MARKER, other) != render_unit(other)? {
            return Err(Error::MarkerInValue);
        }
        if unit_text.lines().any(|l| l == UNIT_END) {
            return Err(Error::UnitDelimiter);
        }
        let mut unit_text = unit_text;
        if !unit_text.ends_with('\n') {
            unit_text.push('\n');
        }
        out.push(File {
            path: "install-service.sh".into(),
            mode: 0o755,
            contents: templates.render(
                INSTALL_SERVICE,
                minijinja::context! {
                    name => &plan.name,
                    service => &service,
                    unit => unit_text,
                    user => linux.user.as_deref().unwrap_or(""),
                },
            )?,
        });
        out.push(File {
            path: "uninstall-service.sh".into(),
            mode: 0o755,
            contents: templates.render(
                UNINSTALL_SERVICE,
                minijinja::context! { name => &plan.name, service => &service },
            )?,
        });
    }
    let runtime = linux.runtime.key();
    out.push(File {
        path: "README.txt".into(),
        mode: 0o644,
        contents: templates.render(
            README,
            minijinja::context! {
                name => &plan.name,
                version => plan.version.version.tag(),
                service => &service,
                service_scripts => linux.service,
                runtime => runtime,
                python => &plan.python.full,
                host_python => host_python.unwrap_or(""),
                app_sources => plan.app.dir.is_some(),
            },
        )?,
    });
    Ok(Generated {
        service,
        files: out,
    })
}

/// Render and write the Linux files into `bundle_dir`, with their modes.
/// Called by [`super::run`] for [`crate::platform::Platform::Linux`], after
/// the runtime is in `bundle_dir/python` (a venv's `pyvenv.cfg` names the host
/// interpreter the README warns about).
pub fn render(
    plan: &Plan,
    bundle_dir: &Path,
    ctx: &Context<'_>,
) -> Result<super::Rendered, super::Error> {
    let templates = Templates::new(Some(&plan.project.config_dir));
    let host_python = venv_base(&bundle_dir.join("python"));
    let generated = files(plan, &templates, host_python.as_deref())?;
    let mut written = Vec::new();
    for f in &generated.files {
        write(bundle_dir, f)?;
        written.push(bundle_dir.join(&f.path));
    }
    ctx.reporter.debug(&format!(
        "linux files: {} (service {}.service)",
        generated
            .files
            .iter()
            .map(|f| f.path.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        generated.service
    ));
    Ok(super::Rendered { files: written })
}

/// The base interpreter of a venv runtime (`executable`, else `home`, of its
/// `pyvenv.cfg`); `None` for a standalone runtime.
pub fn venv_base(python_dir: &Path) -> Option<String> {
    let cfg = fs_err::read_to_string(python_dir.join("pyvenv.cfg")).ok()?;
    let value = |key: &str| {
        cfg.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == key).then(|| v.trim().to_owned())
        })
    };
    value("executable").or_else(|| value("home"))
}

/// Write one file atomically with its mode.
pub fn write(bundle_dir: &Path, f: &File) -> Result<(), Error> {
    let path = bundle_dir.join(&f.path);
    let err = |source| {
        Error::Write(crate::fs::OutputWriteError {
            path: path.clone(),
            source,
        })
    };
    fs_err::create_dir_all(bundle_dir).map_err(|e| err(e.into()))?;
    crate::fs::atomic_write(&path, f.contents.as_bytes()).map_err(err)?;
    // On a Windows host there is no mode to set: the archive gives each entry
    // its mode from what it is.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(f.mode))
            .map_err(|e| err(e.into()))?;
    }
    Ok(())
}
