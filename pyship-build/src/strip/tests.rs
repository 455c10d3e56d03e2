//! Unit tests of the rules on synthetic trees.

use std::path::Path;

use super::*;
use crate::env::Env;
use crate::report::RecordingReporter;

fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let t = tempfile::tempdir().expect("temp dir");
    for (rel, body) in files {
        let p = t.path().join(rel);
        fs_err::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs_err::write(&p, body).expect("write");
    }
    t
}

fn opts() -> Options {
    let mut o = Options::default();
    o.rules.debug_symbols = false;
    o
}

fn strip(root: &Path, opts: &Options) -> Report {
    let env = Env::default();
    let rep = RecordingReporter::default();
    let ctx = Context::new(&rep, &env);
    run(opts, root, Platform::Windows, None, &ctx).expect("strip runs")
}

fn rule<'a>(r: &'a Report, name: &str) -> &'a RuleReport {
    r.rules
        .iter()
        .find(|x| x.rule == name)
        .unwrap_or_else(|| panic!("no rule {name} in {:?}", r.rules))
}

const NUMPY: &[(&str, &str)] = &[
    (
        "numpy/__init__.py",
        "from . import linalg, lib, ma, polynomial\n",
    ),
    ("numpy/linalg/__init__.py", "from .linalg import *\n"),
    ("numpy/linalg/linalg.py", "def inv(a): pass\n"),
    ("numpy/linalg/tests/test_linalg.py", "def test(): pass\n"),
    ("numpy/lib/__init__.py", ""),
    ("numpy/ma/__init__.py", ""),
    ("numpy/polynomial/__init__.py", ""),
    ("numpy/core/__init__.py", ""),
    ("numpy/core/include/numpy/ndarrayobject.h", "/* h */"),
    ("numpy/core/tests/test_core.py", "x = 1\n"),
    ("numpy/random/__init__.py", ""),
    ("numpy/random/_examples/cython/ex.pyx", "x"),
    ("numpy/random/_common.pxd", "x"),
    ("numpy/random/lib/npyrandom.lib", "x"),
    ("numpy/f2py/__init__.py", ""),
    ("numpy/distutils/__init__.py", ""),
    ("numpy/_pyinstaller/hook-numpy.py", ""),
    ("numpy/doc/ufuncs.py", ""),
    ("numpy/fft/__init__.py", ""),
];

#[test]
fn strip_keeps_numpy_linalg() {
    let t = tree(NUMPY);
    let r = strip(t.path(), &opts());
    for kept in [
        "numpy/__init__.py",
        "numpy/linalg/__init__.py",
        "numpy/linalg/linalg.py",
        "numpy/lib/__init__.py",
        "numpy/ma/__init__.py",
        "numpy/polynomial/__init__.py",
        "numpy/core/__init__.py",
        "numpy/random/__init__.py",
        "numpy/fft/__init__.py",
    ] {
        assert!(t.path().join(kept).is_file(), "{kept} was removed");
    }
    for gone in [
        "numpy/linalg/tests",
        "numpy/core/tests",
        "numpy/core/include",
        "numpy/random/_examples",
        "numpy/random/lib",
        "numpy/random/_common.pxd",
        "numpy/f2py",
        "numpy/distutils",
        "numpy/_pyinstaller",
        "numpy/doc",
    ] {
        assert!(!t.path().join(gone).exists(), "{gone} survived");
    }
    assert_eq!(rule(&r, "numpy:build-tools").files, 3);
    assert!(r.after.bytes < r.before.bytes);
}

#[test]
fn strip_keeps_dist_info_metadata() {
    let t = tree(&[
        ("foo/__init__.py", ""),
        ("foo-1.0.dist-info/METADATA", "Name: foo\nVersion: 1.0\n"),
        ("foo-1.0.dist-info/entry_points.txt", "[console_scripts]\n"),
        ("foo-1.0.dist-info/top_level.txt", "foo\n"),
        ("foo-1.0.dist-info/LICENSE", "MIT"),
        ("foo-1.0.dist-info/RECORD", "foo/__init__.py,,\n"),
        ("foo-1.0.dist-info/INSTALLER", "uv"),
        ("foo-1.0.dist-info/WHEEL", "Wheel-Version: 1.0"),
    ]);
    let r = strip(t.path(), &opts());
    let d = t.path().join("foo-1.0.dist-info");
    for kept in ["METADATA", "entry_points.txt", "top_level.txt", "LICENSE"] {
        assert!(d.join(kept).is_file(), "{kept} was removed");
    }
    for gone in ["RECORD", "INSTALLER", "WHEEL"] {
        assert!(!d.join(gone).exists(), "{gone} survived");
    }
    assert_eq!(rule(&r, "generic:dist-info").files, 3);
}

#[test]
fn strip_removes_pycache_stubs_and_c_sources_but_keeps_py_typed() {
    let t = tree(&[
        ("pkg/__init__.py", ""),
        ("pkg/__init__.pyi", "x: int"),
        ("pkg/py.typed", ""),
        ("pkg/__pycache__/__init__.cpython-311.pyc", "pyc"),
        ("pkg/_ext.c", "int x;"),
        ("pkg/include/ext.h", "int x;"),
    ]);
    let r = strip(t.path(), &opts());
    assert!(t.path().join("pkg/__init__.py").is_file());
    assert!(t.path().join("pkg/py.typed").is_file());
    assert!(!t.path().join("pkg/__pycache__").exists());
    assert!(!t.path().join("pkg/__init__.pyi").exists());
    assert!(!t.path().join("pkg/_ext.c").exists());
    assert!(
        !t.path().join("pkg/include").exists(),
        "emptied dir left behind"
    );
    assert_eq!(rule(&r, "generic:c-sources").files, 2);
    assert_eq!(
        rule(&r, "generic:pycache").packages,
        vec!["pkg".to_string()]
    );
}

#[test]
fn strip_keeps_test_packages_that_modules_import() {
    let t = tree(&[
        ("lib1/__init__.py", "from lib1.testing import helpers\n"),
        ("lib1/tests/test_a.py", "def test(): pass\n"),
        ("lib2/__init__.py", "from .tests import fixtures\n"),
        ("lib2/tests/__init__.py", ""),
        ("lib2/tests/test_b.py", ""),
        ("lib2/tests/fixtures.py", ""),
        ("lib3/__init__.py", ""),
        (
            "lib3/test/__init__.py",
            "# not a test suite: no test files\n",
        ),
    ]);
    let r = strip(t.path(), &opts());
    assert!(
        !t.path().join("lib1/tests").exists(),
        "unused test suite kept"
    );
    assert!(
        t.path().join("lib2/tests/fixtures.py").is_file(),
        "imported tests removed"
    );
    assert!(
        t.path().join("lib3/test/__init__.py").is_file(),
        "non-suite removed"
    );
    assert_eq!(rule(&r, "generic:tests").files, 1);
}

#[test]
fn strip_keep_glob_protects_preset_files() {
    let t = tree(NUMPY);
    let mut o = opts();
    o.rules.keep = vec!["numpy/f2py/**".into(), "numpy/doc".into()];
    let r = strip(t.path(), &o);
    assert!(t.path().join("numpy/f2py/__init__.py").is_file());
    assert!(t.path().join("numpy/doc/ufuncs.py").is_file());
    assert!(!t.path().join("numpy/distutils").exists());
    assert_eq!(rule(&r, "numpy:build-tools").kept, 1);
    assert_eq!(rule(&r, "numpy:doc").kept, 1);
}

#[test]
fn strip_keeps_build_only_packages_that_a_distribution_requires() {
    let files = [
        ("setuptools/__init__.py", ""),
        ("pkg_resources/__init__.py", ""),
        ("_distutils_hack/__init__.py", ""),
        ("distutils-precedence.pth", "import _distutils_hack"),
        ("setuptools-70.0.dist-info/METADATA", "Name: setuptools\n"),
        ("pip/__init__.py", ""),
        (
            "app-1.0.dist-info/METADATA",
            "Name: app\nRequires-Dist: pytest; extra == \"test\"\n",
        ),
    ];
    let t = tree(&files);
    let r = strip(t.path(), &opts());
    assert!(!t.path().join("setuptools").exists());
    assert!(!t.path().join("pkg_resources").exists());
    assert!(!t.path().join("distutils-precedence.pth").exists());
    assert!(!t.path().join("pip").exists());
    assert_eq!(rule(&r, "generic:build-only").files, 6);

    let mut needs = files.to_vec();
    needs.push((
        "old-1.0.dist-info/METADATA",
        "Name: old\nRequires-Dist: setuptools>=40\n",
    ));
    let t = tree(&needs);
    strip(t.path(), &opts());
    assert!(t.path().join("pkg_resources/__init__.py").is_file());
    assert!(t.path().join("setuptools/__init__.py").is_file());
    assert!(!t.path().join("pip").exists());

    // A module that imports pkg_resources at run time, undeclared.
    let mut uses = files.to_vec();
    uses.push((
        "legacy/__init__.py",
        "import os, pkg_resources\nimport pipes\n",
    ));
    let t = tree(&uses);
    strip(t.path(), &opts());
    assert!(t.path().join("pkg_resources/__init__.py").is_file());
    assert!(
        !t.path().join("pip").exists(),
        "`import pipes` is not `import pip`"
    );

    // The app itself depends on setuptools: the pipeline says so.
    let t = tree(&files);
    let mut o = opts();
    o.keep_app_dependencies(["setuptools>=60", "fastapi"]);
    strip(t.path(), &o);
    assert!(t.path().join("setuptools/__init__.py").is_file());
    assert!(t.path().join("_distutils_hack/__init__.py").is_file());
}

#[test]
fn strip_zeroconf_removes_only_shadowed_sources() {
    let t = tree(&[
        ("zeroconf/__init__.py", ""),
        ("zeroconf/_cache.py", "x"),
        ("zeroconf/_cache.cp311-win_amd64.pyd", "MZ"),
        ("zeroconf/_core.py", "x"),
    ]);
    strip(t.path(), &opts());
    assert!(!t.path().join("zeroconf/_cache.py").exists());
    assert!(t.path().join("zeroconf/_core.py").is_file());
    assert!(t.path().join("zeroconf/__init__.py").is_file());
}

#[test]
fn strip_opencv_haar_cascades_only_when_configured() {
    let files = [
        ("cv2/__init__.py", ""),
        ("cv2/opencv_videoio_ffmpeg480_64.dll", "MZ"),
        ("cv2/data/haarcascade_frontalface_default.xml", "<x/>"),
    ];
    let t = tree(&files);
    strip(t.path(), &opts());
    assert!(!t
        .path()
        .join("cv2/opencv_videoio_ffmpeg480_64.dll")
        .exists());
    assert!(t
        .path()
        .join("cv2/data/haarcascade_frontalface_default.xml")
        .is_file());
    let t = tree(&files);
    let mut o = opts();
    o.rules.haar_cascades = true;
    strip(t.path(), &o);
    assert!(!t
        .path()
        .join("cv2/data/haarcascade_frontalface_default.xml")
        .exists());
}

#[test]
fn strip_dry_run_removes_nothing_and_reports_the_same() {
    let t = tree(NUMPY);
    let mut o = opts();
    o.dry_run = true;
    let dry = strip(t.path(), &o);
    for (rel, _) in NUMPY {
        assert!(t.path().join(rel).is_file(), "dry run removed {rel}");
    }
    let real = strip(t.path(), &opts());
    assert_eq!(dry.after, real.after);
    assert_eq!(
        serde_json::to_value(&dry.rules).expect("json"),
        serde_json::to_value(&real.rules).expect("json")
    );
}

#[test]
fn strip_user_remove_globs_and_unknown_preset() {
    let t = tree(&[("pkg/__init__.py", ""), ("pkg/data/big.bin", "xxxx")]);
    let mut o = opts();
    o.rules.remove = vec!["pkg/data".into()];
    let r = strip(t.path(), &o);
    assert!(!t.path().join("pkg/data").exists());
    assert_eq!(rule(&r, "remove:pkg/data").bytes, 4);

    o.rules.presets = vec!["nope".into()];
    let env = Env::default();
    let rep = RecordingReporter::default();
    let ctx = Context::new(&rep, &env);
    let e = run(&o, t.path(), Platform::Windows, None, &ctx).expect_err("unknown preset");
    assert!(e.to_string().contains("`nope`"), "{e}");
}

#[test]
fn strip_never_deletes_uncompiled_py() {
    let t = tree(&[
        ("good/__init__.py", "x = 1\n"),
        ("bad/__init__.py", "print 'python 2'\n"),
        ("kept/__init__.py", "y = 2\n"),
    ]);
    let mut o = opts();
    o.rules.compile = true;
    o.rules.keep = vec!["kept/**".into()];
    // No interpreter: every source stays.
    let r = strip(t.path(), &o);
    assert!(t.path().join("good/__init__.py").is_file());
    assert_eq!(r.compile.as_ref().map(|c| c.py_files), Some(0));

    let env = Env::default();
    let host = Interpreter::host("3.11", &env).expect(
        "this test needs python3 3.11 on PATH (the CI image has it; pyenv or `apt-get install python3`)",
    );
    let rep = RecordingReporter::default();
    let ctx = Context::new(&rep, &env);
    let r = run(&o, t.path(), Platform::Windows, Some(&host), &ctx).expect("strip");
    let c = r.compile.expect("compiled");
    assert!(!t.path().join("good/__init__.py").exists());
    assert!(t.path().join("good/__init__.pyc").is_file());
    assert!(
        t.path().join("bad/__init__.py").is_file(),
        "uncompiled source deleted"
    );
    assert!(!t.path().join("bad/__init__.pyc").exists());
    assert!(
        t.path().join("kept/__init__.py").is_file(),
        "kept source deleted"
    );
    assert_eq!(c.py_files, 1);
    assert_eq!(c.not_compiled, vec!["bad/__init__.py".to_string()]);
}

#[test]
fn validators_reject_broken_binaries() {
    use super::symbols::{validate_elf, validate_pe};
    assert!(validate_pe(b"MZ\0\0").is_err());
    assert!(validate_elf(b"\x7fELF").is_err());
    let exe = std::env::current_exe().expect("test exe");
    let bytes = fs_err::read(&exe).expect("read test exe");
    validate_elf(&bytes).expect("this test binary is a valid ELF");
    assert!(validate_elf(&bytes[..bytes.len() / 2]).is_err());
    assert!(validate_pe(&bytes).is_err());
}

#[test]
fn strip_keeps_licence_files_of_distributions_that_stay() {
    let t = tree(&[
        ("pkg/__init__.py", ""),
        ("pkg-1.0.dist-info/METADATA", "Name: pkg\nVersion: 1.0\n"),
        ("pkg-1.0.dist-info/RECORD", ""),
        ("pkg-1.0.dist-info/licenses/LICENSE", "MIT"),
        ("pkg-1.0.dist-info/COPYING.txt", "GPL"),
        ("setuptools/__init__.py", ""),
        (
            "setuptools-70.0.dist-info/METADATA",
            "Name: setuptools\nVersion: 70.0\n",
        ),
        ("setuptools-70.0.dist-info/LICENSE", "MIT"),
    ]);
    let mut o = opts();
    // A user glob that would catch every licence file.
    o.rules.remove = vec!["**/LICENSE".into(), "**/COPYING*".into()];
    strip(t.path(), &o);
    let p = t.path();
    assert!(p.join("pkg-1.0.dist-info/licenses/LICENSE").is_file());
    assert!(p.join("pkg-1.0.dist-info/COPYING.txt").is_file());
    assert!(!p.join("pkg-1.0.dist-info/RECORD").exists());
    // A distribution removed whole takes its licence along (no orphan dist-info).
    assert!(!p.join("setuptools-70.0.dist-info").exists());
}

/// Files Tcl and Tk read when `tkinter.Tk()` starts and a ttk widget is drawn
/// (recorded under wine by wrapping Tcl's `source`, plus what Tcl reads before
/// that: `init.tcl`, its index, the system encoding), and the `tkinter` package.
const TK_START_UP: &[&str] = &[
    "tcl/tcl8.6/init.tcl",
    "tcl/tcl8.6/tclIndex",
    "tcl/tcl8.6/auto.tcl",
    "tcl/tcl8.6/tm.tcl",
    "tcl/tcl8.6/package.tcl",
    "tcl/tcl8.6/encoding/cp1252.enc",
    "tcl/tcl8/8.5/msgcat-1.6.1.tm",
    "tcl/tk8.6/pkgIndex.tcl",
    "tcl/tk8.6/tk.tcl",
    "tcl/tk8.6/button.tcl",
    "tcl/tk8.6/entry.tcl",
    "tcl/tk8.6/icons.tcl",
    "tcl/tk8.6/menu.tcl",
    "tcl/tk8.6/msgs/de.msg",
    "tcl/tk8.6/ttk/ttk.tcl",
    "tcl/tk8.6/ttk/vistaTheme.tcl",
    "tcl/tk8.6/ttk/winTheme.tcl",
    "tcl/tk8.6/ttk/xpTheme.tcl",
    "tcl/tk8.6/ttk/cursors.tcl",
    "Lib/tkinter/__init__.py",
    "Lib/tkinter/ttk.py",
];

const TK_TRIMS: &[&str] = &[
    "tcl/tcl86t.lib",
    "tcl/libbz2.def",
    "tcl/tclConfig.sh",
    "tcl/nmake/rules.vc",
    "tcl/tcl8.6/tzdata/Europe/Berlin",
    "tcl/tcl8.6/msgs/de.msg",
    "tcl/sqlite3.44.2/pkgIndex.tcl",
    "tcl/itcl4.2.4/itcl.tcl",
    "tcl/tk8.6/demos/widget",
    "Lib/tkinter/test/test_tkinter/test_misc.py",
];

#[test]
fn tkinter_preset_keeps_what_tk_loads_at_start_up() {
    let files: Vec<(&str, &str)> = TK_START_UP
        .iter()
        .chain(TK_TRIMS)
        .chain(&["_tkinter.pyd", "tcl86t.dll", "tk86t.dll", "zlib.dll"])
        .map(|f| (*f, "x"))
        .collect();
    let python = tree(&files);
    let env = Env::default();
    let rep = RecordingReporter::default();
    let ctx = Context::new(&rep, &env);
    // The default presets never touch the runtime folder.
    assert!(run_runtime(&opts(), python.path(), Platform::Windows, &ctx)
        .expect("runs")
        .is_none());
    let mut with_tk = opts();
    with_tk.rules.presets = vec!["generic".into(), "tkinter".into()];
    let report = run_runtime(&with_tk, python.path(), Platform::Windows, &ctx)
        .expect("runs")
        .expect("the tkinter preset applies to the runtime");
    for f in TK_START_UP
        .iter()
        .chain(&["_tkinter.pyd", "tcl86t.dll", "tk86t.dll", "zlib.dll"])
    {
        assert!(
            python.path().join(f).is_file(),
            "the tkinter preset removed {f}"
        );
    }
    for f in TK_TRIMS {
        assert!(
            !python.path().join(f).exists(),
            "{f} survived the tkinter preset"
        );
    }
    assert_eq!(
        report.before.files - report.after.files,
        TK_TRIMS.len() as u64
    );
    // In site-packages the runtime preset does nothing, even to look-alikes.
    let sp = tree(&[("tcl/tcl86t.lib", "x"), ("Lib/tkinter/test/t.py", "x")]);
    let r = strip(
        sp.path(),
        &Options {
            rules: config::Strip {
                presets: vec!["tkinter".into()],
                ..opts().rules
            },
            ..opts()
        },
    );
    assert_eq!(r.before, r.after);
}

/// All packages are imported in one interpreter, where one can break a later
/// one (setuptools after pip): a failure is judged again on its own, in a
/// fresh interpreter. One that fails alone too stays a failure.
#[test]
fn an_import_broken_by_another_package_is_judged_on_its_own() {
    let t = tree(&[
        // Imported first (sorted), it poisons a module `bbb` imports.
        (
            "aaa/__init__.py",
            "import sys\nsys.modules['bbb_helper'] = None\n",
        ),
        ("bbb/__init__.py", "import bbb_helper\n"),
        ("bbb_helper.py", "x = 1\n"),
        (
            "ccc/__init__.py",
            "raise ImportError('broken on its own')\n",
        ),
    ]);
    let report = strip(t.path(), &opts());
    let env = Env::default();
    let rep = RecordingReporter::default();
    let ctx = Context::new(&rep, &env);
    let root = tempfile::tempdir().unwrap();
    let r = import_check(
        root.path(),
        t.path(),
        Platform::Linux,
        &ctx,
        &report,
        None,
        None,
        None,
    )
    .expect("this test needs python3 on PATH");
    assert!(r.ok.contains(&"bbb".to_owned()), "{r:?}");
    let unchecked: Vec<&str> = r.unchecked.iter().map(|u| u.package.as_str()).collect();
    assert_eq!(unchecked, ["ccc"], "{r:?}");
    let lines = rep.lines();
    assert!(
        lines.iter().any(|l| l == "Imported 3 of 4 packages"),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Checking imports of 4 packages")),
        "{lines:?}"
    );
}
