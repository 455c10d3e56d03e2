"""Signed releases: the pure-Python Ed25519 and minisign verifier against
RFC 8032's test vectors and Debian's `minisign`, and the updater's rules
with `public_keys` set: unsigned, mis-signed, untrusted, replayed, other
app's or mislabelled manifests are refused with nothing changed; key
rotation across releases, with the learned trust stored next to the app.

Signatures are made with the `minisign` command (Debian package
`minisign`; `.ci/install-tools` installs it).
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from pyship_update import TRUST_FILE, UpdateError, Updater  # noqa: E402
from pyship_update import _minisign  # noqa: E402
from test_pyship_update import Server, bundle, tree_hash  # noqa: E402

MINISIGN = shutil.which("minisign")

# RFC 8032, section 7.1: TEST 1, 2 and 3 (public key, message, signature).
RFC8032 = [
    (
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065"
        "224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
        "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]

def require_minisign(test):
    if MINISIGN is None:
        test.fail("this test needs `minisign` on PATH (Debian package `minisign`; .ci/install-tools installs it)")


class Key:
    """A minisign key pair made by the `minisign` command (unencrypted)."""

    def __init__(self, folder, name):
        self.pub_path = os.path.join(folder, name + ".pub")
        self.key_path = os.path.join(folder, name + ".key")
        subprocess.run(
            [MINISIGN, "-G", "-W", "-p", self.pub_path, "-s", self.key_path],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        with open(self.pub_path) as f:
            self.public = f.read().strip().splitlines()[-1]

    def sign(self, data, comment="pyship test"):
        with tempfile.TemporaryDirectory() as t:
            path = os.path.join(t, "manifest.json")
            with open(path, "wb") as f:
                f.write(data)
            subprocess.run(
                [MINISIGN, "-S", "-s", self.key_path, "-m", path, "-t", comment],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            with open(path + ".minisig", "rb") as f:
                return f.read()


class Ed25519Tests(unittest.TestCase):
    def test_rfc8032_vectors(self):
        for pk, msg, sig in RFC8032:
            pk, msg, sig = bytes.fromhex(pk), bytes.fromhex(msg), bytes.fromhex(sig)
            self.assertTrue(_minisign.verify_ed25519(pk, msg, sig))
            self.assertFalse(_minisign.verify_ed25519(pk, msg + b"x", sig))
            for i in (0, 31, 32, 63):
                bad = bytearray(sig)
                bad[i] ^= 1
                self.assertFalse(_minisign.verify_ed25519(pk, msg, bytes(bad)))
            bad_pk = bytearray(pk)
            bad_pk[0] ^= 1
            self.assertFalse(_minisign.verify_ed25519(bytes(bad_pk), msg, sig))

    def test_non_canonical_encodings_are_refused(self):
        pk, msg, sig = (bytes.fromhex(x) for x in RFC8032[1])
        # s + L verifies under a lax check; RFC 8032 requires s < L.
        s = int.from_bytes(sig[32:], "little") + 2**252 + 27742317777372353535851937790883648493
        self.assertFalse(_minisign.verify_ed25519(pk, msg, sig[:32] + s.to_bytes(32, "little")))
        # A y coordinate >= p.
        self.assertFalse(_minisign.verify_ed25519(b"\xff" * 31 + b"\x7f", msg, sig))
        self.assertFalse(_minisign.verify_ed25519(pk[:31], msg, sig))
        self.assertFalse(_minisign.verify_ed25519(pk, msg, sig[:63]))


class MinisignFormatTests(unittest.TestCase):
    def setUp(self):
        require_minisign(self)
        self.tmp = tempfile.TemporaryDirectory()
        self.key = Key(self.tmp.name, "k")

    def tearDown(self):
        self.tmp.cleanup()

    def test_signatures_made_by_minisign_verify(self):
        data = os.urandom(5000)
        sig = _minisign.parse_signature(self.key.sign(data, "hello trusted"))
        self.assertEqual(sig.alg, b"ED")
        self.assertEqual(sig.trusted_comment, "hello trusted")
        with open(self.key.pub_path) as f:
            pub = _minisign.parse_public_key(f.read())
        self.assertEqual(pub.text, self.key.public)
        sig.verify(pub, data)
        with self.assertRaises(_minisign.MinisignError):
            sig.verify(pub, data + b"!")
        other = Key(self.tmp.name, "other")
        with self.assertRaises(_minisign.MinisignError) as e:
            sig.verify(_minisign.parse_public_key(other.public), data)
        self.assertIn("signed by key %s" % sig.key_id, str(e.exception))

    def test_an_altered_trusted_comment_is_refused(self):
        data = b"manifest"
        raw = self.key.sign(data, "v0.2.0").decode()
        forged = raw.replace("trusted comment: v0.2.0", "trusted comment: v9.9.9").encode()
        sig = _minisign.parse_signature(forged)
        with self.assertRaises(_minisign.MinisignError) as e:
            sig.verify(_minisign.parse_public_key(self.key.public), data)
        self.assertIn("trusted comment", str(e.exception))

    def test_malformed_files_are_minisign_errors(self):
        good = self.key.sign(b"x")
        lines = good.decode().splitlines()
        for bad in [
            b"",
            b"\xff",
            good + b"extra\n",
            "\n".join(lines[:3]).encode(),
            "\n".join([lines[0], "not base64!", lines[2], lines[3]]).encode(),
            "\n".join([lines[0], base64.b64encode(b"Xx" + bytes(72)).decode(), lines[2], lines[3]]).encode(),
            "\n".join([lines[0], lines[1], "comment without prefix", lines[3]]).encode(),
        ]:
            with self.assertRaises(_minisign.MinisignError):
                _minisign.parse_signature(bad)
        for bad in ["", "RW", "x" * 56, base64.b64encode(b"Xx" + bytes(40)).decode(), 5]:
            with self.assertRaises(_minisign.MinisignError):
                _minisign.parse_public_key(bad)

    def test_verifying_takes_little_time(self):
        data = os.urandom(1 << 16)
        sig = _minisign.parse_signature(self.key.sign(data))
        pub = _minisign.parse_public_key(self.key.public)
        start = time.perf_counter()
        sig.verify(pub, data)
        took = time.perf_counter() - start
        self.assertLess(took, 5.0)
        print("\nminisign verification (2 Ed25519 checks) in pure Python: %.0f ms" % (took * 1000), file=sys.stderr)


class SignedUpdateTests(unittest.TestCase):
    """An app built with `public_keys` = [k1]."""

    def setUp(self):
        require_minisign(self)
        self.server = Server()
        self.tmp = tempfile.TemporaryDirectory()
        keys = os.path.join(self.tmp.name, "keys")
        os.makedirs(keys)
        self.k1, self.k2, self.k3 = (Key(keys, n) for n in ("k1", "k2", "k3"))
        self.root, self.cfg = bundle(os.path.join(self.tmp.name, "app"), self.server.url, public_keys=[self.k1.public])
        self.up = Updater(self.cfg, environ={})
        self.started = []
        self.up._start_helper = lambda script, env, staging, log: self.started.append(env) or 0

    def tearDown(self):
        self.server.close()
        self.tmp.cleanup()

    def publish(self, tag, key, keys=None, edit=None, **kw):
        def manifest_edit(m):
            if keys is not None:
                m["public_keys"] = [k.public for k in keys]
            if edit:
                edit(m)

        return self.server.publish(tag, manifest_edit=manifest_edit, sign=key.sign if key else None, **kw)

    def refused(self, *contains):
        before = tree_hash(self.tmp.name)
        with self.assertRaises(UpdateError) as e:
            self.up.apply(self.up.check())
        for c in contains:
            self.assertIn(c, e.exception.message)
        self.assertTrue(e.exception.hint)
        self.assertEqual(tree_hash(self.tmp.name), before, e.exception.message)
        self.assertEqual(self.started, [])
        return e.exception

    def test_a_release_signed_by_a_trusted_key_updates(self):
        self.publish("v0.2.0", self.k1)
        u = self.up.check()
        self.assertEqual(u.tag, "v0.2.0")
        self.up.apply(u)
        self.assertEqual(len(self.started), 1)
        self.assertFalse(os.path.exists(os.path.join(self.root, TRUST_FILE)))

    def test_unsigned_untrusted_and_altered_manifests_are_refused(self):
        self.publish("v0.2.0", None)
        err = self.refused("release v0.2.0 is not signed (it has no manifest.json.minisig)")
        self.assertIn(_minisign.parse_public_key(self.k1.public).key_id, err.hint)
        self.server.releases = []
        self.publish("v0.2.0", self.k3)
        self.refused("is signed by key %s, which this app does not trust" % _minisign.parse_public_key(self.k3.public).key_id)
        self.server.releases = []
        self.publish("v0.2.0", self.k1)
        files = self.server.releases[0]["files"]
        files["manifest.json"] = files["manifest.json"].replace(b'"v0.2.0"', b'"v0.2.0" ')
        self.refused("the signature of manifest.json of v0.2.0 does not verify")
        self.server.releases = []
        self.publish("v0.2.0", self.k1)
        files = self.server.releases[0]["files"]
        files["manifest.json.minisig"] = b"junk"
        self.refused("cannot be read")

    def test_replayed_other_app_and_mislabelled_manifests_are_refused(self):
        # v0.1.0's genuine manifest and signature, served as v0.3.0's.
        self.publish("v0.1.0", self.k1)
        old = dict(self.server.releases[0]["files"])
        self.publish("v0.3.0", self.k1)
        self.server.releases[0]["files"]["manifest.json"] = old["manifest.json"]
        self.server.releases[0]["files"]["manifest.json.minisig"] = old["manifest.json.minisig"]
        self.refused("manifest.json of v0.3.0 describes 'v0.1.0', not this release")
        self.server.releases = []
        self.publish("v0.2.0", self.k1, edit=lambda m: m.update(name="Other"))
        self.refused("is for name 'Other', not for this app")
        self.server.releases = []
        self.publish("v0.2.0", self.k1, edit=lambda m: m.update(repo="mallory/app"))
        self.refused("is for repo 'mallory/app', not for this app")
        self.server.releases = []
        self.publish("v0.2.0", self.k1, edit=lambda m: m.pop("repo"))
        self.refused("repo of manifest.json of v0.2.0 is missing")
        self.server.releases = []
        self.publish("v0.2.0", self.k1, edit=lambda m: m["version"].update(pep440="0.9.0"))
        self.refused("says version '0.9.0', which is not the tag's version")

    def test_the_unsigned_release_page_of_a_signed_release_is_a_web_url(self):
        self.publish("v0.2.0", self.k1)
        api = self.server.api()
        api[0]["html_url"] = "http://127.0.0.1:8820/x\x1b]0;PWNED\x07\x1b[2J"
        self.server.api_body = json.dumps(api).encode()
        u = self.up.check()
        self.assertEqual(u.tag, "v0.2.0")
        self.assertIsNone(u.url)

    def test_anti_rollback_offers_nothing_older(self):
        self.publish("v0.0.9", self.k1)
        self.publish("v0.1.0", self.k1)
        self.assertIsNone(self.up.check())

    def test_a_hash_list_that_disagrees_with_the_asset_is_refused(self):
        from test_pyship_update import tarball

        good = tarball("v0.2.0")
        other = bytearray(good)
        other[len(other) // 2] ^= 0xFF
        self.publish("v0.2.0", self.k1, asset=bytes(other))
        self.refused("does not match its SHA-256")

    def test_key_rotation_across_three_releases(self):
        # v0.2.0 (signed by k1) hands over to k2; v0.3.0 is signed by k2.
        self.publish("v0.2.0", self.k1, keys=[self.k2])
        self.publish("v0.3.0", self.k2, keys=[self.k2])
        u = self.up.check()
        self.assertEqual(u.tag, "v0.3.0")
        with open(os.path.join(self.root, TRUST_FILE)) as f:
            trust = json.load(f)
        self.assertEqual(trust["keys"], [{"key": self.k2.public, "from": "v0.2.0"}])
        self.assertEqual(trust["revoked"], [{"key": self.k1.public, "at": "v0.2.0"}])
        self.assertFalse(os.path.exists(os.path.join(self.root, "data", TRUST_FILE)))
        self.assertEqual([n for n in os.listdir(self.root) if n.startswith(TRUST_FILE)], [TRUST_FILE])
        # Once learned, the rotation holds without v0.2.0 on the server.
        del self.server.releases[1]
        self.assertEqual(Updater(self.cfg, environ={}).check().tag, "v0.3.0")
        # k1 is no longer trusted: a v0.4.0 signed with it is refused.
        self.publish("v0.4.0", self.k1)
        self.refused("is signed by key %s, which this app does not trust" % _minisign.parse_public_key(self.k1.public).key_id)

    def test_a_revocation_applies_to_releases_after_it_only(self):
        # v0.2.0 (k1) rotates to k2; an app that has since been updated to a
        # bundle built to trust k1 again (v0.3.0 here) trusts k1.
        self.publish("v0.2.0", self.k1, keys=[self.k2])
        self.assertEqual(self.up.check().tag, "v0.2.0")
        root, cfg = bundle(os.path.join(self.tmp.name, "later"), self.server.url, version="0.3.0", public_keys=[self.k1.public])
        shutil.copy(os.path.join(self.root, TRUST_FILE), os.path.join(root, TRUST_FILE))
        self.publish("v0.4.0", self.k1)
        self.assertEqual(Updater(cfg, environ={}).check().tag, "v0.4.0")

    def test_a_key_never_endorsed_is_refused_and_learns_nothing(self):
        self.publish("v0.2.0", self.k3, keys=[self.k3])
        self.publish("v0.3.0", self.k3, keys=[self.k3])
        self.refused("which this app does not trust")
        self.assertFalse(os.path.exists(os.path.join(self.root, TRUST_FILE)))

    def test_an_endorsement_by_an_untrusted_key_is_ignored(self):
        # k3 "endorses" k2 in a release it signed itself; k2 stays untrusted.
        self.publish("v0.2.0", self.k3, keys=[self.k2])
        self.publish("v0.3.0", self.k2, keys=[self.k2])
        self.refused("which this app does not trust")


if __name__ == "__main__":
    unittest.main()
