"""``ServerConfig``: how ``asyncdb serve`` listens, from ``ASYNCDB_*`` variables.

The database itself is configured by ``asyncdb.Settings`` (``DATABASE_PROVIDER`` ...);
these settings are only about the HTTP side.
"""

from __future__ import annotations

import ipaddress

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from asyncdb.errors import ConfigurationError

__all__ = ["DEFAULT_MAX_BODY_BYTES", "MIN_TOKEN_LENGTH", "ServerConfig", "is_loopback"]

#: Room for a bulk call of a few documents at the contract's 400 KB limit.
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
#: Shorter bearer tokens are refused: they could be guessed.
MIN_TOKEN_LENGTH = 16


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # any other name may resolve to a public address


class ServerConfig(BaseSettings):
    """Listening address, the bearer token and the request-body limit."""

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

    def check(self) -> None:
        """Refuse a configuration that would expose the API: ``ConfigurationError``."""
        token = None if self.api_token is None else self.api_token.get_secret_value()
        if token is not None and len(token) < MIN_TOKEN_LENGTH:
            raise ConfigurationError(
                f"ASYNCDB_API_TOKEN is too short: use at least {MIN_TOKEN_LENGTH} characters "
                '(e.g. python -c "import secrets; print(secrets.token_urlsafe(32))")'
            )
        if token is None and not is_loopback(self.host):
            raise ConfigurationError(
                f"refusing to serve on {self.host!r} without a bearer token: set "
                "ASYNCDB_API_TOKEN (every request must then send "
                "'Authorization: Bearer <token>'), or listen on 127.0.0.1"
            )
