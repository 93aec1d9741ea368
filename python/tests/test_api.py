"""The API on its own: devices, networks on synthetic data, weights, checkpoints, datasets."""
import os

import numpy as np
import pytest

import niti
from conftest import DATA, need_dataset

TINY = "input 8x8x1; conv 4 k3 p1; relu; maxpool 2; flatten; linear 3"


def bars(n, seed=0):
    """int8 images [n,8,8,1] at exponent -5 and labels 0..2."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-8, 9, size=(n, 8, 8, 1)).astype(np.int8)
    y = rng.integers(0, 3, size=n)
    for i in range(n):
        p = rng.integers(0, 8)
        if y[i] == 0:
            x[i, p, :, 0] = 64
        elif y[i] == 1:
            x[i, :, p, 0] = 64
        else:
            x[i, np.arange(8), np.arange(8), 0] = 64
    return x, y


def test_devices_lists_ref_last():
    devs = niti.devices()
    assert devs[-1]["spec"] == "ref" and devs[-1]["type"] == "ref" and devs[-1]["usable"]
    for d in devs:
        assert set(d) == {"spec", "name", "platform", "type", "gemm", "driver", "usable",
                          "compute_units", "global_mem"}
    for d in devs[:-1]:
        assert d["gemm"] in ("vnni", "portable", "tiled", "dp4a", "khr-dot")
        assert ":" in d["spec"]


def test_library_version_and_path():
    assert niti.library_version() == niti.__version__
    assert os.path.basename(niti.library_path()).startswith("libniti")


def test_net_properties():
    net = niti.Net(TINY, device="ref", batch=16, seed=3, mu=2)
    assert net.model == TINY and net.model_name == "custom"
    assert net.input_shape == (8, 8, 1) and net.classes == 3 and net.batch == 16
    assert net.layers == ["conv 4 k3 p1", "relu", "maxpool 2", "flatten", "linear 3"]
    assert net.params == 4 * 9 + 3 * 64
    assert (net.seed, net.rule, net.act_round, net.err_round, net.mu) == (3, "niti21", "round",
                                                                         "round", "2")
    assert net.step == 0 and net.epoch == 0 and net.device.startswith("ref")
    lenet = niti.Net("lenet", device="ref")
    assert lenet.batch == 64 and lenet.mu == "4,3:3,4:2" and lenet.model_name == "lenet"
    vgg = niti.Net("vgg-small-7", device="ref", batch=2)
    assert vgg.mu == "5,100:4,150:3" and vgg.input_shape == (32, 32, 3)
    n20 = niti.Net(TINY, device="ref", rule="niti20")
    assert (n20.act_round, n20.err_round) == ("psr", "psr")


def test_train_step_learns_and_counts_steps():
    net = niti.Net(TINY, device="ref", batch=32, mu=2, seed=5)
    x, y = bars(32 * 40)
    xt, yt = bars(256, seed=1)
    before = net.evaluate(xt, yt)["accuracy"]
    for i in range(40):
        loss = net.train_step(x[32 * i:32 * (i + 1)], y[32 * i:32 * (i + 1)])
        assert np.isfinite(loss) and loss >= 0
    assert net.step == 40
    r = net.evaluate(xt, yt)
    assert r["accuracy"] > max(before, 0.8), r["accuracy"]
    assert r["total"] == 256 and r["confusion"].sum() == 256
    assert (r["per_class_total"] == np.bincount(yt, minlength=3)).all()
    assert (r["per_class_correct"] == np.diag(r["confusion"])).all()
    assert r["correct"] == r["per_class_correct"].sum()
    pred = net.predict(xt)
    assert pred.dtype == np.int64 and ((pred == yt).mean() == r["accuracy"])


def test_forward_and_predict_agree():
    net = niti.Net(TINY, device="ref", batch=8)
    x, _ = bars(8)
    logits, e = net.forward(x)
    assert logits.dtype == np.int8 and logits.shape == (8, 3) and isinstance(e, int)
    assert (net.predict(x) == logits.argmax(axis=1)).all()


def test_same_bits_when_steps_are_replayed():
    """Two networks with the same seed and the same batches end with the same weights; a
    different mu gives different ones."""
    x, y = bars(64)
    nets = [niti.Net(TINY, device="ref", batch=16, seed=9, mu=2) for _ in range(3)]
    for k, net in enumerate(nets):
        for i in range(4):
            net.train_step(x[16 * i:16 * (i + 1)], y[16 * i:16 * (i + 1)],
                           mu=3 if k == 2 else None)
    w = [n.weights() for n in nets]
    for key in w[0]:
        assert np.array_equal(w[0][key][0], w[1][key][0]) and w[0][key][1] == w[1][key][1]
    assert any(not np.array_equal(w[0][k][0], w[2][k][0]) for k in w[0])


def test_weights_round_trip():
    net = niti.Net(TINY, device="ref")
    w = net.weights()
    assert sorted(w) == ["L0.weight", "L4.weight"]
    assert w["L0.weight"][0].shape == (4, 3, 3, 1) and w["L4.weight"][0].shape == (3, 64)
    new = {k: (np.clip(v[0].astype(np.int16) // 2, -127, 127).astype(np.int8), v[1] - 1)
           for k, v in w.items()}
    net.set_weights(new)
    got = net.weights()
    for k in new:
        assert np.array_equal(got[k][0], new[k][0]) and got[k][1] == new[k][1]


def test_save_load_resume(tmp_path):
    net = niti.Net(TINY, device="ref", batch=16, seed=4, mu=2, master_weights=16)
    x, y = bars(48)
    for i in range(3):
        net.train_step(x[16 * i:16 * (i + 1)], y[16 * i:16 * (i + 1)])
    path = tmp_path / "tiny.safetensors"
    net.save(path)
    assert os.listdir(tmp_path) == ["tiny.safetensors"]
    res = niti.Net.resume(str(path))
    assert (res.step, res.batch, res.mu, res.master_weights, res.seed) == (3, 16, "2", 16, 4)
    loaded = niti.Net.load(path, batch=4)
    assert loaded.step == 0 and loaded.batch == 4
    for other in (res, loaded):
        for k, (a, e) in net.weights().items():
            b, f = other.weights()[k]
            assert np.array_equal(a, b) and e == f
    # continuing the original and the resumed network gives the same bits
    for n in (net, res):
        n.train_step(x[:16], y[:16])
    for k in net.weights():
        assert np.array_equal(net.weights()[k][0], res.weights()[k][0])


def test_quantize_images_matches_dataset_tables():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(5, 4, 4, 1), dtype=np.uint8)
    assert np.array_equal(niti.quantize_images(img, 0.1307, 0.3081),
                          niti.datasets.quantize("mnist", img))
    rgb = rng.integers(0, 256, size=(3, 4, 4, 3), dtype=np.uint8)
    mean, std = (0.49139968, 0.48215827, 0.44653124), (0.24703233, 0.24348505, 0.26158768)
    assert np.array_equal(niti.quantize_images(rgb, mean, std),
                          niti.datasets.quantize("cifar10", rgb))
    # section 10 by hand for one value: ((p/255 - mean)/std)*32, rounded half to even
    q = niti.quantize_images(np.full((1, 1, 1, 1), 200, np.uint8), 0.5, 0.25)
    assert q[0, 0, 0, 0] == np.clip(np.round((200 / 255 - 0.5) / 0.25 * 32), -128, 127)


def test_epoch_order():
    a = niti.datasets.epoch_order(1000, 1, 0)
    assert a.dtype == np.int32 and sorted(a) == list(range(1000))
    assert np.array_equal(a, niti.datasets.epoch_order(1000, 1, 0))
    assert not np.array_equal(a, niti.datasets.epoch_order(1000, 1, 1))
    assert not np.array_equal(a, niti.datasets.epoch_order(1000, 2, 0))
    assert niti.datasets.epoch_order(0, 1, 0).size == 0


def test_make_batch_augmentation():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(10, 32, 32, 3), dtype=np.uint8)
    lab = rng.integers(0, 10, size=10)
    idx = np.array([3, 1, 4])
    x, y = niti.datasets.make_batch("cifar10", img, lab, idx)
    assert np.array_equal(x, niti.datasets.quantize("cifar10", img[idx]))
    assert np.array_equal(y, lab[idx]) and y.dtype == np.int32
    xa, _ = niti.datasets.make_batch("cifar10", img, lab, idx, augment=True, seed=1, step=0)
    xb, _ = niti.datasets.make_batch("cifar10", img, lab, idx, augment=True, seed=1, step=1)
    xc, _ = niti.datasets.make_batch("cifar10", img, lab, idx, augment=True, seed=1, step=0)
    assert np.array_equal(xa, xc) and not np.array_equal(xa, xb)
    assert not np.array_equal(xa, x)


def test_datasets_load_mnist(mnist):
    assert mnist.name == "mnist" and mnist.classes == 10
    assert mnist.x_train.shape == (60000, 28, 28, 1) and mnist.x_train.dtype == np.uint8
    assert mnist.y_train.shape == (60000,) and mnist.y_train.dtype == np.uint8
    assert mnist.x_test.shape == (10000, 28, 28, 1) and mnist.y_test.max() == 9
    assert os.path.isdir(mnist.folder)


def test_datasets_load_cifar10(cifar10):
    assert cifar10.x_train.shape == (50000, 32, 32, 3) and cifar10.x_test.shape[0] == 10000
    assert cifar10.y_train.max() == 9


def test_dataset_from_own_arrays_fits(tmp_path):
    """fit on a Dataset built from user arrays (MNIST tables, no augmentation)."""
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, size=(100, 8, 8, 1), dtype=np.uint8)
    y = rng.integers(0, 3, size=100)
    ds = niti.datasets.Dataset("mnist", x[:80], y[:80], x[80:], y[80:], classes=3)
    net = niti.Net(TINY, device="ref", batch=16, mu=2)
    seen = []
    r = net.fit(ds, epochs=2, callback=lambda e, m: seen.append((e, m["step"])),
                save=tmp_path / "own.st", log=tmp_path / "own.jsonl")
    assert seen == [(1, 5), (2, 10)] and r["epochs"] == 2 and net.epoch == 2
    assert r["test_total"] == 20 and 0 <= r["test_acc"] <= 1
    assert sorted(os.listdir(tmp_path)) == ["own.jsonl", "own.st"]
    assert niti.Net.resume(tmp_path / "own.st").step == 10


def test_callback_can_stop_fit():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, size=(64, 8, 8, 1), dtype=np.uint8)
    y = rng.integers(0, 3, size=64)
    ds = niti.datasets.Dataset("mnist", x, y, x[:16], y[:16], classes=3)
    net = niti.Net(TINY, device="ref", batch=32)
    r = net.fit(ds, epochs=5, callback=lambda e, m: e < 2)
    assert r["stopped"] and net.epoch == 2 and net.step == 4


def test_threads_share_a_net():
    """Calls from several threads are serialised (and release the GIL while in C)."""
    import threading
    net = niti.Net(TINY, device="ref", batch=16, mu=2)
    x, y = bars(16)
    errors = []

    def work():
        try:
            for _ in range(5):
                net.train_step(x, y)
                net.predict(x)
        except Exception as e:  # pragma: no cover
            errors.append(e)
    ts = [threading.Thread(target=work) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors and net.step == 15


def test_context_manager_closes():
    with niti.Net(TINY, device="ref") as net:
        pass
    with pytest.raises(niti.Error, match="closed"):
        net.weights()


def test_checkpoint_info(tmp_path):
    net = niti.Net(TINY, device="ref", batch=16, seed=6, mu="3,2:2", weight_decay=True)
    x, y = bars(16)
    net.train_step(x, y)
    net.save(tmp_path / "c.st")
    info = niti.checkpoint_info(tmp_path / "c.st")
    assert info["model"] == TINY and info["step"] == 1 and info["batch"] == 16
    assert (info["seed"], info["mu"], info["weight_decay"], info["master_weights"]) == \
        (6, "3,2:2", True, None)
    assert info["device_spec"] == "ref" and info["device"].startswith("ref")
    with pytest.raises(niti.Error, match="no-such"):
        niti.checkpoint_info(tmp_path / "no-such.st")
