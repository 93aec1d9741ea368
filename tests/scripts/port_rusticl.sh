#!/bin/sh
# Runs a command against Mesa rusticl's llvmpipe device (tests/portability.cmake).
#   usage: port_rusticl.sh NITI KIND -- COMMAND...
# The device is found in `niti devices` (with RUSTICL_ENABLE=llvmpipe, which makes rusticl offer
# its llvmpipe device): the P:D of the line "P:D  rusticl: llvmpipe ...". Every "@DEV@" in COMMAND
# becomes that P:D, and NITI_TEST_DEVICE is set to it (test_cl_ops reads it).
# KIND: conformance  the output must end in "N passed, 0 failed", with no FAIL line
#       status       the exit status alone
#       refused_or_conformance  as conformance, or else the device refused the path at opening
#                    with the reason (a probe or the known-answer battery), never a wrong result
# Exit 77 (skipped) only when rusticl is not installed (no rusticl ICD); installed but offering no
# llvmpipe device is a failure.
set -eu
. "$(dirname "$0")/conformance_check.sh"
niti=$1 kind=$2
shift 2
[ "${1:-}" = "--" ] && shift
export RUSTICL_ENABLE="${RUSTICL_ENABLE:-llvmpipe}"
list=$("$niti" devices 2>&1) || { printf '%s\n' "$list"; echo "FAIL: niti devices failed"; exit 1; }
dev=$(printf '%s\n' "$list" | awk '/^[0-9]+:[0-9]+ +rusticl: *llvmpipe/ {print $1; exit}')
if [ -z "$dev" ]; then
  icd=""
  for d in ${OCL_ICD_VENDORS:-/etc/OpenCL/vendors}; do
    [ -d "$d" ] && icd=$(grep -l -i rusticl "$d"/*.icd 2>/dev/null | head -1) || true
    [ -f "$d" ] && grep -qi rusticl "$d" && icd=$d
  done
  if [ -z "$icd" ]; then
    echo "SKIP: Mesa rusticl is not installed (no rusticl platform in niti devices, no rusticl ICD;"
    echo "      Debian: apt-get install mesa-opencl-icd)"
    exit 77
  fi
  printf '%s\n' "$list"
  echo "FAIL: rusticl is installed ($icd) but niti devices shows no 'rusticl: llvmpipe' device" \
       "with RUSTICL_ENABLE=$RUSTICL_ENABLE"
  exit 1
fi
export NITI_TEST_DEVICE="$dev"
# the command, with @DEV@ replaced, rebuilt as positional parameters
n=$#
i=0
while [ "$i" -lt "$n" ]; do
  a=$1
  shift
  [ "$a" = "@DEV@" ] && a=$dev
  set -- "$@" "$a"
  i=$((i + 1))
done
echo "rusticl device: $dev (RUSTICL_ENABLE=$RUSTICL_ENABLE); running: $*"
rc=0
out=$("$@" 2>&1) || rc=$?
printf '%s\n' "$out"
if [ "$kind" = refused_or_conformance ]; then
  if [ "$rc" -ne 0 ] && printf '%s\n' "$out" | grep -Eq \
      "cannot open device .*(kernels cannot run on this device: its compiler|kernels give wrong results for)"; then
    echo "PASS: the path was refused with its reason"
    exit 0
  fi
  kind=conformance
fi
[ "$rc" -eq 0 ] || { echo "FAIL: exit status $rc"; exit 1; }
case $kind in
conformance)
  re="rusticl"
  if [ -n "${NITI_GEMM:-}" ]; then # the forced path, and "emulated" when asked for
    re="rusticl.*\\[gemm: $NITI_GEMM"
    [ "${NITI_DOT_EMULATE:-}" = 1 ] && re="$re, emulated\\]"
  fi
  conformance_ok "$out" "$re" || exit 1
  ;;
status) ;;
*) echo "FAIL: unknown kind '$kind'"; exit 2 ;;
esac
echo "PASS"
