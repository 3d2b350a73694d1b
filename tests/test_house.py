"""The shape of the package: what is public, the import graph, module sizes.

These guard decisions that are easy to undo by accident: a new module is public only when
it is listed here; ``asyncdb.__all__`` changes only on purpose; no import circle; no module
over 500 lines; the face imports no driver and no driver imports another.
"""

from __future__ import annotations

import ast
import functools
import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import asyncdb

PACKAGE = Path(asyncdb.__file__).parent

#: Every public module: importable by users by its path, with an ``__all__``. A module
#: whose name (or a parent's) starts with ``_`` is private.
PUBLIC_MODULES = {
    "asyncdb",
    "asyncdb.abc",
    "asyncdb.cli",
    "asyncdb.compat",
    "asyncdb.errors",
    "asyncdb.fastapi",
    "asyncdb.drivers",
    "asyncdb.drivers.base",
    "asyncdb.drivers.settings",
    "asyncdb.drivers.couchdb",
    "asyncdb.drivers.couchdb.driver",
    "asyncdb.drivers.couchdb.settings",
    "asyncdb.drivers.dynamodb",
    "asyncdb.drivers.dynamodb.driver",
    "asyncdb.drivers.dynamodb.settings",
    "asyncdb.drivers.firestore",
    "asyncdb.drivers.firestore.driver",
    "asyncdb.drivers.firestore.settings",
    "asyncdb.drivers.memory",
    "asyncdb.drivers.memory.driver",
    "asyncdb.drivers.memory.settings",
    "asyncdb.drivers.postgres",
    "asyncdb.drivers.postgres.driver",
    "asyncdb.drivers.postgres.settings",
    "asyncdb.drivers.sqlite",
    "asyncdb.drivers.sqlite.driver",
    "asyncdb.drivers.sqlite.settings",
    "asyncdb.middleware",
    "asyncdb.middleware.base",
    "asyncdb.middleware.prefix",
    "asyncdb.middleware.readonly",
    "asyncdb.middleware.statistics",
    "asyncdb.models",
    "asyncdb.models.base",
    "asyncdb.models.collection",
    "asyncdb.schemas",
    "asyncdb.schemas.agent_data",
    "asyncdb.schemas.agents",
    "asyncdb.schemas.demos",
    "asyncdb.schemas.deployments",
    "asyncdb.schemas.registry",
    "asyncdb.schemas.sessions",
    "asyncdb.schemas.tickets",
    "asyncdb.schemas.users",
    "asyncdb.server",
    "asyncdb.testing",
    "asyncdb.testing.assertions",
    "asyncdb.testing.conformance",
    "asyncdb.testing.harness",
    "asyncdb.testing.plugin",
    "asyncdb.testing.recorder",
    "asyncdb.testing.samples",
    "asyncdb.testing.strategies",
    "asyncdb.transfer",
}

#: ``asyncdb.__all__``: the names an application imports.
TOP_LEVEL = {
    "AsyncDBError",
    "AuthenticationError",
    "BackendError",
    "BackendUnavailableError",
    "BulkResult",
    "ConfigurationError",
    "ConflictError",
    "DatabaseService",
    "Document",
    "DocumentService",
    "DocumentTooLargeError",
    "Driver",
    "DriverSettings",
    "InvalidCursorError",
    "InvalidDocumentError",
    "InvalidExportError",
    "InvalidNameError",
    "InvalidQueryError",
    "NotFoundError",
    "Page",
    "ReadOnlyError",
    "Record",
    "ServiceClosedError",
    "Settings",
    "SyncDatabaseService",
    "SyncFacadeMisuseError",
    "UnindexedQueryError",
    "ValidationError",
    "WriteOutcome",
    "WriteOutcomeUnknownError",
    "WrongEventLoopError",
    "__version__",
    "available_providers",
    "create_database_service",
    "get_database_service",
    "open_database_service",
    "register_provider",
    "reset_database_service",
}

MAX_MODULE_LINES = 500


def _module_files() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path


def _is_private(module: str) -> bool:
    return any(part.startswith("_") for part in module.split(".")[1:] if part != "__main__")


def test_the_public_modules_are_exactly_the_listed_ones() -> None:
    public = {
        module
        for module, _ in _module_files()
        if not _is_private(module) and not module.endswith("__main__")
    }
    assert public == PUBLIC_MODULES


def test_asyncdb_exports_exactly_its_public_names() -> None:
    assert set(asyncdb.__all__) == TOP_LEVEL
    assert len(asyncdb.__all__) == len(set(asyncdb.__all__))
    for name in asyncdb.__all__:
        assert getattr(asyncdb, name) is not None, name


@pytest.mark.parametrize("module", sorted(PUBLIC_MODULES))
def test_every_public_module_declares_what_it_exports(module: str) -> None:
    if module.startswith(("asyncdb.drivers.couchdb", "asyncdb.drivers.dynamodb")):
        pytest.importorskip("aiohttp" if "couchdb" in module else "aioboto3")
    if module.startswith("asyncdb.drivers.firestore"):
        pytest.importorskip("google.cloud.firestore_v1")
    if module.startswith(("asyncdb.fastapi", "asyncdb.server")):
        pytest.importorskip("fastapi")
    imported = importlib.import_module(module)
    exported = getattr(imported, "__all__", None)
    assert exported is not None, f"{module} has no __all__"
    for name in exported:
        assert hasattr(imported, name), f"{module}.__all__ names {name!r}, which it lacks"


def test_the_public_names_come_from_the_modules_that_own_them() -> None:
    # A public name is defined once: what asyncdb exports is the very object of its module.
    from asyncdb._service import DatabaseService
    from asyncdb._settings import Settings
    from asyncdb.drivers.base import Driver

    assert asyncdb.DatabaseService is DatabaseService
    assert asyncdb.Settings is Settings
    assert asyncdb.Driver is Driver


@pytest.mark.parametrize(("module", "path"), list(_module_files()), ids=lambda v: str(v))
def test_no_module_is_over_500_lines(module: str, path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{module} has {lines} lines"


def _runtime_imports(path: Path, module: str) -> set[str]:
    """The asyncdb modules ``path`` imports when it runs (module level or inside functions),
    leaving out ``if TYPE_CHECKING:`` blocks, which never run."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    is_package = path.name == "__init__.py"

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = module.split(".")
                    anchor = anchor if is_package else anchor[:-1]
                    anchor = anchor[: len(anchor) - (child.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in child.names)
            visit(child)

    visit(tree)
    return {name for name in found if name == "asyncdb" or name.startswith("asyncdb.")}


@functools.cache
def _graph() -> dict[str, set[str]]:
    modules = dict(_module_files())
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = {name for name in _runtime_imports(path, module) if name in modules}
        # Importing a.b.c runs a and a.b first, but a package's own __init__ importing its
        # children is how packages work, not a circle: only edges between modules count.
        graph[module] = {t for t in targets if t != module and not module.startswith(t + ".")}
    return graph


def test_there_is_no_circle_in_the_import_graph() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                circles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                walk(target)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node)
    # The package __init__ re-exports everything: an edge into "asyncdb" from a module it
    # re-exports would be a real circle, and is reported like any other.
    assert circles == []


def test_the_face_imports_no_driver_and_no_driver_imports_another() -> None:
    graph = _graph()
    drivers = {"couchdb", "dynamodb", "firestore", "memory", "postgres", "sqlite"}
    for module, targets in graph.items():
        if module in {"asyncdb._service", "asyncdb._sync", "asyncdb._documents"}:
            assert not any(
                t.startswith(tuple(f"asyncdb.drivers.{d}" for d in drivers)) for t in targets
            )
        for name in drivers:
            if module.startswith(f"asyncdb.drivers.{name}"):
                others = drivers - {name}
                assert not any(
                    t.startswith(tuple(f"asyncdb.drivers.{o}" for o in others)) for t in targets
                ), module


def test_the_package_imports_every_public_module_cleanly() -> None:
    # Walks the package as an installed user would; a module that fails to import for any
    # reason other than a missing optional client library is a defect.
    for info in pkgutil.walk_packages(asyncdb.__path__, "asyncdb."):
        if info.name.endswith("__main__"):
            continue  # importing it runs the command
        failure: ImportError | None = None
        try:
            importlib.import_module(info.name)
        except ImportError as exc:
            failure = exc
        if failure is not None:
            assert failure.name is not None, info.name
            assert not failure.name.startswith("asyncdb"), info.name


#: What each layer may not import (prefixes of module names), as docs/architecture.md says.
FORBIDDEN = {
    # A driver talks to its backend: it knows the driver ABC, its settings base, the
    # contract's constants, the query types, the errors and the retry policy; never the
    # face, the facade, the factory or anything built on top.
    "asyncdb.drivers": (
        "asyncdb._service",
        "asyncdb._sync",
        "asyncdb._factory",
        "asyncdb.middleware",
        "asyncdb.server",
        "asyncdb.transfer",
        "asyncdb.models",
        "asyncdb.schemas",
        "asyncdb.compat",
        "asyncdb.fastapi",
        "asyncdb.testing",
    ),
    # The core knows no application: not the server, the transfer tools, the models or
    # the schemas built on it.
    "asyncdb._": (
        "asyncdb.server",
        "asyncdb.transfer",
        "asyncdb.models",
        "asyncdb.schemas",
        "asyncdb.compat",
        "asyncdb.fastapi",
        "asyncdb.testing",
    ),
    # The application's schema set is data for the server; the library does not need it.
    "asyncdb.server": ("asyncdb.schemas", "asyncdb.testing"),
    "asyncdb.middleware": ("asyncdb.server", "asyncdb.transfer", "asyncdb._service"),
}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_each_layer_imports_only_what_it_may(layer: str) -> None:
    offending = {
        module: sorted(t for t in targets if t.startswith(FORBIDDEN[layer]))
        for module, targets in _graph().items()
        if module.startswith(layer)
    }
    assert {module: found for module, found in offending.items() if found} == {}
