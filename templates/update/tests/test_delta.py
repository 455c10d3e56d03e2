"""Delta updates: a portable install at the patch's base version downloads
only the patch, rebuilds the new version from its own files plus the patch
(each file checked by SHA-256, the whole tree by the signed manifest's
`tree_sha256`), and falls back to the full archive when the base is not the
installed version, the patch does not verify or anything in it is hostile.

`make_patch` below writes the format `cargo pyship publish` writes
(`pyship-build/src/delta.rs`); the e2e tests use the real one.
"""

import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import pyship_update  # noqa: E402
from pyship_update import Updater, _extract, _tree_sha256  # noqa: E402
from test_pyship_update import Server, bundle, make_tar, sha  # noqa: E402

BIG = b"".join(hashlib.sha256(b"%d" % i).digest() for i in range(8000))


def members(version, extra=()):
    return [
        ("App/app/src/demo/__init__.py", "file", ("VERSION = %r\n" % version).encode()),
        ("App/app/src/demo/same.py", "file", b"same\n"),
        ("App/python/lib/big.bin", "file", BIG),
        ("App/python/bin/python3.11", "file", b"#!/bin/sh\n", 0o755),
        ("App/python/bin/python3", "sym", "python3.11"),
        ("App/run.sh", "file", b"#!/bin/sh\n", 0o755),
    ] + list(extra)


def read_tar(data):
    """{path below the top: (kind, bytes-or-target, exec)}, the top."""
    out = {}
    top = None
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as t:
        for m in t:
            first, _, rest = m.name.strip("/").partition("/")
            top = first
            if not rest:
                continue
            parts = rest.split("/")
            for i in range(1, len(parts)):
                out.setdefault("/".join(parts[:i]), ("D", None, False))
            if m.isdir():
                out[rest] = ("D", None, False)
            elif m.issym():
                out[rest] = ("L", m.linkname, False)
            else:
                out[rest] = ("F", t.extractfile(m).read(), bool(m.mode & 0o111))
    return top, out


def tree_hash(entries):
    h = hashlib.sha256()
    for p in sorted(entries):
        kind, v, x = entries[p]
        if kind == "D":
            h.update(("D %s\n" % p).encode())
        elif kind == "L":
            h.update(("L %s %s\n" % (p, v)).encode())
        else:
            h.update(("F %s %s %s\n" % (p, sha(v), "x" if x else "-")).encode())
    return h.hexdigest()


def make_patch(old, new, base="0.1.0", edit=None, objects_edit=None):
    """(patch bytes, tree_sha256) from the full archives `old` to `new`."""
    _, o = read_tar(old)
    top, n = read_tar(new)
    have = {}
    for p, (kind, v, _) in sorted(o.items()):
        if kind == "F":
            have.setdefault(sha(v), p)
    index = {
        "schema": 1,
        "base": {"version": base, "tag": "v" + base, "asset": "old", "sha256": sha(old)},
        "target": {"asset": "new", "sha256": sha(new)},
        "top": top,
        "tree_sha256": tree_hash(n),
        "dirs": [],
        "files": [],
        "links": [],
        "reuse": {},
    }
    objects = {}
    for p, (kind, v, x) in sorted(n.items()):
        if kind == "D":
            index["dirs"].append(p)
        elif kind == "L":
            index["links"].append([p, v])
        else:
            h = sha(v)
            if h in have:
                index["reuse"][h] = have[h]
            else:
                objects[h] = v
            index["files"].append([p, h, len(v), x])
    if edit:
        edit(index)
    if objects_edit:
        objects_edit(objects)
    members = [("delta/delta.json", "file", json.dumps(index).encode())]
    members += [("delta/objects/" + h, "file", v) for h, v in sorted(objects.items())]
    return make_tar(members), index["tree_sha256"]


class DeltaTests(unittest.TestCase):
    def setUp(self):
        self.server = Server()
        self.tmp = tempfile.TemporaryDirectory()
        self.root, self.cfg = bundle(self.tmp.name, self.server.url)
        self.v1 = make_tar(members("v0.1.0"))
        self.v2 = make_tar(members("v0.2.0"))
        # The installed v0.1.0: its archive unpacked over the bundle.
        unpacked = os.path.join(self.tmp.name, "v1")
        top = _extract_bytes(self.v1, unpacked)
        for d, dirs, files in os.walk(top):
            rel = os.path.relpath(d, top)
            os.makedirs(os.path.join(self.root, rel), exist_ok=True)
            for n in files + [x for x in dirs if os.path.islink(os.path.join(d, x))]:
                src = os.path.join(d, n)
                dst = os.path.join(self.root, rel, n)
                if os.path.islink(src):
                    os.symlink(os.readlink(src), dst)
                else:
                    os.replace(src, dst)
        self.up = Updater(self.cfg, environ={})
        self.started = []
        self.up._start_helper = lambda script, env, staging, log: self.started.append(env) or 0
        self.victim = os.path.join(self.tmp.name, "victim.txt")
        with open(self.victim, "w") as f:
            f.write("keep me")

    def tearDown(self):
        self.server.close()
        self.tmp.cleanup()

    def publish(self, patch, tree, base="0.1.0", delta_edit=None):
        name = "App-v0.2.0-linux-x64-delta-from-v0.1.0.tar.gz"

        def edit(m):
            m["assets"][0]["delta"] = {
                "name": name,
                "size": len(patch),
                "sha256": sha(patch),
                "base": base,
                "tree_sha256": tree,
            }
            if delta_edit:
                delta_edit(m["assets"][0]["delta"])

        self.server.publish("v0.2.0", asset=self.v2, consistent=True, manifest_edit=edit)
        files = self.server.releases[0]["files"]
        files[name] = patch
        files["SHA256SUMS"] += ("%s  %s\n" % (sha(patch), name)).encode()
        return name

    def fresh_tree(self):
        if not hasattr(self, "_fresh"):
            self._fresh = _tree_sha256(_extract_bytes(self.v2, os.path.join(self.tmp.name, "fresh")), False)
        return self._fresh

    def downloads(self):
        return [p for p, _ in self.server.log if "/releases/download/" in p and p.endswith(".tar.gz")]

    def log(self):
        with open(os.path.join(self.root, ".pyship-update", "update.log")) as f:
            return f.read()

    def test_an_update_from_the_base_downloads_only_the_patch(self):
        patch, tree = make_patch(self.v1, self.v2)
        name = self.publish(patch, tree)
        u = self.up.check()
        self.assertEqual(u.delta["name"], name)
        self.assertEqual(u.delta["tree_sha256"], tree)
        self.up.apply(u)
        self.assertEqual(len(self.started), 1)
        self.assertEqual(self.downloads(), ["/alice/app/releases/download/v0.2.0/" + name])
        new = self.started[0]["PYSHIP_NEW"]
        self.assertEqual(_tree_sha256(new, False), self.fresh_tree())
        self.assertEqual(tree, self.fresh_tree())
        self.assertEqual(self.started[0]["PYSHIP_ARCHIVE"], os.path.join(self.root, ".pyship-update", name))
        self.assertLess(len(patch), len(self.v2) / 5)
        self.assertIn("downloaded the delta %s" % name, self.log())
        self.assertIn("downloaded the delta", self.up.last_download)
        self.assertFalse(os.path.exists(os.path.join(self.root, ".pyship-update", "delta")))
        with open(os.path.join(new, "app", "src", "demo", "__init__.py")) as f:
            self.assertEqual(f.read(), "VERSION = 'v0.2.0'\n")
        self.assertTrue(os.access(os.path.join(new, "python", "bin", "python3.11"), os.X_OK))
        self.assertEqual(os.readlink(os.path.join(new, "python", "bin", "python3")), "python3.11")

    def test_another_base_downloads_the_full_archive(self):
        patch, tree = make_patch(self.v1, self.v2, base="0.1.5")
        self.publish(patch, tree, base="0.1.5")
        self.up.apply(self.up.check())
        self.assertEqual(self.downloads(), ["/alice/app/releases/download/v0.2.0/App-v0.2.0-linux-x64.tar.gz"])
        self.assertIn("the delta applies to '0.1.5', not to this version", self.log())
        self.assertEqual(_tree_sha256(self.started[0]["PYSHIP_NEW"], False), self.fresh_tree())

    def fell_back(self, contains):
        self.up.apply(self.up.check())
        self.assertEqual(len(self.started), 1)
        self.assertEqual(self.downloads()[-1], "/alice/app/releases/download/v0.2.0/App-v0.2.0-linux-x64.tar.gz")
        log = self.log()
        self.assertIn("the delta was not used (", log)
        self.assertIn(contains, log)
        self.assertEqual(_tree_sha256(self.started[0]["PYSHIP_NEW"], False), self.fresh_tree())
        staged = os.listdir(os.path.join(self.root, ".pyship-update"))
        self.assertFalse([n for n in staged if "delta" in n], staged)
        with open(self.victim) as f:
            self.assertEqual(f.read(), "keep me")

    def test_a_locally_changed_file_falls_back_to_the_full_archive(self):
        patch, tree = make_patch(self.v1, self.v2)
        self.publish(patch, tree)
        with open(os.path.join(self.root, "python", "lib", "big.bin"), "ab") as f:
            f.write(b"patched by hand")
        self.fell_back("is not the release's (SHA-256 or size differs)")

    def test_a_patch_for_another_tree_than_the_signed_one_falls_back(self):
        patch, _ = make_patch(self.v1, self.v2, edit=lambda i: i.update(tree_sha256="0" * 64))
        self.publish(patch, self.fresh_tree())
        self.fell_back("describes another tree than the signed manifest")

    def test_a_rebuilt_tree_that_is_not_the_release_falls_back(self):
        # Index and manifest agree on the real tree, but the patch adds a file.
        patch, tree = make_patch(
            self.v1,
            self.v2,
            edit=lambda i: i["files"].append(["app/extra.py", sha(b"x"), 1, False]),
            objects_edit=lambda o: o.update({sha(b"x"): b"x"}),
        )
        self.assertEqual(tree, self.fresh_tree())
        self.publish(patch, tree)
        self.fell_back("does not hash to the release's tree")

    def test_a_tampered_patch_download_falls_back(self):
        patch, tree = make_patch(self.v1, self.v2)
        name = self.publish(patch, tree)
        self.server.releases[0]["files"][name] = patch[:-8] + b"\0" * 8
        self.fell_back("does not match its SHA-256")

    def test_hostile_patches_fall_back_and_write_nothing_outside(self):
        cases = [
            (lambda i: i["files"].append(["../../victim.txt", sha(b"x"), 1, False]), "would be written outside"),
            (lambda i: i["dirs"].append("/etc"), "would be written outside"),
            (lambda i: i.update(top="../App"), "would be written outside"),
            (lambda i: i["reuse"].update({sha(BIG): "../../victim.txt"}), "would be written outside"),
            (lambda i: i["reuse"].update({sha(BIG): "data/user.txt"}), "names a file an update does not read"),
            (lambda i: i["reuse"].update({sha(BIG): "python/bin/python3"}), "is not a file of the installed version"),
            (lambda i: i["links"].append(["app/out", "../../../victim.txt"]), "outside its folder"),
            (lambda i: i["links"].append(["app/src/demo/same.py", "x"]), "appears twice"),
            (lambda i: i["files"].append(["python/bin/python3/x", sha(b"x"), 1, False]), "has content neither the patch nor the installed version has"),
            (lambda i: i["files"].__setitem__(0, [i["files"][0][0], "zz", 1, False]), "not a SHA-256"),
            (lambda i: i["files"].__setitem__(0, [i["files"][0][0], i["files"][0][1], -1, False]), "negative size"),
            (lambda i: i["files"].__setitem__(0, [i["files"][0][0], i["files"][0][1], 1 << 40, False]), "larger than an update may write"),
            (lambda i: i["files"].__setitem__(0, [i["files"][0][0], i["files"][0][1], 3, False]), "is not the release's"),
            (lambda i: i.update(files="all"), "expected a list"),
            (lambda i: i["base"].update(version="0.0.9"), "applies to version '0.0.9'"),
            # What the file system refuses (a name longer than it allows).
            (lambda i: i["files"].append(["app/" + "n" * 300, sha(b"x"), 1, False]) or i["reuse"].update({sha(b"x"): "app/src/demo/same.py"}), "cannot rebuild the new version from"),
        ]
        for edit, contains in cases:
            with self.subTest(contains=contains):
                self.server.releases = []
                self.server.log.clear()
                self.started.clear()
                import shutil

                shutil.rmtree(os.path.join(self.root, ".pyship-update"), ignore_errors=True)

                def ed(i, edit=edit):
                    edit(i)
                    i["tree_sha256"] = tree_hash(read_tar(self.v2)[1])

                patch, tree = make_patch(self.v1, self.v2, edit=ed)
                self.publish(patch, tree)
                self.fell_back(contains)

    def test_the_module_rebuilds_with_the_extractors_rules(self):
        # A patch archive that escapes is refused by the extractor itself.
        evil = make_tar([("delta/delta.json", "file", b"{}"), ("delta/objects/../../x", "file", b"x")])
        self.publish(evil, self.fresh_tree())
        self.fell_back("would be written outside")


def win_members(version, extra=()):
    """The Windows bundle a setup installs (what the zip holds)."""
    return [
        ("App/app/src/demo/__init__.py", "file", ("VERSION = %r\n" % version).encode()),
        ("App/app/src/demo/same.py", "file", b"same\n"),
        ("App/python/python.exe", "file", b"MZ python"),
        ("App/python/pythonw.exe", "file", b"MZ pythonw"),
        ("App/python/big.bin", "file", BIG),
        ("App/scripts/start-hidden.vbs", "file", b"' start\n"),
        ("App/LICENSE.txt", "file", b"licence\n"),
    ] + list(extra)


class InstallerDeltaTests(unittest.TestCase):
    """An app the NSIS setup installed, at the patch's base version: the
    patch rebuilds the new version beside it (verified before the swap) and
    the helper swaps it in like a portable one, then sets the Add/Remove
    Programs entry's version; otherwise the full setup is downloaded."""

    SETUP = "App-v0.2.0-setup.exe"

    def setUp(self):
        self.server = Server()
        self.tmp = tempfile.TemporaryDirectory()
        self.root, self.cfg = bundle(self.tmp.name, self.server.url, platform="windows")
        self.v1 = make_tar(win_members("v0.1.0"))
        self.v2 = make_tar(win_members("v0.2.0"))
        self.setup_exe = b"MZ setup of v0.2.0" + BIG
        top = _extract_bytes(self.v1, os.path.join(self.tmp.name, "v1"))
        # What the setup of v0.1.0 left: the tree, its uninstaller, its kept setup.
        for d, _, files in os.walk(top):
            rel = os.path.relpath(d, top)
            os.makedirs(os.path.join(self.root, rel), exist_ok=True)
            for n in files:
                os.replace(os.path.join(d, n), os.path.join(self.root, rel, n))
        for rel, data in (("uninstall.exe", b"MZ uninstall"), (".pyship-setup/setup.exe", b"MZ setup of v0.1.0")):
            os.makedirs(os.path.dirname(os.path.join(self.root, rel)), exist_ok=True)
            with open(os.path.join(self.root, rel), "wb") as f:
                f.write(data)
        self.up = Updater(self.cfg, environ={})
        self.assertEqual(self.up.install_type(), "installer")
        self.up.uninstall_entry = lambda: "App"
        self.started = []
        self.up._start_helper = lambda script, env, staging, log: self.started.append(env) or 0
        self.victim = os.path.join(self.tmp.name, "victim.txt")
        with open(self.victim, "w") as f:
            f.write("keep me")

    def tearDown(self):
        self.server.close()
        self.tmp.cleanup()

    def publish(self, patch, tree, base="0.1.0"):
        name = "App-v0.2.0-win-x64-delta-from-v0.1.0.tar.gz"

        def edit(m):
            a = m["assets"][0]
            a.update(platform="windows", install_type="installer")
            a["delta"] = {"name": name, "size": len(patch), "sha256": sha(patch), "base": base, "tree_sha256": tree}
            m["version"]["semver"] = "0.2.0"

        self.server.publish("v0.2.0", asset=self.setup_exe, consistent=True, asset_name=self.SETUP, manifest_edit=edit)
        files = self.server.releases[0]["files"]
        files[name] = patch
        files["SHA256SUMS"] += ("%s  %s\n" % (sha(patch), name)).encode()
        return name

    def downloads(self):
        return [p.rsplit("/", 1)[1] for p, _ in self.server.log if "/releases/download/" in p and p.endswith((".tar.gz", ".exe"))]

    def log(self):
        with open(os.path.join(self.root, ".pyship-update", "update.log")) as f:
            return f.read()

    def fresh_tree(self):
        return _tree_sha256(_extract_bytes(self.v2, os.path.join(self.tmp.name, "fresh")), True)

    def test_an_installed_app_at_the_base_is_patched_and_its_entry_updated(self):
        patch, tree = make_patch(self.v1, self.v2)
        name = self.publish(patch, tree)
        u = self.up.check()
        self.assertEqual(u.delta["name"], name)
        self.assertEqual(u.semver, "0.2.0")
        self.up.apply(u)
        self.assertEqual(self.downloads(), [name])
        env = self.started[0]
        self.assertEqual(env["PYSHIP_MODE"], "portable")
        self.assertEqual(env["PYSHIP_UNINSTALL_KEY"], "App")
        self.assertEqual(env["PYSHIP_DISPLAY_VERSION"], "0.2.0")
        self.assertEqual(env["PYSHIP_FROM"], "0.1.0")
        self.assertNotIn("PYSHIP_SETUP", env)
        self.assertEqual(_tree_sha256(env["PYSHIP_NEW"], True), self.fresh_tree())
        with open(os.path.join(self.root, ".pyship-update", "entries.txt")) as f:
            self.assertEqual(f.read().split(), ["LICENSE.txt", "app", "python", "scripts"])
        self.assertIn("downloaded the delta %s (%d bytes; the full setup is %d)" % (name, len(patch), len(self.setup_exe)), self.log())

    def full_setup(self, contains):
        self.up.apply(self.up.check())
        env = self.started[-1]
        self.assertEqual(env["PYSHIP_MODE"], "installer")
        self.assertEqual(env["PYSHIP_SETUP"], os.path.join(self.root, ".pyship-update", self.SETUP))
        self.assertNotIn("PYSHIP_UNINSTALL_KEY", env)
        self.assertEqual(self.downloads()[-1], self.SETUP)
        self.assertIn(contains, self.log() + (self.up.delta_note or ""))
        staged = os.listdir(os.path.join(self.root, ".pyship-update"))
        self.assertFalse([n for n in staged if "delta" in n or n == "new"], staged)
        with open(self.victim) as f:
            self.assertEqual(f.read(), "keep me")

    def test_another_base_downloads_the_full_setup(self):
        patch, tree = make_patch(self.v1, self.v2, base="0.1.5")
        self.publish(patch, tree, base="0.1.5")
        self.full_setup("the delta applies to '0.1.5', not to this version ('0.1.0'); downloaded the full setup")
        self.assertEqual(self.downloads(), [self.SETUP])

    def test_without_its_add_remove_programs_entry_the_full_setup_is_used(self):
        patch, tree = make_patch(self.v1, self.v2)
        self.publish(patch, tree)
        self.up.uninstall_entry = lambda: None
        self.full_setup("no single Add/Remove Programs entry names")
        self.assertEqual(self.downloads(), [self.SETUP])

    def test_a_patch_that_does_not_verify_falls_back_to_the_full_setup(self):
        patch, tree = make_patch(self.v1, self.v2)
        name = self.publish(patch, tree)
        self.server.releases[0]["files"][name] = patch[:-8] + b"\0" * 8
        self.full_setup("the delta was not used (")
        self.assertIn("does not match its SHA-256", self.log())

    def test_a_patch_larger_than_declared_is_cut_off_and_the_full_setup_used(self):
        patch, tree = make_patch(self.v1, self.v2)
        name = self.publish(patch, tree)
        # The listing says the signed size; the download goes on past it.
        self.server.routes["/alice/app/releases/download/v0.2.0/" + name] = (200, {}, patch + b"\0" * 4096)
        self.full_setup("is larger than the %d bytes manifest.json says" % len(patch))

    def test_a_base_that_lies_falls_back_to_the_full_setup(self):
        # Made from another v0.1.0 than the installed one, labelled 0.1.0.
        other = make_tar([m if m[0] != "App/python/big.bin" else (m[0], "file", BIG[:-1] + b"!") for m in win_members("v0.1.0")])
        v2 = make_tar([m if m[0] != "App/python/big.bin" else (m[0], "file", BIG[:-1] + b"!") for m in win_members("v0.2.0")])
        patch, tree = make_patch(other, v2)
        self.publish(patch, tree)
        self.full_setup("is not the release's (SHA-256 or size differs)")

    def test_an_entry_path_escaping_the_tree_falls_back_to_the_full_setup(self):
        def edit(i):
            i["files"].append(["../../victim.txt", sha(b"x"), 1, False])
            i["reuse"][sha(b"x")] = "app/src/demo/same.py"

        patch, tree = make_patch(self.v1, self.v2, edit=edit)
        self.publish(patch, tree)
        self.full_setup("would be written outside")

    def test_a_new_top_level_entry_needs_the_full_setup(self):
        # The installed uninstaller removes the entries it knows by name.
        v2 = make_tar(win_members("v0.2.0", [("App/NEWS.txt", "file", b"news\n")]))
        patch, tree = make_patch(self.v1, v2)
        self.publish(patch, tree)
        self.full_setup("top-level entries differ from the installed ones (news.txt)")

    def test_an_empty_top_level_folder_is_left_out_as_the_setup_does(self):
        v2 = make_tar(win_members("v0.2.0", [("App/empty", "dir", None), ("App/app/keep", "dir", None)]))
        patch, tree = make_patch(self.v1, v2)
        self.publish(patch, tree)
        self.up.apply(self.up.check())
        new = self.started[0]["PYSHIP_NEW"]
        self.assertFalse(os.path.exists(os.path.join(new, "empty")))
        self.assertTrue(os.path.isdir(os.path.join(new, "app", "keep")))
        self.assertIn("downloaded the delta", self.log())


class KeptSetupTests(unittest.TestCase):
    """After a delta update the kept setup still installs the previous
    version: the helper notes which, and the note goes stale (ignored) once
    a setup replaced the kept one."""

    def test_the_note_names_the_version_until_the_setup_changes(self):
        from pyship_update import _helper

        with tempfile.TemporaryDirectory() as root:
            os.makedirs(os.path.join(root, ".pyship-setup"))
            setup = os.path.join(root, ".pyship-setup", "setup.exe")
            with open(setup, "wb") as f:
                f.write(b"MZ v0.1.0")
            self.assertIsNone(_helper.kept_setup_version(root))
            _helper.installed_by_delta(root, "App", "0.2.0", "0.1.0")
            self.assertEqual(_helper.kept_setup_version(root), "0.1.0")
            # A second delta update keeps what the setup installs.
            _helper.installed_by_delta(root, "App", "0.3.0", "0.2.0")
            self.assertEqual(_helper.kept_setup_version(root), "0.1.0")
            with open(setup, "wb") as f:
                f.write(b"MZ v0.3.0")
            self.assertIsNone(_helper.kept_setup_version(root))


def _index(patch):
    with tarfile.open(fileobj=io.BytesIO(patch), mode="r:gz") as t:
        return t.extractfile("delta/delta.json").read().decode()


def _extract_bytes(data, dest):
    path = dest + ".tar.gz"
    with open(path, "wb") as f:
        f.write(data)
    return _extract(path, dest)


if __name__ == "__main__":
    unittest.main()
