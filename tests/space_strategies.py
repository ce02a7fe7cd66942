"""Hypothesis strategies: random search spaces and rows of them.

:func:`spaces` declares a random :class:`rfa_fast.Space` with every feature
of the declaration API: attributes that are choices or tables over choices
(kernel, stride, dilation, pads, channels, groups, ceil_mode), per-axis
attributes, every pad mode, op choices (``None``, ``"identity"``, single
nodes that the compiler fuses, blocks of several nodes that it does not),
optional blocks (:meth:`Space.when` on a depth-like choice), edges that may
be absent, merges that collapse or not, global nodes and dense layers,
computed columns, and (unless ``lanes_only``) transposed convolutions and
resizes, which send the whole space through the materializing path.
Dead branches (nodes from which the output, the last node, is not
reachable) come from side branches that nothing reads afterwards, from
steps on earlier nodes, and from choices whose ``None`` cuts the only edge
out of a node.

Jumps stay below :data:`MAX_JUMP` on every path whatever the choices, and at
most two upsamplings lie on any path, as in ``strategies.py``.

>>> from hypothesis import given
>>> @given(spaces(), st.data())
... def check(space, data):
...     rows = data.draw(rows_of(space))
...     assert rows.shape[1] == len(space.choices)
>>> check()
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from rfa_fast.space import Space
from rfa_fast.space.values import Choice, Value

MAX_JUMP = 256


@dataclass
class _Ref:
    node: int
    jump: int  # the largest jump any candidate can have here
    ups: int = 0


class _Maker:
    """Declares random nodes into one space (``draw`` is hypothesis's)."""

    def __init__(self, draw: st.DrawFn, sp: Space, lanes_only: bool) -> None:
        self.draw = draw
        self.sp = sp
        self.lanes_only = lanes_only
        self.n_choices = 0

    def new_choice(self, options: list[int]) -> Choice:
        self.n_choices += 1
        return self.sp.choice(f"c{self.n_choices}", options)

    def int_or_choice(self, values: list[int], *, p_choice: bool = True) -> Value:
        if p_choice and self.draw(st.booleans()):
            k = self.draw(st.integers(2, 3))
            opts = sorted(set(self.draw(st.lists(st.sampled_from(values), min_size=k, max_size=k))))
            if len(opts) >= 2:
                return self.new_choice(opts)
        return int(self.draw(st.sampled_from(values)))

    def axes(self, values: list[int]) -> Value | tuple[Value, ...]:
        if self.sp.dims > 1 and self.draw(st.integers(0, 4)) == 0:
            return tuple(self.int_or_choice(values) for _ in range(self.sp.dims))
        return self.int_or_choice(values)

    @staticmethod
    def most(v: Value | tuple[Value, ...]) -> int:
        vals = v if isinstance(v, tuple) else (v,)
        out = 1
        for x in vals:
            out = max(out, max(x.values()) if hasattr(x, "values") and not isinstance(x, int) else int(x))  # type: ignore[union-attr]
        return out

    def window(self, x: _Ref) -> _Ref:
        draw = self.draw
        pool = draw(st.booleans())
        kernel = self.axes([1, 2, 3, 5])
        stride = self.axes([1, 2]) if x.jump * 2 <= MAX_JUMP else 1
        dilation = self.axes([1, 2]) if draw(st.integers(0, 3)) == 0 else 1
        how = draw(st.sampled_from(["half", "int", "same", "same_lower", "valid", "choice"]))
        pad: object
        if how == "half" and not isinstance(kernel, tuple) and not isinstance(dilation, tuple):
            pad = (kernel - 1) * dilation // 2  # type: ignore[operator]
        elif how in ("same", "same_lower", "valid"):
            pad = how
        elif how == "choice":
            pad = self.int_or_choice([0, 1, 2])
        else:
            pad = draw(st.integers(0, 2))
        name = f"n{len(self.sp.nodes)}"
        if pool:
            ceil = self.int_or_choice([0, 1]) if draw(st.integers(0, 3)) == 0 else 0
            node = self.sp.pool(x.node, kernel, stride, dilation=dilation, pad=pad, ceil_mode=ceil, name=name)  # type: ignore[arg-type]
        else:
            c_in = self.int_or_choice([0, 4, 8])
            c_out = self.int_or_choice([4, 8])
            node = self.sp.conv(
                x.node,
                kernel,
                stride,
                dilation=dilation,
                pad=pad,
                c_in=c_in,
                c_out=c_out,
                name=name,  # type: ignore[arg-type]
            )
        return _Ref(node, x.jump * self.most(stride), x.ups)

    def upsample(self, x: _Ref) -> _Ref:
        if self.draw(st.booleans()):
            node = self.sp.transposed(
                x.node, self.draw(st.sampled_from([2, 3, 4])), 2, pad=self.draw(st.integers(0, 1))
            )
        else:
            node = self.sp.resize(
                x.node, self.draw(st.sampled_from([2.0, 0.5])), self.draw(st.sampled_from(["nearest", "linear"]))
            )
        return _Ref(node, x.jump, x.ups + 1)

    def block(self, x: _Ref, depth: int) -> _Ref:
        """One to three nodes after x (the body of an alternative or an optional block)."""
        for _ in range(self.draw(st.integers(1, 2 if depth else 3))):
            x = self.step([x], depth + 1)
        return x

    def step(self, refs: list[_Ref], depth: int = 0) -> _Ref:
        draw = self.draw
        x = refs[-1] if draw(st.integers(0, 2)) else draw(st.sampled_from(refs))
        kinds = ["window"] * 5 + ["merge", "merge", "identity", "global", "side"]
        if depth < 2:
            kinds += ["choose", "choose", "when", "edge_merge"]
        if not self.lanes_only and x.ups < 2:
            kinds.append("up")
        kind = draw(st.sampled_from(kinds))
        if kind == "window":
            return self.window(x)
        if kind == "side":  # a window (or an op choice) nothing reads: dead unless a later step picks it up
            if draw(st.booleans()):
                self.window(x)
            else:
                self.sp.choose(
                    f"op{self.n_choices + 1}",
                    x.node,
                    {"a0": None, "a1": lambda n: self.window(_Ref(n, x.jump, x.ups)).node},
                )
                self.n_choices += 1
            return refs[-1]
        if kind == "up":
            return self.upsample(x)
        if kind == "identity":
            return _Ref(self.sp.identity(x.node), x.jump, x.ups)
        if kind == "global":
            if draw(st.booleans()):
                return _Ref(self.sp.global_pool(x.node), x.jump, x.ups)
            return _Ref(self.sp.dense(x.node, self.int_or_choice([4, 8]), 10), x.jump, x.ups)
        if kind == "merge":
            ins = draw(st.lists(st.sampled_from(refs), min_size=1, max_size=3))
            node = self.sp.merge(*[r.node for r in ins], collapse=draw(st.booleans()))
            return _Ref(node, max(r.jump for r in ins), max(r.ups for r in ins))
        if kind == "edge_merge":
            ins = draw(st.lists(st.sampled_from(refs), min_size=1, max_size=3))
            edges = [self.sp.edge(f"e{len(self.sp.nodes)}", r.node) for r in ins]
            node = self.sp.add(*edges, collapse=draw(st.booleans()))
            return _Ref(node, max(r.jump for r in ins), max(r.ups for r in ins))
        if kind == "when":
            depth_choice = self.new_choice([1, 2, 3])
            outs: list[_Ref] = []

            def body(n: int) -> int:
                r = self.block(_Ref(n, x.jump, x.ups), depth)
                outs.append(r)
                return r.node

            node = self.sp.when(depth_choice >= draw(st.integers(2, 3)), x.node, body)
            return _Ref(node, max(x.jump, outs[0].jump), max(x.ups, outs[0].ups))
        # choose: 2..4 alternatives
        n_alt = draw(st.integers(2, 4))
        alts: dict[str, object] = {}
        outs = []
        single = draw(st.booleans())  # all single nodes: the compiler fuses them
        for a in range(n_alt):
            what = draw(st.sampled_from(["none", "identity", "node", "node"] + ([] if single else ["block"])))
            if what == "none":
                alts[f"a{a}"] = None
            elif what == "identity":
                alts[f"a{a}"] = "identity"
            else:

                def body(n: int, what: str = what) -> int:
                    r = (
                        self.window(_Ref(n, x.jump, x.ups))
                        if what == "node"
                        else self.block(_Ref(n, x.jump, x.ups), depth)
                    )
                    outs.append(r)
                    return r.node

                alts[f"a{a}"] = body
        self.n_choices += 1
        node = self.sp.choose(f"op{self.n_choices}", x.node, alts)
        return _Ref(node, max([x.jump] + [o.jump for o in outs]), max([x.ups] + [o.ups for o in outs]))


@st.composite
def spaces(draw: st.DrawFn, max_steps: int = 14, dims: int | None = None, lanes_only: bool = False) -> Space:
    """A random built space (see the module docstring)."""
    d = dims if dims is not None else draw(st.sampled_from([1, 2, 2]))
    sp = Space("random", dims=d)
    maker = _Maker(draw, sp, lanes_only)
    refs = [_Ref(sp.input("input"), 1)]
    if draw(st.integers(0, 5)) == 0:
        # a computed channel count, from the first choice (if any) or a constant
        comp = sp.computed("width", lambda rows: 4 + 4 * (rows[:, 0] % 2) if rows.shape[1] else np.full(len(rows), 4))
        refs.append(_Ref(sp.conv(refs[-1].node, 3, pad=1, c_in=3, c_out=comp, name="computed_conv"), 1))
    for _ in range(draw(st.integers(1, max_steps))):
        refs.append(maker.step(refs))
    if draw(st.integers(0, 3)) == 0:
        sp.global_pool(refs[-1].node, name="head")
    return sp.build()


@st.composite
def rows_of(draw: st.DrawFn, space: Space, max_rows: int = 12) -> np.ndarray:
    """Rows of choice indices for ``space`` (uint8, int32 or int64)."""
    n = draw(st.integers(1, max_rows))
    cols = [draw(st.lists(st.integers(0, len(c.options) - 1), min_size=n, max_size=n)) for c in space.choices]
    dtype = draw(st.sampled_from([np.uint8, np.int32, np.int64]))
    return np.array(cols, dtype=dtype).T.reshape(n, len(space.choices)).copy()


@st.composite
def resolutions_for(draw: st.DrawFn, dims: int, max_count: int = 4) -> list[list[int]]:
    """Square and rectangular resolutions."""
    out = []
    for _ in range(draw(st.integers(1, max_count))):
        if draw(st.booleans()):
            out.append([draw(st.integers(1, 160))] * dims)
        else:
            out.append([draw(st.integers(1, 160)) for _ in range(dims)])
    return out
