"""`niti train --augment` and `--val` (issue #19) from the package: Net.fit takes augment= and
val=, starts runs that equal the CLI's bit for bit, continues the CLI's runs with them, and
refuses a different value for a run that has one. Small synthetic Fashion-MNIST and MNIST files
on ref keep it fast."""
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


def _idx_data(tmp_path, name):
    d = tmp_path / "D" / name
    d.mkdir(parents=True, exist_ok=True)
    _idx(str(d), "train", 96, 1)
    _idx(str(d), "t10k", 40, 2)
    return str(tmp_path / "D")


def _fit_run(tmp_path, data, name, **kw):
    ck = tmp_path / name
    net = niti.Net(LIN, device="ref", batch=16, seed=5)
    r = net.fit("fashion-mnist", data=data, epochs=2, run_id="A", max_steps=3, save=ck, **kw)
    assert r["stopped"] and net.step == 3
    return net, ck, r


@pytest.mark.parametrize("extra, kw", [
    (["--val", "16"], {"val": 16}),
    (["--augment", "crop2"], {"augment": "crop2"}),
    (["--augment", "flip", "--val", "8"], {"augment": "flip", "val": 8}),
    (["--augment", "crop3-flip"], {"augment": "crop3-flip"}),
    (["--augment", "none"], {"augment": "none"}),  # fashion-mnist's default, named
])
def test_fit_equals_cli(tmp_path, data, extra, kw):
    """fit(augment=, val=) starts the run `niti train --augment --val` starts, and continues
    the CLI's run of those options, both bit for bit."""
    cli = _cli_run(tmp_path, data, "cli.st", *extra)
    info = niti.checkpoint_info(cli)
    assert (info["augment"], info["val"]) == (kw.get("augment", ""), kw.get("val", 0))
    # a new run from fit, stopped at the same step: the same checkpoint
    net, ck, r = _fit_run(tmp_path, data, "fit.st", **kw)
    assert_same_checkpoint(cli, ck)
    if kw.get("val"):
        assert r["val_acc"] is None  # stopped before any evaluation
    # both continued to the end, one by the CLI, one by fit: still the same
    run_cli(["train", "--resume", cli, "--quiet"])
    log = tmp_path / "fit.jsonl"
    r = net.fit(log=log)
    assert_same_checkpoint(cli, ck)
    recs = [l for l in open(log) if '"event":"epoch"' in l]
    assert len(recs) == 2 and all(('"val_acc":' in l) == bool(kw.get("val")) for l in recs)
    assert '"augment":"%s"' % niti.datasets.augment_mode("fashion-mnist", kw.get("augment")) \
        in open(log).readline()
    if kw.get("val"):
        assert 0 <= r["val_acc"] <= 1 and r["history"][-1]["val_acc"] == r["val_acc"]
    # the CLI's run, resumed by the package from the CLI's mid-run checkpoint
    mid = _cli_run(tmp_path, data, "mid.st", *extra)
    net2 = niti.Net.resume(mid, device="ref")
    net2.fit()
    assert_same_checkpoint(cli, mid)


@pytest.mark.parametrize("extra, kw, what", [
    (["--val", "16"], {"val": 8}, r"val 8 \(the run's: 16\)"),
    ([], {"val": 8}, r"val 8 \(the run's: 0\)"),
    (["--augment", "crop2"], {"augment": "flip"}, r"augment flip \(the run's: crop2\)"),
    ([], {"augment": "crop2"}, r"augment crop2 \(the run's: none\)"),
])
def test_fit_refuses_other_values_for_a_run(tmp_path, data, extra, kw, what):
    ck = _cli_run(tmp_path, data, "ck.st", *extra)
    before = open(ck, "rb").read()
    net = niti.Net.resume(ck, device="ref")
    with pytest.raises(niti.ArgumentError, match=what):
        net.fit(**kw)
    assert net.step == 3 and open(ck, "rb").read() == before  # refused before any work
    # the run's own values are accepted
    same = {k: (niti.checkpoint_info(ck)[k] or None) if k == "augment" else
            niti.checkpoint_info(ck)[k] for k in kw}
    net.fit(**same)
    assert net.epoch == 2


def test_fit_checks_augment_and_val(tmp_path, data):
    mnist = _idx_data(tmp_path, "mnist")
    net = niti.Net(LIN, device="ref", batch=16)
    with pytest.raises(niti.ArgumentError, match="mirror"):
        net.fit("mnist", data=mnist, augment="crop2-flip")
    with pytest.raises(niti.ArgumentError, match="augment 'crop9' for fashion-mnist"):
        net.fit("fashion-mnist", data=data, augment="crop9")
    with pytest.raises(niti.ArgumentError, match="augment must be a mode text"):
        net.fit("fashion-mnist", data=data, augment=True)
    with pytest.raises(niti.ArgumentError, match=r"val=96: .* at most 95 can be held out"):
        net.fit("fashion-mnist", data=data, val=96)
    with pytest.raises(niti.ArgumentError, match="val must be"):
        net.fit("fashion-mnist", data=data, val=-1)
    assert net.step == 0
    # make_batch takes the modes too: crop2 moves pixels, none does not
    ds = niti.datasets.load("fashion-mnist", data)
    idx = np.arange(16)
    plain, _ = niti.datasets.make_batch("fashion-mnist", ds.x_train, ds.y_train, idx)
    same, _ = niti.datasets.make_batch("fashion-mnist", ds.x_train, ds.y_train, idx, "none")
    crop, _ = niti.datasets.make_batch("fashion-mnist", ds.x_train, ds.y_train, idx, "crop2")
    assert (plain == same).all() and (plain != crop).any()
    with pytest.raises(niti.ArgumentError, match="mirror"):
        niti.datasets.make_batch("mnist", ds.x_train, ds.y_train, idx, "flip")


def test_bindings_struct_matches():
    """The package's RunInfo has the library's size (niti_bindings_check at load) and ends with
    the new fields."""
    from niti import _lib
    names = [f[0] for f in _lib.RunInfo._fields_]
    assert names[-2:] == ["augment", "val"]
    assert _lib.lib().niti_bindings_check(_lib.BINDINGS_LEVEL, _lib.ctypes.sizeof(_lib.RunInfo),
                                          _lib.ctypes.sizeof(_lib.DeviceDesc)) == 0
