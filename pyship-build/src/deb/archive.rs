//! The Debian package's bytes: `ar` members, the control and data tars
//! (every member owned by root, at one mtime), `md5sums`, and gzip with a
//! fixed header: the same items give the same bytes on any host.

use std::collections::BTreeMap;
use std::io::Write;

use super::Item;

/// A tar of `items`, every member `./path`, owned by root, at `mtime`.
pub(super) fn write_tar<W: Write>(
    w: W,
    items: &BTreeMap<String, Item>,
    mtime: u64,
) -> std::io::Result<W> {
    let mut tar = tar::Builder::new(w);
    tar.mode(tar::HeaderMode::Deterministic);
    let header = |kind, mode, size| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(mtime);
        h.set_uid(0);
        h.set_gid(0);
        let _ = h.set_username("root");
        let _ = h.set_groupname("root");
        h
    };
    tar.append_data(
        &mut header(tar::EntryType::Directory, 0o755, 0),
        "./",
        std::io::empty(),
    )?;
    for (path, item) in items {
        let name = format!("./{path}");
        match item {
            Item::Dir => {
                tar.append_data(
                    &mut header(tar::EntryType::Directory, 0o755, 0),
                    format!("{name}/"),
                    std::io::empty(),
                )?;
            }
            Item::Link(target) => {
                tar.append_link(
                    &mut header(tar::EntryType::Symlink, 0o777, 0),
                    &name,
                    target,
                )?;
            }
            Item::Bytes { data, mode } => {
                tar.append_data(
                    &mut header(tar::EntryType::Regular, *mode, data.len() as u64),
                    &name,
                    data.as_slice(),
                )?;
            }
            Item::File { source, mode } => {
                let f = fs_err::File::open(source)?;
                let len = f.metadata()?.len();
                tar.append_data(&mut header(tar::EntryType::Regular, *mode, len), &name, f)?;
            }
        }
    }
    tar.into_inner()
}

/// The `md5sums` control file: every regular file of the data archive.
pub(super) fn md5sums(items: &BTreeMap<String, Item>) -> std::io::Result<String> {
    use md5::{Digest, Md5};
    let mut out = String::new();
    for (path, item) in items {
        let digest = match item {
            Item::Bytes { data, .. } => Md5::digest(data).to_vec(),
            Item::File { source, .. } => {
                use std::io::Read;
                let mut h = Md5::new();
                let mut f = fs_err::File::open(source)?;
                let mut buf = vec![0u8; 1 << 16];
                loop {
                    match f.read(&mut buf)? {
                        0 => break,
                        n => h.update(&buf[..n]),
                    }
                }
                h.finalize().to_vec()
            }
            _ => continue,
        };
        out.push_str(&format!("{}  {path}\n", hex::encode(digest)));
    }
    Ok(out)
}

/// One `ar` member header and data (padded to an even length).
pub(super) fn ar_member(
    w: &mut dyn Write,
    name: &str,
    data: &[u8],
    mtime: u64,
) -> std::io::Result<()> {
    writeln!(
        w,
        "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`",
        name,
        mtime,
        0,
        0,
        "100644",
        data.len()
    )?;
    w.write_all(data)?;
    if data.len() % 2 == 1 {
        w.write_all(b"\n")?;
    }
    Ok(())
}

pub(super) fn gzip_best(data: &[u8]) -> Vec<u8> {
    // flate2 writes MTIME 0 and no file name: the bytes depend on `data` only.
    let mut gz = flate2::GzBuilder::new()
        .operating_system(3)
        .write(Vec::new(), flate2::Compression::best());
    gz.write_all(data).expect("writing to a Vec cannot fail");
    gz.finish().expect("writing to a Vec cannot fail")
}
