"""``User``: profile, billing, usage and API keys (collection ``users``).

``api_keys`` holds secrets: each key is a ``SecretStr`` (masked in ``repr`` and logs) and
the field is one of ``User.secret_fields``, left out of listings unless asked for.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from asyncdb.models.base import DocumentModel, StoredSecret, UtcDateTime, utc_now

__all__ = ["ApiKeys", "BasicInfo", "BillingInfo", "UsageInfo", "UsageRecord", "User"]

_OPEN = ConfigDict(extra="allow")


class BasicInfo(BaseModel):
    """Who the user is, as their identity provider says."""

    model_config = _OPEN

    display_name: str
    email: str
    picture_url: str | None = None
    provider: str = Field(description="identity provider, e.g. google")


class BillingInfo(BaseModel):
    """Plan and subscription state."""

    model_config = _OPEN

    plan: str = "free"
    status: str = "active"
    stripe_customer_id: str | None = None
    subscription_id: str | None = None


class UsageRecord(BaseModel):
    """One billed call."""

    model_config = _OPEN

    timestamp: UtcDateTime = Field(default_factory=utc_now)
    response_cost: float = Field(ge=0, description="USD")
    agent_id: str | None = None
    session_id: str | None = None


class UsageInfo(BaseModel):
    """Allowance, what remains of it, and the calls that spent it."""

    model_config = _OPEN

    monthly_allowance: float = Field(default=0.0, description="USD")
    spend_remaining: float = Field(default=0.0, description="USD")
    usage: list[UsageRecord] = Field(default_factory=list)
    last_reset: UtcDateTime | None = None


class ApiKeys(BaseModel):
    """The user's own provider keys: secrets."""

    model_config = _OPEN

    openai_api_key: StoredSecret | None = None
    anthropic_api_key: StoredSecret | None = None
    gemini_api_key: StoredSecret | None = None
    perplexity_api_key: StoredSecret | None = None


class User(DocumentModel):
    """``_id`` is the identity provider and its user id, e.g. ``user_google_123``.

    ``usage_info`` is updated concurrently: change it with ``TypedCollection.update``.
    """

    collection_name = "users"
    created_field = "created_at"
    updated_field = "updated_at"
    secret_fields = frozenset({"api_keys"})

    basic_info: BasicInfo
    billing_info: BillingInfo = Field(default_factory=BillingInfo)
    usage_info: UsageInfo = Field(default_factory=UsageInfo)
    api_keys: ApiKeys | None = None
    created_at: UtcDateTime = Field(default_factory=utc_now)
    updated_at: UtcDateTime = Field(default_factory=utc_now)
