"""The application's three query shapes run from the index ``ensure_index`` made for them:
``strict=True`` (which refuses a query the backend cannot run natively) answers them, in
the reference evaluator's order, page after page, while documents are written, changed
and deleted — and the index leaves no trace in the documents.

A backend whose driver has no native indexes still conforms (the contract lets the face
answer from a scan): there the same answers are checked without ``strict``, and
``strict=True`` must refuse cleanly. A backend test that promises native indexes says so
by overriding the ``native_indexes`` fixture (every built-in backend does)."""

from __future__ import annotations

from typing import Any

import pytest

from asyncdb._query import UnindexedQueryError
from asyncdb.abc import DocumentService
from asyncdb.testing._suite.ordering import ITEMS, STRINGS, expected, walk

#: (fields, order_by, where) of "this user's chat sessions, newest first", "pending
#: tickets by creation" and "a user's data-store entries in one namespace".
SHAPES: list[tuple[list[str], list[str] | None, dict[str, Any]]] = [
    (["user_id"], ["-created"], {"user_id": "u1"}),
    (["status"], ["created"], {"status": "pending"}),
    (["user_id", "namespace"], None, {"user_id": "u1", "namespace": "n1"}),
]

_CREATED: list[Any] = [
    3,
    -1,
    2.5,
    0,
    10,
    -0.5,
    7,
    2**53 + 1,
    1e120,
    -(2**63),
    None,
    True,
    "z",
    *STRINGS,
]


def _bodies(count: int, offset: int = 0) -> list[dict[str, Any]]:
    """Documents the shapes match and miss: numbers of every sign and size, strings in
    code-point order unlike ICU's, other types and missing fields where the order reads."""
    docs: list[dict[str, Any]] = []
    for i in range(offset, offset + count):
        body: dict[str, Any] = {
            "user_id": ["u1", "u2", "U1"][i % 3],
            "namespace": ["n1", "n2"][i % 2],
            "status": ["pending", "done", "Pending"][i % 3],
            "title": f"item {i}",
        }
        if i % 7 != 3:  # some documents lack the order field: they sort lowest
            body["created"] = _CREATED[i % len(_CREATED)]
        docs.append({"_id": f"doc{i:03d}", **body})
    return docs


async def _find(
    db: DocumentService,
    native: bool,
    where: dict[str, Any],
    order_by: list[str] | None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """``find`` with ``strict=True``; where the backend may lack the index, a refusal
    must be the clean 422 and the answer then comes from the scan."""
    if native:
        return await db.find(ITEMS, where, order_by=order_by, limit=limit, strict=True)
    try:
        return await db.find(ITEMS, where, order_by=order_by, limit=limit, strict=True)
    except UnindexedQueryError as refused:
        refusal = refused
    assert refusal.status_code == 422 and "ensure_index" in str(refusal)
    return await db.find(ITEMS, where, order_by=order_by, limit=limit)


class Indexes:
    """``ensure_index`` serves the shapes it was made for, natively, exactly."""

    @pytest.fixture
    def native_indexes(self) -> bool:
        """Override to return ``True`` where ``ensure_index`` makes native indexes."""
        return False

    async def test_the_application_shapes_run_from_their_index(
        self, db: DocumentService, native_indexes: bool
    ) -> None:
        docs = _bodies(60)
        assert (await db.save_many(ITEMS, docs)).ok
        for fields, order_by, where in SHAPES:
            await db.ensure_index(ITEMS, fields, order_by=order_by)
            want = expected(docs, where, order_by)
            assert want, "the shape must match something"
            found = await _find(db, native_indexes, where, order_by)
            if order_by:
                assert [d["_id"] for d in found] == want
            else:
                assert sorted(d["_id"] for d in found) == want
            walked = await walk(db, where, order_by, 3, strict=native_indexes)
            assert walked == want  # a page without order_by is in _id order
            first = await _find(db, native_indexes, where, order_by, limit=2)
            assert len(first) == 2
            if order_by:
                assert [d["_id"] for d in first] == want[:2]

    async def test_the_index_follows_writes_between_pages(
        self, db: DocumentService, native_indexes: bool
    ) -> None:
        fields, order_by, where = SHAPES[0]
        await db.ensure_index(ITEMS, fields, order_by=order_by)
        docs = _bodies(30)
        assert (await db.save_many(ITEMS, docs)).ok
        page = await db.find_page(ITEMS, where, order_by=order_by, limit=4, strict=native_indexes)
        assert page.next_cursor is not None
        seen = [d["_id"] for d in page.items]
        # New documents, a changed order value, a deleted one: the index keeps up.
        more = _bodies(10, offset=30)
        assert (await db.save_many(ITEMS, more)).ok
        moved = await db.get(ITEMS, "doc003")
        await db.save(ITEMS, "doc003", {**moved, "created": 1000})
        await db.delete(ITEMS, "doc006")
        cursor: str | None = page.next_cursor
        while cursor is not None:
            page = await db.find_page(
                ITEMS, where, order_by=order_by, limit=4, cursor=cursor, strict=native_indexes
            )
            seen.extend(d["_id"] for d in page.items)
            cursor = page.next_cursor
        assert len(seen) == len(set(seen)), "find_page repeated a document"
        everything = {d["_id"]: d for d in await db.list_all(ITEMS)}
        now = list(everything.values())
        # Whatever existed throughout the walk is seen exactly once.
        throughout = set(expected(docs, where, order_by)) - {"doc003", "doc006"}
        assert throughout <= set(seen)
        assert set(seen) <= set(expected(now, where, order_by)) | {"doc003", "doc006"}
        found = await _find(db, native_indexes, where, order_by)
        assert [d["_id"] for d in found] == expected(now, where, order_by)

    async def test_documents_saved_before_the_index_are_in_it(
        self, db: DocumentService, native_indexes: bool
    ) -> None:
        fields, order_by, where = SHAPES[1]
        docs = _bodies(25)
        assert (await db.save_many(ITEMS, docs)).ok
        await db.ensure_index(ITEMS, fields, order_by=order_by)
        found = await _find(db, native_indexes, where, order_by)
        assert [d["_id"] for d in found] == expected(docs, where, order_by)

    async def test_an_index_leaves_no_trace_in_the_documents(
        self, db: DocumentService, native_indexes: bool
    ) -> None:
        for fields, order_by, _ in SHAPES:
            await db.ensure_index(ITEMS, fields, order_by=order_by)
        docs = _bodies(9)
        saved = [await db.save(ITEMS, d["_id"], d) for d in docs]
        for doc, stored in zip(docs, saved, strict=True):
            assert await db.get(ITEMS, doc["_id"]) == {**doc, "_rev": stored["_rev"]}
        listed = sorted(await db.list_all(ITEMS), key=lambda d: d["_id"])
        assert [{k: v for k, v in d.items() if k != "_rev"} for d in listed] == docs
        found = await _find(db, native_indexes, {"user_id": "u1"}, ["-created"])
        assert all(set(d) - {"_rev"} <= set(docs[0]) | {"created"} for d in found)
