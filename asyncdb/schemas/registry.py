"""The models of the application's seven collections (docs/schema.md), by collection name."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from asyncdb.models.agent_data import AgentDataEntry
from asyncdb.models.agents import Agent
from asyncdb.models.base import DocumentModel
from asyncdb.models.demos import Demo
from asyncdb.models.deployments import Deployment
from asyncdb.models.sessions import Session
from asyncdb.models.tickets import Ticket
from asyncdb.models.users import User

__all__ = ["SCHEMA_MODELS"]

#: collection name -> model, for the seven collections of docs/schema.md.
SCHEMA_MODELS: Final[Mapping[str, type[DocumentModel]]] = MappingProxyType(
    {
        model.collection_name: model
        for model in (Agent, Deployment, User, Session, Ticket, Demo, AgentDataEntry)
        if model.collection_name is not None
    }
)
