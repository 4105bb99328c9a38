"""functionTimeout for every running invocation, kept by one periodic timer.

A timer per invocation (``asyncio.timeout`` or ``wait_for``) cost about a quarter of the
host's own time per HTTP request; one sweep every ``period`` seconds costs nothing per
call but a set insert and removal. A function is cancelled between ``timeout`` and
``timeout + period`` after it started: period is a twentieth of the timeout, at most 1 s.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable
from typing import Any


class Deadline:
    """One running invocation: when it must end, and the task to cancel if it does not.

    A plain class with slots: one is made per invocation, on the hot path.
    """

    __slots__ = ("at", "expired", "function_name", "invocation_id", "started", "task")

    def __init__(self, at: float, task: asyncio.Task[Any], function_name: str = "", invocation_id: str = "",
                 started: float = 0.0) -> None:
        self.at = at  # on the loop's clock
        self.task = task
        self.function_name = function_name
        self.invocation_id = invocation_id
        self.started = started  # time.monotonic(), for the blocked-loop detector's thread
        self.expired = False

    def absorb_cancel(self) -> None:
        """The cancellation was ours: take it back so the task goes on to report the timeout."""
        if sys.version_info >= (3, 11):
            self.task.uncancel()


class Watchdog:
    """Cancels invocations that run past ``timeout`` seconds."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.period = min(1.0, max(0.05, timeout / 20))
        self._running: set[Deadline] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None

    def watch(self, function_name: str = "", invocation_id: str = "") -> Deadline:
        """Start watching the current task; call ``release`` when the invocation ends."""
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        assert task is not None
        deadline = Deadline(loop.time() + self.timeout, task, function_name, invocation_id, time.monotonic())
        self._running.add(deadline)
        if self._timer is None or self._timer_loop is not loop:
            self._schedule(loop)
        return deadline

    def release(self, deadline: Deadline) -> None:
        self._running.discard(deadline)

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer_loop = loop
        self._timer = loop.call_later(self.period, self._sweep, loop)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for deadline in list(self._running):
            if not deadline.expired and deadline.at <= now:
                deadline.expired = True
                deadline.task.cancel()
        if self._running:
            self._schedule(loop)
        else:
            self._timer = None

    def overdue(self, now: float, grace: float) -> list[Deadline]:
        """Invocations past their timeout by more than ``grace`` seconds (``time.monotonic()``);
        safe to call from another thread."""
        return [d for d in list(self._running) if now - d.started > self.timeout + grace]


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
