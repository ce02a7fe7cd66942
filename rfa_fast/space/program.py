"""The core's program: a template as arrays (``csrc/rfa/program.hpp``).

:class:`ProgramBuilder` writes the arrays: nodes with their inputs and
scopes, and for every field of every node a *parameter*: a constant, a table
over some choice columns of a row, or a column of a per-candidate array.
:class:`CompiledProgram` holds the arrays and the compiled
``_core.Program`` made from them (rebuilt after unpickling, so a program
travels to Dask workers as plain arrays).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import _core
from ..errors import GraphError, SpecError
from .template import AXIS_FIELDS, NODE_DEFAULTS, NODE_FIELDS
from .values import Computed, Derived, Value, evaluate_computed

P_CONST, P_TABLE, P_COLUMN = 0, 1, 2


class ProgramBuilder:
    """Arrays of a program over rows with ``n_options[c]`` options in column c."""

    def __init__(self, dims: int, n_options: Sequence[int], column_width: Sequence[int] = ()) -> None:
        self.dims = dims
        self.n_options = [int(n) for n in n_options]
        self.column_width = [int(w) for w in column_width]
        self._params: list[tuple[int, int, int]] = []
        self._param_ids: dict[tuple[int, int, int], int] = {}
        self._keys: list[tuple[int, ...]] = []
        self._key_ids: dict[tuple[int, ...], int] = {}
        self._pool: list[np.ndarray] = []
        self._pool_len = 0
        self._tables: dict[tuple[int, bytes], int] = {}
        self.kind: list[int] = []
        self.inputs: list[tuple[int, ...]] = []
        self.scope: list[int] = []
        self.collapse: list[int] = []
        self.fields: list[list[int]] = []
        self.scale: list[tuple[float, ...]] = []
        self.resize_mode: list[int] = []
        self.scope_parent = [-1]
        self.scope_param = [-1]

    # -- parameters ----------------------------------------------------------
    def _param(self, kind: int, value: int, key: int) -> int:
        k = (kind, int(value), int(key))
        if k not in self._param_ids:
            self._param_ids[k] = len(self._params)
            self._params.append(k)
        return self._param_ids[k]

    def const(self, v: int) -> int:
        """A constant parameter."""
        return self._param(P_CONST, int(v), -1)

    def table(self, columns: Sequence[int], table: np.ndarray) -> int:
        """A parameter read from ``table`` at the row's indices in ``columns`` (one table axis each)."""
        cols = tuple(int(c) for c in columns)
        t = np.ascontiguousarray(table, dtype=np.int64)
        if not cols:
            return self.const(int(t))
        if t.shape != tuple(self.n_options[c] for c in cols):
            raise SpecError(f"a table over columns {cols} must have shape {[self.n_options[c] for c in cols]}")
        flat = t.ravel()
        if (flat == flat[0]).all():
            return self.const(int(flat[0]))
        if cols not in self._key_ids:
            self._key_ids[cols] = len(self._keys)
            self._keys.append(cols)
        key = self._key_ids[cols]
        tk = (key, flat.tobytes())
        if tk not in self._tables:
            self._tables[tk] = self._pool_len
            self._pool.append(flat)
            self._pool_len += len(flat)
        return self._param(P_TABLE, self._tables[tk], key)

    def column(self, array: int, col: int) -> int:
        """A parameter read from column ``col`` of per-candidate array ``array``."""
        return self._param(P_COLUMN, array, col)

    def consts(self, values: np.ndarray) -> np.ndarray:
        """Constant parameters for an array of values (their ids, same shape)."""
        uniq, inverse = np.unique(np.asarray(values, dtype=np.int64), return_inverse=True)
        ids = np.array([self.const(int(u)) for u in uniq], dtype=np.int32)
        return ids[inverse].reshape(np.shape(values))

    def columns(self, array: int, cols: np.ndarray) -> np.ndarray:
        """Column parameters for columns ``cols`` of per-candidate array ``array`` (their ids)."""
        return np.array([self.column(array, int(c)) for c in np.asarray(cols).ravel()], dtype=np.int32).reshape(
            np.shape(cols)
        )

    def value(self, v: Value, computed_array: int = 0) -> int:
        """The parameter of a space value (computed values live in array ``computed_array``)."""
        if isinstance(v, Derived):
            return self.table([c.column for c in v.choices], v.table)
        if isinstance(v, Computed):
            return self.column(computed_array, v.index)
        return self.const(int(v))

    # -- structure -------------------------------------------------------------
    def new_scope(self, parent: int, param: int) -> int:
        self.scope_parent.append(parent)
        self.scope_param.append(param)
        return len(self.scope_parent) - 1

    def node(
        self,
        kind: int,
        inputs: Sequence[int],
        *,
        scope: int = 0,
        axes: Mapping[str, Sequence[int]] | None = None,
        fields: Mapping[str, int] | None = None,
        scale: Sequence[float] | None = None,
        resize_mode: int = 0,
        collapse: bool = False,
    ) -> int:
        """Append a node; ``axes[f]`` (per-axis) and ``fields[f]`` are parameter ids, defaults for the rest."""
        row: list[int] = []
        axes = axes or {}
        fields = fields or {}
        for f in AXIS_FIELDS:
            ids = axes.get(f)
            unit = 0 if f.startswith("pad") else 1
            row += list(ids) if ids is not None else [self.const(unit)] * self.dims
        for f in NODE_FIELDS:
            row.append(fields[f] if f in fields else self.const(NODE_DEFAULTS[f]))
        self.kind.append(int(kind))
        self.inputs.append(tuple(int(i) for i in inputs))
        self.scope.append(int(scope))
        self.collapse.append(int(collapse))
        self.fields.append(row)
        self.scale.append(tuple(scale) if scale else (1.0,) * self.dims)
        self.resize_mode.append(int(resize_mode))
        return len(self.kind) - 1

    def nodes(self, kinds: np.ndarray, pred_ptr: np.ndarray, pred: np.ndarray, field_param: np.ndarray) -> None:
        """Append many nodes at once: kinds [n], their inputs (pred_ptr [n+1] into pred, indices among the
        program's nodes) and every field's parameter ([n, fields] in the order of :meth:`node`)."""
        n = len(kinds)
        for i in range(n):
            self.inputs.append(tuple(int(x) for x in pred[pred_ptr[i] : pred_ptr[i + 1]]))
        self.kind.extend(int(k) for k in kinds)
        self.scope.extend([0] * n)
        self.collapse.extend([0] * n)
        self.fields.extend(np.asarray(field_param, dtype=np.int64).tolist())
        self.scale.extend([(1.0,) * self.dims] * n)
        self.resize_mode.extend([0] * n)

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays ``_core.Program`` reads."""
        T = len(self.kind)
        counts = [len(i) for i in self.inputs]
        pred_ptr = np.zeros(T + 1, np.int64)
        np.cumsum(counts, out=pred_ptr[1:])
        key_ptr = np.zeros(len(self._keys) + 1, np.int64)
        np.cumsum([len(k) for k in self._keys], out=key_ptr[1:])
        key_col = [c for k in self._keys for c in k]
        key_mult: list[int] = []
        key_size: list[int] = []
        for k in self._keys:
            shape = [self.n_options[c] for c in k]
            mult = [int(np.prod(shape[j + 1 :], dtype=np.int64)) for j in range(len(shape))]
            key_mult += mult
            key_size.append(int(np.prod(shape, dtype=np.int64)))
        params = np.array(self._params, dtype=np.int64).reshape(-1, 3)
        return {
            "kind": np.array(self.kind, np.uint8),
            "pred_ptr": pred_ptr,
            "pred": np.array([i for ins in self.inputs for i in ins], np.int32),
            "collapse": np.array(self.collapse, np.uint8),
            "scope": np.array(self.scope, np.int32),
            "scope_parent": np.array(self.scope_parent, np.int32),
            "scope_param": np.array(self.scope_param, np.int32),
            "field_param": np.array(self.fields, np.int32).reshape(-1),
            "scale": np.array(self.scale, np.float64).reshape(-1),
            "resize_mode": np.array(self.resize_mode, np.uint8),
            "param_kind": params[:, 0].astype(np.uint8),
            "param_value": params[:, 1].copy(),
            "param_key": params[:, 2].astype(np.int32),
            "key_ptr": key_ptr,
            "key_col": np.array(key_col, np.int32),
            "key_mult": np.array(key_mult, np.int64),
            "key_size": np.array(key_size, np.int64),
            "pool": np.concatenate(self._pool) if self._pool else np.zeros(0, np.int64),
            "n_options": np.array(self.n_options, np.int64),
            "column_width": np.array(self.column_width, np.int64),
        }


class CompiledProgram:
    """A program's arrays and the core's compiled form of them.

    Attributes:
        arrays: what :meth:`ProgramBuilder.arrays` made.
        dims: spatial axes.
        node_names: a name per program node (for error messages).
        computed: the computed values whose columns :meth:`columns` evaluates.
    """

    def __init__(
        self,
        arrays: dict[str, np.ndarray],
        dims: int,
        node_names: Sequence[str],
        computed: Sequence[Computed] = (),
    ) -> None:
        self.arrays = arrays
        self.dims = dims
        self.node_names = list(node_names)
        self.computed = tuple(computed)
        self._core: Any = None

    @property
    def core(self) -> Any:
        """The ``_core.Program`` (checked and compiled on first use)."""
        if self._core is None:
            try:
                self._core = _core.Program(self.arrays, self.dims)
            except GraphError as e:
                if 0 <= e.node_index < len(self.node_names):
                    msg = str(e).replace(f"template node {e.node_index}", f"node {self.node_names[e.node_index]!r}")
                    raise SpecError(msg) from None
                raise SpecError(str(e)) from None
        return self._core

    def columns(self, rows: np.ndarray) -> list[np.ndarray]:
        """The per-candidate arrays the program reads for ``rows``: its computed values, if any."""
        if not self.computed:
            return []
        r = rows.astype(np.int64, copy=False)
        return [evaluate_computed(self.computed, r)]

    @property
    def lanes(self) -> bool:
        """Does the lane engine run it (no transposed convolution or resize in the template)?"""
        return bool(self.core.lanes)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_core"] = None  # rebuilt where it is unpickled
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
