"""The memory provider's settings: none, and ``DATABASE_URL=memory://``."""

from __future__ import annotations

from typing import ClassVar

from asyncdb.drivers.settings import DriverSettings

__all__ = ["MemorySettings"]


class MemorySettings(DriverSettings):
    """The memory provider needs no configuration; any provider field given is an error."""

    url_schemes: ClassVar[tuple[str, ...]] = ("memory",)
