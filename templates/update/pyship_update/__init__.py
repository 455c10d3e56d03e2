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
it. `apply()` unpacks it there and starts a detached helper (`update.sh`,
`update.bat`, or the installer) that waits for the app to exit, swaps the
bundle's folders, starts the new version, checks that it comes up and rolls
back when it does not. `data/` is never touched.

The bundle's settings (server, repository, current version, channel, asset
names) are in `pyship_update.json` next to this package, written by
`cargo pyship bundle`. A token, when the repository needs one, is read from the
environment variable that file names; it is never stored.
"""

import hashlib
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile

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
_TIMEOUT = 30
_CHUNK = 1 << 16
# A lock older than this whose owner cannot be seen is left over from a crash.
_STALE_LOCK_SECONDS = 3600


class UpdateError(Exception):
    """An update that cannot go ahead; nothing was changed. `hint` says what to do."""

    def __init__(self, message, hint=None):
        super().__init__(message)
        self.message = message
        self.hint = hint


# ------------------------------------------------------------------ versions

_VERSION = re.compile(
    r"""^\s*v?
    (?:(?P<epoch>\d+)!)?
    (?P<release>\d+(?:\.\d+)*)
    (?:[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>\d+)?)?
    (?:-(?P<post_n1>\d+)|[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>\d+)?)?
    (?:[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>\d+)?)?
    (?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?
    \s*$""",
    re.VERBOSE | re.IGNORECASE,
)
_PRE = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "preview": 2}


class Version:
    """A PEP 440 version (also read from tags: `v1.2.3`, `v1.2.3-rc.1`)."""

    def __init__(self, text):
        m = _VERSION.match(text)
        if not m:
            raise ValueError("not a version: %r" % text)
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


def check_url(url):
    """Refuse anything but https, and plain http to anything but loopback."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and _loopback(parts.hostname)):
        return url
    raise UpdateError(
        "refusing %s: updates are fetched over https only (plain http only from loopback)"
        % _redact(url),
        hint="use an https:// server URL in [package.metadata.pyship.publish]",
    )


def _redact(url):
    parts = urllib.parse.urlsplit(url)
    if parts.username or parts.password or parts.query:
        netloc = parts.hostname or ""
        if parts.port:
            netloc += ":%d" % parts.port
        return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    return url


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects only to https (or loopback http). The token is an
    unredirected header, so it never follows a redirect to another host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        check_url(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_Redirects())


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
        #: The release's web page.
        self.url = kw.get("url")
        #: This install type's asset: its name, size in bytes, SHA-256 and
        #: download URL; all `None` for `docker` and `dev`.
        self.install_type = kw["install_type"]
        self.asset = kw.get("asset")
        self.size = kw.get("size")
        self.sha256 = kw.get("sha256")
        self.download_url = kw.get("download_url")

    def as_dict(self):
        return dict(self.__dict__)

    def __repr__(self):
        return "Update(%s, %s, asset=%r)" % (self.tag, self.install_type, self.asset)


class Updater:
    """The updater of one bundle. The module-level functions use the bundle
    this package is installed in; tests and tools may make their own."""

    #: The file Docker creates in every container.
    dockerenv = "/.dockerenv"

    def __init__(self, config_path=None, environ=None):
        here = os.path.dirname(os.path.abspath(__file__))
        self.config_path = config_path or os.path.join(os.path.dirname(here), CONFIG_NAME)
        self.environ = os.environ if environ is None else environ
        self._config = None
        self.skipped_prereleases = []

    # -------------------------------------------------------------- config

    @property
    def config(self):
        if self._config is None:
            try:
                with open(self.config_path, encoding="utf-8") as f:
                    self._config = json.load(f)
            except FileNotFoundError:
                raise UpdateError(
                    "%s is missing: this copy of pyship_update was not installed by `cargo pyship bundle`"
                    % self.config_path,
                    hint="build the app with cargo pyship (and [package.metadata.pyship.update] enabled)",
                ) from None
            except (OSError, ValueError) as e:
                raise UpdateError("cannot read %s: %s" % (self.config_path, e)) from None
        return self._config

    def root(self):
        """The bundle's folder (holding `app/` and the runtime)."""
        rel = self.config.get("root") or "."
        return os.path.normpath(os.path.join(os.path.dirname(self.config_path), rel))

    def staging(self):
        return os.path.join(self.root(), STAGING)

    def install_type(self):
        """`installer`, `msi`, `deb`, `portable-windows`, `portable-linux`,
        `docker` or `dev`."""
        # A bundle's own layout wins over /.dockerenv: a portable bundle
        # unpacked inside a container updates itself like anywhere else; the
        # app's Docker image (pip-installed, no bundle layout) does not.
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
        if os.path.exists(self.dockerenv):
            return "docker"
        return "dev"

    # -------------------------------------------------------------- http

    def _token(self):
        name = self.config.get("token_env")
        return self.environ.get(name) if name else None

    def _request(self, url, accept=None):
        check_url(url)
        req = urllib.request.Request(url)
        req.add_header("User-Agent", "pyship_update/%s" % self.config.get("version", "0"))
        if accept:
            req.add_header("Accept", accept)
        token = self._token()
        if token:
            scheme = "Bearer" if self.config.get("provider") == "github" else "token"
            # Unredirected: a redirect (to a CDN) never carries it.
            req.add_unredirected_header("Authorization", "%s %s" % (scheme, token))
        try:
            return _OPENER.open(req, timeout=_TIMEOUT)
        except urllib.error.HTTPError as e:
            body = ""
            try:
                body = e.read(2000).decode("utf-8", "replace")
                body = json.loads(body).get("message", body)
            except (ValueError, AttributeError, OSError):
                pass
            hint = None
            if e.code in (401, 403, 404) and self.config.get("token_env") and not token:
                hint = "a private repository needs a token: set %s" % self.config["token_env"]
            elif e.code in (401, 403):
                hint = "check the token in %s" % (self.config.get("token_env") or "the token variable")
            raise UpdateError(
                "%s answered %d %s%s" % (_redact(url), e.code, e.reason, (": " + body) if body else ""),
                hint=hint,
            ) from None
        except urllib.error.URLError as e:
            raise UpdateError(
                "cannot reach %s: %s" % (_redact(url), e.reason),
                hint="check the network connection and the server",
            ) from None
        except OSError as e:
            raise UpdateError("cannot reach %s: %s" % (_redact(url), e)) from None

    def _get_json(self, url):
        with self._request(url, accept="application/json") as resp:
            data = resp.read()
            total = resp.headers.get("X-Total-Count")
        try:
            return json.loads(data.decode("utf-8")), total
        except ValueError:
            raise UpdateError("%s did not answer JSON" % _redact(url)) from None

    def _get_small(self, url, limit=4 << 20):
        with self._request(url, accept="application/octet-stream") as resp:
            data = resp.read(limit + 1)
        if len(data) > limit:
            raise UpdateError("%s is larger than %d bytes" % (_redact(url), limit))
        return data

    def _where(self):
        cfg = self.config
        if not cfg.get("server_url") or not cfg.get("repo"):
            raise UpdateError(
                "this bundle does not know where its releases are (no server URL or repository at build time)",
                hint="set url and repo in [package.metadata.pyship.publish], or build in CI where GITHUB_SERVER_URL and GITHUB_REPOSITORY are set",
            )
        return cfg["api_url"].rstrip("/"), cfg["repo"]

    def releases(self):
        """Every release of the repository, newest first, as the API gives them."""
        api, repo = self._where()
        github = self.config.get("provider") == "github"
        out = []
        for page in range(1, 21):
            if github:
                url = "%s/repos/%s/releases?per_page=100&page=%d" % (api, repo, page)
            else:
                url = "%s/repos/%s/releases?limit=50&page=%d" % (api, repo, page)
            data, total = self._get_json(url)
            if not isinstance(data, list):
                raise UpdateError("%s did not answer a list of releases" % url)
            out.extend(data)
            if not data or (total is not None and len(out) >= int(total)):
                break
        return out

    # -------------------------------------------------------------- check

    def check(self, include_prerelease=None):
        """The newest release newer than this version, or `None`.

        Pre-releases count only with `include_prerelease=True`, or when the
        bundle's channel is `prerelease` and the argument is `None`."""
        cfg = self.config
        if include_prerelease is None:
            include_prerelease = cfg.get("channel") == "prerelease"
        current = Version(cfg["version"])
        self.skipped_prereleases = []
        best = None
        for rel in self.releases():
            if rel.get("draft"):
                continue
            tag = rel.get("tag_name") or ""
            try:
                v = Version(tag)
            except ValueError:
                continue
            if v <= current:
                continue
            if (rel.get("prerelease") or v.is_prerelease) and not include_prerelease:
                self.skipped_prereleases.append(tag)
                continue
            if best is None or v > best[0]:
                best = (v, rel)
        if best is None:
            return None
        return self._update_for(best[1])

    def _update_for(self, rel):
        tag = rel["tag_name"]
        assets = {a.get("name"): a for a in rel.get("assets") or []}
        for needed in ("manifest.json", "SHA256SUMS"):
            if needed not in assets:
                raise UpdateError(
                    "release %s has no %s, so its assets cannot be verified" % (tag, needed),
                    hint="publish the release with `cargo pyship publish`, which uploads both",
                )
        try:
            manifest = json.loads(self._get_small(self._asset_url(assets["manifest.json"])).decode("utf-8"))
        except ValueError:
            raise UpdateError("manifest.json of %s is not JSON" % tag) from None
        if manifest.get("schema") != MANIFEST_SCHEMA:
            raise UpdateError(
                "manifest.json of %s has schema %r; this updater reads schema %d"
                % (tag, manifest.get("schema"), MANIFEST_SCHEMA),
                hint="update by hand from the release page: %s" % (rel.get("html_url") or tag),
            )
        if manifest.get("tag") != tag:
            raise UpdateError(
                "manifest.json of release %s describes %r, not this release" % (tag, manifest.get("tag"))
            )
        sums = _parse_sums(self._get_small(self._asset_url(assets["SHA256SUMS"])).decode("utf-8", "replace"))
        kind = self.install_type()
        pep440 = (manifest.get("version") or {}).get("pep440") or Version(tag).text.lstrip("vV")
        update = dict(
            version=pep440,
            tag=tag,
            prerelease=bool(rel.get("prerelease")) or Version(tag).is_prerelease,
            name=rel.get("name"),
            notes=rel.get("body"),
            url=rel.get("html_url"),
            install_type=kind,
        )
        entry = next((a for a in manifest.get("assets") or [] if a.get("install_type") == kind), None)
        if entry is None:
            return Update(**update)
        name = entry["name"]
        if name not in assets:
            raise UpdateError("manifest.json of %s lists %s, which the release does not have" % (tag, name))
        sha = str(entry.get("sha256", "")).lower()
        if sums.get(name) != sha:
            raise UpdateError(
                "manifest.json and SHA256SUMS of %s disagree on the SHA-256 of %s; refusing the update"
                % (tag, name),
                hint="the release was changed after publishing; publish it again",
            )
        size = int(entry.get("size", -1))
        listed = assets[name].get("size")
        if listed is not None and int(listed) != size:
            raise UpdateError(
                "%s of %s is %s bytes on the server but %d in manifest.json; refusing the update"
                % (name, tag, listed, size),
                hint="the release was changed after publishing; publish it again",
            )
        update.update(asset=name, size=size, sha256=sha, download_url=self._asset_url(assets[name]))
        return Update(**update)

    def _asset_url(self, asset):
        if self.config.get("provider") == "github" and self._token() and asset.get("url"):
            # Private GitHub repositories serve assets through the API.
            return asset["url"]
        url = asset.get("browser_download_url")
        if not url:
            raise UpdateError("asset %s has no download URL" % asset.get("name"))
        return url

    # -------------------------------------------------------------- download

    def download(self, update, progress=None):
        """Stream the asset into the staging folder and verify its size and
        SHA-256. Returns its path. On any failure what it wrote is removed.
        `progress(done, total)` is called as bytes arrive."""
        if update.asset is None:
            raise UpdateError(
                "release %s has no asset for this install type (%s)" % (update.tag, update.install_type),
                hint=_manual_hint(update),
            )
        staging = self.staging()
        created = not os.path.isdir(staging)
        os.makedirs(staging, exist_ok=True)
        final = os.path.join(staging, update.asset)
        if os.path.isfile(final) and _sha256(final) == update.sha256:
            return final
        part = final + ".part"
        headers = "application/octet-stream"
        try:
            done = 0
            digest = hashlib.sha256()
            with self._request(update.download_url, accept=headers) as resp, open(part, "wb") as out:
                while True:
                    chunk = resp.read(_CHUNK)
                    if not chunk:
                        break
                    done += len(chunk)
                    if done > update.size:
                        raise UpdateError(
                            "%s is larger than the %d bytes manifest.json says; refusing it" % (update.asset, update.size)
                        )
                    digest.update(chunk)
                    out.write(chunk)
                    if progress is not None:
                        progress(done, update.size)
            if done != update.size:
                raise UpdateError(
                    "the download of %s stopped after %d of %d bytes" % (update.asset, done, update.size),
                    hint="try again later",
                )
            got = digest.hexdigest()
            if got != update.sha256:
                raise UpdateError(
                    "%s does not match its SHA-256 (manifest.json: %s, downloaded: %s); refusing it"
                    % (update.asset, update.sha256, got),
                    hint="the asset on the server was changed after publishing; nothing was changed here",
                )
            os.replace(part, final)
            return final
        except BaseException as e:
            _remove(part)
            _remove(final)
            if created:
                shutil.rmtree(staging, ignore_errors=True)
            if isinstance(e, UpdateError) or not isinstance(e, Exception):
                raise
            raise UpdateError(
                "the download of %s failed: %s" % (update.asset, e),
                hint="try again later; nothing was changed",
            ) from None

    # -------------------------------------------------------------- apply

    def apply(self, update, progress=None, port=None, pid=None):
        """Download (when not done yet), unpack next to the app, and start the
        detached helper that swaps the folders once process `pid` (default:
        this one) has exited. Returns the helper's log file. The caller exits
        next. `port` overrides the configured port the helper waits on."""
        kind = self.install_type()
        release_page = self.config.get("releases_url") or "the releases page"
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
                hint="update the source checkout, or download %s from %s" % (update.tag, release_page),
            )
        if update.asset is None:
            raise UpdateError(
                "release %s has no asset for this install type (%s)" % (update.tag, kind),
                hint=_manual_hint(update),
            )
        staging = self.staging()
        created = not os.path.isdir(staging)
        os.makedirs(staging, exist_ok=True)
        lock = os.path.join(staging, "lock")
        self._lock(lock)
        handed_over = False
        new_dir = os.path.join(staging, "new")
        try:
            path = self.download(update, progress=progress)
            env = dict(self.environ)
            env.update(
                PYSHIP_ROOT=self.root(),
                PYSHIP_STAGE=staging,
                PYSHIP_TAG=update.tag,
                PYSHIP_PID=str(pid if pid is not None else os.getpid()),
                PYSHIP_PORT=str(port if port is not None else (self.config.get("port") or "")),
                PYSHIP_TIMEOUT=str(self.config.get("start_timeout") or 60),
                PYSHIP_LAUNCHER=self.config.get("launcher") or "",
                PYSHIP_MODULE=self.config.get("module") or "",
            )
            for k in list(env):
                # The helper starts the app; a token has no business there.
                if k == self.config.get("token_env"):
                    del env[k]
            shutil.rmtree(new_dir, ignore_errors=True)
            if kind in ("installer", "msi"):
                env.update(PYSHIP_MODE=kind, PYSHIP_SETUP=path)
            else:
                top = _extract(path, new_dir)
                entries = sorted(n for n in os.listdir(top) if n not in ("data", "logs", STAGING))
                for needed in ("app", "python"):
                    if needed not in entries:
                        raise UpdateError("%s has no %s/ folder; refusing it" % (update.asset, needed))
                with open(os.path.join(staging, "entries.txt"), "w", encoding="utf-8", newline="\n") as f:
                    f.write("".join(e + "\n" for e in entries))
                env.update(PYSHIP_MODE="portable", PYSHIP_NEW=top)
            here = os.path.dirname(os.path.abspath(__file__))
            shutil.copyfile(os.path.join(here, "_helper.py"), os.path.join(staging, "helper.py"))
            log = os.path.join(staging, "update.log")
            if os.name == "nt":
                script = os.path.join(staging, "update.bat")
                shutil.copyfile(os.path.join(here, "update.bat"), script)
                flags = 0x08000000 | 0x00000200  # CREATE_NO_WINDOW | CREATE_NEW_PROCESS_GROUP
                cmd = [os.path.join(os.environ.get("SystemRoot", r"C:\Windows"), "System32", "cmd.exe"), "/d", "/c", script]
                proc = subprocess.Popen(
                    cmd,
                    env=env,
                    cwd=staging,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    creationflags=flags,
                    close_fds=True,
                )
            else:
                script = os.path.join(staging, "update.sh")
                shutil.copyfile(os.path.join(here, "update.sh"), script)
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
            self._write_lock(lock, helper=proc.pid)
            handed_over = True
            return log
        finally:
            if not handed_over:
                shutil.rmtree(new_dir, ignore_errors=True)
                _remove(lock)
                if created:
                    shutil.rmtree(staging, ignore_errors=True)

    def _lock(self, lock):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if not self._stale(lock):
                raise UpdateError(
                    "another update is already running (lock file %s)" % lock,
                    hint="wait for it to finish; delete the lock file only if no update is running",
                ) from None
            _remove(lock)
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        with os.fdopen(fd, "w") as f:
            json.dump({"pid": os.getpid(), "started": time.time()}, f)

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
        owners = [p for p in (info.get("helper"), info.get("pid")) if isinstance(p, int)]
        if any(p != os.getpid() and _helper.pid_alive(p) for p in owners):
            return False
        started = info.get("started")
        if not owners and isinstance(started, (int, float)):
            return time.time() - started > _STALE_LOCK_SECONDS
        return True


def _manual_hint(update):
    return "download it from %s" % (update.url or "the release page")


def _parse_sums(text):
    out = {}
    for line in text.splitlines():
        parts = line.strip().split(None, 1)
        if len(parts) == 2:
            out[parts[1].lstrip("*")] = parts[0].lower()
    return out


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


def _safe_member(name, dest):
    target = os.path.normpath(os.path.join(dest, name))
    if os.path.isabs(name) or not (target + os.sep).startswith(os.path.normpath(dest) + os.sep):
        raise UpdateError("the archive has an entry outside its folder (%s); refusing it" % name)
    return target


def _extract(archive, dest):
    """Unpack `archive` into `dest`; returns its single top-level folder."""
    os.makedirs(dest)
    try:
        if archive.endswith(".zip"):
            with zipfile.ZipFile(archive) as z:
                for info in z.infolist():
                    _safe_member(info.filename, dest)
                z.extractall(dest)
        else:
            with tarfile.open(archive, "r:*") as t:
                for m in t.getmembers():
                    _safe_member(m.name, dest)
                    if m.issym() or m.islnk():
                        _safe_member(os.path.join(os.path.dirname(m.name), m.linkname), dest)
                    if not (m.isfile() or m.isdir() or m.issym() or m.islnk()):
                        raise UpdateError("the archive has a special file (%s); refusing it" % m.name)
                if hasattr(tarfile, "data_filter"):
                    t.extractall(dest, filter="tar")
                else:
                    t.extractall(dest)
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as e:
        raise UpdateError("cannot unpack %s: %s" % (os.path.basename(archive), e)) from None
    tops = os.listdir(dest)
    if len(tops) != 1 or not os.path.isdir(os.path.join(dest, tops[0])):
        raise UpdateError("%s does not hold exactly one folder; refusing it" % os.path.basename(archive))
    return os.path.join(dest, tops[0])


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
