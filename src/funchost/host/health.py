"""What an instance knows about its own load: dynamic HTTP throttles, the health monitor, status.

Every sample measures two things a Python host can be starved of:

- **event-loop lag**: how late a timer fires. Async functions, the HTTP server and every
  listener share the loop; an async function that blocks (``time.sleep``, heavy CPU) shows
  here first.
- **thread backlog**: sync invocations waiting for a thread of the pool
  (``PYTHON_THREADPOOL_THREAD_COUNT``) beyond those running.

The instance is *overloaded* (dynamic throttles answer 429) while the last sample saw a
lag over 250 ms or a backlog as long as the pool itself, and *unhealthy* in a sample when
the loop lagged a second or more or the backlog was twice the pool. ``healthMonitor``
(host.json, the real host's keys and defaults) recycles an instance with
``healthCheckThreshold`` unhealthy samples within ``healthCheckWindow``, sampling every
``healthCheckInterval``.

Each sample is also reported to the supervisor, which keeps every instance's state in the
file named by ``FUNCHOST_STATUS_FILE`` for ``/admin/host/status`` (instances never talk to
each other).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from funchost.config import HostConfig
from funchost.invoke import Invoker
from funchost.triggers.http.throttle import RequestThrottle

logger = logging.getLogger("funchost.host")

OVERLOAD_LAG = 0.25
UNHEALTHY_LAG = 1.0
TICK = 0.1
THROTTLE_SAMPLE = 1.0  # dynamic throttles need a quicker look than the health monitor's 10 s


@dataclass
class HealthPolicy:
    enabled: bool = True
    interval: float = 10.0
    window: float = 120.0
    threshold: int = 6

    @classmethod
    def from_config(cls, config: HostConfig) -> HealthPolicy:
        def seconds(key: str, default: float) -> float:
            span = config.timespan(f"healthMonitor.{key}", timedelta(seconds=default))
            return span.total_seconds() if span is not None else default

        return cls(
            enabled=str(config.get("healthMonitor.enabled", "true")).lower() != "false",
            interval=max(0.1, seconds("healthCheckInterval", 10.0)),
            window=seconds("healthCheckWindow", 120.0),
            threshold=int(config.get("healthMonitor.healthCheckThreshold", 6)),
        )


class LoadMonitor:
    def __init__(
        self,
        invoker: Invoker,
        threads: int,
        throttle: RequestThrottle | None,
        policy: HealthPolicy,
        report: Callable[[dict[str, Any]], None],
        on_unhealthy: Callable[[str], None],
    ) -> None:
        self.invoker = invoker
        self.threads = threads
        self.throttle = throttle
        self.policy = policy
        self.report = report
        self.on_unhealthy = on_unhealthy
        self.lag = 0.0
        self.backlog = 0
        self.unhealthy: deque[float] = deque()
        self.healthy = True

    @property
    def interval(self) -> float:
        if self.throttle is not None and self.throttle.dynamic:
            return min(THROTTLE_SAMPLE, self.policy.interval)
        return self.policy.interval

    def sample(self, lag: float) -> None:
        self.lag = max(0.0, lag)
        self.backlog = max(0, self.invoker.sync_running - self.threads)
        if self.throttle is not None and self.throttle.dynamic:
            overloaded = self.lag > OVERLOAD_LAG or self.backlog >= self.threads
            if overloaded and not self.throttle.overloaded:
                logger.warning(
                    "The instance is overloaded (event loop lag %d ms, %d invocations waiting for a "
                    "thread); answering 429 until it recovers.",
                    self.lag * 1000,
                    self.backlog,
                )
            self.throttle.overloaded = overloaded
        self.healthy = self.lag < UNHEALTHY_LAG and self.backlog < 2 * self.threads
        if self.policy.enabled:
            now = time.monotonic()
            if not self.healthy:
                self.unhealthy.append(now)
            while self.unhealthy and now - self.unhealthy[0] > self.policy.window:
                self.unhealthy.popleft()
            if len(self.unhealthy) >= self.policy.threshold:
                self.unhealthy.clear()
                self.on_unhealthy(
                    f"health monitor: {self.policy.threshold} unhealthy samples within "
                    f"{self.policy.window:.0f} s (last: event loop lag {self.lag * 1000:.0f} ms, "
                    f"{self.backlog} invocations waiting for a thread)"
                )
        self.report(self.snapshot())

    def snapshot(self) -> dict[str, Any]:
        return {
            "runningInvocations": self.invoker.running,
            "eventLoopLagMs": round(self.lag * 1000, 1),
            "threadBacklog": self.backlog,
            "healthy": self.healthy,
            "overloaded": bool(self.throttle is not None and self.throttle.overloaded),
            "httpOutstanding": self.throttle.outstanding if self.throttle is not None else None,
            "httpRejected": self.throttle.rejected if self.throttle is not None else 0,
            "sampledAt": time.time(),
        }

    async def run(self) -> None:
        """Tick every 100 ms and keep the worst lateness, so a block of the loop is seen whole."""
        self.report(self.snapshot())
        while True:
            interval = self.interval
            started = time.monotonic()
            worst = 0.0
            while True:
                before = time.monotonic()
                await asyncio.sleep(TICK)
                now = time.monotonic()
                worst = max(worst, now - before - TICK)
                if now - started >= interval:
                    break
            self.sample(worst)


def instances_status() -> list[dict[str, Any]] | None:
    """Every instance as the supervisor last saw it, or None when not supervised."""
    path = os.environ.get("FUNCHOST_STATUS_FILE")
    if not path:
        return None
    try:
        entries = list(json.loads(Path(path).read_text()))
    except (OSError, ValueError):
        return []
    now = time.time()
    for entry in entries:  # the file changes only on events, so uptime is computed when read
        started_at = entry.pop("startedAt", None)
        if started_at is not None:
            entry["uptimeSeconds"] = round(now - started_at, 1)
    return entries
