//! The distributions installed in a site-packages, read from their
//! `*.dist-info` folders: name, version, licence metadata, licence files and
//! wheel tags.
//!
//! Why a module of its own: the SBOM ([`crate::sbom`]) and the licence file
//! ([`crate::licenses`]) describe the same set of distributions, read once
//! before the strip stage removes installer bookkeeping such as `WHEEL`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// One installed distribution.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Distribution {
    /// `Name:` as written in METADATA.
    pub name: String,
    pub version: String,
    /// The `*.dist-info` folder's name.
    pub dist_info: String,
    pub summary: Option<String>,
    /// `License-Expression:` (core metadata 2.4), an SPDX expression.
    pub license_expression: Option<String>,
    /// `License:` as written (may be a name, an identifier or a whole text).
    pub license: Option<String>,
    /// `Classifier: License :: ...` entries, without the prefix.
    pub license_classifiers: Vec<String>,
    /// Licence files in the dist-info folder, relative to site-packages, sorted.
    pub license_files: Vec<PathBuf>,
    /// `Tag:` lines of the `WHEEL` file (`cp311-cp311-win_amd64`).
    pub wheel_tags: Vec<String>,
    /// `Home-page:` or the first `Project-URL:`.
    pub home_page: Option<String>,
}

impl Distribution {
    /// The PEP 503 normalized name (`Foo_Bar` → `foo-bar`), as in purls.
    pub fn normalized_name(&self) -> String {
        normalize(&self.name)
    }

    /// A one-line licence for people and SBOMs: the SPDX expression, else a
    /// short `License:` value, else the classifiers. `None`: no licence
    /// information at all.
    pub fn license_summary(&self) -> Option<String> {
        if let Some(e) = &self.license_expression {
            return Some(e.clone());
        }
        if let Some(l) = self.license.as_deref().map(str::trim) {
            if !l.is_empty()
                && !l.contains('\n')
                && l.len() <= 100
                && !l.eq_ignore_ascii_case("UNKNOWN")
            {
                return Some(l.to_owned());
            }
        }
        if !self.license_classifiers.is_empty() {
            return Some(
                self.license_classifiers
                    .iter()
                    .map(|c| c.rsplit(" :: ").next().unwrap_or(c).to_owned())
                    .collect::<Vec<_>>()
                    .join(", "),
            );
        }
        self.license
            .as_deref()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.eq_ignore_ascii_case("UNKNOWN"))
            .map(|l| l.lines().next().unwrap_or(l).trim().to_owned())
    }

    /// Whether the distribution says anything about its licence.
    pub fn has_license_info(&self) -> bool {
        self.license_summary().is_some() || !self.license_files.is_empty()
    }
}

/// PEP 503 name normalization: lowercase, runs of `-_.` → `-` (the one in
/// [`crate::project`], under the name this module's callers use).
pub use crate::project::pep503_name as normalize;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("could not read {path}")]
    #[diagnostic(help(
        "check that the bundle tree is complete (rebuild it with `cargo pyship bundle`)"
    ))]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} has no `Name:` or `Version:` header")]
    #[diagnostic(help(
        "the distribution's METADATA is damaged: reinstall it (rebuild the bundle)"
    ))]
    Metadata { path: PathBuf },
}

/// Is `name` (a file name) a licence file by its name?
pub fn is_license_file_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [
        "LICENSE",
        "LICENCE",
        "COPYING",
        "NOTICE",
        "COPYRIGHT",
        "AUTHORS",
    ]
    .iter()
    .any(|p| upper.starts_with(p))
}

/// Is `rel` (relative to site-packages, `/`-separated) a licence file of a
/// dist-info folder: under its `licenses/` folder, or named like one?
pub fn is_dist_info_license(rel: &str) -> bool {
    let mut parts = rel.split('/');
    let Some(first) = parts.next() else {
        return false;
    };
    if !first.ends_with(".dist-info") {
        return false;
    }
    let rest: Vec<&str> = parts.collect();
    match rest.as_slice() {
        [] => false,
        ["licenses" | "license_files" | "LICENSES", ..] => true,
        [.., last] => is_license_file_name(last),
    }
}

/// Every distribution in `site_packages`, sorted by normalized name.
pub fn read_all(site_packages: &Path) -> Result<Vec<Distribution>, Error> {
    let read_err = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Read { path, source }
    };
    let mut out = Vec::new();
    for entry in fs_err::read_dir(site_packages).map_err(read_err(site_packages))? {
        let entry = entry.map_err(read_err(site_packages))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".dist-info") && entry.path().is_dir() {
            out.push(read(site_packages, &name)?);
        }
    }
    out.sort_by(|a, b| {
        a.normalized_name()
            .cmp(&b.normalized_name())
            .then(a.version.cmp(&b.version))
    });
    Ok(out)
}

/// Read one `*.dist-info` folder of `site_packages`.
pub fn read(site_packages: &Path, dist_info: &str) -> Result<Distribution, Error> {
    let dir = site_packages.join(dist_info);
    let meta_path = dir.join("METADATA");
    let text = fs_err::read_to_string(&meta_path).map_err(|source| Error::Read {
        path: meta_path.clone(),
        source,
    })?;
    let headers = parse_headers(&text);
    let get = |k: &str| {
        headers
            .iter()
            .find(|(h, _)| h.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    let all = |k: &str| -> Vec<String> {
        headers
            .iter()
            .filter(|(h, _)| h.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
            .collect()
    };
    let (Some(name), Some(version)) = (get("Name"), get("Version")) else {
        return Err(Error::Metadata { path: meta_path });
    };

    let mut files = BTreeSet::new();
    // Only files inside the dist-info: a `License-File` is the package's
    // word, and its licence texts ship in the bundle.
    for declared in all("License-File") {
        if let Some(found) = ["licenses/", ""]
            .iter()
            .find_map(|sub| crate::fs::regular_file_within(&dir, &format!("{sub}{declared}")))
        {
            files.insert(found);
        }
    }
    for e in walkdir::WalkDir::new(&dir).sort_by_file_name() {
        let Ok(e) = e else { continue };
        if !e.file_type().is_file() {
            continue;
        }
        let rel = e
            .path()
            .strip_prefix(site_packages)
            .unwrap_or(e.path())
            .to_string_lossy()
            .replace('\\', "/");
        if is_dist_info_license(&rel) {
            files.insert(e.path().to_owned());
        }
    }
    let license_files = files
        .into_iter()
        .map(|p| {
            p.strip_prefix(site_packages)
                .map(Path::to_owned)
                .unwrap_or(p)
        })
        .collect();

    let wheel_tags = fs_err::read_to_string(dir.join("WHEEL"))
        .map(|w| {
            parse_headers(&w)
                .into_iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case("Tag"))
                .map(|(_, v)| v)
                .collect()
        })
        .unwrap_or_default();

    let home_page = get("Home-page").filter(|s| !s.is_empty()).or_else(|| {
        all("Project-URL")
            .into_iter()
            .find_map(|v| v.split_once(',').map(|(_, u)| u.trim().to_owned()))
    });
    Ok(Distribution {
        name,
        version,
        dist_info: dist_info.to_owned(),
        summary: get("Summary").filter(|s| !s.is_empty()),
        license_expression: get("License-Expression").filter(|s| !s.is_empty()),
        license: get("License").filter(|s| !s.trim().is_empty()),
        license_classifiers: all("Classifier")
            .into_iter()
            .filter_map(|c| c.strip_prefix("License :: ").map(str::to_owned))
            .collect(),
        license_files,
        wheel_tags,
        home_page,
    })
}

/// RFC 822-style headers up to the first blank line; continuation lines
/// (starting with whitespace, `License:` texts often use `        |`) are
/// joined with newlines.
fn parse_headers(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = out.last_mut() {
                let cont = line.trim_start();
                let cont = cont.strip_prefix('|').unwrap_or(cont);
                v.push('\n');
                v.push_str(cont);
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(dir: &Path, name: &str, files: &[(&str, &str)]) {
        let d = dir.join(name);
        for (f, text) in files {
            let p = d.join(f);
            fs_err::create_dir_all(p.parent().unwrap()).unwrap();
            fs_err::write(p, text).unwrap();
        }
    }

    #[test]
    fn reads_metadata_licences_and_tags() {
        let t = tempfile::tempdir().unwrap();
        dist(
            t.path(),
            "Foo_Bar-1.2.dist-info",
            &[
                ("METADATA", "Metadata-Version: 2.4\nName: Foo_Bar\nVersion: 1.2\nLicense-Expression: MIT OR Apache-2.0\nLicense-File: LICENSE-MIT\nClassifier: License :: OSI Approved :: MIT License\n\nbody: not a header\n"),
                ("licenses/LICENSE-MIT", "mit"),
                ("WHEEL", "Wheel-Version: 1.0\nTag: cp311-cp311-win_amd64\n"),
                ("RECORD", ""),
            ],
        );
        dist(
            t.path(),
            "numpy-1.26.4.dist-info",
            &[
                ("METADATA", "Name: numpy\nVersion: 1.26.4\nLicense: Copyright (c) 2005-2023\n        | NumPy Developers.\nClassifier: License :: OSI Approved :: BSD License\n"),
                ("LICENSE.txt", "bsd"),
            ],
        );
        dist(
            t.path(),
            "bare-0.1.dist-info",
            &[("METADATA", "Name: bare\nVersion: 0.1\nLicense: UNKNOWN\n")],
        );
        let all = read_all(t.path()).unwrap();
        let names: Vec<_> = all.iter().map(|d| d.normalized_name()).collect();
        assert_eq!(names, ["bare", "foo-bar", "numpy"]);
        let foo = &all[1];
        assert_eq!(foo.license_summary().as_deref(), Some("MIT OR Apache-2.0"));
        assert_eq!(
            foo.license_files,
            [PathBuf::from("Foo_Bar-1.2.dist-info/licenses/LICENSE-MIT")]
        );
        assert_eq!(foo.wheel_tags, ["cp311-cp311-win_amd64"]);
        let numpy = &all[2];
        assert_eq!(numpy.license_summary().as_deref(), Some("BSD License"));
        assert_eq!(
            numpy.license.as_deref(),
            Some("Copyright (c) 2005-2023\n NumPy Developers.")
        );
        assert!(!all[0].has_license_info());
    }

    /// A `License-File` that names a file outside the dist-info (absolute,
    /// through `..`, or through a link) is not a licence file: a hostile
    /// package must not get a file of the build machine's into the notices.
    #[test]
    fn licence_files_outside_the_dist_info_are_not_read() {
        let t = tempfile::tempdir().unwrap();
        let sp = t.path().join("site-packages");
        let secret = t.path().join("token.txt");
        fs_err::write(&secret, "SECRET").unwrap();
        let meta = format!(
            "Name: evil\nVersion: 1.0\nLicense-File: ../../token.txt\nLicense-File: {}\nLicense-File: linked\nLicense-File: licenses/../../../token.txt\nLicense-File: COPYING\n",
            secret.display()
        );
        dist(
            &sp,
            "evil-1.0.dist-info",
            &[("METADATA", meta.as_str()), ("licenses/COPYING", "ok")],
        );
        #[cfg(unix)]
        std::os::unix::fs::symlink(&secret, sp.join("evil-1.0.dist-info/licenses/linked")).unwrap();
        let all = read_all(&sp).unwrap();
        assert_eq!(
            all[0].license_files,
            [PathBuf::from("evil-1.0.dist-info/licenses/COPYING")]
        );
    }

    #[test]
    fn licence_paths_are_recognised() {
        assert!(is_dist_info_license("a-1.dist-info/LICENSE"));
        assert!(is_dist_info_license(
            "a-1.dist-info/licenses/sub/anything.txt"
        ));
        assert!(is_dist_info_license("a-1.dist-info/COPYING.md"));
        assert!(!is_dist_info_license("a-1.dist-info/RECORD"));
        assert!(!is_dist_info_license("pkg/LICENSE"));
        assert_eq!(normalize("Foo__Bar.baz"), "foo-bar-baz");
    }
}
