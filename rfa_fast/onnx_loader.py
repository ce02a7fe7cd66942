"""Compatibility home of :func:`load_onnx`; the loader lives in :mod:`rfa_fast.onnx`.

>>> from rfa_fast.onnx_loader import load_onnx
>>> load_onnx.__module__
'rfa_fast.onnx.loader'
"""

from .onnx import OnnxWarning, UnknownOpWarning, load_onnx

__all__ = ["OnnxWarning", "UnknownOpWarning", "load_onnx"]
