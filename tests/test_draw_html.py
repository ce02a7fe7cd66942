"""Drawings (DOT, rendered by Graphviz) and the self-contained HTML report.

The SVG checks need Graphviz's ``dot`` and the browser check needs Chromium;
each is skipped, saying so, only when the program cannot be found, and a
failure in CI (tests/deps.py; .ci/run installs both).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from cli_helpers import assert_one_line_error, chain_onnx, model_path, needs_validation, run
from deps import chromium, needs_chromium, needs_dot

import rfa_fast
from rfa_fast import GraphBuilder, draw, html_report, zoo

COLORS = draw.STATUS_COLORS
R18_BORDER = "/layer3/layer3.0/conv2/Conv"


def node_fills(svg: str) -> dict[str, str]:
    """First label line (the layer name) -> fill colour of its shape, for every node of a dot SVG."""
    ns = {"s": "http://www.w3.org/2000/svg"}
    root = ET.fromstring(svg)
    fills = {}
    for g in root.iter("{http://www.w3.org/2000/svg}g"):
        if g.get("class") != "node":
            continue
        shape = g.find("s:polygon", ns)
        if shape is None:
            shape = g.find("s:path", ns)
        if shape is None:
            shape = g.find("s:ellipse", ns)
        texts = [t.text or "" for t in g.findall("s:text", ns)]
        if shape is not None and texts:
            fills[texts[0]] = shape.get("fill", "")
    return fills


# -- DOT text ----------------------------------------------------------------------
def small_graph() -> rfa_fast.Graph:
    """At 8 px: conv_c is critical (rf 9 > 8, its input map 8 > 3), conv_b the border (its input sees 9 >= 8)."""
    b = GraphBuilder('net "quoted" \\ name')
    x = b.input("x")
    x = b.conv(x, 3, pad=1, c_in=3, c_out=8, name="stem")
    y = b.conv(x, 5, pad=2, c_in=8, c_out=8, name='conv "a"')
    y = b.conv(y, 3, pad=1, c_in=8, c_out=8, name="conv_c")
    y = b.conv(y, 3, 2, pad=2, dilation=2, c_in=8, c_out=8, name="conv_b")
    x = b.conv(x, 1, 2, c_in=8, c_out=8, name="down")
    x = b.add(y, x, name="add")
    x = b.global_pool(x, name="gap")
    b.dense(x, 8, 10, name="fc")
    return b.build()


def test_dot_text_colours_labels_edges_and_legend() -> None:
    rep = rfa_fast.analyze(small_graph(), 8)
    status = {la.name: la.status for la in rep.layers}
    assert (status["conv_b"], status["conv_c"], status['conv "a"']) == ("border", "critical", "ok")
    text = draw.to_dot(rep)
    assert text.startswith("digraph rfa {") and text.rstrip().endswith("}")
    nodes = dict(re.findall(r"^  (n\d+) \[(.*)\];$", text, re.M))
    assert len(nodes) == len(rep.layers)
    assert f'fillcolor="{COLORS["border"]}"' in nodes["n4"] and "penwidth=2" in nodes["n4"]
    assert f'fillcolor="{COLORS["critical"]}"' in nodes["n3"]
    assert f'fillcolor="{COLORS["ok"]}"' in nodes["n2"]
    assert f'fillcolor="{COLORS["global"]}"' in nodes["n7"] and f'fillcolor="{COLORS["global"]}"' in nodes["n8"]
    # labels: name, op with kernel / stride / dilation, rf_min-rf_max and fmap, status and MACs
    assert 'label="conv_b\\nconv 3 /2 d2\\nrf 13   fmap 4\\nborder, 9.22k MACs"' in nodes["n4"]
    assert 'label="conv_c\\nconv 3\\nrf 9   fmap 8\\ncritical, 36.9k MACs"' in nodes["n3"]
    assert 'label="conv \\"a\\"\\nconv 5\\nrf 7   fmap 8\\n102k MACs"' in nodes["n2"]
    assert "rf = whole input" in nodes["n7"]
    assert "rf 3–13   fmap 4" in nodes["n6"]  # the merge: rf_min from the shortcut, rf_max from the branch
    edges = re.findall(r"^  n(\d+) -> n(\d+);$", text, re.M)
    assert sorted((int(a), int(b)) for a, b in edges) == [
        (0, 1), (1, 2), (1, 5), (2, 3), (3, 4), (4, 6), (5, 6), (6, 7), (7, 8)
    ]  # fmt: skip
    assert "subgraph cluster_legend" in text and 'label="status at 8 px"' in text
    for key in ("border", "unproductive", "critical", "ok", "global"):
        assert f"legend_{key} [" in text
    assert 'net \\"quoted\\" \\\\ name at 8 px' in text  # the title, escaped


@needs_dot
def test_dot_accepts_the_text_even_with_odd_names() -> None:
    svg = draw.render(draw.to_dot(rfa_fast.analyze(small_graph(), 8)), "svg").decode()
    fills = node_fills(svg)
    assert fills["conv_b"] == COLORS["border"] and fills["conv_c"] == COLORS["critical"]
    assert fills['conv "a"'] == COLORS["ok"] and fills["fc"] == COLORS["global"]


def test_output_formats() -> None:
    assert [draw.output_format(p) for p in ("a.svg", "b.PNG", "c.pdf", "d.dot", "e.gv")] == [
        "svg",
        "png",
        "pdf",
        "dot",
        "dot",
    ]
    with pytest.raises(draw.GraphvizError, match="unknown drawing format 'jpg'"):
        draw.output_format("x.jpg")


def test_large_graphs_get_the_fast_layout_settings() -> None:
    small = draw.to_dot(rfa_fast.analyze(zoo.resnet18(), 32))
    large = draw.to_dot(rfa_fast.analyze(zoo.densenet121(), 32))
    assert draw.LARGE_GRAPH_ATTRS not in small and draw.LARGE_GRAPH_ATTRS in large


# -- rfa-fast draw -------------------------------------------------------------------------
@needs_validation
def test_draw_dot_file_and_stdout(tmp_path: Path) -> None:
    out = run("draw", model_path("resnet18"), "-r", "32", "-o", "g.dot", cwd=tmp_path).stdout
    assert out.strip() == "wrote g.dot (DOT, 32 layers at 32 px)"
    text = (tmp_path / "g.dot").read_text()
    assert run("draw", model_path("resnet18"), "-r", "32", cwd=tmp_path).stdout == text
    border = next(line for line in text.splitlines() if line.startswith("  n") and R18_BORDER in line)
    assert f'fillcolor="{COLORS["border"]}"' in border and "rf 59–147   fmap 2" in border
    assert text.count(f'fillcolor="{COLORS["unproductive"]}"') == 6 + 1  # six layers + the legend entry
    assert text.count(f'fillcolor="{COLORS["critical"]}"') == 2 + 1


@needs_validation
@needs_dot
def test_draw_svg_and_png_rendered_by_dot(tmp_path: Path) -> None:
    run("draw", model_path("resnet18"), "-r", "32", "-o", "g.svg", cwd=tmp_path)
    svg = (tmp_path / "g.svg").read_text()
    fills = node_fills(svg)
    assert fills[R18_BORDER] == COLORS["border"]
    assert fills["/layer4/layer4.1/conv2/Conv"] == COLORS["unproductive"]
    assert fills["/layer2/layer2.0/conv2/Conv"] == COLORS["critical"]
    assert fills["/layer1/layer1.0/conv1/Conv"] == COLORS["ok"]
    # every fill colour of a status appears in the picture (nodes and legend)
    for color in (COLORS["border"], COLORS["unproductive"], COLORS["critical"]):
        assert f'fill="{color}"' in svg
    assert "status at 32 px" in svg
    run("draw", model_path("resnet18"), "-r", "224", "-o", "g.png", cwd=tmp_path)
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_draw_without_graphviz_says_how_to_get_it(tmp_path: Path) -> None:
    path = str(chain_onnx(tmp_path / "c.onnx", [(3, 2, 1)] * 3))
    empty = tmp_path / "bin"
    empty.mkdir()
    env = dict(os.environ, PATH=str(empty))  # no dot on PATH
    line = assert_one_line_error(run("draw", path, "-o", "c.svg", cwd=tmp_path, env=env, expect=1))
    assert "apt-get install graphviz" in line and "conda install graphviz" in line and "-o FILE.dot" in line
    assert not (tmp_path / "c.svg").exists()
    run("draw", path, "-o", "c.dot", cwd=tmp_path, env=env)  # DOT always works
    assert (tmp_path / "c.dot").read_text().startswith("digraph rfa {")
    # the report holds the DOT source instead of the drawing, and says so
    proc = run("report", path, "-r", "32", "-o", "c.html", cwd=tmp_path, env=env)
    assert "Graphviz's dot is not installed" in proc.stderr
    page = (tmp_path / "c.html").read_text()
    assert '<pre class="dot-source">digraph rfa {' in page and "apt-get install graphviz" in page


def test_draw_takes_one_resolution(tmp_path: Path) -> None:
    path = str(chain_onnx(tmp_path / "c.onnx", [(3, 2, 1)] * 3))
    assert_one_line_error(run("draw", path, "-r", "8", "-r", "16", cwd=tmp_path, expect=2), "one resolution")
    assert_one_line_error(run("draw", path, "-o", "c.gif", cwd=tmp_path, expect=1), "unknown drawing format 'gif'")


# -- HTML -----------------------------------------------------------------------------------
def test_html_is_self_contained_with_summary_plot_and_tables() -> None:
    reps = [rfa_fast.analyze(zoo.resnet18(), r) for r in (32, 224)]
    page = html_report.build_html(reps, source="resnet18 (zoo)", drawings=False)
    assert not re.search(r"https?://", page)
    assert not re.search(r"<(script|link|img|iframe)\b", page) and "src=" not in page and "url(" not in page
    assert page.count('<table class="summary">') == 1
    summary = page.split('<table class="summary">')[1].split("</table>")[0]
    assert '<td>32 px</td><td class="text">layer3.0.conv2</td><td>7</td>' in summary
    assert '<td>224 px</td><td class="text">none</td><td>0</td>' in summary
    assert page.count('<table class="layers">') == 2 and page.count('<tr class="border">') == 1
    assert page.count('<tr class="unproductive">') == 6
    plot = page.split('<svg id="rf-plot-0"')[1].split("</svg>")[0]
    n_windows = sum(la.kind == "window" for la in reps[0].layers)
    rf_max = re.search(r'<polyline class="rf-max" points="([^"]*)"', plot)
    assert rf_max and len(rf_max.group(1).split()) == n_windows == 21
    assert plot.count('class="resolution"') == 2 and "I = 32 px" in plot and "I = 224 px" in plot
    assert plot.count('class="border-marker"') == 1 and "border at 32 px" in plot and "border at 224" not in plot
    assert "layer3.0.conv2 (conv): rf_min 59, rf_max 147" in html.unescape(plot)


def test_html_plots_each_axis_when_they_differ() -> None:
    b = GraphBuilder("asym")
    x = b.input()
    for _ in range(3):
        x = b.conv(x, (1, 7), 2, pad=(0, 3))
    page = html_report.build_html([rfa_fast.analyze(b.build(), 32)], drawings=False)
    assert 'id="rf-plot-0"' in page and 'id="rf-plot-1"' in page and "axis H: " in page and "axis W: " in page


@needs_dot
def test_inline_svg_from_dot_has_no_namespace_urls() -> None:
    svg = draw.render(draw.to_dot(rfa_fast.analyze(small_graph(), 8)), "svg").decode()
    assert "http://www.w3.org" in svg  # dot writes them ...
    inline = html_report.inline_svg(svg)
    assert inline.startswith("<svg ") and "http" not in inline and "<!--" not in inline  # ... the report does not


@needs_validation
def test_report_command_writes_one_self_contained_file(tmp_path: Path) -> None:
    out = run("report", model_path("resnet18"), "-r", "32", "-r", "224", "-o", "r18.html", cwd=tmp_path).stdout
    assert out.strip() == "wrote r18.html (resnet18.graph at 32 px, 224 px)"
    page = (tmp_path / "r18.html").read_text()
    assert not re.search(r"https?://", page)
    assert "<h1>Receptive field analysis of resnet18.graph</h1>" in page
    assert f'<td class="text">{R18_BORDER}</td><td>7</td>' in page
    assert page.count('<tr class="border">') == 1 and page.count('<tr class="unproductive">') == 6
    assert 'id="rf-plot-0"' in page
    if shutil.which("dot"):
        assert page.count('<div class="drawing"><svg') == 2  # one drawing per resolution
        assert f'fill="{COLORS["border"]}"' in page
    run("report", model_path("vgg16"), cwd=tmp_path)  # default name and resolution
    assert "vgg16.graph at 224 px" in (tmp_path / "vgg16.graph.html").read_text()


# A probe appended to a copy of the report: what the browser laid out, as JSON in the DOM.
PROBE = """<pre id="probe"></pre><script>
const out = {};
const plot = document.getElementById("rf-plot-0");
const box = plot.getBoundingClientRect();
out.plot = [box.width, box.height];
out.points = plot.querySelector("polyline.rf-max").points.numberOfItems;
out.borderMarkers = plot.querySelectorAll("line.border-marker").length;
const drawing = document.querySelector(".drawing svg");
out.drawing = drawing ? [drawing.getBoundingClientRect().width, drawing.getBoundingClientRect().height] : null;
out.borderRow = getComputedStyle(document.querySelector("tr.border td")).backgroundColor;
out.tables = document.querySelectorAll("table").length;
document.getElementById("probe").textContent = JSON.stringify(out);
</script>"""


@needs_validation
@needs_chromium
def test_report_opens_in_headless_chromium(tmp_path: Path) -> None:
    run("report", model_path("resnet18"), "-r", "32", "-r", "224", "-o", "r18.html", cwd=tmp_path)
    page = tmp_path / "r18.html"
    # the report itself: loads without a console message (no script errors, no failed resources)
    proc = chromium(page.as_uri(), "--dump-dom")
    assert proc.returncode == 0, proc.stderr
    assert ":CONSOLE" not in proc.stderr, proc.stderr
    dom = proc.stdout
    assert '<svg id="rf-plot-0"' in dom and "</html>" in dom and dom.count('<tr class="border">') == 1
    # a copy with a probe: the plot and the drawing have a size on screen, the table its colours
    probed = tmp_path / "probed.html"
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    proc = chromium(probed.as_uri(), "--dump-dom", "--window-size=1200,900")
    assert ":CONSOLE" not in proc.stderr, proc.stderr
    m = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S)
    assert m, proc.stdout[-2000:]
    got = json.loads(html.unescape(m.group(1)))
    assert got["plot"][0] > 500 and got["plot"][1] > 200
    assert got["points"] == 21 and got["borderMarkers"] == 1 and got["tables"] == 3
    assert got["borderRow"] == "rgb(214, 39, 40)"  # COLORS["border"], #d62728
    if shutil.which("dot"):
        assert got["drawing"] and got["drawing"][0] > 100 and got["drawing"][1] > 100


def test_dead_nodes_are_drawn_and_listed_as_dead() -> None:
    """A side branch that reaches no output: dark grey in the drawing, class ``dead`` in the table."""
    b = GraphBuilder("side")
    x = b.input("x")
    b.conv(x, 5, name="side_conv")
    b.conv(x, 3, name="head")
    g = rfa_fast.Graph(b.build().nodes, name="side", outputs=[2])
    rep = rfa_fast.analyze(g, 4)
    assert rep.layer("side_conv").status == "dead" and rep.dead == ["side_conv"]
    dot = draw.to_dot(rep)
    line = next(li for li in dot.splitlines() if li.strip().startswith("n1 "))  # side_conv
    assert draw.STATUS_COLORS["dead"] in line and "legend_dead" in dot
    table = html_report.layer_table(rep, inline_styles=True)
    assert '<tr class="dead"' in table and html_report.ROW_STYLES["dead"] in table
    assert "dead (no output reachable): 1" in rep.summary_line()
