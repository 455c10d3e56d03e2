#!/bin/sh
# The update helper of a portable Linux bundle, started (detached) by
# pyship_update.apply() with its settings in the environment:
#   PYSHIP_ROOT   the bundle folder          PYSHIP_STAGE  its .pyship-update/
#   PYSHIP_NEW    the unpacked new bundle    PYSHIP_TAG    the new release's tag
#   PYSHIP_PID    the app's process          PYSHIP_PORT   the app's port, or empty
#   PYSHIP_ARCHIVE the downloaded archive (removed however the update ends)
# It waits for the app to exit, renames each entry of entries.txt (app/,
# python/, run.sh, ...) to .old, moves the new one in, starts the app with
# run.sh and checks that it comes up (helper.py). If it does not, it restores
# the .old entries and starts the old version again; otherwise it deletes them.
# data/ and logs/ are never in entries.txt.
set -u
ROOT=$PYSHIP_ROOT
STAGE=$PYSHIP_STAGE
NEW=$PYSHIP_NEW
ENTRIES="$STAGE/entries.txt"
SWAPPED="$STAGE/swapped.txt"
say() { echo "[$(date '+%Y-%m-%d %H:%M:%S')] $*"; }
# Clean up (the unpacked and the downloaded new version too: a retry
# downloads again) and release the lock, then log the last line (whoever
# waits for it finds the update finished).
finish() {
    rm -rf "$STAGE/new" "$STAGE/swapped.txt"
    rm -f "$PYSHIP_ARCHIVE"
    rm -f "$STAGE/lock"
    say "$2"
    exit "$1"
}

say "update of $ROOT to $PYSHIP_TAG"
"$NEW/python/bin/python3" -I "$STAGE/helper.py" wait-exit
rc=$?
case $rc in
    0) ;;
    1) finish 1 "the app did not exit; nothing was changed" ;;
    *) finish 1 "the new version's interpreter ($NEW/python/bin/python3) could not run the helper (exit status $rc); nothing was changed" ;;
esac

restore() {
    # Put every swapped entry back (newest first), then start the old version.
    while read -r e; do
        [ -n "$e" ] || continue
        rm -rf "$ROOT/$e"
        if [ -e "$ROOT/$e.old" ] || [ -L "$ROOT/$e.old" ]; then
            mv "$ROOT/$e.old" "$ROOT/$e" || say "could not restore $e"
        fi
    done <<EOT
$(sed '1!G;h;$!d' "$SWAPPED" 2>/dev/null)
EOT
}

start_app() {
    (cd "$ROOT" && nohup "$ROOT/run.sh" >>"$STAGE/app.log" 2>&1 </dev/null &
     echo $! >"$STAGE/app.pid")
    PYSHIP_NEW_PID=$(cat "$STAGE/app.pid")
    export PYSHIP_NEW_PID
}

: >"$SWAPPED"
failed=
while read -r e; do
    [ -n "$e" ] || continue
    rm -rf "$ROOT/$e.old"
    if [ -e "$ROOT/$e" ] || [ -L "$ROOT/$e" ]; then
        mv "$ROOT/$e" "$ROOT/$e.old" || { failed=$e; break; }
    fi
    echo "$e" >>"$SWAPPED"
    mv "$NEW/$e" "$ROOT/$e" || { failed=$e; break; }
done <"$ENTRIES"
if [ -n "$failed" ]; then
    say "could not swap $failed; restoring the old version"
    restore
    start_app
    finish 1 "restored the old version and started it again"
fi

say "swapped; starting the new version"
start_app
if "$ROOT/python.old/bin/python3" -I "$STAGE/helper.py" wait-up; then
    while read -r e; do
        [ -n "$e" ] && rm -rf "$ROOT/$e.old"
    done <"$SWAPPED"
    finish 0 "updated to $PYSHIP_TAG"
fi
say "the new version did not come up; rolling back"
restore
start_app
finish 1 "rolled back; the old version was started again"
