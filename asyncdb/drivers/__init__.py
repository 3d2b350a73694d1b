"""Drivers: the ABC and its data types. Concrete drivers are loaded lazily by the registry,
so importing this package never imports a client library."""

from asyncdb.drivers.base import (
    DeleteRequest,
    Driver,
    DriverLimits,
    Record,
    ScanPage,
    WriteOutcome,
    WriteRequest,
)

__all__ = [
    "DeleteRequest",
    "Driver",
    "DriverLimits",
    "Record",
    "ScanPage",
    "WriteOutcome",
    "WriteRequest",
]
