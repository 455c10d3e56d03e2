"""Staged rollout: a release whose manifest says `rollout = r` is offered to
the installs whose draw (from their random id, kept next to the app) is
below r; `check` says why it skipped one, the next newest fully rolled-out
release is offered instead, and `rollout` is inside the signed manifest.
"""

import io
import json
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import pyship_update  # noqa: E402
from pyship_update import INSTALL_ID, KEEP, UpdateError, Updater  # noqa: E402
from pyship_update import __main__ as cli  # noqa: E402
from test_pyship_update import Server, bundle, make_tar  # noqa: E402


def with_id(root, install_id):
    with open(os.path.join(root, INSTALL_ID), "w") as f:
        f.write(install_id + "\n")


def an_id(up, tag, inside, fraction):
    """An install id whose draw for `tag` is below `fraction` (`inside`) or not."""
    for n in range(10000):
        candidate = "%032x" % (n * 7919 + 1)
        with_id(up.root(), candidate)
        if (up.rollout_draw(tag) < fraction) == inside:
            return candidate
    raise AssertionError("no id found")


class RolloutTests(unittest.TestCase):
    def setUp(self):
        self.server = Server()
        self.tmp = tempfile.TemporaryDirectory()
        self.root, self.cfg = bundle(self.tmp.name, self.server.url)
        self.up = Updater(self.cfg, environ={})

    def tearDown(self):
        self.server.close()
        self.tmp.cleanup()

    def rollout(self, fraction):
        return lambda m: m.update(rollout=fraction)

    def test_the_install_id_is_random_stable_and_beside_the_app(self):
        path = os.path.join(self.root, INSTALL_ID)
        self.assertFalse(os.path.exists(path))
        first = self.up.install_id()
        self.assertRegex(first, r"^[0-9a-f]{32}$")
        self.assertTrue(os.path.isfile(path))
        self.assertFalse(os.path.exists(os.path.join(self.root, "data", INSTALL_ID)))
        self.assertEqual(Updater(self.cfg, environ={}).install_id(), first)
        other_root, other_cfg = bundle(os.path.join(self.tmp.name, "b"), self.server.url)
        self.assertNotEqual(Updater(other_cfg, environ={}).install_id(), first)
        # A damaged id file is replaced by a new random id.
        with open(path, "w") as f:
            f.write("not an id")
        again = self.up.install_id()
        self.assertRegex(again, r"^[0-9a-f]{32}$")
        self.assertNotEqual(again, first)
        # An update never replaces it: one a new bundle brings is not moved in.
        self.assertIn(INSTALL_ID, KEEP)
        self.server.publish("v0.2.0", asset=make_tar([("App/" + INSTALL_ID, "file", b"0" * 32)], top="App"), consistent=True)
        started = []
        self.up._start_helper = lambda script, env, staging, log: started.append(env) or 0
        self.up.apply(self.up.check())
        with open(os.path.join(self.root, ".pyship-update", "entries.txt")) as f:
            self.assertEqual(f.read().split(), ["app", "python", "run.sh"])
        self.assertEqual(len(started), 1)

    def test_the_draw_is_stable_per_tag_and_uniform(self):
        with_id(self.root, "0123456789abcdef0123456789abcdef")
        self.assertEqual(self.up.rollout_draw("v0.2.0"), self.up.rollout_draw("v0.2.0"))
        self.assertNotEqual(self.up.rollout_draw("v0.2.0"), self.up.rollout_draw("v0.3.0"))
        inside = 0
        for n in range(2000):
            with_id(self.root, "%032x" % (n * 104729 + 17))
            inside += self.up.rollout_draw("v0.2.0") < 0.25
        self.assertTrue(400 < inside < 600, inside)

    def test_an_install_outside_the_fraction_is_not_offered_and_told_why(self):
        self.server.publish("v0.2.0", manifest_edit=self.rollout(0.25))
        an_id(self.up, "v0.2.0", inside=False, fraction=0.25)
        self.assertIsNone(self.up.check())
        [(tag, fraction, draw)] = self.up.skipped_rollout
        self.assertEqual((tag, fraction), ("v0.2.0", 0.25))
        self.assertGreaterEqual(draw, 0.25)
        out = self.cli("check")
        self.assertIn("no newer stable release than v0.1.0", out)
        self.assertIn("skipped v0.2.0: it is rolled out to 25% of installs so far and this one (draw ", out)
        # Raised to everyone: offered.
        self.server.releases = []
        self.server.publish("v0.2.0", manifest_edit=self.rollout(1))
        self.assertEqual(self.up.check().tag, "v0.2.0")
        self.assertEqual(self.up.skipped_rollout, [])

    def test_an_install_inside_the_fraction_is_offered(self):
        self.server.publish("v0.2.0", manifest_edit=self.rollout(0.25))
        an_id(self.up, "v0.2.0", inside=True, fraction=0.25)
        self.assertEqual(self.up.check().tag, "v0.2.0")
        self.assertEqual(self.up.skipped_rollout, [])
        # Raising the fraction keeps it inside.
        self.server.releases = []
        self.server.publish("v0.2.0", manifest_edit=self.rollout(0.5))
        self.assertEqual(self.up.check().tag, "v0.2.0")

    def test_a_skipped_release_gives_way_to_the_next_newest(self):
        self.server.publish("v0.2.0")
        self.server.publish("v0.3.0", manifest_edit=self.rollout(0.1))
        an_id(self.up, "v0.3.0", inside=False, fraction=0.1)
        u = self.up.check()
        self.assertEqual(u.tag, "v0.2.0")
        self.assertEqual([t for t, _, _ in self.up.skipped_rollout], ["v0.3.0"])
        out = self.cli("check")
        self.assertIn("release v0.2.0", out)
        self.assertIn("(newer v0.3.0 is rolled out to 10% of installs so far", out)

    def test_no_id_is_made_when_no_release_is_staged(self):
        self.server.publish("v0.2.0")
        self.assertEqual(self.up.check().tag, "v0.2.0")
        self.assertFalse(os.path.exists(os.path.join(self.root, INSTALL_ID)))

    def test_a_malformed_rollout_is_refused(self):
        for bad in (0, -0.5, 1.5, "0.5", True, [0.5], float("nan")):
            self.server.releases = []
            self.server.publish("v0.2.0", manifest_edit=self.rollout(bad))
            with self.assertRaises(UpdateError, msg=repr(bad)) as e:
                self.up.check()
            self.assertIn("rollout of manifest.json of v0.2.0 is", e.exception.message)
            self.assertTrue(e.exception.hint)

    def test_an_unwritable_folder_gets_a_stable_id(self):
        if os.name == "nt" or os.geteuid() == 0:
            self.skipTest("needs a folder this user cannot write")
        os.chmod(self.root, 0o555)
        try:
            first = self.up.install_id()
            self.assertRegex(first, r"^[0-9a-f]{32}$")
            self.assertEqual(self.up.install_id(), first)
            self.assertFalse(os.path.exists(os.path.join(self.root, INSTALL_ID)))
        finally:
            os.chmod(self.root, 0o755)

    def cli(self, *args):
        pyship_update._DEFAULT = None
        old = pyship_update.Updater.__init__.__defaults__
        pyship_update.Updater.__init__.__defaults__ = (self.cfg, None)
        cli.Updater = pyship_update.Updater
        out = io.StringIO()
        sys_out = sys.stdout
        sys.stdout = out
        try:
            self.assertEqual(cli.main(list(args)), 0)
        finally:
            sys.stdout = sys_out
            pyship_update.Updater.__init__.__defaults__ = old
        return out.getvalue()


class SignedRolloutTests(unittest.TestCase):
    """`rollout` is inside the signed manifest: changing it breaks the signature."""

    def setUp(self):
        from test_signed import MINISIGN, Key

        if MINISIGN is None:
            self.fail("this test needs `minisign` on PATH (Debian package `minisign`)")
        self.server = Server()
        self.tmp = tempfile.TemporaryDirectory()
        keys = os.path.join(self.tmp.name, "keys")
        os.makedirs(keys)
        self.key = Key(keys, "k1")
        self.root, self.cfg = bundle(os.path.join(self.tmp.name, "app"), self.server.url, public_keys=[self.key.public])
        self.up = Updater(self.cfg, environ={})

    def tearDown(self):
        self.server.close()
        self.tmp.cleanup()

    def test_a_signed_rollout_is_obeyed_and_cannot_be_raised_by_the_server(self):
        self.server.publish("v0.2.0", manifest_edit=lambda m: m.update(rollout=0.25), sign=self.key.sign)
        an_id(self.up, "v0.2.0", inside=False, fraction=0.25)
        self.assertIsNone(self.up.check())
        self.assertEqual([t for t, _, _ in self.up.skipped_rollout], ["v0.2.0"])
        files = self.server.releases[0]["files"]
        m = json.loads(files["manifest.json"])
        m["rollout"] = 1
        files["manifest.json"] = json.dumps(m).encode()
        with self.assertRaises(UpdateError) as e:
            self.up.check()
        self.assertIn("does not verify", e.exception.message)


if __name__ == "__main__":
    unittest.main()
