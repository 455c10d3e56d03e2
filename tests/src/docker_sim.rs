//! A `docker` that performs the file steps of a build instead of recording
//! only its arguments, for machines without an engine: `docker build` reads
//! the Dockerfile it is given and carries out, in a folder standing for the
//! image's file system, what the rendered Dockerfiles do: `COPY` (from the
//! build context or a named `--build-context`), `WORKDIR`, `RUN` of the
//! version-stamping script, and `pip install` (done by `uv pip install
//! --target` into the image's site-packages, for the Linux platform of a
//! `python:X.Y` image, from the `--find-links` folders only). `info` answers;
//! every other command is recorded and succeeds. What the image then holds can
//! be compared with a bundle, file by file.
//!
//! An instruction it does not know fails the build, so the simulation never
//! silently skips a step.

use std::path::{Path, PathBuf};

/// The simulator (Python, run by the host's `python3`).
const SCRIPT: &str = r##"#!/usr/bin/env python3
import glob, json, os, shlex, shutil, subprocess, sys

log = os.environ["FAKE_DOCKER_LOG"]
root = os.environ["FAKE_DOCKER_ROOT"]
args = sys.argv[1:]
with open(log, "a", encoding="utf-8") as f:
    f.write("argv: " + " ".join(args) + "\n")
if args[:1] == ["info"]:
    print("27.0.0")
    sys.exit(0)
if args[:1] != ["build"]:
    sys.exit(0)

contexts, dockerfile, build_args, positional = {}, None, {}, []
i = 1
while i < len(args):
    a = args[i]
    if a in ("--file", "-f"):
        dockerfile = args[i + 1]; i += 2
    elif a == "--build-context":
        name, path = args[i + 1].split("=", 1); contexts[name] = path; i += 2
    elif a == "--build-arg":
        k, v = args[i + 1].split("=", 1); build_args[k] = v; i += 2
    elif a in ("--label", "--tag", "-t"):
        i += 2
    else:
        positional.append(a); i += 1
context = positional[-1]
dockerfile = dockerfile or os.path.join(context, "Dockerfile")

lines, cur = [], ""
for raw in open(dockerfile, encoding="utf-8").read().splitlines():
    s = raw.strip()
    if not cur and (not s or s.startswith("#")):
        continue
    if s.endswith("\\"):
        cur += s[:-1] + " "
        continue
    lines.append(cur + s)
    cur = ""

def fail(msg):
    sys.stderr.write("fake docker: " + msg + "\n")
    sys.exit(1)

def host(p):
    return os.path.join(root, p.lstrip("/"))

def words(rest):
    rest = rest.strip()
    return json.loads(rest) if rest.startswith("[") else shlex.split(rest)

def copy(src, dst):
    if os.path.isdir(src):
        os.makedirs(dst, exist_ok=True)
        for name in os.listdir(src):
            copy(os.path.join(src, name), os.path.join(dst, name))
    else:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(src, dst)

python_xy, workdir, env = None, "/", dict(build_args)
for line in lines:
    op, _, rest = line.partition(" ")
    op = op.upper()
    if op == "FROM":
        shutil.rmtree(root, ignore_errors=True)
        os.makedirs(root)
        image = rest.split()[0]
        if image.startswith("python:"):
            python_xy = image.split(":")[1].split("-")[0]
    elif op in ("ENV", "LABEL", "EXPOSE", "HEALTHCHECK", "CMD", "USER", "ENTRYPOINT"):
        pass
    elif op == "ARG":
        name = rest.split("=")[0].strip()
        env.setdefault(name, build_args.get(name, ""))
    elif op == "WORKDIR":
        workdir = rest.strip()
        os.makedirs(host(workdir), exist_ok=True)
    elif op == "COPY":
        source_root = context
        if rest.startswith("--from="):
            name, _, rest = rest[len("--from="):].partition(" ")
            if name not in contexts:
                fail("COPY --from=%s: no such build context" % name)
            source_root = contexts[name]
        ws = words(rest)
        dst = ws[-1] if ws[-1].startswith("/") else os.path.join(workdir, ws[-1])
        for s in ws[:-1]:
            src = os.path.join(source_root, s.lstrip("/"))
            if os.path.isdir(src):
                copy(src, host(dst))
            elif dst.endswith("/"):
                copy(src, host(dst) + os.path.basename(src))
            else:
                copy(src, host(dst))
    elif op == "RUN":
        rest = rest.strip()
        if rest.startswith("["):
            cmd = json.loads(rest)
            if cmd[0] != "python":
                fail("RUN %s" % cmd)
            subprocess.run(["python3"] + cmd[1:], cwd=host(workdir), check=True,
                           env=dict(os.environ, **env))
            continue
        for part in rest.split("&&"):
            w = shlex.split(part)
            if w[:2] == ["pip", "install"]:
                links, targets, j = [], [], 2
                while j < len(w):
                    if w[j] == "--find-links":
                        links.append(host(w[j + 1])); j += 2
                    elif w[j].startswith("/"):
                        targets += sorted(glob.glob(host(w[j]))) or [host(w[j])]; j += 1
                    else:
                        targets.append(w[j]); j += 1
                site = host("/usr/local/lib/python%s/site-packages" % python_xy)
                cmd = ["uv", "pip", "install", "--target", site, "--python-version", python_xy,
                       "--python-platform", "x86_64-manylinux_2_28", "--no-index", "--quiet"]
                for l in links + [p for p in os.environ.get("FAKE_DOCKER_FIND_LINKS", "").split(os.pathsep) if p]:
                    cmd += ["--find-links", l]
                subprocess.run(cmd + targets, check=True)
            elif w[:2] == ["rm", "-rf"]:
                for p in w[2:]:
                    shutil.rmtree(host(p), ignore_errors=True)
            elif w[:1] == ["useradd"]:
                pass
            else:
                fail("RUN %s" % part.strip())
    else:
        fail("unknown instruction %s" % op)
"##;

/// A folder holding the simulating `docker`, the file its calls are logged
/// to, and the folder its builds fill (the image's `/`). Put the folder first
/// on `PATH`. `find_links` are wheel folders `pip install` may also use (the
/// image's dependencies).
pub struct FakeDocker {
    pub bin: tempfile::TempDir,
    pub log: PathBuf,
    pub root: PathBuf,
    pub find_links: Vec<PathBuf>,
}

impl FakeDocker {
    pub fn new(find_links: &[&Path]) -> Self {
        let bin = tempfile::tempdir().expect("temp dir");
        let docker = bin.path().join("docker");
        fs_err::write(&docker, SCRIPT).expect("write fake docker");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs_err::set_permissions(&docker, std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
        }
        let log = bin.path().join("docker.log");
        let root = bin.path().join("image");
        Self {
            log,
            root,
            find_links: find_links.iter().map(|p| p.to_path_buf()).collect(),
            bin,
        }
    }

    /// The environment a `cargo pyship docker` run needs to use it.
    pub fn env(&self) -> Vec<(String, std::ffi::OsString)> {
        let path = std::env::join_paths(std::iter::once(self.bin.path().to_owned()).chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ))
        .expect("PATH");
        vec![
            ("PATH".into(), path),
            ("FAKE_DOCKER_LOG".into(), self.log.clone().into()),
            ("FAKE_DOCKER_ROOT".into(), self.root.clone().into()),
            (
                "FAKE_DOCKER_FIND_LINKS".into(),
                std::env::join_paths(&self.find_links).expect("find-links"),
            ),
        ]
    }
}

/// Every file under `dir`, relative to it with `/` separators, sorted.
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = walk(dir)
        .into_iter()
        .filter_map(|p| {
            p.strip_prefix(dir)
                .ok()
                .map(|r| r.to_string_lossy().replace('\\', "/"))
        })
        .collect();
    v.sort();
    v
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = fs_err::read_dir(dir) else {
        return out;
    };
    for e in rd.filter_map(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
