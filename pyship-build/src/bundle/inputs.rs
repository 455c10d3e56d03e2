//! Whether a bundle tree is current: the digest of every input a tree is made
//! from, and the stamp next to the tree that records the digest it was built
//! from, so that `installer` and `run` pack or start a tree without building
//! it again.

use std::path::PathBuf;

use crate::plan::Plan;
use crate::platform::Platform;

/// The file next to a platform's bundle tree that records the digest of
/// the inputs it was built from ([`inputs_digest`]).
pub fn stamp_path(plan: &Plan, platform: Platform) -> PathBuf {
    plan.work_dir.join(platform.key()).join("bundle.stamp")
}

/// A digest of everything a bundle tree is made from, cheap enough to
/// compute before every `installer` run: cargo-pyship's version, the
/// platform, what the plan resolved (name, version, launch, Python, app
/// sources, the updater's settings and the whole config but its `docker`
/// and `ci` tables, which no tree reads), and the path, size and
/// modification time of every file of the project (the pyproject's folder
/// and the Cargo workspace: sources, Cargo.toml with its pyship table,
/// pyproject, locks, template overrides) and of the `include` entries and
/// project wheels outside it. Left out: the output folder and any other
/// output folder of cargo-pyship (an earlier run's `--out`, see
/// [`crate::layout::is_output_dir`]), `target/`, dot folders, `pyship.lock` (a bundle
/// writes it) and what a package index serves (a new dependency release
/// needs `bundle`).
pub fn inputs_digest(plan: &Plan, platform: Platform) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut config = serde_json::to_value(&plan.config).unwrap_or_default();
    if let Some(c) = config.as_object_mut() {
        c.remove("docker");
        c.remove("ci");
    }
    let facts = serde_json::json!({
        "pyship": env!("CARGO_PKG_VERSION"),
        "platform": platform.key(),
        "name": plan.name,
        "file_name": plan.file_name,
        "dist_name": plan.dist_name,
        "version": plan.version.version.tag(),
        "launch": plan.launch,
        "python": plan.python,
        "app": plan.app,
        "update": plan.update,
        "config": config,
    });
    h.update(facts.to_string().as_bytes());
    let canon = |p: &std::path::Path| p.canonicalize().unwrap_or_else(|_| p.to_owned());
    let out_dir = canon(&plan.out_dir);
    // Template overrides no bundle tree is made from: the installer's script
    // (its own stamp covers it), the workflows, the Dockerfile, the notes.
    let templates = canon(&plan.project.config_dir.join("templates"));
    let not_tree_inputs = [
        templates.join("windows").join("installer.nsi.j2"),
        templates.join("ci"),
        templates.join("docker"),
        templates.join("release-notes.md.j2"),
    ];
    let mut roots = vec![
        canon(plan.pyproject().dir()),
        canon(&plan.project.workspace_root),
    ];
    for inc in &plan.config.include {
        roots.push(canon(&plan.project.path(inc)));
    }
    roots.extend(
        crate::deps::project_wheels(plan, platform)
            .unwrap_or_default()
            .iter()
            .map(|w| canon(w)),
    );
    roots.sort();
    roots.dedup();
    for root in &roots {
        h.update(root.to_string_lossy().as_bytes());
        h.update([0]);
        let walk = walkdir::WalkDir::new(root)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| {
                let name = e.file_name().to_string_lossy();
                e.depth() == 0
                    || !(e.file_type().is_dir()
                        && (name.starts_with('.')
                            || matches!(name.as_ref(), "target" | "__pycache__" | "node_modules"))
                        || e.path() == out_dir
                        || e.file_type().is_dir() && crate::layout::is_output_dir(e.path())
                        || not_tree_inputs.iter().any(|n| n == e.path()))
            });
        for e in walk.filter_map(Result::ok) {
            if !e.file_type().is_file() || e.file_name() == "pyship.lock" {
                continue;
            }
            let Ok(meta) = e.metadata() else { continue };
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            h.update(e.path().to_string_lossy().as_bytes());
            h.update([0]);
            h.update(meta.len().to_le_bytes());
            h.update(mtime.to_le_bytes());
        }
    }
    hex::encode(h.finalize())
}

/// Whether `platform`'s bundle tree exists and was built from the inputs
/// the plan has now (see [`inputs_digest`]): what `installer` packs without
/// building it again.
pub fn is_current(plan: &Plan, platform: Platform) -> bool {
    current_for(plan, platform, &inputs_digest(plan, platform))
}

/// [`is_current`] against an inputs digest already computed.
pub(super) fn current_for(plan: &Plan, platform: Platform, digest: &str) -> bool {
    let tree = plan.bundle_dir(platform);
    tree.join(platform.python_exe()).is_file()
        && fs_err::read_to_string(stamp_path(plan, platform)).is_ok_and(|s| s.trim() == digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An output folder of an earlier run with another `--out` is not an
    /// input: what is in it does not change the digest; a source file does.
    #[test]
    fn an_earlier_output_folder_is_not_an_input() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("hello");
        let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/hello");
        crate::fs::copy_tree(&fixture, &root).unwrap();
        let digest = || {
            let project = crate::project::load(Some(&root.join("Cargo.toml")), None).unwrap();
            let plan = Plan::build(
                project,
                &crate::env::Env::default(),
                &crate::plan::Options::default(),
            )
            .unwrap();
            inputs_digest(&plan, Platform::Windows)
        };
        let before = digest();
        let old = root.join("out-2024");
        fs_err::create_dir_all(old.join(".pyship/windows")).unwrap();
        fs_err::write(old.join(crate::lock::LOCK_FILE), "1\n").unwrap();
        fs_err::write(old.join("Hello-App-v0.1.0-win-x64.zip"), b"an old bundle").unwrap();
        assert_eq!(digest(), before, "an earlier output folder counted");
        fs_err::write(old.join("Hello-App-v0.1.0-win-x64.zip"), b"another one").unwrap();
        assert_eq!(digest(), before);
        // Without its work folder it is a folder of the project like any other.
        fs_err::remove_dir_all(old.join(".pyship")).unwrap();
        assert_ne!(digest(), before, "a project folder did not count");
    }
}
