"""niti.Net: an integer-only network on a device, over libniti."""

import math
import os
import signal
import threading
import time
from ctypes import byref, c_double, c_int, c_int64, c_void_p, create_string_buffer, sizeof

import numpy as np

from . import _lib, datasets
from ._lib import ArgumentError, Error, RunInfo, TrainCfg, check, ptr

_RULES = {"niti21": 0, "niti20": 1}
_ROUNDS = {"round": 0, "psr": 1}
_RULE_NAMES = {v: k for k, v in _RULES.items()}
_ROUND_NAMES = {v: k for k, v in _ROUNDS.items()}


def _desc(a):
    if isinstance(a, np.ndarray):
        return "%s array of shape %s" % (a.dtype, a.shape)
    return type(a).__name__


def _int(v, what, lo, hi):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise ArgumentError("%s must be an int (got %s)" % (what, type(v).__name__))
    v = int(v)
    if v < lo or v > hi:
        raise ArgumentError("%s must be in %d..%d (got %d)" % (what, lo, hi, v))
    return v


def _str(v, what):
    if not isinstance(v, str):
        raise ArgumentError("%s must be a str (got %s)" % (what, type(v).__name__))
    return v


def _mu_text(mu):
    """A mu schedule as the text the CLI takes: an int, or a str like "5,100:4,150:3"."""
    if isinstance(mu, (int, np.integer)) and not isinstance(mu, (bool, np.bool_)):
        return str(int(mu))
    if isinstance(mu, str):
        if len(mu.encode()) >= 256:
            raise ArgumentError("mu schedule is too long")
        return mu
    raise ArgumentError("mu must be an int or a schedule str like '5,100:4,150:3' (got %s)"
                        % type(mu).__name__)


def _mu_at(schedule, epoch):
    mu = c_int()
    check(_lib.lib().niti_mu_schedule_at(schedule.encode(), epoch, byref(mu)))
    return mu.value


def _device_spec(device, stored=""):
    """The device spec in effect, as `niti train` chooses it: the argument, else $NITI_DEVICE,
    else (resuming) the run's, else "" (the default choice)."""
    if device is not None and not isinstance(device, str):
        raise ArgumentError("device must be a str such as 'ref', 'cpu', 'gpu', 'P:D' or a name "
                            "substring (got %s)" % type(device).__name__)
    spec = device or os.environ.get("NITI_DEVICE") or stored or ""
    if len(spec.encode()) >= 128:
        raise ArgumentError("device spec is too long")
    return spec


def _open_backend(spec):
    h = c_void_p()
    check(_lib.lib().niti_backend_open(spec.encode() if spec else None, byref(h)))
    return h


def _path_arg(path, what):
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, str) or not path:
        raise ArgumentError("%s must be a path (got %s)" % (what, type(path).__name__))
    return path


def _abs_path(path, what):
    """The absolute form of a file path whose folder exists (the checkpoint keeps it)."""
    path = os.path.abspath(_path_arg(path, what))
    if len(path.encode()) >= 1024:
        raise ArgumentError("%s: the path is too long (%s)" % (what, path))
    return path


def _new_run_id():
    """A new run id from the date, time and process id, as `niti train` makes them."""
    return "%s-%d" % (time.strftime("%Y%m%d-%H%M%S", time.localtime()), os.getpid())


def _field(text, size, what):
    b = text.encode()
    if len(b) >= size:
        raise ArgumentError("%s is too long (at most %d bytes)" % (what, size - 1))
    return b


def _checkpoint_info(path):
    """(RunInfo, model text) of a checkpoint, read and verified without a device."""
    info = RunInfo()
    text = create_string_buffer(65536)
    check(_lib.lib().niti_checkpoint_info(os.fsencode(path), byref(info), text, sizeof(text)))
    return info, text.value.decode()


def _json_str(s):
    """A JSON string as `niti train` writes it (cmd_train.c json_str)."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif o < 0x20:
            out.append("\\u%04x" % o)
        elif 0xD800 <= o < 0xE000:
            out.append("\\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _check_writable(path):
    """Refuses a checkpoint path that cannot be written, before any work (as the CLI does)."""
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    folder = os.path.dirname(path) or "."
    if os.path.isdir(path) or not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise ArgumentError("cannot write the checkpoint %s (is its folder missing or read-only, "
                            "or is it a folder?)" % path)
    return path


class Net:
    """A network trained with integer-only arithmetic (NITI) on one device.

    ``Net(model, device=None, batch=None, seed=1, rule="niti21", act_round=None,
    err_round=None, mu=None, weight_decay=False, master_weights=None)``

    model: a preset name ("lenet", "vgg-small-7", ...; see ``niti info --list``), a spec file,
    or spec text ("input 28x28x1; conv 20 k5 p0; relu; ..."). device: "ref" (plain C), "cpu",
    "gpu", "P:D" or a device-name substring; None: ``$NITI_DEVICE``, else the first GPU, the
    first CPU, then ref. batch: the largest batch (and fit's batch size); None: the model's
    default (``niti info --list``). seed: initialisation, data order, augmentation, dropout and the loss's stochastic
    rounding. rule: "niti21" or "niti20"; act_round, err_round: "round" or "psr" (niti20:
    always psr). mu: the gradient bit-width schedule, an int or "5,100:4,150:3"; None: the
    model's default (``niti info --list``: lenet "4,3:3,4:2", the authors' VGG presets
    "5,100:4,150:3"). weight_decay, master_weights (None or 16): the contract's options.
    The same settings as ``niti train``'s options of the same names give the same bits.

    The weights are Xavier-initialised from ``seed`` (Philox stream 5) like the CLI. A Net may
    be used from several threads; its calls are serialised. Free its device memory early with
    ``close()`` or a ``with`` block."""

    def __init__(self, model, device=None, batch=None, seed=1, rule="niti21", act_round=None,
                 err_round=None, mu=None, weight_decay=False, master_weights=None):
        _str(model, "model")
        if batch is not None:
            batch = _int(batch, "batch", 1, 1 << 16)
        seed = _int(seed, "seed", 0, (1 << 64) - 1)
        if rule not in _RULES:
            raise ArgumentError("rule must be 'niti21' or 'niti20' (got %r)" % (rule,))
        for what, r in (("act_round", act_round), ("err_round", err_round)):
            if r is not None and r not in _ROUNDS:
                raise ArgumentError("%s must be 'round' or 'psr' (got %r)" % (what, r))
        if rule == "niti20":
            if (act_round or "psr") != "psr" or (err_round or "psr") != "psr":
                raise ArgumentError("the niti20 rule set always uses psr for activations and "
                                    "errors")
            act_round = err_round = "psr"
        if not isinstance(weight_decay, (bool, np.bool_, int)):
            raise ArgumentError("weight_decay must be a bool")
        if master_weights not in (None, 16):
            raise ArgumentError("master_weights must be None or 16 (got %r)" % (master_weights,))
        mu_text = _mu_text(mu) if mu is not None else None

        L = _lib.lib()
        spec = c_void_p()
        check(L.niti_model_from_arg(model.encode(), byref(spec)))
        be = None
        try:
            def_batch, def_epochs, def_mu = c_int(), c_int(), create_string_buffer(256)
            L.niti_model_train_defaults(spec, byref(def_batch), byref(def_epochs), def_mu, 256)
            if batch is None:
                batch = def_batch.value
            if mu_text is None:
                mu_text = def_mu.value.decode()
            _mu_at(mu_text, 0)  # refuses a malformed schedule before the device is opened
            cfg = TrainCfg()
            L.niti_train_cfg_default(byref(cfg))
            cfg.rule = _RULES[rule]
            cfg.act_round = _ROUNDS[act_round or "round"]
            cfg.err_round = _ROUNDS[err_round or "round"]
            cfg.seed = seed
            cfg.weight_decay = 1 if weight_decay else 0
            cfg.master16 = 1 if master_weights == 16 else 0
            dev_spec = _device_spec(device)
            be = _open_backend(dev_spec)
            net = c_void_p()
            check(L.niti_net_create(be, spec, batch, byref(cfg), byref(net)))
        except BaseException:
            if be is not None:
                L.niti_backend_close(be)
            raise
        finally:
            L.niti_model_free(spec)
        info = RunInfo()
        info.cfg = cfg
        info.mu = mu_text.encode()
        info.batch = batch
        info.device_spec = dev_spec.encode()
        self._setup(be, net, info)
        self._default_epochs = def_epochs.value
        try:
            check(L.niti_net_init_xavier(net, seed))
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ construction

    def _setup(self, be, net, info):
        L = _lib.lib()
        self._L = L
        self._be, self._net = be, net
        self._default_epochs = 1  # a new Net's: its model's (niti_model_train_defaults)
        self._lock = threading.RLock()
        self._cfg = TrainCfg()
        self._cfg.rule, self._cfg.act_round = info.cfg.rule, info.cfg.act_round
        self._cfg.err_round, self._cfg.seed = info.cfg.err_round, info.cfg.seed
        self._cfg.weight_decay, self._cfg.master16 = info.cfg.weight_decay, info.cfg.master16
        self._mu = info.mu.decode()
        self._batch = int(info.batch)
        self._set_run(info)
        m = L.niti_net_model(net)
        self._name = L.niti_model_name(m).decode()
        self._text = L.niti_model_text(m).decode()
        h, w, c = c_int(), c_int(), c_int()
        L.niti_model_input_shape(m, byref(h), byref(w), byref(c))
        self._input_shape = (h.value, w.value, c.value)
        self._classes = L.niti_model_classes(m)
        self._params = L.niti_model_params(m)
        self._layers, self._wshape = [], {}
        buf = create_string_buffer(256)
        shape = (c_int64 * 4)()
        for l in range(L.niti_model_layer_count(m)):
            L.niti_model_layer_text(m, l, buf, sizeof(buf))
            self._layers.append(buf.value.decode())
            nd = L.niti_model_weight_shape(m, l, shape)
            if nd > 0:
                self._wshape[l] = tuple(int(shape[i]) for i in range(nd))
        self._device = L.niti_backend_name(be).decode("utf-8", "replace")

    def _set_run(self, info):
        """The run state (everything a checkpoint keeps besides weights and settings)."""
        self._dataset = info.dataset.decode() or None
        self._step, self._epoch = int(info.step), int(info.epoch)
        self._batch_pos, self._epochs = int(info.batch_pos), int(info.epochs)
        self._train_limit, self._test_limit = int(info.train_limit), int(info.test_limit)
        self._eval_every = int(info.eval_every)
        self._run_id = info.run_id.decode("utf-8", "replace")
        self._label = info.label.decode("utf-8", "replace")
        self._save_path = os.fsdecode(info.save)
        self._log_path = os.fsdecode(info.log)
        self._data = os.fsdecode(info.data)
        self._device_spec = info.device_spec.decode("utf-8", "replace")
        self._ep_loss = float(info.epoch_loss_sum)
        self._ep_correct, self._ep_seen = int(info.epoch_correct), int(info.epoch_seen)
        # niti train --augment / --val; fit trains only with "" (the dataset's default) and 0
        self._augment = info.augment.decode("utf-8", "replace")
        self._val = int(info.val)

    @classmethod
    def _from_checkpoint(cls, path, device, batch):
        path = _path_arg(path, "path")
        if batch is not None:
            batch = _int(batch, "batch", 1, 1 << 16)
        L = _lib.lib()
        stored, _ = _checkpoint_info(path)  # checked before a device is opened
        spec = _device_spec(device, stored.device_spec.decode("utf-8", "replace"))
        be = _open_backend(spec)
        net, info = c_void_p(), RunInfo()
        try:
            check(L.niti_checkpoint_load_info(os.fsencode(path), be, batch or 0, byref(net),
                                              byref(info)))
        except BaseException:
            L.niti_backend_close(be)
            raise
        if batch is not None:
            info.batch = batch
        info.device_spec = spec.encode()
        self = cls.__new__(cls)
        self._setup(be, net, info)
        return self

    @classmethod
    def load(cls, path, device=None, batch=None):
        """A Net with a checkpoint's model, settings and weights (a checkpoint of ``niti train
        --save`` or ``Net.save``), starting a new run like ``niti train --init``: step, epoch
        and position 0, no run id, paths or limits (the dataset stays fit's default). device:
        as for ``Net()`` (None: ``$NITI_DEVICE``, else the device the run asked for, else the
        default). batch: the largest batch (None: the checkpoint's). Raises niti.Error for a
        missing, damaged (checksum) or foreign file."""
        self = cls._from_checkpoint(path, device, batch)
        dataset, spec = self._dataset, self._device_spec
        self._set_run(RunInfo())
        self._dataset, self._device_spec = dataset, spec
        return self

    @classmethod
    def resume(cls, path, device=None):
        """A Net that continues the run saved in a checkpoint (``Net.fit(save=...)``, or ``niti
        train --save``): weights, settings, the global step, epoch and position in the epoch's
        data order, and the run around them (dataset and its folder, epochs, limits,
        eval_every, checkpoint and log paths, label, run id, the epoch's partial sums).
        ``fit()`` with no arguments then continues exactly as ``niti train --resume CKPT``
        would: the end result is bit-identical to not stopping. device: None: ``$NITI_DEVICE``,
        else the device the run asked for, else the default."""
        return cls._from_checkpoint(path, device, None)

    def close(self):
        """Frees the network and its device (also done when the Net is garbage-collected)."""
        lock = getattr(self, "_lock", None)
        if lock is None:
            return
        with lock:
            if getattr(self, "_net", None):
                self._L.niti_net_free(self._net)
                self._net = None
            if getattr(self, "_be", None):
                self._L.niti_backend_close(self._be)
                self._be = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _handle(self):
        if not self._net:
            raise Error("this Net is closed", _lib.ERR_INVALID)
        return self._net

    def __repr__(self):
        return "<niti.Net %s on %s: batch %d, step %d, epoch %d>" % (
            self._name, self._device, self._batch, self._step, self._epoch)

    # ------------------------------------------------------------------ properties

    @property
    def device(self):
        """The device's name as the library gives it (with the GEMM path for OpenCL)."""
        return self._device

    @property
    def model(self):
        """The model's canonical spec text."""
        return self._text

    @property
    def model_name(self):
        """The preset name, or "custom"."""
        return self._name

    @property
    def layers(self):
        """The layers in spec notation, by index ("conv 20 k5 p0", "relu", ...)."""
        return list(self._layers)

    @property
    def input_shape(self):
        """(H, W, C) of one input image."""
        return self._input_shape

    @property
    def classes(self):
        """Number of outputs (classes)."""
        return self._classes

    @property
    def params(self):
        """Number of weights."""
        return self._params

    @property
    def batch(self):
        """The largest batch, and fit's batch size."""
        return self._batch

    @property
    def seed(self):
        """The seed (Philox key)."""
        return int(self._cfg.seed)

    @property
    def rule(self):
        """"niti21" or "niti20"."""
        return _RULE_NAMES[self._cfg.rule]

    @property
    def act_round(self):
        """Rounding of activations: "round" or "psr"."""
        return _ROUND_NAMES[self._cfg.act_round]

    @property
    def err_round(self):
        """Rounding of errors: "round" or "psr"."""
        return _ROUND_NAMES[self._cfg.err_round]

    @property
    def weight_decay(self):
        """Whether the contract's integer weight decay is on."""
        return bool(self._cfg.weight_decay)

    @property
    def master_weights(self):
        """16 with 16-bit master weights, else None."""
        return 16 if self._cfg.master16 else None

    @property
    def mu(self):
        """The mu schedule text ("0", "5,100:4,150:3", ...)."""
        return self._mu

    @property
    def step(self):
        """Global steps done: the next training step's t (the Philox counter word)."""
        return self._step

    @property
    def epoch(self):
        """The epoch in progress (0-based; fit's epochs done)."""
        return self._epoch

    @property
    def batch_pos(self):
        """Batches of the current epoch already done by fit (non-zero after an interruption)."""
        return self._batch_pos

    @property
    def epochs(self):
        """The epochs the run asked for (0 before fit, or after Net.load)."""
        return self._epochs

    @property
    def dataset(self):
        """The run's dataset name (None before fit)."""
        return self._dataset

    @property
    def run_id(self):
        """The run's id in its log records ("" before fit, or after Net.load)."""
        return self._run_id

    @property
    def run(self):
        """The run around the arithmetic, as checkpoints keep it: a dict with run_id, label,
        dataset, data (folder), train_limit, test_limit (0 = all), eval_every (0 = only at
        the end), save, log (paths, "" = none), device_spec."""
        return {"run_id": self._run_id, "label": self._label, "dataset": self._dataset,
                "data": self._data, "train_limit": self._train_limit,
                "test_limit": self._test_limit,
                "eval_every": 0 if self._eval_every < 0 else (self._eval_every or 1),
                "save": self._save_path, "log": self._log_path,
                "device_spec": self._device_spec}

    # ------------------------------------------------------------------ arrays in

    def _images(self, x, max_n=None, what="x"):
        if not isinstance(x, np.ndarray):
            raise ArgumentError("%s must be a numpy int8 array [N,H,W,C] (got %s)"
                                % (what, type(x).__name__))
        if x.dtype != np.int8:
            raise ArgumentError(
                "%s must be int8 at exponent -5 (got %s)%s" % (
                    what, x.dtype, "; quantise uint8 pixels with niti.quantize_images"
                    if x.dtype == np.uint8 else ""))
        h, w, c = self._input_shape
        if x.ndim != 4 or x.shape[1:] != (h, w, c):
            raise ArgumentError("%s must have shape [N,%d,%d,%d] for this model (got %s)"
                                % (what, h, w, c, x.shape))
        if x.shape[0] < 1:
            raise ArgumentError("%s holds no images" % what)
        if max_n is not None and x.shape[0] > max_n:
            raise ArgumentError("%s holds %d images, more than the batch size %d this Net was "
                                "made for" % (what, x.shape[0], max_n))
        return np.ascontiguousarray(x)

    def _labels(self, labels, n, what="labels"):
        y = np.asarray(labels)
        if y.ndim != 1 or y.shape[0] != n or (y.size and y.dtype.kind not in "iu"):
            raise ArgumentError("%s must be %d integers, one per image (got %s)"
                                % (what, n, _desc(y)))
        if y.size and (y.min() < 0 or y.max() >= self._classes):
            raise ArgumentError("%s must be in 0..%d (got %d..%d)"
                                % (what, self._classes - 1, y.min(), y.max()))
        return np.ascontiguousarray(y, np.int32)

    # ------------------------------------------------------------------ training and inference

    def train_step(self, x, labels, mu=None):
        """One training step on a batch: x int8 [N,H,W,C] at exponent -5 (N <= batch), labels
        N integers. mu: this step's gradient bit-width (None: the schedule's value at the
        current epoch). Uses the global step counter as t and advances it. Returns the batch's
        mean display loss (cross-entropy of the int8 logits, as ``niti train`` prints it)."""
        x = self._images(x, self._batch)
        n = x.shape[0]
        y = self._labels(labels, n)
        if mu is not None:
            mu = _int(mu, "mu", -64, 64)
        with self._lock:
            net = self._handle()
            if mu is None:
                mu = _mu_at(self._mu, self._epoch)
            loss, _ = self._step_once(net, x, y, n, mu)
        return loss / n

    def _step_once(self, net, x, y, n, mu):
        """One step at t = self._step; returns (display-loss sum, correct)."""
        if self._step >= 1 << 32:
            raise Error("the global step counter is at its end (2^32)", _lib.ERR_RANGE)
        logits = np.empty((n, self._classes), np.int8)
        check(self._L.niti_net_train_step(net, ptr(x), ptr(y), n, mu, self._step, ptr(logits)))
        self._step += 1
        loss, correct = c_double(), c_int64()
        check(self._L.niti_logits_stats(ptr(logits), ptr(y), n, self._classes,
                                        self._L.niti_net_out_exp(net), byref(loss),
                                        byref(correct)))
        return loss.value, correct.value

    def forward(self, x):
        """The forward pass in evaluation mode (no dropout) on at most ``batch`` images: returns
        (logits int8 [N,classes], exponent): logit value = int8 * 2**exponent. One batch shares
        one exponent (the requantisation shifts depend on the whole batch)."""
        x = self._images(x, self._batch)
        n = x.shape[0]
        logits = np.empty((n, self._classes), np.int8)
        e = c_int()
        with self._lock:
            check(self._L.niti_net_forward(self._handle(), ptr(x), n, ptr(logits), byref(e)))
        return logits, e.value

    def predict(self, x, batch=None):
        """The predicted class (int64 [N]) of each image of x (int8 [N,H,W,C]), evaluated in
        consecutive batches of ``batch`` (default: the Net's batch size)."""
        x = self._images(x)
        batch = self._batch if batch is None else _int(batch, "batch", 1, self._batch)
        pred = np.empty(x.shape[0], np.int32)
        with self._lock:
            check(self._L.niti_net_evaluate(self._handle(), ptr(x), None, x.shape[0], batch,
                                            None, None, None, ptr(pred)))
        return pred.astype(np.int64)

    def evaluate(self, x, labels, batch=None):
        """Accuracy on images x (int8 [N,H,W,C]) with their labels, evaluated like ``niti
        eval`` in consecutive batches of ``batch`` (default: the Net's batch size). Returns a
        dict: accuracy, correct, total, loss (mean display loss), confusion (int64
        [classes,classes], row = label, column = prediction), per_class_correct and
        per_class_total (int64 [classes]), per_class_accuracy (float [classes]; nan where a
        class has no image)."""
        x = self._images(x)
        n = x.shape[0]
        y = self._labels(labels, n)
        return self._evaluate(x, y, self._batch if batch is None
                              else _int(batch, "batch", 1, self._batch))

    def _evaluate(self, x, y, batch):
        n, C = x.shape[0], self._classes
        conf = np.zeros((C, C), np.int64)
        correct, loss = c_int64(), c_double()
        with self._lock:
            check(self._L.niti_net_evaluate(self._handle(), ptr(x), ptr(y), n, batch,
                                            byref(correct), ptr(conf), byref(loss), None))
        per_total = conf.sum(axis=1)
        per_correct = np.diag(conf).copy()
        with np.errstate(invalid="ignore", divide="ignore"):
            per_acc = np.where(per_total > 0, per_correct / np.maximum(per_total, 1), np.nan)
        return {"accuracy": correct.value / n if n else 0.0, "correct": correct.value,
                "total": n, "loss": loss.value / n if n else 0.0, "loss_sum": loss.value,
                "confusion": conf, "per_class_correct": per_correct,
                "per_class_total": per_total, "per_class_accuracy": per_acc}

    # ------------------------------------------------------------------ weights

    def weights(self):
        """Every conv/linear layer's weights: {"L{k}.weight": (int8 array, exponent)} in the
        contract's layouts (conv [O,k,k,I], linear [O,F]), named as in checkpoints; the value
        of weight w is w * 2**exponent."""
        out = {}
        e = c_int()
        with self._lock:
            net = self._handle()
            for l, shape in self._wshape.items():
                w = np.empty(shape, np.int8)
                check(self._L.niti_net_get_weights(net, l, ptr(w), byref(e)))
                out["L%d.weight" % l] = (w, e.value)
        return out

    def set_weights(self, weights):
        """Sets layers' weights from a dict like ``weights()`` gives ({"L{k}.weight": (int8
        array, exponent)}; any subset of the layers). Values must be in [-127, 127]; with
        master weights, each set layer's master weights become w * 2**8. Everything is checked
        before anything is set."""
        if not isinstance(weights, dict):
            raise ArgumentError("weights must be a dict {'L{k}.weight': (int8 array, exponent)}")
        todo = []
        for key, val in weights.items():
            l = None
            if isinstance(key, str) and key.startswith("L") and key.endswith(".weight"):
                try:
                    l = int(key[1:-7])
                except ValueError:
                    l = None
            if l not in self._wshape:
                raise ArgumentError("%r is not a weight of this model (its weights: %s)"
                                    % (key, ", ".join("L%d.weight" % k for k in self._wshape)))
            if not isinstance(val, (tuple, list)) or len(val) != 2:
                raise ArgumentError("%s: expected (int8 array, exponent)" % key)
            w, e = val
            if not isinstance(w, np.ndarray) or w.dtype != np.int8 or w.shape != self._wshape[l]:
                raise ArgumentError("%s must be an int8 array of shape %s (got %s)"
                                    % (key, self._wshape[l], _desc(w)))
            if w.size and w.min() < -127:
                raise ArgumentError("%s holds -128; weights are in [-127, 127]" % key)
            e = _int(e, key + " exponent", -64, 64)
            todo.append((l, np.ascontiguousarray(w), e))
        with self._lock:
            net = self._handle()
            for l, w, e in todo:
                check(self._L.niti_net_set_weights(net, l, ptr(w), e))

    # ------------------------------------------------------------------ checkpoints

    def _run_info(self):
        info = RunInfo()
        info.cfg = self._cfg
        info.mu = self._mu.encode()
        info.dataset = (self._dataset or "").encode()
        info.batch = self._batch
        info.step = self._step
        info.epoch = self._epoch
        info.batch_pos = self._batch_pos
        info.epochs = self._epochs
        info.train_limit, info.test_limit = self._train_limit, self._test_limit
        info.eval_every = self._eval_every
        info.run_id = _field(self._run_id, 64, "run_id")
        info.label = _field(self._label, 256, "label")
        info.save = os.fsencode(self._save_path)
        info.log = os.fsencode(self._log_path)
        info.data = _field(self._data, 1024, "data folder")
        info.device = _field(self._device, 256, "device name")
        info.device_spec = _field(self._device_spec, 128, "device spec")
        info.augment = _field(self._augment, 16, "augment")
        info.val = self._val
        if self._batch_pos:
            info.epoch_loss_sum = self._ep_loss
            info.epoch_correct, info.epoch_seen = self._ep_correct, self._ep_seen
        return info

    def _save(self, path, info):
        with self._lock:
            check(self._L.niti_checkpoint_save_info(self._handle(), byref(info),
                                                    os.fsencode(path)))

    def save(self, path):
        """Saves a checkpoint (safetensors, the format of ``niti train --save``): weights,
        master weights, settings and the run state (global step, epoch, position). The write
        is atomic (a temporary file renamed over the target): a failure leaves any previous
        file intact."""
        path = os.fspath(path)
        self._save(path if isinstance(path, str) else os.fsdecode(path), self._run_info())

    # ------------------------------------------------------------------ fit

    def fit(self, dataset=None, data=None, epochs=None, train_limit=None, test_limit=None,
            log=None, callback=None, save=None, eval_every=None, max_steps=None, label=None,
            run_id=None, verbose=False, augment=None, val=None):
        """Trains like ``niti train``: the same epoch loop, data order, augmentation, validation
        split, mu schedule, global step, evaluation, checkpoints and JSON Lines log, so the same
        options give byte-identical weights.

        dataset: "mnist", "fashion-mnist", "cifar10", or a ``niti.datasets.Dataset``; None: the
        run's (after ``Net.resume``), else fashion-mnist for 1-channel and cifar10 for
        3-channel models. data: the dataset folder (as ``--data``; None: ``$NITI_DATA``, else
        the run's folder, else ./data). epochs: the epoch to train up to, counted from the start
        of the run, as ``--epochs`` (None: the run's number after ``resume``, else the model's
        default, as ``niti info --list`` shows: lenet 5).
        train_limit / test_limit: only the first N images of each epoch's order / of the test
        set. log: a file to append JSON Lines records to (start, epoch, stop, end). callback(
        epoch, metrics): called after each epoch with the number of epochs done and the epoch's
        record (a dict); returning False stops the run there. save: a checkpoint path, written
        after every epoch, when the run stops early, and on Ctrl-C. eval_every: evaluate the
        test set every N epochs (0: only at the end; None: the run's, else 1). max_steps: stop
        after global step N. label, run_id: the run's name and id in the log (None: the run's,
        else "int8 MODEL DATASET" and a new id). verbose: print the CLI's per-epoch lines.
        augment: the training augmentation, as ``--augment`` ("none", "cropP", "cropP-flip",
        "flip"; None: the run's, else the dataset's default, CIFAR-10 crop4-flip and none for
        the others; ``niti.datasets.augment_mode``). val: hold out the last N training images
        as a validation set, as ``--val`` (None: the run's, else 0); every evaluation then also
        reports val_loss and val_acc.

        Arguments left at None continue the run as it was (after ``resume``: its dataset,
        folder, limits, eval_every, checkpoint and log paths, label, id); data, epochs, the
        limits, eval_every, save, log and max_steps may change, as with ``niti train --resume``;
        another dataset, augmentation, validation split, label or run id is refused.

        Ctrl-C (SIGINT, when fit runs in the main thread) stops at the next batch boundary,
        saves the checkpoint (with ``save``) and raises KeyboardInterrupt; ``Net.resume`` then
        continues bit-identically. Returns a dict: test_acc, test_correct, test_total, epochs,
        step, wall_s, stopped (True if max_steps or the callback stopped the run early;
        test_acc is then that of the last evaluation, or None), val_acc (the last evaluation's,
        None without val) and history (the epoch records)."""
        # ---- arguments, all checked before any work
        in_run = bool(self._run_id)
        if isinstance(dataset, datasets.Dataset):
            ds, dname = dataset, dataset.name
        elif dataset is None or isinstance(dataset, str):
            ds = None
            dname = dataset or self._dataset or ("cifar10" if self._input_shape[2] == 3
                                                 else "fashion-mnist")
        else:
            raise ArgumentError("dataset must be a name or a niti.datasets.Dataset (got %s)"
                                % type(dataset).__name__)
        canon, tables, _ = datasets.describe(dname)
        diffs = []
        if in_run and self._dataset and canon != self._dataset:
            diffs.append("dataset %s (the run's: %s)" % (canon, self._dataset))
        # the augmentation: "" in a run is its dataset's default (as niti train stores it)
        aug_text = self._augment if in_run else ""
        aug_mode = datasets.augment_mode(canon, aug_text)
        if augment is not None:
            want = datasets.augment_mode(canon, augment)
            if in_run and want != aug_mode:
                diffs.append("augment %s (the run's: %s)" % (want, aug_mode))
            aug_text = aug_mode = want
        if val is not None:
            val = _int(val, "val", 0, 1 << 30)
            if in_run and val != self._val:
                diffs.append("val %d (the run's: %d)" % (val, self._val))
        else:
            val = self._val if in_run else 0
        if label is not None:
            _str(label, "label")
            _field(label, 256, "label")
            if in_run and self._label and label != self._label:
                diffs.append("label %r (the run's: %r)" % (label, self._label))
        if run_id is not None:
            _str(run_id, "run_id")
            if not (0 < len(run_id) < 64 and all(32 <= ord(ch) < 127 and ch not in '"\\'
                                                 for ch in run_id)):
                raise ArgumentError("run_id must be 1..63 printable ASCII characters without "
                                    "quotes or backslashes (got %r)" % run_id)
            if in_run and run_id != self._run_id:
                diffs.append("run_id %s (the run's: %s)" % (run_id, self._run_id))
        if diffs:
            raise ArgumentError(
                "this Net continues run %s, and %s from it: %s; start a new run with "
                "niti.Net.load(checkpoint) or a new niti.Net" % (
                    self._run_id, "this differs" if len(diffs) == 1 else "these differ",
                    "; ".join(diffs)))
        if epochs is None:
            epochs = self._epochs if self._epochs > 0 else self._default_epochs
        epochs = _int(epochs, "epochs", 1, 1 << 24)
        if self._epoch >= epochs and self._batch_pos == 0:
            raise ArgumentError("the run has finished its %d epoch%s; give epochs=N with N > %d "
                                "to train it further" % (self._epoch, "" if self._epoch == 1
                                                         else "s", self._epoch))
        if self._epoch >= epochs:
            raise ArgumentError("epochs=%d: the run is already in epoch %d; give epochs=%d or "
                                "more" % (epochs, self._epoch + 1, self._epoch + 1))
        train_limit = self._train_limit if train_limit is None else \
            _int(train_limit, "train_limit", 1, 1 << 30)
        test_limit = self._test_limit if test_limit is None else \
            _int(test_limit, "test_limit", 1, 1 << 30)
        if eval_every is None:
            eval_every = self._eval_every
        else:
            eval_every = _int(eval_every, "eval_every", 0, 1 << 24)
            eval_every = -1 if eval_every == 0 else eval_every
        max_steps = None if max_steps is None else _int(max_steps, "max_steps", 1, (1 << 32) - 1)
        if callback is not None and not callable(callback):
            raise ArgumentError("callback must be callable: callback(epoch, metrics)")
        save_path = _abs_path(save, "save") if save is not None else self._save_path
        if save_path:
            _check_writable(save_path)
        log_path = _abs_path(log, "log") if log is not None else self._log_path
        if data is not None:
            data = _path_arg(data, "data")
        elif not os.environ.get("NITI_DATA") and self._data:
            data = self._data
        if self._batch_pos > 0 and train_limit > 0 and self._batch_pos * self._batch >= \
                train_limit:
            raise ArgumentError("the run stopped after batch %d of its epoch; train_limit=%d "
                                "leaves only %d batches of %d"
                                % (self._batch_pos, train_limit,
                                   (train_limit + self._batch - 1) // self._batch, self._batch))
        _mu_at(self._mu, 0)

        # ---- data and files
        if ds is None:
            ds = datasets.load(canon, data)
        if val >= ds.x_train.shape[0]:
            raise ArgumentError("val=%d: the %s training set has %d images, so at most %d can "
                                "be held out for validation (at least one must be left to train "
                                "on)" % (val, canon, ds.x_train.shape[0],
                                         ds.x_train.shape[0] - 1))
        if ds.image_shape != self._input_shape:
            raise ArgumentError("the model takes %dx%dx%d images but %s has %dx%dx%d"
                                % (self._input_shape + (canon,) + ds.image_shape))
        if self._classes < ds.classes:
            raise ArgumentError("the model has %d outputs but %s has %d classes"
                                % (self._classes, canon, ds.classes))
        n_train = ds.x_train.shape[0] - val  # the last val images validate (niti train --val)
        ntrain = min(train_limit, n_train) if train_limit else n_train
        n_test = min(test_limit, ds.x_test.shape[0]) if test_limit else ds.x_test.shape[0]
        steps_per_epoch = (ntrain + self._batch - 1) // self._batch
        if self._batch_pos > steps_per_epoch:
            raise Error("the run is at batch %d of an epoch that has %d batches here "
                        "(different train_limit or dataset?)" % (self._batch_pos,
                                                                 steps_per_epoch))
        x_test, y_test = datasets.make_batch(canon, ds.x_test, ds.y_test, np.arange(n_test))
        x_val = y_val = None
        if val:
            x_val, y_val = datasets.make_batch(canon, ds.x_train, ds.y_train,
                                               np.arange(n_train, n_train + val))
        logf = open(log_path, "a", encoding="utf-8") if log_path else None

        with self._lock:
            net = self._handle()
            # the run, as checkpoints keep it from here on
            self._epochs, self._dataset = epochs, canon
            self._train_limit, self._test_limit = train_limit, test_limit
            self._eval_every = eval_every if eval_every else 1
            self._save_path, self._log_path = save_path, log_path
            self._data = ds.folder or ""
            self._augment, self._val = aug_text, val
            if label is not None:
                self._label = label
            elif not self._label:
                self._label = "int8 %s %s" % (self._name, canon)
            if not self._run_id:
                self._run_id = run_id or _new_run_id()
            try:
                return self._fit_loop(net, ds, canon, tables, aug_mode, n_train, ntrain,
                                      steps_per_epoch, x_test, y_test, x_val, y_val, logf,
                                      callback, max_steps, verbose)
            finally:
                if logf:
                    logf.close()

    def _log_start(self, write, canon, folder, ntrain, aug_mode):
        write('{"event":"start","run":%s,"label":%s,"model":%s,"spec":%s,"dataset":"%s",'
              '"data":%s,"train_images":%d,"train_limit":%d,"test_limit":%d,'
              '"precision":"int8","device":%s,"batch":%d,"epochs":%d,"seed":%d,"rule":"%s",'
              '"act_round":"%s","err_round":"%s","mu":%s%s,"augment":"%s","val":%d,'
              '"resumed_at_step":%d}'
              % (_json_str(self._run_id), _json_str(self._label), _json_str(self._name),
                 _json_str(self._text), canon, _json_str(folder), ntrain, self._train_limit,
                 self._test_limit, _json_str(self._device), self._batch, self._epochs,
                 int(self._cfg.seed), self.rule, self.act_round, self.err_round,
                 _json_str(self._mu),
                 ',"save":%s' % _json_str(self._save_path) if self._save_path else "",
                 aug_mode, self._val, self._step))

    def _fit_loop(self, net, ds, canon, tables, aug_mode, n_all, ntrain, steps_per_epoch, x_test,
                  y_test, x_val, y_val, logf, callback, max_steps, verbose):
        L, batch = self._L, self._batch
        seed = int(self._cfg.seed)
        run = _json_str(self._run_id)

        def write(rec):
            if logf:
                logf.write(rec + "\n")
                logf.flush()

        self._log_start(write, canon, ds.folder or "", ntrain, aug_mode)
        interrupted = [False]
        old_handler = None
        if threading.current_thread() is threading.main_thread():
            def on_sigint(signum, frame):
                interrupted[0] = True
            old_handler = signal.signal(signal.SIGINT, on_sigint)
        # the first n_all training images train; the rest (val) only validate
        pixels, labels8 = ds.x_train[:n_all], ds.y_train[:n_all]
        h, w, c = pixels.shape[1:]
        aug_c = aug_mode.encode()
        weight_layers = sorted(self._wshape)
        x = np.empty((batch, h, w, c), np.int8)
        y = np.empty(batch, np.int32)
        t_start = time.monotonic()
        last = None  # (correct, total) of the last evaluation
        last_val = None  # validation accuracy of the last evaluation (val > 0)
        history = []
        stopped = None  # why the run stopped early
        try:
            while self._epoch < self._epochs:
                mu = _mu_at(self._mu, self._epoch)
                perm = datasets.epoch_order(n_all, seed, self._epoch)
                # the epoch so far: from the checkpoint when it resumes one in the middle
                if self._batch_pos == 0:
                    self._ep_loss, self._ep_correct, self._ep_seen = 0.0, 0, 0
                ep_seen0 = self._ep_seen
                ep_t0 = time.monotonic()
                while self._batch_pos < steps_per_epoch:
                    if interrupted[0] or (max_steps and self._step >= max_steps):
                        break
                    start = self._batch_pos * batch
                    cnt = min(batch, ntrain - start)
                    idx = np.ascontiguousarray(perm[start:start + cnt])
                    check(L.niti_batch_make_mode(ptr(pixels), ptr(labels8), n_all, h, w, c,
                                                 ptr(tables), ptr(idx), cnt, aug_c, seed,
                                                 self._step, ptr(x), ptr(y)))
                    try:
                        loss, ok = self._step_once(net, x[:cnt], y[:cnt], cnt, mu)
                    except Error as e:
                        raise Error("epoch %d step %d: %s" % (self._epoch + 1, self._step,
                                                              e.message), e.status) from None
                    self._ep_loss += loss
                    self._ep_correct += ok
                    self._ep_seen += cnt
                    self._batch_pos += 1
                if interrupted[0] or self._batch_pos < steps_per_epoch:
                    break
                ep_time = time.monotonic() - ep_t0
                out_exp = L.niti_net_out_exp(net)
                shifts = {"L%d" % l: L.niti_net_layer_shift(net, l) for l in weight_layers}
                sat = {}
                s64, t64 = c_int64(), c_int64()
                for l in weight_layers:
                    if L.niti_net_layer_saturation(net, l, byref(s64), byref(t64)) == 0 and \
                            t64.value:
                        sat["L%d" % l] = s64.value / t64.value
                every = self._eval_every or 1
                do_eval = self._epoch + 1 == self._epochs or (
                    every > 0 and (self._epoch + 1) % every == 0)
                seen = self._ep_seen
                rec = {"epoch": self._epoch + 1, "step": self._step, "mu": mu,
                       "train_loss": self._ep_loss / seen if seen else 0.0,
                       "train_acc": self._ep_correct / seen if seen else 0.0}
                if do_eval:
                    try:
                        r = self._evaluate(x_test, y_test, batch)
                    except Error as e:
                        raise Error("evaluation: " + e.message, e.status) from None
                    last = (r["correct"], r["total"])
                    rec["test_loss"] = r["loss_sum"] / r["total"]
                    rec["test_acc"] = r["correct"] / r["total"]
                    if x_val is not None:
                        try:
                            r = self._evaluate(x_val, y_val, batch)
                        except Error as e:
                            raise Error("evaluation of the validation set: " + e.message,
                                        e.status) from None
                        rec["val_loss"] = r["loss_sum"] / r["total"]
                        rec["val_acc"] = last_val = r["correct"] / r["total"]
                rec["img_per_s"] = (seen - ep_seen0) / ep_time if ep_time > 0 else 0.0
                rec["wall_s"] = time.monotonic() - t_start
                rec["out_exp"] = out_exp
                rec["shifts"] = shifts
                rec["saturation"] = sat
                if verbose:
                    line = "epoch %d/%d: train loss %.4f acc %.2f%%" % (
                        rec["epoch"], self._epochs, rec["train_loss"], 100 * rec["train_acc"])
                    if do_eval:
                        line += " | test loss %.4f acc %.2f%%" % (rec["test_loss"],
                                                                   100 * rec["test_acc"])
                    if "val_acc" in rec:
                        line += " | val loss %.4f acc %.2f%%" % (rec["val_loss"],
                                                                  100 * rec["val_acc"])
                    print(line + " | %.0f img/s, %.1f s" % (rec["img_per_s"], ep_time),
                          flush=True)
                r = ('{"event":"epoch","run":%s,"epoch":%d,"step":%d,"mu":%d,"train_loss":%.6f,'
                     '"train_acc":%.6f' % (run, rec["epoch"], rec["step"], mu, rec["train_loss"],
                                           rec["train_acc"]))
                if do_eval:
                    r += ',"test_loss":%.6f,"test_acc":%.6f' % (rec["test_loss"],
                                                                rec["test_acc"])
                if "val_acc" in rec:
                    r += ',"val_loss":%.6f,"val_acc":%.6f' % (rec["val_loss"], rec["val_acc"])
                r += ',"img_per_s":%.1f,"wall_s":%.3f' % (rec["img_per_s"], rec["wall_s"])
                r += ',"out_exp":%d,"shifts":{%s},"saturation":{%s}}' % (
                    out_exp, ",".join('"%s":%d' % kv for kv in shifts.items()),
                    ",".join('"%s":%.6f' % kv for kv in sat.items()))
                write(r)
                self._epoch += 1
                self._batch_pos = 0
                self._ep_loss, self._ep_correct, self._ep_seen = 0.0, 0, 0
                if self._save_path:
                    self._save(self._save_path, self._run_info())
                history.append(rec)
                if callback is not None and callback(rec["epoch"], rec) is False:
                    if self._epoch < self._epochs:
                        stopped = "callback"
                    break
            if self._epoch < self._epochs and stopped is None:
                stopped = "interrupted" if interrupted[0] else "max-steps"
            if stopped:
                write('{"event":"stop","run":%s,"reason":"%s","epoch":%d,"batch":%d,"step":%d,'
                      '"wall_s":%.3f}' % (run, stopped, self._epoch + 1, self._batch_pos,
                                          self._step, time.monotonic() - t_start))
            if stopped in ("interrupted", "max-steps") and self._save_path:
                self._save(self._save_path, self._run_info())
            if stopped == "interrupted":
                raise KeyboardInterrupt(
                    "niti: interrupted in epoch %d at step %d%s" % (
                        self._epoch + 1, self._step,
                        "; saved %s (continue with niti.Net.resume)" % self._save_path
                        if self._save_path else "; no checkpoint was saved (no save=)"))
        finally:
            if old_handler is not None:
                signal.signal(signal.SIGINT, old_handler)
        wall = time.monotonic() - t_start
        if stopped:
            return {"test_acc": last[0] / last[1] if last else None,
                    "test_correct": last[0] if last else None,
                    "test_total": last[1] if last else None, "epochs": self._epochs,
                    "step": self._step, "wall_s": wall, "stopped": True, "history": history,
                    "val_acc": last_val}
        if last is None:
            try:
                r = self._evaluate(x_test, y_test, batch)
            except Error as e:
                raise Error("evaluation: " + e.message, e.status) from None
            last = (r["correct"], r["total"])
        acc = last[0] / last[1]
        if verbose:
            print("test accuracy: %.2f%% (%d/%d) — %s, %s, int8, %d epoch(s), %.1f s on %s"
                  % (100 * acc, last[0], last[1], self._name, canon, self._epochs, wall,
                     self._device), flush=True)
        write('{"event":"end","run":%s,"epochs":%d,"step":%d,"test_acc":%.6f,"wall_s":%.3f}'
              % (run, self._epochs, self._step, acc, wall))
        return {"test_acc": acc, "test_correct": last[0], "test_total": last[1],
                "epochs": self._epochs, "step": self._step, "wall_s": wall, "stopped": False,
                "history": history, "val_acc": last_val}
