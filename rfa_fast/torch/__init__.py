"""PyTorch models in, refined PyTorch models out (the optional extra ``rfa_fast[torch]``).

:func:`from_torch` turns an ``nn.Module`` into a :class:`~rfa_fast.graph.Graph`
whose layers are named by module path (``layer4.1.conv2``), without reading
or copying a weight.  Two routes (docs/torch.md):

- **capture** (the default): one forward pass on the meta device; every
  torch function the model calls is mapped to a layer (``capture.py``,
  ``ops.py``); a few milliseconds for a ResNet-50;
- **onnx** (the fallback): ``torch.onnx.export`` to memory with the weights
  left out, read by :func:`rfa_fast.load_onnx` (``export.py``), for models
  whose forward branches on tensor values.

:meth:`rfa_fast.refine.Suggestion.apply_torch` writes a refinement back into
a copy of the module (``apply.py``); ``specs.py`` builds the CLI's
``torchvision:NAME``, ``timm:NAME`` and ``package.module:factory`` models.

Importing this package does not import torch; calling into it without torch
raises :class:`~rfa_fast.errors.MissingDependencyError` naming the extra.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from ..errors import TorchError
from .deps import require

if TYPE_CHECKING:
    from ..graph import Graph


class TorchWarning(UserWarning):
    """Something in a PyTorch model was analyzed conservatively, or took the ONNX route."""


class UnknownFunctionWarning(TorchWarning):
    """The model calls torch functions rfa_fast does not know (treated as identity or global)."""


ROUTES = ("auto", "capture", "onnx")


def from_torch(module: Any, example: Any, *, name: str | None = None, strict: bool = False,
               route: str = "auto") -> Graph:  # fmt: skip
    """A PyTorch model as a :class:`~rfa_fast.graph.Graph`, layers named by module path.

    Args:
        module: a ``torch.nn.Module`` (1-D, 2-D or 3-D convolutional; any device,
            including meta: only shapes are read).
        example: an input tensor, or its shape ``(N, C, *spatial)``; its
            spatial size is the graph's ``input_shape`` (the default
            resolution of :func:`rfa_fast.analyze`; adaptive pools and
            ``interpolate(size=...)`` are read at this size).
        name: the graph's name (default: the module's class name).
        strict: unknown torch functions and uneven adaptive pools are an
            error instead of a warning.
        route: ``"auto"`` (capture, ONNX if the capture cannot run the model),
            ``"capture"`` or ``"onnx"``.

    Raises:
        TorchError: the module cannot be captured (nor exported), or the
            example does not fit it; names the module path and what failed.
        MissingDependencyError: torch is not installed.

    >>> import torch
    >>> import rfa_fast
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=2, padding=1), torch.nn.ReLU(),
    ...                           torch.nn.MaxPool2d(2), torch.nn.Conv2d(8, 8, 3, padding=1))
    >>> g = rfa_fast.from_torch(net, (1, 3, 32, 32))
    >>> [(n.name, n.op) for n in g.nodes]
    [('input', 'input'), ('0', 'conv'), ('2', 'maxpool'), ('3', 'conv')]
    >>> rfa_fast.analyze(g).summary["rf_max"]
    [13.0, 13.0]
    """
    require("torch", "from_torch")
    from . import capture as cap
    from .export import export_graph

    if route not in ROUTES:
        raise TorchError(f"route must be one of {', '.join(ROUTES)}, got {route!r}")
    module = cap.check_module(module)
    shape, dtype = cap.example_shape(module, example)
    label = name if name is not None else type(module).__name__
    if route == "onnx":
        return export_graph(module, shape, dtype, label, cap.input_name(module))
    mismatch = cap.input_mismatch(module, shape)
    try:
        graph, st = cap.capture(module, shape, dtype, label, strict)
    except cap.CaptureFailed as e:
        where = f"module {e.path!r}" if e.path else "the root module"
        why = f"the capture on the meta device stopped in {where}: {e.reason}"
        if mismatch is not None:
            raise TorchError(f"{label}: {mismatch} ({why})", e.path) from None
        if route == "capture":
            raise TorchError(f"{label}: {why}", e.path) from None
        graph = export_graph(module, shape, dtype, label, cap.input_name(module), why)
        warnings.warn(f"{label}: {why}; analyzed through torch.onnx.export instead", TorchWarning, stacklevel=2)
        return graph
    if mismatch is not None and "layout" in st.notes:
        raise TorchError(f"{label}: {mismatch}")
    _warn(st.label, st.unknown, st.notes)
    return graph


def _warn(label: str, unknown: dict[str, None], notes: dict[str, list[str]]) -> None:
    """One warning per category, each listing what it concerns once."""
    if unknown:
        warnings.warn(
            f"{label}: torch functions rfa_fast does not know were treated as identity when shape-preserving, "
            f"else as global: {', '.join(unknown)} (strict=True makes this an error)",
            UnknownFunctionWarning,
            stacklevel=3,
        )
    for category, items in notes.items():
        shown = "; ".join(items[:5]) + (f"; and {len(items) - 5} more" if len(items) > 5 else "")
        warnings.warn(f"{label}: {category}: {shown}", TorchWarning, stacklevel=3)


__all__ = ["ROUTES", "TorchWarning", "UnknownFunctionWarning", "from_torch"]
