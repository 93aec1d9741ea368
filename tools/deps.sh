#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages niti needs to build and test, if any are missing.
# Used by tools/test.sh and tools/quickstart.sh. Set NITI_NO_INSTALL=1 to skip.
set -euo pipefail

pkgs=(build-essential cmake pkg-config zlib1g-dev libcjson-dev libcairo2-dev poppler-utils
      ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo libclblast-dev
      dataset-fashion-mnist clang libclang-rt-dev
      python3-numpy python3-pytest python3-venv python3-setuptools python3-wheel
      libopenmpi-dev openmpi-bin)

[ "${NITI_NO_INSTALL:-0}" = 1 ] && exit 0
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "niti: installing missing packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null; then sudo="sudo"; else
    echo "niti: need root (or sudo) to install: ${missing[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
