"""A graph at the resolution under analysis: sizes folded at another one are folded again, or warned about.

The ONNX loader evaluates sizes that depend on the input's shape (Resize by
``sizes``, spatial slices, reshapes, pads from ``Shape``) at one resolution
and records it (``Graph.folded_at``, the nodes in ``Graph.size_nodes``).
Analyzing such a graph at another resolution would describe a model that
does not exist there.  :func:`graph_at` gives the graph to analyze instead:

- a model with a dynamic input is read again at that resolution (exact: the
  model that runs there), once per resolution and graph;
- a model with a static input is analyzed as exported: its sizes are the
  model's own, and ``rfa-fast``/``analyze`` at another resolution read the
  architecture at that size (docs/onnx.md);
- a graph that cannot be read again (no source, the file is gone, the
  model does not load there) keeps its sizes, with a
  :class:`~rfa_fast.errors.FoldedResolutionWarning` naming the model, both
  resolutions and the ``resolution=`` to pass to ``load_onnx``.

Graphs without a record (built by hand, from specs, spaces) pass through
untouched, at no cost.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from .errors import FoldedResolutionWarning, RfaError
from .graph import Graph


def needs_refold(graph: Graph, resolution: Sequence[int]) -> bool:
    """Whether ``graph`` has sizes folded at a resolution other than ``resolution``.

    >>> from rfa_fast import GraphBuilder
    >>> b = GraphBuilder(); _ = b.conv(b.input(), 3)
    >>> needs_refold(b.build(), (32, 32))  # nothing folded: any resolution is fine
    False
    """
    folded = graph.folded_at
    return folded is not None and tuple(int(v) for v in resolution) != tuple(folded)


def graph_at(graph: Graph, resolution: Sequence[int], *, stacklevel: int = 3) -> Graph:
    """The graph to analyze at ``resolution`` (one size per axis): ``graph`` itself, or its model read there.

    Returns ``graph`` when nothing in it depends on the input size, when it
    was folded at ``resolution``, or when its model's input is static; the
    model read again at ``resolution`` when its input is dynamic.  When that
    read fails, warns (:class:`FoldedResolutionWarning`) and returns ``graph``.
    """
    res = tuple(int(v) for v in resolution)
    if not needs_refold(graph, res):
        return graph
    refold: Any = graph.refold
    if refold is not None and not refold.dynamic:
        return graph  # a static export: its sizes are the model's (documented), nothing to fold again
    cache: dict[tuple[int, ...], Graph | str] = graph.__dict__.setdefault("_refolded", {})
    hit = cache.get(res)
    if hit is None:
        if refold is None:
            hit = "the graph does not know its model"
        else:
            try:
                hit = refold.load(res)
                hit.name = graph.name
            except (RfaError, OSError) as e:
                hit = f"reading it at {_label(res)} failed: {type(e).__name__}: {e}"
        cache[res] = hit
    if isinstance(hit, Graph):
        return hit
    _warn(graph, res, hit, stacklevel + 1)
    return graph


def _label(res: Sequence[int]) -> str:
    return "x".join(str(int(v)) for v in res)


def _warn(graph: Graph, res: tuple[int, ...], why: str, stacklevel: int) -> None:
    folded = tuple(graph.folded_at or ())
    nodes = ", ".join(repr(n) for n in graph.size_nodes[:3]) + (
        f" and {len(graph.size_nodes) - 3} more" if len(graph.size_nodes) > 3 else ""
    )
    arg = res[0] if len(set(res)) == 1 else res
    warnings.warn(
        f"model {graph.name!r}: sizes that depend on the input size (nodes {nodes}) were folded at "
        f"{_label(folded)}; analyzed at {_label(res)} they stay those of {_label(folded)} ({why}): "
        f"pass resolution={arg!r} to load_onnx for the model at {_label(res)}",
        FoldedResolutionWarning,
        stacklevel=stacklevel,
    )


__all__ = ["graph_at", "needs_refold"]
