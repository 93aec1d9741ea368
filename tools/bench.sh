#!/usr/bin/env bash
# The recipe for the README's speed numbers: builds niti (Release) and runs `niti bench` on the
# OpenCL CPU device for LeNet and VGG-small-7 at their training batch sizes (64, 256), saving
# the JSON to the file given as the first argument and printing the table from the same run.
#   tools/bench.sh bench.json                 # defaults: --device cpu, both presets
#   tools/bench.sh out.json --device gpu      # extra options go to `niti bench`
#   BUILD_DIR=b tools/bench.sh out.json
# With POCL this takes a while (VGG-small-7 at batch 256 runs minutes per training step on a
# small CPU); progress lines go to stderr.
set -euo pipefail
if [ $# -lt 1 ] || [ "${1#-}" != "$1" ]; then
  echo "usage: tools/bench.sh OUT.json [niti bench options]" >&2
  exit 2
fi
out=$1
shift
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac

cd "$(dirname "$0")/.."
bash tools/deps.sh
build=${BUILD_DIR:-build-release}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
export POCL_CACHE_DIR=${POCL_CACHE_DIR:-$PWD/$build/pocl-cache}
export NITI_CACHE_DIR=${NITI_CACHE_DIR:-$PWD/$build/niti-cache}
mkdir -p "$POCL_CACHE_DIR" "$NITI_CACHE_DIR"

args=(--device cpu --model lenet,vgg-small-7 "$@")
echo "+ niti bench ${args[*]} --json > $out" >&2
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
"$build/niti" bench "${args[@]}" --json >"$tmp"
mv "$tmp" "$out"
echo "saved $out" >&2
# The same numbers as a table (formatting only; nothing is re-measured).
if command -v python3 >/dev/null; then
  python3 - "$out" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
print(f"niti {j['niti_version']} bench on {j['device']} ({j['date']}), "
      f"repeats {j['repeats']} (median), warm-up {j['warmup']}")
print(f"GOPS: {j['gops_definition']}\n")
print(f"{'shape':26} {'batch':>5} {'op':>6} {'ms':>10} {'GOPS':>8}")
for o in j["ops"]:
    print(f"{o['shape']:26} {o['batch']:5} {o['op']:>6} {o['median_ms']:10.2f} {o['gops']:8.2f}")
print(f"\n{'model':14} {'batch':>5} {'train img/s':>12} {'eval img/s':>11} "
      f"{'device MiB':>11} {'host RSS MiB':>13}")
for t in j["train"]:
    print(f"{t['model']:14} {t['batch']:5} {t['train_img_s']:12.1f} {t['eval_img_s']:11.1f} "
          f"{t['device_peak_bytes']/2**20:11.1f} {t['host_peak_rss_bytes']/2**20:13.1f}")
for s in j["skipped"]:
    print(f"skipped {s['model']}: {s['reason']}")
EOF
fi
