"""Service Bus trigger: peek-lock a queue or a topic subscription, run the function per message,
complete it on success, abandon it on failure (the broker dead-letters it after its
MaxDeliveryCount), renew its lock while it runs, up to ``maxAutoLockRenewalDuration``.

host.json ``extensions.serviceBus``: ``maxConcurrentCalls`` (16 x cores), ``prefetchCount``
(0), ``maxAutoLockRenewalDuration`` (5 min), ``autoCompleteMessages`` (true),
``maxConcurrentSessions`` (8 x cores), ``maxMessageBatchSize`` (1000, for cardinality
``many``: one batch at a time, completed or abandoned together); the v4 extension's
``messageHandlerOptions`` names are read too. With sessions a session's messages go one at a
time, in order, to one consumer.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from azure.functions import meta

from funchost.app.invocation import Invocation
from funchost.app.model import FunctionSpec
from funchost.config import HostConfig, parse_bool, parse_timespan
from funchost.storage.roles import BrokerMessage, LockLostError, ServiceBusReceiver, ServiceBusStore
from funchost.triggers.base import Collection, ListenerContext, ListenerSet, dotnet_time
from funchost.triggers.common.consumer import Consumer, PollOptions

logger = logging.getLogger("funchost.servicebus")

MAX_POLLING_INTERVAL = 1.0  # the embedded broker is polled; the SDK's receive waits on the service


@dataclass(frozen=True)
class ServiceBusOptions:
    """host.json ``extensions.serviceBus``."""

    max_concurrent_calls: int = 16
    prefetch_count: int = 0
    max_auto_lock_renewal: float = 300.0
    auto_complete: bool = True
    max_concurrent_sessions: int = 8
    max_message_batch_size: int = 1000  # cardinality "many"

    @classmethod
    def from_host_config(cls, config: HostConfig) -> ServiceBusOptions:
        section = {key.lower(): value for key, value in config.section("extensions.serviceBus").items()}
        handler = section.get("messagehandleroptions") or section.get("sessionhandleroptions") or {}
        legacy = {key.lower(): value for key, value in handler.items()} if isinstance(handler, dict) else {}

        def get(*keys: str, default: Any) -> Any:
            for key in keys:
                for source in (section, legacy):
                    if source.get(key.lower()) is not None:
                        return source[key.lower()]
            return default

        cores = os.cpu_count() or 1
        renewal = config.timespan("extensions.serviceBus.maxAutoLockRenewalDuration", None)
        legacy_renewal = legacy.get("maxautorenewduration")
        if renewal is None and isinstance(legacy_renewal, str):
            renewal = parse_timespan(legacy_renewal)
        return cls(
            max_concurrent_calls=max(1, int(get("maxConcurrentCalls", default=16 * cores))),
            prefetch_count=max(0, int(get("prefetchCount", default=0))),
            max_auto_lock_renewal=renewal.total_seconds() if renewal is not None else 300.0,
            auto_complete=parse_bool(
                get("autoCompleteMessages", "autoComplete", default=True),
                True,
                name="extensions.serviceBus.autoCompleteMessages",
            ),
            max_concurrent_sessions=max(1, int(get("maxConcurrentSessions", default=8 * cores))),
            max_message_batch_size=max(1, int(get("maxMessageBatchSize", default=1000))),
        )


class ServiceBusSource:
    """A queue or subscription as a consumer's message source."""

    def __init__(self, receiver: ServiceBusReceiver, options: ServiceBusOptions, auto_complete: bool) -> None:
        self.receiver = receiver
        self.options = options
        self.auto_complete = auto_complete
        self.label = receiver.label
        self._received: dict[str, float] = {}  # lock token -> when it was received

    @property
    def renew_every(self) -> float:
        """Half the lock duration (a real namespace's is learnt from the messages it locks)."""
        return self.receiver.lock_duration / 2

    async def open(self) -> None:
        await self.receiver.open()

    async def fetch(self, count: int) -> list[BrokerMessage]:
        batch = await self.receiver.receive(count)
        now = time.monotonic()
        for message in batch:
            self._received[message.lock_token] = now
        return batch

    async def renew(self, message: BrokerMessage) -> bool:
        received = self._received.get(message.lock_token, 0.0)
        if time.monotonic() - received >= self.options.max_auto_lock_renewal:
            return False  # maxAutoLockRenewalDuration reached: the lock runs out by itself
        try:
            await self.receiver.renew(message)
        except LockLostError:
            logger.warning(
                "The lock of message %s on %s was lost while it was being handled; it will be delivered again.",
                message.message_id,
                self.label,
            )
            return False
        return True

    async def settle(self, message: BrokerMessage, succeeded: bool) -> None:
        self._received.pop(message.lock_token, None)
        try:
            if not succeeded:
                await self.receiver.abandon(message)
            elif self.auto_complete:
                await self.receiver.complete(message)
        except LockLostError:
            logger.warning(
                "Message %s on %s could not be %s: its lock was lost; it will be delivered again.",
                message.message_id,
                self.label,
                "completed" if succeeded else "abandoned",
            )


class BatchSource:
    """Cardinality ``many``: a source whose items are batches, renewed and settled together."""

    def __init__(self, source: ServiceBusSource, batch_size: int) -> None:
        self.source = source
        self.batch_size = batch_size
        self.label = source.label

    @property
    def renew_every(self) -> float:
        return self.source.renew_every

    async def open(self) -> None:
        await self.source.open()

    async def fetch(self, count: int) -> list[list[BrokerMessage]]:
        """``count`` batches: one (the consumer keeps one in flight) of up to the batch size."""
        batch = await self.source.fetch(self.batch_size) if count > 0 else []
        return [batch] if batch else []

    async def renew(self, batch: list[BrokerMessage]) -> bool:
        kept = [await self.source.renew(message) for message in batch]
        return all(kept)

    async def settle(self, batch: list[BrokerMessage], succeeded: bool) -> None:
        for message in batch:
            await self.source.settle(message, succeeded)


def entity_of(spec: FunctionSpec, context: ListenerContext) -> tuple[str, str | None]:
    """The queue, or the topic and subscription, a trigger reads (``%Setting%`` resolved)."""
    trigger = spec.trigger
    queue = context.settings.resolve(str(trigger.setting("queueName") or ""))
    topic = context.settings.resolve(str(trigger.setting("topicName") or ""))
    subscription = context.settings.resolve(str(trigger.setting("subscriptionName") or ""))
    if queue:
        return queue, None
    if topic and subscription:
        return topic, subscription
    raise ValueError(
        f"the Service Bus trigger of function '{spec.name}' needs queueName, or topicName and subscriptionName"
    )


def message_metadata(message: BrokerMessage) -> dict[str, meta.Datum]:
    """The trigger metadata the real host sends for one message; the library's converter builds
    ``func.ServiceBusMessage`` from it, and it is the binding data."""
    properties = json.dumps(message.application_properties)
    metadata = {
        "MessageId": meta.Datum(message.message_id, "string"),
        "DeliveryCount": meta.Datum(message.delivery_count, "int"),
        "SequenceNumber": meta.Datum(message.sequence_number, "int"),
        "EnqueuedSequenceNumber": meta.Datum(message.sequence_number, "int"),
        "EnqueuedTimeUtc": meta.Datum(dotnet_time(message.enqueued_time), "string"),
        "LockedUntil": meta.Datum(dotnet_time(message.locked_until), "string"),
        "LockToken": meta.Datum(message.lock_token, "string"),
        "State": meta.Datum(0, "int"),  # ServiceBusMessageState.Active
        "ApplicationProperties": meta.Datum(properties, "json"),
        "UserProperties": meta.Datum(properties, "json"),
    }
    if message.expires_at is not None:
        metadata["ExpiresAtUtc"] = meta.Datum(dotnet_time(message.expires_at), "string")
    if message.time_to_live is not None and message.time_to_live < 86400:
        # .NET writes a TimeSpan of a day or more as "d.hh:mm:ss", which the library cannot parse
        metadata["TimeToLive"] = meta.Datum(str(timedelta(seconds=int(message.time_to_live))).zfill(8), "string")
    for key, value in (
        ("ContentType", message.content_type),
        ("CorrelationId", message.correlation_id),
        ("SessionId", message.session_id),
        ("Subject", message.subject),
        ("Label", message.subject),
        ("To", message.to),
        ("ReplyTo", message.reply_to),
        ("ReplyToSessionId", message.reply_to_session_id),
        ("PartitionKey", message.partition_key),
        ("DeadLetterReason", message.dead_letter_reason),
        ("DeadLetterErrorDescription", message.dead_letter_description),
        ("DeadLetterSource", message.dead_letter_source),
    ):
        if value is not None:
            metadata[key] = meta.Datum(value, "string")
    return metadata


def batch_invocation(spec: FunctionSpec, path: str, messages: list[BrokerMessage]) -> Invocation:
    """A batch, with the ``...Array`` metadata the real host sends for cardinality ``many``."""
    try:
        data = meta.Datum(Collection(string=[m.body.decode("utf-8") for m in messages]), "collection_string")
    except UnicodeDecodeError:
        data = meta.Datum(Collection(bytes=[m.body for m in messages]), "collection_bytes")
    singles = [message_metadata(message) for message in messages]
    metadata = {}
    for key in {key for single in singles for key in single}:
        values = [single[key].value if key in single else None for single in singles]
        if key in ("ApplicationProperties", "UserProperties"):
            values = [json.loads(value) for value in values if value is not None]
        metadata[f"{key}Array"] = meta.Datum(json.dumps(values), "json")
    return Invocation(
        function=spec,
        trigger_data=data,
        trigger_metadata=metadata,
        reason=f"New ServiceBus messages detected on '{path}' (batch of {len(messages)}).",
    )


def diagnostic_id(properties: dict[str, Any]) -> str | None:
    """The W3C trace context a message carries in ``Diagnostic-Id`` (as the Azure SDKs set it)."""
    value = properties.get("Diagnostic-Id")
    return value if isinstance(value, str) and value.startswith("00-") else None


def message_invocation(spec: FunctionSpec, path: str, message: BrokerMessage) -> Invocation:
    try:
        data = meta.Datum(message.body.decode("utf-8"), "string")
    except UnicodeDecodeError:
        data = meta.Datum(message.body, "bytes")
    return Invocation(
        function=spec,
        trigger_data=data,
        trigger_metadata=message_metadata(message),
        reason=f"New ServiceBus message detected on '{path}'.",
        trace_parent=diagnostic_id(message.application_properties),
    )


class ServiceBusTriggerListener:
    """Runs one Service Bus-triggered function."""

    ready = True  # it serves from start() on

    def __init__(
        self, spec: FunctionSpec, store: ServiceBusStore, context: ListenerContext, options: ServiceBusOptions
    ) -> None:
        self.spec = spec
        self.context = context
        entity, subscription = entity_of(spec, context)
        self.many = str(spec.trigger.setting("cardinality") or "one").lower() == "many"
        sessions = parse_bool(spec.trigger.setting("isSessionsEnabled"), name="isSessionsEnabled")
        auto_complete = parse_bool(
            spec.trigger.setting("autoCompleteMessages"), options.auto_complete, name="autoCompleteMessages"
        )
        receiver = store.receiver(entity, subscription, sessions=sessions, prefetch=options.prefetch_count)
        self.path = f"{entity}/Subscriptions/{subscription}" if subscription else entity
        source = ServiceBusSource(receiver, options, auto_complete)
        self.receiver = receiver
        label = f"function '{spec.name}'"
        if self.many:  # one batch at a time, of up to maxMessageBatchSize
            polling = PollOptions(batch_size=1, max_polling_interval=MAX_POLLING_INTERVAL, max_in_flight=1)
            batches = BatchSource(source, options.max_message_batch_size)
            self.consumer: Consumer[Any] = Consumer(batches, self._handle_batch, polling, label)
            return
        in_flight = (
            min(options.max_concurrent_calls, options.max_concurrent_sessions)
            if sessions
            else options.max_concurrent_calls
        )
        polling = PollOptions(
            batch_size=min(in_flight, 32), max_polling_interval=MAX_POLLING_INTERVAL, max_in_flight=in_flight
        )
        self.consumer = Consumer(source, self._handle, polling, label)

    async def start(self) -> None:
        await self.consumer.start()

    async def stop(self, drain_timeout: float | None = None) -> None:
        await self.consumer.stop(drain_timeout)
        await self.receiver.close()

    async def _handle(self, message: BrokerMessage) -> bool:
        outcome = await self.context.run(message_invocation(self.spec, self.path, message))
        return outcome.succeeded

    async def _handle_batch(self, batch: list[BrokerMessage]) -> bool:
        outcome = await self.context.run(batch_invocation(self.spec, self.path, batch))
        return outcome.succeeded


def create_listeners(specs: list[FunctionSpec], context: ListenerContext, listeners: ListenerSet) -> None:
    options = ServiceBusOptions.from_host_config(context.host_config)
    for spec in specs:

        def make(spec: FunctionSpec = spec) -> ServiceBusTriggerListener:
            provider = context.resolver.resolve(ServiceBusStore, spec.trigger.setting("connection"))
            listeners.uses(provider)
            listener = ServiceBusTriggerListener(spec, provider, context, options)
            entity = entity_of(spec, context)[0]
            provider.on_send(lambda sent: listener.consumer.wake() if sent == entity else None)
            return listener

        listeners.add([spec.name], make)


def sample_invocation(spec: FunctionSpec, text: str, reason: str) -> Invocation:
    """A message with ``text`` as its body and the metadata of a first delivery."""
    now = datetime.now(timezone.utc)
    message = BrokerMessage(
        entity="",
        sequence_number=1,
        message_id=uuid.uuid4().hex,
        body=text.encode("utf-8"),
        delivery_count=1,
        enqueued_time=now,
        expires_at=None,
        locked_until=now + timedelta(minutes=1),
        lock_token=str(uuid.uuid4()),
    )
    many = str(spec.trigger.setting("cardinality") or "one").lower() == "many"
    invocation = batch_invocation(spec, "", [message]) if many else message_invocation(spec, "", message)
    invocation.reason = reason
    return invocation
