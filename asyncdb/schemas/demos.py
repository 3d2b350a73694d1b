"""``Demo``: a demo application's configuration (collection ``demos``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from asyncdb.models.base import DocumentModel, UtcDateTime, utc_now

__all__ = ["Demo", "DemoConfig"]


class DemoConfig(BaseModel):
    """Presentation settings; further keys are kept as they are."""

    model_config = ConfigDict(extra="allow")

    theme: str | None = None
    max_messages: int | None = Field(default=None, ge=1)
    features: list[str] = Field(default_factory=list)


class Demo(DocumentModel):
    """A demo of one agent, public or not."""

    collection_name = "demos"
    created_field = "created_at"
    updated_field = "updated_at"

    name: str = Field(min_length=1)
    description: str = ""
    agent_id: str
    config: DemoConfig = Field(default_factory=DemoConfig)
    is_public: bool = False
    created_at: UtcDateTime = Field(default_factory=utc_now)
    updated_at: UtcDateTime = Field(default_factory=utc_now)
