//! Stand-ins for python.org's per-feature MSIs (`tcltk.msi`, `lib.msi`), built
//! with `wixl` (Debian package `wixl`) from a folder laid out like a CPython
//! install (`DLLs/`, `tcl/`, `Lib/`), and the Tcl/Tk files those tests build
//! them from: the `cp311/` data of the `tkinter-embed` sdist of the test data.

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The `cp311/` folder of `tkinter_embed-3.11.0.tar.gz` (its
/// `src3.11/tkinter_embed/data.zip`), unpacked into `dest`.
pub fn tkinter_embed_files(dest: &Path) {
    let lock = crate::testdata::lock().tkinter;
    let sdist = crate::testdata::tkinter_embed_dir().join(&lock.file);
    let gz = flate2::read::GzDecoder::new(fs_err::File::open(&sdist).expect("open sdist"));
    let mut tar = tar::Archive::new(gz);
    let mut data = None;
    for e in tar.entries().expect("sdist entries") {
        let mut e = e.expect("sdist entry");
        let path = e.path().expect("entry path").to_string_lossy().into_owned();
        if path.ends_with("src3.11/tkinter_embed/data.zip") {
            let mut buf = Vec::new();
            e.read_to_end(&mut buf).expect("read data.zip");
            data = Some(buf);
        }
    }
    let data = data.expect("the sdist has src3.11/tkinter_embed/data.zip");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(data)).expect("data.zip");
    for i in 0..zip.len() {
        let mut e = zip.by_index(i).expect("zip entry");
        let name = e.name().expect("utf-8 name").into_owned();
        let Some(rel) = name.strip_prefix("cp311/") else {
            continue;
        };
        if rel.is_empty() || e.is_dir() {
            continue;
        }
        let out = dest.join(rel);
        fs_err::create_dir_all(out.parent().unwrap()).unwrap();
        let mut buf = Vec::new();
        e.read_to_end(&mut buf).unwrap();
        fs_err::write(out, buf).unwrap();
    }
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Build `out` (an MSI) holding every file under `root` at the same relative
/// path below the install folder, with `ProductVersion` `product_version`
/// (python.org's encoding: `3.11.9150.0` for 3.11.9).
pub fn build(root: &Path, out: &Path, product_name: &str, product_version: &str) {
    let wixl = crate::require_tool("wixl", "`apt-get install wixl` (Debian package `wixl`)");
    let mut n = 0u32;
    let mut components = Vec::new();
    let mut body = String::new();
    fn walk(dir: &Path, root: &Path, n: &mut u32, components: &mut Vec<String>, body: &mut String) {
        let mut entries: Vec<PathBuf> = fs_err::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            *n += 1;
            let name = xml(&p.file_name().unwrap().to_string_lossy());
            if p.is_dir() {
                writeln!(body, "<Directory Id=\"d{n}\" Name=\"{name}\">").unwrap();
                walk(&p, root, n, components, body);
                body.push_str("</Directory>\n");
            } else {
                let rel = xml(&p.strip_prefix(root).unwrap().to_string_lossy());
                let id = format!("c{n}");
                writeln!(
                    body,
                    "<Component Id=\"{id}\" Guid=\"{{6F0D1C9A-0000-4000-8000-{n:012X}}}\" Win64=\"yes\"><File Id=\"f{n}\" Name=\"{name}\" Source=\"{rel}\" KeyPath=\"yes\"/></Component>"
                )
                .unwrap();
                components.push(id);
            }
        }
    }
    walk(root, root, &mut n, &mut components, &mut body);
    let refs: String = components
        .iter()
        .map(|c| format!("<ComponentRef Id=\"{c}\"/>\n"))
        .collect();
    let wxs = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
<Product Id="{{6F0D1C9A-1111-4000-8000-000000000001}}" Name="{name}" Language="1033" Version="{product_version}" Manufacturer="Python Software Foundation" UpgradeCode="{{6F0D1C9A-2222-4000-8000-000000000001}}">
<Package InstallerVersion="500" Compressed="yes"/>
<Media Id="1" Cabinet="data.cab" EmbedCab="yes"/>
<Directory Id="TARGETDIR" Name="SourceDir">
<Directory Id="InstallDirectory" Name="Python">
{body}</Directory>
</Directory>
<Feature Id="DefaultFeature" Level="1">
{refs}</Feature>
</Product>
</Wix>
"#,
        name = xml(product_name)
    );
    let wxs_path = root.parent().expect("root has a parent").join(format!(
        "{}.wxs",
        out.file_stem().unwrap().to_string_lossy()
    ));
    fs_err::write(&wxs_path, wxs).unwrap();
    let st = Command::new(wixl)
        .args(["-a", "x64", "-o"])
        .arg(out)
        .arg(&wxs_path)
        .current_dir(root)
        .output()
        .expect("wixl runs");
    assert!(
        st.status.success() && out.is_file(),
        "wixl failed: {}",
        String::from_utf8_lossy(&st.stderr)
    );
}
