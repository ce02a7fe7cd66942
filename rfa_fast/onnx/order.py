"""Topological order of an ONNX graph's nodes (Kahn's algorithm, no recursion).

ONNX requires nodes in topological order, but real files break the rule
(hand-edited graphs, some converters), and a cycle must be a clear error, not
an endless loop.  Tensors produced by no node (graph inputs, initializers,
the empty name of an omitted optional input) are available from the start.
Tensors that an ``If``/``Loop``/``Scan`` body reads from the outer graph count
as inputs of that node.

>>> from onnx import helper
>>> a = helper.make_node("Relu", ["y"], ["z"], name="a")
>>> b = helper.make_node("Relu", ["x"], ["y"], name="b")
>>> [n.name for n in topological_order(wrap([a, b]), "<test>")]
['b', 'a']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import onnx

from ..errors import OnnxError
from .values import attrs_of

_GRAPH_TYPES = (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
# Standard ops whose attributes never hold a subgraph: no need to scan them
# (reading attributes through protobuf costs more than the rest of the node).
_CONTROL_FLOW = frozenset({"If", "Loop", "Scan", "SequenceMap"})


class OpNode:
    """A NodeProto read once into Python lists (protobuf field access is slow).

    Same field names as ``onnx.NodeProto`` (``op_type``, ``domain``, ``name``,
    ``input``, ``output``); ``attrs()`` parses the attributes once.
    """

    __slots__ = ("proto", "op_type", "domain", "name", "input", "output", "has_graph", "_attrs")

    def __init__(self, proto: onnx.NodeProto) -> None:
        self.proto = proto
        self.op_type: str = proto.op_type
        self.domain: str = proto.domain
        self.name: str = proto.name
        self.input: list[str] = list(proto.input)
        self.output: list[str] = list(proto.output)
        if not (type(self.op_type) is str and type(self.domain) is str and type(self.name) is str) or not all(
            type(t) is str for t in self.input + self.output
        ):
            # protobuf hands back bytes for a proto2 string that is not UTF-8
            raise UnicodeDecodeError(
                "utf-8", b"", 0, 1, f"node {self.name!r} ({self.op_type!r}) has a non-UTF-8 string"
            )
        if self.domain in ("", "ai.onnx") and self.op_type not in _CONTROL_FLOW:
            self.has_graph = False
        else:
            attrs = proto.attribute
            self.has_graph = bool(attrs) and any(a.type in _GRAPH_TYPES for a in attrs)
        self._attrs: dict[str, Any] | None = None

    @property
    def attribute(self) -> Any:
        return self.proto.attribute

    def attrs(self) -> dict[str, Any]:
        """The attributes as a dict of Python values (parsed on first use)."""
        if self._attrs is None:
            self._attrs = attrs_of(self.proto)
        return self._attrs

    def __repr__(self) -> str:
        return f"OpNode({self.op_type} {self.name!r})"


def wrap(nodes: Iterable[onnx.NodeProto]) -> list[OpNode]:
    """Every node as an :class:`OpNode`."""
    return [OpNode(n) for n in nodes]


def node_inputs(node: OpNode) -> list[str]:
    """The tensors ``node`` reads: its inputs and what its subgraphs read from outside."""
    names = [t for t in node.input if t]
    if node.has_graph:
        names.extend(_outer_reads(node.proto))
    return names


def _outer_reads(node: onnx.NodeProto) -> list[str]:
    """Names a node's subgraphs (at any depth) read but do not define."""
    reads: list[str] = []
    stack: list[tuple[onnx.GraphProto, frozenset[str]]] = []
    for a in node.attribute:
        if a.type == onnx.AttributeProto.GRAPH:
            stack.append((a.g, frozenset()))
        elif a.type == onnx.AttributeProto.GRAPHS:
            stack.extend((g, frozenset()) for g in a.graphs)
    while stack:
        g, outer_defined = stack.pop()
        defined = set(outer_defined)
        defined.update(i.name for i in g.input)
        defined.update(t.name for t in g.initializer)
        for n in g.node:
            for t in n.input:
                if t and t not in defined:
                    reads.append(t)
            defined.update(n.output)
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    stack.append((a.g, frozenset(defined)))
                elif a.type == onnx.AttributeProto.GRAPHS:
                    stack.extend((sg, frozenset(defined)) for sg in a.graphs)
    return reads


def topological_order(nodes: Sequence[OpNode], label: str) -> list[OpNode]:
    """``nodes`` sorted so that every node comes after the producers of its inputs.

    Already-sorted graphs (the common case) keep their order.  Raises
    :class:`~rfa_fast.errors.OnnxError` naming a node on a cycle.
    """
    producer: dict[str, int] = {}
    for i, n in enumerate(nodes):
        for t in n.output:
            if t:
                producer[t] = i
    inputs = [node_inputs(n) for n in nodes]
    # Fast path: already in order (one pass, no extra structures).
    seen_ok = True
    for i, ins in enumerate(inputs):
        for t in ins:
            p = producer.get(t)
            if p is not None and p >= i:
                seen_ok = False
                break
        if not seen_ok:
            break
    if seen_ok:
        return list(nodes)

    count = len(nodes)
    indegree = [0] * count
    consumers: list[list[int]] = [[] for _ in range(count)]
    for i, ins in enumerate(inputs):
        for p in {producer[t] for t in ins if t in producer}:
            indegree[i] += 1
            consumers[p].append(i)
    # Ready nodes are taken in file order (a stack of reversed indices keeps
    # the result close to the original order).
    ready = [i for i in range(count - 1, -1, -1) if indegree[i] == 0]
    order: list[int] = []
    while ready:
        i = ready.pop()
        order.append(i)
        for c in reversed(consumers[i]):
            indegree[c] -= 1
            if indegree[c] == 0:
                ready.append(c)
    if len(order) < count:
        stuck = next(i for i in range(count) if indegree[i] > 0)
        name = nodes[stuck].name or (nodes[stuck].output[0] if nodes[stuck].output else f"#{stuck}")
        raise OnnxError(
            f"{label}: the graph has a cycle (node {name!r}, op {nodes[stuck].op_type}, is on or after one); "
            "an ONNX graph must be acyclic"
        )
    return [nodes[i] for i in order]
