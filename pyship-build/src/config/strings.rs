//! Rules for the strings of a pyship table that end up in generated files
//! (launchers, unit, installer script, workflows) or in the arguments of the
//! tools pyship runs: what no target language can carry, and what a tool
//! would refuse or read as something else, is refused here, with the key and
//! a hint, before anything is built. Everything else is escaped by the
//! template filters.

use super::RawConfig;

/// A refused value: the key (dotted path), why, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub key: String,
    pub message: String,
    pub hint: String,
}

/// Whether `s` has a character that starts a new line or is a control
/// character (C0, DEL, C1, U+2028, U+2029).
pub fn has_control(s: &str) -> bool {
    s.chars()
        .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
}

/// A user name systemd accepts in `User=` without warning (and every
/// shell, unquoted): `[A-Za-z_][A-Za-z0-9_-]*`, at most 31 characters,
/// or a numeric UID below 4294967295.
pub fn valid_user(s: &str) -> bool {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.len() <= 10 && s.parse::<u64>().is_ok_and(|n| n < u64::from(u32::MAX));
    }
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 31
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
}

/// An environment variable name as shells and CI systems accept it:
/// `[A-Za-z_][A-Za-z0-9_]*`.
pub fn valid_env_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// A PEP 508 project or extra name: ASCII letters and digits, with `-`,
/// `_`, `.` inside.
pub fn valid_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// A Debian package name (Debian Policy 5.6.1): at least two of lowercase
/// letters, digits, `+`, `-` and `.`, starting with a letter or digit.
pub fn valid_debian_package(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"+.-".contains(c))
}

/// One relation of a binary package's `Depends:` as dpkg parses it:
/// alternatives `a | b`, each a package name (`[a-z0-9][a-z0-9+.-]+`), an
/// optional `:arch` qualifier and an optional `(op version)`. Source-only
/// syntax (`[arch]`, `<profile>`), substitutions (`${…}`), commas and
/// control characters are refused: dpkg cannot read the package they make.
pub fn valid_debian_relation(s: &str) -> bool {
    let arch = |a: &str| {
        !a.is_empty()
            && a.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    };
    let version = |v: &str| {
        !v.is_empty()
            && v.as_bytes()[0].is_ascii_digit()
            && v.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b".+~:-".contains(&c))
    };
    let one = |alt: &str| {
        let alt = alt.trim();
        let (head, constraint) = match alt.split_once('(') {
            Some((h, rest)) => match rest.trim_end().strip_suffix(')') {
                Some(c) => (h.trim_end(), Some(c.trim())),
                None => return false,
            },
            None => (alt, None),
        };
        let (pkg, qualifier) = match head.split_once(':') {
            Some((p, a)) => (p, Some(a)),
            None => (head, None),
        };
        let constraint_ok = constraint.is_none_or(|c| {
            ["<<", "<=", ">=", ">>", "="]
                .iter()
                .find_map(|op| c.strip_prefix(op))
                .is_some_and(|v| version(v.trim()))
        });
        valid_debian_package(pkg) && qualifier.is_none_or(arch) && constraint_ok
    };
    !s.chars().any(|c| c.is_control() || c == ',') && s.split('|').all(one)
}

/// Whether `image` is a repository name by Docker's reference grammar,
/// without a tag or digest: an optional registry `host[:port]` (told apart
/// as [`image_registry`] does), then `/`-separated path components of
/// lowercase letters and digits joined by `.`, `_`, `__` or runs of `-`.
/// Why so strict: the name is an argument of `docker push`, so `-x` or
/// `--help` would be read as an option, and `.` or `a/../b` are names no
/// registry holds.
pub fn valid_image_name(image: &str) -> bool {
    let path = match image.split_once('/') {
        Some((host, path)) if image_registry(image).is_some() => {
            if !is_registry(host) {
                return false;
            }
            path
        }
        _ => image,
    };
    path.split('/').all(is_path_component)
}

/// The registry host of `image`: its first component when it looks like a
/// host (has a `.` or `:`, or is `localhost`), as docker decides.
pub fn image_registry(image: &str) -> Option<String> {
    let (first, _) = image.split_once('/')?;
    (first.contains('.') || first.contains(':') || first == "localhost").then(|| first.to_owned())
}

/// `host[:port]`: dot-separated labels of letters, digits and inner `-`,
/// then an optional port of digits.
fn is_registry(s: &str) -> bool {
    let (host, port) = match s.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    let label = |l: &str| {
        let b = l.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
    };
    // Lowercase only: docker refuses an upper-case repository name, and
    // a host is matched without case anyway.
    !host.bytes().any(|b| b.is_ascii_uppercase())
        && host.split('.').all(label)
        && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `[a-z0-9]+ (sep [a-z0-9]+)*` with `sep` one of `.`, `_`, `__`, `-+`.
fn is_path_component(s: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let b = s.as_bytes();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &s[start..i];
        if !(matches!(sep, "." | "_" | "__") || sep.bytes().all(|c| c == b'-')) {
            return false;
        }
    }
    true
}

fn refused(key: &str, message: impl Into<String>, hint: impl Into<String>) -> Refused {
    Refused {
        key: key.to_owned(),
        message: message.into(),
        hint: hint.into(),
    }
}

/// The first string of `value` (the table as cargo gave it) holding a
/// NUL, by its dotted key.
fn find_nul(value: &serde_json::Value, path: &str) -> Option<String> {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_owned()
        } else {
            format!("{path}.{k}")
        }
    };
    match value {
        serde_json::Value::String(s) if s.contains('\0') => Some(path.to_owned()),
        serde_json::Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, v)| find_nul(v, &format!("{path}[{i}]"))),
        serde_json::Value::Object(o) => o.iter().find_map(|(k, v)| find_nul(v, &join(k))),
        _ => None,
    }
}

/// Check every rule; the first refused value wins.
pub fn check(value: &serde_json::Value, raw: &RawConfig) -> Result<(), Refused> {
    if let Some(key) = find_nul(value, "") {
        return Err(refused(
            &key,
            "holds a NUL character, which no generated file (script, unit, installer) can carry",
            "remove the \\u0000 from the value",
        ));
    }
    let display = [
        ("name", raw.name.as_deref()),
        (
            "windows.publisher",
            raw.windows.as_ref().and_then(|w| w.publisher.as_deref()),
        ),
    ];
    for (key, v) in display {
        if v.is_some_and(has_control) {
            return Err(refused(
                key,
                "holds a line break or another control character; it is shown on one line (installer title, Add/Remove Programs, the systemd unit's Description=)",
                "write the value on one line, without control characters",
            ));
        }
        if v.is_some_and(|s| s.ends_with("$\\")) {
            return Err(refused(
                key,
                "ends in `$\\`, which the Windows installer's script (NSIS) reads as an escaped quote",
                "end the value with another character",
            ));
        }
    }
    if let Some(user) = raw.linux.as_ref().and_then(|l| l.user.as_deref()) {
        if !user.trim().is_empty() && !valid_user(user) {
            return Err(refused(
                "linux.user",
                format!("{user:?} is not a user name systemd's User= accepts"),
                "use a user name of ASCII letters, digits, `_` and `-` (not starting with a digit or `-`, at most 31 characters), or a numeric UID",
            ));
        }
    }
    if let Some(image) = raw.docker.as_ref().and_then(|d| d.image.as_deref()) {
        if !image.trim().is_empty() && !valid_image_name(image) {
            return Err(refused(
                "docker.image",
                format!("{image:?} is not a Docker image name (docker would refuse it, or read it as an option)"),
                "use `[registry/]owner/name` in lowercase letters and digits, each part starting and ending with one and joined by `.`, `_` or `-`, without a tag or digest (e.g. \"ghcr.io/acme/app\")",
            ));
        }
    }
    if let Some(platform) = raw.linux.as_ref().and_then(|l| l.platform.as_deref()) {
        if !platform.trim().is_empty() && !crate::platform::is_linux_target(platform) {
            let minors: Vec<String> = crate::platform::UV_MANYLINUX_2_MINORS
                .iter()
                .map(u32::to_string)
                .collect();
            return Err(refused(
                "linux.platform",
                format!("{platform:?} is not an x86_64 glibc platform by a name uv's --python-platform reads (the Linux bundle's CPython is x86_64 with glibc; its wheels are resolved by uv and built by maturin for that platform)"),
                format!(
                    "use \"x86_64-manylinux_2_Y\", Y the oldest glibc minor version of the target machines ({}: uv knows no other), \"x86_64-manylinux2014\" or \"x86_64-unknown-linux-gnu\"; remove the key for the default, \"{}\"",
                    minors.join(", "),
                    super::DEFAULT_LINUX_PLATFORM
                ),
            ));
        }
    }
    let envs = [
        (
            "publish.token-env",
            raw.publish.as_ref().and_then(|p| p.token_env.as_deref()),
        ),
        (
            "update.token-env",
            raw.update.as_ref().and_then(|u| u.token_env.as_deref()),
        ),
        (
            "update.signing-key-env",
            raw.update
                .as_ref()
                .and_then(|u| u.signing_key_env.as_deref()),
        ),
        (
            "update.signing-password-env",
            raw.update
                .as_ref()
                .and_then(|u| u.signing_password_env.as_deref()),
        ),
        (
            "windows.sign.pkcs12-env",
            raw.windows
                .as_ref()
                .and_then(|w| w.sign.as_ref())
                .and_then(|s| s.pkcs12_env.as_deref()),
        ),
        (
            "windows.sign.password-env",
            raw.windows
                .as_ref()
                .and_then(|w| w.sign.as_ref())
                .and_then(|s| s.password_env.as_deref()),
        ),
    ];
    for (key, v) in envs {
        if let Some(v) = v.filter(|v| !v.trim().is_empty()) {
            if !valid_env_name(v) {
                return Err(refused(
                    key,
                    format!("{v:?} is not an environment variable name"),
                    "name the variable with ASCII letters, digits and `_`, not starting with a digit (e.g. DEPLOY_TOKEN)",
                ));
            }
        }
    }
    let extras = [
        ("extras", raw.extras.as_ref()),
        (
            "windows.extras",
            raw.windows.as_ref().and_then(|w| w.extras.as_ref()),
        ),
        (
            "linux.extras",
            raw.linux.as_ref().and_then(|l| l.extras.as_ref()),
        ),
    ];
    for (key, list) in extras {
        if let Some(bad) = list.into_iter().flatten().find(|e| !valid_name(e)) {
            return Err(refused(
                key,
                format!("{bad:?} is not an extra name"),
                "use the extra's name as [project.optional-dependencies] spells it: ASCII letters, digits, and `-`, `_`, `.` inside",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What dpkg reads in a binary package's `Depends:` is accepted; what
    /// only a source package may carry, or dpkg refuses, is not.
    #[test]
    fn debian_relations_are_what_dpkg_reads() {
        for ok in [
            "adduser",
            "libfoo1 (>= 1.2)",
            "libssl3 | libssl1.1",
            "python3:any",
            "libc6 (>= 2.31-0ubuntu1)",
            "a1 (= 1:2.0~rc1+dfsg-3)",
            " libx11-6 (<< 2) | libx11-dev ",
        ] {
            assert!(valid_debian_relation(ok), "{ok:?} refused");
        }
        for bad in [
            "x (>= 1) [amd64]",
            "y <!nocheck>",
            "${shlibs:Depends}",
            "Foo",
            "a",
            "a (>= )",
            "a (~ 1)",
            "a (>= 1",
            "a, b",
            "",
            "a |",
            "ab\nEvil: x",
        ] {
            assert!(!valid_debian_relation(bad), "{bad:?} accepted");
        }
    }

    /// `docker.image` follows Docker's reference grammar: a name that
    /// `docker push` would read as an option (`-x`, `--help`) or that no
    /// registry holds (`.`, `a/../b`) is refused.
    #[test]
    fn image_names_follow_the_docker_reference_grammar() {
        for ok in [
            "ghcr.io/o/app",
            "localhost:5000/a-b/c_d",
            "registry.example.com/x",
            "app",
            "o/app",
            "a__b/c.d/e---f",
            "127.0.0.1:5000/x",
            "my-registry.example:443/team/app2",
        ] {
            assert!(valid_image_name(ok), "{ok} refused");
        }
        for bad in [
            "-x",
            "--help",
            ".",
            "-",
            "..",
            "a/../b",
            "a/./b",
            "o/-app",
            "o/.app",
            "o/app-",
            "o/app.",
            "a._b",
            "a___b",
            "UPPER/x",
            "Ghcr.IO/o/app",
            "a//b",
            "/a",
            "a/",
            "",
            ":tag",
            "o/app:tag",
            "o/app@sha256:00",
            "localhost:/x",
            "localhost:50a0/x",
            "-host.example/x",
            "host-.example/x",
            "host..example/x",
            "localhost:5000",
        ] {
            assert!(!valid_image_name(bad), "{bad} accepted");
        }
    }

    #[test]
    fn an_image_registry_is_its_first_component_when_host_like() {
        assert_eq!(
            image_registry("gitea.example.com/o/app").as_deref(),
            Some("gitea.example.com")
        );
        assert_eq!(
            image_registry("localhost:5000/app").as_deref(),
            Some("localhost:5000")
        );
        assert_eq!(image_registry("owner/app"), None);
        assert_eq!(image_registry("app"), None);
    }
}
