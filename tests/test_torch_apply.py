"""Suggestion.apply_torch: refinements written into a copy of a PyTorch model.

For each suggestion the copy must have the edited strides, the removed pools
as ``nn.Identity``, the re-sized head pool; the same parameters with the same
values; the original untouched; a re-capture that analyzes to what the
suggestion promised; and a forward pass that runs.
"""

from __future__ import annotations

import os

import pytest

if os.environ.get("CI"):
    import torch  # CI installs torch (.ci/run): its absence is a failure there, not a skip
else:
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")

import torch.nn.functional as F  # noqa: E402
from test_torch_capture import ResNetish, VGGish  # noqa: E402
from torch import nn  # noqa: E402

import rfa_fast  # noqa: E402
from rfa_fast import analyze  # noqa: E402
from rfa_fast.errors import TorchError  # noqa: E402


class FixedHead(nn.Module):
    """Three conv+pool stages and a fixed AvgPool2d in front of a flatten head (sized for 64 px)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )  # fmt: skip
        self.avgpool = nn.AvgPool2d(4)
        self.classifier = nn.Linear(16 * 2 * 2, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def _state(m: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in m.state_dict().items()}


def _check(m: nn.Module, s: rfa_fast.refine.Suggestion, shape: tuple[int, ...], run_at: int) -> nn.Module:
    before = _state(m)
    refined = s.apply_torch(m)  # verify=True: re-captured and analyzed
    assert refined is not m
    after = _state(m)
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)  # untouched
    new = _state(refined)
    assert new.keys() == before.keys() and all(torch.equal(before[k], new[k]) for k in before)  # same values
    assert sum(p.numel() for p in refined.parameters()) == sum(p.numel() for p in m.parameters())
    rep = analyze(rfa_fast.from_torch(refined, shape), s.resolution)
    got = (rep.i_min, rep.summary["n_unproductive"], rep.summary["macs"], rep.summary["params"])
    assert got == (s.i_min, s.n_unproductive, s.macs, s.params)
    with torch.no_grad():
        out = refined.eval()(torch.randn(1, shape[1], run_at, run_at))
    assert torch.isfinite(out).all()
    return refined


def test_strides_removed_pools_and_the_head_pool() -> None:
    torch.manual_seed(0)
    m = FixedHead()
    g = rfa_fast.from_torch(m, (1, 3, 64, 64))
    suggestions = rfa_fast.refine(g, 16)
    assert suggestions[0].i_min < suggestions.i_min
    kinds = set()
    for s in suggestions[:12]:
        refined = _check(m, s, (1, 3, 64, 64), 64)  # the fixed head runs at its nominal size only
        for e in s.edits:
            target = refined.get_submodule(e.node)
            if e.remove:
                assert isinstance(target, nn.Identity)
                kinds.add("remove")
            elif e.kernel is not None:
                assert target.kernel_size == e.kernel[1][0] and target.stride == e.kernel[1][0]
                kinds.add("head")
            else:
                assert tuple(target.stride) if isinstance(target.stride, tuple) else (target.stride,) * 2 == e.stride[1]
                kinds.add("stride")
    assert kinds == {"remove", "head", "stride"}


def test_residual_blocks_change_both_branches_and_run_at_the_training_resolution() -> None:
    torch.manual_seed(0)
    m = ResNetish()
    g = rfa_fast.from_torch(m, (1, 3, 64, 64))
    suggestions = rfa_fast.refine(g, 24)
    groups = [s for s in suggestions if any("parallel branches of merge 'layer2.0'" in a for a in s.actions)]
    assert groups
    refined = _check(m, groups[0], (1, 3, 64, 64), 24)
    assert refined.layer2[0].conv1.stride == (1, 1) and refined.layer2[0].downsample[0].stride == (1, 1)
    assert m.layer2[0].conv1.stride == (2, 2)
    for s in suggestions[:8]:
        _check(m, s, (1, 3, 64, 64), 24)


def test_adaptive_head_needs_no_change() -> None:
    torch.manual_seed(0)
    m = VGGish()
    g = rfa_fast.from_torch(m, (1, 3, 32, 32))
    s = next(s for s in rfa_fast.refine(g, 12) if any(e.kernel is not None for e in s.edits))
    refined = _check(m, s, (1, 3, 32, 32), 12)
    assert isinstance(refined.avgpool, nn.AdaptiveAvgPool2d) and refined.avgpool.output_size == (4, 4)


class FunctionalPool(nn.Module):
    """A pool written in the forward (F.max_pool2d), as torchvision's Inception blocks do."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.max_pool2d(self.conv(x), 2))


class Shared(nn.Module):
    """One pooling module called twice."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv2(self.pool(self.conv(x))))


def test_layers_that_are_not_modules_of_their_own_are_refused() -> None:
    g = rfa_fast.from_torch(FunctionalPool(), (1, 3, 16, 16))
    assert [n.name for n in g.nodes] == ["x", "conv", "maxpool", "conv2"]
    s = next(s for s in rfa_fast.refine(g, 4) if any(e.node == "maxpool" for e in s.edits))
    with pytest.raises(TorchError, match="the model has no module 'maxpool'"):
        s.apply_torch(FunctionalPool())
    g = rfa_fast.from_torch(Shared(), (1, 3, 16, 16))
    assert [n.name for n in g.nodes] == ["x", "conv", "pool", "conv2", "pool#1"]
    s = next(s for s in rfa_fast.refine(g, 4) if any(e.node == "pool" for e in s.edits))
    with pytest.raises(TorchError, match=r"module 'pool' \(MaxPool2d\) is called more than once"):
        s.apply_torch(Shared())
    s = next(s for s in rfa_fast.refine(g, 4) if [e.node for e in s.edits] == ["pool#1"])
    with pytest.raises(TorchError, match="'pool#1' is a second layer of module 'pool'"):
        s.apply_torch(Shared())


def test_a_suggestion_for_another_model_is_refused() -> None:
    s = rfa_fast.refine(rfa_fast.from_torch(ResNetish(), (1, 3, 64, 64)), 24)[0]
    with pytest.raises(TorchError, match="no module"):
        s.apply_torch(FixedHead())
    other = ResNetish()
    other.conv1.stride = (1, 1)  # the same names, another network
    with pytest.raises(TorchError, match="the refined model analyzes to I_min"):
        s.apply_torch(other)
    with pytest.raises(TorchError, match="takes a torch.nn.Module"):
        s.apply_torch("resnet")


def test_graphs_built_by_hand_with_module_path_names_apply_too() -> None:
    b = rfa_fast.GraphBuilder("hand")
    x = b.conv(b.input(), 3, pad=1, c_in=3, c_out=8, name="conv")
    x = b.conv(x, 3, pad=1, c_in=8, c_out=8, name="conv2")
    x = b.pool(x, 2, name="pool", op="maxpool")
    g = b.build(input_shape=(16, 16))

    class Plain(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1)
            self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
            self.pool = nn.MaxPool2d(2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.pool(self.conv2(self.conv(x)))

    s = next(s for s in rfa_fast.refine(g, 4) if s.edits[0].remove)
    refined = s.apply_torch(Plain())  # the example comes from the first conv and the graph's input size
    assert isinstance(refined.pool, nn.Identity)
