"""The ONNX route: ``torch.onnx.export`` to memory, then :func:`rfa_fast.load_onnx`, renamed to module paths.

Taken when the capture on the meta device cannot run the model (control flow
on tensor values, an op without a meta kernel).  The TorchScript exporter
traces the model on a zero input on the device of its parameters, so it
needs real weights (not the meta device); ``export_params=False`` keeps them
out of the file: nothing is copied, and ``load_onnx`` reads kernels and
channels from the weight inputs' shapes.  No onnxruntime is involved.

Node names are turned back into module paths (``/layer4/layer4.0/conv2/Conv``
-> ``layer4.0.conv2``, ``/layer4/layer4.0/Add`` -> ``layer4.0``; ops of the
root module are named after the op, ``flatten``), with the loader's ``#k``
suffix for repeats, so both routes name layers alike.
"""

from __future__ import annotations

import dataclasses
import io
import warnings

import torch

from ..errors import OnnxError, TorchError
from ..graph import Graph
from ..kinds import Kind


def export_graph(module: torch.nn.Module, shape: tuple[int, ...], dtype: torch.dtype, label: str,
                 input_name: str, why: str = "") -> Graph:  # fmt: skip
    """The model through ``torch.onnx.export`` (weights left out) and ``load_onnx``, named by module path."""
    from ..onnx_edit import torch_module_path
    from ..onnx_loader import load_onnx

    devices = {p.device for p in module.parameters()} | {b.device for b in module.buffers()}
    if any(dev.type == "meta" for dev in devices):
        raise TorchError(
            f"{label}: {why + '; ' if why else ''}the ONNX route runs the model on a real input, but its parameters "
            "are on the meta device (load or initialize the weights first)",
            None,
        )
    device = next(iter(devices)) if len(devices) == 1 else torch.device("cpu")
    x = torch.zeros(shape, dtype=dtype, device=device)
    buf = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer and deprecation warnings: the fallback's own business
            torch.onnx.export(
                module,
                (x,),
                buf,  # type: ignore[arg-type]  # the exporter writes to file objects too
                export_params=False,
                dynamo=False,
                input_names=[input_name],
                opset_version=17,
            )
    except Exception as e:  # the exporter raises many types
        raise TorchError(
            f"{label}: {why + '; ' if why else ''}torch.onnx.export failed too: {_first_line(e)}"
        ) from None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            graph = load_onnx(buf.getvalue())
    except OnnxError as e:
        raise TorchError(f"{label}: {why + '; ' if why else ''}the ONNX export cannot be analyzed: {e}") from None
    for w in caught:
        warnings.warn(f"{label} (ONNX route): {w.message}", w.category, stacklevel=3)
    names: dict[str, int] = {}
    nodes = []
    for node in graph.nodes:
        if node.kind == Kind.INPUT:
            base = input_name
        else:
            onnx_name, _, _ = node.name.partition("#")
            stats = onnx_name.endswith("/stats")  # the loader's statistics half of a normalization
            path = torch_module_path(onnx_name[: -len("/stats")] if stats else onnx_name)
            base = (path or node.op.lower()) + ("/stats" if stats else "")
        k = names.get(base)
        names[base] = 0 if k is None else k + 1
        new = base if k is None else f"{base}#{k + 1}"
        nodes.append(dataclasses.replace(node, name=new, attrs={**node.attrs, "onnx_name": node.name}))
    nodes[0].attrs.update(example_shape=shape, dtype=str(dtype).replace("torch.", ""), route="onnx")
    return Graph(nodes, name=label, dims=graph.dims, input_shape=shape[2:], outputs=graph.outputs)


def _first_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    return f"{type(e).__name__}: {lines[0]}" if lines else type(e).__name__


def write_onnx(module: torch.nn.Module, shape: tuple[int, ...], path: str) -> None:
    """Export ``module`` (with its weights) at input ``shape`` to the ONNX file ``path``."""
    x = torch.zeros(shape, dtype=next((p.dtype for p in module.parameters() if p.is_floating_point()), torch.float32))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (x,), path, dynamo=False, input_names=["input"], opset_version=17)
    except OSError:
        raise
    except Exception as e:  # the exporter raises many types
        raise TorchError(f"torch.onnx.export of the refined model failed: {_first_line(e)}") from None
