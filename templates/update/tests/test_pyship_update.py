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
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.log.append((self.path, dict(self.headers)))
                path = self.path.split("?")[0]
                if path == "/api/v1/repos/alice/app/releases":
                    page = int(self.path.split("page=")[1]) if "page=" in self.path else 1
                    body = json.dumps(outer.api() if page == 1 else []).encode()
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

    def publish(self, tag, prerelease=False, draft=False, asset=None, manifest_edit=None):
        asset_name = "App-%s-linux-x64.tar.gz" % tag
        data = tarball(tag) if asset is None else asset
        good = tarball(tag)
        manifest = {
            "schema": 1,
            "name": "App",
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
        self.releases.insert(
            0,
            {
                "tag": tag,
                "prerelease": prerelease,
                "draft": draft,
                "files": {asset_name: data, "manifest.json": mjson, "SHA256SUMS": sums.encode()},
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
        missing = Updater(os.path.join(self.tmp.name, "missing.json"))
        missing.dockerenv = os.path.join(self.tmp.name, "no-dockerenv")
        self.assertEqual(missing.install_type(), "dev")
        missing.dockerenv = self.cfg
        self.assertEqual(missing.install_type(), "docker")
        # A bundle unpacked in a container is still that bundle.
        self.up.dockerenv = self.cfg
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
        dev = Updater(cfg)
        dev.dockerenv = os.path.join(self.tmp.name, "no-dockerenv")
        with self.assertRaises(UpdateError) as e:
            dev.apply(u)
        self.assertIn("not an installed bundle (install type dev)", e.exception.message)
        dev.dockerenv = self.cfg
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
