"""The Firestore provider's settings: ``GOOGLE_CLOUD_PROJECT``, ``FIRESTORE_DATABASE``,
``FIRESTORE_EMULATOR_HOST``, ``GOOGLE_APPLICATION_CREDENTIALS``, or
``DATABASE_URL=firestore://project-id?emulator=127.0.0.1:8080&database=(default)``.
Credentials left unset fall back to Google's application-default credentials.
``DATABASE_INDEX_REFRESH_SECONDS`` (default 30): how old a process's copy of a
collection's index registry may be before a write or ``find`` reads it again; every
process writing a collection must use the same value (or a smaller one)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import AliasChoices, Field

from asyncdb.drivers.settings import DriverSettings, ProviderURL

__all__ = ["FirestoreSettings"]


class FirestoreSettings(DriverSettings):
    """Which project and database, and the emulator when one is used."""

    url_schemes: ClassVar[tuple[str, ...]] = ("firestore",)
    address_variables: ClassVar[str] = (
        "GOOGLE_CLOUD_PROJECT, FIRESTORE_DATABASE and FIRESTORE_EMULATOR_HOST"
    )
    credential_variables: ClassVar[str] = "GOOGLE_APPLICATION_CREDENTIALS"

    firestore_emulator_host: str | None = Field(
        default=None, validation_alias="FIRESTORE_EMULATOR_HOST"
    )
    google_cloud_project: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "FIRESTORE_PROJECT_ID"
        ),
    )
    google_application_credentials: str | None = Field(
        default=None, validation_alias="GOOGLE_APPLICATION_CREDENTIALS"
    )
    firestore_database: str = Field(default="(default)", validation_alias="FIRESTORE_DATABASE")
    index_refresh_seconds: float = Field(
        default=30.0,
        ge=0,
        allow_inf_nan=False,
        validation_alias="DATABASE_INDEX_REFRESH_SECONDS",
        description="seconds a cached index registry is trusted (ensure_index waits twice that)",
    )

    def where(self) -> str:
        host = self.firestore_emulator_host
        shown = f"GOOGLE_CLOUD_PROJECT={self.google_cloud_project!r}"
        return shown + (f", emulator {host}" if host else "")

    @classmethod
    def from_url(cls, url: ProviderURL) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        project = url.parts.hostname or url.query.pop("project", None)
        url.query.pop("project", None)
        if project:
            fields["google_cloud_project"] = project
        if "emulator" in url.query:
            fields["firestore_emulator_host"] = url.query.pop("emulator")
        if "database" in url.query:
            fields["firestore_database"] = url.query.pop("database")
        return fields
