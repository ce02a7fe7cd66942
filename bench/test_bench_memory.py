"""Memory: peak resident set of a screen of 10^6 candidates, dense and sparse.

Each measurement runs bench/memory_child.py in a fresh process (a process's
peak RSS can only grow, so in this one it would include everything run
before).  The child builds the inputs, resets the kernel's peak counter, and
screens; its numbers land in the benchmark's ``extra_info`` and in
docs/benchmarks.md.  The timed value is the child's whole run (start-up,
building the inputs, the screen); the screen alone is ``screen_seconds``.

The core must not copy the batch more than once: the growth of the peak over
the resident set before the screen must stay below one copy of the inputs
plus the result arrays (plus a little slack for thread stacks and the
allocator).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from benchlib import record, sized

import rfa_fast

CHILD = Path(__file__).resolve().parent / "memory_child.py"
SLACK = 64 << 20  # thread stacks, allocator granularity, numpy's small temporaries

CASES = {"dense": 32, "sparse": 20}
"""Layers per chain: the dense path at 32; the sparse batch at 20 (~2 GB of arrays for 10^6 chains, ~97 B per node)."""


def run_child(mode: str, B: int, L: int) -> dict[str, Any]:
    # the child must import the rfa_fast this process imported (the installed one in CI, the in-place build here)
    env = dict(os.environ)
    where = str(Path(rfa_fast.__file__).resolve().parents[1])
    env["PYTHONPATH"] = where + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    out = subprocess.run(
        [sys.executable, str(CHILD), mode, str(B), str(L)], capture_output=True, text=True, env=env, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"memory child failed ({out.returncode}):\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def peak_growth(benchmark: Any, m: dict[str, Any], B: int) -> int:
    """The child's peak RSS growth during the screen in bytes, recorded with its measures in the benchmark."""
    growth = (m["peak_rss_kb"] - m["rss_before_kb"]) * 1024
    benchmark.extra_info.update(m)
    benchmark.extra_info.update(
        growth_bytes=growth,
        peak_rss_mb_per_million=m["peak_rss_kb"] / 1024 * 1e6 / B,
        growth_mb_per_million=growth / 2**20 * 1e6 / B,
        batch_copies=max(0, growth - m["result_bytes"]) / m["input_bytes"],
    )
    return int(growth)


@pytest.mark.benchmark(group="memory: peak RSS of one screen of 10^6 candidates (fresh process)")
@pytest.mark.parametrize("mode", list(CASES))
def test_peak_memory(benchmark: Any, mode: str) -> None:
    if not Path("/proc/self/status").exists():
        pytest.skip("peak RSS is read from /proc/self/status (Linux)")
    B = sized(benchmark, 1_000_000, 10_000)
    L = CASES[mode]
    label = (
        f"rfa_fast.screen_chains (dense, {L} layers)"
        if mode == "dense"
        else f"rfa_fast.screen (sparse batch, {L} layers)"
    )
    record(benchmark, label, B, base=mode == "dense")
    m = benchmark.pedantic(run_child, (mode, B, L), rounds=1, iterations=1)
    growth = peak_growth(benchmark, m, B)
    assert m["disagree"] == [], f"the screen's answers differ from the numpy baseline's in {m['disagree']}"
    assert m["peak_reset"], (
        "the kernel did not let the child reset its peak RSS; the growth would include building the inputs"
    )
    assert growth <= m["input_bytes"] + m["result_bytes"] + SLACK, (
        f"peak grew by {growth / 2**20:.0f} MiB during the screen: more than one copy of the "
        f"{m['input_bytes'] / 2**20:.0f} MiB of inputs plus {m['result_bytes'] / 2**20:.0f} MiB of results"
    )


@pytest.mark.benchmark(group="memory: peak RSS of a screen of 10^7 space candidates (fresh process)")
def test_peak_memory_space(benchmark: Any) -> None:
    """10^7 rows of the Once-for-All space: the screen holds rows and results, never a candidate's graph."""
    if not Path("/proc/self/status").exists():
        pytest.skip("peak RSS is read from /proc/self/status (Linux)")
    B = sized(benchmark, 10_000_000, 10_000)
    record(benchmark, "Space.screen (Once-for-All MobileNetV3, 224 px)", B, base=True)
    m = benchmark.pedantic(run_child, ("space", B, 0), rounds=1, iterations=1)
    growth = peak_growth(benchmark, m, B)
    assert m["disagree"] == [], f"the screen's answers differ from the materialized graphs' in {m['disagree']}"
    assert m["peak_reset"], "the kernel did not let the child reset its peak RSS"
    # results plus per-thread tiles: no copy of the rows, nothing per candidate beyond its results
    assert growth <= m["result_bytes"] + SLACK, (
        f"peak grew by {growth / 2**20:.0f} MiB during the screen, more than the "
        f"{m['result_bytes'] / 2**20:.0f} MiB of results"
    )
