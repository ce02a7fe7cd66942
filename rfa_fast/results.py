"""ScreenResult: per-graph numpy arrays from one screen of a batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class ScreenResult:
    """Results of :func:`rfa_fast.screen` / :func:`rfa_fast.screen_chains`.

    Arrays (B graphs, R resolutions, D spatial axes):

    - ``n_unproductive``, ``n_border``, ``n_critical``,
      ``n_partially_critical``, ``macs``, ``macs_unproductive``: int64 [B, R]
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
    - ``resolutions``: int64 [R, D], the resolutions of the columns
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

    def __init__(self, raw: dict[str, np.ndarray], resolutions: np.ndarray, names: Sequence[str] | None) -> None:
        for f in self.FIELDS:
            setattr(self, f, raw["graph_rf_max"] if f == "rf_max" else raw[f])
        self.resolutions = resolutions
        self.names = list(names) if names is not None else None

    @classmethod
    def concatenate(cls, parts: Sequence[ScreenResult]) -> ScreenResult:
        """One result holding the graphs of ``parts`` in order (all screened at the same resolutions).

        >>> import rfa_fast
        >>> a = rfa_fast.screen_chains([[3] * 4], [[1] * 4], resolutions=[8, 16])
        >>> b = rfa_fast.screen_chains([[3] * 4] * 2, [[2] * 4] * 2, resolutions=[8, 16])
        >>> ScreenResult.concatenate([a, b]).n_unproductive.tolist()
        [[0, 0], [2, 1], [2, 1]]
        """
        if not parts:
            raise ValueError("nothing to concatenate")
        first = parts[0]
        for i, p in enumerate(parts[1:], start=1):
            if not np.array_equal(p.resolutions, first.resolutions):
                raise ValueError(
                    f"part {i} was screened at {p.resolutions.tolist()}, part 0 at {first.resolutions.tolist()}"
                )
            if p.rf_max.shape[1:] != first.rf_max.shape[1:]:
                raise ValueError(f"part {i} has {p.rf_max.shape[1]} spatial axes, part 0 has {first.rf_max.shape[1]}")
        raw = {
            ("graph_rf_max" if f == "rf_max" else f): np.concatenate([getattr(p, f) for p in parts]) for f in cls.FIELDS
        }
        names = None if any(p.names is None for p in parts) else [n for p in parts for n in (p.names or [])]
        return ScreenResult(raw, first.resolutions, names)

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
            share = np.divide(self.macs_unproductive[:, column], total, out=np.zeros_like(total), where=total > 0)
            m &= share <= max_macs_unproductive_share
        if require_aligned:
            m &= self.aligned
        return m

    def to_dict(self) -> dict[str, Any]:
        """Plain lists (JSON-able except inf/NaN)."""
        d: dict[str, Any] = {f: getattr(self, f).tolist() for f in self.FIELDS}
        d["resolutions"] = self.resolutions.tolist()
        if self.names is not None:
            d["names"] = list(self.names)
        return d

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
        cols["n_dead"] = self.n_dead  # appended last: the older columns keep their places
        for c, tag in enumerate(tags):
            cols[f"macs_dead@{tag}"] = self.macs_dead[:, c]
        return pd.DataFrame(cols)
