"""Unit tests of the provider registry and the factory (singleton, fresh services, prefix)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import asyncdb
from asyncdb import _factory as factory
from asyncdb import _registry as registry
from asyncdb._factory import (
    create_database_service,
    get_database_service,
    reset_database_service,
)
from asyncdb._registry import available_providers, load_provider, register_provider
from asyncdb._service import DatabaseService
from asyncdb._settings import Settings
from asyncdb.drivers.base import Driver
from asyncdb.drivers.memory import MemoryDriver
from asyncdb.errors import ConfigurationError, NotFoundError, ServiceClosedError
from asyncdb.middleware.prefix import PrefixMiddleware

BUILT_IN = ["couchdb", "dynamodb", "firestore", "memory"]


def _aliases() -> set[str]:
    names: set[str] = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        names.update(str(c) for c in getattr(alias, "choices", [alias]) if c is not None)
    return names


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    """A clean environment, an empty run-time registry and no singleton, restored after."""
    for name in _aliases():
        monkeypatch.delenv(name.upper(), raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setattr(registry, "_registered", {})
    monkeypatch.setattr(factory, "_singleton", None)


class CustomDriver(MemoryDriver):
    name = "custom"


EntryPoints = Callable[[dict[str, str]], None]


@pytest.fixture
def entry_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EntryPoints]:
    """Install a throw-away distribution whose ``asyncdb.drivers`` entry points are given;
    it also ships a module ``<module>`` (name in ``entry_points.module``) with ``TestDriver``
    (a Driver) and ``NotADriver``."""
    module = f"asyncdb_test_plugin_{uuid.uuid4().hex}"
    (tmp_path / f"{module}.py").write_text(
        textwrap.dedent(
            """
            from asyncdb.drivers.memory import MemoryDriver

            class TestDriver(MemoryDriver):
                name = "plugin"

                def describe(self) -> str:
                    return "plugin driver"

            class NotADriver:
                pass

            not_a_class = MemoryDriver()
            """
        )
    )

    def install(entries: dict[str, str]) -> None:
        dist = f"asyncdb_test_dist_{uuid.uuid4().hex}"
        info = tmp_path / f"{dist}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        lines = [
            f"{name} = {target.replace('{module}', module)}" for name, target in entries.items()
        ]
        (info / "entry_points.txt").write_text("[asyncdb.drivers]\n" + "\n".join(lines) + "\n")

    monkeypatch.syspath_prepend(str(tmp_path))
    install.module = module  # type: ignore[attr-defined]
    yield install
    sys.modules.pop(module, None)


# --------------------------------------------------------------------------------------------
# the registry
# --------------------------------------------------------------------------------------------


def test_available_providers_lists_the_built_ins_sorted() -> None:
    providers = available_providers()
    assert set(BUILT_IN) <= set(providers)
    assert providers == sorted(providers)
    assert asyncdb.available_providers is available_providers


def test_the_memory_provider_loads() -> None:
    assert load_provider("memory") is MemoryDriver


@pytest.mark.parametrize("name", ["memroy", "mongo", "", "couch db", "memory2"])
def test_an_unknown_provider_is_a_configuration_error(name: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        create_database_service(Settings(database_provider=name))
    message = str(caught.value)
    assert "DATABASE_PROVIDER" in message
    assert repr(name.strip().lower()) in message
    for provider in BUILT_IN:
        assert provider in message


def test_an_unknown_provider_from_the_environment_never_falls_back_to_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_PROVIDER", "memroy")
    with pytest.raises(ConfigurationError, match="memroy"):
        get_database_service()
    assert factory._singleton is None
    with pytest.raises(ConfigurationError):
        create_database_service()
    with pytest.raises(ConfigurationError):
        asyncdb.SyncDatabaseService()


def test_register_provider_adds_a_provider() -> None:
    register_provider("  Custom ", CustomDriver)
    assert "custom" in available_providers()
    assert load_provider("custom") is CustomDriver
    service = create_database_service(Settings(database_provider="CUSTOM"))
    assert type(service.driver) is CustomDriver


def test_a_registered_provider_is_per_process_state() -> None:
    assert "custom" not in available_providers()  # the fixture isolated the registry


@pytest.mark.parametrize(
    "target",
    [object, MemoryDriver(), "asyncdb.drivers.memory:MemoryDriver", None, Driver.get],
    ids=["class", "instance", "string", "none", "function"],
)
def test_register_provider_rejects_what_is_not_a_driver_class(target: object) -> None:
    with pytest.raises(TypeError, match="Driver"):
        register_provider("bogus", target)  # type: ignore[arg-type]
    assert "bogus" not in available_providers()


def test_an_entry_point_provider_is_found(entry_points: EntryPoints) -> None:
    entry_points({"plugindb": "{module}:TestDriver"})
    assert "plugindb" in available_providers()
    driver_class = load_provider("plugindb")
    assert driver_class.__name__ == "TestDriver"
    assert issubclass(driver_class, Driver)
    service = create_database_service(Settings(database_provider="PluginDB"))
    assert type(service.driver) is driver_class
    assert "plugin driver" in repr(service)


async def test_an_entry_point_provider_works_end_to_end(entry_points: EntryPoints) -> None:
    entry_points({"plugindb": "{module}:TestDriver"})
    async with create_database_service(Settings(database_provider="plugindb")) as db:
        await db.save("things", "t1", {"n": 1})
        assert (await db.get("things", "t1"))["n"] == 1


def test_an_entry_point_to_a_missing_module(entry_points: EntryPoints) -> None:
    entry_points({"ghostdb": "asyncdb_no_such_module_4711:GhostDriver"})
    assert "ghostdb" in available_providers()
    with pytest.raises(ConfigurationError) as caught:
        create_database_service(Settings(database_provider="ghostdb"))
    message = str(caught.value)
    assert "'ghostdb'" in message
    assert "asyncdb_no_such_module_4711" in message
    assert isinstance(caught.value.__cause__, ImportError)


def test_a_built_in_whose_library_is_missing_names_the_pip_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        registry._BUILT_IN, "ghostdb", ("asyncdb_no_such_module_4712:GhostDriver", "ghost")
    )
    assert "ghostdb" in available_providers()
    with pytest.raises(ConfigurationError) as caught:
        create_database_service(Settings(database_provider="ghostdb"))
    message = str(caught.value)
    assert "pip install 'asyncdb-documents[ghost]'" in message
    assert "asyncdb_no_such_module_4712" in message


def test_a_missing_built_in_replaced_in_place_names_its_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        registry._BUILT_IN,
        "firestore",
        ("asyncdb_no_such_module_4713:FirestoreDriver", "firestore"),
    )
    with pytest.raises(ConfigurationError, match=r"pip install 'asyncdb-documents\[firestore\]'"):
        load_provider("firestore")


@pytest.mark.parametrize(
    "target",
    [
        "{module}:NotADriver",
        "{module}:not_a_class",
        "{module}:Missing",
        "{module}",
        "json:dumps",
        "collections:OrderedDict",
    ],
)
def test_an_entry_point_that_is_not_a_driver_class(entry_points: EntryPoints, target: str) -> None:
    entry_points({"oddity": target})
    with pytest.raises(ConfigurationError, match="not a Driver class"):
        load_provider("oddity")


def test_a_mixed_case_entry_point_name_can_be_selected(entry_points: EntryPoints) -> None:
    entry_points({"PluginDB": "{module}:TestDriver"})
    listed = [name for name in available_providers() if name.lower() == "plugindb"]
    assert listed
    service = create_database_service(Settings(database_provider=listed[0]))
    assert type(service.driver).__name__ == "TestDriver"


# --------------------------------------------------------------------------------------------
# the singleton
# --------------------------------------------------------------------------------------------


async def test_get_database_service_returns_one_instance() -> None:
    settings = Settings(database_provider="memory")
    first = get_database_service(settings)
    assert isinstance(first, DatabaseService)
    assert get_database_service(settings) is first
    assert get_database_service(Settings(database_provider="memory")) is first
    assert get_database_service() is first
    await reset_database_service()


async def test_get_database_service_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_COLLECTION_PREFIX", "envp_")
    service = get_database_service()
    assert isinstance(service.driver, PrefixMiddleware)
    assert service.driver.prefix == "envp_"
    assert get_database_service() is service
    await reset_database_service()


async def test_other_settings_need_a_restart() -> None:
    first = get_database_service(Settings(database_provider="memory"))
    with pytest.raises(ConfigurationError, match="restart"):
        get_database_service(Settings(database_provider="memory", collection_prefix="x_"))
    with pytest.raises(ConfigurationError, match="restart"):
        get_database_service(Settings(database_provider="couchdb"))
    assert get_database_service() is first
    assert not first.closed
    await reset_database_service()


async def test_reset_closes_and_forgets_the_singleton() -> None:
    first = get_database_service(Settings())
    await reset_database_service()
    assert first.closed
    second = get_database_service(Settings(collection_prefix="other_"))
    assert second is not first
    assert not second.closed
    await reset_database_service()
    await reset_database_service()  # nothing to reset: no error


async def test_a_closed_singleton_raises_until_reset() -> None:
    first = get_database_service(Settings())
    await first.save("things", "kept", {"n": 1})
    async with first:
        pass  # leaving `async with` closes it
    for settings in (None, Settings(), Settings(collection_prefix="other_")):
        with pytest.raises(ServiceClosedError, match="reset_database_service"):
            get_database_service(settings)
    await reset_database_service()
    second = get_database_service(Settings(collection_prefix="other_"))
    assert second is not first and not second.closed
    assert get_database_service() is second
    await reset_database_service()


async def test_size_limit_reaches_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    assert create_database_service(Settings()).size_limit == "portable"
    native = create_database_service(Settings(size_limit="native"))
    assert native.size_limit == "native"
    monkeypatch.setenv("DATABASE_SIZE_LIMIT", "native")
    assert create_database_service().size_limit == "native"
    # Over a given driver only the settings given decide; the environment is not read.
    assert create_database_service(driver=MemoryDriver()).size_limit == "portable"
    assert create_database_service(Settings(), driver=MemoryDriver()).size_limit == "native"


async def test_concurrent_first_calls_from_threads_build_one_service() -> None:
    results: list[DatabaseService] = []
    barrier = threading.Barrier(8)

    def call() -> None:
        barrier.wait()
        results.append(get_database_service(Settings()))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 8
    assert all(service is results[0] for service in results)
    await reset_database_service()


# --------------------------------------------------------------------------------------------
# fresh services and the prefix
# --------------------------------------------------------------------------------------------


async def test_create_database_service_returns_independent_instances() -> None:
    one = create_database_service(Settings())
    two = create_database_service(Settings())
    assert one is not two
    assert one.driver is not two.driver
    await one.save("things", "a", {"n": 1})
    with pytest.raises(NotFoundError):
        await two.get("things", "a")
    await one.aclose()
    assert not two.closed
    await two.save("things", "b", {"n": 2})
    await two.aclose()


async def test_create_database_service_over_a_given_driver() -> None:
    driver = MemoryDriver()
    service = create_database_service(driver=driver)
    assert service.driver is driver
    await service.aclose()


async def test_a_collection_prefix_from_settings_wraps_the_driver() -> None:
    service = create_database_service(Settings(collection_prefix="app_"))
    assert isinstance(service.driver, PrefixMiddleware)
    assert "'app_'" in repr(service)
    inner = service.driver.inner
    assert isinstance(inner, MemoryDriver)
    await service.save("agents", "a1", {"name": "x"})
    raw = DatabaseService(inner, close_driver=False)
    stored = await raw.list_all("app_agents")
    assert [(doc["_id"], doc["name"]) for doc in stored] == [("a1", "x")]
    assert await raw.list_all("agents") == []
    assert [doc["_id"] for doc in await service.list_all("agents")] == ["a1"]
    await raw.aclose()
    await service.aclose()


async def test_no_prefix_means_no_middleware() -> None:
    service = create_database_service(Settings())
    assert type(service.driver) is MemoryDriver
    await service.aclose()


# --------------------------------------------------------------------------------------------
# import weight
# --------------------------------------------------------------------------------------------


def test_import_asyncdb_loads_no_client_library() -> None:
    script = textwrap.dedent(
        """
        import json, sys
        import asyncdb
        asyncdb.Settings()
        heavy = ("aiohttp", "aioboto3", "aiobotocore", "boto3", "botocore", "grpc", "google")
        loaded = sorted(
            name for name in sys.modules
            if name.split(".")[0] in heavy
        )
        print(json.dumps({"loaded": loaded, "asyncdb": "asyncdb" in sys.modules}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["asyncdb"] is True
    assert report["loaded"] == []


def test_reading_a_provider_url_loads_no_client_library() -> None:
    code = (
        "import sys, asyncdb\n"
        "from asyncdb._settings import settings_from_url\n"
        "for url in ('couchdb://h:5984', 'dynamodb://?region=eu-west-1', 'firestore://p'):\n"
        "    settings_from_url(url)\n"
        "heavy = {'aiohttp', 'aioboto3', 'botocore', 'google.cloud.firestore_v1', 'grpc'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


# --------------------------------------------------------------------------------------------
# open_database_service: built in a worker thread, then opened
# --------------------------------------------------------------------------------------------


class ThreadNotingDriver(MemoryDriver):
    """Notes the thread that builds it and whether it was opened and closed."""

    name = "thread-noting"
    built_on: int | None = None
    fail_open = False
    opened = closed = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> ThreadNotingDriver:
        cls.built_on = threading.get_ident()
        return cls()

    async def open(self) -> None:
        type(self).opened += 1
        if self.fail_open:
            raise ConfigurationError("wrong credentials (test)")

    async def aclose(self) -> None:
        type(self).closed += 1


@pytest.fixture
def noting(monkeypatch: pytest.MonkeyPatch) -> type[ThreadNotingDriver]:
    for attribute, value in (("built_on", None), ("fail_open", False), ("opened", 0)):
        monkeypatch.setattr(ThreadNotingDriver, attribute, value)
    monkeypatch.setattr(ThreadNotingDriver, "closed", 0)
    register_provider("thread-noting", ThreadNotingDriver)
    return ThreadNotingDriver


async def test_open_database_service_builds_the_driver_off_the_loop_and_opens_it(
    noting: type[ThreadNotingDriver],
) -> None:
    service = await asyncdb.open_database_service(Settings(database_provider="thread-noting"))
    try:
        assert noting.built_on is not None and noting.built_on != threading.get_ident()
        assert noting.opened == 1
        await service.save("things", "a", {"n": 1})
        assert (await service.get("things", "a"))["n"] == 1
    finally:
        await service.aclose()
    assert noting.closed == 1


async def test_open_database_service_closes_what_it_built_when_open_fails(
    noting: type[ThreadNotingDriver],
) -> None:
    noting.fail_open = True
    with pytest.raises(ConfigurationError, match="wrong credentials"):
        await asyncdb.open_database_service(Settings(database_provider="thread-noting"))
    assert (noting.opened, noting.closed) == (1, 1)


async def test_open_database_service_reports_a_misconfiguration_as_it_is() -> None:
    with pytest.raises(ConfigurationError, match="nosuch"):
        await asyncdb.open_database_service(Settings(database_provider="nosuch"))
