"""Updates that survive held files, concurrent calls and rolled-back
releases (issue 33, item 1), on Linux.

The Windows helper (`helper.py run`) is plain Python: its swap and restore
run here on real folders, with a held file simulated two ways: a rename
that fails with PermissionError for a while (what Windows does while a
virus scanner holds a file), and, as root where `chattr` works, a file
marked immutable (a folder `rm -rf` cannot delete, so the old code's
restore moved the old folder into the surviving one). The e2e tests
(`update::` under wine) hold real files open with a second process.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from pyship_update import UpdateError, Updater, _helper  # noqa: E402
from pyship_update import __main__ as cli  # noqa: E402
from test_pyship_update import Server, bundle, make_tar, tree_hash  # noqa: E402


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def read_tree(root):
    """{relative path: text} of every file below `root`."""
    out = {}
    for d, _, files in os.walk(root):
        for n in files:
            p = os.path.join(d, n)
            with open(p) as f:
                out[os.path.relpath(p, root)] = f.read()
    return out


def can_chattr():
    if os.name == "nt" or os.geteuid() != 0 or not shutil.which("chattr"):
        return False
    with tempfile.TemporaryDirectory() as d:
        f = os.path.join(d, "f")
        write(f, "x")
        ok = subprocess.call(["chattr", "+i", f], stderr=subprocess.DEVNULL) == 0
        if ok:
            subprocess.call(["chattr", "-i", f])
        return ok


CHATTR = can_chattr()


def hold(path):
    """Make `path` undeletable (immutable) until `release(path)`."""
    subprocess.check_call(["chattr", "+i", path])


def release(path):
    subprocess.call(["chattr", "-i", path], stderr=subprocess.DEVNULL)


def release_all(root):
    if CHATTR and os.path.isdir(root):
        subprocess.call(["chattr", "-R", "-i", root], stderr=subprocess.DEVNULL)


class Layout(unittest.TestCase):
    """root/ with app/ and python/ of version 1 and new/ with version 2."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.root = os.path.join(self.tmp, "My Apps (x86) & Co %PATH% ^ ! é")
        self.new = os.path.join(self.tmp, "new")
        for base, v in ((self.root, "1"), (self.new, "2")):
            write(os.path.join(base, "app", "src", "demo.py"), "VERSION = %s\n" % v)
            write(os.path.join(base, "app", "sub", "lib.dll"), "dll %s\n" % v)
            write(os.path.join(base, "python", "python.exe"), "python %s\n" % v)
        write(os.path.join(self.root, "data", "user.json"), "{}")
        self.old_tree = read_tree(self.root)
        self.new_tree = read_tree(self.new)
        self.log = []
        patcher = mock.patch.object(_helper, "_emit", self.log.append)
        patcher.start()
        self.addCleanup(patcher.stop)

    def tearDown(self):
        release_all(self.tmp)
        shutil.rmtree(self.tmp)

    def no_nesting(self):
        for e in ("app", "python"):
            for d in (e, e + ".old", e + ".failed"):
                p = os.path.join(self.root, d)
                if os.path.isdir(p):
                    nested = [n for n in os.listdir(p) if n.endswith((".old", ".failed"))]
                    self.assertEqual(nested, [], "%s holds %s\n%s" % (d, nested, self.log))

    def flaky_rename(self, failing, times):
        """os.rename failing with PermissionError `times` times for sources named `failing`."""
        real = os.rename
        left = {"n": times}

        def rename(src, dst):
            if os.path.basename(src) == failing and left["n"] != 0:
                left["n"] -= 1
                raise PermissionError(32, "The process cannot access the file because it is being used by another process", src)
            return real(src, dst)

        return mock.patch("os.rename", rename)


class SwapRestoreTests(Layout):
    def test_swap_then_restore_gives_back_the_old_tree(self):
        swapped = []
        self.assertIsNone(_helper.swap(self.root, self.new, ["app", "python"], swapped, 1))
        want = {k[len("app/"):]: v for k, v in self.new_tree.items() if k.startswith("app/")}
        self.assertEqual(read_tree(os.path.join(self.root, "app")), want)
        self.assertEqual(swapped, ["app", "python"])
        self.assertTrue(_helper.restore(self.root, swapped, 1))
        self.assertEqual(read_tree(self.root), self.old_tree)
        self.no_nesting()

    def test_a_file_held_for_a_while_is_waited_for(self):
        swapped = []
        self.assertIsNone(_helper.swap(self.root, self.new, ["app", "python"], swapped, 1))
        # The new app/ cannot be moved for the first 4 tries (about 2 s).
        with self.flaky_rename("app", 4):
            self.assertTrue(_helper.restore(self.root, swapped, 10))
        self.assertEqual(read_tree(self.root), self.old_tree)
        self.no_nesting()

    def test_a_file_held_for_good_leaves_both_entries_whole(self):
        swapped = []
        self.assertIsNone(_helper.swap(self.root, self.new, ["app", "python"], swapped, 1))
        with self.flaky_rename("app", -1):
            self.assertFalse(_helper.restore(self.root, swapped, 1))
        # python/ is back; app/ is the whole new one and app.old the whole old
        # one: nothing deleted half-way, nothing moved inside anything.
        self.assertEqual(read_tree(os.path.join(self.root, "python")), {"python.exe": "python 1\n"})
        self.assertEqual(read_tree(os.path.join(self.root, "app")), {"src/demo.py": "VERSION = 2\n", "sub/lib.dll": "dll 2\n"})
        self.assertEqual(read_tree(os.path.join(self.root, "app.old")), {"src/demo.py": "VERSION = 1\n", "sub/lib.dll": "dll 1\n"})
        self.no_nesting()
        self.assertTrue(any("could not restore app" in line for line in self.log), self.log)

    def test_a_swap_that_cannot_move_an_entry_is_undone(self):
        swapped = []
        with self.flaky_rename("python", -1):
            self.assertEqual(_helper.swap(self.root, self.new, ["app", "python"], swapped, 1), "python")
        self.assertTrue(_helper.restore(self.root, swapped, 1))
        self.assertEqual(read_tree(self.root), self.old_tree)
        self.no_nesting()

    def test_move_never_lands_inside_a_folder_in_the_way(self):
        os.makedirs(os.path.join(self.root, "app.old"))
        self.assertFalse(_helper.move(os.path.join(self.root, "app"), os.path.join(self.root, "app.old"), 1))
        self.assertEqual(os.listdir(os.path.join(self.root, "app.old")), [])
        self.assertEqual(read_tree(self.root), self.old_tree)

    @unittest.skipUnless(CHATTR, "needs root and chattr (a file rm -rf cannot delete)")
    def test_an_undeletable_file_in_the_new_tree_does_not_nest_the_old_one(self):
        swapped = []
        self.assertIsNone(_helper.swap(self.root, self.new, ["app", "python"], swapped, 1))
        hold(os.path.join(self.root, "app", "sub", "lib.dll"))
        self.assertTrue(_helper.restore(self.root, swapped, 1))
        # The old version is whole; the new app/ went aside whole and stays
        # (the next update deletes it).
        tree = read_tree(self.root)
        left = {k: v for k, v in tree.items() if k.startswith("app.failed" + os.sep)}
        self.assertEqual(left[os.path.join("app.failed", "sub", "lib.dll")], "dll 2\n")
        self.assertEqual({k: v for k, v in tree.items() if k not in left}, self.old_tree)
        self.no_nesting()
        # The next swap deletes the leftover first, or refuses to start.
        swapped = []
        self.assertEqual(_helper.swap(self.root, self.new, ["app"], swapped, 1), "app")
        self.assertEqual(swapped, [])
        release_all(self.root)
        write(os.path.join(self.new, "app", "src", "demo.py"), "VERSION = 2\n")
        self.assertIsNone(_helper.swap(self.root, self.new, ["app"], swapped, 1))
        self.assertFalse(os.path.exists(os.path.join(self.root, "app.failed")))

    @unittest.skipUnless(CHATTR, "needs root and chattr (a file rm -rf cannot delete)")
    def test_a_stale_old_folder_that_cannot_go_stops_the_swap_before_it_starts(self):
        write(os.path.join(self.root, "app.old", "held.dll"), "x")
        hold(os.path.join(self.root, "app.old", "held.dll"))
        before = read_tree(self.root)
        swapped = []
        self.assertEqual(_helper.swap(self.root, self.new, ["app", "python"], swapped, 1), "app")
        self.assertEqual(swapped, [])
        self.assertEqual(read_tree(self.root), before)


class RunTests(unittest.TestCase):
    """`helper.py run` (the Windows helper) end to end on a fake Linux bundle:
    run.sh is the launcher, the app's process is a copy of `sleep` under
    python/ (what wait-up looks for)."""

    def setUp(self):
        if os.name == "nt":
            self.skipTest("the fake bundle is a Linux one")
        self.tmp = tempfile.mkdtemp()
        self.root = os.path.join(self.tmp, "C Tools (x86) & Co %x% ^ !")
        self.stage = os.path.join(self.root, ".pyship-update")
        self.new = os.path.join(self.stage, "new", "App")
        sleep = shutil.which("sleep")
        for base, v in ((self.root, "1"), (self.new, "2")):
            write(os.path.join(base, "app", "v.txt"), v)
            os.makedirs(os.path.join(base, "python", "bin"))
            shutil.copy(sleep, os.path.join(base, "python", "bin", "sleep"))
        write(os.path.join(self.root, "data", "user.json"), "{}")
        write(os.path.join(self.stage, "entries.txt"), "app\npython\nrun.sh\n")
        self.archive = os.path.join(self.stage, "App-v0.2.0-linux-x64.tar.gz")
        write(self.archive, "archive")
        self.pids = []

    def tearDown(self):
        for pid in _helper.running_from(self.tmp):
            os.kill(pid, 9)
        release_all(self.tmp)
        shutil.rmtree(self.tmp)

    def run_sh(self, base, body):
        p = os.path.join(base, "run.sh")
        write(p, "#!/bin/sh\n" + body)
        os.chmod(p, 0o755)

    def env(self, **kw):
        gone = subprocess.Popen(["true"])
        gone.wait()
        env = dict(
            PYSHIP_ROOT=self.root,
            PYSHIP_STAGE=self.stage,
            PYSHIP_MODE="portable",
            PYSHIP_TAG="v0.2.0",
            PYSHIP_NEW=self.new,
            PYSHIP_PID=str(gone.pid),
            PYSHIP_PORT="",
            PYSHIP_TIMEOUT="3",
            PYSHIP_ARCHIVE=self.archive,
            PYSHIP_HELD_SECONDS="1",
        )
        env.update(kw)
        return env

    def run_helper(self, env):
        try:
            return _helper.run(env)
        finally:
            _helper._LOG.close()
            _helper._LOG = None

    def log(self):
        with open(os.path.join(self.stage, "update.log"), encoding="utf-8") as f:
            return f.read()

    def test_a_broken_release_is_rolled_back_remembered_and_cleaned_up(self):
        self.run_sh(self.root, 'exec "$(dirname "$0")/python/bin/sleep" 60\n')
        self.run_sh(self.new, "exit 3\n")
        before = tree_hash(self.root, skip={".pyship-update"})
        self.assertEqual(self.run_helper(self.env()), 1)
        log = self.log()
        self.assertTrue(log.rstrip().endswith("rolled back; the old version was started again"), log)
        self.assertEqual(tree_hash(self.root, skip={".pyship-update"}), before, log)
        self.assertEqual(sorted(os.listdir(self.stage)), ["entries.txt", "rolled-back.txt", "update.log"], log)
        with open(os.path.join(self.stage, "rolled-back.txt")) as f:
            self.assertEqual(f.read(), "v0.2.0\n")
        # The old version was started again.
        deadline = time.time() + 10
        while not _helper.running_from(os.path.join(self.root, "python")) and time.time() < deadline:
            time.sleep(0.1)
        self.assertTrue(_helper.running_from(os.path.join(self.root, "python")), log)

    @unittest.skipUnless(CHATTR, "needs root and chattr (a file rm -rf cannot delete)")
    def test_a_held_file_in_the_broken_release_does_not_break_the_rollback(self):
        self.run_sh(self.root, 'exec "$(dirname "$0")/python/bin/sleep" 60\n')
        self.run_sh(self.new, "exit 3\n")
        hold(os.path.join(self.new, "app", "v.txt"))
        before = tree_hash(self.root, skip={".pyship-update", "app.failed"})
        self.assertEqual(self.run_helper(self.env()), 1)
        log = self.log()
        self.assertIn("rolled back; the old version was started again", log)
        self.assertEqual(tree_hash(self.root, skip={".pyship-update", "app.failed"}), before, log)
        with open(os.path.join(self.root, "app", "v.txt")) as f:
            self.assertEqual(f.read(), "1")
        self.assertIn("app.failed is left over", log)
        self.assertEqual(os.listdir(os.path.join(self.root, "app")), ["v.txt"])

    def test_an_update_that_comes_up_deletes_the_old_entries(self):
        self.run_sh(self.root, "exit 0\n")
        self.run_sh(self.new, 'exec "$(dirname "$0")/python/bin/sleep" 60\n')
        self.assertEqual(self.run_helper(self.env(PYSHIP_TIMEOUT="8")), 0, self.log())
        log = self.log()
        self.assertTrue(log.rstrip().endswith("updated to v0.2.0"), log)
        with open(os.path.join(self.root, "app", "v.txt")) as f:
            self.assertEqual(f.read(), "2")
        self.assertEqual(sorted(os.listdir(self.root)), [".pyship-update", "app", "data", "python", "run.sh"])
        self.assertEqual(sorted(os.listdir(self.stage)), ["entries.txt", "update.log"])

    def test_msiexec_exit_3010_is_an_update_that_needs_a_restart(self):
        self.run_sh(self.root, 'exec "$(dirname "$0")/python/bin/sleep" 60\n')
        for rc, code, text in ((3010, 0, "Windows must restart to finish it"), (1641, 0, "restarts Windows"), (1603, 1, "setup failed with exit code 1603")):
            with mock.patch.object(_helper, "_setup", return_value=rc):
                got = self.run_helper(self.env(PYSHIP_MODE="msi", PYSHIP_SETUP=self.archive, PYSHIP_TIMEOUT="8"))
            log = self.log()
            self.assertEqual(got, code, log)
            self.assertIn(text, log)
            for pid in _helper.running_from(self.root):
                os.kill(pid, 9)
            os.remove(os.path.join(self.stage, "update.log"))

    def test_an_installed_version_that_does_not_come_up_is_reinstalled_from_its_kept_setup(self):
        kept = os.path.join(self.root, ".pyship-setup", "setup.exe")
        write(kept, "setup of v0.1.0")
        self.run_sh(self.root, 'exec "$(dirname "$0")/python/bin/sleep" 60\n')
        calls = []

        def fake_setup(mode, setup, root):
            # What an NSIS setup does here: its app, and itself kept.
            with open(setup) as f:
                which = f.read()
            calls.append(which)
            broken = which == "archive"
            self.run_sh(root, "exit 1\n" if broken else 'exec "$(dirname "$0")/python/bin/sleep" 60\n')
            os.makedirs(os.path.dirname(kept), exist_ok=True)
            with open(kept, "w") as f:
                f.write(which)
            return 0

        with mock.patch.object(_helper, "_setup", side_effect=fake_setup):
            got = self.run_helper(self.env(PYSHIP_MODE="installer", PYSHIP_SETUP=self.archive, PYSHIP_TIMEOUT="8"))
        log = self.log()
        self.assertEqual(got, 1, log)
        self.assertEqual(calls, ["archive", "setup of v0.1.0"])
        self.assertIn("the new version did not come up; reinstalling the previous version", log)
        self.assertIn("rolled back; the previous version was reinstalled and started again", log)
        with open(kept) as f:
            self.assertEqual(f.read(), "setup of v0.1.0")
        self.assertFalse(os.path.exists(os.path.join(self.stage, "previous-setup.exe")))
        with open(os.path.join(self.stage, "rolled-back.txt")) as f:
            self.assertEqual(f.read(), "v0.2.0\n")
        self.assertTrue(_helper.running_from(self.root), "the previous version runs again")

    def test_an_installer_update_without_a_kept_setup_says_it_cannot_roll_back(self):
        self.run_sh(self.root, 'exec "$(dirname "$0")/python/bin/sleep" 60\n')

        def fake_setup(mode, setup, root):
            self.run_sh(root, "exit 1\n")
            return 0

        with mock.patch.object(_helper, "_setup", side_effect=fake_setup):
            got = self.run_helper(self.env(PYSHIP_MODE="installer", PYSHIP_SETUP=self.archive, PYSHIP_TIMEOUT="8"))
        log = self.log()
        self.assertEqual(got, 1, log)
        self.assertIn("the installed version's setup was not kept to reinstall it", log)


@unittest.skipUnless(CHATTR, "needs root and chattr (a file rm -rf cannot delete)")
class UpdateShTests(unittest.TestCase):
    """update.sh (the Linux helper), run for real, with a file of the new
    version that cannot be deleted when the rollback comes."""

    def setUp(self):
        self.server = Server()
        self.tmp = tempfile.mkdtemp()
        self.root, self.cfg = bundle(self.tmp, self.server.url, start_timeout=20)
        python = "#!/bin/sh\nexec %s \"$@\"\n" % sys.executable
        self.python = python
        for rel, text in [("python/bin/python3", python), ("run.sh", "#!/bin/sh\nsleep 30\n")]:
            write(os.path.join(self.root, rel), text)
            os.chmod(os.path.join(self.root, rel), 0o755)
        self.up = Updater(self.cfg, environ={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        self.app = subprocess.Popen(["sleep", "60"])

    def tearDown(self):
        self.app.kill()
        self.app.wait()
        pid = os.path.join(self.root, ".pyship-update", "app.pid")
        if os.path.exists(pid):
            with open(pid) as f:
                subprocess.call(["kill", f.read().strip()], stderr=subprocess.DEVNULL)
        self.server.close()
        release_all(self.tmp)
        shutil.rmtree(self.tmp)

    def test_a_rollback_with_an_undeletable_new_file_restores_the_old_version_whole(self):
        members = [
            ("App/app/src/demo/__init__.py", "file", b"VERSION = 2\n"),
            ("App/app/src/demo/held.so", "file", b"held\n"),
            ("App/python/bin/python3", "file", self.python.encode(), 0o755),
            ("App/run.sh", "file", b"#!/bin/sh\nexit 3\n", 0o755),
        ]
        write(os.path.join(self.root, "app", "src", "demo", "__init__.py"), "VERSION = 1\n")
        self.server.publish("v0.2.0", asset=make_tar(members), consistent=True)
        before = tree_hash(self.root, skip={".pyship-update"})
        log = self.up.apply(self.up.check(), pid=self.app.pid)
        # The helper waits for the app to exit: hold the file meanwhile.
        hold(os.path.join(self.root, ".pyship-update", "new", "App", "app", "src", "demo", "held.so"))
        self.app.kill()
        self.app.wait()
        deadline = time.time() + 60
        text = ""
        while time.time() < deadline and "rolled back" not in text and "could not restore" not in text:
            time.sleep(0.2)
            with open(log) as f:
                text = f.read()
        time.sleep(0.3)
        with open(log) as f:
            text = f.read()
        self.assertIn("rolled back; the old version was started again", text)
        self.assertEqual(tree_hash(self.root, skip={".pyship-update", "app.failed"}), before, text)
        self.assertEqual(sorted(os.listdir(os.path.join(self.root, "app", "src", "demo"))), ["__init__.py"], text)
        self.assertIn("app.failed is left over", text)
        with open(os.path.join(self.root, ".pyship-update", "rolled-back.txt")) as f:
            self.assertEqual(f.read(), "v0.2.0\n")
        self.assertIsNone(self.up.check())


class ConcurrencyAndSkipTests(unittest.TestCase):
    def setUp(self):
        self.server = Server()
        self.tmp = tempfile.TemporaryDirectory()
        self.root, self.cfg = bundle(self.tmp.name, self.server.url)
        self.up = Updater(self.cfg, environ={})
        self.helpers = []

    def tearDown(self):
        for p in self.helpers:
            p.kill()
            p.wait()
        self.server.close()
        self.tmp.cleanup()

    def test_two_applies_in_one_process_give_one_update_and_one_update_error(self):
        members = [
            ("App/app/src/demo/__init__.py", "file", b"VERSION = 2\n"),
            ("App/python/bin/python3", "file", b"#!/bin/sh\n", 0o755),
            ("App/run.sh", "file", b"#!/bin/sh\n", 0o755),
        ]
        self.server.publish("v0.2.0", asset=make_tar(members), consistent=True)
        u = self.up.check()
        inside = threading.Event()
        go_on = threading.Event()

        def fake_helper(script, env, staging, log):
            # A live process stands for the helper (it owns the lock now).
            p = subprocess.Popen(["sleep", "60"])
            self.helpers.append(p)
            return p.pid

        def progress(done, total):
            inside.set()
            go_on.wait(30)

        results = {}

        def first():
            try:
                results["first"] = self.up.apply(u, progress=progress)
            except Exception as e:  # noqa: BLE001
                results["first"] = e

        with mock.patch.object(Updater, "_start_helper", side_effect=fake_helper):
            t = threading.Thread(target=first)
            t.start()
            self.assertTrue(inside.wait(30))
            # Another thread while the first downloads: refused, and the first's
            # lock and partial download are left alone.
            with self.assertRaises(UpdateError) as e:
                Updater(self.cfg, environ={}).apply(u)
            self.assertIn("another update is already running", e.exception.message)
            go_on.set()
            t.join(60)
            self.assertIsInstance(results["first"], str, results)
            # Handed over: the helper owns the lock; a third call is refused too.
            with self.assertRaises(UpdateError):
                Updater(self.cfg, environ={}).apply(u)
        self.assertEqual(len(self.helpers), 1)

    def test_concurrent_downloads_do_not_share_a_partial_file(self):
        self.server.publish("v0.2.0")
        u = self.up.check()
        out = []

        def one():
            try:
                out.append(Updater(self.cfg, environ={}).download(u))
            except UpdateError as e:
                out.append(e)

        threads = [threading.Thread(target=one) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for r in out:
            # Each either got the verified file or an UpdateError; never a raw OSError.
            self.assertTrue(isinstance(r, (str, UpdateError)), r)
        self.assertTrue(any(isinstance(r, str) for r in out), out)
        stage = os.path.join(self.root, ".pyship-update")
        self.assertEqual([n for n in os.listdir(stage) if n.endswith(".part")], [])

    def test_a_rolled_back_version_is_skipped_until_a_newer_one(self):
        self.server.publish("v0.2.0")
        self.assertEqual(self.up.check().tag, "v0.2.0")
        write(os.path.join(self.root, ".pyship-update", "rolled-back.txt"), "v0.2.0\nnot a version\n")
        self.assertIsNone(self.up.check())
        self.assertEqual(self.up.skipped_rolled_back, ["v0.2.0"])
        with mock.patch.object(cli, "Updater", lambda: Updater(self.cfg, environ={})):
            import contextlib
            import io

            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                self.assertEqual(cli.main(["check"]), 0)
        self.assertIn("skipped v0.2.0: an update to it was rolled back here", buf.getvalue())
        self.server.publish("v0.3.0")
        self.assertEqual(self.up.check().tag, "v0.3.0")



class LauncherInUseTests(unittest.TestCase):
    """The helper restarts the app the way the user started it."""

    def test_the_launcher_follows_how_this_process_was_started(self):
        tmp = tempfile.mkdtemp()
        try:
            _, win = bundle(os.path.join(tmp, "w"), "http://127.0.0.1:9", platform="windows", launcher="vbs")
            up = Updater(win, environ={})
            cases = [
                (os.path.join("App", "python", "pythonw.exe"), False, "pythonw"),
                (os.path.join("App", "python", "python.exe"), True, "console"),
                (os.path.join("App", "python", "python.exe"), False, "vbs"),
                (os.path.join("Other", "app.exe"), True, "vbs"),
            ]
            for exe, console, want in cases:
                self.assertEqual(up.launcher_in_use(exe, console), want, exe)
            _, lin = bundle(os.path.join(tmp, "l"), "http://127.0.0.1:9")
            self.assertEqual(Updater(lin, environ={}).launcher_in_use("python3", True), "run.sh")
        finally:
            shutil.rmtree(tmp)

if __name__ == "__main__":
    unittest.main()
