//! Built wheels made independent of the checkout they were built in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Error;

/// Make a wheel maturin built independent of where the project was checked
/// out: the Rust SBOM maturin writes into `*.dist-info/sboms/` names each
/// local crate by its absolute path (`path+file:///home/me/proj/crates/x#0.2.0`).
/// Each `file://{root}` of `roots` becomes a path relative to that root
/// (`path+file:crates/x#0.2.0`), and the wheel's `RECORD` gets the file's new
/// hash and size. Entries keep their order, times and compression; a wheel
/// without such paths is left untouched. Returns whether it was rewritten.
pub fn normalize_wheel(wheel: &Path, roots: &[PathBuf]) -> Result<bool, Error> {
    use std::io::{Read, Write};
    let io = |source: std::io::Error| Error::Io {
        path: wheel.to_owned(),
        source,
    };
    let zip_err = |e: zip::result::ZipError| io(std::io::Error::other(e));
    let mut prefixes: Vec<String> = Vec::new();
    for r in roots {
        for p in [
            r.clone(),
            fs_err::canonicalize(r).unwrap_or_else(|_| r.clone()),
        ] {
            let p = p.to_string_lossy().trim_end_matches('/').to_owned();
            if !p.is_empty() && !prefixes.contains(&p) {
                prefixes.push(p);
            }
        }
    }
    // Shortest first: paths are made relative to the outermost root (the
    // Cargo workspace, not a pyproject folder inside it).
    prefixes.sort_by_key(|p| p.len());
    let relative = |text: &str| -> String {
        let mut out = text.to_owned();
        for p in &prefixes {
            out = out
                .replace(&format!("file://{p}/"), "file:")
                .replace(&format!("file://{p}#"), "file:.#")
                .replace(&format!("file://{p}\""), "file:.\"");
        }
        out
    };
    let mut archive =
        zip::ZipArchive::new(fs_err::File::open(wheel).map_err(io)?).map_err(zip_err)?;
    let mut changed: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut record_name = None;
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).map_err(zip_err)?;
        let name = f.name().map_err(zip_err)?.into_owned();
        let Some((dist_info, rest)) = name.split_once(".dist-info/") else {
            continue;
        };
        if rest == "RECORD" && !dist_info.contains('/') {
            record_name = Some(name.clone());
        }
        if rest.starts_with("sboms/") && name.ends_with(".json") {
            let mut text = String::new();
            if f.read_to_string(&mut text).is_err() {
                continue;
            }
            let new = relative(&text);
            if new != text {
                changed.insert(name, new.into_bytes());
            }
        }
    }
    let Some(record_name) = record_name.filter(|_| !changed.is_empty()) else {
        return Ok(false);
    };
    let mut record = String::new();
    archive
        .by_name(&record_name)
        .map_err(zip_err)?
        .read_to_string(&mut record)
        .map_err(io)?;
    let lines =
        crate::packaging::record_lines(&record).map_err(|e| io(std::io::Error::other(e)))?;
    let record: String = lines
        .iter()
        .map(|line| match changed.get(&line.path) {
            Some(bytes) => {
                use base64::Engine;
                use sha2::{Digest, Sha256};
                let hash =
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(bytes));
                let end = if line.raw.ends_with("\r\n") {
                    "\r\n"
                } else if line.raw.ends_with('\n') {
                    "\n"
                } else {
                    ""
                };
                crate::packaging::record_line(
                    &line.path,
                    &format!("sha256={hash}"),
                    bytes.len() as u64,
                    end,
                )
            }
            None => line.raw.to_owned(),
        })
        .collect();
    changed.insert(record_name, record.into_bytes());
    let tmp =
        tempfile::NamedTempFile::new_in(wheel.parent().unwrap_or(Path::new("."))).map_err(io)?;
    let mut out = zip::ZipWriter::new(tmp.reopen().map_err(io)?);
    for i in 0..archive.len() {
        let f = archive.by_index_raw(i).map_err(zip_err)?;
        let name = f.name().map_err(zip_err)?.into_owned();
        match changed.get(&name) {
            Some(bytes) => {
                let mut opts =
                    zip::write::SimpleFileOptions::default().compression_method(f.compression());
                if let Some(t) = f.last_modified() {
                    opts = opts.last_modified_time(t);
                }
                if let Some(mode) = f.unix_mode() {
                    opts = opts.unix_permissions(mode);
                }
                drop(f);
                out.start_file(name, opts).map_err(zip_err)?;
                out.write_all(bytes).map_err(io)?;
            }
            None => out.raw_copy_file(f).map_err(zip_err)?,
        }
    }
    out.finish().map_err(zip_err)?;
    tmp.persist(wheel).map_err(|e| io(e.error))?;
    Ok(true)
}
