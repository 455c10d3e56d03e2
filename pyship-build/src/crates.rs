//! Stage: the Rust crates linked into the project's own extension, for one
//! target. Why: their licences (MIT, Apache-2.0, ...) ask for their text to
//! travel with every copy of the binary, and an SBOM must list what a bundle
//! holds, not what Cargo.lock holds for every platform (a Windows build has no
//! `inotify`, a Linux one no `windows-sys`).
//!
//! The crates come from Cargo's resolve for the target (`cargo metadata
//! --filter-platform {triple}`, with the features maturin builds with): from
//! the extension's package, every normal dependency, transitively. Build
//! dependencies and procedural macros (and what only they use) run on the
//! build machine and are not in the binary: they are left out. Each crate's
//! licence is its manifest's `license` (an SPDX expression), and its texts
//! are the files its package ships (`license-file`, `LICENSE*`, `COPYING*`,
//! `NOTICE*`, ...), read from where Cargo unpacked it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::context::Context;
use crate::plan::Plan;
use crate::platform::Platform;

/// One crate linked into the extension.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LinkedCrate {
    pub name: String,
    pub version: String,
    /// `registry+https://...`, `git+...`; `None` for a local (path) crate.
    pub source: Option<String>,
    /// Cargo.lock's SHA-256 of the `.crate` file (registry crates).
    pub checksum: Option<String>,
    /// The manifest's `license` (SPDX expression).
    pub license: Option<String>,
    /// The package's licence files (absolute paths), sorted.
    pub license_files: Vec<PathBuf>,
    /// A member of the project's own workspace (its licence is the project's).
    pub own: bool,
}

/// The crates of one target's extension.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Linked {
    /// The Rust target triple the resolve was filtered for.
    pub triple: String,
    /// The extension's package.
    pub root: String,
    /// Sorted by name, then version.
    pub crates: Vec<LinkedCrate>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("`cargo metadata --filter-platform {}` failed for {manifest}:\n{message}", crate::error::escaped(.triple))]
    #[diagnostic(help("run the same `cargo metadata` in the project to see the error; with --offline, build once online so Cargo has every crate"))]
    Metadata {
        triple: String,
        manifest: PathBuf,
        message: String,
    },
    #[error("the package of {manifest} is not in Cargo's resolve")]
    #[diagnostic(help("check `[tool.maturin] manifest-path` in pyproject.toml"))]
    NoRoot { manifest: PathBuf },
}

/// Whether `name` is a licence file a crate's package ships.
fn is_license_file(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [
        "LICENSE",
        "LICENCE",
        "COPYING",
        "NOTICE",
        "UNLICENSE",
        "COPYRIGHT",
    ]
    .iter()
    .any(|p| upper.starts_with(p))
}

/// The licence files of the package in `dir`: its `license-file` and the
/// files at its top whose names say so. The `license-file` of a package
/// from a registry or git (`confined`) counts only inside `dir`: it is that
/// package's word, and the licence texts ship in the bundle. The project's
/// own packages and path dependencies may name one anywhere (a workspace's
/// `license-file = "../LICENSE"`).
fn license_files(dir: &Path, license_file: Option<&Path>, confined: bool) -> Vec<PathBuf> {
    let mut out: BTreeSet<PathBuf> = BTreeSet::new();
    let file = |rel: &Path| {
        if confined {
            crate::fs::regular_file_within(dir, &rel.to_string_lossy())
        } else {
            Some(dir.join(rel)).filter(|p| p.is_file())
        }
    };
    out.extend(license_file.and_then(file));
    if let Ok(rd) = fs_err::read_dir(dir) {
        for e in rd.filter_map(Result::ok) {
            let name = e.file_name().to_string_lossy().into_owned();
            if is_license_file(&name) {
                out.extend(file(Path::new(&name)));
            }
        }
    }
    out.into_iter().collect()
}

/// `[tool.maturin]` feature arguments of the pyproject, as cargo takes them.
fn feature_args(plan: &Plan) -> Vec<String> {
    let Some(table) = crate::fs::read_small_to_string(&plan.pyproject().path)
        .ok()
        .and_then(|t| t.parse::<toml_edit::DocumentMut>().ok())
        .and_then(|d| d.get("tool")?.get("maturin").cloned())
    else {
        return Vec::new();
    };
    let mut args = Vec::new();
    if let Some(f) = table.get("features").and_then(|f| f.as_array()) {
        let list: Vec<&str> = f.iter().filter_map(|v| v.as_str()).collect();
        if !list.is_empty() {
            args.extend(["--features".to_owned(), list.join(",")]);
        }
    }
    if table.get("all-features").and_then(|v| v.as_bool()) == Some(true) {
        args.push("--all-features".into());
    }
    if table.get("no-default-features").and_then(|v| v.as_bool()) == Some(true) {
        args.push("--no-default-features".into());
    }
    args
}

/// Whether a Rust extension of the project's own ships on `platform`: the
/// project is built with maturin, or one of its `wheels` is a binary (not
/// `-any`) wheel.
pub fn ships_rust_extension(plan: &Plan, platform: Platform) -> bool {
    crate::wheel::planned(plan, platform).is_ok_and(|b| b.maturin.is_some())
        || own_wheels(plan, platform)
            .iter()
            .filter_map(|w| crate::deps::wheel_platform_tag(w))
            .any(|t| t != "any")
}

/// The project's own wheels for `platform`: `wheels = [...]` and those its
/// prebuild or maturin build left in the target's wheel folder.
pub fn own_wheels(plan: &Plan, platform: Platform) -> Vec<PathBuf> {
    let mut v = crate::deps::project_wheels(plan, platform).unwrap_or_default();
    if let Ok(b) = crate::wheel::planned(plan, platform) {
        v.extend(crate::wheel::wheels_in(&b.out_dir).unwrap_or_default());
    }
    v.sort();
    v.dedup();
    v
}

/// The Cargo.toml of the extension `platform`'s bundle ships: the one maturin
/// builds, else (a binary wheel of the project's own `wheels`) the selected
/// package's. `None`: no Rust extension of the project's own ships.
pub fn extension_manifest(plan: &Plan, platform: Platform) -> Option<PathBuf> {
    if !ships_rust_extension(plan, platform) {
        return None;
    }
    if plan.pyproject().is_maturin() {
        return Some(crate::wheel::maturin_manifest(plan));
    }
    // A workspace without members has no crate to build an extension from.
    (!plan.project.members.is_empty()).then(|| plan.project.manifest_path.clone())
}

/// The crates linked into `platform`'s extension (empty when none ships).
pub fn linked(plan: &Plan, platform: Platform, ctx: &Context<'_>) -> Result<Linked, Error> {
    let triple = crate::wheel::triple(plan, platform);
    let Some(manifest) = extension_manifest(plan, platform) else {
        return Ok(Linked {
            triple,
            ..Linked::default()
        });
    };
    let mut options = vec!["--filter-platform".to_owned(), triple.clone()];
    if plan.pyproject().is_maturin() {
        options.extend(feature_args(plan));
    }
    if ctx.offline {
        options.push("--offline".into());
    }
    let fail = |message: String| Error::Metadata {
        triple: triple.clone(),
        manifest: manifest.clone(),
        message,
    };
    let mut cmd = cargo_metadata::MetadataCommand::new();
    cmd.manifest_path(&manifest).other_options(options);
    let meta = crate::project::cargo_metadata(&cmd).map_err(fail)?;
    let mut linked = resolve_linked(&meta, &manifest, &triple)?;
    add_checksums(
        &mut linked,
        &meta.workspace_root.as_std_path().join("Cargo.lock"),
    );
    Ok(linked)
}

/// [`linked`] on a `cargo metadata` answer (with its resolve).
pub fn resolve_linked(
    meta: &cargo_metadata::Metadata,
    manifest: &Path,
    triple: &str,
) -> Result<Linked, Error> {
    let no_root = || Error::NoRoot {
        manifest: manifest.to_owned(),
    };
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_owned());
    let wanted = canon(manifest);
    let root = meta
        .packages
        .iter()
        .find(|p| canon(p.manifest_path.as_std_path()) == wanted)
        .ok_or_else(no_root)?;
    let resolve = meta.resolve.as_ref().ok_or_else(no_root)?;
    let packages: BTreeMap<_, _> = meta.packages.iter().map(|p| (&p.id, p)).collect();
    let nodes: BTreeMap<_, _> = resolve.nodes.iter().map(|n| (&n.id, n)).collect();
    let proc_macro = |id| {
        packages
            .get(id)
            .is_some_and(|p: &&cargo_metadata::Package| {
                p.targets
                    .iter()
                    .any(|t| t.kind.iter().any(|k| k.to_string() == "proc-macro"))
            })
    };
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from([&root.id]);
    while let Some(id) = queue.pop_front() {
        if !seen.insert(id) {
            continue;
        }
        let Some(node) = nodes.get(id) else { continue };
        for dep in &node.deps {
            let normal = dep
                .dep_kinds
                .iter()
                .any(|k| k.kind == cargo_metadata::DependencyKind::Normal);
            if normal && !proc_macro(&dep.pkg) {
                queue.push_back(&dep.pkg);
            }
        }
    }
    let members: BTreeSet<_> = meta.workspace_members.iter().collect();
    let mut crates: Vec<LinkedCrate> = seen
        .into_iter()
        .filter_map(|id| packages.get(id))
        .map(|p| {
            let dir = p
                .manifest_path
                .parent()
                .map(|d| d.as_std_path().to_owned())
                .unwrap_or_default();
            LinkedCrate {
                name: p.name.to_string(),
                version: p.version.to_string(),
                source: p.source.as_ref().map(|s| s.repr.clone()),
                checksum: None,
                license: p.license.clone(),
                license_files: license_files(
                    &dir,
                    p.license_file.as_ref().map(|f| f.as_std_path()),
                    p.source.is_some(),
                ),
                own: members.contains(&p.id),
            }
        })
        .collect();
    crates.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    Ok(Linked {
        triple: triple.to_owned(),
        root: root.name.to_string(),
        crates,
    })
}

/// Cargo.lock's checksums by (name, version), to fill [`LinkedCrate::checksum`].
pub fn add_checksums(linked: &mut Linked, lock: &Path) {
    #[derive(serde::Deserialize)]
    struct Lock {
        #[serde(default)]
        package: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        name: String,
        version: String,
        checksum: Option<String>,
    }
    let Some(lock) = crate::fs::read_small_to_string(lock)
        .ok()
        .and_then(|t| toml::from_str::<Lock>(&t).ok())
    else {
        return;
    };
    let sums: BTreeMap<(String, String), String> = lock
        .package
        .into_iter()
        .filter_map(|e| Some(((e.name, e.version), e.checksum?)))
        .collect();
    for c in &mut linked.crates {
        c.checksum = sums.get(&(c.name.clone(), c.version.clone())).cloned();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn krate(root: &Path, name: &str, manifest_rest: &str, lib: &str) {
        let dir = root.join(name);
        fs_err::create_dir_all(dir.join("src")).unwrap();
        fs_err::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\nlicense = \"MIT\"\n{manifest_rest}"
            ),
        )
        .unwrap();
        fs_err::write(dir.join("src/lib.rs"), lib).unwrap();
        fs_err::write(dir.join("LICENSE"), format!("{name} licence")).unwrap();
    }

    /// The crates of a target: normal dependencies, transitively, for that
    /// platform only; never build dependencies, procedural macros (nor what
    /// only they use) or dev dependencies.
    #[test]
    fn the_crates_of_a_target_are_its_normal_dependencies() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        krate(
            r,
            "ext",
            "[dependencies]\ncommon = { path = \"../common\" }\nmacro = { path = \"../macro\" }\n\
             [target.'cfg(windows)'.dependencies]\nwinonly = { path = \"../winonly\" }\n\
             [target.'cfg(target_os = \"linux\")'.dependencies]\nlinonly = { path = \"../linonly\" }\n\
             [build-dependencies]\nbuilder = { path = \"../builder\" }\n\
             [dev-dependencies]\ntester = { path = \"../tester\" }\n",
            "",
        );
        krate(
            r,
            "common",
            "[dependencies]\ndeep = { path = \"../deep\" }\n",
            "",
        );
        krate(
            r,
            "macro",
            "[lib]\nproc-macro = true\n[dependencies]\nmacrodep = { path = \"../macrodep\" }\n",
            "",
        );
        for n in [
            "deep", "winonly", "linonly", "builder", "tester", "macrodep",
        ] {
            krate(r, n, "", "");
        }
        fs_err::write(
            r.join("Cargo.toml"),
            "[workspace]\nresolver = \"2\"\nmembers = [\"ext\"]\n",
        )
        .unwrap();
        let manifest = r.join("ext/Cargo.toml");
        for (triple, only) in [
            ("x86_64-pc-windows-gnu", "winonly"),
            ("x86_64-unknown-linux-gnu", "linonly"),
        ] {
            let meta = cargo_metadata::MetadataCommand::new()
                .manifest_path(&manifest)
                .other_options(vec!["--filter-platform".to_owned(), triple.to_owned()])
                .exec()
                .expect("cargo metadata");
            let linked = resolve_linked(&meta, &manifest, triple).unwrap();
            let names: Vec<&str> = linked.crates.iter().map(|c| c.name.as_str()).collect();
            let mut want = vec!["common", "deep", "ext", only];
            want.sort();
            assert_eq!(names, want, "{triple}");
            let ext = linked.crates.iter().find(|c| c.name == "ext").unwrap();
            assert!(ext.own && ext.source.is_none());
            assert_eq!(ext.license.as_deref(), Some("MIT"));
            assert_eq!(ext.license_files, [r.join("ext/LICENSE")]);
            assert_eq!(linked.root, "ext");
        }
    }

    /// A registry or git package's `license-file` counts only inside the
    /// package (not `../../credentials.toml`, an absolute path, or a link
    /// out of it); the project's own packages may name one outside.
    #[test]
    fn a_dependencys_licence_file_outside_its_package_is_not_read() {
        let d = tempfile::tempdir().unwrap();
        let pkg = d.path().join("src/index/evil-1.0");
        fs_err::create_dir_all(&pkg).unwrap();
        let token = d.path().join("credentials.toml");
        fs_err::write(&token, "token = \"SECRET\"").unwrap();
        fs_err::write(pkg.join("LICENSE"), "mit").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&token, pkg.join("COPYING")).unwrap();
        for named in [
            "../../../credentials.toml",
            &token.display().to_string(),
            "COPYING",
        ] {
            let got = license_files(&pkg, Some(Path::new(named)), true);
            assert_eq!(got, [pkg.join("LICENSE")], "{named}");
        }
        let own = license_files(&pkg, Some(Path::new("../../../credentials.toml")), false);
        assert!(
            own.contains(&pkg.join("../../../credentials.toml")),
            "{own:?}"
        );
    }

    #[test]
    fn licence_files_are_found_by_name() {
        let d = tempfile::tempdir().unwrap();
        for f in [
            "LICENSE-MIT",
            "LICENSE-APACHE",
            "COPYING",
            "README.md",
            "src.rs",
        ] {
            fs_err::write(d.path().join(f), "x").unwrap();
        }
        fs_err::create_dir(d.path().join("legal")).unwrap();
        fs_err::write(d.path().join("legal/terms.txt"), "t").unwrap();
        let names: Vec<String> = license_files(d.path(), Some(Path::new("legal/terms.txt")), true)
            .iter()
            .map(|p| {
                p.strip_prefix(d.path())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(
            names,
            [
                "COPYING",
                "LICENSE-APACHE",
                "LICENSE-MIT",
                "legal/terms.txt"
            ]
        );
    }
}
