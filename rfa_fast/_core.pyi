"""Type stubs of the compiled core (csrc/bindings.cpp).

The core reads a packed batch (DESIGN.md, "Data model") and returns numpy
arrays.  It validates every array before use and raises
:class:`rfa_fast.errors.GraphError` naming the graph and node at fault.
"""

from typing import Any

import numpy as np
import numpy.typing as npt

def analyze_batch(
    arrays: dict[str, np.ndarray],
    resolutions: npt.NDArray[np.int64],
    ignore_1x1: bool = False,
    threads: int = 0,
    per_node: bool = False,
    i_min: bool = True,
    force_passes: bool = False,
) -> dict[str, np.ndarray]:
    """Propagate receptive fields over every graph and evaluate at each resolution.

    ``force_passes`` (for tests) skips the per-node thresholds: one pass per
    resolution and a bisection for I_min, the fallback for tangled graphs.

    ``resolutions`` is ``[R, D]`` (one row per resolution, one column per
    spatial axis).  ``threads=0`` uses every core.  The GIL is released for the
    whole computation.

    Per graph (always): ``n_unproductive``, ``n_border``, ``n_critical``,
    ``n_partially_critical``, ``macs``, ``macs_unproductive`` (int64 [B, R]);
    ``i_min`` (float64 [B], square), ``i_min_axes``, ``i_max_axes``,
    ``graph_rf_max`` (float64 [B, D]), ``i_max`` (float64 [B]), ``connected``,
    ``aligned`` (bool [B]), ``params`` (int64 [B]), ``n_dead`` (int64 [B]),
    ``macs_dead`` (int64 [B, R]).

    ``arrays`` may hold ``output`` (uint8 [N], 1 on each graph's outputs);
    without it the last node of each graph is its output.

    Per node (``per_node=True``): ``rf_min``, ``rf_max``, ``jump``, ``center``
    (float64 [N, D]); ``node_connected``, ``is_global``, ``global_context``,
    ``node_aligned`` (bool [N]); ``node_params`` (int64 [N]);
    ``fmap`` (int64 [R, N, D]); ``status`` (uint8 [R, N], bit flags of
    :class:`rfa_fast.kinds.Status`); ``node_macs`` (int64 [R, N]).
    """

def screen_nb201(
    ops: npt.NDArray[np.uint8],
    resolutions: npt.NDArray[np.int64],
    channels: npt.NDArray[np.int64],
    num_classes: int,
    cells_per_stage: int,
    ignore_1x1: bool = False,
    threads: int = 0,
    i_min: bool = True,
) -> dict[str, np.ndarray]:
    """NAS-Bench-201 networks in closed form: ``ops`` [B, 6] op indices, ``resolutions`` [R, 1] square.

    Returns the per-graph arrays of :func:`analyze_batch` (two axes) for the
    networks :func:`rfa_fast.nas.nb201_batch` would pack.
    """

def hardware_threads() -> int: ...
def lane_isa() -> str:
    """The instruction set the lane engine uses here: "avx512", "avx2" or "generic" (``RFA_FAST_LANES`` picks)."""

class Program:
    """A compiled search space (``csrc/rfa/program.hpp``), made from the arrays of
    :meth:`rfa_fast.space.program.ProgramBuilder.arrays`; checked when made."""

    def __init__(self, arrays: dict[str, np.ndarray], dims: int) -> None: ...
    def screen(
        self,
        rows: np.ndarray,
        columns: list[np.ndarray],
        resolutions: npt.NDArray[np.int64],
        ignore_1x1: bool = False,
        threads: int = 0,
        i_min: bool = True,
    ) -> dict[str, np.ndarray]:
        """The per-graph arrays of :func:`analyze_batch` for the candidates ``rows`` [B, C]
        (uint8, int32 or int64 choice indices) and their ``columns`` arrays [B, width], plus
        ``materialized`` (bool [B]: answered by the general engine, not the lanes)."""
    def materialize(self, rows: np.ndarray, columns: list[np.ndarray], candidate: int) -> dict[str, np.ndarray]:
        """Candidate ``candidate`` as one graph's batch arrays, plus ``origin`` (its template node per node)."""
    @property
    def lanes(self) -> bool: ...
    @property
    def isotropic(self) -> bool: ...
    @property
    def slots(self) -> int: ...

__all__: Any
