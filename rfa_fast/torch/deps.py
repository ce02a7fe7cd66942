"""Optional dependencies of the PyTorch front end, and the error that names the extra to install.

Nothing here imports torch: ``import rfa_fast`` must work without it.

>>> extra_for("timm")
'timm'
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import MissingDependencyError

# The extra of pyproject.toml that installs each package.
_EXTRAS = {"torch": "torch", "torchvision": "torchvision", "timm": "timm"}


def extra_for(package: str) -> str:
    """The ``rfa_fast[...]`` extra that installs ``package``."""
    return _EXTRAS.get(package, package)


def require(package: str, what: str) -> ModuleType:
    """Import ``package`` or raise :class:`MissingDependencyError` naming the extra to install.

    Only the package's own absence counts; an error raised while importing an
    installed package (a broken build) propagates with its own message.
    """
    try:
        return importlib.import_module(package)
    except ModuleNotFoundError as e:
        if e.name is not None and e.name.split(".")[0] != package:
            raise
        raise MissingDependencyError(
            f"{what} needs {package}, which is not installed: pip install 'rfa_fast[{extra_for(package)}]'"
        ) from None
    except Exception as e:  # installed but broken (a torchvision built for another torch)
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise MissingDependencyError(
            f"{what} needs {package}, which is installed but cannot be imported ({type(e).__name__}: {first}); "
            f"install one that matches your torch: pip install 'rfa_fast[{extra_for(package)}]'"
        ) from None
