"""The Cython packer gives the same arrays as the plain-Python path, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rfa_fast
from rfa_fast import Graph, GraphBatch, SpecError
from rfa_fast._pack import pack_specs
from rfa_fast.graph import _pack_nodes


@st.composite
def layer_specs(draw, index: int, dims: int):  # type: ignore[no-untyped-def]
    axis = st.one_of(st.integers(1, 7), st.lists(st.integers(1, 7), min_size=dims, max_size=dims))
    pads = st.one_of(
        st.integers(0, 3),
        st.lists(st.integers(0, 3), min_size=dims, max_size=dims),
        st.sampled_from(["same", "same_lower", "valid", "same_upper"]),
    )
    earlier = st.integers(0, index - 1)
    op = draw(
        st.sampled_from(
            ["conv", "pool", "maxpool", "transposed", "resize", "add", "concat", "global", "dense", "identity"]
        )
    )
    layer: dict = {"op": op}
    if draw(st.booleans()):
        layer["inputs"] = [draw(earlier)]
    if op in ("conv", "pool", "maxpool", "transposed"):
        for key in ("kernel", "stride", "dilation", "pad"):
            if draw(st.booleans()):
                layer[key] = draw(pads if key == "pad" else axis)
        if op != "transposed" and draw(st.booleans()):
            layer["ceil_mode"] = True
        if draw(st.booleans()):
            layer["pad_begin"] = draw(st.integers(-2, 3))
        if op == "transposed" and draw(st.booleans()):
            layer["output_padding"] = draw(st.integers(0, 1))
        if draw(st.booleans()):
            layer.update(c_in=draw(st.integers(0, 64)), c_out=draw(st.integers(0, 64)), groups=draw(st.integers(1, 4)))
    elif op == "resize":
        layer["scale"] = draw(st.sampled_from([2.0, 0.5, 1.5, [2.0] * dims]))
        layer["mode"] = draw(st.sampled_from(["nearest", "linear", "cubic"]))
    elif op in ("add", "concat"):
        layer["inputs"] = draw(st.lists(earlier, min_size=0, max_size=3))
    elif op == "dense":
        layer.update(c_in=draw(st.integers(0, 64)), c_out=draw(st.integers(0, 64)))
    return layer


@st.composite
def specs(draw):  # type: ignore[no-untyped-def]
    dims = draw(st.integers(1, 3))
    out = []
    for _ in range(draw(st.integers(1, 4))):
        n = draw(st.integers(1, 12))
        layers = [{"op": "input"}] + [draw(layer_specs(i, dims)) for i in range(1, n)]
        out.append({"name": f"g{len(out)}", "dims": dims, "layers": layers})
    return out


@settings(max_examples=200, deadline=None)
@given(specs())
def test_cython_packer_equals_python_packer(batch) -> None:  # type: ignore[no-untyped-def]
    fast, names = pack_specs(batch)
    slow = _pack_nodes([Graph.from_spec(s, index=i) for i, s in enumerate(batch)])
    assert names == [s["name"] for s in batch]
    for key, arr in slow.items():
        assert fast[key].dtype == arr.dtype, key
        np.testing.assert_array_equal(fast[key], arr, err_msg=key)


def test_from_specs_analyzes() -> None:
    batch = GraphBatch.from_specs([[{"op": "input"}, {"op": "conv", "kernel": 3}, {"op": "pool", "kernel": 2}]])
    r = rfa_fast.screen(batch, 32)
    assert r.rf_max[0].tolist() == [4.0, 4.0]  # 3, then a 2x2/2 pool: 3 + 1


@pytest.mark.parametrize(
    "layers,message",
    [
        ([{"op": "input"}, {"op": "conv", "kernel": 0}], "candidate 1: layer 1: kernel must be >= 1"),
        ([{"op": "input"}, {"op": "conv", "inputs": [5]}], "candidate 1: layer 1: input 5 is not an earlier node"),
        ([{"op": "input"}, {"op": "frobnicate"}], "candidate 1: layer 1: op 'frobnicate' needs a 'kind'"),
        ([{"op": "input"}, {"op": "conv", "kernel": [3, 3, 3]}], "candidate 1: layer 1: kernel has 3 values"),
        ([{"op": "input"}, {"op": "conv", "kernel": "x"}], "candidate 1: layer 1: kernel must be an int"),
        ([{"op": "input"}, {"op": "conv", "pad": "half"}], "candidate 1: layer 1: pad 'half'"),
        ([{"op": "input"}, {"op": "resize", "scale": -2}], "candidate 1: layer 1: scale must be finite"),
        ([{"op": "input"}, "conv"], "candidate 1: layer 1: a layer must be a dict"),
        ([{"op": "input"}, {"op": "add", "inputs": 0}], "candidate 1: layer 1: inputs must be a list"),
        ([], "candidate 1: a spec needs a non-empty list"),
    ],
)
def test_errors_name_candidate_and_layer(layers: list, message: str) -> None:
    good = [{"op": "input"}, {"op": "conv", "kernel": 3}]
    for packer in (pack_specs, lambda s: [Graph.from_spec(x, index=i) for i, x in enumerate(s)]):
        with pytest.raises(SpecError, match=message):
            packer([good, layers])
