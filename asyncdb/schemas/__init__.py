"""The seven collection models of the application asyncdb was first built for.

An opt-in schema set: ``SCHEMA_MODELS`` maps each collection name to its model, and
``asyncdb serve --schemas asyncdb.schemas:SCHEMA_MODELS`` (or
``ServerConfig(schemas=SCHEMA_MODELS)``) validates those collections' documents against
them. The library core does not import this package; see docs/schema.md.
"""

from asyncdb.schemas.agent_data import AgentDataEntry, agent_data_id
from asyncdb.schemas.agents import Agent
from asyncdb.schemas.demos import Demo, DemoConfig
from asyncdb.schemas.deployments import Deployment
from asyncdb.schemas.registry import SCHEMA_MODELS
from asyncdb.schemas.sessions import Message, Session, SessionMetadata
from asyncdb.schemas.tickets import Ticket, TicketRequest, TicketResult, TicketStatus
from asyncdb.schemas.users import ApiKeys, BasicInfo, BillingInfo, UsageInfo, UsageRecord, User

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
    "Message",
    "Session",
    "SessionMetadata",
    "Ticket",
    "TicketRequest",
    "TicketResult",
    "TicketStatus",
    "UsageInfo",
    "UsageRecord",
    "User",
    "agent_data_id",
]
