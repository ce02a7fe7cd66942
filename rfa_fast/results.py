"""ScreenResult: per-graph numpy arrays from one screen of a batch."""

from __future__ import annotations

import gc
import io
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

import numpy as np

from ._progress import progress_bar


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: lists of numbers hold no cycles, and passes over 10^8 of them cost."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _json_ready(value: Any) -> Any:
    """Nested lists of a numpy array (or a list as it is) with inf and NaN as ``None``, for JSON's ``null``.

    Only float arrays with a non-finite entry take the slower object route; every mask and
    replacement is one numpy operation, not a Python loop per candidate.
    """
    if not isinstance(value, np.ndarray):
        return value
    if value.dtype.kind == "f" and not np.isfinite(value).all():
        obj = value.astype(object)
        obj[~np.isfinite(value)] = None
        return obj.tolist()
    return value.tolist()


class ScreenResult:
    """Results of :func:`rfa_fast.screen` / :func:`rfa_fast.screen_chains`.

    Arrays (B graphs, R resolutions, D spatial axes):

    - ``n_unproductive``, ``n_border``, ``n_critical``,
      ``n_partially_critical``, ``macs``, ``macs_unproductive``: int64 [B, R]
      (``macs``, ``macs_unproductive`` and ``params`` are ``object`` arrays of
      exact Python ints when some graph's count exceeds int64: never saturated)
    - ``i_min``: float64 [B], the smallest square resolution with no
      unproductive layer (``inf``: none up to 2^30; NaN: disconnected)
    - ``i_min_axes``, ``i_max_axes``: float64 [B, D]; ``i_max``: float64 [B]
    - ``rf_max``: float64 [B, D], the largest finite field in each graph
    - ``connected``, ``aligned``: bool [B]; ``params``: int64 [B]
    - ``n_dead``: int64 [B], the dead convolutions and pools (connected
      WINDOW/TRANSPOSED nodes from which no graph output is reachable);
      ``macs_dead``: int64 [B, R], the MACs of every dead node (part of
      ``macs``). Dead nodes take no part in the other counts, I_min, I_max
      and ``rf_max``.
    - ``dims``: int64 [B], each graph's number of spatial axes (a read-only
      view when every graph has the same)
    - ``resolutions``: int64 [R, D], the resolutions of the columns

    A batch may mix graphs of 1, 2 and 3 spatial axes (docs/screening.md,
    "Mixed dimensionality"): D is then the largest, graph ``b`` fills the
    first ``dims[b]`` columns of the per-axis arrays and the rest are NaN,
    and every resolution is square (the same size on every axis).
    """

    n_unproductive: np.ndarray
    n_border: np.ndarray
    n_critical: np.ndarray
    n_partially_critical: np.ndarray
    macs: np.ndarray
    macs_unproductive: np.ndarray
    i_min: np.ndarray
    i_min_axes: np.ndarray
    i_max: np.ndarray
    i_max_axes: np.ndarray
    rf_max: np.ndarray
    connected: np.ndarray
    aligned: np.ndarray
    params: np.ndarray
    n_dead: np.ndarray
    macs_dead: np.ndarray

    FIELDS = (
        "n_unproductive",
        "n_border",
        "n_critical",
        "n_partially_critical",
        "macs",
        "macs_unproductive",
        "i_min",
        "i_min_axes",
        "i_max",
        "i_max_axes",
        "rf_max",
        "connected",
        "aligned",
        "params",
        "n_dead",
        "macs_dead",
    )
    PER_RESOLUTION = (
        "n_unproductive",
        "n_border",
        "n_critical",
        "n_partially_critical",
        "macs",
        "macs_unproductive",
        "macs_dead",
    )
    """The fields shaped [B, R]."""
    PER_AXIS = ("i_min_axes", "i_max_axes", "rf_max")
    """The fields shaped [B, D] (float64: NaN pads the axes a graph does not have)."""

    def __init__(self, raw: dict[str, np.ndarray], resolutions: np.ndarray, names: Sequence[str] | None) -> None:
        for f in self.FIELDS:
            setattr(self, f, raw["graph_rf_max"] if f == "rf_max" else raw[f])
        dims = raw.get("dims")
        self._dims = None if dims is None else np.asarray(dims, np.int64)
        self.resolutions = resolutions
        self.names = list(names) if names is not None else None

    @property
    def dims(self) -> np.ndarray:
        """int64 [B]: each graph's number of spatial axes (see the class docstring)."""
        if self._dims is None:
            # one D for all, made on first use: a read-only view, no 8 bytes per candidate (10^7 rows:
            # 76 MiB) and nothing for a search loop's one-row call that never reads it
            self._dims = np.broadcast_to(np.int64(self.rf_max.shape[1]), (len(self.i_min),))
        return self._dims

    @classmethod
    def concatenate(cls, parts: Sequence[ScreenResult]) -> ScreenResult:
        """One result holding the graphs of ``parts`` in order (all screened at the same resolutions).

        Parts with different numbers of spatial axes join when every
        resolution is square and the same in all of them: the per-axis arrays
        are padded with NaN to the largest D (``dims`` keeps each graph's).

        >>> import rfa_fast
        >>> a = rfa_fast.screen_chains([[3] * 4], [[1] * 4], resolutions=[8, 16])
        >>> b = rfa_fast.screen_chains([[3] * 4] * 2, [[2] * 4] * 2, resolutions=[8, 16])
        >>> ScreenResult.concatenate([a, b]).n_unproductive.tolist()
        [[0, 0], [2, 1], [2, 1]]
        >>> c = rfa_fast.screen_chains([[3] * 4], [[2] * 4], resolutions=[8, 16], dims=1)
        >>> both = ScreenResult.concatenate([a, c])
        >>> both.dims.tolist(), both.rf_max.tolist()
        ([2, 1], [[9.0, 9.0], [31.0, nan]])
        """
        if not parts:
            raise ValueError("nothing to concatenate")
        resolutions = _common_resolutions([p.resolutions for p in parts], "part")
        D = int(resolutions.shape[1])
        raw = {
            ("graph_rf_max" if f == "rf_max" else f): np.concatenate(
                [pad_axes(getattr(p, f), D) if f in cls.PER_AXIS else getattr(p, f) for p in parts]
            )
            for f in cls.FIELDS
        }
        raw["dims"] = np.concatenate([p.dims for p in parts])
        names = None if any(p.names is None for p in parts) else [n for p in parts for n in (p.names or [])]
        return ScreenResult(raw, resolutions, names)

    @property
    def mixed(self) -> bool:
        """Whether the graphs have different numbers of spatial axes."""
        return bool(len(self.dims)) and bool((self.dims != self.dims[0]).any())

    def __len__(self) -> int:
        return int(self.i_min.shape[0])

    def __repr__(self) -> str:
        ok = int(self.productive().sum())
        res = [tuple(int(x) for x in r) for r in self.resolutions]
        return f"<ScreenResult {len(self)} graphs at {res}: {ok} without unproductive layers at {res[0]}>"

    def _repr_html_(self) -> str:
        """Jupyter's rich display: counts per resolution, I_min/I_max/rf_max ranges and the first rows.

        Fast for any size: only the first rows are converted, the summary is
        vectorized numpy (see :func:`rfa_fast.notebook.screen_html`).
        """
        from .notebook import screen_html

        return screen_html(self)

    def _col(self, resolution: int | None) -> int:
        return 0 if resolution is None else int(resolution)

    def productive(self, column: int | None = None) -> np.ndarray:
        """bool [B]: connected and no unproductive layer at resolution column ``column``."""
        return self.connected & (self.n_unproductive[:, self._col(column)] == 0)

    def mask(
        self,
        *,
        column: int = 0,
        max_unproductive: int | None = 0,
        max_border: int | None = None,
        i_min_at_most: float | None = None,
        i_max_at_least: float | None = None,
        max_macs_unproductive_share: float | None = None,
        require_aligned: bool = False,
    ) -> np.ndarray:
        """bool [B] for a user's criteria (all must hold; None disables one).

        >>> import rfa_fast
        >>> r = rfa_fast.screen_chains([[3] * 6, [3] * 6], [[1] * 6, [2] * 6], resolutions=32)
        >>> r.mask(max_unproductive=0).tolist()
        [True, False]
        """
        m = self.connected.copy()
        if max_unproductive is not None:
            m &= self.n_unproductive[:, column] <= max_unproductive
        if max_border is not None:
            m &= self.n_border[:, column] <= max_border
        if i_min_at_most is not None:
            m &= self.i_min <= i_min_at_most
        if i_max_at_least is not None:
            m &= self.i_max >= i_max_at_least
        if max_macs_unproductive_share is not None:
            total = self.macs[:, column].astype(np.float64)
            past = self.macs_unproductive[:, column].astype(np.float64)
            share = np.divide(past, total, out=np.zeros_like(total), where=total > 0)
            m &= share <= max_macs_unproductive_share
        if require_aligned:
            m &= self.aligned
        return m

    def to_dict(self, *, progress: bool | None = None) -> dict[str, Any]:
        """Plain lists (JSON-able except inf/NaN): one key per field of ``FIELDS``, ``dims``, ``resolutions``, ``names``.

        Column by column (``ndarray.tolist``, no Python loop per candidate),
        with the garbage collector paused: 10^7 candidates make about 10^8
        list and number objects, and the collector's passes over them, not
        their creation, were most of the time (7.1 s against 2.0 s for 10^6
        candidates; bench/test_bench_results.py).  ``progress`` draws one step per field (see
        :func:`rfa_fast._progress.progress_bar`).

        >>> import rfa_fast
        >>> r = rfa_fast.screen_chains([[3] * 4, [5] * 4], [[2] * 4, [1] * 4], resolutions=[8])
        >>> d = r.to_dict()
        >>> d["n_unproductive"], d["i_min"], d["resolutions"]
        ([[2], [2]], [25.0, 14.0], [[8, 8]])
        """
        d: dict[str, Any] = {}
        with _gc_paused(), progress_bar(progress, total=len(self.FIELDS), desc="to_dict", unit="field") as bar:
            for f in self.FIELDS:
                d[f] = getattr(self, f).tolist()
                bar.update(1)
            d["dims"] = self.dims.tolist()
        d["resolutions"] = self.resolutions.tolist()
        if self.names is not None:
            d["names"] = list(self.names)
        return d

    def to_json(self, fp: TextIO | None = None, *, progress: bool | None = None) -> str | None:
        """JSON text of :meth:`to_dict`, infinite and NaN values as ``null``; written to ``fp`` if given.

        The text is ``json.dumps`` of the dict with non-finite floats replaced
        by ``None`` (the same convention as :meth:`Report.to_json`), written
        field by field: with ``fp``, only one field's lists exist at a time.

        >>> import rfa_fast
        >>> r = rfa_fast.screen_chains([[3] * 2], [[1] * 2], resolutions=[8])
        >>> r.i_min[:] = float("inf")
        >>> r.to_json()[:40]
        '{"n_unproductive": [[0]], "n_border": [['
        >>> '"i_min": [null]' in r.to_json()
        True
        """
        buffer = io.StringIO()
        out = buffer if fp is None else fp
        keys: list[tuple[str, Any]] = [(f, getattr(self, f)) for f in self.FIELDS]
        keys.append(("dims", self.dims))
        keys.append(("resolutions", self.resolutions))
        if self.names is not None:
            keys.append(("names", list(self.names)))
        with _gc_paused(), progress_bar(progress, total=len(keys), desc="to_json", unit="field") as bar:
            for i, (key, value) in enumerate(keys):
                out.write(("{" if i == 0 else ", ") + json.dumps(key) + ": ")
                out.write(json.dumps(_json_ready(value), allow_nan=False))
                bar.update(1)
        out.write("}")
        return buffer.getvalue() if fp is None else None

    def to_pandas(self) -> Any:
        """One row per graph; per-resolution columns suffixed ``@HxW`` (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("ScreenResult.to_pandas() needs pandas: pip install pandas") from e
        cols: dict[str, Any] = {}
        if self.names is not None:
            cols["name"] = self.names
        tags = ["x".join(str(int(x)) for x in r) for r in self.resolutions]
        for f in ("n_unproductive", "n_border", "n_critical", "macs", "macs_unproductive"):
            arr = getattr(self, f)
            for c, tag in enumerate(tags):
                cols[f"{f}@{tag}"] = arr[:, c]
        cols["i_min"] = self.i_min
        cols["i_max"] = self.i_max
        for d in range(self.rf_max.shape[1]):
            cols[f"rf_max_{d}"] = self.rf_max[:, d]
        cols["connected"] = self.connected
        cols["aligned"] = self.aligned
        cols["params"] = self.params
        cols["dims"] = self.dims
        cols["n_dead"] = self.n_dead  # appended last: the older columns keep their places
        for c, tag in enumerate(tags):
            cols[f"macs_dead@{tag}"] = self.macs_dead[:, c]
        return pd.DataFrame(cols)


def pad_axes(a: np.ndarray, dims: int) -> np.ndarray:
    """A float [B, d] array widened to [B, dims] with NaN (the axes a graph does not have).

    >>> pad_axes(np.array([[3.0]]), 2).tolist()
    [[3.0, nan]]
    """
    if a.shape[1] == dims:
        return a
    out = np.full((a.shape[0], dims), np.nan)
    out[:, : a.shape[1]] = a
    return out


def _common_resolutions(arrays: Sequence[np.ndarray], what: str) -> np.ndarray:
    """The [R, D] resolutions shared by results of possibly different D (square sizes, D the largest).

    Raises ValueError naming the first ``what`` whose resolutions differ.
    """
    first = arrays[0]
    if all(a.shape == first.shape for a in arrays) and all(np.array_equal(a, first) for a in arrays):
        return first
    D = max(a.shape[1] for a in arrays)
    for i, a in enumerate(arrays):
        square = a.shape[0] == first.shape[0] and bool((a == a[:, :1]).all()) and bool((first == first[:, :1]).all())
        if not square or not np.array_equal(a[:, 0], first[:, 0]):
            raise ValueError(f"{what} {i} was screened at {a.tolist()}, {what} 0 at {first.tolist()}")
    return np.repeat(first[:, :1], D, axis=1)
