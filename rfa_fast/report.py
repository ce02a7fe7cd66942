"""Report: one graph at one resolution, as a table a designer reads.

The numbers come from the core; this module only names, formats and
serializes them. ``Report.to_dict()`` follows DESIGN.md "Stable outputs".
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .graph import Graph
from .kinds import KIND_NAMES, Kind, Status


@dataclass(frozen=True)
class Layer:
    """One row of a :class:`Report` (per-axis values are tuples)."""

    index: int
    name: str
    op: str
    kind: str
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    rf_min: tuple[float, ...]
    rf_max: tuple[float, ...]
    jump: tuple[float, ...]
    center: tuple[float, ...]
    fmap: tuple[int, ...]
    status: str  # ok | critical | unproductive | border
    partially_critical: bool
    global_context: bool
    connected: bool
    aligned: bool
    params: int
    macs: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "op": self.op,
            "kind": self.kind,
            "kernel": list(self.kernel),
            "stride": list(self.stride),
            "dilation": list(self.dilation),
            "rf_min": [_num(v) for v in self.rf_min],
            "rf_max": [_num(v) for v in self.rf_max],
            "jump": [_num(v) for v in self.jump],
            "fmap": list(self.fmap),
            "status": self.status,
            "global_context": self.global_context,
            "params": self.params,
            "macs": self.macs,
        }


def _num(v: float) -> float | None:
    """inf stays inf (JSON: null); NaN (a disconnected node) becomes None."""
    return None if math.isnan(v) else float(v)


def _status_word(bits: int) -> str:
    if bits & Status.DEAD:
        return "dead"
    if bits & Status.BORDER:
        return "border"
    if bits & Status.UNPRODUCTIVE:
        return "unproductive"
    if bits & Status.CRITICAL:
        return "critical"
    return "ok"


def fmt_i_min(square: float, axes: tuple[float, ...] | list[float]) -> str:
    """The square I_min, with the per-axis values beside it when an axis alone differs.

    ``171, (239, 171)`` -> ``171 (per axis 239x171)``: the headline is the DESIGN's
    I_min (square resolutions); the per-axis values promise something else
    (each axis alone, docs/semantics.md) and are shown only when they add to it.
    """
    head = fmt_axes((square,))
    if all(v == square or (math.isnan(v) and math.isnan(square)) for v in axes):
        return head
    return f"{head} (per axis {fmt_axes(tuple(axes))})"


def describe_i_min(square: float, axes: tuple[float, ...] | list[float]) -> str:
    """I_min for a sentence: :func:`fmt_i_min`, or what a missing value means.

    >>> describe_i_min(math.inf, [math.inf, math.inf])
    'none up to 2^30 px (some layer is unproductive at every resolution)'
    >>> describe_i_min(math.nan, [math.nan, math.nan])
    'none (the output is not connected to the input)'
    """
    if math.isnan(square):
        return "none (the output is not connected to the input)"
    if math.isinf(square):
        return "none up to 2^30 px (some layer is unproductive at every resolution)"
    return fmt_i_min(square, axes)


def describe_i_max(axes: tuple[float, ...] | list[float]) -> str:
    """I_max for a sentence, or why there is none.

    >>> describe_i_max([435.0, 435.0]), describe_i_max([math.nan])
    ('435', 'none (no windowed layer with a finite field)')
    """
    if all(math.isnan(v) for v in axes):
        return "none (no windowed layer with a finite field)"
    return fmt_axes(tuple(axes))


def fmt_axes(values: tuple[Any, ...] | list[Any]) -> str:
    """``(3, 3)`` -> ``3``; ``(1, 7)`` -> ``1x7``; inf -> ``inf``."""
    parts = []
    for v in values:
        if isinstance(v, float):
            if math.isnan(v):
                parts.append("-")
            elif math.isinf(v):
                parts.append("inf")
            else:
                parts.append(str(int(v)) if v.is_integer() else f"{v:g}")
        else:
            parts.append(str(v))
    return parts[0] if len(set(parts)) == 1 else "x".join(parts)


def fmt_count(n: int) -> str:
    """Engineering notation for parameter and MAC counts: 1.8G, 11.7M."""
    for div, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.3g}{unit}"
    return str(n)


class Report:
    """One graph analyzed at one resolution.

    Attributes:
        model: the graph's name.
        resolution: the input size per spatial axis.
        layers: one :class:`Layer` per node, in topological order.
        summary: border layers, counts, I_min, I_max, final field, cost.
        raw: the core's arrays for this graph (see ``rfa_fast/_core.pyi``).
    """

    def __init__(self, graph: Graph, resolution: np.ndarray, raw: dict[str, np.ndarray]) -> None:
        self.graph = graph
        self.model = graph.name
        self.resolution = tuple(int(v) for v in resolution)
        self.raw = raw
        self._layers: list[Layer] | None = None
        border_bit = int(Status.BORDER)  # plain ints and tolist(): this runs once per analyze()
        nodes = graph.nodes
        self.summary: dict[str, Any] = {
            "border_layers": [nodes[i].name for i, s in enumerate(raw["status"][0].tolist()) if s & border_bit],
            "n_unproductive": int(raw["n_unproductive"][0, 0]),
            "i_min": raw["i_min_axes"][0].tolist(),
            "i_max": raw["i_max_axes"][0].tolist(),
            "rf_max": raw["graph_rf_max"][0].tolist(),
            "params": int(raw["params"][0]),
            "macs": int(raw["macs"][0, 0]),
            "macs_unproductive": int(raw["macs_unproductive"][0, 0]),
            "aligned": bool(raw["aligned"][0]),
            # the DESIGN's I_min (square resolutions); "i_min" above is per axis alone (docs/semantics.md)
            "i_min_square": float(raw["i_min"][0]),
            # dead nodes: no output reachable (appended last: the JSON keeps its order)
            "n_dead": int(raw["n_dead"][0]),
            "macs_dead": int(raw["macs_dead"][0, 0]),
        }

    @property
    def layers(self) -> list[Layer]:
        """One :class:`Layer` per node, in topological order (built on first use)."""
        if self._layers is None:
            self._layers = self._build_layers()
        return self._layers

    def _build_layers(self) -> list[Layer]:
        # One tolist() per array, not one numpy scalar per cell.
        raw, graph = self.raw, self.graph
        rf_min, rf_max = raw["rf_min"].tolist(), raw["rf_max"].tolist()
        jump, center, fmap = raw["jump"].tolist(), raw["center"].tolist(), raw["fmap"][0].tolist()
        status, macs = raw["status"][0].tolist(), raw["node_macs"][0].tolist()
        gctx, conn = raw["global_context"].tolist(), raw["node_connected"].tolist()
        aligned, params = raw["node_aligned"].tolist(), raw["node_params"].tolist()
        layers = []
        for i, node in enumerate(graph.nodes):
            bits = status[i]
            layers.append(
                Layer(
                    index=i,
                    name=node.name,
                    op=node.op,
                    kind=KIND_NAMES[node.kind],
                    kernel=node.kernel,
                    stride=node.stride,
                    dilation=node.dilation,
                    rf_min=tuple(rf_min[i]),
                    rf_max=tuple(rf_max[i]),
                    jump=tuple(jump[i]),
                    center=tuple(center[i]),
                    fmap=tuple(fmap[i]),
                    status=_status_word(bits),
                    partially_critical=bool(bits & Status.PARTIALLY_CRITICAL),
                    global_context=gctx[i],
                    connected=conn[i],
                    aligned=aligned[i],
                    params=params[i],
                    macs=macs[i],
                )
            )
        return layers

    # -- convenient views ------------------------------------------------
    @property
    def i_min(self) -> float:
        """The smallest square resolution with no unproductive layer."""
        return float(self.raw["i_min"][0])

    @property
    def unproductive(self) -> list[str]:
        """Names of the unproductive layers (border layers included)."""
        return [la.name for la in self.layers if la.status in ("unproductive", "border")]

    @property
    def critical(self) -> list[str]:
        return [la.name for la in self.layers if la.status == "critical"]

    @property
    def partially_critical(self) -> list[str]:
        return [la.name for la in self.layers if la.partially_critical]

    @property
    def dead(self) -> list[str]:
        """Names of the dead nodes: no graph output is reachable from them."""
        return [la.name for la in self.layers if la.status == "dead"]

    @property
    def misaligned(self) -> list[str]:
        """Merges whose inputs disagree on jump or center (a warning)."""
        return [la.name for la in self.layers if not la.aligned]

    @property
    def macs_unproductive_share(self) -> float:
        """Share of the MACs spent in unproductive layers (0 when unknown)."""
        total = self.summary["macs"]
        return self.summary["macs_unproductive"] / total if total else 0.0

    def layer(self, name: str) -> Layer:
        for la in self.layers:
            if la.name == name:
                return la
        raise KeyError(f"no layer named {name!r} in {self.model!r}")

    # -- serialization ---------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The stable form of DESIGN.md: inf stays ``float('inf')``."""
        s = dict(self.summary)
        for key in ("i_min", "i_max", "rf_max"):
            s[key] = [_num(v) for v in s[key]]
        return {
            "model": self.model,
            "resolution": list(self.resolution),
            "layers": [la.to_dict() for la in self.layers],
            "summary": s,
        }

    def to_json(self, **kwargs: Any) -> str:
        """JSON text; infinite values become ``null``."""
        return json.dumps(_inf_to_none(self.to_dict()), allow_nan=False, **kwargs)

    def to_pandas(self) -> Any:
        """The layer table as a pandas DataFrame (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("Report.to_pandas() needs pandas: pip install pandas") from e
        return pd.DataFrame([la.to_dict() for la in self.layers])

    # -- display -----------------------------------------------------------
    def table_rows(self) -> list[list[str]]:
        rows = []
        for la in self.layers:
            windowed = la.kind in ("window", "transposed")
            status = la.status
            if status == "ok" and la.partially_critical:
                status = "partial"
            rows.append(
                [
                    la.name,
                    la.op,
                    fmt_axes(la.kernel) if windowed else "",
                    fmt_axes(la.stride) if windowed else "",
                    fmt_axes(la.dilation) if windowed and any(d != 1 for d in la.dilation) else "",
                    fmt_axes(la.rf_min),
                    fmt_axes(la.rf_max),
                    fmt_axes(la.jump),
                    fmt_axes(la.fmap),
                    fmt_count(la.macs) if la.macs else "",
                    status + ("+g" if la.global_context else ""),
                ]
            )
        return rows

    HEADER = ["layer", "op", "k", "s", "d", "rf_min", "rf_max", "jump", "fmap", "macs", "status"]

    def summary_line(self) -> str:
        s = self.summary
        border = ", ".join(s["border_layers"]) or "none"
        parts = [
            f"border layers: {border}",
            f"unproductive: {s['n_unproductive']}",
            # two fields, not a range: I_min may exceed I_max, and either may be missing
            f"I_min: {describe_i_min(s['i_min_square'], s['i_min'])}",
            f"I_max: {describe_i_max(s['i_max'])}",
            f"rf_max: {fmt_axes(tuple(s['rf_max']))}",
        ]
        if s["macs"]:
            parts.append(
                f"MACs past the border: {fmt_count(s['macs_unproductive'])} of {fmt_count(s['macs'])} "
                f"({100 * self.macs_unproductive_share:.0f}%)"
            )
        if s["n_dead"]:
            macs = f" ({fmt_count(s['macs_dead'])} MACs)" if s["macs_dead"] else ""
            parts.append(f"dead (no output reachable): {s['n_dead']}{macs}")
        if not s["aligned"]:
            parts.append(f"misaligned merges: {', '.join(self.misaligned)}")
        return "; ".join(parts)

    def __str__(self) -> str:
        rows = self.table_rows()
        widths = [max(len(h), *(len(r[c]) for r in rows)) if rows else len(h) for c, h in enumerate(self.HEADER)]
        widths[0] = min(widths[0], 48)

        def line(cells: list[str]) -> str:
            out = []
            for c, (cell, w) in enumerate(zip(cells, widths)):
                if c == 0 and len(cell) > w:
                    cell = "…" + cell[-(w - 1) :]
                out.append(cell.ljust(w) if c < 2 or c == len(cells) - 1 else cell.rjust(w))
            return "  ".join(out).rstrip()

        res = fmt_axes(self.resolution)
        head = f"{self.model} at {res} px ({len(self.layers)} layers)"
        body = [line(self.HEADER), line(["-" * w for w in widths])] + [line(r) for r in rows]
        return "\n".join([head, *body, self.summary_line()])

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"<Report {self.model!r} at {fmt_axes(self.resolution)}: {s['n_unproductive']} unproductive, "
            f"border {s['border_layers']}, i_min {fmt_axes(tuple(s['i_min']))}>"
        )

    def _repr_html_(self) -> str:
        """Jupyter's rich display: summary, receptive-field plot and the table coloured by status.

        Self-contained (inline SVG, no script, styles scoped under
        ``.rfa-nb``); see :func:`rfa_fast.notebook.report_html`.
        """
        from .notebook import report_html

        return report_html(self)


def _inf_to_none(obj: Any) -> Any:
    if isinstance(obj, float) and (math.isinf(obj) or math.isnan(obj)):
        return None
    if isinstance(obj, dict):
        return {k: _inf_to_none(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_inf_to_none(v) for v in obj]
    return obj


__all__ = ["Layer", "Report", "Kind"]
