#!/usr/bin/env bash
# The check to run on a machine with a GPU: does niti give the reference's bits there, on every
# GEMM path the device supports, and how fast is it? Writes report.txt and report.json into OUT.
#
#   tools/gpu_check.sh [OUT]            (default OUT: gpu-check-<date>)
#
# Steps (each with a time limit; the whole check fits in about 8 minutes on a data-centre GPU):
#   1. build (Release, in $BUILD_DIR, default build-gpu) unless $BUILD_DIR/niti exists and
#      NITI_GPU_CHECK_NO_BUILD=1 (a machine without compilers: build elsewhere and carry it)
#   2. `niti devices`
#   3. `niti conformance` on the golden vectors for every path: auto, tiled, dp4a, khr-dot
#      (a path the device cannot run is reported as "unsupported", not as a failure)
#   4. the cross-backend identity tests (training steps compared byte for byte with ref)
#   5. `niti bench --json`
# Environment: NITI_GPU_DEVICE (default "gpu"), GPU_CHECK_PATHS (default "auto tiled dp4a
# khr-dot"), GPU_CHECK_BENCH_ARGS (more `niti bench` options), SHARED (default ../shared: golden vectors and
# data), NITI_GPU_LIBS (a folder of shared libraries carried along: libOpenCL.so.1, cJSON,
# CLBlast, cairo; put first on LD_LIBRARY_PATH). Without OCL_ICD_VENDORS, NVIDIA's
# libnvidia-opencl.so.1 is looked for in the usual folders and an .icd file naming it is written
# into OUT/icd. Exit status: 0 when every supported path passed, 1 otherwise, 2 on a setup error.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${1:-gpu-check-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
build=${BUILD_DIR:-build-gpu}
dev=${NITI_GPU_DEVICE:-gpu}
shared=${SHARED:-$root/../shared}
txt=$out/report.txt
: >"$txt"
say() { echo "$*" | tee -a "$txt"; }
# run LIMIT NAME CMD...: runs CMD with a time limit, output into OUT/NAME.log, returns its status
run() {
  local limit=$1 name=$2
  shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  local rc=$?
  say "[$name] exit $rc in $((SECONDS - t0)) s: $*"
  return $rc
}

say "niti GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ), host $(hostname)"
if [ -n "${NITI_GPU_LIBS:-}" ]; then export LD_LIBRARY_PATH="$NITI_GPU_LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi
if [ -z "${OCL_ICD_VENDORS:-}" ]; then
  lib=""
  for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/nvidia/lib64 /usr/local/nvidia/lib \
    /usr/lib/x86_64-linux-gnu/nvidia/current /usr/local/cuda/lib64 /run/nvidia/driver/usr/lib/x86_64-linux-gnu; do
    [ -e "$d/libnvidia-opencl.so.1" ] && { lib="$d/libnvidia-opencl.so.1"; break; }
  done
  [ -z "$lib" ] && lib=$(ldconfig -p 2>/dev/null | awk '/libnvidia-opencl.so.1/ {print $NF; exit}')
  if [ -n "$lib" ]; then
    mkdir -p "$out/icd"
    echo "$lib" >"$out/icd/nvidia.icd"
    export OCL_ICD_VENDORS=$out/icd
    say "OCL_ICD_VENDORS=$OCL_ICD_VENDORS ($lib)"
  else
    say "no libnvidia-opencl.so.1 found; using the system's ICD files (/etc/OpenCL/vendors)"
  fi
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >>"$txt" 2>&1

if [ "${NITI_GPU_CHECK_NO_BUILD:-0}" = 1 ] && [ -x "$build/niti" ]; then
  say "[build] using $build as it is"
else
  run 300 build bash -c "cmake -S . -B '$build' -DCMAKE_BUILD_TYPE=Release -DNITI_CROSS_DEVICE='$dev' && cmake --build '$build' -j\$(nproc) --target niti test_cross_backend" ||
    { say "build failed: see $out/build.log"; exit 2; }
fi
niti=$build/niti
export NITI_CACHE_DIR=$out/niti-cache
run 60 devices "$niti" devices
cat "$out/devices.log" >>"$txt"

json_paths=""
fails=0
for p in ${GPU_CHECK_PATHS:-auto tiled dp4a khr-dot}; do
  NITI_GEMM=$p run 240 "conformance-$p" "$niti" conformance --device "$dev" "$shared/golden"
  rc=$?
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out/conformance-$p.log" | tail -1)
  if [ -n "$line" ]; then
    status=$([ "$rc" = 0 ] && echo pass || echo fail)
  elif grep -qiE "cannot run|not support|unsupported" "$out/conformance-$p.log"; then
    status=unsupported
  else
    status=error
  fi
  case $status in fail | error) fails=$((fails + 1)) ;; esac
  say "  path $p: $status ${line:-($(tail -1 "$out/conformance-$p.log" | cut -c1-200))}"
  json_paths="$json_paths${json_paths:+,}\"$p\":{\"status\":\"$status\",\"summary\":\"${line:-}\"}"
done

cross=skipped
xb=$build/tests/test_cross_backend
[ -x "$xb" ] || xb=$build/test_cross_backend
if [ -x "$xb" ] && [ -d "$shared/data/mnist" ]; then
  if run 240 cross-lenet "$xb" "$dev" mnist "$shared/data" 20 64 niti21 - lenet &&
    run 120 cross-niti20 "$xb" "$dev" mnist "$shared/data" 6 32 niti20 master16,decay lenet; then
    cross=pass
  else
    cross=fail
    fails=$((fails + 1))
  fi
fi
say "  cross-backend identity with ref: $cross"

# shellcheck disable=SC2086
run 240 bench "$niti" bench --device "$dev" --json --quiet ${GPU_CHECK_BENCH_ARGS:-}
bench=$(cat "$out/bench.log" 2>/dev/null | grep -E '^\{' | tail -1)
[ -n "$bench" ] || bench=null
cat >"$out/report.json" <<EOF
{"date":"$(date -u +%Y-%m-%dT%H:%M:%SZ)","device_spec":"$dev","paths":{$json_paths},"cross_backend":"$cross","failures":$fails,"bench":$bench}
EOF
say "report: $txt, $out/report.json"
[ "$fails" = 0 ]
