//! Windows launchers: `scripts/start-hidden.vbs` (the default launcher: no
//! visible window) and `scripts/start.bat` (a console with the app's log).
//!
//! The VBS runs `python.exe` with its console hidden, not `pythonw.exe`:
//! under `pythonw.exe` `sys.stdout` is `None`, and uvicorn's log
//! setup (`sys.stdout.isatty()`) then fails before the server starts (the
//! e2e test runs the VBS under wine with the hello fixture).
//!
//! Both are always in the bundle; `windows.launcher = "pythonw"` only changes
//! what the installer's shortcuts run (`python\pythonw.exe -m {module}`), since
//! Microsoft plans to switch VBScript off by default in Windows. For
//! that, `python/sitecustomize.py` points a missing stdout/stderr at
//! `logs\app.log`, so such servers start under `pythonw.exe` too.
//! Files get CRLF line endings: `cmd.exe` misparses labels and blocks in
//! LF-only batch files.
//!
//! Every launcher keeps the caller's working folder and appends the
//! arguments it was given; the app finds its own files from its install
//! folder (`__file__`, `sys.executable`), never from the working folder. A
//! console app ([`crate::launch::Kind::Console`]) also gets
//! `bin/{command}.cmd` (the console launcher under the command's name): the
//! folder the installer can put on the user's PATH.

use std::path::Path;

use serde::Serialize;

use super::{write, Error, Rendered};
use crate::config::Launcher;
use crate::context::Context;
use crate::launch::Kind;
use crate::plan::Plan;
use crate::templates::Templates;

/// (template, path in the bundle).
pub const FILES: &[(&str, &str)] = &[
    ("windows/start-hidden.vbs.j2", "scripts/start-hidden.vbs"),
    ("windows/start.bat.j2", "scripts/start.bat"),
    // Gives pythonw.exe a stdout (logs\\app.log): see the template's docstring.
    ("windows/sitecustomize.py.j2", "python/sitecustomize.py"),
];

/// The console launcher's template, also rendered as `bin/{command}.cmd`.
pub const CONSOLE_TEMPLATE: &str = "windows/start.bat.j2";

/// What the Windows templates see.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateContext<'a> {
    pub name: &'a str,
    pub module: &'a str,
    pub version: String,
    pub launcher: Launcher,
    /// `"console"` or `"gui"`.
    pub kind: Kind,
    /// A console app's command name (`bin/{command}.cmd`).
    pub command: String,
}

impl<'a> TemplateContext<'a> {
    pub fn new(plan: &'a Plan) -> Self {
        Self {
            name: &plan.name,
            module: plan.launch.module_for(crate::platform::Platform::Windows),
            version: plan.version.version.tag(),
            launcher: plan.config.windows.launcher,
            kind: plan.launch.kind,
            command: plan.launch.command(&plan.file_name),
        }
    }
}

/// The path of a console app's command in the bundle (`None` for a GUI app).
pub fn command_path(kind: Kind, command: &str) -> Option<String> {
    (kind == Kind::Console).then(|| format!("bin/{command}.cmd"))
}

/// Render every Windows template of [`FILES`] (and a console app's
/// `bin/{command}.cmd`) to (bundle path, text).
pub fn render_all(
    templates: &Templates,
    ctx: &TemplateContext<'_>,
) -> Result<Vec<(String, String)>, Error> {
    let mut out: Vec<(String, String)> = FILES
        .iter()
        .map(|(tmpl, dest)| {
            let text = templates.render(tmpl, ctx)?;
            Ok((dest.to_string(), crlf(&text)))
        })
        .collect::<Result<_, Error>>()?;
    if let Some(dest) = command_path(ctx.kind, &ctx.command) {
        out.push((dest, crlf(&templates.render(CONSOLE_TEMPLATE, ctx)?)));
    }
    Ok(out)
}

/// LF → CRLF (idempotent).
fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

/// Render the launchers into `{bundle}/scripts/`.
pub fn render(plan: &Plan, bundle: &Path, ctx: &Context<'_>) -> Result<Rendered, Error> {
    let templates = Templates::new(Some(&plan.project.config_dir));
    let mut files = Vec::new();
    for (dest, text) in render_all(&templates, &TemplateContext::new(plan))? {
        let path = bundle.join(&dest);
        write(&path, &text)?;
        files.push(path);
    }
    ctx.reporter
        .debug(&format!("rendered {} Windows launcher(s)", files.len()));
    Ok(Rendered { files })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_launchers_snapshot() {
        let t = Templates::new(None);
        let ctx = TemplateContext {
            name: "My \"Quoted\" App 100%",
            module: "my_app.main",
            version: "v1.2.3".into(),
            launcher: Launcher::Vbs,
            kind: Kind::Console,
            command: "my-app".into(),
        };
        let out = render_all(&t, &ctx).unwrap();
        let mut all = String::new();
        for (dest, text) in &out {
            assert!(
                !text.replace("\r\n", "").contains('\n'),
                "{dest}: LF-only line"
            );
            all.push_str(&format!("==> {dest}\n{}", text.replace("\r\n", "\n")));
        }
        insta::assert_snapshot!(all);
    }
}
