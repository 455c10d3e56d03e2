#!/usr/bin/env bash
# The plain "page of bash" recipe that cargo-pyship replaces, kept
# faithfully as the benchmark baseline: one `pip download` per TOP-LEVEL
# dependency and nothing more (the recipe has no second loop over transitive
# packages). Builds a Windows portable zip of the hello fixture:
#   unzip the embeddable CPython, patch ._pth, a `pip download --platform
#   win_amd64` loop, unzip every wheel, the recipe's find/rm cleanup, `zip -r`.
# Its zip does NOT run (the cleanup deletes every .py after __pycache__, and
# removes numpy.linalg/lib and all dist-info); it is the speed and size baseline.
#
# usage: recipe.sh EMBED_ZIP WHEELHOUSE_URL APP_SRC OUT_ZIP [REQUIREMENT...]
#   WHEELHOUSE_URL: a --find-links URL (the benchmark serves ../shared/fixtures/wheelhouse)
#   PIP_CACHE_DIR is honoured (cold runs point it at an empty dir).
set -euo pipefail
embed=$(realpath "$1") wheels=$2 app_src=$(realpath "$3") out=$(realpath -m "$4")
shift 4
reqs=("$@")
[ ${#reqs[@]} -gt 0 ] || reqs=(fastapi "uvicorn[standard]" "numpy<2")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/App"
mkdir -p "$root/python" "$root/app/src" "$work/wheels"

# 1. Embedded Python.
unzip -q "$embed" -d "$root/python"
pth=$(ls "$root/python"/python3*._pth)
sed -i 's/^#import site/import site/' "$pth"
printf 'Lib\\site-packages\r\n..\\app\\src\r\n' >> "$pth"
site="$root/python/Lib/site-packages"
mkdir -p "$site"

# 2. The pip download loop: one requirement at a time, for the Windows platform.
#    (pip evaluates markers for the build host, pip #11664: uvicorn[standard]
#    cannot resolve for win_amd64, so that requirement falls back to
#    --no-deps, and its own dependencies are missing from the bundle.)
for r in "${reqs[@]}"; do
  python3 -m pip download --quiet --disable-pip-version-check --no-index --find-links "$wheels" \
    --only-binary=:all: --platform win_amd64 --python-version 3.11 --implementation cp \
    -d "$work/wheels" "$r" 2>/dev/null \
  || python3 -m pip download --quiet --disable-pip-version-check --no-index --find-links "$wheels" \
    --only-binary=:all: --platform win_amd64 --python-version 3.11 --implementation cp \
    --no-deps -d "$work/wheels" "$r"
done

# 3. Unzip every wheel into site-packages.
for w in "$work/wheels"/*.whl; do
  unzip -q -o "$w" -d "$site"
done

# 4. App files.
cp -r "$app_src"/. "$root/app/src/"

# 5. The recipe's cleanup.
find "$root" -type d -name __pycache__ -prune -exec rm -rf {} +
find "$site" -type d \( -name tests -o -name test \) -prune -exec rm -rf {} +
find "$site" -type d -name "*.dist-info" -prune -exec rm -rf {} +
rm -rf "$site/numpy/linalg" "$site/numpy/lib" "$site/numpy/f2py" "$site/numpy/distutils" "$site/numpy/doc"
find "$site" -name "*.pyi" -delete
find "$site" \( -name "*.h" -o -name "*.c" -o -name "*.cpp" \) -delete
find "$site" -name "*.py" -delete

# 6. Zip it.
rm -f "$out"
(cd "$work" && zip -q -r "$out" App)
