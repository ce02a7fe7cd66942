"""Screening candidates on a Dask cluster, checked against the local screen.

:func:`rfa_fast.distributed.screen_distributed` cuts the candidates into
chunks, runs each chunk (pack + screen) as one task on a worker, and joins the
results in order: the arrays are the local ones, whichever worker ran which
chunk.  Here the cluster is a ``LocalCluster`` of two worker processes; on a
real cluster pass a ``Client`` connected to its scheduler instead.

Needs the optional extra: ``pip install "rfa_fast[dask]"``.  Run (from the
repository root):

    PYTHONPATH=. python examples/distributed_screen.py [--candidates 8000]
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

import numpy as np

import rfa_fast
from rfa_fast.distributed import screen_distributed


def random_chain(rng: random.Random) -> list[dict[str, Any]]:
    """A plain CNN of 6-20 convolutions and pools with random kernels and strides."""
    layers: list[dict[str, Any]] = [{"op": "input"}]
    for _ in range(rng.randint(6, 20)):
        k = rng.choice((1, 3, 5))
        layers.append(
            {"op": rng.choice(("conv", "conv", "pool")), "kernel": k, "stride": rng.choice((1, 1, 1, 2)), "pad": k // 2}
        )
    return layers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=8_000)
    parser.add_argument("--chunk-size", type=int, default=1_000)
    args = parser.parse_args()
    from dask.distributed import Client, LocalCluster

    rng = random.Random(0)
    specs = [random_chain(rng) for _ in range(args.candidates)]
    t0 = time.perf_counter()
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        t1 = time.perf_counter()
        remote = screen_distributed(client, specs, [32, 224], chunk_size=args.chunk_size)
        t2 = time.perf_counter()
    local = rfa_fast.screen(specs, [32, 224])
    t3 = time.perf_counter()

    same = all(
        np.array_equal(getattr(remote, f), getattr(local, f), equal_nan=True) for f in rfa_fast.ScreenResult.FIELDS
    )
    chunks = -(-len(specs) // args.chunk_size)
    print(f"cluster of 2 worker processes started in {t1 - t0:.1f} s")
    print(f"distributed: {len(remote)} candidates in {chunks} chunks, screened in {t2 - t1:.2f} s")
    print(f"local: {len(local)} candidates screened in {t3 - t2:.2f} s")
    print(f"identical to the local screen: {same and remote.names == local.names}")
    print(
        f"no unproductive layer at 32 px: {int(remote.productive(0).sum())}; at 224 px: {int(remote.productive(1).sum())}"
    )


if __name__ == "__main__":
    main()
