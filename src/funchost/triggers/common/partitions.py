"""Partitions shared among the host processes reading one source (Event Hubs partitions on the
embedded broker; next, change-feed ranges).

Each process records that it is alive (a state key refreshed every balancing round) and owns
about its share of the partitions, ``ceil(partitions / live processes)``, each through a
``Lease``: it takes free or expired partitions up to its share and gives back the ones above
it, so a new process gets partitions within a few rounds and a dead one's are taken over
once their leases expire. Work on a partition stops as soon as its lease is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from funchost.storage.roles import CoordinationStore, StorageError
from funchost.triggers.common.background import OutageLog, keep_running
from funchost.triggers.common.lease import Lease

logger = logging.getLogger("funchost.partitions")

PartitionWork = Callable[["Claim"], Awaitable[None]]


@dataclass
class Claim:
    """One owned partition: work runs until ``lost`` is set, and may checkpoint while ``held``."""

    partition: str
    lease: Lease
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    @property
    def held(self) -> bool:
        return self.lease.held


class PartitionBalancer:
    """Owns this process's share of ``partitions``, running ``work(claim)`` for each one owned."""

    def __init__(
        self,
        store: CoordinationStore,
        prefix: str,
        owner: str,
        partitions: list[str],
        period: float,
        label: str,
        work: PartitionWork,
        round_interval: float | None = None,
    ) -> None:
        self.store = store
        self.prefix = prefix  # "eventhub/embedded/orders/$default"
        self.owner = owner
        self.partitions = partitions
        self.period = max(period, store.min_lease_seconds)  # how long a lease (and a sign of life) lasts
        self.round_interval = min(round_interval or self.period, self.period / 3)
        self.label = label  # "event hub 'orders' for function 'process'"
        self.work = work
        self.claims: dict[str, Claim] = {}
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._outage = OutageLog(
            logger,
            f"Balancing the partitions of {label} failed: %s",
            f"Balancing the partitions of {label} works again.",
        )

    async def start(self) -> None:
        self._task = asyncio.create_task(
            keep_running(f"the partition balancing of {self.label}", self._run, self._stopping),
            name=f"partitions:{self.prefix}",
        )

    async def stop(self, drain_timeout: float | None = None) -> None:
        """Stop taking partitions, let the work on the owned ones finish, give them back."""
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for claim in self.claims.values():
            claim.lost.set()
        tasks = [claim.task for claim in self.claims.values() if claim.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=drain_timeout)
        for claim in list(self.claims.values()):
            await claim.lease.release()
        self.claims.clear()
        with contextlib.suppress(StorageError):
            await self.store.delete_state(self._presence_key)

    @property
    def _presence_key(self) -> str:
        return f"{self.prefix}/owners/{self.owner}"

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.balance()
                self._outage.recovered()
            except StorageError as error:
                self._outage.failed(error)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.round_interval)

    async def live_owners(self) -> int:
        """Processes that said they were alive within one lease period (this one included)."""
        now = time.time()
        await self.store.set_state(self._presence_key, repr(now))
        live = 0
        for key in await self.store.list_state_keys(f"{self.prefix}/owners/"):
            seen = await self.store.get_state(key)
            try:
                recent = seen is not None and now - float(seen) < self.period
            except ValueError:
                recent = False
            if recent:
                live += 1
            else:
                await self.store.delete_state(key)
        return max(1, live)

    async def balance(self) -> None:
        """One round: renew what is owned, give back what is above the share, take up to it."""
        share = math.ceil(len(self.partitions) / await self.live_owners())
        for partition, claim in list(self.claims.items()):
            if not await claim.lease.renew():  # taken over: stop at once, it is someone else's now
                claim.lost.set()
                del self.claims[partition]
        for partition in sorted(self.claims, key=int_or_text, reverse=True)[: max(0, len(self.claims) - share)]:
            await self._give_back(self.claims.pop(partition))
        for partition in self.partitions:
            if len(self.claims) >= share or self._stopping.is_set():
                break
            if partition in self.claims:
                continue
            lease = Lease(
                self.store,
                f"{self.prefix}/ownership/{partition}",
                self.owner,
                self.period,
                f"partition {partition} of {self.label}",
            )
            if await lease.try_acquire():
                claim = Claim(partition, lease)
                claim.task = asyncio.create_task(self._work(claim), name=f"partition:{self.prefix}/{partition}")
                self.claims[partition] = claim
                logger.info("Partition %s of %s is now processed by %s.", partition, self.label, self.owner)

    async def _work(self, claim: Claim) -> None:
        await keep_running(f"partition {claim.partition} of {self.label}", lambda: self.work(claim), claim.lost)

    async def _give_back(self, claim: Claim) -> None:
        claim.lost.set()
        if claim.task is not None:
            await asyncio.wait([claim.task], timeout=self.period)
        await claim.lease.release()
        logger.info("Partition %s of %s was given back for balancing.", claim.partition, self.label)


def int_or_text(partition: str) -> tuple[int, str]:
    return (int(partition), "") if partition.isdigit() else (0, partition)
