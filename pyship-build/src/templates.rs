//! Templates: the defaults embedded at compile time, overridable per project.
//!
//! Files ending in `.j2` are rendered with minijinja (strict undefined: a missing
//! value is an error, never an empty string); anything else is copied as is.
//! Every value inserted into a generated file goes through the escaping filter
//! of that file's language ([`escape`]: `py`, `nsis`, `nsis_literal`, `vbs`,
//! `bat`, `sh`, `systemd`, `systemd_quote`, `systemd_exec`, `yaml`, `json`,
//! `md`, `md_code`, `md_url`). A project overrides a default by putting a file
//! of the same name in its own `templates/` directory.
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
        "update/pyship_update/_minisign.py",
        include_str!("../templates/update/pyship_update/_minisign.py"),
    ),
    (
        "update/pyship_update/update.sh",
        include_str!("../templates/update/pyship_update/update.sh"),
    ),
];

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("no template named `{0}`")]
    Missing(String),
    #[error("could not render template `{name}`{}", origin.as_ref().map(|p| format!(" ({})", p.display())).unwrap_or_default())]
    #[diagnostic(help("{}", render_hint(.origin)))]
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
        #[diagnostic_source]
        source: crate::fs::Error,
    },
    /// An override that is a named pipe, socket or device: refused, not
    /// passed over for the default (the project meant to override it).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Special(#[from] crate::fs::Error),
}

/// A project's override is the project's to fix; a default template's
/// error is a bug of this crate.
fn render_hint(origin: &Option<PathBuf>) -> &'static str {
    match origin {
        Some(_) => "fix the project's template override; every variable it uses must exist (strict undefined)",
        None => "this is a bug in cargo-pyship's default template; please report it",
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
            crate::fs::check_not_special(&p)?;
            if p.is_file() {
                let text = crate::fs::read_small_to_string(&p).map_err(|source| Error::Read {
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
/// escaped explicitly for its language), and the escaping filters of
/// [`escape`], one per language. A filter fails the render (naming the
/// language and the value) when its language cannot carry the value at all.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_syntax(syntax(("{%", "%}"), ("{{", "}}"), ("{#", "#}")));
    fn fallible(
        f: fn(&str) -> Result<String, escape::Unrepresentable>,
    ) -> impl Fn(String) -> Result<String, minijinja::Error> + Send + Sync + 'static {
        move |s: String| {
            f(&s).map_err(|e| {
                minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
            })
        }
    }
    env.add_filter("py", |s: String| escape::py(&s));
    env.add_filter("nsis", fallible(escape::nsis));
    env.add_filter("nsis_literal", fallible(escape::nsis_literal));
    env.add_filter("vbs", |s: String| escape::vbs(&s));
    env.add_filter("bat", fallible(escape::bat));
    env.add_filter("sh", fallible(escape::sh));
    env.add_filter("systemd", fallible(escape::systemd));
    env.add_filter("systemd_quote", fallible(escape::systemd_quote));
    env.add_filter("systemd_exec", fallible(escape::systemd_exec));
    env.add_filter("yaml", |s: String| escape::yaml(&s));
    env.add_filter("json", |s: String| escape::json(&s));
    env.add_filter("md", |s: String| escape::md(&s));
    env.add_filter("md_code", |s: String| escape::md_code(&s));
    env.add_filter("md_url", |s: String| escape::md_url(&s));
    env
}

/// Escaping for each target language: the one place a value is made safe for
/// a generated file. Each function returns text that, put at the documented
/// spot of a template, reads back as exactly the value and as nothing else
/// (no variable, specifier, expression or line of its own). Where a language
/// has no way to carry some character, the function refuses the value
/// ([`escape::Unrepresentable`]) rather than change it; config validation refuses
/// such values earlier with a hint (see `config`).
pub mod escape {
    use std::fmt::Write as _;

    /// A value a target language cannot carry.
    #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
    #[error("{language} cannot carry {what} (in {value:?})")]
    pub struct Unrepresentable {
        pub language: &'static str,
        pub what: &'static str,
        pub value: String,
    }

    fn refuse(language: &'static str, what: &'static str, value: &str) -> Unrepresentable {
        Unrepresentable {
            language,
            what,
            value: value.to_owned(),
        }
    }

    /// Characters that end or split a line somewhere (Python's `str.splitlines`,
    /// YAML, editors), beyond the ASCII controls.
    fn is_line_like(c: char) -> bool {
        matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}')
    }

    /// The C escape of a backslash, a double quote, LF, CR and tab: the same
    /// in Python, YAML and systemd double-quoted strings.
    fn c_escape(c: char) -> Option<&'static str> {
        Some(match c {
            '\\' => "\\\\",
            '"' => "\\\"",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            _ => return None,
        })
    }

    /// A Python string literal (double-quoted), as `repr` would write it:
    /// backslash, quote, every control, line-like and format character
    /// escaped, so the literal is one token on one line whatever the value.
    pub fn py(s: &str) -> String {
        let mut o = String::with_capacity(s.len() + 2);
        o.push('"');
        for c in s.chars() {
            if let Some(e) = c_escape(c) {
                o.push_str(e);
                continue;
            }
            match c {
                c if (c as u32) < 0x100 && (c.is_control()) => {
                    let _ = write!(o, "\\x{:02x}", c as u32);
                }
                c if c.is_control() || is_line_like(c) || is_format(c) => {
                    let _ = if (c as u32) <= 0xffff {
                        write!(o, "\\u{:04x}", c as u32)
                    } else {
                        write!(o, "\\U{:08x}", c as u32)
                    };
                }
                c => o.push(c),
            }
        }
        o.push('"');
        o
    }

    /// A Python list of string literals.
    pub fn py_list<S: AsRef<str>>(items: &[S]) -> String {
        let words: Vec<String> = items.iter().map(|s| py(s.as_ref())).collect();
        format!("[{}]", words.join(", "))
    }

    /// Invisible format characters (bidi overrides, zero-width joiners, BOM):
    /// escaped in source so the text reads as what it does.
    fn is_format(c: char) -> bool {
        matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}' | '\u{feff}')
    }

    /// NSIS (as makensis 3.08 behaves): its preprocessor replaces `$%VAR%`
    /// (the build's environment) and `${define}` in every line before
    /// anything else, and `$$` does not stop it (`$$%X%` expands too). Its
    /// built-in `${U+XXXX}` gives one character and is not expanded again,
    /// so a `$` of a value is written as `${U+24}` and no `$%`, `${` or `$(`
    /// is ever formed. `"`, `'` and `` ` `` are the tokenizer's `$\"`, `$\'`,
    /// `` $\` `` (a `${U+22}` would end the string); control characters are
    /// `${U+XX}`. NUL cannot be carried. Not for the body of a `!define`:
    /// makensis expands a define's text again where it is used.
    /// A value ending in `$\` is refused: its closing quote would read as the
    /// tokenizer's `$\"` (which makensis finds before it turns `$$` into one
    /// `$`), and no escape of `\` keeps it from that.
    fn nsis_with(s: &str, dollar: &str) -> Result<String, Unrepresentable> {
        if s.ends_with("$\\") {
            return Err(refuse("NSIS", "`$\\` at its end", s));
        }
        let mut o = String::with_capacity(s.len());
        let own = |c| match c {
            '$' => Some(dollar),
            '"' => Some("$\\\""),
            '\'' => Some("$\\'"),
            '`' => Some("$\\`"),
            _ => None,
        };
        escape_chars(s, "NSIS", own, |o, c| write!(o, "${{U+{c:X}}}"), &mut o)?;
        Ok(o)
    }

    /// Write `s` escaped one character at a time into `o`: NUL is refused
    /// (`lang` names the target), `own` gives a character's escape of its
    /// own, `code` writes any other control or line-like character by its
    /// code point, and the rest stays as it is.
    fn escape_chars<'e>(
        s: &str,
        lang: &'static str,
        own: impl Fn(char) -> Option<&'e str>,
        code: fn(&mut String, u32) -> std::fmt::Result,
        o: &mut String,
    ) -> Result<(), Unrepresentable> {
        for c in s.chars() {
            if c == '\0' {
                return Err(refuse(lang, "a NUL character", s));
            } else if let Some(e) = own(c) {
                o.push_str(e);
            } else if c.is_control() || is_line_like(c) {
                let _ = code(o, c as u32);
            } else {
                o.push(c);
            }
        }
        Ok(())
    }

    /// Inside an NSIS double-quoted string used when the installer runs
    /// (`Name`, `WriteRegStr`, `MessageBox`, paths): there the installer
    /// turns `$x` into a variable, so a `$` is `${U+24}${U+24}` (`$$` after
    /// preprocessing, one `$` at run time). See `nsis_with`.
    pub fn nsis(s: &str) -> Result<String, Unrepresentable> {
        nsis_with(s, "${U+24}${U+24}")
    }

    /// Inside an NSIS double-quoted string read only at compile time
    /// (`VIAddVersionKey`, `File`, `OutFile`, `!uninstfinalize`): there
    /// makensis keeps a `$` as written, so it is `${U+24}`. See `nsis_with`.
    pub fn nsis_literal(s: &str) -> Result<String, Unrepresentable> {
        nsis_with(s, "${U+24}")
    }

    /// Inside a VBScript double-quoted string: `"` → `""`; a control or
    /// non-ASCII character leaves the string as `" & ChrW(n) & "` (wscript
    /// reads a script in the ANSI code page, so only ASCII is kept as is).
    pub fn vbs(s: &str) -> String {
        let mut o = String::with_capacity(s.len());
        let mut units = [0u16; 2];
        for c in s.chars() {
            match c {
                '"' => o.push_str("\"\""),
                ' '..='~' => o.push(c),
                c => {
                    for u in c.encode_utf16(&mut units) {
                        // ChrW takes -32768..65535; a negative code is the same unit.
                        let _ = write!(o, "\" & ChrW({}) & \"", *u as i16);
                    }
                }
            }
        }
        o
    }

    /// Inside a double-quoted `cmd.exe` argument in a batch file: `%` →
    /// `%%`; `^ & | < >` are literal inside the quotes (delayed expansion is
    /// off). A quote or a control character cannot be carried.
    pub fn bat(s: &str) -> Result<String, Unrepresentable> {
        if let Some(c) = s
            .chars()
            .find(|c| *c == '"' || c.is_control() || is_line_like(*c))
        {
            return Err(refuse(
                "a cmd.exe batch file",
                if c == '"' {
                    "a double quote inside a quoted argument"
                } else {
                    "a control character"
                },
                s,
            ));
        }
        Ok(s.replace('%', "%%"))
    }

    /// One POSIX shell word: single-quoted, `'` as `'\''`. NUL cannot be carried.
    pub fn sh(s: &str) -> Result<String, Unrepresentable> {
        if s.contains('\0') {
            return Err(refuse("a POSIX shell script", "a NUL character", s));
        }
        Ok(format!("'{}'", s.replace('\'', "'\\''")))
    }

    /// A systemd unit value taken verbatim (`Description=`,
    /// `WorkingDirectory=`, `User=`): `%` specifiers as `%%`. A line ending
    /// in an odd run of backslashes continues on the next line (it would
    /// swallow the next directive), so such a value gets a trailing space,
    /// which systemd strips from the value. systemd has no escape for a line
    /// break or another control character in such a value: refused.
    pub fn systemd(s: &str) -> Result<String, Unrepresentable> {
        if s.chars().any(|c| c.is_control() || is_line_like(c)) {
            return Err(refuse(
                "a systemd unit value",
                "a line break or control character",
                s,
            ));
        }
        let mut o = s.replace('%', "%%");
        let trailing = o.chars().rev().take_while(|c| *c == '\\').count();
        if trailing % 2 == 1 {
            o.push(' ');
        }
        Ok(o)
    }

    /// One word of a systemd command line (`ExecStart=`): double-quoted with
    /// C escapes, `%` as `%%`, `$` as `$$`. NUL cannot be carried.
    pub fn systemd_quote(s: &str) -> Result<String, Unrepresentable> {
        let mut o = String::from("\"");
        let own = |c| match c {
            '%' => Some("%%"),
            '$' => Some("$$"),
            c => c_escape(c),
        };
        let code = |o: &mut String, c| write!(o, "\\u{c:04x}");
        escape_chars(s, "a systemd command line", own, code, &mut o)?;
        o.push('"');
        Ok(o)
    }

    /// The executable (first word) of a systemd command line: like
    /// [`systemd_quote`] but `$` stays single, because systemd expands no
    /// variables in the executable path and would look for a literal `$$`
    /// (systemd 252's `systemd-analyze verify` reports such a file as
    /// missing).
    pub fn systemd_exec(s: &str) -> Result<String, Unrepresentable> {
        Ok(systemd_quote(s)?.replace("$$", "$"))
    }

    /// A double-quoted scalar in a GitHub/Gitea Actions workflow: YAML
    /// escapes for `\`, `"` and every character YAML does not allow raw or
    /// reads as a line break, and `${{` (which the runner would evaluate as an
    /// expression, in any string) written as the expression `${{ '${{' }}`,
    /// whose value is those three characters.
    pub fn yaml(s: &str) -> String {
        let mut o = String::with_capacity(s.len() + 2);
        o.push('"');
        let mut rest = s;
        while let Some(c) = rest.chars().next() {
            if rest.starts_with("${{") {
                o.push_str("${{ '${{' }}");
                rest = &rest[3..];
                continue;
            }
            rest = &rest[c.len_utf8()..];
            if let Some(e) = c_escape(c) {
                o.push_str(e);
                continue;
            }
            match c {
                // YAML's printable set: tab, LF, CR, 0x20-0x7E, 0x85, 0xA0-0xD7FF,
                // 0xE000-0xFFFD, 0x10000 and up; 0x85, 0x2028, 0x2029 break lines.
                c if (c as u32) < 0x20
                    || ('\u{7f}'..='\u{9f}').contains(&c)
                    || is_line_like(c)
                    || matches!(c, '\u{fffe}' | '\u{ffff}' | '\u{feff}') =>
                {
                    let _ = if (c as u32) < 0x100 {
                        write!(o, "\\x{:02x}", c as u32)
                    } else {
                        write!(o, "\\u{:04x}", c as u32)
                    };
                }
                c => o.push(c),
            }
        }
        o.push('"');
        o
    }

    /// A JSON string (a Dockerfile's exec-form arrays are JSON).
    pub fn json(s: &str) -> String {
        serde_json::to_string(s).expect("strings serialize")
    }

    /// Markdown text, also safe inside a table cell: every ASCII punctuation
    /// character backslash-escaped (CommonMark allows it for all of them), so
    /// no emphasis, link, HTML, entity, heading, list or cell border starts;
    /// line breaks and other controls become spaces.
    pub fn md(s: &str) -> String {
        let mut o = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                c if c.is_ascii_punctuation() => {
                    o.push('\\');
                    o.push(c);
                }
                c if c.is_control() || is_line_like(c) => o.push(' '),
                c => o.push(c),
            }
        }
        o
    }

    /// Inside a single-backtick code span in a table cell: no backtick (it
    /// would end the span), `|` as `\|`, controls as spaces.
    pub fn md_code(s: &str) -> String {
        s.chars()
            .filter(|c| *c != '`')
            .map(|c| {
                if c.is_control() || is_line_like(c) {
                    ' '
                } else {
                    c
                }
            })
            .collect::<String>()
            .replace('|', "\\|")
    }

    /// A URL inside `<…>` (a link destination in a table cell): everything
    /// but ASCII letters, digits and URL punctuation percent-encoded (as
    /// UTF-8), including `<`, `>`, `\`, `|`, spaces and controls.
    pub fn md_url(s: &str) -> String {
        let mut o = String::with_capacity(s.len());
        for c in s.chars() {
            if c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c) {
                o.push(c);
            } else {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(o, "%{b:02X}");
                }
            }
        }
        o
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn escapes() {
            assert_eq!(
                nsis(r#"A "q" $HOME"#).unwrap(),
                r#"A $\"q$\" ${U+24}${U+24}HOME"#
            );
            assert_eq!(nsis_literal("$%X% ${D}").unwrap(), "${U+24}%X% ${U+24}{D}");
            assert_eq!(nsis("a\nb").unwrap(), "a${U+A}b");
            assert!(nsis("a\0").is_err());
            assert!(nsis("Evil $\\").is_err());
            assert!(nsis_literal("Pub $\\").is_err());
            assert_eq!(nsis("a$\\b\\").unwrap(), "a${U+24}${U+24}\\b\\");
            assert_eq!(vbs(r#"say "hi""#), r#"say ""hi"""#);
            assert_eq!(vbs("é\n"), "\" & ChrW(233) & \"\" & ChrW(10) & \"");
            assert_eq!(bat("100% done").unwrap(), "100%% done");
            assert!(bat("a\"b").is_err());
            assert_eq!(sh("it's").unwrap(), r#"'it'\''s'"#);
            assert_eq!(systemd("50% off").unwrap(), "50%% off");
            assert_eq!(systemd("nobody\\").unwrap(), "nobody\\ ");
            assert_eq!(systemd("a\\\\").unwrap(), "a\\\\");
            assert!(systemd("a\nb").is_err());
            assert_eq!(
                systemd_quote(r#"/opt/my app/run.sh"#).unwrap(),
                r#""/opt/my app/run.sh""#
            );
            assert_eq!(systemd_quote("$x%").unwrap(), "\"$$x%%\"");
            assert_eq!(systemd_exec("/a $x%/r").unwrap(), "\"/a $x%%/r\"");
            assert_eq!(yaml("a: \"b\""), r#""a: \"b\"""#);
            assert_eq!(
                yaml("x ${{ secrets.T }}\u{7f}\u{2028}"),
                r#""x ${{ '${{' }} secrets.T }}\x7f\u2028""#
            );
            assert_eq!(py("a\"\\\n\u{0}\u{2028}"), r#""a\"\\\n\x00\u2028""#);
            assert_eq!(py_list(&["a", "b'"]), r#"["a", "b'"]"#);
            assert_eq!(json("a\"b"), r#""a\"b""#);
        }

        #[test]
        fn markdown_escapes() {
            assert_eq!(md("a|b *c* [d](e)"), "a\\|b \\*c\\* \\[d\\]\\(e\\)");
            assert_eq!(md("x\ny"), "x y");
            assert_eq!(md("1. -"), "1\\. \\-");
            assert_eq!(md_code("ab`|c"), "ab\\|c");
            assert_eq!(md_url("http://h/a b>"), "http://h/a%20b%3E");
            assert_eq!(md_url("http://h/\\é|"), "http://h/%5C%C3%A9%7C");
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

    /// An override that is a named pipe is refused naming it: neither read
    /// (which would wait for a writer forever) nor passed over for the
    /// default the project meant to replace.
    #[cfg(unix)]
    #[test]
    fn a_named_pipe_override_is_refused() {
        let d = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(d.path().join("templates/linux")).unwrap();
        let pipe = d.path().join("templates/linux/run.sh.j2");
        crate::fs::test_support::make_fifo(&pipe);
        let e = Templates::new(Some(d.path()))
            .source("linux/run.sh.j2")
            .unwrap_err();
        assert!(e.to_string().contains(&pipe.display().to_string()), "{e}");
        assert!(e.to_string().contains("named pipe"), "{e}");
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
