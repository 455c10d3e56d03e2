//! Config strings are data in every generated file (issue 24, items 6-8).
//!
//! A property test puts arbitrary strings (quotes, backslashes, line breaks,
//! `$%VAR%`, `${define}`, `%n`, `"""`, `{{`, `${{ }}`, NUL, unicode, CRLF) in
//! every free-text key of a pyship table, builds the plan through the real
//! config loader, renders every generated file from it and reads each one
//! back with its language's own tool: Python's `ast` (the value is only ever
//! a string constant), `makensis` with a poisoned environment (no variable's
//! value and no define reaches the installer), `sh -n` and the install script
//! itself, `systemd-analyze verify` (no directive swallowed or added), a YAML
//! parser (the workflow step runs exactly the configured command, with no
//! expression), JSON and a CommonMark parser. A value a language cannot carry
//! must be refused when the config is loaded, naming the key, with a hint.
//! Hand-picked hostile cases (the issue's exploits among them) always run.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use proptest::prelude::*;
use pyship_build::platform::Platform;
use pyship_build::Plan;

use crate::support::*;

/// Poisoned into makensis's environment; no installer may contain it.
const CANARY_VAR: &str = "PYSHIP_CANARY";
const CANARY: &str = "canary-3b1f-leaked";
/// What `${NSISDIR}` expands to with Debian's nsis.
const NSISDIR: &str = "/usr/share/nsis";

/// The valid user every case's unit runs as (systemd warns about `nobody`).
const USER: &str = "daemon";

/// One copy of the hello fixture and a fake Windows bundle tree, reused by
/// every case (only the pyship table changes).
struct Bench {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    manifest_text: String,
    bundle: PathBuf,
    work: tempfile::TempDir,
}

impl Bench {
    fn new() -> Self {
        let (tmp, dir) = copy_fixture("hello");
        let manifest_text = fs_err::read_to_string(dir.join("Cargo.toml")).unwrap();
        let work = tempfile::tempdir().unwrap();
        let bundle = work.path().join("bundle").join("hostile-app");
        for (rel, text) in [
            ("python/python.exe", "MZ fake"),
            ("python/pythonw.exe", "MZ fake"),
            ("scripts/start-hidden.vbs", "' launcher\r\n"),
            ("scripts/start.bat", "@echo off\r\n"),
            ("app/src/hello_app/__init__.py", ""),
        ] {
            let p = bundle.join(rel);
            fs_err::create_dir_all(p.parent().unwrap()).unwrap();
            fs_err::write(&p, text).unwrap();
        }
        Self {
            _tmp: tmp,
            dir,
            manifest_text,
            bundle,
            work,
        }
    }

    /// Load the project with `table` as its pyship table and build the plan
    /// (the real loader: config validation included).
    fn plan(&self, table: toml::Table) -> Result<Plan, String> {
        let mut doc: toml::Table = self.manifest_text.parse().unwrap();
        let package = doc["package"].as_table_mut().unwrap();
        let metadata = package
            .entry("metadata")
            .or_insert_with(|| toml::Value::Table(Default::default()));
        metadata
            .as_table_mut()
            .unwrap()
            .insert("pyship".into(), toml::Value::Table(table));
        let manifest = self.dir.join("Cargo.toml");
        fs_err::write(&manifest, toml::to_string(&doc).unwrap()).unwrap();
        let project = pyship_build::project::load(Some(&manifest), None).map_err(|e| {
            let hint = pyship_build::hint_for(&e).unwrap_or_default();
            format!("{e}\nhint: {hint}")
        })?;
        Plan::build(
            project,
            &pyship_build::env::Env::default(),
            &pyship_build::plan::Options {
                version: Some("v1.2.3"),
                ..Default::default()
            },
        )
        .map_err(|e| e.to_string())
    }
}

/// The values of one case, one per free-text key of the table.
#[derive(Debug, Clone)]
struct Values {
    name: String,
    publisher: String,
    args: Vec<String>,
    prebuild: String,
    install_command: String,
    /// `kind = "console"` (its installer script takes other branches).
    console: bool,
}

impl Values {
    fn all(s: &str) -> Self {
        Self {
            name: s.to_owned(),
            publisher: s.to_owned(),
            args: vec![s.to_owned(), "--plain".into(), s.to_owned()],
            prebuild: s.to_owned(),
            install_command: s.to_owned(),
            // Half the cases render a console app's files.
            console: s.len() % 2 == 1,
        }
    }

    fn table(&self) -> toml::Table {
        let strs =
            |v: &[String]| toml::Value::Array(v.iter().cloned().map(toml::Value::String).collect());
        let mut t = toml::Table::new();
        t.insert("name".into(), self.name.clone().into());
        t.insert("file-name".into(), "hostile-app".into());
        t.insert("module".into(), "hello_app".into());
        t.insert("pyproject".into(), "python/pyproject.toml".into());
        t.insert("python".into(), "3.11.9".into());
        t.insert("port".into(), 8765.into());
        if self.console {
            t.insert("kind".into(), "console".into());
        }
        t.insert("args".into(), strs(&self.args));
        t.insert("prebuild".into(), self.prebuild.clone().into());
        let mut w = toml::Table::new();
        w.insert("publisher".into(), self.publisher.clone().into());
        // Windows gets its own args: the two launchers must differ.
        w.insert("args".into(), strs(&self.args[..1]));
        t.insert("windows".into(), w.into());
        let mut l = toml::Table::new();
        l.insert("user".into(), USER.into());
        t.insert("linux".into(), l.into());
        let mut ci = toml::Table::new();
        ci.insert(
            "install-command".into(),
            self.install_command.clone().into(),
        );
        t.insert("ci".into(), ci.into());
        let mut publish = toml::Table::new();
        publish.insert("url".into(), "https://git.example.com".into());
        publish.insert("repo".into(), "owner/app".into());
        t.insert("publish".into(), publish.into());
        t
    }
}

/// A control or line-breaking character: what a display name may not hold.
fn is_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Check `s` in every key: refused at load time with the right key when a
/// language cannot carry it (then checked again without what was refused),
/// else every generated file carries it as data.
fn check_value(bench: &Bench, s: &str) {
    // A blank name is "unset" (the package name): keep the case about the value.
    let s = &if s.trim().is_empty() {
        format!("x{s}")
    } else {
        s.to_owned()
    };
    let raw = Values::all(s);
    // A display name may not end in `$\` either (NSIS reads `$\"`).
    let display_ok = !s.chars().any(is_control) && !s.ends_with("$\\");
    match bench.plan(raw.table()) {
        Ok(plan) => {
            assert!(
                display_ok && !s.contains('\0'),
                "{s:?} was accepted though a display name cannot carry it"
            );
            check_plan(bench, &plan, &raw);
        }
        Err(e) => {
            assert!(!display_ok || s.contains('\0'), "{s:?} was refused: {e}");
            let keys: &[&str] = if s.contains('\0') {
                &[
                    "name",
                    "windows.publisher",
                    "args[0]",
                    "windows.args[0]",
                    "prebuild",
                    "ci.install-command",
                ]
            } else {
                &["name", "windows.publisher"]
            };
            assert!(
                keys.iter().any(|k| e.contains(&format!("invalid `{k}`")))
                    && e.contains("\nhint: "),
                "{s:?}: the refusal names none of {keys:?}, or no hint:\n{e}"
            );
            // What is left: the free-text keys keep everything but NUL, the
            // display names lose their control characters.
            let mut no_nul = s.replace('\0', "");
            if no_nul.trim().is_empty() {
                no_nul.insert(0, 'x');
            }
            let mut display: String = s.chars().filter(|c| !is_control(*c)).collect();
            if display.trim().is_empty() {
                display.insert(0, 'x');
            }
            if display.ends_with("$\\") {
                display.push('x');
            }
            let mut v = Values::all(&no_nul);
            v.console = raw.console;
            v.name = display.clone();
            v.publisher = display;
            let plan = bench
                .plan(v.table())
                .unwrap_or_else(|e| panic!("{s:?} without NUL and controls: {e}"));
            check_plan(bench, &plan, &v);
        }
    }
}

/// Every generated file of `plan`, read back with its language's tool.
fn check_plan(bench: &Bench, plan: &Plan, v: &Values) {
    assert_eq!(plan.name, v.name);
    check_python(bench, plan, v);
    check_windows_launchers(plan);
    check_installer(bench, plan, v);
    check_linux(bench, plan, v);
    check_workflows(plan, v);
    check_dockerfile(plan, v);
    check_release_notes(v);
    check_updater_config(plan, v);
}

/// The Python a bundle runs: the launcher module of each target and
/// `sitecustomize.py`. Each must parse, have the same syntax tree as the
/// same file rendered with plain values (so the value added no code), and
/// hold the configured args as string constants.
fn check_python(bench: &Bench, plan: &Plan, v: &Values) {
    let mut plain = plan.launch.clone();
    plain.windows_args = vec!["x".into(); plain.windows_args.len()];
    plain.linux_args = vec!["x".into(); plain.linux_args.len()];
    let dir = bench.work.path().join("py");
    fs_err::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for platform in [Platform::Windows, Platform::Linux] {
        for (tag, launch) in [("hostile", &plan.launch), ("plain", &plain)] {
            let src = launch
                .launcher_source(platform)
                .expect("args make a launcher module");
            let f = dir.join(format!("{tag}-{platform:?}.py"));
            fs_err::write(&f, src).unwrap();
            files.push(f);
        }
    }
    let hostile_ctx = pyship_build::render::windows::TemplateContext::new(plan);
    let mut plain_ctx = hostile_ctx.clone();
    plain_ctx.name = "x";
    for (tag, ctx) in [("hostile", &hostile_ctx), ("plain", &plain_ctx)] {
        let site = pyship_build::render::windows::render_all(
            &pyship_build::templates::Templates::new(None),
            ctx,
        )
        .unwrap()
        .into_iter()
        .find(|(dest, _)| dest.ends_with("sitecustomize.py"))
        .unwrap()
        .1;
        let f = dir.join(format!("{tag}-sitecustomize.py"));
        fs_err::write(&f, site).unwrap();
        files.push(f);
    }
    let out = Command::new(require_tool("python3", "`apt-get install python3`"))
        .arg("-c")
        .arg(AST_CHECK)
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python3 ast: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tree = |i: usize| report[i]["tree"].as_str().unwrap().to_owned();
    let strings = |i: usize| -> BTreeSet<String> {
        report[i]["strings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        tree(4),
        tree(5),
        "the name changed sitecustomize.py's code, not only its constants"
    );
    for (i, args) in [(0, &plan.launch.windows_args), (2, &plan.launch.linux_args)] {
        assert_eq!(
            tree(i),
            tree(i + 1),
            "the args changed the launcher's code, not only its constants"
        );
        for a in args {
            assert!(strings(i).contains(a), "{a:?} is not a string constant");
        }
    }
    assert_eq!(plan.launch.windows_args, v.args[..1]);
}

/// Prints, per file, the syntax tree with every string constant blanked
/// and the list of string constants.
const AST_CHECK: &str = r#"
import ast, json, sys
out = []
for path in sys.argv[1:]:
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    strings = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            strings.append(node.value)
            node.value = ""
    out.append({"tree": ast.dump(tree), "strings": strings})
json.dump(out, sys.stdout)
"#;

/// The Windows launchers render, every line ending with CRLF.
fn check_windows_launchers(plan: &Plan) {
    let files = pyship_build::render::windows::render_all(
        &pyship_build::templates::Templates::new(None),
        &pyship_build::render::windows::TemplateContext::new(plan),
    )
    .unwrap();
    for (dest, text) in files {
        assert!(
            !text.replace("\r\n", "").contains(['\n', '\r']),
            "{dest}: a bare line break"
        );
    }
}

/// The installer script, compiled by makensis with `PYSHIP_CANARY` in its
/// environment, uncompressed so that every string is readable: neither the
/// variable's value nor `${NSISDIR}`'s may appear, makensis names no unknown
/// variable, and the name and publisher are there as written.
fn check_installer(bench: &Bench, plan: &Plan, v: &Values) {
    let (script, _) = pyship_build::installer::render(plan, &bench.bundle).unwrap();
    let script = script.replace(
        &format!(
            "SetCompressor /SOLID {}",
            plan.config.windows.installer_compression.nsis()
        ),
        "SetCompress off",
    );
    assert!(script.contains("SetCompress off"), "{script}");
    let script_path = bench.bundle.parent().unwrap().join("installer.nsi");
    fs_err::write(&script_path, &script).unwrap();
    let exe = bench.bundle.parent().unwrap().join("setup.exe.partial");
    let _ = fs_err::remove_file(&exe);
    let out = Command::new(require_tool("makensis", "`apt-get install nsis`"))
        .args(["-V2", "-NOCD", "-INPUTCHARSET", "UTF8", "-DVERSION=1.2.3.0"])
        .arg(&script_path)
        .current_dir(&bench.bundle)
        .env(CANARY_VAR, CANARY)
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && exe.is_file(),
        "makensis failed for {:?}:\n{log}",
        v.name
    );
    assert!(
        !log.contains(CANARY),
        "makensis printed the variable's value:\n{log}"
    );
    assert!(
        !log.contains("unknown variable"),
        "a value was read as an NSIS variable:\n{log}"
    );
    let mut text = String::new();
    for args in [&["-a", "-n", "3"][..], &["-a", "-n", "3", "-el"][..]] {
        let s = Command::new("strings")
            .args(args)
            .arg(&exe)
            .output()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&s.stdout));
    }
    assert!(
        !text.contains(CANARY),
        "the installer holds the variable's value"
    );
    assert!(!text.contains(NSISDIR), "the installer holds ${{NSISDIR}}");
    for value in [&v.name, &v.publisher] {
        // Whole values only when `strings` prints them as one run.
        if value.chars().count() >= 3 && !value.chars().any(|c| c.is_control() || !c.is_ascii()) {
            assert!(
                text.contains(value.as_str()),
                "{value:?} is not in the installer as written"
            );
        }
    }
}

/// The Linux files: the scripts parse (`sh -n`), the install script prints a
/// unit that `systemd-analyze verify` accepts, with exactly the template's
/// directives and the name as its `Description=`.
fn check_linux(bench: &Bench, plan: &Plan, v: &Values) {
    let templates = pyship_build::templates::Templates::new(None);
    let generated = match pyship_build::render::linux::files(plan, &templates, None) {
        // install-service.sh would put its folder there: refused.
        Err(e) if v.name.contains(pyship_build::render::linux::DIR_MARKER) => {
            assert!(e.to_string().contains("install-service.sh replaces"), "{e}");
            return;
        }
        r => r.unwrap(),
    };
    let dir = bench.work.path().join("linux").join("app");
    let _ = fs_err::remove_dir_all(&dir);
    for f in &generated.files {
        pyship_build::render::linux::write(&dir, f).unwrap();
    }
    for f in generated.files.iter().filter(|f| f.path.ends_with(".sh")) {
        let out = Command::new("sh")
            .arg("-n")
            .arg(dir.join(&f.path))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "sh -n {}: {}",
            f.path,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = Command::new("sh")
        .arg(dir.join("install-service.sh"))
        .arg("--print-unit")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let unit = String::from_utf8(out.stdout).unwrap();
    let keys: Vec<&str> = unit
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('[') && !l.trim().is_empty())
        .map(|l| l.split_once('=').map_or(l, |(k, _)| k))
        .collect();
    assert_eq!(
        keys,
        [
            "Description",
            "After",
            "Wants",
            "Type",
            "ExecStart",
            "WorkingDirectory",
            "User",
            "Restart",
            "RestartSec",
            "WantedBy"
        ],
        "the unit's directives changed:\n{unit}"
    );
    let description = unit
        .lines()
        .find_map(|l| l.strip_prefix("Description="))
        .unwrap();
    // systemd strips surrounding blanks and reads `%%` as `%`.
    assert_eq!(
        description.trim().replace("%%", "%"),
        v.name.trim_matches([' ', '\t']),
        "{unit}"
    );
    // A probe line after every directive: systemd names each one as an
    // unknown key only if it reads that line on its own (a value that
    // continued onto the next line would swallow the probe silently).
    let mut probed = String::new();
    let mut probes = Vec::new();
    for line in unit.lines() {
        probed.push_str(line);
        probed.push('\n');
        if line.contains('=') && !line.starts_with('#') {
            let probe = format!("PyshipProbe{}", probes.len());
            probed.push_str(&format!("{probe}=1\n"));
            probes.push(probe);
        }
    }
    let unit_file = bench.work.path().join("linux").join("hostile-app.service");
    fs_err::write(&unit_file, &probed).unwrap();
    let out = Command::new(require_tool("systemd-analyze", "`apt-get install systemd`"))
        .args(["verify", "--man=no"])
        .arg(&unit_file)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut heard = Vec::new();
    for line in text.lines().filter(|l| l.contains("hostile-app.service")) {
        let probe = line
            .split_once("Unknown key '")
            .and_then(|(_, rest)| rest.split_once('\''))
            .map(|(k, _)| k.to_owned());
        match probe {
            Some(p) if p.starts_with("PyshipProbe") => heard.push(p),
            _ => panic!("systemd-analyze verify: {line}\n--- unit:\n{unit}"),
        }
    }
    assert!(
        out.status.success(),
        "systemd-analyze verify:\n{text}\n--- unit:\n{unit}"
    );
    assert_eq!(
        heard, probes,
        "a line was swallowed by the one before it:\n{probed}"
    );
}

/// The workflows parse as YAML; the install step runs exactly the
/// configured command, where every `${{` is the expression `${{ '${{' }}`
/// (whose value is `${{`) and no other expression exists.
fn check_workflows(plan: &Plan, v: &Values) {
    let install = pyship_build::init::install::InstallCommand {
        command: v.install_command.clone(),
        source: "config".into(),
        warnings: Vec::new(),
    };
    let files = pyship_build::init::workflows(
        &plan.project,
        Some(plan.pyproject()),
        pyship_build::init::Ci::Github,
        &install,
        &pyship_build::env::Env::from_pairs(Vec::<(String, String)>::new()),
    )
    .unwrap();
    assert_eq!(files.len(), 2);
    for f in &files {
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&f.new)
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", f.path.display(), f.new));
        // Every job of the release workflow installs cargo-pyship.
        let runs: Vec<&str> = doc["jobs"]
            .as_mapping()
            .unwrap()
            .values()
            .flat_map(|j| j["steps"].as_sequence().into_iter().flatten())
            .filter(|s| s["name"].as_str() == Some("Install cargo-pyship"))
            .filter_map(|s| s["run"].as_str())
            .collect();
        if !f.path.ends_with("release.yml") {
            assert!(runs.is_empty());
            continue;
        }
        assert!(runs.len() >= 3, "plan, build, publish: {runs:?}");
        for run in runs {
            const LITERAL: &str = "${{ '${{' }}";
            assert_eq!(
                run.matches("${{").count(),
                run.matches(LITERAL).count() * 2,
                "an expression other than the literal: {run:?}"
            );
            assert_eq!(run.replace(LITERAL, "${{"), v.install_command);
        }
    }
}

/// The Dockerfile: one instruction per line, and its exec-form arrays (JSON)
/// hold the prebuild command and the args as written.
fn check_dockerfile(plan: &Plan, v: &Values) {
    let text = pyship_build::docker::render_dockerfile(plan).unwrap();
    const INSTRUCTIONS: &[&str] = &[
        "FROM",
        "WORKDIR",
        "COPY",
        "RUN",
        "ENV",
        "ARG",
        "USER",
        "EXPOSE",
        "HEALTHCHECK",
        "CMD",
    ];
    let mut continued = false;
    for line in text.lines() {
        let t = line.trim_start();
        if !continued && !t.is_empty() && !t.starts_with('#') {
            let word = t.split_whitespace().next().unwrap();
            assert!(
                INSTRUCTIONS.contains(&word),
                "unexpected line {line:?} in\n{text}"
            );
        }
        continued = t.ends_with('\\');
    }
    let json_of = |prefix: &str| -> Vec<String> {
        let line = text
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"));
        serde_json::from_str(&line[line.find('[').unwrap()..]).unwrap()
    };
    assert_eq!(
        json_of("RUN [\"/bin/sh\""),
        ["/bin/sh", "-c", v.prebuild.as_str()]
    );
    let cmd = json_of("CMD [");
    assert_eq!(cmd, plan.launch.docker_cmd());
    assert!(cmd.ends_with(&plan.launch.linux_args));
}

/// The release notes read back by a CommonMark parser: a first paragraph
/// whose text is the name as written, then a heading and a three-column
/// table with one row per asset.
fn check_release_notes(v: &Values) {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    let asset = |name: &str| pyship_build::publish::notes::NoteAsset {
        name: name.to_owned(),
        size: 1,
        size_human: "1 B".into(),
        url: format!("https://h/{name}"),
        sha256: "ab".repeat(32),
    };
    let notes = pyship_build::publish::notes::Notes {
        name: v.name.clone(),
        tag: "v1.2.3".into(),
        version: "1.2.3".into(),
        pep440: "1.2.3".into(),
        prerelease: false,
        commit: None,
        assets: vec![asset("a.zip"), asset(&format!("{}|x.zip", v.name))],
    };
    let md = pyship_build::publish::notes::release_notes(&notes, None).unwrap();
    let mut first = String::new();
    let mut in_first = None;
    let mut cells = 0;
    let mut rows = 0;
    let mut tables = 0;
    for ev in Parser::new_ext(&md, Options::ENABLE_TABLES) {
        match ev {
            Event::Start(Tag::Paragraph) if in_first.is_none() => in_first = Some(true),
            Event::End(TagEnd::Paragraph) => in_first = Some(false),
            Event::Text(t) | Event::Code(t) if in_first == Some(true) => first.push_str(&t),
            Event::Start(Tag::Table(_)) => tables += 1,
            Event::Start(Tag::TableRow) => rows += 1,
            Event::Start(Tag::TableCell) => cells += 1,
            Event::Html(h) | Event::InlineHtml(h) => panic!("HTML {h:?} in\n{md}"),
            _ => {}
        }
    }
    // Paragraph text loses its leading blanks.
    let expected = format!("{} v1.2.3.", v.name);
    assert_eq!(first, expected.trim_start_matches([' ', '\t']), "{md}");
    assert_eq!((tables, rows), (1, 2), "{md}");
    assert_eq!(cells, 3 * 3, "{md}");
}

/// `pyship_update.json`: JSON whose `name` is the name as written.
fn check_updater_config(plan: &Plan, v: &Values) {
    let settings = plan.update.as_ref().expect("the updater is on");
    let json = pyship_build::update::bundle_config(plan, settings, Platform::Linux, "../..".into());
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["name"], serde_json::Value::String(v.name.clone()));
}

/// Pieces hostile to one language or another.
fn hostile_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\"".to_owned()),
        Just("'".to_owned()),
        Just("\\".to_owned()),
        Just("\n".to_owned()),
        Just("\r\n".to_owned()),
        Just("\0".to_owned()),
        Just(format!("$%{CANARY_VAR}%")),
        Just(format!("$$%{CANARY_VAR}%")),
        Just("${NSISDIR}".to_owned()),
        Just("$${NSISDIR}".to_owned()),
        Just("$(^Name)".to_owned()),
        Just("$INSTDIR".to_owned()),
        Just("$\\n".to_owned()),
        Just("$\\\"".to_owned()),
        Just("%n".to_owned()),
        Just("%%".to_owned()),
        Just("%PATH%".to_owned()),
        Just("\"\"\"".to_owned()),
        Just("'''".to_owned()),
        Just("{{ name }}".to_owned()),
        Just("{% raw %}".to_owned()),
        Just("${{ secrets.DEPLOY_TOKEN }}".to_owned()),
        Just("$(id)".to_owned()),
        Just("`id`".to_owned()),
        Just("; # ! & | < > ^".to_owned()),
        Just("é 😀 \u{202e}".to_owned()),
        Just("\u{2028}".to_owned()),
        Just("\t".to_owned()),
        Just("@PYSHIP_DIR@".to_owned()),
        Just("PYSHIP_UNIT_END".to_owned()),
        Just("[Service]".to_owned()),
        Just("*a* _b_ [c](d) <b> &amp; ~~".to_owned()),
        Just("- ".to_owned()),
        "[ -~]{1,6}",
        any::<char>().prop_map(String::from),
    ]
}

fn hostile_string() -> impl Strategy<Value = String> {
    prop::collection::vec(hostile_piece(), 1..6).prop_map(|v| v.concat())
}

/// Hand-picked cases, run every time: the issue's exploits and the edges
/// of each language.
const HAND_PICKED: &[&str] = &[
    // 24.6: a docstring break-out that wrote a file on the build host.
    r#"Hello""";open(r"Z:\tmp\pwned.txt","w").write("x");""""#,
    // 24.7: environment and defines expanded by makensis.
    "Corp $%PYSHIP_CANARY% ${NSISDIR} $$%PYSHIP_CANARY% $(^Name) $INSTDIR",
    // 24.8: a trailing backslash swallowing the next unit line.
    "Hello App\\",
    "Hello App\\\\",
    "Hello App\\\\\\",
    // makensis reads a closing quote after `$\` as an escaped quote.
    "Evil $\\",
    "Evil $\\\\",
    "it's \"q\" \\ %n %% %PATH% $HOME ${{ secrets.DEPLOY_TOKEN }} `id` $(id)",
    "'''\"\"\"{{ name }}{% raw %}{#",
    "Café 😀 \u{202e}evil \u{feff}",
    "*bold* _it_ [link](http://x) <b>html</b> &amp; | cell ~~s~~ `c`",
    "# heading",
    "- item",
    "1. item",
    "two\r\nlines",
    "nul\0byte",
    "   padded   ",
    "$",
    "%",
    "\\",
];

#[test]
fn hand_picked_hostile_strings_are_data_in_every_generated_file() {
    let bench = Bench::new();
    for s in HAND_PICKED {
        check_value(&bench, s);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_are_data_in_every_generated_file(s in hostile_string()) {
        thread_local! {
            static BENCH: Bench = Bench::new();
        }
        BENCH.with(|b| check_value(b, &s));
    }
}

/// `linux.user` is checked when the config is loaded: what systemd would
/// read as something else is refused before any build.
#[test]
fn linux_user_is_validated_at_load_time() {
    let bench = Bench::new();
    for bad in [
        "nobody\\",
        "a b",
        "root\nExecStartPre=/bin/sh",
        "-r",
        "%n",
        "",
    ] {
        let mut t = Values::all("x").table();
        t["linux"]
            .as_table_mut()
            .unwrap()
            .insert("user".into(), bad.into());
        match bench.plan(t) {
            // An empty user is "unset": no User= line.
            Ok(plan) if bad.is_empty() => assert_eq!(plan.config.linux.user, None),
            Ok(_) => panic!("linux.user = {bad:?} was accepted"),
            Err(e) => assert!(
                e.contains("invalid `linux.user`") && e.contains("hint: "),
                "{e}"
            ),
        }
    }
}
