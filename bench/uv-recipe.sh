#!/usr/bin/env bash
# The best plain alternative to cargo pyship, as a second benchmark baseline:
# a naive uv recipe. Builds a Windows portable zip of the hello fixture:
#   curl + unzip the embeddable CPython, patch ._pth,
#   `uv pip install --target … --python-platform x86_64-pc-windows-msvc`
#   (markers evaluated for Windows), copy the app, `zip -r`.
# No stripping and no import check: the speed and size floor of doing it by hand.
#
# usage: uv-recipe.sh MIRROR_URL WHEELHOUSE_URL APP_SRC OUT_ZIP [REQUIREMENT...]
#   MIRROR_URL: a python.org-style mirror (…/3.11.9/python-3.11.9-embed-amd64.zip)
#   WHEELHOUSE_URL: a --find-links URL
#   UV_CACHE_DIR is honoured (cold runs point it at an empty dir).
set -euo pipefail
mirror=$1 wheels=$2 app_src=$(realpath "$3") out=$(realpath -m "$4")
shift 4
reqs=("$@")
[ ${#reqs[@]} -gt 0 ] || reqs=(fastapi "uvicorn[standard]" "numpy<2")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/App"
mkdir -p "$root/python" "$root/app/src"

curl -fsS -o "$work/python.zip" "$mirror/3.11.9/python-3.11.9-embed-amd64.zip"
unzip -q "$work/python.zip" -d "$root/python"
pth=$(ls "$root/python"/python3*._pth)
sed -i 's/^#import site/import site/' "$pth"
printf 'Lib\\site-packages\r\n..\\app\\src\r\n' >> "$pth"

uv pip install --quiet --target "$root/python/Lib/site-packages" \
  --python-platform x86_64-pc-windows-msvc --python-version 3.11 --only-binary :all: \
  --no-index --find-links "$wheels" "${reqs[@]}"
rm -rf "$root/python/Lib/site-packages/bin" "$root/python/Lib/site-packages/.lock"

cp -r "$app_src"/. "$root/app/src/"
rm -f "$out"
(cd "$work" && zip -q -r "$out" App)
