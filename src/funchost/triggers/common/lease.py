"""One named lease, held by one host process at a time: the singleton behind timers, the blob
scan and (next) partition owners.

The holder renews every third of the lease period; the others try to take it at the same
pace and get it once it expires, so a dead holder is replaced within one period. A store
that cannot be reached is reported as an outage, never mistaken for "held elsewhere".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from funchost.storage.roles import LeaseStore, StorageError
from funchost.triggers.common.background import OutageLog, keep_running

logger = logging.getLogger("funchost.lease")

Work = Callable[[asyncio.Event], Awaitable[None]]


class Lease:
    """A lease ``name`` in ``store`` that ``owner`` takes, renews and releases."""

    def __init__(self, store: LeaseStore, name: str, owner: str, period: float, label: str) -> None:
        self.store = store
        self.name = name
        self.owner = owner
        self.period = period
        self.label = label  # whose lease, for the log: "timer 'nightly'"
        self.held = False
        self._outage = OutageLog(
            logger,
            f"The store holding the lease of {label} cannot be reached: %s",
            f"The store holding the lease of {label} answers again.",
        )

    async def try_acquire(self) -> bool:
        """Take (or keep) the lease; False when someone else holds it or the store is out."""
        return await self._ask(lambda: self.store.acquire_lease(self.name, self.owner, self.period))

    async def renew(self) -> bool:
        """Extend the lease; False when it was lost (taken over, or the store is out)."""
        held = await self._ask(lambda: self.store.renew_lease(self.name, self.owner, self.period))
        if not held and not self._outage.failing:
            logger.warning("The lease of %s was taken over by another instance.", self.label)
        return held

    async def _ask(self, call: Callable[[], Awaitable[bool]]) -> bool:
        """Whether the store says we hold the lease; an outage is reported once and means no."""
        try:
            self.held = await call()
        except StorageError as error:
            self._outage.failed(error)
            self.held = False
            return False
        self._outage.recovered()
        return self.held

    async def release(self) -> None:
        if not self.held:
            return
        self.held = False
        with contextlib.suppress(StorageError):  # it expires by itself anyway
            await self.store.release_lease(self.name, self.owner)

    async def run_while_held(self, work: Work, stopping: asyncio.Event) -> None:
        """Until ``stopping``: take the lease, then run ``work(lost)`` while renewing it.

        ``lost`` is set when a renewal fails; ``work`` must then return, and the lease is
        sought again. Failures of ``work`` or of the store restart the loop after a back-off.
        """
        try:
            await keep_running(f"the {self.label} lease loop", lambda: self._hold_loop(work, stopping), stopping)
        finally:  # also when a stop past its deadline cancels the loop
            await self.release()

    async def _hold_loop(self, work: Work, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            if not await self.try_acquire():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stopping.wait(), timeout=self.period / 3)
                continue
            logger.info("The lease of %s was acquired by %s.", self.label, self.owner)
            lost = asyncio.Event()
            renewer = asyncio.create_task(self._renew_until_lost(lost, stopping), name=f"lease:{self.name}")
            try:
                await work(lost)
            finally:
                renewer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewer

    async def _renew_until_lost(self, lost: asyncio.Event, stopping: asyncio.Event) -> None:
        try:
            while not stopping.is_set():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stopping.wait(), timeout=self.period / 3)
                if stopping.is_set() or not await self.renew():
                    break
        except Exception as error:
            logger.error(
                "Renewing the lease of %s failed (%s: %s); seeking it again.",
                self.label,
                type(error).__name__,
                error,
                exc_info=error,
            )
        finally:
            lost.set()  # whatever ended the renewals, the work must not go on unguarded
