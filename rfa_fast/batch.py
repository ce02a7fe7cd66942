"""GraphBatch: many graphs packed into one struct of arrays for the core.

The core never sees Python objects: a batch is the arrays of DESIGN.md
("Data model"), graphs concatenated, nodes of each graph contiguous and in
topological order, edges as global node indices.

>>> from rfa_fast import Graph, GraphBatch
>>> specs = [[{"op": "input"}, {"op": "conv", "kernel": k}] for k in (3, 5)]
>>> batch = GraphBatch.from_specs(specs)
>>> len(batch), batch.n_nodes
(2, 4)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .errors import SpecError
from .graph import ARRAY_NAMES, Graph, _pack_graphs, spec_outputs

_DTYPES: dict[str, Any] = {
    "graph_ptr": np.int64,
    "op": np.uint8,
    "kernel": np.int32,
    "stride": np.int32,
    "dilation": np.int32,
    "pad_begin": np.int32,
    "pad_end": np.int32,
    "pad_mode": np.uint8,
    "ceil_mode": np.uint8,
    "scale": np.float64,
    "mode": np.uint8,
    "weighted": np.uint8,
    "c_in": np.int64,
    "c_out": np.int64,
    "groups": np.int64,
    "pred_ptr": np.int64,
    "pred": np.int32,
    "output": np.uint8,  # optional: 1 on each graph's outputs (default: its last node)
}


class GraphBatch:
    """B graphs as one set of arrays; what :func:`rfa_fast.screen` reads.

    Attributes:
        arrays: dict of the core's arrays (see DESIGN.md for shapes/dtypes).
        dims: number of spatial axes.
        names: one label per graph.
        graphs: the :class:`Graph` objects packed (``from_graphs``), else
            ``None``; read only to name a node in an error.
    """

    def __init__(self, arrays: dict[str, np.ndarray], *, names: Sequence[str] | None = None) -> None:
        missing = [k for k in ARRAY_NAMES if k not in arrays]
        if missing:
            raise SpecError(f"batch arrays are missing {missing}")
        self.arrays = arrays
        self.dims = int(arrays["kernel"].shape[1]) if arrays["kernel"].ndim == 2 else 0
        n_graphs = len(arrays["graph_ptr"]) - 1
        self.names = list(names) if names is not None else [f"graph_{b}" for b in range(n_graphs)]
        self.graphs: list[Graph] | None = None

    @classmethod
    def from_arrays(cls, names: Sequence[str] | None = None, **arrays: Any) -> GraphBatch:
        """Wrap user-made arrays (converted to the core's dtypes; the core validates them)."""
        conv = {k: np.ascontiguousarray(v, dtype=_DTYPES[k]) if k in _DTYPES else v for k, v in arrays.items()}
        return cls(conv, names=names)

    @classmethod
    def from_graphs(cls, graphs: Iterable[Graph]) -> GraphBatch:
        """Pack :class:`Graph` objects (all with the same number of spatial axes)."""
        gs = list(graphs)
        batch = cls(_pack_graphs(gs), names=[g.name for g in gs])
        batch.graphs = gs
        return batch

    @classmethod
    def from_specs(cls, specs: Iterable[Any], *, dims: int | None = None) -> GraphBatch:
        """Pack JSON-able candidate specs (see :meth:`Graph.from_spec`).

        Errors name the candidate and layer at fault (:class:`SpecError`).
        """
        try:
            from ._pack import pack_specs  # compiled packer
        except ImportError:  # pragma: no cover - the build always ships it
            pack_specs = None
        specs = list(specs)
        if pack_specs is not None:
            arrays, names = pack_specs(specs, dims)
            output = _spec_output_marks(specs, arrays["graph_ptr"])
            if output is not None:
                arrays["output"] = output
            return cls(arrays, names=names)
        graphs = [Graph.from_spec(s, index=i) for i, s in enumerate(specs)]
        return cls.from_graphs(graphs)

    def __len__(self) -> int:
        return len(self.arrays["graph_ptr"]) - 1

    @property
    def n_nodes(self) -> int:
        return int(self.arrays["graph_ptr"][-1])

    def __repr__(self) -> str:
        return f"GraphBatch({len(self)} graphs, {self.n_nodes} nodes, dims={self.dims})"


def _spec_output_marks(specs: Sequence[Any], graph_ptr: np.ndarray) -> np.ndarray | None:
    """uint8 [N]: 1 on the ``outputs`` the specs name (None when none does: last layers are the outputs)."""
    if not any(isinstance(s, dict) and s.get("outputs") is not None for s in specs):
        return None
    starts = graph_ptr.tolist()
    out = np.zeros(starts[-1], np.uint8)
    for b, spec in enumerate(specs):
        n = starts[b + 1] - starts[b]
        outs = spec_outputs(spec, n, b)
        out[[starts[b] + o for o in outs] if outs is not None else [starts[b + 1] - 1]] = 1
    return out
