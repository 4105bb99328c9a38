"""Queue trigger: poll a queue, run the function per message, delete, retry or poison.

Polling follows the real host: 100 ms at first, a randomized exponential back-off up to
``maxPollingInterval`` while the queue is empty, back to the minimum when a message arrives.
A message being processed stays invisible (10 minutes, renewed at half that), so another
instance cannot take it; a failure makes it visible again after ``visibilityTimeout``, and
at ``maxDequeueCount`` it moves to ``<queue>-poison``.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from azure.functions import meta

from funchost.app.invocation import Invocation
from funchost.app.model import FunctionSpec
from funchost.config import AppSettings, HostConfig
from funchost.storage.roles import MessageNotFoundError, QueueMessage, StorageError, StorageProvider
from funchost.triggers.base import ListenerContext, ListenerSet, dotnet_time
from funchost.triggers.common.consumer import MIN_POLL, Consumer, PollOptions

logger = logging.getLogger("funchost.queue")

PROCESSING_VISIBILITY = 600.0  # 10 minutes, renewed at half of it


@dataclass(frozen=True)
class QueueOptions:
    """host.json ``extensions.queues``."""

    batch_size: int = 16
    new_batch_threshold: int = 8
    max_polling_interval: float = 2.0
    visibility_timeout: float = 0.0
    max_dequeue_count: int = 5
    message_encoding: str = "base64"
    # how long a message being processed stays hidden (renewed at half); the real host's
    # fixed 10 minutes, changeable with FUNCHOST_QUEUE_PROCESSING_VISIBILITY (seconds)
    processing_visibility: float = PROCESSING_VISIBILITY

    @classmethod
    def from_host_config(
        cls, config: HostConfig, development: bool, settings: AppSettings | None = None
    ) -> QueueOptions:
        section = config.section("extensions.queues")

        def get(key: str, default: object) -> object:
            value = next((v for k, v in section.items() if k.lower() == key.lower()), None)
            return default if value is None else value

        batch_size = max(1, min(32, int(get("batchSize", 16))))  # type: ignore[call-overload]
        cores = os.cpu_count() or 1
        threshold = int(get("newBatchThreshold", (batch_size // 2) * cores))  # type: ignore[call-overload]
        polling = config.timespan("extensions.queues.maxPollingInterval", None)
        max_polling = polling.total_seconds() if polling else (2.0 if development else 60.0)
        visibility = config.timespan("extensions.queues.visibilityTimeout", None)
        processing = (settings.get("FUNCHOST_QUEUE_PROCESSING_VISIBILITY") if settings else None) or ""
        return cls(
            processing_visibility=float(processing) if processing.strip() else PROCESSING_VISIBILITY,
            batch_size=batch_size,
            new_batch_threshold=max(0, threshold),
            max_polling_interval=max(MIN_POLL, max_polling),
            visibility_timeout=visibility.total_seconds() if visibility else 0.0,
            max_dequeue_count=max(1, int(get("maxDequeueCount", 5))),  # type: ignore[call-overload]
            message_encoding=str(get("messageEncoding", "base64")).lower(),
        )


def poison_queue_name(queue: str) -> str | None:
    """``<queue>-poison``; none for a poison queue itself or a name too long for the suffix."""
    if queue.endswith("-poison") or len(queue) + len("-poison") > 63:
        return None
    return f"{queue}-poison"


Handler = Callable[[QueueMessage], Awaitable[bool]]


class QueueSource:
    """A storage queue as a message source: a message is hidden while it is handled (renewed at
    half its visibility), deleted when it succeeded, made visible again after
    ``visibilityTimeout`` when it failed, and moved to the poison queue at ``maxDequeueCount``."""

    def __init__(
        self,
        queue: str,
        provider: StorageProvider,
        options: QueueOptions,
        poison: Callable[[QueueMessage], Awaitable[None]],
    ) -> None:
        self.queue = queue
        self.provider = provider
        self.options = options
        self.poison = poison
        self.label = f"queue '{queue}'"
        self.renew_every = options.processing_visibility / 2
        self._receipts: dict[str, str] = {}  # message id -> its latest pop receipt

    async def open(self) -> None:
        await self.provider.create_queue(self.queue)

    async def fetch(self, count: int) -> list[QueueMessage]:
        batch = await self.provider.get_batch(self.queue, count, self.options.processing_visibility)
        handled = []
        for message in batch:
            if message.dequeue_count > self.options.max_dequeue_count:
                # over the count already (a consumer died handling it): poison it unrun
                await self._move_to_poison(message, message.pop_receipt)
                continue
            self._receipts[message.id] = message.pop_receipt
            handled.append(message)
        return handled

    async def renew(self, message: QueueMessage) -> bool:
        try:
            self._receipts[message.id] = await self.provider.update_visibility(
                self.queue, message.id, self._receipts[message.id], self.options.processing_visibility
            )
        except MessageNotFoundError:
            logger.warning(
                "Message %s of queue '%s' became visible to other consumers while it was being handled.",
                message.id,
                self.queue,
            )
            return False
        return True

    async def settle(self, message: QueueMessage, succeeded: bool) -> None:
        receipt = self._receipts.pop(message.id, message.pop_receipt)
        try:
            if succeeded:
                await self.provider.delete(self.queue, message.id, receipt)
            elif message.dequeue_count >= self.options.max_dequeue_count:
                await self._move_to_poison(message, receipt)
            else:
                await self.provider.update_visibility(self.queue, message.id, receipt, self.options.visibility_timeout)
        except MessageNotFoundError:
            logger.warning(
                "Message %s of queue '%s' was taken by another consumer before it could be "
                "acknowledged (it ran longer than its visibility timeout).",
                message.id,
                self.queue,
            )

    async def _move_to_poison(self, message: QueueMessage, receipt: str) -> None:
        await self.poison(message)
        await self.provider.delete(self.queue, message.id, receipt)


class QueueConsumer(Consumer[QueueMessage]):
    """The consumer loop on a storage queue (the queue trigger's, and the blob trigger's work queue)."""

    def __init__(
        self,
        queue: str,
        provider: StorageProvider,
        options: QueueOptions,
        handler: Handler,
        poison: Callable[[QueueMessage], Awaitable[None]],
        label: str,
    ) -> None:
        polling = PollOptions(options.batch_size, options.new_batch_threshold, options.max_polling_interval)
        super().__init__(QueueSource(queue, provider, options, poison), handler, polling, label)
        self.queue = queue


def queue_trigger_invocation(spec: FunctionSpec, queue: str, message: QueueMessage) -> Invocation:
    """The trigger data and metadata the real host sends for a queue message."""
    try:
        text = message.body.decode("utf-8")
        data = meta.Datum(text, "string")
    except UnicodeDecodeError:
        text = None
        data = meta.Datum(message.body, "bytes")
    metadata = {
        "Id": meta.Datum(message.id, "string"),
        "DequeueCount": meta.Datum(message.dequeue_count, "int"),
        "InsertionTime": meta.Datum(dotnet_time(message.insertion_time), "string"),
        "ExpirationTime": meta.Datum(dotnet_time(message.expiration_time), "string"),
        "NextVisibleTime": meta.Datum(dotnet_time(message.next_visible_time), "string"),
        "PopReceipt": meta.Datum(message.pop_receipt, "string"),
    }
    if text is not None:
        metadata["QueueTrigger"] = meta.Datum(text, "string")
    return Invocation(
        function=spec, trigger_data=data, trigger_metadata=metadata, reason=f"New queue message detected on '{queue}'."
    )


class QueueTriggerListener:
    """Runs one queue-triggered function."""

    ready = True  # it serves from start() on

    def __init__(
        self, spec: FunctionSpec, provider: StorageProvider, context: ListenerContext, options: QueueOptions
    ) -> None:
        self.spec = spec
        self.context = context
        self.provider = provider
        raw_name = str(spec.trigger.setting("queueName") or "")
        self.queue = context.settings.resolve(raw_name).lower()
        if not self.queue:
            raise ValueError(f"the queue trigger of function '{spec.name}' has no queueName")
        self.consumer = QueueConsumer(
            self.queue, provider, options, self._handle, self._poison, f"function '{spec.name}'"
        )
        self.max_dequeue_count = options.max_dequeue_count

    async def start(self) -> None:
        await self.consumer.start()

    async def stop(self, drain_timeout: float | None = None) -> None:
        await self.consumer.stop(drain_timeout)

    async def _handle(self, message: QueueMessage) -> bool:
        outcome = await self.context.run(queue_trigger_invocation(self.spec, self.queue, message))
        return outcome.succeeded

    async def _poison(self, message: QueueMessage) -> None:
        target = poison_queue_name(self.queue)
        if target is None:
            logger.error(
                "Message %s of queue '%s' failed %d times and has no poison queue; it is left in the queue.",
                message.id,
                self.queue,
                message.dequeue_count,
            )
            raise StorageError("no poison queue")
        logging.getLogger(f"Function.{self.spec.name}").warning(
            "Message has reached MaxDequeueCount of %d. Moving message to queue '%s'.", self.max_dequeue_count, target
        )
        await self.provider.put(target, message.body)


def create_listeners(specs: list[FunctionSpec], context: ListenerContext, listeners: ListenerSet) -> None:
    """A listener per queue-triggered function, each on the store its connection names."""
    options = QueueOptions.from_host_config(context.host_config, context.development, context.settings)
    for spec in specs:

        def make(spec: FunctionSpec = spec) -> QueueTriggerListener:
            provider = context.resolver.resolve(StorageProvider, spec.trigger.setting("connection"))
            listeners.uses(provider)
            listener = QueueTriggerListener(spec, provider, context, options)
            wake_on_put(provider, listener.queue, listener.consumer.wake)
            return listener

        listeners.add([spec.name], make)


def wake_on_put(provider: StorageProvider, queue: str, wake: Callable[[], None]) -> None:
    """The embedded store tells this process's pollers about its own puts at once."""
    provider.on_message(lambda put_queue: wake() if put_queue == queue else None)


def sample_invocation(spec: FunctionSpec, text: str, reason: str) -> Invocation:
    """A message with ``text`` as its body, with the metadata a real message has."""
    now = datetime.now(timezone.utc)
    message = QueueMessage(
        id=str(uuid.uuid4()),
        body=text.encode("utf-8"),
        dequeue_count=1,
        insertion_time=now,
        expiration_time=now + timedelta(days=7),
        next_visible_time=now + timedelta(minutes=10),
        pop_receipt=str(uuid.uuid4()),
    )
    invocation = queue_trigger_invocation(spec, str(spec.trigger.setting("queueName") or ""), message)
    invocation.reason = reason
    return invocation
