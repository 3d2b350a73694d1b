"""One spelling of the API: ``asyncdb.abc.DocumentService`` is the face's API, and every
other spelling is held to it here — ``DatabaseService`` (its methods are exactly the
protocol's), the blocking ``SyncDatabaseService`` (the same methods and parameters,
without ``await``; ``aclose`` is ``close``) and the harness's ``AwaitedSyncFacade``.

mypy checks the awaited ones structurally (``asyncdb/abc.py``, ``testing/harness.py``);
it cannot check a blocking twin, nor parameter names and defaults, which this does.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

import pytest

import asyncdb.abc
from asyncdb import DatabaseService, Document, Page, SyncDatabaseService
from asyncdb.abc import DocumentService
from asyncdb.testing import AwaitedSyncFacade

#: The blocking facade's name for a protocol method, where it differs.
BLOCKING_NAMES = {"aclose": "close"}


def protocol_methods() -> list[str]:
    return sorted(
        name
        for name, _ in inspect.getmembers(DocumentService, inspect.isfunction)
        if not name.startswith("_")
    )


def _parameters(function: Any) -> list[tuple[str, Any, Any, Any]]:
    hints = typing.get_type_hints(function)
    return [
        (p.name, p.kind, p.default, hints.get(p.name))
        for p in list(inspect.signature(function).parameters.values())[1:]  # without self
    ]


def _returns(function: Any) -> Any:
    return typing.get_type_hints(function).get("return")


def _iterated(annotation: Any) -> tuple[type, Any] | None:
    """``(AsyncIterator, X)`` for ``AsyncIterator[X]`` and its kin, else ``None``."""
    origin = typing.get_origin(annotation)
    if isinstance(origin, type) and issubclass(origin, AsyncIterator | Iterator):
        return origin, typing.get_args(annotation)[0]
    return None


def differences(implementation: type, *, blocking: bool) -> list[str]:
    """How ``implementation`` departs from ``DocumentService`` (``[]``: it does not)."""
    found: list[str] = []
    for name in protocol_methods():
        expected = getattr(DocumentService, name)
        actual_name = BLOCKING_NAMES.get(name, name) if blocking else name
        actual = getattr(implementation, actual_name, None)
        where = f"{implementation.__name__}.{actual_name}"
        if not inspect.isfunction(actual):
            found.append(f"{where} is missing")
            continue
        if _parameters(actual) != _parameters(expected):
            found.append(f"{where}{inspect.signature(actual)} differs in its parameters")
        found.extend(_compare_kinds(where, expected, actual, blocking=blocking))
    return found


def _compare_kinds(where: str, expected: Any, actual: Any, *, blocking: bool) -> list[str]:
    wanted, got = _returns(expected), _returns(actual)
    awaited = inspect.iscoroutinefunction(actual) or inspect.isasyncgenfunction(actual)
    streamed = _iterated(wanted)
    if streamed is None:  # an ``async def`` of the protocol
        if blocking and awaited:
            return [f"{where} is async; the blocking facade must block"]
        if not blocking and not inspect.iscoroutinefunction(actual):
            return [f"{where} is not async"]
        return [] if got == wanted else [f"{where} returns {got}, not {wanted}"]
    # ``iter_all``: an async iterator, or a plain one on the blocking facade.
    iterated = _iterated(got)
    want_origin = Iterator if blocking else AsyncIterator
    if iterated is None or not issubclass(iterated[0], want_origin) or awaited == blocking:
        return [f"{where} returns {got}, not {want_origin.__name__}[{streamed[1]}]"]
    return [] if iterated[1] == streamed[1] else [f"{where} yields {iterated[1]}"]


# --------------------------------------------------------------------------------------------
# the implementations
# --------------------------------------------------------------------------------------------


def test_database_service_has_exactly_the_protocol_methods() -> None:
    public = {
        name
        for name, _ in inspect.getmembers(DatabaseService, inspect.isfunction)
        if not name.startswith("_")
    }
    assert public == set(protocol_methods())


@pytest.mark.parametrize(
    ("implementation", "blocking"),
    [(DatabaseService, False), (SyncDatabaseService, True), (AwaitedSyncFacade, False)],
    ids=["DatabaseService", "SyncDatabaseService", "AwaitedSyncFacade"],
)
def test_every_spelling_of_the_api_matches_the_protocol(
    implementation: type, blocking: bool
) -> None:
    assert differences(implementation, blocking=blocking) == []


def test_the_protocol_lives_beside_its_types() -> None:
    for name in ("Driver", "Record", "WriteOutcome", "Page", "BulkResult", "Document"):
        assert name in asyncdb.abc.__all__
    assert asyncdb.abc.Page is Page
    assert asyncdb.abc.Driver is asyncdb.Driver


def test_the_facade_shows_the_real_signatures_and_docs() -> None:
    """What ``help()`` and an IDE show: the face's parameters and docstring."""
    assert str(inspect.signature(SyncDatabaseService.get)) == (
        "(self, collection: 'str', doc_id: 'str') -> 'Document'"
    )
    assert SyncDatabaseService.update.__doc__ == DatabaseService.update.__doc__
    assert SyncDatabaseService.get.__qualname__ == "SyncDatabaseService.get"


# --------------------------------------------------------------------------------------------
# the check fails when a spelling drifts
# --------------------------------------------------------------------------------------------


class _Base(SyncDatabaseService):
    pass


class _LacksFind:
    """A facade without ``find``."""

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


for _name in protocol_methods():
    _blocking_name = BLOCKING_NAMES.get(_name, _name)
    if _name != "find":
        setattr(_LacksFind, _blocking_name, getattr(SyncDatabaseService, _blocking_name))


class _RenamedParameter(_Base):
    def get(self, collection: str, document_id: str) -> Document:
        raise NotImplementedError


class _OtherDefault(_Base):
    def list_page(self, collection: str, limit: int = 50, cursor: str | None = None) -> Page:
        raise NotImplementedError


class _PositionalNotKeyword(_Base):
    def update(
        self,
        collection: str,
        doc_id: str,
        fn: Any,
        default: Mapping[str, Any] | None = None,
        attempts: int | None = None,
    ) -> Document:
        raise NotImplementedError


class _OtherType(_Base):
    def get_many(  # type: ignore[override]
        self, collection: str, ids: list[str]
    ) -> dict[str, Document | None]:
        raise NotImplementedError


class _AsyncInTheFacade(_Base):
    async def delete(  # type: ignore[override]
        self, collection: str, doc_id: str, rev: str | None = None
    ) -> bool:
        raise NotImplementedError


class _OtherReturn(_Base):
    def ensure_index(  # type: ignore[override]
        self, collection: str, fields: Sequence[str], *, order_by: Sequence[str] | None = None
    ) -> bool:
        raise NotImplementedError


class _AsyncIterAll(_Base):
    async def iter_all(  # type: ignore[override]
        self, collection: str, page_size: int = 500
    ) -> AsyncIterator[Any]:
        yield None


@pytest.mark.parametrize(
    ("broken", "complaint"),
    [
        (_LacksFind, "_LacksFind.find is missing"),
        (_RenamedParameter, "_RenamedParameter.get(self, collection: 'str', document_id: 'str')"),
        (_OtherDefault, "_OtherDefault.list_page"),
        (_PositionalNotKeyword, "_PositionalNotKeyword.update"),
        (_OtherType, "_OtherType.get_many"),
        (_AsyncInTheFacade, "_AsyncInTheFacade.delete is async"),
        (_OtherReturn, "_OtherReturn.ensure_index returns"),
        (_AsyncIterAll, "_AsyncIterAll.iter_all returns"),
    ],
    ids=lambda value: value if isinstance(value, str) else value.__name__,
)
def test_a_facade_that_drifts_is_caught(broken: type, complaint: str) -> None:
    found = differences(broken, blocking=True)
    assert len(found) == 1, found
    assert found[0].startswith(complaint), found


class _NotAwaited:
    """An awaited implementation whose ``get`` blocks."""


for _name in protocol_methods():
    setattr(_NotAwaited, _name, getattr(AwaitedSyncFacade, _name))
_NotAwaited.get = SyncDatabaseService.get  # type: ignore[attr-defined]


def test_an_awaited_implementation_that_blocks_is_caught() -> None:
    assert differences(_NotAwaited, blocking=False) == ["_NotAwaited.get is not async"]
