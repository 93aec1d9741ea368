#!/usr/bin/env python3
"""PyTorch fp32 reference for niti's results table (README "Results").

Trains the same network as a niti preset or spec (same layers, no biases, no batch norm), on the
same files read by niti's own loader (niti.datasets.load), in the same data order (Philox
epoch order of niti train), with the same kind of augmentation, in float32 with SGD. It is an
external yardstick, not part of niti: its bits are PyTorch's, and its random crops, flips,
dropout and initialisation come from torch's generator.

It prints one line per epoch and, with --target, the training wall time at which the test
accuracy first reached the target (the "time to accuracy" of the README). --log writes JSON
Lines records that `niti plot` draws next to niti's own runs.

Needs Debian's python3-torch and python3-numpy, and a built libniti (build/ of this checkout, or
$NITI_LIBRARY). Threads: --threads (default: all cores), as niti uses them.

Example (the README's Fashion-MNIST row):
  tools/torch_baseline.py --model vgg-small-28 --augment crop2-flip --epochs 40 \\
      --lr-steps 20,30 --target 0.93 --log torch.jsonl
"""

import argparse
import json
import math
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))

# per-dataset mean and standard deviation of the pixels in 0..1 (as niti's input tables)
NORM = {"mnist": ((0.1307,), (0.3081,)),
        "fashion-mnist": ((0.2860,), (0.3530,)),
        "cifar10": ((0.49139968, 0.48215841, 0.44653091), (0.24703223, 0.24348513, 0.26158784))}


def fail(msg):
    sys.stderr.write("torch_baseline: %s\n" % msg)
    sys.exit(2)


def parse_augment(text):
    """none | cropP | cropP-flip | flip (P = 1..8), as niti train --augment."""
    m = re.fullmatch(r"(?:crop([1-8]))?(-?flip)?|none", text or "")
    if not m or text in ("", "-flip") or (m.group(2) == "-flip" and not m.group(1)) or \
            (m.group(2) == "flip" and m.group(1)):
        fail("--augment %r: expected none, cropP, cropP-flip or flip with P in 1..8" % text)
    if text == "none":
        return 0, False
    return int(m.group(1) or 0), bool(m.group(2))


def build_net(torch, spec):
    """A torch.nn.Sequential for a niti spec text ("input 28x28x1; conv 64 k3 p1; relu; ...")."""
    nn = torch.nn
    parts = [p.strip() for p in spec.split(";") if p.strip()]
    m = re.fullmatch(r"input (\d+)x(\d+)x(\d+)", parts[0])
    if not m:
        fail("spec %r does not start with 'input HxWxC'" % spec)
    h, w, c = (int(v) for v in m.groups())
    layers, flat = [], None
    for p in parts[1:]:
        t = p.split()
        if t[0] == "conv":
            o, k, pad = int(t[1]), int(t[2][1:]), int(t[3][1:])
            layers.append(nn.Conv2d(c, o, k, padding=pad, bias=False))
            h, w, c = h + 2 * pad - k + 1, w + 2 * pad - k + 1, o
        elif t[0] == "relu":
            layers.append(nn.ReLU())
        elif t[0] == "maxpool":
            k = int(t[1])
            layers.append(nn.MaxPool2d(k))
            h, w = h // k, w // k
        elif t[0] == "flatten":
            layers.append(nn.Flatten())
            flat = h * w * c
        elif t[0] == "dropout":
            layers.append(nn.Dropout(0.5))  # niti keeps a feature when a Philox bit is 1
        elif t[0] == "linear":
            n_in = flat if flat is not None else h * w * c
            layers.append(nn.Linear(n_in, int(t[1]), bias=False))
            flat = int(t[1])
        else:
            fail("layer %r of the spec has no torch counterpart here" % p)
    for layer in layers:  # He (Kaiming) normal: the usual start for ReLU nets without batch norm
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
    return nn.Sequential(*layers), (h, w, c)


def main():
    ap = argparse.ArgumentParser(
        description="PyTorch fp32 reference run of a niti preset on the same data "
                    "(an external yardstick for README \"Results\").")
    ap.add_argument("--model", default="lenet", help="a niti preset or spec text (default lenet)")
    ap.add_argument("--dataset", default=None,
                    help="mnist | fashion-mnist | cifar10 (default: fashion-mnist for 1-channel "
                         "models, cifar10 for 3-channel ones)")
    ap.add_argument("--data", default=None, help="dataset folder, as niti train --data")
    ap.add_argument("--epochs", type=int, default=5, help="epochs (default 5)")
    ap.add_argument("--batch", type=int, default=None,
                    help="batch size (default: the preset's niti train default)")
    ap.add_argument("--lr", type=float, default=0.01, help="SGD learning rate (default 0.01)")
    ap.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default 0.9)")
    ap.add_argument("--wd", type=float, default=5e-4, help="weight decay (default 5e-4)")
    ap.add_argument("--lr-steps", default="",
                    help="epochs E1,E2,... at which the learning rate is divided by 10")
    ap.add_argument("--augment", default="none", help="none | cropP | cropP-flip | flip")
    ap.add_argument("--train-limit", type=int, default=0,
                    help="use only the first N images of each epoch's order (a quick check)")
    ap.add_argument("--seed", type=int, default=1, help="torch seed and niti data order seed")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: all cores)")
    ap.add_argument("--target", type=float, default=None,
                    help="report the training time at which test accuracy first reaches this "
                         "fraction (e.g. 0.93)")
    ap.add_argument("--stop-at-target", action="store_true",
                    help="end the run after the epoch that reaches --target")
    ap.add_argument("--log", default=None, help="append JSON Lines records for niti plot")
    ap.add_argument("--label", default=None, help="the run's name in the log")
    a = ap.parse_args()
    if a.epochs < 1 or (a.batch is not None and a.batch < 1):
        fail("--epochs and --batch must be at least 1")
    if a.target is not None and not 0 < a.target <= 1:
        fail("--target is a fraction in (0, 1], e.g. 0.93")
    if a.stop_at_target and a.target is None:
        fail("--stop-at-target needs --target")
    try:
        steps = sorted(int(s) for s in a.lr_steps.split(",") if s.strip())
    except ValueError:
        fail("--lr-steps %r: expected epochs E1,E2,..." % a.lr_steps)
    pad, flip = parse_augment(a.augment)
    try:
        import numpy as np
        import torch
    except ImportError as e:
        fail("%s; install Debian's python3-torch and python3-numpy" % e)
    try:
        import niti
        net_info = niti.Net(a.model, device="ref")
        spec, defaults_batch = net_info.model, net_info.batch
        net_info.close()
    except Exception as e:  # niti.Error: no library, unknown preset
        fail("the model %r: %s" % (a.model, e))
    batch = a.batch or defaults_batch
    # torch's OpenMP may start with one thread; niti's devices use every core
    torch.set_num_threads(a.threads or os.cpu_count() or 1)
    torch.manual_seed(a.seed)
    model, _ = build_net(torch, spec)
    in_c = int(re.match(r"input \d+x\d+x(\d+)", spec).group(1))
    dname = a.dataset or ("cifar10" if in_c == 3 else "fashion-mnist")
    try:
        ds = niti.datasets.load(dname, a.data)
    except niti.Error as e:
        fail(str(e))
    mean, std = NORM[ds.name]

    def to_float(u8):  # uint8 [N,H,W,C] -> normalised float [N,C,H,W]
        x = torch.from_numpy(u8).permute(0, 3, 1, 2).float().div_(255)
        return (x - torch.tensor(mean).view(1, -1, 1, 1)) / torch.tensor(std).view(1, -1, 1, 1)

    x_test, y_test = to_float(ds.x_test), torch.from_numpy(ds.y_test.astype(np.int64))
    n = ds.x_train.shape[0]
    ntrain = min(a.train_limit, n) if a.train_limit > 0 else n
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=a.momentum, weight_decay=a.wd)
    loss_fn = torch.nn.CrossEntropyLoss()
    run = "torch-%s-%d" % (time.strftime("%Y%m%d-%H%M%S"), os.getpid())
    label = a.label or "PyTorch fp32 %s %s" % (net_info.model_name, ds.name)
    logf = open(a.log, "a", encoding="utf-8") if a.log else None

    def log(rec):
        if logf:
            logf.write(json.dumps(rec) + "\n")
            logf.flush()

    log({"event": "start", "run": run, "label": label, "model": a.model, "spec": spec,
         "dataset": ds.name, "precision": "fp32-torch", "batch": batch, "epochs": a.epochs,
         "seed": a.seed, "augment": a.augment, "lr": a.lr, "momentum": a.momentum,
         "weight_decay": a.wd, "lr_steps": a.lr_steps, "threads": torch.get_num_threads()})
    print("PyTorch %s fp32, %d threads: %s on %s (%d images, batch %d), %d epochs, augment %s"
          % (torch.__version__, torch.get_num_threads(), net_info.model_name, ds.name, ntrain, batch,
             a.epochs, a.augment), flush=True)
    train_s, reached = 0.0, None
    h, w = ds.x_train.shape[1:3]
    for epoch in range(a.epochs):
        lr = a.lr / 10 ** sum(epoch >= s for s in steps)
        for g in opt.param_groups:
            g["lr"] = lr
        order = niti.datasets.epoch_order(n, a.seed, epoch)
        model.train()
        t0 = time.monotonic()
        seen, correct, loss_sum = 0, 0, 0.0
        for b in range(0, ntrain, batch):
            idx = order[b:b + batch]
            u8 = ds.x_train[idx]
            if pad:  # a random crop of the image padded with black (0) pixels
                u8p = np.pad(u8, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
                dy = torch.randint(0, 2 * pad + 1, (len(idx),)).tolist()
                dx = torch.randint(0, 2 * pad + 1, (len(idx),)).tolist()
                u8 = np.stack([u8p[i, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
                               for i in range(len(idx))])
            if flip:  # a left-right mirror of half the images
                m = (torch.rand(len(idx)) < 0.5).numpy()
                u8 = u8.copy()
                u8[m] = u8[m, :, ::-1]
            x = to_float(np.ascontiguousarray(u8))
            y = torch.from_numpy(ds.y_train[idx].astype(np.int64))
            opt.zero_grad()
            out = model(x)
            loss = loss_fn(out, y)
            loss.backward()
            opt.step()
            seen += len(idx)
            correct += int((out.argmax(1) == y).sum())
            loss_sum += float(loss) * len(idx)
        ep_s = time.monotonic() - t0
        train_s += ep_s
        model.eval()
        with torch.no_grad():
            test_correct, test_loss = 0, 0.0
            for b in range(0, x_test.shape[0], 1000):
                out = model(x_test[b:b + 1000])
                test_loss += float(loss_fn(out, y_test[b:b + 1000])) * out.shape[0]
                test_correct += int((out.argmax(1) == y_test[b:b + 1000]).sum())
        test_acc = test_correct / x_test.shape[0]
        if not math.isfinite(loss_sum):
            fail("epoch %d: the loss is not finite (lower --lr)" % (epoch + 1))
        if a.target is not None and reached is None and test_acc >= a.target:
            reached = (epoch + 1, train_s)
        print("epoch %d/%d: lr %g train loss %.4f acc %.2f%% | test loss %.4f acc %.2f%% | "
              "%.0f img/s, %.1f s training so far" % (
                  epoch + 1, a.epochs, lr, loss_sum / seen, 100 * correct / seen,
                  test_loss / x_test.shape[0], 100 * test_acc, seen / ep_s,
                  train_s), flush=True)
        log({"event": "epoch", "run": run, "epoch": epoch + 1, "train_loss": loss_sum / seen,
             "train_acc": correct / seen, "test_loss": test_loss / x_test.shape[0],
             "test_acc": test_acc, "wall_s": train_s})
        if a.stop_at_target and reached:
            break
    log({"event": "end", "run": run, "test_acc": test_acc, "wall_s": train_s})
    print("test accuracy: %.2f%% (%d/%d) - PyTorch fp32 %s, %s, %d epoch(s), %.1f s of training"
          % (100 * test_acc, test_correct, x_test.shape[0], net_info.model_name, ds.name,
             epoch + 1, train_s))
    if a.target is not None:
        if reached:
            print("reached %.2f%% test accuracy after epoch %d, %.1f s of training"
                  % (100 * a.target, reached[0], reached[1]))
        else:
            print("did not reach %.2f%% test accuracy in %d epochs" % (100 * a.target, a.epochs))


if __name__ == "__main__":
    main()
