//! Running Windows programs under wine for tests: a fresh `WINEPREFIX` per [`WinePrefix`],
//! `WINEDEBUG=-all`, stdin from `/dev/null` and output through pipes (wine
//! cannot set up std handles on regular files), and the test-only
//! `bcryptprimitives.dll` shim that Rust-built extension modules need on wine 8.
//! The shim comes from `../shared/wine/`, else it is compiled from the C source
//! kept in `pyship-build/src/wine/` (the library builds the same file for its import check) with `x86_64-w64-mingw32-gcc`. It is never shipped.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The most a program a test waits for may take (a release build, a program
/// under wine) before it, its descendants and every process of its wine
/// prefix are killed and the test fails naming it: the slowest take a few
/// minutes on a busy machine. A program that hangs (under wine, one that was
/// starting as its server stopped waits forever) fails its test instead of
/// holding the whole run.
pub const RUN_LIMIT: Duration = Duration::from_secs(900);

/// How long the output of a program that ended is read for: what it left
/// running (wine's services inherit its pipes) may hold them open.
const READ_GRACE: Duration = Duration::from_secs(20);

/// A private wine prefix; its wineserver is stopped when dropped.
pub struct WinePrefix {
    dir: tempfile::TempDir,
}

impl WinePrefix {
    /// Create and initialise a fresh prefix with the test shim installed.
    pub fn new() -> Self {
        crate::require_tool(
            "wine",
            "`apt-get install wine wine64` (Debian packages `wine`, `wine64`)",
        );
        let dir = tempfile::Builder::new()
            .prefix("pyship-wine-")
            .tempdir()
            .expect("temp dir");
        let p = Self { dir };
        let out = p.command("wineboot").arg("-i").output_within(RUN_LIMIT);
        // wineboot returns while what it started still sets the prefix up
        // (a program started now can fail with `could not load
        // kernel32.dll`): wait for all of it to end.
        p.wineserver("-w", RUN_LIMIT);
        assert!(
            p.path().join("drive_c/windows/system32").is_dir(),
            "wineboot did not create the prefix: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        p.keep_out_of_home();
        let shim = shim_dll();
        fs_err::copy(
            &shim,
            p.path()
                .join("drive_c/windows/system32/bcryptprimitives.dll"),
        )
        .expect("install the bcryptprimitives shim");
        p
    }

    /// The prefix directory (`WINEPREFIX`).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `wine <program>` in this prefix, stdin from /dev/null, output piped.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("wine");
        c.arg(program)
            .env("WINEPREFIX", self.path())
            .env("WINEDEBUG", "-all")
            // No Mono/Gecko prompts; no menu entries or .desktop files on the host.
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=;winemenubuilder.exe=d")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // A Linux folder for uv's cache (`.ci/run` sets one): a Windows
            // uv.exe cannot rename its files into place on wine's `Z:` drive
            // ("Access denied"); under wine, uv keeps its cache in the prefix.
            .env_remove("UV_CACHE_DIR");
        c
    }

    /// The prefix user's profile folder (`drive_c/users/<user>`).
    pub fn user_dir(&self) -> PathBuf {
        let users = self.drive_c().join("users");
        fs_err::read_dir(&users)
            .expect("drive_c/users")
            .map(|e| e.expect("dir entry").path())
            .find(|p| p.file_name().is_some_and(|n| n != "Public") && p.is_dir())
            .expect("a wine user folder")
    }

    /// wineboot links Desktop, Documents, … of the prefix user to the real
    /// `$HOME`; replace the links with empty folders so shortcuts an installer
    /// makes stay inside the prefix.
    fn keep_out_of_home(&self) {
        let user = self.user_dir();
        for e in fs_err::read_dir(&user).expect("wine user folder") {
            let p = e.expect("dir entry").path();
            let is_link = fs_err::symlink_metadata(&p)
                .map(|m| m.file_type().is_symlink())
                .unwrap_or(false);
            if is_link {
                fs_err::remove_file(&p).expect("unlink");
                fs_err::create_dir(&p).expect("mkdir");
            }
        }
    }

    /// The Windows path of a Unix path (through wine's `Z:` drive).
    pub fn windows_path(path: &Path) -> String {
        format!("Z:{}", path.display()).replace('/', "\\")
    }

    /// `C:\…` inside the prefix as a Unix path.
    pub fn drive_c(&self) -> PathBuf {
        self.path().join("drive_c")
    }

    /// Stop every process of this prefix: `wineserver -k`, then whatever
    /// outlived its server (see [`pyship_build::wine::kill_leftovers`]).
    pub fn kill(&self) {
        self.wineserver("-k", Duration::from_secs(60));
        pyship_build::wine::kill_leftovers(self.path());
    }

    /// Stop the prefix's processes and wait for the wineserver to exit.
    pub fn shutdown(&self) {
        self.kill();
        self.wineserver("-w", Duration::from_secs(60));
        pyship_build::wine::kill_leftovers(self.path());
    }

    /// `wineserver ARG` for this prefix, within `limit`.
    fn wineserver(&self, arg: &str, limit: Duration) {
        let mut c = Command::new("wineserver");
        c.arg(arg)
            .env("WINEPREFIX", self.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Ok(child) = c.spawn() {
            let mut run = Running::from_child(child);
            if run.wait_within(limit).is_none() {
                run.stop();
            }
        }
    }
}

impl Default for WinePrefix {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for WinePrefix {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The test-only shim DLL: `../shared/wine/bcryptprimitives.dll`, else compiled.
pub fn shim_dll() -> PathBuf {
    let root = crate::workspace_root();
    let shared = root
        .parent()
        .map(|p| p.join("shared/wine/bcryptprimitives.dll"));
    if let Some(p) = shared.filter(|p| p.is_file()) {
        return p;
    }
    let src = root.join("pyship-build/src/wine/bcryptprimitives.c");
    let out_dir = std::env::temp_dir().join("pyship-wine-shim");
    fs_err::create_dir_all(&out_dir).expect("shim dir");
    let out = out_dir.join("bcryptprimitives.dll");
    if !out.is_file() {
        let gcc = crate::require_tool(
            "x86_64-w64-mingw32-gcc",
            "`apt-get install gcc-mingw-w64-x86-64` (Debian package `gcc-mingw-w64-x86-64`)",
        );
        let tmp = out_dir.join(format!("bcryptprimitives-{}.dll", std::process::id()));
        let st = Command::new(gcc)
            .args(["-shared", "-O2", "-o"])
            .arg(&tmp)
            .arg(&src)
            .status()
            .expect("mingw gcc runs");
        assert!(st.success(), "compiling the bcryptprimitives shim failed");
        fs_err::rename(&tmp, &out).expect("place shim");
    }
    out
}

/// A child process whose output is collected on background threads, so a
/// chatty server never blocks on a full pipe.
pub struct Running {
    pub child: Child,
    stdout: Buffer,
    stderr: Buffer,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Running {
    pub fn spawn(mut cmd: Command) -> Self {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        Self::from_child(child)
    }

    fn from_child(mut child: Child) -> Self {
        let (stdout, stderr) = (Buffer::default(), Buffer::default());
        let mut readers = Vec::new();
        if let Some(pipe) = child.stdout.take() {
            readers.push(read_into(pipe, &stdout));
        }
        if let Some(pipe) = child.stderr.take() {
            readers.push(read_into(pipe, &stderr));
        }
        Self {
            child,
            stdout,
            stderr,
            readers,
        }
    }

    /// Wait for the process to exit, at most `limit`: `None` if it did not.
    pub fn wait_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for a child") {
                return Some(status);
            }
            if start.elapsed() >= limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kill the process and return (stdout, stderr): what it printed and
    /// what anything it left running printed within a grace period.
    pub fn stop(mut self) -> (String, String) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (stdout, stderr) = self.collect();
        (
            String::from_utf8_lossy(&stdout).into_owned(),
            String::from_utf8_lossy(&stderr).into_owned(),
        )
    }

    /// The output read by the time the pipes closed, or [`READ_GRACE`] ended.
    fn collect(&mut self) -> (Vec<u8>, Vec<u8>) {
        let deadline = Instant::now() + READ_GRACE;
        while !self.readers.iter().all(|r| r.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let take = |b: &Buffer| std::mem::take(&mut *b.lock().unwrap());
        (take(&self.stdout), take(&self.stderr))
    }
}

/// What a pipe gave so far.
type Buffer = Arc<Mutex<Vec<u8>>>;

/// Read `pipe` to its end into `buf` on a thread.
fn read_into(mut pipe: impl Read + Send + 'static, buf: &Buffer) -> std::thread::JoinHandle<()> {
    let buf = Arc::clone(buf);
    std::thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        while let Ok(n @ 1..) = pipe.read(&mut chunk) {
            buf.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    })
}

/// [`Command::output`] with a limit, for programs run under wine and
/// other programs a test waits for.
pub trait OutputWithin {
    /// Run to the end, at most `limit`; then the program, its descendants
    /// and (when the command sets `WINEPREFIX`) every process of that prefix
    /// are killed and the test fails, naming the command, with what it
    /// printed. Output is read until the pipes close or a grace period ends.
    fn output_within(&mut self, limit: Duration) -> Output;

    /// Run to the end with the standard streams as set, at most `limit`
    /// (then killed as by [`OutputWithin::output_within`]).
    fn status_within(&mut self, limit: Duration) -> ExitStatus;
}

impl OutputWithin for Command {
    fn output_within(&mut self, limit: Duration) -> Output {
        let child = self
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {self:?}: {e}"));
        let mut run = Running::from_child(child);
        let ended = run.wait_within(limit);
        if ended.is_none() {
            kill_tree(self, run.child.id());
        }
        let _ = run.child.kill();
        let status = run.child.wait().expect("wait for a child");
        let (stdout, stderr) = run.collect();
        assert!(
            ended.is_some(),
            "{self:?} did not end within {limit:?}: it was killed\n--- its stdout\n{}\n--- its stderr\n{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        );
        Output {
            status,
            stdout,
            stderr,
        }
    }

    fn status_within(&mut self, limit: Duration) -> ExitStatus {
        let child = self
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {self:?}: {e}"));
        let mut run = Running::from_child(child);
        if let Some(status) = run.wait_within(limit) {
            return status;
        }
        kill_tree(self, run.child.id());
        let _ = run.child.kill();
        let _ = run.child.wait();
        panic!("{self:?} did not end within {limit:?}: it was killed");
    }
}

/// Kill the descendants of `pid`, started by `cmd`, and every process of
/// the wine prefix `cmd` sets, if any (they may not descend from it).
fn kill_tree(cmd: &Command, pid: u32) {
    #[cfg(target_os = "linux")]
    for pid in pyship_build::process::descendants(pid) {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    #[cfg(not(target_os = "linux"))]
    let _ = pid;
    let prefix = cmd.get_envs().find(|(k, _)| *k == "WINEPREFIX");
    if let Some((_, Some(prefix))) = prefix {
        pyship_build::wine::kill_leftovers(Path::new(prefix));
    }
}

/// GET `http://127.0.0.1:{port}{path}` until it answers or `timeout` passes.
/// Returns (status, body) of the first answer.
pub fn wait_http(port: u16, path: &str, timeout: Duration) -> Option<(u16, String)> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Some(r) = http_get(port, path) {
            return Some(r);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    None
}

/// One plain HTTP/1.0 GET on loopback; `None` when nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let status = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf
        .split_once("\r\n\r\n")
        .map(|x| x.1)
        .unwrap_or("")
        .to_owned();
    Some((status, body))
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_over_its_limit_is_killed_with_its_descendants_and_named() {
        let start = Instant::now();
        let got = std::panic::catch_unwind(|| {
            Command::new("sh")
                .args(["-c", "echo started; sleep 300 & sleep 300"])
                .output_within(Duration::from_secs(1))
        });
        let message = *got.unwrap_err().downcast::<String>().unwrap();
        assert!(
            message.contains("\"echo started; sleep 300 & sleep 300\" did not end within 1s"),
            "{message}"
        );
        assert!(message.contains("--- its stdout\nstarted\n"), "{message}");
        // The sleeper in the background held the pipes: it was killed too.
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn a_program_that_leaves_a_process_holding_its_pipes_is_not_waited_for() {
        let start = Instant::now();
        let out = Command::new("sh")
            .args(["-c", "echo hi; sleep 60 &"])
            .output_within(Duration::from_secs(60));
        assert!(out.status.success());
        assert_eq!(out.stdout, b"hi\n");
        let took = start.elapsed();
        assert!(
            took >= READ_GRACE && took < READ_GRACE + Duration::from_secs(10),
            "{took:?}"
        );
    }
}
