"""Search spaces: declare once, screen millions of candidates without building them.

>>> from rfa_fast.space import Space
>>> sp = Space("chain")
>>> x = sp.input()
>>> for i in range(3):
...     x = sp.conv(x, 3, stride=sp.choice(f"s{i}", [1, 2]), pad=1)
>>> sp.build().size
8
"""

from __future__ import annotations

from .space import Space
from .values import Choice, Computed, Derived, combine

__all__ = ["Choice", "Computed", "Derived", "Space", "combine"]
