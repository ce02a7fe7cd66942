"""A declared :class:`~rfa_fast.space.Space` compiled into the core's program.

One rewrite happens here, for speed only: an op choice whose alternatives
are each a single node of the same kind reading the choice's input (the
edges of NAS-Bench-201 and DARTS cells: conv 1x1, conv 3x3, pool, skip,
none) becomes *one* node whose attributes are tables over the choice and
whose mode is "node", "pass" (identity) or "none" per option, instead of
every alternative and a SELECT. The graphs it stands for are the same
(``Space.graph`` does not fuse; the tests compare both).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..kinds import Kind
from .program import CompiledProgram, ProgramBuilder
from .template import AXIS_FIELDS, MODE_NODE, MODE_NONE, MODE_PASS, NODE_FIELDS, Alternatives, Template, TNode
from .values import Choice, Computed, Derived, Value, combine


def compile_space(space: Template) -> CompiledProgram:
    """The program of a built space's template."""
    fused, removed = _fusions(space)
    b = ProgramBuilder(
        space.dims,
        [len(c.options) for c in space.choices],
        [len(space.computed)] if space.computed else [],
    )
    scope_map = [0]
    for sc in space.scopes[1:]:
        assert sc.condition is not None
        scope_map.append(b.new_scope(scope_map[sc.parent], b.value(sc.condition)))
    new_index: dict[int, int] = {}
    names: list[str] = []
    for t, tn in enumerate(space.nodes):
        if t in removed:
            continue
        node = fused.get(t, tn)
        axes = {f: [b.value(v) for v in node.axes[f]] for f in AXIS_FIELDS}
        fields = {f: b.value(node.fields[f]) for f in NODE_FIELDS if f in node.fields}
        new_index[t] = b.node(
            node.kind,
            [new_index[i] for i in node.inputs],
            scope=scope_map[node.scope],
            axes=axes,
            fields=fields,
            scale=node.scale or None,
            resize_mode=node.resize_mode,
            collapse=node.collapse,
        )
        names.append(node.name)
    return CompiledProgram(b.arrays(), space.dims, names, space.computed)


def _fusions(space: Template) -> tuple[dict[int, TNode], set[int]]:
    """The fused node of every op choice that can be fused (by SELECT index), and the nodes it replaces."""
    fused: dict[int, TNode] = {}
    removed: set[int] = set()
    for g in space.groups:
        node = _fuse(space, g)
        if node is not None:
            fused[g.select] = node
            removed.update(out for rec in g.options if isinstance(rec, tuple) for out in [rec[1]])
    return fused, removed


def _fuse(space: Template, g: Alternatives) -> TNode | None:
    real: dict[int, TNode] = {}
    for o, rec in enumerate(g.options):
        if not isinstance(rec, tuple):
            continue
        scope, out = rec
        n = space.nodes[out]
        nested = any(sc.parent == scope for sc in space.scopes)
        if space.scopes[scope].nodes != [out] or nested or n.inputs != (g.source,) or n.collapse:
            return None
        if n.kind not in (Kind.WINDOW, Kind.IDENTITY):
            return None
        values = [v for f in AXIS_FIELDS for v in n.axes[f]] + list(n.fields.values())
        if any(isinstance(v, Computed) for v in values):
            return None
        real[o] = n
    if not real or len({n.kind for n in real.values()}) != 1:
        return None
    first = next(iter(real.values()))
    options = range(len(g.choice.options))

    def pick(get: object) -> Value:
        vals = [get(real.get(o, first)) for o in options]  # type: ignore[operator]
        return _per_option(g.choice, vals)

    modes = [MODE_NODE if o in real else (MODE_PASS if g.options[o] == "identity" else MODE_NONE) for o in options]
    sel = space.nodes[g.select]
    axes = {f: tuple(pick(lambda n, f=f, d=d: n.axes[f][d]) for d in range(space.dims)) for f in AXIS_FIELDS}
    fields: dict[str, Value] = {f: pick(lambda n, f=f: n.get(f)) for f in NODE_FIELDS if f not in ("mode", "sel")}
    fields["mode"] = _per_option(g.choice, modes)
    return TNode(sel.name, first.op, first.kind, (g.source,), sel.scope, axes, fields, first.scale, first.resize_mode)


def _per_option(choice: Choice, values: Sequence[Value]) -> Value:
    """A value that is ``values[o]`` where the choice takes option ``o``."""
    if all(isinstance(v, int) for v in values) and len(set(values)) == 1:
        return values[0]
    index = Derived((choice,), np.arange(len(choice.options), dtype=np.int64))
    tables = [v if isinstance(v, Derived) else Derived((), np.array(int(v))) for v in values]  # type: ignore[arg-type]
    return combine(lambda i, *vs: vs[i], index, *tables)


__all__ = ["compile_space"]
