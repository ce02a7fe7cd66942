"""Fuzz target: the compiled core, ``_core.analyze_batch`` and the space engine (``_core.Program``), on decoded arrays.

The fuzz bytes are decoded (``atheris.FuzzedDataProvider``) into the packed
arrays of DESIGN.md with the right dtypes and small random sizes: mostly
well-formed structure (edges to earlier nodes of the same graph), values
drawn from small numbers and the edges of every checked range, then
optionally one corruption (a pointer array, a dtype, a shape, a value).
Well-formed structure matters: a batch that fails validation at node 0
never reaches the propagation, I_min bisection or chain closed forms.
Run it under the sanitized build (``fuzz/run_all.py --build``) to catch
memory errors that do not crash.

    python fuzz/fuzz_core.py CORPUS_DIR SEED_DIR -max_total_time=60
"""

from __future__ import annotations

import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import atheris  # noqa: E402
import numpy as np  # noqa: E402
from _runner import EDGE_FLOATS, EDGE_INTS, main  # noqa: E402

from rfa_fast import _core  # noqa: E402
from rfa_fast.space.batched import chain_program  # noqa: E402

SMALL = [1, 1, 1, 2, 2, 3, 3, 5, 7]
RES = [1, 2, 3, 7, 8, 32, 33, 224, 2**30, 2**30 + 1, 0, -1]
SCALES = [2.0, 0.5, 1.5, 3.0, 1 / 3, 4.0, 0.25, 1.0] + EDGE_FLOATS


class Decoder:
    """Draws sizes and values from the fuzz bytes (zeros when they run out: deterministic)."""

    def __init__(self, data: bytes) -> None:
        self.fdp = atheris.FuzzedDataProvider(data)

    def int(self, lo: int, hi: int) -> int:
        return self.fdp.ConsumeIntInRange(lo, hi)

    def pick(self, values: list[Any]) -> Any:
        return values[self.int(0, len(values) - 1)]

    def param(self) -> int:
        # mostly small, sometimes an edge
        return self.pick(SMALL) if self.int(0, 7) else self.pick(EDGE_INTS)

    def bool(self) -> bool:
        return self.fdp.ConsumeBool()


def _fill(dec: Decoder, shape: tuple[int, ...], dtype: Any, draw: Any) -> np.ndarray:
    flat = [draw() for _ in range(int(np.prod(shape)))]
    if dtype == np.float64:
        return np.array(flat, np.float64).reshape(shape)
    # Values outside the dtype wrap like a C cast: the core sees every bit pattern.
    wrapped = [(int(x) + 2**63) % 2**64 - 2**63 for x in flat]
    return np.array(wrapped, np.int64).astype(dtype).reshape(shape)


def graph_arrays(dec: Decoder) -> tuple[dict[str, Any], int]:
    D = dec.int(1, 3)
    B = dec.int(1, 4)
    sizes = [dec.int(1, 10) for _ in range(B)]
    N = sum(sizes)
    graph_ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    op = np.zeros(N, np.uint8)
    preds: list[int] = []
    pred_ptr = [0]
    for b in range(B):
        start = int(graph_ptr[b])
        for v in range(start, start + sizes[b]):
            if v == start:
                kind = 0 if dec.int(0, 15) else dec.int(0, 7)
            else:
                kind = dec.pick([1, 1, 1, 2, 3, 4, 4, 5, 6, 0, 7])
            op[v] = kind
            n_in = {0: 0, 4: dec.int(0, 3), 5: dec.int(0, 2)}.get(kind, 1)
            if dec.int(0, 31) == 0:
                n_in = dec.int(0, 3)
            for _ in range(n_in):
                # an earlier node of this graph, sometimes anything
                preds.append(dec.int(start, v - 1) if v > start and dec.int(0, 15) else dec.int(-2, N + 1))
            pred_ptr.append(len(preds))
    a: dict[str, Any] = {
        "graph_ptr": graph_ptr,
        "op": op,
        "pred_ptr": np.array(pred_ptr, np.int64),
        "pred": np.array(preds, np.int64).astype(np.int32),
        "kernel": _fill(dec, (N, D), np.int32, dec.param),
        "stride": _fill(dec, (N, D), np.int32, dec.param),
        "dilation": _fill(dec, (N, D), np.int32, lambda: 1 if dec.int(0, 3) else dec.param()),
        "pad_begin": _fill(dec, (N, D), np.int32, lambda: dec.param() - 2),
        "pad_end": _fill(dec, (N, D), np.int32, lambda: dec.param() - 2),
        "pad_mode": _fill(dec, (N,), np.uint8, lambda: dec.int(0, 4)),
        "ceil_mode": _fill(dec, (N,), np.uint8, lambda: dec.int(0, 2) if dec.int(0, 15) == 0 else dec.int(0, 1)),
        "scale": _fill(dec, (N, D), np.float64, lambda: dec.pick(SCALES)),
        "mode": _fill(dec, (N,), np.uint8, lambda: dec.int(0, 3)),
        "weighted": _fill(dec, (N,), np.uint8, lambda: dec.int(0, 1)),
        "c_in": _fill(dec, (N,), np.int64, lambda: dec.pick([0, 1, 3, 64, 2**40, 2**62, -1])),
        "c_out": _fill(dec, (N,), np.int64, lambda: dec.pick([0, 1, 3, 64, 2**40, 2**62, -1])),
        "groups": _fill(dec, (N,), np.int64, lambda: dec.pick([1, 1, 2, 3, 0, -1, 2**62])),
    }
    return a, D


def corrupt(dec: Decoder, a: dict[str, Any], arrays_only: bool = False) -> None:
    """At most one structural corruption: what a buggy caller hands the core.

    ``arrays_only``: screen_chains takes numpy arrays as arguments (pybind11
    refuses anything else with a TypeError before our code runs), so there
    the corruption keeps an array in place.
    """
    what = dec.int(0, 15)
    if arrays_only and what in (5, 6):
        what = 3
    name = dec.pick(sorted(a))
    arr = a[name]
    if what == 0 and arr.size:
        flat = arr.reshape(-1)
        i = dec.int(0, flat.size - 1)
        flat[i] = dec.pick(EDGE_FLOATS) if arr.dtype.kind == "f" else np.array(dec.pick(EDGE_INTS)).astype(arr.dtype)
    elif what == 1:
        a[name] = arr.astype(dec.pick([np.int64, np.int32, np.uint8, np.float64, np.float32, np.bool_]))
    elif what == 2:
        a[name] = arr[: max(0, arr.shape[0] - dec.int(0, 2))] if arr.ndim else arr
    elif what == 3:
        a[name] = arr.reshape(-1)
    elif what == 4 and arr.ndim == 2:
        a[name] = np.asfortranarray(arr) if arr.shape[0] > 1 and arr.shape[1] > 1 else arr[:, :0]
    elif what == 5:
        del a[name]
    elif what == 6:
        a[name] = arr.tolist()
    elif what == 7 and arr.ndim >= 1 and arr.shape[0] > 1:
        a[name] = arr[::2]  # a strided view: not C-contiguous


def _per_row(arr: np.ndarray, rows: int) -> np.ndarray:
    """``arr`` as a (rows, -1) column array when its size allows, else unchanged (the core must refuse it)."""
    return arr.reshape(rows, -1) if arr.size and arr.size % rows == 0 else arr


def resolutions(dec: Decoder, D: int) -> np.ndarray:
    R = dec.int(1, 3)
    res = np.array([[dec.pick(RES) if dec.int(0, 7) == 0 else dec.pick(RES[:8]) for _ in range(D)] for _ in range(R)])
    if dec.int(0, 31) == 0:
        res = res[:, :1] if D > 1 else np.concatenate([res, res], axis=1)
    return np.ascontiguousarray(res, dtype=np.int64)


def target(data: bytes) -> None:
    dec = Decoder(data)
    if dec.bool():
        a, D = graph_arrays(dec)
        if dec.int(0, 3) == 0:
            corrupt(dec, a)
        res = resolutions(dec, D)
        _core.analyze_batch(a, res, dec.bool(), dec.int(0, 2), dec.bool(), dec.bool())
    else:
        D = dec.int(1, 3)
        B, L = dec.int(1, 6), dec.int(0, 12)
        ch = [_fill(dec, (B, L, D), np.int32, dec.param) for _ in range(3)]
        if dec.bool():
            pads = [_fill(dec, (B, L, D), np.int32, lambda: dec.param() - 2) for _ in range(2)]
        else:
            pads = [np.zeros((0, 0, 0), np.int32)] * 2
        channels = (
            _fill(dec, (B, L + 1), np.int64, lambda: dec.pick([0, 1, 16, 2**40, -1]))
            if dec.bool()
            else np.zeros((0, 0), np.int64)
        )
        arrays = {"kernel": ch[0], "stride": ch[1], "dilation": ch[2], "pad_begin": pads[0], "pad_end": pads[1]}
        if dec.int(0, 7) == 0:
            corrupt(dec, arrays, arrays_only=True)
        res = resolutions(dec, D)
        # screen_chains' program (an input and L windows reading columns), its column arrays decoded
        explicit = pads[0].size > 0
        program = chain_program(L, D, True, True, "explicit" if explicit else "same", channels.size > 0)
        # one row of columns per candidate; a corrupted array that cannot take that shape goes in as it is
        columns = [_per_row(np.asarray(arrays[k]), B) for k in arrays]
        columns = columns[:3] + (columns[3:5] if explicit else []) + ([channels] if channels.size else [])
        program.core.screen(np.zeros((B, 0), np.uint8), columns, res, dec.bool(), dec.int(0, 2), True)
        if dec.int(0, 3) == 0:
            # a hostile program: its arrays corrupted before the core checks them
            parts = dict(program.arrays)
            corrupt(dec, parts)
            _core.Program(parts, D)


if __name__ == "__main__":
    main(target)
