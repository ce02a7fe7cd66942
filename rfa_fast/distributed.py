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
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from .errors import RfaError, SpecError
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
    *,
    chunk_size: int | None = None,
    ignore_1x1: bool = False,
    kind: str = "auto",
    retries: int = 3,
    max_pending: int | None = None,
    threads: int | None = None,
) -> ScreenResult:
    """Screen ``items`` on a Dask cluster; the same arrays as the local call, in order.

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

    Returns:
        For specs and graphs the :class:`ScreenResult` of :func:`rfa_fast.screen`
        on the whole list; for ONNX paths the
        :class:`~rfa_fast.onnx_screen.OnnxScreenResult` of
        :func:`rfa_fast.screen_onnx` (failed files in ``errors``).

    Raises:
        SpecError: a malformed spec, naming its index in the whole list.
        ImportError: dask.distributed is not installed.
    """
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
    pending: dict[Any, int] = {}
    offset = 0

    def collect(futures: Iterable[Any]) -> None:
        for fut in futures:
            index = pending.pop(fut)
            out = fut.result()
            fut.release()
            if isinstance(out, _ChunkError):
                for other in pending:
                    other.cancel()
                raise out.error
            results[index] = out

    for index, chunk in enumerate(_chunks(itertools.chain([first], it), size)):
        fut = client.submit(
            screen_chunk,
            chunk,
            offset,
            resolutions,
            ignore_1x1,
            kind,
            threads,
            key=f"rfa-screen-{run}-{index}",
            retries=retries,
        )
        pending[fut] = index
        offset += len(chunk)
        if len(pending) >= max_pending:
            collect(distributed.wait(list(pending), return_when="FIRST_COMPLETED").done)
    while pending:
        collect(distributed.wait(list(pending), return_when="FIRST_COMPLETED").done)
    parts = [results[i] for i in range(len(results))]
    return type(parts[0]).concatenate(parts) if len(parts) > 1 else parts[0]


__all__ = ["detect_kind", "screen_chunk", "screen_distributed"]
