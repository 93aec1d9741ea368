"""The same bits as the CLI: a checkpoint from Net.fit has the same weights (and run state) as
one from `niti train` with the same options, on ref and on POCL (device "cpu"); a train_step
loop over fit's batches gives fit's weights; a resumed fit gives the uninterrupted weights; the
JSON Lines logs agree. Small limits keep them fast."""
import os

import numpy as np
import pytest

import niti
from conftest import DATA, assert_same_checkpoint, assert_same_log, read_jsonl, run_cli


def fit_and_cli(tmp_path, mnist_or_name, model, device, cli_opts, net_kw, fit_kw):
    """Trains with the CLI and with Net.fit; compares the checkpoints (weights and run state),
    then the logs."""
    cli_st, py_st = tmp_path / "cli.st", tmp_path / "py.st"
    cli_log, py_log = tmp_path / "cli.jsonl", tmp_path / "py.jsonl"
    dataset = mnist_or_name if isinstance(mnist_or_name, str) else mnist_or_name.name
    run_cli(["train", "--quiet", "--model", model, "--device", device, "--dataset", dataset,
             "--data", DATA, "--save", cli_st, "--log", cli_log, "--run-id", "T1"] + cli_opts)
    net = niti.Net(model, device=device, **net_kw)
    r = net.fit(mnist_or_name, data=DATA, save=py_st, log=py_log, run_id="T1", **fit_kw)
    assert r["test_total"] > 0 and not r["stopped"]
    assert_same_checkpoint(cli_st, py_st)
    assert_same_log(cli_log, py_log)


@pytest.mark.parametrize("device", ["ref", "cpu"])
def test_fit_matches_cli_lenet_mnist(tmp_path, mnist, device):
    fit_and_cli(
        tmp_path, mnist, "lenet", device,
        ["--epochs", "1", "--train-limit", "256", "--test-limit", "256"],
        {}, dict(epochs=1, train_limit=256, test_limit=256))


def test_fit_matches_cli_options(tmp_path, mnist):
    """Non-default settings: niti20, mu schedule, weight decay, master weights, seed, batch,
    two epochs with a partial last batch, evaluation every other epoch."""
    model = "input 28x28x1; conv 6 k5 p0; relu; maxpool 2; flatten; dropout; linear 10"
    fit_and_cli(
        tmp_path, mnist, model, "cpu",
        ["--epochs", "2", "--train-limit", "100", "--test-limit", "64", "--batch", "32",
         "--seed", "7", "--rule", "niti20", "--mu", "3,1:2", "--weight-decay",
         "--master-weights", "16", "--eval-every", "2"],
        dict(batch=32, seed=7, rule="niti20", mu="3,1:2", weight_decay=True,
             master_weights=16),
        dict(epochs=2, train_limit=100, test_limit=64, eval_every=2))


def test_fit_matches_cli_cifar10_augmented(tmp_path, cifar10):
    model = "input 32x32x3; conv 8 k3 p1; relu; maxpool 2; conv 8 k3 p1; relu; maxpool 2; " \
            "flatten; linear 10"
    fit_and_cli(
        tmp_path, cifar10, model, "cpu",
        ["--epochs", "1", "--train-limit", "96", "--test-limit", "32", "--batch", "32",
         "--mu", "5"],
        dict(batch=32, mu=5), dict(epochs=1, train_limit=96, test_limit=32))


@pytest.mark.parametrize("device, dataset", [("ref", "mnist"), ("cpu", "cifar10")])
def test_train_step_loop_equals_fit(request, device, dataset):
    """train_step over the first batches of fit's order (with the CLI's augmentation for
    CIFAR-10) ends with fit's weights after that many steps."""
    ds = request.getfixturevalue(dataset)
    model = "lenet" if dataset == "mnist" else \
        "input 32x32x3; conv 8 k3 p1; relu; maxpool 2; flatten; linear 10"
    a = niti.Net(model, device=device, batch=32, mu=2, seed=11)
    a.fit(ds, epochs=1, train_limit=96, test_limit=32)
    b = niti.Net(model, device=device, batch=32, mu=2, seed=11)
    order = niti.datasets.epoch_order(len(ds.x_train), 11, 0)
    _, _, augment = niti.datasets.describe(dataset)
    assert augment == (dataset == "cifar10")
    for k in range(3):
        x, y = niti.datasets.make_batch(dataset, ds.x_train, ds.y_train,
                                        order[32 * k:32 * (k + 1)], augment=augment, seed=11,
                                        step=b.step)
        b.train_step(x, y)
    assert a.step == b.step == 3
    wa, wb = a.weights(), b.weights()
    for k in wa:
        assert np.array_equal(wa[k][0], wb[k][0]) and wa[k][1] == wb[k][1], k


def test_resume_is_bit_identical_and_cli_compatible(tmp_path, mnist):
    """fit stopped by max_steps mid-epoch, then Net.resume(...).fit() with no arguments,
    ends where an uninterrupted fit ends, log included; and `niti train --resume` alone
    continues the package's checkpoint to the same bits."""
    kw = dict(epochs=2, train_limit=128, test_limit=32, data=DATA, run_id="R")
    full = niti.Net("lenet", device="cpu", batch=32, seed=3)
    full.fit("mnist", save=tmp_path / "full.st", log=tmp_path / "full.jsonl", **kw)
    part = niti.Net("lenet", device="cpu", batch=32, seed=3)
    r = part.fit("mnist", save=tmp_path / "part.st", log=tmp_path / "part.jsonl",
                 max_steps=6, **kw)
    assert r["stopped"] and part.step == 6 and part.epoch == 1 and part.batch_pos == 2
    os.link(tmp_path / "part.st", tmp_path / "part_cli.st")
    resumed = niti.Net.resume(tmp_path / "part.st")
    assert (resumed.step, resumed.epoch, resumed.batch_pos, resumed.epochs,
            resumed.dataset) == (6, 1, 2, 2, "mnist")
    assert resumed.run == {"run_id": "R", "label": "int8 lenet mnist", "dataset": "mnist",
                           "data": os.path.realpath(os.path.join(DATA, "mnist")),
                           "train_limit": 128, "test_limit": 32, "eval_every": 1,
                           "save": str(tmp_path / "part.st"),
                           "log": str(tmp_path / "part.jsonl"), "device_spec": "cpu"}
    resumed.fit()
    assert_same_checkpoint(tmp_path / "full.st", tmp_path / "part.st")
    # the epoch records of the stopped and resumed run are the uninterrupted run's
    full_epochs = [r for r in read_jsonl(tmp_path / "full.jsonl") if r["event"] == "epoch"]
    part_recs = read_jsonl(tmp_path / "part.jsonl")
    assert [r["event"] for r in part_recs] == ["start", "epoch", "stop", "start", "epoch",
                                               "end"]
    part_epochs = [r for r in part_recs if r["event"] == "epoch"]
    for a, b in zip(full_epochs, part_epochs):
        for k in ("epoch", "step", "train_loss", "train_acc", "test_loss", "test_acc"):
            assert a[k] == b[k], (k, a, b)
    # the CLI continues the package's checkpoint alone (its device, data, limits, paths)
    run_cli(["train", "--quiet", "--resume", tmp_path / "part_cli.st",
             "--save", tmp_path / "part_cli.st"])
    assert_same_checkpoint(tmp_path / "full.st", tmp_path / "part_cli.st")


def test_fit_refuses_what_would_change_the_run(tmp_path, mnist):
    net = niti.Net("lenet", device="ref", batch=32)
    net.fit(mnist, epochs=1, train_limit=32, test_limit=32)
    with pytest.raises(niti.ArgumentError, match="finished its 1 epoch; give epochs=N"):
        net.fit(mnist)
    with pytest.raises(niti.ArgumentError, match="dataset fashion-mnist .the run's: mnist"):
        net.fit("fashion-mnist", epochs=2)
    with pytest.raises(niti.ArgumentError, match="label"):
        net.fit(mnist, epochs=2, label="other")
    r = net.fit(mnist, epochs=2)  # one more epoch of the same run
    assert net.epoch == 2 and net.step == 2 and r["epochs"] == 2


def test_a_difference_is_caught(tmp_path, mnist):
    """The comparison can fail: another seed gives other weights."""
    a = niti.Net("lenet", device="ref", batch=32, seed=1)
    a.fit(mnist, epochs=1, train_limit=32, test_limit=32, save=tmp_path / "a.st")
    b = niti.Net("lenet", device="ref", batch=32, seed=2)
    b.fit(mnist, epochs=1, train_limit=32, test_limit=32, save=tmp_path / "b.st")
    with pytest.raises(AssertionError, match="differs|metadata"):
        assert_same_checkpoint(tmp_path / "a.st", tmp_path / "b.st")
