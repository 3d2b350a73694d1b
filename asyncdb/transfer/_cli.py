"""The ``export``, ``import`` and ``migrate`` commands of the ``asyncdb`` CLI.

``register(subparsers)`` registers them on the CLI's argparse sub-parsers; each
command's handler returns the process exit status: 0 done (and, with ``--verify``, equal),
1 a failure, a difference or documents that do not fit the target, 2 bad arguments or
configuration (the memory provider included: it would vanish when the command exits).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO

import anyio

from asyncdb._factory import create_database_service
from asyncdb._service import DatabaseService
from asyncdb._settings import Settings, settings_from_url
from asyncdb._urls import redact_url
from asyncdb.errors import AsyncDBError, ConfigurationError
from asyncdb.transfer._checkpoint import fingerprint
from asyncdb.transfer._engine import TransferReport, export_collections, import_file, migrate
from asyncdb.transfer._fit import TargetLimitError
from asyncdb.transfer._progress import Progress
from asyncdb.transfer._verify import VerifyReport, verify

__all__ = ["main", "register"]

logger = logging.getLogger("asyncdb")


def register(subparsers: Any) -> None:
    """Register ``export``, ``import`` and ``migrate`` on an argparse sub-parser group."""
    url_help = "provider URL (default: DATABASE_URL / DATABASE_PROVIDER from the environment)"

    export = subparsers.add_parser("export", help="write collections to an NDJSON file")
    export.add_argument("file", type=Path, help="output file; .gz compresses")
    export.add_argument("--url", help=url_help)
    _common(export)
    export.set_defaults(handler=_export)

    imp = subparsers.add_parser("import", help="read an NDJSON export into a provider")
    imp.add_argument("file", type=Path, help="input file (.gz is decompressed)")
    imp.add_argument("--url", help=url_help)
    imp.add_argument("--dry-run", action="store_true", help="check the file, write nothing")
    imp.add_argument("--quiet", action="store_true", help="no progress output")
    imp.set_defaults(handler=_import)

    mig = subparsers.add_parser("migrate", help="copy collections from one provider to another")
    mig.add_argument("--from", dest="source", required=True, help="source provider URL")
    mig.add_argument("--to", dest="target", required=True, help="target provider URL")
    mig.add_argument("--verify", action="store_true", help="compare both sides afterwards")
    mig.add_argument(
        "--checkpoint",
        type=Path,
        help="checkpoint file (default: .asyncdb-migrate-<id>.json in the current directory)",
    )
    _common(mig)
    mig.set_defaults(handler=_migrate)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--collections", help="comma-separated collection names (default: all of them)"
    )
    parser.add_argument("--dry-run", action="store_true", help="read and count, write nothing")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    parser.add_argument(
        "--page-size", type=_page_size, default=500, help="documents per page read (1-1000)"
    )


def _page_size(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError("must be between 1 and 1000")
    return value


def _memory_refusal(url: str | None, role: str) -> str:
    named = "memory://" if url is not None else "the default provider (memory)"
    hint = "" if url is not None else " with --url or DATABASE_URL"
    return (
        f"asyncdb: refusing {named} as the {role}: memory lives only inside one process and "
        f"vanishes when this command exits; name a real provider{hint}"
    )


def _service(settings: Settings) -> DatabaseService:
    return create_database_service(settings)


def _collections(args: argparse.Namespace) -> list[str] | None:
    if not args.collections:
        return None
    return [name.strip() for name in args.collections.split(",") if name.strip()]


def _run(job: Callable[[], Awaitable[int]], err: TextIO) -> int:
    try:
        return anyio.run(job)
    except TargetLimitError as exc:
        _print_misfits(exc, err)
        return 1
    except ConfigurationError as exc:
        err.write(f"asyncdb: configuration error: {exc}\n")
        return 2
    except AsyncDBError as exc:
        err.write(f"asyncdb: {type(exc).__name__}: {exc}\n")
        return 1
    except OSError as exc:
        err.write(f"asyncdb: {exc}\n")
        return 1


def _print_misfits(error: TargetLimitError, err: TextIO) -> None:
    for misfit in error.misfits:
        err.write(
            f"asyncdb: cannot move {misfit.collection}/{misfit.id}: {misfit.size:,} bytes, "
            f"the target's limit is {misfit.limit:,}\n"
        )
    if error.total > len(error.misfits):
        err.write(f"asyncdb: ... and {error.total - len(error.misfits)} more\n")
    err.write(f"asyncdb: {error}\n")


def _configured(err: TextIO, *pairs: tuple[str | None, str]) -> list[Settings] | int:
    """The settings of each ``(url, role)`` (the environment's for ``None``), or the exit
    status 2 after one line on ``err``: a configuration error, or the memory provider,
    which lives inside one process, so it would be empty as a source and gone as a target
    as soon as the command exits."""
    try:
        configured = [
            (Settings() if url is None else settings_from_url(url)).resolved() for url, _ in pairs
        ]
    except ConfigurationError as exc:
        err.write(f"asyncdb: configuration error: {exc}\n")
        return 2
    for (url, role), settings in zip(pairs, configured, strict=True):
        if settings.database_provider == "memory":
            err.write(_memory_refusal(url, role) + "\n")
            return 2
    return configured


_PAST = {"export": "exported", "import": "imported", "copy": "copied"}


def _summary(report: TransferReport, verb: str, out: TextIO) -> None:
    what = f"would {verb}" if report.dry_run else _PAST[verb]
    for name, count in report.counts.items():
        out.write(f"{name}: {count} documents\n")
    out.write(f"{what} {report.total} documents in {len(report.counts)} collections\n")


def _export(args: argparse.Namespace) -> int:
    async def export(source: DatabaseService) -> TransferReport:
        return await export_collections(
            source,
            args.file,
            _collections(args),
            dry_run=args.dry_run,
            progress=Progress(quiet=args.quiet),
            page_size=args.page_size,
        )

    return _transfer(args.url, "source", "export", export)


def _import(args: argparse.Namespace) -> int:
    async def import_(target: DatabaseService) -> TransferReport:
        progress = Progress(quiet=args.quiet)
        return await import_file(target, args.file, dry_run=args.dry_run, progress=progress)

    return _transfer(args.url, "target", "import", import_)


def _transfer(
    url: str | None,
    role: str,
    verb: str,
    transfer: Callable[[DatabaseService], Awaitable[TransferReport]],
) -> int:
    """Export or import: ``transfer`` on the one service ``url`` configures, then its
    summary; the exit status."""
    configured = _configured(sys.stderr, (url, role))
    if isinstance(configured, int):
        return configured

    async def job() -> int:
        async with _service(configured[0]) as service:
            report = await transfer(service)
        _summary(report, verb, sys.stdout)
        return 0

    return _run(job, sys.stderr)


def _migrate(args: argparse.Namespace) -> int:
    collections = _collections(args)
    identity = fingerprint(
        redact_url(args.source), redact_url(args.target), ",".join(sorted(collections or []))
    )
    checkpoint = args.checkpoint or Path(f".asyncdb-migrate-{identity[:12]}.json")
    configured = _configured(sys.stderr, (args.source, "source"), (args.target, "target"))
    if isinstance(configured, int):
        return configured
    source_settings, target_settings = configured

    async def job() -> int:
        async with _service(source_settings) as source, _service(target_settings) as target:
            progress = Progress(quiet=args.quiet)
            progress.note(f"migrating {redact_url(args.source)} -> {redact_url(args.target)}")
            report = await migrate(
                source,
                target,
                collections,
                checkpoint_path=checkpoint,
                checkpoint_id=identity,
                dry_run=args.dry_run,
                progress=progress,
                page_size=args.page_size,
            )
            _summary(report, "copy", sys.stdout)
            if not args.verify:
                return 0
            progress.note("verifying ...")
            result = await verify(source, target, collections)
            _print_verification(result, sys.stdout)
            return 0 if result.equal else 1

    return _run(job, sys.stderr)


def _print_verification(result: VerifyReport, out: TextIO) -> None:
    for name, (source_count, target_count) in result.counts.items():
        out.write(f"{name}: source {source_count}, target {target_count}\n")
    for difference in result.differences:
        out.write(f"  {difference.kind}: {difference.collection}/{difference.id}\n")
    out.write(
        "verified: identical\n"
        if result.equal
        else f"verified: {len(result.differences)} differences\n"
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m asyncdb.transfer``: the transfer commands on their own (the ``asyncdb``
    command offers the same ones)."""
    parser = argparse.ArgumentParser(prog="python -m asyncdb.transfer")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)
