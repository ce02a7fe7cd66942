"""Space: declare a search space once, screen millions of its candidates without building them.

A space is declared like a :class:`~rfa_fast.graph.GraphBuilder` (``input``,
``conv``, ``pool``, ``add``, ...), where any integer attribute may be a named
choice, an operation may be chosen among alternatives (``none`` and
``identity`` among them), a block may be optional, and an edge may be there
or not. A candidate is one row of choice indices; ``space.screen(rows, ...)``
gives, key by key, what :func:`rfa_fast.screen` gives for the graphs
``space.graph(row)``, without building them (the core runs the candidates
side by side through the compiled template; docs/spaces.md).

>>> import rfa_fast
>>> sp = rfa_fast.Space("tiny")
>>> x = sp.input()
>>> k = sp.choice("k", [3, 5, 7])
>>> x = sp.conv(x, k, pad=k // 2, c_in=3, c_out=16, name="conv")
>>> x = sp.choose("down", x, {"pool": lambda x: sp.pool(x, 2, name="pool"), "none": "identity"})
>>> x = sp.conv(x, 3, stride=sp.choice("s", [1, 2]), pad=1, c_in=16, c_out=16, name="conv2")
>>> space = sp.build()
>>> space.size, [c.name for c in space.choices]
(12, ['k', 'down', 's'])
>>> r = space.screen(space.sample(4, seed=0), 32)
>>> r.n_unproductive.shape
(4, 1)
>>> row = space.encode({"k": 7, "down": "pool", "s": 2})
>>> [n.name for n in space.graph(row).nodes]
['input0', 'conv', 'pool', 'conv2']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Union

import numpy as np

from .._costs import make_screen_exact
from ..api import resolutions_array
from ..errors import GraphError, SpecError
from ..graph import Graph, Pad
from ..kinds import Kind, PadMode, ResizeMode
from ..results import ScreenResult
from .compile import compile_space
from .materialize import materialize
from .template import MODE_NODE, SELECT, Alternatives, Scope, Template, TNode
from .values import Choice, Computed, Derived, Value, is_value

AttrValue = Union[Value, Sequence[Value]]
"""An attribute: one value for every axis, or one per axis."""

Alternative = Union[None, str, Callable[[int], int]]
"""One alternative of :meth:`Space.choose`: ``None`` (no edge), ``"identity"`` or a block ``f(x) -> node``."""

_PAD_MODES = {
    "same": PadMode.SAME_UPPER,
    "same_upper": PadMode.SAME_UPPER,
    "same_lower": PadMode.SAME_LOWER,
    "valid": PadMode.VALID,
}
_RESIZE_MODES = {m.name.lower(): m for m in ResizeMode}


class Space:
    """A search space: a template of nodes whose attributes, ops, blocks and edges may be choices.

    Declaring (the same methods as :class:`~rfa_fast.graph.GraphBuilder`, each
    returning the new node's index): :meth:`input`, :meth:`conv`,
    :meth:`pool`, :meth:`transposed`, :meth:`resize`, :meth:`add`,
    :meth:`mul`, :meth:`concat`, :meth:`merge`, :meth:`global_pool`,
    :meth:`dense`, :meth:`identity`; choices: :meth:`choice`, :meth:`choose`,
    :meth:`when`, :meth:`edge`, :meth:`computed`, :meth:`computed_columns`;
    then :meth:`build`.

    Using: :attr:`choices`, :attr:`size`, :meth:`sample`, :meth:`encode`,
    :meth:`decode`, :meth:`graph`, :meth:`screen`.
    """

    def __init__(self, name: str = "space", *, dims: int = 2) -> None:
        if dims not in (1, 2, 3):
            raise SpecError(f"dims must be 1, 2 or 3, got {dims}")
        self.name = name
        self.dims = dims
        self.template = Template(name, dims)
        # the template's lists, under the names the declaring methods use
        self.nodes: list[TNode] = self.template.nodes
        self.scopes: list[Scope] = self.template.scopes
        self.groups: list[Alternatives] = self.template.groups
        self._choices: list[Choice] = self.template.choices
        self._computed: list[Computed] = self.template.computed
        self._scope = 0
        self._built = False
        self._compiled: Any = None

    def __repr__(self) -> str:
        state = "built" if self._built else "declaring"
        return f"<Space {self.name!r}: {len(self.nodes)} template nodes, {len(self._choices)} choices, {state}>"

    # ------------------------------------------------------------------
    # choices

    def choice(self, name: str, options: Sequence[Any]) -> Choice:
        """A new choice (a column of the rows) among ``options``.

        Integer options can be used as attribute values and in arithmetic
        (``k // 2``); any options can be compared (``op == "conv"``) and
        used with :meth:`choose`.
        """
        self._check_open()
        if not isinstance(name, str) or not name:
            raise SpecError(f"a choice needs a name, got {name!r}")
        if any(c.name == name for c in self._choices):
            raise SpecError(f"space {self.name!r} already has a choice named {name!r}")
        c = Choice(name, options, len(self._choices))
        self._choices.append(c)
        return c

    def computed(self, name: str, fn: Callable[[np.ndarray], Any]) -> Computed:
        """A per-candidate value computed from whole rows: ``fn(rows [B, C]) -> [B]`` ints, vectorized.

        For attributes that depend on many choices at once (NAS-Bench-101's
        vertex channels depend on the whole adjacency matrix).
        """
        self._check_open()
        c = Computed(name, fn, len(self._computed))
        self._computed.append(c)
        return c

    def computed_columns(self, names: Sequence[str], fn: Callable[[np.ndarray], Any]) -> tuple[Computed, ...]:
        """Several per-candidate values computed together: ``fn(rows [B, C]) -> [B, len(names)]`` ints.

        One call of ``fn`` per screen gives them all, where one :meth:`computed`
        per value would repeat the work they share (NAS-Bench-101's pruning
        decides which vertices stay and how many channels each has).

        >>> sp = Space("doc")
        >>> a = sp.choice("a", [1, 2])
        >>> lo, hi = sp.computed_columns(["lo", "hi"], lambda rows: np.stack([rows[:, 0], rows[:, 0] + 8], axis=1))
        >>> x = sp.conv(sp.input(), 3, c_in=1, c_out=hi)
        >>> [n.c_out for n in sp.build().graph([1]).nodes]
        [0, 9]
        """
        self._check_open()
        names = list(names)
        if not names or not all(isinstance(n, str) and n for n in names):
            raise SpecError(f"computed_columns needs a list of names, got {names!r}")
        out = tuple(Computed(n, fn, len(self._computed) + k, part=k, width=len(names)) for k, n in enumerate(names))
        self._computed.extend(out)
        return out

    def choose(
        self,
        choice: str | Choice,
        x: int,
        alternatives: Mapping[Any, Alternative] | Sequence[Alternative],
        *,
        name: str | None = None,
    ) -> int:
        """The output of one of several alternatives applied to ``x``, picked by ``choice``.

        Args:
            choice: a :class:`Choice`, or the name of a new one whose options
                are the keys of ``alternatives``.
            x: the input of every alternative.
            alternatives: per option (a mapping from option to alternative,
                or a sequence in option order): ``None`` (nothing: an absent
                edge; a merge drops it, another node sees no input),
                ``"identity"`` (``x`` itself) or a function ``f(x) -> node``
                that declares a block (its nodes exist only in the candidates
                that pick it).
            name: a name for error messages (default: the choice's).
        """
        self._check_open()
        self._check_ref(x)
        if isinstance(choice, str):
            if not isinstance(alternatives, Mapping):
                raise SpecError("choose(name, ...) needs a mapping from option to alternative")
            choice = self.choice(choice, list(alternatives.keys()))
        if isinstance(alternatives, Mapping):
            missing = [o for o in choice.options if not any(_same(o, k) for k in alternatives)]
            extra = [k for k in alternatives if not any(_same(o, k) for o in choice.options)]
            if missing or extra:
                raise SpecError(
                    f"choose({choice.name!r}): alternatives must cover the options {list(choice.options)} "
                    f"(missing {missing}, unknown {extra})"
                )
            alts = [next(a for k, a in alternatives.items() if _same(o, k)) for o in choice.options]
        else:
            alts = list(alternatives)
            if len(alts) != len(choice.options):
                raise SpecError(f"choose({choice.name!r}): {len(alts)} alternatives for {len(choice.options)} options")
        inputs: list[int] = []
        positions: list[int] = []
        record: list[None | str | tuple[int, int]] = []
        for o, alt in enumerate(alts):
            if alt is None:
                positions.append(-1)
                record.append(None)
            elif isinstance(alt, str):
                if alt != "identity":
                    raise SpecError(f"choose({choice.name!r}): an alternative is None, 'identity' or a function")
                positions.append(len(inputs))
                inputs.append(x)
                record.append("identity")
            elif callable(alt):
                scope, out = self._in_scope(choice.isin([choice.options[o]]), alt, x)
                positions.append(len(inputs))
                inputs.append(out)
                record.append((scope, out))
            else:
                raise SpecError(f"choose({choice.name!r}): an alternative is None, 'identity' or a function")
        sel = Derived((choice,), np.array(positions, dtype=np.int64))
        s = self._select(inputs, sel, name or choice.name)
        self.groups.append(Alternatives(s, choice, x, record))
        return s

    def when(
        self, condition: Derived | Computed, x: int, body: Callable[[int], int], *, name: str | None = None
    ) -> int:
        """An optional block: ``body(x)`` where ``condition`` holds, else ``x`` itself.

        ``condition`` is a 0/1 value over choices (``depth >= 3``,
        ``op == "conv"``) or a :class:`Computed` column of 0/1.
        """
        self._check_open()
        self._check_ref(x)
        if isinstance(condition, Derived):
            bad = set(condition.values()) - {0, 1}
        elif isinstance(condition, Computed):
            bad = set()
        else:
            raise SpecError(f"when() needs a condition over choices (e.g. depth >= 3), got {condition!r}")
        if bad:
            raise SpecError(f"when(): a condition is 0 or 1, this one can be {sorted(bad)}")
        _, out = self._in_scope(condition, body, x)
        return self._select([x, out], condition, name or f"when{len(self.nodes)}")

    def edge(self, choice: str | Choice, x: int, *, name: str | None = None) -> int:
        """``x`` where the choice is on (option 1), nothing where it is off (option 0).

        A merge of edges drops the absent ones (NAS-Bench-101's adjacency).
        """
        self._check_open()
        self._check_ref(x)
        if isinstance(choice, str):
            choice = self.choice(choice, [0, 1])
        if list(choice.options) != [0, 1]:
            raise SpecError(f"edge(): choice {choice.name!r} must have the options [0, 1]")
        sel = Derived((choice,), np.array([-1, 0], dtype=np.int64))
        return self._select([x], sel, name or choice.name)

    # ------------------------------------------------------------------
    # nodes (as GraphBuilder)

    def input(self, name: str | None = None) -> int:
        """The image input."""
        return self._append(name, "input", Kind.INPUT, ())

    def conv(
        self,
        x: int,
        kernel: AttrValue,
        stride: AttrValue = 1,
        *,
        dilation: AttrValue = 1,
        pad: Pad | Value = 0,
        pad_begin: AttrValue | None = None,
        pad_end: AttrValue | None = None,
        c_in: Value = 0,
        c_out: Value = 0,
        groups: Value = 1,
        name: str | None = None,
        op: str = "conv",
    ) -> int:
        """A convolution (a weighted WINDOW); ``pad`` follows PyTorch (default 0)."""
        return self._window(x, kernel, stride, dilation, pad, pad_begin, pad_end, 0, 1, c_in, c_out, groups, name, op)

    def pool(
        self,
        x: int,
        kernel: AttrValue,
        stride: AttrValue | None = None,
        *,
        dilation: AttrValue = 1,
        pad: Pad | Value = 0,
        pad_begin: AttrValue | None = None,
        pad_end: AttrValue | None = None,
        ceil_mode: Value = 0,
        name: str | None = None,
        op: str = "pool",
    ) -> int:
        """Max or average pooling (an unweighted WINDOW); stride defaults to the kernel."""
        s = kernel if stride is None else stride
        return self._window(x, kernel, s, dilation, pad, pad_begin, pad_end, ceil_mode, 0, 0, 0, 1, name, op)

    def transposed(
        self,
        x: int,
        kernel: AttrValue,
        stride: AttrValue = 1,
        *,
        dilation: AttrValue = 1,
        pad: Pad | Value = 0,
        output_padding: int = 0,
        c_in: Value = 0,
        c_out: Value = 0,
        groups: Value = 1,
        name: str | None = None,
        op: str = "transposed",
    ) -> int:
        """A transposed convolution; ``output_padding`` (an int) is folded into ``pad_end``.

        Spaces with transposed convolutions or resizes are screened by
        materializing each candidate in the core (same answers, no lanes).
        """
        idx = self._window(x, kernel, stride, dilation, pad, None, None, 0, 1, c_in, c_out, groups, name, op)
        n = self.nodes[idx]
        n.kind = int(Kind.TRANSPOSED)
        if output_padding:
            n.axes["pad_end"] = tuple(_sub(p, int(output_padding)) for p in n.axes["pad_end"])
        return idx

    def resize(
        self,
        x: int,
        scale: float | Sequence[float],
        mode: str = "nearest",
        *,
        name: str | None = None,
        op: str = "resize",
    ) -> int:
        """Up- or down-sampling by a constant factor (nearest, linear or cubic)."""
        s = (float(scale),) * self.dims if isinstance(scale, (int, float)) else tuple(float(v) for v in scale)
        if len(s) != self.dims or not all(np.isfinite(v) and v > 0 for v in s):
            raise SpecError(f"scale must be {self.dims} finite values > 0, got {scale!r}")
        m = _RESIZE_MODES.get(str(mode).lower())
        if m is None:
            raise SpecError(f"resize mode {mode!r} is not one of {sorted(_RESIZE_MODES)}")
        idx = self._append(name, op, Kind.RESIZE, (x,))
        self.nodes[idx].scale = s
        self.nodes[idx].resize_mode = int(m)
        return idx

    def add(self, *inputs: int, name: str | None = None, collapse: bool = False, op: str = "add") -> int:
        """Element-wise sum (a MERGE); see :meth:`merge` for ``collapse``."""
        return self.merge(*inputs, name=name, op=op, collapse=collapse)

    def mul(self, *inputs: int, name: str | None = None, collapse: bool = False) -> int:
        """Element-wise product, e.g. a squeeze-excitation gate (a MERGE)."""
        return self.merge(*inputs, name=name, op="mul", collapse=collapse)

    def concat(self, *inputs: int, name: str | None = None, collapse: bool = False) -> int:
        """Concatenation on the channel axis (a MERGE)."""
        return self.merge(*inputs, name=name, op="concat", collapse=collapse)

    def merge(self, *inputs: int, name: str | None = None, op: str = "merge", collapse: bool = False) -> int:
        """A node combining its inputs unit by unit.

        Absent inputs (none edges) are dropped. With ``collapse``, a merge
        left with one input *is* that input (no node), and with none it is
        absent, as NAS-Bench-101 sums and concatenates; without it the node
        stays (a merge of nothing is a constant, as in NAS-Bench-201).
        """
        idx = self._append(name, op, Kind.MERGE, inputs)
        self.nodes[idx].collapse = bool(collapse)
        return idx

    def global_pool(self, x: int, *, name: str | None = None, op: str = "global_pool") -> int:
        """Global pooling: the field becomes the whole input."""
        return self._append(name, op, Kind.GLOBAL, (x,))

    def dense(self, x: int, c_in: Value = 0, c_out: Value = 0, *, name: str | None = None, op: str = "dense") -> int:
        """A fully connected layer (GLOBAL, weighted)."""
        idx = self._append(name, op, Kind.GLOBAL, (x,))
        self.nodes[idx].fields.update(weighted=1, c_in=_value(c_in, "c_in"), c_out=_value(c_out, "c_out"))
        return idx

    def identity(self, x: int, *, name: str | None = None, op: str = "identity") -> int:
        """A pass-through node (activation, normalization...)."""
        return self._append(name, op, Kind.IDENTITY, (x,))

    def build(self) -> Space:
        """Finish the declaration; the space can then be screened. Returns the space.

        The last node is the output; when it may be absent in a candidate (a
        SELECT, a node of a block, a collapsing merge), an identity node
        ``output`` is appended so that every candidate has one.
        """
        if self._built:
            return self
        if self._scope != 0:
            raise SpecError("build() inside an alternative or an optional block")
        if not self.nodes:
            raise SpecError(f"space {self.name!r} has no nodes")
        last = self.nodes[-1]
        if last.kind == SELECT or last.scope != 0 or last.collapse or last.get("mode") != MODE_NODE:
            self.identity(len(self.nodes) - 1, name="output")
        self._built = True
        return self

    # ------------------------------------------------------------------
    # using the space

    @property
    def choices(self) -> tuple[Choice, ...]:
        """The choices, in column order (``choices[c].name``, ``choices[c].options``)."""
        return tuple(self._choices)

    @property
    def computed_values(self) -> tuple[Computed, ...]:
        """The per-candidate computed columns."""
        return tuple(self._computed)

    @property
    def size(self) -> int:
        """The number of rows (candidates), a Python int (product of the option counts)."""
        n = 1
        for c in self._choices:
            n *= len(c.options)
        return n

    @property
    def row_dtype(self) -> np.dtype:
        """The smallest integer type of a row: uint8 when every choice has at most 256 options."""
        most = max((len(c.options) for c in self._choices), default=1)
        return np.dtype(np.uint8) if most <= 256 else np.dtype(np.int32)

    def sample(self, n: int, *, seed: int | np.random.Generator | None = None) -> np.ndarray:
        """``n`` rows drawn uniformly (every choice independently), [n, C] of :attr:`row_dtype`."""
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        if n < 0:
            raise SpecError(f"sample(n): n must be >= 0, got {n}")
        rows = np.empty((n, len(self._choices)), dtype=self.row_dtype)
        for c in self._choices:
            rows[:, c.column] = rng.integers(0, len(c.options), size=n)
        return rows

    def encode(self, options: Mapping[str, Any]) -> np.ndarray:
        """The row of one candidate given as ``{choice name: option value}`` (every choice named)."""
        names = {c.name for c in self._choices}
        unknown = sorted(set(options) - names)
        if unknown:
            raise SpecError(f"space {self.name!r} has no choice {unknown[0]!r} (choices: {sorted(names)})")
        missing = [c.name for c in self._choices if c.name not in options]
        if missing:
            raise SpecError(f"encode(): no option given for {missing}")
        return np.array([c.index(options[c.name]) for c in self._choices], dtype=self.row_dtype)

    def decode(self, row: Sequence[int] | np.ndarray) -> dict[str, Any]:
        """``{choice name: option value}`` of one row."""
        r = self._row(row)
        return {c.name: c.options[int(r[c.column])] for c in self._choices}

    def graph(self, row: Sequence[int] | np.ndarray, *, name: str | None = None) -> Graph:
        """One candidate as a :class:`~rfa_fast.graph.Graph` with the template's node names."""
        self.build()
        return materialize(self.template, self._row(row), name=name)

    @property
    def program(self) -> Any:
        """The compiled program (built once, on first use)."""
        if self._compiled is None:
            self.build()
            self._compiled = compile_space(self.template)
        return self._compiled

    def screen(
        self,
        rows: Any,
        resolutions: Any = 224,
        *,
        ignore_1x1: bool = False,
        threads: int | None = None,
        i_min: bool = True,
    ) -> ScreenResult:
        """Screen candidates (rows [B, C] of choice indices, or one row) at one or more resolutions.

        Equal, key by key, to ``rfa_fast.screen([space.graph(r) for r in rows], resolutions)``.

        Args:
            rows: integer array [B, C] (or [C] for one candidate), column c an
                index into ``choices[c].options``.
            resolutions, ignore_1x1, threads, i_min: as for :func:`rfa_fast.screen`.
        """
        prog = self._compiled if self._compiled is not None else self.program
        arr = rows if _is_row_array(rows, len(self._choices)) else self._rows(rows)
        res = resolutions_array(resolutions, self.dims)
        columns = prog.columns(arr) if prog.computed else []
        try:
            raw = prog.core.screen(arr, columns, res, ignore_1x1, threads or 0, i_min)
        except GraphError as e:
            raise self._explain(e) from None
        # counts past int64 (the core saturates them): exact Python ints, candidate by candidate
        make_screen_exact(raw, res, lambda b: prog.core.materialize(arr, columns, b), ignore_1x1)
        return ScreenResult(raw, res, names=None)

    # ------------------------------------------------------------------
    # helpers

    def _row(self, row: Sequence[int] | np.ndarray) -> np.ndarray:
        r = np.asarray(row)
        if r.ndim != 1 or r.shape[0] != len(self._choices):
            raise SpecError(
                f"a row of space {self.name!r} has {len(self._choices)} choice indices, got shape {r.shape}"
            )
        arr = self._rows(r[None, :])
        return arr[0]

    def _rows(self, rows: Any) -> np.ndarray:
        """Rows as a C-contiguous uint8/int32/int64 array [B, C], indices checked."""
        a = np.asarray(rows)
        if a.ndim == 1:
            a = a[None, :]
        C = len(self._choices)
        if a.ndim != 2 or a.shape[1] != C:
            raise SpecError(f"rows of space {self.name!r} must be [B, {C}] (one index per choice), got shape {a.shape}")
        if a.dtype.kind not in "iu" or a.dtype == np.uint64:
            if a.size == 0 and a.dtype.kind == "f":
                a = a.astype(np.int64)
            else:
                raise SpecError(f"rows must be an integer array, got dtype {a.dtype}")
        if a.dtype not in (np.uint8, np.int32, np.int64):
            a = a.astype(np.int64)
        return np.ascontiguousarray(a)

    def _explain(self, e: GraphError) -> Exception:
        """The core's error with the names of the choice and node it found at fault."""
        msg = str(e)
        if e.column >= 0:
            c = self._choices[e.column]
            msg = msg.replace(f"choice column {e.column}", f"choice {c.name!r} ({len(c.options)} options)")
        node = self.program.node_names
        if 0 <= e.node_index < len(node):
            msg = msg.replace(f"template node {e.node_index}", f"node {node[e.node_index]!r}")
        err = SpecError(msg, candidate=e.graph_index if e.graph_index >= 0 else None)
        return err

    def _check_open(self) -> None:
        if self._built:
            raise SpecError(f"space {self.name!r} is built: declare everything before build() or screen()")

    def _ancestors(self, scope: int) -> list[int]:
        out = []
        while scope >= 0:
            out.append(scope)
            scope = self.scopes[scope].parent
        return out

    def _check_ref(self, x: int, *, scope: int | None = None) -> None:
        if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)) or not 0 <= x < len(self.nodes):
            raise SpecError(f"input {x!r} is not an earlier node of space {self.name!r}")
        visible = self._ancestors(self._scope if scope is None else scope)
        if self.nodes[x].scope not in visible:
            raise SpecError(
                f"node {self.nodes[x].name!r} belongs to an alternative or optional block and is used outside it: "
                "return it from the block instead"
            )

    def _in_scope(self, condition: Value, body: Callable[[int], int], x: int) -> tuple[int, int]:
        scope = len(self.scopes)
        self.scopes.append(Scope(self._scope, condition))
        outer = self._scope
        self._scope = scope
        try:
            out = body(x)
        finally:
            self._scope = outer
        if (
            isinstance(out, (bool, np.bool_))
            or not isinstance(out, (int, np.integer))
            or not 0 <= out < len(self.nodes)
        ):
            raise SpecError(f"a block must return a node of the space (the index its last call returned), got {out!r}")
        if self.nodes[out].scope not in self._ancestors(scope):
            raise SpecError(f"a block returned node {self.nodes[out].name!r}, which belongs to another block")
        return scope, int(out)

    def _select(self, inputs: Sequence[int], sel: Value, name: str) -> int:
        idx = len(self.nodes)
        node = TNode(name, "select", SELECT, tuple(int(i) for i in inputs), self._scope, self._unit_axes())
        node.fields["sel"] = sel
        self.nodes.append(node)
        self.scopes[self._scope].nodes.append(idx)
        return idx

    def _unit_axes(self) -> dict[str, tuple[Value, ...]]:
        one, zero = (1,) * self.dims, (0,) * self.dims
        return {"kernel": one, "stride": one, "dilation": one, "pad_begin": zero, "pad_end": zero}

    def _append(self, name: str | None, op: str, kind: Kind, inputs: Sequence[int]) -> int:
        self._check_open()
        for x in inputs:
            self._check_ref(x)
        idx = len(self.nodes)
        node = TNode(
            name if name is not None else f"{op}{idx}",
            op,
            int(kind),
            tuple(int(i) for i in inputs),
            self._scope,
            self._unit_axes(),
            scale=(1.0,) * self.dims,
        )
        self.nodes.append(node)
        self.scopes[self._scope].nodes.append(idx)
        return idx

    def _axes(self, v: Any, what: str, minimum: int | None = None) -> tuple[Value, ...]:
        if is_value(v):
            vals: tuple[Any, ...] = (v,) * self.dims
        else:
            try:
                vals = tuple(v)
            except TypeError:
                raise SpecError(f"{what} must be an int, a choice or a sequence of {self.dims}, got {v!r}") from None
            if len(vals) != self.dims:
                raise SpecError(f"{what} has {len(vals)} values but the space has {self.dims} spatial axes")
        out = tuple(_value(x, what) for x in vals)
        if minimum is not None:
            for x in out:
                lo = min(x.values()) if isinstance(x, Derived) else (x if isinstance(x, int) else None)
                if lo is not None and lo < minimum:
                    raise SpecError(f"{what} must be >= {minimum} on every axis, can be {lo}")
        return out

    def _window(
        self,
        x: int,
        kernel: AttrValue,
        stride: AttrValue,
        dilation: AttrValue,
        pad: Any,
        pad_begin: AttrValue | None,
        pad_end: AttrValue | None,
        ceil_mode: Value,
        weighted: int,
        c_in: Value,
        c_out: Value,
        groups: Value,
        name: str | None,
        op: str,
    ) -> int:
        k = self._axes(kernel, "kernel", 1)
        s = self._axes(stride, "stride", 1)
        d = self._axes(dilation, "dilation", 1)
        mode = PadMode.EXPLICIT
        if isinstance(pad, str):
            m = _PAD_MODES.get(pad.lower())
            if m is None and pad.lower() != "explicit":
                raise SpecError(f"pad {pad!r} is not one of {sorted(_PAD_MODES)}")
            mode = m if m is not None else PadMode.EXPLICIT
            pb = pe = self._axes(0, "pad")
        else:
            pb = pe = self._axes(pad, "pad")
        if pad_begin is not None:
            pb = self._axes(pad_begin, "pad_begin")
        if pad_end is not None:
            pe = self._axes(pad_end, "pad_end")
        idx = self._append(name, op, Kind.WINDOW, (x,))
        n = self.nodes[idx]
        n.axes = {"kernel": k, "stride": s, "dilation": d, "pad_begin": pb, "pad_end": pe}
        n.fields.update(
            pad_mode=int(mode),
            ceil_mode=_value(ceil_mode, "ceil_mode"),
            weighted=weighted,
            c_in=_value(c_in, "c_in"),
            c_out=_value(c_out, "c_out"),
            groups=_value(groups, "groups"),
        )
        return idx


def _is_row_array(rows: Any, C: int) -> bool:
    """Rows the core takes as they are (the search-loop case: no conversion, no copy)."""
    return (
        type(rows) is np.ndarray
        and rows.ndim == 2
        and rows.shape[1] == C
        and rows.dtype in _ROW_DTYPES
        and rows.flags.c_contiguous
    )


_ROW_DTYPES = (np.dtype(np.uint8), np.dtype(np.int32), np.dtype(np.int64))


def _same(a: Any, b: Any) -> bool:
    return (
        type(a) is type(b)
        and a == b
        or (isinstance(a, (int, np.integer)) and isinstance(b, (int, np.integer)) and a == b)
    )


def _value(v: Any, what: str) -> Value:
    if isinstance(v, (Derived, Computed)):
        if isinstance(v, Choice) and not v.numeric:
            raise SpecError(f"{what}: choice {v.name!r} has options that are not integers")
        return v
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    raise SpecError(f"{what} must be an int or a choice-dependent value, got {v!r}")


def _sub(v: Value, k: int) -> Value:
    if isinstance(v, Computed):
        raise SpecError("output_padding with computed pads: fold it into the computed pad_end")
    return v - k
