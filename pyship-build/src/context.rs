//! The "how" of a run, passed to every stage next to the plan: where to report,
//! the environment, the cache, the HTTP client, offline and dry-run switches.

use std::sync::OnceLock;

use crate::cache::Cache;
use crate::env::Env;
use crate::net;
use crate::report::Reporter;

pub struct Context<'a> {
    pub reporter: &'a dyn Reporter,
    pub env: &'a Env,
    pub cache: Cache,
    /// Make no network requests (uv gets `--offline`; downloads must be cached).
    pub offline: bool,
    /// Describe writes instead of doing them (stages that support it).
    pub dry_run: bool,
    /// `--locked`: `pyship.lock` must not change (a build that would record a
    /// hash or re-pin dependencies fails instead), as `cargo build --locked`.
    pub locked: bool,
    http: OnceLock<reqwest::blocking::Client>,
}

impl<'a> Context<'a> {
    pub fn new(reporter: &'a dyn Reporter, env: &'a Env) -> Self {
        Self {
            reporter,
            env,
            cache: Cache::from_env(env),
            offline: false,
            dry_run: false,
            locked: false,
            http: OnceLock::new(),
        }
    }

    /// The HTTP timeouts of the run (`PYSHIP_CONNECT_TIMEOUT`, `PYSHIP_HTTP_TIMEOUT`).
    pub fn timeouts(&self) -> Result<net::Timeouts, net::Error> {
        net::Timeouts::from_env(self.env)
    }

    /// The one HTTP client of the run, built on first use.
    pub fn http(&self) -> Result<&reqwest::blocking::Client, net::Error> {
        if let Some(c) = self.http.get() {
            return Ok(c);
        }
        let c = net::client(&self.timeouts()?)?;
        Ok(self.http.get_or_init(|| c))
    }
}
