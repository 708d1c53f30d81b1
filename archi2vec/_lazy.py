"""Packages whose public names are imported on first use (so that importing a light part does not load torch)."""
from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package whose names are imported on first use.

    ``exports`` maps each public name to the module that defines it; a name whose module is ``<package>.<name>``
    is that module itself (e.g. ``fennec.metrics``).
    """
    def getattr_(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(exports[name])
        return module if module.__name__ == f"{package}.{name}" else getattr(module, name)

    def dir_() -> list[str]:
        return sorted(set(vars(importlib.import_module(package))) | set(exports))

    return getattr_, dir_
