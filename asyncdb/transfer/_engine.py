"""Streaming export, import and migration between any two services.

Everything streams page by page (one page read ahead while the previous one is written),
so memory stays bounded whatever the size of a collection. Writes go through
``save_many``: each backend's native batch call, chunked and run with bounded
concurrency. Documents are written without their revision (unconditional upserts), so
running a transfer again never duplicates or corrupts anything.

``import`` and ``migrate`` read their source twice: a first pass checks every document
against the target (``FitCheck``: the contract and the target's size limit) and counts
them, so that nothing is written when any document cannot move, and the second pass, which
writes, can show a bar with a percentage.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from asyncdb._documents import Document, validate_collection_name
from asyncdb._retry import RetryPolicy
from asyncdb._service import DatabaseService
from asyncdb.errors import BackendUnavailableError, first_error
from asyncdb.transfer._checkpoint import Checkpoint
from asyncdb.transfer._fit import FitCheck
from asyncdb.transfer._ndjson import ExportWriter, read_records
from asyncdb.transfer._progress import Progress

__all__ = ["TransferReport", "export_collections", "import_file", "migrate"]

logger = logging.getLogger("asyncdb")

PAGE_SIZE = 500
WRITE_ATTEMPTS = 5
#: Pages of a migration written at once (each through the target's own batch calls).
WRITES_IN_FLIGHT = 4


@dataclass
class TransferReport:
    """Documents copied (or, on a dry run, that would be) per collection."""

    counts: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def total(self) -> int:
        return sum(self.counts.values())


async def collections_of(service: DatabaseService, wanted: Sequence[str] | None) -> list[str]:
    """``wanted`` (checked against the contract), or every collection of ``service``."""
    if wanted:
        return [validate_collection_name(name) for name in wanted]
    return await service.list_collections()


async def _pages(
    service: DatabaseService, collection: str, cursor: str | None, page_size: int
) -> AsyncIterator[tuple[list[Document], str | None]]:
    while True:
        page = await service.list_page(collection, limit=page_size, cursor=cursor)
        yield page.items, page.next_cursor
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


PageHandler = Callable[[list[Document], str | None], Awaitable[None]]


async def for_each_page(
    service: DatabaseService,
    collection: str,
    cursor: str | None,
    page_size: int,
    handle: PageHandler,
) -> None:
    """Call ``handle(items, next_cursor)`` for each page of ``collection`` after ``cursor``,
    reading the next page while ``handle`` works on the current one (one page ahead)."""
    send, receive = anyio.create_memory_object_stream[tuple[list[Document], str | None]](1)

    async def produce() -> None:
        async with send:
            async for page in _pages(service, collection, cursor, page_size):
                await send.send(page)

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(produce)
            async with receive:
                async for items, next_cursor in receive:
                    await handle(items, next_cursor)
    except BaseExceptionGroup as errors:
        raise first_error(errors) from None


#: The pause before writing again what the target could not take (the one retry policy's
#: back-off: a busy target gets time, and parallel transfers do not come back together).
_WRITE_PAUSES = RetryPolicy(base_delay=0.2, max_delay=5.0)


async def write_batch(target: DatabaseService, collection: str, docs: list[Document]) -> None:
    """Upsert ``docs`` (revisions dropped), retrying what the backend could not take."""
    pending = [{k: v for k, v in doc.items() if k != "_rev"} for doc in docs]
    for attempt in range(WRITE_ATTEMPTS):
        result = await target.save_many(collection, pending)
        failed = {outcome.id for outcome in result.failed}
        if not failed:
            return
        retryable = all(isinstance(o.error, BackendUnavailableError) for o in result.failed)
        if not retryable or attempt == WRITE_ATTEMPTS - 1:
            logger.error("%d documents of %r could not be written", len(failed), collection)
            result.raise_for_errors()
        pending = [doc for doc in pending if doc["_id"] in failed]
        await _WRITE_PAUSES.back_off(attempt)


async def export_collections(
    source: DatabaseService,
    path: Path,
    collections: Sequence[str] | None = None,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    page_size: int = PAGE_SIZE,
) -> TransferReport:
    """Write the collections (all by default) to the NDJSON file ``path``."""
    progress = progress or Progress(quiet=True)
    report = TransferReport(dry_run=dry_run)
    names = await collections_of(source, collections)

    async def export_all(writer: ExportWriter | None) -> None:
        for name in names:
            progress.start(name)

            async def write(items: list[Document], _: str | None, name: str = name) -> None:
                if writer is not None:
                    for doc in items:
                        writer.write(name, doc)
                progress.advance(len(items))

            await for_each_page(source, name, None, page_size, write)
            report.counts[name] = progress.counts[name]
            progress.finish()

    if dry_run:
        await export_all(None)
    else:
        with ExportWriter(path) as writer:
            await export_all(writer)
    return report


async def import_file(
    target: DatabaseService,
    path: Path,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    batch_size: int = PAGE_SIZE,
) -> TransferReport:
    """Upsert every document of the NDJSON file ``path`` into ``target``.

    The whole file is checked first: an invalid line raises ``InvalidExportError`` (with
    its number) and documents too large for the target raise ``TargetLimitError``
    (listing them), both before anything is written. A dry run stops after the check.
    """
    progress = progress or Progress(quiet=True)
    fit = FitCheck(target)
    progress.start(f"{path.name} (checking)")
    for record in read_records(path):
        await fit.check(record.collection, record.id, record.doc)
        progress.advance(1)
    progress.finish()
    fit.raise_if_any()
    if dry_run:
        return TransferReport(dict(fit.counts), dry_run=True)

    report = TransferReport()
    batch: list[Document] = []
    batch_collection: str | None = None

    async def flush() -> None:
        nonlocal batch
        if batch and batch_collection is not None:
            await write_batch(target, batch_collection, batch)
            progress.advance(len(batch))
            report.counts[batch_collection] = report.counts.get(batch_collection, 0) + len(batch)
        batch = []

    for record in read_records(path):
        if record.collection != batch_collection or len(batch) >= batch_size:
            await flush()
            if record.collection != batch_collection:
                if batch_collection is not None:
                    progress.finish()
                batch_collection = record.collection
                progress.start(
                    record.collection,
                    total=fit.counts.get(record.collection),
                    done=report.counts.get(record.collection, 0),
                )
        batch.append({"_id": record.id, **record.doc})
    await flush()
    if batch_collection is not None:
        progress.finish()
    return report


async def migrate(
    source: DatabaseService,
    target: DatabaseService,
    collections: Sequence[str] | None = None,
    *,
    checkpoint_path: Path | None = None,
    checkpoint_id: str = "",
    dry_run: bool = False,
    progress: Progress | None = None,
    page_size: int = PAGE_SIZE,
) -> TransferReport:
    """Copy collections from ``source`` to ``target``, resumable through a checkpoint.

    With ``checkpoint_path``, progress is recorded after every page that was completely
    written; a later call with the same ``checkpoint_id`` skips finished collections and
    continues the interrupted one after its last written page.
    """
    progress = progress or Progress(quiet=True)
    report = TransferReport(dry_run=dry_run)
    names = await collections_of(source, collections)
    state: Checkpoint | None = None
    if checkpoint_path is not None and not dry_run:
        state = Checkpoint.load(checkpoint_path, checkpoint_id)
        if state is not None:
            progress.note(
                f"resuming: {len(state.finished)} collections done"
                + (
                    f", {state.collection} after {state.copied} documents"
                    if state.collection
                    else ""
                )
            )
        else:
            state = Checkpoint(checkpoint_id)
    todo: list[tuple[str, str | None, int]] = []
    for name in names:
        if state is not None and name in state.finished:
            continue
        resume = state is not None and state.collection == name
        cursor = state.cursor if resume and state is not None else None
        todo.append((name, cursor, state.copied if resume and state is not None else 0))
    fit = await _check_fit(source, target, todo, page_size, progress)
    if dry_run:
        report.counts = {name: done + fit.counts.get(name, 0) for name, _, done in todo}
        return report
    for name, cursor, done in todo:

        def record(copied: int, next_cursor: str, name: str = name) -> None:
            if state is not None and checkpoint_path is not None:
                state.collection, state.cursor, state.copied = name, next_cursor, copied
                state.save(checkpoint_path)

        progress.start(name, total=done + fit.counts.get(name, 0), done=done)
        report.counts[name] = await _copy_collection(
            source, target, name, cursor, done, page_size, progress, record
        )
        progress.finish()
        if state is not None and checkpoint_path is not None:
            state.finished.append(name)
            state.collection, state.cursor, state.copied = None, None, 0
            state.save(checkpoint_path)
    if checkpoint_path is not None:
        Checkpoint.remove(checkpoint_path)
    return report


async def _check_fit(
    source: DatabaseService,
    target: DatabaseService,
    todo: list[tuple[str, str | None, int]],
    page_size: int,
    progress: Progress,
) -> FitCheck:
    """The first pass: every document still to be copied, checked against ``target``
    (``TargetLimitError`` if any cannot move) and counted per collection."""
    fit = FitCheck(target)
    if todo:
        progress.note("checking that every document fits the target ...")
    for name, cursor, _ in todo:
        progress.start(f"{name} (checking)")

        async def check(items: list[Document], _: str | None, name: str = name) -> None:
            for doc in items:
                await fit.check(name, doc["_id"], doc)
            progress.advance(len(items))

        await for_each_page(source, name, cursor, page_size, check)
        fit.counts.setdefault(name, 0)
        progress.finish()
    fit.raise_if_any()
    return fit


async def _copy_collection(
    source: DatabaseService,
    target: DatabaseService,
    name: str,
    cursor: str | None,
    done: int,
    page_size: int,
    progress: Progress,
    record: Callable[[int, str], None],
) -> int:
    """Copy one collection from ``cursor`` on, with up to ``WRITES_IN_FLIGHT`` pages being
    written at once. ``record(copied, next_cursor)`` runs for each page in order, once it
    and every page before it are completely written, so a checkpoint never skips a page.
    Returns the number of documents copied in all."""
    copied = done
    pending: deque[tuple[anyio.Event, int, str | None]] = deque()

    async def settle(limit: int) -> None:
        """Wait for the oldest writes until at most ``limit`` are in flight."""
        nonlocal copied
        while len(pending) > limit:
            finished, count, next_cursor = pending.popleft()
            await finished.wait()
            copied += count
            progress.advance(count)
            if next_cursor is not None:
                record(copied, next_cursor)

    async def write(items: list[Document], finished: anyio.Event) -> None:
        await write_batch(target, name, items)
        finished.set()

    try:
        async with anyio.create_task_group() as writers:

            async def copy(items: list[Document], next_cursor: str | None) -> None:
                finished = anyio.Event()
                pending.append((finished, len(items), next_cursor))
                writers.start_soon(write, items, finished)
                await settle(WRITES_IN_FLIGHT - 1)

            await for_each_page(source, name, cursor, page_size, copy)
            await settle(0)
    except BaseExceptionGroup as errors:
        raise first_error(errors) from None
    return copied
