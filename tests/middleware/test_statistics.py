"""``StatisticsMiddleware``: counts, errors and latency per operation and collection, and
their OpenTelemetry export."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from asyncdb import ConflictError, DatabaseService
from asyncdb.drivers.base import WriteRequest
from asyncdb.drivers.memory import MemoryDriver
from asyncdb.errors import ConfigurationError
from asyncdb.middleware import StatisticsMiddleware
from asyncdb.middleware.statistics import CALLS_METRIC, DEFAULT_BUCKETS, DURATION_METRIC
from tests.middleware._fakes import Echo

ITEMS = "items"


class Clock:
    """A clock that moves only when told: each call returns the next reading."""

    def __init__(self, *readings: float) -> None:
        self._readings: Iterator[float] = iter(readings)

    def __call__(self) -> float:
        return next(self._readings)


def entry(stats: StatisticsMiddleware, operation: str, collection: str | None) -> dict[str, Any]:
    [found] = [
        e for e in stats.snapshot() if (e["operation"], e["collection"]) == (operation, collection)
    ]
    return found


async def test_counts_per_operation_and_collection() -> None:
    stats = StatisticsMiddleware(MemoryDriver(), meter=None)
    await stats.put(ITEMS, "a", {})
    await stats.put(ITEMS, "b", {})
    await stats.put("other", "a", {})
    await stats.get(ITEMS, "a")
    await stats.ping()
    counts = {(e["operation"], e["collection"]): e["count"] for e in stats.snapshot()}
    assert counts == {("get", ITEMS): 1, ("ping", None): 1, ("put", ITEMS): 2, ("put", "other"): 1}
    assert [(e["operation"], e["collection"]) for e in stats.snapshot()] == sorted(counts, key=str)


async def test_latency_count_total_min_max_mean_and_quantiles() -> None:
    # Readings in pairs (start, end): calls of 2 ms, 2 ms, 2 ms, 40 ms and 3 s.
    clock = Clock(0, 0.002, 1, 1.002, 2, 2.002, 3, 3.040, 4, 7.0)
    stats = StatisticsMiddleware(MemoryDriver(), meter=None, clock=clock)
    for n in range(5):
        await stats.get(ITEMS, str(n))
    latency = entry(stats, "get", ITEMS)["latency"]
    assert latency["count"] == 5
    assert latency["total"] == pytest.approx(3.046)
    assert latency["min"] == pytest.approx(0.002)
    assert latency["max"] == pytest.approx(3.0)
    assert latency["mean"] == pytest.approx(3.046 / 5)
    # Estimates: the upper bound of the bucket holding the quantile, within min..max.
    assert latency["p50"] == 0.0025
    assert latency["p90"] == latency["p99"] == pytest.approx(3.0)  # 5.0 bucket, clamped to max
    counts = {bound: n for bound, n in latency["buckets"]}
    assert (counts[0.0025], counts[0.05], counts[5.0], sum(counts.values())) == (3, 1, 1, 5)
    assert latency["buckets"][-1] == [None, 0]


async def test_a_quantile_never_exceeds_the_slowest_call() -> None:
    stats = StatisticsMiddleware(MemoryDriver(), meter=None, clock=Clock(0, 0.3))
    await stats.get(ITEMS, "a")
    latency = entry(stats, "get", ITEMS)["latency"]
    assert latency["p50"] == latency["p99"] == pytest.approx(0.3)  # not the bucket's 0.5


async def test_a_call_slower_than_every_bucket_lands_in_the_unbounded_one() -> None:
    stats = StatisticsMiddleware(MemoryDriver(), meter=None, clock=Clock(0, 60))
    await stats.get(ITEMS, "a")
    latency = entry(stats, "get", ITEMS)["latency"]
    assert latency["buckets"][-1] == [None, 1] and latency["p99"] == 60


async def test_errors_are_counted_by_class_and_still_raised() -> None:
    stats = StatisticsMiddleware(MemoryDriver(), meter=None)
    await stats.put(ITEMS, "a", {}, if_absent=True)
    with pytest.raises(ConflictError):
        await stats.put(ITEMS, "a", {}, if_absent=True)
    with pytest.raises(ConflictError):
        await stats.put(ITEMS, "a", {}, if_rev="1-stale")
    failing = StatisticsMiddleware(Echo(fail=RuntimeError("down")).as_driver(), meter=None)
    with pytest.raises(RuntimeError):
        await failing.get(ITEMS, "a")
    put = entry(stats, "put", ITEMS)
    assert (put["count"], put["errors"], put["cancelled"]) == (3, {"ConflictError": 2}, 0)
    assert put["latency"]["count"] == 3  # a failed call's time counts too
    assert entry(failing, "get", ITEMS)["errors"] == {"RuntimeError": 1}


async def test_per_document_errors_of_a_bulk_call_are_counted_apart() -> None:
    stats = StatisticsMiddleware(MemoryDriver(), meter=None)
    await stats.put(ITEMS, "taken", {})
    outcomes = await stats.put_many(
        ITEMS, [WriteRequest("taken", {}, if_absent=True), WriteRequest("new", {})]
    )
    assert [o.ok for o in outcomes] == [False, True]
    put_many = entry(stats, "put_many", ITEMS)
    assert (put_many["errors"], put_many["item_errors"]) == ({}, {"ConflictError": 1})


async def test_a_cancelled_call_is_counted_as_cancelled_not_as_an_error() -> None:
    class Slow(MemoryDriver):
        async def scan(self, collection: str, *, after: str | None, limit: int) -> Any:
            await anyio.sleep(10)

    stats = StatisticsMiddleware(Slow(), meter=None)
    with anyio.move_on_after(0.01):
        await stats.scan(ITEMS, after=None, limit=10)
    scan = entry(stats, "scan", ITEMS)
    assert (scan["count"], scan["cancelled"], scan["errors"]) == (1, 1, {})


async def test_concurrent_calls_in_one_loop_are_all_counted() -> None:
    stats = StatisticsMiddleware(MemoryDriver(), meter=None)
    async with anyio.create_task_group() as group:
        for n in range(200):
            group.start_soon(stats.put, ITEMS, str(n % 7), {"n": n})
    assert entry(stats, "put", ITEMS)["count"] == 200


async def test_the_snapshot_is_plain_data_and_a_copy() -> None:
    stats = StatisticsMiddleware(MemoryDriver(), meter=None)
    with pytest.raises(ConflictError):
        await stats.put(ITEMS, "a", {}, if_rev="1-x")
    snapshot = stats.snapshot()
    assert json.loads(json.dumps(snapshot)) == snapshot
    snapshot[0]["errors"]["ConflictError"] = 99
    assert entry(stats, "put", ITEMS)["errors"] == {"ConflictError": 1}
    stats.reset()
    assert stats.snapshot() == []


async def test_through_the_face_the_figures_are_those_of_the_driver_calls() -> None:
    stats = StatisticsMiddleware(MemoryDriver(), meter=None)
    async with DatabaseService(stats) as db:
        result = await db.save_many(ITEMS, [{"_id": str(n)} for n in range(60)])
        assert result.ok
        assert len(await db.list_all(ITEMS)) == 60
    # The memory driver writes batches of 25: three put_many calls for 60 documents.
    assert entry(stats, "put_many", ITEMS)["count"] == 3
    assert entry(stats, "open", None)["count"] == 1
    assert entry(stats, "aclose", None)["count"] == 1


@pytest.mark.parametrize("buckets", [(), (0.5, 0.1), (0.1, 0.1), (0, 1)])
def test_bad_buckets_are_refused(buckets: tuple[float, ...]) -> None:
    with pytest.raises(ConfigurationError, match="buckets"):
        StatisticsMiddleware(MemoryDriver(), meter=None, buckets=buckets)


def test_a_meter_that_is_not_one_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="meter"):
        StatisticsMiddleware(MemoryDriver(), meter="otel")  # type: ignore[arg-type]


def test_it_describes_itself() -> None:
    assert StatisticsMiddleware(MemoryDriver(), meter=None).describe() == "memory (statistics)"


# -- OpenTelemetry export -------------------------------------------------------------------
class FakeInstrument:
    def __init__(self, kind: str, name: str, **options: Any) -> None:
        self.kind, self.name, self.options = kind, name, options
        self.points: list[tuple[float, dict[str, str]]] = []

    def add(self, amount: int, attributes: dict[str, str] | None = None) -> None:
        self.points.append((amount, dict(attributes or {})))

    def record(self, amount: float, attributes: dict[str, str] | None = None) -> None:
        self.points.append((amount, dict(attributes or {})))


class FakeMeter:
    """The two methods of opentelemetry.metrics.Meter that the export uses."""

    def __init__(self, advisory: bool = True) -> None:
        self.instruments: dict[str, FakeInstrument] = {}
        self.advisory = advisory

    def create_counter(self, name: str, unit: str = "", description: str = "") -> FakeInstrument:
        self.instruments[name] = FakeInstrument("counter", name, unit=unit)
        return self.instruments[name]

    def create_histogram(
        self, name: str, unit: str = "", description: str = "", **advice: Any
    ) -> FakeInstrument:
        if advice and not self.advisory:
            raise TypeError("unexpected keyword argument")  # what an older API says
        self.instruments[name] = FakeInstrument("histogram", name, unit=unit, **advice)
        return self.instruments[name]


async def test_export_to_a_meter_a_counter_and_a_histogram_with_attributes() -> None:
    meter = FakeMeter()
    stats = StatisticsMiddleware(MemoryDriver(), meter=meter, clock=Clock(0, 0.25, 1, 1.5))
    assert stats.exporting
    await stats.put(ITEMS, "a", {})
    with pytest.raises(ConflictError):
        await stats.put(ITEMS, "a", {}, if_absent=True)
    calls, duration = meter.instruments[CALLS_METRIC], meter.instruments[DURATION_METRIC]
    assert (calls.kind, calls.options["unit"]) == ("counter", "{call}")
    assert (duration.kind, duration.options["unit"]) == ("histogram", "s")
    assert duration.options["explicit_bucket_boundaries_advisory"] == list(DEFAULT_BUCKETS)
    ok = {"operation": "put", "collection": ITEMS, "outcome": "ok"}
    failed = {**ok, "outcome": "error", "error.type": "ConflictError"}
    assert calls.points == [(1, ok), (1, failed)]
    assert duration.points == [(0.25, ok), (0.5, failed)]


async def test_export_leaves_out_the_collection_of_a_call_without_one() -> None:
    meter = FakeMeter()
    stats = StatisticsMiddleware(MemoryDriver(), meter=meter)
    await stats.ping()
    assert meter.instruments[CALLS_METRIC].points == [(1, {"operation": "ping", "outcome": "ok"})]


async def test_export_to_a_meter_without_the_bucket_advisory() -> None:
    meter = FakeMeter(advisory=False)
    stats = StatisticsMiddleware(MemoryDriver(), meter=meter)
    await stats.get(ITEMS, "a")
    assert len(meter.instruments[DURATION_METRIC].points) == 1


def test_without_opentelemetry_there_is_no_export_and_no_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # import fails as if absent
    assert not StatisticsMiddleware(MemoryDriver()).exporting


def test_import_asyncdb_and_its_middleware_does_not_import_opentelemetry() -> None:
    code = (
        "import sys, asyncdb, asyncdb.middleware\n"
        "from asyncdb.middleware import StatisticsMiddleware\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'opentelemetry'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


async def test_export_through_the_opentelemetry_sdk() -> None:
    pytest.importorskip("opentelemetry.sdk.metrics")
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    stats = StatisticsMiddleware(
        MemoryDriver(), meter=provider.get_meter("test"), clock=Clock(0, 0.003, 1, 1.2)
    )
    await stats.put(ITEMS, "a", {})
    with pytest.raises(ConflictError):
        await stats.put(ITEMS, "a", {}, if_rev="1-stale")
    data = reader.get_metrics_data()
    assert data is not None
    points: dict[str, list[Any]] = {
        metric.name: list(metric.data.data_points)
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    counted = {
        (point.attributes["outcome"], point.attributes.get("error.type")): point.value
        for point in points[CALLS_METRIC]
    }
    assert counted == {("ok", None): 1, ("error", "ConflictError"): 1}
    histogram = {point.attributes["outcome"]: point for point in points[DURATION_METRIC]}
    assert tuple(histogram["ok"].explicit_bounds) == DEFAULT_BUCKETS
    assert histogram["ok"].sum == pytest.approx(0.003)
    assert histogram["error"].sum == pytest.approx(0.2)
    assert all(point.attributes["collection"] == ITEMS for point in histogram.values())
    provider.shutdown()


def test_the_global_meter_is_the_default_when_opentelemetry_is_installed() -> None:
    pytest.importorskip("opentelemetry.metrics")
    assert StatisticsMiddleware(MemoryDriver()).exporting
