"""Migration between every ordered pair of real backends, export/import through a file,
and a migration killed half-way that resumes and verifies identical.

The data set: 10,000 documents in three collections, including 1,000 awkward documents
drawn (deterministically) from the conformance suite's property-based generator.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings

from asyncdb import DatabaseService, create_database_service
from asyncdb._settings import settings_from_url
from asyncdb.drivers.memory import MemoryDriver
from asyncdb.testing.harness import random_prefix
from asyncdb.testing.strategies import document_ids, documents
from asyncdb.transfer import export_collections, import_file, migrate, verify
from tests.backends.dynamodb import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, DynamoDBEndpoint
from tests.backends.firestore import TEST_PROJECT

BACKENDS = ["memory", "couchdb", "dynamodb", "firestore", "postgres", "sqlite"]
TOTAL, USERS, AWKWARD = 10_000, 3_000, 300


def _has_proto_key(value: object) -> bool:
    if isinstance(value, dict):
        return any(key == "__proto__" or _has_proto_key(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_proto_key(item) for item in value)
    return False


def _awkward_documents(count: int) -> list[dict[str, Any]]:
    """``count`` distinct documents from the property-based generator, the same every run.

    Without a ``__proto__`` key: the Node.js stand-ins (pouchdb-server, dynalite) drop a
    nested one silently (a JavaScript object quirk); real CouchDB and DynamoDB keep it.
    """
    drawn: dict[str, dict[str, Any]] = {}

    @settings(
        max_examples=count * 3,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(doc_id=document_ids, body=documents)
    def collect(doc_id: str, body: dict[str, Any]) -> None:
        if len(drawn) < count and not _has_proto_key(body):
            drawn.setdefault(doc_id, {"_id": doc_id, **body})

    collect()
    return list(drawn.values())


@pytest.fixture(scope="module")
def dataset() -> dict[str, list[dict[str, Any]]]:
    awkward = _awkward_documents(AWKWARD)
    assert len(awkward) > AWKWARD // 2, "the generator gave too few distinct documents"
    agents = [
        {
            "_id": f"agent-{i:05d}",
            "name": f"agent {i}",
            "tools": {"web": ["search", "fetch"]},
            "score": i / 7,
            "enabled": i % 3 == 0,
            "gofannon_agents": [f"agent-{j:05d}" for j in range(i % 4)],
        }
        for i in range(TOTAL - USERS - len(awkward))
    ]
    users = [
        {
            "_id": f"user_google_{i}",
            "usage_info": {"spend_remaining": 10.0 - i / 1000, "usage": [{"cost": 0.25}] * (i % 3)},
        }
        for i in range(USERS)
    ]
    return {"agents": agents, "users": users, "awkward": awkward}


@pytest.fixture
def provider_url(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[[str], str]:
    """The provider URL of a backend (starting its server on first use), with a new prefix."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)

    def url(backend: str) -> str:
        prefix = random_prefix()
        if backend == "couchdb":
            base = request.getfixturevalue("couchdb_url")
            return base.replace("http", "couchdb", 1) + f"?prefix={prefix}"
        if backend == "dynamodb":
            endpoint: DynamoDBEndpoint = request.getfixturevalue("dynalite_endpoint")
            return f"dynamodb://?region={REGION}&endpoint={endpoint.url}&prefix={prefix}"
        if backend == "firestore":
            host = request.getfixturevalue("firestore_host")
            return f"firestore://{TEST_PROJECT}?emulator={host}&prefix={prefix}"
        if backend == "postgres":
            base = request.getfixturevalue("postgres_url")
            return base + ("&" if "?" in base else "?") + f"prefix={prefix}"
        if backend == "sqlite":
            # sqlite:////absolute/path: a file of the test's own.
            return f"sqlite:///{tmp_path / f'{prefix}.sqlite3'}?prefix={prefix}"
        raise ValueError(backend)

    return url


@pytest.fixture
async def open_service(
    provider_url: Callable[[str], str],
) -> AsyncIterator[Callable[[str], Awaitable[DatabaseService]]]:
    """Open a service on a backend with a fresh prefix; everything is dropped afterwards."""
    opened: list[DatabaseService] = []

    async def open_one(backend: str) -> DatabaseService:
        if backend == "memory":
            service = DatabaseService(MemoryDriver())
        else:
            service = create_database_service(settings_from_url(provider_url(backend)))
        opened.append(service)
        return service

    yield open_one
    for service in opened:
        for name in ("agents", "users", "awkward"):
            await service.drop_collection(name)
        await service.aclose()


async def _fill(service: DatabaseService, dataset: dict[str, list[dict[str, Any]]]) -> None:
    for name, docs in dataset.items():
        for start in range(0, len(docs), 1000):
            result = await service.save_many(name, docs[start : start + 1000])
            assert result.ok, result.failed[:3]


def _targets_of(source: str) -> list[str]:
    """Two targets per source, around the ring of backends: every backend is a source
    and twice a target, across twelve distinct pairs. (Every pair, thirty migrations of
    10,000 documents, was most of the suite's time; a pair has no code of its own — a
    migration is one backend's reads and another's writes, each proven here.)"""
    index = BACKENDS.index(source)
    return [BACKENDS[(index + step) % len(BACKENDS)] for step in (1, 3)]


def test_the_ring_reaches_every_backend_from_every_other_side() -> None:
    pairs = {(source, target) for source in BACKENDS for target in _targets_of(source)}
    assert len(pairs) == 2 * len(BACKENDS)
    assert all(source != target for source, target in pairs)
    assert {target for _, target in pairs} == set(BACKENDS)


@pytest.mark.parametrize("source_backend", BACKENDS)
async def test_migrate_to_two_other_backends_and_round_trip_a_file(
    source_backend: str,
    dataset: dict[str, list[dict[str, Any]]],
    open_service: Callable[[str], Awaitable[DatabaseService]],
    tmp_path: Path,
) -> None:
    total = sum(len(docs) for docs in dataset.values())
    assert total == TOTAL
    source = await open_service(source_backend)
    await _fill(source, dataset)
    collections = sorted(dataset)
    for target_backend in _targets_of(source_backend):
        target = await open_service(target_backend)
        report = await migrate(source, target, collections)
        pair = f"{source_backend} -> {target_backend}"
        assert report.total == total, pair
        result = await verify(source, target, collections)
        assert result.equal, (pair, result.differences[:10])
        assert result.counts == {name: (len(d), len(d)) for name, d in dataset.items()}, pair
    export = tmp_path / f"{source_backend}.ndjson.gz"
    exported = await export_collections(source, export, collections)
    assert exported.total == total
    restored = DatabaseService(MemoryDriver())
    assert (await import_file(restored, export)).total == total
    assert (await verify(source, restored, collections)).equal


def _copied_so_far(path: Path, sizes: dict[str, int]) -> int:
    """Documents a running migration has recorded as written, from its checkpoint."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return 0
    return int(state.get("copied", 0)) + sum(sizes[name] for name in state.get("finished", []))


async def test_a_killed_migration_resumes_and_verifies_identical(
    dataset: dict[str, list[dict[str, Any]]],
    open_service: Callable[[str], Awaitable[DatabaseService]],
    provider_url: Callable[[str], str],
    tmp_path: Path,
) -> None:
    source_url, target_url = provider_url("couchdb"), provider_url("dynamodb")
    source = create_database_service(settings_from_url(source_url))
    target = create_database_service(settings_from_url(target_url))
    try:
        await _fill(source, dataset)
        checkpoint = tmp_path / "checkpoint.json"
        command = [
            sys.executable, "-m", "asyncdb.transfer", "migrate",
            "--from", source_url, "--to", target_url,
            "--collections", "agents,awkward,users",
            "--checkpoint", str(checkpoint), "--page-size", "100",
        ]  # fmt: skip
        sizes = {name: len(docs) for name, docs in dataset.items()}
        async with await anyio.open_process(command) as first:
            with anyio.fail_after(120):  # a hang is a failure, not a stuck CI run
                while _copied_so_far(checkpoint, sizes) < 2_000:
                    assert first.returncode is None, "the migration ended before it was killed"
                    await anyio.sleep(0.02)
            first.send_signal(signal.SIGKILL)
            await first.wait()
        partial = (await verify(source, target, sorted(dataset))).differences
        assert partial, "the migration had already finished when it was killed"
        with anyio.fail_after(300):
            second = await anyio.run_process([*command, "--verify"], check=False)
        output, errors = second.stdout.decode(), second.stderr.decode()
        assert second.returncode == 0, output + errors
        assert "resuming" in errors
        assert "verified: identical" in output
        assert not checkpoint.exists()
        assert (await verify(source, target, sorted(dataset))).equal
    finally:
        for service in (source, target):
            for name in dataset:
                await service.drop_collection(name)
            await service.aclose()
