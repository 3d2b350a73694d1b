"""The PostgreSQL provider's settings: ``POSTGRES_URL``
(``postgresql://user:password@host:port/db``), or ``DATABASE_URL=postgresql://...``
(``postgres://`` too). The password is a secret: never in a ``repr``, a log line or an
error."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urlencode, urlunsplit

from pydantic import Field, SecretStr

from asyncdb._urls import redact_url
from asyncdb.drivers.settings import DriverSettings, ProviderURL

__all__ = ["PostgresSettings"]


class PostgresSettings(DriverSettings):
    """Where the PostgreSQL server is, which database, and who to be there."""

    url_schemes: ClassVar[tuple[str, ...]] = ("postgresql", "postgres")
    address_variables: ClassVar[str] = "POSTGRES_URL (or DATABASE_URL)"
    credential_variables: ClassVar[str] = "the user and password in POSTGRES_URL"

    postgres_url: SecretStr | None = Field(
        default=None,
        validation_alias="POSTGRES_URL",
        description="postgresql://user:password@host:port/database (required)",
    )
    postgres_table: str = Field(
        default="asyncdb_documents",
        validation_alias="POSTGRES_TABLE",
        description="the table that holds every collection: 'table' or 'schema.table'",
    )

    def where(self) -> str:
        url = self.postgres_url
        return f"POSTGRES_URL={'unset' if url is None else redact_url(url.get_secret_value())}"

    @classmethod
    def from_url(cls, url: ProviderURL) -> dict[str, Any]:
        # The URL is asyncpg's own DSN: keep it whole (libpq parameters such as sslmode
        # included), only the parameters asyncdb itself took (prefix) are gone.
        query = urlencode(url.query)
        url.query.clear()
        parts = url.parts
        dsn = urlunsplit(("postgresql", parts.netloc, parts.path, query, ""))
        return {"postgres_url": dsn}
