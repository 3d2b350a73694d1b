"""``Deployment``: a friendly name mapped to one agent (collection ``deployments``)."""

from __future__ import annotations

from pydantic import Field

from asyncdb.models.base import DocumentModel

__all__ = ["Deployment"]


class Deployment(DocumentModel):
    """``_id`` is the friendly name itself. A name maps to one agent only: create
    deployments with ``create`` (a taken name is a ``ConflictError``), never ``save``."""

    collection_name = "deployments"

    agentId: str = Field(min_length=1, description="the deployed agent's _id")
