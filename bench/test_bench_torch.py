"""PyTorch in: rfa_fast.from_torch against ``torch.onnx.export`` to memory and rfa-toolbox's PyTorch import.

What each row does, for the same ``nn.Module`` (built once, random weights):

- ``rfa_fast.from_torch``: the capture on the meta device, to a ``Graph``;
- ``torch.onnx.export (TorchScript, no weights)``: the fastest export there is
  (``dynamo=False, export_params=False``) into a ``BytesIO``, nothing else:
  the floor of the ONNX route (``from_torch(..., route="onnx")`` adds
  ``load_onnx`` to it);
- ``torch.onnx.export (TorchScript, weights)``: the same with the weights;
- ``torch.onnx.export (default, dynamo)``: the exporter's default (needs
  onnxscript: only in the torchvision groups);
- ``rfa-toolbox``: ``rfa_toolbox.create_graph_from_pytorch_model`` (its
  ``jit.trace`` import, the way its README shows), when installed.

Models: a ResNet-50 written here (torchvision's layout, bottleneck blocks:
runs with CI's torch alone), and torchvision's ResNet-50 and DenseNet-121
(marker ``torchvision``, deselected by default: CI's torch 2.13.0 has no
torchvision that imports beside it; run ``pytest bench/test_bench_torch.py
-m torchvision --benchmark-only`` in an environment with torchvision).
"""

from __future__ import annotations

import collections
import collections.abc
import contextlib
import io
import warnings
from typing import Any

import pytest
from benchlib import record, rounds

torch = pytest.importorskip("torch")  # CI installs torch before the benchmarks run (.ci/run)
from torch import nn  # noqa: E402

import rfa_fast  # noqa: E402

IMPLS = [
    "rfa_fast.from_torch",
    "torch.onnx.export (TorchScript, no weights)",
    "torch.onnx.export (TorchScript, weights)",
    "rfa-toolbox",
]
DYNAMO = "torch.onnx.export (default, dynamo)"
"""Only in the torchvision groups: the default exporter needs onnxscript, which CI does not install."""


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, c_in: int, c: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.conv3 = nn.Conv2d(c, c * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = (
            nn.Sequential(nn.Conv2d(c_in, c * 4, 1, stride, bias=False), nn.BatchNorm2d(c * 4))
            if stride != 1 or c_in != c * 4
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += identity
        return self.relu(out)


class ResNet50(nn.Module):
    """ResNet-50 in torchvision's layout (the same module paths), written here so that CI needs no torchvision."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        c_in = 64
        for i, (c, n, s) in enumerate(((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)), start=1):
            blocks = []
            for j in range(n):
                blocks.append(Bottleneck(c_in, c, s if j == 0 else 1))
                c_in = c * 4
            setattr(self, f"layer{i}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2048, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _toolbox() -> Any:
    """rfa-toolbox's PyTorch import, or None when it is not installed."""
    for name in ("Sequence", "Mapping", "MutableMapping", "Iterable", "Callable"):  # gone from collections in 3.10
        if not hasattr(collections, name):
            setattr(collections, name, getattr(collections.abc, name))
    try:
        from rfa_toolbox import create_graph_from_pytorch_model
        from rfa_toolbox.utils.graph_utils import obtain_all_nodes
    except ImportError:
        return None
    return create_graph_from_pytorch_model, obtain_all_nodes


def _export(module: nn.Module, shape: tuple[int, ...], **kwargs: Any) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.zeros(shape),), buf, **kwargs)
    return buf.getvalue()


def bench_model(benchmark: Any, label: str, module: nn.Module, impl: str, rf_max: float, toolbox_rounds: int) -> None:
    """One row: ``impl`` turning ``module`` into something the analysis (or the exporter) can use."""
    shape = (1, 3, 224, 224)
    benchmark.group = f"torch: {label} in, 224 px"
    record(benchmark, impl, base=impl == "rfa_fast.from_torch")
    module.eval()
    if impl == "rfa_fast.from_torch":
        g = benchmark.pedantic(rfa_fast.from_torch, (module, shape), rounds=rounds(benchmark, 20), warmup_rounds=1)
        assert rfa_fast.analyze(g).summary["rf_max"] == [rf_max, rf_max]
        benchmark.extra_info["nodes"] = len(g)
    elif impl.startswith("torch.onnx.export"):
        if impl == DYNAMO:
            import onnxscript  # noqa: F401 - the default exporter needs it: its absence fails this row

            kwargs: dict[str, Any] = {"dynamo": True}
        else:
            kwargs = {"dynamo": False, "export_params": "no weights" not in impl}
        data = benchmark.pedantic(_export, (module, shape), kwargs, rounds=rounds(benchmark, 3))
        # the export is only half of the ONNX route: check it holds the same network
        assert rfa_fast.analyze(rfa_fast.load_onnx(data), 224).summary["rf_max"] == [rf_max, rf_max]
        benchmark.extra_info["bytes"] = len(data)
    else:
        tb = _toolbox()
        if tb is None:
            pytest.skip(
                "rfa-toolbox is not installed (pip install --no-deps --ignore-requires-python rfa-toolbox==1.7.0)"
            )
        create, all_nodes = tb

        def run() -> Any:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                return create(module, input_res=shape)

        out = benchmark.pedantic(run, rounds=rounds(benchmark, toolbox_rounds))
        assert len(all_nodes(out)) > 50


@pytest.mark.parametrize("impl", IMPLS)
def test_hand_built_resnet50(benchmark: Any, impl: str) -> None:
    torch.manual_seed(0)
    bench_model(benchmark, "ResNet-50 (written here)", ResNet50(), impl, 427.0, 2)


@pytest.mark.torchvision
@pytest.mark.parametrize("impl", [*IMPLS[:3], DYNAMO, IMPLS[3]])
@pytest.mark.parametrize(
    ("name", "label", "rf"), [("resnet50", "ResNet-50", 427.0), ("densenet121", "DenseNet-121", 2071.0)]
)
def test_torchvision(benchmark: Any, impl: str, name: str, label: str, rf: float) -> None:
    import torchvision

    torch.manual_seed(0)
    rounds_toolbox = 2 if name == "resnet50" else 1  # DenseNet-121 takes rfa-toolbox minutes
    bench_model(benchmark, f"{label} (torchvision)", torchvision.models.get_model(name, weights=None), impl, rf,
                rounds_toolbox)  # fmt: skip
