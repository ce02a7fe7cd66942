"""Helpers of the command-line tests: run ``rfa-fast`` as a subprocess, find the validation
models, write small ONNX models."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx

# The shared validation corpus sits next to the checkout: <root>/../shared/validation/onnx
# (tests/deps.py: skipped without it, a failure in CI).
from deps import VALIDATION, needs_validation  # noqa: E402, F401
from onnx import TensorProto, helper, numpy_helper

import rfa_fast

ONNX_DIR = VALIDATION / "onnx"
# The directory holding the rfa_fast package the tests import: the subprocess must use the same
# one (the source tree with an in-place build, or site-packages in CI).
PKG_ROOT = Path(rfa_fast.__file__).resolve().parents[1]


def package_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child Python that must import the same rfa_fast as the tests."""
    full_env = dict(os.environ if env is None else env)
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PKG_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return full_env


def model_path(name: str) -> str:
    return str(ONNX_DIR / f"{name}.graph.onnx")


def run(
    *args: str, cwd: Path, expect: int | None = 0, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``python -m rfa_fast.cli ARGS`` in ``cwd``; checks the exit status unless ``expect`` is None."""
    full_env = package_env(env)
    proc = subprocess.run(
        [sys.executable, "-m", "rfa_fast.cli", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if expect is not None:
        assert proc.returncode == expect, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


# The console script's view: `rfa-fast` has its own directory, not the working directory, first
# on sys.path; `python -m` and `python -c` would import a source tree in the working directory.
_CONSOLE_SCRIPT = "import sys; del sys.path[0]; from rfa_fast.cli import main; sys.exit(main())"


def run_script(*args: str, cwd: Path, expect: int | None = 0, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``rfa-fast ARGS`` as the installed console script runs it (the working directory off sys.path), in ``cwd``."""
    proc = subprocess.run(
        [sys.executable, "-c", _CONSOLE_SCRIPT, *args],
        cwd=cwd,
        env=package_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if expect is not None:
        assert proc.returncode == expect, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def unbuilt_checkout(dest: Path, *, checkout: bool = True) -> Path:
    """A copy of the rfa_fast package source in ``dest/rfa_fast`` without any compiled extension: what a
    checkout looks like after ``pip install .`` (the build went to site-packages).  With ``checkout``,
    ``setup.py`` and ``csrc/`` beside it too (a source tree); without, a bare package (a broken install)."""
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("*.so", "*.pyd", "*.c", "*.cpp", "__pycache__")
    shutil.copytree(PKG_ROOT / "rfa_fast", dest / "rfa_fast", ignore=ignore)
    if checkout:
        (dest / "setup.py").write_text("raise SystemExit('a stand-in: the tests only need it to exist')\n")
        (dest / "csrc").mkdir()
    return dest


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    """A user error: non-zero exit, one stderr line starting with ``rfa-fast: error:``, no traceback."""
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("rfa-fast: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for n in needles:
        assert n in lines[0], f"{n!r} not in {lines[0]!r}"
    return lines[0]


def chain_onnx(
    path: Path,
    layers: Sequence[tuple[int, int, int]],
    *,
    size: int | tuple[int, int] = 32,
    channels: int = 4,
    extra_op: str | None = None,
) -> Path:
    """An ONNX chain of Conv (kernel, stride, pad) + Relu from a 1x3xHxW input, weights embedded.

    ``extra_op`` inserts a node of that (unknown) op type after the first conv.
    """
    h, w = (size, size) if isinstance(size, int) else size
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, h, w])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes, inits = [], []
    prev, c_in = "x", 3
    for i, (k, s, p) in enumerate(layers):
        wname = f"w{i}"
        inits.append(numpy_helper.from_array(np.zeros((channels, c_in, k, k), np.float32), wname))
        nodes.append(helper.make_node("Conv", [prev, wname], [f"c{i}"], name=f"conv{i}", strides=[s, s], pads=[p] * 4))
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"], name=f"relu{i}"))
        prev, c_in = f"r{i}", channels
        if extra_op and i == 0:
            nodes.append(helper.make_node(extra_op, [prev], ["u0"], name="mystery", domain="custom.ops"))
            prev = "u0"
    nodes.append(helper.make_node("Identity", [prev], ["y"], name="out"))
    graph = helper.make_graph(nodes, "chain", [x], [y], inits)
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid("custom.ops", 1)] if extra_op else [])
    onnx.save(helper.make_model(graph, opset_imports=opsets), path)
    return path
