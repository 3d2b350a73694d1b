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
import re
from typing import Final
from urllib.parse import urlsplit

from asyncdb._factory import create_database_service
from asyncdb._settings import Settings
from asyncdb._urls import redact_url
from asyncdb.errors import AuthenticationError, BackendError, ConfigurationError

__all__ = ["check_settings", "probe"]

logger = logging.getLogger("asyncdb")

#: AWS region names: ``us-east-1``, ``eu-central-2``, ``us-gov-west-1``, ``cn-north-1`` ...
_REGION: Final = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")

#: What decides where each provider connects, and which variables hold its credentials.
_ADDRESS_VARIABLES: Final = {
    "couchdb": "COUCHDB_URL (or DATABASE_URL)",
    "dynamodb": "DYNAMODB_REGION and DYNAMODB_ENDPOINT_URL (or DATABASE_URL)",
    "firestore": "GOOGLE_CLOUD_PROJECT, FIRESTORE_DATABASE and FIRESTORE_EMULATOR_HOST",
}
_CREDENTIAL_VARIABLES: Final = {
    "couchdb": "COUCHDB_USER and COUCHDB_PASSWORD",
    "dynamodb": "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN or AWS_PROFILE",
    "firestore": "GOOGLE_APPLICATION_CREDENTIALS",
}


def check_settings(settings: Settings) -> None:
    """Refuse settings that cannot work, naming the variable (``ConfigurationError``)."""
    resolved = settings.resolved()
    if resolved.database_provider == "dynamodb":
        _check_dynamodb(resolved)


def _check_dynamodb(settings: Settings) -> None:
    region = getattr(settings, "dynamodb_region", None)
    endpoint = getattr(settings, "dynamodb_endpoint_url", None)
    if isinstance(region, str) and not _REGION.fullmatch(region):
        raise ConfigurationError(
            f"DYNAMODB_REGION={region!r} is not an AWS region name (e.g. us-east-1)"
        )
    if isinstance(endpoint, str):
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(
                f"DYNAMODB_ENDPOINT_URL={redact_url(endpoint)!r} is not a URL: it needs "
                "http:// or https:// and a host (e.g. http://127.0.0.1:8000)"
            )


def _where(settings: Settings) -> str:
    """A non-secret description of where the provider connects."""
    provider = settings.database_provider
    if provider == "couchdb":
        url = getattr(settings, "couchdb_url", None)
        shown = "unset" if url is None else redact_url(url.get_secret_value())
        return f"COUCHDB_URL={shown}"
    if provider == "dynamodb":
        region = getattr(settings, "dynamodb_region", None)
        endpoint = getattr(settings, "dynamodb_endpoint_url", None)
        shown = endpoint or f"AWS's endpoint for {region}"
        hint = "" if endpoint or _known_region(region) else " (a region AWS does not list)"
        return f"DYNAMODB_REGION={region!r}{hint}, endpoint {shown}"
    if provider == "firestore":
        host = getattr(settings, "firestore_emulator_host", None)
        project = getattr(settings, "google_cloud_project", None)
        return f"GOOGLE_CLOUD_PROJECT={project!r}" + (f", emulator {host}" if host else "")
    return f"provider {provider}"


def _known_region(region: object) -> bool:
    """Whether botocore's offline endpoint data lists ``region`` for DynamoDB (true when
    botocore is missing: nothing to say then)."""
    try:
        import botocore.session
    except ImportError:
        return True
    session = botocore.session.get_session()
    known: set[str] = set()
    for partition in session.get_available_partitions():
        known.update(session.get_available_regions("dynamodb", partition_name=partition))
    return region in known


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
    db = create_database_service(settings)
    try:
        await db.open()
        await db.ping()
    except AuthenticationError as exc:
        variables = _CREDENTIAL_VARIABLES.get(provider, "the provider's credentials")
        logger.warning(
            "%s refused the credentials at start-up (%s): check %s; every request answers "
            "503 until it accepts them",
            provider,
            exc,
            variables,
        )
    except BackendError as exc:
        variables = _ADDRESS_VARIABLES.get(provider, "the provider's settings")
        logger.warning(
            "%s does not answer at start-up (%s; %s): check %s; requests answer 503 until it does",
            provider,
            _where(resolved),
            exc,
            variables,
        )
    finally:
        await db.aclose()
