"""Background loops that never die quietly.

Every loop a host runs beside its requests (queue polls, visibility renewal, blob scans,
timers, lease renewal, health sampling) runs under ``keep_running``: an unexpected exception
is logged with the loop's name and cause, and the loop starts again after a back-off that
doubles up to ``MAX_BACKOFF``. Without it an exception in a task ends the loop, and nobody
hears of it until the function silently stops firing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

logger = logging.getLogger("funchost.background")

FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0
HEALTHY_AFTER = 60.0  # a loop that ran this long before failing starts its back-off afresh


async def keep_running(
    name: str,
    body: Callable[[], Awaitable[None]],
    stopping: asyncio.Event | None = None,
    *,
    first_backoff: float = FIRST_BACKOFF,
    max_backoff: float = MAX_BACKOFF,
) -> None:
    """Run ``body`` until it returns or ``stopping`` is set, restarting it after a failure.

    ``name`` says what the loop does for whom ("the poll of queue 'orders' for function
    'process'"); it starts the error line. Cancellation passes through.
    """
    failures = 0
    while stopping is None or not stopping.is_set():
        started = time.monotonic()
        try:
            await body()
            return
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if time.monotonic() - started > HEALTHY_AFTER:
                failures = 0
            failures += 1
            delay = min(max_backoff, first_backoff * 2 ** (failures - 1))
            # the first failure with its traceback, then one line per failure
            logger.error(
                "%s failed (%s: %s); restarting it in %.1f s.",
                _capitalized(name),
                type(error).__name__,
                error,
                delay,
                exc_info=error if failures == 1 else None,
            )
        if stopping is None:
            await asyncio.sleep(delay)
        else:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=delay)


class OutageLog:
    """One error line when a store call starts failing and one when it works again, nothing in
    between: a poll that retries every second must not print a line every second."""

    def __init__(self, log: logging.Logger, failed: str, recovered: str) -> None:
        self.log = log
        self.failed_text = failed  # with one %s: the error
        self.recovered_text = recovered
        self.failing = False

    def failed(self, error: Exception) -> None:
        if not self.failing:
            self.log.error(self.failed_text, error)
        self.failing = True

    def recovered(self) -> None:
        if self.failing:
            self.log.warning(self.recovered_text)
        self.failing = False


async def first_of(*events: asyncio.Event) -> None:
    """Wait until one of ``events`` is set."""
    waits = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


def _capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]
