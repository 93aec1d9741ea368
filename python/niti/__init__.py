"""niti: integer-only neural-network training (NITI, arXiv 2009.13108) from Python.

NumPy arrays in, NumPy arrays out, over libniti (the library of the ``niti`` command) through
ctypes; the foreign calls release the GIL. The same settings give the same bits as the CLI:
``Net(...).fit(...)`` saves checkpoints byte-identical in their weights to ``niti train`` with
the same options, on every backend.

>>> import niti
>>> net = niti.Net("lenet", device="cpu")
>>> result = net.fit("mnist", data="../shared/data", epochs=1)
>>> result["test_acc"]

Main names: ``Net`` (a network: fit, train_step, forward, predict, evaluate, weights, save,
load, resume), ``devices()``, ``quantize_images()``, ``datasets`` (load, epoch_order,
make_batch, quantize), ``Error``. The library is found through ``$NITI_LIBRARY``, next to the
package, in the build tree of a source checkout, or on the system (see ``library_path()``).
"""

import numpy as np

from . import datasets
from ._lib import ArgumentError, Error, DeviceDesc, check, ptr
from ._lib import library_path as _library_path
from ._lib import lib as _lib_handle
from ._net import Net, _checkpoint_info, _path_arg

__version__ = "0.1.0"

Error.__module__ = ArgumentError.__module__ = Net.__module__ = "niti"

__all__ = ["Net", "Error", "ArgumentError", "devices", "quantize_images", "checkpoint_info",
           "datasets", "library_path", "library_version", "__version__"]


def library_path():
    """The libniti in use (its path, or the loader name it was found by); loads it on first
    use and raises ``niti.Error`` listing every place tried if none is usable."""
    return _library_path()


def library_version():
    """The version string of the libniti in use ("0.1.0")."""
    return _lib_handle().niti_version().decode()


def devices():
    """The devices niti can run on: every OpenCL device, then the plain-C reference "ref".

    Each is a dict: spec (what ``Net(device=...)`` takes: "P:D" or "ref"), name, platform,
    type ("cpu", "gpu", "accelerator", "other" or "ref"), gemm (the conv/linear GEMM path auto
    mode picks: vnni, portable, tiled, dp4a or khr-dot; "" for ref; ``$NITI_GEMM`` overrides
    it), driver, usable (bool), compute_units, global_mem (bytes). No OpenCL platform is not an
    error: the list then holds only ref."""
    L = _lib_handle()
    import ctypes
    count = ctypes.c_int()
    check(L.niti_devices_list(None, 0, ctypes.byref(count)))
    arr = (DeviceDesc * max(count.value, 1))()
    check(L.niti_devices_list(arr, count.value, ctypes.byref(count)))
    out = []
    for d in arr[:count.value]:
        out.append({
            "spec": d.spec.decode(), "name": d.name.decode("utf-8", "replace"),
            "platform": d.platform.decode("utf-8", "replace"), "type": d.type.decode(),
            "gemm": d.gemm.decode(), "driver": d.driver.decode("utf-8", "replace"),
            "usable": bool(d.usable), "compute_units": int(d.compute_units),
            "global_mem": int(d.global_mem)})
    return out


def quantize_images(images, mean, std):
    """uint8 images [N,H,W,C] (pixel values 0..255) -> int8 [N,H,W,C] at exponent -5, the
    network's input (contract section 10): V = clamp(round_half_even(((p/255 - mean)/std) *
    32), -128, 127), through the library's 256-entry table of each channel (niti_input_table).

    mean, std: one number for every channel, or one per channel (std > 0). The datasets' own
    values: MNIST 0.1307/0.3081, Fashion-MNIST 0.2860/0.3530, CIFAR-10 (0.49139968,
    0.48215827, 0.44653124)/(0.24703233, 0.24348505, 0.26158768); ``niti.datasets.quantize``
    uses them by name."""
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4:
        got = ("%s array of shape %s" % (images.dtype, images.shape)
               if isinstance(images, np.ndarray) else type(images).__name__)
        raise ArgumentError("images must be a uint8 array [N,H,W,C] (got %s)" % got)
    c = images.shape[3]

    def per_channel(v, what):
        a = np.atleast_1d(np.asarray(v, dtype=np.float64))
        if a.ndim != 1 or a.size not in (1, c):
            raise ArgumentError("%s must be a number or %d numbers (one per channel)" % (what, c))
        if not np.all(np.isfinite(a)):
            raise ArgumentError("%s must be finite" % what)
        return np.broadcast_to(a, (c,))

    try:
        m = per_channel(mean, "mean")
        s = per_channel(std, "std")
    except (TypeError, ValueError) as e:
        if isinstance(e, Error):
            raise
        raise ArgumentError("mean and std must be numbers: %s" % e) from None
    if np.any(s <= 0):
        raise ArgumentError("std must be > 0")
    L = _lib_handle()
    out = np.empty(images.shape, np.int8)
    table = np.empty(256, np.int8)
    for ch in range(c):
        L.niti_input_table(float(m[ch]), float(s[ch]), ptr(table))
        out[..., ch] = table[images[..., ch]]
    return out


def checkpoint_info(path):
    """What a checkpoint of an integer run holds, read and verified (checksum, shapes) without a
    device: a dict with model (spec text), the settings (batch, seed, rule, act_round,
    err_round, mu, weight_decay, master_weights), where the run stands (step, epoch,
    batch_pos, epochs) and the run around it (dataset, data, train_limit, test_limit,
    eval_every, run_id, label, save, log, device, device_spec, augment: the --augment mode or
    "" for the dataset's default, val: the validation images held out). Raises niti.Error for a
    missing, damaged or foreign file."""
    info, model = _checkpoint_info(_path_arg(path, "path"))
    c = info.cfg
    text = lambda b: b.decode("utf-8", "replace")
    return {
        "model": model, "batch": info.batch, "seed": int(c.seed),
        "rule": "niti20" if c.rule == 1 else "niti21",
        "act_round": "psr" if c.act_round == 1 else "round",
        "err_round": "psr" if c.err_round == 1 else "round", "mu": text(info.mu),
        "weight_decay": bool(c.weight_decay), "master_weights": 16 if c.master16 else None,
        "step": info.step, "epoch": info.epoch, "batch_pos": info.batch_pos,
        "epochs": info.epochs, "dataset": text(info.dataset) or None, "data": text(info.data),
        "train_limit": info.train_limit, "test_limit": info.test_limit,
        "eval_every": 0 if info.eval_every < 0 else (info.eval_every or 1),
        "run_id": text(info.run_id), "label": text(info.label), "save": text(info.save),
        "log": text(info.log), "device": text(info.device),
        "device_spec": text(info.device_spec), "augment": text(info.augment),
        "val": info.val}
