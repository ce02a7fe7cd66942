"""The same screen, sharded over a Dask cluster (``pip install "rfa_fast[dask]"``).

Items (specs, :class:`~rfa_fast.graph.Graph` objects or ONNX paths) are cut
into chunks; each chunk is one task that packs and screens it on a worker, a
pure function of its inputs.  Results come back keyed by chunk index and are
joined in order, so the answer is exactly the local one:

>>> from dask.distributed import Client, LocalCluster          # doctest: +SKIP
>>> client = Client(LocalCluster(n_workers=2, processes=True))  # doctest: +SKIP
>>> specs = [[{"op": "input"}] + [{"op": "conv", "kernel": 3, "stride": s}] * 4 for s in (1, 2)] * 50_000
>>> r = screen_distributed(client, specs, [32, 224], chunk_size=10_000)  # doctest: +SKIP
>>> r.n_unproductive[:2].tolist()                               # doctest: +SKIP
[[0, 0], [2, 0]]

A worker that dies mid-run loses nothing: the scheduler runs its chunks again
elsewhere (and ``retries`` covers exceptions), and since each chunk has one
key and one slot in the output, none is counted twice.

The candidates of a :class:`~rfa_fast.Space` go the same way, lighter: the
compiled space is sent to each worker once, and each task gets only a chunk
of rows (:func:`screen_space_distributed`). Rows may be a ``dask.array``:
then the screen is lazy, block by block (``map_blocks``), and 10^9 sampled
candidates never sit in one process.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterable, Iterator, Sized
from typing import Any

import numpy as np

from ._costs import make_screen_exact
from ._progress import progress_bar
from .errors import GraphError, RfaError, SpecError
from .graph import Graph
from .results import ScreenResult

DEFAULT_CHUNK = {"spec": 10_000, "graph": 10_000, "onnx": 8}
"""Items per task: specs pack in microseconds, ONNX files load in milliseconds."""

KINDS = ("auto", "spec", "graph", "onnx")


def _require_distributed() -> Any:
    try:
        import dask.distributed
    except ImportError as e:
        raise ImportError(
            'rfa_fast.distributed needs dask.distributed, an optional extra: pip install "rfa_fast[dask]" '
            '(or pip install "dask[distributed]")'
        ) from e
    return dask.distributed


def detect_kind(item: Any) -> str:
    """``"onnx"`` for a path (str or PathLike), ``"graph"`` for a :class:`Graph`, else ``"spec"``.

    >>> detect_kind("model.onnx"), detect_kind([{"op": "input"}]), detect_kind({"layers": []})
    ('onnx', 'spec', 'spec')
    """
    if isinstance(item, (str, os.PathLike)):
        return "onnx"
    if isinstance(item, Graph):
        return "graph"
    return "spec"


class _ChunkError:
    """An error caused by the input (a bad spec): returned, not raised, so that dask does not retry it."""

    def __init__(self, error: RfaError) -> None:
        self.error = error


def screen_chunk(
    items: list[Any], offset: int, resolutions: Any, ignore_1x1: bool, kind: str, threads: int | None
) -> ScreenResult | _ChunkError:
    """What one task runs on a worker: pack and screen ``items`` (which start at ``offset`` in the whole list).

    Default names (``candidate_<b>``) count from ``offset``, so they match a
    local screen of the whole list; input errors name the candidate's index in
    the whole list.
    """
    from .api import screen
    from .batch import GraphBatch

    if kind == "onnx":
        from .onnx_screen import screen_onnx

        return screen_onnx(
            [os.fspath(p) for p in items], resolutions, progress=False, ignore_1x1=ignore_1x1, threads=threads
        )
    try:
        batch = GraphBatch.from_graphs(items) if kind == "graph" else GraphBatch.from_specs(items)
    except SpecError as e:
        where = offset + (e.candidate or 0)
        message = (
            str(e).replace(f"candidate {e.candidate}:", f"candidate {where}:", 1) if e.candidate is not None else str(e)
        )
        return _ChunkError(SpecError(message, candidate=where if e.candidate is not None else None, layer=e.layer))
    if kind == "spec":
        batch.names = [
            s["name"] if isinstance(s, dict) and "name" in s else f"candidate_{offset + b}" for b, s in enumerate(items)
        ]
    try:
        return screen(batch, resolutions, ignore_1x1=ignore_1x1, threads=threads)
    except RfaError as e:
        return _ChunkError(e)


def _chunks(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while chunk := list(itertools.islice(items, size)):
        yield chunk


def screen_distributed(
    client: Any,
    items: Iterable[Any],
    resolutions: Any,
    rest: Any = None,
    *,
    chunk_size: int | None = None,
    ignore_1x1: bool = False,
    kind: str = "auto",
    retries: int = 3,
    max_pending: int | None = None,
    threads: int | None = None,
    progress: bool | None = None,
) -> ScreenResult:
    """Screen ``items`` on a Dask cluster; the same arrays as the local call, in order.

    ``screen_distributed(client, space, rows, resolutions)`` screens rows of a
    :class:`~rfa_fast.Space` instead: see :func:`screen_space_distributed`.

    Args:
        client: a ``dask.distributed.Client``.
        items: specs (see :meth:`Graph.from_spec`), :class:`Graph` objects, or
            ONNX paths readable by the workers; any iterable, read lazily
            chunk by chunk.
        resolutions: as in :func:`rfa_fast.screen`.
        chunk_size: items per task (default 10,000 specs or graphs, 8 ONNX files).
        ignore_1x1: as in :func:`rfa_fast.screen`.
        kind: ``"spec"``, ``"graph"``, ``"onnx"``, or ``"auto"`` (from the first item).
        retries: times dask runs a chunk again after an exception on a worker
            (a worker that dies is handled by the scheduler in any case).
        max_pending: chunks submitted and not yet gathered (default: 4 per
            worker thread), so a huge iterable is not all in memory at once.
        threads: core threads per task (default: every core of the worker).
        progress: a ``tqdm.auto`` bar of items screened, one step per chunk
            gathered (``True`` always, ``False`` never, ``None`` on a terminal
            or in a notebook once the run lasts half a second); its total is
            known when ``items`` has a length.

    Returns:
        For specs and graphs the :class:`ScreenResult` of :func:`rfa_fast.screen`
        on the whole list; for ONNX paths the
        :class:`~rfa_fast.onnx_screen.OnnxScreenResult` of
        :func:`rfa_fast.screen_onnx` (failed files in ``errors``).

    Raises:
        SpecError: a malformed spec, naming its index in the whole list.
        ImportError: dask.distributed is not installed.
    """
    from .space import Space

    if isinstance(items, Space):  # screen_distributed(client, space, rows, resolutions)
        return screen_space_distributed(  # type: ignore[return-value]
            client,
            items,
            resolutions,
            224 if rest is None else rest,
            chunk_size=chunk_size,
            ignore_1x1=ignore_1x1,
            retries=retries,
            max_pending=max_pending,
            threads=threads,
            progress=progress,
        )
    if rest is not None:
        raise TypeError("screen_distributed(client, items, resolutions) takes one positional resolutions argument")
    distributed = _require_distributed()
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    it = iter(items)
    first = next(it, None)
    if first is None:
        raise SpecError("nothing to screen: items is empty")
    if kind == "auto":
        kind = detect_kind(first)
    size = int(chunk_size or DEFAULT_CHUNK[kind])
    if size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if max_pending is None:
        max_pending = 4 * max(1, sum(client.nthreads().values()))
    run = uuid.uuid4().hex[:12]  # a fresh key per call: dask would reuse a finished chunk of the same key
    results: dict[int, Any] = {}
    pending: dict[Any, tuple[int, int]] = {}

    total = len(items) if isinstance(items, Sized) else None
    bar = progress_bar(progress, total=total, desc="screen", unit="cand")

    def collect(futures: Iterable[Any]) -> None:
        for fut in futures:
            index, n = pending.pop(fut)
            out = fut.result()
            fut.release()
            if isinstance(out, _ChunkError):
                for other in pending:
                    other.cancel()
                raise out.error
            results[index] = out
            bar.update(n)

    with bar:
        _submit_all(
            distributed,
            _chunks(itertools.chain([first], it), size),
            pending,
            collect,
            max_pending,
            lambda index, offset, chunk: client.submit(
                screen_chunk,
                chunk,
                offset,
                resolutions,
                ignore_1x1,
                kind,
                threads,
                key=f"rfa-screen-{run}-{index}",
                retries=retries,
            ),
        )
    parts = [results[i] for i in range(len(results))]
    return type(parts[0]).concatenate(parts) if len(parts) > 1 else parts[0]


def _submit_all(
    distributed: Any,
    chunks: Iterable[Any],
    pending: dict[Any, tuple[int, int]],
    collect: Any,
    max_pending: int,
    submit: Any,
) -> None:
    """Submit ``submit(index, offset, chunk)`` for every chunk, gathering whenever ``max_pending`` are in flight."""
    offset = 0
    for index, chunk in enumerate(chunks):
        fut = submit(index, offset, chunk)
        pending[fut] = (index, len(chunk))
        offset += len(chunk)
        if len(pending) >= max_pending:
            collect(distributed.wait(list(pending), return_when="FIRST_COMPLETED").done)
    while pending:
        collect(distributed.wait(list(pending), return_when="FIRST_COMPLETED").done)


# ---------------------------------------------------------------------------
# Spaces: the compiled program once per worker, rows by the chunk

DEFAULT_ROWS_CHUNK = 200_000
"""Rows per task (a few hundred milliseconds of work on one core)."""


def screen_rows(program: Any, rows: np.ndarray, resolutions: np.ndarray, ignore_1x1: bool, threads: int | None) -> Any:
    """What one task runs on a worker: the screen of a chunk of a space's rows (its raw arrays).

    ``program`` is the space's :class:`~rfa_fast.space.program.CompiledProgram`,
    sent once per worker; its core form is built on the worker at first use.
    An input error is returned (not raised), as for :func:`screen_chunk`.
    """
    rows = np.ascontiguousarray(rows)
    if rows.dtype not in (np.uint8, np.int32, np.int64):
        rows = rows.astype(np.int64)
    columns = program.columns(rows)
    try:
        raw = program.core.screen(rows, columns, resolutions, ignore_1x1, threads or 0, True)
    except (GraphError, SpecError) as e:
        return _ChunkError(e)
    # counts past int64 (the core saturates them): exact Python ints, candidate by candidate
    return make_screen_exact(raw, resolutions, lambda b: program.core.materialize(rows, columns, b), ignore_1x1)


def _raw_to_result(raw: dict[str, np.ndarray], res: np.ndarray) -> ScreenResult:
    return ScreenResult(raw, res, names=None)


def _chunk_error(space: Any, error: RfaError, offset: int) -> RfaError:
    """A worker's error on a chunk, in the space's names and the index of the whole rows."""
    if isinstance(error, GraphError) and error.graph_index >= 0:
        where = offset + error.graph_index
        moved = GraphError(
            str(error).replace(f"candidate {error.graph_index}:", f"candidate {where}:", 1),
            where,
            error.node_index,
            error.column,
        )
        return space._explain(moved)  # type: ignore[no-any-return]
    return error


class DaskScreenResult:
    """A lazy screen of a ``dask.array`` of rows: every field of :class:`ScreenResult` as a dask array.

    ``result.n_unproductive`` is a dask array [B, R]; reduce it on the cluster
    (``(result.n_unproductive[:, 0] == 0).sum().compute()``), or
    :meth:`compute` everything into one :class:`ScreenResult`.
    """

    def __init__(self, fields: dict[str, Any], resolutions: np.ndarray) -> None:
        self.fields = fields
        self.resolutions = resolutions
        for name, arr in fields.items():
            setattr(self, name, arr)

    def compute(self) -> ScreenResult:
        import dask

        values = dask.compute(*self.fields.values())
        raw = {("graph_rf_max" if k == "rf_max" else k): v for k, v in zip(self.fields, values)}
        return ScreenResult(raw, self.resolutions, names=None)


def screen_space_distributed(
    client: Any,
    space: Any,
    rows: Any,
    resolutions: Any = 224,
    *,
    chunk_size: int | None = None,
    ignore_1x1: bool = False,
    retries: int = 3,
    max_pending: int | None = None,
    threads: int | None = None,
    progress: bool | None = None,
) -> ScreenResult | DaskScreenResult:
    """Screen rows of a :class:`~rfa_fast.Space` on a Dask cluster: ``space.screen(rows, ...)``, sharded.

    The compiled space is scattered to every worker once; each task carries
    only its rows. Computed columns (``Space.computed``) are evaluated on the
    workers, so their functions must be picklable (cloudpickle pickles
    lambdas and local functions).

    Args:
        client: a ``dask.distributed.Client``.
        space: the space (built on first use).
        rows: a numpy array [B, C] of choice indices (screened in chunks of
            ``chunk_size`` rows, results gathered in order), or a
            ``dask.array`` (screened lazily block by block: a
            :class:`DaskScreenResult` of dask arrays comes back, and no process
            ever holds all the rows or all the results).
        resolutions, ignore_1x1, threads: as in :meth:`Space.screen`.
        chunk_size, retries, max_pending: as in :func:`screen_distributed`
            (chunk_size in rows, default 200,000; for a dask array its own
            blocks are the chunks).
        progress: as in :func:`screen_distributed` (numpy rows; a lazy
            ``dask.array`` screen shows dask's own progress instead, e.g.
            ``dask.distributed.progress``).

    Returns:
        A :class:`ScreenResult` equal to ``space.screen(rows, resolutions)``
        for numpy rows; a :class:`DaskScreenResult` for dask rows.
    """
    distributed = _require_distributed()
    from .api import resolutions_array

    program = space.program
    res = np.ascontiguousarray(resolutions_array(resolutions, space.dims))
    C = len(space.choices)
    program_future = client.scatter(program, broadcast=True, hash=False)
    run = uuid.uuid4().hex[:12]
    if _is_dask_array(rows):
        return _screen_dask_rows(space, program_future, rows, res, ignore_1x1, threads, run, C)
    arr = space._rows(rows)
    B = len(arr)
    size = int(chunk_size or DEFAULT_ROWS_CHUNK)
    if size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if B == 0:
        return space.screen(arr, res)  # type: ignore[no-any-return]
    if max_pending is None:
        max_pending = 4 * max(1, sum(client.nthreads().values()))
    results: dict[int, Any] = {}
    pending: dict[Any, tuple[int, int]] = {}

    def collect(futures: Iterable[Any]) -> None:
        for fut in futures:
            index, n = pending.pop(fut)
            out = fut.result()
            fut.release()
            if isinstance(out, _ChunkError):
                for other in pending:
                    other.cancel()
                raise _chunk_error(space, out.error, index * size)
            results[index] = out
            bar.update(n)

    row_chunks = (arr[offset : offset + size] for offset in range(0, B, size))
    with progress_bar(progress, total=B, desc="screen", unit="cand") as bar:
        _submit_all(
            distributed,
            row_chunks,
            pending,
            collect,
            max_pending,
            lambda index, offset, chunk: client.submit(
                screen_rows,
                program_future,
                chunk,
                res,
                ignore_1x1,
                threads,
                key=f"rfa-screen-space-{run}-{index}",
                retries=retries,
            ),
        )
    parts = [_raw_to_result(results[i], res) for i in range(len(results))]
    return ScreenResult.concatenate(parts) if len(parts) > 1 else parts[0]


def _is_dask_array(x: Any) -> bool:
    return type(x).__module__.startswith("dask.array") and hasattr(x, "map_blocks")


# the per-candidate fields of a screen, their dtype and their trailing shape ("R": resolutions, "D": axes)
_FIELDS = (
    ("n_unproductive", np.int64, "R"),
    ("n_border", np.int64, "R"),
    ("n_critical", np.int64, "R"),
    ("n_partially_critical", np.int64, "R"),
    ("macs", np.int64, "R"),
    ("macs_unproductive", np.int64, "R"),
    ("i_min", np.float64, ""),
    ("i_min_axes", np.float64, "D"),
    ("i_max", np.float64, ""),
    ("i_max_axes", np.float64, "D"),
    ("rf_max", np.float64, "D"),
    ("connected", np.bool_, ""),
    ("aligned", np.bool_, ""),
    ("params", np.int64, ""),
    ("n_dead", np.int64, ""),
    ("macs_dead", np.int64, "R"),
)


def _screen_block(
    block: np.ndarray, program: Any, res: np.ndarray, ignore_1x1: bool, threads: int | None, dtype: np.dtype
) -> np.ndarray:
    """One block of dask rows as a record array with every field (errors are raised: dask reports them)."""
    out = screen_rows(program, block, res, ignore_1x1, threads)
    if isinstance(out, _ChunkError):
        raise out.error
    rec = np.empty(len(block), dtype=dtype)
    for name, _, _ in _FIELDS:
        rec[name] = out["graph_rf_max" if name == "rf_max" else name]
    return rec


def _screen_dask_rows(
    space: Any, program: Any, rows: Any, res: np.ndarray, ignore_1x1: bool, threads: int | None, run: str, C: int
) -> DaskScreenResult:
    if rows.ndim != 2 or rows.shape[1] != C:
        raise SpecError(f"rows of space {space.name!r} must be [B, {C}], got shape {rows.shape}")
    if rows.dtype.kind not in "iu":
        raise SpecError(f"rows must be an integer array, got dtype {rows.dtype}")
    R, D = len(res), space.dims
    trail = {"R": (R,), "D": (D,), "": ()}
    dtype = np.dtype([(name, dt, trail[t]) for name, dt, t in _FIELDS])
    rows = rows.rechunk({1: -1})  # a task sees whole rows
    rec = rows.map_blocks(
        _screen_block,
        program,
        res,
        ignore_1x1,
        threads,
        dtype,
        drop_axis=1,
        dtype=dtype,
        name=f"rfa-screen-space-{run}",
        meta=np.empty((0,), dtype=dtype),
    )
    fields: dict[str, Any] = {}
    for name, dt, t in _FIELDS:
        if t:
            fields[name] = rec.map_blocks(
                lambda a, n=name: a[n],
                dtype=dt,
                new_axis=1,
                chunks=(rec.chunks[0], trail[t]),
                meta=np.empty((0, 0), dt),
            )
        else:
            fields[name] = rec.map_blocks(lambda a, n=name: a[n], dtype=dt, meta=np.empty((0,), dt))
    return DaskScreenResult(fields, res)


__all__ = [
    "DaskScreenResult",
    "detect_kind",
    "screen_chunk",
    "screen_distributed",
    "screen_rows",
    "screen_space_distributed",
]
