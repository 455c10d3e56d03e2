//! The release row itself: a tag without a release converted in place, the
//! prerelease flag following the parsed version, and release notes escaped
//! as Markdown.

use super::*;

#[test]
fn tag_without_release_is_converted_in_place() {
    let s = setup("v1.2.3");
    let tag_id = s.server.add_tag(REPO, "v1.2.3");
    s.publish_json("v1.2.3");
    let rel = s.server.release(REPO, "v1.2.3").unwrap();
    assert_eq!(rel.id, tag_id, "the tag's row became the release");
    assert!(!rel.is_tag);
    s.assert_converged("v1.2.3", &all_names());
}

#[test]
fn prerelease_flag_follows_the_parsed_version() {
    let s = setup("v1.2.3-rc.1");
    // An existing release with the wrong flag is patched.
    s.server.add_release(REPO, "v1.2.3-rc.1", false, false);
    let v = s.publish_json("v1.2.3-rc.1");
    assert_eq!(v["prerelease"], true);
    let rel = s.server.release(REPO, "v1.2.3-rc.1").unwrap();
    assert!(rel.prerelease, "rc.1 is a pre-release");
    let patched = s.server.writes().iter().any(|w| w.method == "PATCH");
    assert!(patched);

    let s = setup("v1.2.3");
    s.publish_json("v1.2.3");
    assert!(!s.server.release(REPO, "v1.2.3").unwrap().prerelease);
}

#[test]
fn release_notes_template_escapes_markdown() {
    use pyship_build::publish::notes::{release_notes, NoteAsset, Notes};
    use pyship_build::report::human_bytes as human;
    let asset = |name: &str, size: u64| NoteAsset {
        name: name.into(),
        size,
        size_human: human(size),
        url: format!(
            "https://git.example/o/r/releases/download/v1.0.0-rc.1/{}",
            name.replace(' ', "%20")
        ),
        sha256: "ab".repeat(32),
    };
    let notes = Notes {
        name: "My *App* | Pro".into(),
        tag: "v1.0.0-rc.1".into(),
        version: "1.0.0-rc.1".into(),
        pep440: "1.0.0rc1".into(),
        prerelease: true,
        commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        assets: vec![
            asset("My App-v1.0.0-rc.1-win-x64.zip", 52_428_800),
            asset("SHA256SUMS", 210),
        ],
    };
    insta::assert_snapshot!(release_notes(&notes, None).unwrap(), @r"
    My \*App\* \| Pro v1\.0\.0\-rc\.1 (pre-release), built from commit `0123456789abcdef0123456789abcdef01234567`.

    ## Downloads

    | File | Size | SHA-256 |
    |---|---:|---|
    | [My App\-v1\.0\.0\-rc\.1\-win\-x64\.zip](<https://git.example/o/r/releases/download/v1.0.0-rc.1/My%20App-v1.0.0-rc.1-win-x64.zip>) | 50\.0 MiB | `abababababababababababababababababababababababababababababababab` |
    | [SHA256SUMS](<https://git.example/o/r/releases/download/v1.0.0-rc.1/SHA256SUMS>) | 210 B | `abababababababababababababababababababababababababababababababab` |
    ");
}
