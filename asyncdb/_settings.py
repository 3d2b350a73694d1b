"""``Settings``: configuration from the environment, with the variable names the original
service used. Secrets are ``SecretStr``: they never appear in a ``repr`` or a log line."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from asyncdb._documents import SIZE_LIMITS, _shown, validate_prefix
from asyncdb._urls import parse_provider_url, redact_url
from asyncdb.errors import AsyncDBError, ConfigurationError, InvalidNameError

__all__ = ["Settings", "settings_from_url"]


class Settings(BaseSettings):
    """Where the documents live: what every provider shares. Every field reads the
    environment variable in its alias; a provider's own settings (``COUCHDB_URL``,
    ``DYNAMODB_REGION``, ...) are declared in its folder, ``asyncdb/drivers/<name>/
    settings.py``, and may also be given here by name.

    Only ``DATABASE_PROVIDER`` chooses the backend; it is checked against the registry when
    the service is built, and an unknown name is an error, never a silent fallback.
    """

    # extra="allow": a provider's own fields may be given by name (``Settings(
    # database_provider="couchdb", couchdb_url=...)``); they are kept aside and checked by
    # that provider's settings class when the driver is built. The environment is read
    # only for the fields declared here and in the provider's class.
    model_config = SettingsConfigDict(
        env_file=None, extra="allow", populate_by_name=True, frozen=True
    )

    database_provider: str = Field(
        default="memory",
        validation_alias="DATABASE_PROVIDER",
        description="memory, couchdb, firestore, dynamodb, or a provider from an entry point",
    )
    database_url: SecretStr | None = Field(
        default=None,
        validation_alias="DATABASE_URL",
        description="a provider URL (memory://, couchdb://..., dynamodb://..., firestore://...); "
        "it sets the provider and its connection settings",
    )
    collection_prefix: str = Field(
        default="",
        validation_alias="DATABASE_COLLECTION_PREFIX",
        description="prepended to every collection name, to share one account",
    )
    request_timeout: float = Field(
        default=30.0,
        gt=0,
        validation_alias="DATABASE_REQUEST_TIMEOUT",
        description="seconds before a backend request counts as failed",
    )
    max_retries: int = Field(
        default=4,
        ge=0,
        validation_alias="DATABASE_MAX_RETRIES",
        description="retries of transient backend failures, with back-off",
    )
    size_limit: Literal["portable", "native"] = Field(
        default="portable",
        validation_alias="DATABASE_SIZE_LIMIT",
        description="portable: 400,000 bytes by the contract's measure on every backend; "
        "native: each backend's own limit by its own measure",
    )

    coalesce: bool = Field(
        default=True,
        validation_alias="DATABASE_COALESCE",
        description="gather concurrent gets and saves into the backend's native batches "
        "(docs/performance/coalescing.md); false sends every call on its own",
    )

    def provider_fields(self) -> dict[str, Any]:
        """The provider's own fields given to these settings by name (``Settings(
        couchdb_url=...)``) or by ``DATABASE_URL``; the provider's settings class
        (``DriverSettings.of``) checks them and reads the environment for the rest."""
        return dict(self.model_extra or {})

    def resolved(self) -> Settings:
        """These settings with ``DATABASE_URL`` expanded: the provider its scheme names,
        the prefix, and the provider's fields.

        A provider chosen explicitly (``DATABASE_PROVIDER``) that contradicts the URL is a
        ``ConfigurationError``: asyncdb never guesses which one was meant.
        """
        if self.database_url is None:
            return self
        expanded = settings_from_url(self.database_url.get_secret_value(), base=self)
        if (
            "database_provider" in self.model_fields_set
            and self.database_provider != expanded.database_provider
        ):
            raise ConfigurationError(
                f"DATABASE_PROVIDER={self.database_provider!r} contradicts DATABASE_URL, "
                f"which names {expanded.database_provider!r}; set only one of them"
            )
        return expanded

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # The provider shown is the one that decides: DATABASE_URL's when it is set, so a
        # repr never says "memory" while the service talks to CouchDB. No secret is shown:
        # the URL stays SecretStr, and a provider field given by name is shown by name
        # only (which of them are secrets is the provider's to know).
        extra = self.model_extra or {}
        for name, value in super().__repr_args__():
            if name in extra:
                yield name, "<set>"
            else:
                yield name, self._effective_provider() if name == "database_provider" else value

    def _effective_provider(self) -> str:
        if self.database_url is None:
            return self.database_provider
        try:
            return self.resolved().database_provider
        except AsyncDBError:
            return "unresolved: DATABASE_URL is invalid or contradicts DATABASE_PROVIDER"

    @field_validator("database_provider")
    @classmethod
    def _normalise_provider(cls, value: str) -> str:
        return value.strip().lower()

    @field_validator("size_limit", mode="before")
    @classmethod
    def _check_size_limit(cls, value: object) -> object:
        # A ConfigurationError (not pydantic's ValueError) propagates as it is: one clear
        # line naming the variable and the accepted values.
        normalised = value.strip().lower() if isinstance(value, str) else value
        if normalised not in SIZE_LIMITS:
            raise ConfigurationError(
                f"DATABASE_SIZE_LIMIT must be one of {', '.join(SIZE_LIMITS)}, not {_shown(value)}"
            )
        return normalised

    @field_validator("collection_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        try:
            return validate_prefix(value)
        except InvalidNameError as exc:
            raise ValueError(f"DATABASE_COLLECTION_PREFIX: {exc}") from None


def settings_from_url(url: str, base: Settings | None = None) -> Settings:
    """Settings for the backend ``url`` names, on top of ``base`` (the environment's by
    default, so credentials from the environment still apply). ``ConfigurationError`` on
    a URL that is not one of the accepted forms; the message never shows a password."""
    provider, fields, prefix = parse_provider_url(url)
    base = Settings() if base is None else base
    merged: dict[str, Any] = base.model_dump() | {"database_provider": provider}
    merged.pop("database_url", None)
    if prefix is not None:
        merged["collection_prefix"] = prefix
    merged |= fields
    try:
        return Settings(**merged)
    except ValueError as exc:
        raise ConfigurationError(f"provider URL {redact_url(url)}: {exc}") from None
