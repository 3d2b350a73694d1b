"""The connection pool's lifecycle and the one way a statement reaches the server.

The pool is the driver's own (created lazily, inside the running loop, on first use) or a
user's ``asyncpg.Pool`` given as ``client=``: what the library did not open, it does not
close. Every statement goes through ``Transport.run``, which takes a connection, runs the
caller's work on it and retries under the one policy (``asyncdb.drivers._retried``) with
this driver's ``classify``; a connection that failed mid-statement is terminated rather
than put back, so that the pool opens a fresh one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import asyncpg

from asyncdb._retry import Attempts, RetryPolicy
from asyncdb.drivers._retried import Retrier
from asyncdb.drivers.postgres import _recast, _tables
from asyncdb.drivers.postgres._errors import NotSent, classify, translate
from asyncdb.errors import ConfigurationError

__all__ = ["Address", "Transport", "parse_dsn"]

logger = logging.getLogger("asyncdb")

T = TypeVar("T")
#: What a statement does with its connection (a pool's proxy of an asyncpg Connection).
Work = Callable[[Any], Awaitable[T]]


@dataclass(frozen=True, slots=True)
class Address:
    """Where the server is, for messages: never the password."""

    dsn: str | None
    shown: str
    user: str | None
    database: str | None


def parse_dsn(dsn: str) -> Address:
    """Check that ``dsn`` is a ``postgresql://`` URL and describe it without its password."""
    try:
        parts = urlsplit(dsn.strip())
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ConfigurationError("POSTGRES_URL is not a valid URL") from None
    if parts.scheme not in ("postgresql", "postgres"):
        raise ConfigurationError(
            f"POSTGRES_URL must be a postgresql:// URL (got scheme {parts.scheme!r})"
        )
    user = unquote(parts.username) if parts.username else None
    database = unquote(parts.path.lstrip("/")) or user
    host = parts.netloc.rpartition("@")[2] or "localhost"
    return Address(dsn, f"PostgreSQL at {host}/{database or ''}", user, database)


def _shown_pool(pool: asyncpg.Pool) -> Address:
    return Address(None, "PostgreSQL (a pool given as client=)", None, None)


async def _keep_session(connection: asyncpg.Connection) -> None:
    """The pool's reset: nothing. The driver changes no session state (no SET, LISTEN or
    session advisory lock), and asyncpg's default reset costs a round trip per release;
    an open transaction is still rolled back by asyncpg before this is called."""


class Transport:
    """One pool, the table's schema checked once, and statements run under the policy."""

    def __init__(
        self,
        dsn: str | None,
        *,
        table: _tables.Table,
        pool_size: int,
        request_timeout: float,
        connect_timeout: float,
        max_retries: int,
        client: asyncpg.Pool | None = None,
    ) -> None:
        if dsn is not None:
            self.address = parse_dsn(dsn)
        elif client is not None:
            self.address = _shown_pool(client)
        else:
            raise ConfigurationError("POSTGRES_URL is not set (postgresql://user:pw@host/db)")
        self.table = table
        self.policy = RetryPolicy(max_retries=max_retries, base_delay=0.05, max_delay=2.0)
        self._retrier = Retrier(self.policy, classify)
        self._pool_size = pool_size
        self._request_timeout = request_timeout
        self._connect_timeout = connect_timeout
        self._client = client
        self._pool: asyncpg.Pool | None = None
        self._ready = False
        self._lock: asyncio.Lock | None = None

    async def _get_pool(self) -> asyncpg.Pool:
        if self._client is not None:
            return self._client
        if self._pool is None:
            # Creating a pool with min_size=0 connects nothing, so it cannot fail on the
            # server's state; the first acquire does.
            self._pool = await asyncpg.create_pool(
                self.address.dsn,
                min_size=0,
                max_size=self._pool_size,
                max_inactive_connection_lifetime=60.0,
                command_timeout=self._request_timeout,
                timeout=self._connect_timeout,
                reset=_keep_session,
            )
        return self._pool

    async def ready(self) -> None:
        """Connect (retried) and make sure the table exists: the start-up check."""
        if self._ready:
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if not self._ready:
                await self._call(_tables.ensure_schema_work(self.table), "open the table")
                await self._call(_recast.recast_work(self.table), "upgrade the table")
                self._ready = True

    async def run(self, work: Work[T], what: str, attempts: Attempts | None = None) -> T:
        """``await work(connection)`` retried under the policy; a write passes its
        ``attempts``. Failures come out as asyncdb errors."""
        if not self._ready:
            await self.ready()
        return await self._call(work, what, attempts)

    async def _call(self, work: Work[T], what: str, attempts: Attempts | None = None) -> T:
        tries = 0

        async def attempt() -> T:
            nonlocal tries
            tries += 1
            pool = await self._get_pool()
            try:
                # No timeout here: asyncpg would run the acquire as a task of its own
                # (wait_for), a cost on every statement; a new connection is bounded by the
                # pool's connect timeout, and waiting for a busy pool is not a failure.
                connection = await pool.acquire()
            except Exception as exc:
                raise NotSent(exc) from exc
            try:
                if connection.is_closed():
                    raise NotSent(ConnectionError("the pooled connection is closed"))
                return await work(connection)
            except BaseException as exc:
                if not isinstance(exc, asyncpg.PostgresError | NotSent):
                    # Its state is unknown (a lost answer, a timeout): never reuse it.
                    connection.terminate()
                raise
            finally:
                await pool.release(connection)

        def failed(exc: Exception) -> None:
            raise translate(
                exc,
                where=self.address.shown,
                user=self.address.user,
                database=self.address.database,
                what=what,
                ambiguous=attempts is not None and attempts.ambiguous,
                attempts=tries,
            ) from exc

        return await self._retrier.run(
            attempt, what=f"PostgreSQL {what}", final=failed, attempts=attempts
        )

    async def aclose(self) -> None:
        """Close the driver's own pool; a user's pool (``client=``) stays open."""
        pool, self._pool = self._pool, None
        self._ready = False
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), timeout=self._request_timeout)
            except (TimeoutError, OSError, asyncpg.PostgresError):
                pool.terminate()
