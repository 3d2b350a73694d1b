"""The provider registry: provider name -> driver class, loaded only when chosen.

Built-in providers are listed here as import paths, so ``import asyncdb`` never imports a
client library. Third parties register theirs in the ``asyncdb.drivers`` entry-point group
(``name = "package.module:DriverClass"``) or at run time with ``register_provider``.
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points
from typing import Final

from asyncdb.drivers.base import Driver
from asyncdb.drivers.settings import DriverSettings
from asyncdb.errors import ConfigurationError

__all__ = [
    "ENTRY_POINT_GROUP",
    "available_providers",
    "load_provider",
    "provider_for_scheme",
    "register_provider",
    "settings_class_of",
]

logger = logging.getLogger("asyncdb")

ENTRY_POINT_GROUP: Final = "asyncdb.drivers"

#: provider name -> (its driver, the extra that installs its client library). Each
#: built-in provider is one folder, ``asyncdb/drivers/<name>/``, whose ``settings`` module
#: (no client library) holds its settings class and URL schemes.
_BUILT_IN: Final[dict[str, tuple[str, str | None]]] = {
    "memory": ("asyncdb.drivers.memory.driver:MemoryDriver", None),
    "couchdb": ("asyncdb.drivers.couchdb.driver:CouchDBDriver", "couchdb"),
    "dynamodb": ("asyncdb.drivers.dynamodb.driver:DynamoDBDriver", "dynamodb"),
    "firestore": ("asyncdb.drivers.firestore.driver:FirestoreDriver", "firestore"),
    "sqlite": ("asyncdb.drivers.sqlite.driver:SQLiteDriver", "sqlite"),
    "postgres": ("asyncdb.drivers.postgres.driver:PostgresDriver", "postgres"),
}
_BUILT_IN_SETTINGS: Final[dict[str, str]] = {
    "memory": "asyncdb.drivers.memory.settings:MemorySettings",
    "couchdb": "asyncdb.drivers.couchdb.settings:CouchDBSettings",
    "dynamodb": "asyncdb.drivers.dynamodb.settings:DynamoDBSettings",
    "firestore": "asyncdb.drivers.firestore.settings:FirestoreSettings",
    "sqlite": "asyncdb.drivers.sqlite.settings:SQLiteSettings",
    "postgres": "asyncdb.drivers.postgres.settings:PostgresSettings",
}
_registered: dict[str, type[Driver]] = {}


def register_provider(name: str, driver_class: type[Driver]) -> None:
    """Make ``driver_class`` available as provider ``name`` in this process."""
    if not isinstance(driver_class, type) or not issubclass(driver_class, Driver):
        raise TypeError("register_provider takes a Driver subclass")
    _registered[name.strip().lower()] = driver_class


def _entry_points() -> dict[str, str]:
    # Provider names are case-insensitive (Settings lower-cases DATABASE_PROVIDER).
    return {ep.name.strip().lower(): ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_providers() -> list[str]:
    """Every provider name that ``DATABASE_PROVIDER`` accepts here, sorted."""
    return sorted({*_BUILT_IN, *_registered, *_entry_points()})


def load_provider(name: str) -> type[Driver]:
    """The driver class of provider ``name``; ``ConfigurationError`` if unknown or not
    installed (the message names the variable, the accepted values and the extra)."""
    name = name.strip().lower()
    if name in _registered:
        return _registered[name]
    extra: str | None = None
    if name in _BUILT_IN:
        target, extra = _BUILT_IN[name]
    else:
        target_or_none = _entry_points().get(name)
        if target_or_none is None:
            raise ConfigurationError(
                f"DATABASE_PROVIDER={name!r} is not a known provider; accepted values: "
                + ", ".join(available_providers())
            )
        target = target_or_none
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        missing = exc.name or ""
        own_module = missing == module_name or module_name.startswith(missing + ".")
        # A module of asyncdb itself that fails to import is a broken installation, not
        # a missing client library: say so instead of suggesting an extra.
        ours = missing == "asyncdb" or missing.startswith("asyncdb.")
        if ours or (extra is None and (own_module or not missing)):
            # An entry point whose own module is absent: a broken plugin, not a library.
            raise ConfigurationError(
                f"provider {name!r} points at {target!r}, which cannot be imported: {exc}"
            ) from exc
        hint = f": pip install 'asyncdb-documents[{extra}]'" if extra else ""
        raise ConfigurationError(
            f"provider {name!r} needs a client library that is not installed{hint} ({missing})"
        ) from exc
    except Exception as exc:
        raise ConfigurationError(
            f"provider {name!r} failed while its module {module_name!r} was imported: "
            f"{type(exc).__name__}"
        ) from exc
    driver_class = getattr(module, attribute, None)
    if not isinstance(driver_class, type) or not issubclass(driver_class, Driver):
        raise ConfigurationError(f"provider {name!r} points at {target!r}, not a Driver class")
    logger.debug("loaded provider %s from %s", name, target)
    return driver_class


def settings_class_of(name: str) -> type[DriverSettings]:
    """The settings class of provider ``name``, loaded without its client library for a
    built-in provider; ``DriverSettings`` itself (no fields) for a driver that names none."""
    name = name.strip().lower()
    if name in _BUILT_IN_SETTINGS and name not in _registered:
        module_name, _, attribute = _BUILT_IN_SETTINGS[name].partition(":")
        found: type[DriverSettings] = getattr(importlib.import_module(module_name), attribute)
        return found
    return load_provider(name).settings_class or DriverSettings


def provider_for_scheme(scheme: str) -> str | None:
    """The provider whose settings class owns URL scheme ``scheme``, or ``None``.

    Built-in providers answer without importing a client library; a provider registered
    at run time or by entry point is loaded to be asked (one that fails to load is
    skipped here: naming it in ``DATABASE_PROVIDER`` reports why).
    """
    scheme = scheme.lower()
    for name in (*_registered, *_BUILT_IN_SETTINGS, *sorted(_entry_points())):
        try:
            schemes = settings_class_of(name).url_schemes
        except ConfigurationError as exc:
            logger.debug("provider %s skipped while looking for scheme %s: %s", name, scheme, exc)
            continue
        if scheme in schemes:
            return name
    return None
