"""Lazy driver packages: ``asyncdb.drivers.<name>`` exposes its driver class without
importing it (and its client library) until the class is first asked for, so that the
registry can read the provider's ``settings`` module on its own."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(package: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``names[attribute]`` (a module
    path) on first access to ``attribute`` and returns that module's attribute."""

    def __getattr__(attribute: str) -> Any:
        module = names.get(attribute)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {attribute!r}")
        return getattr(importlib.import_module(module), attribute)

    return __getattr__
