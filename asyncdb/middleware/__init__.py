"""Driver middleware: drivers that wrap a driver, through one hook (``DriverWrapper.around``).

See docs/middleware.md. Nothing here imports a client library or OpenTelemetry at import.
"""

from asyncdb.middleware.base import DriverCall, DriverWrapper, Proceed
from asyncdb.middleware.prefix import PrefixMiddleware
from asyncdb.middleware.readonly import ReadOnlyError, ReadOnlyMiddleware
from asyncdb.middleware.statistics import StatisticsMiddleware

__all__ = [
    "DriverCall",
    "DriverWrapper",
    "PrefixMiddleware",
    "Proceed",
    "ReadOnlyError",
    "ReadOnlyMiddleware",
    "StatisticsMiddleware",
]
