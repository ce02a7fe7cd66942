"""The ``rfa-fast`` command line: analyze, screen, refine, draw, report, demo, entropy, bench.

Every subcommand is a thin layer over the library: it loads ONNX files with
:func:`rfa_fast.load_onnx` (or builds a PyTorch model from a spec,
``torchvision:resnet50``, ``timm:convnext_tiny``, ``package.module:factory``,
and captures it with :func:`rfa_fast.from_torch`), calls :func:`rfa_fast.analyze` or
:func:`rfa_fast.screen`, and formats what comes back.  User errors (a
missing file, a file that is not ONNX, a bad resolution, an unwritable
output) are one line on stderr starting with ``rfa-fast: error:`` and a
non-zero exit status; ``--debug`` shows the traceback.  docs/cli.md shows
each command with its real output.

>>> build_parser().parse_args(["analyze", "m.onnx", "-r", "32", "-r", "224x192"]).resolution
[(32,), (224, 192)]
"""

from __future__ import annotations

import argparse
import csv
import importlib
import importlib.util
import json
import math
import os
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from .errors import RfaError
from .report import Report, fmt_axes, fmt_count, fmt_i_min

PROG = "rfa-fast"
_MODEL_HELP = "an ONNX file, or a PyTorch model: torchvision:NAME, timm:NAME or package.module:factory"
Resolution = tuple[int, ...]  # one int per spatial axis, or a single int for "square"


class CliError(Exception):
    """A user error: printed as one line, exit status ``code``."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# -- argument parsing ----------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """argparse with our one-line error format instead of usage + message."""

    def error(self, message: str) -> NoReturn:
        raise CliError(f"{message} (see '{self.prog} --help')", code=2)


def parse_resolution(text: str) -> Resolution:
    """``224`` (square: the same on every axis) or ``224x192`` (one value per axis, H then W).

    >>> parse_resolution("224"), parse_resolution("224x192")
    ((224,), (224, 192))
    """
    parts = text.lower().replace("×", "x").split("x")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"bad resolution {text!r}: expected a positive integer (224) or one per axis (224x192)"
        ) from None
    if any(v < 1 or v > 2**30 for v in values):
        raise argparse.ArgumentTypeError(f"bad resolution {text!r}: sizes must be between 1 and 2^30")
    return values


def _res_arg(res: Resolution) -> int | Resolution:
    """What load_onnx / analyze take: an int for a square size, else the tuple."""
    return res[0] if len(res) == 1 else res


def _res_label(res: Sequence[int]) -> str:
    return fmt_axes(tuple(res))


def _add_resolution(p: argparse.ArgumentParser, help_default: str) -> None:
    p.add_argument(
        "-r",
        "--resolution",
        action="append",
        type=parse_resolution,
        metavar="N|HxW",
        help=f"input size, square (224) or per axis (224x192); repeat for several. Default: {help_default}",
    )


def _add_loader_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--input-name", metavar="NAME", help="the image input to analyze from (default: the first 3-5-D input)"
    )
    p.add_argument("--strict", action="store_true", help="unknown ONNX ops are an error instead of a warning")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``rfa-fast`` (one subparser per command)."""
    from . import __version__

    parser = _Parser(
        prog=PROG,
        description="Receptive field analysis of CNNs: border layer, unproductive layers, I_min, at a glance.",
        epilog="Start with 'rfa-fast demo'. Documentation: docs/cli.md.",
    )
    parser.add_argument("--version", action="version", version=f"rfa-fast {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    # --debug is accepted after the command too; SUPPRESS keeps the subparser
    # from resetting a --debug given before it.
    common = _Parser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show the traceback of errors")

    p = sub.add_parser("analyze", parents=[common], help="per-layer table and summary of one model")
    p.add_argument("model", help=_MODEL_HELP)
    _add_resolution(p, "the model's static input size")
    p.add_argument("--json", action="store_true", help="JSON (Report.to_dict; a list for several resolutions)")
    p.add_argument("--ignore-1x1", action="store_true", help="do not rate layers whose kernel is 1x1")
    _add_loader_options(p)
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("screen", parents=[common], help="many ONNX files: a sorted summary table")
    p.add_argument("paths", nargs="+", metavar="DIR_OR_FILE", help="ONNX files or directories (searched recursively)")
    p.add_argument(
        "-r",
        "--resolution",
        action="append",
        required=True,
        type=parse_resolution,
        metavar="N|HxW",
        help="input size, square (32) or per axis (224x192); repeat for several (the table sorts by the first)",
    )
    p.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    p.add_argument("--jobs", "-j", type=int, default=1, metavar="N", help="load files in N processes (0: one per CPU)")
    p.add_argument("--progress", action="store_true", help="show the progress bar even when stderr is not a terminal")
    p.add_argument("--ignore-1x1", action="store_true", help="do not rate layers whose kernel is 1x1")
    _add_loader_options(p)
    p.set_defaults(func=cmd_screen)

    p = sub.add_parser(
        "refine", parents=[common], help="downsampling changes that move I_min just below the resolution"
    )
    p.add_argument("model", help=_MODEL_HELP)
    _add_resolution(p, "the model's static input size")
    p.add_argument("--top", type=int, default=5, metavar="K", help="show the K best suggestions (default 5)")
    p.add_argument("--max-edits", type=int, default=3, metavar="N", help="at most N edits per suggestion (default 3)")
    p.add_argument("--beam", type=int, default=16, metavar="W", help="suggestions of each size extended (default 16)")
    p.add_argument("--ignore-1x1", action="store_true", help="do not rate layers whose kernel is 1x1")
    p.add_argument("--apply", type=int, metavar="N", help="apply suggestion N (1 = best) and write the model to -o")
    p.add_argument(
        "-o", "--output", metavar="FILE", help="where --apply writes the refined ONNX model (a PyTorch model: exported)"
    )
    _add_loader_options(p)
    p.set_defaults(func=cmd_refine)

    p = sub.add_parser("draw", parents=[common], help="the graph coloured by status (DOT, SVG, PNG, PDF)")
    p.add_argument("model", help=_MODEL_HELP)
    _add_resolution(p, "the model's static input size")
    p.add_argument("-o", "--output", metavar="FILE", help="FILE.dot, .svg, .png or .pdf (default: DOT on stdout)")
    _add_loader_options(p)
    p.set_defaults(func=cmd_draw)

    p = sub.add_parser("report", parents=[common], help="one self-contained HTML page: summary, plot, drawing, tables")
    p.add_argument("model", help=_MODEL_HELP)
    _add_resolution(p, "the model's static input size")
    p.add_argument("-o", "--output", metavar="FILE", help="the HTML file (default: MODEL_NAME.html here)")
    p.add_argument("--no-drawing", action="store_true", help="leave the graph drawings out")
    p.add_argument("--ignore-1x1", action="store_true", help="do not rate layers whose kernel is 1x1")
    _add_loader_options(p)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("demo", parents=[common], help="analyze a bundled ResNet-18 and screen a bundled search space")
    p.add_argument(
        "--candidates", type=int, default=10_000, metavar="N", help="random chains to screen (default 10000)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random search space (default 0)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("entropy", parents=[common], help="dataset entropy: an a-priori bound on useful depth")
    p.add_argument("data", help="a .npy array of images (N, H, W[, C]) or a directory of .npy files")
    p.add_argument("--layout", choices=["HW", "HWC", "CHW"], help="layout of one image (default: detected)")
    p.add_argument("--range", nargs=2, type=float, metavar=("LO", "HI"), help="value range binned into 256 levels")
    p.add_argument("--progress", action="store_true", help="show progress even when stderr is not a terminal")
    p.add_argument("--json", action="store_true", help="JSON output (EntropyResult.to_dict)")
    p.set_defaults(func=cmd_entropy)

    p = sub.add_parser("bench", parents=[common], help="run the benchmark suite (pytest bench/ --benchmark-only)")
    p.add_argument(
        "--dir",
        metavar="PATH",
        help="the bench/ directory of a checkout (default: ./bench, else the one next to the imported package)",
    )
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help="more pytest arguments (after --)")
    p.set_defaults(func=cmd_bench)
    return parser


# -- loading ---------------------------------------------------------------------
def _report_warnings(caught: Iterable[warnings.WarningMessage], seen: set[str]) -> None:
    for w in caught:
        msg = str(w.message)
        if msg not in seen:
            seen.add(msg)
            print(f"{PROG}: warning: {msg}", file=sys.stderr)


def load_model(path: str, resolution: Resolution | None, args: argparse.Namespace, seen: set[str] | None = None) -> Any:
    """``load_onnx`` with the CLI's options; loader warnings become one stderr line each."""
    from . import load_onnx

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        graph = load_onnx(
            path,
            input_name=getattr(args, "input_name", None),
            strict=getattr(args, "strict", False),
            resolution=None if resolution is None else _res_arg(resolution),
        )
    _report_warnings(caught, seen if seen is not None else set())
    return graph


def load_for_resolutions(
    path: str, resolutions: Sequence[Resolution] | None, args: argparse.Namespace
) -> list[tuple[Any, Resolution]]:
    """(graph, resolution) pairs: the model read at its declared input size, analyzed at each resolution.

    A model with a static input is read once, as exported: shapes baked into
    it (a ShuffleNet's channel-shuffle Reshape) stay valid.  Only a model
    whose input size is dynamic is read once per resolution, so that sizes it
    computes at run time (Resize by ``sizes``, TF-style SAME pads) are folded
    at that resolution.  Default resolution: the declared input size.
    """
    from .errors import OnnxError

    seen: set[str] = set()
    resolutions = list(dict.fromkeys(resolutions or []))  # once each, in the given order
    spec = model_spec(path, args)
    if spec is not None:
        return _torch_graphs(spec, resolutions, seen)
    try:
        graph = load_model(path, None, args, seen)
    except OnnxError:
        if not resolutions:
            raise
        graph = None  # e.g. a size-dependent op on a dynamic input: needs a resolution to load
    if graph is not None and graph.input_shape is not None:
        return [(graph, r) for r in resolutions] or [(graph, tuple(graph.input_shape))]
    if not resolutions:
        raise CliError(f"{path}: the model's input size is dynamic; give one with -r, e.g. -r 224")
    return [(load_model(path, r, args, seen), r) for r in resolutions]


def model_spec(path: str, args: argparse.Namespace) -> Any:
    """The PyTorch model a spec names (built once per command and kept on ``args``), or None for a file."""
    from .torch.specs import build, is_model_spec

    if not is_model_spec(path):
        return None
    cached = getattr(args, "_model_spec", None)
    if cached is None or cached.spec != path:
        cached = build(path)
        args._model_spec = cached
    return cached


def _torch_graphs(spec: Any, resolutions: list[Resolution], seen: set[str]) -> list[tuple[Any, Resolution]]:
    """A PyTorch model captured once, at its default input size (else the first -r), analyzed at each -r.

    Like an ONNX export read at its declared size: adaptive pools and sizes
    computed from the input are those of the nominal size.
    """
    from .torch import from_torch

    nominal = spec.example(None if spec.default_size is not None or not resolutions else resolutions[0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        graph = from_torch(spec.module, nominal, name=spec.label)
    _report_warnings(caught, seen)
    return [(graph, r) for r in resolutions] or [(graph, tuple(nominal[2:]))]


def analyze_file(path: str, resolutions: Sequence[Resolution] | None, args: argparse.Namespace) -> list[Report]:
    """One report per resolution (default: the model's static input size)."""
    from . import analyze

    ignore = getattr(args, "ignore_1x1", False)
    return [analyze(g, _res_arg(r), ignore_1x1=ignore) for g, r in load_for_resolutions(path, resolutions, args)]


def _one_resolution(args: argparse.Namespace) -> list[Resolution] | None:
    if args.resolution and len(set(args.resolution)) > 1:
        raise CliError(f"{args.command} takes one resolution (-r), got {len(args.resolution)}", code=2)
    return args.resolution


# -- analyze ---------------------------------------------------------------------
def cmd_analyze(args: argparse.Namespace) -> int:
    """Print the table and summary (or JSON) at each resolution."""
    reports = analyze_file(args.model, args.resolution, args)
    if args.json:
        data = [json.loads(r.to_json()) for r in reports]
        print(json.dumps(data[0] if len(data) == 1 else data))
    else:
        print("\n\n".join(str(r) for r in reports))
    return 0


# -- screen ------------------------------------------------------------------------
def screen_rows(result: Any) -> list[dict[str, Any]]:
    """One dict per screened file of an :class:`~rfa_fast.onnx_screen.OnnxScreenResult`, sorted by
    unproductive count (at each resolution in turn) then name."""
    rows = []
    for b, name in enumerate(result.names or []):
        D = int(result.dims[b])  # a batch mixing 1-, 2- and 3-D models pads the per-axis arrays with NaN
        rows.append(
            {
                "file": name,
                "dims": D,
                "n_unproductive": [int(v) for v in result.n_unproductive[b]],
                "n_border": [int(v) for v in result.n_border[b]],
                "macs": [int(v) for v in result.macs[b]],
                "macs_unproductive": [int(v) for v in result.macs_unproductive[b]],
                "i_min": tuple(float(v) for v in result.i_min_axes[b, :D]),
                "i_min_square": float(result.i_min[b]),
                "i_max": tuple(float(v) for v in result.i_max_axes[b, :D]),
                "rf_max": tuple(float(v) for v in result.rf_max[b, :D]),
            }
        )
    return sorted(rows, key=lambda r: (r["n_unproductive"], r["file"]))


def _mixed(rows: list[dict[str, Any]]) -> bool:
    """Whether the rows mix models of different numbers of spatial axes."""
    return len({r["dims"] for r in rows}) > 1


def _screen_columns(tags: list[str], dims: bool = False) -> list[str]:
    cols = ["file"] + (["dims"] if dims else [])
    for tag in tags:
        suffix = f"@{tag}" if len(tags) > 1 else ""  # one resolution: plain names
        cols += [f"n_unproductive{suffix}", f"n_border{suffix}", f"macs_unproductive{suffix}"]
    return cols + ["i_min", "i_max", "rf_max"]


def _macs_text(macs: int, past: int) -> str:
    return f"{fmt_count(past)} ({100 * past / macs:.0f}%)" if macs else "-"


def format_screen_table(rows: list[dict[str, Any]], tags: list[str]) -> str:
    """The summary table as text: file, then per resolution the counts and MACs past the border, then fields.

    Models of different numbers of spatial axes (1-D, 2-D, 3-D) get a ``dims`` column after the file.
    """
    mixed = _mixed(rows)
    head = [h.replace("macs_unproductive", "MACs past border") for h in _screen_columns(tags, mixed)]
    body = []
    for row in rows:
        cells = [row["file"]] + ([str(row["dims"])] if mixed else [])
        for c in range(len(tags)):
            cells += [
                str(row["n_unproductive"][c]),
                str(row["n_border"][c]),
                _macs_text(row["macs"][c], row["macs_unproductive"][c]),
            ]
        i_min = fmt_i_min(row["i_min_square"], row["i_min"])
        body.append(cells + [i_min, fmt_axes(row["i_max"]), fmt_axes(row["rf_max"])])
    widths = [max([len(h)] + [len(cells[i]) for cells in body]) for i, h in enumerate(head)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(cells) for cells in body])


def _largest(values: Sequence[float]) -> float:
    """The largest of the axes' values that are numbers (NaN when none is)."""
    finite = [v for v in values if not math.isnan(v)]
    return max(finite) if finite else math.nan


def _num(v: float) -> str:
    """A CSV cell: an integer without ``.0``, ``inf``, or empty for NaN (a disconnected model)."""
    return "" if math.isnan(v) else fmt_axes((v,))


def write_screen_csv(path: str, rows: list[dict[str, Any]], errors: dict[str, str], tags: list[str]) -> None:
    """The table as CSV with plain numbers, then the failed files with their error and empty cells.

    ``i_min`` is the square I_min, ``i_max`` and ``rf_max`` the largest over the axes (``inf``:
    no I_min up to 2^30); ``i_min_axis0``, ``i_min_axis1``, ... (and the same for ``i_max`` and
    ``rf_max``) give each axis its own column, so that every cell stays a number; ``dims`` is
    the model's number of spatial axes (a model with fewer axes than others leaves the extra
    axis columns empty).
    """
    D = max((len(r["i_min"]) for r in rows), default=0)
    per_axis = [f"{key}_axis{a}" for key in ("i_min", "i_max", "rf_max") for a in range(D)]
    cols = _screen_columns(tags) + per_axis + ["dims", "macs", "error"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for row in rows:
            cells: list[Any] = [row["file"]]
            for c in range(len(tags)):
                cells += [row["n_unproductive"][c], row["n_border"][c], row["macs_unproductive"][c]]
            cells += [_num(row["i_min_square"]), _num(_largest(row["i_max"])), _num(_largest(row["rf_max"]))]
            for key in ("i_min", "i_max", "rf_max"):  # empty cells for the axes a model does not have
                cells += [_num(v) for v in row[key]] + [""] * (D - len(row[key]))
            cells += [row["dims"], row["macs"][0], ""]
            w.writerow(cells)
        for name, message in errors.items():
            w.writerow([name] + [""] * (len(cols) - 2) + [message.splitlines()[0]])


def cmd_screen(args: argparse.Namespace) -> int:
    """Screen every file (rfa_fast.screen_onnx); print the sorted table, warnings and errors; exit 1 if any failed."""
    from .onnx_screen import onnx_paths, screen_onnx

    files = onnx_paths(args.paths)
    if not files:
        raise CliError(f"no .onnx files found in {', '.join(args.paths)}")
    if args.jobs < 0:
        raise CliError(f"--jobs must be 0 (one per CPU) or more, got {args.jobs}", code=2)
    resolutions = list(dict.fromkeys(args.resolution))
    at = [_res_arg(r) for r in resolutions]
    options: dict[str, Any] = {
        "ignore_1x1": args.ignore_1x1,
        "strict": args.strict,
        "input_name": args.input_name,
        "jobs": args.jobs or os.cpu_count() or 1,
    }
    t0 = time.perf_counter()
    # Files are read at their declared input size (see load_for_resolutions);
    # the ones that cannot be read without a size are read again at the first resolution.
    result = screen_onnx(files, at, progress=True if args.progress else None, **options)
    rows, errors, notes = screen_rows(result), dict(result.errors), dict(result.warnings)
    if errors:
        retry = screen_onnx(list(errors), at, progress=False, resolution=at[0], **options)
        rows = sorted(rows + screen_rows(retry), key=lambda r: (r["n_unproductive"], r["file"]))
        for name in retry.names or []:
            del errors[name]
        notes.update(retry.warnings)
    elapsed = time.perf_counter() - t0
    tags = [_res_label(r) for r in resolutions]
    if rows:
        print(format_screen_table(rows, tags))
    n_bad = sum(1 for r in rows if r["n_unproductive"][0])
    summary = f"{len(files)} files in {elapsed:.2f} s: {len(rows)} screened, {len(errors)} failed"
    if rows:
        summary += f"; {n_bad} with unproductive layers at {tags[0]} px"
    print(summary)
    if notes:
        print("\nwarnings:")
        for name, messages in notes.items():
            for m in messages:
                print(f"  {name}: {m}")
    if errors:
        print("\nerrors:")
        for name, message in errors.items():
            print(f"  {name}: {message}")
    if args.csv:
        write_screen_csv(args.csv, rows, errors, tags)
    return 1 if errors else 0


# -- draw and report -----------------------------------------------------------------
def cmd_draw(args: argparse.Namespace) -> int:
    """DOT on stdout, or a file whose format follows its extension."""
    from . import draw

    if args.output:
        draw.output_format(args.output)  # a bad extension fails before any work
    (report,) = analyze_file(args.model, _one_resolution(args), args)
    if not args.output:
        sys.stdout.write(draw.to_dot(report))
        return 0
    fmt = draw.draw(report, args.output)
    print(f"wrote {args.output} ({fmt.upper()}, {len(report.layers)} layers at {_res_label(report.resolution)} px)")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """One HTML file with the summary, the plot, the drawings and the tables."""
    from . import draw, html_report

    reports = analyze_file(args.model, args.resolution, args)
    out = args.output or f"{reports[0].model}.html"
    html_report.write_html(reports, out, source=args.model, drawings=not args.no_drawing)
    res = ", ".join(f"{_res_label(r.resolution)} px" for r in reports)
    print(f"wrote {out} ({reports[0].model} at {res})")
    if not args.no_drawing and draw.dot_program() is None:
        print(
            f"{PROG}: note: Graphviz's dot is not installed: the report holds the DOT source instead of the drawing",
            file=sys.stderr,
        )
    return 0


# -- demo --------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    """The bundled demo (rfa_fast.demo)."""
    from . import demo

    if args.candidates < 1:
        raise CliError(f"--candidates must be at least 1, got {args.candidates}", code=2)
    demo.run(sys.stdout, candidates=args.candidates, seed=args.seed)
    return 0


# -- commands whose backends live in optional modules ---------------------------------
def optional_module(name: str, command: str) -> Any:
    """Import ``rfa_fast.<name>``, or fail with one line when this build does not have it.

    Only the module's own absence counts: an ImportError raised *inside* it
    (a missing dependency) propagates with its own message.
    """
    full = f"{__package__ or 'rfa_fast'}.{name}"
    if importlib.util.find_spec(full) is None:
        raise CliError(f"{command} is not available in this build (no module {full})")
    return importlib.import_module(full)


def cmd_refine(args: argparse.Namespace) -> int:
    """Ranked downsampling edits (Richter & Pal 2022); ``--apply N -o FILE`` writes the edited model."""
    mod = optional_module("refine", "refine")
    if args.apply is not None and not args.output:
        raise CliError("--apply N needs -o FILE for the refined model", code=2)
    if args.output and args.apply is None:
        raise CliError("-o is only used with --apply N", code=2)
    res = _one_resolution(args)
    if res and len(set(res[0])) > 1:
        raise CliError(f"refine takes a square training resolution, got {_res_label(res[0])}", code=2)
    (report,) = analyze_file(args.model, res, args)
    i_res = report.resolution[0]
    if len(set(report.resolution)) > 1:
        raise CliError(
            f"refine takes a square training resolution; the model's input is {_res_label(report.resolution)}: give -r N"
        )
    suggestions = mod.refine(report.graph, i_res, max_edits=args.max_edits, beam=args.beam, ignore_1x1=args.ignore_1x1)
    print(str(suggestions).splitlines()[0])  # the baseline and what was screened
    print(f"  {report.summary_line()}")
    if not suggestions:
        print("no refinement found: no downsampling edit keeps the parameter count and alignment")
        return 0
    print(f"\n{min(args.top, len(suggestions))} of {len(suggestions)} suggestions, best first:")
    for i, s in enumerate(suggestions[: max(args.top, 1)], start=1):
        first, *rest = s.describe().splitlines()
        print(f"{i:>3}. {first}")
        for line in rest:
            print(f"     {line}")
    if args.apply is not None:
        if not 1 <= args.apply <= len(suggestions):
            raise CliError(f"--apply {args.apply}: choose 1..{len(suggestions)}", code=2)
        chosen = suggestions[args.apply - 1]
        spec = getattr(args, "_model_spec", None)
        if spec is not None:
            _write_refined_torch(spec, chosen, report.graph, args.output)
        else:
            chosen.apply_onnx(args.model, args.output)  # verifies the written model's I_min
        print(
            f"\napplied suggestion {args.apply}: wrote {args.output} (reloaded: I_min {suggestions[args.apply - 1].i_min:g} px)"
        )
    return 0


def _write_refined_torch(spec: Any, suggestion: Any, graph: Any, out: str) -> None:
    """apply_torch to the built model (verified by re-capture), exported to ONNX at the nominal size, reloaded."""
    from . import analyze, load_onnx
    from .torch.export import write_onnx

    if not out.lower().endswith(".onnx"):
        raise CliError(f"-o {out}: the refined model is written as ONNX; give a .onnx file", code=2)
    refined = suggestion.apply_torch(spec.module)
    write_onnx(refined, tuple(graph.nodes[0].attrs["example_shape"]), out)
    got = analyze(load_onnx(out), suggestion.resolution).i_min
    if got != suggestion.i_min:
        raise CliError(f"{out}: the exported refined model analyzes to I_min {got:g}, expected {suggestion.i_min:g}")


def cmd_entropy(args: argparse.Namespace) -> int:
    """Dataset entropy (Gowdra et al. 2021) of a .npy array or a directory of .npy files."""
    mod = optional_module("entropy", "entropy")
    if not os.path.exists(args.data):
        raise CliError(f"{args.data}: no such file or directory")
    result = mod.dataset_entropy(
        args.data,
        layout=args.layout,
        value_range=tuple(args.range) if args.range else None,
        progress=True if args.progress else None,
    )
    if args.json:
        d = result.to_dict()
        d["quantiles"] = {f"{q:g}": v for q, v in d["quantiles"].items()}
        print(json.dumps(d))
    else:
        print(result)
    return 0


# A child Python that runs pytest without the working directory first on sys.path: from a
# checkout's root, `python -m pytest` would import the source tree's rfa_fast, which has no
# compiled extension after `pip install .` (rfa_fast/_extensions.py).
_PYTEST_WITHOUT_CWD = "import sys; del sys.path[0]; import pytest; sys.exit(pytest.main(sys.argv[1:]))"


def is_bench_dir(path: Path) -> bool:
    """True for rfa_fast's benchmark suite: a ``bench/`` with its ``conftest.py`` and ``benchlib.py``."""
    return path.is_dir() and (path / "conftest.py").is_file() and (path / "benchlib.py").is_file()


def find_bench_dir(explicit: str | None = None) -> Path:
    """The benchmark suite to run: ``explicit``, else ``./bench``, else the ``bench/`` of the checkout
    this package was imported from (an editable install or an in-place build).

    The suite ships with the source tree, not with an installed package: without a
    checkout this is a :class:`CliError` that says where it looked and what to do.
    """
    if explicit is not None:
        path = Path(explicit).resolve()
        if not is_bench_dir(path):
            raise CliError(
                f"{explicit}: not rfa_fast's benchmark suite (a bench/ directory with conftest.py and benchlib.py)"
            )
        return path
    candidates = [Path.cwd() / "bench", Path(__file__).resolve().parents[1] / "bench"]
    for path in candidates:
        if is_bench_dir(path):
            return path.resolve()
    looked = " and ".join(str(p) for p in dict.fromkeys(candidates))
    raise CliError(
        f"no benchmark suite found (looked in {looked}): bench/ is part of the source checkout, not of the "
        "installed package. Run rfa-fast bench from the root of a checkout (git clone the repository, "
        "pip install -e '.[dev]' in it), or point to its suite with --dir PATH/bench"
    )


def bench_command(bench: Path, pytest_args: Sequence[str]) -> list[str]:
    """The child command of ``rfa-fast bench``: pytest on ``bench`` with ``--benchmark-only``, the cwd off sys.path."""
    extra = [a for a in pytest_args if a != "--"]
    return [sys.executable, "-c", _PYTEST_WITHOUT_CWD, str(bench), "--benchmark-only", *extra]


def bench_env(package_root: Path) -> dict[str, str]:
    """The child's environment: ``package_root`` (the directory holding this rfa_fast) first on
    ``PYTHONPATH`` unless the child finds it anyway, on ``sys.path`` past its first entry (site-packages,
    ``PYTHONPATH``); not site-packages ahead of the standard library."""
    env = dict(os.environ)
    found = {Path(p or ".").resolve() for p in sys.path[1:]}
    if package_root.resolve() not in found:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(package_root), env.get("PYTHONPATH", "")) if p)
    return env


def cmd_bench(args: argparse.Namespace) -> int:
    """``pytest bench/ --benchmark-only`` on the checkout's suite, with extra pytest arguments.

    The child imports the same rfa_fast as this process (:func:`bench_command`,
    :func:`bench_env`), and runs in the checkout's root, where pytest-benchmark
    keeps its ``.benchmarks/`` results.
    """
    bench = find_bench_dir(args.dir)
    for module, package in (("pytest", "pytest"), ("pytest_benchmark", "pytest-benchmark")):
        if importlib.util.find_spec(module) is None:
            raise CliError(f"bench needs {package}: pip install -e '.[dev]' in the checkout (or pip install {package})")
    cmd = bench_command(bench, args.pytest_args)
    env = bench_env(Path(__file__).resolve().parents[1])
    shown = [bench.name, *cmd[4:]]  # the child runs in bench's parent directory
    print(f"running (in {bench.parent}): pytest " + " ".join(shown), file=sys.stderr)
    return subprocess.call(cmd, cwd=str(bench.parent), env=env)


# -- entry point ----------------------------------------------------------------------
def _error_text(e: BaseException) -> str:
    if isinstance(e, OSError) and e.filename is not None and e.strerror:
        return f"{e.filename}: {e.strerror}"
    return str(e) or type(e).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``rfa-fast`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        debug = bool(getattr(args, "debug", False))
        return int(args.func(args))
    except BrokenPipeError:
        # the reader went away (rfa-fast analyze ... | head): not an error worth a message
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        except (OSError, ValueError):
            pass
        return 1
    except (RfaError, OSError, CliError) as e:
        if debug:
            traceback.print_exc()
        print(f"{PROG}: error: {_error_text(e)}", file=sys.stderr)
        return e.code if isinstance(e, CliError) else 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
