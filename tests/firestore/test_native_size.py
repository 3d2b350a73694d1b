"""``DATABASE_SIZE_LIMIT=native`` on Firestore: 1 MiB by Firestore's documented storage size
calculation, measured on the document as the driver stores it."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator

import pytest
from google.cloud.firestore_v1 import types

from asyncdb._service import DatabaseService
from asyncdb.drivers.firestore import FirestoreDriver
from asyncdb.drivers.firestore._codec import encode_document
from asyncdb.drivers.firestore._size import document_size
from asyncdb.errors import DocumentTooLargeError
from tests.backends.firestore import TEST_PROJECT

_Document = types.Document.pb()
LIMIT = 1_048_576
#: Document name: the collection id at its longest (128 bytes) + 1, the id + 1, and 16.
NAME = 129 + 16
DOCUMENT = 32


def string(text: str) -> int:
    return len(text.encode()) + 1


@pytest.fixture
def driver() -> FirestoreDriver:
    return FirestoreDriver(project=TEST_PROJECT, emulator_host="127.0.0.1:1")


def test_the_limit_is_one_mebibyte(driver: FirestoreDriver) -> None:
    assert driver.limits.native_document_bytes == LIMIT


def test_scalars_are_measured_as_firestore_documents_it(driver: FirestoreDriver) -> None:
    body = {"type": "Personal", "done": False, "priority": 1, "ratio": 0.5, "none": None}
    fields = (5 + 9) + (5 + 1) + (9 + 8) + (6 + 8) + (5 + 1)
    assert (
        driver.native_document_size("my_task_id", body)
        == NAME + string("my_task_id") + fields + DOCUMENT
    )


def test_maps_arrays_and_encodings_are_measured_as_stored(driver: FirestoreDriver) -> None:
    body = {
        "m": {"a": "é", "__init__": 1},  # the key is stored as "~~__init__"
        "l": [1, "x", [2]],  # the inner array is stored as bytes "asyncdb:json-array:[2]"
        "": True,  # stored as "~~"
    }
    m = string("m") + (string("a") + string("é")) + (string("~~__init__") + 8)
    inner = len(b"asyncdb:json-array:[2]")
    lst = string("l") + 8 + string("x") + inner
    empty = string("~~") + 1
    size = driver.native_document_size("k", body)
    assert size == NAME + string("k") + m + lst + empty + DOCUMENT


def test_an_escaped_or_digest_id_is_measured_as_stored(driver: FirestoreDriver) -> None:
    assert driver.native_document_size("a/b", {}) == NAME + string("~~e~a%2Fb") + DOCUMENT
    long_id = "x" * 2000
    key = "~~h~" + hashlib.sha256(long_id.encode()).hexdigest()
    # A digest key's document also holds the caller's id in "_asyncdb_id".
    kept = string("_asyncdb_id") + string(long_id)
    assert driver.native_document_size(long_id, {}) == NAME + string(key) + kept + DOCUMENT


@pytest.fixture
async def native(firestore_host: str) -> AsyncIterator[tuple[DatabaseService, str]]:
    collection = f"t{secrets.token_hex(5)}_items"
    service = DatabaseService(
        FirestoreDriver(project=TEST_PROJECT, emulator_host=firestore_host), size_limit="native"
    )
    async with service:
        yield service, collection
        await service.drop_collection(collection)


def filler(doc_id: str, size: int) -> dict[str, str]:
    """A document of exactly ``size`` bytes by the driver's measure (one string field)."""
    overhead = NAME + string(doc_id) + DOCUMENT + string("text") + 1
    return {"text": "t" * (size - overhead)}


async def test_a_document_of_exactly_one_mebibyte_is_stored(
    native: tuple[DatabaseService, str],
) -> None:
    service, items = native
    body = filler("big", LIMIT)
    assert service.driver.native_document_size("big", body) == LIMIT
    saved = await service.save(items, "big", body)
    assert (await service.get(items, "big"))["text"] == body["text"]
    assert len(saved["text"]) > 1_000_000  # far past the portable 400,000 bytes


async def test_one_byte_more_is_refused_before_any_io(
    native: tuple[DatabaseService, str],
) -> None:
    service, items = native
    with pytest.raises(DocumentTooLargeError, match="1048577"):
        await service.save(items, "big", filler("big", LIMIT + 1))
    result = await service.save_many(items, [{"_id": "big", **filler("big", LIMIT + 1)}])
    assert [type(outcome.error) for outcome in result.failed] == [DocumentTooLargeError]
    assert await service.get_many(items, ["big"]) == {"big": None}


async def test_the_measure_is_firestores_to_the_byte(firestore_host: str) -> None:
    # Measured with the real collection id, a document of exactly 1 MiB is stored and one
    # byte more is refused by the emulator itself (the face is bypassed here).
    driver = FirestoreDriver(project=TEST_PROJECT, emulator_host=firestore_host)
    collection = f"t{secrets.token_hex(5)}_items"
    try:
        for extra, fits in [(0, True), (1, False)]:
            body = {"more": "m" * 600_000, "text": ""}
            document = _Document()
            encode_document(body, document.fields)
            body["text"] = "t" * (
                LIMIT + extra - document_size("k", document.fields, len(collection))
            )
            if fits:
                await driver.put(collection, "k", body)
                record = await driver.get(collection, "k")
                assert record is not None and record.body == body
            else:
                with pytest.raises(DocumentTooLargeError):
                    await driver.put(collection, "k", body)
    finally:
        await driver.drop_collection(collection)
        await driver.aclose()
