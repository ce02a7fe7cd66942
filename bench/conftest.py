"""Shared fixtures of the benchmark suite, and what bench/report.py needs to know
about the run: the machine, the versions, the command and the load average.

pytest-benchmark stores ``machine_info`` in its JSON; the hook below adds an
``rfa_bench`` entry to it. The machine may be shared: the 1-minute load
average is sampled before every test, so the report can say how busy it was.
"""

from __future__ import annotations

import os
import platform
import shlex
import sys
import time
from typing import Any

import numpy as np
import pytest

_LOAD: list[float] = []
_START: dict[str, Any] = {}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(module: str) -> str | None:
    try:
        mod = __import__(module)
    except Exception:  # noqa: BLE001 - absent or broken: reported as absent
        return None
    return str(getattr(mod, "__version__", "?"))


def _command() -> str:
    """The command line of this run, with PYTHONPATH when it was set (an in-place build is found through it)."""
    env = f"PYTHONPATH={shlex.quote(os.environ['PYTHONPATH'])} " if os.environ.get("PYTHONPATH") else ""
    return env + "pytest " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def pytest_sessionstart(session: pytest.Session) -> None:
    _START.update(time=time.time(), loadavg=os.getloadavg())


def pytest_runtest_setup(item: pytest.Item) -> None:
    _LOAD.append(os.getloadavg()[0])


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    """Add the facts docs/benchmarks.md prints next to the numbers."""
    from baseline_toolbox import VERSION as toolbox_version

    import rfa_fast

    machine_info["rfa_bench"] = {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "onnx": _version("onnx"),
        "rfa_fast": rfa_fast.__version__,
        "rfa_toolbox": toolbox_version,
        "pytest_benchmark": _version("pytest_benchmark"),
        "command": _command(),
        "loadavg_start": list(_START.get("loadavg", ())),
        "loadavg_end": list(os.getloadavg()),
        "loadavg_1m_min": min(_LOAD, default=None),
        "loadavg_1m_max": max(_LOAD, default=None),
        "loadavg_1m_mean": float(np.mean(_LOAD)) if _LOAD else None,
        "wall_seconds": time.time() - _START.get("time", time.time()),
    }


@pytest.fixture(scope="session")
def rng() -> np.random.Generator:
    return np.random.default_rng(2026)
