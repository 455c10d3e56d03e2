//! Stage: a CycloneDX 1.5 SBOM of each bundle
//! (`{name}-{tag}-win-x64.cdx.json`, `{name}-{tag}-linux-x64.cdx.json`) in
//! the output directory, published with the release.
//!
//! Why: people who install software on company machines are asked what is
//! inside it. The document lists every distribution in the bundle's
//! site-packages (name, version, licence from its metadata, `pkg:pypi` purl,
//! SHA-256 of its wheel where known), the CPython runtime (version, source
//! URL and the archive's SHA-256) and, when the project ships a Rust
//! extension of its own, the crates of its Cargo.lock. It is built with the
//! CycloneDX project's own crate (`cyclonedx-bom`), which also validates it.
//!
//! Wheel hashes are "where known": a local wheel file (the project's
//! `wheels`, a local `find-links` folder) is hashed; a `find-links` page or
//! an index's simple page gives the `#sha256=` of its links (PyPI's does).
//! Nothing is downloaded again to learn a hash, and `--offline` asks no server.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;

use cyclonedx_bom::external_models::normalized_string::NormalizedString;
use cyclonedx_bom::external_models::spdx::{SpdxExpression, SpdxIdentifier};
use cyclonedx_bom::external_models::uri::{Purl, Uri};
use cyclonedx_bom::models::bom::{Bom, UrnUuid};
use cyclonedx_bom::models::component::{Classification, Component, Components};
use cyclonedx_bom::models::external_reference::{
    ExternalReference, ExternalReferenceType, ExternalReferences,
};
use cyclonedx_bom::models::hash::{Hash, HashAlgorithm, HashValue, Hashes};
use cyclonedx_bom::models::license::{License, LicenseChoice, Licenses};
use cyclonedx_bom::models::metadata::Metadata;
use cyclonedx_bom::models::property::{Properties, Property};
use cyclonedx_bom::models::tool::Tools;
use cyclonedx_bom::validation::Validate;
use serde::Serialize;

use crate::context::Context;
use crate::dist_info::{normalize, Distribution};
use crate::plan::Plan;
use crate::platform::Platform;

/// The default package index (uv's default).
const PYPI_SIMPLE: &str = "https://pypi.org/simple";

/// `win-x64` / `linux-x64`: the part of the SBOM's name after `{name}-{tag}-`.
pub fn suffix(platform: Platform) -> &'static str {
    match platform {
        Platform::Windows => "win-x64",
        Platform::Linux => "linux-x64",
    }
}

/// `{name}-{tag}-{suffix}.cdx.json`.
pub fn file_name(plan: &Plan, platform: Platform) -> String {
    format!(
        "{}-{}-{}.cdx.json",
        plan.name,
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
    /// Crates listed from Cargo.lock (0 unless a Rust extension ships).
    pub crates: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("could not write the SBOM {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: crate::fs::Error,
    },
    #[error("the SBOM for {platform} does not validate as CycloneDX 1.5: {message}")]
    Invalid { platform: Platform, message: String },
    #[error("could not read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl crate::error::Hint for Error {
    fn hint(&self) -> Option<String> {
        match self {
            Error::Invalid { .. } => Some(
                "a distribution's metadata holds a value CycloneDX rejects: please report it with the message".into(),
            ),
            Error::Write { source, .. } => source.hint(),
            Error::Read { .. } => None,
        }
    }
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
    /// Hashes from `#sha256=` link fragments, by file name.
    known: BTreeMap<String, String>,
}

impl WheelHashes {
    /// Collect what is known for `dists` of `platform`: the project's wheels,
    /// local `find-links` folders, and (unless offline) `find-links` pages
    /// and the index's simple pages.
    pub fn collect(
        plan: &Plan,
        platform: Platform,
        dists: &[Distribution],
        ctx: &Context<'_>,
    ) -> Self {
        let mut me = Self::default();
        if let Ok(wheels) = crate::deps::project_wheels(plan, platform) {
            for w in wheels {
                me.add_local(w);
            }
        }
        let mut pages = Vec::new();
        for link in &plan.config.find_links {
            let local = plan.project.root.join(link);
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
                pages.push(link.clone());
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
                    pages.push(format!("{index}/{}/", d.normalized_name()));
                }
            }
        }
        if ctx.offline || pages.is_empty() {
            return me;
        }
        let Ok(http) = ctx.http() else {
            return me;
        };
        use rayon::prelude::*;
        let found: Vec<(String, String)> = pages
            .par_iter()
            .flat_map_iter(|url| {
                let text = http
                    .get(url)
                    .header("Accept", "text/html")
                    .send()
                    .ok()
                    .filter(|r| r.status().is_success())
                    .and_then(|r| r.text().ok())
                    .unwrap_or_default();
                link_hashes(&text)
            })
            .collect();
        for (file, sha) in found {
            me.known.entry(file).or_insert(sha);
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

    /// The wheel of `d` and its SHA-256, when known.
    pub fn find(&self, d: &Distribution) -> Option<(String, String)> {
        let pick = |names: Vec<&String>| -> Option<String> {
            let matching: Vec<&String> = names
                .into_iter()
                .filter(|f| wheel_matches(f, d))
                .collect();
            match matching.as_slice() {
                [one] => Some((*one).clone()),
                many => many
                    .iter()
                    .find(|f| tags_match(f, &d.wheel_tags))
                    .map(|f| (*f).clone()),
            }
        };
        if let Some(name) = pick(self.local.keys().collect()) {
            let sha = crate::net::sha256_file(&self.local[&name]).ok()?;
            return Some((name, sha));
        }
        let name = pick(self.known.keys().collect())?;
        Some((name.clone(), self.known[&name].clone()))
    }
}

/// `(file name, sha256)` of each `<a href="…whl#sha256=…">` of a PEP 503 page.
pub fn link_hashes(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in html.split("href=").skip(1) {
        let Some(q) = part.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            continue;
        };
        let Some(end) = part[1..].find(q) else {
            continue;
        };
        let href = part[1..1 + end].replace("&amp;", "&");
        let Some((url, frag)) = href.split_once('#') else {
            continue;
        };
        let Some(sha) = frag
            .split('&')
            .find_map(|kv| kv.strip_prefix("sha256="))
            .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        else {
            continue;
        };
        let file = url.rsplit('/').next().unwrap_or(url);
        let file = percent_decode(file);
        if file.ends_with(".whl") {
            out.push((file, sha.to_ascii_lowercase()));
        }
    }
    out
}

/// The (name, version, tags) of a wheel file name.
fn wheel_parts(file: &str) -> Option<(String, String, Vec<String>)> {
    let stem = file.strip_suffix(".whl")?;
    let parts: Vec<&str> = stem.split('-').collect();
    let (name, version, py, abi, plat) = match parts.as_slice() {
        [n, v, py, abi, plat] | [n, v, _, py, abi, plat] => (*n, *v, *py, *abi, *plat),
        _ => return None,
    };
    let mut tags = Vec::new();
    for p in py.split('.') {
        for a in abi.split('.') {
            for t in plat.split('.') {
                tags.push(format!("{p}-{a}-{t}"));
            }
        }
    }
    Some((normalize(name), version.to_owned(), tags))
}

fn wheel_matches(file: &str, d: &Distribution) -> bool {
    wheel_parts(file).is_some_and(|(n, v, _)| {
        n == d.normalized_name() && (v == d.version || v.replace('_', "-") == d.version)
    })
}

fn tags_match(file: &str, tags: &[String]) -> bool {
    wheel_parts(file).is_some_and(|(_, _, t)| t.iter().any(|t| tags.contains(t)))
}

/// Whether a Rust extension of the project's own ships on `platform`: one of
/// its `wheels` is a binary (not `-any`) wheel.
pub fn ships_rust_extension(plan: &Plan, platform: Platform) -> bool {
    crate::deps::project_wheels(plan, platform)
        .unwrap_or_default()
        .iter()
        .filter_map(|w| crate::deps::wheel_platform_tag(w))
        .any(|t| t != "any")
}

/// A crate of Cargo.lock.
#[derive(Debug, Clone, serde::Deserialize)]
struct LockedCrate {
    name: String,
    version: String,
    source: Option<String>,
    checksum: Option<String>,
}

fn cargo_lock_crates(plan: &Plan) -> Result<Vec<LockedCrate>, Error> {
    #[derive(serde::Deserialize)]
    struct Lock {
        #[serde(default)]
        package: Vec<LockedCrate>,
    }
    let path = plan.project.workspace_root.join("Cargo.lock");
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let text = fs_err::read_to_string(&path).map_err(|source| Error::Read {
        path: path.clone(),
        source,
    })?;
    let lock: Lock = toml::from_str(&text).map_err(|e| Error::Read {
        path,
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(lock.package)
}

fn sha256_hash(hex: &str) -> Hashes {
    Hashes(vec![Hash {
        alg: HashAlgorithm::SHA_256,
        content: HashValue(hex.to_ascii_lowercase()),
    }])
}

/// The licences CycloneDX can carry for `d`: an SPDX expression or id when
/// the metadata gives a valid one, else the names as written.
fn licenses_of(d: &Distribution) -> Option<Licenses> {
    let spdx = |s: &str| -> Option<LicenseChoice> {
        if SpdxIdentifier::try_from(s.to_owned()).is_ok() {
            return Some(LicenseChoice::License(License::license_id(s)));
        }
        SpdxExpression::try_from(s.to_owned())
            .ok()
            .map(LicenseChoice::Expression)
    };
    if let Some(e) = &d.license_expression {
        return Some(Licenses(vec![spdx(e).unwrap_or_else(|| LicenseChoice::license(e))]));
    }
    if let Some(summary) = d.license_summary() {
        if d.license_expression.is_none()
            && d.license.as_deref().map(str::trim) == Some(summary.as_str())
        {
            return Some(Licenses(vec![
                spdx(&summary).unwrap_or_else(|| LicenseChoice::license(&summary))
            ]));
        }
        if !d.license_classifiers.is_empty() {
            let mut names: Vec<String> = d
                .license_classifiers
                .iter()
                .map(|c| c.rsplit(" :: ").next().unwrap_or(c).to_owned())
                .collect();
            names.dedup();
            return Some(Licenses(
                names.iter().map(|n| LicenseChoice::license(n)).collect(),
            ));
        }
        return Some(Licenses(vec![LicenseChoice::license(&summary)]));
    }
    None
}

fn pypi_purl(name: &str, version: &str) -> Option<Purl> {
    Purl::new("pypi", &normalize(name), version).ok()
}

fn property(name: &str, value: &str) -> Property {
    Property::new(name, value)
}

/// RFC 3339 (UTC, seconds) of `secs` since the epoch.
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    let (y, m, d) = crate::archive::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A deterministic `urn:uuid:` from the document's content (RFC 4122 layout,
/// version 5-style bits), so the same inputs give the same SBOM.
fn serial(seed: &str) -> Option<UrnUuid> {
    use sha2::Digest;
    let h = sha2::Sha256::digest(seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    UrnUuid::new(format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    ))
    .ok()
}

/// Build the SBOM of `platform`'s bundle.
pub fn build(
    plan: &Plan,
    platform: Platform,
    runtime: &RuntimeSource,
    dists: &[Distribution],
    hashes: &WheelHashes,
    timestamp: u64,
) -> Result<(Bom, Written), Error> {
    let own = normalize(&plan.dist_name);
    let mut components = Vec::new();
    let mut subject = None;
    let mut wheel_hashes = 0;
    for d in dists {
        let purl = pypi_purl(&d.name, &d.version);
        let bom_ref = purl
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_else(|| format!("pypi:{}@{}", d.normalized_name(), d.version));
        let is_own = d.normalized_name() == own;
        let mut c = Component::new(
            if is_own {
                Classification::Application
            } else {
                Classification::Library
            },
            &d.name,
            &d.version,
            Some(bom_ref),
        );
        c.purl = purl;
        c.description = d.summary.as_deref().map(NormalizedString::new);
        c.licenses = licenses_of(d);
        let mut props = vec![property("pyship:dist-info", &d.dist_info)];
        if let Some((file, sha)) = hashes.find(d) {
            c.hashes = Some(sha256_hash(&sha));
            props.push(property("pyship:wheel", &file));
            wheel_hashes += 1;
        }
        if let Some(home) = d
            .home_page
            .as_deref()
            .and_then(|u| Uri::try_from(u.to_owned()).ok())
        {
            c.external_references = Some(ExternalReferences(vec![ExternalReference::new(
                ExternalReferenceType::Website,
                home,
            )]));
        }
        c.properties = Some(Properties(props));
        if is_own {
            subject = Some(c);
        } else {
            components.push(c);
        }
    }
    let distributions = components.len();

    // The runtime.
    let mut py = Component::new(
        Classification::Platform,
        "cpython",
        &runtime.version,
        Some(format!("cpython@{}-{}", runtime.version, suffix(platform))),
    );
    py.description = Some(NormalizedString::new(match platform {
        Platform::Windows => "CPython, python.org's embeddable distribution for Windows amd64",
        Platform::Linux => "CPython runtime for Linux x86_64",
    }));
    py.licenses = Some(Licenses(vec![LicenseChoice::License(License::license_id(
        "PSF-2.0",
    ))]));
    if !runtime.sha256.is_empty() {
        py.hashes = Some(sha256_hash(&runtime.sha256));
    }
    let mut purl = format!("pkg:generic/cpython@{}", runtime.version);
    if runtime.url.contains("://") {
        purl.push_str(&format!(
            "?download_url={}",
            percent_encode(&runtime.url)
        ));
        if let Ok(u) = Uri::try_from(runtime.url.clone()) {
            let mut r = ExternalReference::new(ExternalReferenceType::Distribution, u);
            if !runtime.sha256.is_empty() {
                r.hashes = Some(sha256_hash(&runtime.sha256));
            }
            py.external_references = Some(ExternalReferences(vec![r]));
        }
    }
    py.purl = Purl::from_str(&purl).ok();
    components.push(py);

    // The crates of a Rust extension of the project's own.
    let mut crates = 0;
    if ships_rust_extension(plan, platform) {
        for k in cargo_lock_crates(plan)? {
            let purl = Purl::new("cargo", &k.name, &k.version).ok();
            let mut c = Component::new(
                Classification::Library,
                &k.name,
                &k.version,
                Some(format!("pkg:cargo/{}@{}", k.name, k.version)),
            );
            c.purl = purl;
            if let Some(sum) = &k.checksum {
                c.hashes = Some(sha256_hash(sum));
            }
            c.properties = Some(Properties(vec![property(
                "pyship:cargo-source",
                k.source.as_deref().unwrap_or("local (this workspace)"),
            )]));
            components.push(c);
            crates += 1;
        }
    }

    let subject = subject.unwrap_or_else(|| {
        Component::new(
            Classification::Application,
            &plan.name,
            &plan.version.version.pep440(),
            Some(format!("app:{}", plan.dist_name)),
        )
    });
    let mut subject = subject;
    let mut props = subject.properties.take().map(|p| p.0).unwrap_or_default();
    props.push(property("pyship:name", &plan.name));
    props.push(property("pyship:tag", &plan.version.version.tag()));
    props.push(property("pyship:platform", suffix(platform)));
    subject.properties = Some(Properties(props));

    let tool = Component::new(
        Classification::Application,
        "cargo-pyship",
        env!("CARGO_PKG_VERSION"),
        Some("tool:cargo-pyship".into()),
    );
    let metadata = Metadata {
        timestamp: cyclonedx_bom::external_models::date_time::DateTime::try_from(rfc3339(
            timestamp,
        ))
        .ok(),
        tools: Some(Tools::Object {
            services: None,
            components: Some(Components(vec![tool])),
        }),
        component: Some(subject),
        ..Default::default()
    };
    let seed = format!(
        "{} {} {} {:?}",
        plan.name,
        plan.version.version.tag(),
        suffix(platform),
        components
            .iter()
            .map(|c| (c.bom_ref.clone(), c.hashes.clone()))
            .collect::<Vec<_>>()
    );
    let bom = Bom {
        serial_number: serial(&seed),
        metadata: Some(metadata),
        components: Some(Components(components)),
        spec_version: cyclonedx_bom::models::bom::SpecVersion::V1_5,
        ..Default::default()
    };
    let result = bom.validate_version(cyclonedx_bom::models::bom::SpecVersion::V1_5);
    if !result.passed() {
        return Err(Error::Invalid {
            platform,
            message: format!("{result:?}"),
        });
    }
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
    ctx: &Context<'_>,
) -> Result<Written, Error> {
    let hashes = WheelHashes::collect(plan, platform, dists, ctx);
    let timestamp = ctx.env.source_date_epoch().unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    });
    let (bom, written) = build(plan, platform, runtime, dists, &hashes, timestamp)?;
    let mut json = Vec::new();
    bom.output_as_json_v1_5(&mut json)
        .map_err(|e| Error::Invalid {
            platform,
            message: e.to_string(),
        })?;
    // Pretty, with a final newline: people read SBOMs too.
    let value: serde_json::Value = serde_json::from_slice(&json).map_err(|e| Error::Invalid {
        platform,
        message: e.to_string(),
    })?;
    let mut text = serde_json::to_string_pretty(&value).expect("JSON value serializes");
    text.push('\n');
    if let Some(dir) = written.path.parent() {
        fs_err::create_dir_all(dir).map_err(|e| Error::Write {
            path: written.path.clone(),
            source: crate::fs::Error::Io(e),
        })?;
    }
    crate::fs::atomic_write(&written.path, text.as_bytes()).map_err(|source| Error::Write {
        path: written.path.clone(),
        source,
    })?;
    Ok(written)
}

/// Percent-encode everything but RFC 3986 unreserved characters (a purl
/// qualifier value).
fn percent_encode(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

/// Decode `%XX` escapes (invalid ones are kept as written).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_hashes_reads_pep503_fragments() {
        let html = r#"<a href="../../packages/ab/numpy-1.26.4-cp311-cp311-win_amd64.whl#sha256=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" data-requires-python="&gt;=3.9">x</a>
<a href='fastapi-0.110.0-py3-none-any.whl#md5=00'>y</a>
<a href="https://h/p/My%20Pkg-1.0-py3-none-any.whl#sha256=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb">z</a>"#;
        let v = link_hashes(html);
        assert_eq!(v.len(), 2, "{v:?}");
        assert_eq!(v[0].0, "numpy-1.26.4-cp311-cp311-win_amd64.whl");
        assert_eq!(v[0].1, "a".repeat(64));
        assert_eq!(v[1].0, "My Pkg-1.0-py3-none-any.whl");
    }

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
        let a = serial("x").unwrap();
        assert_eq!(a, serial("x").unwrap());
        assert_ne!(a, serial("y").unwrap());
    }
}
