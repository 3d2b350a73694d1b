"""Typed collections: pydantic models of documents, and the face's operations over them.

``TypedCollection(db, Agent)`` gives ``get``/``save``/``create``/``update``/``find``/
``iter_all``/``list_page``/bulk calls with models instead of dicts. The seven models of the
application's collections (docs/schema.md) are here; define your own by subclassing
``DocumentModel``.
"""

from asyncdb.models.agent_data import AgentDataEntry, agent_data_id
from asyncdb.models.agents import Agent
from asyncdb.models.base import DocumentModel, StoredSecret, UtcDateTime, utc_now
from asyncdb.models.collection import ModelUpdateFunction, TypedCollection, TypedPage
from asyncdb.models.demos import Demo, DemoConfig
from asyncdb.models.deployments import Deployment
from asyncdb.models.registry import SCHEMA_MODELS
from asyncdb.models.sessions import Message, Session, SessionMetadata
from asyncdb.models.tickets import Ticket, TicketRequest, TicketResult, TicketStatus
from asyncdb.models.users import ApiKeys, BasicInfo, BillingInfo, UsageInfo, UsageRecord, User

__all__ = [
    "SCHEMA_MODELS",
    "Agent",
    "AgentDataEntry",
    "ApiKeys",
    "BasicInfo",
    "BillingInfo",
    "Demo",
    "DemoConfig",
    "Deployment",
    "DocumentModel",
    "Message",
    "ModelUpdateFunction",
    "Session",
    "SessionMetadata",
    "StoredSecret",
    "Ticket",
    "TicketRequest",
    "TicketResult",
    "TicketStatus",
    "TypedCollection",
    "TypedPage",
    "UsageInfo",
    "UsageRecord",
    "User",
    "UtcDateTime",
    "agent_data_id",
    "utc_now",
]
