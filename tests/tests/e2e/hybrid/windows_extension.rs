//! The Windows extension: an abi3 crate without `generate-import-lib`
//! links against import libraries cargo-pyship makes, and a version-specific
//! (not abi3) crate is left to maturin; each bundle's import check loads it
//! under wine.

use super::*;

/// An abi3 PyO3 crate without pyo3's `generate-import-lib` (as `uv init
/// --build-backend maturin` writes it) links its Windows extension against
/// import libraries cargo-pyship makes (linking against the DLL itself
/// builds, but the extension then fails to load: "32 bit pseudo relocation
/// out of range"). The import check starts the app under wine, so a bundle
/// that passes it loads the extension.
#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: a maturin build for Windows"
)]
fn hybrid_windows_extension_links_without_generate_import_lib() {
    require_build_tools();
    let (_t, dir) = project(None, "");
    let krate = dir.join("crates/fastcore/Cargo.toml");
    let text = fs_err::read_to_string(&krate).unwrap();
    let without = text.replace(", \"generate-import-lib\"]", "]");
    assert_ne!(text, without, "the fixture's pyo3 has generate-import-lib");
    fs_err::write(&krate, without).unwrap();
    let (_mirror_dir, mirror) = pyship_e2e::testdata::python_mirror();
    let cache = tempfile::tempdir().unwrap();
    let mut cmd = pyship_in(&dir, cache.path());
    cmd.env("PYSHIP_PYTHON_MIRROR", mirror.url())
        .env_remove("PYO3_CROSS_LIB_DIR");
    let err = bundle_at_cargo_version(cmd, "windows");
    assert!(err.contains("Imported"), "the import check ran:\n{err}");
    let libs = cache.path().join("pyo3-implib-v0/x86_64-gnu-3.11");
    for lib in ["python3.dll.a", "python311.dll.a"] {
        assert!(libs.join(lib).is_file(), "{lib} in {}", libs.display());
    }
    let list = pyship_e2e::testdata::zip_files(&dir.join("dist/PyHash-v0.2.0-win-x64.zip"));
    assert!(
        list.keys()
            .any(|l| l.contains("site-packages/pyhash/_native") && l.ends_with(".pyd")),
        "{list:?}"
    );
}

/// A version-specific (not abi3) PyO3 crate as `maturin new --bindings pyo3`
/// writes it (pyo3 0.29, no features), in a virtual workspace whose
/// `[workspace.metadata.pyship]` names the member's pyproject: maturin links
/// it by itself, and cargo-pyship must not set PYO3_CROSS_LIB_DIR (maturin
/// then looks there for a Unix `_sysconfigdata*.py` and fails: "failed to
/// read directory …/python3.def").
#[test]
#[cfg_attr(
    not(feature = "slow-tests"),
    ignore = "slow tier: a maturin build for Windows"
)]
fn hybrid_windows_extension_without_abi3_is_left_to_maturin() {
    require_build_tools();
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("ws");
    let files = [
        (
            "Cargo.toml",
            "[workspace]\nresolver = \"2\"\nmembers = [\"crates/nativecore\"]\n\n[workspace.metadata.pyship]\nname = \"Native Core\"\npyproject = \"crates/nativecore/pyproject.toml\"\n",
        ),
        (
            "crates/nativecore/Cargo.toml",
            "[package]\nname = \"nativecore\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[lib]\nname = \"_native\"\ncrate-type = [\"cdylib\"]\n\n[dependencies]\npyo3 = \"0.29.0\"\n",
        ),
        (
            "crates/nativecore/src/lib.rs",
            "use pyo3::prelude::*;\n\n#[pymodule]\nmod _native {\n    use pyo3::prelude::*;\n\n    #[pyfunction]\n    fn sum_as_string(a: usize, b: usize) -> PyResult<String> {\n        Ok((a + b).to_string())\n    }\n}\n",
        ),
        (
            "crates/nativecore/pyproject.toml",
            "[build-system]\nrequires = [\"maturin>=1.5,<2.0\"]\nbuild-backend = \"maturin\"\n\n[project]\nname = \"nativecore\"\nrequires-python = \">=3.8\"\ndynamic = [\"version\"]\n\n[tool.maturin]\npython-source = \"python\"\nmodule-name = \"nativecore._native\"\n",
        ),
        (
            "crates/nativecore/python/nativecore/__init__.py",
            "from nativecore._native import sum_as_string\n",
        ),
        (
            "crates/nativecore/python/nativecore/__main__.py",
            "from nativecore import sum_as_string\n\nif __name__ == \"__main__\":\n    print(\"sum\", sum_as_string(2, 3))\n",
        ),
    ];
    for (rel, text) in files {
        let p = dir.join(rel);
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(&p, text).unwrap();
    }
    let (_mirror_dir, mirror) = pyship_e2e::testdata::python_mirror();
    let cache = tempfile::tempdir().unwrap();
    let out = pyship(cache.path())
        .current_dir(&dir)
        .env(
            "CARGO_TARGET_DIR",
            workspace_root().join("target/pyship-e2e/nativecore-target"),
        )
        .env("PYSHIP_PYTHON_MIRROR", mirror.url())
        .env_remove("PYO3_CROSS_LIB_DIR")
        .args(["pyship", "bundle", "--target", "windows"])
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Imported"), "the import check ran:\n{err}");
    assert!(
        !cache.path().join("pyo3-implib-v0").exists(),
        "no import libraries are made for a version-specific build"
    );
    let list = pyship_e2e::testdata::zip_files(&dir.join("dist/Native-Core-v0.1.0-win-x64.zip"));
    assert!(
        list.keys()
            .any(|l| l.contains("site-packages/nativecore/_native") && l.ends_with(".pyd")),
        "{list:?}"
    );
}
