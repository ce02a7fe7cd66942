"""One candidate of a space as a :class:`~rfa_fast.graph.Graph` (``Space.graph``).

The rules, the same as the core's (``csrc/rfa/materialize.cpp``) and the
spec of ``Space.screen``:

- a node is in the graph when its scope is on (every enclosing block's
  condition holds) and its mode is "node"; with mode "pass" (the identity
  alternative of an op choice) its consumers read its input instead; with
  "none" it is absent;
- a SELECT is the input its choice picks, or absent;
- a MERGE or GLOBAL node drops absent inputs; a collapsing MERGE left with
  one input is that input, with none it is absent; a node that needs one
  input and has an absent one reads a constant (a MERGE without inputs,
  named ``<node>.none``), so it is disconnected, as in NAS-Bench-201.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..graph import Graph, Node
from ..kinds import Kind, PadMode, ResizeMode
from .template import MODE_NONE, MODE_PASS, SELECT, Template, TNode
from .values import Computed, Value, evaluate_computed, value_at


def materialize(space: Template, row: np.ndarray, *, name: str | None = None) -> Graph:
    """The graph of the candidate ``row`` (choice indices)."""
    # the computed values once for the row, not once per attribute that reads them
    computed = evaluate_computed(space.computed, np.asarray(row, dtype=np.int64).reshape(1, -1))[0]

    def val(v: Value) -> int:
        return int(computed[v.index]) if isinstance(v, Computed) else value_at(v, row)

    on = [True] * len(space.scopes)
    for s in range(1, len(space.scopes)):
        sc = space.scopes[s]
        on[s] = on[sc.parent] and sc.condition is not None and val(sc.condition) != 0
    nodes: list[Node] = []
    ref: list[int | None] = [None] * len(space.nodes)
    for t, tn in enumerate(space.nodes):
        mode = val(tn.get("mode")) if on[tn.scope] else MODE_NONE
        if mode == MODE_NONE:
            continue
        if tn.kind == SELECT:
            v = val(tn.get("sel"))
            ref[t] = None if v < 0 else ref[tn.inputs[v]]
            continue
        if mode == MODE_PASS:
            ref[t] = ref[tn.inputs[0]]
            continue
        inputs = [ref[i] for i in tn.inputs]
        if tn.kind in (Kind.MERGE, Kind.GLOBAL):
            inputs = [i for i in inputs if i is not None]
            if tn.kind == Kind.MERGE and tn.collapse and len(inputs) <= 1:
                ref[t] = inputs[0] if inputs else None
                continue
            if tn.kind == Kind.GLOBAL and not inputs:
                inputs = [None]
        resolved = []
        for i in inputs:
            if i is None:  # a constant stands for the absent input
                nodes.append(_constant(f"{tn.name}.none", space.dims))
                i = len(nodes) - 1
            resolved.append(i)
        nodes.append(_node(tn, tuple(resolved), val, space.dims))
        ref[t] = len(nodes) - 1
    return Graph(nodes, name=name or f"{space.name}[{','.join(str(int(x)) for x in row)}]", dims=space.dims)


def _constant(name: str, dims: int) -> Node:
    one, zero = (1,) * dims, (0,) * dims
    return Node(name, "none", Kind.MERGE, (), one, one, one, zero, zero, scale=(1.0,) * dims)


def _node(tn: TNode, inputs: tuple[int, ...], val: Callable[[Value], int], dims: int) -> Node:
    axes = {f: tuple(val(v) for v in tn.axes[f]) for f in tn.axes}
    return Node(
        tn.name,
        tn.op,
        Kind(tn.kind),
        inputs,
        kernel=axes["kernel"],
        stride=axes["stride"],
        dilation=axes["dilation"],
        pad_begin=axes["pad_begin"],
        pad_end=axes["pad_end"],
        pad_mode=PadMode(val(tn.get("pad_mode"))),
        ceil_mode=bool(val(tn.get("ceil_mode"))),
        scale=tn.scale or (1.0,) * dims,
        mode=ResizeMode(tn.resize_mode),
        weighted=bool(val(tn.get("weighted"))),
        c_in=val(tn.get("c_in")),
        c_out=val(tn.get("c_out")),
        groups=val(tn.get("groups")),
    )
