"""The driver ABC: the small, native interface every backend implements.

A driver receives names, ids and bodies that the face (``DatabaseService``) has already
validated and copied; it does no validation of its own. Four core operations are
abstract (``get``, ``put``, ``delete``, ``scan``); every other method has a portable
default built on them, which a driver overrides where its backend has a native fast path.

Ownership: a driver must not keep a reference to a ``body`` after ``put`` returns (it
serialises or copies it; the face returns the same objects to the caller), and every body
it returns must be fresh, so the caller may mutate it freely.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import anyio

from asyncdb._evaluate import arrange_records
from asyncdb.errors import AsyncDBError

if TYPE_CHECKING:
    from typing import Self

    from asyncdb._query import FieldPath, Order, Query
    from asyncdb._settings import Settings
    from asyncdb.drivers.settings import DriverSettings

__all__ = [
    "Change",
    "DeleteRequest",
    "Driver",
    "DriverLimits",
    "FirstTimes",
    "Record",
    "ScanPage",
    "WriteOutcome",
    "WriteRequest",
]

Body = dict[str, Any]
#: ``Driver.patch``'s change: the current body (a fresh copy, the driver's to hand over)
#: to the new one. It checks the result against the document contract and raises an
#: ``AsyncDBError`` (422, 413) for one that breaks it; it does no I/O and never calls the
#: driver, so a driver may run it while it holds a lock or a transaction.
Change = Callable[[Body], Body]
T = TypeVar("T")
R = TypeVar("R", "WriteRequest", "DeleteRequest")

_compact_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


@dataclass(slots=True)
class Record:
    """A stored document as a driver returns it: id, revision and the other fields."""

    id: str
    rev: str
    body: Body


@dataclass(slots=True)
class ScanPage:
    """One page of a scan. ``last_key`` is the id to resume after; ``None`` means the end.

    A page may hold fewer records than asked for even when more follow (DynamoDB stops at
    1 MB); only ``last_key is None`` says that the collection is exhausted.
    """

    records: list[Record]
    last_key: str | None


@dataclass(slots=True)
class WriteRequest:
    """One write of a bulk call: ``if_rev`` makes it conditional, ``if_absent`` a create."""

    id: str
    body: Body
    if_rev: str | None = None
    if_absent: bool = False


@dataclass(slots=True)
class DeleteRequest:
    """One delete of a bulk call; ``if_rev`` makes it conditional."""

    id: str
    if_rev: str | None = None


@dataclass(slots=True)
class WriteOutcome:
    """What happened to one document of a bulk call: its new revision, or an error."""

    id: str
    rev: str | None = None
    error: AsyncDBError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class DriverLimits:
    """Batch sizes the face chunks bulk calls to, the concurrency of fallbacks, and the
    backend's own document size limit.

    ``native_document_bytes`` is the largest document the backend holds by its own measure
    (``Driver.native_document_size``), enforced by the face under
    ``DATABASE_SIZE_LIMIT=native``; ``None`` means the backend has no limit of its own and
    the face's hard cap applies. A driver that learns its limit only when it connects sets
    an instance ``limits`` (a ``dataclasses.replace`` of the class's) in ``open()``.
    """

    max_get_batch: int = 100
    max_write_batch: int = 100
    max_concurrency: int = 16
    scan_page_size: int = 1000
    native_document_bytes: int | None = None


class Driver(abc.ABC):
    """A backend. Subclass it, implement the four core methods, register the class.

    ``name`` is the provider name used in settings; ``limits`` tells the face how to chunk.
    """

    name: str = "driver"
    limits: DriverLimits = DriverLimits()
    #: The provider's own settings (``asyncdb.drivers.settings.DriverSettings``): the
    #: fields it reads from the environment and the URL schemes it owns. ``None``: none.
    settings_class: ClassVar[type[DriverSettings] | None] = None
    #: Whether concurrent single calls should be gathered into this driver's batches
    #: (``asyncdb._coalesce``): worth it over a network, not for a driver without I/O.
    coalesce_worthwhile: ClassVar[bool] = True
    #: Whether ``get_many`` leaves out a stored document that ``get`` raises for (a row
    #: it cannot read): the coalescer then reads a missing id alone, to give get's answer.
    get_many_skips_unreadable: ClassVar[bool] = False

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """Build the driver from settings; raise ``ConfigurationError`` naming what is missing.

        The default suits drivers that need no configuration.
        """
        return cls()

    # -- lifecycle -----------------------------------------------------------------------
    async def open(self) -> None:  # noqa: B027 - optional hook, deliberately empty
        """Connect eagerly. Optional: every operation must also work without it (lazily)."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, deliberately empty
        """Release sessions and pools. Called once by the owner of the driver."""

    async def ping(self) -> None:  # noqa: B027 - optional hook, deliberately empty
        """Raise ``BackendUnavailableError`` (or ``AuthenticationError``) if unusable."""

    def describe(self) -> str:
        """A one-line description without secrets, for logs and ``repr``."""
        return self.name

    def __repr__(self) -> str:
        # describe() holds no secret, so the repr of any driver is safe to log.
        return f"<{type(self).__name__} {self.describe()}>"

    def native_document_size(self, doc_id: str, body: Body) -> int:
        """The size of the stored document by the backend's own measure, in bytes (checked
        against ``limits.native_document_bytes`` under ``DATABASE_SIZE_LIMIT=native``).

        The default is the UTF-8 length of the compact JSON of ``body`` plus that of the
        id; a driver whose backend measures otherwise (attribute names, index overhead,
        its own metadata) overrides it. It must not do I/O: the face calls it before any.
        """
        return len(_compact_json(body).encode("utf-8")) + len(doc_id.encode("utf-8"))

    # -- the four core operations ----------------------------------------------------------
    @abc.abstractmethod
    async def get(self, collection: str, doc_id: str) -> Record | None:
        """The stored record, or ``None`` if the document or collection does not exist."""

    @abc.abstractmethod
    async def put(
        self,
        collection: str,
        doc_id: str,
        body: Body,
        *,
        if_rev: str | None = None,
        if_absent: bool = False,
    ) -> str:
        """Store ``body`` under ``doc_id`` and return the new revision.

        With ``if_rev`` the write happens only if that is the current revision; with
        ``if_absent`` only if no document has the id. Otherwise raise ``ConflictError``.
        Without either it is last-writer-wins. Creates the collection if needed.
        """

    @abc.abstractmethod
    async def delete(self, collection: str, doc_id: str, *, if_rev: str | None = None) -> bool:
        """Delete; return whether a document was there. ``if_rev`` mismatch: ``ConflictError``."""

    @abc.abstractmethod
    async def scan(self, collection: str, *, after: str | None, limit: int) -> ScanPage:
        """Up to ``limit`` records following the id ``after`` in the driver's stable order.

        The order must let a scan resume after any id, even one deleted meanwhile, without
        skipping or repeating documents that existed throughout. A missing collection is
        an empty, final page.
        """

    # -- fast paths with portable defaults -------------------------------------------------
    async def patch(
        self, collection: str, doc_id: str, change: Change, *, if_rev: str | None = None
    ) -> Record | None:
        """Change one document atomically on the backend: read it, ``change`` its body,
        write the result with a new revision (one ``put`` would make), with no other write
        in between; return the record as written. ``NotFoundError`` when there is no
        document; with ``if_rev``, ``ConflictError`` unless that is its revision. An error
        ``change`` raises is raised as it is, with nothing written. A write whose outcome
        is unknown is ``WriteOutcomeUnknownError``, never a second application of
        ``change`` over a write that may have landed.

        Default: ``None``, "not native": the face then patches through its revision loop
        (``get``, then a conditional ``put``, again after a lost race)."""
        return None

    async def get_many(self, collection: str, ids: Sequence[str]) -> dict[str, Record]:
        """Records for the ids that exist (missing ids are absent from the answer)."""
        found: dict[str, Record] = {}

        async def one(doc_id: str) -> None:
            record = await self.get(collection, doc_id)
            if record is not None:
                found[doc_id] = record

        await for_each_concurrently(self.limits.max_concurrency, ids, one)
        return found

    async def put_many(self, collection: str, writes: Sequence[WriteRequest]) -> list[WriteOutcome]:
        """Outcomes in the order of ``writes``; a failed write does not stop the others."""

        async def one(write: WriteRequest) -> str:
            return await self.put(
                collection, write.id, write.body, if_rev=write.if_rev, if_absent=write.if_absent
            )

        return await _outcomes(self.limits.max_concurrency, writes, one)

    async def delete_many(
        self, collection: str, deletes: Sequence[DeleteRequest]
    ) -> list[WriteOutcome]:
        """Outcomes in the order of ``deletes``; deleting a missing document succeeds."""

        async def one(request: DeleteRequest) -> None:
            await self.delete(collection, request.id, if_rev=request.if_rev)

        return await _outcomes(self.limits.max_concurrency, deletes, one)

    def can_find(self, collection: str, query: Query) -> bool:
        """Whether ``find`` runs ``query`` on ``collection`` natively, in its order
        (``query.order_by``, ties by ``_id``) and from its position (``query.after``). The
        face answers any other query from a scan. It does no I/O: a driver answers from
        what it knows of the collection's indexes. Default: only equality and ``$in`` on
        top-level fields, with no order and no position (``query.simple``)."""
        return query.simple

    async def find(self, collection: str, query: Query, limit: int | None) -> list[Record]:
        """Records matching ``query``, at most ``limit``. The default filters a full scan.

        A native implementation may return records whose body holds only
        ``query.fields``; the face projects again either way.
        """
        return await scan_matching(self, collection, query, limit)

    async def ensure_index(  # noqa: B027 - optional hook, deliberately empty
        self, collection: str, fields: Sequence[FieldPath], *, order_by: Sequence[Order] = ()
    ) -> None:
        """Create an index on ``fields`` (paths: the keys from the top level down), then
        ``order_by``, where the backend needs one: the shape of the queries it is meant to
        serve (equality fields, range fields, then the order). Idempotent. Default:
        nothing."""

    async def list_collections(self) -> list[str]:
        """Names of the collections that exist. Optional: the default says the backend
        cannot list them (callers then have to name collections themselves)."""
        raise NotImplementedError(f"the {self.name} driver cannot list its collections")

    async def drop_collection(self, collection: str) -> None:
        """Remove the collection and every document in it; missing is not an error."""
        while True:
            page = await self.scan(collection, after=None, limit=self.limits.scan_page_size)
            if not page.records:
                return
            outcomes = await self.delete_many(
                collection, [DeleteRequest(r.id) for r in page.records]
            )
            for outcome in outcomes:  # a delete that keeps failing must not loop forever
                if outcome.error is not None:
                    raise outcome.error


async def for_each_concurrently(
    limit: int, items: Iterable[T], call: Callable[[T], Awaitable[None]]
) -> None:
    """``await call(item)`` for every item, concurrently, at most ``limit`` at a time (the
    default bulk calls' fan-out, for any caller that needs one)."""
    limiter = anyio.CapacityLimiter(limit)

    async def one(item: T) -> None:
        async with limiter:
            await call(item)

    async with anyio.create_task_group() as group:
        for item in items:
            group.start_soon(one, item)


async def _outcomes(
    limit: int, requests: Sequence[R], write: Callable[[R], Awaitable[str | None]]
) -> list[WriteOutcome]:
    """The default bulk write: ``write`` runs on each request (``for_each_concurrently``);
    its revision or its error becomes that request's outcome, so one failure stops no other."""
    outcomes = [WriteOutcome(request.id) for request in requests]

    async def one(index: int) -> None:
        try:
            outcomes[index].rev = await write(requests[index])
        except AsyncDBError as exc:
            outcomes[index].error = exc

    await for_each_concurrently(limit, range(len(requests)), one)
    return outcomes


async def scan_matching(
    driver: Driver, collection: str, query: Query, limit: int | None
) -> list[Record]:
    """Records of ``collection`` matching ``query``, at most ``limit``, from a full scan
    filtered here: ``Driver.find``'s default, for any caller that must answer a query
    without the backend's help."""
    matches: list[Record] = []
    after: str | None = None
    while True:
        page = await driver.scan(collection, after=after, limit=driver.limits.scan_page_size)
        for record in page.records:
            if query.matches(record.body):
                matches.append(record)
                if limit is not None and len(matches) >= limit:
                    return matches
        if page.last_key is None:
            return matches
        after = page.last_key


class FirstTimes:
    """Which keys were seen: ``first(key)`` is true the first time only (a warning given
    once per collection or query shape). At most ``limit`` keys are remembered, so that a
    stream of new keys cannot grow it without end; past that, a new key is first each time."""

    __slots__ = ("_limit", "_seen")

    def __init__(self, limit: int = 10_000) -> None:
        self._seen: set[Hashable] = set()
        self._limit = limit

    def first(self, key: Hashable) -> bool:
        if key in self._seen:
            return False
        if len(self._seen) < self._limit:
            self._seen.add(key)
        return True


async def ordered_from_filter(
    query: Query,
    limit: int | None,
    filter_find: Callable[[Query, int | None], Awaitable[list[Record]]],
) -> list[Record]:
    """``query``'s answer when only its filter can run natively: ``filter_find(matching,
    wanted)`` answers the conditions alone (no order, no position, whole bodies when the
    records are ordered here), then they are ordered and paged as the reference
    evaluator orders them. The face's fallback, and a driver's when its index fails it."""
    sorts = query.ordered or query.after is not None
    matching = replace(
        query, fields=None if sorts else query.fields, order_by=(), after=None, ordered=False
    )
    candidates = await filter_find(matching, None if sorts else limit)
    if not sorts:
        return candidates if limit is None else candidates[:limit]
    return arrange_records(candidates, query.order_by, after=query.after, limit=limit)
