"""The DynamoDB provider's settings: the standard AWS variables, ``DYNAMODB_REGION``,
``DYNAMODB_ENDPOINT_URL``, or ``DATABASE_URL=dynamodb://?region=eu-west-1&endpoint=...``.
Credentials left unset fall back to the AWS credential chain. ``DATABASE_INDEX_REFRESH_SECONDS``
bounds how long a process may write without knowing of an index another one made."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from asyncdb._urls import redact_url
from asyncdb.drivers.settings import DriverSettings, ProviderURL
from asyncdb.errors import ConfigurationError

__all__ = ["DynamoDBSettings"]

#: AWS region names: ``us-east-1``, ``eu-central-2``, ``us-gov-west-1``, ``cn-north-1`` ...
_REGION: Final = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


class DynamoDBSettings(DriverSettings):
    """Which AWS region (or local endpoint) and which credentials. The secret key and the
    session token are secrets: never in a ``repr``, a log line or an error."""

    url_schemes: ClassVar[tuple[str, ...]] = ("dynamodb",)
    address_variables: ClassVar[str] = "DYNAMODB_REGION and DYNAMODB_ENDPOINT_URL (or DATABASE_URL)"
    credential_variables: ClassVar[str] = (
        "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN or AWS_PROFILE"
    )

    dynamodb_region: str = Field(default="us-east-1", validation_alias="DYNAMODB_REGION")
    dynamodb_endpoint_url: str | None = Field(
        default=None, validation_alias="DYNAMODB_ENDPOINT_URL"
    )
    aws_access_key_id: str | None = Field(default=None, validation_alias="AWS_ACCESS_KEY_ID")
    aws_secret_access_key: SecretStr | None = Field(
        default=None, validation_alias="AWS_SECRET_ACCESS_KEY"
    )
    aws_session_token: SecretStr | None = Field(default=None, validation_alias="AWS_SESSION_TOKEN")
    aws_profile: str | None = Field(default=None, validation_alias="AWS_PROFILE")
    #: How old (seconds) a driver's copy of a table's index registry may get before a
    #: write or a find reads it again; ``ensure_index`` waits twice this long.
    index_refresh_seconds: float = Field(
        default=30.0, ge=0, allow_inf_nan=False, validation_alias="DATABASE_INDEX_REFRESH_SECONDS"
    )

    @field_validator("dynamodb_region")
    @classmethod
    def _check_region(cls, region: str) -> str:
        # A ConfigurationError (not a ValueError) propagates through pydantic as it is.
        if not _REGION.fullmatch(region):
            raise ConfigurationError(
                f"DYNAMODB_REGION={region!r} is not an AWS region name (e.g. us-east-1)"
            )
        return region

    @field_validator("dynamodb_endpoint_url")
    @classmethod
    def _check_endpoint(cls, endpoint: str | None) -> str | None:
        if endpoint is not None:
            parts = urlsplit(endpoint)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigurationError(
                    f"DYNAMODB_ENDPOINT_URL={redact_url(endpoint)!r} is not a URL: it needs "
                    "http:// or https:// and a host (e.g. http://127.0.0.1:8000)"
                )
        return endpoint

    def where(self) -> str:
        region, endpoint = self.dynamodb_region, self.dynamodb_endpoint_url
        shown = endpoint or f"AWS's endpoint for {region}"
        hint = "" if endpoint or _known_region(region) else " (a region AWS does not list)"
        return f"DYNAMODB_REGION={region!r}{hint}, endpoint {shown}"

    @classmethod
    def from_url(cls, url: ProviderURL) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if "region" in url.query:
            fields["dynamodb_region"] = url.query.pop("region")
        if "endpoint" in url.query:
            fields["dynamodb_endpoint_url"] = url.query.pop("endpoint")
        return fields


def _known_region(region: str) -> bool:
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
