#!/bin/sh
# Runs `niti conformance ARGS...` and passes only when it ran on GEMM path PATH (its "device:"
# line says "[gemm: PATH") and every golden case passed.
#   usage: conformance_on_path.sh NITI PATH ARGS...
. "$(dirname "$0")/conformance_check.sh"
niti=$1 path=$2
shift 2
rc=0
out=$("$niti" conformance "$@" 2>&1) || rc=$?
printf '%s\n' "$out"
[ "$rc" -eq 0 ] || { echo "FAIL: exit status $rc"; exit 1; }
conformance_ok "$out" ".*\[gemm: ${path}[],]" || exit 1
echo "PASS: on $path"
