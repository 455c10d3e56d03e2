"""The update helper's checks, run by update.sh / update.bat (stdlib only).

`apply()` copies this file next to the staged update as `helper.py`; the
helper scripts run it with an interpreter that is not the app's own (the
staged new runtime before the swap, the renamed `.old` one after it), so it
never holds the runtime it checks. Parameters come from the environment that
`apply()` sets (paths may hold any character; no command-line quoting).

    helper.py wait-exit   wait until the app (PYSHIP_PID, and any process
                          running from {root}/python) has exited
    helper.py wait-up     after the new version was started: wait for it to
                          answer on PYSHIP_PORT (or, without a port, to stay up
                          for a few seconds); stop it when it does not come up

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
    print("helper: " + message, flush=True)


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
    print("usage: helper.py wait-exit|wait-up", file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        code = main(sys.argv)
    except Exception as e:  # noqa: BLE001 - any failure here is "could not check"
        _log("failed: %s: %s" % (type(e).__name__, e))
        code = 3
    sys.exit(code)
