"""Values that depend on a candidate: choices, tables over choices, computed columns.

A :class:`Choice` is one column of a candidate's row: the index of one of its
options. Arithmetic and comparisons on choices give a :class:`Derived`, a
table over the options of the choices it depends on (``k // 2`` for the
padding of a kernel choice, ``e * 24`` for the channels of an expand ratio,
``d >= 3`` for "the block is there when the depth is 3 or 4"). A
:class:`Computed` is a per-candidate column computed from the whole row by a
vectorized function (NAS-Bench-101's vertex channels, which depend on the
whole adjacency matrix).

>>> from rfa_fast.space import Space
>>> sp = Space("doc")
>>> k = sp.choice("k", [3, 5, 7])
>>> (k // 2).table.tolist(), (k >= 5).table.tolist()
([1, 2, 3], [0, 1, 1])
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any, Union

import numpy as np

from ..errors import SpecError

MAX_TABLE = 1 << 20
"""The largest table a :class:`Derived` may have (product of its choices' option counts)."""


class Derived:
    """An integer that depends on some choices: a table over their options.

    Attributes:
        choices: the choices it depends on, in column order.
        table: int64 array with one axis per choice (``table[i, j]`` for option
            ``i`` of the first choice and ``j`` of the second).
    """

    __slots__ = ("choices", "table")

    def __init__(self, choices: Sequence[Choice], table: np.ndarray) -> None:
        self.choices = tuple(choices)
        self.table = np.asarray(table, dtype=np.int64)

    def __repr__(self) -> str:
        names = ", ".join(c.name for c in self.choices)
        return f"<Derived over ({names})>"

    # -- evaluation ---------------------------------------------------------
    def at(self, row: Sequence[int] | np.ndarray) -> int:
        """The value for one candidate row (choice indices)."""
        return int(self.table[tuple(int(row[c.column]) for c in self.choices)])

    def values(self) -> list[int]:
        """Every value it can take, sorted."""
        return sorted({int(v) for v in self.table.ravel()})

    # -- arithmetic ---------------------------------------------------------
    def _combine(self, other: Any, fn: Callable[[Any, Any], Any], what: str) -> Derived:
        if isinstance(other, Computed):
            return NotImplemented  # type: ignore[return-value]
        if isinstance(other, (bool, np.bool_)) or not isinstance(other, (int, np.integer, Derived)):
            raise SpecError(f"cannot {what} a choice-dependent value and {other!r}")
        if isinstance(other, Derived):
            return combine(fn, self, other)
        return Derived(self.choices, np.vectorize(lambda v: fn(int(v), int(other)), otypes=[np.int64])(self.table))

    def __add__(self, o: Any) -> Derived:
        return self._combine(o, operator.add, "add")

    def __radd__(self, o: Any) -> Derived:
        return self._combine(o, lambda a, b: b + a, "add")

    def __sub__(self, o: Any) -> Derived:
        return self._combine(o, operator.sub, "subtract")

    def __rsub__(self, o: Any) -> Derived:
        return self._combine(o, lambda a, b: b - a, "subtract")

    def __mul__(self, o: Any) -> Derived:
        return self._combine(o, operator.mul, "multiply")

    def __rmul__(self, o: Any) -> Derived:
        return self._combine(o, lambda a, b: b * a, "multiply")

    def __floordiv__(self, o: Any) -> Derived:
        return self._combine(o, operator.floordiv, "divide")

    def __mod__(self, o: Any) -> Derived:
        return self._combine(o, operator.mod, "take the remainder of")

    def __neg__(self) -> Derived:
        return Derived(self.choices, -self.table)

    # -- conditions (tables of 0/1) -------------------------------------------
    def __ge__(self, o: Any) -> Derived:
        return self._combine(o, lambda a, b: int(a >= b), "compare")

    def __gt__(self, o: Any) -> Derived:
        return self._combine(o, lambda a, b: int(a > b), "compare")

    def __le__(self, o: Any) -> Derived:
        return self._combine(o, lambda a, b: int(a <= b), "compare")

    def __lt__(self, o: Any) -> Derived:
        return self._combine(o, lambda a, b: int(a < b), "compare")

    def __eq__(self, o: Any) -> Derived:  # type: ignore[override]
        return self._combine(o, lambda a, b: int(a == b), "compare")

    def __ne__(self, o: Any) -> Derived:  # type: ignore[override]
        return self._combine(o, lambda a, b: int(a != b), "compare")

    def __and__(self, o: Any) -> Derived:
        return self._combine(o, lambda a, b: int(bool(a) and bool(b)), "and")

    def __or__(self, o: Any) -> Derived:
        return self._combine(o, lambda a, b: int(bool(a) or bool(b)), "or")

    def __invert__(self) -> Derived:
        return Derived(self.choices, (self.table == 0).astype(np.int64))

    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> bool:
        raise SpecError(
            "a choice-dependent value has no truth value while the space is declared: "
            "use Space.when(condition, x, body) for an optional block"
        )


class Choice(Derived):
    """One column of a candidate's row: which of ``options`` it takes.

    Used as a value, a choice stands for its option (an int); compared with
    ``==`` or :meth:`isin`, it gives a condition for :meth:`Space.when`.

    Attributes:
        name: the column's name (``space.choices`` lists them in column order).
        options: the option values (ints for attributes, any for op choices).
        column: its column in a row.
    """

    __slots__ = ("name", "options", "column", "numeric")

    def __init__(self, name: str, options: Sequence[Any], column: int) -> None:
        opts = tuple(options)
        if not opts:
            raise SpecError(f"choice {name!r} needs at least one option")
        if len(set(map(repr, opts))) != len(opts):
            raise SpecError(f"choice {name!r} has repeated options: {list(opts)}")
        self.name = name
        self.options = opts
        self.column = column
        numeric = all(isinstance(o, (int, np.integer)) and not isinstance(o, (bool, np.bool_)) for o in opts)
        # a choice of names (op choices) is a table of option indices: it can be compared, not computed with
        table = np.array([int(o) for o in opts] if numeric else range(len(opts)), dtype=np.int64)
        super().__init__((self,), table)
        self.numeric = numeric

    def __repr__(self) -> str:
        return f"Choice({self.name!r}, {list(self.options)!r})"

    def __len__(self) -> int:
        return len(self.options)

    def index(self, option: Any) -> int:
        """The index of an option value."""
        for i, o in enumerate(self.options):
            if type(o) is type(option) and o == option:
                return i
            if self.numeric and isinstance(option, (int, np.integer)) and o == option:
                return i
        raise SpecError(f"choice {self.name!r} has no option {option!r} (options: {list(self.options)})")

    def isin(self, options: Sequence[Any]) -> Derived:
        """1 where the choice takes one of ``options``, else 0."""
        wanted = {self.index(o) for o in options}
        return Derived((self,), np.array([int(i in wanted) for i in range(len(self.options))], dtype=np.int64))

    def _combine(self, other: Any, fn: Callable[[Any, Any], Any], what: str) -> Derived:
        if not self.numeric:
            raise SpecError(
                f"choice {self.name!r} has options that are not integers: compare it with == or isin(), "
                "or use it with Space.choose"
            )
        return super()._combine(other, fn, what)

    def __eq__(self, o: Any) -> Derived:  # type: ignore[override]
        if self.numeric:
            return super().__eq__(o)
        return self.isin([o])

    def __ne__(self, o: Any) -> Derived:  # type: ignore[override]
        return ~self.__eq__(o)

    __hash__ = None  # type: ignore[assignment]


def combine(fn: Callable[..., Any], *values: Derived) -> Derived:
    """A table over the union of the values' choices, ``fn`` applied to every combination.

    >>> from rfa_fast.space import Space
    >>> sp = Space("doc")
    >>> a, b = sp.choice("a", [1, 2]), sp.choice("b", [10, 20, 30])
    >>> combine(lambda x, y: x * y, a, b).table.tolist()
    [[10, 20, 30], [20, 40, 60]]
    """
    choices: list[Choice] = []
    for v in values:
        for c in v.choices:
            if all(c is not k for k in choices):
                choices.append(c)
    choices.sort(key=lambda c: c.column)
    shape = tuple(len(c.options) for c in choices)
    size = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if size > MAX_TABLE:
        names = ", ".join(c.name for c in choices)
        raise SpecError(f"a value over choices ({names}) needs a table of {size} entries, more than {MAX_TABLE}")
    pos = {id(c): i for i, c in enumerate(choices)}
    out = np.empty(shape, dtype=np.int64)
    for idx in np.ndindex(*shape) if shape else [()]:
        args = [int(v.table[tuple(idx[pos[id(c)]] for c in v.choices)]) for v in values]
        out[idx] = int(fn(*args))
    return Derived(choices, out)


class Computed:
    """A per-candidate integer computed from whole rows by a vectorized function.

    ``fn(rows)`` takes an int64 array [B, C] of choice indices and returns B
    integers, or, for one of several values computed together
    (:meth:`Space.computed_columns <rfa_fast.space.Space.computed_columns>`),
    an array [B, width] of which this value is column ``part``. It is
    evaluated for each screen in numpy, before the core runs, once per
    function (:func:`evaluate_computed`).

    Attributes:
        name: a label for error messages.
        fn: the function.
        index: its column among the space's computed columns.
        part, width: its column among ``fn``'s ``width`` columns (``part`` None: ``fn`` gives one value).
    """

    __slots__ = ("name", "fn", "index", "part", "width")

    def __init__(
        self, name: str, fn: Callable[[np.ndarray], Any], index: int, part: int | None = None, width: int = 1
    ) -> None:
        self.name = name
        self.fn = fn
        self.index = index
        self.part = part
        self.width = width

    def __repr__(self) -> str:
        return f"<Computed {self.name!r}>"

    def evaluate(self, rows: np.ndarray) -> np.ndarray:
        """int64 [B]: the values for rows [B, C]."""
        return self.pick(np.asarray(self.fn(rows)), rows.shape[0])

    def pick(self, out: np.ndarray, n: int) -> np.ndarray:
        """This value's int64 [n] from what ``fn`` returned for n rows (checked)."""
        shape = (n,) if self.part is None else (n, self.width)
        if out.shape != shape or out.dtype.kind not in "biu":
            want = "one integer per row" if self.part is None else f"an integer array {list(shape)} (one column each)"
            raise SpecError(f"computed value {self.name!r} must give {want} ({n} rows), got {out.dtype} {out.shape}")
        if self.part is not None:
            out = out[:, self.part]
        return out.astype(np.int64, copy=False)

    def at(self, row: Sequence[int] | np.ndarray) -> int:
        return int(self.evaluate(np.asarray(row, dtype=np.int64).reshape(1, -1))[0])

    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> bool:
        raise SpecError("a computed value has no truth value while the space is declared: use Space.when")


def evaluate_computed(computed: Sequence[Computed], rows: np.ndarray) -> np.ndarray:
    """int64 [B, len(computed)]: every computed value for rows [B, C], each function called once.

    Values computed together (one function, several columns) share one call.
    """
    out = np.empty((rows.shape[0], len(computed)), dtype=np.int64)
    results: dict[int, tuple[Callable[[np.ndarray], Any], np.ndarray]] = {}
    for j, c in enumerate(computed):
        got = results.get(id(c.fn))
        if got is None:
            got = results[id(c.fn)] = (c.fn, np.asarray(c.fn(rows)))  # the function is kept: its id stays its own
        out[:, j] = c.pick(got[1], rows.shape[0])
    return out


Value = Union[int, Derived, Computed]
"""What an integer attribute of a space's node may be."""


def value_at(v: Value, row: Sequence[int] | np.ndarray) -> int:
    """The value ``v`` takes for one candidate row."""
    if isinstance(v, (Derived, Computed)):
        return v.at(row)
    return int(v)


def is_value(v: Any) -> bool:
    """Is ``v`` a single value (not a per-axis tuple)?"""
    return isinstance(v, (Derived, Computed)) or (
        isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
    )
