//! Stage: delta updates. From the previous release's portable archive (the
//! base) and this release's, a small patch archive that holds only the
//! files whose content the base does not have, plus an index (`delta.json`)
//! of the whole new tree: every folder, every file with its SHA-256, size
//! and executable bit, every link, and for each content the base has, the
//! path it has it at.
//!
//! Why file-level and content-addressed: a release that changes only the
//! app's Python code changes a handful of small files in a tree of
//! thousands; the updater rebuilds the new tree from the installed one plus
//! the patch, checks each file's hash as it copies it and the whole tree's
//! hash ([`tree_sha256`], listed in the signed manifest) before the swap,
//! and falls back to the full archive on any mismatch. Binary diffs would
//! save little more on such releases and need a patch tool in every bundle.
//!
//! The tree hash is the SHA-256 of one line per entry below the archive's
//! top folder, sorted by path: `D path`, `F path sha256 x|-`, `L path
//! target`. The updater (`pyship_update`) computes the same from disk.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

/// Version of `delta.json`'s layout.
pub const SCHEMA: u32 = 1;
/// The patch archive's single top folder.
pub const TOP: &str = "delta";
/// A patch at least this share of the full archive is not worth publishing.
pub const MAX_SHARE: f64 = 0.9;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("could not read the archive {path}")]
    #[diagnostic(help(
        "the release is published without a delta; apps download the full archive"
    ))]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the archive {path} is not a bundle archive: {}", crate::error::escaped(.reason))]
    #[diagnostic(help(
        "the release is published without a delta; apps download the full archive"
    ))]
    Layout { path: PathBuf, reason: String },
    #[error("could not write the patch {path}")]
    #[diagnostic(help("check that the output directory is writable"))]
    Write {
        path: PathBuf,
        #[source]
        source: crate::fs::Error,
    },
}

/// One entry of a bundle archive, below its top folder.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Dir,
    File { data: Vec<u8>, exec: bool },
    Link(String),
}

/// A bundle archive read whole: its top folder and entries by path.
struct Tree {
    top: String,
    entries: BTreeMap<String, Entry>,
}

fn read_err(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Read {
        path: path.to_owned(),
        source,
    }
}

fn layout(path: &Path, reason: impl Into<String>) -> Error {
    Error::Layout {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// How many times its own size an archive may unpack to (the updater's
/// limit for the archives it unpacks), with [`MIN_UNPACKED`] as the least:
/// a release's base archive comes from the server, and a small archive that
/// unpacks to gigabytes would fill the memory of the machine that publishes.
const MAX_RATIO: u64 = 32;
const MIN_UNPACKED: u64 = 64 << 20;

/// The bytes an archive's files may still unpack to.
struct Budget<'a> {
    path: &'a Path,
    total: u64,
    left: u64,
}

impl<'a> Budget<'a> {
    fn of(path: &'a Path) -> Result<Self, Error> {
        let size = fs_err::metadata(path).map_err(read_err(path))?.len();
        let total = size.saturating_mul(MAX_RATIO).max(MIN_UNPACKED);
        Ok(Budget {
            path,
            total,
            left: total,
        })
    }

    /// Charge `n` bytes.
    fn take(&mut self, n: u64) -> Result<(), Error> {
        self.left = self.left.checked_sub(n).ok_or_else(|| {
            layout(
                self.path,
                format!(
                    "it unpacks to more than {} bytes, {MAX_RATIO} times its size",
                    self.total
                ),
            )
        })?;
        Ok(())
    }

    /// Read one file (`declared`: the size its header gives, not trusted).
    fn read(&mut self, r: &mut dyn Read, declared: u64) -> Result<Vec<u8>, Error> {
        let mut data = Vec::with_capacity(declared.min(self.left) as usize);
        r.take(self.left.saturating_add(1))
            .read_to_end(&mut data)
            .map_err(read_err(self.path))?;
        self.take(data.len() as u64)?;
        Ok(data)
    }
}

/// Read a `.zip` or `.tar.gz` bundle archive.
fn read_tree(path: &Path) -> Result<Tree, Error> {
    let mut budget = Budget::of(path)?;
    let mut raw: Vec<(String, Entry)> = Vec::new();
    let name = path.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".zip") {
        let file = fs_err::File::open(path).map_err(read_err(path))?;
        let mut z = zip::ZipArchive::new(file).map_err(|e| layout(path, e.to_string()))?;
        for i in 0..z.len() {
            let mut f = z.by_index(i).map_err(|e| layout(path, e.to_string()))?;
            let n = f
                .name()
                .map_err(|e| layout(path, e.to_string()))?
                .into_owned();
            if f.is_dir() {
                raw.push((n, Entry::Dir));
            } else {
                let declared = f.size();
                let data = budget.read(&mut f, declared)?;
                // A Windows bundle has no executable bit.
                raw.push((n, Entry::File { data, exec: false }));
            }
        }
    } else {
        let file = fs_err::File::open(path).map_err(read_err(path))?;
        let mut t = tar::Archive::new(flate2::read::GzDecoder::new(file));
        // A file's place in `raw`, for the hard links to it.
        let mut by_path: BTreeMap<String, usize> = BTreeMap::new();
        for e in t.entries().map_err(read_err(path))? {
            let mut e = e.map_err(read_err(path))?;
            let n = e
                .path()
                .map_err(read_err(path))?
                .to_string_lossy()
                .into_owned();
            let kind = e.header().entry_type();
            let entry = if kind.is_dir() {
                Entry::Dir
            } else if kind.is_symlink() {
                let target = e
                    .link_name()
                    .map_err(read_err(path))?
                    .ok_or_else(|| layout(path, format!("{n} is a link to nothing")))?;
                Entry::Link(target.to_string_lossy().into_owned())
            } else if kind.is_hard_link() {
                let target = e
                    .link_name()
                    .map_err(read_err(path))?
                    .ok_or_else(|| layout(path, format!("{n} is a link to nothing")))?
                    .to_string_lossy()
                    .into_owned();
                let data = match by_path
                    .get(target.trim_end_matches('/'))
                    .map(|&i| &raw[i].1)
                {
                    Some(Entry::File { data, .. }) => data.clone(),
                    _ => {
                        return Err(layout(
                            path,
                            format!("{n} links to {target}, not a file before it"),
                        ))
                    }
                };
                // Each link is a copy in memory.
                budget.take(data.len() as u64)?;
                let exec = e.header().mode().map_err(read_err(path))? & 0o111 != 0;
                Entry::File { data, exec }
            } else if kind.is_file() {
                let declared = e.header().size().map_err(read_err(path))?;
                let data = budget.read(&mut e, declared)?;
                by_path.insert(n.trim_end_matches('/').to_owned(), raw.len());
                let exec = e.header().mode().map_err(read_err(path))? & 0o111 != 0;
                Entry::File { data, exec }
            } else {
                return Err(layout(path, format!("{n} is not a file, folder or link")));
            };
            raw.push((n, entry));
        }
    }
    let mut top: Option<String> = None;
    let mut entries = BTreeMap::new();
    for (n, entry) in raw {
        let n = n.trim_start_matches("./").trim_end_matches('/');
        let (first, rest) = n.split_once('/').unwrap_or((n, ""));
        match &top {
            None => top = Some(first.to_owned()),
            Some(t) if t != first => {
                return Err(layout(path, "it holds more than one top folder"));
            }
            Some(_) => {}
        }
        if rest.is_empty() {
            continue;
        }
        // Folders a zip implies by its file names.
        let parts: Vec<&str> = rest.split('/').collect();
        for i in 1..parts.len() {
            entries.entry(parts[..i].join("/")).or_insert(Entry::Dir);
        }
        entries.insert(rest.to_owned(), entry);
    }
    let top = top.ok_or_else(|| layout(path, "it is empty"))?;
    Ok(Tree { top, entries })
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The tree hash of `entries` (see the module doc).
fn tree_hash(entries: &BTreeMap<String, Entry>) -> String {
    let mut h = Sha256::new();
    for (path, e) in entries {
        let line = match e {
            Entry::Dir => format!("D {path}\n"),
            Entry::File { data, exec } => {
                format!(
                    "F {path} {} {}\n",
                    sha256_hex(data),
                    if *exec { "x" } else { "-" }
                )
            }
            Entry::Link(target) => format!("L {path} {target}\n"),
        };
        h.update(line.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The tree hash of the bundle archive at `path`: what a fresh install of
/// it hashes to.
pub fn tree_sha256(path: &Path) -> Result<String, Error> {
    Ok(tree_hash(&read_tree(path)?.entries))
}

/// The base a patch applies to.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Base {
    /// PEP 440 version of the base release (the installed version the
    /// patch applies to).
    pub version: String,
    pub tag: String,
    /// The base release's full archive of this install type.
    pub asset: String,
    pub sha256: String,
}

/// `delta.json`.
#[derive(Debug, Serialize)]
struct Index<'a> {
    schema: u32,
    base: &'a Base,
    /// The new release's full archive this patch rebuilds.
    target: Target<'a>,
    /// The archive's top folder.
    top: &'a str,
    tree_sha256: &'a str,
    dirs: Vec<&'a str>,
    /// `[path, sha256, size, executable]` of every file.
    files: Vec<(&'a str, String, u64, bool)>,
    links: Vec<(&'a str, &'a str)>,
    /// Content the base has: SHA-256 -> the base's path of it (below its top).
    reuse: BTreeMap<String, &'a str>,
}

#[derive(Debug, Serialize)]
struct Target<'a> {
    asset: &'a str,
    sha256: &'a str,
}

/// What [`make`] wrote: the manifest's `delta` entry of the new asset.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Made {
    /// The patch archive's file name (a release asset).
    pub name: String,
    #[serde(skip)]
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
    /// The installed version the patch applies to.
    pub base: String,
    /// The tree hash of the new release (a fresh install of its archive).
    pub tree_sha256: String,
    /// Files of the new tree, and how many of them the patch carries.
    pub files: usize,
    pub carried: usize,
    /// The full archive's size, for comparison.
    #[serde(skip)]
    pub full_size: u64,
}

/// The patch's file name: the new asset's stem, `-delta-from-`, the base tag.
pub fn patch_name(new_asset: &str, base_tag: &str) -> String {
    let stem = new_asset
        .strip_suffix(".tar.gz")
        .or_else(|| new_asset.strip_suffix(".zip"))
        .unwrap_or(new_asset);
    format!("{stem}-delta-from-{base_tag}.tar.gz")
}

/// Make the patch from `base_archive` (the base release's asset) to
/// `new_archive` in `out_dir`. `epoch` stamps the tar headers, so a
/// release's patch is the same bytes on every publish.
pub fn make(
    base: &Base,
    base_archive: &Path,
    new_archive: &Path,
    out_dir: &Path,
    epoch: u64,
) -> Result<Made, Error> {
    let old = read_tree(base_archive)?;
    let new = read_tree(new_archive)?;
    let new_name = new_archive
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let new_sha = crate::fs::sha256_file(new_archive).map_err(read_err(new_archive))?;
    // Content of the base -> its first path.
    let mut have: BTreeMap<String, &str> = BTreeMap::new();
    for (p, e) in &old.entries {
        if let Entry::File { data, .. } = e {
            have.entry(sha256_hex(data)).or_insert(p.as_str());
        }
    }
    let tree_sha256 = tree_hash(&new.entries);
    let mut index = Index {
        schema: SCHEMA,
        base,
        target: Target {
            asset: &new_name,
            sha256: &new_sha,
        },
        top: &new.top,
        tree_sha256: &tree_sha256,
        dirs: Vec::new(),
        files: Vec::new(),
        links: Vec::new(),
        reuse: BTreeMap::new(),
    };
    let mut objects: BTreeMap<String, &[u8]> = BTreeMap::new();
    for (p, e) in &new.entries {
        match e {
            Entry::Dir => index.dirs.push(p),
            Entry::Link(t) => index.links.push((p, t)),
            Entry::File { data, exec } => {
                let sha = sha256_hex(data);
                match have.get(&sha) {
                    Some(from) => {
                        index.reuse.insert(sha.clone(), from);
                    }
                    None => {
                        objects.insert(sha.clone(), data);
                    }
                }
                index.files.push((p, sha, data.len() as u64, *exec));
            }
        }
    }
    let json = serde_json::to_vec_pretty(&index).expect("the index serializes");
    let mut gz = flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::best());
    {
        let mut t = tar::Builder::new(&mut gz);
        t.mode(tar::HeaderMode::Deterministic);
        let mut add = |name: &str, data: &[u8], dir: bool| -> std::io::Result<()> {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(if dir {
                tar::EntryType::Directory
            } else {
                tar::EntryType::Regular
            });
            h.set_mode(if dir { 0o755 } else { 0o644 });
            h.set_mtime(epoch);
            h.set_size(data.len() as u64);
            t.append_data(&mut h, name, data)
        };
        let w = |e| Error::Write {
            path: out_dir.to_owned(),
            source: crate::fs::Error::Io(e),
        };
        add(&format!("{TOP}/"), &[], true).map_err(w)?;
        add(&format!("{TOP}/delta.json"), &json, false).map_err(w)?;
        add(&format!("{TOP}/objects/"), &[], true).map_err(w)?;
        for (sha, data) in &objects {
            add(&format!("{TOP}/objects/{sha}"), data, false).map_err(w)?;
        }
        t.finish().map_err(w)?;
    }
    let bytes = gz
        .finish()
        .and_then(|mut v| {
            v.flush()?;
            Ok(v)
        })
        .map_err(|e| Error::Write {
            path: out_dir.to_owned(),
            source: crate::fs::Error::Io(e),
        })?;
    let name = patch_name(&new_name, &base.tag);
    let path = out_dir.join(&name);
    crate::fs::atomic_write(&path, &bytes).map_err(|source| Error::Write {
        path: path.clone(),
        source,
    })?;
    let full_size = fs_err::metadata(new_archive)
        .map_err(read_err(new_archive))?
        .len();
    Ok(Made {
        name,
        path,
        size: bytes.len() as u64,
        sha256: sha256_hex(&bytes),
        base: base.version.clone(),
        files: index.files.len(),
        carried: objects.len(),
        full_size,
        tree_sha256: tree_sha256.clone(),
    })
}

/// Names of the files of the new tree that the patch carries (for tests and
/// the publish report): the paths whose content the base lacks.
pub fn carried_paths(base_archive: &Path, new_archive: &Path) -> Result<BTreeSet<String>, Error> {
    let old = read_tree(base_archive)?;
    let new = read_tree(new_archive)?;
    let have: BTreeSet<String> = old
        .entries
        .values()
        .filter_map(|e| match e {
            Entry::File { data, .. } => Some(sha256_hex(data)),
            _ => None,
        })
        .collect();
    Ok(new
        .entries
        .iter()
        .filter_map(|(p, e)| match e {
            Entry::File { data, .. } if !have.contains(&sha256_hex(data)) => Some(p.clone()),
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tarball(path: &Path, files: &[(&str, &[u8], u32)], links: &[(&str, &str)]) {
        let f = fs_err::File::create(path).unwrap();
        let gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        let mut t = tar::Builder::new(gz);
        for (n, d, mode) in files {
            let mut h = tar::Header::new_gnu();
            h.set_mode(*mode);
            h.set_size(d.len() as u64);
            t.append_data(&mut h, n, *d).unwrap();
        }
        for (n, target) in links {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            t.append_link(&mut h, n, target).unwrap();
        }
        t.into_inner().unwrap().finish().unwrap();
    }

    fn base() -> Base {
        Base {
            version: "0.1.0".into(),
            tag: "v0.1.0".into(),
            asset: "A-v0.1.0-linux-x64.tar.gz".into(),
            sha256: "0".repeat(64),
        }
    }

    #[test]
    fn a_patch_carries_only_new_content_and_is_the_same_bytes_each_time() {
        let dir = tempfile::tempdir().unwrap();
        let big = vec![7u8; 200_000];
        let old = dir.path().join("A-v0.1.0-linux-x64.tar.gz");
        let new = dir.path().join("A-v0.2.0-linux-x64.tar.gz");
        tarball(
            &old,
            &[
                ("A/python/lib/big.so", &big, 0o755),
                ("A/app/src/a/__init__.py", b"V = 1\n", 0o644),
                ("A/app/src/a/same.py", b"same\n", 0o644),
            ],
            &[("A/python/bin/python3", "python3.11")],
        );
        tarball(
            &new,
            &[
                ("A/python/lib/big.so", &big, 0o755),
                ("A/app/src/a/__init__.py", b"V = 2\n", 0o644),
                ("A/app/src/a/moved.py", b"same\n", 0o644),
            ],
            &[("A/python/bin/python3", "python3.11")],
        );
        let out = dir.path().join("out");
        fs_err::create_dir_all(&out).unwrap();
        let made = make(&base(), &old, &new, &out, 1_700_000_000).unwrap();
        assert_eq!(made.name, "A-v0.2.0-linux-x64-delta-from-v0.1.0.tar.gz");
        assert_eq!((made.files, made.carried), (3, 1));
        assert!(made.size < 2_000, "{}", made.size);
        assert_eq!(made.tree_sha256, tree_sha256(&new).unwrap());
        assert_ne!(made.tree_sha256, tree_sha256(&old).unwrap());
        let first = fs_err::read(&made.path).unwrap();
        let again = make(&base(), &old, &new, &out, 1_700_000_000).unwrap();
        assert_eq!(fs_err::read(&again.path).unwrap(), first);
        assert_eq!(
            carried_paths(&old, &new).unwrap(),
            BTreeSet::from(["app/src/a/__init__.py".to_owned()])
        );
        // The index names the base and reuses the moved file from its old path.
        let mut t = tar::Archive::new(flate2::read::GzDecoder::new(&first[..]));
        let mut names = Vec::new();
        let mut index = serde_json::Value::Null;
        for e in t.entries().unwrap() {
            let mut e = e.unwrap();
            let n = e.path().unwrap().to_string_lossy().into_owned();
            if n == "delta/delta.json" {
                let mut s = String::new();
                e.read_to_string(&mut s).unwrap();
                index = serde_json::from_str(&s).unwrap();
            }
            names.push(n);
        }
        assert_eq!(names.len(), 4, "{names:?}");
        assert_eq!(index["base"]["version"], "0.1.0");
        assert_eq!(index["top"], "A");
        assert!(index["reuse"]
            .as_object()
            .unwrap()
            .values()
            .any(|p| p == "app/src/a/same.py"));
        assert_eq!(index["links"][0][0], "python/bin/python3");
        assert_eq!(index["dirs"].as_array().unwrap().len(), 6, "{index}");
    }

    #[test]
    fn an_archive_with_two_top_folders_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.tar.gz");
        tarball(&a, &[("A/x", b"1", 0o644), ("B/y", b"2", 0o644)], &[]);
        let err = tree_sha256(&a).unwrap_err();
        assert!(
            err.to_string().contains("more than one top folder"),
            "{err}"
        );
    }

    /// A base archive (from the server) that unpacks past its budget is
    /// refused before it fills the memory: zeros compressed 1000 to one, a
    /// zip whose header claims 2^62 bytes, and a tarball whose hard links
    /// each copy one file.
    #[test]
    fn an_archive_that_unpacks_past_its_budget_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let bomb = |e: Error| {
            let text = e.to_string();
            assert!(
                text.contains("unpacks to more than"),
                "{text}: {:?}",
                std::error::Error::source(&e)
            );
        };

        let zeros = dir.path().join("zeros.zip");
        {
            let mut z = zip::ZipWriter::new(fs_err::File::create(&zeros).unwrap());
            z.start_file("A/zeros", zip::write::SimpleFileOptions::default())
                .unwrap();
            z.write_all(&vec![0u8; (MIN_UNPACKED + 1) as usize])
                .unwrap();
            z.finish().unwrap();
        }
        bomb(tree_sha256(&zeros).unwrap_err());

        // The header's size is a claim: it sizes no allocation.
        let liar = dir.path().join("liar.zip");
        let made = std::process::Command::new("python3")
            .arg("-c")
            .arg(
                "import sys, zipfile\n\
                 z = zipfile.ZipFile(sys.argv[1], 'w')\n\
                 z.writestr('A/big', b'x' * 10)\n\
                 z.filelist[0].file_size = 1 << 62\n\
                 z.close()\n",
            )
            .arg(&liar)
            .status()
            .unwrap();
        assert!(made.success());
        // Before, reading it aborted the process (an allocation of 2^62
        // bytes); now it is read as what it holds, or refused.
        let read = tree_sha256(&liar);
        assert!(
            matches!(read, Ok(_) | Err(Error::Layout { .. } | Error::Read { .. })),
            "{read:?}"
        );

        let links = dir.path().join("links.tar.gz");
        {
            let f = fs_err::File::create(&links).unwrap();
            let gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
            let mut t = tar::Builder::new(gz);
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o644);
            h.set_size(1 << 20);
            t.append_data(&mut h, "A/one", &vec![7u8; 1 << 20][..])
                .unwrap();
            for i in 0..64 {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Link);
                h.set_mode(0o644);
                h.set_size(0);
                t.append_link(&mut h, format!("A/link{i}"), "A/one")
                    .unwrap();
            }
            t.into_inner().unwrap().finish().unwrap();
        }
        bomb(tree_sha256(&links).unwrap_err());

        // A real bundle's ratio is far below the budget.
        let fine = dir.path().join("fine.tar.gz");
        tarball(&fine, &[("A/x", &vec![1u8; 1 << 20], 0o644)], &[]);
        tree_sha256(&fine).unwrap();
    }
}
