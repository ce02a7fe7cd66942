"""The plain-Python oracle: the rules of ``docs/semantics.md``, one small function per rule.

This module is what the compiled core is tested against (``tests/test_property.py``).
It is written to be read next to the contract, not to be fast: exact rational
arithmetic with :class:`fractions.Fraction`, plain loops, no numpy until the
results are packed.  Every function's docstring names the rule it implements.

:func:`run_graph` returns exactly the dict that ``_core.analyze_batch(...,
per_node=True)`` returns for a batch of one graph; :func:`run_batch` the dict
for several graphs.

>>> from rfa_fast.graph import GraphBuilder
>>> b = GraphBuilder("chain")
>>> x = b.input()
>>> x = b.conv(x, 3, pad=1)
>>> x = b.conv(x, 3, pad=1)
>>> out = run_graph(b.build(), [[4, 4]])
>>> out["rf_max"][-1].tolist(), out["i_min"].tolist()
([5.0, 5.0], [4.0])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache, cached_property

import numpy as np

from .errors import GraphError, ResolutionError
from .graph import Graph, Node
from .kinds import Kind, PadMode, ResizeMode, Status

MAX_RESOLUTION = 2**30
"""i_min is ``inf`` when no resolution up to this one is free of unproductive layers."""

MAX_SCALE_DENOMINATOR = 4096
"""Resize scales are read as fractions p/q with q at most this ("Scales are turned into exact fractions")."""

SCALE_TOLERANCE = Fraction(1, 10**9)
"""A scale whose relative distance to every such fraction is above this is an error."""

WINDOWED = (Kind.WINDOW, Kind.TRANSPOSED)
"""The kinds whose status is checked (and that stop the walk to the nearest windowed ancestors)."""

WALKED_THROUGH = (Kind.MERGE, Kind.IDENTITY, Kind.RESIZE)
"""The kinds the border rule looks through when it searches the nearest windowed ancestors."""

INTERPOLATION_EXTRA = {ResizeMode.NEAREST: 0, ResizeMode.LINEAR: 1, ResizeMode.CUBIC: 3}
"""How many input jumps interpolation adds to the field: nearest reads 1 unit, linear 2, cubic 4."""


# ---------------------------------------------------------------------------
# Exact helpers


def ceil_div(a: Fraction | int, b: Fraction | int) -> int:
    """``ceil(a / b)`` for exact rationals (``b > 0``)."""
    return -((-a) // b)


def rational_lcm(a: Fraction, b: Fraction) -> Fraction:
    """The smallest positive rational that is a whole multiple of both ``a`` and ``b`` (both > 0)."""
    return Fraction(math.lcm(a.numerator, b.numerator), math.gcd(a.denominator, b.denominator))


def scale_fraction(scale: float, where: str) -> Fraction:
    """The exact factor ``p/q`` (``q <= 4096``) of a RESIZE scale ("Scales are turned into exact fractions").

    Two distinct fractions with denominators at most 4096 are at least
    ``1/4096**2`` (about 6e-8) apart, so a scale of a realistic size (below
    about 30) within a relative 1e-9 of one of them has exactly one
    candidate, which is also the closest: ``limit_denominator`` finds it.
    """
    f = _closest_fraction(float(scale))
    if f is None:
        raise GraphError(
            f"{where}: resize scale {scale!r} is not > 0 and within a relative 1e-9 of a fraction p/q "
            f"with q <= {MAX_SCALE_DENOMINATOR}"
        )
    return f


@cache
def _closest_fraction(scale: float) -> Fraction | None:
    """The fraction of :func:`scale_fraction`, or None when there is none (cached: graphs reuse a few scales)."""
    if not math.isfinite(scale) or scale <= 0:
        return None
    exact = Fraction(scale)
    f = exact.limit_denominator(MAX_SCALE_DENOMINATOR)
    return f if f > 0 and abs(exact - f) <= SCALE_TOLERANCE * exact else None


def kernel_extent(node: Node, axis: int) -> int:
    """``k' = d(k-1)+1``: the span of the dilated kernel (WINDOW and TRANSPOSED rules)."""
    return node.dilation[axis] * (node.kernel[axis] - 1) + 1


def center_pad_begin(node: Node, axis: int) -> int:
    """The begin pad used for the *center* ("SAME padding depends on the input size").

    EXPLICIT: the node's pad.  VALID: 0.  SAME_*: the pads for an input
    divisible by the stride, total ``max(k' - s, 0)``, the smaller half first
    for SAME_UPPER and the larger half first for SAME_LOWER.
    """
    if node.pad_mode == PadMode.EXPLICIT:
        return node.pad_begin[axis]
    if node.pad_mode == PadMode.VALID:
        return 0
    total = max(kernel_extent(node, axis) - node.stride[axis], 0)
    return total // 2 if node.pad_mode == PadMode.SAME_UPPER else total - total // 2


# ---------------------------------------------------------------------------
# Resolution-independent fields


@dataclass(frozen=True)
class Triple:
    """A field size as ``(base, F, G)``: ``rf = base + G * max(0, ceil(F / G))`` ("Receptive field, jump, center").

    ``G`` is the grid of coarse units an upsampling repeats; ``F`` the growth
    since that grid was set, rounded up to the grid when read.
    """

    base: Fraction
    F: Fraction
    G: Fraction

    @cached_property
    def rf(self) -> Fraction:
        """The field size this triple stands for."""
        return self.base + self.G * max(0, ceil_div(self.F, self.G))

    def grown(self, extra: Fraction) -> Triple:
        """``F += extra``: a window widens the field by whole input jumps (WINDOW rule)."""
        return Triple(self.base, self.F + extra, self.G)

    def regridded(self, jump_in: Fraction, offset: Fraction) -> Triple:
        """Start the grid of an upsampling whose input jump is ``jump_in``, then ``F += offset`` ("new grid").

        - ``J_in`` a multiple of ``G``: commit (``base = rf, F = 0``), ``G = J_in``;
        - ``G`` a multiple of ``J_in``: keep ``base`` and ``G`` (the coarse grid
          already rounds the new fine units), ``F`` rounded up to a multiple of
          ``J_in`` (a no-op unless a strided window followed an upsampling);
        - otherwise: commit, ``G = lcm(G, J_in)`` (an upper bound).
        """
        if (jump_in / self.G).denominator == 1:
            start = Triple(self.rf, Fraction(0), jump_in)
        elif (self.G / jump_in).denominator == 1:
            start = Triple(self.base, jump_in * ceil_div(self.F, jump_in), self.G)
        else:
            start = Triple(self.rf, Fraction(0), rational_lcm(self.G, jump_in))
        return Triple(start.base, start.F + offset, start.G)


INPUT_TRIPLE = Triple(Fraction(1), Fraction(0), Fraction(1))


@dataclass(frozen=True)
class AxisField:
    """One axis of a connected, non-global node: jump ``J``, center ``C`` and the min and max triples."""

    J: Fraction
    C: Fraction
    lo: Triple  # gives rf_min
    hi: Triple  # gives rf_max


@dataclass(frozen=True)
class NodeField:
    """What propagation knows of a node before any resolution is chosen.

    ``axes`` is ``None`` for disconnected and for global nodes (their fields
    are NaN, resp. inf, by definition).
    """

    connected: bool
    is_global: bool = False
    global_context: bool = False
    aligned: bool = True
    axes: tuple[AxisField, ...] | None = None

    @property
    def spatial(self) -> bool:
        """Connected and not global: the node has finite fields."""
        return self.axes is not None

    def rf_min(self, axis: int) -> Fraction:
        assert self.axes is not None
        return self.axes[axis].lo.rf

    def rf_max(self, axis: int) -> Fraction:
        assert self.axes is not None
        return self.axes[axis].hi.rf


DISCONNECTED = NodeField(connected=False)


def input_axis() -> AxisField:
    """INPUT: ``J = 1, C = 0, base = 1, F = 0, G = 1``."""
    return AxisField(Fraction(1), Fraction(0), INPUT_TRIPLE, INPUT_TRIPLE)


def window_axis(x: AxisField, node: Node, axis: int) -> AxisField:
    """WINDOW: ``F += (k'-1)·J_in; J = J_in·s; C = C_in + ((k'-1)/2 - pb)·J_in``."""
    k_ext = kernel_extent(node, axis)
    extra = (k_ext - 1) * x.J
    center = x.C + (Fraction(k_ext - 1, 2) - center_pad_begin(node, axis)) * x.J
    return AxisField(x.J * node.stride[axis], center, x.lo.grown(extra), x.hi.grown(extra))


def transposed_axis(x: AxisField, node: Node, axis: int) -> AxisField:
    """TRANSPOSED: new grid; ``J = J_in/s; F += (k'-s)·J; C = C_in + (pb - (k'-1)/2)·J_in/s``.

    When it commits, this reads back as ``rf = rf_in + (ceil(k'/s) - 1)·J_in``:
    a window of k' fine units holds at most ``ceil(k'/s)`` of the s-spaced
    real units.
    """
    k_ext, s = kernel_extent(node, axis), node.stride[axis]
    jump = x.J / s
    offset = (k_ext - s) * jump
    center = x.C + (center_pad_begin(node, axis) - Fraction(k_ext - 1, 2)) * jump
    return AxisField(jump, center, x.lo.regridded(x.J, offset), x.hi.regridded(x.J, offset))


def resize_axis(x: AxisField, node: Node, axis: int, f: Fraction) -> AxisField:
    """RESIZE by ``f``: identity for ``f = 1``; else new grid, ``J = J_in/f``.

    Interpolation reads neighbours: nearest ``F += 0``, linear ``F += J_in``,
    cubic ``F += 3·J_in``.  Center: nearest samples asymmetrically
    (``C = C_in``), linear and cubic at half pixels
    (``C = C_in + (1/(2f) - 1/2)·J_in``).
    """
    if f == 1:
        return x
    offset = INTERPOLATION_EXTRA[ResizeMode(node.mode)] * x.J
    if node.mode == ResizeMode.NEAREST:
        center = x.C
    else:
        center = x.C + (1 / (2 * f) - Fraction(1, 2)) * x.J
    return AxisField(x.J / f, center, x.lo.regridded(x.J, offset), x.hi.regridded(x.J, offset))


def merge_axis(xs: Sequence[AxisField]) -> tuple[AxisField, bool]:
    """MERGE over its spatial inputs: the min triple of the smallest rf_min, the max triple of the largest rf_max.

    Ties: for rf_min the smaller ``base + F`` (the field before it is rounded
    up to the grid), for rf_max the larger, then the first input (Python's
    ``min``/``max`` return the first of equal keys).  ``J`` and ``C`` are the
    first input's; the axis is aligned when all inputs have the same ``J`` and
    ``C``.
    """
    lo = min(xs, key=lambda x: (x.lo.rf, x.lo.base + x.lo.F)).lo
    hi = max(xs, key=lambda x: (x.hi.rf, x.hi.base + x.hi.F)).hi
    aligned = all(x.J == xs[0].J and x.C == xs[0].C for x in xs)
    return AxisField(xs[0].J, xs[0].C, lo, hi), aligned


def check_node(graph: Graph, v: int) -> None:
    """Reject what the core rejects: bad input lists, non-positive kernel, stride, dilation or groups, bad scales."""
    node = graph.nodes[v]
    where = f"graph {graph.name!r}, node {v} ({node.name!r})"
    if any(not 0 <= p < v for p in node.inputs):
        raise GraphError(f"{where}: inputs {list(node.inputs)} must be earlier nodes", node_index=v)
    n_in = len(node.inputs)
    if node.kind == Kind.INPUT and n_in != 0:
        raise GraphError(f"{where}: an INPUT takes no inputs", node_index=v)
    if node.kind in (Kind.WINDOW, Kind.TRANSPOSED, Kind.RESIZE, Kind.IDENTITY) and n_in != 1:
        raise GraphError(f"{where}: a {node.kind.name} node takes exactly one input, got {n_in}", node_index=v)
    if node.kind == Kind.GLOBAL and n_in == 0:
        raise GraphError(f"{where}: a GLOBAL node needs at least one input", node_index=v)
    for what in ("kernel", "stride", "dilation", "pad_begin", "pad_end", "scale"):
        if len(getattr(node, what)) != graph.dims:
            raise GraphError(
                f"{where}: {what} has {len(getattr(node, what))} values, the graph {graph.dims} axes", node_index=v
            )
    if node.kind in WINDOWED and min(node.kernel + node.stride + node.dilation) < 1:
        raise GraphError(f"{where}: kernel, stride and dilation must be >= 1", node_index=v)
    if node.groups < 1:
        raise GraphError(f"{where}: groups must be >= 1, got {node.groups}", node_index=v)
    if node.kind == Kind.RESIZE:
        for scale in node.scale:
            scale_fraction(scale, where)


def node_field(graph: Graph, v: int, fields: Sequence[NodeField]) -> NodeField:
    """Connected, global, global context and the per-axis fields of node ``v`` ("Connected, global, global context").

    - INPUT is connected; every other node is connected when one of its
      inputs is (disconnected inputs are ignored).
    - A node is global when it is a GLOBAL node or all its connected inputs
      are global.
    - A MERGE with both global and spatial connected inputs has
      ``global_context`` and takes its fields from the spatial inputs; the
      flag is inherited from any connected input.
    """
    node = graph.nodes[v]
    dims = graph.dims
    if node.kind == Kind.INPUT:
        return NodeField(connected=True, axes=tuple(input_axis() for _ in range(dims)))
    inputs = [fields[p] for p in node.inputs if fields[p].connected]
    if not inputs:
        return DISCONNECTED
    spatial = [x for x in inputs if x.spatial]
    has_global = len(spatial) < len(inputs)
    context = any(x.global_context for x in inputs) or (node.kind == Kind.MERGE and has_global and bool(spatial))
    if node.kind == Kind.GLOBAL or not spatial:
        return NodeField(connected=True, is_global=True, global_context=context)
    x = spatial[0].axes
    assert x is not None
    if node.kind == Kind.WINDOW:
        axes = tuple(window_axis(x[a], node, a) for a in range(dims))
    elif node.kind == Kind.TRANSPOSED:
        axes = tuple(transposed_axis(x[a], node, a) for a in range(dims))
    elif node.kind == Kind.RESIZE:
        where = f"graph {graph.name!r}, node {v} ({node.name!r})"
        axes = tuple(resize_axis(x[a], node, a, scale_fraction(node.scale[a], where)) for a in range(dims))
    elif node.kind == Kind.MERGE:
        merged = [merge_axis([s.axes[a] for s in spatial]) for a in range(dims)]  # type: ignore[index]
        axes = tuple(m for m, _ in merged)
        return NodeField(connected=True, global_context=context, aligned=all(ok for _, ok in merged), axes=axes)
    else:  # IDENTITY copies
        axes = x
    return NodeField(connected=True, global_context=context, axes=axes)


def propagate(graph: Graph) -> list[NodeField]:
    """Every node's resolution-independent fields, in topological order (one pass, O(N+E))."""
    fields: list[NodeField] = []
    for v in range(len(graph.nodes)):
        check_node(graph, v)
        fields.append(node_field(graph, v, fields))
    return fields


# ---------------------------------------------------------------------------
# Feature maps at a resolution ("Feature maps")


def window_fmap(node: Node, axis: int, n: int) -> int:
    """A WINDOW's map on one axis from its input's ``n`` (the "Feature maps" table).

    EXPLICIT ``floor((n + pb + pe - k')/s) + 1`` (ceil_mode: ``ceil``, and
    the last window must start inside ``n + pb``); SAME_* ``ceil(n/s)``;
    VALID ``floor((n - k')/s) + 1``.  A padded input smaller than the window,
    or an empty input, gives an empty map.
    """
    if n == 0:
        return 0
    k_ext, s = kernel_extent(node, axis), node.stride[axis]
    if node.pad_mode in (PadMode.SAME_UPPER, PadMode.SAME_LOWER):
        return ceil_div(n, s)
    if node.pad_mode == PadMode.VALID:
        return max(0, (n - k_ext) // s + 1)
    pb, pe = node.pad_begin[axis], node.pad_end[axis]
    span = n + pb + pe - k_ext
    if span < 0:  # the padded input is smaller than the window: empty, in ceil_mode too
        return 0
    if not node.ceil_mode:
        return max(0, span // s + 1)
    out = ceil_div(span, s) + 1
    if (out - 1) * s >= n + pb:  # the last window would start in the end padding: PyTorch/ONNX drop it
        out -= 1
    return max(0, out)


def transposed_fmap(node: Node, axis: int, n: int) -> int:
    """A TRANSPOSED node's map on one axis from its input's ``n`` (the "Feature maps" table).

    EXPLICIT/VALID ``(n-1)·s - pb - pe + k'`` (VALID: no pads), SAME_*
    ``n·s``.  Clamped at 0; an empty input gives an empty map.
    """
    if n == 0:
        return 0
    s = node.stride[axis]
    if node.pad_mode in (PadMode.SAME_UPPER, PadMode.SAME_LOWER):
        return n * s
    pads = 0 if node.pad_mode == PadMode.VALID else node.pad_begin[axis] + node.pad_end[axis]
    return max(0, (n - 1) * s - pads + kernel_extent(node, axis))


def resize_fmap(f: Fraction, n: int) -> int:
    """RESIZE: ``floor(n·f)`` with the exact ``f = p/q``."""
    return math.floor(n * f)


def axis_fmaps(graph: Graph, fields: Sequence[NodeField], axis: int, n: int) -> list[int]:
    """Every node's feature-map size on one axis when the input is ``n`` on that axis.

    Axes are independent (each rule reads only its own axis), which lets
    i_min probe one axis at a time.  Disconnected nodes: 0; global: 1;
    MERGE: the largest of its connected, non-global inputs.
    """
    sizes: list[int] = []
    for v, node in enumerate(graph.nodes):
        field = fields[v]
        if not field.connected:
            sizes.append(0)
        elif not field.spatial:
            sizes.append(1)
        elif node.kind == Kind.INPUT:
            sizes.append(n)
        elif node.kind == Kind.MERGE:
            sizes.append(max(sizes[p] for p in node.inputs if fields[p].spatial))
        else:
            m = sizes[node.inputs[0]]
            if node.kind == Kind.WINDOW:
                sizes.append(window_fmap(node, axis, m))
            elif node.kind == Kind.TRANSPOSED:
                sizes.append(transposed_fmap(node, axis, m))
            elif node.kind == Kind.RESIZE:
                sizes.append(resize_fmap(scale_fraction(node.scale[axis], node.name), m))
            else:
                sizes.append(m)
    return sizes


# ---------------------------------------------------------------------------
# Status ("Status (Richter et al. 2021)")


def is_exempt(node: Node, ignore_1x1: bool) -> bool:
    """With ``ignore_1x1``, a node with ``k' = 1`` on every axis is skipped by the unproductive rules."""
    return ignore_1x1 and all(kernel_extent(node, a) == 1 for a in range(len(node.kernel)))


def is_checked(node: Node, field: NodeField, ignore_1x1: bool) -> bool:
    """Status (a)/(b) applies to connected, non-global WINDOW and TRANSPOSED nodes (minus exempt 1x1s)."""
    return node.kind in WINDOWED and field.spatial and not is_exempt(node, ignore_1x1)


def rule_a(field: NodeField, input_field: NodeField, axis: int, size: int) -> bool:
    """Rule (a) on one axis: ``rf_min(p) >= I`` and ``rf_min(v) > I``."""
    return input_field.rf_min(axis) >= size and field.rf_min(axis) > size


def rule_b(node: Node, axis: int, input_fmap: int) -> bool:
    """Rule (b) on one axis: ``fmap(p) <= k'``: the input fits in one window, the layer acts as a dense one."""
    return input_fmap <= kernel_extent(node, axis)


def unproductive(
    graph: Graph,
    fields: Sequence[NodeField],
    v: int,
    res: Sequence[int],
    fmaps: Sequence[Sequence[int]],
    axes: Sequence[int],
) -> bool:
    """Node ``v`` meets (a) on every axis in ``axes``, or (b) on every axis in ``axes``.

    ``fmaps[a][u]`` is node u's map on axis a.  With all axes this is the
    status rule; with one axis it is the per-axis i_min rule ("on axis a alone").
    """
    node = graph.nodes[v]
    p = node.inputs[0]
    a_holds = all(rule_a(fields[v], fields[p], a, res[a]) for a in axes)
    b_holds = all(rule_b(node, a, fmaps[a][p]) for a in axes)
    return a_holds or b_holds


def nearest_windowed_ancestors(graph: Graph, v: int, ignore_1x1: bool) -> set[int]:
    """The closest WINDOW or TRANSPOSED nodes above ``v``, walking up through MERGE, IDENTITY and RESIZE nodes.

    INPUT and GLOBAL nodes end the walk without being ancestors of this kind.
    With ``ignore_1x1`` the walk also passes through exempt 1x1 nodes: they are
    skipped by the rules, so they neither start nor interrupt unproductiveness.
    """
    found: set[int] = set()
    seen: set[int] = set()
    todo = list(graph.nodes[v].inputs)
    while todo:
        u = todo.pop()
        if u in seen:
            continue
        seen.add(u)
        node = graph.nodes[u]
        if node.kind in WALKED_THROUGH or (node.kind in WINDOWED and is_exempt(node, ignore_1x1)):
            todo.extend(node.inputs)
        elif node.kind in WINDOWED:
            found.add(u)
    return found


def dead_nodes(graph: Graph) -> set[int]:
    """The nodes from which no graph output (``graph.outputs``) can be reached ("Dead nodes").

    A node is live when it is an output or one of its consumers is live; a
    walk up from the outputs finds the live ones, the rest are dead.

    >>> from rfa_fast.graph import GraphBuilder
    >>> b = GraphBuilder()
    >>> x = b.input()
    >>> side = b.conv(x, 3)
    >>> out = b.conv(x, 5)
    >>> sorted(dead_nodes(b.build()))
    [1]
    """
    live: set[int] = set()
    todo = list(graph.outputs)
    while todo:
        v = todo.pop()
        if v in live:
            continue
        live.add(v)
        todo.extend(graph.nodes[v].inputs)
    return set(range(len(graph.nodes))) - live


def criticality(field: NodeField, res: Sequence[int]) -> int:
    """CRITICAL when ``rf_min > I`` on every axis, PARTIALLY_CRITICAL on some but not all (connected, non-global)."""
    if not field.spatial:
        return 0
    over = [field.rf_min(a) > res[a] for a in range(len(res))]
    if all(over):
        return int(Status.CRITICAL)
    return int(Status.PARTIALLY_CRITICAL) if any(over) else 0


def statuses(
    graph: Graph,
    fields: Sequence[NodeField],
    res: Sequence[int],
    fmaps: Sequence[Sequence[int]],
    ancestors: Sequence[set[int]],
    ignore_1x1: bool,
    dead: set[int] | None = None,
) -> list[int]:
    """Status bits of every node at one resolution: critical, unproductive, and border.

    A border node is unproductive with no unproductive nearest windowed
    ancestor (where unproductiveness starts); it carries both bits. A dead
    node (in ``dead``: no output reachable) has the DEAD bit and no other.
    """
    dead = dead_nodes(graph) if dead is None else dead
    all_axes = range(graph.dims)
    bad = [
        v not in dead
        and is_checked(node, fields[v], ignore_1x1)
        and unproductive(graph, fields, v, res, fmaps, all_axes)
        for v, node in enumerate(graph.nodes)
    ]
    out = []
    for v in range(len(graph.nodes)):
        if v in dead:
            out.append(int(Status.DEAD))
            continue
        bits = criticality(fields[v], res)
        if bad[v]:
            bits |= Status.UNPRODUCTIVE
            if not any(bad[u] for u in ancestors[v]):
                bits |= Status.BORDER
        out.append(int(bits))
    return out


# ---------------------------------------------------------------------------
# I_min and I_max ("I_min and I_max")


def smallest_free_resolution(unproductive_at: Callable[[int], bool]) -> float:
    """The smallest ``I >= 1`` with ``unproductive_at(I)`` False; ``inf`` if it is still True at 2**30.

    "Some node is unproductive at I" only gets harder to meet as I grows
    (fields are fixed, feature maps never shrink), so the answer is found
    exactly by doubling until the predicate fails, then bisecting.
    """
    if not unproductive_at(1):
        return 1.0
    lo, hi = 1, 2  # unproductive at lo; hi to be tested
    while unproductive_at(hi):
        if hi >= MAX_RESOLUTION:
            return math.inf
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if unproductive_at(mid):
            lo = mid
        else:
            hi = mid
    return float(hi)


class _FmapCache:
    """Per-axis feature maps at a given input size, computed once and shared by the i_min probes."""

    def __init__(self, graph: Graph, fields: Sequence[NodeField]) -> None:
        self.graph, self.fields = graph, fields
        self._cache: dict[tuple[int, int], list[int]] = {}

    def __call__(self, axis: int, n: int) -> list[int]:
        key = (axis, n)
        if key not in self._cache:
            self._cache[key] = axis_fmaps(self.graph, self.fields, axis, n)
        return self._cache[key]


def i_min_values(graph: Graph, fields: Sequence[NodeField], ignore_1x1: bool) -> tuple[float, list[float]]:
    """Square ``i_min`` and per-axis ``i_min``; NaN for a disconnected graph.

    Square: the smallest I with no unproductive node at ``(I, ..., I)``.
    Axis a: the smallest I at which no node meets (a) or (b) on axis a alone.
    """
    dims = graph.dims
    if not fields[-1].connected:
        return math.nan, [math.nan] * dims
    dead = dead_nodes(graph)
    checked = [v for v, node in enumerate(graph.nodes) if v not in dead and is_checked(node, fields[v], ignore_1x1)]
    cache = _FmapCache(graph, fields)

    def some_unproductive(size: int, axes: Sequence[int]) -> bool:
        res = [size] * dims
        fmaps = [cache(a, size) if a in axes else [] for a in range(dims)]
        return any(unproductive(graph, fields, v, res, fmaps, axes) for v in checked)

    def on_axis(a: int) -> Callable[[int], bool]:
        return lambda size: some_unproductive(size, [a])

    square = smallest_free_resolution(lambda size: some_unproductive(size, range(dims)))
    return square, [smallest_free_resolution(on_axis(a)) for a in range(dims)]


def largest_finite(values: Sequence[Fraction]) -> float:
    """The largest of some finite field sizes as a float; NaN when there are none."""
    return float(max(values)) if values else math.nan


def i_max_values(graph: Graph, fields: Sequence[NodeField]) -> list[float]:
    """``i_max`` per axis: the largest finite rf_max of a live WINDOW or TRANSPOSED node (NaN if there is none)."""
    dead = dead_nodes(graph)
    windows = [v for v, node in enumerate(graph.nodes) if node.kind in WINDOWED and fields[v].spatial and v not in dead]
    return [largest_finite([fields[v].rf_max(a) for v in windows]) for a in range(graph.dims)]


def graph_rf_max(graph: Graph, fields: Sequence[NodeField]) -> list[float]:
    """The graph's ``rf_max`` per axis: the largest finite rf_max of any live node (NaN if there is none)."""
    dead = dead_nodes(graph)
    spatial = [v for v in range(len(graph.nodes)) if fields[v].spatial and v not in dead]
    return [largest_finite([fields[v].rf_max(a) for v in spatial]) for a in range(graph.dims)]


# ---------------------------------------------------------------------------
# Cost ("Cost")


def node_params(node: Node, field: NodeField) -> int:
    """Weights of a connected node: WINDOW ``c_out·(c_in/groups)·Πk``, TRANSPOSED ``c_in·(c_out/groups)·Πk``,
    weighted GLOBAL ``c_in·c_out``; 0 otherwise (unknown channels are 0; no biases)."""
    if not (field.connected and node.weighted):
        return 0
    if node.kind == Kind.WINDOW:
        return node.c_out * (node.c_in // node.groups) * math.prod(node.kernel)
    if node.kind == Kind.TRANSPOSED:
        return node.c_in * (node.c_out // node.groups) * math.prod(node.kernel)
    if node.kind == Kind.GLOBAL:
        return node.c_in * node.c_out
    return 0


def node_macs(node: Node, params: int, own_fmap: Sequence[int], input_fmap: Sequence[int]) -> int:
    """MACs: WINDOW ``params·Π fmap(v)``, TRANSPOSED ``params·Π fmap(p)``, GLOBAL ``params``."""
    if node.kind == Kind.WINDOW:
        return params * math.prod(own_fmap)
    if node.kind == Kind.TRANSPOSED:
        return params * math.prod(input_fmap)
    if node.kind == Kind.GLOBAL:
        return params
    return 0


# ---------------------------------------------------------------------------
# Putting it together: the core's output layout


def check_resolutions(resolutions: Sequence[Sequence[int]], dims: int) -> list[tuple[int, ...]]:
    """``[R, D]`` positive integers, one column per spatial axis."""
    out = []
    for r in resolutions:
        row = tuple(int(x) for x in r)
        if len(row) != dims or any(x < 1 or x != y for x, y in zip(row, r)):
            raise ResolutionError(f"a resolution must be {dims} positive integers, got {list(r)!r}")
        out.append(row)
    return out


def _axis_floats(
    fields: Sequence[NodeField], dims: int, read: Callable[[AxisField], Fraction], global_value: float
) -> np.ndarray:
    """A float64 [N, D] array of one per-axis quantity: NaN when disconnected, ``global_value`` when global."""
    out = np.full((len(fields), dims), np.nan)
    for v, field in enumerate(fields):
        if field.axes is not None:
            out[v] = [float(read(x)) for x in field.axes]
        elif field.connected:
            out[v] = global_value
    return out


def run_graph(graph: Graph, resolutions: Sequence[Sequence[int]], ignore_1x1: bool = False) -> dict[str, np.ndarray]:
    """Analyze one graph: the dict ``_core.analyze_batch(..., per_node=True)`` returns for a batch of one.

    Per node: ``rf_min``, ``rf_max``, ``jump``, ``center`` (float64 [N, D]);
    ``node_connected``, ``is_global``, ``global_context``, ``node_aligned``
    (bool [N]); ``node_params`` (int64 [N]); ``fmap`` (int64 [R, N, D]);
    ``status`` (uint8 [R, N]); ``node_macs`` (int64 [R, N]).  Per graph
    (leading dimension 1): ``n_unproductive``, ``n_border``, ``n_critical``,
    ``n_partially_critical``, ``macs``, ``macs_unproductive`` (int64 [1, R]);
    ``i_min``, ``i_max`` (float64 [1]); ``i_min_axes``, ``i_max_axes``,
    ``graph_rf_max`` (float64 [1, D]); ``connected``, ``aligned`` (bool [1]);
    ``params`` (int64 [1]); ``n_dead`` (int64 [1]: dead, connected WINDOW
    and TRANSPOSED nodes); ``macs_dead`` (int64 [1, R]).

    >>> from rfa_fast.graph import GraphBuilder
    >>> b = GraphBuilder()
    >>> x = b.pool(b.conv(b.input(), 3, c_in=3, c_out=8), 2)
    >>> out = run_graph(b.build(), [[8, 8]])
    >>> out["fmap"][0].tolist(), out["node_macs"].tolist()
    ([[8, 8], [6, 6], [3, 3]], [[0, 7776, 0]])
    """
    dims = graph.dims
    res_rows = check_resolutions(resolutions, dims)
    fields = propagate(graph)
    n = len(graph.nodes)
    ancestors = [nearest_windowed_ancestors(graph, v, ignore_1x1) for v in range(n)]
    dead = dead_nodes(graph)
    params = [node_params(node, fields[v]) for v, node in enumerate(graph.nodes)]

    fmap = np.zeros((len(res_rows), n, dims), np.int64)
    status = np.zeros((len(res_rows), n), np.uint8)
    macs = np.zeros((len(res_rows), n), np.int64)
    for r, res in enumerate(res_rows):
        per_axis = [axis_fmaps(graph, fields, a, res[a]) for a in range(dims)]
        fmap[r] = np.array(per_axis, np.int64).reshape(dims, n).T
        status[r] = statuses(graph, fields, res, per_axis, ancestors, ignore_1x1, dead)
        for v, node in enumerate(graph.nodes):
            own = [per_axis[a][v] for a in range(dims)]
            inp = [per_axis[a][node.inputs[0]] for a in range(dims)] if node.kind == Kind.TRANSPOSED else own
            macs[r, v] = node_macs(node, params[v], own, inp)

    def count(bit: Status) -> np.ndarray:
        return ((status & bit) != 0).sum(axis=1).astype(np.int64)[None, :]

    unproductive_mask = (status & Status.UNPRODUCTIVE) != 0
    dead_mask = (status & Status.DEAD) != 0
    n_dead = sum(1 for v in dead if graph.nodes[v].kind in WINDOWED and fields[v].connected)
    i_min, i_min_axes = i_min_values(graph, fields, ignore_1x1)
    i_max_axes = i_max_values(graph, fields)
    finite_i_max = [x for x in i_max_axes if not math.isnan(x)]
    return {
        "rf_min": _axis_floats(fields, dims, lambda x: x.lo.rf, math.inf),
        "rf_max": _axis_floats(fields, dims, lambda x: x.hi.rf, math.inf),
        "jump": _axis_floats(fields, dims, lambda x: x.J, math.inf),
        "center": _axis_floats(fields, dims, lambda x: x.C, math.nan),
        "node_connected": np.array([f.connected for f in fields], bool),
        "is_global": np.array([f.is_global for f in fields], bool),
        "global_context": np.array([f.global_context for f in fields], bool),
        "node_aligned": np.array([f.aligned for f in fields], bool),
        "node_params": np.array(params, np.int64),
        "fmap": fmap,
        "status": status,
        "node_macs": macs,
        "n_unproductive": count(Status.UNPRODUCTIVE),
        "n_border": count(Status.BORDER),
        "n_critical": count(Status.CRITICAL),
        "n_partially_critical": count(Status.PARTIALLY_CRITICAL),
        "macs": macs.sum(axis=1, dtype=np.int64)[None, :],
        "macs_unproductive": np.where(unproductive_mask, macs, 0).sum(axis=1, dtype=np.int64)[None, :],
        "i_min": np.array([i_min], np.float64),
        "i_min_axes": np.array([i_min_axes], np.float64),
        "i_max_axes": np.array([i_max_axes], np.float64),
        "graph_rf_max": np.array([graph_rf_max(graph, fields)], np.float64),
        "i_max": np.array([max(finite_i_max) if finite_i_max else math.nan], np.float64),
        "connected": np.array([fields[-1].connected], bool),
        "aligned": np.array([all(f.aligned for f in fields)], bool),
        "params": np.array([sum(params)], np.int64),
        "n_dead": np.array([n_dead], np.int64),
        "macs_dead": np.where(dead_mask, macs, 0).sum(axis=1, dtype=np.int64)[None, :],
    }


PER_NODE_KEYS = (
    "rf_min", "rf_max", "jump", "center", "node_connected", "is_global", "global_context", "node_aligned", "node_params",
)  # fmt: skip
"""Per-node arrays with the node axis first."""

PER_NODE_AT_RESOLUTION_KEYS = ("fmap", "status", "node_macs")
"""Per-node arrays with the node axis second (after the resolution axis)."""


def run_batch(
    graphs: Sequence[Graph], resolutions: Sequence[Sequence[int]], ignore_1x1: bool = False
) -> dict[str, np.ndarray]:
    """:func:`run_graph` over several graphs, in the batch layout of ``_core.analyze_batch``.

    Per-node arrays are concatenated along the node axis, per-graph arrays
    along the graph axis (all graphs must have the same number of axes).

    >>> from rfa_fast.graph import Graph
    >>> gs = [Graph.from_spec([{"op": "input"}, {"op": "conv", "kernel": k}]) for k in (3, 5)]
    >>> out = run_batch(gs, [[16, 16]])
    >>> out["rf_max"][:, 0].tolist(), out["graph_rf_max"][:, 0].tolist()
    ([1.0, 3.0, 1.0, 5.0], [3.0, 5.0])
    """
    if not graphs:
        raise GraphError("a batch needs at least one graph")
    if len({g.dims for g in graphs}) != 1:
        raise GraphError("all graphs of a batch must have the same number of spatial axes")
    outs = [run_graph(g, resolutions, ignore_1x1) for g in graphs]
    merged = {}
    for key in outs[0]:
        axis = 1 if key in PER_NODE_AT_RESOLUTION_KEYS else 0
        merged[key] = np.concatenate([o[key] for o in outs], axis=axis)
    return merged
