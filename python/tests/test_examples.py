"""The examples in examples/python run and print what they promise."""
import os
import re
import subprocess
import sys

from conftest import DATA, REPO, need_dataset

EXAMPLES = os.path.join(REPO, "examples", "python")


def run_example(name, args, tmp_path, device):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.join(REPO, "python")
    env["NITI_DEVICE"] = device
    p = subprocess.run([sys.executable, os.path.join(EXAMPLES, name)] + args, env=env,
                       cwd=str(tmp_path), capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def test_own_data(tmp_path):
    out = run_example("own_data.py", [str(tmp_path / "own.st")], tmp_path, "cpu")
    acc = [float(a) for a in re.findall(r"test accuracy ([0-9.]+)%", out)]
    assert len(acc) == 3 and acc[-1] > 90, out
    assert "the reloaded network (on ref) agrees" in out
    assert os.path.exists(tmp_path / "own.st")


def test_train_mnist(tmp_path):
    need_dataset("mnist")
    out = run_example("train_mnist.py", [DATA, "1"], tmp_path, "cpu")  # 1 epoch: quick
    m = re.search(r"test accuracy: ([0-9.]+)% \((\d+)/10000\)", out)
    assert m and float(m.group(1)) > 90, out
