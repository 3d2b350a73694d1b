"""``asyncdb serve``'s start-up rule, in one place:

- a **configuration error** (a setting that can never work) is found before the server
  listens: ``ConfigurationError`` naming the variable; the command exits 2 with one line;
- an **unreachable backend** is a warning at start-up naming what decides the address;
  the server starts and answers 503 until the backend answers;
- **refused credentials** are a warning at start-up naming the credential variables, and
  the same 503 (``AuthenticationError``, "refused this server's credentials") on every
  route until fixed — never a 500.

``check_settings`` is the static part (no I/O); ``probe`` opens a throwaway service once.

With no configuration at all (neither ``DATABASE_PROVIDER`` nor ``DATABASE_URL``) the
server keeps its documents in a SQLite file, ``./asyncdb.sqlite3`` (``SQLITE_PATH``
chooses another), so that they survive a restart: ``serve_settings``. The library's own
default stays ``memory``; only the command chooses SQLite. A SQLite file that cannot be
used (a folder that cannot be created or written, a file that is not a database) is a
configuration error found by ``probe``: exit 2 with one line.
"""

from __future__ import annotations

import logging

from asyncdb._factory import create_database_service
from asyncdb._registry import settings_class_of
from asyncdb._settings import Settings
from asyncdb.drivers.sqlite.settings import SQLiteSettings
from asyncdb.errors import AuthenticationError, BackendError

__all__ = ["SERVE_DEFAULT_PROVIDER", "check_settings", "is_unconfigured", "probe", "serve_settings"]

#: The provider of ``asyncdb serve`` when nothing chooses one.
SERVE_DEFAULT_PROVIDER = "sqlite"

logger = logging.getLogger("asyncdb")


def is_unconfigured(settings: Settings) -> bool:
    """Whether nothing chose a provider: neither ``DATABASE_PROVIDER`` nor ``DATABASE_URL``
    (from the environment or given by name)."""
    return settings.database_url is None and "database_provider" not in settings.model_fields_set


def serve_settings(settings: Settings) -> Settings:
    """The settings ``asyncdb serve`` runs with: ``settings`` when they choose a provider,
    else the same environment with the SQLite provider (``SQLITE_PATH``, default
    ``asyncdb.sqlite3`` in the working directory)."""
    if not is_unconfigured(settings):
        return settings
    return Settings(database_provider=SERVE_DEFAULT_PROVIDER)


def check_settings(settings: Settings) -> None:
    """Refuse settings that cannot work, naming the variable (``ConfigurationError``):
    the provider's own settings class checks its fields."""
    resolved = settings.resolved()
    own = settings_class_of(resolved.database_provider).of(resolved)
    if isinstance(own, SQLiteSettings):
        own.check_path()  # a file that can never be the database: before anything starts


async def probe(settings: Settings) -> None:
    """Open a service once and ping it: a ``ConfigurationError`` propagates; an
    unreachable backend or refused credentials become one warning line saying what to
    check. The memory provider gets a warning that nothing outlives the process."""
    resolved = settings.resolved()
    provider = resolved.database_provider
    if provider == "memory":
        logger.warning(
            "provider memory: documents live in this process only and are all lost when "
            "the server stops (set DATABASE_PROVIDER or DATABASE_URL to keep them)"
        )
    own = settings_class_of(provider).of(resolved)
    db = create_database_service(settings)
    try:
        await db.open()
        await db.ping()
        if provider == "sqlite":
            # Where the documents are, as an absolute path: a relative SQLITE_PATH (or the
            # default) depends on the working directory the server was started in.
            logger.info("provider sqlite: documents are stored in %s", own.where())
    except AuthenticationError as exc:
        variables = own.credential_variables or "the provider's credentials"
        logger.warning(
            "%s refused the credentials at start-up (%s): check %s; every request answers "
            "503 until it accepts them",
            provider,
            exc,
            variables,
        )
    except BackendError as exc:
        variables = own.address_variables or "the provider's settings"
        logger.warning(
            "%s does not answer at start-up (%s; %s): check %s; requests answer 503 until it does",
            provider,
            own.where() or f"provider {provider}",
            exc,
            variables,
        )
    finally:
        await db.aclose()
