"""The template of a search space: every node any candidate can have.

A :class:`TNode` is a node whose integer attributes are values (an int, a
:class:`~rfa_fast.space.values.Derived` over choices or a
:class:`~rfa_fast.space.values.Computed` column), which lives in a *scope*
(present only when the scope's condition holds: an optional block, one
alternative of an op choice), and which may be a SELECT (the chosen one of
its inputs, or none). :mod:`rfa_fast.space.materialize` turns a template and
a row into a :class:`~rfa_fast.graph.Graph`; :mod:`rfa_fast.space.compile`
turns it into the core's program.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .values import Choice, Computed, Value

SELECT = 7
"""Template-only kind (``csrc/rfa/program.hpp``): the node is one of its inputs, picked per candidate."""

MODE_NODE, MODE_PASS, MODE_NONE = 0, 1, 2
"""A node's mode per candidate: present, a pass-through to its one input (no node), absent."""

AXIS_FIELDS = ("kernel", "stride", "dilation", "pad_begin", "pad_end")
"""Per-axis attributes, in the core's order."""

NODE_FIELDS = ("mode", "pad_mode", "ceil_mode", "weighted", "c_in", "c_out", "groups", "sel")
"""Per-node attributes, in the core's order."""

NODE_DEFAULTS: dict[str, int] = {
    "mode": MODE_NODE,
    "pad_mode": 0,
    "ceil_mode": 0,
    "weighted": 0,
    "c_in": 0,
    "c_out": 0,
    "groups": 1,
    "sel": 0,
}


@dataclass
class TNode:
    """One template node. ``axes[f]`` has one value per spatial axis."""

    name: str
    op: str
    kind: int
    inputs: tuple[int, ...]
    scope: int
    axes: dict[str, tuple[Value, ...]]
    fields: dict[str, Value] = field(default_factory=dict)
    scale: tuple[float, ...] = ()
    resize_mode: int = 0
    collapse: bool = False

    def get(self, name: str) -> Value:
        return self.fields.get(name, NODE_DEFAULTS[name])


@dataclass
class Scope:
    """Nodes present when ``parent`` is and ``condition`` (1/0) holds; scope 0 is always present."""

    parent: int
    condition: Value | None
    nodes: list[int] = field(default_factory=list)


@dataclass
class Alternatives:
    """What :meth:`Space.choose` made: the SELECT, its choice, and per option
    ``None`` (none), ``"identity"`` or the scope of the alternative and its output node."""

    select: int
    choice: Choice
    source: int
    options: list[None | str | tuple[int, int]]


@dataclass
class Template:
    """Everything a space declares, what compiling and materializing read (a :class:`Space` holds one)."""

    name: str
    dims: int
    nodes: list[TNode] = field(default_factory=list)
    scopes: list[Scope] = field(default_factory=lambda: [Scope(-1, None)])
    groups: list[Alternatives] = field(default_factory=list)
    choices: list[Choice] = field(default_factory=list)
    computed: list[Computed] = field(default_factory=list)
