"""``asyncdb serve``'s start-up rule, in one place:

- a **configuration error** (a setting that can never work) is found before the server
  listens: ``ConfigurationError`` naming the variable; the command exits 2 with one line;
- an **unreachable backend** is a warning at start-up naming what decides the address;
  the server starts and answers 503 until the backend answers;
- **refused credentials** are a warning at start-up naming the credential variables, and
  the same 503 (``AuthenticationError``, "refused this server's credentials") on every
  route until fixed — never a 500.

``check_settings`` is the static part (no I/O); ``probe`` opens a throwaway service once.
"""

from __future__ import annotations

import logging

from asyncdb._factory import create_database_service
from asyncdb._registry import settings_class_of
from asyncdb._settings import Settings
from asyncdb.errors import AuthenticationError, BackendError

__all__ = ["check_settings", "probe"]

logger = logging.getLogger("asyncdb")


def check_settings(settings: Settings) -> None:
    """Refuse settings that cannot work, naming the variable (``ConfigurationError``):
    the provider's own settings class checks its fields."""
    resolved = settings.resolved()
    settings_class_of(resolved.database_provider).of(resolved)


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
