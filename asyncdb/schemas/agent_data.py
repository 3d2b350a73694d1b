"""``AgentDataEntry``: one key of an agent's key-value storage (collection
``agent_data_store``), scoped per user and namespace.

Its ``_id`` is ``userId:namespace:`` followed by the key in URL-safe base64, so one
(user, namespace, key) has one document. It is derived when not given, and checked when
given. Listing wants an index on ``userId`` and ``namespace``:
``await db.ensure_index("agent_data_store", ["userId", "namespace"])``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Self

from pydantic import Field, model_validator

from asyncdb.models.base import DocumentModel, UtcDateTime, utc_now

__all__ = ["AgentDataEntry", "agent_data_id"]


def agent_data_id(user_id: str, namespace: str, key: str) -> str:
    """The ``_id`` of ``key`` in ``namespace`` of ``user_id``."""
    encoded = base64.urlsafe_b64encode(key.encode("utf-8")).decode("ascii")
    return f"{user_id}:{namespace}:{encoded}"


def _decoded_key(encoded: str) -> str | None:
    try:
        padded = encoded + "=" * (-len(encoded) % 4)
        return base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        return None


class AgentDataEntry(DocumentModel):
    """A value stored by an agent for a user, under a namespace and a key."""

    collection_name = "agent_data_store"
    created_field = "createdAt"
    updated_field = "updatedAt"

    id: str = Field(default="", alias="_id", description="userId:namespace:base64url(key)")
    userId: str = Field(min_length=1)
    namespace: str = Field(min_length=1)
    key: str = Field(min_length=1)
    value: Any = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    createdByAgent: str | None = None
    lastAccessedByAgent: str | None = None
    accessCount: int = Field(default=0, ge=0)
    createdAt: UtcDateTime = Field(default_factory=utc_now)
    updatedAt: UtcDateTime = Field(default_factory=utc_now)
    lastAccessedAt: UtcDateTime | None = None

    @model_validator(mode="before")
    @classmethod
    def _derive_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("_id") and not data.get("id"):
            user, namespace, key = data.get("userId"), data.get("namespace"), data.get("key")
            if isinstance(user, str) and isinstance(namespace, str) and isinstance(key, str):
                return {**data, "_id": agent_data_id(user, namespace, key)}
        return data

    @model_validator(mode="after")
    def _id_matches_key(self) -> Self:
        prefix = f"{self.userId}:{self.namespace}:"
        if not self.id.startswith(prefix) or _decoded_key(self.id[len(prefix) :]) != self.key:
            raise ValueError(
                "_id must be userId:namespace: followed by the key in URL-safe base64 "
                f"(expected {agent_data_id(self.userId, self.namespace, self.key)!r})"
            )
        return self
