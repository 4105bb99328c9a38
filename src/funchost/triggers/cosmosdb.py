"""Cosmos DB trigger: a container's change feed, delivered in batches per feed range, to one
host process at a time per range, checkpointed after the invocation succeeded.

Leases and continuations live in the lease container (``leaseContainerName``, default
``leases``, in ``leaseDatabaseName`` or the monitored database), which must exist unless
``createLeaseContainerIfNotExists`` is true, as in the real host; ``leaseContainerPrefix``
keeps several functions apart in one lease container. While a container is missing the
listener says so once and looks again every poll delay, so creating it later starts it. ``startFromBeginning`` (default:
from now), ``startFromTime``, ``maxItemsPerInvocation`` (100), ``feedPollDelay`` (5000 ms, the
real default; writes made by this process wake the reader at once), ``leaseExpirationInterval``
(60000 ms) and ``leaseRenewInterval`` (17000 ms) are honoured. A failed invocation is not
checkpointed: its batch comes again after the poll delay (at least once, never dropped).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from datetime import datetime
from typing import Any

from azure.functions import meta

from funchost.app.invocation import Invocation
from funchost.app.model import FunctionSpec
from funchost.config import parse_bool, parse_time
from funchost.storage.lease_container import LeaseContainer
from funchost.storage.roles import DocumentStore
from funchost.triggers.base import ListenerContext, ListenerSet
from funchost.triggers.common.background import first_of, keep_running
from funchost.triggers.common.consumer import POLL_STOP_WAIT
from funchost.triggers.common.partitions import Claim, PartitionBalancer

logger = logging.getLogger("funchost.cosmosdb")


def _setting(spec: FunctionSpec, *names: str, default: Any = None) -> Any:
    """The first of ``names`` the trigger sets (v4 extension names first, then v3's)."""
    for name in names:
        value = spec.trigger.setting(name)
        if value not in (None, ""):
            return value
    return default


class CosmosDBTriggerListener:
    """Runs one Cosmos DB-triggered function."""

    def __init__(self, spec: FunctionSpec, context: ListenerContext) -> None:
        self.spec = spec
        self.context = context
        resolve = context.settings.resolve
        self.database = resolve(str(_setting(spec, "databaseName", default="")))
        self.container = resolve(str(_setting(spec, "containerName", "collectionName", default="")))
        if not self.database or not self.container:
            raise ValueError(f"the Cosmos DB trigger of function '{spec.name}' needs databaseName and containerName")
        self.store = context.resolver.resolve(DocumentStore, _setting(spec, "connection", "connectionStringSetting"))
        lease_store = context.resolver.resolve(
            DocumentStore,
            _setting(spec, "leaseConnection", "leaseConnectionStringSetting", "connection", "connectionStringSetting"),
        )
        self.lease_database = resolve(str(_setting(spec, "leaseDatabaseName", default=self.database)))
        self.lease_container = resolve(
            str(_setting(spec, "leaseContainerName", "leaseCollectionName", default="leases"))
        )
        self.create_leases = parse_bool(
            _setting(spec, "createLeaseContainerIfNotExists", "createLeaseCollectionIfNotExists", default=False),
            name="createLeaseContainerIfNotExists",
        )
        self.leases = LeaseContainer(lease_store, self.lease_database, self.lease_container)
        prefix = str(_setting(spec, "leaseContainerPrefix", "leaseCollectionPrefix", default=""))
        self.prefix = f"{prefix}{self.database}.{self.container}"
        self.start_from_beginning = parse_bool(
            _setting(spec, "startFromBeginning", default=False), name="startFromBeginning"
        )
        start_time = _setting(spec, "startFromTime")
        self.start_from_time = parse_time(str(start_time)) if start_time else None
        self.max_items = int(_setting(spec, "maxItemsPerInvocation", default=100))
        self.poll_delay = float(_setting(spec, "feedPollDelay", default=5000)) / 1000
        self.lease_expiration = float(_setting(spec, "leaseExpirationInterval", default=60000)) / 1000
        self.lease_renew = float(_setting(spec, "leaseRenewInterval", default=17000)) / 1000
        self.owner = f"{context.host_id}:{uuid.uuid4().hex}"
        self.label = f"container '{self.database}/{self.container}' for function '{spec.name}'"
        self._wakes: set[asyncio.Event] = set()
        self._balancer: PartitionBalancer | None = None
        self._starting: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        lease_store_providers = {id(self.store): self.store, id(lease_store): lease_store}
        self.providers = list(lease_store_providers.values())

    def wake(self) -> None:
        for event in self._wakes:
            event.set()

    @property
    def ready(self) -> bool:
        """False while the listener waits for its containers (``/admin/host/ready`` says so)."""
        return self._balancer is not None

    async def start(self) -> None:
        self._starting = asyncio.create_task(
            keep_running(
                f"the start of the change feed listener of {self.label}", self._start_when_ready, self._stopping
            ),
            name=f"cosmosdb:{self.spec.name}",
        )

    async def _start_when_ready(self) -> None:
        """Start once the containers exist; until then say why once, and look again every poll delay
        (a container created later, by an output binding or a tool, starts the trigger)."""
        reported: str | None = None
        while not self._stopping.is_set():
            missing = await self._missing_container()
            if missing is None:
                break
            if missing != reported:  # each reason once
                logger.error(
                    "The listener for function 'Functions.%s' was unable to start. %s funchost looks again every %g s.",
                    self.spec.name,
                    missing,
                    self.poll_delay,
                )
                reported = missing
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.poll_delay)
        if self._stopping.is_set():
            return
        ranges = await self.store.feed_ranges(self.database, self.container)
        self._balancer = PartitionBalancer(
            self.leases,
            self.prefix,
            self.owner,
            ranges,
            self.lease_expiration,
            self.label,
            self._pump,
            self.lease_renew,
        )
        await self._balancer.start()
        if reported:
            logger.warning("The listener for function 'Functions.%s' started.", self.spec.name)

    async def _missing_container(self) -> str | None:
        if not await self.store.container_exists(self.database, self.container):
            return f"The monitored container '{self.container}' does not exist in database '{self.database}'."
        if not await self.leases.store.container_exists(self.lease_database, self.lease_container):
            if not self.create_leases:
                return (
                    f"The lease container '{self.lease_container}' does not exist in database "
                    f"'{self.lease_database}': create it, or set create_lease_container_if_not_exists "
                    "(createLeaseContainerIfNotExists) to true."
                )
            await self.leases.store.create_container(self.lease_database, self.lease_container, "/id")
        return None

    async def stop(self, drain_timeout: float | None = None) -> None:
        self._stopping.set()
        self.wake()
        if self._starting is not None:
            await asyncio.wait([self._starting], timeout=POLL_STOP_WAIT)
        if self._balancer is not None:
            await self._balancer.stop(drain_timeout)

    async def _start_position(self, feed_range: str) -> str:
        if self.start_from_beginning:
            return "0"
        return await self.store.feed_position(self.database, self.container, feed_range, self.start_from_time)

    async def _pump(self, claim: Claim) -> None:
        """Read an owned feed range from its continuation until the claim is lost."""
        key = f"{self.prefix}/continuation/{claim.partition}"
        continuation = await self.leases.get_state(key)
        if continuation is None:  # first owner ever: where to start, kept so a restart does not skip
            continuation = await self._start_position(claim.partition)
            await self.leases.set_state(key, continuation)
        wake = asyncio.Event()
        self._wakes.add(wake)
        try:
            while not claim.lost.is_set():
                wake.clear()
                documents, after = await self.store.read_feed(
                    self.database, self.container, claim.partition, continuation, self.max_items
                )
                if documents:
                    outcome = await self.context.run(self._invocation(documents))
                    if outcome.succeeded and claim.held:
                        await self.leases.set_state(key, after)
                        continuation = after
                        continue
                    if not outcome.succeeded:
                        logger.warning(
                            "The change feed batch of %s (%d documents) failed; it will be delivered again.",
                            self.label,
                            len(documents),
                        )
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(first_of(wake, claim.lost), timeout=self.poll_delay)
        finally:
            self._wakes.discard(wake)

    def _invocation(self, documents: list[dict[str, Any]]) -> Invocation:
        return Invocation(
            function=self.spec,
            trigger_data=meta.Datum(json.dumps(documents), "json"),
            reason=f"New changes on container {self.container} at {datetime.now().astimezone()}",
        )


def create_listeners(specs: list[FunctionSpec], context: ListenerContext, listeners: ListenerSet) -> None:
    for spec in specs:

        def make(spec: FunctionSpec = spec) -> CosmosDBTriggerListener:
            listener = CosmosDBTriggerListener(spec, context)
            for provider in listener.providers:
                listeners.uses(provider)
            listener.store.on_write(
                lambda database, container: (
                    listener.wake() if (database, container) == (listener.database, listener.container) else None
                )
            )
            return listener

        listeners.add([spec.name], make)


def sample_invocation(spec: FunctionSpec, text: str, reason: str) -> Invocation:
    """A batch from ``text``: a JSON document or array of documents (anything else: one document
    with ``text`` as its ``value``)."""
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    documents = (
        parsed
        if isinstance(parsed, list)
        else [parsed]
        if isinstance(parsed, dict)
        else [{"id": str(uuid.uuid4()), "value": text}]
    )
    return Invocation(function=spec, trigger_data=meta.Datum(json.dumps(documents), "json"), reason=reason)
