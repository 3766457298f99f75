"""Package facades: a package's ``__init__`` names its public API and imports it on first use.

So ``import inception_zoo`` (or ``inception_zoo.train``) loads nothing heavy, and the command
line answers ``--help`` and ``list`` without loading torch.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``, whose public ``name`` lives in the submodule ``exports[name]``.

    Submodules not named in ``exports`` are imported on attribute access too (``inception_zoo.models``).
    """

    def __getattr__(name: str) -> object:
        module = exports.get(name)
        if module is not None:
            value = getattr(importlib.import_module(module, package), name)
            setattr(sys.modules[package], name, value)  # later lookups skip this function
            return value
        if not name.startswith("__") and importlib.util.find_spec(f"{package}.{name}") is not None:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(exports) | set(vars(sys.modules[package])))

    return __getattr__, __dir__
