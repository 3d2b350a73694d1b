"""Provider URLs: one string that names a backend and how to reach it.

Accepted everywhere a provider is named (``DATABASE_URL``, the CLI's ``--from``/``--to``):

- ``memory://``
- ``couchdb://user:password@host:5984`` (``couchdbs://`` for HTTPS)
- ``dynamodb://?region=eu-west-1&endpoint=http://127.0.0.1:8000``
- ``firestore://project-id?emulator=127.0.0.1:8080&database=(default)``

Every form also takes ``?prefix=`` (the collection prefix). ``redact_url`` hides passwords
and keys before a URL is shown anywhere.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

from asyncdb._settings import Settings
from asyncdb.errors import ConfigurationError

__all__ = ["redact_url", "settings_from_url"]

_SCHEMES = {"memory", "couchdb", "couchdbs", "dynamodb", "firestore"}
_SECRET_PARAMETERS = {"password", "secret", "aws_secret_access_key", "token", "key"}


def redact_url(url: str) -> str:
    """``url`` with any password (and secret-looking query values) replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    params = parse_qs(parts.query, keep_blank_values=True)
    if parts.password is None and not any(name.lower() in _SECRET_PARAMETERS for name in params):
        return url
    netloc = parts.netloc
    if parts.password is not None:
        user = parts.username or ""
        host = netloc.rpartition("@")[2]
        netloc = f"{user}:***@{host}"
    query = "&".join(
        f"{name}=***" if name.lower() in _SECRET_PARAMETERS else f"{name}={value}"
        for name, values in params.items()
        for value in values
    )
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")


def settings_from_url(url: str, base: Settings | None = None) -> Settings:
    """Settings for the backend ``url`` names, on top of ``base`` (the environment's by
    default, so credentials from the environment still apply). ``ConfigurationError`` on
    a URL that is not one of the accepted forms; the message never shows a password."""
    try:
        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"invalid provider URL {redact_url(url)}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise ConfigurationError(
            f"provider URL {redact_url(url)} must start with one of "
            "memory://, couchdb://, couchdbs://, dynamodb://, firestore://"
        )
    update: dict[str, Any] = {}
    if "prefix" in query:
        update["collection_prefix"] = query.pop("prefix")
    if scheme == "memory":
        update["database_provider"] = "memory"
    elif scheme in {"couchdb", "couchdbs"}:
        if not parts.hostname:
            raise ConfigurationError(f"provider URL {redact_url(url)} names no CouchDB host")
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        address = f"{host}:{port}" if port else host
        http = "https" if scheme == "couchdbs" else "http"
        update |= {
            "database_provider": "couchdb",
            "couchdb_url": urlunsplit((http, address, parts.path, "", "")),
        }
        if parts.username is not None:
            update["couchdb_user"] = unquote(parts.username)
        if parts.password is not None:
            update["couchdb_password"] = unquote(parts.password)
    elif scheme == "dynamodb":
        update["database_provider"] = "dynamodb"
        if "region" in query:
            update["dynamodb_region"] = query.pop("region")
        if "endpoint" in query:
            update["dynamodb_endpoint_url"] = query.pop("endpoint")
    else:
        update["database_provider"] = "firestore"
        project = parts.hostname or query.pop("project", None)
        if project:
            update["google_cloud_project"] = project
        if "emulator" in query:
            update["firestore_emulator_host"] = query.pop("emulator")
        if "database" in query:
            update["firestore_database"] = query.pop("database")
    unknown = sorted(set(query) - {"region", "endpoint", "emulator", "database", "project"})
    if unknown:
        raise ConfigurationError(
            f"provider URL {redact_url(url)} has unknown parameters: {', '.join(unknown)}"
        )
    base = Settings() if base is None else base
    merged = base.model_dump() | update
    merged.pop("database_url", None)
    try:
        return Settings(**merged)
    except ValueError as exc:
        raise ConfigurationError(f"provider URL {redact_url(url)}: {exc}") from None
