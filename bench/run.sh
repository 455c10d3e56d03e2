#!/usr/bin/env bash
# Benchmark `cargo pyship bundle` against the plain recipe (bench/recipe.sh).
#
# Builds the same Windows bundle of fixtures/hello (fastapi, uvicorn[standard],
# numpy<2) two ways, cold (empty caches) and warm (caches filled), several runs
# each; then a Linux bundle (cargo-pyship only: the recipe is Windows-only) and
# an archive-only micro-benchmark (our zip / tar.gz writer vs `zip -r` /
# `tar czf` on the same tree). Wheels and the embeddable CPython come from
# ../shared/fixtures, served by `python3 -m http.server` on 127.0.0.1.
# Peak RSS is measured with /usr/bin/time -v. Prints tables of min/median per
# tool and the ratios; exits non-zero when any build fails.
#
# usage: bench/run.sh [--quick] [--runs N]
#   --quick   one run of each (CI: proves the benchmark still works)
#   --runs N  runs per measurement (default 5)
# env: BENCH_EMBED, BENCH_WHEELHOUSE, BENCH_SHIM  test data (default: ../shared)
#      BENCH_LINUX_RUNTIME  an install_only tarball for the Linux bundle
#                   (default: linux.runtime = "venv", a venv of the host Python)
#      PYSHIP_BIN   the cargo-pyship binary (default target/release/cargo-pyship,
#                   built with `cargo build --release -p cargo-pyship` if missing)
#      BENCH_KEEP=1 keep the work directory (printed) for inspection
#
# "Cold" empties PYSHIP_CACHE_DIR, UV_CACHE_DIR and PIP_CACHE_DIR before each
# run. The wine prefix used by the import check is machine setup, not a cache:
# one is prepared (with the test-only bcryptprimitives shim) before timing and
# shared by all runs (PYSHIP_WINEPREFIX).
set -euo pipefail

runs=5
quick=0
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 runs=1 ;;
    --runs) runs=$2; shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
# Test data: ../shared beside the checkout, or the same files elsewhere (the
# test suite passes its copies, fetched from PyPI when ../shared is absent).
shared=$(realpath -m "$root/../shared")
embed=${BENCH_EMBED:-"$shared/fixtures/python/python-3.11.9-embed-amd64.zip"}
wheelhouse=${BENCH_WHEELHOUSE:-"$shared/fixtures/wheelhouse"}
shim=${BENCH_SHIM:-"$shared/wine/bcryptprimitives.dll"}
for f in "$embed" "$wheelhouse" "$shim"; do
  [ -e "$f" ] || { echo "bench/run.sh: missing test data $f" >&2; exit 1; }
done
for t in python3 uv zip unzip tar wine /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "bench/run.sh: missing tool $t" >&2; exit 1; }
done

bin=${PYSHIP_BIN:-$root/target/release/cargo-pyship}
if [ ! -x "$bin" ]; then
  echo "building $bin (cargo build --release -p cargo-pyship)" >&2
  (cd "$root" && cargo build --release -p cargo-pyship)
fi
bin=$(realpath "$bin")
pack=${PYSHIP_PACK:-$(dirname "$bin")/examples/pack}
if [ ! -x "$pack" ]; then
  profile=$(basename "$(dirname "$bin")")
  flag=; [ "$profile" = release ] && flag=--release
  echo "building $pack (cargo build $flag -p pyship-build --example pack)" >&2
  (cd "$root" && cargo build $flag -p pyship-build --example pack)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/pyship-bench.XXXXXX")
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  if [ -n "${WINEPREFIX:-}" ] && [ -d "$WINEPREFIX" ]; then
    wineserver -k >/dev/null 2>&1 || true
  fi
  if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# --- Local servers: the wheelhouse and a python.org-style mirror. -----------
mkdir -p "$work/www/python/3.11.9"
ln -s "$wheelhouse" "$work/www/wheels"
ln -s "$embed" "$work/www/python/3.11.9/$(basename "$embed")"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$work/www" >"$work/http.log" 2>&1 &
server_pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 50); do
  python3 -c "import urllib.request as u; u.urlopen('$base/wheels/')" 2>/dev/null && break
  sleep 0.1
done
wheels_url="$base/wheels/"
mirror_url="$base/python"

# --- The project: fixtures/hello, wheels from the local index only. ----------
proj="$work/hello"
cp -r "$root/fixtures/hello" "$proj"
python3 - "$proj/Cargo.toml" "$wheels_url" <<'EOF'
import sys
p, url = sys.argv[1], sys.argv[2]
t = open(p).read()
t = t.replace("port = 8765\n", f'port = 8765\nno-index = true\nfind-links = ["{url}"]\n', 1)
open(p, "w").write(t)
EOF
# Linux runtime: a python-build-standalone-layout tarball when one is given
# (BENCH_LINUX_RUNTIME; the test suite builds one from the host CPython),
# else a venv of the host's Python (no download either way).
if [ -n "${BENCH_LINUX_RUNTIME:-}" ]; then
  mkdir -p "$work/www/runtime"
  ln -s "$(realpath "$BENCH_LINUX_RUNTIME")" "$work/www/runtime/cpython-3.11.9-install_only.tar.gz"
  printf '\n[package.metadata.pyship.linux]\nruntime-url = "%s/runtime/cpython-{version}-install_only.tar.gz"\n' "$base" >>"$proj/Cargo.toml"
else
  printf '\n[package.metadata.pyship.linux]\nruntime = "venv"\n' >>"$proj/Cargo.toml"
fi

# --- The wine prefix for the import check (setup, not timed). ---------------
export WINEPREFIX="$work/wine" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
wine wineboot -i >/dev/null 2>&1 || true
[ -d "$WINEPREFIX/drive_c/windows/system32" ] || { echo "bench/run.sh: wineboot failed" >&2; exit 1; }
cp "$shim" "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"

export SOURCE_DATE_EPOCH=1700000000 NO_COLOR=1
results="$work/results.tsv"   # kind<TAB>name<TAB>seconds<TAB>peak_rss_kb
: >"$results"

# timed KIND NAME -- COMMAND...: run once under /usr/bin/time -v, record
# wall seconds and peak RSS; on failure print the log and exit.
timed() {
  local kind=$1 name=$2; shift 3
  local log="$work/last.log" tv="$work/time.txt"
  local t0 t1
  t0=$(date +%s.%N)
  if ! /usr/bin/time -v -o "$tv" "$@" >"$log" 2>&1; then
    echo "bench/run.sh: $name ($kind) failed:" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
  t1=$(date +%s.%N)
  local rss
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tv")
  printf '%s\t%s\t%.3f\t%s\n' "$kind" "$name" "$(echo "$t1 - $t0" | bc)" "$rss" >>"$results"
}

recipe_zip="$work/recipe.zip"
ours_zip="$proj/dist/Hello-App-v0.1.0-win-x64.zip"
cold() { rm -rf "$work/cache" && mkdir -p "$work/cache/pyship" "$work/cache/uv" "$work/cache/pip"; }
export PYSHIP_CACHE_DIR="$work/cache/pyship" UV_CACHE_DIR="$work/cache/uv" PIP_CACHE_DIR="$work/cache/pip"

recipe() {
  timed "$1" recipe -- bash "$here/recipe.sh" "$embed" "$wheels_url" "$proj/python/src" "$recipe_zip"
}
pyship_bundle() { # KIND NAME TARGET
  timed "$1" "$2" -- env PYSHIP_PYTHON_MIRROR="$mirror_url" PYSHIP_WINEPREFIX="$WINEPREFIX" \
    "$bin" pyship -v bundle --target "$3" --version v0.1.0 --manifest-path "$proj/Cargo.toml"
  grep -E '^ *stages ' "$work/last.log" | sed "s/^ */    $2 $1: /" >>"$work/stages.txt" || true
}

echo "cargo-pyship benchmark: $runs run(s) each, $(nproc) cores, $bin" >&2
: >"$work/stages.txt"
for i in $(seq "$runs"); do
  echo "  run $i/$runs: windows cold" >&2
  cold; recipe cold
  cold; pyship_bundle cold cargo-pyship windows
done
cp "$ours_zip" "$work/cold.zip"
# Warm: caches filled by one untimed run of each.
recipe warmup; pyship_bundle warmup cargo-pyship windows
for i in $(seq "$runs"); do
  echo "  run $i/$runs: windows warm" >&2
  recipe warm
  pyship_bundle warm cargo-pyship windows
done
cp "$ours_zip" "$work/ours.zip"

# Linux bundle (cargo-pyship only). A build without the Linux runtime stage
# reports that in the table; any other failure fails the benchmark.
linux_missing=
if ! env PYSHIP_PYTHON_MIRROR="$mirror_url" "$bin" pyship bundle --target linux --version v0.1.0 \
    --manifest-path "$proj/Cargo.toml" >"$work/linux.log" 2>&1; then
  if grep -q "Linux runtime stage is not part of this build" "$work/linux.log"; then
    linux_missing=$(grep -m1 -i "error" "$work/linux.log" | sed 's/^ *//')
  else
    echo "bench/run.sh: cargo pyship bundle --target linux failed:" >&2
    tail -n 40 "$work/linux.log" >&2
    exit 1
  fi
fi
if [ -z "$linux_missing" ]; then
  for i in $(seq "$runs"); do
    echo "  run $i/$runs: linux cold" >&2
    cold; pyship_bundle cold cargo-pyship-linux linux
  done
  pyship_bundle warmup cargo-pyship-linux linux
  for i in $(seq "$runs"); do
    echo "  run $i/$runs: linux warm" >&2
    pyship_bundle warm cargo-pyship-linux linux
  done
fi

# Archive micro-benchmark: the Windows bundle tree, packed four ways.
tree_parent="$proj/dist/.pyship/windows"
top=$(ls "$tree_parent" | head -n1)
for i in $(seq "$runs"); do
  echo "  run $i/$runs: archive" >&2
  rm -f "$work/a.zip" "$work/a.tar.gz" "$work/b.zip" "$work/b.tar.gz"
  timed archive "ours zip" -- "$pack" "$tree_parent/$top" "$work/a.zip"
  timed archive "zip -r" -- sh -c 'cd "$1" && zip -q -r "$2" "$3"' _ "$tree_parent" "$work/b.zip" "$top"
  timed archive "ours tar.gz" -- "$pack" "$tree_parent/$top" "$work/a.tar.gz"
  timed archive "tar czf" -- tar czf "$work/b.tar.gz" -C "$tree_parent" "$top"
done

# --- Report. ------------------------------------------------------------------
python3 - "$results" "$recipe_zip" "$work/ours.zip" "$work" "$linux_missing" <<'EOF'
import os, statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
recipe_zip, ours_zip, work, linux_missing = sys.argv[2:6]
data = {}
for kind, name, secs, rss in rows:
    if kind == "warmup":
        continue
    d = data.setdefault((kind, name), {"t": [], "rss": []})
    d["t"].append(float(secs)); d["rss"].append(int(rss or 0))
def stat(kind, name):
    d = data.get((kind, name))
    return (min(d["t"]), statistics.median(d["t"]), max(d["rss"]) / 1024) if d else None
print()
print(f"{'benchmark':<28}{'kind':<9}{'runs':>5}{'min s':>9}{'median s':>10}{'peak RSS MB':>13}")
for (kind, name), d in data.items():
    mn, med, rss = stat(kind, name)
    print(f"{name:<28}{kind:<9}{len(d['t']):>5}{mn:>9.2f}{med:>10.2f}{rss:>13.0f}")
if linux_missing:
    print(f"{'cargo-pyship-linux':<28}not measured: {linux_missing}")
print()
for kind in ("cold", "warm"):
    r, o = stat(kind, "recipe"), stat(kind, "cargo-pyship")
    if r and o:
        print(f"ratio {kind} windows: recipe/cargo-pyship = {r[1]/o[1]:.2f}x (median), {r[0]/o[0]:.2f}x (min)")
for a, b in (("zip -r", "ours zip"), ("tar czf", "ours tar.gz")):
    x, y = stat("archive", a), stat("archive", b)
    if x and y:
        print(f"ratio archive: {a} / {b} = {x[1]/y[1]:.2f}x (median)")
rz, oz = os.path.getsize(recipe_zip), os.path.getsize(ours_zip)
print(f"zip size: recipe {rz/1e6:.1f} MB, cargo-pyship {oz/1e6:.1f} MB, ratio {oz/rz:.2f}x")
for n in ("a.zip", "b.zip", "a.tar.gz", "b.tar.gz"):
    p = os.path.join(work, n)
    if os.path.exists(p):
        print(f"archive size {n}: {os.path.getsize(p)/1e6:.1f} MB")
EOF
if cmp -s "$work/cold.zip" "$work/ours.zip"; then
  echo "cold and warm cargo-pyship zips: byte-identical"
else
  echo "bench/run.sh: the cold and warm cargo-pyship zips differ (the build is not deterministic)" >&2
  exit 1
fi
echo
echo "per-stage timings (cargo pyship -v):"
cat "$work/stages.txt"
