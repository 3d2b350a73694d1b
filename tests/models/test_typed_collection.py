"""TypedCollection over the memory provider: models in, models out, revisions carried."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
from pydantic import Field

from asyncdb import (
    ConfigurationError,
    ConflictError,
    DatabaseService,
    InvalidDocumentError,
    NotFoundError,
    Settings,
    create_database_service,
)
from asyncdb.models import DocumentModel, TypedCollection
from asyncdb.schemas import Agent, BasicInfo, Deployment, UsageRecord, User


class Note(DocumentModel):
    """A user-defined model, as the docs show."""

    collection_name = "notes"

    text: str
    tags: list[str] = Field(default_factory=list)


@pytest.fixture
async def db() -> AsyncIterator[DatabaseService]:
    async with create_database_service(Settings(database_provider="memory")) as service:
        yield service


def _user(uid: str = "user_google_1") -> User:
    return User(
        id=uid,
        basic_info=BasicInfo(display_name="Ada", email="ada@example.org", provider="google"),
        api_keys={"openai_api_key": "sk-secret"},
    )


async def test_get_returns_the_model_with_its_revision(db: DatabaseService) -> None:
    agents = TypedCollection(db, Agent)
    saved = await agents.save(Agent(id="a-1", name="summariser"))
    got = await agents.get("a-1")
    assert isinstance(got, Agent) and got.name == "summariser" and got.rev == saved.rev
    assert (await db.get("agents", "a-1"))["name"] == "summariser"
    with pytest.raises(NotFoundError):
        await agents.get("missing")


async def test_saving_a_stale_model_is_a_conflict(db: DatabaseService) -> None:
    agents = TypedCollection(db, Agent)
    first = await agents.save(Agent(id="a-1", name="v1"))
    second = await agents.save(first.model_copy(update={"name": "v2"}))
    assert second.rev != first.rev
    with pytest.raises(ConflictError):
        await agents.save(first.model_copy(update={"name": "lost"}))
    assert (await agents.get("a-1")).name == "v2"


async def test_create_refuses_a_taken_id(db: DatabaseService) -> None:
    deployments = TypedCollection(db, Deployment)
    await deployments.create(Deployment(id="summariser", agentId="a-1"))
    with pytest.raises(ConflictError):
        await deployments.create(Deployment(id="summariser", agentId="a-2"))
    stored = await deployments.get("summariser")
    with pytest.raises(InvalidDocumentError):
        await deployments.create(stored)  # carries a rev


async def test_update_loses_no_concurrent_change(db: DatabaseService) -> None:
    users = TypedCollection(db, User)
    await users.create(_user())

    def spend(user: User) -> None:
        user.usage_info.usage.append(UsageRecord(response_cost=0.5))
        user.usage_info.spend_remaining -= 0.5

    async with anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(users.update, "user_google_1", spend)
    user = await users.get("user_google_1")
    assert len(user.usage_info.usage) == 20
    assert user.usage_info.spend_remaining == -10.0


async def test_update_with_async_fn_and_default(db: DatabaseService) -> None:
    notes = TypedCollection(db, Note)

    async def tag(note: Note) -> Note:
        return note.model_copy(update={"tags": [*note.tags, "x"]})

    created = await notes.update("n1", tag, default=Note(id="n1", text="t"))
    assert created.tags == ["x"]
    updated = await notes.update("n1", tag)
    assert updated.tags == ["x", "x"]


async def test_update_must_return_the_model(db: DatabaseService) -> None:
    notes = TypedCollection(db, Note)
    await notes.save(Note(id="n1", text="t"))
    with pytest.raises(InvalidDocumentError, match="not Note"):
        await notes.update("n1", lambda note: {"text": "dict"})  # type: ignore[arg-type,return-value]


async def test_listings_pages_and_find(db: DatabaseService) -> None:
    notes = TypedCollection(db, Note)
    await notes.save_many([Note(id=f"n{i}", text="odd" if i % 2 else "even") for i in range(5)])
    assert [note.id async for note in notes.iter_all(page_size=2)] == [f"n{i}" for i in range(5)]
    assert len(await notes.list_all()) == 5
    page = await notes.list_page(limit=2)
    assert [note.id for note in page.items] == ["n0", "n1"] and page.next_cursor is not None
    rest = await notes.list_page(limit=10, cursor=page.next_cursor)
    assert len(rest.items) == 3 and rest.next_cursor is None
    found = await notes.find({"text": "even"}, limit=2)
    assert all(isinstance(note, Note) and note.text == "even" for note in found) and len(found) == 2


async def test_bulk_calls(db: DatabaseService) -> None:
    notes = TypedCollection(db, Note)
    result = await notes.save_many([Note(id="a1", text="x"), Note(id="a2", text="y")])
    assert result.ok
    got = await notes.get_many(["a1", "zz"])
    assert isinstance(got["a1"], Note) and got["zz"] is None
    stale = got["a1"]
    assert stale is not None
    await notes.save(stale)
    deleted = await notes.delete_many(["a2", stale])
    assert [outcome.ok for outcome in deleted] == [True, False]


async def test_delete_by_id_or_model(db: DatabaseService) -> None:
    notes = TypedCollection(db, Note)
    first = await notes.save(Note(id="n1", text="x"))
    await notes.save(first)
    with pytest.raises(ConflictError):
        await notes.delete(first)
    assert await notes.delete("n1") is True
    assert await notes.delete("n1") is False


async def test_listings_leave_secrets_out_and_refuse_to_save_them(db: DatabaseService) -> None:
    users = TypedCollection(db, User)
    await users.create(_user())
    listed = (await users.list_page()).items[0]
    assert listed.api_keys is None and listed.secrets_withheld
    with pytest.raises(InvalidDocumentError, match="erase"):
        await users.save(listed)
    found = await users.find({})
    assert found[0].api_keys is None
    full = (await users.list_all(include_secrets=True))[0]
    assert full.api_keys is not None and not full.secrets_withheld
    assert (await users.get("user_google_1")).api_keys is not None
    stored = await db.get("users", "user_google_1")
    assert stored["api_keys"]["openai_api_key"] == "sk-secret"


async def test_a_model_without_a_collection_name_needs_one(db: DatabaseService) -> None:
    class Loose(DocumentModel):
        value: int = 0

    with pytest.raises(ConfigurationError):
        TypedCollection(db, Loose)
    loose = TypedCollection(db, Loose, "loose_things")
    assert loose.name == "loose_things" and loose.model is Loose
    assert (await loose.save(Loose(id="x", value=3))).value == 3


async def test_the_wrong_model_is_refused(db: DatabaseService) -> None:
    agents = TypedCollection(db, Agent)
    with pytest.raises(InvalidDocumentError, match="stores Agent"):
        await agents.save(Note(id="n", text="t"))  # type: ignore[arg-type]
