"""The fault schedule of a run: episodes of one kind each, drawn from the seed, with calm
gaps between them, until the writers are done; after each, how long the same service
instances take to answer again.

- flaky: the proxy resets, stalls (past the request timeout), drops answers and cuts
  answers off halfway;
- lose: the proxy drops a quarter of the answers after the server acted (the path on which
  a conditional write's fate becomes unknown);
- down: the proxy's address refuses connections;
- pause: SIGSTOP of the server (longer than the request timeout), then SIGCONT;
- kill: SIGKILL of the server, then a restart over the same data (persistent servers);
- a backend's own faults (``Target.own_faults``): SQLite's ``lock``, another connection
  holding the write lock past the busy timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from tests.faults._proxy import FaultRates
from tests.faults._targets import REQUEST_TIMEOUT, Target

__all__ = ["RECOVERY_LIMIT", "Episode", "inject_faults"]

logger = logging.getLogger("asyncdb.tests.faults")

#: The same service must answer again within this many seconds after a fault ends.
RECOVERY_LIMIT = 20.0
FLAKY = FaultRates(reset=0.04, drop=0.06, stall=0.02, truncate=0.03)
LOSE = FaultRates(drop=0.25)

Probe = Callable[[], Awaitable[object]]


@dataclass
class Episode:
    kind: str
    start: float
    end: float
    recovery: float | None = None  # seconds until every probe answered; None: never


async def inject_faults(
    target: Target, rng: random.Random, done: asyncio.Event, probes: Sequence[Probe]
) -> list[Episode]:
    """Run episodes until ``done`` is set; the last one always ends in a recovery."""
    episodes: list[Episode] = []
    kinds = target.fault_kinds
    cycle: list[str] = []
    while kinds and not done.is_set():
        await _sleep_unless(done, rng.uniform(0.4, 1.0))
        if done.is_set():
            break
        if not cycle:
            # Every kind once per round, in a seeded order: a short run still sees each.
            cycle = rng.sample(kinds, len(kinds))
        kind = cycle.pop()
        start = time.monotonic()
        await _episode(target, kind, rng)
        end = time.monotonic()
        episode = Episode(kind, start, end)
        episode.recovery = await _recovery(probes, end)
        logger.info("fault %s for %.2fs, recovered in %s s", kind, end - start, episode.recovery)
        episodes.append(episode)
    return episodes


async def _episode(target: Target, kind: str, rng: random.Random) -> None:
    proxy, server = target.proxy, target.server
    injected = target.injected
    if kind == "flaky" and proxy is not None:
        proxy.set_rates(FLAKY)
        await asyncio.sleep(rng.uniform(1.0, 2.0))
        proxy.calm()
    elif kind == "lose" and proxy is not None:
        proxy.set_rates(LOSE)
        await asyncio.sleep(rng.uniform(1.0, 2.0))
        proxy.calm()
    elif kind == "down" and proxy is not None:
        await asyncio.to_thread(proxy.down)
        await asyncio.sleep(rng.uniform(0.5, 1.5))
        await asyncio.to_thread(proxy.up)
    elif kind == "pause" and server is not None:
        server.pause()
        await asyncio.sleep(rng.uniform(1.2, 2.0) * REQUEST_TIMEOUT)
        server.resume()
    elif kind in target.own_faults:
        await target.own_faults[kind](rng)
        injected[kind] += 1
    elif kind == "kill" and server is not None:
        server.kill()
        await asyncio.sleep(rng.uniform(0.2, 0.8))
        # The restart blocks until the server answers; the writers go on meanwhile.
        await asyncio.to_thread(server.start)
        if target.proxy is not None:
            target.proxy.injected["kill"] += 1
    if kind == "pause" and target.proxy is not None:
        target.proxy.injected["pause"] += 1


async def _recovery(probes: Sequence[Probe], since: float) -> float | None:
    """Seconds from ``since`` until each probe has succeeded once; ``None`` past the limit."""
    pending = list(probes)
    while pending:
        probe = pending[0]
        try:
            await asyncio.wait_for(probe(), timeout=RECOVERY_LIMIT)
        except Exception:
            if time.monotonic() - since > RECOVERY_LIMIT:
                return None
            await asyncio.sleep(0.05)
            continue
        pending.pop(0)
    return round(time.monotonic() - since, 3)


async def _sleep_unless(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout=seconds)
