"""``Ticket``: an asynchronous job (collection ``tickets``)."""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from asyncdb.models.base import DocumentModel, UtcDateTime, utc_now

__all__ = ["Ticket", "TicketRequest", "TicketResult", "TicketStatus"]

TicketStatus = Literal["pending", "processing", "completed", "failed"]


class TicketRequest(BaseModel):
    """What was asked: which agent, with which input, for whom."""

    model_config = ConfigDict(extra="allow")

    agent_id: str
    input: dict[str, Any] = Field(default_factory=dict)
    user_id: str


class TicketResult(BaseModel):
    """The outcome of a completed job."""

    model_config = ConfigDict(extra="allow")

    output: dict[str, Any] = Field(default_factory=dict)
    cost: float = Field(default=0.0, ge=0, description="USD")
    completed_at: UtcDateTime = Field(default_factory=utc_now)


class Ticket(DocumentModel):
    """A job; ``result`` only when ``completed``, ``error`` only when ``failed``."""

    collection_name = "tickets"
    created_field = "created_at"
    updated_field = "updated_at"

    status: TicketStatus = "pending"
    request: TicketRequest
    result: TicketResult | None = None
    error: str | dict[str, Any] | None = None
    created_at: UtcDateTime = Field(default_factory=utc_now)
    updated_at: UtcDateTime = Field(default_factory=utc_now)

    @model_validator(mode="after")
    def _outcome_matches_status(self) -> Self:
        if self.result is not None and self.status != "completed":
            raise ValueError("a ticket has a result only when its status is completed")
        if self.error is not None and self.status != "failed":
            raise ValueError("a ticket has an error only when its status is failed")
        return self
