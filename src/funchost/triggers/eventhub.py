"""Event Hubs trigger: read each partition in order, run the function per event (cardinality
``one``, the events of a batch concurrently) or per batch (``many``), and checkpoint past a
batch only once its invocations finished (at least once).

host.json ``extensions.eventHubs``: ``maxEventBatchSize`` (100), ``batchCheckpointFrequency``
(1), ``prefetchCount`` (300, real namespaces), ``initialOffsetOptions`` (``type``:
``fromStart``, ``fromEnd``, ``fromEnqueuedTime`` with ``enqueuedTimeUtc``; where a partition
without a checkpoint starts), ``partitionOwnershipExpirationInterval`` (1 min; 15 s in
development, as for listener locks: how soon a crashed process's partitions are taken over) and
``loadBalancingUpdateInterval`` (10 s). On the embedded broker the partitions are shared
among host processes by ``triggers/common/partitions.py`` and the checkpoints are state keys of the
app's store; on a real namespace the SDK shares them, with blob checkpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from azure.functions import meta

from funchost.app.invocation import Invocation
from funchost.app.model import FunctionSpec
from funchost.config import HostConfig, parse_time
from funchost.storage.roles import EventHubClient, EventHubs, EventLogStore, HubEvent, StorageError, StorageProvider
from funchost.triggers.base import Collection, ListenerContext, ListenerSet, dotnet_time
from funchost.triggers.common.background import first_of
from funchost.triggers.common.partitions import Claim, PartitionBalancer

logger = logging.getLogger("funchost.eventhub")

IDLE_POLL = 1.0  # seconds between reads of an idle partition of the embedded broker (sends in-process wake it)
START_POSITIONS = {"fromstart": "fromstart", "fromend": "fromend", "fromenqueuedtime": "fromenqueuedtime"}


@dataclass(frozen=True)
class EventHubOptions:
    """host.json ``extensions.eventHubs``."""

    max_event_batch_size: int = 100
    batch_checkpoint_frequency: int = 1
    prefetch_count: int = 300
    initial_offset: str = "fromstart"
    initial_enqueued_time: datetime | None = None
    ownership_expiration: float | None = None  # None: 1 min (15 s in development, like listener locks)
    load_balancing_interval: float = 10.0

    @classmethod
    def from_host_config(cls, config: HostConfig) -> EventHubOptions:
        def get(key: str, default: Any) -> Any:
            value = config.get(f"extensions.eventHubs.{key}")
            return default if value is None else value

        legacy_batch = config.get("extensions.eventHubs.eventProcessorOptions.maxBatchSize")
        offset = str(get("initialOffsetOptions.type", "fromStart")).lower()
        if offset not in START_POSITIONS:
            raise ValueError(
                f"host.json extensions.eventHubs.initialOffsetOptions.type '{offset}' is not one of "
                "fromStart, fromEnd, fromEnqueuedTime"
            )
        enqueued = get("initialOffsetOptions.enqueuedTimeUtc", None)
        expiration = config.timespan("extensions.eventHubs.partitionOwnershipExpirationInterval", None)
        balancing = config.timespan("extensions.eventHubs.loadBalancingUpdateInterval", None)
        return cls(
            max_event_batch_size=max(1, int(get("maxEventBatchSize", legacy_batch or 100))),
            batch_checkpoint_frequency=max(1, int(get("batchCheckpointFrequency", 1))),
            prefetch_count=max(0, int(get("prefetchCount", 300))),
            initial_offset=offset,
            initial_enqueued_time=parse_time(str(enqueued)) if enqueued else None,
            ownership_expiration=expiration.total_seconds() if expiration else None,
            load_balancing_interval=balancing.total_seconds() if balancing else 10.0,
        )


@dataclass(frozen=True)
class HubAddress:
    namespace: str
    hub: str
    consumer_group: str

    def partition_context(self, partition: str) -> str:
        return json.dumps(
            {
                "FullyQualifiedNamespace": self.namespace,
                "EventHubName": self.hub,
                "ConsumerGroup": self.consumer_group,
                "PartitionId": partition,
            }
        )


def system_properties(event: HubEvent) -> dict[str, Any]:
    """``SystemProperties`` as the real host sends it: the AMQP annotations and their friendly names."""
    enqueued = dotnet_time(event.enqueued_time)
    return {
        "x-opt-sequence-number": event.sequence_number,
        "x-opt-offset": str(event.offset),
        "x-opt-enqueued-time": enqueued,
        "x-opt-partition-key": event.partition_key,
        "SequenceNumber": event.sequence_number,
        "Offset": event.offset,
        "EnqueuedTimeUtc": enqueued,
        "PartitionKey": event.partition_key,
    }


def event_invocation(spec: FunctionSpec, address: HubAddress, event: HubEvent) -> Invocation:
    """One event, with the trigger metadata the real host sends for cardinality ``one``."""
    try:
        data = meta.Datum(event.body.decode("utf-8"), "string")
    except UnicodeDecodeError:
        data = meta.Datum(event.body, "bytes")
    metadata = {
        "PartitionContext": meta.Datum(address.partition_context(event.partition), "json"),
        "SequenceNumber": meta.Datum(event.sequence_number, "int"),
        "Offset": meta.Datum(str(event.offset), "string"),
        "EnqueuedTimeUtc": meta.Datum(dotnet_time(event.enqueued_time), "string"),
        "Properties": meta.Datum(json.dumps(event.properties), "json"),
        "SystemProperties": meta.Datum(json.dumps(system_properties(event)), "json"),
    }
    if event.partition_key is not None:
        metadata["PartitionKey"] = meta.Datum(event.partition_key, "string")
    diagnostic = event.properties.get("Diagnostic-Id")
    return Invocation(
        function=spec,
        trigger_data=data,
        trigger_metadata=metadata,
        reason=f"New EventHub message detected on '{address.hub}'.",
        trace_parent=diagnostic if isinstance(diagnostic, str) and diagnostic.startswith("00-") else None,
    )


def batch_invocation(spec: FunctionSpec, address: HubAddress, events: list[HubEvent]) -> Invocation:
    """A batch of one partition, with the ``...Array`` metadata the real host sends for ``many``."""
    try:
        data = meta.Datum(Collection(string=[event.body.decode("utf-8") for event in events]), "collection_string")
    except UnicodeDecodeError:
        data = meta.Datum(Collection(bytes=[event.body for event in events]), "collection_bytes")

    def array(values: list[Any]) -> meta.Datum:
        return meta.Datum(json.dumps(values), "json")

    metadata = {
        "PartitionContext": meta.Datum(address.partition_context(events[0].partition), "json"),
        "PartitionKeyArray": array([event.partition_key for event in events]),
        "OffsetArray": array([str(event.offset) for event in events]),
        "SequenceNumberArray": array([event.sequence_number for event in events]),
        "EnqueuedTimeUtcArray": array([dotnet_time(event.enqueued_time) for event in events]),
        "PropertiesArray": array([event.properties for event in events]),
        "SystemPropertiesArray": array([system_properties(event) for event in events]),
    }
    return Invocation(
        function=spec,
        trigger_data=data,
        trigger_metadata=metadata,
        reason=f"New EventHub messages detected on '{address.hub}' (batch of {len(events)}).",
    )


class Checkpoints:
    """Per-partition checkpoints of a consumer group on the embedded broker: state keys of the
    app's store, ``eventhub/<namespace>/<hub>/<group>/checkpoint/<partition>`` (lower case).
    The balancer's ownership records live under the group's prefix too."""

    def __init__(self, store: StorageProvider, namespace: str, hub: str, consumer_group: str) -> None:
        self.store = store
        self.prefix = f"{self.hub_prefix(namespace, hub)}/{consumer_group.lower()}"

    @staticmethod
    def hub_prefix(namespace: str, hub: str) -> str:
        return f"eventhub/{namespace}/{hub}".lower()

    @classmethod
    async def of_hub(cls, store: StorageProvider, namespace: str, hub: str) -> dict[str, dict[str, int]]:
        """Every consumer group's checkpoint of a hub: partition -> group -> sequence number."""
        prefix = cls.hub_prefix(namespace, hub) + "/"
        found: dict[str, dict[str, int]] = {}
        for key in sorted(await store.list_state_keys(prefix)):
            group, _, partition = key[len(prefix) :].partition("/checkpoint/")
            value = await store.get_state(key) if partition else None
            if value:
                found.setdefault(partition, {})[group] = int(json.loads(value)["sequenceNumber"])
        return found

    def key(self, partition: str) -> str:
        return f"{self.prefix}/checkpoint/{partition}"

    async def get(self, partition: str) -> int | None:
        value = await self.store.get_state(self.key(partition))
        return int(json.loads(value)["sequenceNumber"]) if value else None

    async def set(self, partition: str, event: HubEvent) -> None:
        await self.store.set_state(
            self.key(partition), json.dumps({"sequenceNumber": event.sequence_number, "offset": event.offset})
        )


class EventHubTriggerListener:
    """Runs one Event Hubs-triggered function."""

    ready = True  # it serves from start() on

    def __init__(self, spec: FunctionSpec, context: ListenerContext, options: EventHubOptions) -> None:
        self.spec = spec
        self.context = context
        self.options = options
        trigger = spec.trigger
        self.hub = context.settings.resolve(str(trigger.setting("eventHubName") or trigger.setting("path") or ""))
        if not self.hub:
            raise ValueError(f"the Event Hubs trigger of function '{spec.name}' has no eventHubName")
        self.consumer_group = context.settings.resolve(str(trigger.setting("consumerGroup") or "$Default"))
        self.many = str(trigger.setting("cardinality") or "one").lower() == "many"
        self.namespace = context.resolver.resolve(EventHubs, trigger.setting("connection"))
        self.storage = context.resolver.resolve(StorageProvider, None)  # checkpoints and ownership: AzureWebJobsStorage
        self.owner = f"{context.host_id}:{uuid.uuid4().hex}"
        self.label = f"event hub '{self.hub}' for function '{spec.name}'"
        self._stopping = asyncio.Event()
        self._wakes: set[asyncio.Event] = set()
        self._balancer: PartitionBalancer | None = None
        self._receiving: asyncio.Task[None] | None = None

    @property
    def address(self) -> HubAddress:
        return HubAddress(self.namespace.namespace or "embedded", self.hub, self.consumer_group)

    def wake(self) -> None:
        for event in self._wakes:
            event.set()

    async def start(self) -> None:
        if isinstance(self.namespace, EventLogStore):
            partitions = await self.namespace.partition_ids(self.hub)
            self.checkpoints = Checkpoints(self.storage, self.address.namespace, self.hub, self.consumer_group)
            prefix = self.checkpoints.prefix
            period = self.options.ownership_expiration or (15.0 if self.context.development else 60.0)
            self._balancer = PartitionBalancer(
                self.storage,
                prefix,
                self.owner,
                partitions,
                period,
                self.label,
                self._pump,
                self.options.load_balancing_interval,
            )
            await self._balancer.start()
            return
        if not isinstance(self.namespace, EventHubClient):  # the two kinds of EventHubs roles.py declares
            raise StorageError(f"the connection of function '{self.spec.name}' is not an Event Hubs namespace")
        start = {"fromstart": "-1", "fromend": "@latest"}.get(
            self.options.initial_offset, self.options.initial_enqueued_time or "-1"
        )
        self._receiving = asyncio.create_task(
            self.namespace.receive(
                self.hub,
                self.consumer_group,
                self.storage,
                self._handle,
                max_batch_size=self.options.max_event_batch_size,
                prefetch=self.options.prefetch_count,
                checkpoint_every=self.options.batch_checkpoint_frequency,
                starting_position=start,
                stopping=self._stopping,
            )
        )

    async def stop(self, drain_timeout: float | None = None) -> None:
        self._stopping.set()
        self.wake()
        if self._balancer is not None:
            await self._balancer.stop(drain_timeout)
        if self._receiving is not None:
            await asyncio.wait([self._receiving], timeout=drain_timeout)

    async def _handle(self, partition: str, events: list[HubEvent]) -> None:
        """Run the function for a batch of one partition; returns when every invocation finished."""
        if self.many:
            await self.context.run(batch_invocation(self.spec, self.address, events))
        else:
            await asyncio.gather(
                *(self.context.run(event_invocation(self.spec, self.address, event)) for event in events)
            )

    async def _pump(self, claim: Claim) -> None:
        """Read an owned partition of the embedded broker from its checkpoint until the claim is lost."""
        assert isinstance(self.namespace, EventLogStore)
        log, partition = self.namespace, claim.partition
        position = await self.checkpoints.get(partition)
        if position is None:
            position = await log.position_at(
                self.hub, partition, self.options.initial_offset, self.options.initial_enqueued_time
            )
        wake = asyncio.Event()
        self._wakes.add(wake)
        unsaved: HubEvent | None = None
        batches = 0
        try:
            while not claim.lost.is_set():
                wake.clear()
                events = await log.read(self.hub, partition, position, self.options.max_event_batch_size)
                if not events:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(first_of(wake, claim.lost), timeout=IDLE_POLL)
                    continue
                await self._handle(partition, events)
                position, unsaved = events[-1].sequence_number, events[-1]
                batches += 1
                if batches % self.options.batch_checkpoint_frequency == 0 and claim.held:
                    await self.checkpoints.set(partition, unsaved)
                    unsaved = None
        finally:
            self._wakes.discard(wake)
            if unsaved is not None and claim.held:  # given back or stopping: the work done is kept
                with contextlib.suppress(StorageError):
                    await self.checkpoints.set(partition, unsaved)


def create_listeners(specs: list[FunctionSpec], context: ListenerContext, listeners: ListenerSet) -> None:
    options = EventHubOptions.from_host_config(context.host_config)
    for spec in specs:

        def make(spec: FunctionSpec = spec) -> EventHubTriggerListener:
            listener = EventHubTriggerListener(spec, context, options)
            listeners.uses(listener.namespace)
            listeners.uses(listener.storage)
            listener.namespace.on_send(lambda sent: listener.wake() if sent == listener.hub else None)
            return listener

        listeners.add([spec.name], make)


def sample_invocation(spec: FunctionSpec, text: str, reason: str) -> Invocation:
    """An event with ``text`` as its body (a batch of one for cardinality ``many``)."""
    event = HubEvent(
        partition="0", sequence_number=0, offset=0, enqueued_time=datetime.now(timezone.utc), body=text.encode("utf-8")
    )
    address = HubAddress(
        "embedded",
        str(spec.trigger.setting("eventHubName") or ""),
        str(spec.trigger.setting("consumerGroup") or "$Default"),
    )
    many = str(spec.trigger.setting("cardinality") or "one").lower() == "many"
    invocation = batch_invocation(spec, address, [event]) if many else event_invocation(spec, address, event)
    invocation.reason = reason
    return invocation
