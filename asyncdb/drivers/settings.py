"""``DriverSettings``: the base of a provider's own settings, and ``ProviderURL``, the parsed
``DATABASE_URL`` a provider reads its fields from.

A driver names its settings class (``Driver.settings_class``); the class declares its
fields with the environment variables they read, the URL schemes the provider owns and
how such a URL maps to its fields. ``asyncdb.Settings`` then carries only what every
provider shares, and a third-party driver gets environment and ``DATABASE_URL``
configuration the same way the built-in ones do.

The class lives in a module that imports no client library: the registry loads it to find
which provider owns a URL scheme without loading the driver.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import SplitResult

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from asyncdb.errors import ConfigurationError

if TYPE_CHECKING:
    from typing import Self

    from asyncdb._settings import Settings

__all__ = ["DriverSettings", "ProviderURL"]


@dataclass
class ProviderURL:
    """A provider URL taken apart. ``query`` holds its parameters (the last value of each);
    ``DriverSettings.from_url`` pops the ones it understands, and what is left is reported
    as unknown. ``shown`` is the URL with secrets hidden, for messages."""

    scheme: str
    parts: SplitResult
    shown: str
    query: dict[str, str] = field(default_factory=dict)

    def host_and_port(self) -> str | None:
        """``host[:port]`` of the URL (IPv6 hosts in brackets), or ``None`` when it has none."""
        if not self.parts.hostname:
            return None
        host = self.parts.hostname
        host = f"[{host}]" if ":" in host else host
        port = self.parts.port
        return f"{host}:{port}" if port else host


class DriverSettings(BaseSettings):
    """A provider's own settings. Subclass it with the provider's fields; each field reads
    the environment variable of its alias. Unknown fields are an error, so a misspelt
    setting never goes unnoticed."""

    model_config = SettingsConfigDict(
        env_file=None, extra="forbid", populate_by_name=True, frozen=True
    )

    #: The URL schemes of this provider (``DATABASE_URL=<scheme>://...``).
    url_schemes: ClassVar[tuple[str, ...]] = ()
    #: The variables that decide where the provider connects, and those that hold its
    #: credentials: named in the start-up warnings of ``asyncdb serve``.
    address_variables: ClassVar[str] = ""
    credential_variables: ClassVar[str] = ""

    def where(self) -> str:
        """A one-line description of where the provider connects, with no secret."""
        return ""

    @classmethod
    def from_url(cls, url: ProviderURL) -> dict[str, Any]:
        """The field values ``url`` stands for (one of ``url_schemes``). Pop from
        ``url.query`` each parameter understood; raise ``ConfigurationError`` (showing
        ``url.shown``, never the URL itself) for a URL this provider cannot use."""
        return {}

    @classmethod
    def of(cls, settings: Settings) -> Self:
        """This provider's settings within ``settings``: the fields given to ``Settings``
        by name or by ``DATABASE_URL``, the environment for the rest.

        ``ConfigurationError`` names a field this provider does not have, or one whose value
        is invalid, without showing the value (it may be a secret).
        """
        given = settings.resolved().provider_fields()
        try:
            return cls(**given)
        except ValidationError as exc:
            raise ConfigurationError(_describe(cls, settings, exc)) from None


def _describe(cls: type[DriverSettings], settings: Settings, exc: ValidationError) -> str:
    provider = settings.resolved().database_provider
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        name = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            known = ", ".join(sorted(cls.model_fields)) or "none"
            problems.append(
                f"{name!r} is not a setting of provider {provider!r} (its settings: {known})"
            )
        else:
            problems.append(f"{name}: {error['msg']}")
    return "; ".join(problems)
