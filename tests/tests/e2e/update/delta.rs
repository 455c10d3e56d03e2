//! Delta fallbacks: a patch made for another base, or one that does not
//! verify, makes the updater fall back to the full archive.

use super::*;

/// v0.2.0's Linux patch with `edit` applied to each object it carries,
/// published as a signed release (manifest and SHA256SUMS made to match the
/// new patch bytes): a patch its signer made wrong.
fn with_patch(s: &Shared, v: &Version, edit: impl Fn(&mut Vec<u8>), base: Option<&str>) -> Version {
    with_patch_of(s, v, "portable-linux", edit, base)
}

/// [`with_patch`] for the patch of install type `kind` (the Windows zip's
/// patch is the setup's too: both entries are edited).
pub(super) fn with_patch_of(
    s: &Shared,
    v: &Version,
    kind: &str,
    edit: impl Fn(&mut Vec<u8>),
    base: Option<&str>,
) -> Version {
    let m: serde_json::Value = serde_json::from_slice(&v.assets["manifest.json"]).unwrap();
    let entry = m["assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["install_type"] == kind)
        .unwrap()
        .clone();
    let name = entry["delta"]["name"].as_str().unwrap().to_owned();
    let mut t = tar::Archive::new(flate2::read::GzDecoder::new(&v.assets[&name][..]));
    let mut out = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for e in t.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        if path.starts_with("delta/objects/") && e.header().entry_type().is_file() {
            edit(&mut data);
        }
        let mut h = e.header().clone();
        h.set_size(data.len() as u64);
        h.set_cksum();
        out.append(&h, &data[..]).unwrap();
    }
    let patch = out.into_inner().unwrap().finish().unwrap();
    let sha = hex_sha256(&patch);
    let size = patch.len();
    let mut edited = v.clone();
    edited.assets.insert(name.clone(), patch);
    resigned(&edited, &s.key, |m| {
        for a in m["assets"].as_array_mut().unwrap() {
            if a["delta"]["name"] == name.as_str() {
                a["delta"]["sha256"] = sha.clone().into();
                a["delta"]["size"] = size.into();
                if let Some(b) = base {
                    a["delta"]["base"] = b.into();
                }
            }
        }
    })
}

/// v0.1.0 (Linux) updated through `/update` to `v`; the helper log.
fn linux_update_to(s: &Shared, v: &Version) -> (PathBuf, tempfile::TempDir, String) {
    s.publish(&[(&s.v1, false), (v, false)]);
    let tmp = tempfile::tempdir().unwrap();
    let (_, tarball) = s.asset(&s.v1, "-linux-x64.tar.gz");
    let root = untar(&tarball, tmp.path());
    user_data(&root);
    let port = free_port();
    let app = start_linux(&root, port);
    let first = wait_version(port, "0.1.0", Duration::from_secs(60));
    let (status, body) = http_post(port, "/update");
    let took = wait_version(port, "0.2.0", Duration::from_secs(120));
    let done = wait_for_log(&root, "updated to v0.2.0", Duration::from_secs(60));
    let (so, se) = app.stop();
    stop_linux_helper_app(&root);
    let log = helper_log(&root);
    assert!(first.is_some(), "v0.1.0 never answered\n{so}\n{se}");
    assert_eq!(status, 200, "{body}\n{se}");
    assert!(
        took.is_some() && done.is_some(),
        "v0.2.0 never answered\n{log}"
    );
    assert_user_data(&root);
    assert_no_old(&root);
    assert_no_archive(&root);
    (root, tmp, log)
}

#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: releases two versions, updates three times"
)]
fn a_delta_for_another_base_or_that_does_not_verify_falls_back_to_the_full_archive() {
    let s = shared();
    let (_, full) = s.asset(&s.v2, "-linux-x64.tar.gz");
    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = untar(&full, fresh_dir.path());
    let same_as_fresh = |root: &Path| {
        let strip = |t: BTreeMap<String, String>| -> BTreeMap<String, String> {
            t.into_iter()
                .filter(|(k, _)| !k.starts_with("data") && !k.starts_with(".pyship"))
                .collect()
        };
        assert_eq!(strip(tree(root)), strip(tree(&fresh)));
    };
    // Another base: not even downloaded.
    let other = with_patch(&s, &s.v2, |_| {}, Some("0.0.9"));
    let (root, _keep, log) = linux_update_to(&s, &other);
    assert!(
        log.contains("the delta applies to '0.0.9', not to this version ('0.1.0'); downloaded the full archive"),
        "{log}"
    );
    same_as_fresh(&root);
    // Carried files whose content is not what the index says.
    let bad = with_patch(&s, &s.v2, |d| d.extend_from_slice(b"\n# changed\n"), None);
    let (root, _keep, log) = linux_update_to(&s, &bad);
    assert!(log.contains("the delta was not used ("), "{log}");
    assert!(
        log.contains("is not the release's (SHA-256 or size differs)"),
        "{log}"
    );
    same_as_fresh(&root);
    // A patch cut short on the server: its SHA-256 does not match.
    let mut cut = s.v2.clone();
    let name = cut
        .assets
        .keys()
        .find(|n| n.contains("linux-x64-delta-from-"))
        .unwrap()
        .clone();
    let bytes = cut.assets[&name].clone();
    let mut damaged = bytes.clone();
    let mid = damaged.len() / 2;
    damaged[mid] ^= 0xff;
    cut.assets.insert(name, damaged);
    let (root, _keep, log) = linux_update_to(&s, &cut);
    assert!(log.contains("the delta was not used ("), "{log}");
    assert!(log.contains("does not match its SHA-256"), "{log}");
    same_as_fresh(&root);
}
