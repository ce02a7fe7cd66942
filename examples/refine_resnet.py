"""Refine torchvision ResNet-50 for training at 64 px (Richter & Pal 2022).

At 64 px, ResNet-50 has unproductive layers (its I_min is 97 px): this script
asks :func:`rfa_fast.refine` for downsampling edits that bring I_min just
below 64 px without changing the parameter count, prints the best ones, and,
when the weightless validation export is available, writes the top
suggestion into a refined ONNX model and checks that it reloads with the
predicted I_min.

Run from the repository root (``PYTHONPATH=.`` is only needed when rfa_fast
is built in place rather than installed)::

    PYTHONPATH=. python examples/refine_resnet.py            # 64 px, the validation ONNX if present
    PYTHONPATH=. python examples/refine_resnet.py 96 --zoo   # another resolution, the graph built in code
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import rfa_fast

HERE = os.path.dirname(os.path.abspath(__file__))
ONNX = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "validation", "onnx", "resnet50.graph.onnx"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("resolution", nargs="?", type=int, default=64, help="training resolution I_res (default 64)")
    ap.add_argument("--zoo", action="store_true", help="use rfa_fast.zoo.resnet50() even if the ONNX file exists")
    ap.add_argument("--onnx", default=ONNX, help="ResNet-50 ONNX export (weights not needed)")
    ap.add_argument("--top", type=int, default=5, help="suggestions to print")
    args = ap.parse_args()

    use_onnx = not args.zoo and os.path.exists(args.onnx)
    graph = rfa_fast.load_onnx(args.onnx) if use_onnx else rfa_fast.zoo.resnet50()
    print(f"model: {args.onnx if use_onnx else 'rfa_fast.zoo.resnet50()'}")
    before = rfa_fast.analyze(graph, args.resolution)
    print(before.summary_line())

    t = time.perf_counter()
    suggestions = rfa_fast.refine(graph, args.resolution)
    ms = (time.perf_counter() - t) * 1e3
    print(f"\n{suggestions}\nrefine took {ms:.0f} ms\n")
    for s in suggestions[: args.top]:
        print(f"#{s.rank}")
        print(s.describe())
        print()

    if use_onnx and suggestions:
        best = suggestions[0]
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "resnet50_refined.onnx")
            best.apply_onnx(args.onnx, out)  # checks the model and that it reloads with the predicted I_min
            again = rfa_fast.analyze(rfa_fast.load_onnx(out), args.resolution)
            print(f"refined ONNX written and reloaded: I_min {again.i_min:g} px (predicted {best.i_min:g}), "
                  f"{again.summary['n_unproductive']} unproductive layers at {args.resolution} px")  # fmt: skip


if __name__ == "__main__":
    main()
