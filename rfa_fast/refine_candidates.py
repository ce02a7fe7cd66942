"""Candidate downsampling edits for refinement, and their batch for the core.

This module knows a graph's *structure* (who consumes whom, which windows
share a stage, which strided branches meet in the same merge); it computes no
receptive field: jumps and feature maps come from the core.  :mod:`rfa_fast.refine`
ranks what the core says about the candidates built here.

Edits (Richter & Pal 2022), each keeping the parameter count:

- ``unstride``: a window with stride > 1 gets stride 1 (a pool keeps its kernel);
- ``stem``: the first strided layer's stride is halved (for stride 2: the same
  as ``unstride``, and reported as the stem edit);
- ``drop``: a pool (an unweighted window with stride > 1) becomes the identity;
- ``move``: a window's stride moves to a later weighted window of the same stage
  (the layers after it at the same jump, up to the next downsampling);
- the same three for a *group*: strided windows on parallel branches of one
  merge with the same input jump (a ResNet block's strided conv and its
  shortcut conv), which must change together or the merge is misaligned.

>>> from rfa_fast import GraphBuilder, analyze
>>> b = GraphBuilder("chain")
>>> x = b.input()
>>> x = b.conv(x, 3, 2, pad=1, c_in=3, c_out=8, name="stem")
>>> x = b.pool(x, 2, name="pool")
>>> x = b.conv(x, 3, pad=1, c_in=8, c_out=8, name="conv")
>>> g = b.build()
>>> s = Structure(g, analyze(g, 32).raw)
>>> [a.label for a in atomic_edits(s)]
["stem conv 'stem': stride 2 -> 1", "pool 'pool': stride 2 -> 1", "remove pool 'pool'", "move the stride 2 of pool 'pool' to conv 'conv'"]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import gcd

import numpy as np

from .graph import Graph, Node
from .kinds import Kind, PadMode
from .report import fmt_axes

# Window ops whose stride is not a design choice that an ONNX attribute edit can
# change (crops, space-to-depth, unpooling): never edited.
_NOT_EDITABLE = frozenset({"slice", "split", "spacetodepth", "pad", "maxunpool"})
# Average pools that may be the frozen form of an adaptive average pool in
# front of a flatten head (torchvision VGG/AlexNet exports: AveragePool k=1 at 224 px).
_AVG_POOLS = frozenset(
    {"averagepool", "avgpool", "avg_pool", "adaptiveavgpool", "adaptive_avgpool", "adaptive_avg_pool"}
)
# GLOBAL ops whose output size depends on the spatial size of their input.
_FLATTEN_OPS = frozenset({"flatten", "reshape"})


@dataclass(frozen=True)
class NodeChange:
    """What one node becomes: a new stride, a new kernel (re-frozen pool), or the identity."""

    index: int
    stride: tuple[int, ...] | None = None
    kernel: tuple[int, ...] | None = None
    remove: bool = False


@dataclass(frozen=True)
class Atomic:
    """One edit in words and as node changes; ``primary`` edits are not moves."""

    label: str
    changes: tuple[NodeChange, ...]
    primary: bool

    @property
    def nodes(self) -> frozenset[int]:
        return frozenset(c.index for c in self.changes)


@dataclass(frozen=True)
class Candidate:
    """Atomic edits applied together (on disjoint nodes)."""

    atoms: tuple[Atomic, ...]

    @property
    def changes(self) -> tuple[NodeChange, ...]:
        return tuple(sorted((c for a in self.atoms for c in a.changes), key=lambda c: c.index))

    @property
    def signature(self) -> tuple[tuple[int, tuple[int, ...] | None, tuple[int, ...] | None, bool], ...]:
        """Same node changes = same candidate (a pair can equal a group edit)."""
        return tuple((c.index, c.stride, c.kernel, c.remove) for c in self.changes)

    def plus(self, atom: Atomic) -> Candidate:
        """This candidate with one more edit (atoms kept in node order: one form per set of edits)."""
        return Candidate(tuple(sorted((*self.atoms, atom), key=lambda a: (min(a.nodes), a.label))))

    def without(self, k: int) -> Candidate:
        """This candidate without its ``k``-th edit."""
        return Candidate(self.atoms[:k] + self.atoms[k + 1 :])

    @property
    def changes_kernel(self) -> bool:
        """Whether an edit changes a kernel (a patchify edit: the parameter count changes)."""
        return any(c.kernel is not None for c in self.changes)


class Structure:
    """A graph's consumers, stages and strided windows, read once.

    ``raw`` is the core's per-node output for the graph (``Report.raw``):
    only ``jump``, ``is_global`` (or infinite jumps) and ``node_connected``
    are read.
    """

    def __init__(self, graph: Graph, raw: dict[str, np.ndarray]) -> None:
        self.graph = graph
        self.nodes = graph.nodes
        n = len(graph.nodes)
        self.jump = raw["jump"]
        finite = np.isfinite(self.jump).all(axis=1)
        connected = raw["node_connected"]
        # spatial: connected and not global (the only nodes whose downsampling means anything)
        self.spatial = (finite & connected).tolist()
        self.consumers: list[list[int]] = [[] for _ in range(n)]
        for i, node in enumerate(graph.nodes):
            for p in node.inputs:
                self.consumers[p].append(i)
        self.strided = [i for i in range(n) if self.is_window(i) and max(self.nodes[i].stride) > 1 and self.editable(i)]
        self.heads = fixed_heads(graph, self.spatial)
        head_pools = {h.feeder for h in self.heads if h.refreeze}
        # a re-freezable pool in front of a flatten head is an adaptive pool: its
        # stride follows the feature map, it is not a design choice to edit
        self.strided = [i for i in self.strided if i not in head_pools]
        # 1x1 stride-1 pools without pads (exports leave one in front of a flattened head):
        # identities, not rated by refinement
        self.identity_pools = [i for i in range(n) if self.is_pool(i) and is_identity_pool(self.nodes[i])]
        # windows whose kernel equals their stride (patchify stems, ConvNeXt's downsampling)
        self.patchify = [
            i
            for i in range(n)
            if self.is_window(i)
            and self.editable(i)
            and i not in head_pools
            and max(self.nodes[i].stride) > 1
            and self.nodes[i].kernel == self.nodes[i].stride
            and all(d == 1 for d in self.nodes[i].dilation)
            and not any(self.nodes[i].pad_begin)
            and not any(self.nodes[i].pad_end)
        ]

    # -- node predicates ------------------------------------------------------
    def is_window(self, i: int) -> bool:
        return self.nodes[i].kind == Kind.WINDOW and self.spatial[i]

    def is_pool(self, i: int) -> bool:
        return self.is_window(i) and not self.nodes[i].weighted

    def editable(self, i: int) -> bool:
        return self.nodes[i].op.lower() not in _NOT_EDITABLE

    def word(self, i: int) -> str:
        """``conv 'name'`` or ``pool 'name'``: how edits name a node."""
        return f"{'conv' if self.nodes[i].weighted else 'pool'} {self.nodes[i].name!r}"

    def same_jump(self, a: int, b: int) -> bool:
        return bool(np.array_equal(self.jump[a], self.jump[b]))

    # -- structure ------------------------------------------------------------
    def takes(self, i: int, stride: tuple[int, ...]) -> bool:
        """Whether window ``i`` can take ``stride``: a weighted stride-1 window that reads every input unit with it."""
        node = self.nodes[i]
        return (
            self.is_window(i)
            and node.weighted
            and max(node.stride) == 1
            and self.editable(i)
            and reads_every_unit(node.kernel, stride, node.dilation)
        )

    def stage_targets(self, start: int, stride: tuple[int, ...] | None = None) -> list[int]:
        """Weighted stride-1 windows downstream of ``start`` at its jump (its stage)
        that can take ``stride`` (default: ``start``'s own)."""
        stride = stride or self.nodes[start].stride
        seen: set[int] = set()
        out = []
        stack = list(self.consumers[start])
        while stack:
            c = stack.pop()
            if c in seen or not self.spatial[c] or not self.same_jump(c, start):
                continue  # the next downsampling (or global) ends the stage
            seen.add(c)
            if self.takes(c, stride):
                out.append(c)
            stack.extend(self.consumers[c])
        return sorted(out)

    def earlier_targets(self, v: int) -> list[int]:
        """Weighted stride-1 windows upstream of ``v`` at ``v``'s input jump (the stage ``v`` ends)
        that can take ``v``'s stride: where the stride of ``v`` can move earlier."""
        node = self.nodes[v]
        if not node.inputs:
            return []
        jump_in = node.inputs[0]
        seen: set[int] = set()
        out = []
        stack = list(node.inputs)
        while stack:
            c = stack.pop()
            if c in seen or not self.spatial[c] or not self.same_jump(c, jump_in):
                continue  # the previous downsampling (or the input's jump changing) starts the stage
            seen.add(c)
            if self.takes(c, node.stride):
                out.append(c)
            stack.extend(self.nodes[c].inputs)
        return sorted(out)

    def first_merge(self, v: int) -> int | None:
        """The merge that ``v``'s branch flows into (single-consumer path), if any."""
        cur = v
        for _ in range(len(self.nodes)):
            cons = self.consumers[cur]
            if len(cons) != 1:
                return None
            c = cons[0]
            kind = self.nodes[c].kind
            if kind == Kind.MERGE:
                return c
            if kind not in (Kind.WINDOW, Kind.IDENTITY, Kind.RESIZE, Kind.TRANSPOSED):
                return None
            cur = c
        return None

    def groups(self) -> list[tuple[int, list[int]]]:
        """Strided windows on parallel branches of one merge with the same input jump."""
        by_key: dict[tuple[int, tuple[float, ...]], list[int]] = {}
        for v in self.strided:
            m = self.first_merge(v)
            if m is None or not self.nodes[v].inputs:
                continue
            key = (m, tuple(self.jump[self.nodes[v].inputs[0]].tolist()))
            by_key.setdefault(key, []).append(v)
        return [(m, members) for (m, _), members in sorted(by_key.items()) if len(members) > 1]

    def jump_consistent(self, changes: Sequence[NodeChange]) -> bool:
        """Whether every merge still receives inputs of one jump after ``changes``.

        Tracks the ratio new jump / old jump per node (strides multiply along
        paths), from the first changed node on.  Only a cheap pre-filter: the
        core's ``aligned`` (jump *and* center) decides in the end.
        """
        if not changes:
            return True
        by_node = {c.index: c for c in changes}
        # ratio per node as (numerator, denominator) per axis, reduced; absent = unchanged
        ratio: dict[int, tuple[tuple[int, int], ...]] = {}
        merge = Kind.MERGE
        spatial = self.spatial
        for i in range(min(by_node), len(self.nodes)):
            if not spatial[i]:
                continue
            node = self.nodes[i]
            c = by_node.get(i)
            if c is None and not any(p in ratio for p in node.inputs):
                continue  # the common case: nothing changed upstream
            ins = [ratio.get(p) for p in node.inputs if spatial[p]]
            if node.kind == merge and any(r != ins[0] for r in ins[1:]):
                return False
            r = ins[0] if ins else None
            if c is not None:
                new = (1,) * self.graph.dims if c.remove else c.stride or node.stride
                old = r or ((1, 1),) * self.graph.dims
                r = tuple(_reduce(a * s_new, b * s_old) for (a, b), s_new, s_old in zip(old, new, node.stride))
                if all(a == b for a, b in r):
                    r = None
            if r is not None:
                ratio[i] = r
        return True


def is_identity_pool(node: Node) -> bool:
    """A pool with kernel 1 and stride 1 on every axis and no pads: the identity (never rated by refinement)."""
    return (
        node.kind == Kind.WINDOW
        and not node.weighted
        and all(k == 1 for k in node.kernel)
        and all(s == 1 for s in node.stride)
        and not any(node.pad_begin)
        and not any(node.pad_end)
    )


def without_identity_pools(graph: Graph) -> Graph:
    """``graph`` with its identity pools (:func:`is_identity_pool`) as IDENTITY nodes: the graph
    as refinement rates it.  Compare a refined model's analysis with a suggestion through it.

    >>> from rfa_fast import GraphBuilder
    >>> b = GraphBuilder("head")
    >>> x = b.pool(b.conv(b.input(), 3, c_in=3, c_out=8), 1, 1, name="avgpool", op="avgpool")
    >>> [n.kind.name for n in without_identity_pools(b.build()).nodes]
    ['INPUT', 'WINDOW', 'IDENTITY']
    """
    ids = [i for i, node in enumerate(graph.nodes) if is_identity_pool(node)]
    return apply_changes(graph, [NodeChange(i, remove=True) for i in ids]) if ids else graph


def reads_every_unit(kernel: Sequence[int], stride: Sequence[int], dilation: Sequence[int]) -> bool:
    """Whether a window with these fields reads every input unit: stride <= kernel on every axis
    (and no dilation where it strides).  A window whose stride exceeds its kernel skips units:
    it throws pixels away rather than refining, and no edit creates one.

    >>> reads_every_unit((3, 3), (2, 2), (1, 1)), reads_every_unit((1, 1), (2, 2), (1, 1))
    (True, False)
    """
    return all(s <= k and (s == 1 or d == 1) for k, s, d in zip(kernel, stride, dilation))


def _reduce(a: int, b: int) -> tuple[int, int]:
    g = gcd(a, b)
    return a // g, b // g


@dataclass(frozen=True)
class Head:
    """A flatten head: the GLOBAL node ``head`` reads the whole map of ``feeder``
    (Flatten -> Gemm, or a dense layer on a spatial input), so the feeder's
    feature map at the nominal size is part of the head's parameter count.
    ``refreeze``: the feeder is an average pool with kernel == stride and no
    pads, the frozen form of an adaptive average pool, re-frozen for the new
    map instead (``kernel = stride = n_in / n_out``)."""

    head: int
    feeder: int
    refreeze: bool


def fixed_heads(graph: Graph, spatial: Sequence[bool]) -> list[Head]:
    """The graph's flatten heads (see :class:`Head`)."""
    heads = []
    nodes = graph.nodes
    for i, node in enumerate(nodes):
        if node.kind != Kind.GLOBAL or len(node.inputs) != 1 or not spatial[node.inputs[0]]:
            continue
        p = node.inputs[0]
        flat = node.op.lower() in _FLATTEN_OPS
        if not flat and node.weighted and node.c_in:
            channels = _channels(graph, p)
            flat = bool(channels) and node.c_in != channels
        if not flat:
            continue
        f = nodes[p]
        refreeze = (
            f.kind == Kind.WINDOW
            and not f.weighted
            and f.op.lower() in _AVG_POOLS
            and f.kernel == f.stride
            and not any(f.pad_begin)
            and not any(f.pad_end)
            and f.pad_mode == PadMode.EXPLICIT
            and not f.ceil_mode
            and all(d == 1 for d in f.dilation)
        )
        heads.append(Head(i, p, refreeze))
    return heads


def _channels(graph: Graph, i: int) -> int:
    """Output channels of node ``i``: its own, else those of its first input (pools keep them)."""
    for _ in range(len(graph.nodes)):
        node = graph.nodes[i]
        if node.c_out:
            return node.c_out
        if node.kind not in (Kind.WINDOW, Kind.IDENTITY, Kind.RESIZE) or not node.inputs:
            return 0
        i = node.inputs[0]
    return 0


def _stride_text(s: tuple[int, ...]) -> str:
    return fmt_axes(s)


def atomic_edits(s: Structure) -> list[Atomic]:
    """Every single edit of the graph, primary edits (not moves) first.

    No edit leaves a window whose stride exceeds its kernel (:func:`reads_every_unit`):
    a stride moves only to a window that reads every unit with it.
    """
    dims = s.graph.dims
    one = (1,) * dims
    primary: list[Atomic] = []
    moves: list[Atomic] = []
    stem = s.strided[0] if s.strided else None
    for v in s.strided:
        node = s.nodes[v]
        st = _stride_text(node.stride)
        if v == stem:
            half = tuple(max(1, x // 2) for x in node.stride)
            primary.append(
                Atomic(f"stem {s.word(v)}: stride {st} -> {_stride_text(half)}", (NodeChange(v, stride=half),), True)
            )
            if half != one:
                primary.append(Atomic(f"stem {s.word(v)}: stride {st} -> 1", (NodeChange(v, stride=one),), True))
        else:
            primary.append(Atomic(f"{s.word(v)}: stride {st} -> 1", (NodeChange(v, stride=one),), True))
        removable = s.is_pool(v) and "folded_pad" not in node.attrs
        if removable:
            # a pool fed by a folded Pad cannot go: the Pad node would stay behind
            primary.append(Atomic(f"remove pool {node.name!r}", (NodeChange(v, remove=True),), True))
        for w in s.stage_targets(v):
            moves.append(
                Atomic(
                    f"move the stride {st} of {s.word(v)} to {s.word(w)}",
                    (NodeChange(v, stride=one), NodeChange(w, stride=node.stride)),
                    False,
                )
            )
        for w in s.earlier_targets(v):
            # earlier downsampling: fields grow faster, I_min rises (and MACs fall)
            moves.append(
                Atomic(
                    f"move the stride {st} of {s.word(v)} earlier, to {s.word(w)}",
                    (NodeChange(w, stride=node.stride), NodeChange(v, stride=one)),
                    False,
                )
            )
            if removable:
                moves.append(
                    Atomic(
                        f"move the stride {st} of pool {node.name!r} earlier, to {s.word(w)}, and remove the pool",
                        (NodeChange(w, stride=node.stride), NodeChange(v, remove=True)),
                        False,
                    )
                )
    for v in s.patchify:
        patch = _patchify(s, v, v == stem)
        if patch is not None:
            primary.append(patch)
    for m, members in s.groups():
        names = " and ".join(s.word(v) for v in members)
        where = f"(parallel branches of merge {s.nodes[m].name!r})"
        strides = {s.nodes[v].stride for v in members}
        st = (
            _stride_text(next(iter(strides)))
            if len(strides) == 1
            else "/".join(_stride_text(x) for x in sorted(strides))
        )
        unstride = tuple(NodeChange(v, stride=one) for v in members)
        primary.append(Atomic(f"{names}: stride {st} -> 1 {where}", unstride, True))
        pools = [v for v in members if s.is_pool(v) and "folded_pad" not in s.nodes[v].attrs]
        if pools:
            drop = tuple(NodeChange(v, remove=True) if v in pools else NodeChange(v, stride=one) for v in members)
            text = ", ".join(
                f"remove pool {s.nodes[v].name!r}" if v in pools else f"{s.word(v)}: stride {st} -> 1" for v in members
            )
            primary.append(Atomic(f"{text} {where}", drop, True))
        if len(strides) == 1:
            stride = next(iter(strides))
            for w in s.stage_targets(m, stride):
                moves.append(
                    Atomic(
                        f"move the stride {st} of {names} {where} to {s.word(w)}",
                        (*unstride, NodeChange(w, stride=stride)),
                        False,
                    )
                )
    return primary + moves


def _patchify(s: Structure, v: int, stem: bool) -> Atomic | None:
    """Kernel and stride halved together on a window whose kernel equals its stride
    (ConvNeXt's 4x4/4 stem becomes 2x2/2; an odd one becomes 1x1/1).  For a
    convolution the parameter count changes: the label says by how much."""
    node = s.nodes[v]
    new = tuple(k // 2 if k % 2 == 0 else 1 for k in node.kernel)
    label = (
        f"{'stem ' if stem else ''}{s.word(v)}: kernel {fmt_axes(node.kernel)} -> {fmt_axes(new)}, "
        f"stride {fmt_axes(node.stride)} -> {fmt_axes(new)}"
    )
    if node.weighted:
        per_out = node.c_in // max(node.groups, 1) if node.c_in else 0
        delta = per_out * node.c_out * (_prod(node.kernel) - _prod(new))
        label += f" ({delta:,} fewer weights)" if delta else " (fewer weights)"
    elif all(k == 1 for k in new):
        return None  # a 1x1/1 pool: what removing the pool does
    return Atomic(label, (NodeChange(v, stride=new, kernel=new),), True)


def _prod(xs: Sequence[int]) -> int:
    out = 1
    for x in xs:
        out *= x
    return out


def consistent_edits(s: Structure) -> tuple[list[Atomic], int]:
    """The graph's atomic edits that leave every merge with inputs of one jump, and how many
    were dropped because a merge would receive two jumps (the misaligned half of a group edit).

    Two consistent edits on disjoint nodes stay consistent together (the jump
    ratios multiply), so combinations need no second check.
    """
    atoms = atomic_edits(s)
    ok = [a for a in atoms if s.jump_consistent(a.changes)]
    return ok, len(atoms) - len(ok)


def apply_changes(graph: Graph, changes: Sequence[NodeChange]) -> Graph:
    """The edited graph (built with :meth:`Graph.replace_node`); a removed pool becomes an IDENTITY node."""
    g = graph
    one = (1,) * graph.dims
    zero = (0,) * graph.dims
    for c in changes:
        if c.remove:
            g = g.replace_node(
                c.index,
                op="Identity",
                kind=Kind.IDENTITY,
                kernel=one,
                stride=one,
                dilation=one,
                pad_begin=zero,
                pad_end=zero,
                pad_mode=PadMode.EXPLICIT,
                ceil_mode=False,
            )
        else:
            fields: dict[str, tuple[int, ...]] = {}
            if c.stride is not None:
                fields["stride"] = c.stride
            if c.kernel is not None:
                fields["kernel"] = c.kernel
            g = g.replace_node(c.index, **fields)
    return g


# -- the batch: B copies of the graph's arrays, edited row by row ------------------

_PER_NODE = ("op", "kernel", "stride", "dilation", "pad_begin", "pad_end", "pad_mode", "ceil_mode", "scale", "mode",
             "weighted", "c_in", "c_out", "groups")  # fmt: skip


def tile_arrays(base: dict[str, np.ndarray], copies: int) -> dict[str, np.ndarray]:
    """``copies`` copies of one packed graph, as one batch (what ``GraphBatch.from_graphs`` packs).

    Packing hundreds of graphs node by node in Python costs ~1 ms each; the
    candidates differ from the graph in a few rows, so the batch is the graph's
    arrays tiled, then edited in place (:func:`edit_rows`).
    """
    n = len(base["op"])
    e = len(base["pred"])
    out = {k: np.ascontiguousarray(np.tile(base[k], (copies,) + (1,) * (base[k].ndim - 1))) for k in _PER_NODE}
    out["graph_ptr"] = np.arange(copies + 1, dtype=np.int64) * n
    starts = (base["pred_ptr"][:-1][None, :] + (np.arange(copies, dtype=np.int64) * e)[:, None]).ravel()
    out["pred_ptr"] = np.ascontiguousarray(np.append(starts, copies * e).astype(np.int64))
    out["pred"] = np.ascontiguousarray(
        (base["pred"][None, :].astype(np.int64) + (np.arange(copies) * n)[:, None]).ravel().astype(np.int32)
    )
    if "output" in base:  # the graph's outputs, when they are not just its last node
        out["output"] = np.ascontiguousarray(np.tile(base["output"], copies))
    return out


def edit_rows(arrays: dict[str, np.ndarray], row: int, change: NodeChange) -> None:
    """Write one node change into the batch arrays (``row`` = global node index)."""
    if change.remove:
        arrays["op"][row] = Kind.IDENTITY
        for k in ("kernel", "stride", "dilation"):
            arrays[k][row] = 1
        arrays["pad_begin"][row] = 0
        arrays["pad_end"][row] = 0
        arrays["pad_mode"][row] = PadMode.EXPLICIT
        arrays["ceil_mode"][row] = 0
        return
    arrays["op"][row] = Kind.WINDOW  # edits change windows only (a re-frozen identity pool rates again)
    if change.stride is not None:
        arrays["stride"][row] = change.stride
    if change.kernel is not None:
        arrays["kernel"][row] = change.kernel
