"""The models of the application's seven collections (docs/schema.md), by collection name."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from asyncdb.models.base import DocumentModel
from asyncdb.schemas.agent_data import AgentDataEntry
from asyncdb.schemas.agents import Agent
from asyncdb.schemas.demos import Demo
from asyncdb.schemas.deployments import Deployment
from asyncdb.schemas.sessions import Session
from asyncdb.schemas.tickets import Ticket
from asyncdb.schemas.users import User

__all__ = ["SCHEMA_MODELS"]

#: collection name -> model, for the seven collections of docs/schema.md.
SCHEMA_MODELS: Final[Mapping[str, type[DocumentModel]]] = MappingProxyType(
    {
        model.collection_name: model
        for model in (Agent, Deployment, User, Session, Ticket, Demo, AgentDataEntry)
        if model.collection_name is not None
    }
)
