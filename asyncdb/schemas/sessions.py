"""``Session``: a chat conversation (collection ``sessions``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from asyncdb.models.base import DocumentModel, UtcDateTime, utc_now

__all__ = ["Message", "Session", "SessionMetadata"]


class Message(BaseModel):
    """One message of a conversation (append-only)."""

    model_config = ConfigDict(extra="allow")

    role: Literal["user", "assistant", "system"]
    content: str
    timestamp: UtcDateTime = Field(default_factory=utc_now)


class SessionMetadata(BaseModel):
    """Where the conversation comes from."""

    model_config = ConfigDict(extra="allow")

    ip_address: str | None = None
    user_agent: str | None = None
    tags: list[str] = Field(default_factory=list)


class Session(DocumentModel):
    """A user's conversation with an agent; it may be cleaned up after ``expires_at``."""

    collection_name = "sessions"
    created_field = "created_at"
    updated_field = "updated_at"

    user_id: str
    agent_id: str
    messages: list[Message] = Field(default_factory=list)
    metadata: SessionMetadata = Field(default_factory=SessionMetadata)
    created_at: UtcDateTime = Field(default_factory=utc_now)
    updated_at: UtcDateTime = Field(default_factory=utc_now)
    expires_at: UtcDateTime | None = None
