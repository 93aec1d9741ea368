#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang, ASan and UBSan in build-fuzz and
# runs each over its committed seed corpus (tests/fuzz/corpus/<target>/, plus the crash
# regressions in tests/fuzz/regress/<target>/) for a bounded time. Fails on any crash, leak,
# sanitizer report, timeout or broken invariant; the input that did it is left in
# build-fuzz/fuzz-artifacts/<target>/ (commit it under tests/fuzz/regress/<target>/ once fixed:
# the fuzz_replay_<target> CTest test then replays it in every build).
#   tools/fuzz.sh [SECONDS]        seconds per target (default 15)
#   FUZZ_TARGETS="fuzz_mu fuzz_model" tools/fuzz.sh 60    only these targets
#   FUZZ_RUNS=1000000 tools/fuzz.sh                        a number of executions instead of a time
#   BUILD_DIR=dir (default build-fuzz), CC (default clang), FUZZ_JOBS (build jobs)
# New inputs found go to build-fuzz/fuzz-work/<target>/ (not into the source tree).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh
secs=${1:-15}
build=${BUILD_DIR:-build-fuzz}
cc=${CC:-clang}
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "fuzz.sh: $cc not found (libFuzzer needs clang; apt-get install clang libclang-rt-dev)" >&2
  exit 1
fi
t0=$(date +%s)
CC=$cc cmake -S . -B "$build" -DNITI_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON >/dev/null
targets=${FUZZ_TARGETS:-$(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//' | tr '\n' ' ')}
# shellcheck disable=SC2086
cmake --build "$build" -j "$jobs" --target $targets
t1=$(date +%s)
echo "fuzz.sh: built the targets in $((t1 - t0)) s"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
failed=""
for t in $targets; do
  exe="$build/tests/$t"
  work="$build/fuzz-work/$t"
  art="$build/fuzz-artifacts/$t"
  mkdir -p "$work" "$art"
  args=(-timeout=10 -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 -artifact_prefix="$art/")
  [ -f "tests/fuzz/$t.dict" ] && args+=(-dict="tests/fuzz/$t.dict")
  if [ -n "${FUZZ_RUNS:-}" ]; then args+=(-runs="$FUZZ_RUNS"); else args+=(-max_total_time="$secs"); fi
  dirs=("$work" "tests/fuzz/corpus/$t")
  [ -d "tests/fuzz/regress/$t" ] && dirs+=("tests/fuzz/regress/$t")
  echo "== $t"
  if "$exe" "${args[@]}" "${dirs[@]}" >"$build/fuzz-work/$t.log" 2>&1; then
    grep -E "stat::number_of_executed_units|Done [0-9]+ runs" "$build/fuzz-work/$t.log" | tail -2 || true
  else
    echo "fuzz.sh: $t FAILED; log $build/fuzz-work/$t.log, input(s) in $art/:" >&2
    grep -E "ERROR|runtime error|invariant|SUMMARY|Test unit written" "$build/fuzz-work/$t.log" | head -20 >&2 || true
    failed="$failed $t"
  fi
done
echo "fuzz.sh: $(($(date +%s) - t0)) s in all"
if [ -n "$failed" ]; then
  echo "fuzz.sh: crashes in:$failed" >&2
  exit 1
fi
echo "fuzz.sh: no crashes"
