"""``ServerConfig``: how ``asyncdb serve`` listens, from ``ASYNCDB_*`` variables.

The database itself is configured by ``asyncdb.Settings`` (``DATABASE_PROVIDER`` ...);
these settings are about the HTTP side: address, token, body limit, CORS origins and the
optional schema set (``MODULE:ATTR``, a mapping of collection name to model).
"""

from __future__ import annotations

import importlib
import ipaddress
import math
from collections import Counter
from collections.abc import Mapping
from typing import Annotated, Any, Final

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from asyncdb._documents import validate_collection_name
from asyncdb.errors import AsyncDBError, ConfigurationError
from asyncdb.models.base import DocumentModel

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "MIN_TOKEN_BITS",
    "MIN_TOKEN_LENGTH",
    "ServerConfig",
    "is_loopback",
    "load_schemas",
]

#: Room for a bulk call of a few documents at the contract's 400 KB limit.
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
#: Shorter bearer tokens are refused: they could be guessed.
MIN_TOKEN_LENGTH = 16
#: A token must carry at least this much entropy by the estimate of ``token_bits``
#: (``secrets.token_urlsafe(16)`` has about 90 by it; ``aaaaaaaaaaaaaaaa`` has 0).
MIN_TOKEN_BITS = 64
#: Words of documented placeholders (``.env.example``'s ``change-me-...``) and their
#: usual variants: a token containing one was copied, not made.
_PLACEHOLDER_WORDS: Final = ("changeme", "change-me", "change_me", "placeholder", "example")

Schemas = Mapping[str, type[DocumentModel]]


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # any other name may resolve to a public address


def token_bits(token: str) -> float:
    """An estimate of a token's entropy: its length times the Shannon entropy of its
    characters' frequencies. Low for repeats (``aaaa``) and short alphabets."""
    counts = Counter(token)
    per_char = -sum(n / len(token) * math.log2(n / len(token)) for n in counts.values())
    return per_char * len(token)


def load_schemas(spec: str) -> Schemas:
    """The mapping named by ``MODULE:ATTR`` (e.g. ``asyncdb.schemas:SCHEMA_MODELS``)."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(
            f"schemas must be MODULE:ATTR (e.g. asyncdb.schemas:SCHEMA_MODELS), not {spec!r}"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"schemas {spec!r}: cannot import {module_name!r} ({exc})") from None
    try:
        found = getattr(module, attribute)
    except AttributeError:
        raise ValueError(f"schemas {spec!r}: {module_name!r} has no {attribute!r}") from None
    if not isinstance(found, Mapping):
        raise ValueError(f"schemas {spec!r} is a {type(found).__name__}, not a mapping")
    return found


class ServerConfig(BaseSettings):
    """Listening address, the bearer token, the request-body limit, CORS origins and the
    schema set (``None``: a generic document API, every collection takes any document)."""

    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", populate_by_name=True, frozen=True
    )

    host: str = Field(default="127.0.0.1", validation_alias=AliasChoices("ASYNCDB_HOST", "host"))
    port: int = Field(
        default=8000, ge=0, le=65535, validation_alias=AliasChoices("ASYNCDB_PORT", "port")
    )
    api_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("ASYNCDB_API_TOKEN", "api_token"),
        description="bearer token every request must carry; required off loopback",
    )
    max_body_bytes: int = Field(
        default=DEFAULT_MAX_BODY_BYTES,
        ge=1024,
        validation_alias=AliasChoices("ASYNCDB_MAX_BODY_BYTES", "max_body_bytes"),
    )
    log_level: str = Field(
        default="info", validation_alias=AliasChoices("ASYNCDB_LOG_LEVEL", "log_level")
    )
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        validation_alias=AliasChoices("ASYNCDB_CORS_ORIGINS", "cors_origins"),
        description="origins (scheme://host[:port]) whose browser pages may call the API",
    )
    schemas: Annotated[Schemas | None, NoDecode] = Field(
        default=None,
        validation_alias=AliasChoices("ASYNCDB_SCHEMAS", "schemas"),
        description="collection name -> DocumentModel, or MODULE:ATTR naming such a mapping",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            if origin != "*" and (
                not origin.startswith(("http://", "https://"))
                or origin.rstrip("/") != origin
                or origin.count("/") != 2
            ):
                raise ValueError(
                    f"{origin!r} is not an origin: use scheme://host[:port], e.g. "
                    "http://localhost:3000 (no path, no trailing slash)"
                )
        return value

    @field_validator("schemas", mode="before")
    @classmethod
    def _load_schemas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return load_schemas(value.strip()) if value.strip() else None
        return value

    @field_validator("schemas")
    @classmethod
    def _check_schemas(cls, value: Schemas | None) -> Schemas | None:
        if value is None:
            return None
        for name, model in value.items():
            try:
                validate_collection_name(name)
            except AsyncDBError as exc:
                raise ValueError(f"schemas: {exc}") from None
            if not (isinstance(model, type) and issubclass(model, DocumentModel)):
                raise ValueError(f"schemas: {name!r} maps to {model!r}, not a DocumentModel")
        return dict(value)

    def check(self) -> None:
        """Refuse a configuration that would expose the API: ``ConfigurationError``."""
        token = None if self.api_token is None else self.api_token.get_secret_value()
        if token is not None:
            _check_token(token)
        if token is None and not is_loopback(self.host):
            raise ConfigurationError(
                f"refusing to serve on {self.host!r} without a bearer token: set "
                "ASYNCDB_API_TOKEN (every request must then send "
                "'Authorization: Bearer <token>'), or listen on 127.0.0.1"
            )


_MAKE_ONE = '(make one: python -c "import secrets; print(secrets.token_urlsafe(32))")'


def _check_token(token: str) -> None:
    # Messages never quote the token: it is a secret even when it is a bad one.
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigurationError(
            f"ASYNCDB_API_TOKEN is too short: use at least {MIN_TOKEN_LENGTH} characters "
            + _MAKE_ONE
        )
    if any(word in token.lower() for word in _PLACEHOLDER_WORDS):
        raise ConfigurationError(
            "ASYNCDB_API_TOKEN is still a documented placeholder: replace it " + _MAKE_ONE
        )
    if token_bits(token) < MIN_TOKEN_BITS:
        raise ConfigurationError(
            "ASYNCDB_API_TOKEN is too easy to guess (too few different characters): "
            "use a random one " + _MAKE_ONE
        )
