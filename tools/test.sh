#!/usr/bin/env bash
# Installs what is missing, configures, builds and runs every test (CTest).
#   tools/test.sh            build in ./build and run all tests
#   BUILD_DIR=b tools/test.sh, CTEST_ARGS="-R golden" tools/test.sh
#   FUZZ_SECONDS=15 tools/test.sh   afterwards also run every fuzz target 15 s (tools/fuzz.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh

build=${BUILD_DIR:-build}
jobs=$(nproc 2>/dev/null || echo 2)
# With MPI (tools/deps.sh installs Open MPI) niti is built for data-parallel training too, and
# the mpi_* tests run mpirun (README "Scaling out"); CMAKE_ARGS=-DNITI_MPI=OFF builds without.
mpi_arg=""
if command -v mpicc > /dev/null && command -v mpirun > /dev/null; then mpi_arg=-DNITI_MPI=ON; fi
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE:-RelWithDebInfo} $mpi_arg ${CMAKE_ARGS:-}
cmake --build "$build" -j "$jobs"
# POCL's kernel cache lives in the build tree so repeated test processes reuse compiled kernels.
export POCL_CACHE_DIR="$PWD/$build/pocl-cache"
export NITI_CACHE_DIR="$PWD/$build/niti-cache"
mkdir -p "$POCL_CACHE_DIR" "$NITI_CACHE_DIR"
root=$PWD
cd "$build"
# shellcheck disable=SC2086
ctest --output-on-failure -j "$jobs" ${CTEST_ARGS:-}
# Optional: the libFuzzer targets for a bounded time each (clang, its own build-fuzz folder).
if [ -n "${FUZZ_SECONDS:-}" ]; then
  cd "$root"
  bash tools/fuzz.sh "$FUZZ_SECONDS"
fi
