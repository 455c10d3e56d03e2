//! Preparing the cached prefix on a thread of its own while a build's
//! other stages work.

use super::prepared::{ensure_prepared, wants_shim};
use super::shim::compile_shim;
use super::{wine_version, Wine};
use crate::cache::Cache;
use crate::env::{Env, PYSHIP_WINEPREFIX};
use crate::process::Cancel;
use crate::tools;

/// Prepare the cached prefix on a thread of its own, so that a build's first
/// run on a machine boots wine while its other stages work; with `session`,
/// then make the build's private copy and start its session there too
/// ([`Background::take_wine`] hands it over). Nothing happens when a prefix
/// is named by the environment, wine is missing, or the host is Windows (the
/// bundle's python.exe runs directly there). Errors are left to the build's
/// own [`Wine::with_cache`], which meets them again.
pub fn prepare_in_background(env: &Env, cache: &Cache, session: bool) -> Option<Background> {
    if cfg!(windows)
        || [PYSHIP_WINEPREFIX, crate::env::WINEPREFIX]
            .iter()
            .any(|v| env.get(v).is_some())
    {
        return None;
    }
    let wine = tools::WINE.find(env).ok()?;
    let (env, cache) = (env.clone(), cache.clone());
    let cancel = Cancel::default();
    let stop = cancel.clone();
    let handle = std::thread::spawn(move || {
        let Ok(version) = wine_version(&wine) else {
            return (None, None);
        };
        // The DLL compiles (about a second) while wineboot runs.
        let with_shim = wants_shim(&env);
        let notice = std::thread::scope(|s| {
            let gcc = s.spawn(|| compile_shim(&cache, &env, &stop).ok());
            let shim = || gcc.join().ok().flatten();
            ensure_prepared(&wine, &cache, &version, with_shim, shim, &stop)
                .ok()
                .and_then(|e| e.notice)
        });
        if !session || stop.is_cancelled() {
            return (None, notice);
        }
        (Wine::with_session(&env, &cache, &stop).ok(), notice)
    });
    Some(Background {
        cancel,
        handle: std::sync::Mutex::new(Some(handle)),
        notice: std::sync::Mutex::new(None),
    })
}

/// What the thread of [`prepare_in_background`] ends with: the private
/// prefix whose session it started, and its notice about the cached prefix.
type Prepared = (Option<Wine>, Option<String>);

/// The thread of [`prepare_in_background`]. [`Background::take_wine`] and
/// [`Background::finish`] wait for it; dropped unfinished (the build failed),
/// it stops the thread's program and waits for the thread to remove its
/// staging folders and stop its session, so a failed build leaves no
/// half-made prefix in the cache.
#[derive(Debug)]
pub struct Background {
    cancel: Cancel,
    handle: std::sync::Mutex<Option<std::thread::JoinHandle<Prepared>>>,
    /// The thread's notice when it handed over no prefix to carry it.
    notice: std::sync::Mutex<Option<String>>,
}

impl Background {
    fn take_handle(&self) -> Option<std::thread::JoinHandle<Prepared>> {
        self.handle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    /// Wait for the thread; the private prefix whose session it started, if
    /// it was asked to and could (only the first call gets it). The
    /// prefix's [`Wine::notice`] tells when the thread replaced the cached
    /// prefix.
    pub fn take_wine(&self) -> Option<Wine> {
        let (wine, notice) = self.take_handle()?.join().ok()?;
        match wine {
            Some(mut w) => {
                if w.notice.is_none() {
                    w.notice = notice;
                }
                Some(w)
            }
            None => {
                *self
                    .notice
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = notice;
                None
            }
        }
    }

    /// Wait for the prefix to be prepared (a private prefix nobody took is
    /// stopped and removed). Returns the notice about the cached prefix
    /// (see [`Wine::notice`]) that no prefix handed over carried.
    pub fn finish(self) -> Option<String> {
        let from_wine = self.take_wine().and_then(|mut w| w.notice.take());
        from_wine.or_else(|| {
            self.notice
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take()
        })
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(h) = self.take_handle() {
            self.cancel.cancel();
            let _ = h.join();
        }
    }
}
