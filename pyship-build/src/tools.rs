//! External tools (`uv`, `makensis`, `wine`, strip, `git`, `docker`): where to find
//! them and which package provides each when it is missing.
//!
//! On a Windows host a tool is also looked for where Windows installers put
//! it, since they seldom add it to `PATH`: `uv.exe` next to a Python that has
//! it (`pip install uv` puts it in that Python's `Scripts\`), `makensis.exe`
//! in `%ProgramFiles(x86)%\NSIS` or `%ProgramFiles%\NSIS`. The override
//! variable (`PYSHIP_UV`, `PYSHIP_MAKENSIS`) still wins.

use std::path::{Path, PathBuf};

use crate::env::Env;

/// A tool the pipeline runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    /// Executable name looked up on `PATH`.
    pub exe: &'static str,
    /// Environment variable that overrides the lookup, if any.
    pub env_override: Option<&'static str>,
    /// How to install it on Debian/Ubuntu (or from PyPI).
    pub install: &'static str,
    /// What the tool is needed for.
    pub purpose: &'static str,
    /// How to get it on a Windows host.
    pub install_windows: &'static str,
    /// Where else to look on a Windows host.
    pub windows_places: WindowsPlaces,
}

/// Where a Windows installer puts a tool, besides `PATH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowsPlaces {
    /// Nowhere else.
    None,
    /// Next to a `python.exe` on `PATH`, or in its `Scripts\`.
    NextToPython,
    /// `{dir}\` and `{dir}\Bin\` under `%ProgramFiles(x86)%` and `%ProgramFiles%`.
    ProgramFiles(&'static str),
}

pub const UV: Tool = Tool {
    exe: "uv",
    env_override: Some(crate::env::PYSHIP_UV),
    install: "`pip install uv` (PyPI package `uv`), or set PYSHIP_UV to its path",
    purpose: "resolve and install the app's dependencies for the target platform",
    install_windows: "`pip install uv` (PyPI package `uv`; uv.exe lands next to that Python), or `winget install astral-sh.uv`, or set PYSHIP_UV to its path",
    windows_places: WindowsPlaces::NextToPython,
};
pub const MAKENSIS: Tool = Tool {
    exe: "makensis",
    env_override: Some(crate::env::PYSHIP_MAKENSIS),
    install: "`apt-get install nsis` (Debian package `nsis`)",
    purpose: "build the Windows installer",
    install_windows: "NSIS 3 from https://nsis.sourceforge.io/Download (its installer puts makensis.exe in %ProgramFiles(x86)%\\NSIS), or set PYSHIP_MAKENSIS to its path",
    windows_places: WindowsPlaces::ProgramFiles("NSIS"),
};
pub const WINE: Tool = Tool {
    exe: "wine",
    env_override: None,
    install: "`apt-get install wine wine64` (Debian packages `wine` and `wine64`)",
    purpose: "run Windows programs (import checks, byte-compiling for Windows)",
    install_windows: "nothing: on Windows the bundle's python.exe runs directly",
    windows_places: WindowsPlaces::None,
};
pub const MSIEXTRACT: Tool = Tool {
    exe: "msiextract",
    env_override: None,
    install: "`apt-get install msitools` (Debian package `msitools`)",
    purpose: "unpack python.org's tcltk.msi for windows.tkinter (tkinter-source = \"msi\")",
    install_windows: "msitools is not needed on Windows: use `tkinter-source = \"pypi\"`, or build the bundle on Linux",
    windows_places: WindowsPlaces::None,
};
pub const MSIINFO: Tool = Tool {
    exe: "msiinfo",
    env_override: None,
    install: "`apt-get install msitools` (Debian package `msitools`)",
    purpose: "read the CPython version of python.org's tcltk.msi for windows.tkinter",
    install_windows: "msitools is not needed on Windows: use `tkinter-source = \"pypi\"`, or build the bundle on Linux",
    windows_places: WindowsPlaces::None,
};
pub const WIXL: Tool = Tool {
    exe: "wixl",
    env_override: None,
    install: "`apt-get install wixl` (Debian package `wixl`)",
    purpose: "build the MSI package (`cargo pyship msi`, `windows.msi = true`)",
    install_windows:
        "wixl is not available on Windows: build the MSI on Linux (CI, WSL or a container)",
    windows_places: WindowsPlaces::None,
};
pub const MSIBUILD: Tool = Tool {
    exe: "msibuild",
    env_override: None,
    install: "`apt-get install msitools` (Debian package `msitools`)",
    purpose: "finish the MSI package (`cargo pyship msi`, `windows.msi = true`)",
    install_windows:
        "msitools is not available on Windows: build the MSI on Linux (CI, WSL or a container)",
    windows_places: WindowsPlaces::None,
};
pub const MINGW_GCC: Tool = Tool {
    exe: "x86_64-w64-mingw32-gcc",
    env_override: None,
    install: "`apt-get install gcc-mingw-w64-x86-64` (Debian package `gcc-mingw-w64-x86-64`)",
    purpose: "link the Rust extension for Windows (x86_64-pc-windows-gnu)",
    install_windows: "MSYS2's `mingw-w64-x86_64-gcc`, on PATH",
    windows_places: WindowsPlaces::None,
};
pub const MINGW_STRIP: Tool = Tool {
    exe: "x86_64-w64-mingw32-strip",
    env_override: None,
    install:
        "`apt-get install binutils-mingw-w64-x86-64` (Debian package `binutils-mingw-w64-x86-64`)",
    purpose: "strip debug symbols from Windows DLLs and .pyd files",
    install_windows:
        "MSYS2's `mingw-w64-x86_64-binutils` (its strip.exe) or LLVM (llvm-strip.exe), on PATH",
    windows_places: WindowsPlaces::None,
};
pub const STRIP: Tool = Tool {
    exe: "strip",
    env_override: None,
    install: "`apt-get install binutils` (Debian package `binutils`)",
    purpose: "strip debug symbols from Linux .so files",
    install_windows: "MSYS2's `mingw-w64-x86_64-binutils` or LLVM, on PATH",
    windows_places: WindowsPlaces::None,
};
pub const GIT: Tool = Tool {
    exe: "git",
    env_override: None,
    install: "`apt-get install git` (Debian package `git`)",
    purpose: "read the tag and commit of the release",
    install_windows: "Git for Windows from https://git-scm.com/download/win",
    windows_places: WindowsPlaces::None,
};
pub const DOCKER: Tool = Tool {
    exe: "docker",
    env_override: None,
    install: "`apt-get install docker.io` (Debian package `docker.io`) and start the engine",
    purpose: "build and push the Docker image",
    install_windows:
        "Docker Desktop from https://docs.docker.com/desktop/setup/install/windows-install/",
    windows_places: WindowsPlaces::None,
};
pub const OSSLSIGNCODE: Tool = Tool {
    exe: "osslsigncode",
    env_override: None,
    install: "`apt-get install osslsigncode` (Debian package `osslsigncode`)",
    purpose:
        "Authenticode-sign and verify Windows executables (the `windows.sign` table of the pyship config)",
    install_windows: "osslsigncode from its releases (https://github.com/mtrojnar/osslsigncode/releases), on PATH",
    windows_places: WindowsPlaces::None,
};
pub const OPENSSL: Tool = Tool {
    exe: "openssl",
    env_override: None,
    install: "`apt-get install openssl` (Debian package `openssl`)",
    purpose: "read the signing certificate (PKCS#12) and check its password",
    install_windows: "the `openssl.exe` that ships with Git for Windows, on PATH",
    windows_places: WindowsPlaces::ProgramFiles("Git\\usr"),
};
pub const SYSTEMD_ANALYZE: Tool = Tool {
    exe: "systemd-analyze",
    env_override: None,
    install: "`apt-get install systemd` (Debian package `systemd`)",
    purpose: "verify rendered systemd units",
    install_windows: "nothing on Windows: systemd units are checked on a Linux host",
    windows_places: WindowsPlaces::None,
};

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("`{exe}` was not found {looked}; it is needed to {purpose}")]
    #[diagnostic(help("install it with {install}"))]
    Missing {
        exe: &'static str,
        purpose: &'static str,
        install: &'static str,
        /// Where it was looked for (`on PATH`, plus the Windows places).
        looked: String,
    },
    #[error("{var} points at {path}, which is not an executable file")]
    #[diagnostic(help("fix or unset {var}"))]
    BadOverride { var: &'static str, path: PathBuf },
}

/// A stage's external program was not found, or it ran and failed: what a
/// stage that runs a tool wraps, once, for both.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RunError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Find(#[from] Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Run(#[from] crate::process::Error),
}

/// `ProgramFiles(x86)` and `ProgramFiles`, as a Windows host sets them.
pub const PROGRAM_FILES_VARS: &[&str] = &[crate::env::PROGRAM_FILES_X86, crate::env::PROGRAM_FILES];

/// Run `git ARGS` in `dir` and return what it printed on stdout, or `None`
/// when git is missing, `dir` is outside a repository, or git fails. Every
/// read of the repository (tags, HEAD, top level) goes through here: no
/// answer from git means "not known", never a failed run.
pub fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let mut cmd = crate::process::Command::new(GIT.exe);
    cmd.args(args)
        .current_dir(dir)
        // A repository on a hung network mount must not stall the build.
        .timeout(crate::process::QUICK)
        // Never a credentials prompt on the terminal.
        .env("GIT_TERMINAL_PROMPT", "0");
    let out = cmd.output().ok()?;
    out.success().then_some(out.stdout)
}

impl Tool {
    /// Find the tool: the override variable first, then `PATH`, then (on a
    /// Windows host) the places Windows installers use.
    pub fn find(&self, env: &Env) -> Result<PathBuf, Error> {
        self.find_on(env, cfg!(windows))
    }

    /// [`Tool::find`] for a host that is (`windows`) or is not Windows.
    pub fn find_on(&self, env: &Env, windows: bool) -> Result<PathBuf, Error> {
        if let Some(var) = self.env_override {
            if let Some(p) = env.get(var) {
                return which::which(p).map_err(|_| Error::BadOverride {
                    var,
                    path: PathBuf::from(p),
                });
            }
        }
        if let Ok(p) = which::which(self.exe) {
            return Ok(p);
        }
        if windows {
            if let Some(p) = self
                .windows_candidates(env)
                .into_iter()
                .find(|p| p.is_file())
            {
                return Ok(p);
            }
        }
        Err(Error::Missing {
            exe: self.exe,
            purpose: self.purpose,
            install: if windows {
                self.install_windows
            } else {
                self.install
            },
            looked: if windows {
                self.windows_looked()
            } else {
                "on PATH".into()
            },
        })
    }

    /// Whether the tool can be found (for optional steps).
    pub fn available(&self, env: &Env) -> bool {
        self.find(env).is_ok()
    }

    /// The install hint for this host.
    pub fn install_hint(&self) -> &'static str {
        if cfg!(windows) {
            self.install_windows
        } else {
            self.install
        }
    }

    /// Files to try on a Windows host after `PATH`, in order.
    pub fn windows_candidates(&self, env: &Env) -> Vec<PathBuf> {
        let exe = format!("{}.exe", self.exe);
        match self.windows_places {
            WindowsPlaces::None => Vec::new(),
            WindowsPlaces::NextToPython => ["python", "python3"]
                .iter()
                .filter_map(|p| which::which_all(p).ok())
                .flatten()
                .filter_map(|py| py.parent().map(Path::to_owned))
                .flat_map(|dir| [dir.join(&exe), dir.join("Scripts").join(&exe)])
                .collect(),
            WindowsPlaces::ProgramFiles(dir) => PROGRAM_FILES_VARS
                .iter()
                .filter_map(|v| env.get(v))
                .flat_map(|root| {
                    let base = Path::new(root).join(dir);
                    [base.join(&exe), base.join("Bin").join(&exe)]
                })
                .collect(),
        }
    }

    fn windows_looked(&self) -> String {
        match self.windows_places {
            WindowsPlaces::None => "on PATH".into(),
            WindowsPlaces::NextToPython => {
                "on PATH or next to a python.exe on PATH (or in its Scripts\\)".into()
            }
            WindowsPlaces::ProgramFiles(dir) => {
                format!("on PATH, in %ProgramFiles(x86)%\\{dir} or in %ProgramFiles%\\{dir}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Hint;

    /// A stage error that wraps a [`RunError`] reads as the tool's or the
    /// process's own error: the message, the causes and the hint.
    #[test]
    fn a_run_error_reads_as_what_it_wraps() {
        let lines = |r: crate::error::Report| {
            let chain: Vec<String> = r.chain().map(|e| e.to_string()).collect();
            (chain, r.hint())
        };
        let missing = || Error::Missing {
            exe: "makensis",
            purpose: "build the installer",
            install: "`apt-get install nsis`",
            looked: "on PATH".into(),
        };
        assert_eq!(
            lines(RunError::from(missing()).into()),
            lines(missing().into())
        );
        let failed = || crate::process::Error::Spawn {
            command: "wixl app.wxs".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "gone"),
        };
        let (chain, hint) = lines(RunError::from(failed()).into());
        assert_eq!((chain.clone(), hint.clone()), lines(failed().into()));
        assert_eq!(chain, ["could not run `wixl app.wxs`", "gone"]);
        assert_eq!(
            hint.as_deref(),
            Some("install the program, or put it on PATH")
        );
    }

    #[test]
    fn makensis_is_found_in_program_files_on_windows() {
        let d = tempfile::tempdir().unwrap();
        let x86 = d.path().join("Program Files (x86)");
        let nsis = x86.join("NSIS");
        fs_err::create_dir_all(&nsis).unwrap();
        fs_err::write(nsis.join("pyship-test-makensis-not-on-path.exe"), b"MZ").unwrap();
        let env = Env::from_pairs([
            ("ProgramFiles(x86)", x86.to_str().unwrap()),
            (
                "ProgramFiles",
                d.path().join("Program Files").to_str().unwrap(),
            ),
        ]);
        let tool = Tool {
            exe: "pyship-test-makensis-not-on-path",
            ..MAKENSIS
        };
        let found = tool.find_on(&env, true).unwrap();
        assert_eq!(found, nsis.join("pyship-test-makensis-not-on-path.exe"));
        // Not a Windows host: only PATH counts, and the hint is the Debian one.
        let err = tool.find_on(&env, false).unwrap_err();
        assert!(err.to_string().contains("not found on PATH"), "{err}");
        assert!(err.hint().unwrap().contains("apt-get install nsis"));
    }

    #[test]
    fn missing_makensis_on_windows_names_nsis_and_its_download() {
        let tool = Tool {
            exe: "pyship-test-makensis-not-on-path",
            ..MAKENSIS
        };
        let err = tool.find_on(&Env::default(), true).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("%ProgramFiles(x86)%\\NSIS"), "{msg}");
        let hint = err.hint().unwrap();
        assert!(
            hint.contains("https://nsis.sourceforge.io/Download"),
            "{hint}"
        );
    }

    #[test]
    fn override_wins() {
        let env = Env::from_pairs([(crate::env::PYSHIP_MAKENSIS, "/nonexistent/makensis")]);
        let err = MAKENSIS.find_on(&env, true).unwrap_err();
        assert!(matches!(err, Error::BadOverride { .. }), "{err}");
    }
}
