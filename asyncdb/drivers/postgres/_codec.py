"""Documents ⇄ the ``doc`` (exact JSON text) and ``body`` (JSONB) columns.

JSONB keeps neither the order of keys nor the difference between ``1`` and ``1.0`` (it
stores numbers as ``numeric``), and it refuses the character U+0000. The contract promises
all three back exactly, so each row keeps two forms of its document:

- ``doc``: the compact JSON text as asyncdb wrote it, the only thing a read returns;
- ``body``: the same document as JSONB, which ``find`` and ``ensure_index`` use on the
  server. JSONB equality is the contract's query equality: ``1`` equals ``1.0`` (numeric
  comparison), ``true`` equals only ``true``, ``null`` only ``null``.

``body`` is normally the cast of ``doc`` done by the server (``$4::jsonb``), so the text
travels once. When a string or a key holds U+0000 or U+0001, ``body`` is cast from an
escaped copy instead (``escape``): U+0001 becomes U+0001 U+0001 and U+0000 becomes U+0001
U+0002. The escape is injective, and ``find`` escapes its field names and values the same
way, so equality still holds exactly. A row that another program wrote with ``doc`` NULL is
read from ``body`` (with JSONB's types and order).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["dumps", "encode", "escape", "loads_object", "query_value"]

dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode

# In compact JSON with ensure_ascii=False, json escapes every control character as \u00XX;
# these two are the only ones the escape changes. (A string holding a literal backslash
# followed by "u0000" matches too: it takes the slower path and comes out unchanged.)
_NEEDS_ESCAPE = ("\\u0000", "\\u0001")


def encode(body: dict[str, Any]) -> tuple[str, str | None]:
    """``(doc, body text or None)``: the exact text, and the JSONB source when it differs."""
    text = dumps(body)
    if any(marker in text for marker in _NEEDS_ESCAPE):
        return text, dumps(escape(body))
    return text, None


def _escape_str(value: str) -> str:
    if "\x00" not in value and "\x01" not in value:
        return value
    return value.replace("\x01", "\x01\x01").replace("\x00", "\x01\x02")


def escape(value: Any) -> Any:
    """``value`` with every string and key escaped for JSONB (see the module docstring)."""
    if isinstance(value, str):
        return _escape_str(value)
    if isinstance(value, dict):
        return {_escape_str(key): escape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [escape(item) for item in value]
    return value


def query_value(value: Any) -> str:
    """A ``find`` value as the JSONB text it is compared with."""
    return dumps(escape(value))


def loads_object(text: str) -> dict[str, Any] | None:
    """The stored document, or ``None`` when the text is not a JSON object."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
