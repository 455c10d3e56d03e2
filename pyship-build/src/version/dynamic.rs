//! A dynamic version kept statically by the build backend: where a
//! non-maturin project with `dynamic = ["version"]` writes its version, so
//! that `version` reads it and `version --stamp` writes it there.
//!
//! Recognised, in this order: setuptools `[tool.setuptools.dynamic] version
//! = {attr = "pkg.mod.__version__"}` (a string literal assigned in that
//! module, following one `from … import __version__` re-export) or `{file =
//! "VERSION"}` (the whole file), hatch `[tool.hatch.version] path = "…"`
//! (its default pattern: `__version__` or `VERSION` assigned a string), and
//! a plain `__version__ = "…"` in the package named after the project. A
//! backend that computes the version (hatch-vcs, setuptools-scm, a custom
//! hatch `pattern`) keeps it nowhere to read: `None`, and the caller says it
//! falls back to Cargo's version.

use std::path::{Path, PathBuf};

use serde::Serialize;
use toml_edit::DocumentMut;

/// Where a dynamic version is written, and what it says now.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct VersionFile {
    pub path: PathBuf,
    /// The variable assigned (`__version__`); `None`: the whole file is the version.
    pub variable: Option<String>,
    /// What points at it (`[tool.setuptools.dynamic] version attr = "pkg.__version__"`).
    pub declared_by: String,
    /// The version as written there.
    pub value: String,
}

impl VersionFile {
    /// `__version__ in path (declared_by)`, for messages.
    pub fn describe(&self) -> String {
        match &self.variable {
            Some(v) => format!("`{v}` in {} ({})", self.path.display(), self.declared_by),
            None => format!("{} ({})", self.path.display(), self.declared_by),
        }
    }
}

/// A string literal assigned to one of `names` at the start of a line
/// (`NAME = "x"`, `NAME: str = 'x'`): (variable, byte range of the value).
fn find_assignment(
    text: &str,
    names: &[&str],
    ignore_case: bool,
) -> Option<(String, std::ops::Range<usize>)> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let ident_len = line
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        let ident = &line[..ident_len];
        let hit = names.iter().any(|n| {
            if ignore_case {
                n.eq_ignore_ascii_case(ident)
            } else {
                *n == ident
            }
        });
        if ident.is_empty() || !hit {
            continue;
        }
        let mut rest = line[ident_len..].trim_start();
        if let Some(r) = rest.strip_prefix(':') {
            // An annotation: `: str`.
            let r = r.trim_start();
            let ann = r
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.')
                .count();
            rest = r[ann..].trim_start();
        }
        let Some(r) = rest.strip_prefix('=') else {
            continue;
        };
        if r.starts_with('=') {
            continue;
        }
        let r = r.trim_start();
        let quote = match r.chars().next() {
            Some(q @ ('"' | '\'')) => q,
            _ => continue,
        };
        let body = &r[1..];
        let Some(end) = body.find(quote) else {
            continue;
        };
        let value_start = start + (line.len() - r.len()) + 1;
        return Some((ident.to_owned(), value_start..value_start + end));
    }
    None
}

/// `from X import … name …` in `text`: the module X (relative dots kept).
fn reexport_from(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let l = l.split('#').next().unwrap_or(l).trim();
        let rest = l.strip_prefix("from ")?;
        let (module, names) = rest.split_once(" import ")?;
        names
            .trim_matches(|c| c == '(' || c == ')' || c == ' ')
            .split(',')
            .any(|n| n.trim() == name)
            .then(|| module.trim().to_owned())
    })
}

/// The file of module `dotted` under one of `roots`.
fn module_file(roots: &[PathBuf], dotted: &str) -> Option<PathBuf> {
    let rel: PathBuf = dotted.split('.').collect();
    roots.iter().find_map(|r| {
        let file = r.join(&rel).with_extension("py");
        let init = r.join(&rel).join("__init__.py");
        [file, init].into_iter().find(|p| p.is_file())
    })
}

/// The folders top-level packages are imported from: setuptools
/// `package-dir` `""`, else `src/` and the project folder.
fn package_roots(dir: &Path, doc: &DocumentMut) -> Vec<PathBuf> {
    let configured = doc
        .get("tool")
        .and_then(|t| t.get("setuptools"))
        .and_then(|s| s.get("package-dir"))
        .and_then(|p| p.get(""))
        .and_then(|v| v.as_str());
    match configured {
        Some(d) => vec![dir.join(d)],
        None => vec![dir.join("src"), dir.to_owned()],
    }
}

/// Read `variable` in the module file `path`, following one re-export.
fn attr_in(
    roots: &[PathBuf],
    path: PathBuf,
    module: &str,
    variable: &str,
    declared_by: String,
) -> Result<VersionFile, String> {
    let text = crate::fs::read_small_to_string(&path).map_err(|e| e.to_string())?;
    if let Some((var, range)) = find_assignment(&text, &[variable], false) {
        return Ok(VersionFile {
            value: text[range].to_owned(),
            variable: Some(var),
            path,
            declared_by,
        });
    }
    if let Some(from) = reexport_from(&text, variable) {
        // `from .version import __version__` inside package `module`.
        let dots = from.chars().take_while(|c| *c == '.').count();
        let target = if dots > 0 {
            let is_pkg = path.file_name().is_some_and(|n| n == "__init__.py");
            let mut parts: Vec<&str> = module.split('.').collect();
            // One dot: the package itself (for __init__.py) or the module's package.
            let up = if is_pkg { dots - 1 } else { dots };
            parts.truncate(parts.len().saturating_sub(up));
            let tail = &from[dots..];
            if tail.is_empty() {
                parts.join(".")
            } else {
                format!("{}.{tail}", parts.join("."))
            }
        } else {
            from.clone()
        };
        if let Some(file) = module_file(roots, &target) {
            let text2 = crate::fs::read_small_to_string(&file).map_err(|e| e.to_string())?;
            if let Some((var, range)) = find_assignment(&text2, &[variable], false) {
                return Ok(VersionFile {
                    value: text2[range].to_owned(),
                    variable: Some(var),
                    path: file,
                    declared_by: format!("{declared_by}, imported from {target}"),
                });
            }
        }
    }
    Err(format!(
        "no `{variable} = \"...\"` string literal in {}",
        path.display()
    ))
}

/// Find where the dynamic version of the pyproject at `path` (parsed as
/// `doc`, distribution `dist` normalized) is kept. `Ok(None)`: nowhere to
/// read (computed by the backend); `Err`: the pyproject points at a place
/// that does not hold a version.
pub fn find(path: &Path, doc: &DocumentMut, dist: &str) -> Result<Option<VersionFile>, String> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let roots = package_roots(dir, doc);
    let tool = doc.get("tool");
    let st = tool
        .and_then(|t| t.get("setuptools"))
        .and_then(|s| s.get("dynamic"))
        .and_then(|d| d.get("version"));
    if let Some(v) = st {
        if let Some(attr) = v.get("attr").and_then(|a| a.as_str()) {
            let declared_by = format!("[tool.setuptools.dynamic] version attr = \"{attr}\"");
            let (module, variable) = attr
                .rsplit_once('.')
                .ok_or_else(|| format!("{declared_by}: not `module.variable`"))?;
            let file = module_file(&roots, module).ok_or_else(|| {
                format!(
                    "{declared_by}: no module `{module}` under {}",
                    roots
                        .iter()
                        .map(|r| r.display().to_string())
                        .collect::<Vec<_>>()
                        .join(" or ")
                )
            })?;
            return attr_in(&roots, file, module, variable, declared_by).map(Some);
        }
        if let Some(file) = v.get("file") {
            let files: Vec<&str> = match file.as_str() {
                Some(one) => vec![one],
                None => file
                    .as_array()
                    .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
                    .unwrap_or_default(),
            };
            let [one] = files.as_slice() else {
                return Err(format!(
                    "[tool.setuptools.dynamic] version file = {files:?}: cargo-pyship reads one version file"
                ));
            };
            let p = dir.join(one);
            let text =
                crate::fs::read_small_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            return Ok(Some(VersionFile {
                value: text.trim().to_owned(),
                variable: None,
                path: p,
                declared_by: format!("[tool.setuptools.dynamic] version file = \"{one}\""),
            }));
        }
    }
    let hatch = tool
        .and_then(|t| t.get("hatch"))
        .and_then(|h| h.get("version"));
    if let Some(h) = hatch {
        let source = h.get("source").and_then(|s| s.as_str()).unwrap_or("regex");
        if source != "regex" || h.get("pattern").is_some() {
            return Ok(None);
        }
        if let Some(rel) = h.get("path").and_then(|p| p.as_str()) {
            let declared_by = format!("[tool.hatch.version] path = \"{rel}\"");
            let p = dir.join(rel);
            let text =
                crate::fs::read_small_to_string(&p).map_err(|e| format!("{declared_by}: {e}"))?;
            let (var, range) = find_assignment(&text, &["__version__", "VERSION"], true)
                .ok_or_else(|| {
                    format!(
                        "{declared_by}: no `__version__ = \"...\"` (or VERSION) in {}",
                        p.display()
                    )
                })?;
            // hatch's default pattern drops a leading `v` from the value.
            let raw = &text[range];
            return Ok(Some(VersionFile {
                value: raw.strip_prefix('v').unwrap_or(raw).to_owned(),
                variable: Some(var),
                path: p,
                declared_by,
            }));
        }
    }
    // No backend setting: the package's own `__version__`.
    if let Some(file) = module_file(&roots, dist) {
        if file.file_name().is_some_and(|n| n == "__init__.py") {
            let text = crate::fs::read_small_to_string(&file).map_err(|e| e.to_string())?;
            if let Some((var, range)) = find_assignment(&text, &["__version__"], false) {
                return Ok(Some(VersionFile {
                    value: text[range].to_owned(),
                    variable: Some(var),
                    path: file,
                    declared_by: format!("`__version__` of the package {dist}"),
                }));
            }
        }
    }
    Ok(None)
}

/// `text` with the version in `file` replaced by `pep440`: only the string
/// literal's content (or, for a whole-file version, the text between its
/// surrounding whitespace) changes. `None`: the version is no longer there.
pub fn set_version(file: &VersionFile, text: &str, pep440: &str) -> Option<String> {
    match &file.variable {
        Some(var) => {
            let (_, range) = find_assignment(text, &[var], false)?;
            let old = &text[range.clone()];
            let new = if old.starts_with('v') && !pep440.starts_with('v') {
                format!("v{pep440}")
            } else {
                pep440.to_owned()
            };
            Some(format!(
                "{}{new}{}",
                &text[..range.start],
                &text[range.end..]
            ))
        }
        None => {
            let lead = text.len() - text.trim_start().len();
            let trail = text.trim_end().len();
            if lead >= trail {
                return None;
            }
            Some(format!("{}{pep440}{}", &text[..lead], &text[trail..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(p: &Path, text: &str) {
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(p, text).unwrap();
    }

    fn found(dir: &Path, pyproject: &str, dist: &str) -> Result<Option<VersionFile>, String> {
        let p = dir.join("pyproject.toml");
        write(&p, pyproject);
        find(&p, &pyproject.parse().unwrap(), dist)
    }

    #[test]
    fn assignments_are_found_with_annotations_and_either_quote() {
        let t = "import x\n__version__: str = '1.0a41'  # the release\nVERSION=\"2\"\n";
        let (v, r) = find_assignment(t, &["__version__"], false).unwrap();
        assert_eq!((v.as_str(), &t[r]), ("__version__", "1.0a41"));
        let (v, r) = find_assignment(t, &["version"], true).unwrap();
        assert_eq!((v.as_str(), &t[r]), ("VERSION", "2"));
        assert!(find_assignment("    __version__ = '1'\n", &["__version__"], false).is_none());
        assert!(find_assignment("__version__ == '1'\n", &["__version__"], false).is_none());
    }

    #[test]
    fn setuptools_attr_follows_a_reexport() {
        let d = tempfile::tempdir().unwrap();
        write(
            &d.path().join("datasette/__init__.py"),
            "from datasette.version import __version_info__, __version__  # noqa\n",
        );
        write(
            &d.path().join("datasette/version.py"),
            "__version__ = \"1.0a41\"\n__version_info__ = tuple(__version__.split(\".\"))\n",
        );
        let py = "[project]\nname = \"datasette\"\ndynamic = [\"version\"]\n\n[tool.setuptools.dynamic]\nversion = {attr = \"datasette.__version__\"}\n";
        let f = found(d.path(), py, "datasette").unwrap().unwrap();
        assert_eq!(f.value, "1.0a41");
        assert_eq!(f.path, d.path().join("datasette/version.py"));
        assert!(
            f.declared_by.ends_with("imported from datasette.version"),
            "{}",
            f.declared_by
        );
        // Relative re-export from a src layout.
        write(
            &d.path().join("src/pkg/__init__.py"),
            "from ._v import __version__\n",
        );
        write(&d.path().join("src/pkg/_v.py"), "__version__ = '3.2'\n");
        let py = "[project]\nname = \"pkg\"\ndynamic = [\"version\"]\n[tool.setuptools.dynamic]\nversion = {attr = \"pkg.__version__\"}\n";
        let f = found(d.path(), py, "pkg").unwrap().unwrap();
        assert_eq!(
            (f.value.as_str(), f.path.clone()),
            ("3.2", d.path().join("src/pkg/_v.py"))
        );
    }

    #[test]
    fn computed_versions_are_nowhere_and_broken_pointers_are_errors() {
        let d = tempfile::tempdir().unwrap();
        let vcs = "[project]\nname = \"a\"\ndynamic = [\"version\"]\n[tool.hatch.version]\nsource = \"vcs\"\n";
        assert_eq!(found(d.path(), vcs, "a").unwrap(), None);
        let missing = "[project]\nname = \"a\"\ndynamic = [\"version\"]\n[tool.setuptools.dynamic]\nversion = {attr = \"nope.__version__\"}\n";
        let e = found(d.path(), missing, "a").unwrap_err();
        assert!(e.contains("no module `nope`"), "{e}");
    }

    #[test]
    fn stamping_changes_only_the_literal() {
        let f = VersionFile {
            path: "x".into(),
            variable: Some("__version__".into()),
            declared_by: String::new(),
            value: "1.0".into(),
        };
        assert_eq!(
            set_version(&f, "# v\n__version__ = 'v1.0'  # keep\nx = 1\n", "2.0rc1").unwrap(),
            "# v\n__version__ = 'v2.0rc1'  # keep\nx = 1\n"
        );
        let whole = VersionFile {
            variable: None,
            ..f
        };
        assert_eq!(set_version(&whole, "1.0\n", "1.1").unwrap(), "1.1\n");
        assert_eq!(set_version(&whole, "\n", "1.1"), None);
    }
}
