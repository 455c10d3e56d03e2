//! The Debian dependencies of a bundle: what its ELF files need (`DT_NEEDED`)
//! that the bundle does not carry, as Debian packages, and the highest
//! `GLIBC_x.y` symbol version they need (the `libc6` version bound).

use std::collections::BTreeSet;
use std::path::Path;

use super::{unreadable, Error};

/// Libraries every glibc system has, by soname, and the Debian package of each.
const KNOWN_LIBS: &[(&str, &str)] = &[
    ("libc.so.6", "libc6"),
    ("libm.so.6", "libc6"),
    ("libpthread.so.0", "libc6"),
    ("libdl.so.2", "libc6"),
    ("librt.so.1", "libc6"),
    ("libutil.so.1", "libc6"),
    ("libresolv.so.2", "libc6"),
    ("libnsl.so.1", "libc6"),
    ("libanl.so.1", "libc6"),
    ("ld-linux-x86-64.so.2", "libc6"),
    ("libcrypt.so.1", "libcrypt1"),
    ("libgcc_s.so.1", "libgcc-s1"),
    ("libstdc++.so.6", "libstdc++6"),
    ("libz.so.1", "zlib1g"),
    ("libexpat.so.1", "libexpat1"),
    ("libffi.so.8", "libffi8"),
    ("libbz2.so.1.0", "libbz2-1.0"),
    ("liblzma.so.5", "liblzma5"),
    ("libuuid.so.1", "libuuid1"),
    ("libsqlite3.so.0", "libsqlite3-0"),
    ("libssl.so.3", "libssl3"),
    ("libcrypto.so.3", "libssl3"),
    ("libX11.so.6", "libx11-6"),
    ("libXext.so.6", "libxext6"),
    ("libXrender.so.1", "libxrender1"),
    ("libICE.so.6", "libice6"),
    ("libSM.so.6", "libsm6"),
    ("libGL.so.1", "libgl1"),
    ("libglib-2.0.so.0", "libglib2.0-0"),
    ("libgobject-2.0.so.0", "libglib2.0-0"),
    ("libgthread-2.0.so.0", "libglib2.0-0"),
];

/// The ELF files of `dir`: what each needs (`DT_NEEDED`), what the bundle
/// provides (sonames and file names), and the highest `GLIBC_x.y` needed.
#[derive(Debug, Default)]
pub(super) struct Needs {
    pub(super) needed: BTreeSet<String>,
    pub(super) provided: BTreeSet<String>,
    pub(super) glibc: Option<(u32, u32)>,
}

pub(super) fn scan_elf(dir: &Path) -> Result<Needs, Error> {
    use object::read::elf::{ElfFile64, FileHeader};
    use object::Endianness;
    let mut needs = Needs::default();
    for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let e = e.map_err(|e| unreadable(dir, std::io::Error::other(e.to_string())))?;
        if !e.file_type().is_file() && !e.file_type().is_symlink() {
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        if name.contains(".so") {
            needs.provided.insert(name.clone());
        }
        if !e.file_type().is_file() {
            continue;
        }
        let mut head = [0u8; 4];
        {
            use std::io::Read;
            let mut f =
                fs_err::File::open(e.path()).map_err(|source| unreadable(e.path(), source))?;
            if f.read(&mut head).unwrap_or(0) < 4 || &head != b"\x7fELF" {
                continue;
            }
        }
        let data = fs_err::read(e.path()).map_err(|source| unreadable(e.path(), source))?;
        let elf_err = |message: String| Error::Elf {
            path: e.path().to_owned(),
            message,
        };
        // 32-bit or other-architecture ELF files (test data in a package)
        // are not loaded on amd64: nothing to depend on.
        let Ok(file) = ElfFile64::<Endianness>::parse(data.as_slice()) else {
            continue;
        };
        let endian = file.endian();
        let header = file.elf_header();
        let sections = header
            .sections(endian, data.as_slice())
            .map_err(|e| elf_err(e.to_string()))?;
        if let Some(soname) = dynamic_strings(&file, object::elf::DT_SONAME)
            .map_err(elf_err)?
            .into_iter()
            .next()
        {
            needs.provided.insert(soname);
        }
        needs
            .needed
            .extend(dynamic_strings(&file, object::elf::DT_NEEDED).map_err(elf_err)?);
        if let Some((mut verneeds, link)) = sections
            .gnu_verneed(endian, data.as_slice())
            .map_err(|e| elf_err(e.to_string()))?
        {
            let strings = sections
                .strings(endian, data.as_slice(), link)
                .map_err(|e| elf_err(e.to_string()))?;
            while let Some((verneed, mut aux)) =
                verneeds.next().map_err(|e| elf_err(e.to_string()))?
            {
                let _ = verneed;
                while let Some(a) = aux.next().map_err(|e| elf_err(e.to_string()))? {
                    let name = a
                        .name(endian, strings)
                        .map_err(|e| elf_err(e.to_string()))?;
                    if let Some(v) = std::str::from_utf8(name)
                        .ok()
                        .and_then(|n| n.strip_prefix("GLIBC_"))
                        .and_then(parse_xy)
                    {
                        needs.glibc = needs.glibc.max(Some(v));
                    }
                }
            }
        }
    }
    Ok(needs)
}

/// `2.17` → (2, 17); `GLIBC_PRIVATE` and the like → `None`.
fn parse_xy(s: &str) -> Option<(u32, u32)> {
    let mut parts = s.split('.');
    let x = parts.next()?.parse().ok()?;
    let y = parts.next().unwrap_or("0").parse().ok()?;
    Some((x, y))
}

/// The strings of the dynamic entries of `tag` (`DT_NEEDED`, `DT_SONAME`).
fn dynamic_strings(
    file: &object::read::elf::ElfFile64<'_, object::Endianness>,
    tag: object::elf::DynamicTag,
) -> Result<Vec<String>, String> {
    use object::read::elf::{Dyn, FileHeader, SectionHeader};
    let endian = file.endian();
    let data = file.data();
    let sections = file
        .elf_header()
        .sections(endian, data)
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for section in sections.iter() {
        let Some((entries, link)) = section.dynamic(endian, data).map_err(|e| e.to_string())?
        else {
            continue;
        };
        let strings = sections
            .strings(endian, data, link)
            .map_err(|e| e.to_string())?;
        for d in entries {
            if d.d_tag(endian) == tag {
                let s = d.string(endian, strings).map_err(|e| e.to_string())?;
                out.push(String::from_utf8_lossy(s).into_owned());
            }
        }
    }
    Ok(out)
}

/// `Depends` from what the bundle's ELF files need, and the libraries no
/// known package provides.
pub(super) fn depends_of(
    needs: &Needs,
    extra: &[String],
    service: bool,
    user: bool,
) -> (Vec<String>, Vec<String>) {
    let mut packages: BTreeSet<String> = BTreeSet::new();
    let mut unresolved = Vec::new();
    for lib in needs.needed.iter().filter(|l| !needs.provided.contains(*l)) {
        match KNOWN_LIBS.iter().find(|(so, _)| so == lib) {
            Some((_, pkg)) => {
                packages.insert((*pkg).to_owned());
            }
            None => unresolved.push(lib.clone()),
        }
    }
    let mut out: Vec<String> = packages
        .into_iter()
        .map(|p| match (p.as_str(), needs.glibc) {
            ("libc6", Some((x, y))) => format!("libc6 (>= {x}.{y})"),
            _ => p,
        })
        .collect();
    if user {
        out.push("adduser".into());
    }
    if service {
        // deb-systemd-helper and deb-systemd-invoke.
        out.push("init-system-helpers (>= 1.54~)".into());
    }
    out.extend(extra.iter().cloned());
    (out, unresolved)
}
