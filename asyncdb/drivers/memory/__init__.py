"""The memory provider: ``MemoryDriver``, documents in this process (development, tests)."""

from asyncdb.drivers.memory.driver import MemoryDriver

__all__ = ["MemoryDriver"]
