"""Unit tests of ``Settings``: the environment variables of the original service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic
import pytest
from pydantic import SecretStr

from asyncdb import create_database_service
from asyncdb._settings import Settings
from asyncdb.drivers.couchdb.settings import CouchDBSettings
from asyncdb.drivers.dynamodb.settings import DynamoDBSettings
from asyncdb.drivers.firestore.settings import FirestoreSettings
from asyncdb.drivers.settings import DriverSettings
from asyncdb.errors import ConfigurationError


def _aliases() -> set[str]:
    names: set[str] = set()
    for settings_class in (Settings, *PROVIDER_SETTINGS.values()):
        for field in settings_class.model_fields.values():
            alias = field.validation_alias
            choices = getattr(alias, "choices", [alias])
            names.update(str(choice) for choice in choices if choice is not None)
    return names


#: Each built-in provider's own settings class, in its folder.
PROVIDER_SETTINGS: dict[str, type[DriverSettings]] = {
    "couchdb": CouchDBSettings,
    "dynamodb": DynamoDBSettings,
    "firestore": FirestoreSettings,
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No variable of the developer's shell may leak into these tests."""
    for name in _aliases():
        monkeypatch.delenv(name.upper(), raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def test_defaults_without_any_environment() -> None:
    settings = Settings()
    assert settings.database_provider == "memory"
    assert settings.collection_prefix == ""
    assert settings.request_timeout == 30.0
    assert settings.max_retries == 4
    assert settings.provider_fields() == {}
    assert DynamoDBSettings().dynamodb_region == "us-east-1"
    assert FirestoreSettings().firestore_database == "(default)"
    for settings_class, name in [
        (CouchDBSettings, "couchdb_url"),
        (CouchDBSettings, "couchdb_user"),
        (CouchDBSettings, "couchdb_password"),
        (DynamoDBSettings, "dynamodb_endpoint_url"),
        (DynamoDBSettings, "aws_access_key_id"),
        (DynamoDBSettings, "aws_secret_access_key"),
        (DynamoDBSettings, "aws_session_token"),
        (DynamoDBSettings, "aws_profile"),
        (FirestoreSettings, "firestore_emulator_host"),
        (FirestoreSettings, "google_cloud_project"),
    ]:
        assert getattr(settings_class(), name) is None, name


def test_settings_keep_only_what_every_provider_shares() -> None:
    assert set(Settings.model_fields) == {
        "database_provider",
        "database_url",
        "collection_prefix",
        "request_timeout",
        "max_retries",
        "size_limit",
        "coalesce",
    }


@pytest.mark.parametrize(
    ("variable", "field", "value", "expected"),
    [
        ("DATABASE_PROVIDER", "database_provider", "couchdb", "couchdb"),
        ("DATABASE_COLLECTION_PREFIX", "collection_prefix", "staging_", "staging_"),
        ("DATABASE_REQUEST_TIMEOUT", "request_timeout", "2.5", 2.5),
        ("DATABASE_MAX_RETRIES", "max_retries", "0", 0),
        ("DATABASE_MAX_RETRIES", "max_retries", "9", 9),
    ],
)
def test_each_common_variable_is_read(
    monkeypatch: pytest.MonkeyPatch, variable: str, field: str, value: str, expected: Any
) -> None:
    monkeypatch.setenv(variable, value)
    assert getattr(Settings(), field) == expected


@pytest.mark.parametrize(
    ("provider", "variable", "field", "value"),
    [
        ("couchdb", "COUCHDB_URL", "couchdb_url", "http://couch.internal:5984"),
        ("couchdb", "COUCHDB_USER", "couchdb_user", "admin"),
        ("dynamodb", "DYNAMODB_REGION", "dynamodb_region", "eu-west-3"),
        ("dynamodb", "DYNAMODB_ENDPOINT_URL", "dynamodb_endpoint_url", "http://ddb:8000"),
        ("dynamodb", "AWS_ACCESS_KEY_ID", "aws_access_key_id", "AKIAEXAMPLE"),
        ("dynamodb", "AWS_PROFILE", "aws_profile", "staging"),
        ("firestore", "FIRESTORE_EMULATOR_HOST", "firestore_emulator_host", "fs:8080"),
        ("firestore", "GOOGLE_CLOUD_PROJECT", "google_cloud_project", "my-project"),
        ("firestore", "GCLOUD_PROJECT", "google_cloud_project", "legacy-project"),
    ],
)
def test_each_provider_variable_is_read_by_its_provider(
    monkeypatch: pytest.MonkeyPatch,
    provider: str,
    variable: str,
    field: str,
    value: str,
) -> None:
    monkeypatch.setenv(variable, value)
    own = PROVIDER_SETTINGS[provider].of(Settings(database_provider=provider))
    actual = getattr(own, field)
    if isinstance(actual, SecretStr):  # COUCHDB_URL may carry a password
        actual = actual.get_secret_value()
    assert actual == value
    # The common settings do not carry it: it is the provider's.
    assert field not in Settings().provider_fields()


def test_a_provider_field_given_by_name_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DYNAMODB_REGION", "eu-west-1")
    settings = Settings(database_provider="dynamodb", dynamodb_region="ap-south-1")
    assert DynamoDBSettings.of(settings).dynamodb_region == "ap-south-1"
    assert DynamoDBSettings.of(Settings()).dynamodb_region == "eu-west-1"


def test_a_field_of_another_provider_is_refused_by_name() -> None:
    settings = Settings(database_provider="memory", couchdb_url="http://x:5984")
    with pytest.raises(ConfigurationError, match="'couchdb_url' is not a setting of provider"):
        create_database_service(settings)
    with pytest.raises(ConfigurationError, match="dynamodb_regoin"):
        DynamoDBSettings.of(Settings(database_provider="dynamodb", dynamodb_regoin="eu-west-1"))


def test_an_invalid_provider_value_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigurationError) as caught:
        CouchDBSettings.of(Settings(database_provider="couchdb", couchdb_user=["pw-77e1"]))
    assert "couchdb_user" in str(caught.value) and "pw-77e1" not in str(caught.value)


@pytest.mark.parametrize(
    ("variable", "field", "settings_class"),
    [
        ("COUCHDB_PASSWORD", "couchdb_password", CouchDBSettings),
        ("AWS_SECRET_ACCESS_KEY", "aws_secret_access_key", DynamoDBSettings),
        ("AWS_SESSION_TOKEN", "aws_session_token", DynamoDBSettings),
    ],
)
def test_secret_variables_are_read_as_secret_strings(
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    field: str,
    settings_class: type[DriverSettings],
) -> None:
    monkeypatch.setenv(variable, "s3cr3t-value")
    secret = getattr(settings_class(), field)
    assert isinstance(secret, SecretStr)
    assert secret.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(settings_class())


def test_all_variables_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_PROVIDER", "dynamodb")
    monkeypatch.setenv("DYNAMODB_REGION", "ap-south-1")
    monkeypatch.setenv("DYNAMODB_ENDPOINT_URL", "http://localhost:8000")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "key")
    monkeypatch.setenv("DATABASE_COLLECTION_PREFIX", "t1_")
    settings = Settings()
    own = DynamoDBSettings.of(settings)
    assert (settings.database_provider, own.dynamodb_region) == ("dynamodb", "ap-south-1")
    assert own.dynamodb_endpoint_url == "http://localhost:8000"
    assert own.aws_access_key_id == "id"
    assert settings.collection_prefix == "t1_"


@pytest.mark.parametrize(
    "raw", ["CouchDB", "COUCHDB", "  couchdb  ", "\tCouchDb\n", "couchdb"], ids=repr
)
def test_provider_names_are_normalised(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("DATABASE_PROVIDER", raw)
    assert Settings().database_provider == "couchdb"
    monkeypatch.delenv("DATABASE_PROVIDER")
    assert Settings(database_provider=raw).database_provider == "couchdb"


def test_explicit_values_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_PROVIDER", "couchdb")
    monkeypatch.setenv("DATABASE_COLLECTION_PREFIX", "env_")
    settings = Settings(database_provider="memory", collection_prefix="")
    assert settings.database_provider == "memory"
    assert settings.collection_prefix == ""


@pytest.mark.parametrize("prefix", ["Staging_", "1abc", "_x", "a b", "a/", "x" * 65])
def test_a_bad_prefix_fails_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, prefix: str
) -> None:
    monkeypatch.setenv("DATABASE_COLLECTION_PREFIX", prefix)
    with pytest.raises(pydantic.ValidationError) as caught:
        Settings()
    assert "DATABASE_COLLECTION_PREFIX" in str(caught.value)
    monkeypatch.delenv("DATABASE_COLLECTION_PREFIX")
    with pytest.raises(ValueError, match="DATABASE_COLLECTION_PREFIX"):
        Settings(collection_prefix=prefix)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_REQUEST_TIMEOUT", "0"),
        ("DATABASE_REQUEST_TIMEOUT", "-1"),
        ("DATABASE_REQUEST_TIMEOUT", "soon"),
        ("DATABASE_MAX_RETRIES", "-1"),
        ("DATABASE_MAX_RETRIES", "many"),
    ],
)
def test_bad_numbers_are_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(pydantic.ValidationError):
        Settings()


def test_settings_are_frozen_and_comparable() -> None:
    settings = Settings(database_provider="memory")
    with pytest.raises(pydantic.ValidationError):
        settings.database_provider = "couchdb"  # type: ignore[misc]
    assert settings == Settings(database_provider="memory")
    assert settings != Settings(database_provider="memory", collection_prefix="other_")
    assert hash(settings) == hash(Settings(database_provider="memory"))


def test_a_dotenv_file_is_not_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DATABASE_PROVIDER=couchdb\nCOUCHDB_PASSWORD=from-file\n")
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.database_provider == "memory"
    assert CouchDBSettings().couchdb_password is None


SECRETS = {
    "COUCHDB_PASSWORD": "couch-pw-7f3a9",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-1c8e2",
    "AWS_SESSION_TOKEN": "aws-token-5b6d4",
}


@pytest.fixture
def secret_settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("COUCHDB_USER", "admin")
    return Settings(database_provider="couchdb", couchdb_user="admin")


def test_secrets_never_appear_in_repr_str_or_json(secret_settings: Settings) -> None:
    renderings = {
        "repr": repr(secret_settings),
        "str": str(secret_settings),
        "format": f"{secret_settings}",
        "json": secret_settings.model_dump_json(),
        "dump": repr(secret_settings.model_dump()),
        "json-dump": repr(secret_settings.model_dump(mode="json")),
        "couchdb": repr(CouchDBSettings.of(secret_settings)),
        "dynamodb": repr(DynamoDBSettings()),
        "couchdb-json": CouchDBSettings.of(secret_settings).model_dump_json(),
    }
    for kind, text in renderings.items():
        for secret in SECRETS.values():
            assert secret not in text, f"{kind} shows a secret"
    assert "couchdb_user" in renderings["repr"]  # the rendering is not simply empty
    assert "admin" in renderings["couchdb"]
    assert "**********" in renderings["couchdb-json"]


def test_a_provider_field_given_by_name_is_shown_by_name_only() -> None:
    settings = Settings(database_provider="couchdb", couchdb_password="plain-pw-0c4d")
    for text in (repr(settings), str(settings)):
        assert "couchdb_password" in text and "plain-pw-0c4d" not in text


def test_the_secrets_are_still_available_to_the_drivers(secret_settings: Settings) -> None:
    couchdb = CouchDBSettings.of(secret_settings)
    assert couchdb.couchdb_password is not None
    assert couchdb.couchdb_password.get_secret_value() == SECRETS["COUCHDB_PASSWORD"]
    dynamodb = DynamoDBSettings()
    assert dynamodb.aws_secret_access_key is not None
    assert dynamodb.aws_secret_access_key.get_secret_value() == SECRETS["AWS_SECRET_ACCESS_KEY"]
    assert dynamodb.aws_session_token is not None
    assert dynamodb.aws_session_token.get_secret_value() == SECRETS["AWS_SESSION_TOKEN"]


def test_a_validation_error_does_not_echo_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABASE_MAX_RETRIES", "lots")
    with pytest.raises(pydantic.ValidationError) as caught:
        Settings()
    for secret in SECRETS.values():
        assert secret not in str(caught.value)


def test_a_password_inside_couchdb_url_is_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COUCHDB_URL", "http://admin:url-pw-93d1@localhost:5984")
    settings = CouchDBSettings()
    assert "url-pw-93d1" not in repr(settings)
    assert "url-pw-93d1" not in settings.model_dump_json()
    assert "url-pw-93d1" not in settings.where()


# --------------------------------------------------------------------------------------------
# DATABASE_SIZE_LIMIT and the effective provider in repr
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"), [("portable", "portable"), ("native", "native"), (" Native ", "native")]
)
def test_the_size_limit_is_read(monkeypatch: pytest.MonkeyPatch, raw: str, expected: str) -> None:
    assert Settings().size_limit == "portable"
    monkeypatch.setenv("DATABASE_SIZE_LIMIT", raw)
    assert Settings().size_limit == expected
    assert Settings(size_limit=raw).size_limit == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", ["", "none", "400000", "unlimited", "portable,native"])
def test_a_bad_size_limit_is_a_configuration_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("DATABASE_SIZE_LIMIT", raw)
    with pytest.raises(ConfigurationError, match="DATABASE_SIZE_LIMIT") as caught:
        Settings()
    assert "portable" in str(caught.value) and "native" in str(caught.value)
    with pytest.raises(ConfigurationError):
        Settings(size_limit=5)  # type: ignore[arg-type]


def test_repr_shows_the_provider_that_database_url_decides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "couchdb://admin:url-pw-4e2a@couch.example:5984")
    settings = Settings()
    for text in (repr(settings), str(settings)):
        assert "database_provider='couchdb'" in text
        assert "memory" not in text
        assert "url-pw-4e2a" not in text and "admin" not in text
    assert settings.resolved().database_provider == "couchdb"


def test_repr_without_database_url_shows_the_chosen_provider() -> None:
    assert "database_provider='dynamodb'" in repr(Settings(database_provider="dynamodb"))
    assert "database_provider='memory'" in repr(Settings())


def test_repr_of_contradicting_settings_does_not_raise_or_guess(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_PROVIDER", "dynamodb")
    monkeypatch.setenv("DATABASE_URL", "couchdb://admin:url-pw-4e2a@couch.example:5984")
    text = repr(Settings())
    assert "unresolved" in text and "url-pw-4e2a" not in text
    assert "database_provider='dynamodb'" not in text
