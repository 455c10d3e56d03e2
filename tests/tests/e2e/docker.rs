//! `cargo pyship docker`: the rendered Dockerfile (snapshots), the exact
//! command lines for stable, pre-release and backport versions (checked through
//! `--print-commands`, no engine needed), the token never in argv, a failed
//! login degrading to a warning, clear errors without docker or its engine,
//! the Gitea package link call, and a real build when an engine is present.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::support::*;
use predicates::prelude::*;
use pyship_build::docker::{self, LinkOutcome, LinkPlan};

const SERVER: &str = "https://git.example.com";

/// The hello fixture in a git repo tagged v1.0.0 and v1.1.0 (HEAD untagged).
fn tagged_hello() -> (tempfile::TempDir, PathBuf) {
    let (t, dir) = copy_fixture("hello");
    git_init_commit(&dir);
    git(&dir, &["tag", "v1.0.0"]);
    git(&dir, &["tag", "v1.1.0"]);
    (t, dir)
}

fn print_commands(dir: &Path, extra: &[&str]) -> String {
    let cache = tempfile::tempdir().unwrap();
    let mut args = vec!["pyship", "docker", "--print-commands"];
    args.extend_from_slice(extra);
    let out = pyship(cache.path())
        .current_dir(dir)
        .env("GITHUB_SERVER_URL", SERVER)
        .env("GITHUB_REPOSITORY", "Owner/Hello")
        .env("GITHUB_ACTOR", "ci-bot")
        .env("DEPLOY_TOKEN", "s3cr3t-token")
        .args(&args)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(
        !text.contains("s3cr3t-token"),
        "token in a command line:\n{text}"
    );
    text.replace(&dir.display().to_string(), "[project]")
        .replace(&git(dir, &["rev-parse", "HEAD"]).trim().to_owned(), "[sha]")
}

fn build_line(version: &str, pep440: &str, tags: &[&str]) -> String {
    let mut s = format!(
        "docker build --file [project]/dist/.pyship/docker/Dockerfile --build-arg APP_VERSION={pep440} \
--label org.opencontainers.image.version={version} \
--label org.opencontainers.image.source=https://git.example.com/Owner/Hello \
--label org.opencontainers.image.revision=[sha]"
    );
    for t in tags {
        s.push_str(&format!(" --tag git.example.com/owner/hello:{t}"));
    }
    // The updater goes in as a named context (rendered into the work dir first).
    s.push_str(" --build-context pyship-update=[project]/dist/.pyship/docker/update");
    s.push_str(" [project]");
    s
}

#[test]
fn docker_commands_stable_newest_version_moves_latest() {
    let (_t, dir) = tagged_hello();
    let out = print_commands(&dir, &["--version", "1.2.0", "--push"]);
    let expected = [
        "# [project]/dist/.pyship/docker/Dockerfile is rendered from the template docker/Dockerfile.j2 first".to_owned(),
        "printf '%s' \"$DEPLOY_TOKEN\" | docker login git.example.com --username ci-bot --password-stdin".to_owned(),
        build_line("1.2.0", "1.2.0", &["v1.2.0", "1.2.0", "latest"]),
        "docker push git.example.com/owner/hello:v1.2.0".to_owned(),
        "docker push git.example.com/owner/hello:1.2.0".to_owned(),
        "docker push git.example.com/owner/hello:latest".to_owned(),
        "# then: POST https://git.example.com/api/v1/packages/owner/container/hello/-/link/Hello".to_owned(),
    ];
    assert_eq!(out.lines().collect::<Vec<_>>(), expected);
}

#[test]
fn docker_commands_prerelease_never_tags_latest() {
    let (_t, dir) = tagged_hello();
    let out = print_commands(&dir, &["--version", "v2.0.0-rc.1"]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "# [project]/dist/.pyship/docker/Dockerfile is rendered from the template docker/Dockerfile.j2 first"
                .to_owned(),
            build_line("2.0.0-rc.1", "2.0.0rc1", &["v2.0.0-rc.1", "2.0.0-rc.1"]),
        ]
    );
}

#[test]
fn docker_commands_backport_does_not_move_latest() {
    // v1.0.1 is released after v1.1.0 (HEAD is tagged v1.0.1): `latest` stays on 1.1.0.
    let (_t, dir) = tagged_hello();
    git(
        &dir,
        &["commit", "-q", "--allow-empty", "-m", "backport fix"],
    );
    git(&dir, &["tag", "v1.0.1"]);
    let out = print_commands(&dir, &["--push"]);
    assert!(out.contains("--tag git.example.com/owner/hello:v1.0.1 --tag git.example.com/owner/hello:1.0.1 --build-context"), "{out}");
    assert!(
        !out.contains(":latest"),
        "a backport must not move latest:\n{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with("docker push")).count(),
        2,
        "{out}"
    );
}

#[test]
fn docker_uses_the_projects_own_dockerfile_and_configured_image() {
    let (_t, dir) = tagged_hello();
    fs_err::write(dir.join("Dockerfile"), "FROM scratch\n").unwrap();
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    fs_err::write(
        &manifest,
        format!("{text}\n[package.metadata.pyship.docker]\nimage = \"registry.example.org/team/hello-app\"\n"),
    )
    .unwrap();
    let out = print_commands(&dir, &["--version", "1.1.0"]);
    assert!(!out.contains("rendered from the template"), "{out}");
    assert!(out.contains("--file [project]/Dockerfile "), "{out}");
    assert!(
        out.contains("--tag registry.example.org/team/hello-app:latest"),
        "1.1.0 is the newest stable tag: {out}"
    );
}

#[test]
fn docker_without_image_or_repository_is_a_clear_error() {
    let (_t, dir) = copy_fixture("hello");
    let cache = tempfile::tempdir().unwrap();
    pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "docker", "--print-commands"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no Docker image is configured"))
        .stderr(predicate::str::contains("[package.metadata.pyship.docker]"));
}

fn load_plan(dir: &Path, version: &str) -> pyship_build::Plan {
    let project = pyship_build::project::load(Some(&dir.join("Cargo.toml")), None).unwrap();
    pyship_build::Plan::build(
        project,
        &pyship_build::env::Env::default(),
        &pyship_build::plan::Options {
            version: Some(version),
            ..Default::default()
        },
    )
    .unwrap()
}

#[test]
fn dockerfile_snapshots() {
    // hello: a port (EXPOSE + HEALTHCHECK), no prebuild: one stage.
    let (_t, dir) = copy_fixture("hello");
    let df = docker::render_dockerfile(&load_plan(&dir, "1.0.0")).unwrap();
    insta::assert_snapshot!("dockerfile_hello", df);
    assert_eq!(
        df.matches("\nFROM ").count() + usize::from(df.starts_with("FROM ")),
        1
    );

    // prebuild and include, no port: two stages, no HEALTHCHECK.
    let (_t2, dir2) = copy_fixture("hello");
    fs_err::create_dir_all(dir2.join("config")).unwrap();
    fs_err::write(dir2.join("config/app.toml"), "x = 1\n").unwrap();
    let manifest = dir2.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap().replace(
        "port = 8765\n",
        "prebuild = \"echo 'built' > python/src/hello_app/BUILT\"\ninclude = [\"config\"]\n",
    );
    fs_err::write(&manifest, text).unwrap();
    let df = docker::render_dockerfile(&load_plan(&dir2, "1.0.0")).unwrap();
    insta::assert_snapshot!("dockerfile_prebuild", df);
    assert!(df.contains("AS prebuild") && !df.contains("HEALTHCHECK") && !df.contains("EXPOSE"));
}

/// A directory holding only the tools the binary needs besides docker.
fn path_without_docker() -> tempfile::TempDir {
    let bin = tempfile::tempdir().unwrap();
    for exe in ["cargo", "git", "rustc"] {
        let p = require_tool(exe, "rustup / `apt-get install git`");
        std::os::unix::fs::symlink(&p, bin.path().join(exe)).unwrap();
    }
    bin
}

#[test]
fn docker_missing_is_an_error_naming_the_package() {
    let (_t, dir) = tagged_hello();
    let bin = path_without_docker();
    let cache = tempfile::tempdir().unwrap();
    pyship(cache.path())
        .current_dir(&dir)
        .env("PATH", bin.path())
        .env("GITHUB_SERVER_URL", SERVER)
        .env("GITHUB_REPOSITORY", "owner/hello")
        .args(["pyship", "docker", "--version", "1.0.0"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("`docker` was not found on PATH"))
        .stderr(predicate::str::contains("docker.io"));
}

#[test]
fn docker_without_engine_is_an_error_naming_the_engine() {
    require_tool("docker", "`apt-get install docker.io`");
    let (_t, dir) = tagged_hello();
    let cache = tempfile::tempdir().unwrap();
    pyship(cache.path())
        .current_dir(&dir)
        // An engine that cannot exist, whatever this machine runs.
        .env("DOCKER_HOST", "unix:///nonexistent/pyship-test-docker.sock")
        .env("GITHUB_SERVER_URL", SERVER)
        .env("GITHUB_REPOSITORY", "owner/hello")
        .args(["pyship", "docker", "--version", "1.0.0"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no Docker engine is reachable"))
        .stderr(predicate::str::contains("hint: start the Docker engine"));
}

/// A `docker` that records its argv and stdin, answers `info`, and fails
/// `login` unless `login_ok`
/// (shell builtins only: its PATH has no coreutils).
/// It stands in for the engine this machine lacks, to check what the stage
/// does around a failed login; the real engine is covered by the build test.
fn recording_docker(dir: &Path, login_ok: bool) -> (tempfile::TempDir, PathBuf) {
    let bin = path_without_docker();
    let log = dir.join("docker.log");
    let script = format!(
        "#!/bin/sh\necho \"argv: $*\" >> '{log}'\ncase \"$1\" in\n  info) echo 27.0.0; exit 0;;\n  login) read -r tok; echo \"stdin: $tok\" >> '{log}'; [ {ok} = 1 ] && exit 0; echo 'unauthorized: bad token' >&2; exit 1;;\n  *) exit 0;;\nesac\n",
        log = log.display(),
        ok = u8::from(login_ok),
    );
    let p = bin.path().join("docker");
    fs_err::write(&p, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    (bin, log)
}

#[test]
fn docker_failed_login_warns_and_skips_the_image() {
    let (_t, dir) = tagged_hello();
    let (bin, log) = recording_docker(&dir, false);
    let cache = tempfile::tempdir().unwrap();
    pyship(cache.path())
        .current_dir(&dir)
        .env("PATH", bin.path())
        .env("GITHUB_SERVER_URL", SERVER)
        .env("GITHUB_REPOSITORY", "owner/hello")
        .env("DEPLOY_TOKEN", "s3cr3t-token")
        .args(["pyship", "docker", "--version", "1.0.0", "--push"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "warning: docker login failed, the image step is skipped",
        ))
        .stderr(predicate::str::contains("s3cr3t-token").not());
    let log = fs_err::read_to_string(&log).unwrap();
    assert!(log.contains("argv: info"), "{log}");
    assert!(
        log.contains("argv: login git.example.com --username owner --password-stdin"),
        "{log}"
    );
    assert!(
        log.contains("stdin: s3cr3t-token"),
        "token goes through stdin: {log}"
    );
    assert!(
        !log.contains("argv: build") && !log.contains("argv: push"),
        "{log}"
    );
    assert_eq!(
        log.matches("s3cr3t-token").count(),
        1,
        "token only on stdin: {log}"
    );
}

#[test]
fn docker_image_gets_the_updater_which_says_docker() {
    let (_t, dir) = tagged_hello();
    let (bin, log) = recording_docker(&dir, true);
    let cache = tempfile::tempdir().unwrap();
    pyship(cache.path())
        .current_dir(&dir)
        .env("PATH", bin.path())
        .env("GITHUB_SERVER_URL", SERVER)
        .env("GITHUB_REPOSITORY", "owner/hello")
        .args(["pyship", "docker", "--version", "1.0.0"])
        .assert()
        .success();
    let log = fs_err::read_to_string(&log).unwrap();
    let update = dir.join("dist/.pyship/docker/update");
    assert!(
        log.contains(&format!(
            "--build-context pyship-update={}",
            update.display()
        )),
        "{log}"
    );
    let dockerfile = fs_err::read_to_string(dir.join("dist/.pyship/docker/Dockerfile")).unwrap();
    assert!(
        dockerfile.contains(
            "COPY --from=pyship-update [\"/\", \"/usr/local/lib/python3.11/site-packages/\"]"
        ),
        "{dockerfile}"
    );
    // The context is what site-packages gets: the package and its config.
    let config: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(update.join("pyship_update.json")).unwrap())
            .unwrap();
    assert_eq!(config["platform"], "linux", "{config}");
    assert_eq!(config["version"], "1.0.0", "{config}");
    assert_eq!(config["repo"], "owner/hello", "{config}");
    // Imported from there as the image imports it, with /.dockerenv present,
    // it reports `docker` (no bundle layout around it) and apply refuses.
    let fake_root = tempfile::tempdir().unwrap();
    let dockerenv = fake_root.path().join(".dockerenv");
    fs_err::write(&dockerenv, "").unwrap();
    let script = format!(
        "import sys; sys.path.insert(0, {sp:?}); import pyship_update as u; \
         u._default().container_files = ({de:?},); print(u.install_type())",
        sp = update.display().to_string(),
        de = dockerenv.display().to_string(),
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "docker");
}

/// An HTTP responder on 127.0.0.1 that answers every request with `status`
/// and `body` and records the request line and the Authorization header: for
/// the exact request, and for servers the Gitea test server does not play
/// (one without the link API, Gitea < 1.24).
struct Responder {
    url: String,
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

fn responder(status: u16, body: &'static str) -> Responder {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut auth = String::new();
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap() == 0 || h.trim().is_empty() {
                    break;
                }
                let lower = h.to_ascii_lowercase();
                if lower.starts_with("authorization:") {
                    auth = h["authorization:".len()..].trim().to_owned();
                }
                if let Some(v) = lower.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body_in = vec![0; len];
            reader.read_exact(&mut body_in).unwrap();
            s.lock().unwrap().push((line.trim().to_owned(), auth));
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Responder { url, seen }
}

/// The link call's result, the reporter's lines and the requests the server saw.
type LinkRun = (
    Result<LinkOutcome, docker::Error>,
    Vec<String>,
    Vec<(String, String)>,
);

fn link_with(status: u16, body: &'static str) -> LinkRun {
    let r = responder(status, body);
    let rep = pyship_build::report::RecordingReporter::default();
    let env = pyship_build::env::Env::default();
    let ctx = pyship_build::Context::new(&rep, &env);
    let link = LinkPlan {
        url: r.url.clone(),
        owner: "owner".into(),
        package: "hello".into(),
        repo: "hello".into(),
    };
    let out = docker::link_package(&ctx, &link, &pyship_build::publish::Token::new("tok-123"));
    let seen = r.seen.lock().unwrap().clone();
    (out, rep.lines(), seen)
}

#[test]
fn link_package_posts_to_the_link_api_with_the_token() {
    let (out, _, seen) = link_with(201, "");
    assert_eq!(out.unwrap(), LinkOutcome::Linked);
    assert_eq!(
        seen,
        [(
            "POST /api/v1/packages/owner/container/hello/-/link/hello HTTP/1.1".to_owned(),
            "token tok-123".to_owned()
        )]
    );
}

#[test]
fn link_package_on_an_older_server_warns_with_manual_steps() {
    let (out, lines, _) = link_with(404, r#"{"message":"not found"}"#);
    assert_eq!(out.unwrap(), LinkOutcome::Unsupported);
    let warning = lines
        .iter()
        .find(|l| l.starts_with("warning:"))
        .expect("a warning");
    assert!(warning.contains("Gitea 1.24"), "{warning}");
    assert!(
        warning.contains("Settings → Link to repository"),
        "manual steps: {warning}"
    );
    assert!(!warning.contains("tok-123"), "{warning}");
}

/// Fails the test unless a Docker engine answers (`docker info`).
fn require_engine() {
    require_tool("docker", "Docker (https://docs.docker.com/engine/install/)");
    let out = std::process::Command::new("docker")
        .arg("info")
        .output()
        .expect("docker runs");
    assert!(
        out.status.success(),
        "this test needs a running Docker engine; `docker info` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Needs a running engine, which CI machines and this project's dev machines
/// lack: run it explicitly where one runs (`cargo test -p pyship-e2e --test
/// e2e -- --ignored docker_build_end_to_end`); it fails, never skips, without one.
#[test]
#[ignore = "needs a running Docker engine; run with `-- --ignored docker_build_end_to_end`"]
fn docker_build_end_to_end_with_an_engine() {
    require_engine();
    let (_t, dir) = tagged_hello();
    let cache = tempfile::tempdir().unwrap();
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    fs_err::write(
        &manifest,
        format!(
            "{text}\n[package.metadata.pyship.docker]\nimage = \"localhost/pyship-e2e/hello\"\n"
        ),
    )
    .unwrap();
    pyship(cache.path())
        .current_dir(&dir)
        .args(["pyship", "docker", "--version", "1.2.3"])
        .assert()
        .success();
    let out = std::process::Command::new("docker")
        .args([
            "image",
            "inspect",
            "--format",
            "{{index .Config.Labels \"org.opencontainers.image.version\"}} {{.Config.User}}",
            "localhost/pyship-e2e/hello:v1.2.3",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1.2.3 app");
    let ver = std::process::Command::new("docker")
        .args([
            "run",
            "--rm",
            "localhost/pyship-e2e/hello:1.2.3",
            "python",
            "-c",
            "import importlib.metadata as m; print(m.version('hello-app'))",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&ver.stdout).trim(), "1.2.3");
}

/// The JSON array of the first line of `dockerfile` starting with `prefix`.
fn json_line(dockerfile: &str, prefix: &str) -> Vec<String> {
    let line = dockerfile
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{dockerfile}"));
    let start = line.find('[').expect("exec form");
    serde_json::from_str(&line[start..]).expect("exec form is a JSON array")
}

#[test]
fn dockerfile_stamp_step_stamps_pyproject_and_keeps_its_comments() {
    // The RUN step that stamps APP_VERSION, run with the real python3 on the
    // fixture's pyproject (no engine needed to check what it does).
    let python = require_tool("python3", "`apt-get install python3`");
    let (_t, dir) = copy_fixture("hello");
    let df = docker::render_dockerfile(&load_plan(&dir, "1.2.3-rc.1")).unwrap();
    let run = json_line(&df, "RUN [\"python\", \"-c\", ");
    assert_eq!(run.len(), 3);
    let work = tempfile::tempdir().unwrap();
    let py = work.path().join("pyproject.toml");
    let before = fs_err::read_to_string(dir.join("python/pyproject.toml")).unwrap();
    fs_err::write(&py, &before).unwrap();
    let status = std::process::Command::new(&python)
        .args(["-c", &run[2]])
        .current_dir(work.path())
        .env("APP_VERSION", "1.2.3rc1")
        .status()
        .unwrap();
    assert!(status.success());
    let after = fs_err::read_to_string(&py).unwrap();
    assert_eq!(
        after,
        before.replace("version = \"0.1.0\"", "version = \"1.2.3rc1\""),
        "only [project].version changes; its comment stays"
    );
    // Without APP_VERSION (a plain `docker build`) the file is left alone.
    let status = std::process::Command::new(&python)
        .args(["-c", &run[2]])
        .current_dir(work.path())
        .env_remove("APP_VERSION")
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(fs_err::read_to_string(&py).unwrap(), after);
    // The image runs the configured module as a non-root user.
    assert_eq!(json_line(&df, "CMD "), ["python", "-m", "hello_app"]);
    assert!(df.contains("\nUSER app\n"), "{df}");
}

#[test]
fn docker_push_pushes_every_tag_then_links_the_package() {
    use pyship_e2e::gitea::{GiteaServer, WRITE_TOKEN};
    let srv = GiteaServer::start();
    // What the registry push creates on a real Gitea (the recording docker cannot).
    srv.add_package("alice", "container", "hello");
    let (_t, dir) = tagged_hello();
    let (bin, log) = recording_docker(&dir, true);
    let host = srv.url().trim_start_matches("http://").to_owned();
    let cache = tempfile::tempdir().unwrap();
    pyship(cache.path())
        .current_dir(&dir)
        .env("PATH", bin.path())
        .env("GITHUB_SERVER_URL", srv.url())
        .env("GITHUB_REPOSITORY", "alice/hello")
        .env("DEPLOY_TOKEN", WRITE_TOKEN)
        .args(["pyship", "docker", "--version", "1.2.0", "--push"])
        .assert()
        .success()
        .stderr(predicate::str::contains("Pushed"))
        .stderr(predicate::str::contains("warning").not())
        .stderr(predicate::str::contains(WRITE_TOKEN).not());
    let log = fs_err::read_to_string(&log).unwrap();
    let argv: Vec<&str> = log.lines().filter(|l| l.starts_with("argv: ")).collect();
    let image = format!("{host}/alice/hello");
    assert_eq!(argv[0], "argv: info --format {{.ServerVersion}}");
    assert_eq!(
        argv[1],
        format!("argv: login {host} --username alice --password-stdin")
    );
    assert!(argv[2].starts_with("argv: build --file "), "{log}");
    assert!(
        argv[2].contains(&format!("--tag {image}:latest")),
        "1.2.0 is newer than every tag: {log}"
    );
    assert_eq!(
        argv[3..],
        [
            format!("argv: push {image}:v1.2.0"),
            format!("argv: push {image}:1.2.0"),
            format!("argv: push {image}:latest"),
        ]
    );
    // The rendered Dockerfile is where the build was pointed, with a
    // .dockerignore beside it that keeps target/ and dist/ out of the context.
    assert!(dir.join("dist/.pyship/docker/Dockerfile").is_file());
    let ignore =
        fs_err::read_to_string(dir.join("dist/.pyship/docker/Dockerfile.dockerignore")).unwrap();
    let ignored: Vec<&str> = ignore.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        ignored,
        [
            ".git",
            "**/target",
            "**/__pycache__",
            "**/*.pyc",
            "**/.venv",
            "dist",
            "target"
        ]
    );
    // The package is linked to the repository on the Gitea test server.
    assert_eq!(
        srv.package_link("alice", "container", "hello").as_deref(),
        Some("alice/hello")
    );
}

#[test]
fn link_package_against_the_gitea_test_server() {
    use pyship_build::publish::Token;
    use pyship_e2e::gitea::{GiteaServer, READ_TOKEN, WRITE_TOKEN};
    let srv = GiteaServer::start();
    srv.add_package("alice", "container", "hello");
    let rep = pyship_build::report::RecordingReporter::default();
    let env = pyship_build::env::Env::default();
    let ctx = pyship_build::Context::new(&rep, &env);
    let link = LinkPlan {
        url: srv.url(),
        owner: "alice".into(),
        package: "hello".into(),
        repo: "hello".into(),
    };
    // A token without write:package: the server's 403 message, no link.
    let err = docker::link_package(&ctx, &link, &Token::new(READ_TOKEN)).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("403") && msg.contains("write:package"),
        "{msg}"
    );
    assert!(
        msg.contains("/api/v1/packages/alice/container/hello/-/link/hello"),
        "{msg}"
    );
    assert!(!msg.contains(READ_TOKEN));
    assert_eq!(srv.package_link("alice", "container", "hello"), None);

    assert_eq!(
        docker::link_package(&ctx, &link, &Token::new(WRITE_TOKEN)).unwrap(),
        LinkOutcome::Linked
    );
    assert_eq!(
        srv.package_link("alice", "container", "hello").as_deref(),
        Some("alice/hello")
    );
    // Linking again: Gitea answers 400 "invalid argument"; that is success.
    assert_eq!(
        docker::link_package(&ctx, &link, &Token::new(WRITE_TOKEN)).unwrap(),
        LinkOutcome::AlreadyLinked
    );
    // A package that was never pushed: Gitea's 404 with a reason is an error.
    let missing = LinkPlan {
        package: "nope".into(),
        ..link
    };
    let err = docker::link_package(&ctx, &missing, &Token::new(WRITE_TOKEN)).unwrap_err();
    assert!(err.to_string().contains("package does not exist"), "{err}");
    assert!(!rep.lines().iter().any(|l| l.starts_with("warning:")));
}
