#!/bin/sh
# Fault test (d): no OpenCL platform installed (OCL_ICD_VENDORS names an empty folder, which
# ocl-icd honours): `niti devices` exits 0 with a clear message, `--device cpu` fails suggesting
# --device ref, and the default device falls back to ref with a notice.
#   usage: fault_no_opencl.sh NITI DATA WORK
set -eu
niti=$1 data=$2 work=$3
. "$(dirname "$0")/fault_lib.sh"
rm -rf "$work"; mkdir -p "$work/empty-vendors"
export OCL_ICD_VENDORS="$work/empty-vendors"
unset NITI_DEVICE || true
out=$("$niti" devices 2>&1) || fail "niti devices exited non-zero: $out"
echo "$out"
echo "$out" | grep -Eqi "no OpenCL platform" || fail "devices: no 'no OpenCL platform' message"
echo "$out" | grep -q -- "--device ref" || fail "devices: does not point to --device ref"
echo "ok: devices"
lim="--dataset mnist --data $data --model lenet --train-limit 64 --test-limit 32 --epochs 1 --quiet"
expect_fail device_cpu "no OpenCL platform.*--device ref" "$niti" train --device cpu $lim
out=$("$niti" train $lim 2>&1) || fail "default device: training failed: $out"
echo "$out"
echo "$out" | grep -Eq "notice: .*using the plain-C reference backend" || fail "default device: no fallback notice"
echo "$out" | grep -q "on ref" || fail "default device: did not train on ref"
echo "ok: default falls back to ref"
rm -rf "$work"
echo "PASS"
