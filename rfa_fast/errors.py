"""The exceptions rfa_fast raises.  Every error is an :class:`RfaError`."""

from __future__ import annotations


class RfaError(Exception):
    """Base class of every error rfa_fast raises on purpose."""


class GraphError(RfaError, ValueError):
    """A packed batch is malformed; names the graph and node at fault.

    Attributes:
        graph_index: index of the graph in the batch (``-1`` if not one graph);
            for a search space, the candidate.
        node_index: global index of the node (``-1`` if not one node); for a
            search space, the template node.
        column: for a search space, the choice column at fault (``-1`` if none).
        graph_name: the graph's name, when the Python layer knew the graph
            (``None`` for a batch of bare arrays).
        node_name: the node's name, likewise.
    """

    def __init__(self, message: str, graph_index: int = -1, node_index: int = -1, column: int = -1) -> None:
        super().__init__(message)
        self.graph_index = graph_index
        self.node_index = node_index
        self.column = column
        self.graph_name: str | None = None
        self.node_name: str | None = None


class SpecError(RfaError, ValueError):
    """A graph spec or builder call is malformed; names the candidate and layer."""

    def __init__(self, message: str, candidate: int | None = None, layer: int | None = None) -> None:
        super().__init__(message)
        self.candidate = candidate
        self.layer = layer


class OnnxError(RfaError):
    """An ONNX model cannot be read or analyzed; names the file, node and op."""


class UnsupportedOpError(OnnxError):
    """An ONNX op rfa_fast cannot interpret (raised in ``strict`` mode)."""


class ResolutionError(RfaError, ValueError):
    """A resolution is not a positive integer (or one per spatial axis)."""


class TorchError(RfaError, ValueError):
    """A PyTorch model cannot be captured or edited; names the module path and what failed."""

    def __init__(self, message: str, module_path: str | None = None) -> None:
        super().__init__(message)
        self.module_path = module_path


class MissingDependencyError(RfaError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class ExtensionNotBuiltError(RfaError, ImportError):
    """The compiled extensions (``rfa_fast._core``, ``rfa_fast._pack``) cannot be imported.

    Raised by ``import rfa_fast``; the message says why (usually: Python found the
    source tree, which has no compiled extension) and which command fixes it.
    """


class UnknownExampleError(RfaError, ValueError):
    """:func:`rfa_fast.examples.path` was given a name that is not a shipped example."""


class FoldedResolutionWarning(UserWarning):
    """A graph analyzed at a resolution other than the one its input-size-dependent sizes were folded at.

    ONNX models compute some sizes from the input's shape (Resize by
    ``sizes``, spatial slices, reshapes, pads from ``Shape``); the loader
    evaluates them at one resolution (``Graph.folded_at``).  When a graph
    cannot be re-read at the resolution under analysis, the answer is that of
    the sizes at ``folded_at``, and this warning says so and which
    ``resolution=`` to pass to :func:`rfa_fast.load_onnx` (docs/onnx.md).
    """
