//! The replacement `bcryptprimitives.dll` (with `ProcessPrng`), compiled
//! from this crate's C source with the mingw-w64 compiler into the cache.

use std::path::PathBuf;
use std::time::Duration;

use super::Error;
use crate::cache::Cache;
use crate::env::Env;
use crate::process::{Cancel, Command};
use crate::tools;

/// The C source of the replacement `bcryptprimitives.dll`.
pub const PROCESS_PRNG_SOURCE: &str = include_str!("bcryptprimitives.c");
/// Cache bucket of the compiled replacement.
pub const SHIM_BUCKET: &str = "wine-shim-v0";

/// The replacement `bcryptprimitives.dll`, compiled from
/// [`PROCESS_PRNG_SOURCE`] with the mingw-w64 compiler into the cache (keyed
/// by the source's SHA-256) on first use.
pub fn process_prng_dll(cache: &crate::cache::Cache, env: &Env) -> Result<PathBuf, Error> {
    compile_shim(cache, env, &Cancel::default())
}

/// [`process_prng_dll`], stopped by `cancel`. The compiler works in
/// `{bucket}/.incoming/{pid}-…` (what a killed run leaves there is removed
/// by the next build) and the DLL is renamed into place.
pub(super) fn compile_shim(cache: &Cache, env: &Env, cancel: &Cancel) -> Result<PathBuf, Error> {
    use sha2::{Digest, Sha256};
    let key = hex::encode(Sha256::digest(PROCESS_PRNG_SOURCE.as_bytes()));
    let dir = cache.bucket(SHIM_BUCKET).join(&key);
    let dll = dir.join("bcryptprimitives.dll");
    if dll.is_file() {
        return Ok(dll);
    }
    let gcc = tools::MINGW_GCC.find(env)?;
    let io = |source: std::io::Error| Error::PrefixIo {
        path: dir.clone(),
        source,
    };
    fs_err::create_dir_all(&dir).map_err(io)?;
    let work = cache.staging(SHIM_BUCKET).map_err(io)?;
    let src = work.path().join("bcryptprimitives.c");
    fs_err::write(&src, PROCESS_PRNG_SOURCE).map_err(io)?;
    let out = work.path().join("bcryptprimitives.dll");
    let mut cmd = Command::new(&gcc);
    cmd.args(["-shared", "-O2", "-o"])
        .arg(&out)
        .arg(&src)
        .timeout(Duration::from_secs(120))
        .cancel(cancel);
    let r = cmd.output()?;
    if !r.success() || !out.is_file() {
        return Err(Error::Prefix {
            path: dir.clone(),
            message: format!("compiling bcryptprimitives.dll failed: {}", r.stderr.trim()),
        });
    }
    fs_err::rename(&out, &dll).map_err(io)?;
    Ok(dll)
}
