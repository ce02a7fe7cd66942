"""Writing a refinement into a PyTorch model: a copy with new strides, pools removed, head pools re-sized.

:meth:`rfa_fast.refine.Suggestion.apply_torch` calls :func:`apply_suggestion`.
Each :class:`~rfa_fast.refine.Edit` names a layer by module path (graphs from
:func:`rfa_fast.from_torch`) and becomes a change of that module in a deep
copy of the user's model:

- a new stride: the ``stride`` attribute of a ``Conv1d/2d/3d`` or of a
  max/average/Lp pooling module (padding is kept, as in ONNX);
- a removed pool: the module is replaced by ``nn.Identity()`` in its parent;
- a re-frozen pool in front of a flatten head: an ``AvgPool`` gets the new
  ``kernel_size`` and ``stride``; an ``AdaptiveAvgPool`` needs nothing (it
  already adapts to the new feature map).

No weight changes shape, so every parameter keeps its value (the copy is a
``copy.deepcopy``).  A layer that is not a module of its own (``F.max_pool2d``
called inside a block's ``forward``, a module called twice) cannot be edited
through attributes: that is a :class:`~rfa_fast.errors.TorchError` naming it.
With ``verify=True`` the copy is captured again and analyzed: it must give
the I_min, unproductive count, MACs and parameter count the suggestion
promised.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from torch import nn

from ..errors import TorchError
from ..graph import Graph

if TYPE_CHECKING:
    from ..refine import Edit, Suggestion

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_POOLS = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.LPPool1d,
          nn.LPPool2d, nn.LPPool3d)  # fmt: skip
_ADAPTIVE = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)


def apply_suggestion(s: Suggestion, module: nn.Module, *, example: Any = None, verify: bool = True) -> nn.Module:
    """A refined deep copy of ``module`` (see the module docstring); ``module`` itself is not changed."""
    if not isinstance(module, nn.Module):
        raise TorchError(f"apply_torch takes a torch.nn.Module, got {type(module).__name__}")
    refined = copy.deepcopy(module)
    names = {n.name for n in s.graph.nodes}
    for e in s.edits:
        _apply_edit(refined, e, names, s.graph.name)
    before = sum(p.numel() for p in module.parameters())
    after = sum(p.numel() for p in refined.parameters())
    if before != after:  # no edit changes a weight: a bug if it happens
        raise AssertionError(f"apply_torch changed the parameter count: {before} -> {after}")
    if verify:
        _verify(s, refined, example)
    return refined


def _apply_edit(root: nn.Module, e: Edit, names: set[str], label: str) -> None:
    path, sep, _ = e.node.partition("#")
    if sep:
        raise TorchError(
            f"{label}: layer {e.node!r} is a second layer of module {path!r} (a functional op in its forward, or the "
            "module called again): apply_torch changes module attributes only",
            path,
        )
    try:
        target = root.get_submodule(path)
    except AttributeError:
        raise TorchError(
            f"{label}: the model has no module {path!r}: was the suggestion computed on a graph captured from it "
            "(rfa_fast.from_torch)?",
            path,
        ) from None
    if f"{path}#1" in names and _same_kind(target):
        raise TorchError(
            f"{label}: module {path!r} ({type(target).__name__}) is called more than once: changing it would change "
            "every call, not only the layer of the suggestion",
            path,
        )
    if e.remove:
        if not isinstance(target, _POOLS):
            raise TorchError(
                f"{label}: only pooling modules can be removed; {path!r} is a {type(target).__name__}", path
            )
        parent, _, attr = path.rpartition(".")
        setattr(root.get_submodule(parent) if parent else root, attr, nn.Identity())
        return
    if e.kernel is not None:  # a pool re-frozen in front of a flatten head
        if isinstance(target, _ADAPTIVE):
            return  # it adapts to the new feature map by itself
        if isinstance(target, (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)):
            target.kernel_size = _like(target.kernel_size, e.kernel[1])
            target.stride = _like(target.stride, e.kernel[1])
            return
        raise TorchError(
            f"{label}: {path!r} ({type(target).__name__}) feeds a flatten head but is not an average pool "
            "whose kernel can be re-sized",
            path,
        )
    new = e.stride[1]
    if isinstance(target, _CONVS):
        if target.padding == "same" and max(new) > 1:
            raise TorchError(f"{label}: {path!r} has padding='same', which PyTorch allows only with stride 1", path)
        target.stride = tuple(new)
    elif isinstance(target, _POOLS):
        target.stride = _like(target.stride, new)
    else:
        raise TorchError(
            f"{label}: layer {e.node!r} is not a convolution or pooling module but part of the forward of "
            f"{type(target).__name__} (a functional op): its stride cannot be changed through an attribute",
            path,
        )


def _same_kind(m: nn.Module) -> bool:
    return isinstance(m, (*_CONVS, *_POOLS))


def _like(old: Any, new: tuple[int, ...]) -> Any:
    """``new`` as an int when the module stored an int and the axes agree (repr stays familiar)."""
    if isinstance(old, int) and len(set(new)) == 1:
        return int(new[0])
    return tuple(int(v) for v in new)


def example_of(graph: Graph, module: nn.Module, example: Any) -> Any:
    """The example to capture the refined copy with: given, recorded by from_torch, or (1, C, *input_shape)."""
    if example is not None:
        return example
    recorded = graph.nodes[0].attrs.get("example_shape") if graph.nodes else None
    if recorded is not None:
        return tuple(recorded)
    if graph.input_shape is None:
        raise TorchError(f"{graph.name}: the graph has no input size: pass example= to apply_torch")
    conv = next((m for m in module.modules() if isinstance(m, nn.modules.conv._ConvNd)), None)
    if conv is None:
        raise TorchError(f"{graph.name}: pass example= to apply_torch (no convolution tells the input channels)")
    return (1, conv.in_channels, *graph.input_shape)


def _verify(s: Suggestion, refined: nn.Module, example: Any) -> None:
    from ..api import analyze
    from ..refine_candidates import without_identity_pools
    from . import from_torch

    g = from_torch(refined, example_of(s.graph, refined, example), name=s.graph.name)
    r = analyze(without_identity_pools(g), s.resolution)  # as refine rates it (a 1x1/1 pool is an identity)
    got = (r.i_min, r.summary["n_unproductive"], r.summary["macs"], r.summary["params"])
    want = (s.i_min, s.n_unproductive, s.macs, s.params)
    if got != want:
        raise TorchError(
            f"{s.graph.name}: the refined model analyzes to I_min {got[0]:g}, {got[1]} unproductive, MACs {got[2]}, "
            f"params {got[3]}; the suggestion promised I_min {want[0]:g}, {want[1]}, {want[2]}, {want[3]}: was it "
            "computed on a graph captured from this model?"
        )


__all__ = ["apply_suggestion", "example_of"]
