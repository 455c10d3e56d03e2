//! External tools (`uv`, `makensis`, `wine`, strip, `git`, `docker`): where to find
//! them and which package provides each when it is missing.

use std::path::PathBuf;

use crate::env::Env;
use crate::error::Hint;

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
}

pub const UV: Tool = Tool {
    exe: "uv",
    env_override: Some(crate::env::PYSHIP_UV),
    install: "`pip install uv` (PyPI package `uv`), or set PYSHIP_UV to its path",
    purpose: "resolve and install the app's dependencies for the target platform",
};
pub const MAKENSIS: Tool = Tool {
    exe: "makensis",
    env_override: Some(crate::env::PYSHIP_MAKENSIS),
    install: "`apt-get install nsis` (Debian package `nsis`)",
    purpose: "build the Windows installer",
};
pub const WINE: Tool = Tool {
    exe: "wine",
    env_override: None,
    install: "`apt-get install wine wine64` (Debian packages `wine` and `wine64`)",
    purpose: "run Windows programs (import checks, byte-compiling for Windows)",
};
pub const MSIEXTRACT: Tool = Tool {
    exe: "msiextract",
    env_override: None,
    install: "`apt-get install msitools` (Debian package `msitools`)",
    purpose: "unpack python.org's tcltk.msi for windows.tkinter (tkinter-source = \"msi\")",
};
pub const MSIINFO: Tool = Tool {
    exe: "msiinfo",
    env_override: None,
    install: "`apt-get install msitools` (Debian package `msitools`)",
    purpose: "read the CPython version of python.org's tcltk.msi for windows.tkinter",
};
pub const MINGW_STRIP: Tool = Tool {
    exe: "x86_64-w64-mingw32-strip",
    env_override: None,
    install:
        "`apt-get install binutils-mingw-w64-x86-64` (Debian package `binutils-mingw-w64-x86-64`)",
    purpose: "strip debug symbols from Windows DLLs and .pyd files",
};
pub const STRIP: Tool = Tool {
    exe: "strip",
    env_override: None,
    install: "`apt-get install binutils` (Debian package `binutils`)",
    purpose: "strip debug symbols from Linux .so files",
};
pub const GIT: Tool = Tool {
    exe: "git",
    env_override: None,
    install: "`apt-get install git` (Debian package `git`)",
    purpose: "read the tag and commit of the release",
};
pub const DOCKER: Tool = Tool {
    exe: "docker",
    env_override: None,
    install: "`apt-get install docker.io` (Debian package `docker.io`) and start the engine",
    purpose: "build and push the Docker image",
};
pub const OSSLSIGNCODE: Tool = Tool {
    exe: "osslsigncode",
    env_override: None,
    install: "`apt-get install osslsigncode` (Debian package `osslsigncode`)",
    purpose:
        "Authenticode-sign and verify Windows executables ([package.metadata.pyship.windows.sign])",
};
pub const OPENSSL: Tool = Tool {
    exe: "openssl",
    env_override: None,
    install: "`apt-get install openssl` (Debian package `openssl`)",
    purpose: "read the signing certificate (PKCS#12) and check its password",
};
pub const SYSTEMD_ANALYZE: Tool = Tool {
    exe: "systemd-analyze",
    env_override: None,
    install: "`apt-get install systemd` (Debian package `systemd`)",
    purpose: "verify rendered systemd units",
};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("`{exe}` was not found on PATH; it is needed to {purpose}")]
    Missing {
        exe: &'static str,
        purpose: &'static str,
        install: &'static str,
    },
    #[error("{var} points at {path}, which is not an executable file")]
    BadOverride { var: &'static str, path: PathBuf },
}

impl Hint for Error {
    fn hint(&self) -> Option<String> {
        Some(match self {
            Error::Missing { install, .. } => format!("install it with {install}"),
            Error::BadOverride { var, .. } => format!("fix or unset {var}"),
        })
    }
}

impl Tool {
    /// Find the tool: the override variable first, then `PATH`.
    pub fn find(&self, env: &Env) -> Result<PathBuf, Error> {
        if let Some(var) = self.env_override {
            if let Some(p) = env.get(var) {
                return which::which(p).map_err(|_| Error::BadOverride {
                    var,
                    path: PathBuf::from(p),
                });
            }
        }
        which::which(self.exe).map_err(|_| Error::Missing {
            exe: self.exe,
            purpose: self.purpose,
            install: self.install,
        })
    }

    /// Whether the tool can be found (for optional steps).
    pub fn available(&self, env: &Env) -> bool {
        self.find(env).is_ok()
    }
}
