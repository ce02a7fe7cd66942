"""Reading an ONNX model from a path, bytes or a ``ModelProto``, never its weights.

The loader needs the graph only: op types, attributes and the *dims* of the
initializers.  Weight bytes stored as external data are never opened (a file
whose weight file is missing loads fine); weights embedded in the file are
parsed by protobuf (it cannot skip a field) but never decoded or copied.

>>> import onnx
>>> from onnx import helper, TensorProto
>>> x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
>>> y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
>>> g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
>>> model, label = read_model(helper.make_model(g).SerializeToString())
>>> label, len(model.graph.node)
('<bytes>', 1)
"""

from __future__ import annotations

import os
from typing import Union

import onnx
from google.protobuf.message import DecodeError

from ..errors import OnnxError

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, onnx.ModelProto]


def read_model(source: Source) -> tuple[onnx.ModelProto, str]:
    """The model and a label naming it in messages (the path, ``<bytes>`` or ``<ModelProto>``).

    Raises :class:`~rfa_fast.errors.OnnxError` for a missing file, a directory,
    bytes that are not an ONNX model and truncated protobuf, never a raw
    protobuf traceback.
    """
    if isinstance(source, onnx.ModelProto):
        _check_model(source, "<ModelProto>")
        return source, "<ModelProto>"
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _parse(bytes(source), "<bytes>"), "<bytes>"
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.exists(path):
            raise OnnxError(f"{path}: no such file")
        if os.path.isdir(path):
            raise OnnxError(f"{path}: is a directory, not an ONNX file")
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise OnnxError(f"{path}: cannot be read ({e.strerror or e})") from None
        # Parsing the bytes ourselves is what onnx.load(path, load_external_data=False)
        # does, minus its checks and copies: external weight files are never opened.
        return _parse(data, path), path
    raise OnnxError(f"load_onnx expects a path, bytes or an onnx.ModelProto, got {type(source).__name__}")


def _parse(data: bytes, label: str) -> onnx.ModelProto:
    if not data:
        raise OnnxError(f"{label}: empty file, not an ONNX model")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as e:
        raise OnnxError(f"{label}: not an ONNX model or truncated protobuf ({_first_line(e)})") from None
    _check_model(model, label)
    return model


def _check_model(model: onnx.ModelProto, label: str) -> None:
    # Random bytes sometimes parse as a protobuf message with unknown fields
    # only; an ONNX model has an IR version and a graph with nodes.
    if model.ir_version <= 0 or not model.HasField("graph"):
        raise OnnxError(f"{label}: not an ONNX model (no IR version or no graph)")
    if not model.graph.node:
        raise OnnxError(f"{label}: the ONNX graph has no nodes")


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
