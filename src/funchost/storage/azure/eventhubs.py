"""A real Event Hubs namespace through ``azure-eventhub`` (the ``eventhubs`` extra).

Connections: a connection string (``Endpoint=sb://...``, with or without ``EntityPath``), or
identity-based settings (``<name>__fullyQualifiedNamespace``) through DefaultAzureCredential.
Partition ownership and checkpoints are blobs in the ``azure-webjobs-eventhub`` container of
the app's storage account (``AzureWebJobsStorage``), in the layout the SDK's
``BlobCheckpointStore`` and the real host both use
(``<namespace>/<hub>/<consumer group>/checkpoint/<partition>``), so funchost and a real host
can share a consumer group. The SDK balances partitions among the processes.

Written against the SDK's documented behaviour: no Event Hubs emulator runs where funchost is
tested, so the provider contract suite runs against a real namespace only when
``FUNCHOST_TEST_EVENTHUBS`` is set; the checkpoint store part is tested on Azurite.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timezone
from typing import Any

from azure.eventhub import EventData
from azure.eventhub.aio import EventHubConsumerClient, EventHubProducerClient
from azure.eventhub.exceptions import EventHubError

from funchost.storage.azure import EVENTHUB_CHECKPOINT_CONTAINER
from funchost.storage.azure.namespace import Namespace
from funchost.storage.roles import BatchHandler, EventHubClient, HubEvent, OutgoingEvent, StorageError, StorageProvider


def _text(value: Any) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def hub_event(partition: str, event: EventData) -> HubEvent:
    raw: Any = event.body  # a data body is a generator of byte sections; a value body is a value
    if isinstance(raw, (bytes, bytearray)):
        body = bytes(raw)
    elif raw is None or isinstance(raw, (str, dict, list, int, float)):
        body = event.body_as_str().encode("utf-8")
    else:
        body = b"".join(bytes(part) for part in raw)
    return HubEvent(
        partition=partition,
        sequence_number=event.sequence_number or 0,
        offset=int(event.offset or 0),
        enqueued_time=event.enqueued_time or datetime.now(timezone.utc),
        body=body,
        partition_key=_text(event.partition_key),
        properties={_text(k): _text(v) for k, v in (event.properties or {}).items()},
    )


async def checkpoint_store(storage: StorageProvider) -> Any:
    """The SDK's blob checkpoint store on the app's storage account (an Azure Storage provider)."""
    blobs = getattr(storage, "blobs", None)
    if blobs is None:
        raise StorageError(
            "A real Event Hubs namespace keeps its checkpoints in the app's storage account, but "
            "AzureWebJobsStorage is the embedded store; set it to an Azure Storage connection."
        )
    from azure.core.exceptions import ResourceExistsError
    from azure.eventhub.extensions.checkpointstoreblobaio import BlobCheckpointStore

    with contextlib.suppress(ResourceExistsError):
        await blobs.create_container(EVENTHUB_CHECKPOINT_CONTAINER)
    credential = blobs.credential
    if hasattr(credential, "account_key"):  # a shared key: the store's vendored client wants it as a dict
        credential = {"account_name": credential.account_name, "account_key": credential.account_key}
    return BlobCheckpointStore(blobs.url, EVENTHUB_CHECKPOINT_CONTAINER, credential=credential)


class EventHubsNamespace(Namespace, EventHubClient):
    name = "Event Hubs"

    def __init__(
        self, setting: str, connection_string: str | None = None, namespace: str | None = None, credential: Any = None
    ) -> None:
        super().__init__(setting, connection_string, namespace, credential)
        self._producers: dict[str, EventHubProducerClient] = {}

    def _producer(self, hub: str) -> EventHubProducerClient:
        producer = self._producers.get(hub)
        if producer is None:
            if self.connection_string is not None:
                producer = EventHubProducerClient.from_connection_string(self.connection_string, eventhub_name=hub)
            else:
                producer = EventHubProducerClient(self.namespace or "", hub, self.credential)
            self._producers[hub] = producer
        return producer

    def consumer(self, hub: str, consumer_group: str, store: Any, **options: Any) -> EventHubConsumerClient:
        if self.connection_string is not None:
            return EventHubConsumerClient.from_connection_string(
                self.connection_string, consumer_group, eventhub_name=hub, checkpoint_store=store, **options
            )
        return EventHubConsumerClient(
            self.namespace or "", hub, consumer_group, self.credential, checkpoint_store=store, **options
        )

    async def close(self) -> None:
        for producer in self._producers.values():
            with contextlib.suppress(EventHubError):
                await producer.close()
        self._producers.clear()

    async def send_events(self, hub: str, events: list[OutgoingEvent]) -> None:
        """Send in order; consecutive events with one partition key go in one batch."""
        producer = self._producer(hub)
        try:
            index = 0
            while index < len(events):
                key = events[index].partition_key
                batch = await producer.create_batch(partition_key=key)
                while index < len(events) and events[index].partition_key == key:
                    data = EventData(events[index].body)
                    data.properties = {key: value for key, value in events[index].properties.items()}
                    try:
                        batch.add(data)
                    except ValueError:  # full: send this one, start the next
                        if len(batch) == 0:
                            raise
                        break
                    index += 1
                await producer.send_batch(batch)
        except EventHubError as error:
            raise StorageError(f"sending to event hub '{hub}' failed: {error}") from error

    async def receive(
        self,
        hub: str,
        consumer_group: str,
        storage: StorageProvider,
        handler: BatchHandler,
        *,
        max_batch_size: int,
        prefetch: int,
        checkpoint_every: int,
        starting_position: Any,
        stopping: asyncio.Event,
    ) -> None:
        """Hand each batch of an owned partition to ``handler`` until ``stopping``; checkpoint after
        every ``checkpoint_every`` handled batches."""
        store = await checkpoint_store(storage)
        client = self.consumer(hub, consumer_group, store)
        handled: dict[str, int] = {}

        async def on_batch(context: Any, batch: list[EventData]) -> None:
            if not batch:
                return
            await handler(context.partition_id, [hub_event(context.partition_id, event) for event in batch])
            handled[context.partition_id] = handled.get(context.partition_id, 0) + 1
            if handled[context.partition_id] % checkpoint_every == 0:
                await context.update_checkpoint(batch[-1])

        task = asyncio.create_task(
            client.receive_batch(
                on_batch, max_batch_size=max_batch_size, prefetch=prefetch, starting_position=starting_position
            )
        )
        try:
            await stopping.wait()
        finally:
            await client.close()
            with contextlib.suppress(asyncio.CancelledError, EventHubError):
                await task
            await store.close()
