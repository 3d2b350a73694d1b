"""``StatisticsMiddleware``: counts, errors and latency of every driver call, per operation
and collection, with an OpenTelemetry export when ``opentelemetry-api`` is installed.

The figures are those of the calls that reach the driver (what the backend is asked),
not of the face's calls: a ``save_many`` of 250 documents is three ``put_many`` calls on
a backend with batches of 100, and a refused document never gets here.

OpenTelemetry is imported when a middleware is built, never at ``import asyncdb``.
Without a ``meter`` argument the middleware takes the global one
(``opentelemetry.metrics.get_meter("asyncdb")``: a no-op until the application installs
a ``MeterProvider``, the way an OpenTelemetry library is meant to behave); without
``opentelemetry-api`` it exports nothing and says so at debug level.
"""

from __future__ import annotations

import bisect
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from asyncdb.drivers.base import Driver, WriteOutcome
from asyncdb.errors import ConfigurationError
from asyncdb.middleware.base import DriverCall, DriverWrapper, Proceed

__all__ = ["DEFAULT_BUCKETS", "Meter", "StatisticsMiddleware"]

logger = logging.getLogger("asyncdb")

T = TypeVar("T")

#: Upper bounds (seconds) of the latency histogram: from a memory call (well under a
#: millisecond) to a slow backend round trip. A last, unbounded bucket holds the rest.
DEFAULT_BUCKETS: tuple[float, ...] = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

#: The quantiles the snapshot estimates from the histogram.
QUANTILES: tuple[tuple[str, float], ...] = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))

#: The operations whose result holds one outcome per document.
_BULK_WRITES = frozenset({"put_many", "delete_many"})

#: The names of the exported instruments.
CALLS_METRIC = "asyncdb.driver.calls"
DURATION_METRIC = "asyncdb.driver.duration"


# -- what the export needs of an OpenTelemetry meter (opentelemetry.metrics.Meter) -----------
class _Counter(Protocol):
    def add(self, amount: int, attributes: Mapping[str, str] | None = None) -> None: ...


class _Histogram(Protocol):
    def record(self, amount: float, attributes: Mapping[str, str] | None = None) -> None: ...


class Meter(Protocol):
    """The part of ``opentelemetry.metrics.Meter`` the export uses (any object with these
    two methods will do: a test passes a fake one)."""

    def create_counter(self, name: str, unit: str = "", description: str = "") -> Any: ...

    def create_histogram(
        self,
        name: str,
        unit: str = "",
        description: str = "",
        *,
        explicit_bucket_boundaries_advisory: Sequence[float] | None = None,
    ) -> Any: ...


def _global_meter() -> Meter | None:
    try:
        from opentelemetry import metrics
    except ImportError:
        logger.debug("asyncdb statistics: opentelemetry-api is not installed; no export")
        return None
    meter: Meter = metrics.get_meter("asyncdb")
    return meter


class _Export:
    """The two instruments: a counter of calls and a histogram of their durations, both
    with the attributes ``operation``, ``collection`` (when the call has one) and
    ``outcome`` (``ok``, ``error``, ``cancelled``), plus ``error.type`` on errors."""

    def __init__(self, meter: Meter, buckets: Sequence[float]) -> None:
        self.calls: _Counter = meter.create_counter(
            CALLS_METRIC, unit="{call}", description="Calls that reached the asyncdb driver"
        )
        description = "Duration of the calls that reached the asyncdb driver"
        try:
            # The SDK's default boundaries are meant for milliseconds; durations are in
            # seconds, so the histogram advises its own (opentelemetry-api >= 1.23).
            histogram = meter.create_histogram(
                DURATION_METRIC,
                unit="s",
                description=description,
                explicit_bucket_boundaries_advisory=list(buckets),
            )
        except TypeError:  # an older API without the advisory: its boundaries, then
            logger.debug("asyncdb statistics: this meter takes no bucket advisory")
            histogram = meter.create_histogram(DURATION_METRIC, unit="s", description=description)
        self.duration: _Histogram = histogram

    def record(
        self, call: DriverCall[Any], outcome: str, error_type: str | None, seconds: float
    ) -> None:
        attributes = {"operation": call.operation, "outcome": outcome}
        if call.collection is not None:
            attributes["collection"] = call.collection
        if error_type is not None:
            attributes["error.type"] = error_type
        self.calls.add(1, attributes)
        self.duration.record(seconds, attributes)


@dataclass(slots=True)
class _Figures:
    """The running figures of one (operation, collection)."""

    buckets: Sequence[float]
    count: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    item_errors: dict[str, int] = field(default_factory=dict)
    cancelled: int = 0
    total: float = 0.0
    low: float = math.inf
    high: float = 0.0
    histogram: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.histogram = [0] * (len(self.buckets) + 1)

    def add(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        self.low = min(self.low, seconds)
        self.high = max(self.high, seconds)
        # The first bucket whose upper bound is at least ``seconds`` (the last: unbounded).
        self.histogram[bisect.bisect_left(self.buckets, seconds)] += 1

    def quantile(self, q: float) -> float:
        # The upper bound of the bucket holding the q-th call, never beyond what was seen.
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for index, in_bucket in enumerate(self.histogram):
            seen += in_bucket
            if seen >= rank:
                bound = self.buckets[index] if index < len(self.buckets) else self.high
                return min(max(bound, self.low), self.high)
        return self.high

    def plain(self, operation: str, collection: str | None) -> dict[str, Any]:
        latency: dict[str, Any] = {
            "count": self.count,
            "total": self.total,
            "min": self.low,
            "max": self.high,
            "mean": self.total / self.count,  # figures exist from their first call on
        }
        for name, q in QUANTILES:
            latency[name] = self.quantile(q)
        bounds: list[float | None] = [*self.buckets, None]
        latency["buckets"] = [[le, n] for le, n in zip(bounds, self.histogram, strict=True)]
        return {
            "operation": operation,
            "collection": collection,
            "count": self.count,
            "errors": dict(self.errors),
            "item_errors": dict(self.item_errors),
            "cancelled": self.cancelled,
            "latency": latency,
        }


class StatisticsMiddleware(DriverWrapper):
    """Counts every call to ``inner``, its errors by class and its latency, per operation
    and collection; ``snapshot()`` returns them as plain data.

    ``meter``: an OpenTelemetry ``Meter`` to export to; omitted, the global one when
    ``opentelemetry-api`` is installed; ``None``: no export. ``buckets``: the latency
    histogram's upper bounds in seconds (also advised to OpenTelemetry). ``clock``: a
    monotonic clock in seconds (tests pass a fake one).

    Safe within one event loop (a call's figures are updated without awaiting in between)
    and across threads (a lock guards the figures: ``snapshot()`` may be called from
    another thread than the loop's, as with the sync facade).
    """

    def __init__(
        self,
        inner: Driver,
        *,
        meter: Meter | Literal["global"] | None = "global",
        buckets: Sequence[float] = DEFAULT_BUCKETS,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        super().__init__(inner)
        if list(buckets) != sorted(set(buckets)) or not buckets or buckets[0] <= 0:
            raise ConfigurationError("buckets must be positive upper bounds in increasing order")
        self.buckets = tuple(buckets)
        self._clock = clock
        self._lock = threading.Lock()
        self._figures: dict[tuple[str, str | None], _Figures] = {}
        if isinstance(meter, str) and meter != "global":
            raise ConfigurationError(f"meter must be a Meter, None or 'global', not {meter!r}")
        chosen = _global_meter() if isinstance(meter, str) else meter
        self._export = None if chosen is None else _Export(chosen, self.buckets)

    @property
    def exporting(self) -> bool:
        """Whether the figures are also exported to OpenTelemetry."""
        return self._export is not None

    async def around(self, call: DriverCall[T], proceed: Proceed[T]) -> T:
        started = self._clock()
        try:
            result = await proceed(call)
        except Exception as exc:
            self._finish(call, started, "error", type(exc).__name__)
            raise
        except BaseException:
            # Cancellation (or an interpreter exit): not the backend's failure.
            self._finish(call, started, "cancelled", None)
            raise
        self._finish(call, started, "ok", None, result)
        return result

    def _finish(
        self,
        call: DriverCall[Any],
        started: float,
        outcome: str,
        error_type: str | None,
        result: object = None,
    ) -> None:
        seconds = max(0.0, self._clock() - started)
        with self._lock:
            key = (call.operation, call.collection)
            figures = self._figures.get(key)
            if figures is None:
                figures = self._figures[key] = _Figures(self.buckets)
            figures.add(seconds)
            if outcome == "cancelled":
                figures.cancelled += 1
            elif error_type is not None:
                figures.errors[error_type] = figures.errors.get(error_type, 0) + 1
            if call.operation in _BULK_WRITES and isinstance(result, list):
                # A bulk call succeeds as a whole while some of its documents fail.
                for item in result:
                    if isinstance(item, WriteOutcome) and item.error is not None:
                        name = type(item.error).__name__
                        figures.item_errors[name] = figures.item_errors.get(name, 0) + 1
        if self._export is not None:
            self._export.record(call, outcome, error_type, seconds)

    def snapshot(self) -> list[dict[str, Any]]:
        """The figures so far, one plain dict per (operation, collection), in that order.

        Each holds ``operation``, ``collection`` (``None`` for ``open``, ``ping``,
        ``list_collections``...), ``count`` (every call, failed ones included), ``errors``
        (exception class name → count), ``item_errors`` (per-document errors of bulk calls
        that themselves succeeded), ``cancelled``, and ``latency`` in seconds: ``count``,
        ``total``, ``min``, ``max``, ``mean``, the estimates ``p50``/``p90``/``p99`` (the
        upper bound of the histogram bucket that holds them, within ``min``..``max``) and
        ``buckets``, ``[upper bound, count]`` pairs (``None``: unbounded).
        """
        with self._lock:
            keys = sorted(self._figures, key=lambda key: (key[0], key[1] or ""))
            return [self._figures[key].plain(*key) for key in keys]

    def reset(self) -> None:
        """Forget the figures so far (the OpenTelemetry instruments keep theirs)."""
        with self._lock:
            self._figures.clear()

    def describe(self) -> str:
        return f"{self.inner.describe()} (statistics)"
