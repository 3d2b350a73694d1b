"""Driver middleware: drivers that wrap a driver (prefix, ...)."""

from asyncdb.middleware.base import DriverWrapper
from asyncdb.middleware.prefix import PrefixMiddleware

__all__ = ["DriverWrapper", "PrefixMiddleware"]
