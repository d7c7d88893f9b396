"""Lazy re-exports for package ``__init__`` modules whose members import heavy libraries (torch)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, members: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``package.<members[name]>`` only when ``name`` is first used."""

    def getattr_(name: str) -> Any:
        if name in members:
            return getattr(importlib.import_module(f"{package}.{members[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return getattr_
