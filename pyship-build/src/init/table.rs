//! The pyship table `init` writes: every key documented, only the ones that
//! matter set. A key is written when init discovered it (`pyproject`,
//! `module`, `app-src` the plan would not derive, each with where it came
//! from) or when the project's config differs from the default (a `--force`
//! rewrite keeps the user's values); every other key stays commented,
//! showing the value in use (the derived one where there is one), so the
//! table reads as the whole configuration without pinning any default.

use crate::config::{reference, CertSource, Config, Provider};

use super::discover::{Discovery, Found};
use super::Ci;

/// A TOML string literal.
pub(crate) fn q(s: &str) -> String {
    toml_edit::Value::from(s).decorated("", "").to_string()
}

fn list(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| q(s)).collect();
    format!("[{}]", inner.join(", "))
}

fn path(p: &std::path::Path) -> String {
    q(&p.to_string_lossy().replace('\\', "/"))
}

struct Writer {
    out: String,
}

impl Writer {
    fn doc(&mut self, doc: &str) {
        for line in doc.lines() {
            self.out.push_str("# ");
            self.out.push_str(line);
            self.out.push('\n');
        }
    }

    /// `key = cur` when it differs from `def`, else `# key = def`.
    fn key(&mut self, key: &str, doc: &str, cur: String, def: String) {
        self.doc(doc);
        if cur != def {
            self.out.push_str(&format!("{key} = {cur}\n"));
        } else {
            self.out.push_str(&format!("# {key} = {def}\n"));
        }
    }

    /// `key = v` when set, else `# key = example  # an example; not set`:
    /// the key has no value in use, so the commented line says so.
    fn opt(&mut self, key: &str, doc: &str, cur: Option<String>, example: &str) {
        self.doc(doc);
        match cur {
            Some(v) => self.out.push_str(&format!("{key} = {v}\n")),
            None => self
                .out
                .push_str(&format!("# {key} = {example}  # an example; not set\n")),
        }
    }

    /// `key = v` when set, else `# key = in_use`: what applies when unset.
    fn opt_in_use(&mut self, key: &str, doc: &str, cur: Option<String>, in_use: &str) {
        self.doc(doc);
        match cur {
            Some(v) => self.out.push_str(&format!("{key} = {v}\n")),
            None => self.out.push_str(&format!("# {key} = {in_use}\n")),
        }
    }

    /// A discovered key: written with where it came from, or commented
    /// showing the derived value (`shown`).
    fn found(&mut self, key: &str, doc: &str, found: Option<&Found>, shown: &str) {
        self.doc(doc);
        match found {
            Some(f) => {
                self.doc(&format!("Set by init: {}.", f.why));
                self.out.push_str(&format!("{key} = {}\n", q(&f.value)));
            }
            None => self.out.push_str(&format!("# {key} = {shown}\n")),
        }
    }

    fn header(&mut self, table: &str) {
        self.out.push('\n');
        self.out.push_str(&format!("[{table}]\n"));
    }
}

/// What the commented `module` and `app-src` lines show.
#[derive(Debug, Clone, Default)]
pub struct Derived {
    /// The module the plan derives (`None`: none found).
    pub module: Option<String>,
    /// The app-src the layout finds, relative to the table's folder.
    pub app_src: Option<String>,
    /// Why there is none, when the module comes only from a wheel.
    pub no_app_src: Option<String>,
}

/// What an unset key without a default shows, `# key = {example}  # an
/// example; not set` (keys whose value is derived are handled in [`render`]).
fn example(path: &str, ty: &str) -> String {
    match path {
        "prebuild" => q("npm ci && npm run build"),
        "port" => "8765".into(),
        "kind" => q("console"),
        "windows.prebuild" | "linux.prebuild" => q("make wheels"),
        "windows.msi-upgrade-code" => q("{6F1D1C3E-2A44-4B6E-9C5D-0123456789AB}"),
        "linux.user" => q("app"),
        "linux.maintainer" => q("Jane Doe <jane@example.com>"),
        "publish.url" => q("https://gitea.example.com"),
        "publish.repo" => q("owner/name"),
        "docker.image" => q("gitea.example.com/owner/app"),
        "update.token-env" => q("APP_UPDATE_TOKEN"),
        _ if ty.starts_with("list") => "[]".into(),
        _ if ty.starts_with("integer") => "0".into(),
        _ if ty == "boolean" => "false".into(),
        _ => q(""),
    }
}

/// What an unset key whose value is found elsewhere shows: `# key = {in use}`.
fn in_use(path: &str, c: &Config) -> Option<String> {
    Some(match path {
        "index-url" => q("https://pypi.org/simple"),
        "windows.python-sha256" | "linux.runtime-url" | "linux.runtime-sha256" => q(""),
        "windows.args" | "linux.args" => list(&c.args),
        _ => return None,
    })
}

/// The value at a dotted path of a config as JSON, as TOML.
fn value_at(config: &serde_json::Value, path: &str) -> Option<String> {
    let mut v = config;
    for p in path.split('.') {
        v = v.get(p)?;
    }
    reference::toml_value(v)
}

/// The table text for `key` (`package.metadata.pyship` or
/// `workspace.metadata.pyship`). `c` is the config in use (defaults for a
/// new table), `d` the defaults for the same package. Every key of the
/// config types is written, in their order, with the first paragraph of its
/// doc comment (see [`crate::config::reference`]).
pub fn render(
    key: &str,
    c: &Config,
    d: &Config,
    disc: &Discovery,
    derived: &Derived,
    ci: Ci,
    install: Option<&super::install::InstallCommand>,
) -> String {
    let mut w = Writer { out: String::new() };
    w.out.push_str(&format!("[{key}]\n"));
    w.doc(
        "Written by `cargo pyship init`. Paths are relative to the folder of this Cargo.toml.\n\
         A commented key shows the value in use (its default, or what is derived), or,\n\
         marked \"an example; not set\", what a value of a key without one looks like;\n\
         uncomment it to change it. `cargo pyship init --check` tells when the table no longer\n\
         matches the project. Every key, with its type and default: `cargo pyship config`.",
    );
    let cur = serde_json::to_value(c).unwrap_or_default();
    let def = serde_json::to_value(d).unwrap_or_default();
    let (tables, keys) = reference::tables_and_keys();
    for table in &tables {
        match table.path.as_str() {
            "" => {}
            "windows.sign" => {
                sign_table(&mut w, key, c);
                continue;
            }
            "ci" => {
                if let Some(i) = install {
                    w.header(&format!("{key}.ci"));
                    w.doc(
                        "How the release workflow installs cargo-pyship (chosen by `cargo pyship init`:\n\
                         a git URL or a path until cargo-pyship is on crates.io).",
                    );
                    w.out
                        .push_str(&format!("install-command = {}\n", q(&i.command)));
                }
                continue;
            }
            path => w.header(&format!("{key}.{path}")),
        }
        for k in keys.iter().filter(|k| k.table == table.path) {
            let path = k.path();
            let doc = k.summary.as_str();
            match path.as_str() {
                "package" => {
                    if let Some(found) = &disc.package_key {
                        w.found("package", doc, Some(found), "");
                    }
                }
                "name" => w.key("name", doc, q(&c.name), q(&d.name)),
                "file-name" => {
                    let file_name = crate::names::file_name(&c.name, "package.metadata.pyship")
                        .map(|f| q(&f))
                        .unwrap_or_else(|_| "\"app-name\"".into());
                    w.opt_in_use("file-name", doc, c.file_name.as_deref().map(q), &file_name);
                }
                "pyproject" => w.found(
                    "pyproject",
                    doc,
                    disc.pyproject_key.as_ref(),
                    "\"pyproject.toml\"",
                ),
                "module" => w.found(
                    "module",
                    doc,
                    disc.module_key.as_ref(),
                    &derived
                        .module
                        .as_deref()
                        .map(q)
                        .unwrap_or_else(|| "\"app.main\"".into()),
                ),
                "app-src" => {
                    if let (None, None, Some(why)) =
                        (&disc.app_src_key, &derived.app_src, &derived.no_app_src)
                    {
                        w.doc(&format!("In use: no app sources ({why})."));
                    }
                    w.found(
                        "app-src",
                        doc,
                        disc.app_src_key.as_ref(),
                        &derived
                            .app_src
                            .as_deref()
                            .map(q)
                            .unwrap_or_else(|| "\"src\"".into()),
                    );
                }
                "windows.publisher" => w.key("publisher", doc, q(&c.windows.publisher), q(&c.name)),
                "publish.provider" => {
                    // `--ci github` on a table that names no provider publishes to GitHub.
                    let provider = |p: Provider| {
                        q(match p {
                            Provider::Gitea => "gitea",
                            Provider::Forgejo => "forgejo",
                            Provider::Github => "github",
                        })
                    };
                    let now = match (ci, c.publish.provider) {
                        (Ci::Github, Provider::Gitea) => Provider::Github,
                        (_, p) => p,
                    };
                    w.key("provider", doc, provider(now), provider(d.publish.provider));
                }
                _ => {
                    let (now, default) = (value_at(&cur, &path), value_at(&def, &path));
                    match (now, default) {
                        (Some(now), Some(default)) => w.key(&k.name, doc, now, default),
                        (now, _) => match in_use(&path, c) {
                            Some(shown) => w.opt_in_use(&k.name, doc, now, &shown),
                            None => w.opt(&k.name, doc, now, &example(&path, &k.ty)),
                        },
                    }
                }
            }
        }
    }
    w.out
}

/// `[…windows.sign]` when signing is configured (its values as set), else a
/// line saying where it goes: a table of secrets' names is not written unset.
fn sign_table(w: &mut Writer, key: &str, c: &Config) {
    let Some(s) = &c.windows.sign else {
        w.doc(&format!(
            "Authenticode signing: a [{key}.windows.sign] table (pkcs12 or pkcs12-env, password-env, timestamp-url)."
        ));
        return;
    };
    w.header(&format!("{key}.windows.sign"));
    match &s.certificate {
        CertSource::Pkcs12(p) => w.out.push_str(&format!("pkcs12 = {}\n", path(p))),
        CertSource::Pkcs12Env(v) => w.out.push_str(&format!("pkcs12-env = {}\n", q(v))),
    }
    if let Some(v) = &s.password_env {
        w.out.push_str(&format!("password-env = {}\n", q(v)));
    }
    if let Some(v) = &s.timestamp_url {
        w.out.push_str(&format!("timestamp-url = {}\n", q(v)));
    }
    w.out
        .push_str(&format!("sign-binaries = {}\n", s.sign_binaries));
}
