"""The ONNX loader: real exported models as :class:`~rfa_fast.graph.Graph`, weights never read.

Modules, one job each: ``source`` (reading), ``order`` (topological sort),
``values`` (constant folding and shape inference, lazily), ``context`` (the
walk's state), ``ops`` (the op table), ``fold`` (Pad folding), ``loader``
(``load_onnx``).  ``docs/onnx.md`` maps every op to its kind.
"""

from ..errors import FoldedResolutionWarning
from .loader import OnnxWarning, Refold, UnknownOpWarning, load_onnx

__all__ = ["FoldedResolutionWarning", "OnnxWarning", "Refold", "UnknownOpWarning", "load_onnx"]
