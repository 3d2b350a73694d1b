"""Drivers: the ABC and its data types. Concrete drivers are loaded lazily by the registry,
so importing this package never imports a client library."""

# The package re-exports its ABC module whole, as asyncio's package does its submodules:
# one list of names (``base.__all__``) instead of a second copy here.
from asyncdb.drivers import base
from asyncdb.drivers.base import *  # noqa: F403

__all__ = base.__all__
