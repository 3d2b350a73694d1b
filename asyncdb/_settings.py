"""``Settings``: configuration from the environment, with the variable names the original
service used. Secrets are ``SecretStr``: they never appear in a ``repr`` or a log line."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from asyncdb._documents import SIZE_LIMITS, _shown, validate_prefix
from asyncdb.errors import AsyncDBError, ConfigurationError, InvalidNameError

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Where the documents live. Every field reads the environment variable in its alias.

    Only ``DATABASE_PROVIDER`` chooses the backend; it is checked against the registry when
    the service is built, and an unknown name is an error, never a silent fallback.
    """

    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", populate_by_name=True, frozen=True
    )

    database_provider: str = Field(
        default="memory",
        validation_alias=AliasChoices("DATABASE_PROVIDER", "database_provider"),
        description="memory, couchdb, firestore, dynamodb, or a provider from an entry point",
    )
    database_url: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "database_url"),
        description="a provider URL (memory://, couchdb://..., dynamodb://..., firestore://...); "
        "it sets the provider and its connection settings",
    )
    collection_prefix: str = Field(
        default="",
        validation_alias=AliasChoices("DATABASE_COLLECTION_PREFIX", "collection_prefix"),
        description="prepended to every collection name, to share one account",
    )
    request_timeout: float = Field(
        default=30.0,
        gt=0,
        validation_alias=AliasChoices("DATABASE_REQUEST_TIMEOUT", "request_timeout"),
        description="seconds before a backend request counts as failed",
    )
    max_retries: int = Field(
        default=4,
        ge=0,
        validation_alias=AliasChoices("DATABASE_MAX_RETRIES", "max_retries"),
        description="retries of transient backend failures, with back-off",
    )
    size_limit: Literal["portable", "native"] = Field(
        default="portable",
        validation_alias=AliasChoices("DATABASE_SIZE_LIMIT", "size_limit"),
        description="portable: 400,000 bytes by the contract's measure on every backend; "
        "native: each backend's own limit by its own measure",
    )

    # CouchDB
    couchdb_url: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("COUCHDB_URL", "couchdb_url")
    )
    couchdb_user: str | None = Field(
        default=None, validation_alias=AliasChoices("COUCHDB_USER", "couchdb_user")
    )
    couchdb_password: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("COUCHDB_PASSWORD", "couchdb_password")
    )

    # DynamoDB (the standard AWS variables; unset ones fall back to the AWS credential chain)
    dynamodb_region: str = Field(
        default="us-east-1", validation_alias=AliasChoices("DYNAMODB_REGION", "dynamodb_region")
    )
    dynamodb_endpoint_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DYNAMODB_ENDPOINT_URL", "dynamodb_endpoint_url"),
    )
    aws_access_key_id: str | None = Field(
        default=None, validation_alias=AliasChoices("AWS_ACCESS_KEY_ID", "aws_access_key_id")
    )
    aws_secret_access_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("AWS_SECRET_ACCESS_KEY", "aws_secret_access_key"),
    )
    aws_session_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("AWS_SESSION_TOKEN", "aws_session_token")
    )
    aws_profile: str | None = Field(
        default=None, validation_alias=AliasChoices("AWS_PROFILE", "aws_profile")
    )

    # Firestore (unset credentials fall back to Google's application-default credentials)
    firestore_emulator_host: str | None = Field(
        default=None,
        validation_alias=AliasChoices("FIRESTORE_EMULATOR_HOST", "firestore_emulator_host"),
    )
    google_cloud_project: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "GOOGLE_CLOUD_PROJECT",
            "GCLOUD_PROJECT",
            "FIRESTORE_PROJECT_ID",
            "google_cloud_project",
        ),
    )
    google_application_credentials: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "GOOGLE_APPLICATION_CREDENTIALS", "google_application_credentials"
        ),
    )
    firestore_database: str = Field(
        default="(default)",
        validation_alias=AliasChoices("FIRESTORE_DATABASE", "firestore_database"),
    )

    def resolved(self) -> Settings:
        """These settings with ``DATABASE_URL`` expanded into the fields it stands for.

        A provider chosen explicitly (``DATABASE_PROVIDER``) that contradicts the URL is a
        ``ConfigurationError``: asyncdb never guesses which one was meant.
        """
        if self.database_url is None:
            return self
        from asyncdb._urls import settings_from_url

        expanded = settings_from_url(self.database_url.get_secret_value(), base=self)
        if (
            "database_provider" in self.model_fields_set
            and self.database_provider != expanded.database_provider
        ):
            from asyncdb.errors import ConfigurationError

            raise ConfigurationError(
                f"DATABASE_PROVIDER={self.database_provider!r} contradicts DATABASE_URL, "
                f"which names {expanded.database_provider!r}; set only one of them"
            )
        return expanded

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # The provider shown is the one that decides: DATABASE_URL's when it is set, so a
        # repr never says "memory" while the service talks to CouchDB. No secret is shown:
        # the URL and passwords stay SecretStr.
        for name, value in super().__repr_args__():
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
