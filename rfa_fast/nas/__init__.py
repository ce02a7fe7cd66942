"""Public NAS search spaces: NAS-Bench-201, NAS-Bench-101, Once-for-All MobileNetV3 and a ResNet space.

A cell of a benchmark, placed in the benchmark's fixed macro skeleton, becomes a
:class:`~rfa_fast.graph.Graph` (one at a time, with readable node names, for
:func:`rfa_fast.analyze`), a row of a :class:`~rfa_fast.batch.GraphBatch`
(thousands at a time, for :func:`rfa_fast.screen`), or a row of choice
indices of the benchmark's space (millions at a time, for ``space.screen``).
The spaces (:class:`~rfa_fast.Space` s, each in the benchmark's own
encoding): :func:`nb201_space`, :func:`nb101_space`, :func:`ofa_mbv3_space`,
:func:`resnet_space` (docs/spaces.md, "Shipped spaces").

>>> import rfa_fast
>>> from rfa_fast.nas import nb201_batch, nb201_all
>>> r = rfa_fast.screen(nb201_batch(nb201_all()), 32)
>>> len(r), int(r.connected.sum())
(15625, 15284)
"""

from __future__ import annotations

from .nb101 import (
    NB101_EDGES,
    NB101_INTERIOR_OPS,
    NB101_MAX_EDGES,
    NB101_OPS,
    nb101_batch,
    nb101_decode,
    nb101_encode,
    nb101_graph,
    nb101_space,
    nb101_spec,
    nb101_valid,
)
from .nb201 import (
    NB201_EDGES,
    NB201_OPS,
    nb201_all,
    nb201_batch,
    nb201_cell_string,
    nb201_connected,
    nb201_graph,
    nb201_ops_array,
    nb201_parse,
    nb201_screen,
    nb201_space,
)
from .ofa import OFA_D, OFA_E, OFA_KS, ofa_decode, ofa_encode, ofa_mbv3_space, ofa_widths
from .resnet import RESNET18, RESNET34, resnet_space

__all__ = [
    "NB101_EDGES",
    "NB101_INTERIOR_OPS",
    "NB101_MAX_EDGES",
    "NB101_OPS",
    "NB201_EDGES",
    "NB201_OPS",
    "OFA_D",
    "OFA_E",
    "OFA_KS",
    "RESNET18",
    "RESNET34",
    "nb101_batch",
    "nb101_decode",
    "nb101_encode",
    "nb101_graph",
    "nb101_space",
    "nb101_spec",
    "nb101_valid",
    "nb201_all",
    "nb201_batch",
    "nb201_cell_string",
    "nb201_connected",
    "nb201_graph",
    "nb201_ops_array",
    "nb201_parse",
    "nb201_screen",
    "nb201_space",
    "ofa_decode",
    "ofa_encode",
    "ofa_mbv3_space",
    "ofa_widths",
    "resnet_space",
]
