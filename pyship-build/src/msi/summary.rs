//! The MSI's summary information, rewritten in place: wixl takes the
//! package code from a random GUID and both times from the clock; the
//! package code and times derived from the inputs replace them, each value
//! keeping its size, so the property set's layout does not change.

use std::collections::BTreeMap;
use std::path::Path;

use super::Error;

/// Summary information property ids (MS-OLEPS / Windows Installer).
const PID_REVNUMBER: u32 = 9;
const PID_CREATE_DTM: u32 = 12;
const PID_LASTSAVE_DTM: u32 = 13;
const VT_LPSTR: u32 = 30;
const VT_FILETIME: u32 = 64;

/// Write the package code and both times of the summary information of the
/// MSI at `path`, in place (each value keeps its size: the stream's layout
/// does not change).
pub fn set_summary(path: &Path, package_code: &str, secs: u64) -> Result<(), Error> {
    use std::io::{Read, Seek, SeekFrom, Write};
    let err = |message: String| Error::Summary {
        path: path.to_owned(),
        message,
    };
    let mut comp = cfb::open_rw(path).map_err(|e| err(e.to_string()))?;
    let name = "\u{5}SummaryInformation";
    let mut bytes = Vec::new();
    comp.open_stream(name)
        .and_then(|mut s| s.read_to_end(&mut bytes))
        .map_err(|e| err(e.to_string()))?;
    let props = properties(&bytes).ok_or_else(|| err("malformed property set".into()))?;
    let filetime = (secs + 11_644_473_600) * 10_000_000;
    let mut patch: Vec<(usize, Vec<u8>)> = Vec::new();
    for (id, offset) in props {
        let kind = read_u32(&bytes, offset).ok_or_else(|| err("truncated property".into()))?;
        match (id, kind) {
            (PID_REVNUMBER, VT_LPSTR) => {
                let len = read_u32(&bytes, offset + 4).unwrap_or(0) as usize;
                let mut value = package_code.as_bytes().to_vec();
                value.push(0);
                if value.len() != len {
                    return Err(err(format!(
                        "the revision number holds {len} bytes, not a GUID's {}",
                        value.len()
                    )));
                }
                patch.push((offset + 8, value));
            }
            (PID_CREATE_DTM | PID_LASTSAVE_DTM, VT_FILETIME) => {
                patch.push((offset + 4, filetime.to_le_bytes().to_vec()));
            }
            _ => {}
        }
    }
    if patch.len() != 3 {
        return Err(err(format!(
            "expected the revision number and two times, found {} of them",
            patch.len()
        )));
    }
    for (at, value) in patch {
        if at + value.len() > bytes.len() {
            return Err(err("a value runs past the stream".into()));
        }
        bytes[at..at + value.len()].copy_from_slice(&value);
    }
    let mut stream = comp.open_stream(name).map_err(|e| err(e.to_string()))?;
    stream
        .seek(SeekFrom::Start(0))
        .and_then(|_| stream.write_all(&bytes))
        .and_then(|_| stream.flush())
        .map_err(|e| err(e.to_string()))?;
    drop(stream);
    comp.flush().map_err(|e| err(e.to_string()))?;
    Ok(())
}

fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// (property id, offset of its value) of the first property set of a
/// property-set stream.
fn properties(b: &[u8]) -> Option<BTreeMap<u32, usize>> {
    // Header: byte order, version, system id, class id (28 bytes), then the
    // count of sets and (FMTID, offset) of each.
    if read_u32(b, 24)? < 1 {
        return None;
    }
    let section = read_u32(b, 28 + 16)? as usize;
    let count = read_u32(b, section + 4)? as usize;
    let mut out = BTreeMap::new();
    for i in 0..count.min(4096) {
        let id = read_u32(b, section + 8 + i * 8)?;
        let offset = read_u32(b, section + 12 + i * 8)? as usize;
        out.insert(id, section + offset);
    }
    Some(out)
}
