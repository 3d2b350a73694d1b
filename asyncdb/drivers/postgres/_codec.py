"""Documents ⇄ the ``doc`` (exact JSON text) and ``body`` (JSONB) columns.

JSONB keeps neither the order of keys nor the difference between ``1`` and ``1.0`` (it
stores numbers as ``numeric``), and it refuses the character U+0000. The contract promises
all three back exactly, so each row keeps two forms of its document:

- ``doc``: the compact JSON text as asyncdb wrote it, the only thing a read returns;
- ``body``: the same document as JSONB, which ``find`` and ``ensure_index`` use on the
  server. JSONB equality is the contract's query equality: ``1`` equals ``1.0`` (numeric
  comparison), ``true`` equals only ``true``, ``null`` only ``null``.

``body`` is normally the cast of ``doc`` done by the server (``$4::jsonb``), so the text
travels once. It is cast from an escaped copy instead (``escape``) when

- a string or a key holds U+0000 or U+0001: U+0000 becomes U+0001 U+0001 and U+0001
  becomes U+0001 U+0002. The escape is injective and keeps code point order (the pairs
  order as the characters they stand for, and before every other character), and ``find``
  escapes its field names and values the same way, so equality and order hold exactly;
- a float is an integer of 2**53 or more in magnitude up to 2**63 (the 64-bit range): it
  is written as that exact integer, since JSONB would keep the float's shortest decimal
  form, which can lie on the other side of a 64-bit int than the float's exact value.

A row that another program wrote with ``doc`` NULL is read from ``body`` (with JSONB's
types and order). Tables written before these two rules are upgraded once (``_recast``).
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

__all__ = [
    "NEEDS_ESCAPE_PATTERN",
    "dumps",
    "encode",
    "escape",
    "exact_float",
    "loads_object",
    "query_value",
]

dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode

# In compact JSON with ensure_ascii=False, json escapes every control character as \u00XX;
# these two are the only ones the escape changes. (A string holding a literal backslash
# followed by "u0000" matches too: it takes the slower path and comes out unchanged.)
_NEEDS_ESCAPE = ("\\u0000", "\\u0001")
#: The text of every float in 2**53 <= |x| <= 2**63 as json writes it (16 digits then
#: ``.0``, or an exponent of 15 to 18), and the two escaped characters: a document whose
#: text matches takes the slower path (the same regular expression finds the rows that a
#: table upgrade casts again). A string that merely looks so comes out unchanged.
NEEDS_ESCAPE_PATTERN: Final = r"\\u000[01]|[0-9]{16}\.0|e\+1[5-8]"
_NEEDS_ESCAPE_RE: Final = re.compile(NEEDS_ESCAPE_PATTERN)
_EXACT_FROM, _EXACT_TO = float(2**53), float(2**63)


def encode(body: dict[str, Any]) -> tuple[str, str | None]:
    """``(doc, body text or None)``: the exact text, and the JSONB source when it differs."""
    text = dumps(body)
    if _NEEDS_ESCAPE_RE.search(text):
        return text, dumps(escape(body))
    return text, None


def _escape_str(value: str) -> str:
    if "\x00" not in value and "\x01" not in value:
        return value
    # U+0001 first: the pairs that stand for U+0000 are made after it.
    return value.replace("\x01", "\x01\x02").replace("\x00", "\x01\x01")


def exact_float(value: float) -> int | float:
    """A float as JSONB must hold it to compare exactly with 64-bit ints."""
    return int(value) if _EXACT_FROM <= abs(value) <= _EXACT_TO else value


def escape(value: Any) -> Any:
    """``value`` with every string and key escaped for JSONB, and floats that are 64-bit
    integers as those integers (see the module docstring)."""
    if isinstance(value, str):
        return _escape_str(value)
    if isinstance(value, float):
        return exact_float(value)
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
