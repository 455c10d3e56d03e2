//! Which of this run's files the release already carries, byte for byte, so
//! a second `publish` (or a re-run CI job) uploads nothing new.
//!
//! Gitea and Forgejo describe an asset by name and size only; a size match
//! alone is no proof (an installer rebuilt with other file times keeps its
//! size). The hashes come from the release itself: its `SHA256SUMS`, which
//! every run uploads last, lists the SHA-256 of every artifact it published.
//! Those hashes are trusted only when that `SHA256SUMS` is the newest upload
//! among the assets it names (a run that stopped halfway uploaded newer files
//! that the old sums do not describe). A server that sends a hash per asset
//! (GitHub's `digest`, `sha256:<hex>`) is believed for that asset.
//!
//! A file is unchanged when the release has exactly one asset of its name,
//! of its size, and a known hash equal to the file's. Anything else is
//! published as usual (delete every asset of that name, upload, verify).

use std::collections::BTreeMap;

use super::{Asset, Item, Provider, Release, CHECKSUMS};
use crate::report::Reporter;

/// The SHA-256 (lowercase hex) the release vouches for, per asset name.
pub(super) fn known_hashes(
    provider: &dyn Provider,
    release: &Release,
    assets: &[Asset],
    reporter: &dyn Reporter,
) -> BTreeMap<String, String> {
    let mut known = BTreeMap::new();
    for a in assets {
        if let Some(hex) = a.digest.as_deref().and_then(|d| d.strip_prefix("sha256:")) {
            known.insert(a.name.clone(), hex.to_ascii_lowercase());
        }
    }
    let sums: Vec<&Asset> = assets.iter().filter(|a| a.name == CHECKSUMS).collect();
    let [sums] = sums[..] else {
        return known;
    };
    let bytes = match provider.download_asset(release, sums) {
        Ok(b) => b,
        Err(e) => {
            reporter.debug(&format!(
                "could not read the release's {CHECKSUMS} ({}); every file is uploaded again",
                super::with_causes(&e)
            ));
            return known;
        }
    };
    if bytes.len() as u64 != sums.size {
        return known;
    }
    let listed = parse(&String::from_utf8_lossy(&bytes));
    let newest = assets
        .iter()
        .filter(|a| a.name != CHECKSUMS && listed.contains_key(&a.name))
        .map(|a| a.id)
        .max();
    if newest.is_some_and(|id| id > sums.id) {
        reporter.debug(&format!(
            "the release's {CHECKSUMS} is older than some of the files it names; every file is uploaded again"
        ));
        return known;
    }
    for (name, hex) in listed {
        known.entry(name).or_insert(hex);
    }
    known.insert(CHECKSUMS.into(), crate::fs::sha256_hex(&bytes));
    known
}

/// Whether the release already has exactly this file.
pub(super) fn is_unchanged(
    item: &Item,
    assets: &[Asset],
    known: &BTreeMap<String, String>,
) -> bool {
    let same: Vec<&Asset> = assets.iter().filter(|a| a.name == item.name).collect();
    matches!(same[..], [a] if a.size == item.size)
        && known.get(&item.name).is_some_and(|h| *h == item.sha256)
}

/// `sha256sum` lines (`<hex>  <name>`, or `<hex> *<name>` in binary mode).
fn parse(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let (hex, name) = l.split_once(' ')?;
            let name = name.strip_prefix(' ').or_else(|| name.strip_prefix('*'))?;
            (crate::fs::is_sha256_hex(hex) && !name.is_empty())
                .then(|| (name.to_owned(), hex.to_ascii_lowercase()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset(id: u64, name: &str, size: u64) -> Asset {
        Asset {
            id,
            name: name.into(),
            size,
            browser_download_url: String::new(),
            digest: None,
        }
    }

    fn item(name: &str, size: u64, sha256: &str) -> Item {
        Item {
            name: name.into(),
            path: name.into(),
            size,
            sha256: sha256.into(),
        }
    }

    #[test]
    fn parses_text_and_binary_mode_lines() {
        let a = "a".repeat(64);
        let b = "B".repeat(64);
        let m = parse(&format!("{a}  x y.zip\n{b} *setup.exe\nnot a line\n"));
        assert_eq!(m.get("x y.zip"), Some(&a));
        assert_eq!(m.get("setup.exe"), Some(&"b".repeat(64)));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn unchanged_needs_one_asset_of_the_size_and_the_hash() {
        let h = "c".repeat(64);
        let known = BTreeMap::from([("a.zip".to_owned(), h.clone())]);
        let it = item("a.zip", 10, &h);
        assert!(is_unchanged(&it, &[asset(1, "a.zip", 10)], &known));
        // Same size, other content.
        assert!(!is_unchanged(
            &item("a.zip", 10, &"d".repeat(64)),
            &[asset(1, "a.zip", 10)],
            &known
        ));
        assert!(!is_unchanged(&it, &[asset(1, "a.zip", 11)], &known));
        assert!(!is_unchanged(
            &it,
            &[asset(1, "a.zip", 10), asset(2, "a.zip", 10)],
            &known
        ));
        assert!(!is_unchanged(
            &it,
            &[asset(1, "a.zip", 10)],
            &BTreeMap::new()
        ));
    }
}
