"""rfa-toolbox, the authors' own tool (PyPI ``rfa-toolbox`` 1.7.0), as a benchmark baseline.

Only its public API is called here; nothing of it is copied.  It is used two
ways, both the way its documentation shows:

- its hand-built architectures (``rfa_toolbox.architectures.vgg.vgg16``,
  ``resnet.resnet18/50/101``), for the models it ships;
- its graph API (``EnrichedNetworkNode`` + ``LayerDefinition``), fed the same
  layer list as ``rfa_fast.zoo`` (or any :class:`rfa_fast.Graph`), for every
  model, so both tools analyze exactly the same network.

Its analysis of a network is building the nodes (each node computes its
receptive-field set from its predecessors' sets in its constructor: that is
the propagation, one entry per distinct path value), then
``obtain_border_layers(output, I)`` (its per-node unproductive test, named
"border" there) and ``input_resolution_range(output)`` (its r_min, r_max).

Its rules differ from rfa_fast's (docs/semantics.md, docs/benchmarks.md):
no padding, no dilation, no alignment; merges and 1x1 layers are rated like
convolutions; rule (b) estimates feature maps as floor(I / jump).

rfa-toolbox 1.7.0 declares Requires-Python < 3.11 and numpy < 2; it runs on
3.11 and numpy 2 once ``collections.Sequence`` & co. are aliased (its PyTorch
handler imports them from ``collections``), so install it with
``pip install --no-deps --ignore-requires-python rfa-toolbox==1.7.0`` plus
its runtime deps ``attrs graphviz<0.20 tqdm``.
"""

from __future__ import annotations

import collections
import collections.abc
import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from rfa_fast import Graph, Kind

# Python 3.10 removed these aliases; rfa-toolbox 1.7.0 still imports them from ``collections``.
for _name in ("Sequence", "Mapping", "MutableMapping", "Iterable", "Callable"):
    if not hasattr(collections, _name):
        setattr(collections, _name, getattr(collections.abc, _name))

try:
    import rfa_toolbox
    from rfa_toolbox.architectures import resnet as _tb_resnet
    from rfa_toolbox.architectures import vgg as _tb_vgg
    from rfa_toolbox.graphs import EnrichedNetworkNode, LayerDefinition
    from rfa_toolbox.utils.graph_utils import input_resolution_range, obtain_all_nodes, obtain_border_layers

    VERSION: str | None = rfa_toolbox.__version__
    REASON = ""
except Exception as exc:  # noqa: BLE001 - any failure means "not available", with the reason shown
    VERSION = None
    REASON = (
        f"rfa-toolbox is not importable ({type(exc).__name__}: {exc}); install it with "
        "`pip install --no-deps --ignore-requires-python rfa-toolbox==1.7.0 attrs 'graphviz<0.20' tqdm`"
    )

AVAILABLE = VERSION is not None

HAND_BUILT: dict[str, str] = {
    "vgg16": "vgg.vgg16",
    "resnet18": "resnet.resnet18",
    "resnet50": "resnet.resnet50",
    "resnet101": "resnet.resnet101",
}
"""The models rfa-toolbox ships, by rfa_fast.zoo name (it has no MobileNetV2 or DenseNet-121)."""


def hand_built_factory(model: str) -> Callable[[], Any] | None:
    """rfa-toolbox's own builder of ``model``, or None when it does not ship one."""
    if not AVAILABLE or model not in HAND_BUILT:
        return None
    module, func = HAND_BUILT[model].split(".")
    return getattr({"vgg": _tb_vgg, "resnet": _tb_resnet}[module], func)


def build_hand_built(model: str) -> Any:
    """Build rfa-toolbox's own ``model``; its ResNet builders print every block, so stdout is swallowed."""
    factory = hand_built_factory(model)
    if factory is None:
        raise KeyError(f"rfa-toolbox ships no {model}")
    with contextlib.redirect_stdout(io.StringIO()):
        return factory()


def _connected(graph: Graph) -> list[bool]:
    """Nodes reachable from the input: a sum with no connected input (a NAS 'none' cell node) is dropped."""
    ok: list[bool] = []
    for n in graph.nodes:
        ok.append(n.kind == Kind.INPUT or any(ok[i] for i in n.inputs))
    return ok


def from_graph(graph: Graph) -> Any:
    """Build ``graph`` with rfa-toolbox's graph API; returns its output node (a handle on the whole graph).

    Windows (convolutions, pools) become ``LayerDefinition(kernel_size=k,
    stride_size=s)`` with the raw kernel, as a user of the tool writes them (it
    has no padding or dilation field); inputs, merges and identities kernel 1
    stride 1; global layers kernel None (its "dense" marker: infinite field).
    Nodes not connected to the input are left out (they carry no field).
    """
    keep = _connected(graph)
    nodes: list[Any] = [None] * len(graph.nodes)
    last = None
    for i, n in enumerate(graph.nodes):
        if not keep[i]:
            continue
        if len(set(n.kernel)) > 1 or len(set(n.stride)) > 1:
            raise ValueError(f"{graph.name}: node {n.name} is not square; rfa-toolbox compares tuple kernels badly")
        if n.kind == Kind.WINDOW:
            layer = LayerDefinition(name=n.op, kernel_size=int(n.kernel[0]), stride_size=int(n.stride[0]))
        elif n.kind == Kind.GLOBAL:
            layer = LayerDefinition(name=n.op, kernel_size=None, stride_size=None)
        elif n.kind in (Kind.INPUT, Kind.MERGE, Kind.IDENTITY):
            layer = LayerDefinition(name=n.op, kernel_size=1, stride_size=1)
        else:
            raise ValueError(f"{graph.name}: rfa-toolbox has no {n.kind.name} layer (node {n.name})")
        preds = [nodes[p] for p in n.inputs if keep[p]]
        nodes[i] = last = EnrichedNetworkNode(name=n.name, layer_info=layer, predecessors=preds)
    return last


@dataclass(frozen=True)
class ToolboxResult:
    """What rfa-toolbox answers about one network at one resolution."""

    unproductive: list[str]  # names of the nodes obtain_border_layers returns (its "border" = unproductive)
    rf_max: float  # the largest finite receptive_field_max over all nodes
    r_min: int  # input_resolution_range: its smallest feasible resolution
    r_max: int  # input_resolution_range: its largest (the largest finite field of a conv layer)
    path_entries: int  # receptive-field set entries over all nodes (its path enumeration)


def analyze(output: Any, resolution: int) -> ToolboxResult:
    """rfa-toolbox's analysis of a built network at a square ``resolution``."""
    border = obtain_border_layers(output, resolution)
    (r_min, _), (r_max, _) = input_resolution_range(output)
    nodes = obtain_all_nodes(output)
    finite = [float(n.receptive_field_max) for n in nodes if np.isfinite(n.receptive_field_max)]
    return ToolboxResult(
        unproductive=[n.name for n in border],
        rf_max=max(finite),
        r_min=int(r_min),
        r_max=int(r_max),
        path_entries=sum(len(n.receptive_field_info) for n in nodes),
    )


def analyze_graph(graph: Graph, resolution: int) -> ToolboxResult:
    """Build ``graph`` with the graph API and analyze it: one network, start to finish."""
    return analyze(from_graph(graph), resolution)


def analyze_hand_built(model: str, resolution: int) -> ToolboxResult:
    """Build rfa-toolbox's own ``model`` and analyze it: one network, start to finish."""
    return analyze(build_hand_built(model), resolution)
