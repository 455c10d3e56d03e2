//! Placing tkinter's files in the bundled runtime, found by name whatever
//! the source: `_tkinter.pyd` and the DLLs it imports next to `python.exe`
//! (refused when built for another CPython), the Tcl/Tk library under
//! `python/tcl/`, the package under `python/Lib/` (added to the `._pth`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::Error;
use crate::plan::PythonVersion;

/// What [`place`] put into the runtime.
pub(super) struct Placed {
    pub(super) files: u64,
    pub(super) bytes: u64,
    /// Whether the `tkinter` package was among the files.
    pub(super) package: bool,
}

/// Copy a file or a tree; returns (files, bytes).
pub(super) fn copy(from: &Path, to: &Path) -> Result<(u64, u64), Error> {
    let place = |source| Error::Place {
        path: to.to_owned(),
        source,
    };
    let files = crate::fs::copy_tree(from, to).map_err(place)?;
    let bytes = walkdir::WalkDir::new(to)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    Ok((files, bytes))
}

/// Every file below `root` by lower-case name (sorted paths, so the choice is stable).
fn files_by_name(root: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    let mut map: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for e in walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
    {
        map.entry(e.file_name().to_string_lossy().to_ascii_lowercase())
            .or_default()
            .push(e.into_path());
    }
    map
}

/// The folder of the `tkinter` package (the `tkinter` folder with an `__init__.py`).
pub(super) fn find_package(root: &Path) -> Option<PathBuf> {
    files_by_name(root)
        .get("__init__.py")?
        .iter()
        .filter_map(|p| p.parent())
        .find(|d| d.file_name().is_some_and(|n| n == "tkinter"))
        .map(Path::to_owned)
}

fn imports_of(path: &Path, origin: &str) -> Result<Vec<String>, Error> {
    let bytes = fs_err::read(path)?;
    crate::pe::imports(&bytes).map_err(|e| Error::Archive {
        path: PathBuf::from(format!("{} in {origin}", path.display())),
        source: Box::new(e),
    })
}

/// Find tkinter's files below `root` by name and copy them into `python_dir`.
pub(super) fn place(
    root: &Path,
    python_dir: &Path,
    v: &PythonVersion,
    origin: &str,
) -> Result<Placed, Error> {
    let by_name = files_by_name(root);
    let missing = |what: &str| Error::Missing {
        origin: origin.to_owned(),
        what: what.to_owned(),
    };
    let pyd = by_name
        .get("_tkinter.pyd")
        .and_then(|v| v.first())
        .ok_or_else(|| missing("_tkinter.pyd"))?
        .clone();
    let pyd_imports = imports_of(&pyd, origin)?;
    let want = format!("python{}.dll", v.nodot);
    if !pyd_imports.iter().any(|i| i.eq_ignore_ascii_case(&want)) {
        let found = pyd_imports
            .iter()
            .find(|i| {
                let l = i.to_ascii_lowercase();
                l.starts_with("python3") && l.ends_with(".dll") && l != "python3.dll"
            })
            .map(|i| format!("CPython of {i}"))
            .unwrap_or_else(|| {
                format!("no CPython it names (imports: {})", pyd_imports.join(", "))
            });
        return Err(Error::PythonMismatch {
            file: "_tkinter.pyd".into(),
            origin: origin.to_owned(),
            found,
            expected: v.full.clone(),
            nodot: v.nodot.clone(),
        });
    }
    // The DLLs the extension needs that the source ships, transitively.
    let mut chosen: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut queue: Vec<String> = pyd_imports;
    let mut seen = BTreeSet::new();
    while let Some(name) = queue.pop() {
        let lower = name.to_ascii_lowercase();
        if !seen.insert(lower.clone()) {
            continue;
        }
        match by_name.get(&lower).and_then(|v| v.first()) {
            Some(p) => {
                queue.extend(imports_of(p, origin)?);
                chosen.insert(lower, p.clone());
            }
            // System DLLs and python3XY.dll are not in the source; Tcl and Tk must be.
            None if lower.starts_with("tcl") || lower.starts_with("tk") => {
                return Err(missing(&name))
            }
            None => {}
        }
    }
    let mut placed = Placed {
        files: 0,
        bytes: 0,
        package: false,
    };
    let mut add = |(n, b): (u64, u64)| {
        placed.files += n;
        placed.bytes += b;
    };
    add(copy(&pyd, &python_dir.join("_tkinter.pyd"))?);
    for p in chosen.values() {
        let name = p.file_name().expect("a file has a name");
        add(copy(p, &python_dir.join(name))?);
    }
    // The Tcl library: the folder with init.tcl; Tk's is its sibling with tk.tcl.
    let tcl_lib = by_name
        .get("init.tcl")
        .and_then(|v| v.iter().find_map(|p| p.parent()))
        .ok_or_else(|| missing("tcl8.x/init.tcl"))?;
    let tcl_root = tcl_lib.parent().ok_or_else(|| missing("tcl/"))?;
    let has_tk = by_name.get("tk.tcl").is_some_and(|v| {
        v.iter()
            .any(|p| p.parent().and_then(Path::parent) == Some(tcl_root))
    });
    if !has_tk {
        return Err(missing("tk8.x/tk.tcl beside the Tcl library"));
    }
    add(copy(tcl_root, &python_dir.join("tcl"))?);
    if let Some(pkg) = find_package(root) {
        add(copy(&pkg, &python_dir.join("Lib").join("tkinter"))?);
        placed.package = true;
    }
    Ok(placed)
}

/// `Lib` (where the `tkinter` package is) on the `._pth`, before `Lib\site-packages`.
pub(super) fn add_lib_to_pth(python_dir: &Path, v: &PythonVersion) -> Result<(), Error> {
    let pth = python_dir.join(format!("python{}._pth", v.nodot));
    let text = fs_err::read_to_string(&pth)?;
    let patched = pth_with_lib(&text);
    if patched != text {
        crate::fs::atomic_write(&pth, patched.as_bytes()).map_err(|source| Error::Place {
            path: pth.clone(),
            source,
        })?;
    }
    Ok(())
}

/// The `._pth` text with a `Lib` line before `Lib\site-packages` (idempotent).
pub fn pth_with_lib(text: &str) -> String {
    if text.lines().any(|l| l.trim() == "Lib") {
        return text.to_owned();
    }
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.trim() == "Lib\\site-packages")
        .unwrap_or(lines.len());
    lines.insert(at, "Lib");
    let mut out = lines.join(eol);
    out.push_str(eol);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pth_gets_lib_before_site_packages_once() {
        let pth = "python311.zip\r\n.\r\nLib\\site-packages\r\n..\\app\\src\r\n\r\nimport site\r\n";
        let out = pth_with_lib(pth);
        assert_eq!(
            out,
            "python311.zip\r\n.\r\nLib\r\nLib\\site-packages\r\n..\\app\\src\r\n\r\nimport site\r\n"
        );
        assert_eq!(pth_with_lib(&out), out);
    }
}
