"""Model specs of the command line: ``torchvision:NAME``, ``timm:NAME`` and ``package.module:factory``.

Models are built without pretrained weights (``weights=None``,
``pretrained=False``): nothing is downloaded.  The example input follows the
model: channels and number of spatial axes from its first convolution, size
from ``-r`` or the model's default (timm's ``pretrained_cfg``, torchvision's
crop size, else 224 for torchvision).

>>> is_model_spec("torchvision:resnet50"), is_model_spec("timm:convnext_tiny"), is_model_spec("nets:small_net")
(True, True, True)
>>> is_model_spec("model.onnx"), is_model_spec("C:/models/model.onnx")
(False, False)
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
import re
from collections.abc import Sequence
from typing import Any

from ..errors import TorchError
from .deps import require

_SPEC = re.compile(r"(?:torchvision|timm):[\w.\-]+|[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")


def is_model_spec(text: str) -> bool:
    """Whether ``text`` names a model to build (and is not an existing file)."""
    return bool(_SPEC.fullmatch(text)) and not os.path.exists(text)


class ModelSpec:
    """A built model: the module, a label for reports, and its default input size (None if unknown)."""

    def __init__(self, spec: str, module: Any, label: str, default_size: int | None) -> None:
        self.spec = spec
        self.module = module
        self.label = label
        self.default_size = default_size

    def example(self, resolution: Sequence[int] | None) -> tuple[int, ...]:
        """``(1, C, *spatial)``: C and the number of spatial axes from the first convolution."""
        import torch

        conv = next((m for m in self.module.modules() if isinstance(m, torch.nn.modules.conv._ConvNd)), None)
        channels, dims = (conv.in_channels, conv.weight.dim() - 2) if conv is not None else (3, 2)
        if resolution is None:
            if self.default_size is None:
                raise TorchError(f"{self.spec}: the model has no default input size; give one with -r, e.g. -r 224")
            resolution = (self.default_size,)
        res = tuple(resolution)
        if len(res) == 1:
            res = res * dims
        if len(res) != dims:
            raise TorchError(
                f"{self.spec}: resolution {'x'.join(map(str, res))} has {len(res)} axes; the model has {dims}"
            )
        return (1, channels, *res)


def build(spec: str) -> ModelSpec:
    """Build the model a spec names (no pretrained weights); errors name the spec and the extra to install."""
    source, _, name = spec.partition(":")
    if source == "torchvision":
        require("torch", spec)
        tv = require("torchvision", spec)
        return ModelSpec(spec, _torchvision(tv, name, spec), name, _torchvision_size(tv, name))
    if source == "timm":
        require("torch", spec)
        timm = require("timm", spec)
        try:
            model = timm.create_model(name, pretrained=False)
        except RuntimeError as e:
            if "Unknown model" not in str(e):
                raise
            close = difflib.get_close_matches(name, timm.list_models(), n=3)
            raise TorchError(
                f"{spec}: timm has no model {name!r}" + (f" (did you mean {', '.join(close)}?)" if close else "")
            ) from None
        size = model.pretrained_cfg.get("input_size", (3, 224, 224))[-1] if hasattr(model, "pretrained_cfg") else None
        return ModelSpec(spec, model, name, size)
    torch = require("torch", spec)
    try:
        mod = importlib.import_module(source)
    except ImportError as e:
        raise TorchError(f"{spec}: cannot import module {source!r} ({e})") from None
    obj: Any = mod
    for part in name.split("."):
        if not hasattr(obj, part):
            raise TorchError(f"{spec}: module {source!r} has no attribute {name!r}")
        obj = getattr(obj, part)
    if not isinstance(obj, torch.nn.Module):
        if not callable(obj):
            raise TorchError(f"{spec}: {name!r} is neither a torch.nn.Module nor a callable returning one")
        obj = obj()
        if not isinstance(obj, torch.nn.Module):
            raise TorchError(f"{spec}: {name}() returned a {type(obj).__name__}, not a torch.nn.Module")
    return ModelSpec(spec, obj, name.rpartition(".")[2], None)


def _torchvision(tv: Any, name: str, spec: str) -> Any:
    try:
        builder = tv.models.get_model_builder(name)
    except ValueError:
        close = difflib.get_close_matches(name, tv.models.list_models(), n=3)
        raise TorchError(
            f"{spec}: torchvision has no model {name!r}" + (f" (did you mean {', '.join(close)}?)" if close else "")
        ) from None
    kwargs: dict[str, Any] = {"weights": None}
    if "weights_backbone" in inspect.signature(builder).parameters:
        kwargs["weights_backbone"] = None  # segmentation/detection models would fetch an ImageNet backbone
    return builder(**kwargs)


def _torchvision_size(tv: Any, name: str) -> int:
    """The crop size of the model's default weights (metadata only, nothing downloaded), else 224."""
    try:
        weights = tv.models.get_model_weights(name).DEFAULT
        size = weights.transforms.keywords.get("crop_size")
        return int(size[0] if isinstance(size, (list, tuple)) else size) if size else 224
    except (ValueError, AttributeError, KeyError, TypeError):
        return 224
