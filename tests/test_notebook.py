"""Jupyter display: ``Report._repr_html_`` and ``ScreenResult._repr_html_``.

The HTML string is checked directly (escaping, colours, row counts, scoped
styles, no external resource) and once in headless Chromium, which lays out
both outputs inside a page of its own and reports what it rendered
(skipped outside CI when Chromium is missing, a failure in CI: tests/deps.py).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
from deps import chromium, needs_chromium

import rfa_fast
from rfa_fast import GraphBuilder, draw, nas, notebook, zoo
from rfa_fast.results import ScreenResult

COLORS = draw.STATUS_COLORS
ODD = 'conv <b>&"c"'  # a layer name that must be escaped


def odd_graph() -> rfa_fast.Graph:
    """At 8 px: the conv named ODD is critical, conv_b the border; the graph's own name needs escaping too."""
    b = GraphBuilder("net <i>&</i>")
    x = b.input("x")
    x = b.conv(x, 3, pad=1, c_in=3, c_out=8, name="stem")
    y = b.conv(x, 5, pad=2, c_in=8, c_out=8, name="conv_a")
    y = b.conv(y, 3, pad=1, c_in=8, c_out=8, name=ODD)
    y = b.conv(y, 3, 2, pad=2, dilation=2, c_in=8, c_out=8, name="conv_b")
    y = b.conv(y, 3, pad=1, c_in=8, c_out=8, name="conv_after")
    x = b.conv(x, 1, 2, c_in=8, c_out=8, name="down")
    x = b.add(y, x, name="add")
    x = b.global_pool(x, name="gap")
    b.dense(x, 8, 10, name="fc")
    return b.build()


def rows_of(out: str, table_class: str) -> list[str]:
    """The ``<tr ...>`` opening tags of the body of the first table with that class."""
    body = out.split(f'<table class="{table_class}">', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr\b[^>]*>", body)


def assert_self_contained_and_scoped(out: str) -> None:
    assert out.startswith('<div class="rfa-nb ') and out.endswith("</div>")
    assert not re.search(r"https?://", out)
    assert not re.search(r"<(script|link|img|iframe)\b", out) and "src=" not in out and "url(" not in out
    css = re.findall(r"<style>(.*?)</style>", out, re.S)
    assert len(css) == 1
    selectors = [s.strip() for block in re.findall(r"([^{}]+)\{", css[0]) for s in block.split(",")]
    assert selectors and all(s.startswith(".rfa-nb") for s in selectors), selectors


# -- Report -------------------------------------------------------------------------
def test_report_html_has_summary_plot_and_table_coloured_by_status() -> None:
    rep = rfa_fast.analyze(odd_graph(), 8)
    status = {la.name: la.status for la in rep.layers}
    assert (status["conv_b"], status[ODD], status["conv_after"], status["conv_a"]) == (
        "border",
        "critical",
        "unproductive",
        "ok",
    )
    out = rep._repr_html_()
    assert_self_contained_and_scoped(out)
    assert out.startswith('<div class="rfa-nb rfa-nb-report"')
    # the title and the summary
    assert "<b>net &lt;i&gt;&amp;&lt;/i&gt;</b> at 8 px (10 layers)" in out
    summary = out.split('<table class="summary">')[1].split("</table>")[0]
    assert '<td>8 px</td><td class="text">conv_b</td><td>2</td>' in summary
    # one row per layer, the status as class and as inline colour
    rows = rows_of(out, "layers")
    assert len(rows) == len(rep.layers) == 10
    by_status = {s: [r for r in rows if f'class="{s}"' in r] for s in ("border", "unproductive", "critical", "ok")}
    assert [len(by_status[s]) for s in ("border", "unproductive", "critical")] == [1, 1, 1]
    assert f"background:{COLORS['border']};color:#fff" in by_status["border"][0]
    assert f"background:{COLORS['unproductive']}" in by_status["unproductive"][0]
    assert f"background:{COLORS['critical']}" in by_status["critical"][0]
    assert by_status["ok"] and all("style=" not in r for r in by_status["ok"])
    # names escaped, in the table and in the plot's tooltips
    assert ODD not in out and "<b>&" not in out
    assert out.count(html.escape(ODD)) >= 2
    assert '<td class="name" title="conv &lt;b&gt;&amp;&quot;c&quot;">' in out
    # the plot: the project's SVG, one point per window, a border marker, the resolution line
    plot = re.search(r'<svg id="rfa-nb-([0-9a-f]+)-plot-0" class="rf-plot".*?</svg>', out, re.S)
    assert plot and out.count("<svg ") == 1
    n_windows = sum(la.kind == "window" for la in rep.layers)
    rf_max = re.search(r'<polyline class="rf-max" points="([^"]*)"', plot.group(0))
    assert rf_max and len(rf_max.group(1).split()) == n_windows == 6
    assert plot.group(0).count('class="border-marker"') == 1 and "I = 8 px" in plot.group(0)
    # the output's id and the plot's id carry the same unique tag; a second display gets another
    assert f'id="rfa-nb-{plot.group(1)}"' in out
    again = re.search(r'<svg id="rfa-nb-([0-9a-f]+)-plot-0"', rep._repr_html_())
    assert again and again.group(1) != plot.group(1)


def test_report_html_plots_each_axis_when_they_differ_and_names_misaligned_merges() -> None:
    b = GraphBuilder("asym")
    x = b.input()
    for _ in range(3):
        x = b.conv(x, (1, 7), 2, pad=(0, 3))
    out = rfa_fast.analyze(b.build(), 32)._repr_html_()
    assert re.search(r'<svg id="rfa-nb-\w+-plot-0"', out) and re.search(r'<svg id="rfa-nb-\w+-plot-1"', out)
    assert "axis H: " in out and "axis W: " in out
    assert "misaligned" not in out
    b = GraphBuilder("reduction")
    x = b.input()
    m = b.add(b.conv(x, 3, 2, pad=1, c_in=3, c_out=8), b.pool(x, 2, 2), name="m<1>")
    b.conv(m, 3, pad=1, c_in=8, c_out=8)
    out = rfa_fast.analyze(b.build(), 6)._repr_html_()
    assert '<p class="rfa-nb-note">misaligned merges: m&lt;1&gt;</p>' in out


def test_report_html_of_a_large_model_keeps_every_layer() -> None:
    rep = rfa_fast.analyze(zoo.resnet18(), 32)
    out = rep._repr_html_()
    rows = rows_of(out, "layers")
    assert len(rows) == len(rep.layers)
    assert sum('class="border"' in r for r in rows) == 1 and sum('class="unproductive"' in r for r in rows) == 6


# -- ScreenResult -------------------------------------------------------------------
NB201_CUT = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"  # output not connected to the input
NB201_OK = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|avg_pool_3x3~2|"


def test_screen_html_summary_and_first_rows() -> None:
    r = rfa_fast.screen(nas.nb201_batch([NB201_CUT, NB201_OK, NB201_OK]), [8, 32])
    assert r.connected.tolist() == [False, True, True] and r.n_unproductive[:, 0].tolist() == [0, 16, 16]
    out = r._repr_html_()
    assert_self_contained_and_scoped(out)
    assert out.startswith('<div class="rfa-nb rfa-nb-screen"')
    assert "<b>ScreenResult</b>: 3 candidates at 8 px, 32 px" in out
    summary = dict(re.findall(r'<tr><th class="text">([^<]*)</th><td>([^<]*)</td></tr>', out))
    assert summary["candidates"] == "3" and summary["connected"] == "2 (66.7%)"
    assert summary["I_min"] == "15" and summary["rf_max"] == fmt(r.rf_max[1, 0])  # the disconnected one left out
    res = re.findall(r"<tr><td>(\d+ px)</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", out)
    assert res == [("8 px", "0 (0.0%)", "2 (100.0%)", "16"), ("32 px", "2 (100.0%)", "0 (0.0%)", "0")]
    rows = rows_of(out, "rfa-nb-head")
    assert len(rows) == 3
    assert "disconnected" in rows[0] and f"background:{COLORS['global']}" in rows[0]
    assert all("disconnected" not in row for row in rows[1:])
    assert out.count(f'<td style="background:{COLORS["unproductive"]}">16 (') == 2  # at 8 px; 0 at 32 px
    assert "all 3 candidates" in out


def test_screen_html_shows_only_the_first_rows_and_escapes_names() -> None:
    graphs = []
    for i in range(25):
        b = GraphBuilder(f"g{i} <&>")
        x = b.input()
        for _ in range(i % 5 + 1):
            x = b.conv(x, 3, 2, pad=1)
        graphs.append(b.build())
    r = rfa_fast.screen(graphs, 16)
    out = r._repr_html_()
    rows = rows_of(out, "rfa-nb-head")
    assert len(rows) == notebook.HEAD_ROWS == 10 and "first 10 of 25 candidates" in out
    assert "g9 &lt;&amp;&gt;" in out and "g10 &lt;" not in out and "<&>" not in out
    assert notebook.screen_html(r, rows=3).count('<tr class="rfa-nb-row') == 3
    # the per-resolution counts are those of the arrays
    bad = int(np.count_nonzero(r.n_unproductive[:, 0]))
    assert 0 < bad < 25
    assert f"<td>16 px</td><td>{25 - bad} ({100 * (25 - bad) / 25:.1f}%)</td><td>{bad} (" in out


def test_screen_html_of_an_empty_result() -> None:
    full = rfa_fast.screen_chains([[3] * 3], [[1] * 3], resolutions=32)
    raw = {("graph_rf_max" if f == "rf_max" else f): getattr(full, f)[:0] for f in ScreenResult.FIELDS}
    r = ScreenResult(raw, full.resolutions, None)
    assert len(r) == 0
    out = r._repr_html_()
    summary = dict(re.findall(r'<tr><th class="text">([^<]*)</th><td>([^<]*)</td></tr>', out))
    assert summary["candidates"] == "0" and summary["I_min"] == "-" and summary["rf_max"] == "-"
    assert rows_of(out, "rfa-nb-head") == []


def fmt(v: float) -> str:
    return rfa_fast.report.fmt_axes((float(v),))


def test_screen_html_of_ten_million_candidates_is_fast() -> None:
    """Only the first rows are converted: 10^7 candidates display in well under the budget.

    The arrays that are not read are zero-copy broadcasts; those the summary
    reads are real (about 170 MB).
    """
    n = 10**7
    rng = np.random.default_rng(0)
    i_min = rng.integers(8, 200, n).astype(np.float64)
    i_min[5] = np.inf
    connected = np.ones(n, bool)
    connected[n // 2 :: 7] = False
    n_unp = (i_min > 32).astype(np.int64)[:, None]

    def zeros(shape: tuple[int, ...], dtype: type) -> np.ndarray:
        return np.broadcast_to(np.zeros((), dtype), shape)

    raw = {f: zeros((n, 1), np.int64) for f in ("n_border", "n_critical", "n_partially_critical", "macs")}
    raw |= {"macs_unproductive": zeros((n, 1), np.int64), "n_unproductive": n_unp, "i_min": i_min, "i_max": i_min}
    raw |= {"i_min_axes": zeros((n, 2), np.float64), "i_max_axes": zeros((n, 2), np.float64)}
    raw |= {"graph_rf_max": np.broadcast_to(i_min[:, None], (n, 2)), "connected": connected}
    raw |= {"aligned": np.broadcast_to(np.True_, (n,)), "params": zeros((n,), np.int64)}
    raw |= {"n_dead": zeros((n,), np.int64), "macs_dead": zeros((n, 1), np.int64)}
    r = ScreenResult(raw, np.array([[32, 32]]), None)
    out = r._repr_html_()  # only the first rows are converted (speed is not asserted here: bench/ times things)
    assert len(out) < 10_000 and len(rows_of(out, "rfa-nb-head")) == 10
    summary = dict(re.findall(r'<tr><th class="text">([^<]*)</th><td>([^<]*)</td></tr>', out))
    live = i_min[connected]
    assert summary["candidates"] == "10,000,000"
    assert summary["connected"] == f"{connected.sum():,} ({100 * connected.mean():.1f}%)"
    assert summary["I_min"] == "8–199; none up to 2^30 for 1"
    bad = int(np.count_nonzero(live > 32))
    assert f"<td>32 px</td><td>{live.size - bad:,} (" in out and f"<td>{bad:,} (" in out


# -- in a browser -------------------------------------------------------------------------
# A page like a notebook's: its own table and styles around the two outputs, and a probe that
# writes what the browser laid out as JSON into the DOM.
PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>notebook</title>
<style>table.host td {{ padding: 3px; }}</style></head><body>
<table class="host" id="host"><tbody><tr><td id="host-cell">outside</td></tr></tbody></table>
<div class="cell">{report}</div><div class="cell">{screen}</div>
<pre id="probe"></pre><script>
const out = {{}};
const px = (el, prop) => getComputedStyle(el)[prop];
const rep = document.querySelector(".rfa-nb-report"), scr = document.querySelector(".rfa-nb-screen");
const plot = rep.querySelector("svg.rf-plot");
const box = plot.getBoundingClientRect();
out.plot = [box.width, box.height];
out.points = plot.querySelector("polyline.rf-max").points.numberOfItems;
out.borderMarkers = plot.querySelectorAll("line.border-marker").length;
out.layerRows = rep.querySelectorAll("table.layers tbody tr").length;
out.borderRow = px(rep.querySelector("tr.border"), "backgroundColor");
out.borderText = px(rep.querySelector("tr.border td"), "color");
out.unproductiveRow = px(rep.querySelector("tr.unproductive"), "backgroundColor");
out.criticalRow = px(rep.querySelector("tr.critical"), "backgroundColor");
out.layerCellAlign = px(rep.querySelector("table.layers tbody td:nth-child(6)"), "textAlign");
out.screenRows = scr.querySelectorAll("table.rfa-nb-head tbody tr").length;
out.disconnected = px(scr.querySelector("tr.disconnected"), "backgroundColor");
out.hostCell = [px(document.getElementById("host-cell"), "textAlign"), px(document.getElementById("host-cell"),
  "paddingLeft"), px(document.getElementById("host-cell"), "fontSize"), px(document.body, "fontFamily")];
out.names = Array.from(rep.querySelectorAll("td.name")).map((td) => td.textContent);
document.getElementById("probe").textContent = JSON.stringify(out);
</script></body></html>
"""


def rgb(color: str) -> str:
    """``#d62728`` -> ``rgb(214, 39, 40)``, as getComputedStyle writes it."""
    return "rgb({}, {}, {})".format(*(int(color[i : i + 2], 16) for i in (1, 3, 5)))


@needs_chromium
def test_both_outputs_render_in_headless_chromium(tmp_path: Path) -> None:
    rep = rfa_fast.analyze(odd_graph(), 8)
    res = rfa_fast.screen(nas.nb201_batch([NB201_CUT, NB201_OK, NB201_OK]), [8, 32])
    page = tmp_path / "notebook.html"
    page.write_text(PAGE.format(report=rep._repr_html_(), screen=res._repr_html_()), encoding="utf-8")
    proc = chromium(page.as_uri(), "--dump-dom", "--window-size=1000,900")
    assert proc.returncode == 0, proc.stderr
    assert ":CONSOLE" not in proc.stderr, proc.stderr  # no script error, no failed resource
    m = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S)
    assert m, proc.stdout[-2000:]
    got = json.loads(html.unescape(m.group(1)))
    # the plot is laid out and scaled to the page (960 px wide SVG, max-width 100% of the ~980 px body)
    assert 500 < got["plot"][0] <= 1000 and got["plot"][1] > 150
    assert got["points"] == 6 and got["borderMarkers"] == 1
    # the table: every layer, coloured by status, numbers right-aligned by the scoped style
    assert got["layerRows"] == 10
    assert got["borderRow"] == rgb(COLORS["border"]) and got["borderText"] == "rgb(255, 255, 255)"
    assert got["unproductiveRow"] == rgb(COLORS["unproductive"]) and got["criticalRow"] == rgb(COLORS["critical"])
    assert got["layerCellAlign"] == "right"
    assert ODD in got["names"]  # the escaped name reads as written
    # the screen: its three rows, the disconnected one greyed
    assert got["screenRows"] == 3 and got["disconnected"] == rgb(COLORS["global"])
    # nothing leaked into the page around them: its own table keeps the browser's and its own styles
    align, padding, size, family = got["hostCell"]
    assert align in ("start", "left") and padding == "3px" and size == "16px" and "system-ui" not in family
