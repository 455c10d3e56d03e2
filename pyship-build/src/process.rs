//! Running external programs: every child process of the tool starts here.
//!
//! Why one place: a program the build runs (uv, maturin, makensis, wine,
//! osslsigncode, gcc, strip, git, docker…) can hang, print without end, or
//! outlive the build. Each run here has a timeout; its output is read on
//! threads (a chatty program never blocks on a full pipe) into a bounded
//! buffer; and every error names the command line, with secrets replaced by
//! `***`, and the last lines of what the program printed.
//!
//! No child outlives the build:
//! - Unix: every child joins one process group per build process, led by a
//!   guardian (`sh`) that blocks reading a pipe only this process holds.
//!   When this process ends, however (an error, a signal, SIGKILL), the pipe
//!   closes and the guardian kills the whole group, itself included.
//!   [`interrupt`] (the binary's SIGINT/SIGTERM/SIGHUP handler) kills the
//!   group at once and runs the cleanups registered with [`on_interrupt`].
//!   A timed-out or dropped program is killed with its descendants.
//! - Windows: each child gets a job object that kills the child and its
//!   descendants when its last handle closes: when the [`Child`] is dropped,
//!   or when the build process ends, however it ends.
//!
//! A program that detaches on purpose (a new session: wine's services, a
//! daemonised `wineserver`) leaves the group, but not its environment: every
//! child gets [`BUILD_ID_VAR`] set to this build's id, and on Linux the
//! guardian and [`interrupt`] also kill every process whose environment
//! holds it. The module that starts such a program still stops it itself on
//! the normal path ([`crate::wine`] for its prefixes).

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

mod interrupt;
mod output;

#[cfg(target_os = "linux")]
pub use interrupt::descendants;
#[cfg(unix)]
use interrupt::guardian;
pub use interrupt::{interrupt, interrupted, on_interrupt, OnInterrupt};
use output::{quote, read_on_thread};
pub use output::{redact, tail};

use crate::error::escaped;

/// Set in every child's environment to this build's id (see the module doc).
pub const BUILD_ID_VAR: &str = "PYSHIP_BUILD_ID";

/// This build process's id: its pid and start time, unique on the machine.
fn build_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        format!("{}-{nanos}", std::process::id())
    })
}

/// Timeout of a quick query (`--version`, `git describe`, `rustc -V`).
pub const QUICK: Duration = Duration::from_secs(120);
/// Timeout of one step of a stage (uv installing, makensis, osslsigncode,
/// openssl, gcc, strip): long enough for a large app on a slow machine.
pub const STEP: Duration = Duration::from_secs(30 * 60);
/// Timeout of a build (maturin, a prebuild command, `docker build`).
pub const BUILD: Duration = Duration::from_secs(3 * 3600);
/// How long the output of a program that exited is still read: a
/// descendant that detached with the pipes open would hold them forever.
/// What the program wrote is read by then; only the end of file is missing.
const READ_GRACE: Duration = Duration::from_secs(10);
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("could not run `{}`", escaped(.command))]
    #[diagnostic(help("{}", spawn_hint(.source)))]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{}` did not finish within {secs} s and was stopped{}", escaped(.command), with_tail(.tail))]
    #[diagnostic(help(
        "run the command by hand to see where it stops (a prompt, a lock, a network wait)"
    ))]
    Timeout {
        command: String,
        secs: u64,
        tail: String,
    },
    #[error("`{}` was stopped because the build it was for ended", escaped(.command))]
    Cancelled { command: String },
    #[error("`{}` failed ({status}){}", escaped(.command), with_tail(.tail))]
    #[diagnostic(help("read the program's output above; the command runs the same by hand"))]
    Failed {
        command: String,
        status: String,
        tail: String,
    },
}

fn spawn_hint(source: &std::io::Error) -> &'static str {
    if source.kind() == std::io::ErrorKind::NotFound {
        "install the program, or put it on PATH"
    } else {
        "check that the program exists and is executable"
    }
}

fn with_tail(tail: &str) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!(":\n{tail}")
    }
}

impl Error {
    /// The command line the error is about (secrets redacted).
    pub fn command(&self) -> &str {
        match self {
            Error::Spawn { command, .. }
            | Error::Timeout { command, .. }
            | Error::Cancelled { command }
            | Error::Failed { command, .. } => command,
        }
    }
}

/// Stops the programs run with it: the running one is killed (its caller
/// gets [`Error::Cancelled`], also when it happened to exit meanwhile), and
/// later ones do not start.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether this, or the whole build ([`interrupt`]), was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst) || interrupted()
    }
}

/// What a program printed, and how it ended.
#[derive(Debug, Clone)]
pub struct Output {
    /// The command line (secrets redacted), for messages.
    pub command: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    secrets: Vec<String>,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The last lines of what the program printed (stderr, else stdout),
    /// bounded and with secrets redacted: what an error shows.
    pub fn tail(&self) -> String {
        let text = if self.stderr.trim().is_empty() {
            &self.stdout
        } else {
            &self.stderr
        };
        tail(&redact(text, &self.secrets))
    }

    /// Stdout then stderr, as one text.
    pub fn combined(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// `Ok(self)` when the program succeeded, else [`Error::Failed`].
    pub fn ok(self) -> Result<Self, Error> {
        if self.success() {
            Ok(self)
        } else {
            Err(Error::Failed {
                tail: self.tail(),
                status: self.status.to_string(),
                command: self.command,
            })
        }
    }
}

/// A program to run: `std::process::Command`'s builder, plus a timeout, a
/// [`Cancel`], the secrets to hide, and stdin as bytes. Stdin is empty
/// unless given; stdout and stderr are captured. Its `Debug` is the shown
/// command line (no secret, no environment).
pub struct Command {
    inner: std::process::Command,
    shown: Vec<OsString>,
    secrets: Vec<String>,
    timeout: Duration,
    cancel: Cancel,
    stdin: Option<Vec<u8>>,
    inherit_output: bool,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Command").field(&self.shown()).finish()
    }
}

impl Command {
    /// `program`, with the [`STEP`] timeout.
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Self {
            inner: std::process::Command::new(program.as_ref()),
            shown: vec![program.as_ref().to_owned()],
            secrets: Vec::new(),
            timeout: STEP,
            cancel: Cancel::default(),
            stdin: None,
            inherit_output: false,
        }
    }

    /// A command another crate built (`cargo_metadata`'s): shown with its
    /// program and arguments.
    pub fn from_std(inner: std::process::Command) -> Self {
        let shown = std::iter::once(inner.get_program().to_owned())
            .chain(inner.get_args().map(OsStr::to_owned))
            .collect();
        Self {
            inner,
            shown,
            secrets: Vec::new(),
            timeout: STEP,
            cancel: Cancel::default(),
            stdin: None,
            inherit_output: false,
        }
    }

    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.inner.arg(arg.as_ref());
        self.shown.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for a in args {
            self.arg(a);
        }
        self
    }

    /// An argument passed to the program unquoted (Windows: `cmd /C` parses
    /// its own command line).
    #[cfg(windows)]
    pub fn raw_arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        use std::os::windows::process::CommandExt;
        self.inner.raw_arg(arg.as_ref());
        self.shown.push(arg.as_ref().to_owned());
        self
    }

    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Self {
        self.inner.env(key, value);
        self
    }

    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.inner.envs(vars);
        self
    }

    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Self {
        self.inner.env_remove(key);
        self
    }

    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.inner.current_dir(dir);
        self
    }

    pub fn timeout(&mut self, timeout: Duration) -> &mut Self {
        self.timeout = timeout;
        self
    }

    pub fn cancel(&mut self, cancel: &Cancel) -> &mut Self {
        self.cancel = cancel.clone();
        self
    }

    /// A value never shown: replaced by `***` in the command line and in
    /// the output an error quotes.
    pub fn secret(&mut self, value: impl Into<String>) -> &mut Self {
        let v = value.into();
        if !v.is_empty() {
            self.secrets.push(v);
        }
        self
    }

    /// Bytes written to the program's stdin (then closed).
    pub fn stdin(&mut self, bytes: impl Into<Vec<u8>>) -> &mut Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// Let the program print to the build's own stdout and stderr (a long
    /// `docker build` shows its progress) instead of capturing them: the
    /// [`Output`] then holds no text.
    pub fn inherit_output(&mut self) -> &mut Self {
        self.inherit_output = true;
        self
    }

    /// The command line as errors show it: quoted like a shell would need,
    /// secrets and URL credentials redacted.
    pub fn shown(&self) -> String {
        let line = self
            .shown
            .iter()
            .map(|a| quote(&a.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(" ");
        redact(&line, &self.secrets)
    }

    /// Run to the end and capture the output; a program that ran and
    /// failed is an `Ok` whose status says so (see [`Output::ok`]).
    pub fn output(self) -> Result<Output, Error> {
        self.output_then(|| ())
    }

    /// Run, and fail with [`Error::Failed`] unless the program succeeded.
    pub fn run(self) -> Result<Output, Error> {
        self.output()?.ok()
    }

    /// [`Command::output`], calling `exited` once the program exited and
    /// before its output is read to the end (which waits for whatever
    /// inherited the pipes, within a grace period).
    pub fn output_then(mut self, exited: impl FnOnce()) -> Result<Output, Error> {
        let command = self.shown();
        let input = self.stdin.take();
        let (stdout, stderr) = (self.output_stdio(), self.output_stdio());
        self.inner
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(stdout)
            .stderr(stderr);
        let mut child = spawn(&mut self.inner, &command, &self.cancel)?;
        let out = child.inner.stdout.take().map(read_on_thread);
        let err = child.inner.stderr.take().map(read_on_thread);
        if let (Some(bytes), Some(mut pipe)) = (input, child.inner.stdin.take()) {
            // On a thread: a program may print before it reads all of stdin.
            std::thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            });
        }
        let status = child.wait_until(self.timeout, &self.cancel);
        let status = match status {
            Ok(s) => s,
            Err(e) => {
                let deadline = Instant::now() + Duration::from_millis(500);
                let text = err.map(|r| r.finish(deadline)).unwrap_or_default();
                return Err(match e {
                    Stop::Cancelled => Error::Cancelled { command },
                    Stop::Timeout => Error::Timeout {
                        command,
                        secs: self.timeout.as_secs(),
                        tail: tail(&redact(&text, &self.secrets)),
                    },
                });
            }
        };
        exited();
        let deadline = Instant::now() + READ_GRACE;
        let stdout = out.map(|r| r.finish(deadline)).unwrap_or_default();
        let stderr = err.map(|r| r.finish(deadline)).unwrap_or_default();
        Ok(Output {
            command,
            status,
            stdout,
            stderr,
            secrets: self.secrets,
        })
    }

    fn output_stdio(&self) -> Stdio {
        if self.inherit_output {
            Stdio::inherit()
        } else {
            Stdio::piped()
        }
    }

    /// Run a program a person uses while the build waits (`cargo pyship
    /// run`): no timeout, and the build's own stdin, stdout and stderr
    /// relayed through pipes on threads as the program reads and writes them.
    /// Like every program here it joins the build's process group, so it ends
    /// with the build (Ctrl-C stops both) and never reads a terminal itself;
    /// it sees pipes, not a terminal (wine needs that too: it cannot take a
    /// regular file as a std handle). Returns its exit status once it exited
    /// and its output was relayed (within a grace period: a descendant that
    /// detached with the pipes open does not hold the build).
    pub fn relayed(mut self) -> Result<ExitStatus, Error> {
        let command = self.shown();
        self.inner
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = spawn(&mut self.inner, &command, &self.cancel)?;
        if let Some(mut to_program) = child.inner.stdin.take() {
            // Not waited for: it may block on a terminal read after the
            // program is gone, and ends with the process.
            std::thread::spawn(move || {
                let mut from = std::io::stdin().lock();
                let mut buf = [0u8; 8192];
                while let Ok(n) = from.read(&mut buf) {
                    if n == 0 || to_program.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    let _ = to_program.flush();
                }
                // Dropping the pipe gives the program its end of input.
            });
        }
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let out = relay_in_thread(child.inner.stdout.take(), std::io::stdout, &done_tx);
        let err = relay_in_thread(child.inner.stderr.take(), std::io::stderr, &done_tx);
        let relays = usize::from(out) + usize::from(err);
        drop(done_tx);
        let status =
            child
                .wait_until(Duration::MAX, &self.cancel)
                .map_err(|_| Error::Cancelled {
                    command: command.clone(),
                })?;
        let deadline = Instant::now() + READ_GRACE;
        for _ in 0..relays {
            let left = deadline.saturating_duration_since(Instant::now());
            if done_rx.recv_timeout(left).is_err() {
                break;
            }
        }
        Ok(status)
    }

    /// Start a program that runs beside the build (a server, a session
    /// keeper): stdin null unless `piped_stdin`, output to
    /// nothing. It is killed when the [`Child`] is dropped.
    pub fn spawn(mut self, piped_stdin: bool) -> Result<Child, Error> {
        let command = self.shown();
        self.inner
            .stdin(if piped_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        spawn(&mut self.inner, &command, &self.cancel)
    }
}

/// Copy `from` to `to` as it comes (each read flushed: what a program a
/// person uses prints shows at once).
/// [`relay`] `from` (when there is one) to `to()` on a thread of its own,
/// which says on `done` when it ends. Returns whether a thread was started.
fn relay_in_thread<R: Read + Send + 'static, W: Write + 'static>(
    from: Option<R>,
    to: fn() -> W,
    done: &mpsc::Sender<()>,
) -> bool {
    let Some(from) = from else {
        return false;
    };
    let done = done.clone();
    std::thread::spawn(move || {
        relay(from, to());
        let _ = done.send(());
    });
    true
}

fn relay(mut from: impl Read, mut to: impl Write) {
    let mut buf = [0u8; 8192];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            return;
        }
        let _ = to.flush();
    }
}

/// A running program started here: killed (with its descendants) when
/// dropped, unless it was waited for.
#[derive(Debug)]
pub struct Child {
    inner: std::process::Child,
    command: String,
    done: bool,
    #[cfg(windows)]
    _job: Option<win32job::Job>,
}

/// Why a wait ended without the program's exit.
enum Stop {
    Timeout,
    Cancelled,
}

impl Child {
    pub fn id(&self) -> u32 {
        self.inner.id()
    }

    /// The command line (secrets redacted).
    pub fn command(&self) -> &str {
        &self.command
    }

    /// The program's stdin, when it was spawned with a pipe there.
    pub fn stdin(&mut self) -> Option<&mut std::process::ChildStdin> {
        self.inner.stdin.as_mut()
    }

    /// Close the program's stdin (it reads the end of file).
    pub fn close_stdin(&mut self) {
        self.inner.stdin = None;
    }

    /// Whether it has exited (it is then reaped).
    pub fn has_exited(&mut self) -> bool {
        let exited = !matches!(self.inner.try_wait(), Ok(None));
        self.done |= exited;
        exited
    }

    /// Wait for the program's exit; kill it (and its descendants) after
    /// `timeout` or when `cancel` is set.
    pub fn wait(&mut self, timeout: Duration, cancel: &Cancel) -> Result<ExitStatus, Error> {
        self.wait_until(timeout, cancel).map_err(|stop| match stop {
            Stop::Cancelled => Error::Cancelled {
                command: self.command.clone(),
            },
            Stop::Timeout => Error::Timeout {
                command: self.command.clone(),
                secs: timeout.as_secs(),
                tail: String::new(),
            },
        })
    }

    fn wait_until(&mut self, timeout: Duration, cancel: &Cancel) -> Result<ExitStatus, Stop> {
        let start = Instant::now();
        let mut nap = Duration::from_millis(1);
        loop {
            match self.inner.try_wait() {
                // A program that ended once the run was cancelled (the build
                // interrupted: then it was most likely killed) did not finish
                // its work: its caller must not go on as if it had.
                Ok(Some(_)) if cancel.is_cancelled() => {
                    self.done = true;
                    return Err(Stop::Cancelled);
                }
                Ok(Some(st)) => {
                    self.done = true;
                    return Ok(st);
                }
                Ok(None) if cancel.is_cancelled() => break,
                Ok(None) if start.elapsed() < timeout => {
                    std::thread::sleep(nap);
                    nap = (nap * 2).min(Duration::from_millis(20));
                }
                _ => break,
            }
        }
        self.kill();
        Err(if cancel.is_cancelled() {
            Stop::Cancelled
        } else {
            Stop::Timeout
        })
    }

    /// Send `signal`-like stop: SIGINT on Unix (for programs that clean up
    /// on it), nothing elsewhere. Returns whether it was sent.
    pub fn interrupt(&self) -> bool {
        #[cfg(unix)]
        {
            use rustix::process::{kill_process, Pid, Signal};
            Pid::from_raw(self.inner.id() as i32)
                .is_some_and(|p| kill_process(p, Signal::INT).is_ok())
        }
        #[cfg(not(unix))]
        false
    }

    /// Kill the program and its descendants, and reap it.
    pub fn kill(&mut self) {
        #[cfg(target_os = "linux")]
        {
            // Descendants first, so none is reparented out of reach meanwhile;
            // twice, for those that forked during the first pass.
            for _ in 0..2 {
                for pid in descendants(self.inner.id()) {
                    if let Some(p) = rustix::process::Pid::from_raw(pid as i32) {
                        let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
                    }
                }
            }
        }
        let _ = self.inner.kill();
        let _ = self.inner.wait();
        self.done = true;
        #[cfg(windows)]
        drop(self._job.take());
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.done && matches!(self.inner.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}

/// Append `command` to the file `PYSHIP_PROCESS_LOG` names, when set (read
/// once per process). Best effort: the log never fails a build.
fn log_start(command: &str) {
    static LOG: OnceLock<Option<Mutex<fs_err::File>>> = OnceLock::new();
    let log = LOG.get_or_init(|| {
        let path = std::env::var_os(crate::env::PYSHIP_PROCESS_LOG).filter(|p| !p.is_empty())?;
        fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .ok()
            .map(Mutex::new)
    });
    if let Some(file) = log {
        let mut f = file.lock().unwrap_or_else(PoisonError::into_inner);
        let line = format!("{}\n", command.replace('\n', " "));
        let _ = f.write_all(line.as_bytes());
    }
}

/// Start `cmd` as a child of the build (see the module doc).
fn spawn(cmd: &mut std::process::Command, command: &str, cancel: &Cancel) -> Result<Child, Error> {
    if cancel.is_cancelled() {
        return Err(Error::Cancelled {
            command: command.to_owned(),
        });
    }
    let spawn_err = |source| Error::Spawn {
        command: command.to_owned(),
        source,
    };
    cmd.env(BUILD_ID_VAR, build_id());
    log_start(command);
    #[cfg(unix)]
    let inner = {
        use std::os::unix::process::CommandExt;
        let mut tries = 0;
        loop {
            tries += 1;
            if let Some(g) = guardian::group() {
                cmd.process_group(g);
            }
            match cmd.spawn() {
                Ok(c) => break c,
                // The group is gone (its guardian was killed): start another.
                Err(e) if e.raw_os_error() == Some(1) && tries < 3 => guardian::reset(),
                Err(e) => return Err(spawn_err(e)),
            }
        }
    };
    #[cfg(not(unix))]
    let inner = cmd.spawn().map_err(spawn_err)?;
    #[cfg(windows)]
    let job = {
        use std::os::windows::io::AsRawHandle;
        let mut info = win32job::ExtendedLimitInfo::new();
        info.limit_kill_on_job_close();
        win32job::Job::create_with_limit_info(&info)
            .ok()
            .filter(|job| job.assign_process(inner.as_raw_handle() as isize).is_ok())
    };
    let mut child = Child {
        inner,
        command: command.to_owned(),
        done: false,
        #[cfg(windows)]
        _job: job,
    };
    // Interrupted while it started: it joined the group after the kill.
    if interrupted() {
        child.kill();
        return Err(Error::Cancelled {
            command: command.to_owned(),
        });
    }
    Ok(child)
}

#[cfg(test)]
mod tests;
