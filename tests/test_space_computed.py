"""Computed values of a space: per-candidate columns from whole rows, and several computed together."""

from __future__ import annotations

import numpy as np
import pytest

import rfa_fast
from rfa_fast.errors import SpecError


def _space(calls: list[int]) -> rfa_fast.Space:
    sp = rfa_fast.Space("computed")
    sp.choice("a", [0, 1, 2])
    sp.choice("b", [0, 1])

    def fn(rows: np.ndarray) -> np.ndarray:
        calls.append(len(rows))
        return np.stack([1 + 2 * rows[:, 0], 4 + 4 * rows[:, 1], rows[:, 1]], axis=1)

    k, width, strided = sp.computed_columns(["k", "width", "strided"], fn)
    x = sp.input()
    x = sp.conv(x, k, pad=0, c_in=3, c_out=width, name="conv")
    x = sp.when(strided, x, lambda x: sp.pool(x, 2, name="pool"))
    sp.conv(x, 3, c_in=width, c_out=8, name="head")
    return sp.build()


def test_computed_columns_are_one_call_per_screen() -> None:
    calls: list[int] = []
    space = _space(calls)
    rows = np.array([[a, b] for a in range(3) for b in range(2)])
    got = space.screen(rows, [16, 40])
    assert calls == [len(rows)]  # three values, one call
    want = rfa_fast.screen([space.graph(r) for r in rows], [16, 40])
    for key in ("rf_max", "params", "macs", "n_unproductive", "i_min"):
        np.testing.assert_array_equal(getattr(got, key), getattr(want, key), err_msg=key)
    g = space.graph([2, 1])
    assert [(n.name, n.kernel[0], n.c_out) for n in g.nodes] == [
        ("input0", 1, 0),
        ("conv", 5, 8),
        ("pool", 2, 0),
        ("head", 3, 8),
    ]


def test_a_graph_evaluates_each_computed_function_once() -> None:
    calls: list[int] = []
    space = _space(calls)
    g = space.graph([1, 0])  # k, width and strided are read by four attributes and a condition
    assert calls == [1]
    assert [n.name for n in g.nodes] == ["input0", "conv", "head"] and g.nodes[1].kernel == (3, 3)


def test_computed_columns_shape_is_checked() -> None:
    sp = rfa_fast.Space("bad")
    sp.choice("a", [1, 2])
    (c,) = sp.computed_columns(["c"], lambda rows: rows[:, 0] + 1)  # [B], not [B, 1]
    sp.conv(sp.input(), 3, c_in=1, c_out=c)
    with pytest.raises(SpecError, match=r"computed value 'c' must give an integer array \[2, 1\]"):
        sp.build().screen([[0], [1]], 32)
