"""Shared fixtures of the Python package's tests.

Environment (CTest sets it, see tests/python.cmake): NITI_LIBRARY (the libniti under test),
NITI_CLI (the niti command, for the CLI comparisons), NITI_TEST_DATA (the datasets folder,
../shared/data), NITI_BUILD_DIR (the build tree, for `cmake --install`), and POCL_CACHE_DIR /
NITI_CACHE_DIR. Tests that need the datasets skip, with a message, when they are absent; every
other missing piece is a failure."""
import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "python"))

import niti  # noqa: E402

DATA = os.environ.get("NITI_TEST_DATA") or os.path.join(REPO, "..", "shared", "data")


def cli_path():
    p = os.environ.get("NITI_CLI")
    if not p:
        pytest.fail("NITI_CLI is not set (the niti command; CTest sets it)")
    return p


def need_dataset(name):
    sub = {"mnist": "mnist", "cifar10": "cifar10"}[name]
    if not os.path.isdir(os.path.join(DATA, sub)):
        pytest.skip("%s absent: %s not found" % (name, os.path.join(DATA, sub)))


@pytest.fixture(scope="session")
def mnist():
    """MNIST, loaded once per session."""
    need_dataset("mnist")
    return niti.datasets.load("mnist", DATA)


@pytest.fixture(scope="session")
def cifar10():
    """CIFAR-10, loaded once per session."""
    need_dataset("cifar10")
    return niti.datasets.load("cifar10", DATA)


def run_cli(args, cwd=None, check=True):
    """Runs the niti command; returns the CompletedProcess."""
    p = subprocess.run([cli_path()] + [str(a) for a in args], cwd=cwd, capture_output=True,
                       text=True)
    if check and p.returncode != 0:
        raise AssertionError("niti %s failed (%d):\n%s\n%s"
                             % (" ".join(map(str, args)), p.returncode, p.stdout, p.stderr))
    return p


def read_safetensors(path):
    """(metadata dict, {name: (dtype, shape, bytes)}) of a safetensors file, parsed here
    independently of the library."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, t in header.items():
        a, b = t["data_offsets"]
        tensors[name] = (t["dtype"], tuple(t["shape"]), blob[base + a:base + b])
    return meta, tensors


#: Checkpoint metadata that names the files of a run (they differ between any two runs that
#: write different files) and the checksum over all metadata.
PER_FILE = ("save", "log", "checksum")


def assert_same_checkpoint(a, b, ignore=()):
    """Same tensors, byte for byte, and the same metadata (run state, settings, weight
    exponents), apart from the files' own paths, the checksum and the keys in ignore."""
    ma, ta = read_safetensors(a)
    mb, tb = read_safetensors(b)
    assert ta, "no tensors in %s" % a
    assert sorted(ta) == sorted(tb), "different tensors: %s vs %s" % (sorted(ta), sorted(tb))
    for name in ta:
        assert ta[name][:2] == tb[name][:2], "%s: dtype/shape differ" % name
        if ta[name][2] != tb[name][2]:
            da = np.frombuffer(ta[name][2], np.int8 if ta[name][0] == "I8" else np.int16)
            db = np.frombuffer(tb[name][2], da.dtype)
            raise AssertionError("%s differs in %d of %d values (first at %d)"
                                 % (name, int((da != db).sum()), da.size,
                                    int(np.argmax(da != db))))
    for k in sorted(set(ma) | set(mb)):
        if k in PER_FILE or k in ignore:
            continue
        assert ma.get(k) == mb.get(k), "metadata %s: %r vs %r" % (k, ma.get(k), mb.get(k))


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


#: Log fields that measure time (they differ between any two runs), and the checkpoint path.
TIMING = ("img_per_s", "wall_s")


def assert_same_log(cli_log, py_log):
    """The package's records are the CLI's, field for field (timings and the checkpoint path
    aside), in the same order."""
    a, b = read_jsonl(cli_log), read_jsonl(py_log)
    assert [r["event"] for r in a] == [r["event"] for r in b]
    for ra, rb in zip(a, b):
        assert list(ra) == list(rb), "%s record: CLI fields %s, package fields %s" % (
            ra["event"], list(ra), list(rb))
        for k in ra:
            if k in TIMING or k == "save":
                continue
            assert ra[k] == rb[k], "%s record, %s: CLI %r, package %r" % (ra["event"], k, ra[k],
                                                                          rb[k])
