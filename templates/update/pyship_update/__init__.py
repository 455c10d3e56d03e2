"""Self-update for apps shipped by cargo-pyship (stdlib only).

    import pyship_update
    update = pyship_update.check()          # None when there is nothing newer
    if update:
        pyship_update.apply(update)         # download, verify, start the helper
        raise SystemExit(0)                 # the helper waits for this exit

`check()` lists the releases of the project's own repository (Gitea, Forgejo
or GitHub), skips drafts, compares PEP 440 versions and returns the newest
newer release with the asset for this install type, its size and SHA-256
(from the release's `manifest.json`, cross-checked with `SHA256SUMS`).
`download()` streams it into `.pyship-update/` next to the app and verifies
it. `apply()` unpacks it there and starts a detached helper (`update.sh` on
Linux, `_helper.py run` on a copied runtime on Windows) that waits for the
app to exit, swaps the bundle's folders (or runs the installer), starts the
new version, checks that it comes up and rolls back when it does not; a
version rolled back is not offered again. `data/` is never touched.

Everything the server says is hostile until checked: every field read from
it is type-checked (`_field`), every name used on disk is a plain file name
(`_asset_name`, `_entry_name`), archive members and links must stay inside
the new bundle folder (`_extract`), and any of that failing is an
`UpdateError` raised before anything is written (or after removing what this
call wrote).

The bundle's settings (server, repository, current version, channel, asset
names) are in `pyship_update.json` next to this package, written by
`cargo pyship bundle`. A token, when the repository needs one, is read from the
environment variable that file names; it is never stored, and it is sent only
to the API's own origin (scheme, host and port).
"""

import functools
import hashlib
import http.client
import io
import ipaddress
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile

from . import _minisign

__all__ = [
    "Update",
    "UpdateError",
    "Updater",
    "install_type",
    "check",
    "download",
    "apply",
    "parse_version",
]

#: The `manifest.json` schema this updater reads.
MANIFEST_SCHEMA = 1
#: The config file, next to this package.
CONFIG_NAME = "pyship_update.json"
#: The staging folder, inside the app's folder.
STAGING = ".pyship-update"
INSTALL_TYPES = ("installer", "msi", "deb", "portable-windows", "portable-linux", "docker", "dev")
#: What the asset of each install type that updates in place must be named like.
ASSET_SUFFIX = {
    "portable-linux": ".tar.gz",
    "portable-windows": ".zip",
    "installer": ".exe",
    "msi": ".msi",
}
#: The keys this copy learned from signed releases (key rotation), next to
#: the app and never in data/.
TRUST_FILE = ".pyship-trust.json"
#: The signature of `manifest.json` on a signed release.
SIGNATURE_NAME = "manifest.json.minisig"
#: This install's random id (staged rollout), next to the app and never in
#: data/: made on the first check, kept by every update.
INSTALL_ID = ".pyship-install-id"
#: Top-level entries of the bundle folder that an update never replaces
#: (compared without case: Windows file names are case-insensitive).
KEEP = ("data", "logs", STAGING, TRUST_FILE, INSTALL_ID, ".pyship-setup")
#: Where the NSIS installer writes its Add/Remove Programs entry (HKCU).
UNINSTALL_KEY = r"Software\Microsoft\Windows\CurrentVersion\Uninstall"
#: Versions the helper rolled back (one tag a line, in the staging folder):
#: check() does not offer them again; a newer release it does.
ROLLED_BACK = "rolled-back.txt"
#: The Windows helper runs from a copy of the runtime's top-level files in
#: the staging folder (so it holds neither the old runtime nor the new one),
#: less the libraries it never loads (TLS, SQLite, Tcl/Tk).
_HELPER_RUNTIME_SKIP = ("libcrypto*", "libssl*", "sqlite3*", "tcl*", "tk*", "_ssl.pyd", "_sqlite3.pyd", "_tkinter.pyd")
#: Markers of a container (Docker, Podman, Kubernetes, systemd-nspawn).
CONTAINER_FILES = ("/.dockerenv", "/run/.containerenv")
CONTAINER_ENV = ("KUBERNETES_SERVICE_HOST", "container")
_TIMEOUT = 30
_CHUNK = 1 << 16
# A lock older than this whose owner cannot be seen is left over from a crash.
_STALE_LOCK_SECONDS = 3600
# Bounds on what a server may make this process read or write.
_MAX_JSON = 8 << 20
_MAX_SMALL = 1 << 20
_MAX_ASSET = 1 << 36
_MAX_MEMBERS = 500000
# Seconds a listing or a small file may take in total, from the request to
# its last byte (the socket timeout bounds each read; this bounds a server
# that trickles: see _DeadlineIO).
_SMALL_DEADLINE = 120
# A download may take this long plus one second per _MIN_RATE bytes.
_DOWNLOAD_DEADLINE = 300
_MIN_RATE = 16 << 10
_MALFORMED_HINT = (
    "the server's answer is not what cargo-pyship publishes; nothing was changed. "
    "Check the server URL, or publish the release again with `cargo pyship publish`"
)


# The locks this process holds (apply() in another thread of this process).
_HELD = set()
_HELD_GUARD = threading.Lock()


class UpdateError(Exception):
    """An update that cannot go ahead; nothing was changed. `hint` says what to do."""

    def __init__(self, message, hint=None):
        super().__init__(message)
        self.message = message
        self.hint = hint


# ------------------------------------------------------------------ versions

_VERSION = re.compile(
    r"""^v?
    (?:(?P<epoch>\d+)!)?
    (?P<release>\d+(?:\.\d+)*)
    (?:[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>\d+)?)?
    (?:-(?P<post_n1>\d+)|[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>\d+)?)?
    (?:[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>\d+)?)?
    (?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?
    \Z""",
    re.VERBOSE | re.IGNORECASE | re.ASCII,
)
_PRE = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "preview": 2}


class Version:
    """A PEP 440 version (also read from tags: `v1.2.3`, `v1.2.3-rc.1`)."""

    def __init__(self, text):
        m = _VERSION.match(text) if isinstance(text, str) and len(text) <= 128 else None
        if not m:
            raise ValueError("not a version: %r" % (text,))
        self.text = text
        release = tuple(int(x) for x in m.group("release").split("."))
        while len(release) > 1 and release[-1] == 0:
            release = release[:-1]
        self.pre = None
        if m.group("pre_l"):
            self.pre = (_PRE[m.group("pre_l").lower()], int(m.group("pre_n") or 0))
        post = m.group("post_n1") or (m.group("post_n2") or "0" if m.group("post_l") else None)
        self.post = int(post) if post is not None else None
        self.dev = int(m.group("dev_n") or 0) if m.group("dev_l") else None
        # The order of PEP 440: a dev release sorts before the pre-releases of
        # its version, a release without a pre part after them.
        if self.pre is None and self.post is None and self.dev is not None:
            pre_key = (-1,)
        elif self.pre is None:
            pre_key = (1,)
        else:
            pre_key = (0,) + self.pre
        self._key = (
            int(m.group("epoch") or 0),
            release,
            pre_key,
            (-1,) if self.post is None else (0, self.post),
            (1,) if self.dev is None else (0, self.dev),
        )

    @property
    def is_prerelease(self):
        return self.pre is not None or self.dev is not None

    def __eq__(self, other):
        return self._key == other._key

    def __lt__(self, other):
        return self._key < other._key

    def __le__(self, other):
        return self._key <= other._key

    def __gt__(self, other):
        return self._key > other._key

    def __ge__(self, other):
        return self._key >= other._key

    def __hash__(self):
        return hash(self._key)

    def __repr__(self):
        return "Version(%r)" % self.text


def parse_version(text):
    """The :class:`Version` of `text`; `ValueError` when it is not one."""
    return Version(text)


# ------------------------------------------------------------------ what a server says

_MISSING = object()
_KIND_NAMES = {str: "a string", int: "a whole number", bool: "true or false", list: "a list", dict: "an object"}


def _show(value, limit=80):
    """`value` for a message: printable ASCII, quoted, cut at `limit`."""
    if isinstance(value, (list, dict)):
        return _kind_of(value)
    if not isinstance(value, str):
        text = ascii(value)
        return text[:limit] + ("..." if len(text) > limit else "")
    return ascii(value[:limit]) + ("..." if len(value) > limit else "")


def _clean(text, limit=200):
    """Free text from a server (a reason, a message) for a message: control
    characters and non-ASCII escaped, cut at `limit`."""
    text = str(text)
    out = ascii(text[:limit])[1:-1]
    return out + ("..." if len(text) > limit else "")


def _kind_of(value):
    if value is _MISSING:
        return "missing"
    if value is None:
        return "null"
    for kind in (bool, int, str, list, dict):
        if isinstance(value, kind):
            return _KIND_NAMES[kind]
    return "a number" if isinstance(value, float) else type(value).__name__


def _typed(value, kind, what, optional=False):
    """`value` when it is a `kind` (str, int, bool, list or dict; `True` is
    not an int here), or `None` when `optional` and it is null or missing.
    Anything else is an `UpdateError` naming `what`."""
    if optional and (value is None or value is _MISSING):
        return None
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    raise UpdateError(
        "%s is %s, expected %s%s" % (what, _kind_of(value), _KIND_NAMES[kind], " or null" if optional else ""),
        hint=_MALFORMED_HINT,
    )


def _field(obj, key, kind, where, optional=False):
    """`obj[key]` checked by :func:`_typed`; `obj` must be an object."""
    _typed(obj, dict, where)
    return _typed(obj.get(key, _MISSING), kind, "%s of %s" % (key, where), optional)


def _size(value, what):
    """A size in bytes: a whole number from 1 to 64 GiB."""
    _typed(value, int, what)
    if not 0 < value <= _MAX_ASSET:
        raise UpdateError("%s is %d bytes, which no release asset is" % (what, value), hint=_MALFORMED_HINT)
    return value


_HEX64 = re.compile(r"[0-9a-fA-F]{64}\Z")
# A version as the installer writes it to the registry (`1.2.3-rc.1+build`).
_DISPLAY_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+-]{0,63}\Z", re.ASCII)
# A release's web page as Update.url gives it: http(s), printable ASCII
# without spaces (what a server percent-encodes), so an app may show or open it.
_PAGE_URL = re.compile(r"https?://[!-~]+\Z", re.ASCII | re.IGNORECASE)


def _sha256_field(value, what):
    _typed(value, str, what)
    if not _HEX64.match(value):
        raise UpdateError("%s is not a SHA-256 (64 hex digits): %s" % (what, _show(value)), hint=_MALFORMED_HINT)
    return value.lower()


# A plain file name: what cargo-pyship names release assets (letters,
# digits, `.`, `_`, `+`, `-`); no separator, no `..`, no drive, no leading
# `.` or `-`, no trailing `.` (Windows drops it), no device name.
_PLAIN = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9._+-]{0,199}\Z", re.ASCII)
_DEVICES = {"con", "prn", "aux", "nul", "conin$", "conout$"} | {
    "%s%d" % (p, n) for p in ("com", "lpt") for n in range(10)
}


def _plain(name):
    return (
        isinstance(name, str)
        and _PLAIN.match(name) is not None
        and not name.endswith(".")
        and name.split(".")[0].lower() not in _DEVICES
    )


def _asset_name(name, kind, where):
    """The asset name `name` of install type `kind` when it is a plain file
    name with the suffix of that type; an `UpdateError` otherwise."""
    _typed(name, str, where)
    suffix = ASSET_SUFFIX.get(kind)
    if not _plain(name) or suffix is None or not name.lower().endswith(suffix):
        raise UpdateError(
            "%s names the asset %s, which is not a plain %s file name; refusing the update"
            % (where, _show(name), suffix or kind),
            hint="asset names are plain file names (letters, digits, `._+-`); nothing was changed. "
            "Publish the release again with `cargo pyship publish`",
        )
    return name


def _entry_name(name, archive):
    """A top-level entry of a new bundle folder: the helper scripts move it
    by name, so it is a plain name and never one of :data:`KEEP`."""
    if not _plain(name) or name.lower() in KEEP:
        raise UpdateError(
            "%s has the top-level entry %s, which an update may not replace; refusing it"
            % (archive, _show(name)),
            hint="a bundle's top folder holds app/, python/ and launchers with plain names, "
            "never data/ or logs/; nothing was changed",
        )
    return name


def _parse_json(data, what):
    """The JSON document in `data` (bytes), or an `UpdateError`."""
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as e:
        reason = "nested too deeply" if isinstance(e, RecursionError) else "not valid JSON"
        raise UpdateError("%s is %s" % (what, reason), hint=_MALFORMED_HINT) from None


def _parse_sums(text, what):
    """`SHA256SUMS` as {name: sha256}; a name listed twice with two hashes is refused."""
    out = {}
    for line in text.splitlines():
        parts = line.strip().split(None, 1)
        if len(parts) != 2 or not _HEX64.match(parts[0]):
            continue
        name, sha = parts[1].lstrip("*"), parts[0].lower()
        if out.get(name, sha) != sha:
            raise UpdateError(
                "%s lists %s twice with different hashes; refusing the update" % (what, _show(name)),
                hint=_MALFORMED_HINT,
            )
        out[name] = sha
    return out


# ------------------------------------------------------------------ network


def _loopback(host):
    if host is None:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _split(url):
    """`urlsplit(url)` and its port; an `UpdateError` for what is not a URL."""
    try:
        parts = urllib.parse.urlsplit(url)
        return parts, parts.port
    except (ValueError, TypeError, AttributeError):
        raise UpdateError("%s is not a URL" % _show(url), hint=_MALFORMED_HINT) from None


def check_url(url):
    """Refuse anything but https, and plain http to anything but loopback."""
    _typed(url, str, "a URL")
    parts, _ = _split(url)
    if parts.scheme == "https" or (parts.scheme == "http" and _loopback(parts.hostname)):
        return url
    raise UpdateError(
        "refusing %s: updates are fetched over https only (plain http only from loopback)"
        % _clean(_redact(url), 200),
        hint="use an https:// server URL in [package.metadata.pyship.publish]",
    )


def _origin(url):
    """(scheme, host, port) of `url`: the token goes only where this matches the API's."""
    parts, port = _split(url)
    scheme = parts.scheme.lower()
    return (scheme, (parts.hostname or "").lower(), port or {"https": 443, "http": 80}.get(scheme))


def _redact(url):
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return "(a malformed URL)"
    if parts.username or parts.password or parts.query:
        netloc = parts.hostname or ""
        if port:
            netloc += ":%d" % port
        return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    return url


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects only to https (or loopback http). The token is an
    unredirected header, so it never follows a redirect to another host."""

    max_redirections = 5

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        check_url(newurl)
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        # The deadline is the first request's: a redirect does not renew it.
        new.deadline = req.deadline
        return new


class _Overdue(UpdateError):
    """A read past its request's deadline. Not an OSError, so http.client
    and urllib pass it on as it is; callers say what took too long."""

    def __init__(self):
        super().__init__("the server took too long to answer", hint="try again later; nothing was changed")


class _DeadlineIO(io.RawIOBase):
    """A response's socket file, read against its request's deadline: the
    socket timeout is cut to the time left before each read, and a read
    past the deadline is `_Overdue`. http.client waits in one read for a
    whole status line, header line or buffer, and the socket timeout
    restarts with every byte: without this, a server that sends one byte
    every few seconds holds a check for hours. (A timeout per read, no
    watchdog thread: nothing closes a socket under another thread's read,
    which Linux and Windows handle differently.)"""

    def __init__(self, raw, sock, deadline):
        self._raw = raw
        self._sock = sock
        self._deadline = deadline

    def readable(self):
        return True

    def readinto(self, b):
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise _Overdue()
        timeout = min(_TIMEOUT, left)
        self._sock.settimeout(timeout)
        try:
            return self._raw.readinto(b)
        except TimeoutError:
            if timeout < _TIMEOUT:
                raise _Overdue() from None
            raise

    def close(self):
        self._raw.close()
        super().close()


class _Response(http.client.HTTPResponse):
    """A response read through :class:`_DeadlineIO`, its status line and
    headers included."""

    def __init__(self, sock, *args, deadline, **kw):
        super().__init__(sock, *args, **kw)
        self.fp = io.BufferedReader(_DeadlineIO(self.fp.detach(), sock, deadline))


class _Deadlines:
    """Gives each connection of a request (`req.deadline`, monotonic) that
    deadline: its connect and TLS handshake time out at it at the latest,
    and its responses are :class:`_Response`."""

    def do_open(self, http_class, req, **kw):
        def connection(host, timeout, **args):
            left = req.deadline - time.monotonic()
            if left <= 0:
                raise _Overdue()
            h = http_class(host, timeout=min(timeout, left), **args)
            h.response_class = functools.partial(_Response, deadline=req.deadline)
            return h

        return super().do_open(connection, req, **kw)


class _HTTPHandler(_Deadlines, urllib.request.HTTPHandler):
    pass


_HANDLERS = [_Redirects(), _HTTPHandler()]
if hasattr(urllib.request, "HTTPSHandler"):  # none in a Python built without ssl

    class _HTTPSHandler(_Deadlines, urllib.request.HTTPSHandler):
        pass

    _HANDLERS.append(_HTTPSHandler())
_OPENER = urllib.request.build_opener(*_HANDLERS)


def _read1(resp, n, deadline):
    """What has arrived of `resp` (at most `n` bytes; `b""` at its end), or
    `None` past `deadline`. `read(n)` would wait for all `n` bytes."""
    if time.monotonic() > deadline:
        return None
    try:
        return resp.read1(n)
    except _Overdue:
        return None


def _read_capped(resp, limit, deadline, what):
    """At most `limit` bytes of `resp`, read before `deadline` (monotonic)."""
    chunks = []
    got = 0
    while True:
        chunk = _read1(resp, min(_CHUNK, limit + 1 - got), deadline)
        if chunk is None:
            raise UpdateError("%s took too long to arrive" % what, hint="try again later; nothing was changed")
        if not chunk:
            # http.client ends a body the server cut short as if it were
            # whole: what its Content-Length promised and did not come.
            left = getattr(resp, "length", None)
            if left:
                raise UpdateError(
                    "%s was cut off after %d of %d bytes" % (what, got, got + left),
                    hint="try again later; nothing was changed",
                )
            return b"".join(chunks)
        chunks.append(chunk)
        got += len(chunk)
        if got > limit:
            raise UpdateError("%s is larger than %d bytes; refusing it" % (what, limit), hint=_MALFORMED_HINT)


# ------------------------------------------------------------------ the update


class Update:
    """A newer release, as :func:`check` found it."""

    def __init__(self, **kw):
        #: PEP 440 version (`0.2.0`) and tag (`v0.2.0`).
        self.version = kw["version"]
        self.tag = kw["tag"]
        self.prerelease = kw["prerelease"]
        #: Release title and notes (the release body, markdown).
        self.name = kw.get("name") or kw["tag"]
        self.notes = kw.get("notes") or ""
        #: The release's web page: an http(s) URL, or `None`.
        self.url = kw.get("url")
        #: This install type's asset: its name, size in bytes, SHA-256 and
        #: download URL; all `None` for `docker` and `dev`.
        self.install_type = kw["install_type"]
        self.asset = kw.get("asset")
        self.size = kw.get("size")
        self.sha256 = kw.get("sha256")
        self.download_url = kw.get("download_url")
        #: The patch from the previous release (a portable or NSIS-installed
        #: app at its base version downloads only it): a dict with `name`,
        #: `size`, `sha256`, `base`, `tree_sha256` and `download_url`, or `None`.
        self.delta = kw.get("delta")
        #: The version as the installer shows it in Add/Remove Programs (the
        #: manifest's `semver` spelling).
        self.semver = kw.get("semver") or self.version

    def as_dict(self):
        return dict(self.__dict__)

    def __repr__(self):
        return "Update(%s, %s, asset=%r)" % (self.tag, self.install_type, self.asset)


class Updater:
    """The updater of one bundle. The module-level functions use the bundle
    this package is installed in; tests and tools may make their own."""

    #: The files container engines create in every container.
    container_files = CONTAINER_FILES

    def __init__(self, config_path=None, environ=None):
        here = os.path.dirname(os.path.abspath(__file__))
        self.config_path = config_path or os.path.join(os.path.dirname(here), CONFIG_NAME)
        self.environ = os.environ if environ is None else environ
        self._config = None
        self.skipped_prereleases = []
        self.skipped_rolled_back = []
        #: (tag, rollout fraction, this install's draw) of the releases
        #: check() did not offer because their staged rollout leaves this
        #: install out for now.
        self.skipped_rollout = []
        #: Why the last update checked has no usable delta, or `None`.
        self.delta_note = None
        #: What the last apply() downloaded (the delta or the full archive, and why).
        self.last_download = None

    # -------------------------------------------------------------- config

    @property
    def config(self):
        if self._config is None:
            try:
                with open(self.config_path, encoding="utf-8") as f:
                    config = json.load(f)
            except FileNotFoundError:
                raise UpdateError(
                    "%s is missing: this copy of pyship_update was not installed by `cargo pyship bundle`"
                    % self.config_path,
                    hint="build the app with cargo pyship (and [package.metadata.pyship.update] enabled)",
                ) from None
            except (OSError, ValueError) as e:
                raise UpdateError(
                    "cannot read %s: %s" % (self.config_path, e),
                    hint="rebuild the app with `cargo pyship bundle`",
                ) from None
            self._config = _typed(config, dict, self.config_path)
        return self._config

    def root(self):
        """The bundle's folder (holding `app/` and the runtime)."""
        rel = self.config.get("root") or "."
        return os.path.normpath(os.path.join(os.path.dirname(self.config_path), rel))

    def staging(self):
        return os.path.join(self.root(), STAGING)

    def is_development(self):
        """Whether this is the package alone, in a development checkout (no
        `pyship_update.json`: installed from the wheel `cargo pyship
        updater-wheel` writes, not by a bundle)."""
        return not os.path.exists(self.config_path)

    def install_type(self):
        """`installer`, `msi`, `deb`, `portable-windows`, `portable-linux`,
        `docker` or `dev`."""
        # A bundle's own layout wins over /.dockerenv: a portable bundle
        # unpacked inside a container updates itself like anywhere else; the
        # app's Docker image (pip-installed, no bundle layout) does not.
        if not os.path.exists(self.config_path):
            # No config: the package itself in a development checkout (a
            # bundle and the app's Docker image always have one).
            return "dev"
        try:
            root = self.root()
            platform = self.config.get("platform")
        except UpdateError:
            root = platform = None
        if root and os.path.isdir(os.path.join(root, "app")) and os.path.isdir(os.path.join(root, "python")):
            # The MSI and the Debian package leave a marker naming themselves.
            marker = _read_marker(os.path.join(root, ".pyship-install"))
            if (platform, marker) in (("windows", "msi"), ("linux", "deb")):
                return marker
            if platform == "windows":
                if os.path.isfile(os.path.join(root, "uninstall.exe")):
                    return "installer"
                return "portable-windows"
            if platform == "linux":
                return "portable-linux"
        if self.in_container():
            return "docker"
        return "dev"

    def in_container(self):
        """Whether this process runs in a container: Docker's and Podman's
        marker files, or the variables Kubernetes and systemd-nspawn/Podman set."""
        if any(os.path.exists(p) for p in self.container_files):
            return True
        return any(self.environ.get(k) for k in CONTAINER_ENV)

    # -------------------------------------------------------------- http

    def _token(self):
        name = self.config.get("token_env")
        return self.environ.get(name) if name else None

    def _api_origin(self):
        api = self.config.get("api_url")
        return _origin(api) if isinstance(api, str) and api else None

    def _request(self, url, accept=None, deadline=None):
        """The response of `url`, its status line and headers read before
        `deadline` (monotonic; default: _SMALL_DEADLINE from now), and its
        body read against it too (see _DeadlineIO)."""
        check_url(url)
        req = urllib.request.Request(url)
        req.deadline = time.monotonic() + _SMALL_DEADLINE if deadline is None else deadline
        req.add_header("User-Agent", "pyship_update/%s" % self.config.get("version", "0"))
        if accept:
            req.add_header("Accept", accept)
        token = self._token()
        if token and _origin(url) == self._api_origin():
            scheme = "Bearer" if self.config.get("provider") == "github" else "token"
            # Only to the API's own origin; unredirected: a redirect (to a
            # CDN) never carries it.
            req.add_unredirected_header("Authorization", "%s %s" % (scheme, token))
        shown = _clean(_redact(url), 200)
        try:
            return _OPENER.open(req, timeout=_TIMEOUT)
        except urllib.error.HTTPError as e:
            body = ""
            try:
                raw = e.read(2000).decode("utf-8", "replace")
                message = json.loads(raw).get("message") if raw.startswith("{") else None
                body = message if isinstance(message, str) else raw
            except (ValueError, AttributeError, OSError, RecursionError, _Overdue):
                pass
            hint = "check the server URL and try again later; nothing was changed"
            if e.code in (401, 403, 404) and self.config.get("token_env") and not token:
                hint = "a private repository needs a token: set %s" % self.config["token_env"]
            elif e.code in (401, 403):
                hint = "check the token in %s" % (self.config.get("token_env") or "the token variable")
            raise UpdateError(
                "%s answered %d %s%s"
                % (shown, e.code, _clean(e.reason, 60), (": " + _clean(body, 200)) if body else ""),
                hint=hint,
            ) from None
        except urllib.error.URLError as e:
            raise UpdateError(
                "cannot reach %s: %s" % (shown, _clean(e.reason, 200)),
                hint="check the network connection and the server",
            ) from None
        except _Overdue as e:
            raise UpdateError("%s took too long to answer" % shown, hint=e.hint) from None
        except (OSError, ValueError, http.client.HTTPException) as e:
            raise UpdateError(
                "cannot reach %s: %s" % (shown, _clean(e, 200)),
                hint="check the network connection and the server",
            ) from None

    def _get_json(self, url, limit=_MAX_JSON):
        what = _clean(_redact(url), 200)
        deadline = time.monotonic() + _SMALL_DEADLINE
        try:
            with self._request(url, accept="application/json", deadline=deadline) as resp:
                data = _read_capped(resp, limit, deadline, what)
                total = resp.headers.get("X-Total-Count")
        except (OSError, ValueError, http.client.HTTPException) as e:
            raise UpdateError(
                "the answer of %s was cut off: %s" % (what, _clean(e, 200)),
                hint="check the network connection and try again later",
            ) from None
        try:
            total = int(total) if total is not None else None
        except ValueError:
            total = None
        return _parse_json(data, "the answer of %s" % what), total

    def _get_small(self, url, what, limit=_MAX_SMALL):
        deadline = time.monotonic() + _SMALL_DEADLINE
        try:
            with self._request(url, accept="application/octet-stream", deadline=deadline) as resp:
                return _read_capped(resp, limit, deadline, what)
        except (OSError, ValueError, http.client.HTTPException) as e:
            raise UpdateError(
                "the download of %s was cut off: %s" % (what, _clean(e, 200)),
                hint="check the network connection and try again later",
            ) from None

    def _where(self):
        cfg = self.config
        if not cfg.get("server_url") or not cfg.get("repo") or not cfg.get("api_url"):
            raise UpdateError(
                "this bundle does not know where its releases are (no server URL or repository at build time)",
                hint="set url and repo in [package.metadata.pyship.publish], or build in CI where GITHUB_SERVER_URL and GITHUB_REPOSITORY are set",
            )
        return cfg["api_url"].rstrip("/"), cfg["repo"]

    def releases(self):
        """Every release of the repository, newest first, as the API gives
        them (each checked to be a JSON object)."""
        api, repo = self._where()
        github = self.config.get("provider") == "github"
        out = []
        previous = None
        for page in range(1, 21):
            if github:
                url = "%s/repos/%s/releases?per_page=100&page=%d" % (api, repo, page)
            else:
                url = "%s/repos/%s/releases?limit=50&page=%d" % (api, repo, page)
            data, total = self._get_json(url)
            where = "the release list of %s (page %d)" % (repo, page)
            _typed(data, list, where)
            for i, rel in enumerate(data):
                _typed(rel, dict, "release %d of %s" % (i + 1, where))
            # A server that ignores `page` answers the same page for ever.
            if not data or data == previous:
                break
            previous = data
            out.extend(data)
            if total is not None and len(out) >= total:
                break
        return out

    # -------------------------------------------------------------- check

    def check(self, include_prerelease=None):
        """The newest release newer than this version, or `None`.

        Pre-releases count only with `include_prerelease=True`, or when the
        bundle's channel is `prerelease` and the argument is `None`."""
        if self.is_development():
            # Nothing to update: `apply()` refuses anyway.
            return None
        cfg = self.config
        if include_prerelease is None:
            include_prerelease = cfg.get("channel") == "prerelease"
        current = Version(cfg["version"])
        self.skipped_prereleases = []
        self.skipped_rolled_back = []
        self.skipped_rollout = []
        rolled_back = self.rolled_back()
        offered = []
        newer = []
        for i, rel in enumerate(self.releases()):
            where = "release %d of the release list" % (i + 1)
            if _field(rel, "draft", bool, where, optional=True):
                continue
            tag = _field(rel, "tag_name", str, where)
            try:
                v = Version(tag)
            except ValueError:
                # Not a version tag (`nightly`, `latest`): not an update.
                continue
            if v <= current:
                continue
            newer.append((v, rel))
            if (_field(rel, "prerelease", bool, "release %s" % tag, optional=True) or v.is_prerelease) and not include_prerelease:
                self.skipped_prereleases.append(tag)
                continue
            if v in rolled_back:
                self.skipped_rolled_back.append(tag)
                continue
            offered.append((v, rel))
        # Newest first; a release whose staged rollout leaves this install
        # out gives way to the next newest (a fully rolled-out one).
        for v, rel in sorted(offered, key=lambda c: c[0]._key, reverse=True):
            if self.public_keys():
                verified = self._verify_chain(newer, (v, rel))
                manifest = verified[1]
            else:
                verified = None
                manifest = self._fetch_manifest(rel)
            rollout = _rollout(manifest, "manifest.json of %s" % rel["tag_name"])
            if rollout < 1:
                draw = self.rollout_draw(rel["tag_name"])
                if draw >= rollout:
                    self.skipped_rollout.append((rel["tag_name"], rollout, draw))
                    continue
            return self._update_for(rel, v, verified, manifest)
        return None

    def install_id(self):
        """This install's random id (32 hex digits), made on first use and
        kept in :data:`INSTALL_ID` next to the app; an update never replaces
        it. A folder that cannot be written gets an id derived from its path
        (stable, though not random)."""
        path = os.path.join(self.root(), INSTALL_ID)
        for attempt in range(2):
            try:
                with open(path, "rb") as f:
                    text = f.read(64).decode("ascii", "replace").strip()
                if re.match(r"[0-9a-f]{32}\Z", text):
                    return text
            except OSError:
                pass
            if attempt:
                break
            tmp = "%s.%d-%d.tmp" % (path, os.getpid(), threading.get_ident())
            try:
                with open(tmp, "w", encoding="ascii", newline="\n") as f:
                    f.write(os.urandom(16).hex() + "\n")
                # Two first checks at once: the one renamed last wins, and
                # both read the winner's id back above.
                os.replace(tmp, path)
            except OSError:
                _remove(tmp)
        return hashlib.sha256(os.path.normcase(os.path.abspath(path)).encode("utf-8", "surrogateescape")).hexdigest()[:32]

    def rollout_draw(self, tag):
        """This install's draw for release `tag`, uniform in [0, 1): the
        release is offered when it is below the release's rollout fraction.
        Stable per install and tag, so raising the fraction only adds
        installs; another release draws anew."""
        digest = hashlib.sha256(("%s\n%s" % (self.install_id(), tag)).encode("ascii", "replace")).digest()
        return int.from_bytes(digest[:8], "big") / float(1 << 64)

    def rolled_back(self):
        """The versions an update to which was rolled back here (the helper
        notes them): check() skips them."""
        try:
            with open(os.path.join(self.staging(), ROLLED_BACK), "rb") as f:
                text = f.read(_MAX_SMALL).decode("utf-8", "replace")
        except OSError:
            return set()
        out = set()
        for line in text.splitlines():
            try:
                out.add(Version(line.strip()))
            except ValueError:
                continue
        return out

    # -------------------------------------------------------------- signatures

    def public_keys(self):
        """The keys this bundle was built to trust (`update.public-keys`);
        empty: releases are unsigned and checked by SHA-256 only."""
        keys = self.config.get("public_keys") or []
        if not isinstance(keys, list):
            raise UpdateError("public_keys in %s is not a list" % self.config_path, hint="rebuild the app with `cargo pyship bundle`")
        out = []
        for text in keys:
            try:
                out.append(_minisign.parse_public_key(text))
            except _minisign.MinisignError as e:
                raise UpdateError(
                    "public key %s in %s cannot be used: %s" % (_show(text), self.config_path, e),
                    hint="fix update.public-keys and rebuild the app",
                ) from None
        return out

    def trust_path(self):
        return os.path.join(self.root(), TRUST_FILE)

    def _load_trust(self):
        """Keys learned from signed releases ({text: version trusted from})
        and keys a signed release stopped trusting ({text: its version})."""
        try:
            with open(self.trust_path(), encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            return {}, {}
        except (OSError, ValueError) as e:
            raise UpdateError(
                "cannot read %s: %s" % (self.trust_path(), e),
                hint="delete it to trust only the keys this app was built with",
            ) from None
        where = self.trust_path()
        keys = {}
        for i, entry in enumerate(_field(data, "keys", list, where)):
            ew = "key %d of %s" % (i + 1, where)
            keys[_field(entry, "key", str, ew)] = _field(entry, "from", str, ew)
        revoked = {}
        for i, entry in enumerate(_field(data, "revoked", list, where)):
            ew = "revoked key %d of %s" % (i + 1, where)
            revoked[_field(entry, "key", str, ew)] = _field(entry, "at", str, ew)
        return keys, revoked

    def _save_trust(self, keys, revoked):
        """Write the trust file atomically (a temp file renamed over it)."""
        path = self.trust_path()
        body = {
            "schema": 1,
            "keys": [{"key": k, "from": v} for k, v in sorted(keys.items())],
            "revoked": [{"key": k, "at": v} for k, v in sorted(revoked.items())],
        }
        tmp = path + ".tmp"
        try:
            with open(tmp, "w", encoding="utf-8", newline="\n") as f:
                json.dump(body, f, indent=1)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError as e:
            _remove(tmp)
            raise UpdateError(
                "cannot write %s: %s" % (path, e),
                hint="check that the app's folder is writable",
            ) from None

    def _verify_chain(self, newer, target):
        """Verify the target release's signed manifest, walking the releases
        between this version and it (oldest first) for key rotations: a
        manifest verified by a trusted key makes the keys it lists trusted
        from its version on, and the trusted keys it leaves out untrusted.
        Returns the target's verified manifest as (bytes, object)."""
        target_v, target_rel = target
        learned, revoked = self._load_trust()
        current = Version(self.config["version"])
        trusted = {}  # keynum -> (PublicKey, from Version or None)
        for key in self.public_keys():
            # A key this bundle was built with stays trusted unless a signed
            # release newer than this bundle left it out.
            at = revoked.get(key.text)
            if at is None or not _newer(at, current):
                trusted[key.keynum] = (key, None)
        for text, frm in learned.items():
            try:
                key = _minisign.parse_public_key(text)
                trusted.setdefault(key.keynum, (key, Version(frm)))
            except (_minisign.MinisignError, ValueError):
                continue
        start = (dict(trusted), dict(revoked))
        result = None
        for v, rel in sorted(newer, key=lambda c: c[0]._key):
            if v > target_v:
                continue
            is_target = rel is target_rel
            try:
                data, manifest = self._signed_manifest(rel, v, trusted)
                listed = _field(manifest, "public_keys", list, "manifest.json of %s" % rel["tag_name"], optional=True)
                keys = [_minisign.parse_public_key(_typed(k, str, "a public key")) for k in listed or []]
                if listed is not None and not keys:
                    raise UpdateError(
                        "manifest.json of %s lists no public key" % rel["tag_name"],
                        hint="publish the release again with update.public-keys set",
                    )
            except (UpdateError, _minisign.MinisignError):
                if is_target:
                    raise
                # An intermediate release that does not verify adds no trust.
                continue
            if keys:
                now = set(k.keynum for k in keys)
                for keynum in list(trusted):
                    if keynum not in now:
                        revoked[trusted.pop(keynum)[0].text] = v.text
                for k in keys:
                    revoked.pop(k.text, None)
                    trusted.setdefault(k.keynum, (k, v))
            if is_target:
                result = (data, manifest)
                break
        if result is None:
            raise UpdateError("release %s was not found again" % target_rel["tag_name"], hint="try again")
        if (trusted, revoked) != start:
            base = set(k.text for k in self.public_keys())
            self._save_trust(
                {k.text: (frm.text if frm else "0") for k, frm in trusted.values() if k.text not in base or frm},
                revoked,
            )
        return result

    def _signed_manifest(self, rel, version, trusted):
        """(bytes, object) of `rel`'s manifest.json when its minisign
        signature is by a key of `trusted` (usable from `version`) and it
        names this app, this tag and this version."""
        tag = rel["tag_name"]
        where = "release %s" % tag
        listed = self._assets_of(rel, where)
        unsigned_hint = (
            "this app accepts only releases signed with one of its keys (%s); publish the release with "
            "`cargo pyship publish` and the signing key set" % ", ".join(k.key_id for k in self.public_keys())
        )
        sig_asset = self._one(listed, SIGNATURE_NAME, where, False)
        if sig_asset is None:
            raise UpdateError("%s is not signed (it has no %s); refusing it" % (where, SIGNATURE_NAME), hint=unsigned_hint)
        mwhere = "manifest.json of %s" % tag
        data = self._get_small(self._asset_url(self._one(listed, "manifest.json", where, True), where), mwhere)
        swhere = "%s of %s" % (SIGNATURE_NAME, tag)
        raw = self._get_small(self._asset_url(sig_asset, where), swhere, limit=64 << 10)
        try:
            sig = _minisign.parse_signature(raw)
        except _minisign.MinisignError as e:
            raise UpdateError("%s cannot be read: %s; refusing the release" % (swhere, e), hint=unsigned_hint) from None
        entry = trusted.get(sig.keynum)
        if entry is None or (entry[1] is not None and version < entry[1]):
            raise UpdateError(
                "%s is signed by key %s, which this app does not trust; refusing it" % (mwhere, sig.key_id),
                hint=unsigned_hint + "; a new key is trusted only when a release signed by a trusted key lists it",
            )
        try:
            sig.verify(entry[0], data)
        except _minisign.MinisignError as e:
            raise UpdateError(
                "the signature of %s does not verify (%s); refusing it" % (mwhere, e),
                hint="the release was changed after it was signed; nothing was changed here",
            ) from None
        manifest = _parse_json(data, mwhere)
        self._check_manifest(manifest, tag, version, mwhere, signed=True)
        return data, manifest

    def _check_manifest(self, manifest, tag, version, mwhere, signed=False):
        """The manifest describes release `tag` at `version` of this app."""
        _typed(manifest, dict, mwhere)
        schema = manifest.get("schema")
        if schema != MANIFEST_SCHEMA or isinstance(schema, bool):
            raise UpdateError(
                "%s has schema %s; this updater reads schema %d" % (mwhere, _show(schema), MANIFEST_SCHEMA),
                hint="update by hand from the release page",
            )
        mtag = _field(manifest, "tag", str, mwhere)
        if mtag != tag:
            raise UpdateError(
                "%s describes %s, not this release" % (mwhere, _show(mtag)),
                hint="the release was changed after publishing; publish it again",
            )
        spellings = _field(manifest, "version", dict, mwhere, optional=True) or {}
        pep440 = _field(spellings, "pep440", str, "version of %s" % mwhere, optional=signed is False)
        if pep440 is not None:
            try:
                same = Version(pep440) == version
            except ValueError:
                same = False
            if not same:
                raise UpdateError(
                    "%s says version %s, which is not the tag's version" % (mwhere, _show(pep440)),
                    hint="the release was changed after publishing; publish it again",
                )
        cfg = self.config
        for key, mine in (("name", cfg.get("name")), ("repo", cfg.get("repo"))):
            theirs = _field(manifest, key, str, mwhere, optional=not signed)
            if theirs is not None and isinstance(mine, str) and theirs.lower() != mine.lower():
                raise UpdateError(
                    "%s is for %s %s, not for this app (%s); refusing it" % (mwhere, key, _show(theirs), _show(mine)),
                    hint="the release server serves another app's release here; nothing was changed",
                )
        return pep440

    def _assets_of(self, rel, where):
        listed = {}
        for i, a in enumerate(_field(rel, "assets", list, where, optional=True) or []):
            aw = "asset %d of %s" % (i + 1, where)
            listed.setdefault(_field(a, "name", str, aw), []).append(a)
        return listed

    @staticmethod
    def _one(listed, asset_name, where, required):
        found = listed.get(asset_name) or []
        if len(found) > 1:
            raise UpdateError(
                "%s has %d assets named %s; refusing the update" % (where, len(found), asset_name),
                hint="delete the extra assets, or publish the release again with `cargo pyship publish`",
            )
        if not found and required:
            raise UpdateError(
                "%s has no %s, so its assets cannot be verified" % (where, asset_name),
                hint="publish the release with `cargo pyship publish`, which uploads manifest.json and SHA256SUMS",
            )
        return found[0] if found else None

    # -------------------------------------------------------------- the update

    def _fetch_manifest(self, rel):
        """The (unsigned) manifest.json of release `rel`, parsed."""
        tag = rel["tag_name"]
        where = "release %s" % tag
        mwhere = "manifest.json of %s" % tag
        asset = self._one(self._assets_of(rel, where), "manifest.json", where, True)
        manifest = _parse_json(self._get_small(self._asset_url(asset, where), mwhere), mwhere)
        return _typed(manifest, dict, mwhere)

    def _update_for(self, rel, version, verified=None, manifest=None):
        # The tag parsed as a version, so it is plain ASCII and safe to show.
        tag = rel["tag_name"]
        where = "release %s" % tag
        name = _field(rel, "name", str, where, optional=True)
        notes = _field(rel, "body", str, where, optional=True)
        page = _field(rel, "html_url", str, where, optional=True)
        if page is not None and not _PAGE_URL.match(page):
            # Shown only, and not signed: a page that is no web URL (a
            # `file:` or `javascript:` one, control characters) is left out.
            page = None
        listed = self._assets_of(rel, where)

        def one(asset_name, required):
            return self._one(listed, asset_name, where, required)

        mwhere = "manifest.json of %s" % tag
        if verified is not None:
            manifest = verified[1]
        elif manifest is None:
            manifest = self._fetch_manifest(rel)
        _typed(manifest, dict, mwhere)
        pep440 = self._check_manifest(manifest, tag, version, mwhere, signed=verified is not None)
        if pep440 is None:
            pep440 = tag[1:] if tag[:1] in "vV" else tag
        spellings = _field(manifest, "version", dict, mwhere, optional=True) or {}
        semver = _field(spellings, "semver", str, "version of %s" % mwhere, optional=True)
        if semver is not None and not _DISPLAY_VERSION.match(semver):
            raise UpdateError("%s has the semver version %s" % (mwhere, _show(semver)), hint=_MALFORMED_HINT)
        swhere = "SHA256SUMS of %s" % tag
        sums = _parse_sums(
            self._get_small(self._asset_url(one("SHA256SUMS", True), where), swhere).decode("utf-8", "replace"),
            swhere,
        )
        kind = self.install_type()
        update = dict(
            version=pep440,
            tag=tag,
            prerelease=bool(rel.get("prerelease")) or version.is_prerelease,
            name=name,
            notes=notes,
            url=page,
            install_type=kind,
            semver=semver,
        )
        entries = []
        for i, e in enumerate(_field(manifest, "assets", list, mwhere)):
            ewhere = "asset %d of %s" % (i + 1, mwhere)
            if _field(e, "install_type", str, ewhere) == kind:
                entries.append((e, ewhere))
        if not entries or kind == "deb":
            # A Debian package is updated by the package manager: the update
            # is reported, never downloaded (apply() refuses it).
            return Update(**update)
        if len(entries) > 1:
            raise UpdateError(
                "%s lists %d assets for install type %s; refusing the update" % (mwhere, len(entries), kind),
                hint="publish the release again with `cargo pyship publish`",
            )
        entry, ewhere = entries[0]
        asset = _asset_name(_field(entry, "name", str, ewhere), kind, ewhere)
        sha = _sha256_field(entry.get("sha256", _MISSING), "sha256 of %s" % ewhere)
        size = _size(entry.get("size", _MISSING), "size of %s" % ewhere)
        on_server = one(asset, False)
        if on_server is None:
            raise UpdateError(
                "%s lists %s, which the release does not have" % (mwhere, asset),
                hint="publish the release again with `cargo pyship publish`",
            )
        if sums.get(asset) != sha:
            raise UpdateError(
                "manifest.json and SHA256SUMS of %s disagree on the SHA-256 of %s; refusing the update"
                % (tag, asset),
                hint="the release was changed after publishing; publish it again",
            )
        server_size = _field(on_server, "size", int, "size of %s on %s" % (asset, where), optional=True)
        if server_size is not None and server_size != size:
            raise UpdateError(
                "%s of %s is %d bytes on the server but %d in manifest.json; refusing the update"
                % (asset, tag, server_size, size),
                hint="the release was changed after publishing; publish it again",
            )
        update.update(asset=asset, size=size, sha256=sha, download_url=self._asset_url(on_server, where))
        self.delta_note = None
        if entry.get("delta") is not None:
            try:
                update["delta"] = self._delta_of(entry["delta"], "delta of %s" % ewhere, tag, sums, one)
            except UpdateError as e:
                # The full archive stands on its own; a delta that cannot be
                # used is only not used.
                self.delta_note = e.message
        return Update(**update)

    def _delta_of(self, delta, dwhere, tag, sums, one):
        """The manifest's `delta` of an asset, checked like the asset itself."""
        _typed(delta, dict, dwhere)
        name = _field(delta, "name", str, dwhere)
        if not _plain(name) or not name.lower().endswith(".tar.gz"):
            raise UpdateError("%s names %s, which is not a plain .tar.gz file name" % (dwhere, _show(name)), hint=_MALFORMED_HINT)
        size = _size(delta.get("size", _MISSING), "size of %s" % dwhere)
        sha = _sha256_field(delta.get("sha256", _MISSING), "sha256 of %s" % dwhere)
        tree = _sha256_field(delta.get("tree_sha256", _MISSING), "tree_sha256 of %s" % dwhere)
        base = _field(delta, "base", str, dwhere)
        try:
            Version(base)
        except ValueError:
            raise UpdateError("%s has the base %s, which is not a version" % (dwhere, _show(base)), hint=_MALFORMED_HINT) from None
        on_server = one(name, False)
        if on_server is None:
            raise UpdateError("release %s does not have the delta %s" % (tag, name), hint=_MALFORMED_HINT)
        if sums.get(name) != sha:
            raise UpdateError("SHA256SUMS of %s disagrees on the SHA-256 of %s" % (tag, name), hint=_MALFORMED_HINT)
        server_size = _field(on_server, "size", int, "size of %s" % name, optional=True)
        if server_size is not None and server_size != size:
            raise UpdateError("%s is %d bytes on the server but %d in manifest.json" % (name, server_size, size), hint=_MALFORMED_HINT)
        return dict(
            name=name,
            size=size,
            sha256=sha,
            base=base,
            tree_sha256=tree,
            download_url=self._asset_url(on_server, "release %s" % tag),
        )

    def _asset_url(self, asset, where):
        aw = "asset %s of %s" % (_show(asset.get("name")), where)
        if self.config.get("provider") == "github" and self._token():
            # Private GitHub repositories serve assets through the API.
            url = _field(asset, "url", str, aw, optional=True)
            if url:
                return url
        return _field(asset, "browser_download_url", str, aw)

    def _check_update(self, update):
        """Refuse an :class:`Update` whose asset fields are not what check() makes."""
        if update.asset is None:
            raise UpdateError(
                "release %s has no asset for this install type (%s)" % (update.tag, update.install_type),
                hint=_manual_hint(update),
            )
        _asset_name(update.asset, self.install_type(), "the update")
        _size(update.size, "the size of the update")
        _sha256_field(update.sha256, "the SHA-256 of the update")
        _typed(update.download_url, str, "the download URL of the update")

    # -------------------------------------------------------------- download

    def download(self, update, progress=None):
        """Stream the asset into the staging folder and verify its size and
        SHA-256. Returns its path. On any failure what it wrote is removed.
        `progress(done, total)` is called as bytes arrive."""
        return self._download(update, progress)[0]

    def _download(self, update, progress):
        """(path, whether this call wrote it)."""
        self._check_update(update)
        return self._download_asset(update.asset, update.size, update.sha256, update.download_url, progress)

    def _download_asset(self, name, size, sha256, url, progress):
        """Download asset `name` of `size` bytes and SHA-256 `sha256` from
        `url` into the staging folder: (path, whether this call wrote it)."""
        update = _Asset(name, size, sha256, url)
        staging = self.staging()
        created = not os.path.isdir(staging)
        os.makedirs(staging, exist_ok=True)
        final = os.path.join(staging, update.asset)
        if os.path.isfile(final) and not os.path.islink(final) and _sha256(final) == update.sha256:
            return final, False
        # Its own partial file: another download of the same asset (another
        # thread) neither shares nor deletes it.
        part = "%s.%d-%d.part" % (final, os.getpid(), threading.get_ident())
        deadline = time.monotonic() + _DOWNLOAD_DEADLINE + update.size / _MIN_RATE
        try:
            done = 0
            digest = hashlib.sha256()
            _remove(part)
            with self._request(update.download_url, "application/octet-stream", deadline) as resp, open(part, "xb") as out:
                while True:
                    chunk = _read1(resp, _CHUNK, deadline)
                    if chunk is None:
                        raise UpdateError(
                            "the download of %s is too slow (%d of %d bytes)" % (update.asset, done, update.size),
                            hint="try again later; nothing was changed",
                        )
                    if not chunk:
                        break
                    done += len(chunk)
                    if done > update.size:
                        raise UpdateError(
                            "%s is larger than the %d bytes manifest.json says; refusing it" % (update.asset, update.size),
                            hint="the asset on the server was changed after publishing; nothing was changed here",
                        )
                    digest.update(chunk)
                    out.write(chunk)
                    if progress is not None:
                        progress(done, update.size)
            if done != update.size:
                raise UpdateError(
                    "the download of %s stopped after %d of %d bytes" % (update.asset, done, update.size),
                    hint="try again later; nothing was changed",
                )
            got = digest.hexdigest()
            if got != update.sha256:
                raise UpdateError(
                    "%s does not match its SHA-256 (manifest.json: %s, downloaded: %s); refusing it"
                    % (update.asset, update.sha256, got),
                    hint="the asset on the server was changed after publishing; nothing was changed here",
                )
            os.replace(part, final)
            return final, True
        except BaseException as e:
            _remove(part)
            if created:
                shutil.rmtree(staging, ignore_errors=True)
            if isinstance(e, UpdateError) or not isinstance(e, Exception):
                raise
            raise UpdateError(
                "the download of %s failed: %s" % (update.asset, _clean(e, 200)),
                hint="try again later; nothing was changed",
            ) from None

    # -------------------------------------------------------------- apply

    def apply(self, update, progress=None, port=None, pid=None):
        """Download (when not done yet), unpack next to the app, and start the
        detached helper that swaps the folders once process `pid` (default:
        this one) has exited. Returns the helper's log file. The caller exits
        next. `port` overrides the configured port the helper waits on."""
        kind = self.install_type()
        release_page = (None if self.is_development() else self.config.get("releases_url")) or "the releases page"
        if kind == "docker":
            raise UpdateError(
                "this app runs in a Docker container, which does not update itself",
                hint="pull the new image (%s) and recreate the container" % update.tag,
            )
        if kind == "deb":
            raise UpdateError(
                "this app was installed with its Debian package, which only the package manager updates",
                hint="install %s's .deb with the package manager (sudo apt install ./%s), from %s"
                % (update.tag, update.asset or "the new .deb", release_page),
            )
        if kind == "dev":
            raise UpdateError(
                "this copy is not an installed bundle (install type dev), so it is not updated in place",
                hint="update the source checkout, or download %s from %s"
                % (getattr(update, "tag", None) or "the new version", release_page),
            )
        self._check_update(update)
        staging = self.staging()
        created = not os.path.isdir(staging)
        os.makedirs(staging, exist_ok=True)
        lock = os.path.join(staging, "lock")
        self._lock(lock)
        handed_over = False
        new_dir = os.path.join(staging, "new")
        path = None
        fresh = False
        wrote = []
        try:
            top = None
            note = None
            # An NSIS-installed app is patched like a portable one (the setup
            # installs the Windows bundle's tree), then its Add/Remove
            # Programs entry is brought to the new version.
            entry_key = None
            full = "full setup" if kind in ("installer", "msi") else "full archive"
            usable, note = self._delta_usable(update, kind)
            if usable and kind == "installer":
                entry_key = self.uninstall_entry()
                if entry_key is None:
                    usable = False
                    note = "no single Add/Remove Programs entry names %s, which the delta cannot update; downloaded the full setup" % self.root()
            if usable:
                try:
                    path, fresh, top = self._apply_delta(update, progress, new_dir, wrote)
                    if kind == "installer":
                        self._as_installed(top)
                    note = "downloaded the delta %s (%d bytes; the %s is %d)" % (
                        update.delta["name"],
                        update.delta["size"],
                        full,
                        update.size,
                    )
                except UpdateError as e:
                    shutil.rmtree(new_dir, ignore_errors=True)
                    if fresh and path in wrote:
                        _remove(path)
                        wrote.remove(path)
                    path, fresh, top = None, False, None
                    note = "the delta was not used (%s); downloaded the %s" % (e.message, full)
            if top is None:
                path, fresh = self._download(update, progress)
                if note is None:
                    note = "downloaded the %s %s (%d bytes)" % (full, update.asset, update.size)
            self.last_download = note
            env = dict(self.environ)
            env.update(
                PYSHIP_ROOT=self.root(),
                PYSHIP_STAGE=staging,
                PYSHIP_TAG=update.tag,
                PYSHIP_ARCHIVE=path,
                PYSHIP_PID=str(pid if pid is not None else os.getpid()),
                PYSHIP_PORT=str(port if port is not None else (self.config.get("port") or "")),
                PYSHIP_TIMEOUT=str(self.config.get("start_timeout") or 60),
                PYSHIP_LAUNCHER=self.launcher_in_use(),
                PYSHIP_MODULE=self.config.get("module") or "",
            )
            for k in list(env):
                # The helper starts the app; a token has no business there.
                if k == self.config.get("token_env"):
                    del env[k]
            runtime = os.path.join(self.root(), "python")
            if kind in ("installer", "msi") and top is None:
                shutil.rmtree(new_dir, ignore_errors=True)
                env.update(PYSHIP_MODE=kind, PYSHIP_SETUP=path)
            else:
                if top is None:
                    shutil.rmtree(new_dir, ignore_errors=True)
                    top = _extract(path, new_dir, update.asset)
                entries = sorted(n for n in os.listdir(top) if n.lower() not in KEEP)
                for e in entries:
                    _entry_name(e, update.asset)
                self._check_new_bundle(top, update.asset)
                entries_txt = os.path.join(staging, "entries.txt")
                wrote.append(entries_txt)
                with open(entries_txt, "w", encoding="utf-8", newline="\n") as f:
                    f.write("".join(e + "\n" for e in entries))
                env.update(PYSHIP_MODE="portable", PYSHIP_NEW=top)
                if entry_key is not None:
                    env.update(
                        PYSHIP_UNINSTALL_KEY=entry_key,
                        PYSHIP_DISPLAY_VERSION=update.semver,
                        PYSHIP_FROM=self.config.get("version") or "",
                    )
                runtime = os.path.join(top, "python")
            here = os.path.dirname(os.path.abspath(__file__))
            wrote.append(os.path.join(staging, "helper.py"))
            shutil.copyfile(os.path.join(here, "_helper.py"), wrote[-1])
            log = os.path.join(staging, "update.log")
            if note:
                with open(log, "a", encoding="utf-8") as f:
                    f.write("[%s] %s\n" % (time.strftime("%Y-%m-%d %H:%M:%S"), note))
            if os.name == "nt":
                helper = self._start_windows_helper(runtime, env, staging)
            else:
                script = os.path.join(staging, "update.sh")
                wrote.append(script)
                shutil.copyfile(os.path.join(here, "update.sh"), script)
                helper = self._start_helper(script, env, staging, log)
            self._write_lock(lock, helper=helper)
            handed_over = True
            return log
        finally:
            if not handed_over:
                shutil.rmtree(new_dir, ignore_errors=True)
                shutil.rmtree(os.path.join(staging, "runtime"), ignore_errors=True)
                for p in wrote:
                    _remove(p)
                if fresh and path:
                    _remove(path)
                _remove(lock)
                if created:
                    shutil.rmtree(staging, ignore_errors=True)
            self._unheld(lock)

    def _delta_usable(self, update, kind):
        """(whether `update`'s delta applies to this install, why not)."""
        d = update.delta
        if not d:
            return False, None
        if kind not in ("portable-windows", "portable-linux", "installer"):
            return False, None
        try:
            same = Version(d["base"]) == Version(self.config["version"])
        except (ValueError, KeyError, TypeError):
            same = False
        if not same:
            return False, "the delta applies to %s, not to this version (%s); downloaded the %s" % (
                _show(d.get("base")),
                _show(self.config.get("version")),
                "full setup" if kind == "installer" else "full archive",
            )
        return True, None

    def _apply_delta(self, update, progress, new_dir, wrote):
        """Download `update`'s delta and rebuild the new bundle from this
        installed one plus the patch into `new_dir`; returns (patch path,
        whether this call downloaded it, the new bundle's top folder). Any
        mismatch is an `UpdateError` (the caller falls back to the full
        archive). The rebuilt tree must hash to the signed manifest's
        `tree_sha256`: what a fresh install of the full archive holds."""
        d = update.delta
        name = d["name"]
        path, fresh = self._download_asset(name, d["size"], d["sha256"], d["download_url"], progress)
        if fresh:
            wrote.append(path)
        patch_dir = os.path.join(self.staging(), "delta")
        shutil.rmtree(patch_dir, ignore_errors=True)
        try:
            ptop = _extract(path, patch_dir, name)
            top = _rebuild(ptop, self.root(), new_dir, d, self.config["version"], name, self.config.get("platform") == "windows")
        except BaseException as e:
            if fresh:
                _remove(path)
                wrote.remove(path)
            if isinstance(e, UpdateError) or not isinstance(e, Exception):
                raise
            # Whatever else a hostile index makes the file system refuse
            # (two names Windows takes for one, a name too long): the full
            # archive is used.
            raise UpdateError(
                "cannot rebuild the new version from %s: %s" % (name, _clean(str(e) or type(e).__name__, 200)),
                hint="the full archive is used",
            ) from None
        finally:
            shutil.rmtree(patch_dir, ignore_errors=True)
        return path, fresh, top

    def uninstall_entry(self):
        """The name of the Add/Remove Programs entry (HKCU) whose
        `InstallLocation` is this app's folder, as the NSIS installer wrote
        it; `None` when there is none, or more than one (Windows only)."""
        if os.name != "nt":
            return None
        import winreg

        root = os.path.normcase(os.path.abspath(self.root())).rstrip("\\/")
        found = []
        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, UNINSTALL_KEY) as parent:
                for i in range(winreg.QueryInfoKey(parent)[0]):
                    name = winreg.EnumKey(parent, i)
                    try:
                        with winreg.OpenKey(parent, name) as k:
                            where = winreg.QueryValueEx(k, "InstallLocation")[0]
                    except OSError:
                        continue
                    if isinstance(where, str) and os.path.normcase(os.path.abspath(where)).rstrip("\\/") == root:
                        found.append(name)
        except OSError:
            return None
        return found[0] if len(found) == 1 else None

    def _as_installed(self, top):
        """Make the rebuilt bundle at `top` what the setup installs (it
        leaves out top-level folders that hold no file) and check that it
        replaces exactly the installed entries: the installed uninstaller
        removes those by name, so a new or dropped entry needs the full setup."""
        for name in os.listdir(top):
            path = os.path.join(top, name)
            if os.path.isdir(path) and not os.path.islink(path) and not any(files for _, _, files in os.walk(path)):
                shutil.rmtree(path)
        new = set(n.lower() for n in os.listdir(top) if n.lower() not in KEEP)
        installed = set(n.lower() for n in os.listdir(self.root()) if n.lower() not in KEEP and n.lower() != "uninstall.exe")
        if new != installed:
            raise UpdateError(
                "the new version's top-level entries differ from the installed ones (%s), which its uninstaller removes by name"
                % ", ".join(sorted(new ^ installed)),
                hint="the full setup is used",
            )

    def launcher_in_use(self, executable=None, console=None):
        """How the helper starts the new version: the way this process was
        started, so the app comes back as the user started it. On Windows
        `pythonw` (the app runs from pythonw.exe), `console` (python.exe
        with a console window: scripts\\start.bat or a prompt) or the
        configured launcher (python.exe without a console: the hidden
        start-hidden.vbs launcher); on Linux the configured one (run.sh)."""
        configured = self.config.get("launcher") or ""
        if self.config.get("platform") != "windows":
            return configured
        exe = os.path.basename(executable or sys.executable or "").lower()
        if exe == "pythonw.exe":
            return "pythonw"
        if exe == "python.exe":
            if console is None:
                console = _has_console()
            if console:
                return "console"
        return configured

    def _check_new_bundle(self, top, archive):
        """The unpacked bundle has what the helper runs: its interpreter and launcher."""
        if self.config.get("platform") == "windows":
            needed = ["app", "python/python.exe"]
            launcher = self.config.get("launcher")
            needed.append("python/pythonw.exe" if launcher == "pythonw" else "scripts/start-hidden.vbs")
        else:
            needed = ["app", "python/bin/python3", "run.sh"]
        for rel in needed:
            p = os.path.join(top, *rel.split("/"))
            ok = os.path.isdir(p) if rel == "app" else os.path.isfile(p)
            if ok and os.name != "nt" and not rel.endswith((".exe", ".vbs")) and rel != "app":
                ok = os.access(p, os.X_OK)
            if not ok:
                raise UpdateError(
                    "%s has no %s%s; refusing it" % (archive, rel, "/ folder" if rel == "app" else " (or it is not runnable)"),
                    hint="the new release's bundle is incomplete; nothing was changed. Publish a complete bundle",
                )

    def _start_windows_helper(self, runtime, env, staging):
        """Copy what the helper needs of `runtime` (the new one, or the
        installed one for a setup) into the staging folder and start
        `helper.py run` with it, detached; returns its process id. The
        program and its arguments go to CreateProcess as they are (no
        cmd.exe), so any folder name Windows allows works."""
        import fnmatch

        dest = os.path.join(staging, "runtime")
        # Left from the last update (the helper cannot delete the runtime it runs on).
        shutil.rmtree(dest, ignore_errors=True)
        os.makedirs(dest, exist_ok=True)
        for name in os.listdir(runtime):
            src = os.path.join(runtime, name)
            if os.path.isfile(src) and not any(fnmatch.fnmatch(name.lower(), p) for p in _HELPER_RUNTIME_SKIP):
                shutil.copyfile(src, os.path.join(dest, name))
        python = os.path.join(dest, "python.exe")
        if not os.path.isfile(python):
            raise UpdateError(
                "%s has no python.exe to run the update helper with" % runtime,
                hint="the bundle is incomplete; nothing was changed. Reinstall the app",
            )
        flags = 0x08000000 | 0x00000200  # CREATE_NO_WINDOW | CREATE_NEW_PROCESS_GROUP
        proc = subprocess.Popen(
            [python, "-I", "-B", os.path.join(staging, "helper.py"), "run"],
            env=env,
            cwd=staging,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            creationflags=flags,
            close_fds=True,
        )
        return proc.pid

    def _start_helper(self, script, env, staging, log):
        """Start the helper script detached (Linux); returns its process id."""
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                ["/bin/sh", script],
                env=env,
                cwd=staging,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        return proc.pid

    def _lock(self, lock):
        key = os.path.normcase(os.path.abspath(lock))
        busy = UpdateError(
            "another update is already running (lock file %s)" % lock,
            hint="wait for it to finish; delete the lock file only if no update is running",
        )
        with _HELD_GUARD:
            if key in _HELD:
                # apply() in another thread of this process.
                raise busy
            _HELD.add(key)
        try:
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if not self._stale(lock):
                    raise busy from None
                _remove(lock)
                try:
                    fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                except FileExistsError:
                    # Another process took it in between.
                    raise busy from None
            with os.fdopen(fd, "w") as f:
                json.dump({"pid": os.getpid(), "started": time.time()}, f)
        except BaseException:
            self._unheld(lock)
            raise

    @staticmethod
    def _unheld(lock):
        with _HELD_GUARD:
            _HELD.discard(os.path.normcase(os.path.abspath(lock)))

    def _write_lock(self, lock, helper):
        with open(lock, "w") as f:
            json.dump({"pid": os.getpid(), "helper": helper, "started": time.time()}, f)

    def _stale(self, lock):
        from . import _helper

        try:
            with open(lock) as f:
                info = json.load(f)
        except (OSError, ValueError):
            info = {}
        if not isinstance(info, dict):
            info = {}
        owners = [p for p in (info.get("helper"), info.get("pid")) if isinstance(p, int) and not isinstance(p, bool)]
        if any(p != os.getpid() and _helper.pid_alive(p) for p in owners):
            return False
        started = info.get("started")
        if not owners and isinstance(started, (int, float)):
            return time.time() - started > _STALE_LOCK_SECONDS
        return True


def _rollout(manifest, where):
    """The staged-rollout fraction of a release (its manifest's `rollout`,
    0 < r <= 1; absent: 1, everyone)."""
    value = manifest.get("rollout", _MISSING)
    if value is _MISSING or value is None:
        return 1.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise UpdateError(
            "rollout of %s is %s, expected a fraction above 0 and at most 1" % (where, _show(value)),
            hint=_MALFORMED_HINT,
        )
    return float(value)


def _has_console():
    """Whether this Windows process shows a console window (start-hidden.vbs
    gives python.exe a hidden one, which does not count)."""
    if os.name != "nt":
        return False
    try:
        import ctypes

        window = ctypes.windll.kernel32.GetConsoleWindow()
        return bool(window) and bool(ctypes.windll.user32.IsWindowVisible(window))
    except (AttributeError, OSError):
        return False


def _newer(text, version):
    """Whether the version `text` is newer than `version` (not a version: no)."""
    try:
        return Version(text) > version
    except ValueError:
        return False


def _manual_hint(update):
    return "download it from %s" % (update.url or "the release page")


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


# ------------------------------------------------------------------ extraction


def _member_parts(name, archive, windows=False):
    """The path components of archive member `name`: relative, `/`-separated,
    no empty, `.` or `..` component, no backslash, colon or control
    character, no component ending in `.` or a space (Windows drops those);
    with `windows`, no device name (`CON`, `nul.txt`) either."""
    if not isinstance(name, str) or not name or len(name) > 4096:
        raise _refuse(archive, name, "has an unusable name")
    parts = name.rstrip("/").split("/")
    while parts and parts[0] == ".":
        parts = parts[1:]
    if not parts:
        raise _refuse(archive, name, "has no name")
    for p in parts:
        if (
            p in ("", ".", "..")
            or "\\" in p
            or ":" in p
            or any(ord(c) < 32 or ord(c) == 127 for c in p)
            or p.endswith((".", " "))
        ):
            raise _refuse(archive, name, "would be written outside its folder or under another name")
        if windows and p.split(".")[0].lower() in _DEVICES:
            raise _refuse(archive, name, "is a Windows device name")
    return parts


def _refuse(archive, member, reason):
    return UpdateError(
        "%s: the entry %s %s; refusing it" % (archive, _show(member, 120), reason),
        hint="the release's archive is not one cargo-pyship builds; nothing was changed",
    )


def _link_inside(parts, target, archive, member):
    """A symlink at `parts` pointing to `target` stays inside the bundle's
    top folder (`parts[0]`): relative, `..` only at the start. With no
    symlink among its parents this lexical check is exact."""
    if not target or target.startswith("/") or "\\" in target or ":" in target or "\0" in target:
        raise _refuse(archive, member, "is a link to %s" % _show(target))
    depth = len(parts) - 1
    descended = False
    for c in target.split("/"):
        if c in ("", "."):
            continue
        if c == "..":
            if descended:
                raise _refuse(archive, member, "is a link to %s" % _show(target))
            depth -= 1
            if depth < 1:
                raise _refuse(archive, member, "is a link to %s, outside its folder" % _show(target))
        else:
            descended = True
            depth += 1


def _make_parents(dest, parts, made, archive, member):
    """Create the folders of `parts[:-1]` below `dest`; none may be a link."""
    path = dest
    for i, p in enumerate(parts[:-1]):
        path = os.path.join(path, p)
        key = tuple(parts[: i + 1])
        kind = made.get(key)
        if kind is None:
            os.mkdir(path, 0o755)
            made[key] = "dir"
        elif kind != "dir":
            raise _refuse(archive, member, "would be written through a link or file")
    return os.path.join(path, parts[-1])


def _write_stream(src, path, mode, budget, archive, member):
    """Copy `src` to the new file `path`; returns the bytes left in `budget`."""
    with open(path, "xb") as out:
        while True:
            chunk = src.read(_CHUNK)
            if not chunk:
                break
            budget -= len(chunk)
            if budget < 0:
                raise _refuse(archive, member, "unpacks to more than the update may write")
            out.write(chunk)
    if os.name != "nt":
        os.chmod(path, mode)
    return budget


def _extract(archive, dest, shown=None):
    """Unpack `archive` into the new folder `dest`; returns its single
    top-level folder. Refuses (with `UpdateError`) any member or link that
    would land or point outside that folder, special files, duplicates,
    and more than 32 bytes unpacked per archive byte (plus 256 MiB)."""
    shown = shown or os.path.basename(archive)
    os.makedirs(dest)
    budget = 32 * os.path.getsize(archive) + (256 << 20)
    # Member path (tuple of parts) -> "dir", "file" or "link".
    made = {}
    files = {}
    try:
        if archive.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as z:
                infos = z.infolist()
                if len(infos) > _MAX_MEMBERS:
                    raise _refuse(shown, "", "is one of too many entries")
                for info in infos:
                    parts = _member_parts(info.filename, shown, windows=True)
                    key = tuple(parts)
                    if info.is_dir():
                        if made.get(key, "dir") != "dir":
                            raise _refuse(shown, info.filename, "appears twice")
                        if key not in made:
                            _make_parents(dest, parts + ["x"], made, shown, info.filename)
                        continue
                    if key in made:
                        raise _refuse(shown, info.filename, "appears twice")
                    path = _make_parents(dest, parts, made, shown, info.filename)
                    made[key] = "file"
                    with z.open(info) as src:
                        budget = _write_stream(src, path, 0o644, budget, shown, info.filename)
        else:
            with tarfile.open(archive, "r:*") as t:
                count = 0
                for m in t:
                    count += 1
                    if count > _MAX_MEMBERS:
                        raise _refuse(shown, m.name, "is one of too many entries")
                    parts = _member_parts(m.name, shown)
                    key = tuple(parts)
                    if m.isdir():
                        if made.get(key, "dir") != "dir":
                            raise _refuse(shown, m.name, "appears twice")
                        if key not in made:
                            _make_parents(dest, parts + ["x"], made, shown, m.name)
                        continue
                    if key in made:
                        raise _refuse(shown, m.name, "appears twice")
                    path = _make_parents(dest, parts, made, shown, m.name)
                    mode = 0o755 if m.mode & 0o111 else 0o644
                    if m.issym():
                        _link_inside(parts, m.linkname, shown, m.name)
                        os.symlink(m.linkname, path)
                        made[key] = "link"
                    elif m.islnk():
                        # tarfile names a hard link's target from the archive root.
                        target = tuple(_member_parts(m.linkname, shown))
                        if made.get(target) != "file" or target[0] != parts[0]:
                            raise _refuse(shown, m.name, "is a hard link to %s, not to a file before it in its folder" % _show(m.linkname))
                        with open(files[target], "rb") as src:
                            budget = _write_stream(src, path, mode, budget, shown, m.name)
                        made[key] = "file"
                        files[key] = path
                    elif m.isfile():
                        src = t.extractfile(m)
                        budget = _write_stream(src, path, mode, budget, shown, m.name)
                        made[key] = "file"
                        files[key] = path
                    else:
                        raise _refuse(shown, m.name, "is not a file, folder or link")
    except UpdateError:
        raise
    except Exception as e:
        # Whatever a malformed archive makes zipfile, tarfile, gzip or zlib raise.
        raise UpdateError(
            "cannot unpack %s: %s" % (shown, _clean(str(e) or type(e).__name__, 200)),
            hint="the download is damaged or not an archive cargo-pyship builds; nothing was changed",
        ) from None
    tops = os.listdir(dest)
    if len(tops) != 1 or made.get((tops[0],)) != "dir":
        raise UpdateError(
            "%s does not hold exactly one folder; refusing it" % shown,
            hint="the release's archive is not one cargo-pyship builds; nothing was changed",
        )
    return os.path.join(dest, tops[0])


# ------------------------------------------------------------------ delta updates


class _Asset:
    """What `_download_asset` fetches (an asset or a delta)."""

    def __init__(self, asset, size, sha256, download_url):
        self.asset = asset
        self.size = size
        self.sha256 = sha256
        self.download_url = download_url


def _tree_sha256(top, windows):
    """The tree hash of the folder `top`: SHA-256 over one line per entry
    below it, sorted by path (`D path`, `F path sha256 x|-`, `L path
    target`); `cargo pyship publish` computes the same from the archive."""
    lines = []
    for d, dirs, files in os.walk(top):
        for n in dirs + files:
            p = os.path.join(d, n)
            rel = os.path.relpath(p, top).replace(os.sep, "/")
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                lines.append((rel, "L %s %s\n" % (rel, os.readlink(p))))
            elif stat.S_ISDIR(st.st_mode):
                lines.append((rel, "D %s\n" % rel))
            else:
                x = "x" if not windows and st.st_mode & 0o111 else "-"
                lines.append((rel, "F %s %s %s\n" % (rel, _sha256(p), x)))
    h = hashlib.sha256()
    for _, line in sorted(lines):
        h.update(line.encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def _rebuild(ptop, root, new_dir, delta, version, name, windows):
    """Build the new bundle in `new_dir` from the unpacked patch `ptop`
    (`delta.json` and `objects/`) and the installed bundle at `root`;
    returns its top folder. Every name is checked as the extractor checks
    archive members, every file's content against its SHA-256 and size as
    it is written, and the whole tree against `delta`'s `tree_sha256`."""
    if os.path.basename(ptop) != "delta":
        raise _refuse(name, os.path.basename(ptop), "is not the patch's folder")
    index_path = os.path.join(ptop, "delta.json")
    if not os.path.isfile(index_path) or os.path.islink(index_path):
        raise _refuse(name, "delta/delta.json", "is missing")
    with open(index_path, "rb") as f:
        data = f.read(_MAX_JSON + 1)
    if len(data) > _MAX_JSON:
        raise _refuse(name, "delta/delta.json", "is too large")
    where = "delta.json of %s" % name
    index = _typed(_parse_json(data, where), dict, where)
    if index.get("schema") != 1 or isinstance(index.get("schema"), bool):
        raise UpdateError("%s has schema %s; this updater reads 1" % (where, _show(index.get("schema"))), hint=_MALFORMED_HINT)
    base = _field(_field(index, "base", dict, where), "version", str, "base of " + where)
    try:
        same = Version(base) == Version(version)
    except ValueError:
        same = False
    if not same:
        raise UpdateError("%s applies to version %s, not to %s" % (where, _show(base), _show(version)), hint=_MALFORMED_HINT)
    if _field(index, "tree_sha256", str, where) != delta["tree_sha256"]:
        raise UpdateError("%s describes another tree than the signed manifest" % where, hint=_MALFORMED_HINT)
    top = _field(index, "top", str, where)
    if len(_member_parts(top, name, windows)) != 1 or not _plain(top):
        raise _refuse(name, top, "is not a plain top folder name")
    objects = os.path.join(ptop, "objects")
    reuse = _field(index, "reuse", dict, where)
    os.makedirs(new_dir)
    dest = os.path.join(new_dir, top)
    os.mkdir(dest, 0o755)
    made = {(top,): "dir"}
    for i, p in enumerate(_field(index, "dirs", list, where)):
        parts = [top] + _member_parts(_typed(p, str, "dir %d of %s" % (i + 1, where)), name, windows)
        if tuple(parts) in made:
            raise _refuse(name, p, "appears twice")
        _make_parents(new_dir, parts + ["x"], made, name, p)
    budget = _MAX_ASSET
    for i, entry in enumerate(_field(index, "files", list, where)):
        ew = "file %d of %s" % (i + 1, where)
        _typed(entry, list, ew)
        if len(entry) != 4:
            raise UpdateError("%s is not [path, sha256, size, executable]" % ew, hint=_MALFORMED_HINT)
        rel = _typed(entry[0], str, "path of " + ew)
        sha = _sha256_field(entry[1], "sha256 of " + ew)
        size = _typed(entry[2], int, "size of " + ew)
        execute = _typed(entry[3], bool, "executable of " + ew)
        if size < 0:
            raise UpdateError("%s has a negative size" % ew, hint=_MALFORMED_HINT)
        budget -= size
        if budget < 0:
            raise _refuse(name, rel, "makes the new version larger than an update may write")
        parts = [top] + _member_parts(rel, name, windows)
        if tuple(parts) in made:
            raise _refuse(name, rel, "appears twice")
        target = _make_parents(new_dir, parts, made, name, rel)
        made[tuple(parts)] = "file"
        src = os.path.join(objects, sha)
        if not os.path.isfile(src) or os.path.islink(src):
            from_path = reuse.get(sha)
            if not isinstance(from_path, str):
                raise _refuse(name, rel, "has content neither the patch nor the installed version has")
            src = _installed_file(root, _member_parts(from_path, name, windows), name, from_path)
        _copy_checked(src, target, sha, size, 0o755 if execute else 0o644, name, rel)
    for i, entry in enumerate(_field(index, "links", list, where)):
        lw = "link %d of %s" % (i + 1, where)
        _typed(entry, list, lw)
        if len(entry) != 2 or windows:
            raise UpdateError("%s is not a link this bundle can have" % lw, hint=_MALFORMED_HINT)
        rel = _typed(entry[0], str, "path of " + lw)
        link = _typed(entry[1], str, "target of " + lw)
        parts = [top] + _member_parts(rel, name)
        if tuple(parts) in made:
            raise _refuse(name, rel, "appears twice")
        _link_inside(parts, link, name, rel)
        os.symlink(link, _make_parents(new_dir, parts, made, name, rel))
        made[tuple(parts)] = "link"
    got = _tree_sha256(dest, windows)
    if got != delta["tree_sha256"]:
        raise UpdateError(
            "the version rebuilt from %s does not hash to the release's tree (%s, expected %s)" % (name, got, delta["tree_sha256"]),
            hint="a file of the installed version differs from the release; the full archive is used",
        )
    return dest


def _installed_file(root, parts, name, shown):
    """The installed bundle's file at `parts` (below `root`): a regular file
    reached through folders only, never in data/, logs/ or the staging folder."""
    if parts[0].lower() in KEEP:
        raise _refuse(name, shown, "names a file an update does not read")
    path = root
    for p in parts[:-1]:
        path = os.path.join(path, p)
        if os.path.islink(path) or not os.path.isdir(path):
            raise _refuse(name, shown, "is not a file of the installed version")
    path = os.path.join(path, parts[-1])
    if os.path.islink(path) or not os.path.isfile(path):
        raise _refuse(name, shown, "is not a file of the installed version")
    return path


def _copy_checked(src, target, sha, size, mode, name, shown):
    """Copy `src` to the new file `target`; its content must be `size` bytes
    with SHA-256 `sha`."""
    h = hashlib.sha256()
    done = 0
    with open(src, "rb") as inp, open(target, "xb") as out:
        while True:
            chunk = inp.read(_CHUNK)
            if not chunk:
                break
            done += len(chunk)
            if done > size:
                break
            h.update(chunk)
            out.write(chunk)
    if done != size or h.hexdigest() != sha:
        raise UpdateError(
            "%s: the content of %s is not the release's (SHA-256 or size differs)" % (name, _show(shown, 120)),
            hint="a file of the installed version was changed; the full archive is used",
        )
    if os.name != "nt":
        os.chmod(target, mode)


# ------------------------------------------------------------------ module API

_DEFAULT = None


def _default():
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Updater()
    return _DEFAULT


def _read_marker(path):
    """The first word of the install marker the MSI and the Debian package
    write (`msi`, `deb`), or `None`."""
    try:
        with open(path, "r", encoding="ascii", errors="replace") as f:
            return f.read(16).strip() or None
    except OSError:
        return None


def install_type():
    """How this copy was installed: `installer`, `msi`, `deb`,
    `portable-windows`, `portable-linux`, `docker` or `dev`."""
    return _default().install_type()


def check(include_prerelease=None):
    """The newest newer release as an :class:`Update`, or `None`."""
    return _default().check(include_prerelease)


def download(update, progress=None):
    """Download and verify `update`'s asset; returns its path."""
    return _default().download(update, progress)


def apply(update, progress=None, port=None, pid=None):
    """Download if needed, then start the helper; the app exits next."""
    return _default().apply(update, progress=progress, port=port, pid=pid)
