//! Stage: the Debian package. Why: Linux administrators install services with
//! their package manager (`apt install ./app.deb`), and expect upgrades and
//! removal to stop and restart the unit, keep the app's data and their edited
//! configuration, and `purge` to clean up.
//!
//! `{file-name}_{debian version}_amd64.deb` is made from the Linux bundle
//! tree, written here byte by byte (an `ar` of `debian-binary`,
//! `control.tar.gz` and `data.tar.gz`, sorted entries, owner root, every
//! mtime `SOURCE_DATE_EPOCH` or 1980-01-01): the same inputs give the same
//! bytes, on any host, without `dpkg-deb`. What it holds:
//!
//! - the bundle under `/opt/{file-name}/` (`data/` there is a link to
//!   `/var/lib/{file-name}`, which postinst creates when it is missing,
//!   remove keeps and purge deletes only when postinst created it; files the
//!   bundle ships in `data/` are defaults in
//!   `/opt/{file-name}/data-defaults/`, copied in where missing);
//! - a console app's command, `/usr/bin/{command}`, a link to its `run.sh`;
//! - `linux.conffiles` entries moved to `/etc/{file-name}/` and listed as
//!   conffiles (their bundle path becomes a link there);
//! - the systemd unit at `/lib/systemd/system/{file-name}.service`, enabled
//!   and started by maintainer scripts written as `dh_installsystemd` writes
//!   them (`deb-systemd-helper`, `deb-systemd-invoke`, systemctl only where
//!   systemd runs), and a system user when `linux.user` names one;
//! - `Depends` from the ELF files' `DT_NEEDED` libraries that the bundle does
//!   not carry (glibc's with the highest `GLIBC_` symbol version they need),
//!   plus `linux.depends`;
//! - `/usr/share/doc/{package}/copyright` and `changelog.gz`, and lintian
//!   overrides for what a self-contained bundle in `/opt` is by design.
//!
//! The Debian version spells the PEP 440 version so dpkg orders upgrades as
//! pip would ([`crate::version::Version::debian`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::context::Context;
use crate::error::escaped;
use crate::plan::{BundleInputError, IncompleteBundle, Plan};
use crate::templates::Templates;

mod archive;
mod elf;
use archive::{ar_member, gzip_best, md5sums, write_tar};
use elf::{depends_of, scan_elf};

/// Templates of the maintainer scripts (overridable in the project's `templates/`).
pub const POSTINST: &str = "linux/deb/postinst.j2";
pub const PRERM: &str = "linux/deb/prerm.j2";
pub const POSTRM: &str = "linux/deb/postrm.j2";
/// The bundle's data folder (a link to `/var/lib/{file-name}` in the package).
const DATA_DIR: &str = "data";
/// Where the defaults the bundle ships in `data/` go, inside the install folder.
const DEFAULTS_DIR: &str = "data-defaults";
/// The updater reads this file in the install folder: a package manager's install.
pub const INSTALL_MARKER: &str = ".pyship-install";
/// postinst writes this file into `/var/lib/{file-name}` when it creates the
/// folder; purge deletes the folder only when it is there, so a folder that
/// was there before the package (another program's) is never deleted.
pub const CREATED_RECORD: &str = ".pyship-created";

/// What the stage produced.
#[derive(Debug, Clone, Serialize)]
pub struct Deb {
    /// `{out_dir}/{file-name}_{version}_amd64.deb`.
    pub path: PathBuf,
    pub file_name: String,
    /// The Debian package name (`Package:`).
    pub package: String,
    /// The Debian version (`Version:`).
    pub version: String,
    pub size: u64,
    pub sha256: String,
    /// `Depends:` entries, in order.
    pub depends: Vec<String>,
    /// Libraries an ELF file needs that neither the bundle nor a known
    /// package provides (warned about; add their packages to `linux.depends`).
    pub unresolved: Vec<String>,
    /// Seconds spent building the package.
    pub seconds: f64,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Bundle(#[from] BundleInputError),
    #[error("`{file_name}` gives no valid Debian package name (lowercase letters, digits, `+`, `-`, `.`, starting with a letter or digit, at least two characters)")]
    #[diagnostic(help(
        "set `file-name` in [{table}] to a name that starts with a letter or digit"
    ))]
    PackageName {
        file_name: String,
        table: &'static str,
    },
    #[error("the Debian package needs a maintainer (`Name <email>`): none is configured and no [project] maintainer or author in {pyproject} has an email")]
    #[diagnostic(help("set `maintainer = \"Your Name <you@example.com>\"` in [{table}.linux], or add `maintainers = [{{name = \"…\", email = \"…\"}}]` to [project]"))]
    Maintainer {
        pyproject: PathBuf,
        table: &'static str,
    },
    #[error("`linux.user = \"{}\"` is not a system user name Debian accepts (lowercase letters, digits, `_` and `-`, starting with a letter or `_`, at most 32)", escaped(.user))]
    #[diagnostic(help("set `user` in [{table}.linux] to a name such as \"myapp\" (or drop it to run the service as root)"))]
    User { user: String, table: &'static str },
    #[error(
        "`linux.conffiles` entry `{entry}` is not in the Linux bundle ({path} does not exist)"
    )]
    #[diagnostic(help("list paths relative to the bundle root as it is built (e.g. \"app/config\" for `include = [\"config\"]`) in `conffiles` of [{table}.linux]"))]
    ConffileMissing {
        entry: String,
        path: PathBuf,
        table: &'static str,
    },
    #[error(
        "`linux.conffiles` entry `{entry}` {} the symbolic link {} (to {}) in the Linux bundle",
        if *.through { "passes through" } else { "is" },
        escaped(.link.display()),
        escaped(.target.display())
    )]
    #[diagnostic(help("in `conffiles` of [{table}.linux], name the file or folder where it is in the bundle, not through {}, or make the bundle ship a copy instead of the link: a conffile is packaged from the bundle itself, never through a link", escaped(.link.display())))]
    ConffileLink {
        entry: String,
        /// The link met on the way to `path`.
        link: PathBuf,
        target: PathBuf,
        /// The link is a folder on the way to the entry, not the entry.
        through: bool,
        table: &'static str,
    },
    #[error("the Linux bundle's data/ holds {path}: the package's postinst writes a file of that name into /var/lib/{file_name} to record that it created the folder")]
    #[diagnostic(help(
        "rename or leave out data/{name} in the app's data: the name is the package's own"
    ))]
    DataRecord {
        path: PathBuf,
        file_name: String,
        name: &'static str,
    },
    #[error("`linux.conffiles` entries `{a}` and `{b}` would both be /etc/{dir}/{name}")]
    #[diagnostic(help("give the two entries different last path components"))]
    ConffileClash {
        a: String,
        b: String,
        dir: String,
        name: String,
    },
    #[error("{path} is not a valid ELF file: {message}")]
    #[diagnostic(help("rebuild the bundle; a truncated file means a failed copy"))]
    Elf { path: PathBuf, message: String },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Template(#[from] crate::templates::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Unit(#[from] crate::render::linux::Error),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Write(#[from] crate::fs::OutputWriteError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Fs(#[from] crate::fs::Error),
}

/// The Debian package name of a file name: lowercase, `_` as `-`.
pub fn package_name(plan: &Plan) -> Result<String, Error> {
    let name: String = plan
        .file_name
        .chars()
        .map(|c| match c {
            '_' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    if crate::config::strings::valid_debian_package(&name) {
        Ok(name)
    } else {
        Err(Error::PackageName {
            file_name: plan.file_name.clone(),
            table: plan.project.config_source.table.key(),
        })
    }
}

/// `linux.maintainer`, else the first `[project]` maintainer, then author,
/// with an email.
pub fn maintainer(plan: &Plan) -> Result<String, Error> {
    if let Some(m) = &plan.config.linux.maintainer {
        return Ok(m.clone());
    }
    let path = &plan.pyproject().path;
    let err = || Error::Maintainer {
        pyproject: path.clone(),
        table: plan.project.config_source.table.key(),
    };
    let text = crate::fs::read_small_to_string(path).map_err(|_| err())?;
    let doc: toml::Table = toml::from_str(&text).map_err(|_| err())?;
    let project = doc.get("project").and_then(|p| p.as_table());
    for key in ["maintainers", "authors"] {
        for person in project
            .and_then(|p| p.get(key))
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            let field = |k: &str| {
                person
                    .get(k)
                    .and_then(|v| v.as_str())
                    .map(|s| s.trim().to_owned())
                    .filter(|s| {
                        !s.is_empty() && !s.chars().any(|c| c.is_control() || "<>,".contains(c))
                    })
            };
            if let Some(email) = field("email").filter(|e| e.contains('@') && !e.contains(' ')) {
                let name = field("name").unwrap_or_else(|| plan.config.windows.publisher.clone());
                return Ok(format!("{name} <{email}>"));
            }
        }
    }
    Err(err())
}

/// A system user name adduser accepts by default.
fn valid_user(u: &str) -> bool {
    !u.is_empty()
        && u.len() <= 32
        && (u.as_bytes()[0].is_ascii_lowercase() || u.starts_with('_'))
        && u.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// One member of the data archive, `./`-relative, `/`-separated.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Dir,
    File { source: PathBuf, mode: u32 },
    Bytes { data: Vec<u8>, mode: u32 },
    Link(String),
}

/// The data archive's members by path (a `BTreeMap`: the order is the
/// archive's), with every parent folder.
#[derive(Default)]
struct Tree {
    items: BTreeMap<String, Item>,
}

/// The mode a bundle file `path` (`rel` in the bundle) gets in the package:
/// a program (ELF, a script or a launcher) 0755, anything else, shared
/// libraries included, 0644 as Debian ships them.
fn packaged_mode(path: &Path, rel: &str) -> Result<u32, Error> {
    use std::io::Read;
    let read = |source| unreadable(path, source);
    let mut head = [0u8; 4];
    let mut f = fs_err::File::open(path).map_err(read)?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]).map_err(read)? {
            0 => break,
            k => n += k,
        }
    }
    Ok(match crate::archive::file_mode(rel, &head[..n]) {
        0o755 if head.starts_with(b"\x7fELF") && is_shared_library_name(rel) => 0o644,
        m => m,
    })
}

impl Tree {
    fn add(&mut self, path: &str, item: Item) {
        let mut parent = String::new();
        for part in path.split('/').collect::<Vec<_>>().split_last().unwrap().1 {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(part);
            self.items.entry(parent.clone()).or_insert(Item::Dir);
        }
        self.items.insert(path.to_owned(), item);
    }

    /// Add the files of `dir` under `prefix`, skipping the bundle-relative
    /// paths in `skip` (and what is below them). A symbolic link below `dir`
    /// is packaged as the same link, never followed: nothing it points to is
    /// read. (`dir` itself is followed: callers check it.)
    fn add_tree(&mut self, dir: &Path, prefix: &str, skip: &BTreeSet<String>) -> Result<(), Error> {
        let walk = walkdir::WalkDir::new(dir).min_depth(1).sort_by_file_name();
        let mut it = walk.into_iter();
        while let Some(e) = it.next() {
            let e = e.map_err(|e| {
                let (path, source) = crate::fs::walk_error(e, dir);
                unreadable(&path, source)
            })?;
            let rel = rel_path(dir, e.path());
            if skip.contains(&rel) {
                if e.file_type().is_dir() {
                    it.skip_current_dir();
                }
                continue;
            }
            let path = format!("{prefix}/{rel}");
            let ft = e.file_type();
            let read = |source| unreadable(e.path(), source);
            if ft.is_symlink() {
                let target = fs_err::read_link(e.path()).map_err(read)?;
                self.add(
                    &path,
                    Item::Link(target.to_string_lossy().replace('\\', "/")),
                );
            } else if ft.is_dir() {
                self.add(&path, Item::Dir);
            } else {
                crate::fs::refuse_special(e.path(), ft)
                    .map_err(|e| BundleInputError::Special(Box::new(e)))?;
                let mode = packaged_mode(e.path(), &rel)?;
                self.add(
                    &path,
                    Item::File {
                        source: e.path().to_owned(),
                        mode,
                    },
                );
            }
        }
        Ok(())
    }
}

/// Where the `linux.conffiles` entry `entry` is in the bundle at
/// `bundle_dir`: its `/`-separated path, the file or folder, and whether it
/// is a folder. An entry that is, or passes through, a symbolic link is
/// refused: the link would be followed, and what it points to (anywhere on
/// the building machine) packaged as the entry.
fn conffile_source(
    bundle_dir: &Path,
    entry: &str,
    table: &'static str,
) -> Result<(String, PathBuf, bool), Error> {
    let parts: Vec<&str> = entry
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let rel = parts.join("/");
    let path = bundle_dir.join(&rel);
    let mut at = bundle_dir.to_owned();
    let mut is_dir = true;
    for part in parts {
        at.push(part);
        let meta = match fs_err::symlink_metadata(&at) {
            Ok(meta) => meta,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                return Err(Error::ConffileMissing {
                    entry: entry.to_owned(),
                    path,
                    table,
                })
            }
            Err(e) => return Err(unreadable(&at, e)),
        };
        if meta.file_type().is_symlink() {
            let target = fs_err::read_link(&at).map_err(|e| unreadable(&at, e))?;
            return Err(Error::ConffileLink {
                entry: entry.to_owned(),
                through: at != path,
                link: at,
                target,
                table,
            });
        }
        is_dir = meta.is_dir();
    }
    Ok((rel, path, is_dir))
}

/// The bundle's `data/` when it holds files, the defaults of the installed
/// data folder. Only a folder of the bundle's own: a `data/` that is a link
/// has nothing to ship (following it would read whatever it points to). The
/// defaults may not hold [`CREATED_RECORD`], which would make purge take a
/// folder that was there before the package for the package's own.
fn bundle_defaults(bundle_dir: &Path, file_name: &str) -> Result<Option<PathBuf>, Error> {
    let data = bundle_dir.join(DATA_DIR);
    let is_folder = fs_err::symlink_metadata(&data).is_ok_and(|m| m.is_dir());
    let has_files = || {
        walkdir::WalkDir::new(&data)
            .into_iter()
            .filter_map(Result::ok)
            .any(|e| e.file_type().is_file())
    };
    if !(is_folder && has_files()) {
        return Ok(None);
    }
    let record = data.join(CREATED_RECORD);
    if fs_err::symlink_metadata(&record).is_ok() {
        return Err(Error::DataRecord {
            path: record,
            file_name: file_name.to_owned(),
            name: CREATED_RECORD,
        });
    }
    Ok(Some(data))
}

/// The maintainer scripts (`postinst`, `prerm`, `postrm`) of a package
/// installed in `install_dir` with its data in `data_dir`.
fn maintainer_scripts(
    templates: &Templates,
    package: &str,
    unit: Option<&str>,
    user: Option<&str>,
    install_dir: &str,
    data_dir: &str,
) -> Result<Vec<(&'static str, String)>, Error> {
    let ctx = minijinja::context! {
        package => package,
        unit => unit,
        user => user,
        data_dir => data_dir,
        created_record => format!("{data_dir}/{CREATED_RECORD}"),
        defaults_dir => format!("{install_dir}/{DEFAULTS_DIR}"),
        install_dir => install_dir,
    };
    [("postinst", POSTINST), ("prerm", PRERM), ("postrm", POSTRM)]
        .into_iter()
        .map(|(file, template)| Ok((file, templates.render(template, &ctx)?)))
        .collect()
}

/// A file of the Linux bundle (or of the package made from it) that could not be read.
fn unreadable(path: &Path, source: std::io::Error) -> Error {
    BundleInputError::unreadable(crate::platform::Platform::Linux, path, source).into()
}

/// `libfoo.so`, `libfoo.so.1.2`, `mod.cpython-311-x86_64-linux-gnu.so`.
fn is_shared_library_name(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    name.ends_with(".so") || name.contains(".so.")
}

fn rel_path(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .expect("below the root")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// The control file's long description: each line indented, blank lines as ` .`.
fn description(summary: &str, long: &str) -> String {
    let summary: String = summary.chars().filter(|c| !c.is_control()).collect();
    let mut s = summary.trim().to_owned();
    for line in long.lines() {
        let line: String = line.chars().filter(|c| !c.is_control()).collect();
        s.push('\n');
        if line.trim().is_empty() {
            s.push_str(" .");
        } else {
            s.push(' ');
            s.push_str(line.trim_end());
        }
    }
    s
}

/// RFC 2822 date of `secs` (UTC), as a Debian changelog trailer wants it.
fn rfc2822(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = crate::dates::civil_from_days(days);
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
        DAYS[days.rem_euclid(7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Everything the package is made of, before it is written.
struct Layout {
    package: String,
    version: String,
    control: String,
    conffiles: Vec<String>,
    scripts: Vec<(&'static str, String)>,
    tree: Tree,
    depends: Vec<String>,
    unresolved: Vec<String>,
}

/// Lay the package out from the bundle tree at `bundle_dir`.
fn layout(plan: &Plan, bundle_dir: &Path, mtime: u64) -> Result<Layout, Error> {
    let table = plan.project.config_source.table.key();
    let linux = &plan.config.linux;
    let package = package_name(plan)?;
    let maintainer = maintainer(plan)?;
    if let Some(u) = linux.user.as_deref().filter(|u| *u != "root") {
        if !valid_user(u) {
            return Err(Error::User {
                user: u.to_owned(),
                table,
            });
        }
    }
    let user = linux.user.as_deref().filter(|u| *u != "root");
    let files = ["run.sh", crate::platform::Platform::Linux.python_exe()];
    IncompleteBundle::check(crate::platform::Platform::Linux, bundle_dir, files, "deb")
        .map_err(BundleInputError::from)?;
    let name = &plan.file_name;
    let opt = format!("opt/{name}");
    let etc = format!("etc/{name}");
    let data_dir = format!("/var/lib/{name}");
    let mut tree = Tree::default();

    // Conffiles: moved to /etc, their bundle path a link there.
    let mut skip = BTreeSet::new();
    let mut conffiles = Vec::new();
    let mut etc_names: BTreeMap<String, String> = BTreeMap::new();
    for entry in &linux.conffiles {
        let (rel, src, is_dir) = conffile_source(bundle_dir, entry, table)?;
        let base = rel.rsplit('/').next().unwrap_or(&rel).to_owned();
        if let Some(a) = etc_names.insert(base.clone(), entry.clone()) {
            return Err(Error::ConffileClash {
                a,
                b: entry.clone(),
                dir: name.clone(),
                name: base,
            });
        }
        let target = format!("{etc}/{base}");
        if is_dir {
            let before: BTreeSet<String> = tree.items.keys().cloned().collect();
            tree.add_tree(&src, &target, &BTreeSet::new())?;
            tree.add(&target, Item::Dir);
            for (p, item) in &tree.items {
                if !before.contains(p) && matches!(item, Item::File { .. }) {
                    conffiles.push(format!("/{p}"));
                }
            }
        } else {
            // A program kept in /etc (a launcher, a script) stays one.
            tree.add(
                &target,
                Item::File {
                    source: src.clone(),
                    mode: packaged_mode(&src, &rel)?,
                },
            );
            conffiles.push(format!("/{target}"));
        }
        skip.insert(rel.clone());
        tree.add(&format!("{opt}/{rel}"), Item::Link(format!("/{target}")));
    }
    conffiles.sort();

    // The bundle; data/ becomes the link to /var/lib, its files defaults.
    // The tarball's service scripts would install a second unit: the
    // package manages its own.
    skip.insert(DATA_DIR.to_owned());
    skip.insert("install-service.sh".to_owned());
    skip.insert("uninstall-service.sh".to_owned());
    tree.add_tree(bundle_dir, &opt, &skip)?;
    tree.add(&opt, Item::Dir);
    if let Some(bundle_data) = bundle_defaults(bundle_dir, name)? {
        tree.add_tree(
            &bundle_data,
            &format!("{opt}/{DEFAULTS_DIR}"),
            &BTreeSet::new(),
        )?;
    }
    tree.add(&format!("{opt}/{DATA_DIR}"), Item::Link(data_dir.clone()));
    // A console app's command on every user's PATH (run.sh follows the link
    // to the bundle).
    if plan.launch.kind == crate::launch::Kind::Console {
        let command = plan.launch.command(name);
        tree.add(
            &format!("usr/bin/{command}"),
            Item::Link(format!("/{opt}/run.sh")),
        );
    }
    tree.add(
        &format!("{opt}/{INSTALL_MARKER}"),
        Item::Bytes {
            data: b"deb\n".to_vec(),
            mode: 0o644,
        },
    );

    // The unit, at its installed path.
    let templates = Templates::new(Some(&plan.project.config_dir));
    let unit = if linux.service {
        let exec_start = format!("/{opt}/run.sh");
        let working_directory = format!("/{opt}");
        let text = crate::render::linux::unit(
            &templates,
            &crate::render::linux::Unit {
                name: &plan.name,
                service: name,
                exec_start: &exec_start,
                working_directory: &working_directory,
                user,
            },
        )?;
        tree.add(
            &format!("lib/systemd/system/{name}.service"),
            Item::Bytes {
                data: text.into_bytes(),
                mode: 0o644,
            },
        );
        Some(format!("{name}.service"))
    } else {
        None
    };

    // Documentation and lintian's overrides.
    let doc = format!("usr/share/doc/{package}");
    let version = plan.version.version.debian();
    let summary = format!("{} {}", plan.name, plan.version.version.tag());
    let copyright = format!(
        "{} {} was packaged by cargo-pyship.\n\nThe app and the software it bundles come with their own licences:\nsee /{opt}/THIRD-PARTY-LICENSES.txt for the bundled third-party\npackages and the Python runtime.\n",
        plan.name,
        plan.version.version.tag()
    );
    tree.add(
        &format!("{doc}/copyright"),
        Item::Bytes {
            data: copyright.into_bytes(),
            mode: 0o644,
        },
    );
    let changelog = format!(
        "{package} ({version}) unstable; urgency=medium\n\n  * {summary}.\n\n -- {maintainer}  {}\n",
        rfc2822(mtime)
    );
    tree.add(
        &format!("{doc}/changelog.gz"),
        Item::Bytes {
            data: gzip_best(changelog.as_bytes()),
            mode: 0o644,
        },
    );
    // A self-contained app under /opt (the FHS place for add-on software),
    // with its own Python runtime and wheels: what Debian's own packages must
    // not be, and what lintian therefore flags.
    let overrides = [
        "dir-or-file-in-opt",
        "embedded-library",
        "interpreter-in-usr-local",
        "unusual-interpreter",
        "repeated-path-segment",
        "unstripped-binary-or-object",
        "shared-library-lacks-prerequisites",
        "library-not-linked-against-libc",
        "executable-not-elf-or-script",
        "script-not-executable",
        "package-contains-documentation-outside-usr-share-doc",
        "extra-license-file",
        "hardening-no-fortify-functions",
        "hardening-no-relro",
        "hardening-no-bindnow",
        "statically-linked-binary",
        "python3-script-but-no-python3-dep",
        "package-installs-python-pycache-dir",
        "package-contains-empty-directory",
        "embedded-javascript-library",
        "font-in-non-font-package",
        "privacy-breach-generic",
    ];
    let mut lines = String::new();
    for tag in overrides {
        lines.push_str(&format!("{package}: {tag} *[opt/{name}/*]\n"));
    }
    tree.add(
        &format!("usr/share/lintian/overrides/{package}"),
        Item::Bytes {
            data: lines.into_bytes(),
            mode: 0o644,
        },
    );

    // Depends, from the ELF files.
    let needs = scan_elf(bundle_dir)?;
    let (depends, unresolved) = depends_of(&needs, &linux.depends, unit.is_some(), user.is_some());

    let scripts = maintainer_scripts(
        &templates,
        &package,
        unit.as_deref(),
        user,
        &format!("/{opt}"),
        &data_dir,
    )?;

    let installed_kb: u64 = tree
        .items
        .values()
        .map(|i| match i {
            Item::File { source, .. } => fs_err::metadata(source)
                .map(|m| m.len())
                .unwrap_or(0)
                .div_ceil(1024),
            Item::Bytes { data, .. } => (data.len() as u64).div_ceil(1024),
            _ => 1,
        })
        .sum();
    let pyproject = plan.pyproject();
    let long = format!(
        "{} packaged with cargo-pyship: the app with its own Python {}\nruntime in /{opt}.",
        plan.name, plan.python.full
    );
    let short = read_description(&pyproject.path).unwrap_or_else(|| summary.clone());
    let mut control = format!(
        "Package: {package}\nVersion: {version}\nArchitecture: amd64\nMaintainer: {maintainer}\nInstalled-Size: {installed_kb}\n"
    );
    if !depends.is_empty() {
        control.push_str(&format!("Depends: {}\n", depends.join(", ")));
    }
    control.push_str("Section: misc\nPriority: optional\n");
    if let Some(home) = homepage(plan) {
        control.push_str(&format!("Homepage: {home}\n"));
    }
    control.push_str(&format!("Description: {}\n", description(&short, &long)));
    Ok(Layout {
        package,
        version,
        control,
        conffiles,
        scripts,
        tree,
        depends,
        unresolved,
    })
}

/// `[project].description` of the pyproject, on one line.
fn read_description(pyproject: &Path) -> Option<String> {
    let doc: toml::Table =
        toml::from_str(&crate::fs::read_small_to_string(pyproject).ok()?).ok()?;
    let d = doc.get("project")?.get("description")?.as_str()?;
    let d: String = d
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let d = d.trim();
    (!d.is_empty()).then(|| d.chars().take(80).collect())
}

/// The repository page, when the server and repository are known at build time.
fn homepage(plan: &Plan) -> Option<String> {
    let u = plan.update.as_ref()?;
    let home = format!("{}/{}", u.server_url.as_deref()?, u.repo.as_deref()?);
    (home.starts_with("https://") || home.starts_with("http://"))
        .then_some(home)
        .filter(|h| !h.chars().any(|c| c.is_control() || c == ' '))
}

/// Build the Debian package of the Linux bundle tree at `bundle_dir`.
pub fn run(plan: &Plan, bundle_dir: &Path, ctx: &Context<'_>) -> Result<Deb, Error> {
    let start = std::time::Instant::now();
    let _lock = crate::lock::OutDirLock::acquire(&plan.out_dir, ctx.reporter)
        .map_err(BundleInputError::from)?;
    let file_name = crate::plan::deb_file_name(&plan.file_name, &plan.version.version);
    let path = plan.out_dir.join(&file_name);
    let mtime = plan.epoch.seconds.max(crate::dates::ZIP_EPOCH);
    let l = layout(plan, bundle_dir, mtime)?;
    ctx.reporter.status(
        "Building",
        &format!("{file_name} ({} {})", l.package, l.version),
    );
    for lib in &l.unresolved {
        ctx.reporter.warn(&format!(
            "{file_name}: the bundle needs {}, which it does not carry and no known Debian package provides; add its package to `depends` in [{}.linux]",
            escaped(lib),
            plan.project.config_source.table.key()
        ));
    }
    let werr = |source: std::io::Error| {
        Error::Write(crate::fs::OutputWriteError {
            path: path.clone(),
            source: source.into(),
        })
    };

    // control.tar.gz
    let mut control = BTreeMap::new();
    control.insert(
        "control".to_owned(),
        Item::Bytes {
            data: l.control.clone().into_bytes(),
            mode: 0o644,
        },
    );
    if !l.conffiles.is_empty() {
        control.insert(
            "conffiles".to_owned(),
            Item::Bytes {
                data: format!("{}\n", l.conffiles.join("\n")).into_bytes(),
                mode: 0o644,
            },
        );
    }
    control.insert(
        "md5sums".to_owned(),
        Item::Bytes {
            data: md5sums(&l.tree.items).map_err(werr)?.into_bytes(),
            mode: 0o644,
        },
    );
    for (name, text) in &l.scripts {
        control.insert(
            (*name).to_owned(),
            Item::Bytes {
                data: text.clone().into_bytes(),
                mode: 0o755,
            },
        );
    }
    let control_tar = {
        let gz = flate2::GzBuilder::new()
            .operating_system(3)
            .write(Vec::new(), flate2::Compression::best());
        write_tar(gz, &control, mtime)
            .and_then(|gz| gz.finish())
            .map_err(werr)?
    };

    // The ar, streamed: data.tar.gz is compressed into a temp file first (its
    // size goes in the member header before its bytes).
    fs_err::create_dir_all(&plan.out_dir).map_err(werr)?;
    let data_tmp = tempfile::Builder::new()
        .prefix(".pyship-deb-data-")
        .tempfile_in(&plan.out_dir)
        .map_err(werr)?;
    {
        let pool = rayon::ThreadPoolBuilder::new()
            .build()
            .map_err(|e| werr(std::io::Error::other(e)))?;
        let cache = std::sync::Arc::new(crate::archive::gzip::chunk_cache(
            &ctx.cache.bucket(crate::archive::entry_cache::BUCKET),
        ));
        let file = std::io::BufWriter::new(data_tmp.as_file());
        let gz =
            crate::archive::gzip::ParGzEncoder::new(file, pool, 6, Some(cache)).map_err(werr)?;
        let gz = write_tar(gz, &l.tree.items, mtime).map_err(werr)?;
        gz.finish().map_err(werr)?;
    }
    let data_len = fs_err::metadata(data_tmp.path()).map_err(werr)?.len();
    crate::fs::atomic_write_with(&path, |w| -> Result<(), Error> {
        w.write_all(b"!<arch>\n").map_err(werr)?;
        ar_member(w, "debian-binary", b"2.0\n", mtime).map_err(werr)?;
        ar_member(w, "control.tar.gz", &control_tar, mtime).map_err(werr)?;
        writeln!(
            w,
            "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`",
            "data.tar.gz", mtime, 0, 0, "100644", data_len
        )
        .map_err(werr)?;
        std::io::copy(&mut fs_err::File::open(data_tmp.path()).map_err(werr)?, w).map_err(werr)?;
        if data_len % 2 == 1 {
            w.write_all(b"\n").map_err(werr)?;
        }
        Ok(())
    })?;
    drop(data_tmp);
    let read = |source| unreadable(&path, source);
    let size = fs_err::metadata(&path).map_err(read)?.len();
    let sha256 = crate::fs::sha256_file(&path).map_err(read)?;
    ctx.reporter.status(
        "Built",
        &format!("{} ({:.1} MiB)", path.display(), size as f64 / 1048576.0),
    );
    Ok(Deb {
        path,
        file_name,
        package: l.package,
        version: l.version,
        size,
        sha256,
        depends: l.depends,
        unresolved: l.unresolved,
        seconds: start.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::elf::Needs;
    use super::*;

    /// A file gets its mode from what it is, wherever it lands (a conffile
    /// in /etc too): a script or launcher 0755, a shared library 0644.
    #[test]
    fn packaged_modes_follow_what_a_file_is() {
        let d = tempfile::tempdir().unwrap();
        for (name, data, mode) in [
            ("run.sh", &b"#!/bin/sh\n"[..], 0o755),
            ("tool", &b"#!/usr/bin/env python3\n"[..], 0o755),
            ("python3.11", &b"\x7fELF...."[..], 0o755),
            ("libpython3.11.so.1.0", &b"\x7fELF...."[..], 0o644),
            ("settings.json", &b"{}"[..], 0o644),
            ("empty", &b""[..], 0o644),
        ] {
            let p = d.path().join(name);
            fs_err::write(&p, data).unwrap();
            assert_eq!(packaged_mode(&p, name).unwrap(), mode, "{name}");
        }
    }

    /// A file of the bundle that cannot be read reads as it did when the
    /// stage had its own variant: the message, the cause under it, no hint.
    #[test]
    fn an_unreadable_bundle_file_reads_the_same() {
        let denied = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let r = crate::error::Report::from(unreadable(Path::new("/b/lib/x.so"), denied));
        let chain: Vec<String> = r.chain().map(|e| e.to_string()).collect();
        assert_eq!(
            chain,
            ["could not read the Linux bundle at /b/lib/x.so", "denied"]
        );
        assert_eq!(r.hint(), None);
    }

    #[cfg(unix)]
    /// A conffile entry that is a link, or whose path goes through a linked
    /// folder, is refused, naming the entry and the link: following it would
    /// package whatever it points to, outside the bundle too.
    #[test]
    fn conffiles_through_a_symlink_are_refused() {
        use std::os::unix::fs::symlink;
        let d = tempfile::tempdir().unwrap();
        let outside = d.path().join("outside");
        fs_err::create_dir_all(&outside).unwrap();
        fs_err::write(outside.join("secret"), "not the bundle's\n").unwrap();
        let b = d.path().join("bundle");
        fs_err::create_dir_all(b.join("app/config")).unwrap();
        fs_err::write(b.join("app/config/settings.toml"), "a = 1\n").unwrap();
        symlink(outside.join("secret"), b.join("app/secret.toml")).unwrap();
        symlink("../../outside", b.join("app/linked")).unwrap();
        symlink("config", b.join("app/alias")).unwrap();
        symlink("app", b.join("shortcut")).unwrap();

        let (rel, path, is_dir) = conffile_source(&b, "./app/config/", "T").unwrap();
        assert_eq!((rel.as_str(), is_dir), ("app/config", true));
        assert_eq!(path, b.join("app/config"));
        let (rel, _, is_dir) = conffile_source(&b, "app/config/settings.toml", "T").unwrap();
        assert_eq!((rel.as_str(), is_dir), ("app/config/settings.toml", false));

        for (entry, link, is) in [
            ("app/secret.toml", "app/secret.toml", true),
            ("app/linked", "app/linked", true),
            ("app/linked/secret", "app/linked", false),
            ("app/alias", "app/alias", true),
            ("shortcut/config/settings.toml", "shortcut", false),
        ] {
            let err = conffile_source(&b, entry, "T").unwrap_err();
            let Error::ConffileLink { link: l, .. } = &err else {
                panic!("{entry}: {err:?}");
            };
            assert_eq!(*l, b.join(link), "{entry}");
            let r = crate::error::Report::from(err);
            let msg = r.to_string();
            let verb = if is {
                "is the symbolic link"
            } else {
                "passes through the symbolic link"
            };
            assert!(
                msg.starts_with(&format!(
                    "`linux.conffiles` entry `{entry}` {verb} {}",
                    b.join(link).display()
                )),
                "{msg}"
            );
            let hint = r.hint().unwrap();
            assert!(hint.contains("`conffiles` of [T.linux]"), "{hint}");
        }

        for entry in ["app/nothing", "app/config/settings.toml/x"] {
            let err = conffile_source(&b, entry, "T").unwrap_err();
            assert!(
                matches!(err, Error::ConffileMissing { .. }),
                "{entry}: {err:?}"
            );
        }
    }

    #[cfg(unix)]
    /// Inside a conffile folder (as anywhere in the bundle) a link is
    /// packaged as the link: what it points to is never read into the
    /// package.
    #[test]
    fn links_in_a_conffile_folder_stay_links() {
        let d = tempfile::tempdir().unwrap();
        let outside = d.path().join("outside");
        fs_err::create_dir_all(&outside).unwrap();
        fs_err::write(outside.join("secret"), "not the bundle's\n").unwrap();
        let config = d.path().join("bundle/app/config");
        fs_err::create_dir_all(&config).unwrap();
        fs_err::write(config.join("settings.toml"), "a = 1\n").unwrap();
        std::os::unix::fs::symlink(outside.join("secret"), config.join("secret")).unwrap();
        std::os::unix::fs::symlink(&outside, config.join("dir")).unwrap();
        let mut tree = Tree::default();
        tree.add_tree(&config, "etc/app/config", &BTreeSet::new())
            .unwrap();
        let items: Vec<(&str, &Item)> = tree.items.iter().map(|(k, v)| (k.as_str(), v)).collect();
        assert_eq!(
            items,
            [
                ("etc", &Item::Dir),
                ("etc/app", &Item::Dir),
                ("etc/app/config", &Item::Dir),
                (
                    "etc/app/config/dir",
                    &Item::Link(outside.display().to_string())
                ),
                (
                    "etc/app/config/secret",
                    &Item::Link(outside.join("secret").display().to_string())
                ),
                (
                    "etc/app/config/settings.toml",
                    &Item::File {
                        source: config.join("settings.toml"),
                        mode: 0o644
                    }
                ),
            ]
        );
    }

    /// A named pipe in a bundle tree (the `data/` defaults, a conffile
    /// folder) is refused naming it: reading its header to choose its mode
    /// would wait for a writer forever.
    #[cfg(unix)]
    #[test]
    fn a_named_pipe_in_the_bundle_is_refused_not_read() {
        let d = tempfile::tempdir().unwrap();
        let data = d.path().join("bundle/data");
        fs_err::create_dir_all(&data).unwrap();
        fs_err::write(data.join("a.conf"), "a = 1\n").unwrap();
        crate::fs::test_support::make_fifo(&data.join("pipe"));
        let e = Tree::default()
            .add_tree(&data, "opt/app/data-defaults", &BTreeSet::new())
            .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("data/pipe") && msg.contains("named pipe"),
            "{msg}"
        );
    }

    #[cfg(unix)]
    /// Defaults come from the bundle's own `data/` folder: never from
    /// where a `data/` link points.
    #[test]
    fn data_defaults_are_read_from_the_bundle_only() {
        let d = tempfile::tempdir().unwrap();
        let outside = d.path().join("outside");
        fs_err::create_dir_all(&outside).unwrap();
        fs_err::write(outside.join("secret"), "not the bundle's\n").unwrap();
        let linked = d.path().join("linked");
        fs_err::create_dir_all(&linked).unwrap();
        std::os::unix::fs::symlink(&outside, linked.join(DATA_DIR)).unwrap();
        assert_eq!(bundle_defaults(&linked, "App").unwrap(), None);
        let empty = d.path().join("empty");
        fs_err::create_dir_all(empty.join("data/sub")).unwrap();
        assert_eq!(bundle_defaults(&empty, "App").unwrap(), None);
        let real = d.path().join("real");
        fs_err::create_dir_all(real.join(DATA_DIR)).unwrap();
        fs_err::write(real.join("data/seed.json"), "{}").unwrap();
        assert_eq!(
            bundle_defaults(&real, "App").unwrap(),
            Some(real.join(DATA_DIR))
        );
        // The defaults may not carry the record of a folder postinst made.
        fs_err::write(real.join(DATA_DIR).join(CREATED_RECORD), "").unwrap();
        let r = crate::error::Report::from(bundle_defaults(&real, "App").unwrap_err());
        assert_eq!(
            r.to_string(),
            format!(
                "the Linux bundle's data/ holds {}: the package's postinst writes a file of that name into /var/lib/App to record that it created the folder",
                real.join("data/.pyship-created").display()
            )
        );
        assert!(r.hint().unwrap().contains("data/.pyship-created"));
    }

    #[cfg(unix)]
    /// The maintainer scripts, run by `sh` on a folder standing for `/`:
    /// purge deletes the data folder postinst created, through an upgrade,
    /// a remove and a reinstall, and keeps one that was there before the
    /// install (saying so), or one reached through a link.
    #[test]
    fn purge_deletes_only_a_data_folder_the_package_created() {
        let d = tempfile::tempdir().unwrap();
        let install = d.path().join("opt/app");
        let data = d.path().join("var/lib/app");
        fs_err::create_dir_all(install.join(DEFAULTS_DIR)).unwrap();
        fs_err::create_dir_all(data.parent().unwrap()).unwrap();
        fs_err::write(install.join(DEFAULTS_DIR).join("seed.json"), "{}").unwrap();
        let scripts = maintainer_scripts(
            &Templates::new(None),
            "app",
            None,
            None,
            install.to_str().unwrap(),
            data.to_str().unwrap(),
        )
        .unwrap();
        for (name, text) in &scripts {
            fs_err::write(d.path().join(name), text).unwrap();
        }
        let run = |script: &str, args: &[&str]| {
            let out = std::process::Command::new("sh")
                .arg("-e")
                .arg(d.path().join(script))
                .args(args)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(out.status.success(), "{script} {args:?}: {stderr}");
            stderr
        };
        let record = data.join(CREATED_RECORD);
        // As root, as dpkg runs them: only a record of root's counts.
        let root = nix_uid() == 0;

        // Installed, upgraded, removed, installed again, purged.
        run("postinst", &["configure", ""]);
        assert!(record.is_file() && data.join("seed.json").is_file());
        fs_err::write(data.join("user.json"), "{}").unwrap();
        run("postinst", &["configure", "1.0"]);
        run("prerm", &["remove"]);
        run("postrm", &["remove"]);
        run("postinst", &["configure", "1.0"]);
        assert!(record.is_file() && data.join("user.json").is_file());
        run("prerm", &["remove"]);
        run("postrm", &["remove"]);
        let said = run("postrm", &["purge"]);
        assert_eq!(data.exists(), !root, "{said}");

        // There before the install: kept, and purge says why.
        fs_err::remove_dir_all(&data).ok();
        fs_err::create_dir(&data).unwrap();
        fs_err::write(data.join("theirs.db"), "x").unwrap();
        run("postinst", &["configure", ""]);
        assert!(
            !record.exists(),
            "a record in a folder postinst did not make"
        );
        assert!(data.join("seed.json").is_file(), "defaults not copied in");
        let said = run("postrm", &["purge"]);
        assert!(data.join("theirs.db").is_file());
        assert!(
            said.starts_with(&format!(
                "app: purge leaves {} and what it holds: nothing in it records",
                data.display()
            )),
            "{said}"
        );

        // A record that is not root's (the service's user could write one):
        // kept.
        if root {
            fs_err::write(&record, "").unwrap();
            std::os::unix::fs::chown(&record, Some(65534), None).unwrap();
            run("postrm", &["purge"]);
            assert!(record.is_file(), "purge took a record not of root's");
            fs_err::remove_file(&record).unwrap();
        }

        // A folder there before, which the service's user cannot write in:
        // the install goes on without the defaults, and says what to do.
        if root {
            fs_err::remove_dir_all(&data).unwrap();
            fs_err::create_dir(&data).unwrap();
            let with_user = maintainer_scripts(
                &Templates::new(None),
                "app",
                None,
                Some("nobody"),
                install.to_str().unwrap(),
                data.to_str().unwrap(),
            )
            .unwrap();
            let postinst = &with_user.iter().find(|(n, _)| *n == "postinst").unwrap().1;
            fs_err::write(d.path().join("postinst"), postinst).unwrap();
            let said = run("postinst", &["configure", ""]);
            assert!(
                said.contains(&format!(
                    "app: the app's default data files were not all copied into {}, which nobody cannot write in",
                    data.display()
                )) && said.contains("dpkg-reconfigure app"),
                "{said}"
            );
            assert!(!data.join("seed.json").exists() && !record.exists());
        }

        // A link to a folder holding a record: neither deleted.
        let elsewhere = d.path().join("elsewhere");
        fs_err::create_dir(&elsewhere).unwrap();
        fs_err::write(elsewhere.join(CREATED_RECORD), "").unwrap();
        fs_err::remove_dir_all(&data).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &data).unwrap();
        run("postrm", &["purge"]);
        assert!(elsewhere.join(CREATED_RECORD).is_file());
        assert!(fs_err::symlink_metadata(&data).is_ok());
    }

    #[cfg(unix)]
    /// The user id the tests run as.
    fn nix_uid() -> u32 {
        use std::os::unix::fs::MetadataExt;
        let d = tempfile::tempdir().unwrap();
        fs_err::metadata(d.path()).unwrap().uid()
    }

    #[test]
    fn rfc2822_dates() {
        assert_eq!(rfc2822(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc2822(315_532_800), "Tue, 01 Jan 1980 00:00:00 +0000");
        assert_eq!(rfc2822(1_700_000_000), "Tue, 14 Nov 2023 22:13:20 +0000");
    }

    #[test]
    fn descriptions_keep_to_the_control_format() {
        assert_eq!(
            description("App\n", "one\n\ntwo\nEvil: x"),
            "App\n one\n .\n two\n Evil: x"
        );
    }

    #[test]
    fn depends_map_sonames_and_leave_what_the_bundle_carries() {
        let needs = Needs {
            needed: [
                "libc.so.6",
                "libm.so.6",
                "libpython3.11.so.1.0",
                "libstdc++.so.6",
                "libweird.so.9",
            ]
            .map(String::from)
            .into(),
            provided: ["libpython3.11.so.1.0"].map(String::from).into(),
            glibc: Some((2, 28)),
        };
        let (deps, unresolved) = depends_of(&needs, &["libfoo1".into()], true, true);
        assert_eq!(
            deps,
            [
                "libc6 (>= 2.28)",
                "libstdc++6",
                "adduser",
                "init-system-helpers (>= 1.54~)",
                "libfoo1"
            ]
        );
        assert_eq!(unresolved, ["libweird.so.9"]);
        let (none, _) = depends_of(&Needs::default(), &[], false, false);
        assert!(none.is_empty());
    }

    #[test]
    fn user_names_follow_adduser() {
        for ok in ["app", "_app", "my-app2"] {
            assert!(valid_user(ok), "{ok}");
        }
        for bad in ["", "App", "1app", "a b", "a;rm", &"a".repeat(33)] {
            assert!(!valid_user(bad), "{bad}");
        }
    }
}
