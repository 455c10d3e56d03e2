"""Unit tests of pyship_update (run by `cargo test -p pyship-build`, or
`python3 -m unittest discover -s templates/update/tests`).

A small Gitea-like server on loopback serves releases, manifest.json,
SHA256SUMS and assets; each test lays out a fake bundle in a temp folder
with the package's config next to it.
"""

import gzip
import hashlib
import http.server
import io
import json
import os
import sys
import tarfile
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import pyship_update  # noqa: E402
from pyship_update import UpdateError, Updater, Version, _helper  # noqa: E402
from pyship_update import __main__ as cli  # noqa: E402


def sha(data):
    return hashlib.sha256(data).hexdigest()


def tarball(version):
    # The same bytes on every call: a gzip header with mtime 0 (tarfile's
    # "w:gz" stamps the current second, so two calls could differ).
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz, tarfile.open(
        fileobj=gz, mode="w"
    ) as t:
        for name, text in [
            ("App/app/src/demo/__init__.py", "VERSION = %r\n" % version),
            ("App/python/bin/python3", "#!/bin/sh\n"),
            ("App/run.sh", "#!/bin/sh\n"),
        ]:
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class Server:
    """releases: list of dicts (tag, prerelease, draft, files {name: bytes})."""

    def __init__(self):
        self.releases = []
        self.drop_after = None
        self.log = []
        #: Set to bytes: the body of every release listing (a malformed answer).
        self.api_body = None
        #: path -> (status, headers, body): answers that win over the above.
        self.routes = {}
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.log.append((self.path, dict(self.headers)))
                path = self.path.split("?")[0]
                if path in outer.routes:
                    status, headers, body = outer.routes[path]
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if path == "/api/v1/repos/alice/app/releases":
                    page = int(self.path.split("page=")[1]) if "page=" in self.path else 1
                    body = json.dumps(outer.api() if page == 1 else []).encode()
                    if outer.api_body is not None:
                        body = outer.api_body if page == 1 else b"[]"
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("X-Total-Count", str(len(outer.releases)))
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                if path.startswith("/redirect/"):
                    self.send_response(302)
                    self.send_header("Location", "http://localhost:%d/%s" % (outer.port, path[10:]))
                    self.end_headers()
                    return
                if path.startswith("/alice/app/releases/download/"):
                    tag, name = path.split("/")[-2:]
                    name = name.replace("%20", " ")
                    for r in outer.releases:
                        if r["tag"] == tag and name in r["files"]:
                            data = r["files"][name]
                            self.send_response(200)
                            self.send_header("Content-Length", str(len(data)))
                            self.end_headers()
                            if outer.drop_after is not None and name.endswith(".tar.gz"):
                                self.wfile.write(data[: outer.drop_after])
                                self.wfile.flush()
                                self.connection.shutdown(2)
                                return
                            self.wfile.write(data)
                            return
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def api(self):
        out = []
        for r in self.releases:
            out.append(
                {
                    "tag_name": r["tag"],
                    "name": r["tag"],
                    "body": "notes of " + r["tag"],
                    "draft": r.get("draft", False),
                    "prerelease": r.get("prerelease", False),
                    "html_url": "%s/alice/app/releases/tag/%s" % (self.url, r["tag"]),
                    "assets": [
                        {
                            "name": n,
                            "size": len(d),
                            "browser_download_url": "%s/alice/app/releases/download/%s/%s"
                            % (self.url, r["tag"], n.replace(" ", "%20")),
                        }
                        for n, d in sorted(r["files"].items())
                    ],
                }
            )
        return out

    def publish(self, tag, prerelease=False, draft=False, asset=None, manifest_edit=None, consistent=False, asset_name=None, sign=None):
        """Add release `tag` with its tarball (or `asset`), manifest.json and
        SHA256SUMS. The manifest describes the good tarball unless
        `consistent`: then it (and SHA256SUMS) describe `asset`, as a server
        that lies consistently would. `sign(manifest bytes)` makes the
        release's manifest.json.minisig."""
        asset_name = "App-%s-linux-x64.tar.gz" % tag if asset_name is None else asset_name
        data = tarball(tag) if asset is None else asset
        good = data if consistent else tarball(tag)
        manifest = {
            "schema": 1,
            "name": "App",
            "repo": "alice/app",
            "tag": tag,
            "version": {"pep440": Version(tag).text.lstrip("v")},
            "prerelease": prerelease,
            "assets": [
                {
                    "name": asset_name,
                    "platform": "linux",
                    "install_type": "portable-linux",
                    "size": len(good),
                    "sha256": sha(good),
                }
            ],
        }
        if manifest_edit:
            manifest_edit(manifest)
        mjson = json.dumps(manifest).encode()
        sums = "%s  %s\n%s  manifest.json\n" % (sha(good), asset_name, sha(mjson))
        files = {asset_name: data, "manifest.json": mjson, "SHA256SUMS": sums.encode()}
        if sign is not None:
            files["manifest.json.minisig"] = sign(mjson)
        self.releases.insert(
            0,
            {
                "tag": tag,
                "prerelease": prerelease,
                "draft": draft,
                "files": files,
            },
        )
        return asset_name

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def bundle(tmp, server_url, version="0.1.0", platform="linux", **extra):
    """A fake bundle: {tmp}/App with app/, python/, data/, and the config."""
    root = os.path.join(tmp, "App")
    site = os.path.join(root, "python", "lib", "python3.11", "site-packages")
    os.makedirs(site)
    os.makedirs(os.path.join(root, "app", "src"))
    os.makedirs(os.path.join(root, "data"))
    with open(os.path.join(root, "data", "user.txt"), "w") as f:
        f.write("mine")
    cfg = {
        "schema": 1,
        "name": "App",
        "provider": "gitea",
        "server_url": server_url,
        "api_url": server_url + "/api/v1",
        "repo": "alice/app",
        "releases_url": server_url + "/alice/app/releases",
        "version": version,
        "tag": "v" + version,
        "channel": "stable",
        "token_env": "APP_UPDATE_TOKEN",
        "platform": platform,
        "root": "../../../..",
        "assets": {"portable-linux": "App-{tag}-linux-x64.tar.gz"},
        "port": None,
        "launcher": "run.sh",
        "module": "demo",
        "start_timeout": 5,
    }
    cfg.update(extra)
    path = os.path.join(site, "pyship_update.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return root, path


def tree_hash(root, skip=()):
    """SHA-256 over every path below `root`: its type, mode, link target and
    content. Top-level entries named in `skip` are left out."""
    h = hashlib.sha256()
    for d, dirs, files in os.walk(root):
        if d == root:
            dirs[:] = [n for n in dirs if n not in skip]
            files = [n for n in files if n not in skip]
        dirs.sort()
        for n in sorted(dirs + files):
            p = os.path.join(d, n)
            st = os.lstat(p)
            h.update(("%s %o\0" % (os.path.relpath(p, root), st.st_mode)).encode("utf-8", "surrogateescape"))
            if os.path.islink(p):
                h.update(os.readlink(p).encode("utf-8", "surrogateescape"))
            elif os.path.isfile(p):
                with open(p, "rb") as f:
                    h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()


def make_tar(members, top=None):
    """A .tar.gz of `members`: (name, kind, data-or-linkname[, mode]) with
    kind one of file, dir, sym, lnk, fifo, chr; `top` adds a valid bundle
    (app/, python/bin/python3, run.sh) under that folder first."""
    buf = io.BytesIO()
    entries = []
    if top:
        entries += [
            (top + "/app/src/demo/__init__.py", "file", b"VERSION = 2\n"),
            (top + "/python/bin/python3", "file", b"#!/bin/sh\n", 0o755),
            (top + "/run.sh", "file", b"#!/bin/sh\n", 0o755),
        ]
    entries += list(members)
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as t:
        for e in entries:
            name, kind, payload = e[0], e[1], e[2]
            info = tarfile.TarInfo(name)
            info.mode = e[3] if len(e) > 3 else 0o644
            data = None
            if kind == "file":
                data = payload
                info.size = len(data)
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
            elif kind == "sym":
                info.type = tarfile.SYMTYPE
                info.linkname = payload
            elif kind == "lnk":
                info.type = tarfile.LNKTYPE
                info.linkname = payload
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            elif kind == "chr":
                info.type = tarfile.CHRTYPE
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def make_zip(members, top=None):
    """A .zip of `members`: (name, data); `top` adds a valid Windows bundle first."""
    import zipfile

    buf = io.BytesIO()
    entries = []
    if top:
        entries += [
            (top + "/app/src/demo/__init__.py", b"VERSION = 2\n"),
            (top + "/python/python.exe", b"MZ"),
            (top + "/scripts/start-hidden.vbs", b"'"),
        ]
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in entries + list(members):
            info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
            z.writestr(info, data)
    return buf.getvalue()


def snapshot(root):
    out = {}
    for d, _, files in os.walk(root):
        for n in files:
            p = os.path.join(d, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, root)] = f.read()
    return out


class VersionTests(unittest.TestCase):
    def test_pep440_order(self):
        order = [
            "0.1.0",
            "v0.2.0.dev1",
            "0.2.0a1",
            "v0.2.0-alpha.2",
            "0.2.0b1",
            "v0.2.0-rc.1",
            "0.2.0",
            "0.2.0.post1",
            "0.2.1",
            "1.0",
        ]
        vs = [Version(v) for v in order]
        self.assertEqual(vs, sorted(vs))
        self.assertEqual(Version("1.0.0"), Version("v1.0"))
        self.assertTrue(Version("v0.3.0-rc.1").is_prerelease)
        self.assertTrue(Version("0.3.0.dev3").is_prerelease)
        self.assertFalse(Version("0.3.0.post1").is_prerelease)
        with self.assertRaises(ValueError):
            Version("latest")


class UrlTests(unittest.TestCase):
    def test_https_only_except_loopback(self):
        pyship_update.check_url("https://gitea.example.com/x")
        pyship_update.check_url("http://127.0.0.1:3000/x")
        pyship_update.check_url("http://[::1]:3000/x")
        pyship_update.check_url("http://localhost/x")
        for bad in ["http://gitea.example.com/x", "ftp://127.0.0.1/x", "file:///etc/passwd"]:
            with self.assertRaises(UpdateError) as e:
                pyship_update.check_url(bad)
            self.assertIn("https only", e.exception.message)

    def test_plain_http_server_is_refused_before_any_request(self):
        with tempfile.TemporaryDirectory() as tmp:
            _, cfg = bundle(tmp, "http://gitea.example.com")
            with self.assertRaises(UpdateError) as e:
                Updater(cfg).check()
            self.assertIn("refusing http://gitea.example.com/api/v1/repos/alice/app/releases", e.exception.message)


class UpdaterTests(unittest.TestCase):
    def setUp(self):
        self.server = Server()
        self.tmp = tempfile.TemporaryDirectory()
        self.root, self.cfg = bundle(self.tmp.name, self.server.url)
        self.env = {}
        self.up = Updater(self.cfg, environ=self.env)

    def tearDown(self):
        self.server.close()
        self.tmp.cleanup()

    def test_install_types(self):
        self.assertEqual(self.up.install_type(), "portable-linux")
        _, win = bundle(os.path.join(self.tmp.name, "w"), self.server.url, platform="windows")
        self.assertEqual(Updater(win).install_type(), "portable-windows")
        open(os.path.join(self.tmp.name, "w", "App", "uninstall.exe"), "w").close()
        self.assertEqual(Updater(win).install_type(), "installer")
        # The MSI and the deb name themselves in a marker, on their platform only.
        with open(os.path.join(self.tmp.name, "w", "App", ".pyship-install"), "w") as f:
            f.write("msi\n")
        self.assertEqual(Updater(win).install_type(), "msi")
        _, lin = bundle(os.path.join(self.tmp.name, "l"), self.server.url)
        with open(os.path.join(self.tmp.name, "l", "App", ".pyship-install"), "w") as f:
            f.write("msi\n")
        self.assertEqual(Updater(lin).install_type(), "portable-linux")
        with open(os.path.join(self.tmp.name, "l", "App", ".pyship-install"), "w") as f:
            f.write("deb\n")
        self.assertEqual(Updater(lin).install_type(), "deb")
        # The app's Docker image: the package and its config, no bundle layout.
        image = os.path.join(self.tmp.name, "image.json")
        with open(image, "w") as f:
            json.dump({"schema": 1, "root": ".", "platform": "linux"}, f)
        plain = Updater(image, environ={})
        plain.container_files = (os.path.join(self.tmp.name, "no-dockerenv"),)
        self.assertEqual(plain.install_type(), "dev")
        plain.container_files = (self.cfg,)
        self.assertEqual(plain.install_type(), "docker")
        # Podman's marker, Kubernetes' and systemd-nspawn's variables.
        podman = Updater(image, environ={})
        podman.container_files = (os.path.join(self.tmp.name, "no-dockerenv"), self.cfg)
        self.assertEqual(podman.install_type(), "docker")
        for env in ({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, {"container": "podman"}):
            u = Updater(image, environ=env)
            u.container_files = (os.path.join(self.tmp.name, "no-dockerenv"),)
            self.assertEqual(u.install_type(), "docker", env)
        # The package alone (a development checkout): dev even in a container.
        missing = Updater(os.path.join(self.tmp.name, "missing.json"), environ={"container": "docker"})
        missing.container_files = (self.cfg,)
        self.assertEqual(missing.install_type(), "dev")
        self.assertIsNone(missing.check())
        # A bundle unpacked in a container is still that bundle.
        self.up.container_files = (self.cfg,)
        self.assertEqual(self.up.install_type(), "portable-linux")

    def test_newest_newer_stable_release(self):
        self.server.publish("v0.1.0")
        self.server.publish("v0.2.0")
        self.server.publish("v0.3.0", draft=True)
        self.server.publish("v0.4.0-rc.1", prerelease=True)
        u = self.up.check()
        self.assertEqual((u.tag, u.version, u.prerelease), ("v0.2.0", "0.2.0", False))
        self.assertEqual(u.asset, "App-v0.2.0-linux-x64.tar.gz")
        self.assertEqual(u.sha256, sha(tarball("v0.2.0")))
        self.assertEqual(u.size, len(tarball("v0.2.0")))
        self.assertEqual(u.notes, "notes of v0.2.0")
        self.assertEqual(self.up.skipped_prereleases, ["v0.4.0-rc.1"])
        self.assertEqual(self.up.check(include_prerelease=True).tag, "v0.4.0-rc.1")

    def test_prerelease_channel_default(self):
        self.server.publish("v0.2.0-rc.1", prerelease=True)
        self.assertIsNone(self.up.check())
        _, cfg = bundle(os.path.join(self.tmp.name, "p"), self.server.url, channel="prerelease")
        self.assertEqual(Updater(cfg).check().tag, "v0.2.0-rc.1")

    def test_prerelease_tag_counts_even_without_the_flag(self):
        self.server.publish("v0.2.0-beta.1", prerelease=False)
        self.assertIsNone(self.up.check())

    def test_nothing_newer(self):
        self.server.publish("v0.1.0")
        self.assertIsNone(self.up.check())

    def test_download_verifies_and_reports_progress(self):
        self.server.publish("v0.2.0")
        u = self.up.check()
        seen = []
        path = self.up.download(u, progress=lambda d, t: seen.append((d, t)))
        with open(path, "rb") as f:
            self.assertEqual(sha(f.read()), u.sha256)
        self.assertEqual(seen[-1], (u.size, u.size))

    def test_tampered_asset_is_refused_and_removed(self):
        self.server.publish("v0.2.0", asset=tarball("v0.2.0-evil").ljust(len(tarball("v0.2.0")), b"\0")[: len(tarball("v0.2.0"))])
        u = self.up.check()
        before = snapshot(self.root)
        with self.assertRaises(UpdateError) as e:
            self.up.apply(u)
        self.assertIn("does not match its SHA-256", e.exception.message)
        self.assertEqual(snapshot(self.root), before)
        self.assertFalse(os.path.exists(os.path.join(self.root, ".pyship-update")))

    def test_sums_and_manifest_must_agree(self):
        def edit(m):
            m["assets"][0]["sha256"] = "0" * 64

        self.server.publish("v0.2.0", manifest_edit=edit)
        with self.assertRaises(UpdateError) as e:
            self.up.check()
        self.assertIn("manifest.json and SHA256SUMS of v0.2.0 disagree", e.exception.message)

    def test_unknown_manifest_schema_is_refused(self):
        self.server.publish("v0.2.0", manifest_edit=lambda m: m.update(schema=2))
        with self.assertRaises(UpdateError) as e:
            self.up.check()
        self.assertIn("has schema 2; this updater reads schema 1", e.exception.message)

    def test_dropped_connection_is_refused_and_removed(self):
        self.server.publish("v0.2.0")
        self.server.drop_after = 100
        u = self.up.check()
        before = snapshot(self.root)
        with self.assertRaises(UpdateError) as e:
            self.up.download(u)
        self.assertRegex(e.exception.message, "download of App-v0.2.0-linux-x64.tar.gz (stopped|failed)")
        self.assertEqual(snapshot(self.root), before)

    def test_token_from_env_in_a_header_only(self):
        self.server.publish("v0.2.0")
        self.env["APP_UPDATE_TOKEN"] = "s3cret"
        self.up.check()
        path, headers = self.server.log[0]
        self.assertNotIn("s3cret", path)
        self.assertEqual(headers.get("Authorization"), "token s3cret")
        with open(self.cfg) as f:
            self.assertNotIn("s3cret", f.read())

    def test_token_does_not_follow_a_redirect(self):
        self.env["APP_UPDATE_TOKEN"] = "s3cret"
        with self.assertRaises(UpdateError) as e:
            self.up._request(self.server.url + "/redirect/alice/app/releases/download/x/y")
        self.assertIn("answered 404", e.exception.message)
        self.assertEqual(self.server.log[-2][1].get("Authorization"), "token s3cret")
        self.assertEqual(self.server.log[-1][0], "/alice/app/releases/download/x/y")
        self.assertNotIn("Authorization", self.server.log[-1][1])

    def test_redirect_to_plain_http_is_refused(self):
        with self.assertRaises(UpdateError):
            pyship_update._Redirects().redirect_request(None, None, 302, "", {}, "http://example.com/x")

    def test_second_apply_is_refused_while_one_runs(self):
        self.server.publish("v0.2.0")
        u = self.up.check()
        staging = os.path.join(self.root, ".pyship-update")
        os.makedirs(staging)
        with open(os.path.join(staging, "lock"), "w") as f:
            json.dump({"pid": os.getppid(), "started": time.time()}, f)
        with self.assertRaises(UpdateError) as e:
            self.up.apply(u)
        self.assertIn("another update is already running", e.exception.message)
        self.assertEqual(sorted(os.listdir(staging)), ["lock"])

    def test_stale_lock_is_taken_over(self):
        staging = os.path.join(self.root, ".pyship-update")
        os.makedirs(staging)
        lock = os.path.join(staging, "lock")
        with open(lock, "w") as f:
            json.dump({"pid": 2 ** 22 + 12345, "started": time.time()}, f)
        self.assertTrue(self.up._stale(lock))

    def test_dev_and_docker_refuse_to_apply(self):
        u = pyship_update.Update(version="0.2.0", tag="v0.2.0", prerelease=False, install_type="dev")
        _, cfg = bundle(os.path.join(self.tmp.name, "d"), self.server.url, root="../nowhere")
        dev = Updater(cfg, environ={})
        dev.container_files = (os.path.join(self.tmp.name, "no-dockerenv"),)
        with self.assertRaises(UpdateError) as e:
            dev.apply(u)
        self.assertIn("not an installed bundle (install type dev)", e.exception.message)
        dev.container_files = (self.cfg,)
        with self.assertRaises(UpdateError) as e:
            dev.apply(u)
        self.assertIn("runs in a Docker container", e.exception.message)
        self.assertIn("pull the new image", e.exception.hint)

    def test_deb_refuses_to_apply_and_names_the_package_manager(self):
        _, cfg = bundle(os.path.join(self.tmp.name, "p"), self.server.url)
        with open(os.path.join(self.tmp.name, "p", "App", ".pyship-install"), "w") as f:
            f.write("deb\n")
        up = Updater(cfg)
        u = pyship_update.Update(version="0.2.0", tag="v0.2.0", prerelease=False, install_type="deb")
        with self.assertRaises(UpdateError) as e:
            up.apply(u)
        self.assertIn("Debian package", e.exception.message)
        self.assertIn("apt install", e.exception.hint)
        self.assertFalse(os.path.exists(up.staging()), "a refused update changed nothing")

    def test_cli_exit_codes_and_messages(self):
        self.server.publish("v0.2.0-rc.1", prerelease=True)
        pyship_update._DEFAULT = None
        old = pyship_update.Updater.__init__.__defaults__
        pyship_update.Updater.__init__.__defaults__ = (self.cfg, None)
        cli.Updater = pyship_update.Updater
        try:
            out = io.StringIO()
            err = io.StringIO()
            sys_out, sys_err = sys.stdout, sys.stderr
            sys.stdout, sys.stderr = out, err
            try:
                code = cli.main(["apply"])
                self.assertEqual(code, 0)
                self.assertIn(
                    "no newer stable release than v0.1.0; skipped pre-release v0.2.0-rc.1 (use --prerelease to include it)",
                    out.getvalue(),
                )
                code = cli.main(["check", "--prerelease"])
                self.assertEqual(code, 0)
                self.assertIn("pre-release v0.2.0-rc.1", out.getvalue())
                self.server.releases[0]["files"]["SHA256SUMS"] = b"junk\n"
                self.assertEqual(cli.main(["check", "--prerelease"]), 1)
                self.assertIn("error: manifest.json and SHA256SUMS of v0.2.0-rc.1 disagree", err.getvalue())
                self.assertIn("hint: the release was changed after publishing", err.getvalue())
                with self.assertRaises(SystemExit) as e:
                    cli.main(["frobnicate"])
                self.assertEqual(e.exception.code, 2)
            finally:
                sys.stdout, sys.stderr = sys_out, sys_err
        finally:
            pyship_update.Updater.__init__.__defaults__ = old

    def test_the_release_page_is_a_web_url_and_printed_escaped(self):
        self.server.publish("v0.2.0")
        good = self.server.api()
        self.assertEqual(self.up.check().url, good[0]["html_url"])
        hostile = "http://127.0.0.1:8820/x\x1b]0;PWNED\x07\x1b[2J"
        for page in [hostile, "javascript:alert(1)", "file:///etc/passwd", "ftp://127.0.0.1/x", "https://a/b c", "https://a/\u00e9", ""]:
            with self.subTest(page=page):
                self.server.api_body = json.dumps([dict(good[0], html_url=page)]).encode()
                self.assertIsNone(self.up.check().url)
        self.server.api_body = json.dumps([dict(good[0], html_url=hostile)]).encode()
        old = pyship_update.Updater.__init__.__defaults__
        pyship_update.Updater.__init__.__defaults__ = (self.cfg, None)
        out = io.StringIO()
        sys_out, sys.stdout = sys.stdout, out
        try:
            self.assertEqual(cli.main(["check"]), 0)
        finally:
            sys.stdout = sys_out
            pyship_update.Updater.__init__.__defaults__ = old
        self.assertIn("release v0.2.0\n", out.getvalue())
        self.assertNotRegex(out.getvalue(), "[\x00-\x09\x0b-\x1f\x7f]")
        # An Update made by hand is printed escaped too.
        made = pyship_update.Update(version="0.2.0", tag="v0.2.0", prerelease=False, install_type="dev", url=hostile)
        self.assertEqual(
            cli._describe(made).splitlines()[0],
            "release v0.2.0 (http://127.0.0.1:8820/x\\x1b]0;PWNED\\x07\\x1b[2J)",
        )


class Contained(unittest.TestCase):
    """A bundle in {tmp}/App, a victim file beside it, and an updater that
    records the helper it would start instead of starting it."""

    platform = "linux"

    def setUp(self):
        self.server = Server()
        self.tmp = tempfile.TemporaryDirectory()
        self.victim = os.path.join(self.tmp.name, "victim.txt")
        with open(self.victim, "w") as f:
            f.write("victim")
        extra = {}
        if self.platform == "windows":
            extra = dict(platform="windows", launcher="vbs", assets={"portable-windows": "App-{tag}-win-x64.zip"})
        self.root, self.cfg = bundle(self.tmp.name, self.server.url, **extra)
        self.env = {}
        self.up = Updater(self.cfg, environ=self.env)
        self.started = []
        self.up._start_helper = lambda script, env, staging, log: self.started.append(env) or 0

    def tearDown(self):
        self.server.close()
        self.tmp.cleanup()

    def attempt(self):
        u = self.up.check()
        return self.up.apply(u)

    def refused(self, fn, *contains):
        """`fn()` raises UpdateError (with a hint), starts no helper, and
        nothing under the temp folder changed."""
        before = tree_hash(self.tmp.name)
        with self.assertRaises(UpdateError) as e:
            fn()
        err = e.exception
        self.assertTrue(err.hint, "no hint: %s" % err.message)
        for c in contains:
            self.assertIn(c, err.message)
        self.assertEqual(tree_hash(self.tmp.name), before, err.message)
        self.assertEqual(self.started, [])
        with open(self.victim) as f:
            self.assertEqual(f.read(), "victim")
        return err


class NameTests(Contained):
    """Issue item 1: a server-supplied name is a plain file name, or the
    update is refused before anything is written."""

    def test_asset_names_that_are_not_plain_are_refused(self):
        names = [
            "../../victim.txt",
            "../../../../x.tar.gz",
            "a/b.tar.gz",
            "a\\b.tar.gz",
            "..",
            ".",
            "",
            "C:x.tar.gz",
            "x.tar.gz:stream",
            "CON.tar.gz",
            "x\x00.tar.gz",
            "x\n.tar.gz",
            ".hidden.tar.gz",
            "-rf.tar.gz",
            "x.tar.gz.",
            "lock",
            "helper.py",
            "update.sh",
            "App-v0.2.0-win-x64.zip",
            "\uff41.tar.gz",
            "a" * 300 + ".tar.gz",
        ]
        for name in names:
            with self.subTest(name=name):
                self.server.releases = []
                self.server.publish("v0.2.0", asset_name=name)
                self.refused(self.attempt, "not a plain")

    def test_an_absolute_name_with_a_wrong_hash_deletes_nothing(self):
        self.server.publish(
            "v0.2.0",
            asset_name=self.victim,
            manifest_edit=lambda m: m["assets"][0].update(sha256="0" * 64),
        )
        self.refused(self.attempt, "not a plain")
        self.assertTrue(os.path.isfile(self.victim))

    def test_a_hand_made_update_with_a_bad_name_is_refused(self):
        self.server.publish("v0.2.0")
        u = self.up.check()
        u.asset = "../../victim.txt"
        self.refused(lambda: self.up.download(u), "not a plain")
        self.refused(lambda: self.up.apply(u), "not a plain")

    def test_top_level_entries_are_plain_and_never_data(self):
        for bad in ["App/.hidden", "App/x y", "App/a&b", "App/x\ny"]:
            with self.subTest(entry=bad):
                self.server.releases = []
                self.server.publish("v0.2.0", asset=make_tar([(bad, "file", b"x")], top="App"), consistent=True)
                self.refused(self.attempt)
        # data/ in any case is never swapped: it is left out, not refused.
        self.server.releases = []
        self.server.publish(
            "v0.2.0",
            asset=make_tar([("App/Data/x", "file", b"x"), ("App/LOGS", "file", b"x")], top="App"),
            consistent=True,
        )
        self.attempt()
        with open(os.path.join(self.root, ".pyship-update", "entries.txt")) as f:
            self.assertEqual(f.read(), "app\npython\nrun.sh\n")


class ExtractTests(Contained):
    """Issue item 2: extraction refuses any member or link (symbolic or
    hard) whose target resolves outside the new folder."""

    def hostile(self, members, *contains):
        self.server.releases = []
        self.server.publish("v0.2.0", asset=make_tar(members, top="App"), consistent=True)
        return self.refused(self.attempt, *contains)

    def test_hard_links_resolve_from_the_archive_root(self):
        # tarfile resolves a hard link's target from the archive root.
        self.hostile([("App/app/h", "lnk", "../../victim.txt")])
        self.hostile([("App/app/h", "lnk", "App/../../victim.txt")])
        self.hostile([("App/app/h", "lnk", "victim.txt")])
        self.hostile([("victim.txt", "file", b"x"), ("App/app/h", "lnk", "victim.txt")])
        self.hostile([("App/app/h", "lnk", "/etc/passwd")])
        # To a member that is not there (tarfile raised KeyError).
        self.hostile([("App/app/h", "lnk", "App/app/missing")], "hard link")
        # To a link or a folder.
        self.hostile([("App/s", "sym", "run.sh"), ("App/h", "lnk", "App/s")], "hard link")
        self.hostile([("App/h", "lnk", "App/app")], "hard link")

    def test_symlinks_stay_inside(self):
        self.hostile([("App/l", "sym", "../victim.txt")], "link")
        self.hostile([("App/l", "sym", "../../victim.txt")], "link")
        self.hostile([("App/l", "sym", self.victim)], "link")
        self.hostile([("App/app/l", "sym", "../../x")], "link")
        # Chains: each link looks inside, together they leave.
        self.hostile([("App/x", "sym", "y/.."), ("App/y", "sym", ".")], "link")
        self.hostile([("App/y", "sym", "."), ("App/x", "sym", "y/..")], "link")
        # Written through a link.
        self.hostile([("App/d", "sym", "app"), ("App/d/x", "file", b"x")], "through a link")
        self.hostile([("App/d", "sym", "."), ("App/d/../../victim.txt", "file", b"x")])

    def test_member_names_stay_inside(self):
        for name in ["../victim.txt", "App/../../victim.txt", "/tmp/x", "App/a\\..\\..\\x", "App/C:x", "App/x./y", "App/x /y", "App//x"]:
            with self.subTest(name=name):
                self.hostile([(name, "file", b"x")])

    def test_special_files_duplicates_and_layout(self):
        self.hostile([("App/f", "fifo", None)], "not a file")
        self.hostile([("App/c", "chr", None)], "not a file")
        self.hostile([("App/run.sh", "file", b"again")], "twice")
        self.hostile([("App/run.sh", "sym", "app")], "twice")
        self.hostile([("Other/x", "file", b"x")], "exactly one folder")
        self.hostile([("loose.txt", "file", b"x")], "exactly one folder")
        self.server.releases = []
        self.server.publish("v0.2.0", asset=make_tar([("App", "sym", "."), ("App/x", "file", b"x")]), consistent=True)
        self.refused(self.attempt)
        self.server.releases = []
        self.server.publish("v0.2.0", asset=b"not a tarball at all", consistent=True)
        self.refused(self.attempt, "cannot unpack")

    def test_no_interpreter_is_refused_before_the_helper(self):
        buf = make_tar([("App/app/x.py", "file", b""), ("App/run.sh", "file", b"", 0o755)])
        self.server.publish("v0.2.0", asset=buf, consistent=True)
        self.refused(self.attempt, "has no python/bin/python3")
        self.server.releases = []
        buf = make_tar([("App/app/x.py", "file", b""), ("App/run.sh", "file", b"", 0o755), ("App/python/bin/python3", "file", b"", 0o644)])
        self.server.publish("v0.2.0", asset=buf, consistent=True)
        self.refused(self.attempt, "has no python/bin/python3 (or it is not runnable)")

    def test_what_a_real_bundle_holds_is_kept(self):
        members = [
            ("App/python/bin/python3.11", "file", b"#!/bin/sh\n", 0o4755),
            ("App/python/bin/py", "sym", "python3.11"),
            ("App/python/lib/libx.so", "file", b"elf", 0o755),
            ("App/python/lib/libx.so.1", "lnk", "App/python/lib/libx.so"),
            ("App/app/up", "sym", "../python/bin/py"),
        ]
        self.server.publish("v0.2.0", asset=make_tar(members, top="App"), consistent=True)
        self.attempt()
        new = os.path.join(self.root, ".pyship-update", "new", "App")
        self.assertEqual(os.readlink(os.path.join(new, "python/bin/py")), "python3.11")
        self.assertEqual(os.stat(os.path.join(new, "python/bin/python3.11")).st_mode & 0o7777, 0o755)
        with open(os.path.join(new, "python/lib/libx.so.1"), "rb") as f:
            self.assertEqual(f.read(), b"elf")
        self.assertEqual(len(self.started), 1)

    def test_unpacking_more_than_the_budget_is_refused(self):
        from pyship_update import _extract

        with tempfile.TemporaryDirectory() as t:
            bomb = os.path.join(t, "b.tar.gz")
            with open(bomb, "wb") as f:
                f.write(make_tar([("App/zeros", "file", bytes(300 << 20))], top="App"))
            with self.assertRaises(UpdateError) as e:
                _extract(bomb, os.path.join(t, "new"))
            self.assertIn("more than the update may write", e.exception.message)


class ZipTests(Contained):
    platform = "windows"

    def test_zip_members_stay_inside(self):
        for name in ["../victim.txt", "App/../../victim.txt", "/abs.txt", "C:/x.txt", "App\\..\\..\\x", "App/CON", "App/app/CON", "App/app/nul.txt", "App/app/x:y"]:
            with self.subTest(name=name):
                self.server.releases = []
                self.server.publish(
                    "v0.2.0",
                    asset=make_zip([(name, b"x")], top="App"),
                    consistent=True,
                    asset_name="App-v0.2.0-win-x64.zip",
                    manifest_edit=lambda m: m["assets"][0].update(install_type="portable-windows"),
                )
                self.refused(self.attempt)

    def test_a_good_zip_is_staged(self):
        self.server.publish(
            "v0.2.0",
            asset=make_zip([], top="App"),
            consistent=True,
            asset_name="App-v0.2.0-win-x64.zip",
            manifest_edit=lambda m: m["assets"][0].update(install_type="portable-windows"),
        )
        self.attempt()
        with open(os.path.join(self.root, ".pyship-update", "entries.txt")) as f:
            self.assertEqual(f.read(), "app\npython\nscripts\n")


class MalformedTests(Contained):
    """Issue item 3: every field read from the server is type-checked; a
    malformed answer is an UpdateError, never a traceback."""

    def manifest(self, edit, *contains):
        self.server.releases = []
        self.server.publish("v0.2.0", manifest_edit=edit)
        return self.refused(self.attempt, *contains)

    def test_malformed_manifests(self):
        self.manifest(lambda m: m["assets"][0].update(size="abc"), "size of asset 1 of manifest.json of v0.2.0 is a string")
        self.manifest(lambda m: m["assets"][0].update(size=True), "true or false")
        self.manifest(lambda m: m["assets"][0].update(size=-5), "bytes")
        self.manifest(lambda m: m["assets"][0].update(size=1 << 70), "bytes")
        self.manifest(lambda m: m["assets"][0].update(size=12.5), "a number")
        self.manifest(lambda m: m["assets"][0].pop("name"), "name of asset 1 of manifest.json of v0.2.0 is missing")
        self.manifest(lambda m: m["assets"][0].update(sha256=123), "sha256")
        self.manifest(lambda m: m["assets"][0].update(sha256="g" * 64), "not a SHA-256")
        self.manifest(lambda m: m["assets"][0].update(install_type=None), "install_type")
        self.manifest(lambda m: m.update(assets="x"), "assets of manifest.json")
        self.manifest(lambda m: m.update(assets=[1]), "an object")
        self.manifest(lambda m: m.update(tag=5), "tag of manifest.json")
        self.manifest(lambda m: m.update(version="0.2.0"), "version of manifest.json")
        self.manifest(lambda m: m.update(version={"pep440": "0.3.0"}), "not the tag's version")
        self.manifest(lambda m: m.update(schema=True), "schema")
        self.manifest(lambda m: m["assets"].append(dict(m["assets"][0])), "2 assets for install type")

    def whole_manifest(self, body, *contains):
        self.server.releases = []
        self.server.publish("v0.2.0")
        rel = self.server.releases[0]
        rel["files"]["manifest.json"] = body
        rel["files"]["SHA256SUMS"] = ("%s  manifest.json\n" % sha(body)).encode()
        return self.refused(self.attempt, *contains)

    def test_manifests_that_are_not_objects(self):
        self.whole_manifest(b"[]", "manifest.json of v0.2.0 is a list, expected an object")
        self.whole_manifest(b"\"x\"", "is a string")
        self.whole_manifest(b"[" * 100000 + b"]" * 100000, "nested too deeply")
        self.whole_manifest(b"<html>", "not valid JSON")
        self.whole_manifest(b"\xff\xfe", "not valid JSON")
        self.whole_manifest(b"{" + b" " * (2 << 20) + b"}", "larger than")

    def listing(self, body, *contains):
        self.server.api_body = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.refused(self.attempt, *contains)

    def test_malformed_release_lists(self):
        self.server.publish("v0.2.0")
        good = self.server.api()
        self.listing({"releases": good}, "is an object, expected a list")
        self.listing(["v0.2.0"], "release 1 of the release list of alice/app (page 1) is a string")
        self.listing([dict(good[0], tag_name=2)], "tag_name of release 1 of the release list is a whole number")
        self.listing([dict(good[0], draft="no")], "draft")
        self.listing([dict(good[0], prerelease=1)], "prerelease")
        self.listing([dict(good[0], assets={})], "assets of release v0.2.0")
        self.listing([dict(good[0], assets=[{"name": 3}])], "name of asset 1 of release v0.2.0")
        self.listing([dict(good[0], body=[])], "body of release v0.2.0")
        self.listing([dict(good[0], assets=[dict(a, browser_download_url=None) for a in good[0]["assets"]])], "browser_download_url")
        self.listing([dict(good[0], assets=[dict(a, size="1") for a in good[0]["assets"]])], "size of App-v0.2.0-linux-x64.tar.gz")
        self.listing([dict(good[0], assets=good[0]["assets"] * 2)], "2 assets named")
        self.listing(b"[" * 100000 + b"]" * 100000, "nested too deeply")
        self.listing(b"<html>login</html>", "not valid JSON")

    def test_urls_that_are_not_urls(self):
        self.server.publish("v0.2.0")
        good = self.server.api()
        for url in ["http://[::1", "http://127.0.0.1:99999/x", "file:///etc/passwd", "ftp://127.0.0.1/x", "http://example.com/x"]:
            with self.subTest(url=url):
                self.listing([dict(good[0], assets=[dict(a, browser_download_url=url) for a in good[0]["assets"]])])

    def test_sums_listing_a_name_twice_is_refused(self):
        self.server.publish("v0.2.0")
        rel = self.server.releases[0]
        rel["files"]["SHA256SUMS"] += ("%s  App-v0.2.0-linux-x64.tar.gz\n" % ("0" * 64)).encode()
        self.refused(self.attempt, "twice with different hashes")

    def test_the_cli_prints_error_and_hint_lines(self):
        self.server.api_body = b"[" * 100000 + b"]" * 100000
        err = io.StringIO()
        out = io.StringIO()
        old = pyship_update.Updater.__init__.__defaults__
        pyship_update.Updater.__init__.__defaults__ = (self.cfg, None)
        sys_out, sys_err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        try:
            code = cli.main(["check"])
        finally:
            sys.stdout, sys.stderr = sys_out, sys_err
            pyship_update.Updater.__init__.__defaults__ = old
        self.assertEqual(code, 1)
        lines = err.getvalue().splitlines()
        self.assertEqual(len(lines), 2, err.getvalue())
        self.assertTrue(lines[0].startswith("error: the answer of http://127.0.0.1:"), lines)
        self.assertTrue(lines[1].startswith("hint: "), lines)


class TokenOriginTests(Contained):
    """Issue item 4: the token goes only to the API's origin."""

    def test_an_asset_on_another_origin_gets_no_token(self):
        other = Server()
        try:
            self.server.publish("v0.2.0")
            other.releases = self.server.releases
            self.env["APP_UPDATE_TOKEN"] = "s3cret"
            api = self.server.api()
            for a in api[0]["assets"]:
                if a["name"].endswith(".tar.gz"):
                    a["browser_download_url"] = a["browser_download_url"].replace(self.server.url, other.url)
            self.server.api_body = json.dumps(api).encode()
            self.attempt()
            self.assertEqual(len(other.log), 1)
            self.assertNotIn("Authorization", other.log[0][1])
            # The API's own origin does get it.
            self.assertTrue(all(h.get("Authorization") == "token s3cret" for _, h in self.server.log))
            for host in ("localhost", "127.0.0.1:%d" % other.port, "127.0.0.2:%d" % self.server.port):
                from pyship_update import _origin

                self.assertNotEqual(_origin("http://%s/x" % host), _origin(self.server.url + "/api/v1"))
        finally:
            other.close()


class HelperScriptTests(unittest.TestCase):
    """Issue item 5: update.sh, run for real on a fake bundle whose
    interpreter is this Python: a rollback removes the downloaded archive,
    and update.log names the right cause."""

    def setUp(self):
        if os.name == "nt":
            self.skipTest("update.sh is the Linux helper")
        self.server = Server()
        self.tmp = tempfile.TemporaryDirectory()
        self.root, self.cfg = bundle(self.tmp.name, self.server.url, start_timeout=20)
        self.python = "#!/bin/sh\nexec %s \"$@\"\n" % sys.executable
        for rel, text in [("python/bin/python3", self.python), ("run.sh", "#!/bin/sh\nsleep 30\n")]:
            path = os.path.join(self.root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o755)
        self.up = Updater(self.cfg, environ={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})

    def tearDown(self):
        import subprocess

        pid = os.path.join(self.root, ".pyship-update", "app.pid")
        if os.path.exists(pid):
            with open(pid) as f:
                subprocess.call(["kill", f.read().strip()], stderr=subprocess.DEVNULL)
        self.server.close()
        self.tmp.cleanup()

    def run_update(self, python, run_sh, want):
        import subprocess

        members = [
            ("App/app/src/demo/__init__.py", "file", b"VERSION = 2\n"),
            ("App/python/bin/python3", "file", python.encode(), 0o755),
            ("App/run.sh", "file", run_sh.encode(), 0o755),
        ]
        self.server.publish("v0.2.0", asset=make_tar(members), consistent=True)
        gone = subprocess.Popen(["true"])
        gone.wait()
        before = tree_hash(self.root, skip={".pyship-update"})
        log = self.up.apply(self.up.check(), pid=gone.pid)
        deadline = time.time() + 60
        text = ""
        while time.time() < deadline:
            with open(log) as f:
                text = f.read()
            if want in text:
                break
            time.sleep(0.2)
        self.assertIn(want, text)
        time.sleep(0.3)
        stage = os.path.join(self.root, ".pyship-update")
        left = sorted(os.listdir(stage))
        self.assertNotIn("App-v0.2.0-linux-x64.tar.gz", left, text)
        for gone_name in ("new", "lock", "swapped.txt"):
            self.assertNotIn(gone_name, left, text)
        return before, text

    def test_a_rollback_removes_the_downloaded_archive(self):
        before, text = self.run_update(self.python, "#!/bin/sh\nexit 3\n", "rolled back")
        self.assertIn("the new version exited during start-up", text)
        self.assertEqual(tree_hash(self.root, skip={".pyship-update"}), before, text)

    def test_an_interpreter_that_cannot_run_is_named_in_the_log(self):
        before, text = self.run_update("#!/bin/sh\nexit 126\n", "#!/bin/sh\nsleep 30\n", "nothing was changed")
        self.assertIn("could not run the helper (exit status 126)", text)
        self.assertNotIn("did not exit", text)
        self.assertEqual(tree_hash(self.root, skip={".pyship-update"}), before, text)


class HelperTests(unittest.TestCase):
    def test_pid_alive(self):
        self.assertTrue(_helper.pid_alive(os.getpid()))
        self.assertFalse(_helper.pid_alive(0))
        import subprocess

        p = subprocess.Popen([sys.executable, "-c", "pass"])
        p.wait()
        self.assertFalse(_helper.pid_alive(p.pid))

    def test_zombie_counts_as_exited(self):
        import subprocess

        p = subprocess.Popen([sys.executable, "-c", "pass"])
        deadline = time.time() + 10
        while _helper.pid_alive(p.pid) and time.time() < deadline:
            time.sleep(0.05)
        self.assertFalse(_helper.pid_alive(p.pid), "a zombie counts as exited")
        p.wait()

    def test_running_from_finds_a_process_by_its_executable(self):
        import shutil
        import subprocess

        with tempfile.TemporaryDirectory() as tmp:
            exe = os.path.join(tmp, "python", "sleeper")
            os.makedirs(os.path.dirname(exe))
            shutil.copy(shutil.which("sleep"), exe)
            p = subprocess.Popen([exe, "30"])
            try:
                self.assertEqual(_helper.running_from(os.path.join(tmp, "python")), [p.pid])
                self.assertEqual(_helper.wait_exit(tmp, 0, 0.3), 1)
            finally:
                p.kill()
                p.wait()
            self.assertEqual(_helper.running_from(os.path.join(tmp, "python")), [])
            self.assertEqual(_helper.wait_exit(tmp, 0, 5), 0)

    def test_wait_up_without_port_needs_the_process_to_stay_up(self):
        import subprocess

        with tempfile.TemporaryDirectory() as tmp:
            short = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
            self.assertEqual(_helper.wait_up(tmp, short.pid, 0, 20), 1)
            short.wait()

    def test_wait_up_with_port_waits_for_an_answer(self):
        server = Server()
        try:
            self.assertEqual(_helper.wait_up("/nonexistent", os.getpid(), server.port, 5), 0)
        finally:
            server.close()


if __name__ == "__main__":
    unittest.main()
