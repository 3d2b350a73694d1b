"""Test doubles shared by the middleware tests: an inner driver that echoes every call,
and a wrapper whose hook records what it sees."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from asyncdb.drivers.base import Driver, DriverLimits
from asyncdb.middleware import DriverCall, DriverWrapper, Proceed

T = TypeVar("T")

#: The Driver members that do no I/O and so, by design, bypass the hook.
NO_IO = frozenset({"from_settings", "describe", "native_document_size", "can_find"})


def io_methods() -> list[str]:
    """Every public method of the Driver ABC that does I/O, found by introspection, so
    that a method added to the ABC is in this list without anyone editing a test."""
    return sorted(
        name
        for name, member in inspect.getmembers(Driver)
        if not name.startswith("_") and callable(member) and name not in NO_IO
    )


class Arg:
    """A distinct, recognisable argument value."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Arg({self.name})"


def arguments_for(operation: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """One ``Arg`` per parameter of the ABC's method: positional ones by position,
    keyword-only ones by name (every parameter given, defaults included)."""
    signature = inspect.signature(getattr(Driver, operation))
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for parameter in list(signature.parameters.values())[1:]:  # without self
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY:
            kwargs[parameter.name] = Arg(parameter.name)
        else:
            args.append(Arg(parameter.name))
    return tuple(args), kwargs


class Echo:
    """An inner "driver" whose every method records its arguments and returns a marker."""

    name = "echo"
    limits = DriverLimits()

    def __init__(self, fail: BaseException | None = None) -> None:
        self.seen: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.fail = fail

    def describe(self) -> str:
        return "echo driver"

    def native_document_size(self, doc_id: str, body: dict[str, Any]) -> int:
        return 7

    def __getattr__(self, operation: str) -> Callable[..., Awaitable[Any]]:
        if operation.startswith("_"):
            raise AttributeError(operation)

        async def method(*args: Any, **kwargs: Any) -> Any:
            self.seen.append((operation, args, kwargs))
            if self.fail is not None:
                raise self.fail
            return ("result of", operation)

        return method

    def as_driver(self) -> Driver:
        return cast(Driver, self)


class Spy(DriverWrapper):
    """A pass-through middleware that records every call its hook sees."""

    def __init__(self, inner: Driver) -> None:
        super().__init__(inner)
        self.calls: list[DriverCall[Any]] = []

    async def around(self, call: DriverCall[T], proceed: Proceed[T]) -> T:
        self.calls.append(call)
        return await proceed(call)
