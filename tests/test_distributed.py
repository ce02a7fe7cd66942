"""screen_distributed on a LocalCluster of worker processes equals the local screen, even when a worker dies."""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from deps import VALIDATION, import_or_skip, needs_validation

import rfa_fast
from rfa_fast import ScreenResult, SpecError

distributed = import_or_skip("dask.distributed", 'dask.distributed is an optional extra: pip install "rfa_fast[dask]"')
from rfa_fast.distributed import screen_distributed  # noqa: E402

VALIDATION_ONNX = VALIDATION / "onnx"


def random_specs(n: int, seed: int) -> list[Any]:
    """Chains and small residual graphs, some named, some not."""
    rng = random.Random(seed)
    specs: list[Any] = []
    for b in range(n):
        layers: list[dict[str, Any]] = [{"op": "input"}]
        for _ in range(rng.randint(2, 12)):
            k, s = rng.choice([1, 3, 5]), rng.choice([1, 1, 2])
            layers.append({"op": rng.choice(["conv", "pool"]), "kernel": k, "stride": s, "pad": k // 2})
            if rng.random() < 0.2:
                layers.append({"op": "add", "inputs": [len(layers) - 1, len(layers) - 2]})
        specs.append({"name": f"net{b}", "layers": layers} if b % 3 else layers)
    return specs


def assert_same(a: ScreenResult, b: ScreenResult) -> None:
    assert len(a) == len(b)
    for f in ScreenResult.FIELDS:
        assert np.array_equal(getattr(a, f), getattr(b, f), equal_nan=True), f
    assert a.names == b.names


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def test_specs_equal_the_local_screen(client: Any) -> None:
    specs = random_specs(1000, 1)
    local = rfa_fast.screen(specs, [16, 64])
    remote = screen_distributed(client, specs, [16, 64], chunk_size=90)
    assert_same(remote, local)
    assert remote.names[:3] == ["candidate_0", "net1", "net2"] and remote.names[999] == "candidate_999"


def test_progress_counts_the_candidates_gathered(client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    specs = random_specs(200, 3)
    screen_distributed(client, specs, 32, chunk_size=30, progress=True)
    err = capsys.readouterr().err
    assert "screen" in err and "200/200" in err and "100%" in err
    screen_distributed(client, (s for s in specs), 32, chunk_size=30, progress=True)  # no length: a counter
    assert "200cand" in capsys.readouterr().err.replace(" ", "")
    screen_distributed(client, specs, 32, chunk_size=30, progress=False)
    screen_distributed(client, specs, 32, chunk_size=30)  # auto: not a terminal
    assert capsys.readouterr().err == ""


def test_lazy_iterable_with_few_pending_chunks(client: Any) -> None:
    specs = random_specs(300, 2)
    remote = screen_distributed(client, (s for s in specs), 32, chunk_size=25, max_pending=2)
    assert_same(remote, rfa_fast.screen(specs, 32))


def test_graphs(client: Any) -> None:
    graphs = [rfa_fast.Graph.from_spec(s, index=i) for i, s in enumerate(random_specs(50, 3))]
    remote = screen_distributed(client, graphs, [8, 32], chunk_size=7)
    assert_same(remote, rfa_fast.screen(graphs, [8, 32]))


@needs_validation
def test_onnx_paths_equal_screen_onnx(client: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_text("not onnx")
    paths = sorted(str(p) for p in VALIDATION_ONNX.glob("*.graph.onnx"))[:5]
    paths.insert(2, str(bad))
    local = rfa_fast.screen_onnx(paths, [32, 224], progress=False)
    remote = screen_distributed(client, paths, [32, 224], chunk_size=2)
    assert_same(remote, local)
    assert list(remote.errors) == [str(bad)] == list(local.errors)


def test_bad_spec_names_its_index_in_the_whole_list(client: Any) -> None:
    specs = random_specs(100, 4)
    specs[57] = [{"op": "input"}, {"op": "conv", "kernel": 0}]
    with pytest.raises(SpecError, match="candidate 57: layer 1: kernel") as info:
        screen_distributed(client, specs, 32, chunk_size=10)
    assert info.value.candidate == 57


def test_arguments_are_checked(client: Any) -> None:
    with pytest.raises(SpecError, match="empty"):
        screen_distributed(client, [], 32)
    with pytest.raises(ValueError, match="kind"):
        screen_distributed(client, random_specs(2, 5), 32, kind="pickle")


def test_missing_dask_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(ImportError, match=r"rfa_fast\[dask\]"):
        screen_distributed(None, [], 32)


class DieOnce(distributed.WorkerPlugin):
    """Kills its worker process the first time any worker starts a screen chunk (a marker file says it happened)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if finish == "executing" and "rfa-screen" in str(key):
            try:
                fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return
            os.write(fd, str(key).encode())
            os.close(fd)
            os._exit(1)


def test_a_worker_dying_mid_run_loses_and_duplicates_nothing(client: Any, tmp_path: Path) -> None:
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this test module
    marker = tmp_path / "died"
    specs = random_specs(600, 6)
    local = rfa_fast.screen(specs, [16, 64])
    client.register_plugin(DieOnce(str(marker)), name="die-once")
    try:
        remote = screen_distributed(client, specs, [16, 64], chunk_size=50)
    finally:
        client.unregister_worker_plugin("die-once")
    assert marker.exists(), "no worker was killed: the test did not test anything"
    assert marker.read_text().startswith("rfa-screen-")
    assert_same(remote, local)


# -- spaces: the compiled space once per worker, rows by the chunk ---------------


def small_space() -> rfa_fast.Space:
    sp = rfa_fast.Space("dist")
    x = sp.input("input")
    for i in range(4):
        k = sp.choice(f"k{i}", [1, 3, 5])
        x = sp.conv(x, k, stride=sp.choice(f"s{i}", [1, 2]), pad=k // 2, c_in=8, c_out=8, name=f"conv{i}")
    width = sp.computed("width", lambda rows: 8 + 8 * (rows[:, 0] % 2))  # evaluated on the workers
    sp.conv(x, 1, c_in=8, c_out=width, name="head")
    return sp.build()


def test_space_rows_equal_the_local_screen(client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    space = small_space()
    rows = space.sample(5_000, seed=7)
    remote = screen_distributed(client, space, rows, [16, 64], chunk_size=700, progress=True)
    assert "5000/5000" in capsys.readouterr().err  # one step per chunk of rows gathered
    local = space.screen(rows, [16, 64])
    for f in ScreenResult.FIELDS:
        assert np.array_equal(getattr(remote, f), getattr(local, f), equal_nan=True), f


def test_space_rows_as_a_dask_array_stay_lazy(client: Any) -> None:
    import dask.array as da

    space = small_space()
    rows = space.sample(3_000, seed=8)
    lazy = screen_distributed(client, space, da.from_array(rows, chunks=(400, 3)), 32)
    from rfa_fast.distributed import DaskScreenResult

    assert isinstance(lazy, DaskScreenResult)
    assert lazy.n_unproductive.shape == (3_000, 1) and lazy.n_unproductive.chunks[0][0] == 400
    local = space.screen(rows, 32)
    productive = int((lazy.n_unproductive[:, 0] == 0).sum().compute())  # reduced on the cluster
    assert productive == int((local.n_unproductive[:, 0] == 0).sum())
    full = lazy.compute()
    for f in ScreenResult.FIELDS:
        assert np.array_equal(getattr(full, f), getattr(local, f), equal_nan=True), f


def test_space_bad_row_names_its_index_in_the_whole_rows(client: Any) -> None:
    space = small_space()
    rows = space.sample(1_000, seed=9).astype(np.int64)
    rows[823, 3] = 2  # s1 has 2 options
    with pytest.raises(SpecError, match=r"candidate 823: choice 's1' \(2 options\) has index 2"):
        screen_distributed(client, space, rows, 32, chunk_size=100)


def test_space_screen_survives_a_worker_dying(client: Any, tmp_path: Path) -> None:
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    marker = tmp_path / "died"
    space = small_space()
    rows = space.sample(4_000, seed=10)
    local = space.screen(rows, [16, 64])
    client.register_plugin(DieOnce(str(marker)), name="die-once-space")
    try:
        remote = screen_distributed(client, space, rows, [16, 64], chunk_size=300)
    finally:
        client.unregister_worker_plugin("die-once-space")
    assert marker.exists(), "no worker was killed: the test did not test anything"
    assert marker.read_text().startswith("rfa-screen-space-")
    for f in ScreenResult.FIELDS:
        assert np.array_equal(getattr(remote, f), getattr(local, f), equal_nan=True), f
