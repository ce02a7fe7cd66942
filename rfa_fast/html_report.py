"""A self-contained HTML report: summary, receptive-field plot, drawing and layer tables.

One file, no external resources (no scripts, fonts or images fetched: it
opens offline and can be mailed around).  The plot of rf_min/rf_max per
layer is inline SVG drawn here (no matplotlib); the graph drawing is the
SVG of Graphviz's ``dot`` when it is installed, else the DOT source with a
note on how to render it.

>>> import rfa_fast
>>> from rfa_fast import html_report, zoo
>>> reps = [rfa_fast.analyze(zoo.resnet18(), r) for r in (32, 224)]
>>> page = html_report.build_html(reps, drawings=False)
>>> page.startswith("<!DOCTYPE html>"), 'id="rf-plot' in page, "http://" in page
(True, True, False)
"""

from __future__ import annotations

import datetime
import html
import math
import re
from collections.abc import Sequence

from . import draw
from .report import Layer, Report, fmt_axes, fmt_count

AXIS_NAMES = {1: ["L"], 2: ["H", "W"], 3: ["D", "H", "W"]}
_RF_MAX_COLOR = "#1f77b4"
_RF_MIN_COLOR = "#2ca02c"
_RES_COLOR = "#444444"

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { padding: 2px 8px; border-bottom: 1px solid #eee; text-align: right; white-space: nowrap; }
th { background: #f4f4f4; position: sticky; top: 0; }
td.name, td.op, td.text, th.text { text-align: left; }
td.name { max-width: 28em; overflow: hidden; text-overflow: ellipsis; }
tr.border td { background: #d62728; color: #fff; } tr.unproductive td { background: #ff9896; }
tr.critical td { background: #ffbb78; } tr.dead td { background: #9e9e9e; color: #fff; }
.meta, figcaption, .note { color: #666; font-size: 0.9em; }
.drawing { overflow: auto; max-height: 90vh; border: 1px solid #eee; }
pre { background: #f8f8f8; padding: 0.5em; overflow: auto; max-height: 30em; font-size: 0.8em; }
svg text { font-family: system-ui, Helvetica, Arial, sans-serif; }
"""


def _e(text: object) -> str:
    return html.escape(str(text))


# -- the plot ---------------------------------------------------------------
def plotted_layers(report: Report) -> list[Layer]:
    """The layers the plot shows: connected convolutions and pools with a finite field."""
    return [
        la
        for la in report.layers
        if la.kind in ("window", "transposed") and la.connected and all(math.isfinite(v) for v in la.rf_max)
    ]


def _nice_top(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value``."""
    exp = math.floor(math.log10(max(value, 1.0)))
    for m in (1, 2, 5, 10):
        if m * 10**exp >= value:
            return float(m * 10**exp)
    return float(10 ** (exp + 1))  # pragma: no cover - the loop always returns


def rf_plot_svg(
    reports: Sequence[Report], axis: int = 0, *, width: int = 960, height: int = 380, id_prefix: str = "rf-plot"
) -> str:
    """Inline SVG: rf_min and rf_max per layer (log y axis) against each resolution, borders marked.

    The layers are those of the first report (fields do not depend on the
    resolution); every report adds a horizontal line at its resolution and
    a vertical red line at each of its border layers.  The element's id is
    ``{id_prefix}-{axis}`` (a notebook gives each output its own prefix).
    """
    layers = plotted_layers(reports[0])
    left, right, top, bottom = 64, 170, 30, 52
    pw, ph = width - left - right, height - top - bottom
    n = max(len(layers), 1)
    values = [la.rf_max[axis] for la in layers] + [float(r.resolution[axis]) for r in reports]
    y_top = _nice_top(max(values) * 1.15)
    span = math.log10(y_top)

    def x(i: float) -> float:
        return left + (i + 0.5) * pw / n

    def y(v: float) -> float:
        return top + ph * (1 - math.log10(max(v, 1.0)) / span)

    out = [
        f'<svg id="{_e(id_prefix)}-{axis}" class="rf-plot" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="receptive field per layer">',
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fcfcfc" stroke="#ccc"/>',
    ]
    # y grid and labels at 1, 2, 5 x 10^k
    exp = 0
    while 10**exp <= y_top:
        for m in (1, 2, 5):
            v = m * 10**exp
            if v > y_top:
                break
            yy = y(v)
            out.append(f'<line x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#e4e4e4"/>')
            out.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" font-size="11">{v:g}</text>')
        exp += 1
    # x ticks: at most ~20 labels
    step = max(1, math.ceil(n / 20))
    for i in range(0, len(layers), step):
        out.append(f'<text x="{x(i):.1f}" y="{top + ph + 16}" text-anchor="middle" font-size="11">{i + 1}</text>')
    out.append(
        f'<text x="{left + pw / 2}" y="{height - 10}" text-anchor="middle" font-size="12">'
        "convolutions and pools in topological order</text>"
    )
    out.append(
        f'<text x="16" y="{top + ph / 2}" text-anchor="middle" font-size="12" '
        f'transform="rotate(-90 16 {top + ph / 2})">receptive field (px, log scale)</text>'
    )
    if layers:
        hi = [(x(i), y(la.rf_max[axis])) for i, la in enumerate(layers)]
        lo = [(x(i), y(la.rf_min[axis])) for i, la in enumerate(layers)]
        band = " ".join(f"{a:.1f},{b:.1f}" for a, b in hi + lo[::-1])
        out.append(f'<polygon class="rf-band" points="{band}" fill="{_RF_MAX_COLOR}" fill-opacity="0.12"/>')
        for pts, color, dash, cls in (
            (hi, _RF_MAX_COLOR, "", "rf-max"),
            (lo, _RF_MIN_COLOR, ' stroke-dasharray="5 3"', "rf-min"),
        ):
            line = " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)
            out.append(f'<polyline class="{cls}" points="{line}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
        for i, la in enumerate(layers):
            tip = _e(f"{i + 1}. {la.name} ({la.op}): rf_min {fmt_axes(la.rf_min)}, rf_max {fmt_axes(la.rf_max)}")
            for v, color in ((la.rf_max[axis], _RF_MAX_COLOR), (la.rf_min[axis], _RF_MIN_COLOR)):
                out.append(
                    f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{color}"><title>{tip}</title></circle>'
                )
    index = {la.name: i for i, la in enumerate(layers)}
    for rep in reports:
        res = rep.resolution[axis]
        yy = y(res)
        out.append(
            f'<line class="resolution" x1="{left}" x2="{left + pw}" y1="{yy:.1f}" y2="{yy:.1f}" '
            f'stroke="{_RES_COLOR}" stroke-width="1.5" stroke-dasharray="6 4"/>'
        )
        out.append(f'<text x="{left + pw + 6}" y="{yy + 4:.1f}" font-size="12" fill="{_RES_COLOR}">I = {res} px</text>')
        for k, name in enumerate(rep.summary["border_layers"]):
            if name not in index:
                continue
            xx = x(index[name])
            border = draw.STATUS_COLORS["border"]
            out.append(
                f'<line class="border-marker" x1="{xx:.1f}" x2="{xx:.1f}" y1="{top}" y2="{top + ph}" '
                f'stroke="{border}" stroke-width="1.5"><title>{_e(f"border layer at {res} px: {name}")}</title></line>'
            )
            out.append(f'<circle cx="{xx:.1f}" cy="{yy:.1f}" r="5" fill="{border}"/>')
            if k == 0:
                out.append(
                    f'<text x="{xx + 4:.1f}" y="{yy - 6:.1f}" font-size="11" fill="{border}">border at {res} px</text>'
                )
    # legend
    lx, ly = left + pw + 6, top + 4
    legend = [
        (f'<line x1="{lx}" x2="{lx + 22}" y1="{{y}}" y2="{{y}}" stroke="{_RF_MAX_COLOR}" stroke-width="2"/>', "rf_max"),
        (
            f'<line x1="{lx}" x2="{lx + 22}" y1="{{y}}" y2="{{y}}" stroke="{_RF_MIN_COLOR}" stroke-width="2" '
            'stroke-dasharray="5 3"/>',
            "rf_min",
        ),
        (
            f'<line x1="{lx + 11}" x2="{lx + 11}" y1="{{y0}}" y2="{{y1}}" stroke="{draw.STATUS_COLORS["border"]}"/>',
            "border layer",
        ),
    ]
    for k, (shape, text) in enumerate(legend):
        yy = ly + 16 * k + 6
        out.append(shape.format(y=f"{yy:.1f}", y0=f"{yy - 6:.1f}", y1=f"{yy + 6:.1f}"))
        out.append(f'<text x="{lx + 28}" y="{yy + 4:.1f}" font-size="11">{text}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _anisotropic(reports: Sequence[Report]) -> bool:
    """Do the axes differ (fields or resolutions)?  Then the plot is drawn per axis."""
    if any(len(set(r.resolution)) > 1 for r in reports):
        return True
    return any(len(set(la.rf_max)) > 1 or len(set(la.rf_min)) > 1 for la in plotted_layers(reports[0]))


def rf_figures(reports: Sequence[Report], *, id_prefix: str = "rf-plot") -> list[str]:
    """The plot as ``<figure>`` elements with captions: one, or one per axis when the axes differ.

    >>> import rfa_fast
    >>> from rfa_fast import zoo
    >>> figs = rf_figures([rfa_fast.analyze(zoo.resnet18(), 32)], id_prefix="r18")
    >>> len(figs), '<svg id="r18-0"' in figs[0]
    (1, True)
    """
    dims = reports[0].graph.dims
    axes = range(dims) if _anisotropic(reports) else range(1)
    names = AXIS_NAMES.get(dims, [str(a) for a in range(dims)])
    figures = []
    for a in axes:
        caption = f"axis {names[a]}: " if len(axes) > 1 else ""
        figures.append(
            f"<figure>{rf_plot_svg(reports, a, id_prefix=id_prefix)}<figcaption>{caption}rf_min (dashed) and rf_max "
            "of each convolution and pool; dashed grey lines: the input resolutions; red: border layers. A layer "
            "whose rf_min is above a resolution line is critical at that resolution.</figcaption></figure>"
        )
    return figures


# -- the drawing ------------------------------------------------------------
def inline_svg(svg: str) -> str:
    """Graphviz's SVG made fit for inlining in HTML: no prolog, comments or namespace URLs."""
    svg = svg[svg.find("<svg") :]
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(?::\w+)?="[^"]*"', "", svg)
    return svg.replace("<svg ", '<svg style="max-width:100%;height:auto" ', 1)


def _drawing(report: Report, render: bool) -> str:
    text = draw.to_dot(report)
    if render and draw.dot_program() is not None:
        try:
            return f'<div class="drawing">{inline_svg(draw.render(text, "svg").decode())}</div>'
        except draw.GraphvizError as e:
            note = f"Graphviz failed ({_e(e)}); the DOT source follows."
    else:
        note = (
            "Graphviz's <code>dot</code> was not installed when this report was made, so the drawing is given as "
            "DOT source: render it with <code>dot -Tsvg model.dot -o model.svg</code> "
            "(Debian/Ubuntu: <code>apt-get install graphviz</code>; conda: <code>conda install graphviz</code>)."
        )
    return f'<p class="note">{note}</p><pre class="dot-source">{_e(text)}</pre>'


# -- tables -------------------------------------------------------------------
def summary_table(reports: Sequence[Report]) -> str:
    """One row per resolution: border layers, counts, I_min, I_max, rf_max, MACs past the border."""
    head = [
        "resolution",
        "border layers",
        "unproductive",
        "critical",
        "I_min",
        "I_max",
        "rf_max",
        "MACs past the border",
    ]
    rows = []
    for r in reports:
        s = r.summary
        macs = (
            f"{fmt_count(s['macs_unproductive'])} of {fmt_count(s['macs'])} ({100 * r.macs_unproductive_share:.0f}%)"
            if s["macs"]
            else "unknown (no channels)"
        )
        cells = [
            f"{fmt_axes(r.resolution)} px",
            ", ".join(s["border_layers"]) or "none",
            str(s["n_unproductive"]),
            str(len(r.critical)),
            fmt_axes(tuple(s["i_min"])),
            fmt_axes(tuple(s["i_max"])),
            fmt_axes(tuple(s["rf_max"])),
            macs,
        ]
        tds = [f'<td class="text">{_e(v)}</td>' if c == 1 else f"<td>{_e(v)}</td>" for c, v in enumerate(cells)]
        rows.append(f"<tr>{''.join(tds)}</tr>")
    th = "".join(f'<th class="text">{_e(h)}</th>' if c == 1 else f"<th>{_e(h)}</th>" for c, h in enumerate(head))
    return f'<table class="summary"><thead><tr>{th}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


ROW_STYLES = {
    "border": f"background:{draw.STATUS_COLORS['border']};color:#fff",
    "unproductive": f"background:{draw.STATUS_COLORS['unproductive']}",
    "critical": f"background:{draw.STATUS_COLORS['critical']}",
    "dead": f"background:{draw.STATUS_COLORS['dead']};color:#fff",
}
"""Inline row styles by status, for HTML shown without the page's CSS (a notebook output)."""


def layer_table(report: Report, *, inline_styles: bool = False) -> str:
    """The per-layer table of :class:`Report`, rows coloured by status.

    The rows carry the status as their class (the report's CSS colours
    them); ``inline_styles`` also writes the colours into each row's
    ``style``, so that they survive where no stylesheet applies.
    """
    th = "".join(
        f'<th class="text">{_e(h)}</th>' if c < 2 else f"<th>{_e(h)}</th>" for c, h in enumerate(report.HEADER)
    )
    body = []
    for la, row in zip(report.layers, report.table_rows()):
        cells = [f'<td class="name" title="{_e(row[0])}">{_e(row[0])}</td>', f'<td class="op">{_e(row[1])}</td>']
        cells += [f"<td>{_e(v)}</td>" for v in row[2:]]
        style = ROW_STYLES.get(la.status) if inline_styles else None
        attr = f' style="{style}"' if style else ""
        body.append(f'<tr class="{la.status}"{attr}>{"".join(cells)}</tr>')
    return f'<table class="layers"><thead><tr>{th}</tr></thead><tbody>{"".join(body)}</tbody></table>'


# -- the page -------------------------------------------------------------------
def build_html(reports: Sequence[Report], *, source: str | None = None, drawings: bool = True) -> str:
    """The whole report as one HTML string.

    Args:
        reports: the same model analyzed at one or more resolutions.
        source: the model file, shown in the header.
        drawings: render the graph with Graphviz (DOT source when it is
            missing); False leaves the drawings out.
    """
    if not reports:
        raise ValueError("build_html needs at least one report")
    from . import __version__

    first = reports[0]
    model = first.model
    res_list = ", ".join(f"{fmt_axes(r.resolution)} px" for r in reports)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>rfa-fast report: {_e(model)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Receptive field analysis of {_e(model)}</h1>",
        f'<p class="meta">{_e(source) + " · " if source else ""}{len(first.layers)} layers · at {_e(res_list)} · '
        f"rfa-fast {_e(__version__)} · {stamp}</p>",
        "<h2>Summary</h2>",
        summary_table(reports),
        '<p class="note">A layer is <b>unproductive</b> at input size I when its input already sees the whole image '
        "(rf_min of its input &ge; I and its own rf_min &gt; I) or its input map fits inside one kernel window: it "
        "cannot add spatial information and its cost is wasted. The <b>border</b> layer is where that starts; "
        "<b>critical</b> layers have rf_min &gt; I but are still productive. <b>I_min</b> is the smallest input "
        "size with no unproductive layer, <b>I_max</b> the largest receptive field of a layer "
        "(Richter et al., ICMLA 2021).</p>",
        "<h2>Receptive field per layer</h2>",
    ]
    parts += rf_figures(reports)
    if drawings:
        for r in reports:
            parts.append(f"<h2>Graph at {_e(fmt_axes(r.resolution))} px</h2>")
            parts.append(_drawing(r, True))
    for k, r in enumerate(reports):
        parts.append(f"<h2>Layers at {_e(fmt_axes(r.resolution))} px</h2>")
        parts.append(f"<p>{_e(r.summary_line())}</p>")
        parts.append(
            f"<details{' open' if k == 0 else ''}><summary>{len(r.layers)} layers</summary>{layer_table(r)}</details>"
        )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_html(reports: Sequence[Report], path: str, *, source: str | None = None, drawings: bool = True) -> None:
    """Write :func:`build_html` to ``path`` (UTF-8)."""
    page = build_html(reports, source=source, drawings=drawings)
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)


__all__ = [
    "ROW_STYLES",
    "build_html",
    "inline_svg",
    "layer_table",
    "plotted_layers",
    "rf_figures",
    "rf_plot_svg",
    "summary_table",
    "write_html",
]
