//! A test runtime in python-build-standalone `install_only` layout, made from
//! the host's CPython, so the Linux bundle tests need no download.
//!
//! Layout of the tarball (as python-build-standalone's `install_only`):
//! `python/bin/python3.X` (+ `python3`, `python` symlinks),
//! `python/lib/libpython3.X.so*` when the host Python is a shared build, and
//! `python/lib/python3.X/` (the stdlib, with an empty `site-packages`).
//!
//! The host prefix is not relocatable: its binary finds `libpython` through an
//! absolute RPATH. Every ELF file that carries an RPATH gets
//! `patchelf --set-rpath '$ORIGIN/<relative path to lib>'`, so an extracted
//! copy loads its own `libpython`, not the host's (the e2e test checks this with
//! `ldd`). CPython finds its stdlib relative to the executable, so nothing else
//! needs patching.
//!
//! The tarball is built once and cached under `target/pyship-e2e/pbs/`, keyed
//! by the host version and prefix; tests serve it with
//! [`crate::http::StaticServer`] through [`serve`].

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use crate::http::StaticServer;

/// The host CPython this runtime is made from.
#[derive(Debug, Clone)]
pub struct HostPython {
    /// `sys.base_prefix` (the install, never a venv).
    pub prefix: PathBuf,
    /// `3.11.7`
    pub version: String,
    /// `3.11`
    pub xy: String,
    /// `LDLIBRARY` when the build is shared (`libpython3.11.so`), else `None`.
    pub shared_lib: Option<String>,
}

/// The built test runtime.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub host: HostPython,
    /// The `.tar.gz` in the cache.
    pub tarball: PathBuf,
    pub sha256: String,
    pub size: u64,
}

/// The host CPython (`python3` on `PATH`, or `$PYSHIP_TEST_PYTHON`).
pub fn host_python() -> HostPython {
    let python = std::env::var("PYSHIP_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = "import sys, sysconfig\n\
        print(sys.base_prefix)\n\
        print('%d.%d.%d' % sys.version_info[:3])\n\
        print('%d.%d' % sys.version_info[:2])\n\
        print(sysconfig.get_config_var('LDLIBRARY') if sysconfig.get_config_var('Py_ENABLE_SHARED') else '')";
    let out = Command::new(&python)
        .args(["-c", script])
        .output()
        .unwrap_or_else(|e| {
            panic!("this test needs a host CPython (`{python}`, Debian package `python3`): {e}")
        });
    assert!(
        out.status.success(),
        "`{python}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    let mut next = || lines.next().unwrap_or_default().trim().to_owned();
    let prefix = PathBuf::from(next());
    let version = next();
    let xy = next();
    let shared = next();
    HostPython {
        prefix,
        version,
        xy,
        shared_lib: (!shared.is_empty()).then_some(shared),
    }
}

/// The runtime tarball, built on first use (per process, and cached on disk
/// across runs).
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| build(&host_python(), &cache_root()))
}

/// A local server that answers `/{file_name}` with the runtime tarball. The
/// returned temp dir holds the served link: keep it alive with the server.
pub fn serve(file_name: &str) -> (tempfile::TempDir, StaticServer) {
    let rt = runtime();
    let dir = tempfile::Builder::new()
        .prefix("pyship-pbs-serve-")
        .tempdir()
        .expect("temp dir");
    std::os::unix::fs::symlink(&rt.tarball, dir.path().join(file_name)).expect("symlink");
    let server = StaticServer::start(dir.path());
    (dir, server)
}

fn cache_root() -> PathBuf {
    crate::workspace_root()
        .join("target")
        .join("pyship-e2e")
        .join("pbs")
}

/// Build (or reuse) the tarball for `host` under `cache`.
pub fn build(host: &HostPython, cache: &Path) -> Runtime {
    let key = hex::encode(Sha256::digest(host.prefix.as_os_str().as_encoded_bytes()));
    let dir = cache.join(format!("{}-{}", host.version, &key[..12]));
    let tarball = dir.join(format!(
        "cpython-{}-host-x86_64-unknown-linux-gnu-install_only.tar.gz",
        host.version
    ));
    if !tarball.is_file() {
        fs_err::create_dir_all(&dir).expect("create pbs cache dir");
        let staging = tempfile::Builder::new()
            .prefix(".staging-")
            .tempdir_in(&dir)
            .expect("staging dir");
        let root = staging.path().join("python");
        assemble(host, &root);
        relocate(&root);
        let tmp = staging.path().join("out.tar.gz");
        let tar = crate::require_tool("tar", "`apt-get install tar`");
        let status = Command::new(tar)
            .args([
                "--sort=name",
                "--owner=0",
                "--group=0",
                "--numeric-owner",
                "--mtime=@0",
                "--use-compress-program=gzip -1",
                "-cf",
            ])
            .arg(&tmp)
            .arg("-C")
            .arg(staging.path())
            .arg("python")
            .status()
            .expect("tar runs");
        assert!(status.success(), "tar of the test runtime failed");
        // Rename: a parallel test process sees either no file or a whole one.
        fs_err::rename(&tmp, &tarball).expect("move runtime tarball into the cache");
    }
    let sha256 = crate::sha256_file(&tarball);
    let size = fs_err::metadata(&tarball).expect("tarball metadata").len();
    Runtime {
        host: host.clone(),
        tarball,
        sha256,
        size,
    }
}

/// Copy the parts of the host prefix an `install_only` runtime has.
fn assemble(host: &HostPython, root: &Path) {
    let bin = root.join("bin");
    fs_err::create_dir_all(&bin).expect("create bin");
    let exe = format!("python{}", host.xy);
    fs_err::copy(host.prefix.join("bin").join(&exe), bin.join(&exe)).expect("copy python binary");
    for link in ["python3", "python"] {
        std::os::unix::fs::symlink(&exe, bin.join(link)).expect("symlink python3");
    }
    let lib = root.join("lib");
    fs_err::create_dir_all(&lib).expect("create lib");
    if let Some(ld) = &host.shared_lib {
        // libpython3.X.so* and libpython3.so, symlinks kept as symlinks.
        for entry in fs_err::read_dir(host.prefix.join("lib")).expect("read host lib") {
            let entry = entry.expect("dir entry");
            let name = entry.file_name().to_string_lossy().into_owned();
            if !(name.starts_with(ld.trim_end_matches(".so")) || name == "libpython3.so") {
                continue;
            }
            copy_entry(&entry.path(), &lib.join(&name));
        }
    }
    let stdlib_from = host.prefix.join("lib").join(format!("python{}", host.xy));
    let stdlib_to = lib.join(format!("python{}", host.xy));
    copy_stdlib(&stdlib_from, &stdlib_to, &stdlib_from);
    fs_err::create_dir_all(stdlib_to.join("site-packages")).expect("create site-packages");
}

/// The stdlib without third-party packages, tests, caches and the static
/// library (`config-3.X-*`): a smaller tarball, the same runtime behaviour.
fn copy_stdlib(from: &Path, to: &Path, top: &Path) {
    fs_err::create_dir_all(to).expect("create stdlib dir");
    for entry in fs_err::read_dir(from).expect("read stdlib dir") {
        let entry = entry.expect("dir entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        let at_top = from == top;
        if name == "__pycache__"
            || (at_top
                && (name == "site-packages"
                    || name == "test"
                    || name == "idlelib"
                    || name.starts_with("config-")))
        {
            continue;
        }
        let ft = entry.file_type().expect("file type");
        if ft.is_dir() {
            copy_stdlib(&entry.path(), &to.join(&name), top);
        } else {
            copy_entry(&entry.path(), &to.join(&name));
        }
    }
}

fn copy_entry(from: &Path, to: &Path) {
    let meta = fs_err::symlink_metadata(from).expect("stat");
    if meta.file_type().is_symlink() {
        let target = fs_err::read_link(from).expect("read link");
        std::os::unix::fs::symlink(target, to).expect("copy symlink");
    } else {
        fs_err::copy(from, to).expect("copy file");
    }
}

/// `patchelf --set-rpath '$ORIGIN/...'` on every ELF file that has an RPATH,
/// pointing it at `python/lib` relative to the file.
fn relocate(root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let patchelf = crate::require_tool("patchelf", "`apt-get install patchelf`");
    let lib = root.join("lib");
    for entry in walk(root) {
        if !is_elf(&entry) {
            continue;
        }
        let out = Command::new(&patchelf)
            .arg("--print-rpath")
            .arg(&entry)
            .output()
            .expect("patchelf runs");
        assert!(
            out.status.success(),
            "patchelf --print-rpath {} failed: {}",
            entry.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        if String::from_utf8_lossy(&out.stdout).trim().is_empty() {
            continue;
        }
        let rel = relative(entry.parent().expect("file has a parent"), &lib);
        let rpath = if rel.as_os_str().is_empty() {
            "$ORIGIN".to_owned()
        } else {
            format!("$ORIGIN/{}", rel.display())
        };
        let mut perms = fs_err::metadata(&entry).expect("stat").permissions();
        perms.set_mode(perms.mode() | 0o200);
        fs_err::set_permissions(&entry, perms).expect("make writable");
        let st = Command::new(&patchelf)
            .args(["--set-rpath", &rpath])
            .arg(&entry)
            .status()
            .expect("patchelf runs");
        assert!(
            st.success(),
            "patchelf --set-rpath {rpath} {} failed",
            entry.display()
        );
    }
}

/// Regular files below `root` (symlinks not followed).
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs_err::read_dir(&d).expect("read dir") {
            let entry = entry.expect("dir entry");
            let ft = entry.file_type().expect("file type");
            if ft.is_dir() {
                stack.push(entry.path());
            } else if ft.is_file() {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

fn is_elf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    fs_err::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"\x7fELF"
}

/// `to` relative to `from` (both absolute, no symlinks involved).
fn relative(from: &Path, to: &Path) -> PathBuf {
    let f: Vec<_> = from.components().collect();
    let t: Vec<_> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative(Path::new("/r/python/bin"), Path::new("/r/python/lib")),
            Path::new("../lib")
        );
        assert_eq!(
            relative(
                Path::new("/r/python/lib/python3.11/lib-dynload"),
                Path::new("/r/python/lib")
            ),
            Path::new("../..")
        );
        assert_eq!(
            relative(Path::new("/r/python/lib"), Path::new("/r/python/lib")),
            Path::new("")
        );
    }
}
