//! The shape of the code base: the module graph of `pyship-build` points
//! down (`.ci/module-graph --check`), and a lower module importing a higher
//! one fails that check.

use std::process::Command;

use pyship_e2e::{require_tool, workspace_root};

fn module_graph(args: &[&str]) -> std::process::Output {
    require_tool(
        "python3",
        "`apt-get install python3` (Debian package `python3`)",
    );
    Command::new("python3")
        .arg(workspace_root().join(".ci/module-graph"))
        .args(args)
        .output()
        .expect("run .ci/module-graph")
}

#[test]
fn module_graph_points_down() {
    let out = module_graph(&["--check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains("problems:"), "{stdout}");
    for layer in ["primitives:", "resolve:", "stages:", "orchestrators:"] {
        assert!(stdout.contains(layer), "{stdout}");
    }
}

#[test]
fn module_graph_check_fails_on_an_upward_import_and_on_a_cycle() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    pyship_e2e::copy_dir(&workspace_root().join("pyship-build/src"), &src);
    // A primitive reaching up into an orchestrator.
    let fs_rs = src.join("fs.rs");
    let text = fs_err::read_to_string(&fs_rs).unwrap();
    fs_err::write(
        &fs_rs,
        format!("{text}\npub fn upward() -> bool {{ crate::release::docker_configured }}\n"),
    )
    .unwrap();
    let out = module_graph(&["--check", "--root", src.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("fs (primitives) imports release (orchestrators): upward"),
        "{stderr}"
    );
    // Two stages importing each other: same layer, but a cycle.
    fs_err::write(&fs_rs, text).unwrap();
    let sign = src.join("sign.rs");
    let t = fs_err::read_to_string(&sign).unwrap();
    fs_err::write(
        &sign,
        format!("{t}\nfn cycle() {{ crate::installer::run; }}\n"),
    )
    .unwrap();
    let out = module_graph(&["--check", "--root", src.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("a cycle: installer, sign import each other"),
        "{stderr}"
    );
    // A stage reaching into another stage for a helper, through `super::`
    // from a file of a folder module: not in the list of stage imports.
    fs_err::write(&sign, t).unwrap();
    let deb = src.join("deb/mod.rs");
    let d = fs_err::read_to_string(&deb).unwrap();
    fs_err::write(
        &deb,
        format!("{d}\nfn helper() {{ super::publish::run; }}\n"),
    )
    .unwrap();
    let out = module_graph(&["--check", "--root", src.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("deb (stages) imports publish (stages): not in STAGE_IMPORTS"),
        "{stderr}"
    );
}

/// Every read of the repository goes through `tools::git` (git missing or
/// failing means "not known" in one place): no other module spawns git.
#[test]
fn only_tools_spawns_git() {
    let src = workspace_root().join("pyship-build/src");
    fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in fs_err::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                files(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut offenders = Vec::new();
    for p in &all {
        let p = p.as_path();
        let name = p.file_name().unwrap().to_string_lossy();
        if p.extension().is_none_or(|x| x != "rs") || name == "tools.rs" || name == "tests.rs" {
            continue;
        }
        let text = fs_err::read_to_string(p).unwrap();
        // Unit tests set up repositories with git directly.
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        if code.contains("Command::new(\"git\")") {
            offenders.push(p.strip_prefix(&src).unwrap().display().to_string());
        }
    }
    assert!(
        offenders.is_empty(),
        "these spawn git themselves instead of calling tools::git: {offenders:?}"
    );
}
