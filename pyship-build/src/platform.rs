//! Target platforms as data: the pipeline code is one, the differences (runtime
//! source, wheel platform, file layout, archive format, launchers) live here.

use std::fmt;

use serde::Serialize;

/// A bundle target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Windows,
    Linux,
}

/// How the bundle is packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArchiveFormat {
    Zip,
    TarGz,
}

impl Platform {
    pub const ALL: [Platform; 2] = [Platform::Windows, Platform::Linux];

    pub fn key(self) -> &'static str {
        match self {
            Platform::Windows => "windows",
            Platform::Linux => "linux",
        }
    }

    /// The artifact name after `{name}-{tag}-`.
    /// The OS and architecture in artifact names (`win-x64`, `linux-x64`).
    pub fn os_arch(self) -> &'static str {
        match self {
            Platform::Windows => "win-x64",
            Platform::Linux => "linux-x64",
        }
    }

    pub fn artifact_suffix(self) -> &'static str {
        match self {
            Platform::Windows => "win-x64.zip",
            Platform::Linux => "linux-x64.tar.gz",
        }
    }

    pub fn archive_format(self) -> ArchiveFormat {
        match self {
            Platform::Windows => ArchiveFormat::Zip,
            Platform::Linux => ArchiveFormat::TarGz,
        }
    }

    /// site-packages relative to the bundle root, for CPython `X.Y`.
    pub fn site_packages(self, python_xy: &str) -> String {
        match self {
            Platform::Windows => "python/Lib/site-packages".to_owned(),
            Platform::Linux => format!("python/lib/python{python_xy}/site-packages"),
        }
    }

    /// The interpreter relative to the bundle root.
    /// Why this host cannot build `self`'s bundle, if it cannot. A Linux
    /// bundle needs a Unix host: the runtime is full of symlinks and
    /// executables that a Windows file system cannot hold, and its import
    /// check runs the Linux interpreter. Refused before any work, so no
    /// half-built tarball is left behind.
    pub fn host_cannot_build(self) -> Option<&'static str> {
        match self {
            Platform::Linux if !cfg!(unix) => Some(
                "a Linux bundle is built on a Linux host: its Python runtime holds symlinks and executables that a Windows file system cannot keep, and its import check runs the Linux interpreter",
            ),
            _ => None,
        }
    }

    pub fn python_exe(self) -> &'static str {
        match self {
            Platform::Windows => "python/python.exe",
            Platform::Linux => "python/bin/python3",
        }
    }

    /// Suffixes of native extension modules and libraries.
    pub fn native_suffixes(self) -> &'static [&'static str] {
        match self {
            Platform::Windows => &[".pyd", ".dll"],
            Platform::Linux => &[".so"],
        }
    }

    /// Whether a wheel's platform tag can run on this platform (`py3-none-any` fits all).
    pub fn accepts_wheel_platform_tag(self, tag: &str) -> bool {
        tag.split('.').any(|t| match self {
            Platform::Windows => t == "any" || t == "win_amd64",
            Platform::Linux => {
                t == "any"
                    || t == "linux_x86_64"
                    || ((t.starts_with("manylinux") || t.starts_with("musllinux"))
                        && t.ends_with("_x86_64"))
            }
        })
    }
}

/// The Y of the `x86_64-manylinux_2_Y` platforms uv's `--python-platform`
/// knows; it refuses the others.
pub const UV_MANYLINUX_2_MINORS: &[u32] = &[17, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40];

/// Whether `platform` (`linux.platform`) names a target a Linux bundle can
/// be built for: x86_64 with glibc, as the bundled CPython is, in a name
/// uv's `--python-platform` reads (`x86_64-manylinux_2_Y` for a Y of
/// [`UV_MANYLINUX_2_MINORS`], `x86_64-manylinux2014`,
/// `x86_64-unknown-linux-gnu`, `linux`), each with the glibc
/// [`manylinux_glibc`] gives maturin's `--compatibility`.
pub fn is_linux_target(platform: &str) -> bool {
    matches!(
        platform,
        "linux" | "x86_64-unknown-linux-gnu" | "x86_64-manylinux2014"
    ) || platform
        .strip_prefix("x86_64-manylinux_2_")
        .is_some_and(|y| {
            UV_MANYLINUX_2_MINORS
                .iter()
                .any(|known| y == known.to_string())
        })
}

/// The newest `linux.platform` ([`is_linux_target`]) whose glibc is at most
/// `major.minor`: what a host with that glibc builds for without zig.
pub fn linux_target_for_glibc(major: u32, minor: u32) -> Option<String> {
    (major == 2)
        .then(|| UV_MANYLINUX_2_MINORS.iter().rev().find(|&&y| y <= minor))
        .flatten()
        .map(|y| format!("x86_64-manylinux_2_{y}"))
}

/// `(X, Y)` of a manylinux platform or tag (`x86_64-manylinux_2_28`,
/// `manylinux_2_17_x86_64`, `manylinux2014`), or of `x86_64-unknown-linux-gnu`
/// (uv reads it as manylinux_2_17).
pub fn manylinux_glibc(platform: &str) -> Option<(u32, u32)> {
    if platform == "x86_64-unknown-linux-gnu" || platform == "linux" {
        return Some((2, 17));
    }
    let rest = &platform[platform.find("manylinux")? + "manylinux".len()..];
    for (legacy, v) in [("2014", (2, 17)), ("2010", (2, 12)), ("1", (2, 5))] {
        if rest == legacy
            || rest.strip_prefix(legacy).is_some_and(|r| {
                r.starts_with('_') && !r[1..].starts_with(|c: char| c.is_ascii_digit())
            })
        {
            return Some(v);
        }
    }
    let mut it = rest.strip_prefix('_')?.split('_');
    let x = it.next()?.parse().ok()?;
    let y = it.next()?.parse().ok()?;
    Some((x, y))
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl std::str::FromStr for Platform {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "windows" | "win" => Ok(Platform::Windows),
            "linux" => Ok(Platform::Linux),
            other => Err(format!(
                "unknown target `{other}` (expected windows or linux)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What uv and maturin both read is a target; a tag spelling
    /// (`manylinux_2_28_x86_64`), a glibc uv has no name for, another
    /// architecture or musl is not.
    #[test]
    fn linux_targets_are_the_x86_64_glibc_names_uv_reads() {
        for ok in [
            "x86_64-manylinux_2_28",
            "x86_64-manylinux_2_17",
            "x86_64-manylinux_2_31",
            "x86_64-manylinux_2_40",
            "x86_64-manylinux2014",
            "x86_64-unknown-linux-gnu",
            "linux",
        ] {
            assert!(is_linux_target(ok), "{ok} refused");
            assert!(manylinux_glibc(ok).is_some(), "{ok}: no glibc for maturin");
        }
        for bad in [
            "",
            "manylinux_2_28_x86_64",
            "manylinux2014_x86_64",
            "manylinux_2_28",
            "x86_64-manylinux_2_24",
            "x86_64-manylinux_2_41",
            "x86_64-manylinux_2_028",
            "x86_64-manylinux_2_+28",
            "x86_64-manylinux_2_28 ",
            "x86_64-manylinux1",
            "aarch64-manylinux_2_28",
            "x86_64-unknown-linux-musl",
            "linux_x86_64",
            "x86_64-pc-windows-msvc",
            "Linux",
            "--help",
        ] {
            assert!(!is_linux_target(bad), "{bad} accepted");
        }
    }

    /// Every `x86_64-manylinux_2_Y` the config accepts is one the uv on
    /// this machine lists for `--python-platform`: a uv that drops one
    /// fails here, not in a user's build.
    #[test]
    fn the_manylinux_platforms_accepted_are_ones_uv_lists() {
        let out = std::process::Command::new("uv")
            .args(["pip", "compile", "--help"])
            .output()
            .expect("uv is needed by this test (run .ci/install-tools)");
        assert!(out.status.success(), "{out:?}");
        let help = String::from_utf8_lossy(&out.stdout);
        for y in UV_MANYLINUX_2_MINORS {
            let name = format!("x86_64-manylinux_2_{y}");
            assert!(
                help.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                    .any(|w| w == name),
                "uv does not list {name}"
            );
        }
    }

    #[test]
    fn a_hosts_glibc_names_a_target_uv_reads() {
        for (glibc, want) in [
            ((2, 36), Some("x86_64-manylinux_2_36")),
            ((2, 28), Some("x86_64-manylinux_2_28")),
            ((2, 30), Some("x86_64-manylinux_2_28")),
            ((2, 45), Some("x86_64-manylinux_2_40")),
            ((2, 12), None),
            ((3, 1), None),
        ] {
            let got = linux_target_for_glibc(glibc.0, glibc.1);
            assert_eq!(got.as_deref(), want, "{glibc:?}");
            assert!(got.as_deref().is_none_or(is_linux_target));
        }
    }

    #[test]
    fn wheel_tags() {
        assert!(Platform::Windows.accepts_wheel_platform_tag("win_amd64"));
        assert!(Platform::Windows.accepts_wheel_platform_tag("any"));
        assert!(!Platform::Windows
            .accepts_wheel_platform_tag("manylinux_2_17_x86_64.manylinux2014_x86_64"));
        assert!(Platform::Linux
            .accepts_wheel_platform_tag("manylinux_2_17_x86_64.manylinux2014_x86_64"));
        assert!(!Platform::Linux.accepts_wheel_platform_tag("win_amd64"));
    }
}
