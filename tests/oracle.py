"""A brute-force oracle for receptive fields: explicit sets of input positions, no recursion formula.

The compiled core and ``rfa_fast/reference.py`` both carry the (base, F, G)
model of docs/semantics.md: a field grows by ``(k'-1)·J`` per window, rounded
to a grid after upsampling, merges pick one triple per input.  A bug in that
model (or in a size rule) written the same way in both passes every test that
compares them.  This module shares none of it.  It asks, for every unit of
every node, *which input pixels does this unit read?*, answers by walking the
network's index maps one unit at a time, and reads every quantity off those
sets:

- **Index maps** (one spatial axis, on an unbounded input so that no border
  clips a field).  A window's output unit ``o`` reads input units
  ``o·s - pb + d·t`` for ``t = 0..k-1``; a transposed convolution's output
  unit ``o`` reads the input units ``i`` it was scattered from,
  ``i·s + d·t = o + pb``; a nearest resize by ``f`` reads ``floor(o / f)``
  (asymmetric); a linear (cubic) resize samples at ``x = (o + 1/2)/f - 1/2``
  (half-pixel) and reads the 2 (4) units around ``x``, or only ``x`` when it
  is a whole unit (the other weights vanish); merges and identities read
  unit ``o`` of each input.  ``pb`` is the node's begin pad; for SAME pads it
  is the pad ONNX chooses for an input divisible by the stride, which
  docs/semantics.md fixes as the convention for centers.
- **Footprints.**  A *path* is a sequence of nodes from an INPUT to the node
  that passes no GLOBAL node.  The footprint of unit ``o`` along a path is
  the set of input pixels it reads through that path: the union of the
  footprints of the units it reads.  Every index map above is periodic (a
  window's unit ``o + 1`` reads ``s`` units further; a resize's unit ``o + p``
  reads ``q`` further for ``f = p/q``; a transposed conv's unit ``o + s`` one
  further), so along a path the footprint of unit ``o + N`` is that of ``o``
  shifted by a whole number of pixels, for ``N`` the product of the path's
  resize numerators and transposed strides.  The oracle checks this, and
  looks at the units ``0..N-1`` only: they are every phase there is.
- **Per path**: the *field* is the widest footprint (last pixel - first + 1)
  over those units (units that read nothing, between the real units of a
  transposed conv, have no field); the *jump* is the shift of the footprints
  from unit ``o`` to ``o + N``, divided by ``N``; the *center* is the mean,
  over the units with a footprint, of its midpoint minus ``o·jump``.
- **Per node**: ``rf_max`` is the largest field of its paths and ``rf_min``
  the smallest (docs/semantics.md: "the minimum over paths of that
  maximum"); jump and center are those of its *first* path (the first
  spatial input at every merge, as the contract says).  Connected, global
  and global context are read off the paths too: a node is global when it
  is connected and no path reaches it.
- **Feature maps** by explicit index ranges: the output units of a window
  are the window positions ``0, s, 2s, ...`` that lie inside the padded input
  (in ceil mode one more when the last of them leaves padded positions
  unread, dropped again when it would start in the end padding); a transposed
  convolution's are the scatter positions ``i·s + d·t`` of every input unit,
  cropped by the pads; a resize's the units ``[o, o+1)`` inside the scaled
  extent; a merge's the union of its inputs' ranges.
- **Statuses and I_min** are the definitions of docs/semantics.md applied to
  those numbers; I_min by scanning the resolutions one by one.

Axes are separable (every map reads a product of per-axis index sets), so the
footprint of a 2-D unit is the product of its per-axis footprints and each
axis is enumerated on its own; the statuses combine the axes as the
contract says ("on every axis").

Where docs/semantics.md ("Exactness") says the recursion is only an upper
bound (a strided window after an upsampling, odd linear factors, ...), the
oracle gives the true field and ``tests/test_oracle.py`` checks the bound.

>>> from rfa_fast import GraphBuilder
>>> b = GraphBuilder("chain", dims=1)
>>> x = b.conv(b.input(), 3, 2)
>>> x = b.conv(x, 3)
>>> o = Oracle(b.build())
>>> [o.rf_max(v, 0) for v in range(3)], [o.jump(v, 0) for v in range(3)]
([1, 3, 7], [Fraction(1, 1), Fraction(2, 1), Fraction(2, 1)])
>>> o.fmaps(0, 9)  # 9 -> floor((9 - 3)/2) + 1 = 4 -> 4 - 2 = 2, by counting windows
[9, 4, 2]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property

from rfa_fast.graph import Graph, Node
from rfa_fast.kinds import Kind, PadMode, ResizeMode, Status

WINDOWED = (Kind.WINDOW, Kind.TRANSPOSED)
SAME = (PadMode.SAME_UPPER, PadMode.SAME_LOWER)


def scale_of(node: Node, axis: int) -> Fraction:
    """The resize factor as the exact fraction p/q (q <= 4096) the contract reads a float scale as."""
    return Fraction(node.scale[axis]).limit_denominator(4096)


def extent(node: Node, axis: int) -> int:
    """How many input positions one window spans, counted: the taps are 0, d, 2d, ..., d(k-1)."""
    taps = [node.dilation[axis] * t for t in range(node.kernel[axis])]
    return taps[-1] - taps[0] + 1


def begin_pad(node: Node, axis: int) -> int:
    """The pad before the input: the node's own, 0 for VALID, and for SAME the one ONNX picks for an
    input of two strides (``total = max(k' - s, 0)``, the smaller half first for SAME_UPPER)."""
    if node.pad_mode == PadMode.EXPLICIT:
        return node.pad_begin[axis]
    if node.pad_mode == PadMode.VALID:
        return 0
    s, n = node.stride[axis], 2 * node.stride[axis]
    out = -(-n // s)
    total = max((out - 1) * s + extent(node, axis) - n, 0)
    return total // 2 if node.pad_mode == PadMode.SAME_UPPER else total - total // 2


def sources(node: Node, axis: int, o: int) -> list[int]:
    """The units of the node's input that its output unit ``o`` reads (unbounded input)."""
    k, s, d = node.kernel[axis], node.stride[axis], node.dilation[axis]
    if node.kind == Kind.WINDOW:
        return [o * s - begin_pad(node, axis) + d * t for t in range(k)]
    if node.kind == Kind.TRANSPOSED:
        full = o + begin_pad(node, axis)  # position in the scatter before cropping
        return sorted({(full - d * t) // s for t in range(k) if (full - d * t) % s == 0})
    if node.kind == Kind.RESIZE:
        f = scale_of(node, axis)
        if f == 1:
            return [o]
        if node.mode == ResizeMode.NEAREST:
            return [math.floor(o / f)]
        x = (o + Fraction(1, 2)) / f - Fraction(1, 2)
        lo = math.floor(x)
        if x == lo:
            return [lo]
        return [lo, lo + 1] if node.mode == ResizeMode.LINEAR else [lo - 1, lo, lo + 1, lo + 2]
    return [o]  # MERGE, IDENTITY: the same unit of each input


def period(graph: Graph, path: Sequence[int], axis: int) -> int:
    """A number N of units after which the path's footprints repeat, shifted (resize numerators, transposed strides)."""
    n = 1
    for v in path:
        node = graph.nodes[v]
        if node.kind == Kind.TRANSPOSED:
            n *= node.stride[axis]
        elif node.kind == Kind.RESIZE:
            n *= scale_of(node, axis).numerator
    return n


@dataclass(frozen=True)
class PathField:
    """What the footprints of one path say on one axis."""

    path: tuple[int, ...]
    rf: int | None  # the widest footprint; None when no unit reads anything
    jump: Fraction | None  # footprint shift per unit; None when no unit reads anything
    center: Fraction | None  # mean midpoint of the footprints minus o * jump


class Oracle:
    """Brute-force fields, feature maps and statuses of one small graph (see the module docstring)."""

    def __init__(self, graph: Graph, *, ignore_1x1: bool = False, scan: int = 96) -> None:
        self.graph = graph
        self.ignore_1x1 = ignore_1x1
        self.scan = scan
        self._fp: dict[tuple[tuple[int, ...], int, int], frozenset[int]] = {}
        self._fields: dict[tuple[tuple[int, ...], int], PathField] = {}
        self._fmaps: dict[tuple[int, int], list[int]] = {}

    # -- structure -------------------------------------------------------------

    @cached_property
    def connected(self) -> list[bool]:
        """Some input path leads here (INPUT is connected; any other node when one of its inputs is)."""
        out: list[bool] = []
        for node in self.graph.nodes:
            out.append(node.kind == Kind.INPUT or any(out[p] for p in node.inputs))
        return out

    @cached_property
    def paths(self) -> list[list[tuple[int, ...]]]:
        """Every path from an INPUT to each node that passes no GLOBAL node, first input first."""
        out: list[list[tuple[int, ...]]] = []
        for v, node in enumerate(self.graph.nodes):
            if node.kind == Kind.INPUT:
                out.append([(v,)])
            elif node.kind == Kind.GLOBAL:
                out.append([])
            else:
                out.append([p + (v,) for u in node.inputs for p in out[u]])
        return out

    @cached_property
    def downstream(self) -> list[frozenset[int]]:
        """Every node reachable from each node along edges, itself included (explicit sets, built forwards)."""
        consumers: list[list[int]] = [[] for _ in self.graph.nodes]
        for v, node in enumerate(self.graph.nodes):
            for p in node.inputs:
                consumers[p].append(v)
        out: list[frozenset[int]] = [frozenset()] * len(self.graph.nodes)
        for v in reversed(range(len(self.graph.nodes))):
            out[v] = frozenset({v}).union(*(out[c] for c in consumers[v]))
        return out

    @cached_property
    def dead(self) -> list[bool]:
        """No graph output (``graph.outputs``) among the nodes reachable from the node."""
        outputs = frozenset(self.graph.outputs)
        return [not (reach & outputs) for reach in self.downstream]

    def spatial(self, v: int) -> bool:
        return bool(self.paths[v])

    def is_global(self, v: int) -> bool:
        return self.connected[v] and not self.paths[v]

    @cached_property
    def global_context(self) -> list[bool]:
        """A merge with a global and a spatial input, and everything downstream of one."""
        out: list[bool] = []
        for v, node in enumerate(self.graph.nodes):
            ins = [u for u in node.inputs if self.connected[u]]
            here = node.kind == Kind.MERGE and any(self.is_global(u) for u in ins) and any(self.spatial(u) for u in ins)
            out.append(self.connected[v] and (here or any(out[u] for u in ins)))
        return out

    # -- footprints --------------------------------------------------------------

    def footprint(self, path: tuple[int, ...], axis: int, o: int) -> frozenset[int]:
        """The input pixels unit ``o`` of the path's last node reads through the path."""
        key = (path, axis, o)
        got = self._fp.get(key)
        if got is None:
            if len(path) == 1:
                got = frozenset((o,))
            else:
                node = self.graph.nodes[path[-1]]
                got = frozenset().union(*(self.footprint(path[:-1], axis, u) for u in sources(node, axis, o)))
            self._fp[key] = got
        return got

    def path_field(self, path: tuple[int, ...], axis: int) -> PathField:
        key = (path, axis)
        if key not in self._fields:
            n = period(self.graph, path, axis)
            spans, shifts, mids = [], set(), []
            for o in range(n):
                here, later = self.footprint(path, axis, o), self.footprint(path, axis, o + n)
                if not here:
                    assert not later, f"path {path}: unit {o} reads nothing, unit {o + n} does"
                    continue
                shift = min(later) - min(here)
                assert later == frozenset(x + shift for x in here), f"path {path}: footprints are not periodic"
                shifts.add(shift)
                spans.append(max(here) - min(here) + 1)
                mids.append((o, Fraction(min(here) + max(here), 2)))
            assert len(shifts) <= 1, f"path {path}: units of one period shift by {shifts}"
            if not spans:
                self._fields[key] = PathField(path, None, None, None)
            else:
                jump = Fraction(shifts.pop(), n)
                center = sum((m - o * jump for o, m in mids), Fraction(0)) / len(mids)
                self._fields[key] = PathField(path, max(spans), jump, center)
        return self._fields[key]

    def fields(self, v: int, axis: int) -> list[PathField]:
        return [self.path_field(p, axis) for p in self.paths[v]]

    def rf_min(self, v: int, axis: int) -> int | None:
        """The smallest, over the node's paths, of a path's widest footprint (None: no path reads anything)."""
        rfs = [f.rf for f in self.fields(v, axis) if f.rf is not None]
        return min(rfs) if rfs else None

    def rf_max(self, v: int, axis: int) -> int | None:
        """The widest footprint of any unit along any path."""
        rfs = [f.rf for f in self.fields(v, axis) if f.rf is not None]
        return max(rfs) if rfs else None

    def jump(self, v: int, axis: int) -> Fraction | None:
        """The jump of the node's first path."""
        return self.path_field(self.paths[v][0], axis).jump if self.paths[v] else None

    def center(self, v: int, axis: int) -> Fraction | None:
        """The center of the node's first path."""
        return self.path_field(self.paths[v][0], axis).center if self.paths[v] else None

    def aligned(self, v: int) -> bool:
        """A merge is aligned when its spatial inputs' (first) paths have the same jump and center on every axis."""
        node = self.graph.nodes[v]
        ins = [u for u in node.inputs if self.spatial(u)]
        if node.kind != Kind.MERGE or not self.spatial(v):
            return True
        dims = self.graph.dims
        keys = {tuple((self.jump(u, a), self.center(u, a)) for a in range(dims)) for u in ins}
        return len(keys) == 1

    # -- feature maps ------------------------------------------------------------

    def window_units(self, node: Node, axis: int, n: int) -> int:
        """Count the window positions 0, s, 2s, ... of a WINDOW over an input of n units."""
        if n == 0:
            return 0
        s = node.stride[axis]
        if node.pad_mode in SAME:  # one window at every s-th input unit
            return sum(1 for start in range(0, n) if start % s == 0)
        pb, pe = (0, 0) if node.pad_mode == PadMode.VALID else (node.pad_begin[axis], node.pad_end[axis])
        padded = list(range(-pb, n + pe))  # input coordinates of the padded input
        span = extent(node, axis)
        if len(padded) < span:
            return 0
        ceil = node.ceil_mode and node.pad_mode != PadMode.VALID
        starts: list[int] = []  # padded index of each window's first tap
        j = 0
        while True:
            if j + span <= len(padded):
                starts.append(j)  # wholly inside the padded input
            elif ceil and starts and starts[-1] + span < len(padded):
                starts.append(j)  # ceil mode: one more window, over what the last one left out
            else:
                break
            j += s
        if ceil and starts[-1] - pb >= n:
            starts.pop()  # it would start in the end padding: dropped (PyTorch, ONNX)
        return len(starts)

    def transposed_units(self, node: Node, axis: int, n: int) -> int:
        """Scatter every input unit to ``i·s + d·t``; the output spans the scatter, cropped by the pads."""
        if n == 0:
            return 0
        s = node.stride[axis]
        if node.pad_mode in SAME:
            return n * s  # ONNX: SAME makes the output exactly s times the input
        hits = {i * s + node.dilation[axis] * t for i in range(n) for t in range(node.kernel[axis])}
        pb, pe = (0, 0) if node.pad_mode == PadMode.VALID else (node.pad_begin[axis], node.pad_end[axis])
        return max(0, len(range(pb, max(hits) + 1 - pe)))

    def fmaps(self, axis: int, n: int) -> list[int]:
        """Every node's map on one axis for an input of n units on that axis."""
        key = (axis, n)
        if key not in self._fmaps:
            out: list[int] = []
            for v, node in enumerate(self.graph.nodes):
                if not self.connected[v]:
                    out.append(0)
                elif self.is_global(v):
                    out.append(1)
                elif node.kind == Kind.INPUT:
                    out.append(n)
                elif node.kind == Kind.MERGE:
                    out.append(max(out[u] for u in node.inputs if self.spatial(u)))
                else:
                    m = out[node.inputs[0]]
                    if node.kind == Kind.WINDOW:
                        out.append(self.window_units(node, axis, m))
                    elif node.kind == Kind.TRANSPOSED:
                        out.append(self.transposed_units(node, axis, m))
                    elif node.kind == Kind.RESIZE:
                        f = scale_of(node, axis)
                        out.append(sum(1 for o in range(m * f.numerator + 1) if o + 1 <= m * f))
                    else:
                        out.append(m)
            self._fmaps[key] = out
        return self._fmaps[key]

    # -- statuses ------------------------------------------------------------------

    def rated(self, v: int) -> bool:
        node = self.graph.nodes[v]
        return node.kind in WINDOWED and self.spatial(v) and not self.skipped(v) and not self.dead[v]

    def unproductive(self, v: int, res: Sequence[int], axes: Sequence[int]) -> bool:
        """Rule (a) on every axis of ``axes``, or rule (b) on every axis of ``axes``."""
        if not self.rated(v):
            return False
        p = self.graph.nodes[v].inputs[0]
        a = all(self._rf(p, x) >= res[x] and self._rf(v, x) > res[x] for x in axes)
        b = all(self.fmaps(x, res[x])[p] <= extent(self.graph.nodes[v], x) for x in axes)
        return a or b

    def _rf(self, v: int, axis: int) -> int:
        r = self.rf_min(v, axis)
        if r is None:
            raise ValueError(f"node {v} reads no input pixel on axis {axis}: it has no field")
        return r

    def skipped(self, u: int) -> bool:
        """A 1x1 window that ``ignore_1x1`` takes out of the rules."""
        node = self.graph.nodes[u]
        return self.ignore_1x1 and node.kind in WINDOWED and all(extent(node, a) == 1 for a in range(self.graph.dims))

    def nearest_windowed(self, v: int) -> set[int]:
        """The closest WINDOW/TRANSPOSED nodes above v, walking up through merges, identities, resizes
        and skipped 1x1 windows."""
        found, todo, seen = set(), list(self.graph.nodes[v].inputs), set()
        while todo:
            u = todo.pop()
            if u in seen:
                continue
            seen.add(u)
            kind = self.graph.nodes[u].kind
            if kind in (Kind.MERGE, Kind.IDENTITY, Kind.RESIZE) or self.skipped(u):
                todo.extend(self.graph.nodes[u].inputs)
            elif kind in WINDOWED:
                found.add(u)
        return found

    def status(self, res: Sequence[int]) -> list[int]:
        """Status bits of every node at one resolution (CRITICAL, PARTIALLY_CRITICAL, UNPRODUCTIVE, BORDER;
        DEAD alone)."""
        axes = range(self.graph.dims)
        bad = [self.unproductive(v, res, axes) for v in range(len(self.graph.nodes))]
        out = []
        for v in range(len(self.graph.nodes)):
            if self.dead[v]:
                out.append(int(Status.DEAD))
                continue
            bits = 0
            if self.spatial(v):
                over = [self._rf(v, a) > res[a] for a in axes]
                bits |= Status.CRITICAL if all(over) else Status.PARTIALLY_CRITICAL if any(over) else 0
            if bad[v]:
                bits |= Status.UNPRODUCTIVE
                if not any(bad[u] for u in self.nearest_windowed(v)):
                    bits |= Status.BORDER
            out.append(int(bits))
        return out

    def free_resolutions(self, axes: Sequence[int]) -> list[bool]:
        """For I = 1..scan: is no node unproductive at (I, ..., I), judged on ``axes``?"""
        rated = [v for v in range(len(self.graph.nodes)) if self.rated(v)]
        dims = self.graph.dims
        return [not any(self.unproductive(v, [i] * dims, axes) for v in rated) for i in range(1, self.scan + 1)]

    def i_min(self, axes: Sequence[int] | None = None) -> int | None:
        """The smallest free square resolution (None: none up to ``scan``); NaN rules for disconnected graphs
        are the caller's."""
        free = self.free_resolutions(range(self.graph.dims) if axes is None else axes)
        return free.index(True) + 1 if True in free else None

    # -- cost --------------------------------------------------------------------

    def params(self, v: int) -> int:
        node = self.graph.nodes[v]
        if not (self.connected[v] and node.weighted):
            return 0
        k = math.prod(node.kernel)
        if node.kind == Kind.WINDOW:
            return node.c_out * (node.c_in // node.groups) * k
        if node.kind == Kind.TRANSPOSED:
            return node.c_in * (node.c_out // node.groups) * k
        return node.c_in * node.c_out if node.kind == Kind.GLOBAL else 0

    def macs(self, v: int, res: Sequence[int]) -> int:
        """One multiply-accumulate per weight and per output unit (a transposed conv: per input unit)."""
        node = self.graph.nodes[v]
        if node.kind == Kind.GLOBAL:
            return self.params(v)
        if node.kind not in WINDOWED:
            return 0
        at = v if node.kind == Kind.WINDOW else node.inputs[0]
        return self.params(v) * math.prod(self.fmaps(a, res[a])[at] for a in range(self.graph.dims))
