//! A build ended by a signal (issue 24): SIGTERM or SIGKILL at several points
//! of a first run (wine's prefix being prepared, uv resolving, the import
//! check under wine) and of a signed installer run (makensis, osslsigncode).
//! Afterwards no program the build started is left running, no signing
//! secret is on disk once the next run started, and the next run succeeds
//! with the same bytes as a run that was never interrupted.
//!
//! Every process of a build is found by a variable the test puts in the
//! build's environment, which its programs (wine's services included) inherit.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::support::*;
use pyship_e2e::http::StaticServer;
use pyship_e2e::trust::make_cert;

const TAG: &str = "PYSHIP_TEST_INTERRUPT_TAG";
const EMBED: &str = "python-3.11.9-embed-amd64.zip";
const PASSWORD: &str = "Interrupt-Secret-9f3c1e";

/// The live processes whose environment holds `TAG=tag`.
fn tagged(tag: &str) -> Vec<(u32, String)> {
    let entry = format!("{TAG}={tag}");
    let me = std::process::id();
    let Ok(rd) = fs_err::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| *p != me)
        .filter(|p| {
            fs_err::read(format!("/proc/{p}/environ"))
                .unwrap_or_default()
                .split(|b| *b == 0)
                .any(|v| v == entry.as_bytes())
        })
        .map(|p| {
            let cmd = fs_err::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            (p, String::from_utf8_lossy(&cmd).replace('\0', " "))
        })
        .collect()
}

/// The project, its mirrors and the environment its runs share.
struct Setup {
    _tmp: tempfile::TempDir,
    project: PathBuf,
    tmpdir: PathBuf,
    env: Vec<(String, String)>,
    _servers: Vec<StaticServer>,
}

fn setup(signed: bool) -> Setup {
    let (tmp, project) = pyship_e2e::copy_fixture("hello");
    let mirror_root = tmp.path().join("mirror");
    fs_err::create_dir_all(mirror_root.join("3.11.9")).unwrap();
    fs_err::copy(
        pyship_e2e::testdata::embed_python_dir().join(EMBED),
        mirror_root.join("3.11.9").join(EMBED),
    )
    .unwrap();
    let mirror = StaticServer::start(&mirror_root);
    let wheels = StaticServer::start(pyship_e2e::testdata::wheelhouse());
    let manifest = project.join("Cargo.toml");
    let mut text = fs_err::read_to_string(&manifest).unwrap().replacen(
        "port = 8765\n",
        &format!(
            "port = 8765\nno-index = true\nfind-links = [\"{}/\"]\n",
            wheels.url()
        ),
        1,
    );
    let tmpdir = tmp.path().join("tmp");
    fs_err::create_dir_all(&tmpdir).unwrap();
    let mut env = vec![
        ("PYSHIP_PYTHON_MIRROR".to_owned(), mirror.url()),
        ("SOURCE_DATE_EPOCH".to_owned(), "1700000000".to_owned()),
        // The build's temp folder is this test's: what is left there is
        // what the build left.
        ("TMPDIR".to_owned(), tmpdir.display().to_string()),
    ];
    if signed {
        let cert = make_cert(&tmp.path().join("cert"), PASSWORD);
        text.push_str(
            "\n[package.metadata.pyship.windows.sign]\npkcs12-env = \"PYSHIP_TEST_P12\"\npassword-env = \"PYSHIP_TEST_PW\"\ntimestamp-url = \"\"\n",
        );
        env.push(("PYSHIP_TEST_P12".into(), cert.p12_base64()));
        env.push(("PYSHIP_TEST_PW".into(), PASSWORD.into()));
    }
    fs_err::write(&manifest, text).unwrap();
    Setup {
        _tmp: tmp,
        project,
        tmpdir,
        env,
        _servers: vec![mirror, wheels],
    }
}

impl Setup {
    fn command(&self, cache: &Path, tag: &str, args: &[&str]) -> Command {
        let mut c = pyship_command(cache);
        c.env(TAG, tag)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(args)
            .arg("--manifest-path")
            .arg(self.project.join("Cargo.toml"));
        c
    }

    /// Run to the end; the run's combined output.
    fn run(&self, cache: &Path, args: &[&str]) -> String {
        let out = self
            .command(cache, "complete", args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{args:?} failed:\n{text}");
        text
    }

    /// Start a run, send `signal` once its output has a line containing
    /// `when`, and check that every process it started is gone soon after.
    /// Returns whether the signal was sent before the run ended by itself.
    fn interrupt(&self, cache: &Path, args: &[&str], when: &str, signal: &str) -> bool {
        let tag = format!("{when}-{signal}-{}", std::process::id());
        let mut child = self
            .command(cache, &tag, args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut seen = String::new();
        let mut sent = false;
        for line in lines.by_ref() {
            let line = line.unwrap_or_default();
            seen.push_str(&line);
            seen.push('\n');
            if line.contains(when) {
                let st = Command::new("kill")
                    .args([&format!("-{signal}"), &child.id().to_string()])
                    .status()
                    .unwrap();
                assert!(st.success());
                sent = true;
                break;
            }
        }
        // The rest is read on a thread: the pipe stays open (the build writes
        // to it while it stops), and a leftover holding it cannot block here.
        std::thread::spawn(move || lines.for_each(drop));
        let status = child.wait().unwrap();
        if sent {
            let code = status.code();
            match signal {
                "TERM" => assert_eq!(code, Some(143), "{status}\n{seen}"),
                _ => assert_eq!(code, None, "{status}\n{seen}"),
            }
        }
        let t = Instant::now();
        while !tagged(&tag).is_empty() && t.elapsed() < Duration::from_secs(15) {
            std::thread::sleep(Duration::from_millis(100));
        }
        let left = tagged(&tag);
        for (p, _) in &left {
            let _ = Command::new("kill")
                .args(["-KILL", &p.to_string()])
                .status();
        }
        assert!(
            left.is_empty(),
            "SIGTERM/KILL at `{when}` ({signal}) left {left:#?}\nits output:\n{seen}"
        );
        eprintln!(
            "{signal} at `{when}`: {} in {:?}",
            if sent { "sent" } else { "the run ended first" },
            t.elapsed()
        );
        sent
    }

    /// Signing folders in the build's temp folder.
    fn sign_dirs(&self) -> Vec<PathBuf> {
        fs_err::read_dir(&self.tmpdir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().contains("pyship-sign-"))
            .collect()
    }

    /// Files under `root` that hold the signing password.
    fn holding_password(root: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut dirs = vec![root.to_owned()];
        while let Some(d) = dirs.pop() {
            for e in fs_err::read_dir(&d).into_iter().flatten().flatten() {
                let Ok(t) = e.file_type() else { continue };
                if t.is_dir() {
                    dirs.push(e.path());
                } else if t.is_file()
                    && e.metadata().is_ok_and(|m| m.len() < 1 << 24)
                    && fs_err::read(e.path())
                        .is_ok_and(|b| b.windows(PASSWORD.len()).any(|w| w == PASSWORD.as_bytes()))
                {
                    found.push(e.path());
                }
            }
        }
        found
    }
}

/// A first run (no prepared wine prefix, nothing cached) stopped by SIGTERM
/// while uv resolves and by SIGKILL during the import check under wine: no
/// program is left, and the next run's zip is the one an uninterrupted first
/// run makes.
#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: first-run bundles under wine, killed at several points"
)]
fn a_first_run_killed_leaves_nothing_running_and_the_next_run_matches() {
    require_tool("uv", "`pip install uv` (PyPI package `uv`)");
    require_tool("wine", "`apt-get install wine wine64`");
    let s = setup(false);
    let args = ["bundle", "--target", "windows", "--version", "v1.0.0"];
    let zip = s.project.join("dist/Hello-App-v1.0.0-win-x64.zip");
    let reference_cache = s.tmpdir.parent().unwrap().join("cache-reference");
    s.run(&reference_cache, &args);
    let reference = pyship_e2e::sha256_file(&zip);
    fs_err::remove_dir_all(s.project.join("dist")).unwrap();

    let cache = s.tmpdir.parent().unwrap().join("cache");
    s.interrupt(&cache, &args, "Fetching", "TERM");
    s.interrupt(&cache, &args, "Resolving", "TERM");
    s.interrupt(&cache, &args, "Checking", "KILL");
    s.interrupt(&cache, &args, "Resolving", "KILL");
    s.run(&cache, &args);
    assert_eq!(
        pyship_e2e::sha256_file(&zip),
        reference,
        "the next run differs"
    );
    // What the killed runs left in the temp folder is gone.
    let left: Vec<PathBuf> = fs_err::read_dir(&s.tmpdir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains("pyship-wine-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A signed installer run stopped by SIGTERM while osslsigncode signs and
/// by SIGKILL while makensis runs: nothing is left running, the SIGTERMed
/// run removed its secrets at once, the SIGKILLed run's are gone once the
/// next run started, and no file anywhere holds the password.
#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: bundles, signs and builds installers, killed at several points"
)]
fn a_signed_installer_run_killed_leaves_no_process_nor_secret() {
    require_tool("uv", "`pip install uv` (PyPI package `uv`)");
    require_tool("makensis", "`apt-get install nsis`");
    require_tool("osslsigncode", "`apt-get install osslsigncode`");
    let s = setup(true);
    let cache = s.tmpdir.parent().unwrap().join("cache");
    let args = ["installer", "--version", "v1.0.0"];
    if s.interrupt(&cache, &args, "Signing", "TERM") {
        assert!(s.sign_dirs().is_empty(), "{:?}", s.sign_dirs());
    }
    s.interrupt(&cache, &args, "makensis", "KILL");
    s.interrupt(&cache, &args, "Signing", "KILL");
    let out = s.run(&cache, &args);
    assert!(out.contains("Signing"), "{out}");
    assert!(s.sign_dirs().is_empty(), "{:?}", s.sign_dirs());
    for root in [&s.tmpdir, &cache, &s.project] {
        let found = Setup::holding_password(root);
        assert!(found.is_empty(), "the password is in {found:?}");
    }
    assert!(s.project.join("dist/Hello-App-v1.0.0-setup.exe").is_file());
}
