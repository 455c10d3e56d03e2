//! How the app starts, on every target: `python -m {module}`, or an entry
//! point (`pkg.mod:func`, from `module` or `[project.scripts]`), with the
//! configured `args` (per-target overrides in `[…pyship.windows]` /
//! `[…pyship.linux]`).
//!
//! Why a generated launcher module: an entry point is a function, which
//! `python -m` cannot start, and arguments would otherwise have to survive
//! the quoting rules of sh, cmd.exe, VBScript (whose `WScript.Shell.Run`
//! expands `%VARIABLES%`), NSIS shortcuts and systemd at once. With an entry
//! point or arguments, every launcher of a bundle runs `python -m
//! _pyship_launch`, a module written into `app/src/` that holds the target
//! and the arguments as Python literals; without either, launchers run
//! `python -m {module}` as before. Docker's CMD lists the arguments itself
//! (a JSON array needs no shell quoting).

use serde::Serialize;

use crate::config::Config;
use crate::error::escaped;
use crate::platform::Platform;
use crate::project::{normalize_dist_name, Pyproject};
use crate::templates::escape;

/// The generated launcher module (`app/src/_pyship_launch.py`).
pub const LAUNCHER_MODULE: &str = "_pyship_launch";

/// What the launchers start.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Target {
    /// `python -m {module}`.
    Module { module: String },
    /// `{module}:{function}` (an attribute path, `obj.method` allowed).
    EntryPoint {
        /// The `[project.scripts]` name, when it came from there.
        script: Option<String>,
        module: String,
        function: String,
    },
}

/// Console or GUI: what the Windows shortcuts do (see [`crate::config::AppKind`]).
pub use crate::config::AppKind as Kind;

/// The launch of the app, resolved once for the plan.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Launch {
    pub target: Target,
    /// Where the target came from (`module` in the table, `[project.scripts] name`, the dist name).
    pub origin: String,
    pub windows_args: Vec<String>,
    pub linux_args: Vec<String>,
    /// `kind` in the table; else a server (`port`) or a `[project.gui-scripts]`
    /// entry is a GUI app, a `[project.scripts]` entry a console app, and
    /// anything else a GUI app (started hidden, as before `kind` existed).
    pub kind: Kind,
    /// Why [`Self::kind`] is what it is.
    pub kind_origin: String,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("`{}` ({}) is not a module or an entry point `package.module:function`", escaped(.value), escaped(.origin))]
    #[diagnostic(help(
        "use dotted Python identifiers, e.g. module = \"app.main\" or module = \"app.cli:main\""
    ))]
    BadTarget { value: String, origin: String },
    #[error(
        "{pyproject} has several [project.scripts] ({}) and none is named after the project",
        escaped(.names)
    )]
    #[diagnostic(help(
        "choose one with `module = \"package.module:function\"` in the pyship table"
    ))]
    SeveralScripts { pyproject: String, names: String },
}

/// `s` is a Python module path: identifiers joined by dots (`pkg._native`).
pub(crate) fn is_dotted_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|part| {
            let mut chars = part.chars();
            chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
                && chars.all(|c| c == '_' || c.is_alphanumeric())
        })
}

/// Parse `pkg.mod` or `pkg.mod:func` (entry-point syntax; extras `[x]` ignored).
fn parse_target(value: &str, script: Option<&str>, origin: &str) -> Result<Target, Error> {
    let bad = || Error::BadTarget {
        value: value.to_owned(),
        origin: origin.to_owned(),
    };
    let v = value.split('[').next().unwrap_or(value).trim();
    match v.split_once(':') {
        Some((m, f)) => {
            let (m, f) = (m.trim(), f.trim());
            if !is_dotted_identifier(m) || !is_dotted_identifier(f) {
                return Err(bad());
            }
            Ok(Target::EntryPoint {
                script: script.map(str::to_owned),
                module: m.to_owned(),
                function: f.to_owned(),
            })
        }
        None if is_dotted_identifier(v) => Ok(Target::Module {
            module: v.to_owned(),
        }),
        None => Err(bad()),
    }
}

impl Target {
    /// The target as `module` spells it: `pkg.mod` or `pkg.mod:func`.
    pub fn spec(&self) -> String {
        match self {
            Target::Module { module } => module.clone(),
            Target::EntryPoint {
                module, function, ..
            } => format!("{module}:{function}"),
        }
    }
}

impl Launch {
    /// `module` from the config, else the entry point of `[project.scripts]`
    /// (the one named after the project, or the only one), else the dist name.
    pub fn resolve(config: &Config, py: &Pyproject) -> Result<Self, Error> {
        let (target, origin) = if let Some(m) = &config.module {
            let origin = "`module` in the pyship table".to_owned();
            (parse_target(m, None, &origin)?, origin)
        } else if !py.scripts.is_empty() {
            let dist = py.dist_name();
            let chosen = py
                .scripts
                .iter()
                .find(|(name, _)| normalize_dist_name(name) == dist)
                .or_else(|| {
                    (py.scripts.len() == 1)
                        .then(|| py.scripts.iter().next())
                        .flatten()
                });
            let Some((name, value)) = chosen else {
                return Err(Error::SeveralScripts {
                    pyproject: py.path.display().to_string(),
                    names: py.scripts.keys().cloned().collect::<Vec<_>>().join(", "),
                });
            };
            let origin = format!("[project.scripts] {name} in {}", py.path.display());
            (parse_target(value, Some(name), &origin)?, origin)
        } else {
            let dist = py.dist_name();
            (
                Target::Module { module: dist },
                format!("the project name in {}", py.path.display()),
            )
        };
        let script = match &target {
            Target::EntryPoint {
                script: Some(s), ..
            } => Some(s.as_str()),
            _ => None,
        };
        let (kind, kind_origin) = match (config.kind, config.port, script) {
            (Some(k), ..) => (k, "`kind` in the pyship table".to_owned()),
            (None, Some(_), _) => (Kind::Gui, "`port` is set (a server)".to_owned()),
            (None, None, Some(s)) if py.gui_scripts.iter().any(|g| g == s) => {
                (Kind::Gui, format!("[project.gui-scripts] {s}"))
            }
            (None, None, Some(s)) => (Kind::Console, format!("[project.scripts] {s}")),
            (None, None, None) => (
                Kind::Gui,
                "the default for a module (set `kind = \"console\"` for a command-line tool)"
                    .to_owned(),
            ),
        };
        Ok(Self {
            target,
            origin,
            kind,
            kind_origin,
            windows_args: config
                .windows
                .args
                .clone()
                .unwrap_or_else(|| config.args.clone()),
            linux_args: config
                .linux
                .args
                .clone()
                .unwrap_or_else(|| config.args.clone()),
        })
    }

    /// The name of a console app's command (`bin\\{command}.cmd` in the
    /// Windows bundle, what the user types once it is on PATH): its
    /// `[project.scripts]` name when that is a valid file name, else the
    /// app's file name.
    pub fn command(&self, file_name: &str) -> String {
        match &self.target {
            Target::EntryPoint {
                script: Some(s), ..
            } if crate::names::validate(s).is_ok() => s.clone(),
            _ => file_name.to_owned(),
        }
    }

    /// The app's own module (the entry point's module, or the module run).
    pub fn app_module(&self) -> &str {
        match &self.target {
            Target::Module { module } | Target::EntryPoint { module, .. } => module,
        }
    }

    /// The arguments the launchers of `platform` pass.
    pub fn args(&self, platform: Platform) -> &[String] {
        match platform {
            Platform::Windows => &self.windows_args,
            Platform::Linux => &self.linux_args,
        }
    }

    /// Whether `platform`'s bundle starts through [`LAUNCHER_MODULE`]: for
    /// an entry point, for args, and for a module named with non-ASCII
    /// letters (cmd.exe reads a batch file in the OEM code page, so only a
    /// Python literal carries such a name to every launcher intact).
    pub fn uses_launcher(&self, platform: Platform) -> bool {
        matches!(self.target, Target::EntryPoint { .. })
            || !self.args(platform).is_empty()
            || !self.app_module().is_ascii()
    }

    /// What `python -m` runs in `platform`'s bundle.
    pub fn module_for(&self, platform: Platform) -> &str {
        if self.uses_launcher(platform) {
            LAUNCHER_MODULE
        } else {
            self.app_module()
        }
    }

    /// The Python statement that starts the target (one line; the names are
    /// Python string literals).
    fn start_statement(&self) -> String {
        match &self.target {
            Target::Module { module } => format!(
                "import runpy; runpy.run_module({}, run_name='__main__', alter_sys=True)",
                escape::py(module)
            ),
            Target::EntryPoint {
                module, function, ..
            } => format!(
                "import functools, importlib, sys; sys.exit(functools.reduce(getattr, {}, importlib.import_module({}))())",
                escape::py_list(&function.split('.').collect::<Vec<_>>()),
                escape::py(module)
            ),
        }
    }

    /// The source of `app/src/_pyship_launch.py` for `platform`, when it uses one.
    pub fn launcher_source(&self, platform: Platform) -> Option<String> {
        if !self.uses_launcher(platform) {
            return None;
        }
        let prog = match &self.target {
            Target::EntryPoint {
                script: Some(s), ..
            } => s.clone(),
            _ => self.app_module().to_owned(),
        };
        // Every value is a Python string literal; none is in a comment or docstring.
        Some(format!(
            "\"\"\"Generated by cargo-pyship: starts the app with the configured args.\"\"\"\n\
             import sys\n\n\
             # The configured args come first, then whatever the launcher was given.\n\
             sys.argv = [{prog}] + {args} + sys.argv[1:]\n\
             {start}\n",
            prog = escape::py(&prog),
            args = escape::py_list(self.args(platform)),
            start = self.start_statement(),
        ))
    }

    /// Docker's CMD (exec form): the Linux args, listed.
    pub fn docker_cmd(&self) -> Vec<String> {
        let mut cmd = vec!["python".to_owned()];
        match &self.target {
            Target::Module { module } => cmd.extend(["-m".to_owned(), module.clone()]),
            Target::EntryPoint { .. } => cmd.extend(["-c".to_owned(), self.start_statement()]),
        }
        cmd.extend(self.linux_args.iter().cloned());
        cmd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!(
            parse_target("pkg.cli:main", None, "x").unwrap(),
            Target::EntryPoint {
                script: None,
                module: "pkg.cli".into(),
                function: "main".into()
            }
        );
        assert_eq!(
            parse_target("pkg.main", None, "x").unwrap(),
            Target::Module {
                module: "pkg.main".into()
            }
        );
        for bad in ["", "pkg-x", "pkg:", ":f", "a b", "pkg.:f", "1pkg"] {
            assert!(parse_target(bad, None, "x").is_err(), "{bad}");
        }
    }

    /// Console or GUI: `kind` wins, then `port`, then where the entry point
    /// came from; a plain module stays a (hidden) GUI app.
    #[test]
    fn kind_follows_the_table_port_and_scripts() {
        use serde_json::json;
        let d = tempfile::tempdir().unwrap();
        let py = |extra: &str| {
            let p = d.path().join("pyproject.toml");
            fs_err::write(
                &p,
                format!("[project]\nname = \"tool\"\nversion = \"1.0\"\n{extra}"),
            )
            .unwrap();
            Pyproject::read(&p).unwrap()
        };
        let config = |v: serde_json::Value| {
            crate::config::RawConfig::from_json(&v, "t", std::path::Path::new("Cargo.toml"))
                .unwrap()
                .resolve("tool")
        };
        let kind = |c: serde_json::Value, extra: &str| {
            let l = Launch::resolve(&config(c), &py(extra)).unwrap();
            (l.kind, l.command("Tool-App"))
        };
        let scripts = "[project.scripts]\ntool = \"tool.cli:main\"\n";
        let gui = "[project.gui-scripts]\ntool = \"tool.gui:main\"\n";
        assert_eq!(kind(json!({}), scripts), (Kind::Console, "tool".into()));
        assert_eq!(kind(json!({}), gui), (Kind::Gui, "tool".into()));
        assert_eq!(kind(json!({"port": 8000}), scripts).0, Kind::Gui);
        assert_eq!(kind(json!({"kind": "gui"}), scripts).0, Kind::Gui);
        assert_eq!(
            kind(json!({"kind": "console", "port": 1}), "").0,
            Kind::Console
        );
        assert_eq!(kind(json!({}), "").0, Kind::Gui);
        assert_eq!(
            kind(json!({"kind": "console", "module": "tool.cli:main"}), ""),
            (Kind::Console, "Tool-App".into())
        );
        // A script name that is no file name: the app's file name.
        let odd = "[project.scripts]\n\"tool cmd\" = \"tool.cli:main\"\n";
        assert_eq!(kind(json!({}), odd), (Kind::Console, "Tool-App".into()));
    }

    #[test]
    fn launcher_quotes_args_as_python_literals() {
        let l = Launch {
            target: Target::EntryPoint {
                script: Some("app".into()),
                module: "pkg.cli".into(),
                function: "Main.run".into(),
            },
            origin: String::new(),
            kind: Kind::Gui,
            kind_origin: String::new(),
            windows_args: vec![r#"it's "x" 100% %PATH% \ "#.into()],
            linux_args: vec![],
        };
        let src = l.launcher_source(Platform::Windows).unwrap();
        assert!(
            src.contains(r#"sys.argv = ["app"] + ["it's \"x\" 100% %PATH% \\ "] + sys.argv[1:]"#),
            "{src}"
        );
        assert!(
            src.contains(
                r#"functools.reduce(getattr, ["Main", "run"], importlib.import_module("pkg.cli"))"#
            ),
            "{src}"
        );
        assert_eq!(l.module_for(Platform::Linux), LAUNCHER_MODULE);
        let plain = Launch {
            target: Target::Module {
                module: "pkg".into(),
            },
            origin: String::new(),
            kind: Kind::Gui,
            kind_origin: String::new(),
            windows_args: vec![],
            linux_args: vec!["--db".into(), "a b.db".into()],
        };
        assert_eq!(plain.module_for(Platform::Windows), "pkg");
        let unicode = Launch {
            target: Target::Module {
                module: "café.main".into(),
            },
            origin: String::new(),
            kind: Kind::Gui,
            kind_origin: String::new(),
            windows_args: vec![],
            linux_args: vec![],
        };
        assert_eq!(unicode.module_for(Platform::Windows), LAUNCHER_MODULE);
        assert!(unicode
            .launcher_source(Platform::Windows)
            .unwrap()
            .contains(r#"runpy.run_module("café.main""#));
        assert!(plain.launcher_source(Platform::Windows).is_none());
        assert_eq!(plain.module_for(Platform::Linux), LAUNCHER_MODULE);
        assert_eq!(
            plain.docker_cmd(),
            ["python", "-m", "pkg", "--db", "a b.db"]
        );
    }
}
