"""rfa_fast: receptive field analysis of convolutional networks, fast.

Tells, without training, which layers of a CNN can no longer contribute at a
given input resolution (unproductive layers past the border layer), the
smallest feasible resolution I_min, and how to change downsampling so every
layer earns its cost; for one model or millions of candidates per second.

>>> import rfa_fast
>>> b = rfa_fast.GraphBuilder("chain")
>>> x = b.input()
>>> for _ in range(4):
...     x = b.conv(x, 3, pad=1)
>>> rfa_fast.analyze(b.build(), 32).summary["rf_max"]
[9.0, 9.0]
"""

from __future__ import annotations

from ._extensions import require_extensions

# Before anything imports the compiled core: in a source tree without a build this
# says so and names the fix (ExtensionNotBuiltError), instead of a circular-import error.
require_extensions()

from . import examples, zoo
from .api import analyze, screen, screen_chains
from .batch import GraphBatch
from .errors import (
    ExtensionNotBuiltError,
    FoldedResolutionWarning,
    GraphError,
    OnnxError,
    ResolutionError,
    RfaError,
    SpecError,
    UnknownExampleError,
    UnsupportedOpError,
)
from .graph import Graph, GraphBuilder, Node
from .kinds import Kind, PadMode, ResizeMode, Status
from .onnx_screen import OnnxScreenResult, screen_onnx
from .refine import Suggestion, refine
from .report import Report
from .results import ScreenResult
from .space import Space
from .trim import TrimSuggestion, trim

__version__ = "0.1.0"


def load_onnx(*args, **kwargs):  # type: ignore[no-untyped-def]
    """Load an ONNX model as a :class:`Graph` (see :mod:`rfa_fast.onnx_loader`)."""
    from .onnx_loader import load_onnx as _load

    return _load(*args, **kwargs)


def from_torch(*args, **kwargs):  # type: ignore[no-untyped-def]
    """A PyTorch model as a :class:`Graph`, layers named by module path (see :func:`rfa_fast.torch.from_torch`)."""
    from .torch import from_torch as _from_torch

    return _from_torch(*args, **kwargs)


__all__ = [
    "ExtensionNotBuiltError",
    "FoldedResolutionWarning",
    "Graph",
    "GraphBatch",
    "GraphBuilder",
    "GraphError",
    "Kind",
    "Node",
    "OnnxError",
    "OnnxScreenResult",
    "PadMode",
    "Report",
    "ResizeMode",
    "ResolutionError",
    "RfaError",
    "ScreenResult",
    "Space",
    "SpecError",
    "Status",
    "Suggestion",
    "TrimSuggestion",
    "UnknownExampleError",
    "UnsupportedOpError",
    "analyze",
    "examples",
    "from_torch",
    "load_onnx",
    "refine",
    "screen",
    "screen_chains",
    "screen_onnx",
    "trim",
    "zoo",
]
