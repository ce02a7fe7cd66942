"""Numeric codes shared by the Python layer and the compiled core.

The core sees only these integers; the names are for people.  Keep them in
sync with ``csrc/rfa/kinds.hpp``.
"""

from __future__ import annotations

from enum import IntEnum


class Kind(IntEnum):
    """What a node does to the receptive field (``op`` array)."""

    INPUT = 0
    WINDOW = 1  # convolution, pooling: any sliding window
    TRANSPOSED = 2  # transposed convolution
    RESIZE = 3  # Resize/Upsample by a factor
    MERGE = 4  # add, mul, concat on channels, max, ...
    GLOBAL = 5  # the field becomes the whole input
    IDENTITY = 6  # pass-through


class PadMode(IntEnum):
    """How a window's padding is chosen (``pad_mode`` array)."""

    EXPLICIT = 0
    SAME_UPPER = 1
    SAME_LOWER = 2
    VALID = 3


class ResizeMode(IntEnum):
    """Interpolation of a RESIZE node (``mode`` array)."""

    NEAREST = 0
    LINEAR = 1
    CUBIC = 2


class Status(IntEnum):
    """Bit flags of a node's status at one resolution (``status`` array)."""

    CRITICAL = 1  # r_min > I on every axis
    PARTIALLY_CRITICAL = 2  # r_min > I on some axes
    UNPRODUCTIVE = 4
    BORDER = 8
    DEAD = 16  # no graph output is reachable from the node (never with another bit)


KIND_NAMES = {k: k.name.lower() for k in Kind}
