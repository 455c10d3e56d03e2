//! What the binary does when it is asked to stop (SIGINT, SIGTERM, SIGHUP;
//! Ctrl-C and Ctrl-Break on Windows): the library kills every program the
//! build runs and removes what must not outlive it
//! ([`pyship_build::process::interrupt`]), then the process exits with
//! 128 + the signal's number, as a shell reports a killed program.
//!
//! The handling runs on a thread of its own while the build's threads may
//! still run; a cleanup that hangs (or a second signal) cannot keep the
//! process alive: it exits after [`GRACE`] anyway.

use std::time::Duration;

/// The longest the cleanup may take before the process exits regardless.
const GRACE: Duration = Duration::from_secs(10);

/// Install the handler; the build runs unprotected only if the OS refuses.
pub fn install() {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
            return;
        };
        std::thread::spawn(move || {
            if let Some(sig) = signals.forever().next() {
                stop(sig);
            }
        });
    }
    #[cfg(windows)]
    {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        let got = Arc::new(AtomicUsize::new(0));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            let _ = signal_hook::flag::register_usize(sig, Arc::clone(&got), sig as usize);
        }
        std::thread::spawn(move || loop {
            match got.load(Ordering::SeqCst) {
                0 => std::thread::sleep(Duration::from_millis(50)),
                sig => stop(sig as i32),
            }
        });
    }
}

/// When the build was interrupted, wait for the handler to exit the process
/// (with 128 + the signal's number, after its cleanups): the build's own
/// thread ends meanwhile with the error of a killed program, which is not
/// what happened, and must not exit first with its own status.
pub fn defer_to_handler() {
    if pyship_build::process::interrupted() {
        loop {
            std::thread::park();
        }
    }
}

fn stop(sig: i32) -> ! {
    std::thread::spawn(move || {
        std::thread::sleep(GRACE);
        std::process::exit(128 + sig);
    });
    pyship_build::process::interrupt();
    // Not eprintln!: a closed stderr must not turn the exit into a panic.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "error: interrupted by signal {sig}: the programs it ran were stopped"
    );
    std::process::exit(128 + sig);
}
