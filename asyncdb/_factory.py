"""Building the face from settings: a per-process singleton, or fresh instances.

``get_database_service`` is what an application calls (one service, one connection pool,
per process); ``create_database_service`` builds an independent one (tests, migrations,
two providers at once). Both return a ``DatabaseService`` that is also an async context
manager.
"""

from __future__ import annotations

import logging
import threading

from asyncdb._registry import load_provider
from asyncdb._service import DatabaseService
from asyncdb._settings import Settings
from asyncdb.drivers.base import Driver
from asyncdb.drivers.settings import DriverSettings
from asyncdb.errors import ConfigurationError, ServiceClosedError
from asyncdb.middleware.prefix import PrefixMiddleware

__all__ = [
    "build_driver",
    "create_database_service",
    "get_database_service",
    "reset_database_service",
]

logger = logging.getLogger("asyncdb")

_lock = threading.Lock()
_singleton: tuple[Settings, DatabaseService] | None = None


def build_driver(settings: Settings) -> Driver:
    """The chosen provider's driver, wrapped in the prefix middleware when one is set."""
    settings = settings.resolved()
    driver_class = load_provider(settings.database_provider)
    # Every provider field given must be one of this provider's, even for a driver whose
    # from_settings reads none: a misspelt or misplaced setting is an error, not ignored.
    (driver_class.settings_class or DriverSettings).of(settings)
    driver: Driver = driver_class.from_settings(settings)
    if settings.collection_prefix:
        driver = PrefixMiddleware(driver, settings.collection_prefix)
    return driver


def create_database_service(
    settings: Settings | None = None, *, driver: Driver | None = None
) -> DatabaseService:
    """A new, independent service: over ``driver`` if given, else as ``settings`` say
    (read from the environment when omitted)."""
    if driver is not None:
        if settings is None:
            return DatabaseService(driver)
        return DatabaseService(driver, size_limit=settings.size_limit, coalesce=settings.coalesce)
    settings = Settings() if settings is None else settings
    service = DatabaseService(
        build_driver(settings), size_limit=settings.size_limit, coalesce=settings.coalesce
    )
    logger.info("asyncdb service created: %s", service.driver.describe())
    return service


def get_database_service(settings: Settings | None = None) -> DatabaseService:
    """The process-wide service, built on first call (from ``settings`` or the environment).

    Later calls return the same instance. Asking for other settings than the ones it was
    built with raises ``ConfigurationError``: switching providers needs a restart. Once it
    has been closed (``aclose()``, or leaving ``async with`` around it) it raises
    ``ServiceClosedError`` until ``reset_database_service()``: silently building a new,
    empty service would lose a memory provider's data and hide the mistake.
    """
    global _singleton
    with _lock:
        if _singleton is not None and _singleton[1].closed:
            raise ServiceClosedError(
                "the process-wide database service has been closed; call "
                "reset_database_service() before asking for a new one"
            )
        if _singleton is not None:
            built_with, service = _singleton
            if settings is not None and settings != built_with:
                raise ConfigurationError(
                    f"the database service already runs with provider "
                    f"{built_with.database_provider!r}; other settings (provider "
                    f"{settings.database_provider!r}) need a restart of the process"
                )
            return service
        settings = Settings() if settings is None else settings
        service = create_database_service(settings)
        _singleton = (settings, service)
        return service


async def reset_database_service() -> None:
    """Close and forget the process-wide service (for tests and reloads)."""
    global _singleton
    with _lock:
        current, _singleton = _singleton, None
    if current is not None:
        await current[1].aclose()
