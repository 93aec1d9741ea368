"""Loading libniti and declaring its functions for ctypes (private).

Every foreign function is called through ctypes.CDLL, which releases the GIL for the duration
of the call. The library is found, in this order:

1. ``$NITI_LIBRARY`` (a path to libniti.so; nothing else is tried when it is set);
2. next to the package (``niti/libniti.so``: ``cmake --install`` puts a copy there);
3. the build tree, when the package is used from a source checkout (``<repo>/build*/``, the
   most recently built first);
4. the system (``libniti.so.0`` through the dynamic loader, then ``<prefix>/lib`` folders).

A library of another version (another bindings level, see ``NITI_BINDINGS_LEVEL`` in niti.h)
is refused with a message that says so.
"""

import ctypes
import glob
import os
import sys
import threading
from ctypes import (POINTER, c_char, c_char_p, c_double, c_int, c_int32, c_int64, c_size_t,
                    c_uint32, c_uint64, c_void_p)

#: The bindings level this package speaks (NITI_BINDINGS_LEVEL in include/niti.h).
BINDINGS_LEVEL = 4

# niti_status values (include/niti.h).
OK, ERR_INVALID, ERR_IO, ERR_FORMAT, ERR_NOMEM, ERR_DEVICE, ERR_UNSUPPORTED, ERR_RANGE, \
    ERR_INTERRUPTED = range(9)
_STATUS_NAMES = {
    ERR_INVALID: "invalid argument", ERR_IO: "i/o error", ERR_FORMAT: "format error",
    ERR_NOMEM: "out of memory", ERR_DEVICE: "device error", ERR_UNSUPPORTED: "unsupported",
    ERR_RANGE: "out of range", ERR_INTERRUPTED: "interrupted",
}


class Error(Exception):
    """An error from niti: the library's message (``niti_last_error``, with the OpenCL build
    log where there is one) or the reason an argument was refused before any call into C.

    Attributes: ``message`` (the text), ``status`` (the ``niti_status`` code, an int; 1 =
    invalid argument for arguments refused by the package), ``status_name`` (its name)."""

    def __init__(self, message, status=ERR_INVALID):
        super().__init__(message)
        self.message = message
        self.status = status
        self.status_name = _STATUS_NAMES.get(status, "error")


class ArgumentError(Error, TypeError, ValueError):
    """An argument refused by the package before any call into C (wrong type, dtype, shape or
    value). It is a ``niti.Error`` and also a ``TypeError`` and a ``ValueError``."""


class TrainCfg(ctypes.Structure):
    """niti_train_cfg."""
    _fields_ = [("rule", c_int), ("act_round", c_int), ("err_round", c_int), ("seed", c_uint64),
                ("weight_decay", c_int), ("master16", c_int)]


class RunInfo(ctypes.Structure):
    """niti_run_info."""
    _fields_ = [("cfg", TrainCfg), ("mu", c_char * 256), ("dataset", c_char * 32),
                ("batch", c_int32), ("step", c_uint32), ("epoch", c_int32),
                ("batch_pos", c_int32), ("epochs", c_int32), ("train_limit", c_int32),
                ("test_limit", c_int32), ("eval_every", c_int32), ("run_id", c_char * 64),
                ("label", c_char * 256), ("save", c_char * 1024), ("log", c_char * 1024),
                ("data", c_char * 1024), ("device", c_char * 256),
                ("device_spec", c_char * 128), ("epoch_loss_sum", c_double),
                ("epoch_correct", c_int64), ("epoch_seen", c_int64), ("augment", c_char * 16),
                ("val", c_int32)]


class DeviceDesc(ctypes.Structure):
    """niti_device_desc."""
    _fields_ = [("spec", c_char * 16), ("name", c_char * 128), ("platform", c_char * 128),
                ("type", c_char * 16), ("gemm", c_char * 16), ("driver", c_char * 128),
                ("usable", c_int32), ("compute_units", c_int32), ("global_mem", c_uint64)]


_p = c_void_p  # opaque handles and array pointers
_ST = c_int    # niti_status
_SIGNATURES = {
    "niti_last_error": (c_char_p, []),
    "niti_status_name": (c_char_p, [c_int]),
    "niti_version": (c_char_p, []),
    "niti_bindings_check": (_ST, [c_int, c_size_t, c_size_t]),
    "niti_devices_list": (_ST, [_p, c_int, POINTER(c_int)]),
    "niti_backend_open": (_ST, [c_char_p, POINTER(c_void_p)]),
    "niti_backend_close": (None, [_p]),
    "niti_backend_name": (c_char_p, [_p]),
    "niti_model_from_arg": (_ST, [c_char_p, POINTER(c_void_p)]),
    "niti_model_free": (None, [_p]),
    "niti_model_classes": (c_int, [_p]),
    "niti_model_params": (c_int64, [_p]),
    "niti_model_name": (c_char_p, [_p]),
    "niti_model_text": (c_char_p, [_p]),
    "niti_model_train_defaults": (None, [_p, POINTER(c_int), POINTER(c_int), c_char_p, c_size_t]),
    "niti_model_input_shape": (None, [_p, POINTER(c_int), POINTER(c_int), POINTER(c_int)]),
    "niti_model_layer_count": (c_int, [_p]),
    "niti_model_layer_text": (c_int, [_p, c_int, c_char_p, c_size_t]),
    "niti_model_weight_shape": (c_int, [_p, c_int, POINTER(c_int64)]),
    "niti_train_cfg_default": (None, [POINTER(TrainCfg)]),
    "niti_net_create": (_ST, [_p, _p, c_int, POINTER(TrainCfg), POINTER(c_void_p)]),
    "niti_net_free": (None, [_p]),
    "niti_net_model": (_p, [_p]),
    "niti_net_init_xavier": (_ST, [_p, c_uint64]),
    "niti_net_set_weights": (_ST, [_p, c_int, _p, c_int]),
    "niti_net_get_weights": (_ST, [_p, c_int, _p, POINTER(c_int)]),
    "niti_net_set_master": (_ST, [_p, c_int, _p]),
    "niti_net_get_master": (_ST, [_p, c_int, _p]),
    "niti_net_train_step": (_ST, [_p, _p, _p, c_int, c_int, c_uint32, _p]),
    "niti_net_forward": (_ST, [_p, _p, c_int, _p, POINTER(c_int)]),
    "niti_net_out_exp": (c_int, [_p]),
    "niti_net_layer_shift": (c_int, [_p, c_int]),
    "niti_net_layer_saturation": (_ST, [_p, c_int, POINTER(c_int64), POINTER(c_int64)]),
    "niti_input_table": (None, [c_double, c_double, _p]),
    "niti_data_load": (_ST, [c_char_p, c_char_p, c_int, POINTER(c_void_p)]),
    "niti_data_free": (None, [_p]),
    "niti_data_shape": (None, [_p] + [POINTER(c_int)] * 5),
    "niti_data_pixels": (_p, [_p]),
    "niti_data_labels": (_p, [_p]),
    "niti_data_folder": (c_char_p, [_p]),
    "niti_data_describe": (_ST, [c_char_p, _p, _p, POINTER(c_int)]),
    "niti_epoch_order": (_ST, [c_uint64, c_uint32, c_int, _p]),
    "niti_batch_make": (_ST, [_p, _p, c_int, c_int, c_int, c_int, _p, _p, c_int, c_int,
                              c_uint64, c_uint32, _p, _p]),
    "niti_batch_make_mode": (_ST, [_p, _p, c_int, c_int, c_int, c_int, _p, _p, c_int,
                                   c_char_p, c_uint64, c_uint32, _p, _p]),
    "niti_augment_describe": (_ST, [c_char_p, c_char_p, _p]),
    "niti_mu_schedule_at": (_ST, [c_char_p, c_int, POINTER(c_int)]),
    "niti_logits_stats": (_ST, [_p, _p, c_int, c_int, c_int, POINTER(c_double),
                                POINTER(c_int64)]),
    "niti_net_evaluate": (_ST, [_p, _p, _p, c_int, c_int, POINTER(c_int64), _p,
                                POINTER(c_double), _p]),
    "niti_checkpoint_save_info": (_ST, [_p, POINTER(RunInfo), c_char_p]),
    "niti_checkpoint_load_info": (_ST, [c_char_p, _p, c_int, POINTER(c_void_p),
                                        POINTER(RunInfo)]),
    "niti_checkpoint_info": (_ST, [c_char_p, POINTER(RunInfo), c_char_p, c_size_t]),
}

_lock = threading.Lock()
_lib = None
_path = None


def _package_dir():
    return os.path.dirname(os.path.abspath(__file__))


def _candidates():
    """(where, path-or-name) pairs to try, in order."""
    env = os.environ.get("NITI_LIBRARY")
    if env:
        return [("$NITI_LIBRARY", env)]
    here = _package_dir()
    out = []
    for name in ("libniti.so", "libniti.so.0", "libniti.dylib"):
        p = os.path.join(here, name)
        if os.path.exists(p):
            out.append(("next to the package", p))
    repo = os.path.dirname(os.path.dirname(here))
    if os.path.exists(os.path.join(repo, "include", "niti.h")):
        found = glob.glob(os.path.join(repo, "build*", "libniti.so"))
        found.sort(key=lambda p: os.path.getmtime(p), reverse=True)
        out += [("the build tree", p) for p in found]
    out.append(("the system", "libniti.so.0"))
    for prefix in dict.fromkeys([sys.prefix, "/usr/local", "/usr"]):
        for sub in ("lib", "lib64", "lib/x86_64-linux-gnu", "lib/aarch64-linux-gnu"):
            p = os.path.join(prefix, sub, "libniti.so.0")
            if os.path.exists(p):
                out.append(("the system", p))
    return out


def _declare(lib):
    for name, (res, args) in _SIGNATURES.items():
        f = getattr(lib, name)
        f.restype = res
        f.argtypes = args


def _try_load(path):
    """The loaded library, or raises Error saying why this candidate is unusable."""
    if os.sep in path and not os.path.exists(path):
        raise Error("%s does not exist" % path, ERR_IO)
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise Error("cannot load %s: %s" % (path, e), ERR_IO)
    missing = [n for n in _SIGNATURES if not hasattr(lib, n)]
    if missing:
        raise Error("%s is not a libniti with the bindings API (it lacks %s%s); build niti "
                    "from the same checkout as this package"
                    % (path, ", ".join(missing[:3]), ", ..." if len(missing) > 3 else ""),
                    ERR_UNSUPPORTED)
    _declare(lib)
    st = lib.niti_bindings_check(BINDINGS_LEVEL, ctypes.sizeof(RunInfo),
                                 ctypes.sizeof(DeviceDesc))
    if st != OK:
        raise Error("%s: %s" % (path, lib.niti_last_error().decode("utf-8", "replace")), st)
    return lib


def _load():
    tried = []
    for where, path in _candidates():
        try:
            lib = _try_load(path)
        except Error as e:
            tried.append("%s: %s" % (where, e.message))
            continue
        return lib, path
    if os.environ.get("NITI_LIBRARY"):
        hint = "fix $NITI_LIBRARY (the path to libniti.so of a build of this niti)"
    else:
        hint = ("build niti (tools/quickstart.sh or cmake), then set NITI_LIBRARY to the "
                "build's libniti.so, or run `cmake --install`")
    raise Error("cannot find a usable libniti; tried:\n  " + "\n  ".join(tried) + "\n" + hint,
                ERR_UNSUPPORTED)


def lib():
    """The loaded library (loaded on first use); raises Error if none is usable."""
    global _lib, _path
    if _lib is None:
        with _lock:
            if _lib is None:
                _lib, _path = _load()
    return _lib


def library_path():
    """The path (or loader name) of the libniti in use, loading it if needed."""
    lib()
    return _path


def last_error():
    return lib().niti_last_error().decode("utf-8", "replace")


def check(status):
    """Raises Error with the library's message if status is not NITI_OK."""
    if status != OK:
        msg = last_error()
        raise Error(msg or _STATUS_NAMES.get(status, "error %d" % status), status)


def ptr(a):
    """The address of a (C-contiguous) numpy array's data, for a void* argument."""
    return a.ctypes.data_as(c_void_p)
