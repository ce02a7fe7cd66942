"""Turn a pytest-benchmark JSON into docs/benchmarks.md.

    pytest bench/ --benchmark-only --benchmark-json=bench.json
    python bench/report.py bench.json -o docs/benchmarks.md

Per group: a table of medians, per call and per item (``items`` in a row's
extra_info: rows of one group may process different amounts, e.g. rfa_fast a
whole batch and a slow baseline a sample of it), and the ratio of each row's
per-item median to the group's base row (``base`` in extra_info, shown in
bold), and where the group has one, to the base's single-threaded twin
(``single`` in extra_info, ``threads=1``): the ratios a one-core machine
would see, beside the all-thread ones.  Before the groups: the headline comparisons, the machine (CPU, cores,
versions), the date, the load average and the exact command; after them the
scaling tables (time per candidate against batch size, time per node+edge
against graph size, with the fitted exponent) and the memory measurements.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script or imported: the bench helpers
from benchlib import LABEL  # noqa: E402

SECTIONS = [
    ("model:", "Single models, one network per call"),
    ("bulk:", "Bulk: 1,000 variants of each architecture"),
    ("spaces:", "Search spaces in the space engine's lanes"),
    ("search loop:", "The search-loop case: one candidate per call"),
    ("nb201:", "NAS-Bench-201"),
    ("chains:", "Random chains"),
    ("packing:", "Packing Python-level specs"),
    ("dags:", "DAGs"),
    ("scaling:", "Scaling (raw rows; the tables above summarize them)"),
    ("onnx:", "ONNX"),
    ("memory:", "Memory (timed: the child process's whole run)"),
]


NOTES = """\
## How the groups are built, and where rfa-toolbox's rules differ

- **rfa-toolbox** is the authors' tool (PyPI `rfa-toolbox` 1.7.0), called
  through its public API only (`bench/baseline_toolbox.py`). Its analysis of a
  network is building its nodes (`EnrichedNetworkNode`: each constructor
  computes the node's set of receptive-field values from its predecessors'
  sets, i.e. its propagation, one entry per distinct path value), then
  `obtain_border_layers(output, I)` and `input_resolution_range(output)`.
  "graph API" rows feed it the same layer list as `rfa_fast.zoo` (so both
  tools see the same network); "own model" rows use its hand-built
  `architectures.vgg.vgg16` / `resnet.resnet18/50/101` (their `print` calls
  are swallowed). It ships no MobileNetV2 or DenseNet-121: those have only
  the graph-API row.
- **Agreement asserted** (at 32 px, where its rules and ours coincide): the
  largest finite receptive field and I_max (VGG16 212, ResNet-18 435,
  ResNet-50 427, ResNet-101 971, MobileNetV2 491, DenseNet-121 2071), and the
  set of convolutions and pools rated unproductive, on the zoo models, on
  their kernel variants, and the field on NAS-Bench-201 cells.
- **Where it differs** (the tests assert what it produces):
  - its own ResNet-50/101 are the v1 layout (stride on the block's first 1x1
    conv), so their fields are 483/1027, not torchvision's v1.5 427/971;
  - it rates additions, concatenations and (in its own ResNets) a 1x1
    "global average pooling" like convolutions, so its counts at 32 px are
    larger (ResNet-18: 9 via the graph API and 10 for its own model, against
    7 convolutions, which both tools flag identically);
  - rule (b) ("the layer sees a map no larger than its kernel") uses
    floor(I / jump) instead of the padded sizes: at 112 px it flags ResNet-18's
    last three 3x3 convs (112/32 = 3), whose real input is 4x4
    (`test_toolbox_floor_estimate_differs_at_112px`);
  - it has no padding or dilation field, no transposed convolution or
    resize, no notion of alignment or of a disconnected cell, reads no ONNX,
    and its smallest feasible resolution r_min is a different quantity from
    I_min (VGG16: 212 against 197).
- **Bulk rows** compare per network: rfa_fast screens all variants in one
  call; the baselines analyze a sample one network at a time (the `note`
  column says how many per call). rfa_fast's bulk rows start from the packed
  arrays (all threads, and one) or from the user's input with the packing
  timed: rows of node indices and kernels, `Graph` objects, specs.
- **Every timed row checks its answer**, on every key of `ScreenResult` (or,
  for one model, every per-node and per-graph array), against the reference
  or a baseline on a sample, in the same test (`bench/benchlib.py`,
  `assert_agrees`).
- **Variants** change three convolutions' kernels to 1, 3, 5 or 7 with "same"
  padding, so every variant is a valid network; rfa_fast packs them by tiling
  the model's arrays with numpy ("pack + screen").
- **Quick mode** (`pytest bench/ -q --benchmark-disable`, run by CI) runs every
  body once on smaller sizes, with all the agreement checks.
"""


@dataclass
class Row:
    """One benchmark of the JSON."""

    group: str
    name: str
    impl: str
    items: int
    base: bool
    median: float
    rounds: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def per_item(self) -> float:
        return self.median / max(self.items, 1)

    @property
    def single(self) -> bool:
        """The single-threaded twin of the group's base row."""
        return bool(self.extra.get("single", False))


def load_rows(data: dict[str, Any]) -> list[Row]:
    """The benchmarks of a pytest-benchmark JSON as rows, in run order."""
    rows = []
    for b in data["benchmarks"]:
        extra = dict(b.get("extra_info") or {})
        rows.append(
            Row(
                group=b.get("group") or b["name"],
                name=b["name"],
                impl=str(extra.get("impl", b.get("param") or b["name"])),
                items=int(extra.get("items", 1)),
                base=bool(extra.get("base", False)),
                median=float(b["stats"]["median"]),
                rounds=int(b["stats"]["rounds"]),
                extra=extra,
            )
        )
    return rows


def fmt_time(seconds: float) -> str:
    """3 significant digits in the unit that fits: ns, µs, ms, s."""
    if not math.isfinite(seconds):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_ratio(r: float) -> str:
    if not math.isfinite(r):
        return "-"
    if r >= 100:
        return f"{r:,.0f}×"
    if r >= 10:
        return f"{r:.1f}×"
    return f"{r:.2f}×"


def fmt_int(n: float | int | None) -> str:
    return "-" if n is None else f"{int(n):,}"


def table(header: Sequence[str], body: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    return lines


def base_of(rows: Sequence[Row]) -> Row | None:
    """The row a group's other rows are divided by; None in groups that only vary a size (scaling)."""
    return next((r for r in rows if r.base), None)


def single_of(rows: Sequence[Row]) -> Row | None:
    """The base's single-threaded twin, when the group has one."""
    return next((r for r in rows if r.single), None)


def group_table(rows: Sequence[Row]) -> list[str]:
    """Medians, per call and per item, and the ratio to the group's base row (when it has one).

    Groups without a base row (the scaling groups) show their size columns instead.
    """
    base = base_of(rows)
    single = single_of(rows) if base is not None else None
    notes = any(r.extra.get("note") for r in rows)
    inputs = any(r.extra.get("input") for r in rows)
    sizes = (
        []
        if base is not None
        else [k for k in ("batch", "layers", "nodes", "edges") if any(k in r.extra for r in rows)]
    )
    body = []
    for r in rows:
        line = [f"**{r.impl}**" if r is base else f"*{r.impl}*" if r is single else r.impl]
        line += [fmt_int(r.extra.get(k)) for k in sizes]
        if inputs:
            line.append(str(r.extra.get("input", "")))
        line += [fmt_time(r.median), fmt_int(r.items), fmt_time(r.per_item)]
        if base is not None:
            line.append(fmt_ratio(r.per_item / base.per_item))
        if single is not None:
            line.append(fmt_ratio(r.per_item / single.per_item))
        line.append(str(r.rounds))
        if notes:
            line.append(str(r.extra.get("note", "")))
        body.append(line)
    header = ["implementation", *sizes] + (["input"] if inputs else [])
    header += ["median per call", "items per call", "per item"]
    header += [f"× {base.impl} (per item)"] if base is not None else []
    header += [f"× {single.impl} (per item)"] if single is not None else []
    header += ["rounds"] + (["note"] if notes else [])
    return table(header, body)


def by_group(rows: Sequence[Row]) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        groups[r.group].append(r)
    return groups


def find(rows: Sequence[Row], prefix: str, impl: str, **extra: Any) -> Row | None:
    """The first row of a group starting with ``prefix`` with this impl and extra_info values."""
    for r in rows:
        if r.group.startswith(prefix) and r.impl == impl and all(r.extra.get(k) == v for k, v in extra.items()):
            return r
    return None


def aims(rows: Sequence[Row]) -> list[str]:
    """Issue 6's aims, each against what this run measured (met or not: said either way)."""
    out = []
    one, bulk, bulk_single = [], [], []
    for model, label in LABEL.items():
        fast = find(rows, "model:", "rfa_fast.analyze", model=model)
        tb_one = find(rows, "model:", "rfa-toolbox: graph API", model=model)
        screen = find(rows, "bulk:", "rfa_fast.screen", model=model)
        screen_1 = find(rows, "bulk:", "rfa_fast.screen, 1 thread", model=model)
        tb_bulk = find(rows, "bulk:", "rfa-toolbox: graph API, one at a time", model=model)
        if fast and tb_one:
            one.append((tb_one.per_item / fast.per_item, label))
        if screen and tb_bulk:
            bulk.append((tb_bulk.per_item / screen.per_item, label))
        if screen_1 and tb_bulk:
            bulk_single.append((tb_bulk.per_item / screen_1.per_item, label))

    def span(vals: list[tuple[float, str]], aim: float) -> str:
        met = [label for r, label in vals if r >= aim]
        lo, hi = min(vals), max(vals)
        return (
            f"{fmt_ratio(lo[0])} ({lo[1]}) to {fmt_ratio(hi[0])} ({hi[1]}); "
            f"above {aim:,.0f}× for {len(met)} of {len(vals)}" + (f" ({', '.join(met)})" if met else "")
        )

    if one:
        out.append(f"- one at a time, aim over 100×: {span(one, 100)}")
    if bulk:
        out.append(f"- in bulk, aim over 10,000×: {span(bulk, 10_000)}")
    if bulk_single:
        out.append(f"- in bulk on one thread: {span(bulk_single, 10_000)}")
    chains = {r.impl: r for r in rows if r.group.startswith("chains: 100,000")}
    if "numpy" in chains:
        parts = [
            f"{impl} {fmt_ratio(chains['numpy'].per_item / chains[impl].per_item)}"
            for impl in ("rfa_fast dense", "rfa_fast dense, 1 thread", "rfa_fast sparse", "rfa_fast sparse, 1 thread")
            if impl in chains
        ]
        out.append(f"- against the numpy baseline (100,000 chains), aim 10×: {', '.join(parts)}")
    fits = []
    batch = [r for r in rows if r.group.startswith("scaling: batch")]
    for impl in ("rfa_fast dense", "rfa_fast sparse"):
        pts = [(int(r.extra["batch"]), r.median) for r in batch if r.impl == impl and int(r.extra["batch"]) >= 10_000]
        if len(pts) >= 2:
            fits.append(f"{impl.split()[-1]} time ∝ B^{fit_exponent(*zip(*pts)):.2f}")
    for family in ("residual", "dense"):
        pts = [
            (int(r.extra["nodes"]) + int(r.extra["edges"]), r.median)
            for r in rows
            if r.group.startswith("scaling: graph size")
            and r.extra.get("family") == family
            and r.impl == "rfa_fast.screen, i_min=False"
            and int(r.extra["layers"]) >= 1_000
        ]
        if len(pts) >= 2:
            fits.append(f"{family} graphs (no I_min) time ∝ (N+E)^{fit_exponent(*zip(*pts)):.2f}")
    if fits:
        out.append(f"- scaling, aim linear: {'; '.join(fits)} (fitted from 10^4 candidates / 1,000 layers up)")
    mem = [r for r in rows if r.group.startswith("memory:") and "peak_rss_kb" in r.extra]
    if mem:
        parts = [f"{r.impl}: {r.extra['peak_rss_mb_per_million']:,.0f} MiB peak per 10^6 candidates" for r in mem]
        out.append(f"- memory: {'; '.join(parts)}")
    return ["## Against the aims of issue 6", ""] + out + [""] if out else []


def other_aims(rows: Sequence[Row]) -> list[str]:
    """The speed aims of issues 3 (sweeps) and 4 (search-space screening), against this run."""
    out = []
    sweep = {
        r.extra.get("resolutions"): r
        for r in rows
        if r.group.startswith("sweep:") and r.extra.get("threads", "all") == "all" and "one call each" not in r.impl
    }
    if 1 in sweep and 128 in sweep:
        one, many = sweep[1].median, sweep[128].median
        out.append(
            f"- issue 3, a sweep over 128 resolutions for 10,000 networks costs little more than one: "
            f"{fmt_time(many)} against {fmt_time(one)} ({many / one:.2f}×)"
        )
    nb = {r.impl: r for r in rows if r.group.startswith("nb201: all")}
    if "rfa_fast: nb201_batch + screen" in nb:
        r = nb["rfa_fast: nb201_batch + screen"]
        screen = nb.get("rfa_fast.screen")
        kernel = nb.get("rfa_fast: nas.nb201_screen")
        parts = [f"{fmt_time(r.median)} packed and screened by the general core"]
        if screen:
            parts[0] += f" (of which screen {fmt_time(screen.median)})"
        if kernel:
            parts.append(f"{fmt_time(kernel.median)} with `nas.nb201_screen` (closed form per cell, same answers)")
        out.append(f"- issue 4, all {r.items:,} NAS-Bench-201 cells in a few ms: " + "; ".join(parts))
    big = [r for r in rows if r.group.startswith("scaling: batch") and r.impl == "rfa_fast dense"]
    big = [r for r in big if int(r.extra.get("batch", 0)) == 1_000_000]
    if big:
        out.append(f"- issue 4, 10^6 chains of 20 layers in about a second or less: {fmt_time(big[0].median)}")
    return ["## Against the aims of issues 3 and 4", ""] + out + [""] if out else []


def headline(rows: Sequence[Row]) -> list[str]:
    """The comparisons the issue asks for, each from rows of this run."""
    out = aims(rows) + other_aims(rows) + ["## Headline numbers (this run)", ""]
    body = []
    for model, label in LABEL.items():
        one = find(rows, "model:", "rfa_fast.analyze", model=model)
        tb_graph = find(rows, "model:", "rfa-toolbox: graph API", model=model)
        tb_own = find(rows, "model:", "rfa-toolbox: own model", model=model)
        bulk = find(rows, "bulk:", "rfa_fast.screen", model=model)
        bulk_1 = find(rows, "bulk:", "rfa_fast.screen, 1 thread", model=model)
        ends = [
            find(rows, "bulk:", impl, model=model)
            for impl in ("rfa_fast: pack + screen", "rfa_fast: from Graph objects", "rfa_fast: from specs")
        ]
        tb_bulk = find(rows, "bulk:", "rfa-toolbox: graph API, one at a time", model=model)
        if one is None:
            continue
        tb_one = tb_graph.per_item if tb_graph else math.nan
        tb_per = tb_bulk.per_item if tb_bulk else tb_one

        def per(r: Row | None, bold: bool = False, tb_per: float = tb_per) -> str:
            if r is None:
                return "-"
            ratio = fmt_ratio(tb_per / r.per_item)
            return f"{fmt_time(r.per_item)} ({f'**{ratio}**' if bold else ratio})"

        body.append(
            [
                label,
                fmt_time(tb_one),
                fmt_time(tb_own.per_item) if tb_own else "(not shipped)",
                fmt_time(one.per_item),
                f"**{fmt_ratio(tb_one / one.per_item)}**",
                per(bulk, bold=True),
                per(bulk_1),
                *(per(r) for r in ends),
            ]
        )
    if body:
        out += [
            "rfa_fast against rfa-toolbox on the same architectures at 32 px. One at a time: one network per call "
            "(`rfa_fast.analyze` of a fresh graph, packing included, against rfa-toolbox building and analyzing the "
            "same layer list). In bulk: `rfa_fast.screen` of 1,000 kernel variants in one call, per network "
            "(speed-up over rfa-toolbox per variant in brackets), on the prepacked batch with all threads and with "
            "one, then end to end from the user's input, packing included: the variants as rows (numpy tiling of "
            "the model's arrays), as `Graph` objects (`GraphBatch.from_graphs`), as JSON-able specs "
            "(`GraphBatch.from_specs`).",
            "",
        ]
        out += table(
            [
                "architecture",
                "rfa-toolbox (graph API)",
                "rfa-toolbox (own model)",
                "rfa_fast.analyze",
                "speed-up, one at a time",
                "bulk, prepacked (speed-up)",
                "bulk, prepacked, 1 thread",
                "bulk from rows",
                "bulk from Graph objects",
                "bulk from specs",
            ],
            body,
        )
        out.append("")
    other = []
    chains = [r for r in rows if r.group.startswith("chains: 100,000")]
    if chains:
        g = {r.impl: r for r in chains}
        numpy_row = g.get("numpy")
        for impl in ("rfa_fast dense", "rfa_fast dense, 1 thread", "rfa_fast sparse", "rfa_fast sparse, 1 thread"):
            if numpy_row and impl in g:
                other.append(
                    [
                        f"100,000 chains of 32 layers: {impl} vs the numpy baseline",
                        fmt_time(g[impl].median),
                        fmt_time(numpy_row.median),
                        fmt_ratio(numpy_row.per_item / g[impl].per_item),
                    ]
                )
        if "reference" in g and "rfa_fast dense" in g:
            ref = g["reference"]
            other.append(
                [
                    "... vs the plain-Python reference, per chain",
                    fmt_time(g["rfa_fast dense"].per_item),
                    fmt_time(ref.per_item),
                    fmt_ratio(ref.per_item / g["rfa_fast dense"].per_item),
                ]
            )
    for model, label in LABEL.items():
        one, ref = find(rows, "model:", "rfa_fast.analyze", model=model), find(rows, "model:", "reference", model=model)
        if one and ref:
            other.append(
                [
                    f"{label}: rfa_fast.analyze vs the reference",
                    fmt_time(one.median),
                    fmt_time(ref.median),
                    fmt_ratio(ref.median / one.median),
                ]
            )
    nb = [r for r in rows if r.group.startswith("nb201: all")]
    if nb:
        g = {r.impl: r for r in nb}
        for label, fast in (
            ("rfa_fast (pack + screen)", g.get("rfa_fast: nb201_batch + screen")),
            ("rfa_fast (pack + screen, 1 thread)", g.get("rfa_fast: nb201_batch + screen, 1 thread")),
        ):
            if fast and "rfa-toolbox, one at a time" in g:
                toolbox = g["rfa-toolbox, one at a time"]
                other.append(
                    [
                        f"all 15,625 NAS-Bench-201 cells: {label} vs rfa-toolbox, one at a time, per cell",
                        fmt_time(fast.per_item),
                        fmt_time(toolbox.per_item),
                        fmt_ratio(toolbox.per_item / fast.per_item),
                    ]
                )
    nbs = {r.impl: r for r in rows if r.group.startswith("nb201:") and not r.group.startswith("nb201: all")}
    if "reference" in nbs and "rfa_fast: nb201_batch + screen" in nbs:
        f, ref = nbs["rfa_fast: nb201_batch + screen"], nbs["reference"]
        other.append(
            [
                f"{ref.items} NAS-Bench-201 cells: rfa_fast vs the reference",
                fmt_time(f.median),
                fmt_time(ref.median),
                fmt_ratio(ref.per_item / f.per_item),
            ]
        )
    dags = {r.impl: r for r in rows if r.group.startswith("dags: 10,000 random")}
    for impl in ("rfa_fast", "rfa_fast, 1 thread"):
        if impl in dags and "reference" in dags:
            f, ref = dags[impl], dags["reference"]
            other.append(
                [
                    f"random DAGs of 64 nodes: {impl} (10,000 per call) vs the reference, per DAG",
                    fmt_time(f.per_item),
                    fmt_time(ref.per_item),
                    fmt_ratio(ref.per_item / f.per_item),
                ]
            )
    if other:
        out += ["Against the other baselines (the base column is rfa_fast):", ""]
        out += table(["comparison", "rfa_fast", "baseline", "speed-up"], other)
        out.append("")
    big = []
    for impl in ("rfa_fast dense", "rfa_fast sparse"):
        r = find(rows, "scaling: batch", impl, batch=1_000_000)
        if r:
            big.append(
                f"10^6 chains of 20 layers, {impl.split()[-1]} path: {fmt_time(r.median)} per screen "
                f"({fmt_time(r.per_item)} per candidate)"
            )
    nb_all = find(rows, "nb201: all", "rfa_fast: nb201_batch + screen")
    if nb_all:
        big.append(f"all 15,625 NAS-Bench-201 cells, packed and screened: {fmt_time(nb_all.median)}")
    for r in rows:
        if r.group.startswith("memory:") and "peak_rss_kb" in r.extra:
            big.append(
                f"peak RSS of a screen of {r.extra['candidates']:,} candidates, {r.impl}: "
                f"{r.extra['peak_rss_kb'] / 1024:,.0f} MiB in all, {r.extra['growth_bytes'] / 2**20:,.0f} MiB "
                f"during the screen ({r.extra['batch_copies']:.2f} copies of the inputs beyond the results; see Memory)"
            )
    if big:
        out += ["Absolute:", ""] + [f"- {b}" for b in big] + [""]
    return out


def fit_exponent(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of log(y) against log(x): 1 means linear."""
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    den = sum((a - mx) ** 2 for a in lx)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / den if den else math.nan


def scaling_tables(rows: Sequence[Row]) -> list[str]:
    out: list[str] = []
    batch = [r for r in rows if r.group.startswith("scaling: batch")]
    if batch:
        out += ["## Scaling with batch size", "", f"Group `{batch[0].group}`: one call screens B chains.", ""]
        impls = list(dict.fromkeys(r.impl for r in batch))
        sizes = sorted({int(r.extra["batch"]) for r in batch})
        body = []
        for B in sizes:
            line = [f"{B:,}"]
            for impl in impls:
                r = next((x for x in batch if x.impl == impl and x.extra.get("batch") == B), None)
                line.append(f"{fmt_time(r.median)} ({fmt_time(r.per_item)}/cand.)" if r else "")
            body.append(line)
        out += table(["B"] + [f"{i} (per candidate)" for i in impls], body)
        out.append("")
        fits = []
        for impl in impls:
            pts = [
                (int(r.extra["batch"]), r.median) for r in batch if r.impl == impl and int(r.extra["batch"]) >= 10_000
            ]
            if len(pts) >= 2:
                fits.append(f"{impl}: time ∝ B^{fit_exponent(*zip(*pts)):.2f} from 10^4 up")
        threads = []
        for B in (100_000, 1_000_000):
            for path in ("dense", "sparse"):
                one = find(batch, "scaling: batch", f"rfa_fast {path}, 1 thread", batch=B)
                allt = find(batch, "scaling: batch", f"rfa_fast {path}", batch=B)
                if one and allt:
                    threads.append(
                        f"{path}, B = {B:,}: 1 thread {fmt_time(one.median)}, all threads {fmt_time(allt.median)} "
                        f"(speed-up {fmt_ratio(one.median / allt.median)})"
                    )
        if fits:
            out += ["Fitted exponents: " + "; ".join(fits) + ".", ""]
        if threads:
            out += ["Threads (1 against all cores):", ""] + [f"- {t}" for t in threads] + [""]
    graph = [r for r in rows if r.group.startswith("scaling: graph size")]
    if graph:
        out += [
            "## Scaling with graph size",
            "",
            "One graph per call: `rfa_fast.analyze` (arrays packed once; per-node table, I_min from per-node "
            "thresholds), `rfa_fast.screen(..., i_min=False)` (propagation and the status rules at 32 px only), "
            "and the reference from its Graph. Time per node+edge stays flat when the cost is linear in N+E.",
            "",
        ]
        impls = ["rfa_fast.analyze", "rfa_fast.screen, i_min=False", "reference"]
        body = []
        fits = []
        for family in dict.fromkeys(r.extra.get("family") for r in graph):
            fam = [r for r in graph if r.extra.get("family") == family]
            for layers in sorted({int(r.extra["layers"]) for r in fam}):
                cells = {r.impl: r for r in fam if int(r.extra["layers"]) == layers}
                any_row = next(iter(cells.values()))
                ne = int(any_row.extra["nodes"]) + int(any_row.extra["edges"])
                line = [family, f"{layers:,}", fmt_int(any_row.extra["nodes"]), fmt_int(any_row.extra["edges"])]
                for impl in impls:
                    r = cells.get(impl)
                    line += [fmt_time(r.median), fmt_time(r.median / ne)] if r else ["", ""]
                body.append(line)
            for impl in impls[:2]:
                pts = [
                    (int(r.extra["nodes"]) + int(r.extra["edges"]), r.median)
                    for r in fam
                    if r.impl == impl and int(r.extra["layers"]) >= 1_000
                ]
                if len(pts) >= 2:
                    fits.append(f"{family}, {impl}: time ∝ (N+E)^{fit_exponent(*zip(*pts)):.2f} from 1,000 layers up")
        header = ["topology", "layers", "nodes N", "edges E"]
        for impl in impls:
            header += [impl, "per node+edge"]
        out += table(header, body)
        out.append("")
        if fits:
            out += ["Fitted exponents: " + "; ".join(fits) + ".", ""]
    return out


def memory_table(rows: Sequence[Row]) -> list[str]:
    mem = [r for r in rows if r.group.startswith("memory:") and "peak_rss_kb" in r.extra]
    if not mem:
        return []
    body = []
    for r in mem:
        e = r.extra
        body.append(
            [
                r.impl,
                f"{e['candidates']:,}",
                f"{e['input_bytes'] / 2**20:,.0f}",
                f"{e['result_bytes'] / 2**20:,.0f}",
                f"{e['rss_before_kb'] / 1024:,.0f}",
                f"{e['peak_rss_kb'] / 1024:,.0f}",
                f"{e['growth_bytes'] / 2**20:,.0f}",
                f"{e['batch_copies']:.2f}",
                f"{e['peak_rss_mb_per_million']:,.0f} MiB",
                fmt_time(e["screen_seconds"]),
            ]
        )
    lines = [
        "## Memory",
        "",
        "Each screen runs in a fresh process (`bench/memory_child.py`): it builds the inputs, resets the kernel's "
        "peak counter (`/proc/self/clear_refs`), screens at 32 px and reads VmHWM. *Growth* is the peak during the "
        "screen minus the resident set before it; *copies* is (growth − result arrays) / input arrays: the test "
        "fails above one copy. The dense path's 0.5 is the all-ones dilation array `screen_chains` makes when "
        "none is given (one [B, L] int32 array, half of kernel + stride); the sparse path's batch is read in place.",
        "",
    ]
    lines += table(
        [
            "screen",
            "candidates",
            "inputs MiB",
            "results MiB",
            "RSS before MiB",
            "peak RSS MiB",
            "growth MiB",
            "copies of the batch",
            "peak per 10^6 candidates",
            "screen time",
        ],
        body,
    )
    lines.append("")
    return lines


def machine(data: dict[str, Any], json_name: str, command: str | None) -> list[str]:
    info = data.get("machine_info", {})
    rb = info.get("rfa_bench", {})
    commit = data.get("commit_info", {})
    cmd = command or rb.get("command") or "pytest bench/ --benchmark-only --benchmark-json=bench.json"
    la_start = rb.get("loadavg_start") or []
    la_end = rb.get("loadavg_end") or []

    date = data.get("datetime", "?")[:19].replace("T", " ")
    dirty = " (with uncommitted changes in the tree)" if commit.get("dirty") else ""
    system = f"{info.get('system', '')} {info.get('release', '')}"

    def la(v: Sequence[float]) -> str:
        return " / ".join(f"{x:.2f}" for x in v) if v else "?"

    lines = [
        "## The run",
        "",
        "```",
        cmd,
        f"python bench/report.py {json_name} -o docs/benchmarks.md",
        "```",
        "",
        f"- date: {date} UTC; wall time of the suite: {rb.get('wall_seconds', 0):.0f} s",
        f"- commit: {str(commit.get('id', '?'))[:12]}{dirty}",
        f"- CPU: {rb.get('cpu_model', '?')}, {rb.get('cores', '?')} cores; {system}",
        f"- Python {rb.get('python', '?')}, numpy {rb.get('numpy', '?')}, onnx {rb.get('onnx', '?')}, "
        f"rfa_fast {rb.get('rfa_fast', '?')}, rfa-toolbox {rb.get('rfa_toolbox') or 'not installed'}, "
        f"pytest-benchmark {rb.get('pytest_benchmark', '?')}",
        f"- load average (1 / 5 / 15 min): {la(la_start)} at the start, {la(la_end)} at the end; the 1-minute "
        f"value sampled before each test: {rb.get('loadavg_1m_min', 0):.2f} to {rb.get('loadavg_1m_max', 0):.2f} "
        f"(mean {rb.get('loadavg_1m_mean', 0):.2f}). The machine is shared with other jobs: a load above the core "
        "count inflates every row, the baselines' as much as rfa_fast's, so ratios within a group are more stable "
        "than absolute times.",
        "",
        "How to read the tables: *median per call* is pytest-benchmark's median over *rounds*; *per item* divides "
        "it by the networks or candidates one call processes; the ratio column divides each row's per-item median "
        "by the **bold** row's (above 1: slower than it), and where a group has one, the next column by the "
        "*italic* row's: the bold row run on one thread (`threads=1`), so the ratios a one-core machine sees stand "
        "beside the all-thread ones. *input* says what a timed call starts from: arrays packed before the timer "
        "(prepacked), or the user's input with the packing timed (rows of a search space, `Graph` objects, specs, "
        "cell strings).",
        "",
    ]
    return lines


def render(data: dict[str, Any], json_name: str = "bench.json", command: str | None = None) -> str:
    rows = load_rows(data)
    lines = [
        "# Benchmarks",
        "",
        "rfa_fast against the tools a user would otherwise pick: the authors' rfa-toolbox, a numpy implementation "
        "vectorized across candidates (`bench/numpy_baseline.py`), and the plain-Python reference "
        "(`rfa_fast/reference.py`), each group running them side by side and asserting they agree "
        "(`bench/test_bench_*.py`). This page is generated by `bench/report.py` from one run; do not edit it by hand.",
        "",
    ]
    lines += machine(data, json_name, command)
    lines += headline(rows)
    lines += scaling_tables(rows)
    lines += memory_table(rows)
    lines += NOTES.splitlines() + [""]
    groups = by_group(rows)
    used: set[str] = set()
    lines += ["## All groups", ""]
    for prefix, title in SECTIONS + [("", "Other groups")]:
        names = [g for g in groups if g.startswith(prefix) and g not in used]
        if not names:
            continue
        lines += [f"### {title}", ""]
        for g in names:
            used.add(g)
            lines += [f"#### {g}", ""] + group_table(groups[g]) + [""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("json", type=Path, help="pytest-benchmark JSON (--benchmark-json=...)")
    p.add_argument("-o", "--output", type=Path, default=None, help="markdown file to write (default: stdout)")
    p.add_argument("--command", default=None, help="the command to print (default: the one recorded in the JSON)")
    args = p.parse_args(argv)
    data = json.loads(args.json.read_text())
    text = render(data, str(args.json), args.command)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
