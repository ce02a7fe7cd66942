"""The core's errors in the user's words: graph, node and attribute names.

The core sees arrays, so its :class:`~rfa_fast.errors.GraphError` says
``graph 0, node 3: stride is 0 on axis 0, must be in 1..65536``.  The
Python layer that handed it :class:`~rfa_fast.graph.Graph` objects knows
more: the graph's name and file, the node's name and op, and which
attribute the user wrote (``strides`` in an ONNX file, ``stride`` in a
builder call).  :func:`name_graph_error` rewrites the message with them,
keeping the indices as attributes.  It runs only on the error path: a
batch of millions pays nothing for it.

>>> from rfa_fast import GraphBuilder
>>> from rfa_fast.errors import GraphError
>>> b = GraphBuilder("net")
>>> x = b.conv(b.input(), 3, name="stem")
>>> e = GraphError("graph 0, node 1: kernel is 70000 on axis 0, must be in 1..65536", 0, 1)
>>> print(name_graph_error(e, [b.build()], [0]))
node 'stem' (conv) in graph 'net': kernel 70000 on axis 0, must be in 1..65536
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from .errors import GraphError
from .graph import Graph

# the core's prefix: "graph G, node V: " (or "graph G: ")
_PREFIX = re.compile(r"^graph -?\d+(?:, node -?\d+)?: ")

# core array field -> the ONNX attribute a user wrote it as
_ONNX_ATTRIBUTE = {
    "kernel": "kernel_shape",
    "stride": "strides",
    "dilation": "dilations",
    "pad_begin": "pads",
    "pad_end": "pads",
    "groups": "group",
}

_FIELD = re.compile(r"^(kernel|stride|dilation|pad_begin|pad_end) is (-?\d+) on axis (\d+)(.*)$")


def describe_graph(graph: Graph | None, name: str | None, index: int, batch_size: int) -> str:
    """``graph 'resnet18' (file resnet18.onnx)``, with the batch index when there are several graphs."""
    label = name if name is not None else (graph.name if graph is not None else None)
    text = f"graph {label!r}" if label is not None else f"graph {index}"
    if batch_size > 1 and label is not None:
        text = f"graph {index} ({label!r})"
    source = graph.source_label if graph is not None else None
    if source:
        text += f" in {source}"
    return text


def _reason(reason: str, graph: Graph | None) -> str:
    """The core's reason with the attribute named as the user wrote it."""
    onnx = graph is not None and getattr(graph, "source", None) is not None
    m = _FIELD.match(reason)
    if m:
        field, value, axis, rest = m.groups()
        text = f"{field} {value} on axis {axis}"
        if onnx:
            text += f" (ONNX attribute {_ONNX_ATTRIBUTE[field]})"
        return text + rest
    if onnx and reason.startswith("groups must be"):
        return reason + " (ONNX attribute group)"
    return reason


def name_graph_error(
    e: GraphError,
    graphs: Sequence[Graph] | None,
    graph_ptr: Sequence[int] | np.ndarray | None,
    names: Sequence[str] | None = None,
) -> GraphError:
    """``e`` with the graph's and the node's names in place of array positions.

    Args:
        e: the core's error (``graph_index``, ``node_index``: global node index).
        graphs: the graphs of the batch, in order, when known.
        graph_ptr: the batch's ``graph_ptr`` (first node of each graph).
        names: labels of the graphs when ``graphs`` is not known.

    Returns a new :class:`GraphError` with the same indices (and
    ``graph_name``/``node_name`` set when known); ``e`` itself when it names
    no graph.
    """
    g = e.graph_index
    n_graphs = len(graphs) if graphs is not None else (len(names) if names is not None else 0)
    if not 0 <= g < n_graphs:
        return e
    graph = graphs[g] if graphs is not None else None
    gname = names[g] if names is not None and g < len(names) else (graph.name if graph is not None else None)
    reason = _PREFIX.sub("", str(e))
    where = describe_graph(graph, gname, g, n_graphs)
    node_name: str | None = None
    v = e.node_index
    if v >= 0 and graph_ptr is not None:
        i = v - int(graph_ptr[g])
        if graph is not None and 0 <= i < len(graph.nodes):
            node = graph.nodes[i]
            node_name = node.name
            where = f"node {node_name!r} ({node.op}) in {where}"
        else:
            where = f"node {i} of {where}"
    out = GraphError(f"{where}: {_reason(reason, graph)}", g, v, e.column)
    out.graph_name = gname
    out.node_name = node_name
    return out
