//! The pyship table `init` writes: every key documented, only the ones that
//! matter set. A key is written when init discovered it (`pyproject`,
//! `module`, `app-src` the plan would not derive, each with where it came
//! from) or when the project's config differs from the default (a `--force`
//! rewrite keeps the user's values); every other key stays commented,
//! showing the value in use (the derived one where there is one), so the
//! table reads as the whole configuration without pinning any default.

use crate::config::{AppKind, CertSource, Config, Provider};

use super::discover::{Discovery, Found};
use super::Ci;

/// A TOML string literal.
pub(crate) fn q(s: &str) -> String {
    toml_edit::Value::from(s).decorated("", "").to_string()
}

fn list(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| q(s)).collect();
    format!("[{}]", inner.join(", "))
}

fn path(p: &std::path::Path) -> String {
    q(&p.to_string_lossy().replace('\\', "/"))
}

struct Writer {
    out: String,
}

impl Writer {
    fn doc(&mut self, doc: &str) {
        for line in doc.lines() {
            self.out.push_str("# ");
            self.out.push_str(line);
            self.out.push('\n');
        }
    }

    /// `key = cur` when it differs from `def`, else `# key = def`.
    fn key(&mut self, key: &str, doc: &str, cur: String, def: String) {
        self.doc(doc);
        if cur != def {
            self.out.push_str(&format!("{key} = {cur}\n"));
        } else {
            self.out.push_str(&format!("# {key} = {def}\n"));
        }
    }

    /// `key = v` when set, else `# key = example  # an example; not set`:
    /// the key has no value in use, so the commented line says so.
    fn opt(&mut self, key: &str, doc: &str, cur: Option<String>, example: &str) {
        self.doc(doc);
        match cur {
            Some(v) => self.out.push_str(&format!("{key} = {v}\n")),
            None => self
                .out
                .push_str(&format!("# {key} = {example}  # an example; not set\n")),
        }
    }

    /// `key = v` when set, else `# key = in_use`: what applies when unset.
    fn opt_in_use(&mut self, key: &str, doc: &str, cur: Option<String>, in_use: &str) {
        self.doc(doc);
        match cur {
            Some(v) => self.out.push_str(&format!("{key} = {v}\n")),
            None => self.out.push_str(&format!("# {key} = {in_use}\n")),
        }
    }

    /// A discovered key: written with where it came from, or commented
    /// showing the derived value (`shown`).
    fn found(&mut self, key: &str, doc: &str, found: Option<&Found>, shown: &str) {
        self.doc(doc);
        match found {
            Some(f) => {
                self.doc(&format!("Set by init: {}.", f.why));
                self.out.push_str(&format!("{key} = {}\n", q(&f.value)));
            }
            None => self.out.push_str(&format!("# {key} = {shown}\n")),
        }
    }

    fn header(&mut self, table: &str) {
        self.out.push('\n');
        self.out.push_str(&format!("[{table}]\n"));
    }
}

/// What the commented `module` and `app-src` lines show.
#[derive(Debug, Clone, Default)]
pub struct Derived {
    /// The module the plan derives (`None`: none found).
    pub module: Option<String>,
    /// The app-src the layout finds, relative to the table's folder.
    pub app_src: Option<String>,
    /// Why there is none, when the module comes only from a wheel.
    pub no_app_src: Option<String>,
}

/// The table text for `key` (`package.metadata.pyship` or
/// `workspace.metadata.pyship`). `c` is the config in use (defaults for a
/// new table), `d` the defaults for the same package.
pub fn render(
    key: &str,
    c: &Config,
    d: &Config,
    disc: &Discovery,
    derived: &Derived,
    ci: Ci,
    install: Option<&super::install::InstallCommand>,
) -> String {
    let mut w = Writer { out: String::new() };
    w.out.push_str(&format!("[{key}]\n"));
    w.doc(
        "Written by `cargo pyship init`. Paths are relative to the folder of this Cargo.toml.\n\
         A commented key shows the value in use (its default, or what is derived), or,\n\
         marked \"an example; not set\", what a value of a key without one looks like;\n\
         uncomment it to change it. `cargo pyship init --check` tells when the table no longer\n\
         matches the project.",
    );
    if let Some(found) = &disc.package_key {
        w.found(
            "package",
            "The workspace member shipped (its name and version); -p/--package need not be given.",
            Some(found),
            "",
        );
    }
    w.key(
        "name",
        "Artifact prefix and display name (default: the pyproject's [project] name, else the\n\
         Cargo package name).",
        q(&c.name),
        q(&d.name),
    );
    let file_name = crate::names::file_name(&c.name, "package.metadata.pyship")
        .map(|f| q(&f))
        .unwrap_or_else(|_| "\"app-name\"".into());
    w.opt_in_use(
        "file-name",
        "File name of artifacts, folders and the systemd unit (default: derived from `name`).",
        c.file_name.as_deref().map(q),
        &file_name,
    );
    w.found(
        "pyproject",
        "The app's pyproject.toml.",
        disc.pyproject_key.as_ref(),
        "\"pyproject.toml\"",
    );
    w.found(
        "module",
        "What the launchers start: `python -m {module}`, or an entry point `pkg.mod:func`\n\
         (default: [project.scripts], else the package named after the project).",
        disc.module_key.as_ref(),
        &derived
            .module
            .as_deref()
            .map(q)
            .unwrap_or_else(|| "\"app.main\"".into()),
    );
    if let (None, None, Some(why)) = (&disc.app_src_key, &derived.app_src, &derived.no_app_src) {
        w.doc(&format!("In use: no app sources ({why})."));
    }
    w.found(
        "app-src",
        "The folder containing the app's top-level package(s), copied to app/src (default: from\n\
         the layout: maturin's python-source, a src layout's src/, else next to the pyproject).",
        disc.app_src_key.as_ref(),
        &derived
            .app_src
            .as_deref()
            .map(q)
            .unwrap_or_else(|| "\"src\"".into()),
    );
    w.key(
        "args",
        "Arguments every launcher passes (per target: `args` in [...windows] / [...linux]).",
        list(&c.args),
        list(&d.args),
    );
    w.key(
        "python",
        "CPython version bundled for Windows (and the Linux standalone runtime).",
        q(&c.python),
        q(&d.python),
    );
    w.key(
        "include",
        "Extra files or directories copied under app/.",
        list(&c.include),
        list(&d.include),
    );
    w.key(
        "allow-outside-project",
        "Let `include` and symlinks in the app sources lead outside the project.",
        c.allow_outside_project.to_string(),
        d.allow_outside_project.to_string(),
    );
    w.key(
        "extras",
        "pyproject extras to install.",
        list(&c.extras),
        list(&d.extras),
    );
    w.key(
        "wheels",
        "The project's own prebuilt wheels (paths or globs), e.g. a maturin build.",
        list(&c.wheels),
        list(&d.wheels),
    );
    w.opt_in_use(
        "index-url",
        "Package index for uv (default: uv's default).",
        c.index_url.as_deref().map(q),
        "\"https://pypi.org/simple\"",
    );
    w.key(
        "find-links",
        "Extra wheel sources; no-index = true uses only these (offline builds).",
        list(&c.find_links),
        list(&d.find_links),
    );
    w.key(
        "no-index",
        "",
        c.no_index.to_string(),
        d.no_index.to_string(),
    );
    let paths = |v: &[std::path::PathBuf]| {
        list(
            &v.iter()
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .collect::<Vec<_>>(),
        )
    };
    w.key(
        "constraints",
        "uv constraint files.",
        paths(&c.constraints),
        paths(&d.constraints),
    );
    w.opt(
        "prebuild",
        "A command run before bundling (and in the Docker image's first stage).",
        c.prebuild.as_deref().map(q),
        "\"npm ci && npm run build\"",
    );
    w.opt(
        "port",
        "The app's web port: opened after install, EXPOSEd and health-checked in Docker.",
        c.port.map(|p| p.to_string()),
        "8765",
    );
    w.opt(
        "kind",
        "\"console\" (a command-line tool: console launchers, PATH option) or \"gui\" (started hidden).\n\
         Unset: a [project.scripts] entry point is a console app; `port` or [project.gui-scripts] a GUI app.",
        c.kind.map(|k| q(if k == AppKind::Console { "console" } else { "gui" })),
        "\"console\"",
    );

    let (cw, dw) = (&c.windows, &d.windows);
    w.header(&format!("{key}.windows"));
    w.key(
        "python-mirror",
        "Where the embeddable CPython is downloaded from.",
        q(&cw.python_mirror),
        q(&dw.python_mirror),
    );
    w.opt_in_use(
        "python-sha256",
        "Pin of the embeddable zip's SHA-256 (also recorded in pyship.lock on first fetch).",
        cw.python_sha256.as_deref().map(q),
        "\"\"",
    );
    w.key(
        "installer",
        "Build the NSIS installer next to the portable zip.",
        cw.installer.to_string(),
        dw.installer.to_string(),
    );
    w.key(
        "launcher",
        "\"vbs\" (wscript start-hidden.vbs) or \"pythonw\" (no VBScript).",
        q(cw.launcher.key()),
        q(dw.launcher.key()),
    );
    w.key(
        "tkinter",
        "Add tkinter (from python.org's MSIs) to the embedded CPython.",
        cw.tkinter.to_string(),
        dw.tkinter.to_string(),
    );
    w.key(
        "tkinter-source",
        "\"msi\" (python.org's tcltk.msi, needs msitools) or \"pypi\" (the tkinter-embed package).",
        q(cw.tkinter_source.key()),
        q(dw.tkinter_source.key()),
    );
    w.key(
        "publisher",
        "Shown by the installer (default: `name`).",
        q(&cw.publisher),
        q(&c.name),
    );
    w.opt_in_use(
        "args",
        "Replaces the top-level `args` for the Windows launchers and shortcuts.",
        cw.args.as_deref().map(list),
        &list(&c.args),
    );
    w.key(
        "rust-target",
        "Rust target of a maturin project's Windows wheel.",
        q(&cw.rust_target),
        q(&dw.rust_target),
    );
    target_keys(&mut w, &cw.target, "Windows");
    if let Some(s) = &cw.sign {
        w.header(&format!("{key}.windows.sign"));
        match &s.certificate {
            CertSource::Pkcs12(p) => w.out.push_str(&format!("pkcs12 = {}\n", path(p))),
            CertSource::Pkcs12Env(v) => w.out.push_str(&format!("pkcs12-env = {}\n", q(v))),
        }
        if let Some(v) = &s.password_env {
            w.out.push_str(&format!("password-env = {}\n", q(v)));
        }
        if let Some(v) = &s.timestamp_url {
            w.out.push_str(&format!("timestamp-url = {}\n", q(v)));
        }
        w.out
            .push_str(&format!("sign-binaries = {}\n", s.sign_binaries));
    }

    let (cl, dl) = (&c.linux, &d.linux);
    w.header(&format!("{key}.linux"));
    w.key(
        "runtime",
        "\"standalone\" (relocatable CPython) or \"venv\" (tied to the build host's Python path).",
        q(cl.runtime.key()),
        q(dl.runtime.key()),
    );
    w.opt_in_use(
        "runtime-url",
        "The standalone runtime's tarball URL (default: python-build-standalone for `python`).",
        cl.runtime_url.as_deref().map(q),
        "\"\"",
    );
    w.opt_in_use(
        "runtime-sha256",
        "Pin of the runtime tarball's SHA-256.",
        cl.runtime_sha256.as_deref().map(q),
        "\"\"",
    );
    w.key(
        "platform",
        "Wheel platform for the Linux bundle.",
        q(&cl.platform),
        q(&dl.platform),
    );
    w.key(
        "service",
        "Ship install-service.sh / uninstall-service.sh (systemd).",
        cl.service.to_string(),
        dl.service.to_string(),
    );
    w.opt(
        "user",
        "The user the systemd service runs as.",
        cl.user.as_deref().map(q),
        "\"app\"",
    );
    w.opt_in_use(
        "args",
        "Replaces the top-level `args` for the Linux launcher, unit and Docker.",
        cl.args.as_deref().map(list),
        &list(&c.args),
    );
    target_keys(&mut w, &cl.target, "Linux");

    let (cs, ds) = (&c.strip, &d.strip);
    w.header(&format!("{key}.strip"));
    w.key(
        "presets",
        "Safe removal rules for known packages.",
        list(&cs.presets),
        list(&ds.presets),
    );
    w.key(
        "remove",
        "Extra globs to remove, relative to site-packages; `keep` wins over every rule.",
        list(&cs.remove),
        list(&ds.remove),
    );
    w.key("keep", "", list(&cs.keep), list(&ds.keep));
    w.key(
        "compile",
        "true: .py -> .pyc with a matching interpreter, then drop .py (measured ~7% larger zips).",
        cs.compile.to_string(),
        ds.compile.to_string(),
    );
    w.key(
        "debug-symbols",
        "Strip debug symbols from extension modules.",
        cs.debug_symbols.to_string(),
        ds.debug_symbols.to_string(),
    );
    w.key(
        "haar-cascades",
        "Keep OpenCV's Haar cascade data files.",
        cs.haar_cascades.to_string(),
        ds.haar_cascades.to_string(),
    );

    let (cp, dp) = (&c.publish, &d.publish);
    w.header(&format!("{key}.publish"));
    let provider = |p: Provider| {
        q(match p {
            Provider::Gitea => "gitea",
            Provider::Forgejo => "forgejo",
            Provider::Github => "github",
        })
    };
    // `--ci github` on a table that names no provider publishes to GitHub.
    let cur_provider = match (ci, cp.provider) {
        (Ci::Github, Provider::Gitea) => Provider::Github,
        (_, p) => p,
    };
    w.key(
        "provider",
        "gitea | forgejo | github",
        provider(cur_provider),
        provider(dp.provider),
    );
    w.opt(
        "url",
        "Server and owner/name; default: $GITHUB_SERVER_URL and $GITHUB_REPOSITORY in CI.",
        cp.url.as_deref().map(q),
        "\"https://gitea.example.com\"",
    );
    w.opt("repo", "", cp.repo.as_deref().map(q), "\"owner/name\"");
    w.key(
        "token-env",
        "The environment variable (and CI secret) holding the token.",
        q(&cp.token_env),
        q(&dp.token_env),
    );

    let (cd, dd) = (&c.docker, &d.docker);
    w.header(&format!("{key}.docker"));
    w.opt(
        "image",
        "Default: {server host}/{owner}/{name} of the release repository.",
        cd.image.as_deref().map(q),
        "\"gitea.example.com/owner/app\"",
    );
    w.key(
        "context",
        "The Docker build context.",
        path(&cd.context),
        path(&dd.context),
    );

    let (cu, du) = (&c.update, &d.update);
    w.header(&format!("{key}.update"));
    w.key(
        "enabled",
        "Ship the pyship_update package (self-update from this project's releases).",
        cu.enabled.to_string(),
        du.enabled.to_string(),
    );
    let channel = |c: crate::config::Channel| {
        q(match c {
            crate::config::Channel::Stable => "stable",
            crate::config::Channel::Prerelease => "prerelease",
        })
    };
    w.key(
        "channel",
        "\"stable\" or \"prerelease\": which releases check() offers by default.",
        channel(cu.channel),
        channel(du.channel),
    );
    w.opt(
        "token-env",
        "The variable the installed app reads a read-only token from (private repositories).",
        cu.token_env.as_deref().map(q),
        "\"APP_UPDATE_TOKEN\"",
    );
    w.key(
        "start-timeout",
        "Seconds the update helper waits for the new version to come up.",
        cu.start_timeout.to_string(),
        du.start_timeout.to_string(),
    );
    if let Some(i) = install {
        w.header(&format!("{key}.ci"));
        w.doc(
            "How the release workflow installs cargo-pyship (chosen by `cargo pyship init`:\n\
             a git URL or a path until cargo-pyship is on crates.io).",
        );
        w.out
            .push_str(&format!("install-command = {}\n", q(&i.command)));
    }
    w.out
}

/// The per-target keys (added to the global ones; `prebuild` replaces it).
fn target_keys(w: &mut Writer, t: &crate::config::TargetSettings, os: &str) {
    let set = !t.wheels.is_empty()
        || t.prebuild.is_some()
        || !t.find_links.is_empty()
        || !t.extras.is_empty();
    if !set {
        w.doc(&format!(
            "{os} only: `wheels`, `find-links`, `extras` (added to the global ones), `prebuild` (replaces it)."
        ));
        return;
    }
    if !t.wheels.is_empty() {
        w.out.push_str(&format!("wheels = {}\n", list(&t.wheels)));
    }
    if let Some(p) = &t.prebuild {
        w.out.push_str(&format!("prebuild = {}\n", q(p)));
    }
    if !t.find_links.is_empty() {
        w.out
            .push_str(&format!("find-links = {}\n", list(&t.find_links)));
    }
    if !t.extras.is_empty() {
        w.out.push_str(&format!("extras = {}\n", list(&t.extras)));
    }
}
