"""Single models and bulk screens of the same architectures: rfa_fast against the
plain-Python reference and rfa-toolbox (the authors' tool), asserting they agree.

Groups ``model: <arch>`` analyze one network at 32 px, one call per network:
what a designer or a search loop asking about one candidate pays.  Groups
``bulk: <arch>`` screen 1,000 variants of the architecture (three of its
convolutions get a kernel drawn from 1/3/5/7) in one rfa_fast call; the
baselines can only go one network at a time, so they run on a sample and every
row is compared per network (``items`` in extra_info).  The bulk rows start
from prepacked arrays (``rfa_fast.screen``, all threads and one) or from the
user's input, packing included in the time: the variant rows of a search
space (numpy tiling), :class:`Graph` objects, or JSON-able specs.  Every
rfa_fast row answers as the reference on a sample of the variants, on every
key of the screen (one model: every per-node and per-graph array).

Where rfa-toolbox's rules agree with rfa_fast's (square kernels, no dilation,
feature maps that halve exactly: everything here at 32 px), the answers must be
equal: the largest finite receptive field, I_max, and the set of convolutions
and pools rated unproductive.  Where they differ (its own ResNet-50/101 put the
stride on the first 1x1 conv; it also rates merges and global pooling),
the tests assert what it does produce; docs/benchmarks.md lists the differences.

Run: ``pytest bench/ --benchmark-only`` (docs/benchmarks.md has a run).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import baseline_toolbox as tb
import numpy as np
import pytest
from benchlib import LABEL, RESOLUTION, assert_agrees, assert_same_raw, missing, record, rounds, sized
from workloads import kernel_variants, unproductive_names, variant_batch, variant_graph

import rfa_fast
from rfa_fast import Graph, GraphBatch, Kind, reference, zoo

RF_MAX = {"vgg16": 212, "resnet18": 435, "resnet50": 427, "resnet101": 971, "mobilenet_v2": 491, "densenet121": 2071}
"""Final receptive fields of the torchvision layouts (tests/test_validation_models.py measures them by gradients)."""

TOOLBOX_OWN = {"vgg16": (212, 10), "resnet18": (435, 10), "resnet50": (483, 24), "resnet101": (1027, 58)}
"""What rfa-toolbox's own models give at 32 px: (largest finite field, number of layers it flags).

Its ResNet-50/101 are the v1 layout (stride on the block's first 1x1 conv, not
the 3x3), so their fields are 483/1027 where torchvision's v1.5 has 427/971;
it flags additions and its 1x1 "global average pooling" too.
"""

TOOLBOX_SAMPLE = {"vgg16": 20, "resnet18": 5, "resnet50": 2, "resnet101": 1, "mobilenet_v2": 2, "densenet121": 1}
"""Variants rfa-toolbox analyzes per call in the bulk groups (each call about 0.1-1 s)."""

VARIANTS = 1000


@cache
def expected(model: str) -> dict[str, Any]:
    """The reference's answer for a zoo model at 32 px, and rfa_fast's unproductive layer names."""
    g = zoo.MODELS[model]()
    ref = reference.run_graph(g, [[RESOLUTION, RESOLUTION]])
    return {"ref": ref, "unproductive": unproductive_names(g, RESOLUTION)}


def fresh(g: Graph) -> Graph:
    """A copy with no cached arrays, so a call of analyze() pays for packing, as on a new model."""
    return Graph(g.nodes, name=g.name, dims=g.dims, input_shape=g.input_shape)


def window_names(graph: Graph) -> set[str]:
    return {n.name for n in graph.nodes if n.kind == Kind.WINDOW}


def check_report(rep: rfa_fast.Report, model: str) -> None:
    assert rep.summary["rf_max"] == [RF_MAX[model]] * 2
    assert_same_raw(rep.raw, expected(model)["ref"], f"{model}: analyze against the reference")


def toolbox_skip(impl: str, model: str) -> None:
    if impl.startswith("rfa-toolbox") and not tb.AVAILABLE:
        missing(tb.REASON)
    if impl == "rfa-toolbox: own model" and model not in tb.HAND_BUILT:
        pytest.skip(
            f"rfa-toolbox 1.7.0 ships no {LABEL[model]}; its graph-API row builds it from rfa_fast.zoo's layers"
        )


# -- one network at a time -------------------------------------------------------

SINGLE = [
    "rfa_fast.analyze",
    "rfa_fast: zoo build + analyze",
    "reference",
    "rfa-toolbox: graph API",
    "rfa-toolbox: own model",
]


@pytest.mark.parametrize("impl", SINGLE)
@pytest.mark.parametrize("model", list(LABEL))
def test_single_model(benchmark: Any, model: str, impl: str) -> None:
    """One network analyzed at 32 px, from its layer list to the answer."""
    toolbox_skip(impl, model)
    benchmark.group = f"model: {LABEL[model]} at {RESOLUTION} px, one network per call"
    g = zoo.MODELS[model]()
    record(benchmark, impl, base=impl == "rfa_fast.analyze", model=model, nodes=len(g.nodes))
    if impl == "rfa_fast.analyze":
        # a fresh Graph per call: packing its arrays is part of the cost, as for a new model
        check_report(benchmark(lambda: rfa_fast.analyze(fresh(g), RESOLUTION)), model)
    elif impl == "rfa_fast: zoo build + analyze":
        build = zoo.MODELS[model]
        check_report(benchmark(lambda: rfa_fast.analyze(build(), RESOLUTION)), model)
    elif impl == "reference":
        out = benchmark.pedantic(reference.run_graph, (g, [[RESOLUTION, RESOLUTION]]), rounds=rounds(benchmark, 5))
        assert_same_raw(rfa_fast.analyze(g, RESOLUTION).raw, out, f"{model}: the reference against analyze")
    elif impl == "rfa-toolbox: graph API":
        res = benchmark.pedantic(tb.analyze_graph, (g, RESOLUTION), rounds=rounds(benchmark, 5))
        benchmark.extra_info["path_entries"] = res.path_entries
        # same network, same rules here: same field, same I_max, same unproductive convs and pools
        assert res.rf_max == res.r_max == RF_MAX[model]
        assert set(res.unproductive) & window_names(g) == expected(model)["unproductive"]
    else:
        res = benchmark.pedantic(tb.analyze_hand_built, (model, RESOLUTION), rounds=rounds(benchmark, 5))
        benchmark.extra_info["path_entries"] = res.path_entries
        assert (res.rf_max, len(res.unproductive)) == TOOLBOX_OWN[model]
        if model == "vgg16":  # a chain: nothing for the rules to disagree on
            assert len(res.unproductive) == len(expected(model)["unproductive"])


def test_toolbox_floor_estimate_differs_at_112px() -> None:
    """Where the rules differ: rule (b) at 112 px on ResNet-18 (not a benchmark; runs in quick mode).

    rfa-toolbox estimates a feature map as floor(I / jump): 112 / 32 = 3 <= 3,
    so it rates the last stage's 3x3 convs "like dense layers".  The exact
    padded sizes are 112 -> 56 -> 28 -> 14 -> 7 -> 4, and a 4x4 map is larger
    than a 3x3 kernel: rfa_fast (and the reference) rate them productive.
    """
    if not tb.AVAILABLE:
        missing(tb.REASON)
    g = zoo.resnet18()
    theirs = set(tb.analyze_graph(g, 112).unproductive) & window_names(g)
    assert theirs == {"layer4.0.conv2", "layer4.1.conv1", "layer4.1.conv2"}
    assert unproductive_names(g, 112) == set()
    assert reference.run_graph(g, [[112, 112]])["n_unproductive"][0, 0] == 0


# -- many networks: 1,000 variants of each architecture ------------------------------

BULK = [
    "rfa_fast.screen",
    "rfa_fast.screen, 1 thread",
    "rfa_fast: pack + screen",
    "rfa_fast: from Graph objects",
    "rfa_fast: from specs",
    "rfa-toolbox: graph API, one at a time",
]
INPUT = {
    "rfa_fast.screen": "prepacked",
    "rfa_fast.screen, 1 thread": "prepacked",
    "rfa_fast: pack + screen": "rows",
    "rfa_fast: from Graph objects": "Graph objects",
    "rfa_fast: from specs": "specs",
}
"""What each rfa_fast row's timed call starts from: the batch's arrays, or the user's input (packing timed):
the variants as rows of node indices and kernels (tiled with numpy), as Graph objects, as JSON-able specs."""


@cache
def variants(model: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    return kernel_variants(zoo.MODELS[model](), np.random.default_rng(7), n)


@cache
def variants_reference(model: str, n: int, m: int) -> dict[str, np.ndarray]:
    """The reference on the first m of the n variants."""
    g = zoo.MODELS[model]()
    idx, ks = variants(model, n)
    return reference.run_batch([variant_graph(g, idx[i], ks[i]) for i in range(m)], [[RESOLUTION, RESOLUTION]])


@pytest.mark.parametrize("impl", BULK)
@pytest.mark.parametrize("model", list(LABEL))
def test_bulk_variants(benchmark: Any, model: str, impl: str) -> None:
    """1,000 variants of one architecture: rfa_fast in one batch, rfa-toolbox one network at a time (a sample)."""
    toolbox_skip(impl, model)
    n = sized(benchmark, VARIANTS, 20)
    benchmark.group = f"bulk: {LABEL[model]}, {VARIANTS:,} kernel variants at {RESOLUTION} px"
    g = zoo.MODELS[model]()
    idx, ks = variants(model, n)
    if impl.startswith("rfa-toolbox"):
        sample = sized(benchmark, TOOLBOX_SAMPLE[model], 1)
        graphs = [variant_graph(g, idx[i], ks[i]) for i in range(sample)]
        record(benchmark, impl, sample, model=model, note=f"{sample} of the {VARIANTS:,} variants per call")
        res = benchmark.pedantic(lambda: [tb.analyze_graph(v, RESOLUTION) for v in graphs], rounds=rounds(benchmark, 3))
        r = rfa_fast.screen(variant_batch(g, idx[:sample], ks[:sample]), RESOLUTION)
        for i, (v, t) in enumerate(zip(graphs, res)):
            assert t.rf_max == r.rf_max[i, 0]
            assert set(t.unproductive) & window_names(v) == unproductive_names(v, RESOLUTION)
        return
    threads = 1 if impl.endswith("1 thread") else None
    record(
        benchmark,
        impl,
        n,
        base=impl == "rfa_fast.screen",
        single=impl == "rfa_fast.screen, 1 thread",
        model=model,
        input=INPUT[impl],
        threads=threads or "all",
    )
    if impl.startswith("rfa_fast.screen"):
        batch = variant_batch(g, idx, ks)
        r = benchmark(rfa_fast.screen, batch, RESOLUTION, threads=threads)
    elif impl == "rfa_fast: pack + screen":
        r = benchmark(lambda: rfa_fast.screen(variant_batch(g, idx, ks), RESOLUTION))
    elif impl == "rfa_fast: from Graph objects":
        graphs = [variant_graph(g, idx[i], ks[i]) for i in range(n)]
        r = benchmark(lambda: rfa_fast.screen(GraphBatch.from_graphs(graphs), RESOLUTION))
    else:
        specs = [variant_graph(g, idx[i], ks[i]).to_spec() for i in range(n)]
        r = benchmark(lambda: rfa_fast.screen(GraphBatch.from_specs(specs), RESOLUTION))
    assert len(r) == n
    m = sized(benchmark, 20, 3)
    assert_agrees(r, variants_reference(model, n, m), rows=m, who=f"{model}, {impl}")
