"""Trimming (Richter et al. 2021): remove the layers past the border.

Layers that are unproductive at the training resolution add cost but no
quality.  :func:`trim` removes them from the graph and says what that saves:

- in a chain, every unproductive window goes (its consumers read its input);
- in a block that splits and merges again (a residual block: a conv branch
  and a shortcut into one addition), a branch goes when all of its rated
  windows are unproductive, and a merge left with one input collapses to it
  (the addition becomes its shortcut);
- an unproductive window inside a branch that also has productive windows
  stays (removing it alone would change the branch, not trim it), and so does
  a shortcut when every branch of its block is unproductive (the shortcut
  carries the block's stride and channel change).  Those are listed, with the
  reason, in :attr:`TrimSuggestion.kept`.

Channel counts are not rewired: the layer after a removed run keeps its
``c_in`` (the designer adapts the head), so parameter and MAC counts of the
remaining layers are those of the original graph.

>>> import rfa_fast
>>> b = rfa_fast.GraphBuilder("chain")
>>> x = b.input()
>>> for i in range(6):
...     x = b.conv(x, 3, 2, pad=1, c_in=3 if i == 0 else 8, c_out=8, name=f"conv{i}")
>>> t = rfa_fast.trim(b.build(), 16)
>>> t.removed, t.n_unproductive_after
(('conv3', 'conv4', 'conv5'), 0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .api import analyze
from .errors import ResolutionError
from .graph import Graph, Node
from .kinds import Kind, Status
from .report import Report, fmt_count

_CHAIN_KINDS = (Kind.WINDOW, Kind.IDENTITY, Kind.RESIZE, Kind.TRANSPOSED)


@dataclass(frozen=True)
class TrimSuggestion:
    """The graph without its layers past the border, and what that saves.

    Attributes:
        resolution: the training resolution (square).
        removed: names of the removed nodes (windows, and the merges that
            collapsed), in graph order.
        collapsed: names of the merges that collapsed to one input.
        kept: ``(name, reason)`` for every unproductive layer that stays.
        n_unproductive_before, n_unproductive_after: at the resolution.
        macs_before, macs_after, params_before, params_after: totals.
        graph: the trimmed graph (re-analyzed for the ``_after`` numbers).
        report: the trimmed graph's :class:`~rfa_fast.report.Report`.
    """

    resolution: int
    removed: tuple[str, ...]
    collapsed: tuple[str, ...]
    kept: tuple[tuple[str, str], ...]
    n_unproductive_before: int
    n_unproductive_after: int
    macs_before: int
    macs_after: int
    params_before: int
    params_after: int
    graph: Graph = field(compare=False, repr=False)
    report: Report = field(compare=False, repr=False)

    @property
    def macs_saved(self) -> int:
        return self.macs_before - self.macs_after

    @property
    def params_saved(self) -> int:
        return self.params_before - self.params_after

    def describe(self) -> str:
        """What goes, what it saves, and what stays unproductive (and why).

        >>> import rfa_fast
        >>> print(rfa_fast.trim(rfa_fast.zoo.vgg16(), 32).describe().splitlines()[0])
        trim vgg16 at 32 px: remove 10 layers past the border: features.14, features.16, features.17, features.19, features.21, features.23, features.24, features.26, features.28, features.30
        """
        r = self.resolution
        lines = [
            f"trim {self.graph.name} at {r} px: remove {len(self.removed)} layers past the border"
            + (": " + ", ".join(self.removed) if self.removed else "")
        ]
        if self.collapsed:
            lines.append(f"merges that collapse to their shortcut: {', '.join(self.collapsed)}")
        share = 100 * self.macs_saved / self.macs_before if self.macs_before else 0.0
        lines.append(
            f"saves {fmt_count(self.macs_saved)} of {fmt_count(self.macs_before)} MACs ({share:.0f}%) and "
            f"{fmt_count(self.params_saved)} of {fmt_count(self.params_before)} params; unproductive layers at {r} px: "
            f"{self.n_unproductive_before} -> {self.n_unproductive_after}"
        )
        lines += [f"kept unproductive: {name}: {why}" for name, why in self.kept]
        return "\n".join(lines)


def _walk_branch(graph: Graph, consumers: Sequence[Sequence[int]], start: int) -> tuple[list[int], int]:
    """Up from a merge input through single-input, single-consumer nodes: (branch nodes, entry node)."""
    branch: list[int] = []
    cur = start
    while True:
        node = graph.nodes[cur]
        if node.kind not in _CHAIN_KINDS or len(node.inputs) != 1 or len(consumers[cur]) != 1:
            return branch, cur
        branch.append(cur)
        cur = node.inputs[0]


def _rated(node: Node, ignore_1x1: bool) -> bool:
    """Whether the core rates this node (semantics.md: status)."""
    if node.kind not in (Kind.WINDOW, Kind.TRANSPOSED):
        return False
    return not (ignore_1x1 and all(k == 1 for k in node.kernel_extent))


def trim(graph: Graph, resolution: int, *, ignore_1x1: bool = False) -> TrimSuggestion:
    """Remove the layers that are unproductive at ``resolution`` (see the module docstring).

    Args:
        graph: a chain or a staged network (residual blocks are trimmed whole).
        resolution: the training resolution (square, an int).
        ignore_1x1: do not rate 1x1 layers (as in :func:`rfa_fast.analyze`);
            then a bottleneck whose 3x3 conv is unproductive counts as fully
            unproductive.

    Returns:
        A :class:`TrimSuggestion` with the trimmed graph re-analyzed at ``resolution``.
    """
    if isinstance(resolution, bool) or not isinstance(resolution, int):
        raise ResolutionError(f"trim() takes one square resolution (an int), got {resolution!r}")
    before = analyze(graph, resolution, ignore_1x1=ignore_1x1)
    status = before.raw["status"][0].tolist()
    unproductive = [bool(s & Status.UNPRODUCTIVE) for s in status]
    nodes = graph.nodes
    n = len(nodes)
    consumers: list[list[int]] = [[] for _ in range(n)]
    for i, node in enumerate(nodes):
        for p in node.inputs:
            consumers[p].append(i)

    removed: set[int] = set()
    in_block: set[int] = set()
    collapse: dict[int, int] = {}  # merge -> the input it collapses to
    drop_inputs: dict[int, set[int]] = {}  # merge -> inputs of removed branches
    kept: dict[int, str] = {}
    for m, node in enumerate(nodes):
        if node.kind != Kind.MERGE or len(node.inputs) < 2:
            continue
        walks = [_walk_branch(graph, consumers, p) for p in node.inputs]
        if len({entry for _, entry in walks}) != 1:
            continue  # not a split-and-merge block
        for branch, _ in walks:
            in_block.update(branch)
        rated = [[v for v in branch if _rated(nodes[v], ignore_1x1)] for branch, _ in walks]
        dead = [bool(r) and all(unproductive[v] for v in r) for r in rated]
        if not any(dead):
            for r in rated:
                for v in r:
                    if unproductive[v]:
                        kept[v] = f"inside block {node.name!r}, whose branch also has productive layers"
            continue
        # keep the live branches; if every branch is dead keep the shortest (the shortcut)
        live = [k for k in range(len(walks)) if not dead[k]]
        if not live:
            short = min(range(len(walks)), key=lambda k: (len(rated[k]), k))
            live = [short]
            for v in rated[short]:
                kept[v] = f"the shortcut of block {node.name!r}, all of whose branches are unproductive"
        for k in range(len(walks)):
            if k not in live:
                removed.update(walks[k][0])
                drop_inputs.setdefault(m, set()).add(node.inputs[k])
        if len(live) == 1:
            collapse[m] = node.inputs[live[0]]
            removed.add(m)
        for k in live:
            for v in rated[k]:
                if unproductive[v] and v not in kept:
                    kept[v] = f"inside block {node.name!r}, whose branch also has productive layers"

    # Chain windows, consumers first: one goes when its output has the size of
    # its input (the layers after it see the same maps) or when everything
    # after it goes too (the tail past the border); a strided window in front
    # of layers that stay would change their feature maps and costs.
    fmap = before.raw["fmap"][0]
    spatial = (before.raw["node_connected"] & ~before.raw["is_global"]).tolist()
    tail: dict[int, bool] = {}
    for v in range(n - 1, -1, -1):
        node = nodes[v]
        after_goes = all(not spatial[c] or tail.get(c, False) for c in consumers[v])
        if v in removed:  # by a block above
            tail[v] = after_goes
        elif unproductive[v] and v not in in_block:
            if len(node.inputs) != 1:
                kept[v] = "has several inputs"
            elif after_goes or (fmap[v] == fmap[node.inputs[0]]).all():
                removed.add(v)
                tail[v] = after_goes
            else:
                kept[v] = "changes the feature-map size, and layers after it stay"

    # where each removed node's consumers read from now
    source = list(range(n))
    for v in range(n):
        if v in collapse:
            source[v] = source[collapse[v]]
        elif v in removed:
            source[v] = source[nodes[v].inputs[0]] if nodes[v].inputs else v
    index: dict[int, int] = {}
    new_nodes: list[Node] = []
    for v, node in enumerate(nodes):
        if v in removed:
            continue
        drop = drop_inputs.get(v, set())
        ins = tuple(dict.fromkeys(index[source[p]] for p in node.inputs if p not in drop))
        index[v] = len(new_nodes)
        new_nodes.append(node if ins == node.inputs else _with_inputs(node, ins))
    outputs = list(dict.fromkeys(index[source[o]] for o in graph.outputs))
    trimmed = Graph(
        new_nodes, name=graph.name, dims=graph.dims, input_shape=graph.input_shape, outputs=outputs, source=graph.source
    )
    after = analyze(trimmed, resolution, ignore_1x1=ignore_1x1)
    order = sorted(removed)
    return TrimSuggestion(
        resolution=resolution,
        removed=tuple(nodes[v].name for v in order),
        collapsed=tuple(nodes[m].name for m in sorted(collapse)),
        kept=tuple((nodes[v].name, kept[v]) for v in sorted(kept)),
        n_unproductive_before=before.summary["n_unproductive"],
        n_unproductive_after=after.summary["n_unproductive"],
        macs_before=before.summary["macs"],
        macs_after=after.summary["macs"],
        params_before=before.summary["params"],
        params_after=after.summary["params"],
        graph=trimmed,
        report=after,
    )


def _with_inputs(node: Node, inputs: tuple[int, ...]) -> Node:
    from dataclasses import replace

    return replace(node, inputs=inputs)


__all__ = ["TrimSuggestion", "trim"]
