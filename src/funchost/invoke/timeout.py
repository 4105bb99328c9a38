"""functionTimeout for every running invocation, kept by one periodic timer.

A timer per invocation (``asyncio.timeout`` or ``wait_for``) cost about a quarter of the
host's own time per HTTP request; one sweep every ``period`` seconds costs nothing per
call but a dict insert and removal. A function is cancelled between ``timeout`` and
``timeout + period`` after it started: period is a twentieth of the timeout, at most 1 s.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Deadline:
    """A running invocation past its functionTimeout, as the blocked-loop detector reports it."""

    function_name: str
    invocation_id: str
    started: float  # time.monotonic()


class Watchdog:
    """Cancels invocations that run past ``timeout`` seconds.

    Per invocation it costs a dict insert and removal keyed by the invocation's task (one
    invocation per task at a time, as every listener runs them), with a tuple of when it
    started and what it is.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.period = min(1.0, max(0.05, timeout / 20))
        # task -> (time.monotonic() at the start, function name, invocation id)
        self._running: dict[asyncio.Task[Any], tuple[float, str, str]] = {}
        self._expired: set[asyncio.Task[Any]] = set()  # cancelled by the sweep, not yet told
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None

    def watch(self, function_name: str = "", invocation_id: str = "") -> asyncio.Task[Any]:
        """Start watching the current task; call ``release`` with it when the invocation ends."""
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        assert task is not None
        self._running[task] = (time.monotonic(), function_name, invocation_id)
        if self._timer is None or self._timer_loop is not loop:
            self._schedule(loop)
        return task

    def expired(self, task: asyncio.Task[Any]) -> bool:
        """Whether the cancellation the task received was the watchdog's; if so it is taken back,
        so the task goes on to report the timeout."""
        if task not in self._expired:
            return False
        self._expired.discard(task)
        if sys.version_info >= (3, 11):
            task.uncancel()
        return True

    def release(self, task: asyncio.Task[Any]) -> None:
        self._running.pop(task, None)
        if self._expired:
            self._expired.discard(task)

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer_loop = loop
        self._timer = loop.call_later(self.period, self._sweep, loop)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = time.monotonic()
        for task, (started, _, _) in list(self._running.items()):
            if now - started >= self.timeout and task not in self._expired:
                self._expired.add(task)
                task.cancel()
        if self._running:
            self._schedule(loop)
        else:
            self._timer = None

    def overdue(self, now: float, grace: float) -> list[Deadline]:
        """Invocations past their timeout by more than ``grace`` seconds (``time.monotonic()``);
        safe to call from another thread."""
        return [
            Deadline(name, invocation_id, started)
            for started, name, invocation_id in list(self._running.values())
            if now - started > self.timeout + grace
        ]


class BlockedLoopDetector:
    """Watches the event loop from a thread, since a blocked loop cannot watch itself.

    The loop beats every ``BEAT`` seconds. When it has not beaten for a while and an
    invocation on it is past functionTimeout (an ``async def`` that calls ``time.sleep`` or
    computes without awaiting), the watchdog's sweep will never run: ``on_blocked`` is called,
    once, from this thread.
    """

    BEAT = 0.25

    def __init__(self, watchdog: Watchdog, on_blocked: Callable[[Deadline], None]) -> None:
        self.watchdog = watchdog
        self.on_blocked = on_blocked
        self.grace = max(1.0, watchdog.period * 2)
        self._last_beat = time.monotonic()
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        loop.call_soon(self._beat)
        threading.Thread(target=self._watch, name="funchost-loop-watchdog", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _beat(self) -> None:
        self._last_beat = time.monotonic()
        if self._loop is not None and not self._stop.is_set():
            self._loop.call_later(self.BEAT, self._beat)

    def _watch(self) -> None:
        while not self._stop.wait(self.BEAT * 2):
            now = time.monotonic()
            if now - self._last_beat < self.grace:
                continue
            overdue = self.watchdog.overdue(now, self.grace)
            if overdue:
                self._stop.set()
                self.on_blocked(overdue[0])
