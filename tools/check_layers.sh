#!/usr/bin/env bash
# Checks that includes point down the layers of src/ (README, "How it works"):
#   core (0) <- backends, io, dist (1) <- fp32, train (2) <- tools (3) <- cli (4)
# A file may include headers of its own layer and of lower ranks; two layers of the same rank
# (backends and io, fp32 and train) may not include each other. include/niti.h is below all.
#   tools/check_layers.sh [SRC_DIR]     (default: src/ next to this script)
# Prints each violation as FILE:LINE: layer -> layer and exits 1 if there is any.
set -euo pipefail
src=${1:-"$(dirname "$0")/../src"}
[ -d "$src" ] || { echo "check_layers: no folder $src" >&2; exit 2; }
python3 - "$src" <<'PY'
import os, re, sys
src = sys.argv[1]
rank = {"core": 0, "backends": 1, "io": 1, "dist": 1, "fp32": 2, "train": 2, "tools": 3,
        "cli": 4}
bad = files = 0
for root, _, names in sorted(os.walk(src)):
    for n in sorted(names):
        if not n.endswith((".c", ".h")):
            continue
        path = os.path.join(root, n)
        layer = os.path.relpath(path, src).split(os.sep)[0]
        if layer not in rank:
            print(f"{path}: not in a layer folder ({', '.join(rank)})")
            bad += 1
            continue
        files += 1
        for i, line in enumerate(open(path, encoding="utf-8", errors="replace"), 1):
            m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
            if not m:
                continue
            inc = m.group(1)
            if "/" not in inc:
                if inc not in ("niti.h", "niti_kernels.h"):
                    print(f"{path}:{i}: #include \"{inc}\" without its layer folder")
                    bad += 1
                continue
            to = inc.split("/")[0]
            if to not in rank:
                print(f"{path}:{i}: #include \"{inc}\": unknown layer {to}")
                bad += 1
            elif to != layer and rank[to] >= rank[layer]:
                print(f"{path}:{i}: {layer} -> {to} (#include \"{inc}\") points up or sideways")
                bad += 1
print(f"check_layers: {files} files, {bad} violations")
sys.exit(1 if bad else 0)
PY
