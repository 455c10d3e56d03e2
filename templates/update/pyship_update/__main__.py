"""`python -m pyship_update check|apply [--prerelease]`.

Exit status: 0 done (or nothing newer), 1 refused or failed (an `error:`
line and a `hint:` line on stderr; nothing was changed), 2 usage error.
`apply --pid PID` waits for that process (the running app) instead of this
one before the folders are swapped.
"""

import argparse
import os
import sys

from . import UpdateError, Updater, _clean


def _describe(update):
    # Every string here is the server's: check() lets through only versions,
    # plain names and a web URL, and the terminal sees them escaped all the same.
    lines = ["%s %s%s" % ("pre-release" if update.prerelease else "release", _clean(update.tag),
                          " (%s)" % _clean(update.url, 400) if update.url else "")]
    if update.asset:
        lines.append("  asset: %s (%d bytes, sha256 %s)" % (_clean(update.asset), update.size, _clean(update.sha256)))
        if update.delta:
            lines.append("  delta from %s: %s (%d bytes)" % (
                _clean(update.delta["base"]), _clean(update.delta["name"]), update.delta["size"]))
    else:
        lines.append("  no asset for this install type (%s)" % update.install_type)
    return "\n".join(lines)


def _percent(fraction):
    return ("%.1f" % (fraction * 100)).rstrip("0").rstrip(".") + "%"


def _nothing(updater, include_prerelease):
    cfg = updater.config
    channel = "pre-release" if include_prerelease else "stable"
    msg = "no newer %s release than %s" % (channel, cfg.get("tag") or cfg.get("version"))
    if updater.skipped_rolled_back:
        msg += "; skipped %s: an update to it was rolled back here (a newer release is offered)" % ", ".join(
            updater.skipped_rolled_back
        )
    for tag, rollout, draw in updater.skipped_rollout:
        msg += "; skipped %s: it is rolled out to %s of installs so far and this one (draw %.3f) is not among them yet" % (
            tag,
            _percent(rollout),
            draw,
        )
    if updater.skipped_prereleases:
        msg += "; skipped pre-release %s (use --prerelease to include it)" % ", ".join(
            updater.skipped_prereleases
        )
    return msg


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m pyship_update",
        description="Check for and apply updates of this app from its releases.",
    )
    parser.add_argument("command", choices=["check", "apply"])
    parser.add_argument(
        "--prerelease", action="store_true", default=None, help="include pre-releases"
    )
    parser.add_argument("--pid", type=int, help="apply: the app's process to wait for")
    parser.add_argument("--port", type=int, help="apply: the port the new version answers on")
    args = parser.parse_args(argv)
    updater = Updater()
    try:
        print("install type: %s" % updater.install_type())
        if updater.is_development():
            print(
                "a development checkout (no %s next to the package): nothing to check or apply; "
                "the bundles cargo pyship builds update themselves" % os.path.basename(updater.config_path)
            )
            return 0
        include = args.prerelease
        if include is None:
            include = updater.config.get("channel") == "prerelease"
        keys = updater.public_keys()
        if keys:
            print("signatures: required (key %s)" % ", ".join(k.key_id for k in keys))
        else:
            print("signatures: none (unsigned releases, checked by SHA-256 from the server only)")
        update = updater.check(include)
        if update is None:
            print(_nothing(updater, include))
            return 0
        print(_describe(update))
        for tag, rollout, draw in updater.skipped_rollout:
            print("  (newer %s is rolled out to %s of installs so far; this one, draw %.3f, is not among them yet)" % (
                tag, _percent(rollout), draw))
        if args.command == "check":
            return 0

        def progress(done, total):
            if done == total or done % (1 << 22) < (1 << 16):
                print("  downloaded %d of %d bytes" % (done, total), flush=True)

        log = updater.apply(update, progress=progress, port=args.port, pid=args.pid)
        if updater.last_download:
            print(updater.last_download)
        print("update to %s started; the helper logs to %s" % (update.tag, log))
        return 0
    except UpdateError as e:
        print("error: %s" % e.message, file=sys.stderr)
        if e.hint:
            print("hint: %s" % e.hint, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
