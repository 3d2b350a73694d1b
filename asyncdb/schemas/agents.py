"""``Agent``: an AI agent definition and its code (collection ``agents``)."""

from __future__ import annotations

from pydantic import Field

from asyncdb.models.base import DocumentModel, UtcDateTime, utc_now, uuid4_id

__all__ = ["Agent"]


class Agent(DocumentModel):
    """An agent: its Python source, tools and input/output schemas. ``_id`` is a UUID v4
    (a fresh one when not given)."""

    collection_name = "agents"
    created_field = "created_at"
    updated_field = "updated_at"
    id_factory = staticmethod(uuid4_id)

    name: str = Field(min_length=1)
    description: str = ""
    code: str = Field(default="", description="Python source")
    friendly_name: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="URL-safe name used in deployment URLs",
    )
    tools: dict[str, list[str]] = Field(
        default_factory=dict, description="tool category -> tool names"
    )
    input_schema: dict[str, str] = Field(default_factory=dict, description="field -> type name")
    output_schema: dict[str, str] = Field(default_factory=dict, description="field -> type name")
    gofannon_agents: list[str] = Field(
        default_factory=list, description="ids of agents this one depends on"
    )
    created_at: UtcDateTime = Field(default_factory=utc_now)
    updated_at: UtcDateTime = Field(default_factory=utc_now)
