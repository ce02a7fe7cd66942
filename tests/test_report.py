"""Report and ScreenResult follow DESIGN.md "Stable outputs" exactly."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import rfa_fast
from rfa_fast import GraphBuilder


def se_net() -> rfa_fast.Graph:
    b = GraphBuilder("se")
    x = b.input()
    x = b.conv(x, 3, 2, pad=1, c_in=3, c_out=8, name="stem")
    g = b.global_pool(x, name="squeeze")
    g = b.conv(g, 1, c_in=8, c_out=8, name="excite")
    x = b.mul(x, g, name="gate")
    x = b.conv(x, 3, pad=1, c_in=8, c_out=8, name="conv")
    x = b.global_pool(x, name="pool")
    b.dense(x, 8, 10, name="fc")
    return b.build()


LAYER_KEYS = [
    "name", "op", "kind", "kernel", "stride", "dilation", "rf_min", "rf_max",
    "jump", "fmap", "status", "global_context", "params", "macs",
]  # fmt: skip
SUMMARY_KEYS = [
    "border_layers", "n_unproductive", "i_min", "i_max", "rf_max",
    "params", "macs", "macs_unproductive", "aligned", "i_min_square", "n_dead", "macs_dead",
]  # fmt: skip


def test_to_dict_shape_and_values() -> None:
    d = rfa_fast.analyze(se_net(), 32).to_dict()
    assert list(d) == ["model", "resolution", "layers", "summary"]
    assert d["model"] == "se" and d["resolution"] == [32, 32]
    for layer in d["layers"]:
        assert list(layer) == LAYER_KEYS
        assert layer["kind"] in {"input", "window", "transposed", "resize", "merge", "global", "identity"}
        assert layer["status"] in {"ok", "critical", "unproductive", "border"}
    assert list(d["summary"]) == SUMMARY_KEYS
    by = {la["name"]: la for la in d["layers"]}
    assert by["gate"]["global_context"] and by["conv"]["global_context"]
    assert not by["stem"]["global_context"]
    assert by["gate"]["rf_max"] == [3.0, 3.0]  # the spatial path's field
    assert by["conv"]["rf_max"] == [7.0, 7.0]
    assert by["fc"]["rf_max"] == [math.inf, math.inf]
    assert by["excite"]["rf_min"] == [math.inf, math.inf]  # after global pooling: global
    assert by["stem"]["params"] == 3 * 8 * 9 and by["stem"]["macs"] == 3 * 8 * 9 * 16 * 16
    assert by["fc"]["macs"] == 80
    assert d["summary"]["rf_max"] == [7.0, 7.0]
    assert d["summary"]["macs"] == sum(la["macs"] for la in d["layers"])


def test_json_nulls_for_infinity() -> None:
    text = rfa_fast.analyze(se_net(), 32).to_json()
    data = json.loads(text)
    fc = [la for la in data["layers"] if la["name"] == "fc"][0]
    assert fc["rf_max"] == [None, None] and fc["jump"] == [None, None]
    assert "Infinity" not in text and "NaN" not in text


def test_str_is_a_table_with_summary() -> None:
    text = str(rfa_fast.analyze(se_net(), 32))
    lines = text.splitlines()
    assert lines[0].startswith("se at 32 px")
    assert "rf_min" in lines[1] and "status" in lines[1]
    assert any(line.startswith("gate") and "+g" in line for line in lines)
    assert lines[-1].startswith("border layers:")
    html = rfa_fast.analyze(se_net(), 32)._repr_html_()
    assert '<table class="layers">' in html and ">gate</td>" in html  # tests/test_notebook.py checks the rest


def test_screen_result_arrays() -> None:
    graphs = [se_net(), se_net()]
    r = rfa_fast.screen(graphs, [8, 32, (32, 16)])
    assert r.n_unproductive.shape == (2, 3) and r.n_unproductive.dtype == np.int64
    assert r.i_min.shape == (2,) and r.rf_max.shape == (2, 2) and r.connected.dtype == bool
    assert r.resolutions.tolist() == [[8, 8], [32, 32], [32, 16]]
    assert r.mask(column=1).tolist() == r.productive(1).tolist()
    assert len(r) == 2 and "ScreenResult" in repr(r)


@pytest.mark.parametrize("bad", [0, -3, 2**31, "32", [32, "x"], (32, 32, 32), [], True])
def test_bad_resolutions(bad: object) -> None:
    with pytest.raises(rfa_fast.ResolutionError):
        rfa_fast.screen([se_net()], bad)


def test_analyze_defaults_to_static_input_shape() -> None:
    g = se_net()
    with pytest.raises(rfa_fast.ResolutionError, match="no static input size"):
        rfa_fast.analyze(g)
    g.input_shape = (64, 64)
    assert rfa_fast.analyze(g).resolution == (64, 64)


def test_summary_line_states_i_min_and_i_max_apart_and_says_what_is_missing() -> None:
    # issue 17 item 8: no range printed backwards ("17-13"), no "1--" for a missing I_max
    b = GraphBuilder("strided")
    x = b.conv(b.input(), 5, stride=4)  # rf 5, jump 4
    b.conv(x, 3)  # rf 13: I_max 13; the 3x3 sees a 1x1 map up to 16 px: I_min 17
    line = rfa_fast.analyze(b.build(), 8).summary_line()
    assert "; I_min: 17; I_max: 13; rf_max: 13" in line and "17-13" not in line
    b = GraphBuilder("pool only")
    b.global_pool(b.input())
    line = rfa_fast.analyze(b.build(), 32).summary_line()
    assert "I_min: 1; I_max: none (no windowed layer with a finite field);" in line and "--" not in line
