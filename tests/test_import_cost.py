"""What ``import asyncdb`` loads: guarded by the set of modules, never by a time.

Each check runs in a fresh interpreter (a subprocess), since this test session has long
since imported everything. The time itself is measured in benchmarks and recorded in
docs/performance.md; a time limit in a test would fail on a busy machine and pass on a
fast one, and say nothing about why.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

#: Heavy or optional libraries that a plain ``import asyncdb`` must not load: pydantic
#: and pydantic-settings load with ``Settings``/``DriverSettings``/models, anyio and
#: asyncio with the service, a client library with its provider, the server's libraries
#: with the server.
NEVER_AT_IMPORT = (
    "pydantic",
    "pydantic_core",
    "pydantic_settings",
    "anyio",
    "asyncio",
    "importlib.metadata",
    "fastapi",
    "starlette",
    "uvicorn",
    "aiohttp",
    "aioboto3",
    "botocore",
    "boto3",
    "google",
    "grpc",
    "aiosqlite",
    "asyncpg",
    "opentelemetry",
    "tqdm",
    "typing",
)

#: The service and the memory driver need the event loop machinery, never pydantic or a
#: client library: pydantic loads only when settings or models are used.
NEVER_WITH_THE_SERVICE = tuple(
    name for name in NEVER_AT_IMPORT if name not in {"anyio", "asyncio", "typing"}
)


def _modules_after(code: str) -> set[str]:
    """The names in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    script = f"{code}\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    return set(done.stdout.split())


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(
        module
        for module in modules
        for name in names
        if module == name or module.startswith(name + ".")
    )


def test_import_asyncdb_loads_only_the_package_and_its_errors() -> None:
    modules = _modules_after("import asyncdb")
    assert sorted(m for m in modules if m.split(".")[0] == "asyncdb") == [
        "asyncdb",
        "asyncdb.errors",
    ]
    assert _loaded(modules, NEVER_AT_IMPORT) == []


def test_the_service_over_memory_loads_no_pydantic_and_no_client_library() -> None:
    modules = _modules_after(
        "import asyncio\n"
        "from asyncdb import DatabaseService\n"
        "from asyncdb.drivers.base import Driver\n"
        "from asyncdb._documents import prepare_document\n"
        "prepare_document({'a': [1, 'x', {'b': None}]}, 'id')\n"
    )
    assert "asyncdb._service" in modules
    assert _loaded(modules, NEVER_WITH_THE_SERVICE) == []


@pytest.mark.parametrize(
    ("name", "loads"),
    [
        ("Settings", "pydantic_settings"),
        ("DriverSettings", "pydantic_settings"),
        ("create_database_service", "asyncdb._factory"),
        ("SyncDatabaseService", "anyio"),
        ("DatabaseService", "anyio"),
    ],
)
def test_a_lazy_name_loads_its_module_when_first_asked_for(name: str, loads: str) -> None:
    # Proves the laziness is real in both directions: absent before, present after.
    modules = _modules_after(
        "import sys, asyncdb\n"
        f"assert {loads!r} not in sys.modules\n"
        f"assert getattr(asyncdb, {name!r}) is not None\n"
        f"assert {loads!r} in sys.modules\n"
    )
    assert loads in modules


def test_an_unknown_name_is_an_attribute_error() -> None:
    import asyncdb

    with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
        _ = asyncdb.NoSuchName
    assert not hasattr(asyncdb, "create_database")  # hasattr relies on AttributeError


def test_dir_lists_the_lazy_names() -> None:
    import asyncdb

    assert set(asyncdb.__all__) <= set(dir(asyncdb))
