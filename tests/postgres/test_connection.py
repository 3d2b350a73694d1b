"""Start-up errors, secrets, a user's pool (client=), and writes whose answer is lost."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from asyncdb import Settings, create_database_service
from asyncdb._retry import Failure
from asyncdb._service import DatabaseService
from asyncdb.drivers.postgres import PostgresDriver
from asyncdb.drivers.postgres._errors import NotSent, classify
from asyncdb.errors import (
    AuthenticationError,
    BackendUnavailableError,
    ConfigurationError,
    WriteOutcomeUnknownError,
)
from tests.backends._process import free_port


def _with(url: str, *, password: str | None = None, database: str | None = None) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if password is not None:
        user = parts.username or ""
        netloc = f"{user}:{password}@{netloc.rpartition('@')[2]}"
    path = f"/{database}" if database is not None else parts.path
    return urlunsplit((parts.scheme, netloc, path, parts.query, ""))


async def test_a_wrong_password_is_an_authentication_error_at_start_up(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="asyncdb")
    secret = "wrong-secret-1234"
    driver = PostgresDriver(_with(postgres_url, password=secret), max_retries=3)
    with pytest.raises(AuthenticationError, match="refused the credentials of user") as caught:
        await driver.open()
    await driver.aclose()
    assert secret not in str(caught.value)
    assert secret not in repr(driver) and secret not in driver.describe()
    assert secret not in caplog.text


async def test_an_unknown_database_is_a_configuration_error(postgres_url: str) -> None:
    driver = PostgresDriver(_with(postgres_url, database="no_such_db_here"))
    with pytest.raises(ConfigurationError, match="'no_such_db_here' does not exist"):
        await driver.open()
    await driver.aclose()


async def test_an_unreachable_server_is_unavailable_after_the_retries() -> None:
    url = f"postgresql://u:topsecret@127.0.0.1:{free_port()}/db"
    driver = PostgresDriver(url, max_retries=1, connect_timeout=2.0)
    with pytest.raises(BackendUnavailableError, match="is unreachable") as caught:
        await driver.open()
    await driver.aclose()
    assert not isinstance(caught.value, WriteOutcomeUnknownError)
    assert "topsecret" not in str(caught.value)


def test_a_url_that_is_not_postgresql_is_refused_before_any_io() -> None:
    with pytest.raises(ConfigurationError, match="postgresql://"):
        PostgresDriver("mysql://u:p@h/db")
    with pytest.raises(ConfigurationError, match=r"schema\.table"):
        PostgresDriver("postgresql://h/db", table="Bad-Name")
    with pytest.raises(ConfigurationError, match="POSTGRES_URL is not set"):
        PostgresDriver()


async def test_configured_from_database_url_and_the_password_stays_hidden(
    postgres_url: str,
) -> None:
    password = urlsplit(postgres_url).password
    assert password
    service = create_database_service(
        Settings(database_url=postgres_url.replace("postgresql://", "postgres://", 1))
    )
    try:
        assert password not in repr(service)
        saved = await service.save("conn_tests", "a", {"v": 1})
        assert (await service.get("conn_tests", "a"))["_rev"] == saved["_rev"]
        await service.drop_collection("conn_tests")
    finally:
        await service.aclose()


async def test_a_users_pool_is_used_and_never_closed(postgres_url: str, table: str) -> None:
    pool = await asyncpg.create_pool(postgres_url, min_size=1, max_size=2)
    try:
        service = DatabaseService(PostgresDriver(client=pool, table=table))
        saved = await service.save("things", "a", {"v": 1})
        assert (await service.get("things", "a"))["_rev"] == saved["_rev"]
        await service.aclose()
        assert not pool.is_closing()
        assert await pool.fetchval(f'SELECT count(*) FROM "{table}"') == 1
    finally:
        await pool.execute(f'DROP TABLE IF EXISTS "{table}"')
        await pool.close()


def test_failures_are_classified_by_whether_they_may_have_landed() -> None:
    assert classify(NotSent(ConnectionRefusedError())) is Failure.NOT_APPLIED
    assert classify(NotSent(asyncpg.InvalidPasswordError("no"))) is Failure.FINAL
    assert classify(NotSent(asyncpg.InvalidCatalogNameError("no"))) is Failure.FINAL
    assert classify(NotSent(asyncpg.CannotConnectNowError("starting"))) is Failure.NOT_APPLIED
    assert classify(ConnectionResetError()) is Failure.AMBIGUOUS
    assert classify(TimeoutError()) is Failure.AMBIGUOUS
    assert classify(asyncpg.ConnectionDoesNotExistError("gone")) is Failure.AMBIGUOUS
    assert classify(asyncpg.AdminShutdownError("bye")) is Failure.AMBIGUOUS
    assert classify(asyncpg.SerializationError("again")) is Failure.NOT_APPLIED
    assert classify(asyncpg.DeadlockDetectedError("again")) is Failure.NOT_APPLIED
    assert classify(asyncpg.UniqueViolationError("dup")) is Failure.FINAL


# -- lost answers: the statement ran, the answer never came back ---------------------------


def _lose_answers(
    driver: PostgresDriver, count: int, meanwhile: Callable[[], Awaitable[Any]] | None = None
) -> list[int]:
    """Make the next ``count`` statements of ``driver`` run and then fail as a reset
    connection would; ``meanwhile`` runs before each failure (another writer)."""
    transport = driver._transport
    original = transport._call
    lost = [0]

    def lossy(work: Any, what: str, attempts: Any = None) -> Any:
        async def wrapped(connection: Any) -> Any:
            result = await work(connection)
            if lost[0] < count:
                lost[0] += 1
                if meanwhile is not None:
                    await meanwhile()
                raise ConnectionResetError("the answer was lost")
            return result

        return original(wrapped, what, attempts)

    transport._call = lossy  # type: ignore[method-assign]
    return lost


async def test_a_conditional_write_whose_answer_was_lost_is_applied_once(
    make_driver: Callable[..., PostgresDriver],
) -> None:
    driver = make_driver()
    db = DatabaseService(driver)
    first = await db.save("things", "a", {"v": 1})
    lost = _lose_answers(driver, 1)
    second = await db.save("things", "a", {"v": 2, "_rev": first["_rev"]})
    assert lost == [1]
    stored = await db.get("things", "a")
    assert stored["_rev"] == second["_rev"] and second["_rev"].startswith("2-")
    assert stored["v"] == 2
    await db.aclose()


async def test_an_unconditional_write_whose_answer_was_lost_is_confirmed_not_resent(
    make_driver: Callable[..., PostgresDriver],
) -> None:
    driver = make_driver()
    db = DatabaseService(driver)
    await db.save("things", "a", {"v": 1})
    _lose_answers(driver, 1)
    saved = await db.save("things", "a", {"v": 2})
    stored = await db.get("things", "a")
    assert stored["_rev"] == saved["_rev"] and saved["_rev"].startswith("2-")  # once
    await db.aclose()


async def test_a_lost_write_overtaken_by_another_writer_is_outcome_unknown(
    make_driver: Callable[..., PostgresDriver],
) -> None:
    driver = make_driver()
    other = DatabaseService(make_driver())
    db = DatabaseService(driver)
    await db.save("things", "a", {"v": 1})
    _lose_answers(driver, 1, meanwhile=lambda: other.save("things", "a", {"v": "other"}))
    with pytest.raises(WriteOutcomeUnknownError):
        await db.save("things", "a", {"v": 2})
    # Never re-sent over the other writer's value.
    assert (await other.get("things", "a"))["v"] == "other"
    await db.aclose()
    await other.aclose()


async def test_a_create_whose_answer_was_lost_is_acknowledged_not_a_conflict(
    make_driver: Callable[..., PostgresDriver],
) -> None:
    driver = make_driver()
    db = DatabaseService(driver)
    _lose_answers(driver, 1)
    created = await db.create("things", "fresh", {"v": 1})
    assert (await db.get("things", "fresh"))["_rev"] == created["_rev"]
    await db.aclose()


async def test_a_bulk_write_whose_answer_was_lost_reports_every_document_once(
    make_driver: Callable[..., PostgresDriver],
) -> None:
    driver = make_driver()
    db = DatabaseService(driver)
    first = await db.save("things", "old", {"v": 1})
    _lose_answers(driver, 1)
    result = await db.save_many(
        "things",
        [
            {"_id": "old", "v": 2, "_rev": first["_rev"]},
            {"_id": "new", "v": 1},
            {"_id": "plain", "v": 1},
        ],
    )
    assert result.ok, result.failed
    for outcome in result:
        stored = await db.get("things", outcome.id)
        assert stored["_rev"] == outcome.rev
    assert (await db.get("things", "old"))["_rev"].startswith("2-")
    await db.aclose()


async def test_a_lost_answer_that_never_recovers_is_outcome_unknown_not_unavailable(
    make_driver: Callable[..., PostgresDriver],
) -> None:
    driver = make_driver(max_retries=2)
    db = DatabaseService(driver)
    await db.save("things", "a", {"v": 1})
    _lose_answers(driver, 10)
    with pytest.raises(WriteOutcomeUnknownError):
        await db.save("things", "a", {"v": 2})
    await db.aclose()


async def test_settings_name_the_table(postgres_url: str, table: str) -> None:
    settings = Settings(
        database_provider="postgres", postgres_url=postgres_url, postgres_table=table
    )
    service = create_database_service(settings)
    try:
        await service.save("things", "a", {"v": 1})
        assert table in repr(service)
    finally:
        await service.aclose()
    connection = await asyncpg.connect(postgres_url)
    try:
        assert await connection.fetchval(f'SELECT count(*) FROM "{table}"') == 1
        await connection.execute(f'DROP TABLE "{table}"')
    finally:
        await connection.close()
