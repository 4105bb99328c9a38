"""One consumer loop for every message-driven trigger; the settle policy is the source's.

The loop polls a ``MessageSource`` in batches (100 ms at first, a randomized exponential
back-off up to ``max_polling_interval`` while it is empty, back to the minimum when a
message arrives, as the real host polls), handles the messages concurrently up to
``new_batch_threshold`` in flight, keeps each one ours while it is handled (``renew``), and
then lets the source settle it: a storage queue deletes it or makes it visible again and
poisons it after ``maxDequeueCount``; a broker completes, abandons or dead-letters it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from funchost.storage.roles import StorageError
from funchost.triggers.common.background import OutageLog, keep_running

logger = logging.getLogger("funchost.consumer")

MIN_POLL = 0.1
POLL_STOP_WAIT = 1.0  # seconds stop() waits for a poll in progress before cancelling it

M = TypeVar("M")


class MessageSource(Protocol[M]):
    """Where a consumer's messages come from, and how each one is kept and settled."""

    label: str  # for the log: "queue 'orders'"

    @property
    def renew_every(self) -> float:
        """Seconds between renewals while a message is handled (read before each renewal)."""

    async def open(self) -> None:
        """Create what must exist (the queue, the subscription) before the first fetch."""

    async def fetch(self, count: int) -> list[M]:
        """Up to ``count`` messages, each now ours until settled or its lock lapses."""

    async def renew(self, message: M) -> bool:
        """Keep the message ours; False when it was lost (another consumer may have it)."""

    async def settle(self, message: M, succeeded: bool) -> None:
        """Acknowledge a handled message, or hand back (retry, poison, dead-letter) a failed one."""


@dataclass(frozen=True)
class PollOptions:
    batch_size: int = 16
    new_batch_threshold: int = 8  # fetch again when no more than this many are in flight
    max_polling_interval: float = 2.0
    # a hard cap instead (Service Bus's maxConcurrentCalls): never more in flight than this
    max_in_flight: int | None = None


class Consumer(Generic[M]):
    """Competing consumer of one source: fetch in batches, handle concurrently, settle each."""

    def __init__(
        self, source: MessageSource[M], handler: Callable[[M], Awaitable[bool]], options: PollOptions, label: str
    ) -> None:
        self.source = source
        self.handler = handler
        self.options = options
        self.label = label  # whose consumer, for the log: "function 'process'"
        self._wake = asyncio.Event()
        self._slot = asyncio.Event()
        self._stopping = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._outage = OutageLog(
            logger, f"Polling {source.label} for {label} failed: %s", f"Polling {source.label} for {label} works again."
        )

    def wake(self) -> None:
        """Poll now (the embedded store calls this when this process puts a message)."""
        self._wake.set()

    async def start(self) -> None:
        await self.source.open()
        self._loop_task = asyncio.create_task(
            keep_running(f"the poll of {self.source.label} for {self.label}", self._poll, self._stopping),
            name=f"consumer:{self.source.label}",
        )

    async def stop(self, drain_timeout: float | None = None) -> None:
        """Stop fetching, then wait for the messages being handled."""
        self._stopping.set()
        self._wake.set()
        self._slot.set()
        if self._loop_task is not None:
            # a poll parked in a store call that does not answer is given up on
            done, _ = await asyncio.wait([self._loop_task], timeout=POLL_STOP_WAIT)
            if not done:
                self._loop_task.cancel()
                await asyncio.wait([self._loop_task])
        if self._inflight:
            await asyncio.wait(list(self._inflight), timeout=drain_timeout)

    async def _poll(self) -> None:
        delay = MIN_POLL
        while not self._stopping.is_set():
            count = self._fetch_count()
            if count <= 0:
                self._slot.clear()
                await self._slot.wait()
                continue
            try:
                batch = await self.source.fetch(count)
                self._outage.recovered()
            except StorageError as error:
                self._outage.failed(error)
                batch = []
            if batch:
                delay = MIN_POLL
                for message in batch:
                    task = asyncio.create_task(self._process(message))
                    self._inflight.add(task)
                    task.add_done_callback(self._done)
                continue
            delay = min(self.options.max_polling_interval, delay * 2 * random.uniform(0.8, 1.2))
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
                delay = MIN_POLL

    def _fetch_count(self) -> int:
        """How many to fetch now; 0 while enough messages are in flight."""
        cap = self.options.max_in_flight
        if cap is not None:
            return min(self.options.batch_size, cap - len(self._inflight))
        return self.options.batch_size if len(self._inflight) <= self.options.new_batch_threshold else 0

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._slot.set()
        if not task.cancelled() and task.exception() is not None:
            logger.error("Handling a message of %s failed", self.source.label, exc_info=task.exception())

    async def _process(self, message: M) -> None:
        keeper = asyncio.create_task(self._keep(message))
        try:
            succeeded = await self.handler(message)
        finally:
            keeper.cancel()
        await self.source.settle(message, succeeded)

    async def _keep(self, message: M) -> None:
        """Renew the message while it is handled (cancelled when it is done)."""
        renewed = [time.monotonic()]

        async def renew() -> None:
            while True:
                # after a failed renewal, the next one is due at once, not a whole period later
                await asyncio.sleep(max(0.0, renewed[0] + self.source.renew_every - time.monotonic()))
                if not await self.source.renew(message):
                    return
                renewed[0] = time.monotonic()

        await keep_running(
            f"the renewal of a message of {self.source.label}",
            renew,
            first_backoff=min(1.0, self.source.renew_every / 2),
        )
