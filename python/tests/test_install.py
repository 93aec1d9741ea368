"""Installation without network, the two ways the README gives: pip into a venv made with
--system-site-packages (pip install --no-build-isolation ./python), and `cmake --install`,
which puts the package with a copy of libniti.so next to it."""
import glob
import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO

CHECK = r"""
import numpy as np, niti, sys
print("PATH", niti.__file__)
print("LIB", niti.library_path())
net = niti.Net("input 8x8x1; conv 4 k3 p1; relu; maxpool 2; flatten; linear 2", device="ref")
x = np.zeros((4, 8, 8, 1), np.int8)
print("LOSS", net.train_step(x, [0, 1, 0, 1]))
"""


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert p.returncode == 0, "%s failed (%d):\n%s\n%s" % (cmd, p.returncode, p.stdout, p.stderr)
    return p.stdout


def clean_env():
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env


def test_pip_install_in_venv(tmp_path):
    try:
        import ensurepip  # noqa: F401
    except ImportError:
        pytest.fail("python3 -m venv needs ensurepip (Debian: apt-get install python3-venv)")
    src = tmp_path / "src"
    shutil.copytree(os.path.join(REPO, "python"), src,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "tests"))
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)])
    py = str(venv / "bin" / "python")
    run([py, "-m", "pip", "install", "--no-build-isolation", "--no-index", "--quiet",
         str(src)], env=clean_env())
    env = clean_env()
    env["NITI_LIBRARY"] = os.environ["NITI_LIBRARY"]
    out = run([py, "-c", CHECK], env=env, cwd=str(tmp_path))
    assert "PATH " + str(venv) in out, out
    assert "LIB " + os.environ["NITI_LIBRARY"] in out, out


def test_cmake_install(tmp_path):
    build = os.environ.get("NITI_BUILD_DIR")
    if not build:
        pytest.fail("NITI_BUILD_DIR is not set (the build tree; CTest sets it)")
    prefix = tmp_path / "prefix"
    run(["cmake", "--install", build, "--prefix", str(prefix)])
    found = glob.glob(str(prefix / "lib" / "python*" / "*-packages" / "niti" / "__init__.py"))
    assert len(found) == 1, found
    pkg_dir = os.path.dirname(os.path.dirname(found[0]))
    assert os.path.exists(os.path.join(pkg_dir, "niti", "libniti.so"))
    env = clean_env()
    env.pop("NITI_LIBRARY", None)
    env["PYTHONPATH"] = pkg_dir
    out = run([sys.executable, "-c", CHECK], env=env, cwd=str(tmp_path))
    assert "LIB " + os.path.join(pkg_dir, "niti", "libniti.so") in out, out
