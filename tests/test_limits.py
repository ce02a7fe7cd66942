"""Limits that protect the user: sizes refused before allocating, huge graphs and batches that work.

The heavy cases are ``@pytest.mark.slow`` (``pytest -m slow tests/test_limits.py -s``
prints the time and peak memory of each; docs/hardening.md has the numbers).
The refusals are quick and always run.
"""

from __future__ import annotations

import os
import resource
import sys
import time
import warnings

import numpy as np
import pytest
from onnx import TensorProto, helper

import rfa_fast
from rfa_fast import GraphBatch, GraphError, _core

sys.path.insert(0, os.path.dirname(__file__))
from test_hardening import SANITIZED, chain_arrays, rss_mb  # noqa: E402

RES = np.array([[224, 224]], np.int64)


def peak_mb() -> float:
    """Peak RSS of this process so far (ru_maxrss is in kB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def free_mb() -> float:
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**20


# -- refused before allocating (check_memory in csrc/bindings.cpp) ------------


def test_per_node_results_too_large_are_refused_without_allocating() -> None:
    a = chain_arrays(200_000)
    # per-node results hold R x N x D feature maps: pick R so that they need 4x the free memory
    R = int(4 * free_mb() * 2**20 / (200_000 * (2 * 8 + 9 + 2 * 8))) + 1
    res = np.full((R, 2), 64, np.int64)
    before = rss_mb()
    with pytest.raises(GraphError, match=r"needs about \d+ MB, more than the \d+ MB of free memory"):
        _core.analyze_batch(a, res, per_node=True, i_min=False)
    assert rss_mb() - before < 64  # refused before the outputs were allocated


def test_screen_results_too_large_are_refused() -> None:
    # [B, R] result arrays: many one-node graphs at a thousand resolutions
    R = 1000
    B = int(free_mb() * 2**20 / (R * 6 * 8)) + 1
    one = {
        k: np.repeat(v[:1], B, axis=0) for k, v in chain_arrays(2).items() if k not in ("graph_ptr", "pred_ptr", "pred")
    }
    a = dict(
        one, graph_ptr=np.arange(B + 1, dtype=np.int64), pred_ptr=np.zeros(B + 1, np.int64), pred=np.zeros(0, np.int32)
    )
    with pytest.raises(GraphError, match="this batch needs about"):
        _core.analyze_batch(a, np.full((R, 2), 32, np.int64), i_min=False)


def test_chain_batch_too_large_is_refused() -> None:
    k = np.full((1000, 3, 1), 3, np.int32)
    R = int(free_mb() * 2**20 / (1000 * 6 * 8)) + 1
    res = np.ones((R, 1), np.int64) * 32
    with pytest.raises(GraphError, match="this screen needs about"):
        rfa_fast.screen_chains(k, k, resolutions=res)


def test_refusal_names_the_way_out() -> None:
    a = chain_arrays(100_000)
    res = np.full((20_000, 2), 64, np.int64)
    with pytest.raises(GraphError) as e:
        _core.analyze_batch(a, res, per_node=True)
    assert "chunks" in str(e.value) and "per-node" in str(e.value)


def test_limits_on_values_are_checked_not_wrapped() -> None:
    # 16 stride-2^16 layers would need a jump of 2^256: an error, never a wrapped int64.
    a = chain_arrays(17)
    a["stride"][1:] = 2**16
    with pytest.raises(GraphError, match="exceeds the int64 range"):
        _core.analyze_batch(a, RES)
    with pytest.raises(GraphError, match="outside 1..2"):
        _core.analyze_batch(chain_arrays(3), np.array([[2**30 + 1, 1]], np.int64))


# -- large inputs that must work ----------------------------------------------


def report(what: str, seconds: float, peak_before: float) -> str:
    line = f"{what}: {seconds:.2f} s, peak RSS {peak_mb():.0f} MB (was {peak_before:.0f} MB before)"
    print("\n" + line)
    return line


@pytest.mark.slow
@pytest.mark.skipif(SANITIZED, reason="sizes and timings for the optimized build")
def test_chain_graph_of_1e6_nodes() -> None:
    n = 1_000_000
    a = chain_arrays(n)
    a["stride"][1::100_000] = 2  # a few downsamplings: the jump stays finite
    p0 = peak_mb()
    t = time.perf_counter()
    out = _core.analyze_batch(a, np.array([[224, 224], [4096, 4096]], np.int64), threads=1, per_node=False)
    report("1e6-node chain, screen at 2 resolutions with I_min", time.perf_counter() - t, p0)
    assert out["i_max"][0] > 1e6 and np.isfinite(out["i_min"][0])
    # per-node results at one resolution: the Report-sized path
    t = time.perf_counter()
    out = _core.analyze_batch(a, RES, threads=1, per_node=True)
    report("1e6-node chain, per-node results", time.perf_counter() - t, p0)
    assert out["rf_max"].shape == (n, 2) and out["status"].shape == (1, n)
    assert peak_mb() < 4096


@pytest.mark.slow
@pytest.mark.skipif(SANITIZED, reason="sizes and timings for the optimized build")
def test_1e6_candidates_dense_and_sparse() -> None:
    B, L = 1_000_000, 12
    rng = np.random.default_rng(0)
    k = rng.choice([1, 3, 5, 7], size=(B, L)).astype(np.int32)
    s = rng.choice([1, 1, 2], size=(B, L)).astype(np.int32)
    p0 = peak_mb()
    t = time.perf_counter()
    dense = rfa_fast.screen_chains(k, s, resolutions=[32, 224])
    report(f"1e6 candidates x {L} layers, screen_chains", time.perf_counter() - t, p0)
    # the same candidates as a sparse batch: graphs packed with numpy
    n = L + 1
    N = B * n
    op = np.ones(N, np.uint8)
    op[::n] = 0
    ker = np.ones((N, 2), np.int32)
    st = np.ones((N, 2), np.int32)
    mask = op == 1
    ker[mask] = np.repeat(k.reshape(-1), 2).reshape(-1, 2)
    st[mask] = np.repeat(s.reshape(-1), 2).reshape(-1, 2)
    pad = (ker - 1) // 2
    pred_ptr = np.zeros(N + 1, np.int64)
    pred_ptr[1:] = np.cumsum(mask)
    arrays = {
        "graph_ptr": np.arange(0, N + 1, n, dtype=np.int64),
        "op": op,
        "kernel": ker,
        "stride": st,
        "dilation": np.ones((N, 2), np.int32),
        "pad_begin": pad,
        "pad_end": (ker - 1 - pad).astype(np.int32),
        "pad_mode": np.zeros(N, np.uint8),
        "ceil_mode": np.zeros(N, np.uint8),
        "scale": np.ones((N, 2)),
        "mode": np.zeros(N, np.uint8),
        "weighted": mask.astype(np.uint8),
        "c_in": np.zeros(N, np.int64),
        "c_out": np.zeros(N, np.int64),
        "groups": np.ones(N, np.int64),
        "pred_ptr": pred_ptr,
        "pred": (np.nonzero(mask)[0] - 1).astype(np.int32),
    }
    del ker, st, pad, mask
    t = time.perf_counter()
    sparse = rfa_fast.screen(GraphBatch.from_arrays(**arrays), [32, 224])
    report(f"1e6 candidates x {L} layers, sparse screen ({N} nodes)", time.perf_counter() - t, p0)
    for key in ("n_unproductive", "n_border", "i_min", "i_max"):
        np.testing.assert_array_equal(getattr(sparse, key), getattr(dense, key), err_msg=key)
    assert peak_mb() < 8192


def onnx_chain(n: int) -> bytes:
    """An ONNX model of n Conv+Relu pairs (2n nodes), weights shared, made with onnx.helper."""
    x = helper.make_tensor_value_info("t0", TensorProto.FLOAT, [1, 1, 64, 64])
    w = helper.make_tensor("w", TensorProto.FLOAT, [1, 1, 3, 3], [0.0] * 9)
    nodes = []
    for i in range(n):
        nodes.append(helper.make_node("Conv", [f"t{i}", "w"], [f"c{i}"], name=f"conv{i}", pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"t{i + 1}"], name=f"relu{i}"))
    y = helper.make_tensor_value_info(f"t{n}", TensorProto.FLOAT, None)
    return helper.make_model(helper.make_graph(nodes, "chain", [x], [y], [w])).SerializeToString()


@pytest.mark.slow
def test_onnx_chain_of_1e5_nodes_loads_iteratively() -> None:
    data = onnx_chain(50_000)  # 10^5 ONNX nodes
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # any recursion over the nodes would fail now
    try:
        p0 = peak_mb()
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a plain chain needs no guess
            g = rfa_fast.load_onnx(data)
        report("ONNX chain of 1e5 nodes, load_onnx", time.perf_counter() - t, p0)
        t = time.perf_counter()
        rep = rfa_fast.analyze(g, 64)
        report("ONNX chain of 1e5 nodes, analyze", time.perf_counter() - t, p0)
    finally:
        sys.setrecursionlimit(limit)
    assert len(g) == 50_001
    assert rep.summary["rf_max"] == [100_001.0, 100_001.0]


def test_onnx_out_of_order_chain_sorts_iteratively() -> None:
    # Reversed node order forces the Kahn sort (not the in-order fast path).
    import onnx

    m = onnx.ModelProto()
    m.ParseFromString(onnx_chain(2_000))
    nodes = list(m.graph.node)
    del m.graph.node[:]
    m.graph.node.extend(reversed(nodes))
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        g = rfa_fast.load_onnx(m)
    finally:
        sys.setrecursionlimit(limit)
    assert len(g) == 2_001
