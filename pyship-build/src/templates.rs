//! Templates: the defaults embedded at compile time, overridable per project.
//!
//! Files ending in `.j2` are rendered with minijinja (strict undefined: a missing
//! value is an error, never an empty string); anything else is copied as is.
//! Every value inserted into a generated file goes through the escaping filter
//! of that file's language: `nsis`, `vbs`, `bat`, `sh`, `systemd`,
//! `systemd_quote`, `yaml`. A project overrides a default by putting a file of
//! the same name in its own `templates/` directory.
//!
//! The defaults live in the workspace's `templates/`; `pyship-build/templates`
//! is a symlink to it, which `cargo package` follows, so the published crate
//! carries the files (tested in `tests/`).

use std::path::{Path, PathBuf};

use minijinja::{Environment, UndefinedBehavior};

/// The embedded defaults: (file name, contents).
pub const DEFAULTS: &[(&str, &str)] = &[
    (
        "release-notes.md.j2",
        include_str!("../templates/release-notes.md.j2"),
    ),
    (
        "windows/installer.nsi.j2",
        include_str!("../templates/windows/installer.nsi.j2"),
    ),
    (
        "windows/start-hidden.vbs.j2",
        include_str!("../templates/windows/start-hidden.vbs.j2"),
    ),
    (
        "windows/sitecustomize.py.j2",
        include_str!("../templates/windows/sitecustomize.py.j2"),
    ),
    (
        "windows/start.bat.j2",
        include_str!("../templates/windows/start.bat.j2"),
    ),
    (
        "ci/test.yml.j2",
        include_str!("../templates/ci/test.yml.j2"),
    ),
    (
        "ci/release.yml.j2",
        include_str!("../templates/ci/release.yml.j2"),
    ),
    (
        "docker/Dockerfile.j2",
        include_str!("../templates/docker/Dockerfile.j2"),
    ),
    (
        "linux/run.sh.j2",
        include_str!("../templates/linux/run.sh.j2"),
    ),
    (
        "linux/app.service.j2",
        include_str!("../templates/linux/app.service.j2"),
    ),
    (
        "linux/install-service.sh.j2",
        include_str!("../templates/linux/install-service.sh.j2"),
    ),
    (
        "linux/uninstall-service.sh.j2",
        include_str!("../templates/linux/uninstall-service.sh.j2"),
    ),
    (
        "linux/README.txt.j2",
        include_str!("../templates/linux/README.txt.j2"),
    ),
    (
        "linux/deb/postinst.j2",
        include_str!("../templates/linux/deb/postinst.j2"),
    ),
    (
        "linux/deb/prerm.j2",
        include_str!("../templates/linux/deb/prerm.j2"),
    ),
    (
        "linux/deb/postrm.j2",
        include_str!("../templates/linux/deb/postrm.j2"),
    ),
    (
        "update/pyship_update/__init__.py",
        include_str!("../templates/update/pyship_update/__init__.py"),
    ),
    (
        "update/pyship_update/__main__.py",
        include_str!("../templates/update/pyship_update/__main__.py"),
    ),
    (
        "update/pyship_update/_helper.py",
        include_str!("../templates/update/pyship_update/_helper.py"),
    ),
    (
        "update/pyship_update/update.sh",
        include_str!("../templates/update/pyship_update/update.sh"),
    ),
    (
        "update/pyship_update/update.bat",
        include_str!("../templates/update/pyship_update/update.bat"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no template named `{0}`")]
    Missing(String),
    #[error("could not render template `{name}`{}", origin.as_ref().map(|p| format!(" ({})", p.display())).unwrap_or_default())]
    Render {
        name: String,
        origin: Option<PathBuf>,
        #[source]
        source: minijinja::Error,
    },
    #[error("could not read template override {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl crate::error::Hint for Error {
    fn hint(&self) -> Option<String> {
        match self {
            Error::Render { origin: Some(_), .. } => Some(
                "fix the project's template override; every variable it uses must exist (strict undefined)".into(),
            ),
            Error::Render { .. } => Some("this is a bug in cargo-pyship's default template; please report it".into()),
            Error::Missing(_) | Error::Read { .. } => None,
        }
    }
}

/// The template set of a run: defaults plus the project's overrides.
pub struct Templates {
    overrides: Option<PathBuf>,
}

impl Templates {
    /// `project_dir/templates/` overrides defaults when it exists.
    pub fn new(project_dir: Option<&Path>) -> Self {
        Self {
            overrides: project_dir
                .map(|d| d.join("templates"))
                .filter(|d| d.is_dir()),
        }
    }

    /// The source of `name` and where it came from (`None`: embedded default),
    /// with LF line endings whatever the file had: an override saved on
    /// Windows, or defaults embedded from a checkout with `core.autocrlf`,
    /// would otherwise give a `run.sh` whose `#!/bin/sh\r` no Linux can run.
    /// The Windows launchers get their CRLF when rendered, so every rendered
    /// file has the target's line endings, whatever the host.
    pub fn source(&self, name: &str) -> Result<(String, Option<PathBuf>), Error> {
        if let Some(dir) = &self.overrides {
            let p = dir.join(name);
            if p.is_file() {
                let text = fs_err::read_to_string(&p).map_err(|source| Error::Read {
                    path: p.clone(),
                    source,
                })?;
                return Ok((lf(text), Some(p)));
            }
        }
        DEFAULTS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| (lf((*t).to_owned()), None))
            .ok_or_else(|| Error::Missing(name.to_owned()))
    }

    /// Render `name` (a `.j2` file) with `ctx`.
    pub fn render(&self, name: &str, ctx: impl serde::Serialize) -> Result<String, Error> {
        let (src, origin) = self.source(name)?;
        render_str(name, &src, ctx, origin)
    }

    /// Render with `{{{ }}}` / `{%% %%}` delimiters, for files (CI YAML) whose
    /// own syntax uses `${{ }}`.
    pub fn render_yaml(&self, name: &str, ctx: impl serde::Serialize) -> Result<String, Error> {
        let (src, origin) = self.source(name)?;
        let mut env = environment();
        env.set_syntax(yaml_syntax());
        render_in(&env, name, &src, ctx, origin)
    }
}

/// CRLF → LF (a lone CR is left alone).
fn lf(text: String) -> String {
    if text.contains("\r\n") {
        text.replace("\r\n", "\n")
    } else {
        text
    }
}

fn render_str(
    name: &str,
    src: &str,
    ctx: impl serde::Serialize,
    origin: Option<PathBuf>,
) -> Result<String, Error> {
    render_in(&environment(), name, src, ctx, origin)
}

fn render_in(
    env: &Environment<'_>,
    name: &str,
    src: &str,
    ctx: impl serde::Serialize,
    origin: Option<PathBuf>,
) -> Result<String, Error> {
    let err = |source| Error::Render {
        name: name.to_owned(),
        origin: origin.clone(),
        source,
    };
    let tmpl = env.template_from_named_str(name, src).map_err(err)?;
    tmpl.render(minijinja::value::Serde(ctx)).map_err(err)
}

/// Delimiters, keeping a template's trailing newline (files end with one).
fn syntax(
    block: (&'static str, &'static str),
    variable: (&'static str, &'static str),
    comment: (&'static str, &'static str),
) -> minijinja::syntax::SyntaxConfig {
    minijinja::syntax::SyntaxConfig::builder()
        .block_delimiters(block.0, block.1)
        .variable_delimiters(variable.0, variable.1)
        .comment_delimiters(comment.0, comment.1)
        .keep_trailing_newline(true)
        .build()
        .expect("valid delimiters")
}

/// `{{{ }}}`, `{%% %%}`, `{## ##}`: no clash with `${{ }}` in CI YAML.
fn yaml_syntax() -> minijinja::syntax::SyntaxConfig {
    syntax(("{%%", "%%}"), ("{{{", "}}}"), ("{##", "##}"))
}

/// The minijinja environment: strict undefined, no auto-escaping (each value is
/// escaped explicitly for its language), and the escaping filters.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_syntax(syntax(("{%", "%}"), ("{{", "}}"), ("{#", "#}")));
    env.add_filter("nsis", |s: String| escape::nsis(&s));
    env.add_filter("nsis_literal", |s: String| escape::nsis_literal(&s));
    env.add_filter("vbs", |s: String| escape::vbs(&s));
    env.add_filter("bat", |s: String| escape::bat(&s));
    env.add_filter("sh", |s: String| escape::sh(&s));
    env.add_filter("systemd", |s: String| escape::systemd(&s));
    env.add_filter("systemd_quote", |s: String| escape::systemd_quote(&s));
    env.add_filter("systemd_exec", |s: String| escape::systemd_exec(&s));
    env.add_filter("yaml", |s: String| escape::yaml(&s));
    env
}

/// Escaping for each target language. Each returns text safe to put at the
/// documented spot of a template.
pub mod escape {
    /// Inside an NSIS double-quoted string: `$` → `$$`, `"` → `$\"`, and
    /// control characters as NSIS escapes.
    pub fn nsis(s: &str) -> String {
        // `$` doubled first: the escapes nsis_literal adds start with a `$`
        // that must stay single.
        nsis_literal(&s.replace('$', "$$"))
    }

    /// Inside an NSIS double-quoted string read at compile time only
    /// (`VIAddVersionKey`, `File`, `OutFile`): there makensis keeps `$` (and
    /// `$$`) as written and expands only the `$\` escapes.
    pub fn nsis_literal(s: &str) -> String {
        let mut o = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                '"' => o.push_str("$\\\""),
                '\n' => o.push_str("$\\n"),
                '\r' => o.push_str("$\\r"),
                '\t' => o.push_str("$\\t"),
                '`' => o.push_str("$\\`"),
                '\'' => o.push_str("$\\'"),
                c => o.push(c),
            }
        }
        o
    }

    /// Inside a VBScript double-quoted string: `"` → `""`; a line break leaves
    /// the string (`" & vbLf & "`).
    pub fn vbs(s: &str) -> String {
        s.replace('"', "\"\"")
            .replace("\r\n", "\n")
            .replace(['\n', '\r'], "\" & vbLf & \"")
    }

    /// Inside a double-quoted `cmd.exe` argument: `%` → `%%`; `"` and line
    /// breaks cannot be represented and are dropped.
    pub fn bat(s: &str) -> String {
        s.chars()
            .filter(|c| !matches!(c, '"' | '\n' | '\r'))
            .collect::<String>()
            .replace('%', "%%")
    }

    /// One POSIX shell word: single-quoted, `'` as `'\''`.
    pub fn sh(s: &str) -> String {
        format!("'{}'", s.replace('\'', "'\\''"))
    }

    /// A systemd unit value taken verbatim (Description=, WorkingDirectory=,
    /// User=): `%` specifiers escaped as `%%`, line breaks removed.
    pub fn systemd(s: &str) -> String {
        s.replace(['\n', '\r'], " ").replace('%', "%%")
    }

    /// One word of a systemd command line (ExecStart=): double-quoted with C
    /// escapes, `%` as `%%`, `$` as `$$`.
    pub fn systemd_quote(s: &str) -> String {
        let mut o = String::from("\"");
        for c in s.chars() {
            match c {
                '\\' => o.push_str("\\\\"),
                '"' => o.push_str("\\\""),
                '\n' => o.push_str("\\n"),
                '\r' => o.push_str("\\r"),
                '\t' => o.push_str("\\t"),
                '%' => o.push_str("%%"),
                '$' => o.push_str("$$"),
                c => o.push(c),
            }
        }
        o.push('"');
        o
    }

    /// The executable (first word) of a systemd command line: like
    /// [`systemd_quote`] but `$` stays single, because systemd expands no
    /// variables in the executable path and would look for a literal `$$`
    /// (measured with systemd 252: `systemd-analyze verify` reports the file
    /// as missing).
    pub fn systemd_exec(s: &str) -> String {
        systemd_quote(s).replace("$$", "$")
    }

    /// A YAML double-quoted scalar (JSON strings are valid YAML).
    pub fn yaml(s: &str) -> String {
        serde_json::to_string(s).expect("strings serialize")
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn escapes() {
            assert_eq!(nsis(r#"A "q" $HOME"#), r#"A $\"q$\" $$HOME"#);
            assert_eq!(nsis_literal(r#"A "q" $HOME"#), r#"A $\"q$\" $HOME"#);
            assert_eq!(vbs(r#"say "hi""#), r#"say ""hi"""#);
            assert_eq!(bat("100% done"), "100%% done");
            assert_eq!(sh("it's"), r#"'it'\''s'"#);
            assert_eq!(systemd("50% off"), "50%% off");
            assert_eq!(
                systemd_quote(r#"/opt/my app/run.sh"#),
                r#""/opt/my app/run.sh""#
            );
            assert_eq!(systemd_quote("$x%"), "\"$$x%%\"");
            assert_eq!(systemd_exec("/a $x%/r"), "\"/a $x%%/r\"");
            assert_eq!(yaml("a: \"b\""), r#""a: \"b\"""#);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `templates/` override saved with CRLF (an editor on Windows) renders
    /// with LF: the Linux scripts must run, whatever host wrote them.
    #[test]
    fn crlf_override_renders_with_lf() {
        let d = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(d.path().join("templates/linux")).unwrap();
        fs_err::write(
            d.path().join("templates/linux/run.sh.j2"),
            "#!/bin/sh\r\necho {{ name }}\r\n",
        )
        .unwrap();
        let t = Templates::new(Some(d.path()));
        let out = t
            .render("linux/run.sh.j2", minijinja::context! { name => "x" })
            .unwrap();
        assert_eq!(out, "#!/bin/sh\necho x\n");
    }

    #[test]
    fn strict_undefined() {
        let err = render_str("t", "{{ nope }}", minijinja::context! {}, None).unwrap_err();
        assert!(err.to_string().contains("`t`"));
    }

    #[test]
    fn yaml_delimiters_keep_github_expressions() {
        let t = Templates { overrides: None };
        let mut env = environment();
        env.set_syntax(yaml_syntax());
        let out = render_in(
            &env,
            "w.yml",
            "run: echo ${{ github.ref_name }} {{{ name | yaml }}}",
            minijinja::context! { name => "a" },
            None,
        )
        .unwrap();
        assert_eq!(out, "run: echo ${{ github.ref_name }} \"a\"");
        let _ = t;
    }
}
