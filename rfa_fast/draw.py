"""Drawings of an analyzed graph: DOT text, rendered by Graphviz's ``dot`` when it is installed.

The DOT text is generated here without any dependency, so ``.dot`` output
always works; SVG, PNG and PDF need the ``dot`` program (looked up on
``PATH``).  Analysis never depends on Graphviz (STYLE.md): only pictures do.

Nodes are coloured by their status at the report's resolution, as in the
RFA paper's figures: red for unproductive layers (darkest for the border
layer, where unproductiveness starts), orange for critical layers (rf_min
larger than the input), grey for global nodes; a legend cluster says so.

>>> import rfa_fast
>>> from rfa_fast import draw, zoo
>>> text = draw.to_dot(rfa_fast.analyze(zoo.resnet18(), 32))
>>> text.splitlines()[0], STATUS_COLORS["border"] in text
('digraph rfa {', True)
"""

from __future__ import annotations

import shutil
import subprocess

from .errors import RfaError
from .report import Layer, Report, fmt_axes, fmt_count

# Fill colours by status; the HTML table (Report._repr_html_) uses the same.
STATUS_COLORS = {
    "border": "#d62728",  # red: the first unproductive layer on its path
    "unproductive": "#ff9896",  # light red: past the border
    "critical": "#ffbb78",  # orange: rf_min > I, still productive
    "global": "#e8e8e8",  # grey: the field is the whole input
    "dead": "#9e9e9e",  # dark grey: no output is reachable, nothing it computes is seen
    "ok": "#ffffff",
}
LEGEND = [  # {res} is the resolution
    ("border", "border: unproductiveness starts here"),
    ("unproductive", "unproductive: nothing left to learn at {res} px"),
    ("critical", "critical: rf_min > {res} px"),
    ("ok", "ok"),
    ("global", "global: field = whole input"),
    ("dead", "dead: no output reachable"),
]
# Graphviz's crossing minimization and spline routing are superlinear: a
# DenseNet-121 (719 edges) takes minutes with the defaults and 2 s with these.
LARGE_GRAPH_EDGES = 300
LARGE_GRAPH_ATTRS = "mclimit=0.05, nslimit=2, nslimit1=2, searchsize=10, splines=line"
# Output formats and the `dot -T` flag that makes them.
FORMATS = {"svg": "svg", "png": "png", "pdf": "pdf", "dot": None, "gv": None}
INSTALL_HINT = (
    "Graphviz's `dot` program is needed for {fmt} output and was not found on PATH; install it "
    "(Debian/Ubuntu: apt-get install graphviz; conda: conda install graphviz; macOS: brew install graphviz) "
    "or write DOT text with -o FILE.dot"
)
_MAX_NAME = 44  # longer node names are cut at the front: the end says what the layer is


class GraphvizError(RfaError):
    """``dot`` is missing or failed to render."""


def _quote(text: str) -> str:
    """A DOT double-quoted string; ``\\n`` in ``text`` stays a line break."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _short(name: str) -> str:
    return name if len(name) <= _MAX_NAME else "…" + name[-(_MAX_NAME - 1) :]


def _status(layer: Layer) -> str:
    if layer.status == "dead":
        return "dead"
    if layer.kind == "global" or (layer.rf_min and all(v == float("inf") for v in layer.rf_min)):
        return "global"
    return layer.status


def node_label(layer: Layer) -> str:
    """The box text: name, op with kernel/stride/dilation, rf_min–rf_max and fmap, status."""
    lines = [_short(layer.name)]
    op = layer.op
    if layer.kind in ("window", "transposed"):
        op += f" {fmt_axes(layer.kernel)}"
        if any(s != 1 for s in layer.stride):
            op += f" /{fmt_axes(layer.stride)}"
        if any(d != 1 for d in layer.dilation):
            op += f" d{fmt_axes(layer.dilation)}"
    lines.append(op)
    if not layer.connected:
        lines.append("not connected to the input")
    elif _status(layer) == "global":
        lines.append("rf = whole input")
    else:
        lo, hi = fmt_axes(layer.rf_min), fmt_axes(layer.rf_max)
        rf = f"rf {lo}" if lo == hi else f"rf {lo}–{hi}"
        lines.append(f"{rf}   fmap {fmt_axes(layer.fmap)}")
    extra = [] if layer.status == "ok" else [layer.status]
    if layer.global_context:
        extra.append("+ global context")
    if layer.macs:
        extra.append(f"{fmt_count(layer.macs)} MACs")
    if extra:
        lines.append(", ".join(extra))
    return "\n".join(lines)


def _shape(layer: Layer) -> str:
    if layer.kind == "input":
        return "invhouse"
    if layer.kind in ("merge", "identity"):
        return "ellipse"
    return "box"


def to_dot(report: Report, *, title: str | None = None, legend: bool = True) -> str:
    """DOT text of the report's graph, nodes coloured by status.

    Args:
        report: from :func:`rfa_fast.analyze` (one resolution).
        title: the drawing's caption (default: model, resolution and summary).
        legend: add a cluster that explains the colours.
    """
    res = fmt_axes(report.resolution)
    s = report.summary
    if title is None:
        border = ", ".join(s["border_layers"]) or "none"
        title = (
            f"{report.model} at {res} px: {s['n_unproductive']} unproductive, border {border}, "
            f"I_min {fmt_axes(tuple(s['i_min']))}"
        )
    out = [
        "digraph rfa {",
        f"  graph [label={_quote(title)}, labelloc=t, fontname=Helvetica, fontsize=14, rankdir=TB, nodesep=0.25, ranksep=0.3];",
        '  node [shape=box, style="filled,rounded", fontname=Helvetica, fontsize=10, fillcolor="#ffffff", margin="0.12,0.04"];',
        '  edge [color="#555555", arrowsize=0.6];',
    ]
    for la in report.layers:
        status = _status(la)
        attrs = [f"label={_quote(node_label(la))}", f'fillcolor="{STATUS_COLORS[status]}"', f"shape={_shape(la)}"]
        if status == "border":
            attrs += ['fontcolor="#ffffff"', "penwidth=2"]
        if la.global_context:
            attrs.append('style="filled,rounded,dashed"')
        if not la.connected:
            attrs.append('style="filled,rounded,dotted"')
        out.append(f"  n{la.index} [{', '.join(attrs)}];")
    edges = [f"  n{p} -> n{i};" for i, node in enumerate(report.graph.nodes) for p in node.inputs]
    if len(edges) > LARGE_GRAPH_EDGES:
        out.append(f"  graph [{LARGE_GRAPH_ATTRS}];")
    out += edges
    if legend:
        out += _legend(res)
    out.append("}")
    return "\n".join(out) + "\n"


def _legend(res: str) -> list[str]:
    out = [
        "  subgraph cluster_legend {",
        f'    label={_quote(f"status at {res} px")}; fontsize=11; style=rounded; color="#999999";',
    ]
    for key, text in LEGEND:
        font = ', fontcolor="#ffffff"' if key == "border" else ""
        out.append(f'    legend_{key} [label={_quote(text.format(res=res))}, fillcolor="{STATUS_COLORS[key]}"{font}];')
    # invisible edges stack the legend entries in one column
    out.append("    " + " -> ".join(f"legend_{k}" for k, _ in LEGEND) + " [style=invis];")
    out.append("  }")
    return out


def dot_program() -> str | None:
    """The path of Graphviz's ``dot``, or None when it is not installed."""
    return shutil.which("dot")


def output_format(path: str) -> str:
    """``svg``, ``png``, ``pdf`` or ``dot`` from a file name's extension."""
    ext = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    if ext not in FORMATS:
        raise GraphvizError(f"{path}: unknown drawing format {ext!r}; use .svg, .png, .pdf or .dot")
    return "dot" if FORMATS[ext] is None else ext


def render(dot_text: str, fmt: str, *, timeout: float = 120.0) -> bytes:
    """Run ``dot -T<fmt>`` on the text and return its output.

    Raises :class:`GraphvizError` with installation advice when ``dot`` is
    missing, or with dot's own message when it fails.
    """
    program = dot_program()
    if program is None:
        raise GraphvizError(INSTALL_HINT.format(fmt=fmt.upper()))
    try:
        proc = subprocess.run([program, f"-T{fmt}"], input=dot_text.encode(), capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise GraphvizError(f"dot did not finish within {timeout:.0f} s") from None
    if proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        raise GraphvizError(f"dot -T{fmt} failed: {msg[-1] if msg else f'exit status {proc.returncode}'}")
    return proc.stdout


def draw(report: Report, path: str) -> str:
    """Write the drawing to ``path`` (format from its extension); returns the format."""
    fmt = output_format(path)
    text = to_dot(report)
    data = text.encode() if fmt == "dot" else render(text, fmt)
    with open(path, "wb") as f:
        f.write(data)
    return fmt


__all__ = ["GraphvizError", "STATUS_COLORS", "dot_program", "draw", "node_label", "output_format", "render", "to_dot"]
