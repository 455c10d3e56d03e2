//! The `pypi` source of tkinter: the `tkinter-embed` sdist for the bundled
//! CPython X.Y, chosen from the package index and `find-links` as uv would
//! (or taken from `pyship.lock`), fetched pinned, and only its data read.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{Error, Location, Sdist, DEFAULT_INDEX, PYPI_PROJECT};
use crate::context::Context;
use crate::error::escaped;
use crate::plan::{Plan, PythonVersion};
use crate::python::{fetch_pinned, Lockfile};

/// `tkinter_embed-3.11.0.tar.gz` → `3.11.0` (PEP 625 and legacy spellings).
pub fn sdist_version(file_name: &str) -> Option<String> {
    let lower = file_name.to_ascii_lowercase().replace('-', "_");
    let rest = lower.strip_prefix("tkinter_embed_")?;
    let v = rest.strip_suffix(".tar.gz")?;
    let ok = v.split('.').count() >= 2
        && v.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    ok.then(|| v.to_owned())
}

fn xy_of(version: &str) -> String {
    version.splitn(3, '.').take(2).collect::<Vec<_>>().join(".")
}

fn numeric(version: &str) -> Vec<u64> {
    version.split('.').filter_map(|p| p.parse().ok()).collect()
}

/// A `tkinter-embed` file found in the index or a find-links location.
struct Candidate {
    file_name: String,
    version: String,
    location: Location,
    sha256: Option<String>,
}

/// The locked sdist for this X.Y, else the newest one the index and
/// find-links offer.
pub(super) fn resolve_sdist(plan: &Plan, ctx: &Context<'_>) -> Result<Sdist, Error> {
    let xy = &plan.python.xy;
    let lock =
        Lockfile::read(&Lockfile::path(plan)).map_err(|e| Error::Fetch(Box::new(e.into())))?;
    for (key, sha) in &lock.runtimes {
        let file_name = key.rsplit(['/', '\\']).next().unwrap_or(key);
        if let Some(version) = sdist_version(file_name).filter(|v| xy_of(v) == *xy) {
            let location = if key.contains("://") {
                Location::Url(key.clone())
            } else {
                Location::Path {
                    path: plan.project.config_dir.join(key),
                    key: key.clone(),
                }
            };
            return Ok(Sdist {
                file_name: file_name.to_owned(),
                version,
                location,
                sha256: Some(sha.clone()),
                locked: true,
            });
        }
    }
    let c = &plan.config;
    let mut candidates = Vec::new();
    let mut searched = Vec::new();
    // Pages not asked because of --offline.
    let mut skipped = Vec::new();
    if !c.no_index {
        let index = c.index_url.as_deref().unwrap_or(DEFAULT_INDEX);
        let page = format!("{}/{PYPI_PROJECT}/", index.trim_end_matches('/'));
        if ctx.offline {
            skipped.push(page);
        } else {
            candidates.extend(from_page(&page, ctx, true)?);
            searched.push(page);
        }
    }
    for link in &c.find_links {
        let local = plan.project.config_dir.join(link);
        if !link.contains("://") && local.is_dir() {
            searched.push(local.display().to_string());
            candidates.extend(from_dir(&local, link)?);
        } else if link.contains("://") && ctx.offline {
            skipped.push(link.clone());
        } else if link.contains("://") {
            candidates.extend(from_page(link, ctx, false)?);
            searched.push(link.clone());
        }
    }
    let mut best: Option<Candidate> = None;
    let mut available = BTreeSet::new();
    for cand in candidates {
        let cxy = xy_of(&cand.version);
        available.insert((numeric(&cxy), cxy.clone()));
        if cxy == *xy
            && best
                .as_ref()
                .is_none_or(|b| numeric(&cand.version) > numeric(&b.version))
        {
            best = Some(cand);
        }
    }
    if best.is_none() && !skipped.is_empty() {
        return Err(Error::Offline {
            xy: xy.clone(),
            searched: skipped.join(", "),
        });
    }
    let best = best.ok_or_else(|| Error::NoBuild {
        xy: xy.clone(),
        available: available.into_iter().map(|(_, v)| v).collect(),
        searched: if searched.is_empty() {
            "nothing: no-index = true and no find-links".into()
        } else {
            searched.join(", ")
        },
    })?;
    Ok(Sdist {
        file_name: best.file_name,
        version: best.version,
        location: best.location,
        sha256: best.sha256,
        locked: false,
    })
}

/// The `tkinter-embed` sdists a project page of the index (`index`: a
/// missing one, 404, is "no files", like uv) or a find-links page points at.
fn from_page(url: &str, ctx: &Context<'_>, index: bool) -> Result<Vec<Candidate>, Error> {
    let files = crate::packaging::project_page(ctx, url, index).map_err(|source| Error::Index {
        url: url.to_owned(),
        source,
    })?;
    Ok(files
        .into_iter()
        .flatten()
        .filter_map(|f| {
            Some(Candidate {
                version: sdist_version(&f.file_name)?,
                file_name: f.file_name,
                location: Location::Url(f.url),
                sha256: f.sha256,
            })
        })
        .collect())
}

/// The `tkinter-embed` sdists in a local find-links folder.
fn from_dir(dir: &Path, link: &str) -> Result<Vec<Candidate>, Error> {
    let mut out = Vec::new();
    let entries = fs_err::read_dir(dir).map_err(|source| Error::FindLinks {
        path: dir.to_owned(),
        source,
    })?;
    for e in entries.filter_map(Result::ok) {
        let file_name = e.file_name().to_string_lossy().into_owned();
        if let Some(version) = sdist_version(&file_name) {
            out.push(Candidate {
                location: Location::Path {
                    path: e.path(),
                    key: format!("{}/{file_name}", link.trim_end_matches(['/', '\\'])),
                },
                file_name,
                version,
                sha256: None,
            });
        }
    }
    Ok(out)
}

/// The sdist in the cache, verified against the lock (or the index's hash),
/// its hash recorded in `pyship.lock` when it was not there.
pub(super) fn fetch_sdist(plan: &Plan, sdist: &Sdist, ctx: &Context<'_>) -> Result<PathBuf, Error> {
    let lock_path = Lockfile::path(plan);
    let (path, sha) = match &sdist.location {
        Location::Url(url) => {
            let pin = if sdist.locked {
                None
            } else {
                sdist.sha256.as_deref()
            };
            let src = crate::python::Source {
                url,
                settings: crate::python::TKINTER_SETTINGS,
                validate: &|p: &Path| crate::python::validate_by_name(url, p),
            };
            let (got, _) =
                fetch_pinned(plan, &src, pin, ctx).map_err(|e| Error::Fetch(Box::new(e)))?;
            (got.path, got.sha256)
        }
        Location::Path { path, .. } => {
            let actual = crate::fs::sha256_file(path)?;
            if let Some(locked) = &sdist.sha256 {
                if !locked.eq_ignore_ascii_case(&actual) {
                    return Err(Error::LocalHash {
                        path: path.clone(),
                        locked: locked.clone(),
                        actual,
                    });
                }
            }
            let dest = ctx
                .cache
                .entry(crate::cache::RUNTIMES, &actual, &sdist.file_name);
            if !dest.is_file() {
                crate::fs::atomic_copy(path, &dest)?;
            }
            (dest, actual)
        }
    };
    let key = sdist.location.key();
    let lock = Lockfile::read(&lock_path).map_err(|e| Error::Fetch(Box::new(e.into())))?;
    if lock.get(key).is_none() {
        Lockfile::record(&lock_path, key, &sha, ctx.locked)
            .map_err(|e| Error::Fetch(Box::new(e.into())))?;
        ctx.reporter.status(
            "Locked",
            &format!("{} sha256 {sha} in {}", escaped(key), lock_path.display()),
        );
    }
    Ok(path)
}

/// Take the `cp3XY/` folder of `tkinter_embed/data.zip` inside the sdist into `dest`.
pub(super) fn unpack_sdist(
    archive: &Path,
    file_name: &str,
    v: &PythonVersion,
    dest: &Path,
) -> Result<(), Error> {
    let bad = |source: Box<dyn std::error::Error + Send + Sync>| Error::Archive {
        path: archive.to_owned(),
        source,
    };
    let gz = flate2::read::GzDecoder::new(fs_err::File::open(archive)?);
    let mut tar = tar::Archive::new(gz);
    let mut data = None;
    let preferred = format!("src{}/tkinter_embed/data.zip", v.xy);
    for e in tar.entries().map_err(|e| bad(e.into()))? {
        let mut e = e.map_err(|e| bad(e.into()))?;
        let path = e
            .path()
            .map_err(|e| bad(e.into()))?
            .to_string_lossy()
            .replace('\\', "/");
        if path.ends_with("/tkinter_embed/data.zip") {
            let mut buf = Vec::new();
            e.read_to_end(&mut buf).map_err(|e| bad(e.into()))?;
            let best = path.ends_with(&preferred);
            data = Some(buf);
            if best {
                break;
            }
        }
    }
    let data = data.ok_or_else(|| Error::Missing {
        origin: file_name.to_owned(),
        what: "tkinter_embed/data.zip".into(),
    })?;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(data)).map_err(|e| bad(e.into()))?;
    let folder = format!("cp{}/", v.nodot);
    let mut folders = BTreeSet::new();
    let mut n = 0;
    for i in 0..zip.len() {
        let mut e = zip.by_index(i).map_err(|e| bad(e.into()))?;
        let name = e.name().map_err(|e| bad(e.into()))?.into_owned();
        if let Some(top) = name.split('/').next().filter(|t| t.starts_with("cp")) {
            folders.insert(top.to_owned());
        }
        let Some(rel) = name.strip_prefix(&folder) else {
            continue;
        };
        if rel.is_empty() || e.is_dir() {
            continue;
        }
        let out = crate::fs::safe_join(dest, rel).map_err(|e| bad(e.into()))?;
        if let Some(p) = out.parent() {
            fs_err::create_dir_all(p)?;
        }
        let mut buf = Vec::with_capacity(e.size() as usize);
        e.read_to_end(&mut buf).map_err(|e| bad(e.into()))?;
        fs_err::write(&out, buf)?;
        n += 1;
    }
    if n == 0 {
        return Err(Error::PythonMismatch {
            file: "tkinter_embed/data.zip".into(),
            origin: file_name.to_owned(),
            found: if folders.is_empty() {
                "no CPython".into()
            } else {
                folders.into_iter().collect::<Vec<_>>().join(", ")
            },
            expected: v.full.clone(),
            nodot: v.nodot.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdist_names() {
        assert_eq!(
            sdist_version("tkinter_embed-3.11.0.tar.gz").as_deref(),
            Some("3.11.0")
        );
        assert_eq!(
            sdist_version("tkinter-embed-3.9.2.tar.gz").as_deref(),
            Some("3.9.2")
        );
        assert_eq!(sdist_version("tkinter_embed-3.11.0-py3-none-any.whl"), None);
        assert_eq!(sdist_version("tkinter_embedded-3.11.0.tar.gz"), None);
    }
}
