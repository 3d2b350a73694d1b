"""Generated ids are opt-in per model; writes through a model keep the creation time and
the secret fields they omit, and set the update time."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import anyio
import pytest
from pydantic import ValidationError

from asyncdb import DatabaseService, Settings, create_database_service
from asyncdb.models import (
    DocumentModel,
    TypedCollection,
    UtcDateTime,
    sortable_id,
    utc_now,
    uuid4_id,
)
from asyncdb.schemas import Agent, BasicInfo, User


class Plain(DocumentModel):
    collection_name = "plains"
    text: str


class Random(DocumentModel):
    collection_name = "randoms"
    id_factory = staticmethod(uuid4_id)
    text: str


class Ordered(DocumentModel):
    collection_name = "ordered"
    id_factory = staticmethod(sortable_id)
    created_field = "created"
    updated_field = "updated"
    text: str
    created: UtcDateTime | None = None
    updated: UtcDateTime | None = None


@pytest.fixture
async def db() -> AsyncIterator[DatabaseService]:
    async with create_database_service(Settings(database_provider="memory")) as service:
        yield service


def test_an_id_is_required_unless_the_model_has_a_factory() -> None:
    with pytest.raises(ValidationError, match="_id"):
        Plain(text="x")
    assert uuid.UUID(Random(text="x").id).version == 4
    assert Random(id="given", text="x").id == "given"
    assert Random.model_validate({"_id": "stored", "text": "x"}).id == "stored"


def test_sortable_ids_sort_by_creation_time() -> None:
    first = sortable_id()
    time.sleep(0.002)
    second = sortable_id()
    assert len(first) == len(second) == 26 and first < second
    burst = [sortable_id() for _ in range(1000)]  # many in one millisecond: still ordered
    assert burst == sorted(burst) and len(set(burst)) == 1000


async def test_create_of_a_model_without_an_id_generates_one(db: DatabaseService) -> None:
    items = TypedCollection(db, Ordered)
    stored = await items.create(Ordered(text="x"))
    assert len(stored.id) == 26 and (await items.get(stored.id)).text == "x"


async def test_save_sets_updated_and_keeps_created(db: DatabaseService) -> None:
    items = TypedCollection(db, Ordered)
    created = await items.save(Ordered(id="o1", text="x", created=utc_now()))
    assert created.created is not None and created.updated is not None
    await anyio.sleep(0.002)
    again = await items.save(created.model_copy(update={"text": "y"}))
    assert again.created == created.created
    assert again.updated is not None and again.updated > created.updated
    await anyio.sleep(0.002)
    # A model built afresh (its creation time never set) keeps the stored one.
    fresh = await items.save(Ordered(id="o1", text="z"))
    assert fresh.created == created.created and fresh.updated > again.updated  # type: ignore[operator]


async def test_update_sets_updated_and_keeps_created(db: DatabaseService) -> None:
    agents = TypedCollection(db, Agent)
    first = await agents.create(Agent(id="a-1", name="n"))
    await anyio.sleep(0.002)
    updated = await agents.update("a-1", lambda agent: agent.model_copy(update={"name": "m"}))
    assert updated.created_at == first.created_at
    assert updated.updated_at > first.updated_at


async def test_update_with_a_default_uses_the_id_asked_for(db: DatabaseService) -> None:
    agents = TypedCollection(db, Agent)
    made = await agents.update("a-9", lambda agent: None, default=Agent(name="seed"))
    assert made.id == "a-9" and (await agents.get("a-9")).name == "seed"


async def test_saving_a_fresh_user_keeps_the_stored_api_keys(db: DatabaseService) -> None:
    users = TypedCollection(db, User)
    info = BasicInfo(display_name="Ada", email="ada@example.org", provider="google")
    await users.save(User(id="u1", basic_info=info, api_keys={"openai_api_key": "sk-1"}))
    await users.save(User(id="u1", basic_info=info))  # api_keys never set: kept
    stored = await users.get("u1")
    assert stored.api_keys is not None and stored.api_keys.openai_api_key is not None
    assert stored.api_keys.openai_api_key.get_secret_value() == "sk-1"
    await users.save(User(id="u1", basic_info=info, api_keys=None))  # set to None: erased
    assert (await users.get("u1")).api_keys is None


async def test_save_many_keeps_what_fresh_models_omit(db: DatabaseService) -> None:
    users = TypedCollection(db, User)
    info = BasicInfo(display_name="Ada", email="ada@example.org", provider="google")
    first = await users.save(User(id="u1", basic_info=info, api_keys={"openai_api_key": "sk-1"}))
    result = await users.save_many([User(id="u1", basic_info=info), User(id="u2", basic_info=info)])
    assert all(outcome.ok for outcome in result)
    stored = await users.get("u1")
    assert stored.created_at == first.created_at
    assert stored.api_keys is not None and stored.api_keys.openai_api_key is not None
    assert (await users.get("u2")).api_keys is None
