"""The search-loop examples run as scripts and print consistent numbers."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

from cli_helpers import package_env
from deps import requires

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, *args: str, timeout: float = 120) -> str:
    env = package_env()  # the rfa_fast the tests import, not the bare source tree
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def number(pattern: str, text: str) -> int:
    m = re.search(pattern, text)
    assert m, f"{pattern!r} not in:\n{text}"
    return int(m.group(1))


needs_optuna = requires(
    importlib.util.find_spec("optuna") is not None and importlib.util.find_spec("pandas") is not None,
    "needs Optuna (and pandas for trials_dataframe): pip install 'rfa_fast[optuna]'",
)


@needs_optuna
def test_random_search() -> None:
    out = run("random_search.py", "--rounds", "3", "--batch", "150")
    assert number(r"(\d+) choices", out) == 51
    rounds = re.findall(r"round +\d+: asked (\d+), screened in [\d.]+ ms, (\d+) productive -> trained (\d+)", out)
    assert len(rounds) == 3 and all(int(a) == 150 and p == t for a, p, t in rounds)
    productive = sum(int(p) for _, p, _ in rounds)
    assert number(r"total: asked (\d+)", out) == 450
    assert number(r"productive (\d+) \(", out) == productive == number(r"trained (\d+)\nrfa_fast", out)
    assert 0 < productive < 450
    assert number(r"training saved: (\d+) of 450", out) == 450 - productive
    assert re.search(r"e\.g\. trial pruned because rfa_fast: (\d+ unproductive layers? at 32 px|the output)", out)


@needs_optuna
def test_ask_tell() -> None:
    out = run("ask_tell.py", "--trials", "120")
    trials, pruned, trained = (
        number(p, out) for p in (r"trials: (\d+)", r"pruned before training: (\d+)", r"trained: (\d+)")
    )
    assert trials == 120 and pruned + trained == 120 and 0 < pruned < 120
    assert re.search(r"best trial #\d+: value 0\.\d{3}, params \{'stages': \d", out)
    assert re.search(
        r"first pruned trial #\d+: rfa_fast: \d+ unproductive layers? at 32 px .*border layers: s\d\.", out
    )
    header = re.search(
        r"^ *number +state +user_attrs_n_unproductive +user_attrs_border_layers +user_attrs_i_min$", out, re.M
    )
    assert header, out
    table = out[header.end() :].strip().splitlines()
    assert len(table) == 8 and all(re.match(r" *\d+ +(PRUNED|COMPLETE) +\d+ ", line) for line in table)


@needs_optuna
def test_ofa_nsga2() -> None:
    out = run("ofa_nsga2.py", "--trials", "150", "--population", "30", "--show", "5")
    assert number(r"NSGA-II \(population (\d+)\)", out) == 30 and number(r"(\d+) trials, constraint", out) == 150
    feasible = number(r"feasible: (\d+) of 150", out)
    assert 0 < feasible < 150
    front = number(r"Pareto front: (\d+) distinct subnets", out)
    assert front >= 1 and number(r"unproductive layers on the front, screened again: (\d+)", out) == 0
    rows = re.findall(r"^ +(\d+) +([\d.]+) +([\d.]+) +(\d+) +(\d+)  ([234]{5}) ", out, flags=re.M)
    assert 1 <= len(rows) <= min(5, front)
    macs = [float(m) for _, m, _, _, _, _ in rows]
    params = [float(p) for _, _, p, _, _, _ in rows]
    assert macs == sorted(macs) and params == sorted(params)  # a front: more MACs buys more of the proxy
    assert all(int(i_min) <= 224 for _, _, _, i_min, _, _ in rows)  # no unproductive layer: I_min within 224 px
    shares = [float(x) for x in re.findall(r"([\d.]+)% of the loop", out)]
    assert len(shares) == 2 and abs(sum(shares) - 100) < 0.2


def test_nas_bench_201() -> None:
    out = run("nas_bench_201.py")
    assert number(r"NAS-Bench-201: (\d+) cells", out) == 15625
    connected = number(r"connected: (\d+)", out)
    assert connected == 15284 and number(r"disconnected: (\d+)", out) == 341
    histogram = [int(n) for n in re.findall(r"^ +[\d+-]+: +(\d+) #*$", out, flags=re.M)]
    assert len(histogram) == 7 and sum(histogram) == connected
    i_min = [int(n) for n in re.findall(r"px: +(\d+)$", out, flags=re.M)]
    assert i_min[0] == histogram[0]  # no unproductive layer at 32 px <=> I_min <= 32
    assert sum(i_min) == connected


@requires(importlib.util.find_spec("distributed") is not None, 'needs dask.distributed: pip install "rfa_fast[dask]"')
def test_distributed_screen() -> None:
    out = run("distributed_screen.py", "--candidates", "2000", "--chunk-size", "400")
    assert "identical to the local screen: True" in out
    assert number(r"distributed: (\d+) candidates in 5 chunks", out) == 2000
    assert number(r"local: (\d+) candidates", out) == 2000
