"""Provider URLs: one string that names a backend and how to reach it.

Accepted everywhere a provider is named (``DATABASE_URL``, the CLI's ``--from``/``--to``):

- ``memory://``
- ``couchdb://user:password@host:5984`` (``couchdbs://`` for HTTPS)
- ``dynamodb://?region=eu-west-1&endpoint=http://127.0.0.1:8000``
- ``firestore://project-id?emulator=127.0.0.1:8080&database=(default)``

Every form also takes ``?prefix=`` (the collection prefix). Which provider owns a scheme,
and what its URL means, is that provider's settings class's to say
(``DriverSettings.url_schemes`` / ``from_url``): this module only takes the URL apart and
asks the registry. ``redact_url`` hides passwords and keys before a URL is shown anywhere.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from asyncdb._registry import available_providers, provider_for_scheme, settings_class_of
from asyncdb.drivers.settings import ProviderURL
from asyncdb.errors import ConfigurationError

__all__ = ["known_schemes", "parse_provider_url", "redact_url"]

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


def parse_provider_url(url: str) -> tuple[str, dict[str, Any], str | None]:
    """``(provider, provider fields, collection prefix or None)`` that ``url`` stands for.

    The provider is the one whose settings class owns the URL's scheme (asked through the
    registry, so a third-party provider's scheme works as a built-in one does); its
    settings class turns the URL into its fields. ``ConfigurationError`` for a URL no
    provider owns, or with parameters nobody understood; no message shows a password.
    """
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        parts.port  # noqa: B018 - parsed here so that a bad port is this error, not later
    except ValueError as exc:
        raise ConfigurationError(f"invalid provider URL {shown}: {exc}") from None
    scheme = parts.scheme.lower()
    provider = provider_for_scheme(scheme) if scheme else None
    if provider is None:
        raise ConfigurationError(
            f"provider URL {shown} must start with one of "
            + ", ".join(f"{known}://" for known in known_schemes())
        )
    prefix = query.pop("prefix", None)
    parsed = ProviderURL(scheme=scheme, parts=parts, shown=shown, query=query)
    fields = settings_class_of(provider).from_url(parsed)
    if parsed.query:
        raise ConfigurationError(
            f"provider URL {shown} has unknown parameters: {', '.join(sorted(parsed.query))}"
        )
    return provider, fields, prefix


def known_schemes() -> list[str]:
    """Every URL scheme some provider here owns, sorted."""
    schemes: set[str] = set()
    for name in available_providers():
        try:
            schemes.update(settings_class_of(name).url_schemes)
        except ConfigurationError:
            continue
    return sorted(schemes)
