"""Example models shipped with the package: small weightless ONNX files, no download.

``path(name)`` gives the file of a shipped example, for :func:`rfa_fast.load_onnx`
or any ONNX tool.  The files hold the graph and the weights' dims but no weight
bytes (their external data file is not shipped: read them with
``onnx.load(path, load_external_data=False)``; ``rfa_fast.load_onnx`` never
reads weights anyway).  They are written from the zoo graphs by
``tools/make_example_models.py``, so ``resnet18`` analyzes exactly like
:func:`rfa_fast.zoo.resnet18`, layer names included.

>>> import rfa_fast
>>> p = rfa_fast.examples.path("resnet18")
>>> p.name
'resnet18.onnx'
>>> rfa_fast.analyze(rfa_fast.load_onnx(p), 32).summary["border_layers"]
['layer3.0.conv2']
>>> rfa_fast.examples.names()
('resnet18',)
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UnknownExampleError

DIRECTORY = Path(__file__).resolve().parent
"""Where the example files are (package data: ``pip install .`` ships them)."""

_DESCRIPTIONS = {
    "resnet18": "torchvision's ResNet-18 (rfa_fast.zoo.resnet18) at 224 px, weightless, about 10 KB",
}


def names() -> tuple[str, ...]:
    """The names of the shipped examples, for :func:`path`."""
    return tuple(_DESCRIPTIONS)


def describe(name: str) -> str:
    """One line saying what example ``name`` is."""
    path(name)
    return _DESCRIPTIONS[name]


def path(name: str) -> Path:
    """The ONNX file of the shipped example ``name`` (e.g. ``"resnet18"``).

    Raises :class:`~rfa_fast.errors.UnknownExampleError` (a ``ValueError``)
    naming the examples there are, and ``FileNotFoundError`` when the package
    was installed without its data.

    >>> path("resnet18").suffix
    '.onnx'
    """
    if name not in _DESCRIPTIONS:
        raise UnknownExampleError(f"no example model {name!r}: the shipped examples are {', '.join(names())}")
    file = DIRECTORY / f"{name}.onnx"
    if not file.is_file():
        raise FileNotFoundError(
            f"{file}: example {name!r} is missing from this installation (package data not shipped)"
        )
    return file


__all__ = ["DIRECTORY", "describe", "names", "path"]
