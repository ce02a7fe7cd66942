"""Peak memory of one screen, measured in a fresh process (run by test_bench_memory.py).

    python bench/memory_child.py dense|sparse B L

Builds B random chains of L layers (dense: [B, L] arrays for screen_chains;
sparse: the packed batch for screen), notes the resident set, resets the
kernel's peak counter (``/proc/self/clear_refs``, so building the inputs does
not count), screens at 32 px, and prints one JSON line: input bytes, result
bytes, RSS before, peak RSS during the screen (VmHWM), and the seconds the
screen took.  A separate process, because a process's peak can only grow: in
the test process it would include everything run before.
"""

from __future__ import annotations

import ctypes
import gc
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from numpy_baseline import screen_chains_numpy  # noqa: E402
from workloads import batch_bytes, chain_batch_arrays, chain_params  # noqa: E402

import rfa_fast  # noqa: E402


def status_kb() -> dict[str, int]:
    """VmRSS and VmHWM of this process, in kB."""
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def release_free_heap() -> None:
    """Give freed heap pages back to the kernel (glibc keeps them resident), so growth is measured from a true floor."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def space_main(B: int) -> dict[str, object]:
    """Rows of the Once-for-All space, screened at 224 px: rows in, results out, no graph of any candidate."""
    from rfa_fast.nas import ofa_mbv3_space

    space = ofa_mbv3_space()
    space.screen(space.sample(64, seed=1), 224)  # compile the space, start the threads: not the screen's cost
    rows = space.sample(B, seed=B)
    gc.collect()
    release_free_heap()
    before = status_kb()["VmRSS"]
    reset = reset_peak()
    t = time.perf_counter()
    r = space.screen(rows, 224)
    seconds = time.perf_counter() - t
    peak = status_kb()["VmHWM"]
    result = int(sum(getattr(r, f).nbytes for f in r.FIELDS))
    m = min(B, 200)  # after the measurement: the first answers against the materialized graphs
    expected = rfa_fast.screen([space.graph(row) for row in rows[:m]], 224)
    disagree = [f for f in r.FIELDS if not np.array_equal(getattr(r, f)[:m], getattr(expected, f), equal_nan=True)]
    return {
        "disagree": disagree,
        "mode": "space",
        "candidates": B,
        "layers": len(space.program.node_names),
        "input_bytes": int(rows.nbytes),
        "result_bytes": result,
        "rss_before_kb": before,
        "peak_rss_kb": peak,
        "peak_reset": reset,
        "screen_seconds": seconds,
    }


def main(mode: str, B: int, L: int) -> dict[str, object]:
    if mode == "space":
        return space_main(B)
    k, s = chain_params(np.random.default_rng(B), B, L)
    if mode == "dense":
        inputs = k.nbytes + s.nbytes

        def run() -> rfa_fast.ScreenResult:
            return rfa_fast.screen_chains(k, s, None, 32)
    else:
        batch = chain_batch_arrays(k, s)
        del k, s  # the batch is the input; the parameter arrays it was made from are gone
        inputs = batch_bytes(batch)

        def run() -> rfa_fast.ScreenResult:
            return rfa_fast.screen(batch, 32)

    rfa_fast.screen_chains(
        np.ones((1, 1), np.int32), np.ones((1, 1), np.int32)
    )  # threads, lazy imports: not the batch's cost
    gc.collect()
    release_free_heap()
    before = status_kb()["VmRSS"]
    reset = reset_peak()
    t = time.perf_counter()
    r = run()
    seconds = time.perf_counter() - t
    peak = status_kb()["VmHWM"]
    result = int(sum(getattr(r, f).nbytes for f in r.FIELDS))
    # after the measurement: the first 1,000 answers, every key, against the numpy baseline
    k, s = chain_params(np.random.default_rng(B), B, L)
    m = min(B, 1000)
    expected = screen_chains_numpy(k[:m], s[:m], [32])
    disagree = [f for f in r.FIELDS if not np.array_equal(getattr(r, f)[:m], expected[f], equal_nan=True)]
    return {
        "disagree": disagree,
        "mode": mode,
        "candidates": B,
        "layers": L,
        "input_bytes": int(inputs),
        "result_bytes": result,
        "rss_before_kb": before,
        "peak_rss_kb": peak,
        "peak_reset": reset,
        "screen_seconds": seconds,
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
