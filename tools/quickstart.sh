#!/usr/bin/env bash
# Installs what is missing, builds niti (Release), and trains the default network (LeNet) on the
# default dataset (Fashion-MNIST, from Debian's dataset-fashion-mnist) with its defaults (5 epochs,
# mu 4,3:3,4:2; about half a minute of training on 2 CPU cores) on the default device, then prints
# the test accuracy.
#   tools/quickstart.sh                  # defaults
#   tools/quickstart.sh --epochs 3       # extra options go to `niti train`
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh
build=${BUILD_DIR:-build-release}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
echo "built $build/niti"
"$build/niti" devices
echo
echo "+ niti train $*"
exec "$build/niti" train "$@"
