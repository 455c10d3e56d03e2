//! Running Windows programs under wine for tests: a fresh `WINEPREFIX` per [`WinePrefix`],
//! `WINEDEBUG=-all`, stdin from `/dev/null` and output through pipes (wine
//! cannot set up std handles on regular files), and the test-only
//! `bcryptprimitives.dll` shim that Rust-built extension modules need on wine 8.
//! The shim comes from `../shared/wine/`, else it is compiled from the C source
//! kept in `pyship-build/src/wine/` (the library builds the same file for its import check) with `x86_64-w64-mingw32-gcc`. It is never shipped.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
        let out = p
            .command("wineboot")
            .arg("-i")
            .output()
            .expect("wineboot runs");
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

    /// Stop every process of this prefix.
    pub fn kill(&self) {
        let _ = Command::new("wineserver")
            .arg("-k")
            .env("WINEPREFIX", self.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Stop the prefix's processes and wait for the wineserver to exit.
    pub fn shutdown(&self) {
        self.kill();
        let _ = Command::new("wineserver")
            .arg("-w")
            .env("WINEPREFIX", self.path())
            .stdin(Stdio::null())
            .status();
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
    stdout: std::thread::JoinHandle<Vec<u8>>,
    stderr: std::thread::JoinHandle<Vec<u8>>,
}

impl Running {
    pub fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut so = child.stdout.take().expect("stdout piped");
        let mut se = child.stderr.take().expect("stderr piped");
        Self {
            child,
            stdout: std::thread::spawn(move || {
                let mut b = Vec::new();
                let _ = so.read_to_end(&mut b);
                b
            }),
            stderr: std::thread::spawn(move || {
                let mut b = Vec::new();
                let _ = se.read_to_end(&mut b);
                b
            }),
        }
    }

    /// Kill the process and return (stdout, stderr).
    pub fn stop(mut self) -> (String, String) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        (
            String::from_utf8_lossy(&self.stdout.join().unwrap_or_default()).into_owned(),
            String::from_utf8_lossy(&self.stderr.join().unwrap_or_default()).into_owned(),
        )
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
