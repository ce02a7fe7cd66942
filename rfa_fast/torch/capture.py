"""Capture: one forward pass on the meta device, every torch function call mapped to a layer.

The model runs once, in eval mode, on an input tensor of the example's shape
on the meta device (shapes only, no data).  A ``TorchFunctionMode`` sees
each torch function the model calls (``F.conv2d``, ``torch.cat``,
``Tensor.view``...) before it runs; calls that read a tracked tensor go to
the function table (``ops.py``), which returns meta outputs and emits layers.
Global module hooks keep the stack of running modules, so every layer is
named after the module that called it (``layer4.1.conv2``; a functional op
after its calling module, ``layer4.1`` for a block's addition).

Weights are never read or copied: parameters reach the table as arguments
whose shapes are read; where a function must run, it runs on meta twins of
them (``ops.twin``).  Python control flow on shapes works (the shapes are
concrete); control flow on values (``if x.sum() > 0``) cannot run on meta
tensors, and the capture reports where it stopped (``CaptureFailed``) so
that :func:`rfa_fast.from_torch` can take the ONNX route instead.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Mapping
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from ..errors import TorchError
from ..graph import Graph
from ..kinds import Kind
from .ops import HANDLERS, METADATA, PROPERTIES, run, tracked, unknown
from .state import Data, Record, State


class CaptureFailed(Exception):
    """The forward pass on the meta device stopped: where (module path) and why."""

    def __init__(self, path: str, reason: str, error: BaseException | None = None) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason
        self.error = error


class _Mode(TorchFunctionMode):
    """Routes every torch function call with a tracked input to the function table."""

    def __init__(self, st: State) -> None:
        super().__init__()
        self.st = st

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name in METADATA:
            return func(*args, **kwargs)
        st = self.st
        if name == "__get__":
            prop = getattr(getattr(func, "__self__", None), "__name__", "")
            handler = PROPERTIES.get(prop)
            ins = tracked(st, args, kwargs) if handler is not None else None
            if not ins:
                return func(*args, **kwargs)
            return handler(st, prop, func, args, kwargs, ins)  # type: ignore[misc]
        ins = tracked(st, args, kwargs)
        if not ins:
            return run(st, func, args, kwargs)  # constants: computed on meta twins, never on weights
        return HANDLERS.get(name, unknown)(st, name, func, args, kwargs, ins)


def example_shape(module: torch.nn.Module, example: Any) -> tuple[tuple[int, ...], torch.dtype]:
    """The input shape ``(N, C, *spatial)`` and dtype from a tensor or a shape tuple (checked)."""
    if isinstance(example, torch.Tensor):
        shape = tuple(int(v) for v in example.shape)
        dtype = example.dtype if example.is_floating_point() else _param_dtype(module)
    elif isinstance(example, (tuple, list, torch.Size)) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in example
    ):
        shape = tuple(int(v) for v in example)
        dtype = _param_dtype(module)
    else:
        raise TorchError(
            f"example must be a tensor or a shape tuple (N, C, *spatial), got {type(example).__name__}: {example!r}"
        )
    if not 3 <= len(shape) <= 5:
        raise TorchError(
            f"example has shape {shape} (rank {len(shape)}): expected (N, C, *spatial) with 1, 2 or 3 spatial axes"
        )
    if any(v < 1 for v in shape):
        raise TorchError(f"example has shape {shape}: every size must be positive")
    return shape, dtype


def _param_dtype(module: torch.nn.Module) -> torch.dtype:
    for p in module.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32


def check_module(module: Any) -> torch.nn.Module:
    """The module to capture (``torch.compile``'s wrapper unwrapped); lazy parameters are an error."""
    if not isinstance(module, torch.nn.Module):
        raise TorchError(f"from_torch takes a torch.nn.Module, got {type(module).__name__}")
    inner = getattr(module, "_orig_mod", None)
    if isinstance(inner, torch.nn.Module):
        module = inner
    for path, p in module.named_parameters():
        if isinstance(p, torch.nn.parameter.UninitializedParameter):
            owner = path.rpartition(".")[0]
            raise TorchError(
                f"module {owner!r} has uninitialized lazy parameters ({path}): run one forward pass first", owner
            )
    return module


def input_mismatch(module: torch.nn.Module, shape: tuple[int, ...]) -> str | None:
    """Why the example cannot fit the first convolution of ``module`` (rank or channels), if it cannot."""
    for path, m in module.named_modules():
        if isinstance(m, torch.nn.modules.conv._ConvNd):
            n = m.weight.dim() - 2
            want = m.in_channels
            axes = ", ".join(("L",) if n == 1 else ("H", "W") if n == 2 else ("D", "H", "W"))
            what = f"module {path!r} ({type(m).__name__}) expects (N, {want}, {axes})"
            if len(shape) != n + 2:
                return f"the example has shape {shape} ({len(shape) - 2} spatial axes) but {what}"
            if shape[1] != want:
                return f"the example has {shape[1]} channels but {what}"
            return None
    return None


def input_name(module: torch.nn.Module) -> str:
    """The name of the forward's first parameter (``x``), for the input node."""
    try:
        params = inspect.signature(module.forward).parameters
    except (TypeError, ValueError):
        return "input"
    first = next(iter(params), None)
    return first if first is not None and first not in ("args", "kwargs") else "input"


def capture(module: torch.nn.Module, shape: tuple[int, ...], dtype: torch.dtype, label: str,
            strict: bool = False) -> tuple[Graph, State]:  # fmt: skip
    """Run ``module`` once on a meta input of ``shape``; the graph and the capture's state (notes).

    Raises:
        CaptureFailed: the forward pass stopped (the module path and reason).
        TorchError: strict mode refused a function, or a call's geometry is malformed.
    """
    dims = len(shape) - 2
    st = State(dims, strict, label)
    paths = {id(m): p for p, m in module.named_modules()}
    tid = threading.get_ident()

    def pre(m: torch.nn.Module, args: Any) -> None:
        if threading.get_ident() == tid:
            st.stack.append(paths.get(id(m), st.path))

    def post(m: torch.nn.Module, args: Any, out: Any) -> None:
        if threading.get_ident() == tid and st.stack:
            st.stack.pop()

    name = input_name(module)
    st.records.append(Record(st.unique_name(name), "input", Kind.INPUT, [], dims))
    x = torch.empty(shape, dtype=dtype, device="meta")
    st.define(x, Data(0, tuple(range(2, dims + 2)), len(shape), False))
    training = [(m, m.training) for m in module.modules()]
    module.eval()
    h_pre = torch.nn.modules.module.register_module_forward_pre_hook(pre)
    h_post = torch.nn.modules.module.register_module_forward_hook(post)
    try:
        with torch.no_grad(), _Mode(st):
            out = module(x)
    except TorchError:
        raise
    except Exception as e:  # any failure inside the user's forward: reported with the module path
        raise CaptureFailed(st.path, _first_line(e), e) from None
    finally:
        h_pre.remove()
        h_post.remove()
        for m, flag in training:
            m.training = flag
    outputs = _outputs(st, out)
    if not outputs:
        raise CaptureFailed("", "the module's output does not depend on its input (nothing was captured)")
    graph = st.graph(outputs, label, shape[2:])
    graph.nodes[0].attrs.update(example_shape=shape, dtype=str(dtype).replace("torch.", ""), route="capture")
    return graph, st


def _outputs(st: State, out: Any) -> list[int]:
    """The nodes of every tracked tensor in the output (tensors, sequences, mappings), in order."""
    found: list[int] = []
    stack = [out]
    seen = 0
    while stack and seen < 100_000:
        v = stack.pop(0)
        seen += 1
        if isinstance(v, torch.Tensor):
            d = st.data(v)
            if d is not None and d.node not in found:
                found.append(d.node)
        elif isinstance(v, Mapping):
            stack.extend(v.values())
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
    return found


def _first_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    return f"{type(e).__name__}: {lines[0]}" if lines else type(e).__name__
