//! Debug-symbol stripping of native files, with a tool that understands the format.
//!
//! PE (`.pyd`, `.dll`): `x86_64-w64-mingw32-strip --strip-unneeded` (MSVC-built
//! files carry no symbols and come out the same; MinGW-built ones such as
//! numpy's OpenBLAS shrink). ELF (`.so`): `strip --strip-debug`. Each file is
//! stripped into a copy; the copy replaces the original only when it parses as
//! a valid PE/ELF and is smaller (an old binutils `strip` can leave a
//! manylinux `.so` that no longer loads). Replacing is a rename, so files
//! hard-linked from uv's cache are never modified in place.
//!
//! The tool's output is cached by the SHA-256 of its input and by which tool
//! made it (its name and `--version`, and its arguments: [`BUCKET`]): a warm
//! rebuild copies the stripped files instead of running the tool on each
//! (numpy's binaries take seconds), and another strip (or another version of
//! it, which may strip differently) never reuses an old one's output. A
//! cached copy is validated like a fresh one.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::Error;
use crate::context::Context;
use crate::error::escaped;
use crate::platform::Platform;
use crate::tools::{self, Tool};

/// What symbol stripping did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Symbols {
    /// The tool used, when found.
    pub tool: Option<String>,
    /// Native files looked at.
    pub examined: u64,
    /// Files replaced by a smaller stripped copy (in a dry run: that would be).
    pub stripped: u64,
    /// Bytes saved.
    pub bytes: u64,
    /// Files whose stripped copy was invalid, kept as they were.
    pub rejected: Vec<String>,
}

/// Cache bucket of stripped copies: `{sha256 of the input}/{`cache_name`}`.
pub const BUCKET: &str = "stripped-v0";

/// The cache file name of a stripped copy: the tool's name, a digest of its
/// `--version` text, and its arguments (`x86_64-w64-mingw32-strip-1a2b…-strip-unneeded`).
pub(crate) fn cache_name(tool: &str, version: &str, args: &[&str]) -> String {
    let digest = crate::fs::sha256_hex(version.trim().as_bytes());
    format!(
        "{tool}-{}-{}",
        &digest[..16],
        args.concat().trim_start_matches('-')
    )
}

/// The first line of `exe --version` (empty when it does not answer).
fn tool_version(exe: &Path) -> String {
    let mut cmd = crate::process::Command::new(exe);
    cmd.arg("--version").timeout(crate::process::QUICK);
    cmd.output()
        .ok()
        .filter(|o| o.success())
        .map(|o| o.stdout.lines().next().unwrap_or_default().to_owned())
        .unwrap_or_default()
}

/// A strip for `platform`'s format that runs on this host, in order of
/// preference. `llvm-strip` understands PE and ELF; on a Windows host a plain
/// `strip` (MSYS2, MinGW) is a PE strip.
pub(crate) fn tools_for(platform: Platform) -> Vec<Tool> {
    let llvm = Tool {
        exe: "llvm-strip",
        ..tools::MINGW_STRIP
    };
    match platform {
        Platform::Windows if cfg!(windows) => vec![tools::MINGW_STRIP, tools::STRIP, llvm],
        Platform::Windows => vec![tools::MINGW_STRIP, llvm],
        Platform::Linux => vec![tools::STRIP, llvm],
    }
}

/// Strip every native file under `root`. No strip tool: one line saying the
/// step was skipped, never an error.
pub(crate) fn run(
    root: &Path,
    files: &[PathBuf],
    platform: Platform,
    dry_run: bool,
    ctx: &Context<'_>,
) -> Result<Symbols, Error> {
    let candidates = tools_for(platform);
    let Some((tool, exe)) = candidates
        .iter()
        .find_map(|t| t.find(ctx.env).ok().map(|p| (*t, p)))
    else {
        let names: Vec<&str> = candidates.iter().map(|t| t.exe).collect();
        ctx.reporter.warn(&format!(
            "debug symbols not stripped (skipped): no {} found (install it with {})",
            names.join(", "),
            candidates[0].install_hint()
        ));
        return Ok(Symbols::default());
    };
    let args: &[&str] = match platform {
        Platform::Windows => &["--strip-unneeded"],
        Platform::Linux => &["--strip-debug"],
    };
    let version = tool_version(&exe);
    let key = cache_name(tool.exe, &version, args);
    ctx.reporter
        .debug(&format!("stripping with {} ({version})", exe.display()));
    let mut results: Vec<(String, Outcome)> = files
        .par_iter()
        .map(|f| {
            let rel = f
                .strip_prefix(root)
                .unwrap_or(f)
                .to_string_lossy()
                .replace('\\', "/");
            (rel, strip_one(&exe, args, &key, f, platform, dry_run, ctx))
        })
        .collect::<Vec<_>>();
    // A file the stage could not write fails the build: shipping it as it
    // was would give another bundle than the same inputs give elsewhere.
    if let Some(i) = results
        .iter()
        .position(|(_, o)| matches!(o, Outcome::WriteFailed(..)))
    {
        if let (_, Outcome::WriteFailed(path, source)) = results.swap_remove(i) {
            return Err(Error::Write { path, source });
        }
    }
    let mut s = Symbols {
        tool: Some(tool.exe.to_owned()),
        examined: files.len() as u64,
        ..Default::default()
    };
    for (rel, o) in results {
        match o {
            Outcome::Smaller(saved) => {
                s.stripped += 1;
                s.bytes += saved;
            }
            Outcome::Unchanged => {}
            Outcome::Invalid(why) => {
                ctx.reporter.warn(&format!(
                    "kept {} unstripped: the stripped copy is not a valid {} file ({why})",
                    escaped(&rel),
                    match platform {
                        Platform::Windows => "PE",
                        Platform::Linux => "ELF",
                    }
                ));
                s.rejected.push(rel);
            }
            Outcome::Failed(why) => {
                ctx.reporter.debug(&format!(
                    "{} could not strip {}: {why}",
                    tool.exe,
                    escaped(&rel)
                ));
            }
            Outcome::WriteFailed(..) => unreachable!("returned above"),
        }
    }
    s.rejected.sort();
    Ok(s)
}

enum Outcome {
    Smaller(u64),
    Unchanged,
    Invalid(String),
    /// The tool could not strip the file (a format it does not know).
    Failed(String),
    /// Writing beside the file failed (a full disk, a quota).
    WriteFailed(PathBuf, std::io::Error),
}

fn strip_one(
    exe: &Path,
    args: &[&str],
    key: &str,
    file: &Path,
    platform: Platform,
    dry_run: bool,
    ctx: &Context<'_>,
) -> Outcome {
    let Some(name) = file.file_name() else {
        return Outcome::Failed("no file name".into());
    };
    let mut tmp_name = name.to_os_string();
    tmp_name.push(".pyship-strip");
    let tmp = file.with_file_name(tmp_name);
    let cleanup = |o: Outcome| {
        let _ = fs_err::remove_file(&tmp);
        o
    };
    // The cache's memo: site-packages is hard-linked from the installed
    // tree, so a rebuild finds each input's hash without reading it.
    let cached = ctx
        .cache
        .sha256_file(file)
        .ok()
        .map(|sha| ctx.cache.entry(BUCKET, &sha, key));
    // A damaged cache entry counts as a miss (and is replaced).
    let valid = |b: &[u8]| match platform {
        Platform::Windows => validate_pe(b),
        Platform::Linux => validate_elf(b),
    };
    let hit = cached.as_ref().is_some_and(|c| {
        fs_err::read(c).is_ok_and(|b| valid(&b).is_ok()) && fs_err::copy(c, &tmp).is_ok()
    });
    if !hit {
        let mut cmd = crate::process::Command::new(exe);
        // The tool sees SOURCE_DATE_EPOCH as the run does (from its Env).
        match ctx.env.get(crate::env::SOURCE_DATE_EPOCH) {
            Some(v) => cmd.env(crate::env::SOURCE_DATE_EPOCH, v),
            None => cmd.env_remove(crate::env::SOURCE_DATE_EPOCH),
        };
        cmd.args(args)
            .arg("-o")
            .arg(&tmp)
            .arg(file)
            .timeout(crate::process::STEP);
        match cmd.output() {
            Ok(o) if o.success() => {}
            Ok(o) => {
                // The tool says why only in words: whether the disk refused
                // its copy is learnt by writing one of the same file here.
                if let Err(e) = fs_err::copy(file, &tmp) {
                    return cleanup(Outcome::WriteFailed(tmp.clone(), e));
                }
                return cleanup(Outcome::Failed(format!(
                    "`{}`: {}",
                    o.command,
                    o.stderr.trim()
                )));
            }
            Err(e) => return cleanup(Outcome::Failed(e.to_string())),
        }
        if platform == Platform::Windows {
            if let Err(e) = keep_pe_stamp_file(file, &tmp) {
                return cleanup(Outcome::WriteFailed(tmp.clone(), e));
            }
        }
        if let Some(c) = &cached {
            ctx.cache.marked(BUCKET);
            store(&tmp, c);
        }
    }
    let (Ok(before), Ok(bytes)) = (fs_err::metadata(file), fs_err::read(&tmp)) else {
        return cleanup(Outcome::Failed("cannot read the stripped copy".into()));
    };
    if let Err(why) = valid(&bytes) {
        return cleanup(Outcome::Invalid(why));
    }
    let after = bytes.len() as u64;
    if after >= before.len() {
        return cleanup(Outcome::Unchanged);
    }
    if dry_run {
        return cleanup(Outcome::Smaller(before.len() - after));
    }
    // Keep the original's permissions; rename replaces the directory entry only.
    if let Err(e) = fs_err::set_permissions(&tmp, before.permissions())
        .and_then(|()| fs_err::rename(&tmp, file))
    {
        return cleanup(Outcome::WriteFailed(file.to_owned(), e));
    }
    Outcome::Smaller(before.len() - after)
}

/// Give the stripped PE at `stripped` the original's `TimeDateStamp`, and a
/// checksum computed over its new bytes (0 when the original had none).
/// `x86_64-w64-mingw32-strip` writes the current time (or SOURCE_DATE_EPOCH)
/// and a fresh checksum, so two cold builds of the same inputs differed.
/// Best effort: a file that is not a PE is left alone (the validation after
/// the strip decides about it).
fn keep_pe_stamp_file(original: &Path, stripped: &Path) -> std::io::Result<()> {
    let (Ok(orig), Ok(mut bytes)) = (fs_err::read(original), fs_err::read(stripped)) else {
        return Ok(());
    };
    if keep_pe_stamp(&orig, &mut bytes) {
        fs_err::write(stripped, &bytes)?;
    }
    Ok(())
}

/// The offsets of the COFF `TimeDateStamp` and the optional header's
/// `CheckSum` in a PE image (`None` when it is not one, or is cut short).
fn pe_stamp_offsets(b: &[u8]) -> Option<(usize, usize)> {
    // Checks the DOS header, `e_lfanew` and the `PE\0\0` signature in bounds.
    object::read::pe::optional_header_magic(b).ok()?;
    let pe = object::pe::ImageDosHeader::parse(b)
        .ok()?
        .nt_headers_offset() as usize;
    let coff = pe.checked_add(4)?;
    let opt = coff.checked_add(20)?;
    // CheckSum sits at offset 64 of both PE32 and PE32+ optional headers.
    (b.len() >= opt.checked_add(68)?).then_some((coff + 4, opt + 64))
}

/// See [`keep_pe_stamp_file`]; returns whether `stripped` changed.
pub(crate) fn keep_pe_stamp(original: &[u8], stripped: &mut [u8]) -> bool {
    let (Some((ot, oc)), Some((st, sc))) = (pe_stamp_offsets(original), pe_stamp_offsets(stripped))
    else {
        return false;
    };
    let before = (u32_at(stripped, st), u32_at(stripped, sc));
    let stamp = u32_at(original, ot).unwrap_or(0);
    stripped[st..st + 4].copy_from_slice(&stamp.to_le_bytes());
    let sum = if u32_at(original, oc).unwrap_or(0) == 0 {
        0
    } else {
        pe_checksum(stripped, sc)
    };
    stripped[sc..sc + 4].copy_from_slice(&sum.to_le_bytes());
    before != (Some(stamp), Some(sum))
}

/// The PE image checksum (as `imagehlp!CheckSumMappedFile`): 16-bit
/// one's-complement-style sum of the file, the checksum field skipped, plus
/// the file's length.
pub(crate) fn pe_checksum(b: &[u8], checksum_at: usize) -> u32 {
    let mut sum: u64 = 0;
    let mut i = 0;
    while i < b.len() {
        if i == checksum_at || i == checksum_at + 2 {
            i += 2;
            continue;
        }
        let w = match b.get(i + 1) {
            Some(hi) => u16::from_le_bytes([b[i], *hi]),
            None => u16::from(b[i]),
        };
        sum += u64::from(w);
        sum = (sum & 0xffff) + (sum >> 16);
        i += 2;
    }
    sum = (sum & 0xffff) + (sum >> 16);
    (sum as u32).wrapping_add(b.len() as u32)
}

/// Copy `file` to `dest` in the cache (temp file + rename: readers never see
/// half a file). Best effort: a cache that cannot be written only costs time.
fn store(file: &Path, dest: &Path) {
    let _ = crate::fs::atomic_copy(file, dest);
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(off..off.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// A PE image that the `object` crate parses (headers, data directories and
/// section table inside the file), with 1 to 96 sections whose raw data lies
/// inside the file.
pub(crate) fn validate_pe(b: &[u8]) -> Result<(), String> {
    use object::pe::{ImageNtHeaders32, ImageNtHeaders64};
    if b.get(..2) != Some(b"MZ") {
        return Err("no MZ header".into());
    }
    match object::FileKind::parse(b) {
        Ok(object::FileKind::Pe64) => validate_pe_as::<ImageNtHeaders64>(b),
        Ok(object::FileKind::Pe32) => validate_pe_as::<ImageNtHeaders32>(b),
        Ok(kind) => Err(format!("not a PE image ({kind:?})")),
        Err(e) => Err(format!("no PE signature at e_lfanew ({e})")),
    }
}

fn validate_pe_as<Pe: object::read::pe::ImageNtHeaders>(b: &[u8]) -> Result<(), String> {
    let file = object::read::pe::PeFile::<Pe>::parse(b).map_err(|e| e.to_string())?;
    let sections = file.section_table();
    if sections.is_empty() || sections.len() > 96 {
        return Err(format!("{} sections", sections.len()));
    }
    for (i, s) in sections.iter().enumerate() {
        // The whole raw data, file-alignment padding included (what a strip
        // that cut the file short would lose), in u64: no overflow.
        let raw = u64::from(s.pointer_to_raw_data.get(object::LittleEndian));
        let size = u64::from(s.size_of_raw_data.get(object::LittleEndian));
        if size > 0 && raw + size > b.len() as u64 {
            return Err(format!("section {i} data past the end of the file"));
        }
    }
    Ok(())
}

/// A 64-bit little-endian ELF that the `object` crate parses (header, program
/// and section headers inside the file), whose `PT_LOAD` segments lie inside
/// the file and keep offset and address congruent modulo their alignment (the
/// "not page-aligned" corruption of old binutils).
pub(crate) fn validate_elf(b: &[u8]) -> Result<(), String> {
    use object::read::elf::{ElfFile64, ProgramHeader};
    use object::LittleEndian as LE;
    if b.get(..4) != Some(b"\x7fELF") {
        return Err("no ELF magic".into());
    }
    if b.get(4) != Some(&2) || b.get(5) != Some(&1) {
        return Err("not a 64-bit little-endian ELF".into());
    }
    let file = ElfFile64::<LE>::parse(b).map_err(|e| e.to_string())?;
    let mut loads = 0;
    for (i, h) in file.elf_program_headers().iter().enumerate() {
        if h.p_type(LE) != object::elf::PT_LOAD {
            continue;
        }
        loads += 1;
        let (offset, vaddr, align) = (h.p_offset(LE), h.p_vaddr(LE), h.p_align(LE));
        if align > 1 && offset % align != vaddr % align {
            return Err(format!("LOAD segment {i} offset/address not aligned"));
        }
        if h.data(LE, b).is_err() {
            return Err(format!("LOAD segment {i} past the end of the file"));
        }
    }
    if loads == 0 {
        return Err("no LOAD segment".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::{Env, PYSHIP_CACHE_DIR};
    use crate::report::RecordingReporter;
    use std::process::Command;

    /// A small PE DLL with debug info (so stripping shrinks it), built with MinGW.
    fn dll_with_symbols(dir: &Path) -> PathBuf {
        let gcc = which::which("x86_64-w64-mingw32-gcc")
            .expect("x86_64-w64-mingw32-gcc is required (Debian package gcc-mingw-w64-x86-64)");
        let src = dir.join("m.c");
        fs_err::write(&src, "int answer(void) { return 42; }\n").unwrap();
        let dll = dir.join("m.dll");
        let st = Command::new(gcc)
            .args(["-g", "-shared", "-o"])
            .arg(&dll)
            .arg(&src)
            .status()
            .unwrap();
        assert!(st.success(), "x86_64-w64-mingw32-gcc failed");
        dll
    }

    /// The stamp a PE carries: (TimeDateStamp, CheckSum).
    /// A truncated or damaged PE or ELF file is an error (or, for the import
    /// reader and the stamp fix, no answer), never a panic or an overflow:
    /// every offset taken from the file is checked against it.
    #[test]
    fn damaged_pe_and_elf_files_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let dll = fs_err::read(dll_with_symbols(dir.path())).unwrap();
        validate_pe(&dll).expect("MinGW's DLL is a valid PE");
        let imports = crate::pe::imports(&dll).unwrap();
        assert!(
            imports
                .iter()
                .any(|n| n.eq_ignore_ascii_case("kernel32.dll")),
            "{imports:?}"
        );
        // The end of the last section's raw data: a file cut before it is broken.
        let pe = u32_at(&dll, 0x3c).unwrap() as usize;
        let sections = u16::from_le_bytes([dll[pe + 6], dll[pe + 7]]) as usize;
        let table = pe + 24 + u16::from_le_bytes([dll[pe + 20], dll[pe + 21]]) as usize;
        let data_end = (0..sections)
            .map(|i| {
                let s = table + i * 40;
                (u32_at(&dll, s + 20).unwrap() + u32_at(&dll, s + 16).unwrap()) as usize
            })
            .max()
            .unwrap();
        let cuts = (0..512).chain((512..dll.len()).step_by(97));
        for cut in cuts {
            let short = &dll[..cut];
            if cut < data_end {
                assert!(validate_pe(short).is_err(), "cut at {cut} accepted");
            }
            let _ = crate::pe::imports(short);
            let _ = keep_pe_stamp(&dll, &mut short.to_vec());
            let _ = keep_pe_stamp(short, &mut dll.clone());
        }
        let damaged = |at: usize, value: &[u8]| {
            let mut b = dll.clone();
            b[at..at + value.len()].copy_from_slice(value);
            b
        };
        for (what, b) in [
            (
                "e_lfanew far past the end",
                damaged(0x3c, &0xffff_fff0u32.to_le_bytes()),
            ),
            ("65535 sections", damaged(pe + 6, &0xffffu16.to_le_bytes())),
            (
                "section data far past the end",
                damaged(table + 20, &0xffff_fff0u32.to_le_bytes()),
            ),
            (
                "section size far past the end",
                damaged(table + 16, &0xffff_fff0u32.to_le_bytes()),
            ),
        ] {
            assert!(validate_pe(&b).is_err(), "{what}: accepted");
            let _ = crate::pe::imports(&b);
            let _ = keep_pe_stamp(&dll, &mut b.clone());
        }

        let elf = fs_err::read(std::env::current_exe().unwrap()).unwrap();
        validate_elf(&elf).expect("this test binary is a valid ELF");
        for cut in (0..256).chain((256..elf.len()).step_by(elf.len() / 300 + 1)) {
            assert!(
                validate_elf(&elf[..cut]).is_err(),
                "ELF cut at {cut} accepted"
            );
        }
        let damaged = |at: usize, value: u64| {
            let mut b = elf.clone();
            b[at..at + 8].copy_from_slice(&value.to_le_bytes());
            b
        };
        // e_phoff and e_shoff near u64::MAX: an unchecked `offset + size` overflows.
        for (what, b) in [
            ("e_phoff", damaged(0x20, u64::MAX - 8)),
            ("e_shoff", damaged(0x28, u64::MAX - 8)),
        ] {
            assert!(validate_elf(&b).is_err(), "{what} near u64::MAX accepted");
        }
    }

    fn stamp_of(b: &[u8]) -> (u32, u32) {
        let (t, c) = pe_stamp_offsets(b).expect("a PE");
        (u32_at(b, t).unwrap(), u32_at(b, c).unwrap())
    }

    #[test]
    fn stripped_pe_files_keep_their_stamp_with_or_without_source_date_epoch() {
        let work = tempfile::tempdir().unwrap();
        let dll = dll_with_symbols(work.path());
        let mut original = fs_err::read(&dll).unwrap();
        // Give the input a known stamp and a valid, non-zero checksum, as a
        // release build (e.g. libopenblas) has.
        let (t, c) = pe_stamp_offsets(&original).unwrap();
        original[t..t + 4].copy_from_slice(&0x5f00_0000u32.to_le_bytes());
        let sum = pe_checksum(&original, c);
        original[c..c + 4].copy_from_slice(&sum.to_le_bytes());
        let mut outputs = Vec::new();
        for (i, epoch) in [None, Some("1000000000"), None].into_iter().enumerate() {
            if i > 0 {
                // The tool's clock moves on between "cold builds".
                std::thread::sleep(std::time::Duration::from_millis(1100));
            }
            let mut env = Env::from_process();
            // A private cache each time: every run is cold and runs the tool.
            env.set(
                PYSHIP_CACHE_DIR,
                work.path().join(format!("cache{i}")).to_string_lossy(),
            );
            let rep = RecordingReporter::default();
            let tree = work.path().join(format!("t{i}"));
            fs_err::create_dir_all(&tree).unwrap();
            let f = tree.join("libopenblas.dll");
            fs_err::write(&f, &original).unwrap();
            if let Some(e) = epoch {
                env.set(crate::env::SOURCE_DATE_EPOCH, e);
            }
            let ctx = Context::new(&rep, &env);
            let s = run(
                &tree,
                std::slice::from_ref(&f),
                Platform::Windows,
                false,
                &ctx,
            )
            .unwrap();
            assert_eq!(s.stripped, 1, "{s:?}");
            let out = fs_err::read(&f).unwrap();
            assert!(out.len() < original.len());
            let (stamp, check) = stamp_of(&out);
            assert_eq!(stamp, 0x5f00_0000, "timestamp not kept (epoch {epoch:?})");
            assert_eq!(check, pe_checksum(&out, pe_stamp_offsets(&out).unwrap().1));
            validate_pe(&out).unwrap();
            outputs.push(out);
        }
        assert!(
            outputs.windows(2).all(|w| w[0] == w[1]),
            "cold builds differ"
        );
    }

    #[test]
    fn cache_names_differ_by_tool_version_and_arguments() {
        let a = cache_name("strip", "GNU strip (GNU Binutils) 2.40", &["--strip-debug"]);
        assert!(
            a.starts_with("strip-") && a.ends_with("-strip-debug"),
            "{a}"
        );
        assert_ne!(
            a,
            cache_name("strip", "GNU strip (GNU Binutils) 2.41", &["--strip-debug"])
        );
        assert_ne!(
            a,
            cache_name(
                "llvm-strip",
                "GNU strip (GNU Binutils) 2.40",
                &["--strip-debug"]
            )
        );
        assert_ne!(
            a,
            cache_name(
                "strip",
                "GNU strip (GNU Binutils) 2.40",
                &["--strip-unneeded"]
            )
        );
        assert_eq!(
            a,
            cache_name(
                "strip",
                "GNU strip (GNU Binutils) 2.40\n",
                &["--strip-debug"]
            )
        );
    }

    #[test]
    fn stripped_copies_are_cached_by_input_hash() {
        let work = tempfile::tempdir().unwrap();
        let dll = dll_with_symbols(work.path());
        let original = fs_err::read(&dll).unwrap();
        let cache = work.path().join("cache");
        let mut env = Env::from_process();
        env.set(PYSHIP_CACHE_DIR, cache.to_string_lossy());
        let rep = RecordingReporter::default();
        let ctx = Context::new(&rep, &env);

        // Cold: the tool runs, the file shrinks, its output is cached.
        let tree1 = work.path().join("t1");
        fs_err::create_dir_all(&tree1).unwrap();
        let f1 = tree1.join("m.pyd");
        fs_err::write(&f1, &original).unwrap();
        let s = run(
            &tree1,
            std::slice::from_ref(&f1),
            Platform::Windows,
            false,
            &ctx,
        )
        .unwrap();
        assert_eq!(s.stripped, 1, "{s:?}");
        let stripped = fs_err::read(&f1).unwrap();
        assert!(stripped.len() < original.len());
        let sha = crate::fs::sha256_file(&dll).unwrap();
        let exe = tools::MINGW_STRIP.find(&env).unwrap();
        let name = cache_name(
            tools::MINGW_STRIP.exe,
            &tool_version(&exe),
            &["--strip-unneeded"],
        );
        let entry = ctx.cache.entry(BUCKET, &sha, &name);
        assert_eq!(fs_err::read(&entry).unwrap(), stripped);

        // Warm: the cached copy is used (marked with trailing bytes a PE may carry).
        let mut marked = stripped.clone();
        marked.extend_from_slice(&[0xAB; 16]);
        fs_err::write(&entry, &marked).unwrap();
        let tree2 = work.path().join("t2");
        fs_err::create_dir_all(&tree2).unwrap();
        let f2 = tree2.join("m.pyd");
        fs_err::write(&f2, &original).unwrap();
        run(
            &tree2,
            std::slice::from_ref(&f2),
            Platform::Windows,
            false,
            &ctx,
        )
        .unwrap();
        assert_eq!(fs_err::read(&f2).unwrap(), marked);

        // A damaged cache entry is never installed: the tool runs again and
        // the entry is replaced.
        fs_err::write(&entry, b"MZ not a PE").unwrap();
        let f3 = tree2.join("m3.pyd");
        fs_err::write(&f3, &original).unwrap();
        let s = run(
            &tree2,
            std::slice::from_ref(&f3),
            Platform::Windows,
            false,
            &ctx,
        )
        .unwrap();
        assert_eq!((s.stripped, s.rejected.len()), (1, 0), "{s:?}");
        assert_eq!(fs_err::read(&f3).unwrap(), stripped);
        assert_eq!(fs_err::read(&entry).unwrap(), stripped);
    }
}
