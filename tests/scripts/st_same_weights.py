#!/usr/bin/env python3
"""Compares the tensors of niti checkpoints (safetensors) byte for byte, and the run-state fields
that say where the run stands; prints what differs and exits 1 if anything does.
  st_same_weights.py A.st B.st [C.st ...]      every file against the first"""
import json
import struct
import sys

# metadata that must agree too (the position of the run and the checksum of the tensors)
KEYS = ("step", "epoch", "batch_pos", "epoch_loss_sum", "epoch_correct",
        "epoch_seen")


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack_from("<Q", data, 0)
    head = json.loads(data[8:8 + n])
    meta = head.pop("__metadata__", {})
    body = data[8 + n:]
    tensors = {}
    for name, t in head.items():
        a, b = t["data_offsets"]
        tensors[name] = (t["dtype"], tuple(t["shape"]), body[a:b])
    return meta, tensors


def main(paths):
    if len(paths) < 2:
        print(__doc__)
        return 2
    m0, t0 = load(paths[0])
    bad = 0
    for p in paths[1:]:
        m, t = load(p)
        if sorted(t) != sorted(t0):
            print(f"{p}: tensors {sorted(t)} != {sorted(t0)} of {paths[0]}")
            bad += 1
            continue
        for name in sorted(t0):
            if t[name] != t0[name]:
                d0, s0, b0 = t0[name]
                d, s, b = t[name]
                first = next((i for i in range(min(len(b), len(b0))) if b[i] != b0[i]), None)
                ndiff = sum(1 for x, y in zip(b, b0) if x != y)
                print(f"{p}: {name} differs from {paths[0]} ({d}{list(s)} vs {d0}{list(s0)}; "
                      f"{ndiff} bytes differ, the first at {first})")
                bad += 1
        for k in KEYS:
            if m.get(k) != m0.get(k):
                print(f"{p}: metadata {k} = {m.get(k)!r}, {paths[0]}: {m0.get(k)!r}")
                bad += 1
    if not bad:
        print(f"same weights: {', '.join(paths)} ({len(t0)} tensors)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
