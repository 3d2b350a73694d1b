"""Caller ids to CouchDB document keys and back (docs/providers/couchdb.md, "Ids").

CouchDB reserves ids that start with ``_`` (``_design/``, ``_local/``, ``_all_docs``, ...).
Every other id is stored under itself, so documents that another program stored are found
under their own ids. The exceptions:

- an id that starts with ``_`` or with ``ESCAPE`` is stored as ``ESCAPE + id``;
- an id whose key would not fit in a request line (below) is stored under
  ``ESCAPE + "#" + sha256(id).hexdigest()``, and the document keeps the caller's id in its
  marker (``_codec``); a read checks that the stored id is the one asked for.

Why a length rule: the driver puts keys into URLs (``/db/<key>``, ``?key=``, ``?startkey=``
as percent-encoded JSON). CouchDB's HTTP layer (mochiweb on Erlang's packet parser) answers
400 when a request line does not fit its 8,192-byte receive buffer
(apache/couchdb#1810); a 4,096-byte id of non-ASCII characters is 12,288 characters once
percent-encoded. A key is kept natively while its largest URL form (percent-encoded JSON)
is at most ``MAX_URL_FORM`` characters, which leaves room for the database name, a
revision and the rest of the line.

The keys of escaped ids all start with ``ESCAPE`` followed by ``_``, ``ESCAPE`` or ``#``;
a stored key that starts with ``ESCAPE`` otherwise was not written by asyncdb and is not
reachable through it (``decode`` returns ``None``).
"""

from __future__ import annotations

import json
import re
from typing import Final
from urllib.parse import quote

from asyncdb.drivers._digest import digest_key

__all__ = ["DIGEST", "ESCAPE", "MAX_URL_FORM", "Decoded", "decode", "encode", "url_form"]

ESCAPE: Final = "~asyncdb~"
DIGEST: Final = ESCAPE + "#"
MAX_URL_FORM: Final = 6000
_DIGEST_KEY: Final = re.compile(re.escape(DIGEST) + "[0-9a-f]{64}")


def url_form(key: str) -> str:
    """``key`` as a JSON string in a query string: its longest form in any URL."""
    return quote(json.dumps(key, ensure_ascii=False), safe="")


def encode(doc_id: str) -> str:
    """The key under which the caller's ``doc_id`` is stored."""
    key = ESCAPE + doc_id if doc_id[:1] == "_" or doc_id.startswith(ESCAPE) else doc_id
    # Cheap bound first: no character takes more than 12 URL characters (4 UTF-8 bytes).
    if (len(key) + 1) * 12 <= MAX_URL_FORM or len(url_form(key)) <= MAX_URL_FORM:
        return key
    return digest_key(DIGEST, doc_id)


class Decoded:
    """What a stored key says about the caller's id: the id itself, or that the document
    holds it (a digest key)."""

    __slots__ = ("digest", "id")

    def __init__(self, doc_id: str | None, digest: bool) -> None:
        self.id = doc_id
        self.digest = digest


def decode(key: str) -> Decoded | None:
    """The caller's id of a stored key; ``None`` for a key asyncdb cannot have written
    (a design document, or another program's id that starts with ``ESCAPE``)."""
    if key[:1] == "_":
        return None
    if not key.startswith(ESCAPE):
        return Decoded(key, False)
    rest = key[len(ESCAPE) :]
    if rest[:1] == "_" or rest.startswith(ESCAPE):
        return Decoded(rest, False)
    if _DIGEST_KEY.fullmatch(key):
        return Decoded(None, True)
    return None
