"""Rich display in Jupyter: the HTML behind ``Report._repr_html_`` and ``ScreenResult._repr_html_``.

A notebook shows a :class:`~rfa_fast.Report` as its summary, the
receptive-field plot (the inline SVG of :mod:`rfa_fast.html_report`) and
the per-layer table coloured by status; a :class:`~rfa_fast.ScreenResult`
as counts per resolution, the ranges of I_min, I_max and rf_max, and its
first rows.  Each output is one ``<div class="rfa-nb">`` with no script,
no external resource and a stylesheet whose every rule starts with
``.rfa-nb``: nothing leaks into the notebook's page, and the status
colours are also written inline, so they stay where a viewer strips
``<style>`` elements.

A screen of ten million candidates displays in about half a second: only
its first rows are converted to Python, the rest is a few vectorized numpy
reductions.

>>> import rfa_fast
>>> from rfa_fast import notebook, zoo
>>> out = notebook.report_html(rfa_fast.analyze(zoo.resnet18(), 32))
>>> out.startswith('<div class="rfa-nb'), 'class="rf-plot"' in out, "<script" in out
(True, True, False)
>>> r = rfa_fast.screen_chains([[3] * 6, [3] * 6], [[1] * 6, [2] * 6], resolutions=[16, 32])
>>> out = notebook.screen_html(r)
>>> out.count('<tr class="rfa-nb-row')
2
"""

from __future__ import annotations

import html
import uuid
from typing import TYPE_CHECKING

import numpy as np

from . import draw
from .html_report import layer_table, rf_figures, summary_table
from .report import fmt_axes, fmt_count

if TYPE_CHECKING:
    from .report import Report
    from .results import ScreenResult

PREFIX = "rfa-nb"
"""The class every element of a notebook output is scoped under."""

HEAD_ROWS = 10
"""How many candidates ``ScreenResult._repr_html_`` lists."""

CSS = f"""
.{PREFIX} {{ font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
  font-size: 13px; line-height: 1.35; }}
.{PREFIX} table {{ border-collapse: collapse; margin: 0.4em 0; font-size: 12px; }}
.{PREFIX} th, .{PREFIX} td {{ padding: 1px 7px; border-bottom: 1px solid #e4e4e4; text-align: right;
  white-space: nowrap; }}
.{PREFIX} th {{ background: #f4f4f4; }}
.{PREFIX} td.name, .{PREFIX} td.op, .{PREFIX} .text {{ text-align: left; }}
.{PREFIX} td.name {{ max-width: 28em; overflow: hidden; text-overflow: ellipsis; }}
.{PREFIX} .{PREFIX}-scroll {{ max-height: 30em; overflow: auto; }}
.{PREFIX} figure {{ margin: 0.4em 0; }}
.{PREFIX} svg.rf-plot {{ max-width: 100%; height: auto; }}
.{PREFIX} figcaption, .{PREFIX} .{PREFIX}-note {{ color: #666; font-size: 11px; }}
.{PREFIX} .{PREFIX}-key {{ display: inline-block; padding: 0 6px; color: #222; margin-right: 4px; border: 1px solid #ddd; }}
"""

_DISCONNECTED_STYLE = f"background:{draw.STATUS_COLORS['global']};color:#777"


def _e(text: object) -> str:
    return html.escape(str(text))


def _open(kind: str, uid: str) -> str:
    return f'<div class="{PREFIX} {PREFIX}-{kind}" id="{PREFIX}-{uid}"><style>{CSS}</style>'


def _legend() -> str:
    keys = [
        ("border", "border: unproductiveness starts here", "color:#fff"),
        ("unproductive", "unproductive", ""),
        ("critical", "critical: rf_min > I", ""),
    ]
    spans = [
        f'<span class="{PREFIX}-key" style="background:{draw.STATUS_COLORS[k]};{extra}">{_e(text)}</span>'
        for k, text, extra in keys
    ]
    return f'<p class="{PREFIX}-note">{"".join(spans)}</p>'


# -- Report -------------------------------------------------------------------------
def report_html(report: Report) -> str:
    """One report as a notebook output: title, summary table, RF plot, per-layer table coloured by status.

    >>> import rfa_fast
    >>> from rfa_fast import zoo
    >>> out = report_html(rfa_fast.analyze(zoo.resnet18(), 32))
    >>> out.count('<tr class="border"'), out.count('<tr class="unproductive"')
    (1, 6)
    """
    uid = uuid.uuid4().hex[:10]
    parts = [
        _open("report", uid),
        f'<p class="{PREFIX}-title"><b>{_e(report.model)}</b> at {_e(fmt_axes(report.resolution))} px '
        f"({len(report.layers)} layers)</p>",
        summary_table([report]),
    ]
    if not report.summary["aligned"]:
        parts.append(f'<p class="{PREFIX}-note">misaligned merges: {_e(", ".join(report.misaligned))}</p>')
    parts += rf_figures([report], id_prefix=f"{PREFIX}-{uid}-plot")
    parts.append(_legend())
    parts.append(
        f"<details open><summary>{len(report.layers)} layers</summary>"
        f'<div class="{PREFIX}-scroll">{layer_table(report, inline_styles=True)}</div></details>'
    )
    parts.append("</div>")
    return "".join(parts)


# -- ScreenResult -------------------------------------------------------------------
def _range(values: np.ndarray, where: np.ndarray | None = None) -> str:
    """``lo–hi`` of the finite values (where ``where`` holds), ``lo`` when equal, ``-`` when there are none.

    Reductions with ``where=`` and no copy of the selected values: a fraction
    of a second for 10^7 candidates.
    """
    ok = np.isfinite(values)
    if where is not None:
        ok &= where
    if not ok.any():
        return "-"
    lo = float(np.min(values, where=ok, initial=np.inf))
    hi = float(np.max(values, where=ok, initial=-np.inf))
    return fmt_axes((lo,)) if lo == hi else f"{fmt_axes((lo,))}–{fmt_axes((hi,))}"


def _share(count: int, total: int) -> str:
    return f"{count:,} ({100 * count / total:.1f}%)" if total else "0"


def screen_summary(result: ScreenResult) -> list[tuple[str, str]]:
    """The lines of the summary as (label, value), from vectorized reductions over all candidates.

    Ranges are over the connected candidates and their finite values.

    >>> import rfa_fast
    >>> r = rfa_fast.screen_chains([[3] * 6, [3] * 6], [[1] * 6, [2] * 6], resolutions=32)
    >>> dict(screen_summary(r))["I_min"]
    '12–97'
    """
    n = len(result)
    connected = result.connected
    n_conn = int(np.count_nonzero(connected))
    live = None if n_conn == n else connected
    lines = [
        ("candidates", f"{n:,}"),
        ("spatial axes", ", ".join(str(d) for d in sorted(set(result.dims.tolist()))) or str(result.rf_max.shape[1])),
        ("connected", _share(n_conn, n)),
    ]
    inf = np.isinf(result.i_min)
    if live is not None:
        inf &= live
    n_none = int(np.count_nonzero(inf))
    lines.append(("I_min", _range(result.i_min, live) + (f"; none up to 2^30 for {n_none:,}" if n_none else "")))
    lines.append(("I_max", _range(result.i_max, live)))
    per_axis = [_range(result.rf_max[:, d], live) for d in range(result.rf_max.shape[1])]
    lines.append(("rf_max", per_axis[0] if len(set(per_axis)) == 1 else " x ".join(per_axis)))
    n_misaligned = n - int(np.count_nonzero(result.aligned))
    if n_misaligned:
        lines.append(("misaligned merges", _share(n_misaligned, n)))
    return lines


def resolution_table(result: ScreenResult) -> str:
    """Per resolution: connected candidates with and without unproductive layers, the most unproductive."""
    conn = result.connected
    n_conn = int(np.count_nonzero(conn))
    all_connected = n_conn == len(result)
    n_bad, most = [], []
    for c in range(result.n_unproductive.shape[1]):  # column by column: reductions along axis 0 of [B, R] stride
        col = result.n_unproductive[:, c]
        if not all_connected:
            col = col[conn]
        n_bad.append(int(np.count_nonzero(col)))
        most.append(int(col.max()) if col.size else None)
    head = ["resolution", "no unproductive layer", "unproductive layers", "most unproductive layers"]
    rows = []
    for c, res in enumerate(result.resolutions.tolist()):
        cells = [
            f"{fmt_axes(tuple(res))} px",
            _share(n_conn - n_bad[c], n_conn),
            _share(n_bad[c], n_conn),
            "-" if most[c] is None else str(most[c]),
        ]
        rows.append("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in cells) + "</tr>")
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    return f'<table class="{PREFIX}-resolutions"><thead><tr>{th}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def head_table(result: ScreenResult, rows: int = HEAD_ROWS) -> str:
    """The first ``rows`` candidates: unproductive (border) counts per resolution, I_min, I_max, rf_max, cost.

    Cells with unproductive layers take the status colour, disconnected
    candidates are greyed; only these rows are converted to Python.
    """
    k = min(rows, len(result))
    tags = [fmt_axes(tuple(r)) for r in result.resolutions.tolist()]
    names = result.names[:k] if result.names is not None else None
    head = ["#"] + (["name"] if names is not None else [])
    head += [f"unproductive (border) @{t}" for t in tags] + ["I_min", "I_max", "rf_max", "params", "aligned"]
    n_unp, n_border = result.n_unproductive[:k].tolist(), result.n_border[:k].tolist()
    i_min, i_max = result.i_min[:k].tolist(), result.i_max[:k].tolist()
    rf_max, params = result.rf_max[:k].tolist(), result.params[:k].tolist()
    connected, aligned = result.connected[:k].tolist(), result.aligned[:k].tolist()
    unp_style = f' style="background:{draw.STATUS_COLORS["unproductive"]}"'
    body = []
    for i in range(k):
        cells = [f"<td>{i}</td>"]
        if names is not None:
            cells.append(f'<td class="name text" title="{_e(names[i])}">{_e(names[i])}</td>')
        for u, b in zip(n_unp[i], n_border[i]):
            cells.append(f"<td{unp_style if u and connected[i] else ''}>{u} ({b})</td>")
        cells += [
            f"<td>{_e(fmt_axes((i_min[i],)))}</td>",
            f"<td>{_e(fmt_axes((i_max[i],)))}</td>",
            f"<td>{_e(fmt_axes(tuple(rf_max[i][: int(result.dims[i])])))}</td>",
            f"<td>{_e(fmt_count(params[i])) if params[i] else ''}</td>",
            f"<td>{'' if aligned[i] else 'no'}</td>",
        ]
        if connected[i]:
            body.append(f'<tr class="{PREFIX}-row">{"".join(cells)}</tr>')
        else:
            body.append(f'<tr class="{PREFIX}-row disconnected" style="{_DISCONNECTED_STYLE}">{"".join(cells)}</tr>')
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    return f'<table class="{PREFIX}-head"><thead><tr>{th}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def screen_html(result: ScreenResult, rows: int = HEAD_ROWS) -> str:
    """A screen as a notebook output: summary, counts per resolution, the first ``rows`` candidates.

    >>> import rfa_fast
    >>> r = rfa_fast.screen_chains([[3] * 6] * 30, [[1] * 6] * 30, resolutions=32)
    >>> screen_html(r, rows=5).count('<tr class="rfa-nb-row')
    5
    """
    uid = uuid.uuid4().hex[:10]
    n = len(result)
    summary = "".join(f'<tr><th class="text">{_e(k)}</th><td>{_e(v)}</td></tr>' for k, v in screen_summary(result))
    shown = min(rows, n)
    more = f"first {shown:,} of {n:,} candidates" if shown < n else f"all {n:,} candidates"
    return "".join(
        [
            _open("screen", uid),
            f'<p class="{PREFIX}-title"><b>ScreenResult</b>: {n:,} candidates at '
            f"{_e(', '.join(fmt_axes(tuple(r)) + ' px' for r in result.resolutions.tolist()))}</p>",
            f'<table class="{PREFIX}-summary"><tbody>{summary}</tbody></table>',
            resolution_table(result),
            f'<p class="{PREFIX}-note">{more}; disconnected candidates in grey</p>',
            f'<div class="{PREFIX}-scroll">{head_table(result, rows)}</div>',
            "</div>",
        ]
    )


__all__ = [
    "CSS",
    "HEAD_ROWS",
    "PREFIX",
    "head_table",
    "report_html",
    "resolution_table",
    "screen_html",
    "screen_summary",
]
