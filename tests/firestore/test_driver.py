"""What is specific to the Firestore driver: its encoding, values written by other tools,
``update_time`` preconditions, configuration and failure modes. The conformance suite
covers everything portable."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from google.cloud import firestore
from google.cloud.firestore_v1.vector import Vector

from asyncdb._documents import MAX_DEPTH
from asyncdb._service import DatabaseService
from asyncdb._settings import Settings
from asyncdb.drivers.firestore import FirestoreDriver
from asyncdb.drivers.firestore._codec import NESTED_ARRAY_PREFIX
from asyncdb.errors import (
    BackendUnavailableError,
    ConfigurationError,
    ConflictError,
    InvalidDocumentError,
    WriteOutcomeUnknownError,
)
from asyncdb.testing import assert_same_json
from tests.backends._process import free_port
from tests.backends.firestore import TEST_PROJECT


@pytest.fixture
def collection() -> str:
    return f"t{secrets.token_hex(5)}_items"


@pytest.fixture
async def db(firestore_host: str, collection: str) -> AsyncIterator[DatabaseService]:
    service = DatabaseService(FirestoreDriver(project=TEST_PROJECT, emulator_host=firestore_host))
    async with service:
        yield service
        await service.drop_collection(collection)


@pytest.fixture
def raw(firestore_host: str, monkeypatch: pytest.MonkeyPatch) -> firestore.AsyncClient:
    """Google's own client on the same emulator, standing for "another tool"."""
    # The high-level client only finds an emulator through the environment.
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_host)
    return firestore.AsyncClient(project=TEST_PROJECT)


def nested_lists(depth: int, leaf: Any) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def alternating(depth: int, leaf: Any) -> Any:
    value = leaf
    for level in range(depth):
        value = [value, 1] if level % 2 else {"k.ey": value}
    return value


# -- the encoding of arrays inside arrays ---------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        [[1, 2], [3.0, [4, None]], []],
        [[]],
        [[[[]]]],
        [{"m": [[True, False], ["x"]]}, [{"inner": [[1.0]]}]],
        nested_lists(MAX_DEPTH, 1.0),
        nested_lists(MAX_DEPTH, "deepest"),
        nested_lists(MAX_DEPTH - 1, {}),
        alternating(MAX_DEPTH - 1, [1, -0.0, 2**63 - 1]),
        alternating(MAX_DEPTH - 5, [[{"a": [[1]]}]]),
    ],
    ids=[
        "mixed",
        "empty-inner",
        "empty-deep",
        "maps-between",
        "lists-at-max-depth-float",
        "lists-at-max-depth-str",
        "lists-then-empty-map",
        "alternating-at-max-depth",
        "alternating-then-lists",
    ],
)
async def test_arrays_inside_arrays_round_trip_at_any_contract_depth(
    db: DatabaseService, collection: str, value: Any
) -> None:
    saved = await db.save(collection, "deep", {"value": value})
    got = await db.get(collection, "deep")
    assert_same_json(got, saved)
    assert_same_json(got["value"], value)


async def test_a_document_deeper_than_the_contract_is_refused_before_any_io(
    db: DatabaseService, collection: str
) -> None:
    with pytest.raises(InvalidDocumentError):
        await db.save(collection, "deep", {"value": nested_lists(MAX_DEPTH + 1, 1)})


async def test_an_inner_array_is_stored_as_tagged_json_bytes(
    db: DatabaseService, collection: str, raw: firestore.AsyncClient
) -> None:
    await db.save(collection, "a", {"grid": [[1, 2.0], "x", [[None]]], "flat": [1, 2]})
    stored = (await raw.collection(collection).document("a").get()).to_dict()
    assert stored is not None
    assert stored["flat"] == [1, 2]
    first, middle, last = stored["grid"]
    assert middle == "x"
    assert first == NESTED_ARRAY_PREFIX + b"[1,2.0]"
    assert last == NESTED_ARRAY_PREFIX + b"[[null]]"


# -- keys are literal field names -----------------------------------------------------------
SPECIAL_KEYS = {
    "a.b": 1,
    "a": {"b": 2},
    "`quoted`": 3,
    "back\\slash": 4,
    "with space": 5,
    "$dollar": 6,
    "über✓": 7,
    "1starts-with-digit": 8,
    "nested": {"x.y.z": {"`": 9, "_under": 10, "*~/[]": 11}},
}


async def test_keys_with_dots_backticks_and_symbols_are_literal(
    db: DatabaseService, collection: str, raw: firestore.AsyncClient
) -> None:
    saved = await db.save(collection, "k", SPECIAL_KEYS)
    assert_same_json(await db.get(collection, "k"), saved)
    stored = (await raw.collection(collection).document("k").get()).to_dict()
    assert stored == SPECIAL_KEYS  # no key became a field path


@pytest.mark.parametrize(
    ("field", "value"),
    [("a.b", 1), ("`quoted`", 3), ("back\\slash", 4), ("with space", 5), ("1starts-with-digit", 8)],
)
async def test_find_on_special_top_level_keys(
    db: DatabaseService, collection: str, field: str, value: int
) -> None:
    await db.save(collection, "k", SPECIAL_KEYS)
    await db.save(collection, "other", {field: value + 100})
    # In a where, a dot separates a path: "\\." names the top-level key "a.b".
    where_key = field.replace(".", "\\.")
    hits = await db.find(collection, {where_key: value}, fields=[field])
    assert [(hit["_id"], hit[field]) for hit in hits] == [("k", value)]


async def test_find_is_type_strict_and_handles_null(db: DatabaseService, collection: str) -> None:
    docs = [
        {"_id": "int", "v": 1},
        {"_id": "float", "v": 1.0},
        {"_id": "bool", "v": True},
        {"_id": "null", "v": None},
        {"_id": "missing"},
        {"_id": "str", "v": "1"},
    ]
    assert (await db.save_many(collection, docs)).ok
    assert [d["_id"] for d in await db.find(collection, {"v": 1})] == ["float", "int"]
    assert [d["_id"] for d in await db.find(collection, {"v": True})] == ["bool"]
    assert [d["_id"] for d in await db.find(collection, {"v": None})] == ["null"]
    found = await db.find(collection, {"v": {"$in": [None, "1", 2]}})
    assert [d["_id"] for d in found] == ["null", "str"]
    assert [d["_id"] for d in await db.find(collection, {"v": 1}, limit=1)] == ["float"]


# -- values written by other tools ----------------------------------------------------------
async def test_foreign_types_come_back_as_plain_json(
    db: DatabaseService, collection: str, raw: firestore.AsyncClient
) -> None:
    when = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC)
    await (
        raw.collection(collection)
        .document("f")
        .set(
            {
                "when": when,
                "ref": raw.collection(collection).document("other"),
                "where": firestore.GeoPoint(52.5, 13.25),
                "blob": b"\x00\xffdata",
                "embedding": Vector([0.5, 1.0]),
                "list": [when, b"\x01", firestore.GeoPoint(1.0, 2.0)],
                "map": {"when": when},
            }
        )
    )
    got = await db.get(collection, "f")
    expected_when = "2024-05-06T07:08:09.123456+00:00"
    assert got["when"] == expected_when
    assert got["ref"] == f"{collection}/other"
    assert got["where"] == {"latitude": 52.5, "longitude": 13.25}
    assert got["blob"] == base64.b64encode(b"\x00\xffdata").decode()
    assert got["embedding"] == [0.5, 1.0]
    assert got["list"] == [expected_when, "AQ==", {"latitude": 1.0, "longitude": 2.0}]
    assert got["map"] == {"when": expected_when}
    # Plain JSON all the way down: it serialises, and saves back unchanged.
    json.dumps(got)
    saved = await db.save(collection, "f", got)
    assert_same_json(await db.get(collection, "f"), saved)


async def test_a_datetime_saved_through_asyncdb_reads_like_a_foreign_timestamp(
    db: DatabaseService, collection: str, raw: firestore.AsyncClient
) -> None:
    when = dt.datetime(2024, 5, 6, 7, 8, 9, 500, tzinfo=dt.UTC)
    await raw.collection(collection).document("native").set({"when": when})
    saved = await db.save(collection, "ours", {"when": when})
    assert (await db.get(collection, "native"))["when"] == saved["when"]


# -- revisions are update_time preconditions on the server ---------------------------------
async def test_a_write_by_another_tool_makes_the_revision_stale(
    db: DatabaseService, collection: str, raw: firestore.AsyncClient
) -> None:
    saved = await db.save(collection, "r", {"v": 1})
    await raw.collection(collection).document("r").set({"v": 2})
    with pytest.raises(ConflictError):
        await db.save(collection, "r", {**saved, "v": 3})
    with pytest.raises(ConflictError):
        await db.delete(collection, "r", rev=saved["_rev"])
    current = await db.get(collection, "r")
    assert current["v"] == 2
    assert current["_rev"] != saved["_rev"]
    assert await db.delete(collection, "r", rev=current["_rev"]) is True


async def test_the_revision_is_the_update_time(
    db: DatabaseService, collection: str, raw: firestore.AsyncClient
) -> None:
    saved = await db.save(collection, "r", {"v": 1})
    snapshot = await raw.collection(collection).document("r").get()
    assert snapshot.update_time is not None
    stamp = snapshot.update_time.timestamp_pb()
    assert saved["_rev"] == (
        dt.datetime.fromtimestamp(stamp.seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
        + f".{stamp.nanos:09d}Z"
    )


@pytest.mark.parametrize("rev", ["not-a-revision", "2001-01-01T00:00:00Z", "1-abc"])
async def test_a_forged_revision_conflicts_and_never_crashes(
    db: DatabaseService, collection: str, rev: str
) -> None:
    await db.save(collection, "r", {"v": 1})
    with pytest.raises(ConflictError):
        await db.save(collection, "r", {"_rev": rev, "v": 2})
    with pytest.raises(ConflictError):
        await db.delete(collection, "r", rev=rev)
    assert await db.delete(collection, "missing", rev=rev) is False
    result = await db.delete_many(
        collection, [{"_id": "r", "_rev": rev}, {"_id": "gone", "_rev": rev}]
    )
    assert isinstance(result.outcomes[0].error, ConflictError)
    assert result.outcomes[1].ok


async def test_an_identical_rewrite_keeps_the_revision_and_stays_safe(
    db: DatabaseService, collection: str
) -> None:
    """Firestore does not change update_time when a write changes nothing (documented)."""
    first = await db.save(collection, "same", {"v": 1})
    second = await db.save(collection, "same", {"v": 1})
    assert second["_rev"] == first["_rev"]
    third = await db.save(collection, "same", {**first, "v": 2})
    assert third["_rev"] != first["_rev"]
    with pytest.raises(ConflictError):
        await db.save(collection, "same", {**first, "v": 3})


# -- connections, configuration and failures ------------------------------------------------
def test_from_settings_uses_the_emulator_without_touching_the_environment(
    firestore_host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FIRESTORE_EMULATOR_HOST", raising=False)
    driver = FirestoreDriver.from_settings(
        Settings(
            database_provider="firestore",
            firestore_emulator_host=firestore_host,
            google_cloud_project=TEST_PROJECT,
            request_timeout=5,
            max_retries=1,
        )
    )

    async def roundtrip() -> None:
        async with DatabaseService(driver) as db:
            name = f"t{secrets.token_hex(5)}_settings"
            await db.save(name, "a", {"v": 1})
            assert (await db.get(name, "a"))["v"] == 1
            await db.drop_collection(name)

    asyncio.run(roundtrip())
    assert "FIRESTORE_EMULATOR_HOST" not in __import__("os").environ
    assert firestore_host in driver.describe()


@pytest.fixture
def no_google_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in (
        "GOOGLE_CLOUD_PROJECT",
        "GCLOUD_PROJECT",
        "FIRESTORE_PROJECT_ID",
        "FIRESTORE_EMULATOR_HOST",
        "CLOUDSDK_CORE_PROJECT",
    ):
        monkeypatch.delenv(name, raising=False)
    # Credentials that name no project (an end-user login); loading them does no I/O.
    credentials = tmp_path / "user.json"
    credentials.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "id.apps.googleusercontent.com",
                "client_secret": "not-a-real-secret",
                "refresh_token": "not-a-real-token",
            }
        )
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(credentials))
    return credentials


async def test_missing_project_is_a_configuration_error(no_google_environment: Path) -> None:
    settings = Settings(
        database_provider="firestore", google_application_credentials=str(no_google_environment)
    )
    db = DatabaseService(FirestoreDriver.from_settings(settings))
    with pytest.raises(ConfigurationError) as caught:
        await db.open()
    assert "GOOGLE_CLOUD_PROJECT" in str(caught.value)
    assert "not-a-real-secret" not in str(caught.value)
    await db.aclose()


@pytest.mark.filterwarnings("ignore:The load_credentials_from_file method is deprecated")
async def test_unusable_credentials_file_is_a_configuration_error(
    no_google_environment: Path, tmp_path: Path
) -> None:
    driver = FirestoreDriver(project="demo-x", credentials_file=str(tmp_path / "absent.json"))
    with pytest.raises(ConfigurationError) as caught:
        await driver.open()
    assert "GOOGLE_APPLICATION_CREDENTIALS" in str(caught.value)


async def test_an_unreachable_emulator_is_unavailable_after_bounded_retries() -> None:
    driver = FirestoreDriver(
        project=TEST_PROJECT,
        emulator_host=f"127.0.0.1:{free_port()}",
        request_timeout=2.0,
        max_retries=2,
        retry_base_delay=0.01,
    )
    db = DatabaseService(driver)
    with pytest.raises(BackendUnavailableError) as caught:
        await db.get("items", "a")
    assert caught.value.status_code == 503
    with pytest.raises(BackendUnavailableError) as refused:
        await db.save("items", "a", {"v": 1})
    # A refused connection sent nothing: the write is known not to have happened.
    assert not isinstance(refused.value, WriteOutcomeUnknownError)
    with pytest.raises(BackendUnavailableError):
        await db.ping()
    await db.aclose()


async def test_ensure_index_is_a_no_op_and_find_still_works(
    db: DatabaseService, collection: str
) -> None:
    await db.ensure_index(collection, ["userId", "namespace"])
    await db.save(collection, "a", {"userId": "u", "namespace": "n", "key": "k"})
    hits = await db.find(collection, {"userId": "u", "namespace": "n"}, fields=["key"])
    assert [(hit["_id"], hit["key"]) for hit in hits] == [("a", "k")]
