"""The update helper (stdlib only).

`apply()` copies this file next to the staged update as `helper.py`. It is
always run by an interpreter that is not the app's own, so it never holds the
runtime it replaces: on Linux `update.sh` runs it with the staged new runtime
before the swap and the renamed `.old` one after it; on Windows `apply()`
copies the few files of a runtime that the helper needs into
`.pyship-update/runtime/` and starts `helper.py run` with it directly (no
`cmd.exe`, whose quoting breaks on folder names with `(`, `&`, `^` or `%`).
Parameters come from the environment that `apply()` sets (paths may hold
any character; no command-line quoting).

    helper.py wait-exit   wait until the app (PYSHIP_PID, and any process
                          running from {root}/python) has exited
    helper.py wait-up     after the new version was started: wait for it to
                          answer on PYSHIP_PORT (or, without a port, to stay up
                          for a few seconds); stop it when it does not come up
    helper.py run         the whole update on Windows (portable: swap the
                          entries, start, check, roll back; installer/msi: run
                          the setup, start, check), logging to update.log

Every move is a rename checked afterwards (the target must not exist before,
the source must be gone after): an entry is whole old or whole new, never a
folder moved into a surviving one. A file held open (a virus scanner, an
indexer) makes a rename or delete fail on Windows; each step then waits and
retries for PYSHIP_HELD_SECONDS (default 60 s) before it gives up.

Exit status 0 means yes, 1 means no (the reason goes to stdout, the log);
2 is a usage error and 3 an unexpected failure of the helper itself, so the
scripts never mistake a broken interpreter or helper for a "no".
"""

import os
import sys
import time

# A process that has to stay up this long counts as started (no port configured).
STAY_UP_SECONDS = 5.0
# A new version with no process after this long did not start.
START_SECONDS = 30.0
# How long the helper waits for the running app to exit.
EXIT_SECONDS = 300.0


def _log(message):
    _emit("helper: " + message)


def pid_alive(pid):
    """Whether process `pid` exists and is not a zombie."""
    if pid <= 0:
        return False
    if os.name == "nt":
        import ctypes
        from ctypes import wintypes

        k32 = ctypes.WinDLL("kernel32", use_last_error=True)
        k32.OpenProcess.restype = wintypes.HANDLE
        k32.OpenProcess.argtypes = [wintypes.DWORD, wintypes.BOOL, wintypes.DWORD]
        k32.GetExitCodeProcess.argtypes = [wintypes.HANDLE, ctypes.POINTER(wintypes.DWORD)]
        k32.CloseHandle.argtypes = [wintypes.HANDLE]
        handle = k32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        try:
            code = wintypes.DWORD()
            if not k32.GetExitCodeProcess(handle, ctypes.byref(code)):
                return False
            return code.value == 259  # STILL_ACTIVE
        finally:
            k32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
        # The state follows the command name in parentheses: Z is a zombie
        # (exited, its parent has not reaped it yet).
        return stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3] != b"Z"
    except (OSError, ValueError):
        return True


def _under(path, folder):
    path = os.path.normcase(os.path.abspath(path))
    folder = os.path.normcase(os.path.abspath(folder)).rstrip("\\/")
    return path.startswith(folder + os.sep)


def _windows_images():
    """(pid, executable path) of every process this user can see."""
    import ctypes
    from ctypes import wintypes

    k32 = ctypes.WinDLL("kernel32", use_last_error=True)

    class PROCESSENTRY32W(ctypes.Structure):
        _fields_ = [
            ("dwSize", wintypes.DWORD),
            ("cntUsage", wintypes.DWORD),
            ("th32ProcessID", wintypes.DWORD),
            ("th32DefaultHeapID", ctypes.c_size_t),
            ("th32ModuleID", wintypes.DWORD),
            ("cntThreads", wintypes.DWORD),
            ("th32ParentProcessID", wintypes.DWORD),
            ("pcPriClassBase", ctypes.c_long),
            ("dwFlags", wintypes.DWORD),
            ("szExeFile", ctypes.c_wchar * 260),
        ]

    k32.CreateToolhelp32Snapshot.restype = wintypes.HANDLE
    k32.CreateToolhelp32Snapshot.argtypes = [wintypes.DWORD, wintypes.DWORD]
    k32.Process32FirstW.argtypes = [wintypes.HANDLE, ctypes.POINTER(PROCESSENTRY32W)]
    k32.Process32NextW.argtypes = [wintypes.HANDLE, ctypes.POINTER(PROCESSENTRY32W)]
    k32.OpenProcess.restype = wintypes.HANDLE
    k32.OpenProcess.argtypes = [wintypes.DWORD, wintypes.BOOL, wintypes.DWORD]
    k32.QueryFullProcessImageNameW.argtypes = [
        wintypes.HANDLE,
        wintypes.DWORD,
        wintypes.LPWSTR,
        ctypes.POINTER(wintypes.DWORD),
    ]
    k32.CloseHandle.argtypes = [wintypes.HANDLE]
    snap = k32.CreateToolhelp32Snapshot(0x2, 0)  # TH32CS_SNAPPROCESS
    if snap in (None, wintypes.HANDLE(-1).value):
        return []
    out = []
    try:
        entry = PROCESSENTRY32W()
        entry.dwSize = ctypes.sizeof(PROCESSENTRY32W)
        ok = k32.Process32FirstW(snap, ctypes.byref(entry))
        while ok:
            pid = entry.th32ProcessID
            handle = k32.OpenProcess(0x1000, False, pid)
            if handle:
                buf = ctypes.create_unicode_buffer(32768)
                size = wintypes.DWORD(len(buf))
                if k32.QueryFullProcessImageNameW(handle, 0, buf, ctypes.byref(size)):
                    out.append((pid, buf.value))
                k32.CloseHandle(handle)
            ok = k32.Process32NextW(snap, ctypes.byref(entry))
    finally:
        k32.CloseHandle(snap)
    return out


def running_from(folder):
    """Pids of the processes (other than this one) whose executable lies in `folder`."""
    me = os.getpid()
    found = []
    if os.name == "nt":
        for pid, image in _windows_images():
            if pid != me and _under(image, folder):
                found.append(pid)
        return found
    folder = os.path.realpath(folder)
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return found
    for pid in pids:
        if pid == me:
            continue
        try:
            exe = os.readlink("/proc/%d/exe" % pid)
        except OSError:
            continue
        if _under(exe, folder) and pid_alive(pid):
            found.append(pid)
    return found


def stop(pids):
    """Terminate `pids` (a new version that did not come up)."""
    for pid in pids:
        try:
            if os.name == "nt":
                import ctypes

                k32 = ctypes.WinDLL("kernel32")
                k32.OpenProcess.restype = ctypes.c_void_p
                handle = k32.OpenProcess(0x0001, False, pid)  # PROCESS_TERMINATE
                if handle:
                    k32.TerminateProcess(ctypes.c_void_p(handle), 1)
                    k32.CloseHandle(ctypes.c_void_p(handle))
            else:
                import signal

                os.kill(pid, signal.SIGTERM)
        except OSError:
            pass


def http_answers(port):
    """Whether something answers HTTP on 127.0.0.1:`port` (any status counts)."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    try:
        conn.request("GET", "/")
        conn.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def wait_exit(root, pid, timeout):
    """0 once the app has exited, 1 after `timeout` seconds."""
    runtime = os.path.join(root, "python")
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in [pid] if pid_alive(p)] + running_from(runtime)
        if not left:
            return 0
        if time.monotonic() > deadline:
            _log("the app is still running after %ds (pids %s): giving up" % (timeout, left))
            return 1
        time.sleep(0.2)


def wait_up(root, pid, port, timeout):
    """0 when the new version came up, 1 (after stopping it) when it did not."""
    runtime = os.path.join(root, "python")
    deadline = time.monotonic() + timeout

    def alive():
        if pid and pid_alive(pid):
            return True
        return bool(running_from(runtime))

    started = time.monotonic()
    up_since = None
    gone_since = None
    while time.monotonic() < deadline:
        now = time.monotonic()
        if port and http_answers(port):
            _log("the new version answers on port %d" % port)
            return 0
        if pid and not pid_alive(pid) and not running_from(runtime):
            # The process started by the helper is gone (Linux: run.sh
            # execs the interpreter, so its pid is the app's).
            _log("the new version exited during start-up")
            return 1
        if alive():
            gone_since = None
            up_since = up_since or now
            if not port and now - up_since >= STAY_UP_SECONDS:
                _log("the new version stayed up for %ds" % STAY_UP_SECONDS)
                return 0
        elif up_since is not None:
            # Started, then gone: give a launcher that hands over to another
            # process a moment, then stop waiting.
            gone_since = gone_since or now
            if now - gone_since > 1.5:
                _log("the new version exited during start-up")
                return 1
        elif now - started > min(timeout, START_SECONDS):
            _log("the new version did not start within %ds" % min(timeout, START_SECONDS))
            return 1
        time.sleep(0.25)
    _log("the new version did not come up within %ds" % timeout)
    stop(([pid] if pid and pid_alive(pid) else []) + running_from(runtime))
    return 1


# How long a step waits for a held file before it gives up.
HELD_SECONDS = 60.0
# msiexec: success, success that needs a restart, success that started one.
MSI_OK = {0: None, 3010: "Windows must restart to finish it", 1641: "msiexec restarts Windows to finish it"}
# The file naming versions that were rolled back (check() skips them).
ROLLED_BACK = "rolled-back.txt"
# Where the NSIS installer keeps its own setup (to reinstall that version).
KEPT_SETUP = os.path.join(".pyship-setup", "setup.exe")


def _exists(path):
    return os.path.lexists(path)


def _retry(step, seconds, sleep=0.5):
    """Run `step()` until it returns True, for up to `seconds`; OSError counts
    as not yet. Returns whether it succeeded and the last error."""
    deadline = time.monotonic() + seconds
    last = None
    while True:
        try:
            if step():
                return True, None
        except OSError as e:
            last = e
        if time.monotonic() >= deadline:
            return False, last
        time.sleep(sleep)


def remove(path, seconds):
    """Delete file or folder `path`, retrying while something holds a file in
    it. True once it is gone."""
    import shutil

    def step():
        if not _exists(path):
            return True
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, onerror=_writable_and_retry)
        else:
            _unlink(path)
        return not _exists(path)

    ok, err = _retry(step, seconds)
    if not ok:
        _log("could not delete %s%s" % (path, ": %s" % err if err else ""))
    return ok


def _unlink(path):
    try:
        os.remove(path)
    except PermissionError:
        # A read-only file (Windows refuses to delete it).
        import stat

        os.chmod(path, stat.S_IWRITE | stat.S_IREAD)
        os.remove(path)


def _writable_and_retry(func, path, _exc):
    import stat

    try:
        os.chmod(path, stat.S_IWRITE | stat.S_IREAD)
        func(path)
    except OSError:
        pass


def move(src, dst, seconds):
    """Rename `src` to `dst` (same folder tree, one rename: the entry moves
    whole or not at all). Refused when `dst` exists (a folder would end up
    inside it). True once `dst` exists and `src` is gone."""
    if _exists(dst):
        _log("not moving %s: %s is in the way" % (src, dst))
        return False

    def step():
        if _exists(dst) and not _exists(src):
            return True
        if _exists(dst):
            return False
        os.rename(src, dst)
        return _exists(dst) and not _exists(src)

    ok, err = _retry(step, seconds)
    if not ok:
        _log("could not move %s to %s%s" % (src, dst, ": %s" % err if err else ""))
    return ok


def swap(root, new, entries, swapped, seconds):
    """Move each entry of `root` to `{entry}.old` and `new`'s in. Appends what
    it touched to `swapped`; returns the entry it could not swap, or None."""
    for e in entries:
        cur = os.path.join(root, e)
        old = cur + ".old"
        # Left over from an update whose clean-up found a held file.
        for stale in (old, cur + ".failed"):
            if _exists(stale) and not remove(stale, seconds):
                return e
        had = _exists(cur)
        if had and not move(cur, old, seconds):
            return e
        swapped.append(e)
        if not move(os.path.join(new, e), cur, seconds):
            return e
    return None


def restore(root, swapped, seconds):
    """Put the entries in `swapped` back: the new one is renamed aside whole
    (never deleted in place, which a held file would stop half-way), then the
    `.old` one renamed back. True when every entry is the old one again."""
    ok = True
    for e in reversed(swapped):
        cur = os.path.join(root, e)
        old = cur + ".old"
        aside = cur + ".failed"
        if _exists(cur):
            if _exists(aside) and not remove(aside, seconds):
                _log("could not restore %s: %s is in the way" % (e, aside))
                ok = False
                continue
            if not move(cur, aside, seconds):
                _log("could not restore %s: the new one cannot be moved away; the old one stays in %s" % (e, old))
                ok = False
                continue
        if _exists(old) and not move(old, cur, seconds):
            ok = False
            continue
        if _exists(aside) and not remove(aside, seconds):
            _log("%s is left over (a file in it is held); the next update deletes it" % aside)
    return ok


# The Add/Remove Programs entries of per-user installs (HKCU).
UNINSTALL_KEY = r"Software\Microsoft\Windows\CurrentVersion\Uninstall"
# Beside the kept setup: "<its SHA-256> <the version it installs>" once a
# delta update made the installed version newer than the kept setup.
KEPT_SETUP_VERSION = os.path.join(".pyship-setup", "setup-version.txt")


def installed_by_delta(root, key, version, previous):
    """An NSIS-installed app patched by a delta is up: its Add/Remove Programs
    entry gets the new version, and the kept setup (still the previous
    version's) is labelled with the version it installs."""
    try:
        import winreg

        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, UNINSTALL_KEY + "\\" + key, 0, winreg.KEY_SET_VALUE) as k:
            winreg.SetValueEx(k, "DisplayVersion", 0, winreg.REG_SZ, version)
        say("the Add/Remove Programs entry %s now says version %s" % (key, version))
    except (ImportError, OSError) as e:
        say("could not set the version of the Add/Remove Programs entry %s to %s: %s" % (key, version, e))
    setup = os.path.join(root, KEPT_SETUP)
    if previous and os.path.isfile(setup) and kept_setup_version(root) is None:
        try:
            with open(os.path.join(root, KEPT_SETUP_VERSION), "w", encoding="utf-8") as f:
                f.write("%s %s\n" % (_file_sha256(setup), previous))
        except OSError as e:
            say("could not note the version of the kept setup: %s" % e)


def kept_setup_version(root):
    """The version the kept setup installs when a delta update left it older
    than the installed version; `None` when it is the installed version's
    (the note is stale once a setup replaced it)."""
    try:
        with open(os.path.join(root, KEPT_SETUP_VERSION), encoding="utf-8") as f:
            sha, _, version = f.read(512).strip().partition(" ")
    except OSError:
        return None
    try:
        if version and _file_sha256(os.path.join(root, KEPT_SETUP)) == sha:
            return version
    except OSError:
        pass
    return None


def _file_sha256(path):
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def remember_rolled_back(stage, tag):
    """Add `tag` to the versions check() no longer offers (one tag a line)."""
    with open(os.path.join(stage, ROLLED_BACK), "a", encoding="utf-8") as f:
        f.write(tag + "\n")


def launch(root, launcher, module):
    """Start the app through its launcher, detached; returns the pid started."""
    import subprocess

    if os.name == "nt":
        if launcher == "pythonw":
            cmd = [os.path.join(root, "python", "pythonw.exe"), "-m", module]
            flags = 0x00000008 | 0x00000200  # DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP
        elif launcher == "console":
            # The user started it in a console (scripts\start.bat, a prompt):
            # it comes back in a console window of its own.
            cmd = [os.path.join(root, "python", "python.exe"), "-m", module]
            flags = 0x00000010 | 0x00000200  # CREATE_NEW_CONSOLE | CREATE_NEW_PROCESS_GROUP
        else:
            # What scripts\start-hidden.vbs does (python.exe, console hidden),
            # without WScript.Shell.Run, which expands %NAME% in the folder's path.
            cmd = [os.path.join(root, "python", "python.exe"), "-m", module]
            flags = 0x08000000 | 0x00000200  # CREATE_NO_WINDOW | CREATE_NEW_PROCESS_GROUP
        proc = subprocess.Popen(
            cmd,
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            creationflags=flags,
            close_fds=True,
        )
    else:
        proc = subprocess.Popen(
            [os.path.join(root, "run.sh")],
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    return proc.pid


def _setup(mode, setup, root):
    """Run the installer silently; its exit status."""
    import subprocess

    if mode == "msi":
        system = os.environ.get("SystemRoot", r"C:\Windows")
        cmd = [os.path.join(system, "System32", "msiexec.exe"), "/i", setup, "/qn"]
    else:
        # NSIS takes /D= last and unquoted, whatever the folder holds: a
        # command line given as a string reaches the program as it is.
        cmd = '"%s" /S /D=%s' % (setup, root)
    return subprocess.call(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _put_back(previous, kept, seconds):
    """The kept setup back where the installer keeps it (nothing was installed)."""
    if previous and _exists(previous) and not _exists(kept):
        move(previous, kept, seconds)


def cleanup(stage, archive, seconds):
    """What the update leaves nowhere, however it ended: the unpacked and the
    downloaded new version (a retry downloads again), then the lock."""
    remove(os.path.join(stage, "new"), seconds)
    if archive:
        remove(archive, seconds)
    for name in ("swapped.txt", "lock"):
        try:
            os.remove(os.path.join(stage, name))
        except OSError:
            pass


def run(env):
    """The whole update (Windows); the exit status of the helper."""
    root = env["PYSHIP_ROOT"]
    stage = env["PYSHIP_STAGE"]
    mode = env.get("PYSHIP_MODE") or "portable"
    tag = env.get("PYSHIP_TAG") or "?"
    seconds = float(env.get("PYSHIP_HELD_SECONDS") or HELD_SECONDS)
    _log_to(os.path.join(stage, "update.log"))
    say("update of %s to %s (%s)" % (root, tag, "installer, by delta" if env.get("PYSHIP_UNINSTALL_KEY") else mode))
    state = {"swapped": [], "settled": False}
    try:
        code, message = _run(env, root, stage, mode, tag, seconds, state)
    except Exception as e:  # noqa: BLE001 - logged, then the clean-up still runs
        code, message = 3, "the helper failed: %s: %s" % (type(e).__name__, e)
        if state["swapped"] and not state["settled"]:
            say(message + "; restoring the old version")
            whole = restore(root, state["swapped"], seconds)
            launch(root, env.get("PYSHIP_LAUNCHER") or "", env.get("PYSHIP_MODULE") or "")
            message = "restored the old version and started it again" if whole else "could not restore every entry (see above)"
    cleanup(stage, env.get("PYSHIP_ARCHIVE"), min(seconds, 10.0))
    say(message)
    _discard_runtime(root, stage)
    return code


# Deletes the folder in argv[1] once the helper that ran from it has exited.
_DISCARD = (
    "import shutil, sys, time\n"
    "end = time.monotonic() + 60\n"
    "while time.monotonic() < end:\n"
    "    shutil.rmtree(sys.argv[1], ignore_errors=True)\n"
    "    try:\n"
    "        open(sys.argv[1] + '/python.exe', 'rb').close()\n"
    "    except OSError:\n"
    "        break\n"
    "    time.sleep(0.5)\n"
)


def _discard_runtime(root, stage):
    """The copied runtime this helper runs on (Windows) cannot delete
    itself: a short-lived process of the app's runtime deletes it once this
    one has exited. Best effort; the next update replaces it anyway."""
    import subprocess

    runtime = os.path.join(stage, "runtime")
    python = os.path.join(root, "python", "python.exe")
    here = os.path.normcase(os.path.dirname(os.path.abspath(sys.executable)))
    if os.name != "nt" or here != os.path.normcase(os.path.abspath(runtime)) or not os.path.isfile(python):
        return
    try:
        subprocess.Popen(
            [python, "-I", "-B", "-c", _DISCARD, runtime],
            cwd=stage,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            creationflags=0x08000000 | 0x00000200,  # CREATE_NO_WINDOW | CREATE_NEW_PROCESS_GROUP
            close_fds=True,
        )
    except OSError:
        pass


def _run(env, root, stage, mode, tag, seconds, state):
    pid = int(env.get("PYSHIP_PID") or 0)
    port = int(env.get("PYSHIP_PORT") or 0)
    timeout = float(env.get("PYSHIP_TIMEOUT") or 60)
    launcher = env.get("PYSHIP_LAUNCHER") or ""
    module = env.get("PYSHIP_MODULE") or ""
    if wait_exit(root, pid, max(timeout, EXIT_SECONDS)) != 0:
        return 1, "the app did not exit; nothing was changed"
    if mode in ("installer", "msi"):
        # The installed version's own setup (the installer keeps it in
        # .pyship-setup\), moved aside first: the new setup replaces it.
        kept = os.path.join(root, KEPT_SETUP)
        older = kept_setup_version(root)
        previous = os.path.join(stage, "previous-setup.exe")
        if mode == "installer" and _exists(previous) and not remove(previous, seconds):
            previous = None
        if mode == "installer" and previous and _exists(kept) and not move(kept, previous, seconds):
            previous = None
        rc = _setup(mode, env["PYSHIP_SETUP"], root)
        if rc != 0 and not (mode == "msi" and rc in MSI_OK):
            _put_back(previous, kept, seconds)
            launch(root, launcher, module)
            return 1, "setup failed with exit code %d; started the installed version again" % rc
        say("installed (exit code %d%s); starting the new version" % (rc, "; " + MSI_OK[rc] if MSI_OK.get(rc) else ""))
        launch(root, launcher, module)
        if wait_up(root, 0, port, timeout) == 0:
            if previous and _exists(previous):
                remove(previous, seconds)
            return 0, "updated to %s" % tag
        if not (previous and _exists(previous)):
            return 1, "the new version did not come up, and the installed version's setup was not kept to reinstall it"
        if older:
            say("the new version did not come up; reinstalling the kept setup, which installs %s (the installed version came by a delta update)" % older)
        else:
            say("the new version did not come up; reinstalling the previous version")
        rc = _setup("installer", previous, root)
        remember_rolled_back(stage, tag)
        if rc != 0:
            return 1, "the new version did not come up, and reinstalling the previous version failed (exit code %d)" % rc
        remove(previous, seconds)
        if older:
            # The kept setup installs the version that is installed now.
            remove(os.path.join(root, KEPT_SETUP_VERSION), seconds)
        launch(root, launcher, module)
        if wait_up(root, 0, port, timeout) != 0:
            return 1, "rolled back by reinstalling the previous version, which did not come up either"
        return 1, "rolled back; the previous version was reinstalled and started again"
    with open(os.path.join(stage, "entries.txt"), encoding="utf-8") as f:
        entries = [line.strip() for line in f if line.strip()]
    swapped = state["swapped"]
    failed = swap(root, env["PYSHIP_NEW"], entries, swapped, seconds)
    if failed:
        say("could not swap %s; restoring the old version" % failed)
        whole = restore(root, swapped, seconds)
        state["settled"] = True
        launch(root, launcher, module)
        if not whole:
            return 1, "could not restore every entry (see above); started what is there"
        return 1, "restored the old version and started it again"
    say("swapped; starting the new version")
    launch(root, launcher, module)
    up = wait_up(root, 0, port, timeout) == 0
    if up:
        state["settled"] = True
        for e in swapped:
            if not remove(os.path.join(root, e + ".old"), seconds):
                say("%s.old is left over (a file in it is held); the next update deletes it" % e)
        if env.get("PYSHIP_UNINSTALL_KEY"):
            installed_by_delta(root, env["PYSHIP_UNINSTALL_KEY"], env.get("PYSHIP_DISPLAY_VERSION") or tag, env.get("PYSHIP_FROM") or "")
        return 0, "updated to %s" % tag
    say("the new version did not come up; rolling back")
    whole = restore(root, swapped, seconds)
    state["settled"] = True
    remember_rolled_back(stage, tag)
    launch(root, launcher, module)
    if not whole:
        return 1, "could not restore every entry (see above); started what is there"
    return 1, "rolled back; the old version was started again"


_LOG = None


def _log_to(path):
    global _LOG
    _LOG = open(path, "a", encoding="utf-8", errors="replace")


def say(message):
    """A line of the update log, with the time."""
    _emit("[%s] %s" % (time.strftime("%Y-%m-%d %H:%M:%S"), message))


def _emit(line):
    if _LOG is not None:
        _LOG.write(line + "\n")
        _LOG.flush()
    else:
        print(line, flush=True)


def main(argv):
    env = os.environ
    root = env["PYSHIP_ROOT"]
    pid = int(env.get("PYSHIP_PID") or 0)
    port = int(env.get("PYSHIP_PORT") or 0)
    timeout = float(env.get("PYSHIP_TIMEOUT") or 60)
    if argv[1:2] == ["wait-exit"]:
        # The user may have to close the app first (an update from the command line).
        return wait_exit(root, pid, max(timeout, EXIT_SECONDS))
    if argv[1:2] == ["wait-up"]:
        return wait_up(root, int(env.get("PYSHIP_NEW_PID") or 0), port, timeout)
    if argv[1:2] == ["run"]:
        return run(env)
    print("usage: helper.py wait-exit|wait-up|run", file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        code = main(sys.argv)
    except Exception as e:  # noqa: BLE001 - any failure here is "could not check"
        _log("failed: %s: %s" % (type(e).__name__, e))
        code = 3
    sys.exit(code)
