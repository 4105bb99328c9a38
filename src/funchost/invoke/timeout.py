"""functionTimeout for every running invocation, kept by one periodic timer.

A timer per invocation (``asyncio.timeout`` or ``wait_for``) cost about a quarter of the
host's own time per HTTP request; one sweep every ``period`` seconds costs nothing per
call but a set insert and removal. A function is cancelled between ``timeout`` and
``timeout + period`` after it started: period is a twentieth of the timeout, at most 1 s.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from typing import Any


@dataclass(eq=False)
class Deadline:
    """One running invocation: when it must end, and the task to cancel if it does not."""

    at: float
    task: asyncio.Task[Any]
    expired: bool = False

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

    def watch(self) -> Deadline:
        """Start watching the current task; call ``release`` when the invocation ends."""
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        deadline = Deadline(loop.time() + self.timeout, task)
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
