"""A provider's own settings: a third-party driver gets environment and ``DATABASE_URL``
configuration the way the built-in ones do, through its ``DriverSettings`` class."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from pydantic import Field, SecretStr

from asyncdb import Settings, create_database_service
from asyncdb import _registry as registry
from asyncdb._settings import settings_from_url
from asyncdb._urls import known_schemes, parse_provider_url
from asyncdb.drivers.memory import MemoryDriver
from asyncdb.drivers.settings import DriverSettings, ProviderURL
from asyncdb.errors import ConfigurationError


class RocketSettings(DriverSettings):
    """A third party's provider settings: ``ROCKET_HOST``, ``ROCKET_TOKEN``, rocket://."""

    url_schemes: ClassVar[tuple[str, ...]] = ("rocket",)

    rocket_host: str = Field(default="localhost", validation_alias="ROCKET_HOST")
    rocket_token: SecretStr | None = Field(default=None, validation_alias="ROCKET_TOKEN")

    @classmethod
    def from_url(cls, url: ProviderURL) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if url.parts.hostname:
            fields["rocket_host"] = url.host_and_port()
        if "token" in url.query:
            fields["rocket_token"] = url.query.pop("token")
        return fields


class RocketDriver(MemoryDriver):
    """Memory underneath; remembers the settings it was built from."""

    name = "rocket"
    settings_class = RocketSettings
    built_with: RocketSettings | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> RocketDriver:
        driver = cls()
        driver.built_with = RocketSettings.of(settings)
        return driver


@pytest.fixture(autouse=True)
def rocket(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ROCKET_HOST", "ROCKET_TOKEN", "DATABASE_URL", "DATABASE_PROVIDER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(registry, "_registered", {})
    registry.register_provider("rocket", RocketDriver)


def _built(settings: Settings) -> RocketSettings:
    driver = create_database_service(settings).driver
    assert isinstance(driver, RocketDriver) and driver.built_with is not None
    return driver.built_with


def test_a_third_party_provider_reads_its_own_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ROCKET_HOST", "rocket.internal:9000")
    monkeypatch.setenv("ROCKET_TOKEN", "tok-5512")
    own = _built(Settings(database_provider="rocket"))
    assert own.rocket_host == "rocket.internal:9000"
    assert own.rocket_token is not None and own.rocket_token.get_secret_value() == "tok-5512"
    assert "tok-5512" not in repr(own)


def test_a_third_party_provider_owns_its_url_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "rocket" in known_schemes()
    monkeypatch.setenv("DATABASE_URL", "rocket://launch.example:7000?token=tok-9&prefix=app_")
    settings = Settings()
    resolved = settings.resolved()
    assert (resolved.database_provider, resolved.collection_prefix) == ("rocket", "app_")
    # (the prefix wraps the driver in the prefix middleware; build without it to look inside)
    monkeypatch.setenv("DATABASE_URL", "rocket://launch.example:7000?token=tok-9")
    own = _built(Settings())
    assert own.rocket_host == "launch.example:7000"
    assert own.rocket_token is not None and own.rocket_token.get_secret_value() == "tok-9"
    assert "tok-9" not in repr(settings) and "tok-9" not in repr(resolved)


def test_a_url_parameter_the_provider_does_not_understand_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="unknown parameters: speed"):
        parse_provider_url("rocket://x?speed=9")


def test_a_scheme_no_provider_owns_lists_the_ones_that_exist() -> None:
    with pytest.raises(ConfigurationError) as caught:
        settings_from_url("warp://somewhere")
    for scheme in ("couchdb://", "dynamodb://", "firestore://", "memory://", "rocket://"):
        assert scheme in str(caught.value)


def test_a_field_the_provider_does_not_declare_is_refused_by_name() -> None:
    with pytest.raises(ConfigurationError, match="'rocket_hots' is not a setting of provider"):
        create_database_service(Settings(database_provider="rocket", rocket_hots="x"))


def test_built_in_schemes_resolve_without_their_client_libraries() -> None:
    # The scheme lookup reads only the settings modules, which import no client library.
    for url, provider in [
        ("couchdb://h:5984", "couchdb"),
        ("couchdbs://h", "couchdb"),
        ("dynamodb://?region=eu-west-1", "dynamodb"),
        ("firestore://p", "firestore"),
        ("memory://", "memory"),
    ]:
        assert parse_provider_url(url)[0] == provider
