"""How Apache CouchDB 3.5 answers a write with a made-up revision on an id it never held,
played on top of pouchdb-server (which answers 409): it creates the document with a
revision history whose parent is missing, and answers as for an update.

Seen on a single-node CouchDB 3.5.0 (q=2) whenever the id's shard already holds a document
(docs/providers/couchdb.md): ``PUT /db/never {"_rev": "1-abc"}`` → 201 with rev ``2-…``,
and ``GET /db/never?revs_info=true`` lists ``1-abc`` as ``"status": "missing"``. The same
for a ``_bulk_docs`` row and for ``DELETE /db/never?rev=1-abc`` (a phantom tombstone).
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import parse_qs, unquote

import aiohttp

_HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}
#: Set by ``answer`` from the request, so that a server with credentials accepts ours.
_auth: dict[str, str] = {}


def _split(raw_path: str) -> tuple[list[str], dict[str, list[str]]]:
    path, _, query = raw_path.partition("?")
    return [unquote(part) for part in path.strip("/").split("/")], parse_qs(query)


async def _missing(
    client: aiohttp.ClientSession, upstream: str, db: str, ids: list[str]
) -> set[str]:
    """The ids without any revision tree (not even a tombstone) in ``db``."""
    async with client.post(
        f"{upstream}/{db}/_all_docs", json={"keys": ids}, headers={**_HEADERS, **_auth}
    ) as reply:
        if reply.status != 200:
            return set()
        rows = (await reply.json(content_type=None))["rows"]
    return {row["key"] for row in rows if row.get("error") == "not_found"}


async def _create_phantom(
    client: aiohttp.ClientSession, upstream: str, db: str, doc: dict[str, Any]
) -> str:
    """Store ``doc`` (whose ``_rev`` the server never had) the way CouchDB 3.5 does."""
    given = str(doc["_rev"])
    generation, _, parent = given.partition("-")
    new = secrets.token_hex(16)
    start = int(generation) + 1 if generation.isdigit() else 2
    stored = {**doc, "_rev": f"{start}-{new}", "_revisions": {"start": start, "ids": [new, parent]}}
    async with client.post(
        f"{upstream}/{db}/_bulk_docs",
        json={"docs": [stored], "new_edits": False},
        headers={**_HEADERS, **_auth},
    ) as reply:
        assert reply.status < 300, await reply.text()
    return str(stored["_rev"])


async def answer(
    client: aiohttp.ClientSession,
    upstream: str,
    method: str,
    raw_path: str,
    body: bytes,
    authorization: str | None = None,
) -> tuple[int, Any] | None:
    """CouchDB 3.5's answer where it differs from pouchdb-server's, else ``None``
    (the request is then forwarded as it is)."""
    _auth.clear()
    if authorization is not None:
        _auth["Authorization"] = authorization
    parts, query = _split(raw_path)
    if len(parts) == 2 and not parts[1].startswith("_") and method in ("PUT", "DELETE"):
        db, doc_id = parts
        doc: dict[str, Any] = json.loads(body) if method == "PUT" and body else {}
        if method == "DELETE":
            doc = {"_deleted": True}
        rev = doc.get("_rev") or next(iter(query.get("rev", [])), None)
        if not rev or doc_id not in await _missing(client, upstream, db, [doc_id]):
            return None
        new = await _create_phantom(client, upstream, db, {**doc, "_id": doc_id, "_rev": rev})
        return (201 if method == "PUT" else 200), {"ok": True, "id": doc_id, "rev": new}
    if len(parts) == 2 and parts[1] == "_bulk_docs" and method == "POST":
        db = parts[0]
        request = json.loads(body)
        docs = request.get("docs", [])
        with_rev = [doc["_id"] for doc in docs if doc.get("_rev") and "_id" in doc]
        missing = await _missing(client, upstream, db, with_rev) if with_rev else set()
        if not missing:
            return None
        kept = [
            i for i, doc in enumerate(docs) if doc.get("_id") not in missing or not doc.get("_rev")
        ]
        rest = [docs[i] for i in kept]
        results: dict[int, Any] = {}
        if rest:
            async with client.post(
                f"{upstream}/{db}/_bulk_docs",
                json={**request, "docs": rest},
                headers={**_HEADERS, **_auth},
            ) as reply:
                forwarded = await reply.json(content_type=None)
            by_id = {row.get("id"): row for row in forwarded}
            for index in kept:
                results[index] = by_id.get(docs[index].get("_id"))
        for index, doc in enumerate(docs):
            if index not in results:
                new = await _create_phantom(client, upstream, db, doc)
                results[index] = {"ok": True, "id": doc["_id"], "rev": new}
        return 201, [results[index] for index in range(len(docs))]
    return None
