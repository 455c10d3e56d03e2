"""Property test: pyship_update against a hostile server.

A seeded generator (stdlib `random`; no hypothesis offline) makes releases
that a valid server would publish, then breaks them in one to three ways at
once: names (traversal, absolute, drive, device, control characters), archive
members and links (symbolic and hard, escaping by name, by target, by chains
and by writing through links; special files; duplicates), JSON types at any
node (including nesting deep enough to exhaust the parser), sizes and hashes,
redirects (to plain http, to `file:`, loops, to another origin), other
origins, HTTP errors and cut-off bodies.

For every answer the updater must either stage the update correctly or refuse
with an `UpdateError` carrying a one-line message and a hint, and:
- nothing outside `.pyship-update/` changes (a tree hash of the whole temp
  folder, the victim file beside the app included), and a refusal leaves
  `.pyship-update/` as it was;
- the token reaches only the API's origin, as an `Authorization` header;
- a break that must be refused (a hostile name, an escaping archive, a hash
  or size that does not match) is refused.

`PYSHIP_HOSTILE_SEED` and `PYSHIP_HOSTILE_CASES` override the seed and the
number of cases; a failure names the seed and case to replay.
"""

import hashlib
import http.server
import io
import json
import os
import random
import sys
import tempfile
import threading
import unittest
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from pyship_update import UpdateError, Updater  # noqa: E402
from test_pyship_update import bundle, make_tar, tree_hash  # noqa: E402

SEED = int(os.environ.get("PYSHIP_HOSTILE_SEED") or 20240611)
CASES = int(os.environ.get("PYSHIP_HOSTILE_CASES") or 400)
TOKEN = "s3cret-token-0123456789"
LISTING = "/api/v1/repos/alice/app/releases"


def sha(data):
    return hashlib.sha256(data).hexdigest()


class Server:
    """Answers each path from `routes`: ("ok", body), ("status", code,
    body), ("redirect", location), ("cut", body, declared_length)."""

    def __init__(self):
        self.routes = {}
        self.log = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.log.append((self.path, dict(self.headers)))
                path = self.path.split("?")[0]
                spec = outer.routes.get(path, ("status", 404, b""))
                if path == LISTING and "page=1" not in self.path and "page=" in self.path:
                    spec = ("ok", b"[]")
                kind = spec[0]
                if kind == "redirect":
                    self.send_response(302)
                    self.send_header("Location", spec[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if kind == "status":
                    self.send_response(spec[1])
                    body = spec[2]
                elif kind == "cut":
                    self.send_response(200)
                    self.send_header("Content-Length", str(spec[2]))
                    self.end_headers()
                    self.wfile.write(spec[1])
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                else:
                    self.send_response(200)
                    body = spec[1]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Quiet(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                # The updater hangs up on answers it refuses.
                pass

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# ------------------------------------------------------------------ releases


def good_archive(rng, windows):
    """A valid bundle archive with a little random content."""
    text = ("VERSION = %d\n" % rng.randrange(1 << 30)).encode()
    if windows:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            for name, data in [
                ("App/app/src/demo/__init__.py", text),
                ("App/python/python.exe", b"MZ" + text),
                ("App/scripts/start-hidden.vbs", b"'"),
                ("App/README.txt", text * rng.randrange(1, 50)),
            ]:
                z.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data)
        return buf.getvalue()
    members = [("App/README.txt", "file", text * rng.randrange(1, 50))]
    if rng.random() < 0.5:
        members.append(("App/python/bin/py", "sym", "python3"))
    if rng.random() < 0.5:
        members.append(("App/app/again.py", "lnk", "App/app/src/demo/__init__.py"))
    return make_tar(members, top="App")


class Release:
    """A release as a valid server publishes it; `serve()` renders the routes."""

    def __init__(self, rng, server, other, windows):
        self.rng = rng
        self.server = server
        self.other = other
        self.windows = windows
        self.kind = "portable-windows" if windows else "portable-linux"
        self.tag = "v0.2.0"
        self.asset = "App-v0.2.0-%s" % ("win-x64.zip" if windows else "linux-x64.tar.gz")
        self.archive = good_archive(rng, windows)
        self.manifest = {
            "schema": 1,
            "name": "App",
            "tag": self.tag,
            "version": {"pep440": "0.2.0", "tag": self.tag},
            "prerelease": False,
            "assets": [
                {
                    "name": self.asset,
                    "platform": "windows" if windows else "linux",
                    "install_type": self.kind,
                    "size": len(self.archive),
                    "sha256": sha(self.archive),
                },
                {
                    "name": "App-v0.2.0-setup.exe",
                    "platform": "windows",
                    "install_type": "installer",
                    "size": 3,
                    "sha256": sha(b"exe"),
                },
            ],
        }
        self.extra_files = {"App-v0.2.0-setup.exe": b"exe"}
        # Breaks applied after the JSON is rendered: (target, function(bytes) -> bytes).
        self.raw = []
        # path -> route spec that wins over the rendered ones.
        self.overrides = {}
        self.older = rng.random() < 0.3

    def url(self, name, origin=None):
        return "%s/alice/app/releases/download/%s/%s" % (origin or self.server.url, self.tag, name)

    def sums(self):
        lines = ["%s  %s" % (sha(self.archive), self.asset)]
        lines += ["%s  %s" % (sha(d), n) for n, d in sorted(self.extra_files.items())]
        return ("\n".join(lines) + "\n").encode()

    def listing(self, manifest_bytes, sums_bytes):
        files = dict(self.extra_files)
        files[self.asset] = self.archive
        files["manifest.json"] = manifest_bytes
        files["SHA256SUMS"] = sums_bytes
        rel = {
            "id": 7,
            "tag_name": self.tag,
            "name": "App " + self.tag,
            "body": "notes",
            "draft": False,
            "prerelease": False,
            "html_url": self.server.url + "/alice/app/releases/tag/" + self.tag,
            "assets": [
                {"name": n, "size": len(d), "browser_download_url": self.url(n)} for n, d in sorted(files.items())
            ],
        }
        out = [rel]
        if self.older:
            out.append(dict(rel, tag_name="v0.0.9", assets=[]))
        return out, files

    def serve(self):
        manifest = json.loads(json.dumps(self.manifest))
        for target, fn in self.raw:
            if target == "manifest-obj":
                try:
                    manifest = fn(manifest)
                except (TypeError, KeyError, IndexError, AttributeError):
                    pass
        mbytes = json.dumps(manifest).encode()
        for target, fn in self.raw:
            if target == "manifest":
                mbytes = fn(mbytes)
        sums = self.sums()
        for target, fn in self.raw:
            if target == "sums":
                sums = fn(sums)
        listing, files = self.listing(mbytes, sums)
        for target, fn in self.raw:
            if target == "listing-obj":
                try:
                    listing = fn(listing)
                except (TypeError, KeyError, IndexError, AttributeError):
                    # An earlier break changed the shape this one edits.
                    pass
        lbytes = json.dumps(listing).encode()
        for target, fn in self.raw:
            if target == "listing":
                lbytes = fn(lbytes)
        routes = {LISTING: ("ok", lbytes)}
        for name, data in files.items():
            routes["/alice/app/releases/download/%s/%s" % (self.tag, name)] = ("ok", data)
        # The other origin serves the files as published, whatever breaks this one.
        self.other.routes = {p: r for p, r in routes.items() if p != LISTING}
        routes.update(self.overrides)
        self.server.routes = routes


# ------------------------------------------------------------------ breaks

HOSTILE_NAMES = [
    "../../victim.txt",
    "../victim.txt",
    "..",
    ".",
    "",
    "/tmp/x.tar.gz",
    "a/b.tar.gz",
    "a\\b.zip",
    "C:x.zip",
    "C:\\x.zip",
    "x.tar.gz:ads",
    "CON.tar.gz",
    "nul.zip",
    "x\x00.tar.gz",
    "x\n.zip",
    ".x.tar.gz",
    "-x.zip",
    "x.tar.gz ",
    "x.zip.",
    "lock",
    "new",
    "update.sh",
    "\u2025.tar.gz",
    "a" * 250 + ".zip",
]


def break_name(rel, rng):
    """Every name the asset has (manifest, listing, SHA256SUMS) made hostile."""
    name = rng.choice(HOSTILE_NAMES + [rel.world_victim])
    old = rel.asset
    rel.asset = name
    rel.overrides["/alice/app/releases/download/v0.2.0/" + name] = ("ok", rel.archive)
    rel.manifest["assets"][0]["name"] = name
    return "name %r (was %s)" % (name, old), True


TAR_ESCAPES = [
    [("App/h", "lnk", "../../victim.txt")],
    [("App/h", "lnk", "App/../../victim.txt")],
    [("App/h", "lnk", "victim.txt")],
    [("victim.txt", "file", b"x"), ("App/h", "lnk", "victim.txt")],
    [("App/h", "lnk", "/etc/passwd")],
    [("App/h", "lnk", "App/missing")],
    [("App/s", "sym", "run.sh"), ("App/h", "lnk", "App/s")],
    [("App/l", "sym", "../victim.txt")],
    [("App/l", "sym", "/etc")],
    [("App/app/l", "sym", "../../x")],
    [("App/x", "sym", "y/.."), ("App/y", "sym", ".")],
    [("App/y", "sym", "."), ("App/x", "sym", "y/..")],
    [("App/d", "sym", "app"), ("App/d/x", "file", b"x")],
    [("App/d", "sym", "."), ("App/d/../../victim.txt", "file", b"x")],
    [("../victim.txt", "file", b"x")],
    [("App/../../victim.txt", "file", b"x")],
    [("/tmp/pyship-hostile-abs", "file", b"x")],
    [("App/a\\..\\..\\x", "file", b"x")],
    [("App/C:x", "file", b"x")],
    [("App/x /y", "file", b"x")],
    [("App/f", "fifo", None)],
    [("App/c", "chr", None)],
    [("App/run.sh", "file", b"again")],
    [("Other/x", "file", b"x")],
    [("App/.hidden", "file", b"x")],
    [("App/a&b", "file", b"x")],
    [("App/x\ndata", "file", b"x")],
]

ZIP_ESCAPES = [
    "../victim.txt",
    "App/../../victim.txt",
    "/abs.txt",
    "C:/x.txt",
    "App\\..\\..\\x",
    "App/app/CON",
    "App/app/nul.txt",
    "App/x:y",
    "Other/x",
    "App/.hidden",
]


def break_archive(rel, rng):
    """An archive that escapes, published consistently (hashes match it)."""
    if rel.windows:
        name = rng.choice(ZIP_ESCAPES)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            for n, d in [
                ("App/app/src/demo/__init__.py", b"x"),
                ("App/python/python.exe", b"MZ"),
                ("App/scripts/start-hidden.vbs", b"'"),
                (name, b"x"),
            ]:
                z.writestr(zipfile.ZipInfo(n, (1980, 1, 1, 0, 0, 0)), d)
        rel.archive = buf.getvalue()
        what = name
    else:
        members = rng.choice(TAR_ESCAPES)
        if rng.random() < 0.5:
            rel.archive = make_tar(members, top="App")
        else:
            rel.archive = make_tar(list(members) + [("App/app/z.py", "file", b"z")], top="App")
        what = members
    rel.manifest["assets"][0]["size"] = len(rel.archive)
    rel.manifest["assets"][0]["sha256"] = sha(rel.archive)
    return "archive %r" % (what,), True


def break_missing_runtime(rel, rng):
    if rel.windows:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("App/app/x.py", b"x")
        rel.archive = buf.getvalue()
    else:
        rel.archive = make_tar([("App/app/x.py", "file", b"x"), ("App/run.sh", "file", b"", 0o755)])
    rel.manifest["assets"][0]["size"] = len(rel.archive)
    rel.manifest["assets"][0]["sha256"] = sha(rel.archive)
    return "archive without its interpreter", True


def break_hash(rel, rng):
    choice = rng.randrange(3)
    if choice == 0:
        rel.manifest["assets"][0]["sha256"] = sha(b"other")
        return "manifest sha256", True
    if choice == 1:
        data = bytearray(rel.archive)
        data[rng.randrange(len(data))] ^= 0x5A
        rel.overrides["/alice/app/releases/download/v0.2.0/" + rel.asset] = ("ok", bytes(data))
        return "served bytes differ", True
    rel.raw.append(("sums", lambda b: b.replace(sha(rel.archive).encode(), sha(b"x").encode())))
    return "SHA256SUMS disagrees", True


def break_size(rel, rng):
    delta = rng.choice([-1, 1, 1000, -len(rel.archive), 1 << 40])
    where = rng.randrange(3)
    if where == 0:
        rel.manifest["assets"][0]["size"] = len(rel.archive) + delta
        return "manifest size %+d" % delta, True
    if where == 1:

        def edit(listing, delta=delta):
            for a in listing[0]["assets"]:
                if a["name"] == rel.asset:
                    a["size"] = a["size"] + delta
            return listing

        rel.raw.append(("listing-obj", edit))
        return "listed size %+d" % delta, True
    rel.manifest["assets"][0]["size"] = len(rel.archive) + delta

    def edit2(listing, delta=delta):
        for a in listing[0]["assets"]:
            if a["name"] == rel.asset:
                a["size"] = a["size"] + delta
        return listing

    rel.raw.append(("listing-obj", edit2))
    return "manifest and listed size %+d" % delta, True


def _values(rng):
    return rng.choice(
        [None, True, False, 0, -1, 1.5, 1 << 70, "", "x", "../x", "\x00", [], {}, [1], {"a": 1}, "__DEEP__"]
    )


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, prefix + (i,))


def _replace(doc, path, value):
    if not path:
        return value
    doc[path[0]] = _replace(doc[path[0]], path[1:], value)
    return doc


def _deepen(data):
    n = 100000
    return data.replace(b'"__DEEP__"', b"[" * n + b"]" * n)


def break_type(rel, rng):
    """Any node of the listing or the manifest replaced by another type."""
    target = rng.choice(["manifest", "listing-obj"])
    value = _values(rng)
    if target == "manifest":
        path = rng.choice(list(_paths(rel.manifest)))
        rel.raw.append(("manifest-obj", lambda m: _replace(m, path, value)))
        if value == "__DEEP__":
            rel.raw.append(("manifest", _deepen))
        return "manifest%s = %r" % (list(path), value), False
    holder = {}

    def edit(listing):
        paths = list(_paths(listing))
        path = holder.setdefault("path", rng.choice(paths))
        return _replace(listing, path, value)

    rel.raw.append(("listing-obj", edit))
    if value == "__DEEP__":
        rel.raw.append(("listing", _deepen))
    return "listing node = %r" % (value,), False


def break_bytes(rel, rng):
    """The listing or the manifest as something else than JSON."""
    target = rng.choice(["manifest", "listing"])
    body = rng.choice([b"", b"<html>", b"\xff\xfe", b"nul", b"[" * 5000, b"{" + b" " * (9 << 20) + b"}"])
    rel.raw.append((target, lambda _b, body=body: body))
    return "%s body %r" % (target, body[:10]), True


def break_redirect(rel, rng):
    path = "/alice/app/releases/download/v0.2.0/" + rel.asset
    choice = rng.randrange(6)
    if choice == 0:
        rel.overrides[path] = ("redirect", "http://example.invalid" + path)
        return "redirect to plain http", True
    if choice == 1:
        rel.overrides[path] = ("redirect", "file:///etc/passwd")
        return "redirect to file:", True
    if choice == 2:
        rel.overrides[path] = ("redirect", rel.server.url + path)
        return "redirect loop", True
    if choice == 3:
        rel.overrides[path] = ("redirect", rel.other.url + path)
        return "redirect to another origin", False
    if choice == 4:
        rel.overrides[path] = ("redirect", rel.server.url + "/hop1")
        rel.overrides["/hop1"] = ("redirect", rel.server.url + "/hop2")
        rel.overrides["/hop2"] = ("ok", rel.archive)
        return "redirect chain", False
    rel.overrides["/alice/app/releases/download/v0.2.0/manifest.json"] = ("redirect", "ftp://127.0.0.1/x")
    return "manifest redirect to ftp", True


def break_origin(rel, rng):
    """Asset URLs on another origin (no redirect): served, but no token there."""

    def edit(listing):
        for a in listing[0]["assets"]:
            if rng.random() < 0.7:
                a["browser_download_url"] = a["browser_download_url"].replace(rel.server.url, rel.other.url)
        return listing

    rel.raw.append(("listing-obj", edit))
    return "assets on another origin", False


def break_transport(rel, rng):
    path = "/alice/app/releases/download/v0.2.0/" + rng.choice([rel.asset, "manifest.json", "SHA256SUMS"])
    choice = rng.randrange(3)
    if choice == 0:
        code = rng.choice([401, 403, 404, 500, 503])
        rel.overrides[path] = ("status", code, b'{"message": "\x1b[31mno\x1b[0m"}')
        return "%s answers %d" % (path, code), True
    if choice == 1:
        rel.overrides[path] = ("cut", rel.archive[:10], len(rel.archive))
        return "%s cut off" % path, True
    rel.overrides[LISTING] = ("status", rng.choice([404, 500]), b"<html>")
    return "listing fails", True


BREAKS = [
    break_name,
    break_archive,
    break_missing_runtime,
    break_hash,
    break_size,
    break_type,
    break_type,
    break_bytes,
    break_redirect,
    break_origin,
    break_transport,
]


# ------------------------------------------------------------------ the property


def inside(path, folder):
    path = os.path.realpath(path)
    folder = os.path.realpath(folder)
    return path == folder or path.startswith(folder + os.sep)


class HostileServerProperty(unittest.TestCase):
    def setUp(self):
        self.server = Server()
        self.other = Server()

    def tearDown(self):
        self.server.close()
        self.other.close()

    def test_every_answer_updates_correctly_or_is_refused_with_nothing_changed(self):
        rng = random.Random(SEED)
        outcomes = {"staged": 0, "refused": 0, "nothing newer": 0}
        for case in range(CASES):
            case_rng = random.Random(rng.getrandbits(64))
            with self.subTest(seed=SEED, case=case):
                outcomes[self.one_case(case_rng, case)] += 1
        # The generator must exercise both sides of the property.
        self.assertGreater(outcomes["staged"], CASES // 20, outcomes)
        self.assertGreater(outcomes["refused"], CASES // 2, outcomes)
        print("\nhostile server: %d cases, seed %d: %s" % (CASES, SEED, outcomes), file=sys.stderr)

    def one_case(self, rng, case):
        windows = rng.random() < 0.3
        with tempfile.TemporaryDirectory() as tmp:
            victim = os.path.join(tmp, "victim.txt")
            with open(victim, "w") as f:
                f.write("victim")
            extra = {}
            if windows:
                extra = dict(platform="windows", launcher="vbs")
            root, cfg = bundle(tmp, self.server.url, **extra)
            staging = os.path.join(root, ".pyship-update")
            if rng.random() < 0.3:
                # Left by an earlier update.
                os.makedirs(staging)
                with open(os.path.join(staging, "update.log"), "w") as f:
                    f.write("earlier\n")
            rel = Release(rng, self.server, self.other, windows)
            rel.world_victim = victim
            labels = []
            must_refuse = []
            for brk in rng.sample(BREAKS, rng.choice([0, 1, 1, 1, 2, 3])):
                label, refuse = brk(rel, rng)
                labels.append(label)
                must_refuse.append(refuse)
            rel.serve()
            self.server.log.clear()
            self.other.log.clear()
            started = []
            up = Updater(cfg, environ={"APP_UPDATE_TOKEN": TOKEN})
            up._start_helper = lambda script, env, stage, log: started.append(env) or 0
            whole_before = tree_hash(tmp)
            outside_before = self.outside(tmp, root)
            context = "case %d (seed %d): %s" % (case, SEED, "; ".join(labels) or "no break")
            outcome = None
            try:
                u = up.check()
                if u is None:
                    outcome = "nothing newer"
                else:
                    up.apply(u)
                    outcome = "staged"
            except UpdateError as e:
                outcome = "refused"
                for text in (e.message, e.hint):
                    self.assertIsInstance(text, str, context)
                    self.assertTrue(text, context)
                    self.assertTrue(text.isprintable(), "%s: %r" % (context, text))
                self.assertEqual(tree_hash(tmp), whole_before, "%s: %s" % (context, e.message))
                self.assertEqual(started, [], context)
            except Exception as e:  # noqa: BLE001 - the property: nothing else escapes
                self.fail("%s: %s: %s" % (context, type(e).__name__, e))
            with open(victim) as f:
                self.assertEqual(f.read(), "victim", context)
            self.assertEqual(self.outside(tmp, root), outside_before, context)
            if must_refuse and all(must_refuse):
                self.assertEqual(outcome, "refused", context)
            if outcome == "nothing newer":
                self.assertEqual(tree_hash(tmp), whole_before, context)
            if outcome == "staged":
                self.check_staged(started, staging, context)
            self.check_token(context)
            return outcome

    @staticmethod
    def outside(tmp, root):
        """Tree hash of the temp folder without the app's .pyship-update/."""
        h = hashlib.sha256()
        h.update(tree_hash(root, skip={".pyship-update"}).encode())
        for n in sorted(os.listdir(tmp)):
            if n != "App":
                p = os.path.join(tmp, n)
                h.update(n.encode())
                if os.path.isfile(p):
                    with open(p, "rb") as f:
                        h.update(f.read())
        return h.hexdigest()

    def check_staged(self, started, staging, context):
        self.assertEqual(len(started), 1, context)
        env = started[0]
        archive = env["PYSHIP_ARCHIVE"]
        self.assertEqual(os.path.dirname(archive), staging, context)
        top = env["PYSHIP_NEW"]
        self.assertTrue(inside(top, os.path.join(staging, "new")), context)
        for d, dirs, files in os.walk(top):
            for n in dirs + files:
                p = os.path.join(d, n)
                self.assertTrue(inside(p, top), "%s: %s leaves the bundle" % (context, p))
                st = os.lstat(p)
                self.assertFalse(st.st_mode & 0o7000, "%s: %s keeps setuid bits" % (context, p))
        with open(os.path.join(staging, "entries.txt")) as f:
            for line in f.read().splitlines():
                self.assertRegex(line, r"^[A-Za-z0-9_+][A-Za-z0-9._+-]*$", context)
                self.assertNotIn(line.lower(), ("data", "logs"), context)

    def check_token(self, context):
        for path, headers in self.other.log:
            self.assertNotIn(TOKEN, path, context)
            self.assertFalse(any(TOKEN in str(v) for v in headers.values()), "%s: token sent to another origin" % context)
        for path, headers in self.server.log:
            self.assertNotIn(TOKEN, path, context)
            for k, v in headers.items():
                if TOKEN in v:
                    self.assertEqual(k.lower(), "authorization", context)


if __name__ == "__main__":
    unittest.main()
