"""The CouchDB provider's settings: ``COUCHDB_URL``, ``COUCHDB_USER``, ``COUCHDB_PASSWORD``,
or ``DATABASE_URL=couchdb://user:password@host:5984`` (``couchdbs://`` for HTTPS)."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import unquote, urlunsplit

from pydantic import Field, SecretStr

from asyncdb._urls import redact_url
from asyncdb.drivers.settings import DriverSettings, ProviderURL
from asyncdb.errors import ConfigurationError

__all__ = ["CouchDBSettings"]


class CouchDBSettings(DriverSettings):
    """Where the CouchDB server is and who to be there. The password (and the URL, which
    may hold one) are secrets: never in a ``repr``, a log line or an error."""

    url_schemes: ClassVar[tuple[str, ...]] = ("couchdb", "couchdbs")
    address_variables: ClassVar[str] = "COUCHDB_URL (or DATABASE_URL)"
    credential_variables: ClassVar[str] = "COUCHDB_USER and COUCHDB_PASSWORD"

    couchdb_url: SecretStr | None = Field(
        default=None,
        validation_alias="COUCHDB_URL",
        description="the server, e.g. http://127.0.0.1:5984 (required)",
    )
    couchdb_user: str | None = Field(default=None, validation_alias="COUCHDB_USER")
    couchdb_password: SecretStr | None = Field(default=None, validation_alias="COUCHDB_PASSWORD")

    def where(self) -> str:
        url = self.couchdb_url
        return f"COUCHDB_URL={'unset' if url is None else redact_url(url.get_secret_value())}"

    @classmethod
    def from_url(cls, url: ProviderURL) -> dict[str, Any]:
        address = url.host_and_port()
        if address is None:
            raise ConfigurationError(f"provider URL {url.shown} names no CouchDB host")
        http = "https" if url.scheme == "couchdbs" else "http"
        fields: dict[str, Any] = {
            "couchdb_url": urlunsplit((http, address, url.parts.path, "", ""))
        }
        if url.parts.username is not None:
            fields["couchdb_user"] = unquote(url.parts.username)
        if url.parts.password is not None:
            fields["couchdb_password"] = unquote(url.parts.password)
        return fields
