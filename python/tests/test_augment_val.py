"""`niti train --augment` and `--val` (issue #19) seen from the package: checkpoints keep them
(checkpoint_info, save), Net.fit, which implements neither, refuses to continue such a run
instead of training it differently from the CLI, and a run with the default settings still
continues bit-identically. Small synthetic Fashion-MNIST files on ref keep it fast."""
import os
import struct

import numpy as np
import pytest

from conftest import assert_same_checkpoint, run_cli

import niti

LIN = "input 28x28x1; flatten; linear 10"


def _idx(folder, prefix, n, seed):
    rng = np.random.default_rng(seed)
    with open(os.path.join(folder, prefix + "-images-idx3-ubyte"), "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, 28, 28))
        f.write(rng.integers(0, 256, size=n * 784, dtype=np.uint8).tobytes())
    with open(os.path.join(folder, prefix + "-labels-idx1-ubyte"), "wb") as f:
        f.write(struct.pack(">II", 0x801, n))
        f.write(bytes(i % 10 for i in range(n)))


@pytest.fixture()
def data(tmp_path):
    d = tmp_path / "D" / "fashion-mnist"
    d.mkdir(parents=True)
    _idx(str(d), "train", 96, 1)
    _idx(str(d), "t10k", 40, 2)
    return str(tmp_path / "D")


def _cli_run(tmp_path, data, name, *extra):
    ck = tmp_path / name
    run_cli(["train", "--device", "ref", "--model", LIN, "--dataset", "fashion-mnist", "--data",
             data, "--batch", "16", "--epochs", "2", "--seed", "5", "--run-id", "A",
             "--max-steps", "3", "--save", ck, "--quiet"] + list(extra))
    return ck


@pytest.mark.parametrize("extra, what", [
    (["--val", "16"], r"--val 16 \(fit holds out no validation set\)"),
    (["--augment", "crop2"], r"--augment crop2 \(fit trains with fashion-mnist's default, none\)"),
    (["--augment", "flip", "--val", "8"], r"--augment flip .* and --val 8"),
])
def test_fit_refuses_what_it_does_not_implement(tmp_path, data, extra, what):
    ck = _cli_run(tmp_path, data, "ck.st", *extra)
    info = niti.checkpoint_info(ck)
    assert (info["augment"], info["val"]) == (
        extra[extra.index("--augment") + 1] if "--augment" in extra else "",
        int(extra[extra.index("--val") + 1]) if "--val" in extra else 0)
    net = niti.Net.resume(ck, device="ref")
    with pytest.raises(niti.ArgumentError, match=what) as e:
        net.fit()
    assert "niti train --resume" in str(e.value)
    # refused before any work: nothing trained, nothing saved
    assert net.step == 3
    # a save keeps the run's options (the CLI continues it as it was)
    net.save(tmp_path / "copy.st")
    copy = niti.checkpoint_info(tmp_path / "copy.st")
    assert (copy["augment"], copy["val"]) == (info["augment"], info["val"])
    out = run_cli(["info", tmp_path / "copy.st"]).stdout
    assert ("validation: the last %d" % info["val"] if info["val"] else "validation: none") in out
    # Net.load starts a new run (like --init): the dataset's default, no validation set
    fresh = niti.Net.load(ck, device="ref")
    r = fresh.fit(data=data, epochs=1, test_limit=16)
    assert r["step"] == 6


def test_fit_continues_default_and_named_default(tmp_path, data):
    """--augment none on fashion-mnist is its default: fit continues it, bit for bit as the
    CLI does."""
    ck = _cli_run(tmp_path, data, "ck.st", "--augment", "none")
    assert niti.checkpoint_info(ck)["augment"] == "none"
    cli = _cli_run(tmp_path, data, "cli.st", "--augment", "none")
    run_cli(["train", "--resume", cli, "--quiet"])
    net = niti.Net.resume(ck, device="ref")
    net.fit()
    assert_same_checkpoint(cli, ck)


def test_bindings_struct_matches():
    """The package's RunInfo has the library's size (niti_bindings_check at load) and ends with
    the new fields."""
    from niti import _lib
    names = [f[0] for f in _lib.RunInfo._fields_]
    assert names[-2:] == ["augment", "val"]
    assert _lib.lib().niti_bindings_check(_lib.BINDINGS_LEVEL, _lib.ctypes.sizeof(_lib.RunInfo),
                                          _lib.ctypes.sizeof(_lib.DeviceDesc)) == 0
