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

fn u16_at(b: &[u8], at: usize) -> Result<u16, NotPe> {
    b.get(at..at + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or(NotPe("truncated"))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, NotPe> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or(NotPe("truncated"))
}

/// The names of the DLLs `bytes` (a whole PE image file) imports, in table order.
pub fn imports(bytes: &[u8]) -> Result<Vec<String>, NotPe> {
    if bytes.get(0..2) != Some(b"MZ") {
        return Err(NotPe("no MZ header"));
    }
    let pe = u32_at(bytes, 0x3c)? as usize;
    if bytes.get(pe..pe + 4) != Some(b"PE\0\0") {
        return Err(NotPe("no PE signature"));
    }
    let coff = pe + 4;
    let sections = u16_at(bytes, coff + 2)? as usize;
    let opt_size = u16_at(bytes, coff + 16)? as usize;
    let opt = coff + 20;
    // Data directories start at 96 (PE32) or 112 (PE32+); entry 1 is the import table.
    let dirs = match u16_at(bytes, opt)? {
        0x10b => opt + 96,
        0x20b => opt + 112,
        _ => return Err(NotPe("unknown optional header")),
    };
    let import_rva = u32_at(bytes, dirs + 8)?;
    if import_rva == 0 {
        return Ok(Vec::new());
    }
    let table = opt + opt_size;
    let mut map = Vec::with_capacity(sections);
    for i in 0..sections {
        let s = table + i * 40;
        let vsize = u32_at(bytes, s + 8)?;
        let va = u32_at(bytes, s + 12)?;
        let raw_size = u32_at(bytes, s + 16)?;
        let raw = u32_at(bytes, s + 20)?;
        map.push((va, vsize.max(raw_size), raw));
    }
    let offset = |rva: u32| -> Result<usize, NotPe> {
        map.iter()
            .find(|(va, size, _)| rva >= *va && rva < va.saturating_add(*size))
            .map(|(va, _, raw)| (rva - va + raw) as usize)
            .ok_or(NotPe("import table outside every section"))
    };
    let mut names = Vec::new();
    let mut desc = offset(import_rva)?;
    loop {
        // IMAGE_IMPORT_DESCRIPTOR: 20 bytes; Name RVA at 12; all zero ends the table.
        let name_rva = u32_at(bytes, desc + 12)?;
        let thunk = u32_at(bytes, desc + 16)?;
        if name_rva == 0 && thunk == 0 {
            break;
        }
        let at = offset(name_rva)?;
        let end = bytes[at..]
            .iter()
            .position(|&b| b == 0)
            .ok_or(NotPe("unterminated DLL name"))?;
        names.push(String::from_utf8_lossy(&bytes[at..at + end]).into_owned());
        desc += 20;
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
