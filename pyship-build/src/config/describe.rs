//! The config reference on the terminal (`cargo pyship config [KEY]`): every
//! table with its keys, one table's keys, or one key in full, read from the
//! same [`reference`](super::reference) as the book's page and the JSON
//! Schema. The config errors' hints name this command, so a user of an
//! installed cargo-pyship (who has no checkout of its book) finds each key's
//! type, default and meaning where the error is.

use serde::Serialize;

use super::reference::{self, Key, Table};

/// What `cargo pyship config [KEY]` shows: the tables and keys selected.
#[derive(Debug, Clone, Serialize)]
pub struct Selection {
    /// The tables shown, each with its keys below it (one key: its table).
    pub tables: Vec<Table>,
    pub keys: Vec<Key>,
    /// One key was asked for: shown in full (details and values).
    pub one_key: bool,
}

/// A path that names neither a table nor a key of the pyship table.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("`{}` is not a table or key of the pyship table", crate::error::escaped(.path))]
#[diagnostic(help("{hint}"))]
pub struct UnknownPath {
    pub path: String,
    pub hint: String,
}

/// The tables and keys `path` selects: `None` or `""`, everything; a table
/// (`windows`), its keys and its sub-tables' keys; a key
/// (`windows.publisher`), that key. A path may be written as in the
/// Cargo.toml's header (`[package.metadata.pyship.windows]`,
/// `workspace.metadata.pyship.linux`).
pub fn select(path: Option<&str>) -> Result<Selection, UnknownPath> {
    let (tables, mut keys) = reference::tables_and_keys();
    let asked = path.map(normalize).unwrap_or_default();
    if asked.is_empty() {
        return Ok(Selection {
            tables,
            keys,
            one_key: false,
        });
    }
    let under = |p: &str| p == asked || p.starts_with(&format!("{asked}."));
    if tables.iter().any(|t| t.path == asked) {
        return Ok(Selection {
            tables: tables.into_iter().filter(|t| under(&t.path)).collect(),
            keys: keys.into_iter().filter(|k| under(&k.table)).collect(),
            one_key: false,
        });
    }
    if let Some(i) = keys.iter().position(|k| k.path() == asked) {
        let key = keys.swap_remove(i);
        return Ok(Selection {
            tables: tables.into_iter().filter(|t| t.path == key.table).collect(),
            keys: vec![key],
            one_key: true,
        });
    }
    let near = super::closest_key(&asked, &tables, &keys)
        .map(|k| format!("did you mean `{k}`? "))
        .unwrap_or_default();
    Err(UnknownPath {
        hint: format!(
            "{near}`cargo pyship config` lists every table and key; a path is dotted below the pyship table (`windows`, `windows.publisher`)"
        ),
        path: path.unwrap_or_default().to_owned(),
    })
}

/// `[package.metadata.pyship.windows]` → `windows`;
/// `workspace.metadata.pyship` → `""` (everything).
fn normalize(path: &str) -> String {
    let p = path.trim().trim_start_matches('[').trim_end_matches(']');
    let p = ["package.metadata.pyship", "workspace.metadata.pyship"]
        .iter()
        .find_map(|t| {
            p.strip_prefix(t)
                .filter(|rest| rest.is_empty() || rest.starts_with('.'))
        })
        .unwrap_or(p);
    p.trim_matches('.').to_owned()
}

impl Selection {
    /// The selection as text for a terminal: a header per table, then a
    /// line per key (`name: type, default X`, or `name: type` for a key
    /// without a fixed default) with its summary below; one key also with
    /// its details and accepted values.
    pub fn text(&self) -> String {
        let mut out = String::new();
        if self.tables.iter().any(|t| t.path.is_empty()) && !self.one_key {
            out.push_str(
                "The pyship table of Cargo.toml: [package.metadata.pyship], or\n\
                 [workspace.metadata.pyship] in a workspace's root (the same keys).\n\
                 Paths are relative to the folder of that Cargo.toml.\n",
            );
        }
        for t in &self.tables {
            let in_table: Vec<&Key> = self.keys.iter().filter(|k| k.table == t.path).collect();
            if in_table.is_empty() {
                continue;
            }
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&reference::table_header(&t.path));
            out.push_str(&format!(" (applies to: {})", in_table[0].target()));
            if !t.summary.is_empty() && !t.path.is_empty() {
                out.push_str(&format!(": {}", one_line(&t.summary)));
            }
            out.push('\n');
            for k in in_table {
                // No default: unset, or derived as the description says.
                out.push_str(&format!("  {}: {}", k.name, one_line(&k.ty)));
                if let Some(d) = &k.default {
                    out.push_str(&format!(", default {d}"));
                }
                out.push('\n');
                out.push_str(&format!("      {}\n", one_line(&k.summary)));
                if self.one_key {
                    full(&mut out, k);
                }
            }
        }
        out
    }
}

/// A key's details and documented values, indented below its summary.
fn full(out: &mut String, k: &Key) {
    for para in k.details.split("\n\n").filter(|p| !p.trim().is_empty()) {
        out.push_str(&format!("\n      {}\n", one_line(para)));
    }
    let documented: Vec<&(String, String)> =
        k.values.iter().filter(|(_, d)| !d.is_empty()).collect();
    if !documented.is_empty() {
        out.push_str("\n      Values:\n");
        for (v, d) in documented {
            out.push_str(&format!("        \"{v}\": {}\n", one_line(d)));
        }
    }
}

/// White space folded: the doc comments' line breaks joined.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_a_table_and_everything() {
        let one = select(Some("windows.installer-compression")).unwrap();
        assert!(one.one_key && one.keys.len() == 1);
        let text = one.text();
        assert!(
            text.starts_with("[package.metadata.pyship.windows] (applies to: Windows)"),
            "{text}"
        );
        assert!(
            text.contains("  installer-compression: ") && text.contains("default \"lzma\""),
            "{text}"
        );
        assert!(text.contains("Values:\n        \"lzma\": "), "{text}");

        let windows = select(Some("[package.metadata.pyship.windows]")).unwrap();
        assert!(!windows.one_key);
        assert!(windows.keys.iter().all(|k| k.table.starts_with("windows")));
        assert!(windows.keys.iter().any(|k| k.table == "windows.sign"));
        let text = windows.text();
        assert!(
            text.contains("\n[package.metadata.pyship.windows.sign]"),
            "{text}"
        );
        assert!(!text.contains("Values:"), "a table shows summaries only");
        assert!(
            text.starts_with("[package.metadata.pyship.windows] "),
            "{text}"
        );

        let all = select(None).unwrap();
        assert_eq!(all.keys.len(), reference::keys().len());
        assert_eq!(
            select(Some("workspace.metadata.pyship"))
                .unwrap()
                .keys
                .len(),
            all.keys.len()
        );
        let text = all.text();
        assert!(text.starts_with("The pyship table of Cargo.toml"), "{text}");
        for t in &all.tables {
            let header = reference::table_header(&t.path);
            let has_keys = all.keys.iter().any(|k| k.table == t.path);
            assert_eq!(text.contains(&format!("{header} (")), has_keys, "{header}");
        }
    }

    #[test]
    fn an_unknown_path_is_refused_with_the_nearest_key() {
        let e = select(Some("windows.publsher")).unwrap_err();
        assert_eq!(e.path, "windows.publsher");
        assert!(
            e.hint.starts_with("did you mean `windows.publisher`?"),
            "{}",
            e.hint
        );
        let e = select(Some("package.metadata.pyshipwindows")).unwrap_err();
        assert_eq!(e.path, "package.metadata.pyshipwindows");
        let e = select(Some("nothing.like.it")).unwrap_err();
        assert!(
            e.hint.starts_with("`cargo pyship config` lists"),
            "{}",
            e.hint
        );
    }
}
