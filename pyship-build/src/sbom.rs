//! Stage: a CycloneDX 1.5 SBOM of each bundle
//! (`{name}-{tag}-win-x64.cdx.json`, `{name}-{tag}-linux-x64.cdx.json`) in
//! the output directory, published with the release.
//!
//! Why: people who install software on company machines are asked what is
//! inside it. The document lists every distribution in the bundle's
//! site-packages (name, version, licence from its metadata, `pkg:pypi` purl,
//! SHA-256 of its wheel where known), the CPython runtime (version, source
//! URL and the archive's SHA-256) and, when the project ships a Rust
//! extension of its own, the crates of its Cargo.lock. The document is made
//! of the serde types below, the subset of the CycloneDX 1.5 JSON schema that
//! cargo-pyship writes; the end-to-end tests validate every SBOM against the
//! official schema (the CycloneDX project's Python library, pinned). Not
//! the `cyclonedx-bom` crate: it models every spec version in JSON and XML,
//! a heavy build for the dozen fields used here.
//!
//! Wheel hashes are "where known": a local wheel file (the project's
//! `wheels`, a local `find-links` folder) is hashed; a `find-links` page or
//! an index's simple page gives the `#sha256=` of its links (PyPI's does).
//! Nothing is downloaded again to learn a hash, and `--offline` asks no server.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::context::Context;
use crate::dist_info::{normalize, Distribution};
use crate::plan::Plan;
use crate::platform::Platform;

/// The default package index (uv's default).
const PYPI_SIMPLE: &str = "https://pypi.org/simple";

/// The CycloneDX document (the fields cargo-pyship writes).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Bom {
    pub bom_format: &'static str,
    pub spec_version: &'static str,
    pub serial_number: String,
    pub version: u32,
    pub metadata: Metadata,
    pub components: Vec<Component>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Metadata {
    pub timestamp: String,
    pub tools: Tools,
    pub component: Component,
    pub properties: Vec<Property>,
}

/// CycloneDX 1.5 `tools` (the object form).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Tools {
    pub components: Vec<Component>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Component {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(rename = "bom-ref")]
    pub bom_ref: String,
    pub name: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hashes: Vec<HashEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<LicenseChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub external_references: Vec<ExternalReference>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
}

impl Component {
    fn new(kind: &'static str, bom_ref: String, name: &str, version: &str) -> Self {
        Self {
            kind,
            bom_ref,
            name: one_line(name),
            version: one_line(version),
            description: None,
            hashes: Vec::new(),
            licenses: Vec::new(),
            purl: None,
            external_references: Vec::new(),
            properties: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HashEntry {
    pub alg: &'static str,
    pub content: String,
}

/// Either one licence (an SPDX id or a name) or an SPDX expression.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum LicenseChoice {
    License { license: License },
    Expression { expression: String },
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct License {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ExternalReference {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub url: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hashes: Vec<HashEntry>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Property {
    pub name: String,
    pub value: String,
}

/// Whitespace runs (line breaks included) as one space: names and versions
/// are single-line strings in CycloneDX.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// SPDX identifiers that Python metadata commonly spells out in `License:`
/// (exactly, or as a classifier's last part), to emit `id` instead of `name`.
const SPDX_IDS: &[(&str, &str)] = &[
    ("MIT", "MIT"),
    ("MIT License", "MIT"),
    ("BSD", "BSD-3-Clause"),
    ("BSD-2-Clause", "BSD-2-Clause"),
    ("BSD-3-Clause", "BSD-3-Clause"),
    ("BSD 3-Clause", "BSD-3-Clause"),
    ("Apache-2.0", "Apache-2.0"),
    ("Apache 2.0", "Apache-2.0"),
    ("Apache License 2.0", "Apache-2.0"),
    ("Apache Software License 2.0", "Apache-2.0"),
    ("Apache License, Version 2.0", "Apache-2.0"),
    ("ISC", "ISC"),
    ("ISC License (ISCL)", "ISC"),
    ("MPL-2.0", "MPL-2.0"),
    ("Mozilla Public License 2.0 (MPL 2.0)", "MPL-2.0"),
    ("PSF-2.0", "PSF-2.0"),
    ("Python Software Foundation License", "PSF-2.0"),
    ("LGPL-2.1-or-later", "LGPL-2.1-or-later"),
    ("LGPL-3.0-or-later", "LGPL-3.0-or-later"),
    ("GPL-2.0-or-later", "GPL-2.0-or-later"),
    ("GPL-3.0-or-later", "GPL-3.0-or-later"),
    ("Unlicense", "Unlicense"),
    ("The Unlicense (Unlicense)", "Unlicense"),
    ("0BSD", "0BSD"),
    ("Zlib", "Zlib"),
    ("CC0-1.0", "CC0-1.0"),
];

fn spdx_id(s: &str) -> Option<&'static str> {
    SPDX_IDS
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(s.trim()))
        .map(|(_, id)| *id)
}

/// `win-x64` / `linux-x64`: the part of the SBOM's name after `{name}-{tag}-`.
pub fn suffix(platform: Platform) -> &'static str {
    platform.os_arch()
}

/// `{name}-{tag}-{suffix}.cdx.json`.
pub fn file_name(plan: &Plan, platform: Platform) -> String {
    format!(
        "{}-{}-{}.cdx.json",
        plan.file_name,
        plan.version.version.tag(),
        suffix(platform)
    )
}

/// What was written.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    pub platform: Platform,
    pub path: PathBuf,
    /// Python distributions listed (the app's own is the SBOM's subject).
    pub distributions: usize,
    /// Of those, how many carry their wheel's SHA-256.
    pub wheel_hashes: usize,
    /// Crates linked into the project's Rust extension for this target (0 unless one ships).
    pub crates: usize,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("could not write the SBOM {path}")]
    Write {
        path: PathBuf,
        #[source]
        #[diagnostic_source]
        source: crate::fs::Error,
    },
    #[error("could not read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The runtime as the SBOM describes it.
#[derive(Debug, Clone)]
pub struct RuntimeSource {
    pub version: String,
    pub url: String,
    /// SHA-256 of the downloaded archive (empty: unknown, e.g. a host venv).
    pub sha256: String,
}

/// Wheel file name → SHA-256, from the places the dependencies came from.
#[derive(Debug, Default, Clone)]
pub struct WheelHashes {
    /// Local wheel files by file name (hashed when matched).
    local: BTreeMap<String, PathBuf>,
    /// Hashes from `#sha256=` link fragments or the lock, by file name.
    known: BTreeMap<String, String>,
    /// Where the lock says each wheel is downloaded from, by file name.
    urls: BTreeMap<String, String>,
    /// Wheels this build made from the project's sources (maturin, a
    /// prebuild): no download to verify, and their bytes hold build paths
    /// (unstripped symbol tables), so they are named, not hashed.
    built: Vec<String>,
    /// Where local wheels' hashes are remembered between builds.
    cache: Option<crate::cache::Cache>,
}

impl WheelHashes {
    /// Collect what is known for `dists` of `platform`: the project's wheels,
    /// and the lock's wheel names, hashes and URLs (`pinned`); without pins,
    /// local `find-links` folders and (unless offline) `find-links` pages and
    /// the index's simple pages.
    pub fn collect(
        plan: &Plan,
        platform: Platform,
        dists: &[Distribution],
        pinned: Option<&crate::pins::Pinned>,
        ctx: &Context<'_>,
    ) -> Self {
        let mut me = Self {
            cache: Some(ctx.cache.clone()),
            ..Self::default()
        };
        for w in crate::deps::project_wheels(plan, platform).unwrap_or_default() {
            me.add_local(w);
        }
        if let Ok(b) = crate::wheel::planned(plan, platform) {
            for w in crate::wheel::wheels_in(&b.out_dir).unwrap_or_default() {
                if let Some(name) = w.file_name().and_then(|n| n.to_str()) {
                    me.built.push(name.to_owned());
                }
            }
        }
        if let Some(pinned) = pinned {
            // The lock names every installed wheel with its hash: nothing to
            // ask a server, so an offline build writes the same document.
            for p in &pinned.packages {
                for w in &p.wheels {
                    me.known.insert(w.file.clone(), w.sha256.clone());
                    if let Some(u) = &w.url {
                        me.urls.insert(w.file.clone(), u.clone());
                    }
                }
            }
            return me;
        }
        let mut pages = Vec::new();
        for link in &plan.config.find_links {
            let local = plan.project.config_dir.join(link);
            if !link.contains("://") && local.is_dir() {
                for e in fs_err::read_dir(&local).into_iter().flatten().flatten() {
                    me.add_local(e.path());
                }
            } else if !link.contains("://") && local.is_file() {
                me.add_local(local);
            } else if let Some(path) = link.strip_prefix("file://") {
                for e in fs_err::read_dir(path).into_iter().flatten().flatten() {
                    me.add_local(e.path());
                }
            } else {
                // A find-links page must be there; an index's project page
                // (below) may be missing (a package from elsewhere).
                pages.push((link.clone(), false));
            }
        }
        if !plan.config.no_index {
            let index = plan
                .config
                .index_url
                .clone()
                .unwrap_or_else(|| PYPI_SIMPLE.into());
            let index = index.trim_end_matches('/').to_owned();
            for d in dists {
                if normalize(&d.name) != normalize(&plan.dist_name) {
                    pages.push((format!("{index}/{}/", d.normalized_name()), true));
                }
            }
        }
        if ctx.offline || pages.is_empty() {
            return me;
        }
        use rayon::prelude::*;
        // Each page with the net layer's timeouts and retries; a page that
        // cannot be read costs its hashes, not the build, and says so.
        type Page = (
            String,
            Result<Option<Vec<crate::packaging::IndexFile>>, crate::net::Error>,
        );
        let found: Vec<Page> = pages
            .par_iter()
            .map(|(url, missing_ok)| {
                (
                    url.clone(),
                    crate::packaging::project_page(ctx, url, *missing_ok),
                )
            })
            .collect();
        for (url, got) in found {
            match got {
                Ok(files) => {
                    for f in files.into_iter().flatten() {
                        if let (true, Some(sha)) = (f.file_name.ends_with(".whl"), f.sha256) {
                            me.known.entry(f.file_name).or_insert(sha);
                        }
                    }
                }
                Err(e) => {
                    let causes: Vec<String> =
                        std::iter::successors(Some(&e as &dyn std::error::Error), |e| e.source())
                            .map(ToString::to_string)
                            .collect();
                    let hint = crate::error::Hint::hint(&e)
                        .map(|h| format!(" (hint: {h})"))
                        .unwrap_or_default();
                    ctx.reporter.warn(&format!(
                        "the SBOM lists no wheel hashes from {}: {}{hint}",
                        crate::error::escaped(url),
                        causes.join(": ")
                    ));
                }
            }
        }
        ctx.reporter.debug(&format!(
            "SBOM: {} wheel hashes from {} pages, {} local wheels",
            me.known.len(),
            pages.len(),
            me.local.len()
        ));
        me
    }

    fn add_local(&mut self, path: PathBuf) {
        if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
            if name.ends_with(".whl") {
                self.local.insert(name.to_owned(), path.clone());
            }
        }
    }

    /// Where the lock says the wheel `file` comes from.
    pub fn url(&self, file: &str) -> Option<&str> {
        self.urls.get(file).map(String::as_str)
    }

    /// The wheel this build made for `d` from the project's sources, if any.
    pub fn built(&self, d: &Distribution) -> Option<&str> {
        self.built
            .iter()
            .find(|f| wheel_matches(f, d))
            .map(String::as_str)
    }

    /// The wheel of `d` and its SHA-256, when known.
    pub fn find(&self, d: &Distribution) -> Option<(String, String)> {
        let pick = |names: Vec<&String>| -> Option<String> {
            let matching: Vec<&String> =
                names.into_iter().filter(|f| wheel_matches(f, d)).collect();
            match matching.as_slice() {
                [one] => Some((*one).clone()),
                many => many
                    .iter()
                    .find(|f| tags_match(f, &d.wheel_tags))
                    .map(|f| (*f).clone()),
            }
        };
        if let Some(name) = pick(self.local.keys().collect()) {
            let path = &self.local[&name];
            let sha = match &self.cache {
                Some(c) => c.sha256_file(path),
                None => crate::fs::sha256_file(path),
            }
            .ok()?;
            return Some((name, sha));
        }
        let name = pick(self.known.keys().collect())?;
        Some((name.clone(), self.known[&name].clone()))
    }
}

/// The (name, version, tags) of a wheel file name.
fn wheel_parts(file: &str) -> Option<(String, String, Vec<String>)> {
    let w = crate::packaging::WheelFilename::parse(file)?;
    Some((normalize(&w.name), w.version.clone(), w.tags()))
}

fn wheel_matches(file: &str, d: &Distribution) -> bool {
    wheel_parts(file).is_some_and(|(n, v, _)| {
        n == d.normalized_name() && (v == d.version || v.replace('_', "-") == d.version)
    })
}

fn tags_match(file: &str, tags: &[String]) -> bool {
    wheel_parts(file).is_some_and(|(_, _, t)| t.iter().any(|t| tags.contains(t)))
}

fn sha256_hash(hex: &str) -> Vec<HashEntry> {
    vec![HashEntry {
        alg: "SHA-256",
        content: hex.to_ascii_lowercase(),
    }]
}

fn license_id(id: &str) -> LicenseChoice {
    LicenseChoice::License {
        license: License {
            id: Some(id.to_owned()),
            name: None,
        },
    }
}

fn license_name(name: &str) -> LicenseChoice {
    match spdx_id(name) {
        Some(id) => license_id(id),
        None => LicenseChoice::License {
            license: License {
                id: None,
                name: Some(one_line(name)),
            },
        },
    }
}

/// The licences of `d` for CycloneDX: its `License-Expression` (an SPDX
/// expression by the metadata spec), else a short `License:` value, else its
/// licence classifiers; names that are well-known SPDX ids become ids.
fn licenses_of(d: &Distribution) -> Vec<LicenseChoice> {
    if let Some(e) = &d.license_expression {
        let e = one_line(e);
        return vec![match spdx_id(&e) {
            Some(id) => license_id(id),
            None => LicenseChoice::Expression { expression: e },
        }];
    }
    let short = d.license.as_deref().map(str::trim).filter(|l| {
        !l.is_empty() && !l.contains('\n') && l.len() <= 100 && !l.eq_ignore_ascii_case("UNKNOWN")
    });
    if let Some(l) = short {
        return vec![license_name(l)];
    }
    let mut names: Vec<String> = d
        .license_classifiers
        .iter()
        .map(|c| c.rsplit(" :: ").next().unwrap_or(c).to_owned())
        .collect();
    names.dedup();
    if !names.is_empty() {
        return names.iter().map(|n| license_name(n)).collect();
    }
    d.license_summary()
        .map(|s| vec![license_name(&s)])
        .unwrap_or_default()
}

fn property(name: &str, value: &str) -> Property {
    Property {
        name: name.to_owned(),
        value: value.to_owned(),
    }
}

/// `pkg:pypi/{normalized name}@{version}`.
pub fn pypi_purl(name: &str, version: &str) -> String {
    format!(
        "pkg:pypi/{}@{}",
        normalize(name),
        crate::net::percent_encode(version)
    )
}

/// RFC 3339 (UTC, seconds) of `secs` since the epoch.
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    let (y, m, d) = crate::dates::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A deterministic `urn:uuid:` from the document's content (RFC 4122 layout,
/// version 5-style bits), so the same inputs give the same SBOM.
fn serial(seed: &str) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(seed.as_bytes());
    format!("urn:uuid:{}", crate::fs::hash_uuid(&h, 5))
}

/// Build the SBOM of `platform`'s bundle.
pub fn build(
    plan: &Plan,
    platform: Platform,
    runtime: &RuntimeSource,
    dists: &[Distribution],
    linked: &crate::crates::Linked,
    hashes: &WheelHashes,
    timestamp: u64,
) -> Result<(Bom, Written), Error> {
    let own = normalize(&plan.dist_name);
    let mut components = Vec::new();
    let mut subject = None;
    let mut wheel_hashes = 0;
    for d in dists {
        let purl = pypi_purl(&d.name, &d.version);
        let is_own = d.normalized_name() == own;
        let mut c = Component::new(
            if is_own { "application" } else { "library" },
            purl.clone(),
            &d.name,
            &d.version,
        );
        c.purl = Some(purl);
        c.description = d.summary.as_deref().map(one_line);
        c.licenses = licenses_of(d);
        c.properties
            .push(property("pyship:dist-info", &d.dist_info));
        if let Some(file) = hashes.built(d) {
            c.properties.push(property("pyship:built-wheel", file));
        } else if let Some((file, sha)) = hashes.find(d) {
            c.hashes = sha256_hash(&sha);
            c.properties.push(property("pyship:wheel", &file));
            if let Some(url) = hashes.url(&file) {
                c.external_references.push(ExternalReference {
                    kind: "distribution",
                    url: url.to_owned(),
                    hashes: sha256_hash(&sha),
                });
            }
            wheel_hashes += 1;
        }
        if let Some(home) = d
            .home_page
            .as_deref()
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
            .filter(|u| !u.contains(char::is_whitespace))
        {
            c.external_references.push(ExternalReference {
                kind: "website",
                url: home.to_owned(),
                hashes: Vec::new(),
            });
        }
        if is_own {
            subject = Some(c);
        } else {
            components.push(c);
        }
    }
    let distributions = components.len();

    // The runtime.
    let mut py = Component::new(
        "platform",
        format!("cpython@{}-{}", runtime.version, suffix(platform)),
        "cpython",
        &runtime.version,
    );
    py.description = Some(
        match platform {
            Platform::Windows => "CPython, python.org's embeddable distribution for Windows amd64",
            Platform::Linux => "CPython runtime for Linux x86_64",
        }
        .into(),
    );
    py.licenses = vec![license_id("PSF-2.0")];
    if !runtime.sha256.is_empty() {
        py.hashes = sha256_hash(&runtime.sha256);
    }
    let mut purl = format!("pkg:generic/cpython@{}", runtime.version);
    if runtime.url.contains("://") {
        purl.push_str(&format!(
            "?download_url={}",
            crate::net::percent_encode(&runtime.url)
        ));
        py.external_references.push(ExternalReference {
            kind: "distribution",
            url: runtime.url.clone(),
            hashes: if runtime.sha256.is_empty() {
                Vec::new()
            } else {
                sha256_hash(&runtime.sha256)
            },
        });
    }
    py.purl = Some(purl);
    components.push(py);

    // cargo-pyship's self-updater, shipped in site-packages without a dist-info.
    if plan.update.is_some() {
        let mut u = Component::new(
            "library",
            "pyship-update".into(),
            crate::plan::UPDATE_PACKAGE,
            env!("CARGO_PKG_VERSION"),
        );
        u.description =
            Some("the self-updater cargo-pyship ships in every bundle (stdlib only)".into());
        u.licenses = vec![LicenseChoice::Expression {
            expression: env!("CARGO_PKG_LICENSE").into(),
        }];
        components.push(u);
    }

    // The crates linked into a Rust extension of the project's own, for
    // this target (see `crate::crates`).
    let mut crates = 0;
    for k in &linked.crates {
        let purl = format!(
            "pkg:cargo/{}@{}",
            k.name,
            crate::net::percent_encode(&k.version)
        );
        let mut c = Component::new("library", purl.clone(), &k.name, &k.version);
        c.purl = Some(purl);
        if let Some(sum) = &k.checksum {
            c.hashes = sha256_hash(sum);
        }
        if let Some(l) = &k.license {
            c.licenses = vec![match spdx_id(l) {
                Some(id) => license_id(id),
                None => LicenseChoice::Expression {
                    expression: one_line(l),
                },
            }];
        }
        c.properties.push(property(
            "pyship:cargo-source",
            k.source.as_deref().unwrap_or("local (this workspace)"),
        ));
        c.properties
            .push(property("pyship:cargo-target", &linked.triple));
        components.push(c);
        crates += 1;
    }

    let mut subject = subject.unwrap_or_else(|| {
        let v = plan.version.version.pep440();
        let purl = pypi_purl(&plan.dist_name, &v);
        let mut c = Component::new("application", purl.clone(), &plan.dist_name, &v);
        c.purl = Some(purl);
        c
    });
    subject.properties.push(property("pyship:name", &plan.name));
    subject
        .properties
        .push(property("pyship:tag", &plan.version.version.tag()));
    let tool = Component::new(
        "application",
        "tool:cargo-pyship".into(),
        "cargo-pyship",
        env!("CARGO_PKG_VERSION"),
    );
    let seed = format!(
        "{} {} {} {:?}",
        plan.name,
        plan.version.version.tag(),
        suffix(platform),
        components
            .iter()
            .map(|c| (&c.bom_ref, &c.hashes))
            .collect::<Vec<_>>()
    );
    let bom = Bom {
        bom_format: "CycloneDX",
        spec_version: "1.5",
        serial_number: serial(&seed),
        version: 1,
        metadata: Metadata {
            timestamp: rfc3339(timestamp),
            tools: Tools {
                components: vec![tool],
            },
            component: subject,
            properties: vec![property("pyship:platform", suffix(platform))],
        },
        components,
    };
    Ok((
        bom,
        Written {
            platform,
            path: plan.out_dir.join(file_name(plan, platform)),
            distributions,
            wheel_hashes,
            crates,
        },
    ))
}

/// Build and write the SBOM of `platform`'s bundle into the output directory.
pub fn write(
    plan: &Plan,
    platform: Platform,
    runtime: &RuntimeSource,
    dists: &[Distribution],
    linked: &crate::crates::Linked,
    pinned: Option<&crate::pins::Pinned>,
    ctx: &Context<'_>,
) -> Result<Written, Error> {
    let hashes = WheelHashes::collect(plan, platform, dists, pinned, ctx);
    let timestamp = plan.epoch.seconds;
    let (bom, written) = build(plan, platform, runtime, dists, linked, &hashes, timestamp)?;
    let mut text = serde_json::to_string_pretty(&bom).expect("the SBOM serializes");
    text.push('\n');
    crate::fs::atomic_write_creating_dir(&written.path, text.as_bytes()).map_err(|source| {
        Error::Write {
            path: written.path.clone(),
            source,
        }
    })?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wheel_names_match_distributions_and_tags() {
        let d = Distribution {
            name: "Foo_Bar".into(),
            version: "1.0".into(),
            dist_info: "Foo_Bar-1.0.dist-info".into(),
            summary: None,
            license_expression: None,
            license: None,
            license_classifiers: vec![],
            license_files: vec![],
            wheel_tags: vec!["cp311-cp311-win_amd64".into()],
            home_page: None,
        };
        assert!(wheel_matches("foo_bar-1.0-cp311-cp311-win_amd64.whl", &d));
        assert!(!wheel_matches("foo_bar-1.1-cp311-cp311-win_amd64.whl", &d));
        let mut h = WheelHashes::default();
        for (f, s) in [
            ("foo_bar-1.0-cp311-cp311-manylinux_2_28_x86_64.whl", "1"),
            ("foo_bar-1.0-cp311-cp311-win_amd64.whl", "2"),
        ] {
            h.known.insert(f.into(), s.repeat(64));
        }
        assert_eq!(h.find(&d).unwrap().1, "2".repeat(64));
        assert_eq!(
            wheel_parts("a-1-py2.py3-none-any.whl").unwrap().2,
            ["py2-none-any", "py3-none-any"]
        );
    }

    #[test]
    fn timestamps_and_serials_are_well_formed() {
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        let a = serial("x");
        assert_eq!(a, serial("x"));
        assert_ne!(a, serial("y"));
        assert_eq!(a.len(), "urn:uuid:".len() + 36);
    }

    #[test]
    fn licences_become_ids_expressions_or_names() {
        let mut d = Distribution {
            name: "x".into(),
            version: "1".into(),
            dist_info: "x-1.dist-info".into(),
            summary: None,
            license_expression: Some("MIT OR Apache-2.0".into()),
            license: None,
            license_classifiers: vec!["OSI Approved :: BSD License".into()],
            license_files: vec![],
            wheel_tags: vec![],
            home_page: None,
        };
        assert_eq!(
            serde_json::to_value(licenses_of(&d)).unwrap(),
            serde_json::json!([{"expression": "MIT OR Apache-2.0"}])
        );
        d.license_expression = None;
        d.license = Some("Apache 2.0".into());
        assert_eq!(
            serde_json::to_value(licenses_of(&d)).unwrap(),
            serde_json::json!([{"license": {"id": "Apache-2.0"}}])
        );
        d.license = Some("long\ntext".into());
        assert_eq!(
            serde_json::to_value(licenses_of(&d)).unwrap(),
            serde_json::json!([{"license": {"name": "BSD License"}}])
        );
    }
}
