use super::output::{TAIL_BYTES, TAIL_LINES};
use super::*;
#[cfg(target_os = "linux")]
use crate::error::Hint;

/// A cancelled run stops its program at once, and a run after the cancel
/// does not start one.
#[cfg(unix)]
/// A relayed program's stdout and stderr both reach the build's, and its
/// status comes back once they did.
#[cfg(unix)]
#[test]
fn relayed_returns_the_status_after_both_streams_ended() {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "echo relayed-out; echo relayed-err >&2; exit 3"]);
    let status = cmd.relayed().unwrap();
    assert_eq!(status.code(), Some(3));
}

#[test]
fn cancel_stops_the_running_program() {
    let cancel = Cancel::default();
    let stop = cancel.clone();
    let t = Instant::now();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        stop.cancel();
    });
    let mut cmd = Command::new("sleep");
    cmd.arg("30").cancel(&cancel);
    let r = cmd.output();
    killer.join().unwrap();
    assert!(matches!(r, Err(Error::Cancelled { .. })), "{r:?}");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    let mut again = Command::new("true");
    again.cancel(&cancel);
    let r = again.output();
    assert!(matches!(r, Err(Error::Cancelled { .. })), "{r:?}");
}

/// A program found ended once its run was cancelled is reported
/// cancelled, not with its exit status: an interrupted build kills its
/// programs, and a thread waiting for one must not take the end for the
/// program's result (a half-made wine prefix kept as a prepared one).
#[cfg(target_os = "linux")]
#[test]
fn a_program_that_ended_after_the_cancel_is_cancelled() {
    let cancel = Cancel::default();
    let mut child = Command::new("true").spawn(false).unwrap();
    let pid = child.id();
    assert!(
        eventually(Duration::from_secs(10), || !alive(pid)),
        "true ended"
    );
    cancel.cancel();
    let r = child.wait(Duration::from_secs(10), &cancel);
    assert!(matches!(r, Err(Error::Cancelled { .. })), "{r:?}");
}

/// Whether a process runs (a zombie does not count).
#[cfg(target_os = "linux")]
fn alive(pid: u32) -> bool {
    fs_err::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        let state = s[s.rfind(')').unwrap() + 1..].split_whitespace().next();
        state != Some("Z")
    })
}

/// Poll `cond` until it holds or `within` passed.
#[cfg(target_os = "linux")]
fn eventually(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < within {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// A program past its timeout is killed with the programs it started, and
/// the error names the command line and the end of its output.
#[cfg(target_os = "linux")]
#[test]
fn a_timeout_kills_the_program_and_its_descendants() {
    let d = tempfile::tempdir().unwrap();
    let pids = d.path().join("pids");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!(
            "sleep 300 & echo $! > {0}; sh -c 'sleep 301 & echo $! >> {0}; wait' & echo started >&2; wait",
            pids.display()
        ))
        .timeout(Duration::from_millis(1500));
    let t = Instant::now();
    let e = cmd.output().unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    let msg = e.to_string();
    assert!(matches!(e, Error::Timeout { .. }), "{msg}");
    assert!(
        msg.starts_with("`sh -c 'sleep 300 & echo $! > ") && msg.contains("within 1 s"),
        "{msg}"
    );
    assert!(msg.ends_with(":\nstarted"), "{msg}");
    assert!(e.hint().is_some());
    let text = fs_err::read_to_string(&pids).unwrap();
    let pids: Vec<u32> = text.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(pids.len(), 2, "{text}");
    for p in pids {
        assert!(eventually(Duration::from_secs(5), || !alive(p)), "{p} runs");
    }
}

/// A failure names the command line with its secrets and URL credentials
/// redacted, and quotes a bounded tail of the output, redacted too.
#[cfg(unix)]
#[test]
fn a_failure_shows_the_redacted_command_and_a_bounded_tail() {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("for i in $(seq 1 5000); do echo \"line $i hunter2\" >&2; done; exit 3")
        .arg("https://user:hunter2-token@example.invalid/simple")
        .secret("hunter2");
    let e = cmd.run().unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::Failed { .. }), "{msg}");
    assert!(!msg.contains("hunter2"), "{msg}");
    assert!(msg.contains("https://***@example.invalid/simple"), "{msg}");
    assert!(msg.contains("exit status: 3"), "{msg}");
    assert!(msg.ends_with("line 5000 ***"), "{msg}");
    assert!(msg.lines().count() <= TAIL_LINES + 1, "{msg}");
    assert!(msg.len() < TAIL_BYTES + 500, "{}", msg.len());
}

/// Stdin gets the given bytes; the output is read whole.
#[cfg(unix)]
#[test]
fn stdin_bytes_reach_the_program_and_output_is_whole() {
    let big: String = (0..20_000).map(|i| format!("{i}\n")).collect();
    let mut cmd = Command::new("cat");
    cmd.stdin(big.clone());
    let out = cmd.run().unwrap();
    assert_eq!(out.stdout, big);
    assert_eq!(out.command, "cat");
}

/// A program that exited while something it started holds its output open
/// is done after the grace period, with everything it printed.
#[cfg(unix)]
#[test]
fn a_detached_pipe_holder_does_not_keep_the_run_waiting() {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "echo printed; sleep 30 & exit 0"]);
    let t = Instant::now();
    let out = cmd.run().unwrap();
    assert_eq!(out.stdout.trim(), "printed");
    let waited = t.elapsed();
    assert!(
        waited >= READ_GRACE && waited < READ_GRACE + Duration::from_secs(10),
        "{waited:?}"
    );
}

#[test]
fn quoting_and_redaction() {
    assert_eq!(quote("plain-arg_1.txt"), "plain-arg_1.txt");
    assert_eq!(quote("two words"), "'two words'");
    assert_eq!(quote("it's"), r"'it'\''s'");
    assert_eq!(quote(""), "''");
    let secrets = vec!["s3cr3t".to_owned()];
    assert_eq!(
        redact("a s3cr3t b https://u:p@h/x git://h/y ssh://tok@h", &secrets),
        "a *** b https://***@h/x git://h/y ssh://***@h"
    );
    let long: String = (0..100).map(|i| format!("{i}\n\n")).collect();
    let t = tail(&long);
    assert_eq!(t.lines().count(), TAIL_LINES);
    assert!(t.ends_with("99"));
    let wide = "é".repeat(TAIL_BYTES);
    assert!(tail(&wide).len() <= TAIL_BYTES);
}

/// The helper the tests below run in a process of their own: it starts the
/// programs named by `PYSHIP_TEST_SPAWN` (shell commands, `;`-separated
/// lists are one each), prints their pids, then does what
/// `PYSHIP_TEST_THEN` says: `wait` (until killed) or `interrupt`.
#[cfg(target_os = "linux")]
#[test]
#[ignore = "run by the tests below in a process of their own"]
fn child_process_helper() {
    let Ok(spawn) = std::env::var("PYSHIP_TEST_SPAWN") else {
        return;
    };
    // In the folder of the test that runs this one: this process ends
    // killed or interrupted, so nothing it made itself would be removed.
    let d = std::path::PathBuf::from(std::env::var("PYSHIP_TEST_DIR").unwrap());
    let secret = d.join("secret");
    fs_err::write(&secret, "x").unwrap();
    let s = secret.clone();
    let _cleanup = on_interrupt(move || {
        let _ = fs_err::remove_file(&s);
    });
    let mut held = Vec::new();
    for script in spawn.split("||") {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        let child = c.spawn(false).unwrap();
        writeln!(std::io::stdout(), "\npid {}", child.id()).unwrap();
        held.push(child);
    }
    writeln!(std::io::stdout(), "\nsecret {}", secret.display()).unwrap();
    std::io::stdout().flush().unwrap();
    match std::env::var("PYSHIP_TEST_THEN").as_deref() {
        Ok("interrupt") => {
            std::thread::sleep(Duration::from_millis(200));
            interrupt();
            let r = Command::new("true").output();
            writeln!(
                std::io::stdout(),
                "\nafter {}",
                matches!(r, Err(Error::Cancelled { .. }))
            )
            .unwrap();
            std::io::stdout().flush().unwrap();
            std::process::exit(0);
        }
        _ => std::thread::sleep(Duration::from_secs(600)),
    }
}

/// Runs [`child_process_helper`] in a process of its own; returns it (the
/// caller waits for it), the pids it printed once it printed them all, its
/// secret file, its later lines, and the folder of the secret file.
#[cfg(target_os = "linux")]
#[allow(clippy::zombie_processes)]
fn helper(
    spawn: &str,
    then: &str,
) -> (
    std::process::Child,
    Vec<u32>,
    std::path::PathBuf,
    mpsc::Receiver<String>,
    tempfile::TempDir,
) {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "process::tests::child_process_helper",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PYSHIP_TEST_SPAWN", spawn)
        .env("PYSHIP_TEST_THEN", then)
        .env("PYSHIP_TEST_DIR", dir.path())
        .env("PYSHIP_TEST_MARK", mark_of(spawn, then))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut pids = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(p) = line.strip_prefix("pid ") {
            pids.push(p.parse().unwrap());
        }
        if let Some(s) = line.strip_prefix("secret ") {
            let secret = std::path::PathBuf::from(s);
            // Keep reading on a thread: the helper's later lines.
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                for l in lines.map_while(Result::ok) {
                    let _ = tx.send(l);
                }
            });
            return (child, pids, secret, rx, dir);
        }
    }
    panic!("the helper printed no secret line");
}

/// The mark a helper's processes carry: unique to this test run.
#[cfg(target_os = "linux")]
fn mark_of(spawn: &str, then: &str) -> String {
    format!("{}:{spawn}{then}", std::process::id())
}

/// The processes whose environment has `PYSHIP_TEST_MARK=mark`.
#[cfg(target_os = "linux")]
fn marked(mark: &str) -> Vec<u32> {
    let mut found = super::interrupt::with_environ_entry(&format!("PYSHIP_TEST_MARK={mark}"));
    found.retain(|p| alive(*p));
    found
}

/// A build killed with SIGKILL runs no handler at all: its children still
/// end, with what they started, because the guardian of their process
/// group sees the build's pipe close; one that left the group for a
/// session of its own (as wine's services do) ends too.
#[cfg(target_os = "linux")]
#[test]
fn children_end_when_the_build_is_killed() {
    let spawn = "sleep 300||sh -c 'sleep 302; :'||setsid -f sleep 303";
    let (mut h, pids, _, _, _dir) = helper(spawn, "wait");
    assert_eq!(pids.len(), 3);
    let mark = mark_of(spawn, "wait");
    assert!(
        eventually(Duration::from_secs(5), || marked(&mark).len() >= 4),
        "{:?}",
        marked(&mark)
    );
    let grandchildren: Vec<u32> = pids.iter().flat_map(|p| descendants(*p)).collect();
    assert!(!grandchildren.is_empty(), "the second child started sleep");
    assert!(pids[..2].iter().all(|p| alive(*p)));
    h.kill().unwrap();
    h.wait().unwrap();
    for p in pids.iter().chain(&grandchildren) {
        assert!(
            eventually(Duration::from_secs(5), || !alive(*p)),
            "{p} outlived the killed build"
        );
    }
    assert!(
        eventually(Duration::from_secs(10), || marked(&mark).is_empty()),
        "left: {:?}",
        marked(&mark)
    );
}

/// [`interrupt`] kills every running child and runs the registered
/// cleanups, and no program starts after it.
#[cfg(target_os = "linux")]
#[test]
fn interrupt_kills_children_and_runs_cleanups() {
    let spawn = "sleep 300||setsid -f sleep 301";
    let (mut h, pids, secret, rest, _dir) = helper(spawn, "interrupt");
    let status = h.wait().unwrap();
    assert!(status.success(), "{status}");
    let rest: Vec<String> = rest.iter().collect();
    assert!(rest.iter().any(|l| l == "after true"), "{rest:?}");
    for p in &pids {
        assert!(
            eventually(Duration::from_secs(5), || !alive(*p)),
            "{p} outlived the interrupt"
        );
    }
    let mark = mark_of(spawn, "interrupt");
    assert!(
        eventually(Duration::from_secs(5), || marked(&mark).is_empty()),
        "a detached one outlived the interrupt: {:?}",
        marked(&mark)
    );
    assert!(!secret.exists(), "the cleanup ran");
}

/// Every program the library starts goes through this module's runner
/// (bounded, killed with the build, its command line redacted in errors):
/// no source of the crate outside `process.rs` names std's `Command` or
/// lets `cargo_metadata` run cargo itself (`MetadataCommand::exec`), test
/// code excepted. (A dependency that starts a program itself is not seen
/// here: `python3-dll-a` runs `dlltool` with its own `Command`.)
#[test]
fn programs_start_only_through_the_runner() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    for e in walkdir::WalkDir::new(&src).sort_by_file_name() {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(&src).unwrap();
        let is_test_file = rel.file_name().is_some_and(|n| n == "tests.rs")
            || rel.components().any(|c| c.as_os_str() == "tests");
        if e.file_type().is_file()
            && rel.extension().is_some_and(|x| x == "rs")
            && !is_test_file
            && !rel.starts_with("process.rs")
            && !rel.starts_with("process")
        {
            let text = fs_err::read_to_string(e.path()).unwrap();
            for what in std_command_uses(&text) {
                found.push(format!("{}: {what}", rel.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "programs started outside process::Command (use it, or Command::from_std):\n{}",
        found.join("\n")
    );
}

/// The scanner above finds each way of naming std's `Command` outside test
/// modules and nothing inside them.
#[test]
fn the_runner_check_finds_std_commands_outside_tests() {
    let outside = [
        "fn f() { std::process::Command::new(\"x\"); }",
        "use std::process::Command;",
        "use ::std::process::{Stdio,\n    Command};",
        "use std::process::{self, Stdio};\nfn f() { process::Command::new(\"x\"); }",
        "fn f() { cargo_metadata::MetadataCommand::new().exec(); }",
    ];
    for text in outside {
        assert!(!std_command_uses(text).is_empty(), "missed in {text:?}");
    }
    let fine = [
        "use crate::process::Command;\nfn f() { Command::new(\"x\"); }",
        "use std::process::{ExitStatus, Stdio};\nuse std::os::unix::process::CommandExt;",
        "fn f() {}\n#[cfg(test)]\nmod tests {\n    use std::process::Command;\n    fn g() { let s = \"}\"; let c = '{'; Command::new(s); }\n}\n",
        "#[cfg(test)]\n#[allow(dead_code)]\nmod t;\nuse std::process::Stdio;",
    ];
    for text in fine {
        assert!(
            std_command_uses(text).is_empty(),
            "wrongly found in {text:?}"
        );
    }
    let after = "#[cfg(test)]\nmod tests {\n    fn g() {}\n}\nfn h() { std::process::Command::new(\"x\"); }";
    assert_eq!(std_command_uses(after).len(), 1, "code after a test module");
}

/// What in the Rust source `text`, test modules left out, starts a program
/// without the runner.
fn std_command_uses(text: &str) -> Vec<String> {
    let code = without_test_modules(text);
    let flat: String = code.split_whitespace().collect();
    let mut found = Vec::new();
    if flat.contains("std::process::Command") {
        found.push("std::process::Command".to_owned());
    }
    let mut rest = flat.as_str();
    while let Some(i) = rest.find("std::process::{") {
        rest = &rest[i + "std::process::{".len()..];
        let group = &rest[..rest.find('}').unwrap_or(rest.len())];
        for name in group.split(',') {
            if name == "Command" || name.starts_with("Commandas") {
                found.push(format!("std::process::{{{group}}}"));
            }
            if name == "self" && flat.contains("process::Command") {
                found.push("process::Command through `use std::process::{self}`".to_owned());
            }
        }
    }
    if (flat.contains("usestd::process;") || flat.contains("use::std::process;"))
        && flat.contains("process::Command")
    {
        found.push("process::Command through `use std::process`".to_owned());
    }
    if flat.contains("MetadataCommand") && flat.contains(".exec()") {
        found.push("cargo_metadata's MetadataCommand::exec".to_owned());
    }
    found
}

/// `text` with every `#[cfg(test)]` module (inline or a `mod x;` line) cut
/// out. Braces in strings, char literals and comments are skipped.
fn without_test_modules(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..i]);
        let mut after = rest[i + "#[cfg(test)]".len()..].trim_start();
        // Further attributes of the same item.
        while after.starts_with("#[") {
            after = after[after.find(']').map_or(after.len(), |j| j + 1)..].trim_start();
        }
        let item = after
            .strip_prefix("pub ")
            .or_else(|| after.strip_prefix("pub(crate) "))
            .unwrap_or(after);
        if !item.starts_with("mod ") {
            // A test-only item that is not a module: kept (scanned).
            out.push_str("#[cfg(test)]");
            rest = &rest[i + "#[cfg(test)]".len()..];
            continue;
        }
        let open = item.find(['{', ';']).unwrap_or(item.len());
        if item[open..].starts_with(';') {
            rest = &item[open + 1..];
            continue;
        }
        rest = match block_end(&item[open..]) {
            Some(end) => &item[open + end..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

/// The byte offset just past the block that `text` opens with `{`.
fn block_end(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    while i < b.len() {
        match b[i] {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                i += text[i..].find('\n').unwrap_or(text.len() - i);
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += text[i..].find("*/").map_or(text.len() - i, |j| j + 1);
            }
            b'r' if matches!(b.get(i + 1), Some(b'"' | b'#'))
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                let hashes = b[i + 1..].iter().take_while(|c| **c == b'#').count();
                if b.get(i + 1 + hashes) == Some(&b'"') {
                    let close = format!("\"{}", "#".repeat(hashes));
                    let body = i + 2 + hashes;
                    i = text[body..]
                        .find(&close)
                        .map_or(b.len(), |j| body + j + close.len() - 1);
                }
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            // A char literal ('{', '\''), not a lifetime ('a).
            b'\'' if b.get(i + 2) == Some(&b'\'') => i += 2,
            b'\'' if b.get(i + 1) == Some(&b'\\') => {
                i += text[i + 3..].find('\'').map_or(b.len(), |j| j + 3);
            }
            _ => {}
        }
        i += 1;
    }
    None
}
