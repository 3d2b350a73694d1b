"""Rows ⇄ ``Record``s, and the revisions the driver writes.

A revision is ``<generation>-<16 hex>``: the generation counts the writes of the document
(for people reading it; nothing parses it but the next write), the token is drawn fresh for
each logical write, so a revision never comes back (a revision from before a delete never
matches a re-created document) and a write that may have landed can tell, by its token,
whether the stored revision is its own.

A row that is not a document asyncdb can return (its text is not a JSON object, its key
and ``full_id`` disagree: rows another program wrote) is skipped by listings and reads,
with a warning naming its key, so that one bad row never hides the others.
"""

from __future__ import annotations

import logging
import re
from typing import Final

from asyncdb.drivers.base import Record
from asyncdb.drivers.postgres import _codec, _ids

__all__ = ["next_rev", "record_of"]

logger = logging.getLogger("asyncdb")

_GENERATION: Final = re.compile(r"^([0-9]{1,18})-")


def next_rev(current: str, token: str) -> str:
    """The revision a write on top of ``current`` leaves."""
    match = _GENERATION.match(current)
    generation = int(match.group(1)) + 1 if match else 1
    return f"{generation}-{token}"


def record_of(
    collection: str, key: str, rev: str, text: str | None, full_id: str | None
) -> Record | None:
    """The record of one row, or ``None`` (and a warning) for a row that is not one."""
    doc_id = _ids.decode(key, full_id)
    body = None if text is None or doc_id is None else _codec.loads_object(text)
    if body is None or doc_id is None:
        logger.warning(
            "PostgreSQL row %r of collection %r is not an asyncdb document; skipped",
            key[:80],
            collection,
        )
        return None
    return Record(doc_id, rev, body)
