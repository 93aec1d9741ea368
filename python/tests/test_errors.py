"""Error paths: arguments refused before any call into C, the library's own messages, damaged
checkpoints, and a missing or wrong library."""
import os
import subprocess
import sys

import numpy as np
import pytest

import niti
from conftest import REPO

TINY = "input 8x8x1; conv 4 k3 p1; relu; maxpool 2; flatten; linear 3"


@pytest.fixture(scope="module")
def net():
    return niti.Net(TINY, device="ref", batch=8)


def good(n=4):
    return np.zeros((n, 8, 8, 1), np.int8), np.zeros(n, np.int64)


@pytest.mark.parametrize("x, match", [
    (np.zeros((4, 8, 8, 1), np.uint8), "int8 .*quantise uint8 pixels"),
    (np.zeros((4, 8, 8, 1), np.float32), "must be int8"),
    (np.zeros((4, 8, 8), np.int8), r"shape \[N,8,8,1\]"),
    (np.zeros((4, 8, 8, 2), np.int8), r"shape \[N,8,8,1\]"),
    (np.zeros((9, 8, 8, 1), np.int8), "more than the batch size 8"),
    (np.zeros((0, 8, 8, 1), np.int8), "no images"),
    ([[0]], "numpy int8 array"),
])
def test_bad_images_refused(net, x, match):
    _, y = good(len(x) if hasattr(x, "__len__") else 1)
    step = net.step
    with pytest.raises(niti.ArgumentError, match=match) as e:
        net.train_step(x, y)
    assert isinstance(e.value, niti.Error) and isinstance(e.value, TypeError)
    assert net.step == step
    with pytest.raises(niti.ArgumentError):
        net.forward(x)


@pytest.mark.parametrize("y, match", [
    (np.zeros(3, np.int64), "4 integers"),
    (np.zeros(4, np.float64), "4 integers"),
    (np.array([0, 1, 2, 3]), r"in 0\.\.2"),
    (np.array([0, -1, 0, 0]), r"in 0\.\.2"),
])
def test_bad_labels_refused(net, y, match):
    x, _ = good()
    with pytest.raises(niti.ArgumentError, match=match):
        net.train_step(x, y)
    with pytest.raises(niti.ArgumentError, match=match):
        net.evaluate(x, y)


def test_bad_settings_refused():
    with pytest.raises(niti.ArgumentError, match="rule"):
        niti.Net(TINY, device="ref", rule="niti99")
    with pytest.raises(niti.ArgumentError, match="round or|'round' or 'psr'"):
        niti.Net(TINY, device="ref", act_round="up")
    with pytest.raises(niti.ArgumentError, match="niti20 rule set always uses psr"):
        niti.Net(TINY, device="ref", rule="niti20", act_round="round")
    with pytest.raises(niti.ArgumentError, match="master_weights"):
        niti.Net(TINY, device="ref", master_weights=8)
    with pytest.raises(niti.ArgumentError, match="batch"):
        niti.Net(TINY, device="ref", batch=0)
    with pytest.raises(niti.ArgumentError, match="seed"):
        niti.Net(TINY, device="ref", seed=-1)
    with pytest.raises(niti.ArgumentError, match="model must be a str"):
        niti.Net(42)


def test_library_messages():
    with pytest.raises(niti.Error, match="'lenett' is not a preset .*lenet") as e:
        niti.Net("lenett", device="ref")
    assert e.value.status_name == "format error"
    with pytest.raises(niti.Error, match="line 1, column"):
        niti.Net("input 8x8x1; conv 4 x3", device="ref")
    with pytest.raises(niti.Error, match=r"mu schedule '5,x' at column 3"):
        niti.Net(TINY, device="ref", mu="5,x")
    with pytest.raises(niti.Error, match="nonexistent-device"):
        niti.Net(TINY, device="nonexistent-device")
    with pytest.raises(niti.Error, match="unknown dataset 'imagenet'"):
        niti.datasets.load("imagenet")
    with pytest.raises(niti.Error, match="/nonexistent-dir"):
        niti.datasets.load("mnist", data="/nonexistent-dir")


def test_weights_refused(net):
    w = net.weights()
    with pytest.raises(niti.ArgumentError, match="not a weight of this model"):
        net.set_weights({"L1.weight": w["L0.weight"]})
    with pytest.raises(niti.ArgumentError, match="int8 array of shape"):
        net.set_weights({"L0.weight": (w["L0.weight"][0].astype(np.int16), 0)})
    bad = w["L0.weight"][0].copy()
    bad.flat[0] = -128
    with pytest.raises(niti.ArgumentError, match="-128"):
        net.set_weights({"L0.weight": (bad, 0)})
    after = net.weights()
    assert np.array_equal(after["L0.weight"][0], w["L0.weight"][0])


def test_fit_arguments_refused(net, tmp_path):
    with pytest.raises(niti.ArgumentError, match="cannot write the checkpoint"):
        net.fit("mnist", save="/nonexistent-dir/x.st")
    with pytest.raises(niti.ArgumentError, match="epochs"):
        net.fit("mnist", epochs=0)
    with pytest.raises(niti.Error, match="unknown dataset"):
        net.fit("imagenet")
    with pytest.raises(niti.ArgumentError, match="callback"):
        net.fit("mnist", callback=3)


def test_damaged_checkpoint(tmp_path):
    net = niti.Net(TINY, device="ref")
    path = tmp_path / "a.st"
    net.save(path)
    blob = bytearray(path.read_bytes())
    blob[-5] ^= 0x01  # a weight byte
    bad = tmp_path / "bad.st"
    bad.write_bytes(bytes(blob))
    with pytest.raises(niti.Error, match="checksum mismatch.*damaged"):
        niti.Net.load(bad, device="ref")
    trunc = tmp_path / "trunc.st"
    trunc.write_bytes(bytes(blob[:40]))
    with pytest.raises(niti.Error, match="trunc.st"):
        niti.Net.resume(trunc, device="ref")
    with pytest.raises(niti.Error, match="no-such.st"):
        niti.Net.load(tmp_path / "no-such.st", device="ref")
    # a failed save leaves the previous file intact
    with pytest.raises(niti.Error):
        net.save(tmp_path / "no-dir" / "x.st")
    assert niti.Net.load(path, device="ref").weights().keys() == net.weights().keys()


def _import_with(env_lib):
    env = dict(os.environ)
    env["NITI_LIBRARY"] = env_lib
    code = ("import niti\n"
            "try:\n    niti.devices()\n"
            "except niti.Error as e:\n    print('ERROR:', e)\n")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          cwd=os.path.join(REPO, "python"))


def test_missing_library():
    p = _import_with("/nonexistent/libniti.so")
    assert p.returncode == 0, p.stderr
    assert "ERROR: cannot find a usable libniti" in p.stdout
    assert "/nonexistent/libniti.so does not exist" in p.stdout
    assert "NITI_LIBRARY" in p.stdout


def test_wrong_library():
    import ctypes.util
    other = ctypes.util.find_library("z") or "libz.so.1"
    p = _import_with(other)
    assert "is not a libniti with the bindings API" in p.stdout or \
        "cannot load" in p.stdout, p.stdout + p.stderr


def test_import_needs_no_library():
    """`import niti` works without a library; the first call says what is missing."""
    p = _import_with("/nonexistent/libniti.so")
    assert "Traceback" not in p.stderr
