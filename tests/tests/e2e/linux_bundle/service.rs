//! The rendered launcher, service scripts and systemd unit of the Linux
//! bundle: what they escape and refuse, `systemd-analyze verify`, and every
//! command the tarball's README and the book give, run as written.

use super::*;

/// The plan of a copy of the hello fixture, with `edit` applied to its
/// Cargo.toml.
fn hello_plan(edit: impl FnOnce(&str) -> String) -> (tempfile::TempDir, pyship_build::Plan) {
    let (tmp, dir) = copy_fixture("hello");
    let manifest = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&manifest).unwrap();
    fs_err::write(&manifest, edit(&text)).unwrap();
    let project = pyship_build::project::load(Some(&manifest), None).unwrap();
    let plan = pyship_build::Plan::build(
        project,
        &pyship_build::env::Env::default(),
        &pyship_build::plan::Options {
            version: Some("v1.2.3"),
            targets: vec![pyship_build::platform::Platform::Linux],
            ..Default::default()
        },
    )
    .unwrap();
    (tmp, plan)
}

fn tricky_plan(extra_linux: &str) -> (tempfile::TempDir, pyship_build::Plan) {
    let toml_name = TRICKY_NAME.replace('\\', "\\\\").replace('"', "\\\"");
    let extra = extra_linux.to_owned();
    hello_plan(move |t| {
        format!(
            "{}\n[package.metadata.pyship.linux]\n{extra}\n",
            t.replace(
                "name = \"Hello App\"",
                &format!("name = \"{toml_name}\"\nfile-name = \"hello-50-app\""),
            )
        )
    })
}

fn all_files(r: &pyship_build::render::linux::Generated) -> String {
    r.files
        .iter()
        .map(|f| format!("===== {} ({:o})\n{}", f.path, f.mode, f.contents))
        .collect()
}

#[test]
fn linux_files_escape_a_tricky_name() {
    let (_t, plan) = tricky_plan("user = \"svc-user\"");
    let templates = pyship_build::templates::Templates::new(None);
    let r = pyship_build::render::linux::files(&plan, &templates, None).unwrap();
    assert_eq!(r.service, "hello-50-app");
    insta::assert_snapshot!("linux_files_tricky_name", all_files(&r));
}

#[test]
fn linux_files_venv_readme_names_the_host_python() {
    let (_t, plan) = hello_plan(|t| {
        format!("{t}\n[package.metadata.pyship.linux]\nruntime = \"venv\"\nservice = false\n")
    });
    let templates = pyship_build::templates::Templates::new(None);
    let r =
        pyship_build::render::linux::files(&plan, &templates, Some("/usr/bin/python3.11")).unwrap();
    let names: Vec<&str> = r.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        names,
        ["run.sh", "README.txt"],
        "service = false still wrote the service scripts"
    );
    insta::assert_snapshot!("linux_readme_venv", &r.files[1].contents);
}

/// A folder whose path needs escaping for systemd (`%`), sed (`&`, `|`) and
/// the shell (space, `$`), and that systemd can still run a program from.
fn tricky_dir(parent: &Path) -> std::path::PathBuf {
    let d = parent.join("my app %i $HOME & pipe|x [1]");
    fs_err::create_dir_all(&d).unwrap();
    d
}

fn executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    fs_err::write(path, text).unwrap();
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn rendered_unit_passes_systemd_analyze_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tricky_dir(tmp.path());
    let run_sh = dir.join("run.sh");
    executable(&run_sh, "#!/bin/sh\n");
    let templates = pyship_build::templates::Templates::new(None);
    let unit = pyship_build::render::linux::unit(
        &templates,
        &pyship_build::render::linux::Unit {
            name: TRICKY_NAME,
            service: "Hello-App",
            exec_start: run_sh.to_str().unwrap(),
            working_directory: dir.to_str().unwrap(),
            user: Some("root"),
        },
    )
    .unwrap();
    let unit_file = tmp.path().join("Hello-App.service");
    fs_err::write(&unit_file, &unit).unwrap();
    systemd_verify(&unit_file);
    // The check can fail: a unit whose ExecStart misses run.sh is rejected.
    fs_err::remove_file(&run_sh).unwrap();
    let sa = require_tool("systemd-analyze", "`apt-get install systemd`");
    let st = Command::new(sa)
        .args(["verify", "--man=no"])
        .arg(&unit_file)
        .output()
        .unwrap();
    assert!(!st.status.success(), "verify accepted a missing ExecStart");
}

#[test]
fn install_service_print_unit_escapes_the_install_folder() {
    let (_t, plan) = tricky_plan("");
    let templates = pyship_build::templates::Templates::new(None);
    let r = pyship_build::render::linux::files(&plan, &templates, None).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tricky_dir(tmp.path());
    for f in &r.files {
        pyship_build::render::linux::write(&dir, f).unwrap();
    }
    let elsewhere = tempfile::tempdir().unwrap();
    let out = Command::new("sh")
        .arg(dir.join("install-service.sh"))
        .arg("--print-unit")
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let unit = String::from_utf8(out.stdout).unwrap();
    assert!(
        unit.contains("Type=simple")
            && unit.contains("Restart=on-failure")
            && unit.contains("RestartSec=5"),
        "{unit}"
    );
    let unit_file = tmp.path().join(format!("{}.service", r.service));
    fs_err::write(&unit_file, &unit).unwrap();
    systemd_verify(&unit_file);
}

/// Run `script` as an unprivileged user (setpriv when the tests run as root).
fn run_unprivileged(script: &Path) -> std::process::Output {
    let uid = String::from_utf8(Command::new("id").arg("-u").output().unwrap().stdout).unwrap();
    let mut cmd = if uid.trim() == "0" {
        let mut c = Command::new(require_tool("setpriv", "`apt-get install util-linux`"));
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "sh"]);
        c
    } else {
        Command::new("sh")
    };
    cmd.arg(script).current_dir("/").output().unwrap()
}

/// The hello fixture's rendered Linux files (launcher, service scripts,
/// unit) written into `dir`.
fn write_hello_files(dir: &Path) {
    let (_t, plan) = hello_plan(|t| t.to_owned());
    let templates = pyship_build::templates::Templates::new(None);
    let r = pyship_build::render::linux::files(&plan, &templates, None).unwrap();
    for f in &r.files {
        pyship_build::render::linux::write(dir, f).unwrap();
    }
}

/// A temporary folder named `prefix…` that another user may enter (0755):
/// the scripts run there as an unprivileged user.
fn enterable_tempdir(prefix: &str) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    fs_err::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[test]
fn service_scripts_refuse_to_run_without_root() {
    let tmp = enterable_tempdir("pyship-svc-");
    write_hello_files(tmp.path());
    for script in ["install-service.sh", "uninstall-service.sh"] {
        let out = run_unprivileged(&tmp.path().join(script));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{script}: {err}");
        assert!(
            err.contains(&format!("{script} must run as root (sudo ")),
            "{script}: {err}"
        );
    }
}

#[test]
fn run_sh_works_from_any_cwd_and_through_a_symlink() {
    let (_t, plan) = hello_plan(|t| t.to_owned());
    let templates = pyship_build::templates::Templates::new(None);
    let r = pyship_build::render::linux::files(&plan, &templates, None).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tricky_dir(tmp.path());
    pyship_build::render::linux::write(&bundle, &r.files[0]).unwrap();
    fs_err::create_dir_all(bundle.join("python/bin")).unwrap();
    // A fake interpreter that reports how it was started.
    executable(
        &bundle.join("python/bin/python3"),
        "#!/bin/sh\nprintf 'PYTHONPATH=%s\\n' \"$PYTHONPATH\"\nprintf 'SAFE=%s\\n' \"$PYTHONSAFEPATH\"\nprintf 'arg=%s\\n' \"$@\"\n",
    );
    let links = tmp.path().join("bin");
    fs_err::create_dir_all(&links).unwrap();
    std::os::unix::fs::symlink(bundle.join("run.sh"), links.join("hello")).unwrap();
    let cwd = tempfile::tempdir().unwrap();
    for launcher in [bundle.join("run.sh"), links.join("hello")] {
        let out = Command::new(&launcher)
            .args(["--port", "a b"])
            .current_dir(cwd.path())
            .env("PYTHONPATH", "/should/not/leak")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // app/src comes from site-packages' .pth (after site-packages, as on
        // Windows), never from PYTHONPATH, which would put it first.
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            "PYTHONPATH=\nSAFE=1\narg=-m\narg=hello_app\narg=--port\narg=a b\n",
            "launched as {}",
            launcher.display()
        );
    }
}

#[test]
fn install_service_refuses_a_folder_systemd_cannot_run_from() {
    let (_t, plan) = hello_plan(|t| t.to_owned());
    let templates = pyship_build::templates::Templates::new(None);
    let r = pyship_build::render::linux::files(&plan, &templates, None).unwrap();
    for bad in [r#"with "quote""#, "back\\slash", "it's"] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(bad);
        for f in &r.files {
            pyship_build::render::linux::write(&dir, f).unwrap();
        }
        let out = Command::new("sh")
            .arg(dir.join("install-service.sh"))
            .arg("--print-unit")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{bad}: {err}");
        assert!(
            err.contains("systemd cannot run a program from a folder"),
            "{bad}: {err}"
        );
    }
}

/// The commands README.txt shows: its indented command lines (comments
/// dropped) and the commands it quotes in backticks.
fn readme_commands(readme: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let looks_like_command =
        |s: &str| s.starts_with("./") || s.starts_with("sudo ") || s.starts_with("ln ");
    for line in readme.lines() {
        if let Some(indented) = line.strip_prefix("    ") {
            let cmd = indented.split(" #").next().unwrap().trim();
            if looks_like_command(cmd) {
                out.push(cmd.to_owned());
            }
        }
        for (i, span) in line.split('`').enumerate() {
            if i % 2 == 1 && looks_like_command(span) {
                out.push(span.to_owned());
            }
        }
    }
    out.dedup();
    out
}

/// Start `cmd` (the app's server) in a process group of its own, wait for
/// `/health`, stop the group (the server is a grandchild under `sh -c` or
/// `runuser`).
fn serves_health(mut cmd: Command, what: &str) {
    use std::os::unix::process::CommandExt;
    let port = free_port();
    cmd.env("HELLO_PORT", port.to_string()).process_group(0);
    let running = Running::spawn(cmd);
    let health = wait_http(port, "/health", Duration::from_secs(90));
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", running.child.id())])
        .status();
    let (stdout, stderr) = running.stop();
    let (status, body) =
        health.unwrap_or_else(|| panic!("{what}: no answer on /health\n{stdout}\n{stderr}"));
    assert_eq!(status, 200, "{what}: {body}");
}

/// The output of a shell script run as root in a private mount namespace
/// whose /etc/systemd/system is an empty tmpfs (the host's units are not
/// touched), with the real systemctl (which enables and disables units
/// without a running systemd).
fn in_private_systemd(script: &str, cwd: &Path) -> std::process::Output {
    let uid = String::from_utf8(Command::new("id").arg("-u").output().unwrap().stdout).unwrap();
    assert_eq!(
        uid.trim(),
        "0",
        "this test installs the service as root in a private mount namespace (unshare -m) and runs it as another user (runuser): run it as root"
    );
    require_tool("systemctl", "`apt-get install systemd`");
    Command::new(require_tool("unshare", "`apt-get install util-linux`"))
        .args(["-m", "sh", "-euc"])
        .arg(format!(
            "mount -t tmpfs pyship-test /etc/systemd/system\n{script}"
        ))
        .current_dir(cwd)
        .output()
        .unwrap()
}

/// Every command the tarball's README.txt shows, run on the unpacked
/// tarball as written (`sudo` dropped: the test runs as root; `NAME` is an
/// existing system user): `./run.sh`, the symlink it suggests, both forms of
/// `install-service.sh`, `--print-unit` and `uninstall-service.sh`. The
/// service scripts run with the real systemctl in a private mount namespace;
/// the installed unit is then started the way systemd starts it (its
/// ExecStart, from its WorkingDirectory, as its User) and must serve.
#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: builds a Linux bundle"
)]
fn every_command_of_the_tarball_readme_works() {
    let _ = pyship_e2e::pbs::runtime();
    let (_served, runtime_server) = pyship_e2e::pbs::serve(RUNTIME_FILE);
    let wheels = StaticServer::start(pyship_e2e::testdata::wheelhouse());
    let url = format!(
        "{}/cpython-{{version}}-test-x86_64-unknown-linux-gnu-install_only.tar.gz",
        runtime_server.url()
    );
    let (_tmp, dir) = hello_linux(&wheels.url(), &format!("runtime-url = \"{url}\""));
    let cache = tempfile::tempdir().unwrap();
    bundle_linux(&dir, cache.path());
    // Unpacked where another user can reach it, as in /opt.
    let base = tempfile::Builder::new()
        .prefix("pyship-opt-")
        .tempdir()
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(base.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    untar(&dir.join("dist").join(TARBALL), base.path());
    let root = base.path().join("Hello-App");
    let readme = fs_err::read_to_string(root.join("README.txt")).unwrap();
    let commands = readme_commands(&readme);
    assert_eq!(
        commands,
        [
            "./run.sh",
            "ln -s \"$PWD/run.sh\" ~/bin/Hello-App",
            "sudo ./install-service.sh",
            "sudo ./install-service.sh --user NAME",
            "sudo ./uninstall-service.sh",
            "./install-service.sh --print-unit",
        ],
        "README.txt's commands changed: run the new ones here\n{readme}"
    );
    const SERVICE_USER: &str = "daemon";
    let as_written = |cmd: &str| {
        cmd.strip_prefix("sudo ")
            .unwrap_or(cmd)
            .replace("NAME", SERVICE_USER)
    };
    let home = tempfile::tempdir().unwrap();
    fs_err::create_dir_all(home.path().join("bin")).unwrap();
    let mut ran = Vec::new();
    for cmd in &commands {
        match cmd.as_str() {
            "./run.sh" => {
                let mut c = Command::new("sh");
                c.args(["-c", cmd]).current_dir(&root);
                serves_health(c, cmd);
            }
            c if c.starts_with("ln -s ") => {
                let out = Command::new("sh")
                    .args(["-c", c])
                    .env("HOME", home.path())
                    .env("PWD", &root)
                    .current_dir(&root)
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{c}: {out:?}");
                // The link runs the app from anywhere.
                let mut run = Command::new(home.path().join("bin/Hello-App"));
                run.current_dir(home.path());
                serves_health(run, "~/bin/Hello-App");
            }
            "./install-service.sh --print-unit" => {
                let out = Command::new("sh")
                    .args(["-c", cmd])
                    .current_dir(&root)
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{cmd}: {out:?}");
                let unit_file = base.path().join("printed.service");
                fs_err::write(&unit_file, &out.stdout).unwrap();
                systemd_verify(&unit_file);
            }
            "sudo ./uninstall-service.sh" => {} // after each install below
            install => {
                let out_dir = tempfile::tempdir().unwrap();
                let out = in_private_systemd(
                    &format!(
                        "{install}\n\
                         cp /etc/systemd/system/Hello-App.service {o}/unit\n\
                         find /etc/systemd/system | sort > {o}/installed\n\
                         {uninstall}\n\
                         find /etc/systemd/system | sort > {o}/removed\n",
                        install = as_written(install),
                        uninstall = as_written("sudo ./uninstall-service.sh"),
                        o = out_dir.path().display(),
                    ),
                    &root,
                );
                let log = format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                assert!(out.status.success(), "{install}:\n{log}");
                assert!(log.contains("starts at the next boot"), "{log}");
                assert!(log.contains("Removed Hello-App.service"), "{log}");
                let listing = |f: &str| fs_err::read_to_string(out_dir.path().join(f)).unwrap();
                assert!(
                    listing("installed")
                        .contains("/etc/systemd/system/multi-user.target.wants/Hello-App.service"),
                    "not enabled: {}",
                    listing("installed")
                );
                assert!(
                    !listing("removed").contains("Hello-App"),
                    "{}",
                    listing("removed")
                );
                let unit = fs_err::read_to_string(out_dir.path().join("unit")).unwrap();
                let value = |key: &str| {
                    unit.lines()
                        .find_map(|l| l.strip_prefix(&format!("{key}=")))
                        .map(str::to_owned)
                };
                let unit_file = out_dir.path().join("Hello-App.service");
                fs_err::write(&unit_file, &unit).unwrap();
                systemd_verify(&unit_file);
                let user = value("User");
                if install.contains("--user") {
                    assert_eq!(user.as_deref(), Some(SERVICE_USER), "{unit}");
                    // What systemd starts: ExecStart from WorkingDirectory as User.
                    let exec = value("ExecStart").unwrap();
                    let exec = exec.trim_matches('"').replace("%%", "%");
                    let mut c =
                        Command::new(require_tool("runuser", "`apt-get install util-linux`"));
                    c.args(["-u", SERVICE_USER, "--", &exec])
                        .current_dir(value("WorkingDirectory").unwrap());
                    serves_health(c, "the service as its user");
                } else {
                    assert_eq!(user, None, "{unit}");
                }
            }
        }
        ran.push(cmd.clone());
    }
    assert_eq!(ran, commands);
}

/// `--user` is checked before anything is written: a name systemd would not
/// take, a user that does not exist, a user that cannot reach the folder.
#[test]
fn install_service_user_is_checked_before_anything_is_written() {
    let (_t, plan) = hello_plan(|t| t.to_owned());
    let templates = pyship_build::templates::Templates::new(None);
    let r = pyship_build::render::linux::files(&plan, &templates, None).unwrap();
    // A folder only root can enter.
    let private = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(private.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let root = private.path().join("Hello-App");
    for f in &r.files {
        pyship_build::render::linux::write(&root, f).unwrap();
    }
    fs_err::create_dir_all(root.join("python/bin")).unwrap();
    executable(&root.join("python/bin/python3"), "#!/bin/sh\n");
    for (args, code, says) in [
        ("--user 'a b'", 2, "not a user name systemd's User= accepts"),
        ("--user 'x\\'", 2, "not a user name"),
        ("--user", 2, "usage: "),
        ("--user=", 2, "--user needs a user name"),
        ("--bogus", 2, "usage: "),
        (
            "--user pyship-no-such-user",
            1,
            "there is no user pyship-no-such-user",
        ),
        ("--user daemon", 1, "the user daemon cannot run"),
    ] {
        let out = in_private_systemd(
            &format!(
                "st=0; ./install-service.sh {args} || st=$?\n\
                 ls /etc/systemd/system\n\
                 exit $st"
            ),
            &root,
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args}: {stderr}");
        assert!(stderr.contains(says), "{args}: {stderr}");
        assert!(
            out.stdout.is_empty(),
            "{args}: wrote {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
        if code == 1 {
            assert!(stderr.contains("hint: "), "{args}: {stderr}");
        }
    }
    // --print-unit shows the user without needing it to exist.
    let out = Command::new("sh")
        .arg(root.join("install-service.sh"))
        .args(["--print-unit", "--user", "svc-app"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let unit = String::from_utf8(out.stdout).unwrap();
    assert_eq!(unit.matches("\nUser=").count(), 1, "{unit}");
    assert!(unit.contains("[Service]\nUser=svc-app\n"), "{unit}");
}

/// Every command the book (and the README) shows for the tarball's service
/// scripts runs as written, on the scripts a bundle gets (`sudo` dropped: the
/// test runs as root; `NAME` is an existing system user): installs and
/// uninstalls in a private mount namespace, `--print-unit` directly. A
/// command the book adds to its pages is run here without a change to this
/// test, and one that fails (an option the script lacks) fails it.
#[test]
fn every_service_script_command_of_the_book_runs() {
    let commands =
        super::super::book::shown_commands(&["./install-service.sh", "./uninstall-service.sh"]);
    assert!(
        commands.len() >= 4,
        "the book shows fewer service commands than expected: {commands:?}"
    );
    let base = enterable_tempdir("pyship-book-");
    let root = base.path().join("Hello-App");
    write_hello_files(&root);
    fs_err::create_dir_all(root.join("python/bin")).unwrap();
    executable(&root.join("python/bin/python3"), "#!/bin/sh\n");
    const USER: &str = "daemon";
    for cmd in &commands {
        let as_written = cmd
            .strip_prefix("sudo ")
            .unwrap_or(cmd)
            .replace("NAME", USER);
        if as_written.contains("--print-unit") {
            let out = Command::new("sh")
                .args(["-c", &as_written])
                .current_dir(&root)
                .output()
                .unwrap();
            assert!(out.status.success(), "{cmd}: {out:?}");
            let unit = String::from_utf8(out.stdout).unwrap();
            assert!(unit.contains("[Service]"), "{cmd}: {unit}");
            assert_eq!(
                unit.contains(&format!("\nUser={USER}\n")),
                cmd.contains("--user"),
                "{cmd}: {unit}"
            );
            continue;
        }
        // An install is followed by the uninstall; an uninstall alone runs
        // after an install, so each leaves nothing behind.
        let script = if as_written.starts_with("./uninstall-service.sh") {
            format!("./install-service.sh\n{as_written}\nls /etc/systemd/system\n")
        } else {
            format!(
                "{as_written}\ncat /etc/systemd/system/Hello-App.service\n./uninstall-service.sh\nls /etc/systemd/system\n"
            )
        };
        let out = in_private_systemd(&script, &root);
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{cmd}:\n{log}");
        assert!(log.contains("Removed Hello-App.service"), "{cmd}:\n{log}");
        if cmd.contains("--user") {
            assert!(log.contains(&format!("User={USER}")), "{cmd}:\n{log}");
        }
    }
}

/// The README's contents list says what `app/src/` holds: the app's
/// sources, or only the launcher's start-up module when the app comes in a
/// wheel (a maturin project that packs its Python package).
#[test]
fn the_readme_says_what_app_src_holds() {
    let (_t, mut plan) = hello_plan(|t| t.to_owned());
    let templates = pyship_build::templates::Templates::new(None);
    let readme = |plan: &pyship_build::plan::Plan| {
        let r = pyship_build::render::linux::files(plan, &templates, None).unwrap();
        r.files
            .into_iter()
            .find(|f| f.path == "README.txt")
            .unwrap()
            .contents
    };
    let with_sources = readme(&plan);
    assert!(
        with_sources.contains("app/src/        the app's Python sources\n"),
        "{with_sources}"
    );
    plan.app.dir = None;
    let from_wheel = readme(&plan);
    assert!(
        from_wheel.contains(
            "app/src/        the launcher's start-up module (the app is installed in python/)\n"
        ),
        "{from_wheel}"
    );
}
