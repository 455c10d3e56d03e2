//! Hostile and careless input: unsafe names, stalled and lying servers, tokens
//! echoed back, drafts, repository names that leave the repository, links
//! that leave the project. Each test states the general rule it guards.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pyship_e2e::gitea::{GiteaServer, REPO, WRITE_TOKEN};
use pyship_e2e::hostile::{HostileServer, Mode};

use super::support::*;

/// Set `name = ...` (and any extra keys) in the hello fixture's pyship table.
fn hello_named(name_toml: &str) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = copy_fixture("hello");
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    fs_err::write(
        &manifest,
        text.replacen("name = \"Hello App\"", name_toml, 1),
    )
    .unwrap();
    (tmp, dir)
}

/// The hello fixture with `[package.metadata.pyship.{table}]` holding
/// `keys` appended to its Cargo.toml.
fn hello_with_table(table: &str, keys: &str) -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = copy_fixture("hello");
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    fs_err::write(
        &manifest,
        format!("{text}\n[package.metadata.pyship.{table}]\n{keys}\n"),
    )
    .unwrap();
    (tmp, dir)
}

/// Every path below `root`, sorted.
fn listing(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = walk(root)
        .into_iter()
        .map(|p| p.strip_prefix(root).unwrap().display().to_string())
        .collect();
    v.sort();
    v
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs_err::read_dir(root).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() && !p.is_symlink() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn unsafe_names_are_refused_and_nothing_outside_is_touched() {
    for name in [
        "../../../../victim",
        "../evil",
        "a/b",
        "a\\\\b",
        "C:evil",
        "CON",
        "nul.txt",
        "say \\\"hi\\\"",
        "tab\\there",
        "..",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain([("x".repeat(300))])
    {
        let (tmp, dir) = hello_named(&format!("name = \"{name}\""));
        let victim = tmp.path().join("victim");
        fs_err::create_dir_all(victim.join("keep")).unwrap();
        let before = listing(tmp.path());
        let cache = tempfile::tempdir().unwrap();
        for args in [
            &["pyship", "plan"][..],
            &[
                "pyship",
                "bundle",
                "--target",
                "windows",
                "--version",
                "v1.0.0",
            ][..],
        ] {
            let out = pyship(cache.path())
                .current_dir(&dir)
                .args(args)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{name} {args:?}: {stderr}");
            // A tab is refused sooner: no display name holds a control character.
            let control = name.contains("\\t");
            assert!(
                (stderr.contains("cannot be used for file names")
                    || control && stderr.contains("control character"))
                    && stderr.contains("hint:"),
                "{name}: {stderr}"
            );
            assert!(control || stderr.contains("file-name"), "{stderr}");
        }
        assert_eq!(listing(tmp.path()), before, "{name}: files changed");
    }
}

#[test]
fn an_explicit_file_name_keeps_a_display_name_with_any_characters() {
    let (_tmp, dir) = hello_named("name = 'Café \"Ü\" $HOME'\nfile-name = \"cafe\"");
    let cache = tempfile::tempdir().unwrap();
    let out = pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "plan", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = v.to_string();
    assert!(text.contains("cafe-v0.1.0-win-x64.zip"), "{text}");
    assert!(text.contains("Café \\\"Ü\\\" $HOME"), "{text}");
}

/// Rule: nothing read from a project, a server or an archive drives the
/// terminal: a config key made of escape sequences (a window title, colours,
/// a bidi override) is printed as escapes, and the rest of the message stays.
#[test]
fn a_config_key_made_of_escape_sequences_is_printed_as_text() {
    let (_tmp, dir) =
        hello_named("name = \"Hello App\"\n\"\\u001b]0;pwned\\u0007\\u001b[31mok\\u202e\\r\" = 1");
    let (code, err) = plan_in(&dir);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("unknown field"), "{err}");
    assert!(
        !err.contains(['\u{1b}', '\u{7}', '\u{202e}', '\r']),
        "a control character reached the terminal: {err:?}"
    );
    assert!(
        err.contains("`\\u{1b}]0;pwned\\u{7}\\u{1b}[31mok\\u{202e}\\r`"),
        "{err}"
    );
    assert!(err.contains("hint: "), "{err}");
}

/// `stderr` shows `shown` (a value, escaped) and nothing the value could
/// forge: no line of its own that reads as the tool's `error:`, no escape
/// sequence.
fn assert_shown_escaped(stderr: &str, shown: &str) {
    assert!(
        !stderr.lines().any(|l| l.starts_with("error: fake")),
        "a value added a line of its own:\n{stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "an escape sequence reached the terminal: {stderr:?}"
    );
    assert!(stderr.contains(shown), "{shown} not in:\n{stderr}");
}

/// Rule: a value from outside (an argument, a config string) that a message
/// shows cannot add a line of its own or drive the terminal: its line breaks
/// and escape sequences are printed as escapes, inside the one message.
#[test]
fn a_value_with_a_line_break_or_an_escape_cannot_forge_output() {
    let cases = [
        ("v1\nerror: fake", "`v1\\nerror: fake`"),
        ("v1\u{1b}[31mred", "`v1\\u{1b}[31mred`"),
    ];
    let (_tmp, dir) = copy_fixture("hello");
    for (value, shown) in cases {
        let cache = tempfile::tempdir().unwrap();
        let out = pyship(cache.path())
            .current_dir(&dir)
            .args(["pyship", "version", value])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("is not a valid version"), "{stderr}");
        assert_shown_escaped(&stderr, shown);
    }
    // A config string, refused when the plan is made (TOML escapes).
    for (toml, shown) in [
        ("acme/x\\nerror: fake", "`acme/x\\nerror: fake`"),
        ("acme/x\\u001b[31mred", "`acme/x\\u{1b}[31mred`"),
    ] {
        let (_tmp, dir) = hello_with_table("publish", &format!("repo = \"{toml}\""));
        let (code, stderr) = plan_in(&dir);
        assert_eq!(code, Some(1), "{stderr}");
        assert!(
            stderr.contains("invalid `publish.repo`")
                && stderr.contains("is not a valid Gitea repository"),
            "{stderr}"
        );
        assert_shown_escaped(&stderr, shown);
        assert!(stderr.contains("hint: "), "{stderr}");
    }
}

/// `bundle --target windows` of hello against `mirror`, with short timeouts.
fn bundle_from(mirror: &str, cache: &Path, dir: &Path) -> (std::process::Output, Duration) {
    let t = Instant::now();
    let out = pyship(cache)
        .current_dir(dir)
        .env("PYSHIP_PYTHON_MIRROR", mirror)
        .env("PYSHIP_HTTP_TIMEOUT", "1.5")
        .env("PYSHIP_CONNECT_TIMEOUT", "2")
        .env("PYSHIP_RETRY_BASE_MS", "5")
        .args([
            "pyship",
            "bundle",
            "--target",
            "windows",
            "--version",
            "v1.0.0",
        ])
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    (out, t.elapsed())
}

#[test]
fn a_stalled_mirror_times_out_naming_the_url_and_the_setting() {
    for mode in [
        Mode::Stall,
        Mode::StallAfter {
            sent: 100 * 1024,
            total: 1 << 20,
        },
    ] {
        let server = HostileServer::start(mode.clone());
        let (_tmp, dir) = copy_fixture("hello");
        let cache = tempfile::tempdir().unwrap();
        let (out, took) = bundle_from(&server.url(), cache.path(), &dir);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{mode:?}: {stderr}");
        assert!(took < Duration::from_secs(60), "{mode:?} took {took:?}");
        assert!(
            stderr.contains(&format!(
                "{}/3.11.9/python-3.11.9-embed-amd64.zip",
                server.url()
            )),
            "{stderr}"
        );
        assert!(stderr.contains("PYSHIP_HTTP_TIMEOUT"), "{stderr}");
        assert!(
            !dir.join("pyship.lock").exists(),
            "a stalled download was locked"
        );
        assert!(!dir.join("dist").read_dir().is_ok_and(
            |mut d| d.any(|e| { e.unwrap().file_name().to_string_lossy().ends_with(".zip") })
        ));
    }
}

#[test]
fn a_cut_off_or_html_download_is_neither_cached_nor_locked() {
    let real = fs_err::read(
        pyship_e2e::testdata::embed_python_dir().join("python-3.11.9-embed-amd64.zip"),
    )
    .unwrap();
    for body in [
        b"<!DOCTYPE html><html><body>Mirror maintenance</body></html>".to_vec(),
        real[..real.len() / 2].to_vec(),
    ] {
        let server = HostileServer::start(Mode::Body(body));
        let (_tmp, dir) = copy_fixture("hello");
        let cache = tempfile::tempdir().unwrap();
        let (out, _) = bundle_from(&server.url(), cache.path(), &dir);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("is not usable"), "{stderr}");
        assert!(
            stderr.contains("hint:") && stderr.contains("PYSHIP_PYTHON_MIRROR"),
            "{stderr}"
        );
        assert!(
            !dir.join("pyship.lock").exists(),
            "an unusable download was locked"
        );
        // Nothing but lock files, bucket markers and the wine shim DLL (complete when it is
        // there: it is compiled while the download runs): not the download,
        // nor half of the wine prefix that was being prepared meanwhile.
        let cached: Vec<_> = walk(cache.path())
            .into_iter()
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy();
                let shim = name == "bcryptprimitives.dll"
                    && p.parent()
                        .and_then(|k| k.parent())
                        .unwrap()
                        .ends_with("wine-shim-v0");
                // A bucket's marker says the folder is the tool's own.
                let marker = name == ".pyship-bucket";
                p.is_file() && !name.ends_with(".lock") && !shim && !marker
            })
            .collect();
        assert!(
            cached.is_empty(),
            "a failed build left files in the cache: {cached:?}"
        );
    }
}

#[test]
fn the_token_never_reaches_the_output_on_any_error_path() {
    let token = "s3cr3t-T0ken-for-echo";
    let modes: Vec<Mode> = [400u16, 401, 403, 404, 409, 422, 429, 500, 502]
        .into_iter()
        .map(|status| Mode::EchoHeaders { status })
        .chain([Mode::RedirectWithToken])
        .collect();
    for mode in modes {
        let server = HostileServer::start(mode.clone());
        let (tmp, dir) = copy_fixture("hello");
        let out_dir = tmp.path().join("out");
        fs_err::create_dir_all(&out_dir).unwrap();
        fs_err::write(out_dir.join("Hello-App-v1.0.0-win-x64.zip"), b"zip").unwrap();
        let cache = tempfile::tempdir().unwrap();
        let out = pyship(cache.path())
            .current_dir(&dir)
            .env("GITHUB_SERVER_URL", server.url())
            .env("GITHUB_REPOSITORY", REPO)
            .env("DEPLOY_TOKEN", token)
            .env("PYSHIP_RETRY_BASE_MS", "5")
            .args(["pyship", "-v", "publish", "--version", "v1.0.0", "--out"])
            .arg(&out_dir)
            .timeout(Duration::from_secs(120))
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(1), "{mode:?}: {all}");
        assert!(server.requests() > 0, "{mode:?}: no request made");
        assert!(!all.contains(token), "{mode:?} leaked the token:\n{all}");
        assert!(
            !all.contains("T0ken"),
            "{mode:?} leaked part of the token:\n{all}"
        );
        if let Mode::EchoHeaders { status } = mode {
            assert!(all.contains(&format!("answered {status}")), "{all}");
            assert!(
                all.contains("***"),
                "the echo was not redacted but dropped: {all}"
            );
        }
    }
}

#[test]
fn publish_publishes_a_draft_and_reads_it_back() {
    let server = GiteaServer::start();
    let id = server.add_release(REPO, "v1.0.0", true, false);
    let (tmp, dir) = copy_fixture("hello");
    git_init_commit(&dir);
    let out_dir = tmp.path().join("out");
    fs_err::create_dir_all(&out_dir).unwrap();
    fs_err::write(out_dir.join("Hello-App-v1.0.0-win-x64.zip"), b"zip bytes").unwrap();
    let cache = tempfile::tempdir().unwrap();
    let out = pyship(cache.path())
        .current_dir(&dir)
        .env("GITHUB_SERVER_URL", server.url())
        .env("GITHUB_REPOSITORY", REPO)
        .env("DEPLOY_TOKEN", WRITE_TOKEN)
        .args(["pyship", "publish", "--version", "v1.0.0", "--out"])
        .arg(&out_dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("draft"),
        "the update names the draft flag: {stderr}"
    );
    let rel = server.release(REPO, "v1.0.0").expect("release");
    assert_eq!(rel.id, id, "the draft was reused, not duplicated");
    assert!(!rel.draft, "still a draft after publish");
    assert_eq!(server.releases().len(), 1);
}

#[test]
fn repository_names_gitea_would_refuse_make_no_request() {
    let server = GiteaServer::start();
    for repo in [
        "../hello",
        "acme/..",
        "acme/.",
        "acme/hello/extra",
        "acme/hello.git",
        "ac--me/x",
        "acme/he llo",
    ] {
        let (tmp, dir) = copy_fixture("hello");
        let out_dir = tmp.path().join("out");
        fs_err::create_dir_all(&out_dir).unwrap();
        fs_err::write(out_dir.join("Hello-App-v1.0.0-win-x64.zip"), b"zip").unwrap();
        let cache = tempfile::tempdir().unwrap();
        let out = pyship(cache.path())
            .current_dir(&dir)
            .env("GITHUB_SERVER_URL", server.url())
            .env("GITHUB_REPOSITORY", repo)
            .env("DEPLOY_TOKEN", WRITE_TOKEN)
            .args(["pyship", "publish", "--version", "v1.0.0", "--out"])
            .arg(&out_dir)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{repo}: {stderr}");
        assert!(
            stderr.contains("is not a valid Gitea repository"),
            "{stderr}"
        );
    }
    assert!(server.requests().is_empty(), "{:?}", server.requests());
}

#[test]
fn stamping_a_symlinked_pyproject_writes_the_target_and_keeps_the_link() {
    let (tmp, dir) = copy_fixture("hello");
    let real_dir = tmp.path().join("shared");
    fs_err::create_dir_all(&real_dir).unwrap();
    let link = dir.join("python/pyproject.toml");
    let target = real_dir.join("pyproject.toml");
    fs_err::rename(&link, &target).unwrap();
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let out = pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "version", "v4.5.6", "--stamp"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        fs_err::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "link replaced"
    );
    let text = fs_err::read_to_string(&target).unwrap();
    assert!(text.contains("version = \"4.5.6\""), "{text}");
}

/// `cargo pyship plan` in `dir` with a cache of its own: its exit code and
/// what it printed on stderr.
fn plan_in(dir: &Path) -> (Option<i32>, String) {
    let cache = tempfile::tempdir().unwrap();
    let out = pyship(cache.path())
        .current_dir(dir)
        .args(["pyship", "plan"])
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `pyship plan` in `dir` is refused naming each of `says` and pointing at
/// `allow-outside-project`, then passes once the key `before` is preceded by
/// `allow-outside-project = true`.
fn refused_until_allowed(dir: &Path, before: &str, says: &[&str]) {
    let (code, stderr) = plan_in(dir);
    assert_eq!(code, Some(1), "{stderr}");
    for s in says {
        assert!(stderr.contains(s), "{s:?} not in:\n{stderr}");
    }
    assert!(
        stderr.contains("hint:") && stderr.contains("allow-outside-project"),
        "{stderr}"
    );
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    fs_err::write(
        &manifest,
        text.replacen(
            before,
            &format!("allow-outside-project = true\n{before}"),
            1,
        ),
    )
    .unwrap();
    let (code, stderr) = plan_in(dir);
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn include_entries_outside_the_project_are_refused_unless_allowed() {
    for entry in ["../secret.txt", "/etc/hostname"] {
        let (tmp, dir) = hello_named(&format!("name = \"Hello App\"\ninclude = [\"{entry}\"]"));
        fs_err::write(tmp.path().join("secret.txt"), "s3cret").unwrap();
        refused_until_allowed(&dir, "include = ", &["is outside the project", entry]);
    }
}

/// `app-src` is held to the rule of `include`: sources outside the project
/// (and not beside its pyproject.toml) are refused unless allowed.
#[test]
fn app_sources_outside_the_project_are_refused_unless_allowed() {
    let (tmp, dir) = hello_named("name = \"Hello App\"\napp-src = \"../outside\"");
    let outside = tmp.path().join("outside/hello_app");
    fs_err::create_dir_all(&outside).unwrap();
    fs_err::write(outside.join("__init__.py"), "").unwrap();
    fs_err::write(outside.join("__main__.py"), "print('outside')\n").unwrap();
    fs_err::write(outside.join("secret.txt"), "s3cret").unwrap();
    refused_until_allowed(
        &dir,
        "app-src = ",
        &["the app's sources", "are outside the project"],
    );
}

/// An `include` entry lands at `app/{its last name}`: one named `src` would
/// merge into the app's sources and overwrite them, two of one name into
/// each other. Both are refused when the plan is made, naming the entry.
#[test]
fn include_entries_that_land_on_the_app_or_each_other_are_refused() {
    for (include, says) in [
        ("[\"extra/src\"]", "onto the app's sources, `app/src`"),
        (
            "[\"a/config\", \"b/config\"]",
            "onto include `a/config`, which lands there too",
        ),
        (
            "[\"a/config\", \"b/Config\"]",
            "onto include `a/config`, which lands there too",
        ),
    ] {
        let (_tmp, dir) = hello_named(&format!("name = \"Hello App\"\ninclude = {include}"));
        for d in ["extra/src/hello_app", "a/config", "b/config", "b/Config"] {
            fs_err::create_dir_all(dir.join(d)).unwrap();
        }
        fs_err::write(
            dir.join("extra/src/hello_app/main.py"),
            "print('OVERWRITTEN')\n",
        )
        .unwrap();
        let (code, stderr) = plan_in(&dir);
        assert_eq!(code, Some(1), "{include}: {stderr}");
        assert!(stderr.contains(says), "{include}: {stderr}");
        assert!(stderr.contains("hint:"), "{stderr}");
    }
}

/// The Docker build context is sent whole to the Docker engine: one outside
/// the project (`/`, the parent folder) is refused unless allowed.
#[test]
fn a_docker_context_outside_the_project_is_refused_unless_allowed() {
    for context in ["/", ".."] {
        let (_tmp, dir) = hello_named("name = \"Hello App\"\n# the main table's keys");
        let manifest = dir.join("Cargo.toml");
        let text = fs_err::read_to_string(&manifest).unwrap();
        fs_err::write(
            &manifest,
            format!("{text}\n[package.metadata.pyship.docker]\ncontext = \"{context}\"\n"),
        )
        .unwrap();
        refused_until_allowed(
            &dir,
            "# the main table's keys",
            &["the Docker build context", "is outside the project"],
        );
    }
}

/// Rule: a config value a tool pyship runs would refuse, or read as
/// something else (an option), or that would ship credentials or another
/// repository's path in every bundle, fails `plan` before anything is
/// built, naming the key and its table, with a hint; a valid one plans.
#[test]
fn values_a_tool_would_refuse_fail_the_plan_naming_the_key() {
    let update_off = "\n[package.metadata.pyship.update]\nenabled = false";
    let image = "invalid `docker.image` in [package.metadata.pyship]";
    let platform = "invalid `linux.platform` in [package.metadata.pyship]";
    let url = "invalid `publish.url` in [package.metadata.pyship]";
    let repo = "invalid `publish.repo` in [package.metadata.pyship]";
    for (table, value, says) in [
        ("docker", "image = \"-x\"".to_owned(), &[image][..]),
        ("docker", "image = \"UPPER/case\"".into(), &[image]),
        ("docker", "image = \"a b\"".into(), &[image]),
        ("docker", "image = \"ghcr.io/acme/hello\"".into(), &[]),
        (
            "linux",
            "platform = \"manylinux_2_28_x86_64\"".into(),
            &[platform],
        ),
        (
            "linux",
            "platform = \"x86_64-manylinux_2_24\"".into(),
            &[platform],
        ),
        ("linux", "platform = \"x86_64-manylinux2014\"".into(), &[]),
        (
            "publish",
            format!("url = \"http://user:pass@git.example.com\"\nrepo = \"o/r\"{update_off}"),
            &[url, "has credentials in it"],
        ),
        (
            "publish",
            format!("url = \"https://git.example.com/?x=1#top\"{update_off}"),
            &[url, "query or fragment"],
        ),
        (
            "publish",
            format!("repo = \"../../r\"{update_off}"),
            &[repo, "is not a valid Gitea repository"],
        ),
        (
            "publish",
            format!("url = \"https://git.example.com\"\nrepo = \"o/r\"{update_off}"),
            &[],
        ),
    ] {
        let (_tmp, dir) = hello_with_table(table, &value);
        let (code, stderr) = plan_in(&dir);
        if says.is_empty() {
            assert_eq!(code, Some(0), "{value}: {stderr}");
            continue;
        }
        assert_eq!(code, Some(1), "{value}: {stderr}");
        for s in says {
            assert!(stderr.contains(s), "{value}: {s:?} not in\n{stderr}");
        }
        assert!(stderr.contains("hint:"), "{value}: {stderr}");
        assert!(!stderr.contains("user:pass"), "{stderr}");
    }
}

/// The hello fixture with `table` (its name line and any extra keys) in
/// its pyship table, building its Linux bundle without the network: wheels
/// from `wheels` and the test runtime, each from a local server (returned:
/// they serve until dropped).
#[cfg(unix)]
fn offline_linux_hello(
    wheels: &Path,
    table: &str,
) -> (
    (
        pyship_e2e::http::StaticServer,
        pyship_e2e::http::StaticServer,
        tempfile::TempDir,
    ),
    tempfile::TempDir,
    PathBuf,
) {
    require_tool("uv", "`pip install uv` (PyPI package `uv`)");
    let wheels = pyship_e2e::http::StaticServer::start(wheels.to_owned());
    let (runtime_dir, runtime) =
        pyship_e2e::pbs::serve("cpython-3.11.9-test-x86_64-unknown-linux-gnu-install_only.tar.gz");
    let (tmp, dir) = hello_named(&format!(
        "{table}\nno-index = true\nfind-links = [\"{}/\"]",
        wheels.url()
    ));
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    fs_err::write(
        &manifest,
        format!(
            "{text}\n[package.metadata.pyship.linux]\nruntime-url = \"{}/cpython-{{version}}-test-x86_64-unknown-linux-gnu-install_only.tar.gz\"\n",
            runtime.url()
        ),
    )
    .unwrap();
    ((wheels, runtime, runtime_dir), tmp, dir)
}

/// `pyship bundle --target linux` in `dir` with a fresh cache: its exit
/// code and stderr.
#[cfg(unix)]
fn bundle_linux_in(dir: &Path) -> (Option<i32>, String) {
    let cache = tempfile::tempdir().unwrap();
    let out = pyship(cache.path())
        .current_dir(dir)
        .args(["pyship", "bundle", "--target", "linux"])
        .timeout(Duration::from_secs(600))
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A named pipe in an `include` folder fails the Linux bundle promptly,
/// naming the pipe and `include`, rather than waiting forever for a writer.
#[cfg(unix)]
#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: builds a Linux bundle"
)]
fn a_named_pipe_in_an_include_folder_is_refused_naming_it() {
    require_tool("mkfifo", "coreutils");
    let (_servers, _tmp, dir) = offline_linux_hello(
        &pyship_e2e::testdata::wheelhouse(),
        "name = \"Hello App\"\ninclude = [\"assets\"]",
    );
    fs_err::create_dir_all(dir.join("assets")).unwrap();
    fs_err::write(dir.join("assets/readme.txt"), "hi").unwrap();
    let pipe = dir.join("assets/pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&pipe)
        .status()
        .unwrap();
    assert!(made.success());
    let start = Instant::now();
    let (code, stderr) = bundle_linux_in(&dir);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(start.elapsed() < Duration::from_secs(300), "{stderr}");
    assert!(stderr.contains("assets/pipe"), "{stderr}");
    assert!(
        stderr.contains("named pipe") && stderr.contains("`include`"),
        "{stderr}"
    );
    assert!(!dir.join("dist/Hello-App-v0.1.0-linux-x64.tar.gz").exists());
}

/// A dependency's metadata names its licence files; one that names a file
/// outside its dist-info (an absolute path, or up through `..`) gets
/// nothing of the build machine's into the bundle's licence notices, which
/// ship to every user.
#[cfg(unix)]
#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: builds a Linux bundle"
)]
fn a_dependencys_licence_file_outside_its_dist_info_does_not_ship() {
    require_tool("tar", "tar");
    let house = tempfile::tempdir().unwrap();
    for e in fs_err::read_dir(pyship_e2e::testdata::wheelhouse()).unwrap() {
        let e = e.unwrap();
        fs_err::copy(e.path(), house.path().join(e.file_name())).unwrap();
    }
    let secret = house.path().join("token.txt");
    fs_err::write(&secret, "gitea_token=SECRET-7f3a\n").unwrap();
    let up = "../".repeat(20);
    let rel = secret.display().to_string();
    make_wheel(
        house.path(),
        "evilpkg",
        "1.0",
        &format!(
            "License-File: {rel}\nLicense-File: {up}{}\n",
            rel.trim_start_matches('/')
        ),
    );
    let (_servers, _tmp, dir) = offline_linux_hello(house.path(), "name = \"Hello App\"");
    let pyproject = dir.join("python/pyproject.toml");
    let text = fs_err::read_to_string(&pyproject).unwrap();
    fs_err::write(
        &pyproject,
        text.replacen("\"numpy<2\",", "\"numpy<2\",\n    \"evilpkg==1.0\",", 1),
    )
    .unwrap();
    let (code, stderr) = bundle_linux_in(&dir);
    assert_eq!(code, Some(0), "{stderr}");
    let listed = std::process::Command::new("tar")
        .arg("xzf")
        .arg(dir.join("dist/Hello-App-v0.1.0-linux-x64.tar.gz"))
        .args(["-O", "Hello-App/THIRD-PARTY-LICENSES.txt"])
        .output()
        .unwrap();
    assert!(listed.status.success(), "{listed:?}");
    let notices = String::from_utf8_lossy(&listed.stdout);
    assert!(notices.contains("evilpkg 1.0"), "{notices}");
    assert!(!notices.contains("SECRET-7f3a"), "{notices}");
    assert!(!notices.contains("token.txt"), "{notices}");
}

/// A project file `plan` reads whole (the pyproject, a Cargo.toml of the
/// workspace, the dependency lock it picks) that is a named pipe fails the
/// plan at once, naming the file and what it is, rather than waiting
/// forever for a writer.
#[cfg(unix)]
#[test]
fn a_named_pipe_where_plan_reads_a_project_file_is_refused_naming_it() {
    require_tool("mkfifo", "coreutils");
    let plan = ["pyship", "plan"].as_slice();
    // The stamp keeps a uv.lock in step: one it cannot read is not passed over.
    let stamp = ["pyship", "version", "--stamp", "0.2.0"].as_slice();
    for (rel, args) in [
        ("python/pyproject.toml", plan),
        ("Cargo.toml", plan),
        ("crates/hello-core/Cargo.toml", plan),
        ("python/uv.lock", plan),
        ("pyship.lock", plan),
        ("python/uv.lock", stamp),
    ] {
        let (_tmp, dir) = copy_fixture("hello");
        let pipe = dir.join(rel);
        let _ = fs_err::remove_file(&pipe);
        let made = std::process::Command::new("mkfifo")
            .arg(&pipe)
            .status()
            .unwrap();
        assert!(made.success());
        let cache = tempfile::tempdir().unwrap();
        // Made before the clock starts: the first one may build the binary.
        let mut cmd = pyship(cache.path());
        let start = Instant::now();
        let out = cmd
            .current_dir(&dir)
            .args(args)
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{rel}: {stderr}");
        assert!(start.elapsed() < Duration::from_secs(30), "{rel}: {stderr}");
        assert!(
            stderr.contains(&format!("{}: it is a named pipe (FIFO)", pipe.display())),
            "{rel}: {stderr}"
        );
        assert!(stderr.contains("hint:"), "{rel}: {stderr}");
    }
}
