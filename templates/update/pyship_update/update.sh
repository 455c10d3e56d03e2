#!/bin/sh
# The update helper of a portable Linux bundle, started (detached) by
# pyship_update.apply() with its settings in the environment:
#   PYSHIP_ROOT   the bundle folder          PYSHIP_STAGE  its .pyship-update/
#   PYSHIP_NEW    the unpacked new bundle    PYSHIP_TAG    the new release's tag
#   PYSHIP_PID    the app's process          PYSHIP_PORT   the app's port, or empty
#   PYSHIP_ARCHIVE the downloaded archive (removed however the update ends)
# It waits for the app to exit, renames each entry of entries.txt (app/,
# python/, run.sh, ...) to .old, moves the new one in, starts the app with
# run.sh and checks that it comes up (helper.py). If it does not, it renames
# the new entries aside, the .old ones back, starts the old version again and
# notes the tag in rolled-back.txt (check() skips it); otherwise it deletes
# the .old entries. Every move is checked and never lands inside a folder
# that is in the way. data/ and logs/ are never in entries.txt.
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

# A move is one rename, refused when the target exists (mv would put a
# folder inside it): an entry is whole old or whole new, never nested.
move() {
    if [ -e "$2" ] || [ -L "$2" ]; then
        say "not moving $1: $2 is in the way"
        return 1
    fi
    mv "$1" "$2" || return 1
    { [ -e "$2" ] || [ -L "$2" ]; } && ! { [ -e "$1" ] || [ -L "$1" ]; }
}

# Delete `$1`; true once it is gone.
remove() {
    rm -rf "$1"
    if [ -e "$1" ] || [ -L "$1" ]; then
        say "could not delete $1"
        return 1
    fi
}

restore() {
    # Put every swapped entry back (newest first): the new one is renamed
    # aside whole, then the .old one renamed back; then start the old version.
    restored=yes
    while read -r e; do
        [ -n "$e" ] || continue
        if [ -e "$ROOT/$e" ] || [ -L "$ROOT/$e" ]; then
            remove "$ROOT/$e.failed" && move "$ROOT/$e" "$ROOT/$e.failed" || {
                say "could not restore $e: the new one cannot be moved away; the old one stays in $e.old"
                restored=
                continue
            }
        fi
        if [ -e "$ROOT/$e.old" ] || [ -L "$ROOT/$e.old" ]; then
            move "$ROOT/$e.old" "$ROOT/$e" || { say "could not restore $e"; restored=; continue; }
        fi
        remove "$ROOT/$e.failed" || say "$e.failed is left over; the next update deletes it"
    done <<EOT
$(sed '1!G;h;$!d' "$SWAPPED" 2>/dev/null)
EOT
    [ -n "$restored" ]
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
    # Left over from an update whose clean-up could not finish.
    remove "$ROOT/$e.old" && remove "$ROOT/$e.failed" || { failed=$e; break; }
    if [ -e "$ROOT/$e" ] || [ -L "$ROOT/$e" ]; then
        move "$ROOT/$e" "$ROOT/$e.old" || { failed=$e; break; }
    fi
    echo "$e" >>"$SWAPPED"
    move "$NEW/$e" "$ROOT/$e" || { failed=$e; break; }
done <"$ENTRIES"
if [ -n "$failed" ]; then
    say "could not swap $failed; restoring the old version"
    if restore; then
        start_app
        finish 1 "restored the old version and started it again"
    fi
    start_app
    finish 1 "could not restore every entry (see above); started what is there"
fi

say "swapped; starting the new version"
start_app
if "$ROOT/python.old/bin/python3" -I "$STAGE/helper.py" wait-up; then
    while read -r e; do
        [ -n "$e" ] || continue
        remove "$ROOT/$e.old" || say "$e.old is left over; the next update deletes it"
    done <"$SWAPPED"
    finish 0 "updated to $PYSHIP_TAG"
fi
say "the new version did not come up; rolling back"
# check() no longer offers this version (a newer one it does).
echo "$PYSHIP_TAG" >>"$STAGE/rolled-back.txt"
if restore; then
    start_app
    finish 1 "rolled back; the old version was started again"
fi
start_app
finish 1 "could not restore every entry (see above); started what is there"
