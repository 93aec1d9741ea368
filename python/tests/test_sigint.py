"""Ctrl-C: a long fit interrupted by SIGINT stops at a batch boundary, saves its checkpoint,
raises KeyboardInterrupt, leaves no half-written file, and resumes bit-identically."""
import os
import signal
import subprocess
import sys
import time

import niti
from conftest import DATA, REPO, assert_same_checkpoint, need_dataset

SCRIPT = r"""
import sys
import niti
net = niti.Net("lenet", device="ref", batch=32, seed=5)
ds = niti.datasets.load("mnist", sys.argv[1])
print("READY", flush=True)
net.fit(ds, epochs=1000, train_limit=64, test_limit=32, eval_every=0, save=sys.argv[2],
        log=sys.argv[3], callback=lambda e, m: print("EPOCH", e, flush=True))
print("NOT INTERRUPTED", flush=True)
"""


def test_sigint_saves_and_resumes(tmp_path):
    need_dataset("mnist")
    work = tmp_path / "run"
    work.mkdir()
    ckpt, log = work / "run.st", work / "run.jsonl"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.join(REPO, "python")
    p = subprocess.Popen([sys.executable, "-c", SCRIPT, DATA, str(ckpt), str(log)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        deadline = time.time() + 900
        while time.time() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("EPOCH 2"):
                break
        assert lines and lines[-1].startswith("EPOCH 2"), "".join(lines) + p.stderr.read()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert "NOT INTERRUPTED" not in out
    assert p.returncode != 0
    assert "KeyboardInterrupt" in err and "niti: interrupted in epoch" in err, err
    assert "continue with niti.Net.resume" in err
    # only the checkpoint and the log: no temporary file left behind
    assert sorted(os.listdir(work)) == ["run.jsonl", "run.st"]
    stopped = niti.Net.resume(ckpt)
    assert stopped.step >= 4 and stopped.epochs == 1000 and stopped.dataset == "mnist"
    # finish the interrupted epoch; an uninterrupted run to the same epoch gives the same bits
    upto = stopped.epoch + 1
    stopped.fit(epochs=upto)  # the rest as the run was: data, limits, save, log
    ref = niti.Net("lenet", device="ref", batch=32, seed=5)
    ref.fit("mnist", data=DATA, epochs=upto, train_limit=64, test_limit=32, eval_every=0,
            save=tmp_path / "ref.st")
    # the same weights and position; the runs differ in their ids and epochs asked for
    assert_same_checkpoint(ckpt, tmp_path / "ref.st", ignore=("run_id", "epochs"))
    assert niti.Net.resume(ckpt).epoch == upto
