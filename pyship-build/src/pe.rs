//! The DLL names a Windows PE file (`.dll`, `.pyd`, `.exe`) imports.
//!
//! Why: the files a Windows extension needs are named in its import table,
//! not by a layout that may change between releases. `_tkinter.pyd` imports
//! `python3XY.dll` (which CPython X.Y it was built for) and the Tcl/Tk DLLs,
//! which import what they need in turn (e.g. `zlib.dll`). Reading the table
//! here needs no tool and works on any host.

/// Why a file's imports could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a PE file: {0}")]
pub struct NotPe(pub &'static str);

/// The names of the DLLs `bytes` (a whole PE image file) imports, in table order.
/// Parsed with the `object` crate, which checks every offset against the file:
/// a truncated or damaged file is an error, never a panic.
pub fn imports(bytes: &[u8]) -> Result<Vec<String>, NotPe> {
    use object::pe::{ImageNtHeaders32, ImageNtHeaders64};
    if bytes.get(0..2) != Some(b"MZ") {
        return Err(NotPe("no MZ header"));
    }
    match object::FileKind::parse(bytes) {
        Ok(object::FileKind::Pe64) => imports_of::<ImageNtHeaders64>(bytes),
        Ok(object::FileKind::Pe32) => imports_of::<ImageNtHeaders32>(bytes),
        _ => Err(NotPe("no PE signature")),
    }
}

fn imports_of<Pe: object::read::pe::ImageNtHeaders>(bytes: &[u8]) -> Result<Vec<String>, NotPe> {
    let file =
        object::read::pe::PeFile::<Pe>::parse(bytes).map_err(|_| NotPe("malformed PE headers"))?;
    let bad_table = |_| NotPe("malformed import table");
    let Some(table) = file.import_table().map_err(bad_table)? else {
        return Ok(Vec::new());
    };
    let mut descriptors = table.descriptors().map_err(bad_table)?;
    let mut names = Vec::new();
    while let Some(d) = descriptors.next().map_err(bad_table)? {
        let name = table
            .name(d.name.get(object::LittleEndian))
            .map_err(bad_table)?;
        names.push(String::from_utf8_lossy(name).into_owned());
        if names.len() > 4096 {
            return Err(NotPe("runaway import table"));
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_what_is_not_pe() {
        assert_eq!(imports(b"hello"), Err(NotPe("no MZ header")));
        let mut b = vec![0u8; 0x80];
        b[0] = b'M';
        b[1] = b'Z';
        b[0x3c] = 0x40;
        assert_eq!(imports(&b), Err(NotPe("no PE signature")));
    }

    /// A PE32+ image with one section holding an import table of two DLLs.
    #[test]
    fn reads_import_names() {
        let mut b = vec![0u8; 0x400];
        b[0..2].copy_from_slice(b"MZ");
        b[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        b[0x80..0x84].copy_from_slice(b"PE\0\0");
        let coff = 0x84;
        b[coff + 2..coff + 4].copy_from_slice(&1u16.to_le_bytes());
        b[coff + 16..coff + 18].copy_from_slice(&240u16.to_le_bytes());
        let opt = coff + 20;
        b[opt..opt + 2].copy_from_slice(&0x20bu16.to_le_bytes());
        // NumberOfRvaAndSizes: the 16 data directories every real image has.
        b[opt + 108..opt + 112].copy_from_slice(&16u32.to_le_bytes());
        // Import directory at RVA 0x1000.
        b[opt + 120..opt + 124].copy_from_slice(&0x1000u32.to_le_bytes());
        let sec = opt + 240;
        b[sec + 8..sec + 12].copy_from_slice(&0x200u32.to_le_bytes());
        b[sec + 12..sec + 16].copy_from_slice(&0x1000u32.to_le_bytes());
        b[sec + 16..sec + 20].copy_from_slice(&0x200u32.to_le_bytes());
        b[sec + 20..sec + 24].copy_from_slice(&0x200u32.to_le_bytes());
        // Two descriptors at file 0x200, names at RVA 0x1100 / 0x1110.
        b[0x200 + 12..0x200 + 16].copy_from_slice(&0x1100u32.to_le_bytes());
        b[0x214 + 12..0x214 + 16].copy_from_slice(&0x1110u32.to_le_bytes());
        b[0x300..0x30e].copy_from_slice(b"python311.dll\0");
        b[0x310..0x31b].copy_from_slice(b"tcl86t.dll\0");
        assert_eq!(imports(&b).unwrap(), vec!["python311.dll", "tcl86t.dll"]);
    }
}
