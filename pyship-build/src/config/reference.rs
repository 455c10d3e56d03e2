//! The config's one description, read from the config types: every key with
//! its table, type, default and description ([`keys`]), and what is made of
//! it: the JSON Schema of the pyship table ([`schema`]), the book's config
//! reference and environment pages ([`config_page`], [`env_page`]). The
//! table `init` writes and the config errors' hints read the same keys.
//!
//! Types and descriptions come from the `JsonSchema` derive of
//! [`RawConfig`] (its doc comments); defaults from [`RawConfig::resolve`] of
//! an empty table, so no default is written down twice.

use serde_json::{Map, Value};

use super::RawConfig;

/// Stands in for the Cargo package name when the defaults are computed: a
/// default holding it is derived from the project, not fixed.
const PACKAGE: &str = "@pyship-package-name@";

/// One key of the pyship table.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Key {
    /// The sub-table, dotted (`""` for the top level, `windows.sign`).
    pub table: String,
    /// The key as written (`installer-compression`).
    pub name: String,
    /// What the value is, for people (`boolean`, `list of strings`, `"lzma" | "zlib"`).
    #[serde(rename = "type")]
    pub ty: String,
    /// The accepted values of a key with a fixed set, with what each means.
    pub values: Vec<(String, String)>,
    /// The value in use when the key is not set, as TOML; `None`: none, or
    /// derived from the project (the description says how).
    pub default: Option<String>,
    /// The first paragraph of the description (one line).
    pub summary: String,
    /// The rest of the description.
    pub details: String,
}

impl Key {
    /// The dotted key (`windows.installer-compression`).
    pub fn path(&self) -> String {
        if self.table.is_empty() {
            self.name.clone()
        } else {
            format!("{}.{}", self.table, self.name)
        }
    }

    /// Which targets the key applies to.
    pub fn target(&self) -> &'static str {
        match self.table.split('.').next() {
            Some("windows") => "Windows",
            Some("linux") => "Linux",
            _ => "all",
        }
    }
}

/// A sub-table of the pyship table with its description.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Table {
    /// Dotted, `""` for the top level.
    pub path: String,
    pub summary: String,
}

/// The JSON Schema of the pyship table (draft 7, every sub-schema inline,
/// no `null`: TOML has none), as editors map it onto
/// `[package.metadata.pyship]` and `[workspace.metadata.pyship]`.
pub fn schema() -> Value {
    let settings = schemars::generate::SchemaSettings::draft07().with(|s| {
        s.inline_subschemas = true;
    });
    let mut v = settings
        .into_generator()
        .into_root_schema_for::<RawConfig>()
        .to_value();
    drop_nulls(&mut v);
    if let Value::Object(o) = &mut v {
        o.insert(
            "description".into(),
            Value::String(
                "cargo-pyship's settings: [package.metadata.pyship] or [workspace.metadata.pyship] in Cargo.toml"
                    .into(),
            ),
        );
    }
    v
}

/// The schema as the file the book ships (`docs/src/reference/pyship.schema.json`).
pub fn schema_text() -> String {
    let mut s = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    s.push('\n');
    s
}

/// Remove what `Option` adds for `null`: `"null"` from a `type` list, a
/// `{"type": "null"}` branch of an `anyOf` (and the `anyOf` left with one).
fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if let Some(Value::Array(types)) = o.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let t = types[0].clone();
                    o.insert("type".into(), t);
                }
            }
            if let Some(Value::Array(any)) = o.get_mut("anyOf") {
                any.retain(|b| b.get("type").is_none_or(|t| t != "null"));
                if any.len() == 1 {
                    let only = any.remove(0);
                    o.remove("anyOf");
                    if let Value::Object(inner) = only {
                        for (k, val) in inner {
                            o.entry(k).or_insert(val);
                        }
                    }
                }
            }
            if o.get("const").is_some_and(Value::is_null) {
                o.remove("const");
            }
            if let Some(Value::Array(e)) = o.get_mut("enum") {
                e.retain(|x| !x.is_null());
            }
            for val in o.values_mut() {
                drop_nulls(val);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// Title and description of a schema, as (summary, details): schemars makes
/// a doc comment's first paragraph the title when more follow.
fn texts(s: &Map<String, Value>) -> (String, String) {
    let get = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("").trim();
    let (title, desc) = (get("title"), get("description"));
    let one_line = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
    if !title.is_empty() && !title.starts_with('[') {
        (one_line(title), desc.to_owned())
    } else {
        match desc.split_once("\n\n") {
            Some((first, rest)) => (one_line(first), rest.trim().to_owned()),
            None => (one_line(desc), String::new()),
        }
    }
}

/// Whether a property is a sub-table.
fn is_table(s: &Map<String, Value>) -> bool {
    s.get("type").and_then(Value::as_str) == Some("object")
}

/// The fixed values of an enum property, with their descriptions.
fn values(s: &Map<String, Value>) -> Vec<(String, String)> {
    let branches = s
        .get("oneOf")
        .or_else(|| s.get("anyOf"))
        .and_then(Value::as_array);
    if let Some(b) = branches {
        return b
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|o| {
                let doc = texts(o).0;
                let consts: Vec<String> = match (o.get("const"), o.get("enum")) {
                    (Some(Value::String(c)), _) => vec![c.clone()],
                    (_, Some(Value::Array(e))) => e
                        .iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect(),
                    _ => Vec::new(),
                };
                consts.into_iter().map(move |c| (c, doc.clone()))
            })
            .collect();
    }
    s.get("enum")
        .and_then(Value::as_array)
        .map(|e| {
            e.iter()
                .filter_map(|x| x.as_str().map(|c| (c.to_owned(), String::new())))
                .collect()
        })
        .unwrap_or_default()
}

/// The type of a property, for people.
fn type_name(s: &Map<String, Value>) -> String {
    let vals = values(s);
    if !vals.is_empty() {
        return vals
            .iter()
            .map(|(v, _)| format!("\"{v}\""))
            .collect::<Vec<_>>()
            .join(" | ");
    }
    match s.get("type").and_then(Value::as_str) {
        Some("boolean") => "boolean".into(),
        Some("string") => "string".into(),
        Some("integer") => {
            let n = |k: &str| s.get(k).and_then(Value::as_u64);
            match (n("minimum"), n("maximum")) {
                (Some(lo), Some(hi)) => format!("integer ({lo} to {hi})"),
                (Some(lo), None) => format!("integer (≥ {lo})"),
                _ => "integer".into(),
            }
        }
        Some("number") => {
            let n = |k: &str| s.get(k).and_then(Value::as_f64);
            match (n("exclusiveMinimum"), n("maximum")) {
                (Some(lo), Some(hi)) => format!("number (above {lo}, at most {hi})"),
                _ => "number".into(),
            }
        }
        Some("array") => {
            let item = s
                .get("items")
                .and_then(Value::as_object)
                .map(type_name)
                .unwrap_or_else(|| "value".into());
            format!("list of {item}s")
        }
        Some(other) => other.into(),
        None => "value".into(),
    }
}

/// The defaults: an empty table resolved, as JSON.
fn defaults() -> Value {
    serde_json::to_value(RawConfig::default().resolve(PACKAGE)).unwrap_or(Value::Null)
}

/// The default of `path` in the resolved empty table, as TOML; `None` when
/// there is none or it is derived from the project.
fn default_of(defaults: &Value, path: &[&str]) -> Option<String> {
    let mut v = defaults;
    for p in path {
        v = v.get(*p)?;
    }
    if v.is_null() || v.to_string().contains(PACKAGE) {
        return None;
    }
    toml_value(v)
}

/// A JSON value as a TOML value.
pub fn toml_value(v: &Value) -> Option<String> {
    Some(match v {
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => toml_edit::Value::from(s.as_str())
            .decorated("", "")
            .to_string(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter()
                .filter_map(toml_value)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Null | Value::Object(_) => return None,
    })
}

/// Every sub-table and key, in the order the config types declare them
/// (a table's keys before its sub-tables).
pub fn tables_and_keys() -> (Vec<Table>, Vec<Key>) {
    let schema = schema();
    let defaults = defaults();
    let mut tables = Vec::new();
    let mut keys = Vec::new();
    if let Some(root) = schema.as_object() {
        walk(root, "", &defaults, &mut tables, &mut keys);
    }
    // The schema's maps are sorted by name; the config types' order reads
    // better (name first, sub-tables last).
    let order = field_order();
    let pos = |p: &str| order.iter().position(|o| o == p).unwrap_or(usize::MAX);
    keys.sort_by_key(|k| pos(&k.path()));
    tables.sort_by_key(|t| {
        if t.path.is_empty() {
            0
        } else {
            pos(&t.path).saturating_add(1)
        }
    });
    (tables, keys)
}

/// Every dotted key of the config types in declaration order, read from how
/// serde writes a table whose sub-tables are all present (a struct's fields
/// come out in their order; every leaf is `null`).
fn field_order() -> Vec<String> {
    let full = RawConfig {
        windows: Some(super::RawWindows {
            sign: Some(Default::default()),
            ..Default::default()
        }),
        linux: Some(Default::default()),
        strip: Some(Default::default()),
        publish: Some(Default::default()),
        docker: Some(Default::default()),
        update: Some(Default::default()),
        ci: Some(Default::default()),
        ..Default::default()
    };
    let text = serde_json::to_string(&full).unwrap_or_default();
    let mut out = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut last = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                last = chars.by_ref().take_while(|c| *c != '"').collect();
                let mut path = stack.clone();
                path.push(last.clone());
                out.push(path.join("."));
            }
            '{' if !last.is_empty() => stack.push(std::mem::take(&mut last)),
            '}' => {
                stack.pop();
            }
            _ => {}
        }
    }
    out
}

/// Every key (see [`tables_and_keys`]).
pub fn keys() -> Vec<Key> {
    tables_and_keys().1
}

/// The key at a dotted path (`windows.installer`), array indexes ignored.
pub fn key(path: &str) -> Option<Key> {
    let clean: String = path
        .split('.')
        .map(|p| p.split('[').next().unwrap_or(p))
        .collect::<Vec<_>>()
        .join(".");
    keys().into_iter().find(|k| k.path() == clean)
}

fn walk(
    obj: &Map<String, Value>,
    path: &str,
    defaults: &Value,
    tables: &mut Vec<Table>,
    keys: &mut Vec<Key>,
) {
    tables.push(Table {
        path: path.to_owned(),
        summary: texts(obj).0,
    });
    let Some(props) = obj.get("properties").and_then(Value::as_object) else {
        return;
    };
    let mut subs = Vec::new();
    for (name, prop) in props {
        let Some(p) = prop.as_object() else { continue };
        if is_table(p) {
            subs.push((name, p));
            continue;
        }
        let mut segs: Vec<&str> = path.split('.').filter(|s| !s.is_empty()).collect();
        segs.push(name);
        let (summary, details) = texts(p);
        keys.push(Key {
            table: path.to_owned(),
            name: name.clone(),
            ty: type_name(p),
            values: values(p),
            default: default_of(defaults, &segs),
            summary,
            details,
        });
    }
    for (name, p) in subs {
        let sub = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}.{name}")
        };
        let mut t = p.clone();
        // The field's doc describes the table where it is used.
        if let Some(d) = props.get(name).and_then(|v| v.get("description")).cloned() {
            t.insert("description".into(), d);
        }
        walk(&t, &sub, defaults, tables, keys);
    }
}

/// `[package.metadata.pyship.windows]` for a dotted sub-table path.
pub fn table_header(path: &str) -> String {
    if path.is_empty() {
        "[package.metadata.pyship]".into()
    } else {
        format!("[package.metadata.pyship.{path}]")
    }
}

/// One line of Markdown table text: `|` escaped, line breaks joined.
fn cell(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

/// The anchor of a sub-table's section on the config page.
pub fn table_anchor(path: &str) -> String {
    if path.is_empty() {
        "the-top-level-table".into()
    } else {
        path.replace('.', "")
    }
}

const GENERATED: &str = "<!-- Generated by `cargo run -p cargo-pyship -- pyship generate-docs` from the code: edit the doc comments there, not this file. -->";

/// The book's config reference (`docs/src/reference/config-keys.md`).
pub fn config_page() -> String {
    let (tables, keys) = tables_and_keys();
    let mut out = String::new();
    out.push_str("# Config keys\n\n");
    out.push_str(GENERATED);
    out.push_str("\n\n");
    out.push_str(
        "Every key of `[package.metadata.pyship]`, or `[workspace.metadata.pyship]` in a\n\
         workspace's root `Cargo.toml` (the same keys; sub-tables as\n\
         `[workspace.metadata.pyship.windows]` and so on). Paths are relative to the folder\n\
         of that `Cargo.toml` ([the path rule](config.md#the-path-rule)). An unknown key or a\n\
         value of the wrong type is an error naming the key and the file. A key without a\n\
         default is unset unless you set it, or derived from the project as its description\n\
         says. `cargo pyship init` writes every key, commented where it is not set.\n\n",
    );
    out.push_str("Tables:");
    for t in &tables {
        let name = if t.path.is_empty() {
            "the top level".to_owned()
        } else {
            format!("`{}`", t.path)
        };
        out.push_str(&format!(" [{name}](#{}),", table_anchor(&t.path)));
    }
    out.pop();
    out.push_str(".\n");
    for t in &tables {
        let in_table: Vec<&Key> = keys.iter().filter(|k| k.table == t.path).collect();
        if t.path.is_empty() {
            out.push_str("\n## The top-level table\n\n");
        } else {
            out.push_str(&format!("\n## {}\n\n", t.path));
        }
        out.push_str(&format!("`{}`", table_header(&t.path)));
        if !t.summary.is_empty() && !t.path.is_empty() {
            out.push_str(&format!(": {}", t.summary));
        }
        out.push_str(&format!(
            " Applies to: {}.\n\n",
            in_table.first().map(|k| k.target()).unwrap_or("all")
        ));
        if in_table.is_empty() {
            continue;
        }
        out.push_str("| key | type | default | description |\n|---|---|---|---|\n");
        for k in &in_table {
            let mut desc = k.summary.clone();
            if !k.details.is_empty() {
                desc.push(' ');
                desc.push_str(&k.details);
            }
            let documented: Vec<String> = k
                .values
                .iter()
                .filter(|(_, d)| !d.is_empty())
                .map(|(v, d)| format!("`\"{v}\"`: {}", d.trim_end_matches('.')))
                .collect();
            if !documented.is_empty() {
                desc.push_str(" Values: ");
                desc.push_str(&documented.join("; "));
            }
            out.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                k.name,
                cell(&k.ty),
                k.default
                    .as_deref()
                    .map(|d| format!("`{}`", cell(d)))
                    .unwrap_or_else(|| "—".into()),
                cell(&desc)
            ));
        }
    }
    out.push_str(
        "\n## JSON Schema\n\n\
         [`pyship.schema.json`](pyship.schema.json) describes the table (every key, its type and\n\
         description). Editors with a TOML language server (taplo, e.g. VS Code's Even Better\n\
         TOML) check the table as you type with a rule in `.taplo.toml` at the repository root:\n\n\
         ```toml\n\
         [[rule]]\n\
         include = [\"**/Cargo.toml\"]\n\
         keys = [\"package.metadata.pyship\", \"workspace.metadata.pyship\"]\n\
         [rule.schema]\n\
         path = \"./docs/src/reference/pyship.schema.json\"\n\
         ```\n",
    );
    out
}

/// The book's environment page (`docs/src/reference/environment.md`), from
/// [`crate::env::DOCS`] and the config keys that name variables.
pub fn env_page() -> String {
    let mut out = String::new();
    out.push_str("# Environment variables\n\n");
    out.push_str(GENERATED);
    out.push_str("\n\n");
    out.push_str(
        "Every variable cargo-pyship reads is declared in one list in\n\
         `pyship-build/src/env.rs`; this page is made from it. The command line also honours\n\
         `NO_COLOR` and `CARGO_TERM_COLOR` (see [Command line](cli.md)).\n\n\
         | variable | meaning |\n|---|---|\n",
    );
    for (name, doc) in crate::env::DOCS {
        let text: Vec<&str> = doc.lines().map(str::trim).collect();
        out.push_str(&format!("| `{name}` | {} |\n", cell(&text.join(" "))));
    }
    out.push_str(
        "\n## Variables the config names\n\n\
         These keys hold the *name* of a variable, never its value; the variable is read\n\
         when it is needed and its value never reaches output or a file.\n\n\
         | key | default | description |\n|---|---|---|\n",
    );
    for k in keys().iter().filter(|k| k.name.ends_with("-env")) {
        out.push_str(&format!(
            "| [`{}`](config-keys.md#{}) | {} | {} |\n",
            k.path(),
            table_anchor(&k.table),
            k.default
                .as_deref()
                .map(|d| format!("`{}`", cell(d)))
                .unwrap_or_else(|| "—".into()),
            cell(&k.summary)
        ));
    }
    out.push_str(
        "\n## Variables cargo-pyship sets\n\n\
         `prebuild` runs with `PYSHIP_TARGET` (`windows`/`linux`), `PYSHIP_TARGET_TRIPLE`,\n\
         `PYSHIP_PYTHON_VERSION`, `PYSHIP_VERSION` (PEP 440) and `PYSHIP_OUT_DIR` (see\n\
         [Hybrid projects in depth](../guides/hybrid.md#prebuild)); maturin and `prebuild`\n\
         get `SOURCE_DATE_EPOCH`.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_of_the_config_types_is_a_documented_key() {
        let keys = keys();
        assert!(keys.len() > 70, "{}", keys.len());
        for k in &keys {
            assert!(!k.summary.is_empty(), "`{}` has no doc comment", k.path());
            assert!(
                !k.summary.contains("[`"),
                "`{}`: the doc comment links Rust items, which users cannot read: {}",
                k.path(),
                k.summary
            );
        }
        let paths: Vec<String> = keys.iter().map(Key::path).collect();
        for p in [
            "name",
            "windows.installer-compression",
            "windows.sign.pkcs12-env",
            "linux.user",
            "update.public-keys",
            "ci.install-command",
        ] {
            assert!(paths.contains(&p.to_owned()), "{p} not in {paths:?}");
        }
    }

    #[test]
    fn defaults_come_from_resolve() {
        let d = |p: &str| key(p).unwrap().default;
        assert_eq!(d("python").as_deref(), Some("\"3.11.9\""));
        assert_eq!(d("windows.installer").as_deref(), Some("true"));
        assert_eq!(
            d("windows.installer-compression").as_deref(),
            Some("\"lzma\"")
        );
        assert_eq!(d("update.start-timeout").as_deref(), Some("60"));
        assert_eq!(d("publish.token-env").as_deref(), Some("\"DEPLOY_TOKEN\""));
        // Derived from the project, or none.
        assert_eq!(d("name"), None);
        assert_eq!(d("windows.publisher"), None);
        assert_eq!(d("port"), None);
        let compression = key("windows.installer-compression").unwrap();
        assert_eq!(compression.ty, "\"lzma\" | \"zlib\" | \"bzip2\"");
        assert_eq!(compression.values.len(), 3);
        assert_eq!(key("port").unwrap().ty, "integer (0 to 65535)");
        assert_eq!(key("include").unwrap().ty, "list of strings");
        assert_eq!(key("windows.publsher"), None);
    }

    #[test]
    fn the_schema_allows_no_unknown_key_and_no_null() {
        let s = schema_text();
        assert!(!s.contains("\"null\""), "{s}");
        let v = schema();
        assert_eq!(v["additionalProperties"], Value::Bool(false));
        assert_eq!(
            v["properties"]["windows"]["additionalProperties"],
            Value::Bool(false)
        );
    }
}
