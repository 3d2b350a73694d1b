"""HTTP to one CouchDB server: one aiohttp session, bounded retries, error mapping.

The session is created lazily inside the running event loop (a driver may be built
outside any loop) and carries, on every request, basic auth and the ``Accept`` /
``Content-Type: application/json`` headers that CouchDB-compatible servers rely on.
Callers pass paths whose segments they have already percent-encoded (see ``segment``);
the URL is handed to aiohttp as encoded, so nothing is re-encoded or normalised.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
import ssl
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import aiohttp
from yarl import URL

from asyncdb.errors import (
    AsyncDBError,
    AuthenticationError,
    BackendError,
    BackendUnavailableError,
    ConfigurationError,
    DocumentTooLargeError,
    WriteOutcomeUnknownError,
)

__all__ = ["Reply", "ServerAddress", "Transport", "parse_server_url", "reason_of", "segment"]

logger = logging.getLogger("asyncdb")

#: Statuses worth another attempt: the server or something in front of it is overloaded.
_TRANSIENT_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504})
#: Of those, the ones that say the server did not act on the request.
_NOT_APPLIED_STATUSES: Final = frozenset({408, 429, 503})
#: Failures that happen before a request reaches the server.
_NOT_SENT: Final = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
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
    #: An earlier attempt of this request failed in a way that leaves open whether the
    #: server applied it (lost connection, read timeout, 500/502/504): a conflict in this
    #: reply may be that attempt's own doing.
    after_ambiguous: bool = False


class Transport:
    """Sends requests to one server and turns failures into asyncdb errors."""

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
    ) -> None:
        self.address = address
        self._timeout = aiohttp.ClientTimeout(
            total=request_timeout, sock_connect=min(connect_timeout, request_timeout)
        )
        self._max_retries = max_retries
        self._pool_size = pool_size
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else verify_tls
        self._headers = dict(_HEADERS)
        if address.user is not None:
            # Basic auth on every request (never logged; describe() shows the user only).
            token = f"{address.user}:{address.password or ''}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(token).decode("ascii")
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        """The one session of this transport, created on first use inside the loop."""
        if self._session is None or self._session.closed:
            # Idle connections are dropped before common servers drop them (Node-based ones
            # after 5 s), so a pooled connection is rarely found closed mid-request.
            connector = aiohttp.TCPConnector(
                limit=self._pool_size, ssl=self._ssl, keepalive_timeout=_KEEPALIVE
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers=self._headers,
                timeout=self._timeout,
                json_serialize=json.dumps,
            )
            # aiohttp silently resends an idempotent request (PUT, DELETE) once when the
            # connection drops before the answer, so a conditional PUT that had landed
            # would come back as a plain 409. Retries are this transport's, which knows
            # that such an attempt is ambiguous (Reply.after_ambiguous). The switch is
            # private to aiohttp; tests/couchdb/test_driver.py proves it still works.
            self._session._retry_connection = False
        return self._session

    async def aclose(self) -> None:
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
        write: bool = False,
    ) -> Reply:
        """Send ``method path`` (path already encoded, query included) and return the reply.

        2xx replies and statuses in ``passthrough`` are returned; transient failures are
        retried with exponential back-off and full jitter; everything else raises. A
        ``write`` whose retries run out after an attempt the server may have applied raises
        ``WriteOutcomeUnknownError`` rather than ``BackendUnavailableError``.
        """
        url = URL(self.address.base_url + path, encoded=True)
        attempt = 0
        ambiguous = False
        while True:
            try:
                reply = await self._send(method, url, body)
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError) as exc:
                ambiguous = ambiguous or not isinstance(exc, _NOT_SENT)
                if attempt >= self._max_retries:
                    message = (
                        f"CouchDB at {self.address.redacted} is unreachable after "
                        f"{attempt + 1} attempts ({type(exc).__name__}: {method} {_route(path)})"
                    )
                    if write and ambiguous:
                        raise _unknown(message) from exc
                    raise BackendUnavailableError(message) from exc
                reason = type(exc).__name__
            else:
                status = reply.status
                if 200 <= status < 300 or status in passthrough:
                    reply.after_ambiguous = ambiguous
                    return reply
                if status in _TRANSIENT_STATUSES:
                    ambiguous = ambiguous or status not in _NOT_APPLIED_STATUSES
                if status not in _TRANSIENT_STATUSES or attempt >= self._max_retries:
                    error = self._error(method, path, reply, attempt)
                    if write and ambiguous and isinstance(error, BackendUnavailableError):
                        raise _unknown(str(error))
                    raise error
                reason = f"HTTP {status}"
            delay = random.uniform(0, min(_BACKOFF_CAP, _BACKOFF_BASE * 2**attempt))
            attempt += 1
            logger.debug(
                "CouchDB %s %s failed (%s); retry %d in %.3fs",
                method,
                _route(path),
                reason,
                attempt,
                delay,
            )
            await asyncio.sleep(delay)

    async def _send(self, method: str, url: URL, body: bytes | None) -> Reply:
        async with self.session().request(method, url, data=body) as response:
            raw = await response.read()
            data: Any = None
            if raw:
                try:
                    data = json.loads(raw)
                except ValueError:
                    data = None
            return Reply(response.status, response.headers, data)

    def _error(self, method: str, path: str, reply: Reply, attempt: int) -> AsyncDBError:
        status = reply.status
        reason = reason_of(reply.data)
        where = f"CouchDB at {self.address.redacted}"
        route = _route(path)
        if status in (401, 403):
            return AuthenticationError(
                f"{where} refused the credentials of user {self.address.user!r} "
                f"(HTTP {status} on {method} {route}: {reason})"
            )
        if status == 413:
            return DocumentTooLargeError(f"{where} refused a request as too large: {reason}")
        if status in _TRANSIENT_STATUSES:
            return BackendUnavailableError(
                f"{where} kept failing (HTTP {status} on {method} {route}, "
                f"{attempt + 1} attempts): {reason}"
            )
        return BackendError(f"{where} answered HTTP {status} to {method} {route}: {reason}")


def _unknown(message: str) -> WriteOutcomeUnknownError:
    return WriteOutcomeUnknownError(
        f"{message}; an attempt may have been applied, so the outcome of this write is "
        "unknown: read the document to see"
    )


def _route(path: str) -> str:
    """The path without its query string, for messages (queries may hold document keys)."""
    return path.partition("?")[0]


def reason_of(data: Any) -> str:
    """CouchDB's ``error: reason`` from an error body, for messages."""
    if isinstance(data, dict):
        error, reason = data.get("error"), data.get("reason")
        if error or reason:
            return f"{error}: {reason}"
    return "no reason given"
