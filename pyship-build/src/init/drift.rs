//! `init --check`: the files whose content differs from what `init` would
//! write now, and an existing table that no longer resolves to the project,
//! each shown as a unified diff.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{discover, generate, table, Error, MetadataAction, Options};
use crate::env::Env;
use crate::launch::Launch;
use crate::project::{display_path, Project};

/// A file whose content on disk differs from what init would write.
#[derive(Debug, Clone, Serialize)]
pub struct Drift {
    pub path: PathBuf,
    pub diff: String,
}

/// The files whose content differs from what init would write now, each with
/// a unified diff (disk → init), and an existing table that no longer
/// resolves to the project (its pyproject, module or app-src), with what init
/// would write instead. Writes nothing.
pub fn check(project: &Project, opts: &Options, env: &Env) -> Result<Vec<Drift>, Error> {
    let generated = generate(project, opts, env)?;
    let mut out = Vec::new();
    if generated.metadata == MetadataAction::Keep {
        out.extend(table_drift(project)?);
    }
    out.extend(
        generated
            .files
            .into_iter()
            .filter(|f| f.changed)
            .map(|f| Drift {
                diff: unified_diff(&f.path, f.old.as_deref().unwrap_or(""), &f.new),
                path: f.path,
            }),
    );
    Ok(out)
}

/// An existing table whose pyproject, module or app-src does not resolve,
/// shown as a diff of those keys against what init would write.
fn table_drift(project: &Project) -> Result<Option<Drift>, Error> {
    let source = &project.config_source;
    let problem: Option<String> = match project.pyproject() {
        Err(e) => Some(e.to_string()),
        Ok(py) => match Launch::resolve(&project.config, py) {
            Err(e) => Some(e.to_string()),
            Ok(l) => crate::layout::resolve(project, py, l.app_module())
                .err()
                .map(|e| e.to_string()),
        },
    };
    let Some(problem) = problem else {
        return Ok(None);
    };
    let disc = discover::discover(project, None, false);
    let c = &project.config;
    let mut d = format!(
        "--- {shown} [{key}] (on disk)\n+++ {shown} [{key}] (cargo pyship init)\n# {problem}\n",
        shown = display_path(&source.manifest),
        key = source.table.key(),
    );
    let old = |key: &str, v: Option<String>| match v {
        Some(v) => format!("-{key} = {}\n", table::q(&v)),
        None => String::new(),
    };
    let slash = |p: &Path| p.to_string_lossy().replace('\\', "/");
    match disc {
        Err(e) => {
            d.push_str(&old(
                "pyproject",
                project.pyproject_written.as_deref().map(slash),
            ));
            d.push_str(&format!("# init would stop: {e}\n"));
        }
        Ok(disc) => {
            let pairs = [
                (
                    "pyproject",
                    project.pyproject_written.as_deref().map(slash),
                    disc.pyproject_key,
                ),
                ("module", c.module.clone(), disc.module_key),
                ("app-src", c.app_src.as_deref().map(slash), disc.app_src_key),
            ];
            for (key, was, now) in pairs {
                let now = now.map(|f| f.value);
                if was == now {
                    continue;
                }
                d.push_str(&old(key, was));
                if let Some(v) = now {
                    d.push_str(&format!("+{key} = {}\n", table::q(&v)));
                }
            }
            for w in disc.warnings {
                d.push_str(&format!("# {w}\n"));
            }
        }
    }
    Ok(Some(Drift {
        path: source.manifest.clone(),
        diff: d,
    }))
}

/// A unified diff from `old` (on disk) to `new` (what init writes).
pub fn unified_diff(path: &Path, old: &str, new: &str) -> String {
    let shown = path.display().to_string();
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(
            &format!("{shown} (on disk)"),
            &format!("{shown} (cargo pyship init)"),
        )
        .to_string()
}
