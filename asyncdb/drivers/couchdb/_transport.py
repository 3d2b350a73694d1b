"""HTTP to one CouchDB server: the aiohttp session and every request, retried through
``asyncdb.drivers._retried`` (what is retried, and what a failure means, is ``_errors``).

The session is the caller's (``client=``) or one this transport creates lazily inside the
running event loop (a driver may be built outside any loop); only the latter is closed by
``aclose``. Every request carries the driver's basic auth, its timeout and the ``Accept`` /
``Content-Type: application/json`` headers that CouchDB-compatible servers rely on, so a
caller's session needs none of them. Callers pass paths whose segments they have already
percent-encoded (see ``segment``); the URL is handed to aiohttp as encoded, so nothing is
re-encoded or normalised.
"""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import aiohttp
from yarl import URL

from asyncdb._retry import Attempts, RetryPolicy
from asyncdb.drivers._retried import Retrier
from asyncdb.drivers.couchdb._errors import (
    CONNECTION_FAILURES,
    TRANSIENT_STATUSES,
    TransientStatus,
    classify,
    status_error,
    unknown,
    unreachable,
)
from asyncdb.errors import BackendUnavailableError, ConfigurationError

__all__ = ["Reply", "ServerAddress", "Transport", "parse_server_url", "segment"]

#: The full-jitter back-off of a retried request: 50 ms doubling, capped at 2 s.
_BACKOFF_BASE: Final = 0.05
_BACKOFF_CAP: Final = 2.0
_KEEPALIVE: Final = 4.0
_HEADERS: Final = {"Accept": "application/json", "Content-Type": "application/json"}


def segment(value: str) -> str:
    """One URL path segment, percent-encoded completely: ``/``, ``?``, ``#``, ``%`` and
    ``+`` can never change which database or document a request addresses."""
    return quote(value, safe="")


@dataclass(frozen=True, slots=True)
class ServerAddress:
    """A server URL split into the part safe to show and the credentials."""

    base_url: str  # scheme://host[:port][/path], no credentials, no trailing slash
    user: str | None
    password: str | None

    @property
    def redacted(self) -> str:
        return self.base_url


def parse_server_url(url: str, user: str | None, password: str | None) -> ServerAddress:
    """Split ``url``; explicit ``user``/``password`` take precedence over ones in the URL."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            "COUCHDB_URL must be an http:// or https:// URL with a host "
            f"(got scheme {parts.scheme!r})"
        )
    host = parts.hostname
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError("COUCHDB_URL has an invalid port") from exc
    netloc = host if port is None else f"{host}:{port}"
    base_url = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    url_user = unquote(parts.username) if parts.username else None
    url_password = unquote(parts.password) if parts.password is not None else None
    return ServerAddress(
        base_url,
        user if user is not None else url_user,
        password if password is not None else url_password,
    )


@dataclass(slots=True)
class Reply:
    """A response the caller handles itself: status, headers and the parsed JSON body."""

    status: int
    headers: Mapping[str, str]
    data: Any


class Transport:
    """Sends requests to one server and turns failures into asyncdb errors.

    ``client`` is an ``aiohttp.ClientSession`` the caller opened and owns: requests go
    through it and ``aclose`` leaves it open. Without one, the transport opens its own
    session (``pool_size``, ``verify_tls``, ``ssl_context``) and ``aclose`` closes it.
    """

    def __init__(
        self,
        address: ServerAddress,
        *,
        request_timeout: float,
        connect_timeout: float,
        max_retries: int,
        pool_size: int,
        verify_tls: bool,
        ssl_context: ssl.SSLContext | None = None,
        client: aiohttp.ClientSession | None = None,
    ) -> None:
        self.address = address
        self._timeout = aiohttp.ClientTimeout(
            total=request_timeout, sock_connect=min(connect_timeout, request_timeout)
        )
        self.policy = RetryPolicy(
            max_retries=max_retries, base_delay=_BACKOFF_BASE, max_delay=_BACKOFF_CAP
        )
        self._retrier = Retrier(self.policy, classify)
        self._pool_size = pool_size
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else verify_tls
        self._headers = dict(_HEADERS)
        if address.user is not None:
            # Basic auth on every request (never logged; describe() shows the user only).
            token = f"{address.user}:{address.password or ''}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(token).decode("ascii")
        if client is not None:
            if ssl_context is not None or not verify_tls:
                raise ConfigurationError(
                    "ssl_context and verify_tls configure the driver's own session; with "
                    "client=, configure TLS on that session's connector"
                )
            if client.auth is not None and address.user is not None:
                # aiohttp refuses a request with both (ValueError); say it up front.
                raise ConfigurationError(
                    "the session given as client= has its own auth and the driver has a "
                    "user: give the credentials to one of them"
                )
            _no_silent_resend(client)
        self._client = client
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        """The session requests go through: the caller's, or this transport's own, created
        on first use inside the loop."""
        if self._client is not None:
            if self._client.closed:
                raise ConfigurationError(
                    "the aiohttp session given to the CouchDB driver as client= is closed"
                )
            return self._client
        if self._session is None or self._session.closed:
            # Idle connections are dropped before common servers drop them (Node-based ones
            # after 5 s), so a pooled connection is rarely found closed mid-request.
            connector = aiohttp.TCPConnector(
                limit=self._pool_size, ssl=self._ssl, keepalive_timeout=_KEEPALIVE
            )
            self._session = aiohttp.ClientSession(connector=connector, json_serialize=json.dumps)
            _no_silent_resend(self._session)
        return self._session

    async def aclose(self) -> None:
        """Close the transport's own session; a caller's session (``client=``) stays open:
        what the library did not open, it does not close."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        passthrough: Collection[int] = (),
        attempts: Attempts | None = None,
    ) -> Reply:
        """Send ``method path`` (path already encoded, query included) and return the reply.

        2xx replies and statuses in ``passthrough`` are returned; transient failures are
        retried under ``policy``; everything else raises. A write passes its ``attempts``:
        it learns whether an attempt may have been applied (a conflict in the reply may
        then be that attempt's own doing), and when the retries run out after such an
        attempt the write raises ``WriteOutcomeUnknownError`` rather than
        ``BackendUnavailableError``.
        """
        url = URL(self.address.base_url + path, encoded=True)
        where = f"CouchDB at {self.address.redacted}"
        shown = f"{method} {_route(path)}"
        sent = 0

        async def attempt() -> Reply:
            nonlocal sent
            sent += 1
            reply = await self._send(method, url, body)
            if reply.status in TRANSIENT_STATUSES and reply.status not in passthrough:
                raise TransientStatus(reply)
            return reply

        def failed(exc: Exception) -> None:
            ambiguous = attempts is not None and attempts.ambiguous
            if isinstance(exc, TransientStatus):
                error = status_error(where, self.address.user, shown, exc.reply, sent)
                raise (unknown(str(error)) if ambiguous else error) from None
            if isinstance(exc, CONNECTION_FAILURES):
                message = unreachable(where, shown, sent, exc)
                raise (unknown(message) if ambiguous else BackendUnavailableError(message)) from exc

        reply = await self._retrier.run(
            attempt, what=f"CouchDB {shown}", final=failed, attempts=attempts
        )
        if 200 <= reply.status < 300 or reply.status in passthrough:
            return reply
        raise status_error(where, self.address.user, shown, reply, sent)

    async def _send(self, method: str, url: URL, body: bytes | None) -> Reply:
        async with self.session().request(
            method, url, data=body, headers=self._headers, timeout=self._timeout
        ) as response:
            raw = await response.read()
            data: Any = None
            if raw:
                try:
                    data = json.loads(raw)
                except ValueError:
                    data = None
            return Reply(response.status, response.headers, data)


def _no_silent_resend(session: aiohttp.ClientSession) -> None:
    # aiohttp silently resends an idempotent request (PUT, DELETE) once when a pooled
    # connection drops before the answer, so a conditional PUT that had landed would come
    # back as a plain 409. Retries are this transport's, which knows that such an attempt
    # is ambiguous (Attempts.ambiguous). aiohttp has no per-request switch, so a caller's
    # session (client=) gets it too. The switch is private to aiohttp; the lost-reply
    # tests of tests/couchdb/test_driver.py and test_client_session.py prove it still works.
    session._retry_connection = False


def _route(path: str) -> str:
    """The path without its query string, for messages (queries may hold document keys)."""
    return path.partition("?")[0]
