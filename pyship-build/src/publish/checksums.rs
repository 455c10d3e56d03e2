//! `SHA256SUMS`: one line per artifact in `sha256sum` format (`<hex>  <name>`),
//! so `sha256sum -c SHA256SUMS` verifies a download folder.

use std::path::{Path, PathBuf};

use super::Error;

/// The file's contents for `paths` (names only, in the given order).
pub fn render(paths: &[PathBuf]) -> Result<String, Error> {
    let mut out = String::new();
    for p in paths {
        let hex = crate::fs::sha256_file(p).map_err(|source| Error::Read {
            path: p.clone(),
            source,
        })?;
        out.push_str(&format!("{hex}  {}\n", file_name(p)));
    }
    Ok(out)
}

/// Write `SHA256SUMS` for `paths` to `dest` atomically.
pub fn write_checksums(paths: &[PathBuf], dest: &Path) -> Result<(), Error> {
    let text = render(paths)?;
    crate::fs::atomic_write(dest, text.as_bytes()).map_err(Error::Checksums)
}

pub(crate) fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256sum_format() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a b.zip");
        fs_err::write(&a, b"abc").unwrap();
        let dest = dir.path().join("SHA256SUMS");
        write_checksums(std::slice::from_ref(&a), &dest).unwrap();
        assert_eq!(
            fs_err::read_to_string(&dest).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  a b.zip\n"
        );
    }
}
