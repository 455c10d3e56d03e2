//! `publish --dry-run`: no write request reaches the server and the plan is
//! printed.

use super::*;

#[test]
fn dry_run_makes_no_write_request_and_prints_the_plan() {
    // No release yet: plans a create and five uploads (manifest.json too).
    let s = setup("v1.2.3");
    let v = s.publish_json_with("v1.2.3", &["--dry-run"]);
    assert_eq!(v["dry_run"], true);
    let actions = v["actions"].as_array().unwrap();
    assert_eq!(actions[0]["action"], "create-release", "{v}");
    assert_eq!(
        actions.iter().filter(|a| a["action"] == "upload").count(),
        5,
        "{v}"
    );
    assert!(s.server.writes().is_empty(), "{:?}", s.server.writes());
    assert!(
        !s.out.join("manifest.json").exists(),
        "a dry run writes no manifest"
    );
    assert!(s.server.release(REPO, "v1.2.3").is_none());
    assert!(!s.out.join("SHA256SUMS").exists(), "dry run writes no file");

    // An existing release with a duplicate: plans the deletes, in text.
    let id = s.server.add_release(REPO, "v1.2.3", false, false);
    let a1 = s.server.add_asset(id, ZIP, b"x");
    let a2 = s.server.add_asset(id, ZIP, b"yy");
    let out = s
        .cmd("v1.2.3")
        .arg("--dry-run")
        .assert()
        .success()
        .get_output()
        .clone();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("delete asset {ZIP} (id {a1}")),
        "{text}"
    );
    assert!(
        text.contains(&format!("delete asset {ZIP} (id {a2}")),
        "{text}"
    );
    assert!(text.contains("update release"), "{text}");
    assert!(text.contains(&format!("upload {TGZ}")), "{text}");
    assert!(s.server.writes().is_empty(), "{:?}", s.server.writes());
    assert_eq!(s.server.release(REPO, "v1.2.3").unwrap().assets.len(), 2);

    // The real run then takes the steps the dry run planned, in its order.
    let steps = |v: &Value| -> Vec<String> {
        v["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| format!("{} {} {}", a["action"], a["name"], a["id"]))
            .collect()
    };
    let planned = steps(&s.publish_json_with("v1.2.3", &["--dry-run"]));
    assert_eq!(planned.len(), 8, "{planned:?}");
    assert_eq!(steps(&s.publish_json("v1.2.3")), planned);
    s.assert_converged("v1.2.3", &all_names());
}
