#!/bin/sh
# Runs a command under the Oclgrind simulator with its checks on, and fails on any report
# (tests/portability.cmake).
#   usage: port_oclgrind.sh SHIM LOG KIND -- COMMAND...
# The same as `oclgrind --data-races --uninitialized --check-api --build-options -cl-opt-disable
# --log LOG COMMAND`, with the test aid SHIM (tests/scripts/oclgrind_whole_writes.c: host writes
# become whole-buffer writes and buffers are never released, which Oclgrind's uninitialised-value
# tracking needs) preloaded in front of Oclgrind's runtime; the oclgrind wrapper would put its
# runtime first, so its environment is set here directly, read from `oclgrind env`.
# -cl-opt-disable: Oclgrind 21.10's interpreter lacks llvm.abs, which clang's optimiser emits.
# Checked to fail: with niti_reduce_partials reading one partial past those written (i <= np),
# requant_01 gives 5 "Controlflow depends on uninitialized value" reports and the test fails.
# Every Oclgrind report (an error or a warning: an invalid or uninitialised access, a data race, an
# API error) goes to LOG, one block per report whose first line is not indented; any report fails
# the test, and the first ones are printed with their count per kind and kernel.
# KIND: conformance  the output must also end in "N passed, 0 failed" with no FAIL line
#       status       the exit status alone
# Exit 77 (skipped) when oclgrind is not installed.
set -eu
. "$(dirname "$0")/conformance_check.sh"
shim=$1 log=$2 kind=$3
shift 3
[ "${1:-}" = "--" ] && shift
if ! command -v oclgrind >/dev/null 2>&1; then
  echo "SKIP: oclgrind is not installed (Debian: apt-get install oclgrind)"
  exit 77
fi
[ -f "$shim" ] || { echo "FAIL: no $shim"; exit 1; }
rt=$(oclgrind env 2>/dev/null | sed -n 's/^LD_PRELOAD=\([^:]*\).*/\1/p')
if [ -z "$rt" ] || [ ! -f "$rt" ]; then
  echo "FAIL: Oclgrind's runtime not found (the LD_PRELOAD of oclgrind env)"
  exit 1
fi
mkdir -p "$(dirname "$log")"
rm -f "$log"
echo "oclgrind: $(oclgrind --version 2>&1 | grep -m1 -i oclgrind); running: $*"
rc=0
out=$(LD_PRELOAD="$shim:$rt${LD_PRELOAD:+:$LD_PRELOAD}" OCLGRIND_LOG="$log" OCLGRIND_DATA_RACES=1 \
      OCLGRIND_UNINITIALIZED=1 OCLGRIND_CHECK_API=1 OCLGRIND_BUILD_OPTIONS=-cl-opt-disable \
      OCLGRIND_MAX_ERRORS=100000 NITI_CACHE_DIR=off "$@" 2>&1) || rc=$?
printf '%s\n' "$out"
[ -f "$log" ] || : >"$log"
# a report: a non-blank, non-indented line of the log ("Invalid read of size 4 at ...",
# "Uninitialized value written to ...", "Read-write data race at ...", "Oclgrind - OpenCL runtime
# error detected", ...); its indented lines say the kernel, the work-item and the source line
reports=$(grep -c '^[^[:space:]]' "$log" || true)
if [ "$reports" -ne 0 ]; then
  echo "FAIL: Oclgrind reported $reports error(s)/warning(s) (full log: $log); by kind and kernel:"
  awk '/^[^[:space:]]/ {k=$0; sub(/ (at|to|from) .*/, "", k)} /^[[:space:]]+Kernel:/ {n[k " | " $2]++}
       END {for (x in n) printf "  %6d  %s\n", n[x], x}' "$log" | sort -rn
  echo "first reports:"
  head -60 "$log"
  exit 1
fi
[ "$rc" -eq 0 ] || { echo "FAIL: exit status $rc"; exit 1; }
if printf '%s\n' "$out" | grep -q 'OCLGRIND FATAL'; then echo "FAIL: Oclgrind fatal error"; exit 1; fi
case $kind in
conformance) conformance_ok "$out" 'Oclgrind' || exit 1 ;;
status) ;;
*) echo "FAIL: unknown kind '$kind'"; exit 2 ;;
esac
echo "PASS: no Oclgrind report"
