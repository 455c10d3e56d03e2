//! Fuzz-style tests of the two archive readers ([`super::windows::extract_zip`]
//! and [`super::linux::extract_install_only`]): thousands of mutations of valid
//! archives (bit flips, truncations, insertions, entry names rewritten to
//! escape) must never panic and never write outside the destination.

use std::io::Write;
use std::path::Path;

/// A small deterministic PRNG (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Names an attacker would put in an archive.
const ESCAPES: &[&str] = &[
    "../../evil",
    "/tmp/evil",
    "..\\..\\evil",
    "C:\\evil",
    "a/../../evil",
];

fn mutate(rng: &mut Rng, data: &[u8]) -> Vec<u8> {
    let mut d = data.to_vec();
    for _ in 0..=rng.below(4) {
        if d.is_empty() {
            break;
        }
        match rng.below(5) {
            0 => {
                let i = rng.below(d.len());
                d[i] ^= 1 << rng.below(8);
            }
            1 => d.truncate(rng.below(d.len())),
            2 => {
                let i = rng.below(d.len());
                let junk: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
                d.splice(i..i, junk);
            }
            3 => {
                let i = rng.below(d.len());
                let j = (i + rng.below(32)).min(d.len());
                let chunk = d[i..j].to_vec();
                let k = rng.below(d.len());
                d.splice(k..k, chunk);
            }
            _ => {
                // Overwrite at a random place with an escaping name.
                let e = ESCAPES[rng.below(ESCAPES.len())].as_bytes();
                let i = rng.below(d.len());
                for (k, b) in e.iter().enumerate() {
                    if let Some(x) = d.get_mut(i + k) {
                        *x = *b;
                    }
                }
            }
        }
    }
    d
}

/// Every path below `sandbox` that is not `allowed` or inside `dest`.
fn strays(sandbox: &Path, dest: &Path, allowed: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(sandbox).min_depth(1) {
        let Ok(e) = e else { continue };
        let p = e.path();
        if p == allowed || p == dest || p.starts_with(dest) {
            continue;
        }
        out.push(p.display().to_string());
    }
    out
}

/// No symlink in `dest` may resolve outside it.
fn links_escape(dest: &Path) -> Vec<String> {
    let root = match dest.canonicalize() {
        Ok(r) => r,
        Err(_) => return vec![],
    };
    walkdir::WalkDir::new(dest)
        .into_iter()
        .flatten()
        .filter(|e| e.path_is_symlink())
        .filter(|e| e.path().canonicalize().is_ok_and(|t| !t.starts_with(&root)))
        .map(|e| e.path().display().to_string())
        .collect()
}

fn sample_zip() -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    for (name, body) in [
        ("python.exe", &b"MZ exe"[..]),
        ("python311._pth", b"python311.zip\r\n.\r\n"),
        ("Lib/site-packages/pkg/__init__.py", b"x = 1\n"),
        ("DLLs/_ssl.pyd", &[0u8; 300][..]),
    ] {
        w.start_file(name, opts).unwrap();
        w.write_all(body).unwrap();
    }
    w.add_directory("Lib/empty/", opts).unwrap();
    w.finish().unwrap().into_inner()
}

fn sample_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, ty: tar::EntryType, body: &[u8], link: Option<&str>| {
        let mut h = tar::Header::new_gnu();
        h.set_path(name).unwrap();
        h.set_entry_type(ty);
        h.set_mode(0o755);
        h.set_size(body.len() as u64);
        if let Some(l) = link {
            h.set_link_name(l).unwrap();
        }
        h.set_cksum();
        b.append(&h, body).unwrap();
    };
    add("python/", tar::EntryType::Directory, b"", None);
    add(
        "python/bin/python3.11",
        tar::EntryType::Regular,
        b"ELF binary",
        None,
    );
    add(
        "python/bin/python3",
        tar::EntryType::Symlink,
        b"",
        Some("python3.11"),
    );
    add(
        "python/bin/python",
        tar::EntryType::Link,
        b"",
        Some("python/bin/python3.11"),
    );
    add(
        "python/lib/python3.11/os.py",
        tar::EntryType::Regular,
        b"import sys\n",
        None,
    );
    add(
        "python/lib/libpython3.11.so",
        tar::EntryType::Regular,
        &[7u8; 700],
        None,
    );
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

fn run_case(name: &str, bytes: &[u8], extract: &dyn Fn(&Path, &Path, &Path)) {
    let sandbox = tempfile::tempdir().unwrap();
    let archive = sandbox.path().join(name);
    fs_err::write(&archive, bytes).unwrap();
    let dest = sandbox.path().join("dest");
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        extract(&archive, &dest, sandbox.path())
    }));
    assert!(r.is_ok(), "the reader panicked on a mutated {name}");
    let strays = strays(sandbox.path(), &dest, &archive);
    assert!(
        strays.is_empty(),
        "written outside the destination: {strays:?}"
    );
    let links = links_escape(&dest);
    assert!(links.is_empty(), "links out of the destination: {links:?}");
}

#[test]
fn zip_reader_survives_mutations_and_stays_inside() {
    let zip = sample_zip();
    let mut rng = Rng(0x5eed_0001);
    let extract = |a: &Path, d: &Path, _: &Path| {
        let _ = super::windows::extract_zip(a, d);
    };
    // The unmutated archive extracts.
    run_case("python.zip", &zip, &extract);
    for _ in 0..1500 {
        run_case("python.zip", &mutate(&mut rng, &zip), &extract);
    }
}

#[test]
fn tar_gz_reader_survives_mutations_and_stays_inside() {
    let tar = sample_tar();
    let mut rng = Rng(0x5eed_0002);
    let extract = |a: &Path, d: &Path, sandbox: &Path| {
        let _ = super::linux::extract_install_only(a, d, &[sandbox]);
    };
    run_case("python.tar.gz", &gzip(&tar), &extract);
    for i in 0..1500 {
        // Half mutate the tar inside valid gzip (reaches the tar parser and
        // the path checks), half the compressed bytes.
        let bytes = if i % 2 == 0 {
            gzip(&mutate(&mut rng, &tar))
        } else {
            mutate(&mut rng, &gzip(&tar))
        };
        run_case("python.tar.gz", &bytes, &extract);
    }
}
