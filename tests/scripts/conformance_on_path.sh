#!/bin/sh
# Runs `niti conformance ARGS...` and passes only when it ran on GEMM path PATH (its "device:"
# line says "[gemm: PATH") and every golden case passed.
#   usage: conformance_on_path.sh NITI PATH ARGS...
niti=$1 path=$2
shift 2
rc=0
out=$("$niti" conformance "$@" 2>&1) || rc=$?
printf '%s\n' "$out"
[ "$rc" -eq 0 ] || { echo "FAIL: exit status $rc"; exit 1; }
printf '%s\n' "$out" | grep -q "^device: .*\[gemm: $path[],]" ||
  { echo "FAIL: not run on the path $path"; exit 1; }
printf '%s\n' "$out" | grep -Eq '^[0-9]+ passed, 0 failed$' || { echo "FAIL: no summary"; exit 1; }
echo "PASS: on $path"
