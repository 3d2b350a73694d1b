"""Building the face from settings: a per-process singleton, or fresh instances.

``get_database_service`` is what an application calls (one service, one connection pool,
per process); ``create_database_service`` builds an independent one (tests, migrations,
two providers at once); ``open_database_service`` builds one and opens it without
blocking a running event loop. All return a ``DatabaseService`` that is also an async
context manager.
"""

from __future__ import annotations

import importlib
import logging
import threading

from asyncdb._offload import off_loop
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
    "open_database_service",
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


async def open_database_service(
    settings: Settings | None = None, *, driver: Driver | None = None
) -> DatabaseService:
    """``create_database_service`` then ``open()``, for code already on an event loop
    (a lifespan, a worker's start): the blocking part — reading the environment, importing
    the provider's client library, building its driver, and the first import of anyio's
    event-loop backend — runs in a worker thread, so the loop keeps serving its other
    tasks (docs/performance/loop-lag.md). A failure to open closes the service and raises.
    """

    def build() -> DatabaseService:
        _import_anyio_backend()
        return create_database_service(settings, driver=driver)

    service = await off_loop(build)
    try:
        await service.open()
    except BaseException:
        await service.aclose()
        raise
    return service


def _import_anyio_backend() -> None:
    # anyio imports its asyncio backend on its first call (a task group, a sleep): 50-60
    # ms of module loading, on the loop, the first time a bulk call fans out or a retry
    # waits. Importing it here, in the worker thread, takes that off the loop.
    try:
        importlib.import_module("anyio._backends._asyncio")
    except ImportError:  # a private module of anyio's: a later version may move it
        logger.debug("anyio's asyncio backend was not found to import ahead of use")


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
