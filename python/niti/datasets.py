"""The datasets of ``niti train`` (MNIST, Fashion-MNIST, CIFAR-10) as NumPy arrays, and the
pieces of its data pipeline: the epoch order, the input tables and batch assembly with
the ``--augment`` modes. Everything goes through the same C code as the CLI, so the orders and
the int8 batches are the CLI's, bit for bit.

>>> ds = niti.datasets.load("mnist", data="../shared/data")
>>> ds.x_train.shape, ds.x_train.dtype, ds.y_train.dtype
((60000, 28, 28, 1), dtype('uint8'), dtype('uint8'))
"""

import ctypes
import os
from ctypes import byref, c_int, c_void_p

import numpy as np

from . import _lib
from ._lib import ArgumentError, check, ptr

__all__ = ["Dataset", "NAMES", "load", "epoch_order", "make_batch", "quantize", "describe",
           "augment_mode", "tables"]

#: The dataset names ``load`` knows ("fashion_mnist" and "cifar-10" are accepted too).
NAMES = ("mnist", "fashion-mnist", "cifar10")


class Dataset:
    """A dataset in memory: ``x_train`` uint8 [N,H,W,C] (NHWC, pixels 0..255), ``y_train`` uint8
    [N], ``x_test``, ``y_test`` likewise; ``name`` (canonical: "mnist", "fashion-mnist" or
    "cifar10"), ``folder`` (where the files were read), ``classes``.

    You may build one from your own arrays to train with ``Net.fit`` on them: ``name`` must then
    be one of ``NAMES``; it chooses the input tables (mean and standard deviation) and whether
    training batches are augmented (CIFAR-10)."""

    def __init__(self, name, x_train, y_train, x_test, y_test, folder=None, classes=10):
        self.name = describe(name)[0]
        self.x_train, self.y_train = _check_split("train", x_train, y_train)
        self.x_test, self.y_test = _check_split("test", x_test, y_test)
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise ArgumentError("x_train images are %s but x_test images are %s"
                                % (self.x_train.shape[1:], self.x_test.shape[1:]))
        self.folder = folder
        self.classes = int(classes)

    @property
    def image_shape(self):
        """(H, W, C) of one image."""
        return tuple(self.x_train.shape[1:])

    def __repr__(self):
        return "<niti.datasets.Dataset %s: train %s, test %s, %d classes%s>" % (
            self.name, self.x_train.shape, self.x_test.shape, self.classes,
            ", from %s" % self.folder if self.folder else "")


def _check_split(which, x, y):
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 4:
        raise ArgumentError("x_%s must be a uint8 array [N,H,W,C] (got %s)" % (which, _desc(x)))
    if x.shape[3] < 1 or x.shape[3] > 3:
        raise ArgumentError("x_%s must have 1 to 3 channels (got %d)" % (which, x.shape[3]))
    y = np.asarray(y)
    if y.dtype.kind not in "iu" or y.shape != (x.shape[0],):
        raise ArgumentError("y_%s must be an integer array of %d labels (got %s)"
                            % (which, x.shape[0], _desc(y)))
    if y.size and (y.min() < 0 or y.max() > 255):
        raise ArgumentError("y_%s must hold labels in 0..255" % which)
    return np.ascontiguousarray(x), np.ascontiguousarray(y, np.uint8)


def _desc(a):
    if isinstance(a, np.ndarray):
        return "%s array of shape %s" % (a.dtype, a.shape)
    return type(a).__name__


def _name_arg(name):
    if not isinstance(name, str):
        raise ArgumentError("a dataset name must be a str (got %s)" % type(name).__name__)
    return name.encode()


def describe(name):
    """(canonical name, input tables int8 [3,256], augment) of a dataset name: the name a
    checkpoint stores, the per-channel tables of contract section 10 (``tables[c][p]`` is the
    int8 value of pixel value p in channel c; unused channels are zero), and whether ``niti
    train`` augments its training batches (CIFAR-10: random crop with padding 4 and flip)."""
    canon = ctypes.create_string_buffer(32)
    tables = np.zeros((3, 256), np.int8)
    aug = c_int(0)
    check(_lib.lib().niti_data_describe(_name_arg(name), canon, ptr(tables), byref(aug)))
    return canon.value.decode(), tables, bool(aug.value)


def augment_mode(name, mode=None):
    """The canonical ``--augment`` mode (e.g. "crop4-flip", "none") that ``niti train`` uses on
    dataset ``name`` for ``mode``: None or "" = the dataset's default (CIFAR-10 crop4-flip, the
    others none); else "none", "cropP", "cropP-flip" or "flip" (P = 1..8). A mirror is refused
    for MNIST (ArgumentError, with the reason); the Philox mapping is documented in
    src/io/data.c."""
    if mode is not None and not isinstance(mode, str):
        raise ArgumentError("augment must be a mode text such as 'crop2-flip' (got %s)"
                            % type(mode).__name__)
    canon = ctypes.create_string_buffer(16)
    st = _lib.lib().niti_augment_describe(_name_arg(name), (mode or "").encode(), canon)
    if st != _lib.OK:
        raise ArgumentError("augment %r for %s: %s" % (mode, name, _lib.last_error()))
    return canon.value.decode()


def tables(name):
    """The input tables (int8 [3,256]) of a dataset: see ``describe``."""
    return describe(name)[1]


def _load_split(name, data, train):
    L = _lib.lib()
    h = c_void_p()
    check(L.niti_data_load(_name_arg(name), os.fsencode(data) if data is not None else None,
                           1 if train else 0, byref(h)))
    try:
        n, hh, w, c, k = (c_int() for _ in range(5))
        L.niti_data_shape(h, byref(n), byref(hh), byref(w), byref(c), byref(k))
        shape = (n.value, hh.value, w.value, c.value)
        size = n.value * hh.value * w.value * c.value
        x = np.empty(shape, np.uint8)
        y = np.empty(n.value, np.uint8)
        if size:
            ctypes.memmove(ptr(x), L.niti_data_pixels(h), size)
            ctypes.memmove(ptr(y), L.niti_data_labels(h), n.value)
        folder = L.niti_data_folder(h).decode("utf-8", "replace")
        return x, y, folder, k.value
    finally:
        L.niti_data_free(h)


def load(name, data=None):
    """Loads a dataset's training and test sets as a ``Dataset`` of uint8 arrays.

    name: "mnist", "fashion-mnist" or "cifar10". data: the folder (as ``niti train --data``);
    None: ``$NITI_DATA``, else ``./data``; Fashion-MNIST also
    ``/usr/share/datasets/fashion-mnist``. The files are those of ``niti train`` (IDX or
    CIFAR-10 binary batches, ``.gz`` or not). Raises ``niti.Error`` naming the paths tried when
    files are missing, or the file when one is malformed."""
    if data is not None and not isinstance(data, (str, bytes, os.PathLike)):
        raise ArgumentError("data must be a folder path (got %s)" % type(data).__name__)
    canon = describe(name)[0]
    x_train, y_train, folder, classes = _load_split(canon, data, True)
    x_test, y_test, _, _ = _load_split(canon, data, False)
    return Dataset(canon, x_train, y_train, x_test, y_test, folder=folder, classes=classes)


def _uint(v, what, bits):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise ArgumentError("%s must be an int (got %s)" % (what, type(v).__name__))
    v = int(v)
    if v < 0 or v >= 1 << bits:
        raise ArgumentError("%s must be in 0..%d (got %d)" % (what, (1 << bits) - 1, v))
    return v


def epoch_order(n, seed, epoch):
    """The order in which ``niti train`` visits n training images in epoch ``epoch``
    (0-based) with seed ``seed``: an int32 permutation of 0..n-1 (Philox stream 3, documented
    in src/io/data.c). With ``--train-limit N`` the CLI shuffles the whole training set and
    uses the first N entries of this order."""
    n = _uint(n, "n", 31)
    seed = _uint(seed, "seed", 64)
    epoch = _uint(epoch, "epoch", 32)
    perm = np.empty(n, np.int32)
    check(_lib.lib().niti_epoch_order(seed, epoch, n, ptr(perm)))
    return perm


def make_batch(name, images, labels, idx, augment=False, seed=1, step=0):
    """The int8 batch ``niti train`` builds from images ``idx`` of ``images`` (uint8
    [N,H,W,C]) and ``labels`` (integers, or None): returns (x int8 [len(idx),H,W,C], y int32
    [len(idx)] or None). The pixels are quantised with the tables of dataset ``name``.
    augment: False or "none" (none), True (crop4-flip, what the CLI does for CIFAR-10 training
    batches by default), or any ``--augment`` mode ("crop2", "crop2-flip", "flip", ...,
    checked against the dataset as ``augment_mode`` does): each image is randomly cropped from
    the padded image and/or mirrored, from Philox stream 4 keyed by ``seed`` and the global
    step ``step``."""
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4:
        raise ArgumentError("images must be a uint8 array [N,H,W,C] (got %s)" % _desc(images))
    n, h, w, c = images.shape
    if c < 1 or c > 3:
        raise ArgumentError("images must have 1 to 3 channels (got %d)" % c)
    images = np.ascontiguousarray(images)
    idx = np.asarray(idx)
    if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
        raise ArgumentError("idx must be a 1-D array of integer indices (got %s)" % _desc(idx))
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ArgumentError("idx holds indices outside 0..%d" % (n - 1))
    idx = np.ascontiguousarray(idx, np.int32)
    lab = None
    if labels is not None:
        lab = np.asarray(labels)
        if lab.shape != (n,) or lab.dtype.kind not in "iu":
            raise ArgumentError("labels must be %d integers (got %s)" % (n, _desc(lab)))
        if lab.size and (lab.min() < 0 or lab.max() > 255):
            raise ArgumentError("labels must be in 0..255 here")
        lab = np.ascontiguousarray(lab, np.uint8)
    seed = _uint(seed, "seed", 64)
    step = _uint(step, "step", 32)
    tab = tables(name)
    x = np.empty((idx.size, h, w, c), np.int8)
    y = np.empty(idx.size, np.int32) if lab is not None else None
    if isinstance(augment, str):
        mode = augment_mode(name, augment)
    elif isinstance(augment, (bool, np.bool_)):
        mode = "crop4-flip" if augment else "none"
    else:
        raise ArgumentError("augment must be a bool or a mode text such as 'crop2-flip' (got %s)"
                            % type(augment).__name__)
    check(_lib.lib().niti_batch_make_mode(ptr(images), ptr(lab) if lab is not None else None, n,
                                          h, w, c, ptr(tab), ptr(idx), idx.size, mode.encode(),
                                          seed, step, ptr(x), ptr(y) if y is not None else None))
    return x, y


def quantize(name, images):
    """uint8 images [N,H,W,C] -> int8 at exponent -5 with the input tables of dataset ``name``
    (what ``niti train`` and ``niti eval`` feed the network; no augmentation)."""
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4:
        raise ArgumentError("images must be a uint8 array [N,H,W,C] (got %s)" % _desc(images))
    tab = tables(name)
    c = images.shape[3]
    if c < 1 or c > 3:
        raise ArgumentError("images must have 1 to 3 channels (got %d)" % c)
    out = np.empty(images.shape, np.int8)
    for ch in range(c):
        out[..., ch] = tab[ch][images[..., ch]]
    return out
