//! File names derived from the app's display name.
//!
//! `name` in the config is a display name ("Hello App"): the installer's title,
//! the Add/Remove Programs entry, release names. Every file or folder the tool
//! creates from it (the portable zip's top folder, the Linux tarball's folder,
//! the install folder, shortcuts, the systemd unit, the artifact prefix) uses
//! the one name [`file_name`] derives, so they always agree.
//!
//! The derivation keeps ASCII letters, digits, `-`, `_` and `.`, and turns a
//! space into `-`. Anything else is refused rather than dropped or replaced:
//! a lossy mapping would let two display names ("App!" and "App?") collide
//! silently on the same folder and unit. The only names that share a file name
//! are those that differ by a space against a `-`. A display name that cannot
//! be derived is an error whose hint points at `file-name`, which sets the file
//! name explicitly (it must already be a valid one).
//!
//! What a valid file name is: 1 to [`MAX_LEN`] characters of the set above, not
//! starting with `.` or `-` (hidden files, command-line options), not ending
//! with `.` (Windows drops it), not a Windows device name (`CON`, `NUL`,
//! `COM1`, ... with or without an extension). Such a name is a valid file name
//! on Windows and Linux and a valid systemd unit name prefix, and it can never
//! be `.`, `..` or contain a path separator.

/// Longest file name derived (the install path and `{name}-{tag}-setup.exe`
/// must stay far below Windows' 260-character path limit).
pub const MAX_LEN: usize = 64;

/// Windows device names, refused with or without an extension.
const RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM0", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7",
    "COM8", "COM9", "LPT0", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
    "CONIN$", "CONOUT$",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error("`{key} = {input:?}` cannot be used for file names: {reason}")]
    #[diagnostic(help("{}", unsafe_hint(.key, .table)))]
    Unsafe {
        /// `name` or `file-name`.
        key: &'static str,
        input: String,
        reason: String,
        /// The pyship table in use (`package.metadata.pyship`), for the hint.
        table: &'static str,
    },
}

fn unsafe_hint(key: &str, table: &str) -> String {
    if key == "name" {
        format!(
            "keep `name` as the display name and set `file-name = \"...\"` in [{table}] \
             (1-{MAX_LEN} ASCII letters, digits, `-`, `_`, `.`), or use only those characters and spaces in `name`"
        )
    } else {
        format!(
            "use 1-{MAX_LEN} ASCII letters, digits, `-`, `_` and `.`, not starting with `.` or `-`, \
             not ending with `.`, not a Windows device name (CON, NUL, COM1, ...)"
        )
    }
}

/// The file name for the display name `name`: spaces become `-`, everything
/// else must already be allowed (see the module docs).
/// `table` is the pyship table in use, named by the error's hint.
pub fn file_name(name: &str, table: &'static str) -> Result<String, Error> {
    let derived: String = name.trim_matches(' ').replace(' ', "-");
    validate(&derived).map_err(|reason| Error::Unsafe {
        key: "name",
        input: name.to_owned(),
        reason,
        table,
    })?;
    Ok(derived)
}

/// Check an explicit `file-name` (no derivation: it must be valid as given).
pub fn explicit_file_name(value: &str, table: &'static str) -> Result<String, Error> {
    validate(value).map_err(|reason| Error::Unsafe {
        key: "file-name",
        input: value.to_owned(),
        reason,
        table,
    })?;
    Ok(value.to_owned())
}

/// `Ok` when `s` is a valid file name, else why not.
pub fn validate(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("it is empty".into());
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "{} is not allowed (only ASCII letters, digits, `-`, `_` and `.`)",
            describe(c)
        ));
    }
    if s.chars().count() > MAX_LEN {
        return Err(format!(
            "it is {} characters long (at most {MAX_LEN})",
            s.chars().count()
        ));
    }
    if s.starts_with(['.', '-']) {
        return Err("it starts with `.` or `-`".into());
    }
    if s.ends_with('.') {
        return Err("it ends with `.` (Windows drops a trailing dot)".into());
    }
    let stem = s.split('.').next().unwrap_or(s);
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(stem)) {
        return Err(format!("`{stem}` is a reserved device name on Windows"));
    }
    Ok(())
}

fn describe(c: char) -> String {
    if c.is_control() {
        format!("the control character U+{:04X}", c as u32)
    } else {
        format!("the character `{c}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Hint;

    const T: &str = "package.metadata.pyship";

    #[test]
    fn spaces_become_dashes_and_safe_names_pass() {
        assert_eq!(file_name("Hello App", T).unwrap(), "Hello-App");
        assert_eq!(file_name("ledgrab.server", T).unwrap(), "ledgrab.server");
        assert_eq!(file_name("my_app-2", T).unwrap(), "my_app-2");
        assert_eq!(file_name("  padded  ", T).unwrap(), "padded");
    }

    #[test]
    fn unsafe_names_are_refused() {
        for bad in [
            "",
            "   ",
            "../evil",
            "../../../../victim",
            "a/b",
            "a\\b",
            "C:",
            "say \"hi\"",
            "CON",
            "con.app",
            "Nul",
            "LPT1",
            "tab\there",
            "nl\n",
            ".hidden",
            "..",
            ".",
            "-rf",
            "trailing.",
            "Café",
            "a|b",
            "a*b",
            "a?b",
            "a<b>",
            "$HOME",
            "a%b",
        ] {
            assert!(file_name(bad, T).is_err(), "{bad:?} accepted");
        }
        assert!(file_name(&"x".repeat(MAX_LEN + 1), T).is_err());
        assert!(file_name(&"x".repeat(MAX_LEN), T).is_ok());
    }

    #[test]
    fn explicit_names_are_not_derived() {
        assert!(explicit_file_name("Hello App", T).is_err());
        assert_eq!(explicit_file_name("hello-app", T).unwrap(), "hello-app");
    }

    #[test]
    fn the_error_names_the_key_and_points_at_file_name() {
        let e = file_name("My \"App\"", T).unwrap_err();
        assert!(e.to_string().contains("`name = \"My \\\"App\\\"\"`"), "{e}");
        assert!(e.to_string().contains("`\"`"), "{e}");
        assert!(e.hint().unwrap().contains("file-name"));
    }
}
