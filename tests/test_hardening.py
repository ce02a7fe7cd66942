"""Hardening: every fuzz finding replayed, RSS flat under repeated calls, concurrency on shared inputs.

Findings (fuzz/, docs/hardening.md) are kept as inputs in tests/data/fuzz/ and
replayed here with plain pytest (no atheris): each must now return or raise
an RfaError.  A model that once made ONNX's shape inference allocate 23 GB is
replayed in a subprocess under an address-space limit, so a regression fails
the test instead of taking the machine down.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import package_env
from onnx import TensorProto, helper

import rfa_fast
from rfa_fast import Graph, GraphBatch, GraphBuilder, OnnxError, SpecError, _core
from rfa_fast.errors import RfaError

FINDINGS = Path(__file__).parent / "data" / "fuzz"
SANITIZED = bool(os.environ.get("RFA_FAST_SANITIZED"))


def replay_onnx(data: bytes) -> None:
    """What fuzz/fuzz_onnx.py does with an input."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = rfa_fast.load_onnx(data)
        res = g.input_shape if g.input_shape and all(0 < v <= 4096 for v in g.input_shape) else 64
        rfa_fast.analyze(g, res)


# -- fuzz findings: ONNX loader ----------------------------------------------


@pytest.mark.parametrize(
    "name,pattern",
    [
        # a byte mutation left invalid UTF-8 in a string field: protobuf parses
        # proto2 strings lazily, so reading the node raised UnicodeDecodeError
        ("onnx-utf8-string.onnx", "not valid UTF-8"),
        # Transpose perm with an index past the rank: IndexError in the layout walk
        ("onnx-transpose-perm-index.onnx", "not a permutation"),
        # Transpose perm not containing a spatial axis: ValueError from list.index
        ("onnx-transpose-perm-value.onnx", "not a permutation"),
        # an op type that protobuf handed back as bytes (not UTF-8): TypeError joining the warning
        ("onnx-op-type-bytes.onnx", "not valid UTF-8"),
        # a DepthToSpace whose blocksize attribute decodes to None: int(None) in the handler
        ("onnx-depth-to-space-blocksize-none.onnx", "node 'f' \\(DepthToSpace.*malformed attributes"),
        ("onnx-conv-attribute-none.onnx", "Conv.*malformed attributes"),
        # a dim_param that is not UTF-8 comes back as bytes: TypeError in str.startswith
        ("onnx-dim-param-bytes.onnx", "Slice"),
    ],
)
def test_onnx_findings_raise_onnx_error(name: str, pattern: str) -> None:
    with pytest.raises(OnnxError, match=pattern):
        replay_onnx((FINDINGS / name).read_bytes())


def test_onnx_reshape_to_a_zero_dim_is_analyzed() -> None:
    """A Reshape to a shape holding a 0 dim (a fuzz finding: ZeroDivisionError in the
    pixel-(un)shuffle block detection) has no blocks: the model loads and is analyzed."""
    data = (FINDINGS / "onnx-reshape-zero-dim.onnx").read_bytes()
    replay_onnx(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = rfa_fast.load_onnx(data)
    assert len(rfa_fast.analyze(g, 64).to_dict()["layers"]) == len(g)  # a row per node, none lost


def replay_isolated(name: str) -> str:
    """Replay a finding that once hung or exhausted memory in a child process
    with a 3 GB address-space limit and a timeout: a regression fails the test
    instead of taking the machine down. Returns what the child printed."""
    code = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
        "sys.path[:0] = [sys.argv[2]]\n"
        "import test_hardening as t\n"
        "from rfa_fast import RfaError\n"
        "try:\n    t.replay_onnx(open(sys.argv[1], 'rb').read())\n    print('returned')\n"
        "except RfaError as e:\n    print(type(e).__name__ + ':', e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(FINDINGS / name), str(Path(__file__).parent)],
        cwd=Path(__file__).parent,  # not the checkout: its rfa_fast/ has no compiled core when installed
        env=package_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


@pytest.mark.skipif(SANITIZED, reason="RLIMIT_AS cannot be combined with ASan's shadow memory")
@pytest.mark.parametrize(
    "name,expect",
    [
        # A Constant carrying a stray INTS attribute next to its value: ONNX's
        # inference read it as a 2^31 x 65535 x 213 shape and data propagation
        # allocated it (23 GB, OOM kill).
        ("onnx-constant-two-attrs-oom.onnx", "needs exactly one value attribute"),
        # A ConstantOfShape of length 2^57 feeding a Concat: ONNX's data
        # propagation allocated it (past libFuzzer's 6 GB limit).
        ("onnx-constant-of-shape-oom.onnx", "OnnxError"),
        # Duplicated nodes (two writers of one tensor, one reading the other):
        # the constant folder's dependency walk looped forever.
        ("onnx-cycle-hang-1.onnx", "OnnxError"),
        ("onnx-cycle-hang-2.onnx", "returned"),
    ],
)
def test_findings_that_hung_or_exhausted_memory(name: str, expect: str) -> None:
    assert expect in replay_isolated(name)


def test_constant_with_two_attributes_small() -> None:
    # The same rule on a hand-made model: a Reshape whose shape needs inference.
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 3, 3], [0.0] * 108)
    const = helper.make_node(
        "Constant", [], ["shape"], value=helper.make_tensor("v", TensorProto.INT64, [4], [1, 4, 6, 6])
    )
    const.attribute.append(helper.make_attribute("output_padding", [2**31, 65535, 213, 1]))
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3]),
        helper.make_node("Shape", ["c"], ["s"]),
        helper.make_node("Cast", ["s"], ["s2"], to=TensorProto.INT64),
        const,
        helper.make_node("Add", ["s2", "shape"], ["s3"]),
        helper.make_node("Reshape", ["c", "s3"], ["y"]),
    ]
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y], [w]))
    with pytest.raises(OnnxError, match="exactly one value attribute"):
        replay_onnx(model.SerializeToString())


# -- fuzz findings: specs (both packers) ---------------------------------------


def pack_both(specs: list) -> tuple[BaseException | None, BaseException | None]:
    errors: list[BaseException | None] = []
    for pack in (
        lambda: GraphBatch.from_specs(specs),
        lambda: GraphBatch.from_graphs([Graph.from_spec(s, index=i) for i, s in enumerate(specs)]),
    ):
        try:
            pack()
        except RfaError as e:
            errors.append(e)
        else:
            errors.append(None)
    return errors[0], errors[1]


def test_spec_with_a_string_count_is_a_spec_error() -> None:
    # Graph.from_spec raised ValueError (int("add")) where the packer raised SpecError.
    specs = [[{"op": "input"}, {"op": "conv", "kernel": 3, "c_in": "add"}]]
    fast, slow = pack_both(specs)
    assert isinstance(fast, SpecError) and isinstance(slow, SpecError)
    assert "layer 1" in str(slow)


@pytest.mark.parametrize("key,value", [("c_in", 2**70), ("c_out", -(2**64)), ("groups", 2**63)])
def test_counts_beyond_int64_are_spec_errors(key: str, value: int) -> None:
    # OverflowError escaped both packers (a C integer conversion, a numpy assignment).
    specs = [[{"op": "input"}, {"op": "conv", "kernel": 3, key: value}]]
    fast, slow = pack_both(specs)
    assert isinstance(fast, SpecError), fast
    assert isinstance(slow, SpecError), slow


@pytest.mark.parametrize("key", ["kernel", "stride", "pad", "pad_begin", "pad_end", "dilation"])
def test_per_axis_values_beyond_int32_are_spec_errors(key: str) -> None:
    specs = [[{"op": "input"}, {"op": "conv", "kernel": 3, key: 2**31}]]
    fast, slow = pack_both(specs)
    assert isinstance(fast, SpecError) and isinstance(slow, SpecError)
    assert "int32" in str(slow)


def test_builder_graph_with_huge_channels_names_the_node() -> None:
    b = GraphBuilder("big")
    x = b.input()
    b.conv(x, 3, c_in=3, c_out=2**64, name="wide")
    with pytest.raises(SpecError, match="node 1 \\('wide'\\)"):
        rfa_fast.analyze(b.build(), 32)


def test_fuzz_seed_specs_pack_identically() -> None:
    # The fuzz target's oracle on its own seeds: both packers, same arrays.
    sys.path.insert(0, str(Path(__file__).parent.parent / "fuzz"))
    try:
        import seeds
    finally:
        sys.path.pop(0)
    for name, specs in seeds.helper_specs().items():
        specs = json.loads(json.dumps(specs))
        fast = GraphBatch.from_specs(specs)
        slow = GraphBatch.from_graphs([Graph.from_spec(s, index=i) for i, s in enumerate(specs)])
        for key, arr in fast.arrays.items():
            np.testing.assert_array_equal(arr, slow.arrays[key], err_msg=f"{name}: {key}")


# -- the core on hostile arrays (what fuzz/fuzz_core.py explores) --------------


def chain_arrays(n: int, d: int = 2) -> dict[str, np.ndarray]:
    """A chain INPUT -> n-1 3x3 convs, packed with numpy (no Python object per node)."""
    op = np.ones(n, np.uint8)
    op[0] = 0
    a = {
        "graph_ptr": np.array([0, n], np.int64),
        "op": op,
        "kernel": np.full((n, d), 3, np.int32),
        "stride": np.ones((n, d), np.int32),
        "dilation": np.ones((n, d), np.int32),
        "pad_begin": np.ones((n, d), np.int32),
        "pad_end": np.ones((n, d), np.int32),
        "pad_mode": np.zeros(n, np.uint8),
        "ceil_mode": np.zeros(n, np.uint8),
        "scale": np.ones((n, d)),
        "mode": np.zeros(n, np.uint8),
        "weighted": np.ones(n, np.uint8),
        "c_in": np.full(n, 16, np.int64),
        "c_out": np.full(n, 16, np.int64),
        "groups": np.ones(n, np.int64),
        "pred_ptr": np.concatenate([[0], np.arange(n, dtype=np.int64)]),
        "pred": np.arange(n - 1, dtype=np.int32),
    }
    a["kernel"][0] = 1
    a["pad_begin"][0] = a["pad_end"][0] = 0
    return a


@pytest.mark.parametrize("value", [2**16 + 1, -(2**31), 2**31 - 1])
@pytest.mark.parametrize("name", ["kernel", "stride", "dilation", "pad_begin"])
def test_core_edge_parameters_are_graph_errors_or_results(name: str, value: int) -> None:
    a = chain_arrays(6)
    a[name][3, 1] = value
    try:
        out = _core.analyze_batch(a, np.array([[32, 32]], np.int64), per_node=True)
    except rfa_fast.GraphError as e:
        assert "node 3" in str(e)
    else:
        assert np.isfinite(out["rf_max"][:3]).all()


def test_chains_with_extreme_channels_are_counted_exactly() -> None:
    # The core saturates at int64; the Python layer counts past it exactly (issue 17 item 5).
    k = np.full((2, 4, 2), 3, np.int32)
    ch = np.array([[2**62] * 5, [1, 2**40, 2**40, 0, 3]], np.int64)
    r = rfa_fast.screen_chains(k, np.ones_like(k), resolutions=64, channels=ch)
    assert r.params[0] == 4 * 2**62 * 2**62 * 9
    assert r.macs[0, 0] == 4 * 2**62 * 2**62 * 9 * 64 * 64
    assert r.params[1] == 9 * (2**40 + 2**80)  # unknown channels (0) cost nothing
    assert (r.macs >= 0).all()


@pytest.mark.parametrize(
    "bad",
    [
        lambda c: c[:1],  # too few rows (a fuzz harness finding: these never reached the core)
        lambda c: c.reshape(-1),  # one dimension
        lambda c: c[:, :-1],  # too narrow
        lambda c: np.asfortranarray(c),  # not C-contiguous
        lambda c: c.astype(np.float64),  # not integers
        lambda c: c.tolist(),  # not an array
    ],
)
def test_program_columns_of_the_wrong_shape_are_graph_errors(bad) -> None:  # type: ignore[no-untyped-def]
    from rfa_fast.space.batched import chain_program

    B, L = 3, 4
    program = chain_program(L, 2, True, True, "same", False)
    good = [np.full((B, L * 2), v, np.int32) for v in (3, 2, 1)]
    res = np.array([[32, 32]], np.int64)
    rows = np.zeros((B, 0), np.uint8)
    assert program.core.screen(rows, good, res, False, 0, True)["graph_rf_max"].shape[0] == B
    for j in range(3):
        columns = list(good)
        columns[j] = bad(good[j])
        with pytest.raises(rfa_fast.GraphError, match="column"):
            program.core.screen(rows, columns, res, False, 0, True)


# -- RSS stays flat under repeated calls ---------------------------------------


def rss_mb() -> float:
    """Current resident set size from /proc (Linux), in MB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def rss_growth(call, n: int, warmup: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(RSS after warm-up, growth over n more calls), both in MB."""
    for _ in range(warmup):
        call()
    before = rss_mb()
    for _ in range(n):
        call()
    return before, rss_mb() - before


def small_calls() -> list:  # type: ignore[type-arg]
    g = rfa_fast.zoo.resnet18()
    specs = [[{"op": "input"}, {"op": "conv", "kernel": 3, "stride": 2}, {"op": "pool", "kernel": 2}]]
    batch = GraphBatch.from_specs(specs)
    k = np.full((1, 5), 3)
    s = np.array([[1, 2, 1, 2, 1]])
    return [
        ("analyze", lambda: rfa_fast.analyze(g, 64)),
        ("screen", lambda: rfa_fast.screen(batch, [32, 64])),
        ("screen_chains", lambda: rfa_fast.screen_chains(k, s, resolutions=32)),
        ("from_specs", lambda: GraphBatch.from_specs(specs)),
        (
            "error",
            lambda: pytest.raises(
                rfa_fast.GraphError, _core.analyze_batch, {"graph_ptr": 1}, np.ones((1, 2), np.int64)
            ),
        ),
    ]


@pytest.mark.skipif(SANITIZED, reason="ASan's quarantine makes RSS meaningless")
def test_rss_flat_under_repeated_small_calls_quick() -> None:
    for name, call in small_calls():
        _, growth = rss_growth(call, 3000, 500)
        assert growth < 8, f"{name}: RSS grew {growth:.1f} MB over 3,000 calls"


@pytest.mark.slow
@pytest.mark.skipif(SANITIZED, reason="ASan's quarantine makes RSS meaningless")
def test_rss_flat_under_1e5_small_calls_and_1e2_large_batches() -> None:
    lines = []
    for name, call in small_calls():
        before, growth = rss_growth(call, 100_000, 2_000)
        lines.append(f"{name}: 1e5 calls, RSS {before:.0f} MB after warm-up, growth {growth:+.1f} MB")
        assert growth < 16, lines[-1]
    rng = np.random.default_rng(0)
    k = rng.choice([1, 3, 5], size=(200_000, 20))
    s = rng.choice([1, 2], size=(200_000, 20))
    big = GraphBatch.from_graphs([rfa_fast.zoo.resnet18()] * 500)
    for name, call in (
        ("screen_chains 2e5x20", lambda: rfa_fast.screen_chains(k, s, resolutions=[32, 224])),
        ("screen 500 x resnet18", lambda: rfa_fast.screen(big, [32, 224])),
    ):
        before, growth = rss_growth(call, 100, 3)
        lines.append(f"{name}: 1e2 batches, RSS {before:.0f} MB after warm-up, growth {growth:+.1f} MB")
        assert growth < 32, lines[-1]
    print("\n" + "\n".join(lines))


# -- concurrency on shared inputs (tests/test_threads.py covers screen) ---------


def test_concurrent_analyze_on_one_graph() -> None:
    # Graph.to_arrays caches its arrays: threads racing to fill the cache
    # must all see complete arrays, and the GIL-free core shares nothing.
    g = rfa_fast.zoo.resnet50()
    expected = {r: rfa_fast.analyze(g, r).to_dict() for r in (32, 64, 224)}
    fresh = rfa_fast.zoo.resnet50()  # empty cache: the race happens now
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [(r, pool.submit(lambda r=r: rfa_fast.analyze(fresh, r).to_dict())) for r in (32, 64, 224) * 8]
        for r, f in futures:
            assert f.result() == expected[r]


def test_concurrent_from_specs_and_screen() -> None:
    rng = np.random.default_rng(3)
    spec_sets = [
        [[{"op": "input"}] + [{"op": "conv", "kernel": int(k), "stride": int(s)} for k, s in row] for row in cand]
        for cand in rng.integers(1, 4, size=(8, 200, 6, 2))
    ]
    serial = [rfa_fast.screen(GraphBatch.from_specs(s), [16, 64]) for s in spec_sets]
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [
            pool.submit(lambda s=s: rfa_fast.screen(GraphBatch.from_specs(s), [16, 64], threads=2)) for s in spec_sets
        ]
        for f, want in zip(futures, serial):
            got = f.result()
            for key in ("n_unproductive", "n_border", "i_min", "i_max", "rf_max"):
                np.testing.assert_array_equal(getattr(got, key), getattr(want, key), err_msg=key)


def test_concurrent_calls_with_errors_do_not_leak_state() -> None:
    # Half the calls fail validation inside the GIL-free section: the errors
    # must stay with their caller and the good calls must be unaffected.
    good = chain_arrays(50)
    bad = chain_arrays(50)
    bad["pred"][10] = 40  # a forward edge
    res = np.array([[32, 32]], np.int64)
    want = _core.analyze_batch(good, res)["i_min"]

    def call(i: int) -> object:
        if i % 2:
            with pytest.raises(rfa_fast.GraphError, match="node 11"):
                _core.analyze_batch(bad, res, threads=2)
            return None
        return _core.analyze_batch(good, res, threads=2)["i_min"]

    with ThreadPoolExecutor(max_workers=6) as pool:
        for out in pool.map(call, range(60)):
            if out is not None:
                np.testing.assert_array_equal(out, want)
