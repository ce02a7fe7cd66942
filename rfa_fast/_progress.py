"""Progress bars for the loops a user can make long, all drawn by ``tqdm.auto``.

One rule everywhere a function takes ``progress=``:

- ``True``: draw the bar on stderr, terminal or not (a log file gets it too);
- ``False``: never draw;
- ``None`` (the default): let tqdm decide: drawn when stderr is a terminal,
  and only once the loop has lasted ``delay`` seconds, so a short call stays
  quiet; in a Jupyter notebook ``tqdm.auto`` draws a widget instead.

``tqdm.auto`` is used (not ``tqdm``) so that notebooks get a widget and
terminals a text bar from the same call.

>>> import io
>>> out = io.StringIO()
>>> with progress_bar(True, total=3, desc="files", file=out) as bar:
...     bar.update(3)
>>> "3/3" in out.getvalue()
True
>>> out = io.StringIO()
>>> with progress_bar(False, total=3, file=out) as bar:
...     bar.update(3)
>>> out.getvalue()
''
"""

from __future__ import annotations

from typing import Any, TextIO

from tqdm.auto import tqdm

AUTO_DELAY = 0.5
"""Seconds a loop must last before ``progress=None`` draws anything on a terminal."""


def progress_bar(
    enabled: bool | None,
    *,
    total: float | None = None,
    desc: str | None = None,
    unit: str = "it",
    file: TextIO | None = None,
    delay: float | None = None,
    **kwargs: Any,
) -> tqdm:
    """A ``tqdm.auto`` bar following the ``progress=`` rule of this module.

    Args:
        enabled: ``True`` always, ``False`` never, ``None`` when tqdm sees a
            terminal (or a notebook) and the loop lasts ``delay`` seconds.
        total: the count at the end (``None``: unknown, a counter is drawn).
        desc, unit: tqdm's label and unit.
        file: the stream (default: stderr at the time of the call, so that a
            redirected or captured stderr receives it).
        delay: seconds before the first draw (default: 0 when asked for,
            :data:`AUTO_DELAY` for ``None``).
        kwargs: passed to tqdm (e.g. ``unit_scale``).
    """
    # tqdm's own ``disable=None`` is the "terminal only" rule; notebooks turn it into a widget.
    disable = None if enabled is None else not enabled
    if delay is None:
        delay = AUTO_DELAY if enabled is None else 0.0
    return tqdm(total=total, desc=desc, unit=unit, file=file, disable=disable, delay=delay, **kwargs)


__all__ = ["AUTO_DELAY", "progress_bar"]
