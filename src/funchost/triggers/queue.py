"""Queue trigger: poll a queue, run the function per message, delete, retry or poison.

Polling follows the real host: 100 ms at first, a randomized exponential back-off up to
``maxPollingInterval`` while the queue is empty, back to the minimum when a message arrives.
A message being processed stays invisible (10 minutes, renewed at half that), so another
instance cannot take it; a failure makes it visible again after ``visibilityTimeout``, and
at ``maxDequeueCount`` it moves to ``<queue>-poison``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from azure.functions import meta

from funchost.app.invocation import Invocation
from funchost.app.model import FunctionSpec
from funchost.config import AppSettings, HostConfig
from funchost.storage.base import MessageNotFoundError, QueueMessage, StorageError, StorageProvider
from funchost.triggers.background import keep_running
from funchost.triggers.base import ListenerContext, ListenerSet, dotnet_time

logger = logging.getLogger("funchost.queue")

MIN_POLL = 0.1
PROCESSING_VISIBILITY = 600.0  # 10 minutes, renewed at half of it
POLL_STOP_WAIT = 1.0  # seconds stop() waits for a poll in progress before cancelling it


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
    def from_host_config(cls, config: HostConfig, development: bool,
                         settings: AppSettings | None = None) -> QueueOptions:
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


class QueueConsumer:
    """Competing consumer of one queue: fetch in batches, handle concurrently, ack or retry."""

    def __init__(
        self,
        queue: str,
        provider: StorageProvider,
        options: QueueOptions,
        handler: Handler,
        poison: Callable[[QueueMessage], Awaitable[None]],
        label: str,
    ) -> None:
        self.queue = queue
        self.provider = provider
        self.options = options
        self.handler = handler
        self.poison = poison
        self.label = label
        self._wake = asyncio.Event()
        self._slot = asyncio.Event()
        self._stopping = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._errors_logged = 0

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        await self.provider.create_queue(self.queue)
        self._loop_task = asyncio.create_task(
            keep_running(f"the poll of queue '{self.queue}' for {self.label}", self._poll, self._stopping),
            name=f"queue:{self.queue}")

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
            if len(self._inflight) > self.options.new_batch_threshold:
                self._slot.clear()
                await self._slot.wait()
                continue
            try:
                batch = await self.provider.get_batch(
                    self.queue, self.options.batch_size, self.options.processing_visibility)
                self._errors_logged = 0
            except StorageError as error:
                self._log_poll_error(error)
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

    def _log_poll_error(self, error: Exception) -> None:
        # one clear line, then quiet until the store answers again
        if self._errors_logged == 0:
            logger.error("Polling queue '%s' for %s failed: %s", self.queue, self.label, error)
        self._errors_logged += 1

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._slot.set()
        if not task.cancelled() and task.exception() is not None:
            logger.error("Handling a message of queue '%s' failed", self.queue, exc_info=task.exception())

    async def _process(self, message: QueueMessage) -> None:
        if message.dequeue_count > self.options.max_dequeue_count:
            await self._move_to_poison(message, message.pop_receipt)
            return
        receipt = [message.pop_receipt]
        keeper = asyncio.create_task(self._keep_invisible(message, receipt))
        try:
            succeeded = await self.handler(message)
        finally:
            keeper.cancel()
        try:
            if succeeded:
                await self.provider.delete(self.queue, message.id, receipt[0])
            elif message.dequeue_count >= self.options.max_dequeue_count:
                await self._move_to_poison(message, receipt[0])
            else:
                await self.provider.update_visibility(
                    self.queue, message.id, receipt[0], self.options.visibility_timeout)
        except MessageNotFoundError:
            logger.warning("Message %s of queue '%s' was taken by another consumer before it could be "
                           "acknowledged (it ran longer than its visibility timeout).", message.id, self.queue)

    async def _move_to_poison(self, message: QueueMessage, receipt: str) -> None:
        await self.poison(message)
        await self.provider.delete(self.queue, message.id, receipt)

    async def _keep_invisible(self, message: QueueMessage, receipt: list[str]) -> None:
        """Renew the message's invisibility while it is handled (cancelled when it is done)."""
        period = self.options.processing_visibility

        async def renew() -> None:
            while True:
                await asyncio.sleep(period / 2)
                try:
                    receipt[0] = await self.provider.update_visibility(self.queue, message.id, receipt[0], period)
                except MessageNotFoundError:
                    logger.warning("Message %s of queue '%s' became visible to other consumers while it was "
                                   "being handled.", message.id, self.queue)
                    return

        await keep_running(f"the visibility renewal of message {message.id} of queue '{self.queue}'", renew,
                           first_backoff=min(1.0, period / 4))


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
    return Invocation(function=spec, trigger_data=data, trigger_metadata=metadata,
                      reason=f"New queue message detected on '{queue}'.")


class QueueTriggerListener:
    """Runs one queue-triggered function."""

    def __init__(self, spec: FunctionSpec, provider: StorageProvider, context: ListenerContext,
                 options: QueueOptions) -> None:
        self.spec = spec
        self.context = context
        self.provider = provider
        raw_name = str(spec.trigger.setting("queueName") or "")
        self.queue = context.settings.resolve(raw_name).lower()
        if not self.queue:
            raise ValueError(f"the queue trigger of function '{spec.name}' has no queueName")
        self.consumer = QueueConsumer(self.queue, provider, options, self._handle, self._poison,
                                      f"function '{spec.name}'")
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
            logger.error("Message %s of queue '%s' failed %d times and has no poison queue; it is left "
                         "in the queue.", message.id, self.queue, message.dequeue_count)
            raise StorageError("no poison queue")
        logging.getLogger(f"Function.{self.spec.name}").warning(
            "Message has reached MaxDequeueCount of %d. Moving message to queue '%s'.",
            self.max_dequeue_count, target)
        await self.provider.put(target, message.body)


def create_listeners(specs: list[FunctionSpec], context: ListenerContext, listeners: ListenerSet) -> None:
    """A listener per queue-triggered function, each on the store its connection names."""
    options = QueueOptions.from_host_config(context.host_config, context.development, context.settings)
    for spec in specs:
        def make(spec: FunctionSpec = spec) -> QueueTriggerListener:
            provider = context.resolver.for_connection(spec.trigger.setting("connection"))
            listeners.uses(provider)
            listener = QueueTriggerListener(spec, provider, context, options)
            wake_on_put(provider, listener.queue, listener.consumer.wake)
            return listener

        listeners.add([spec.name], make)


def wake_on_put(provider: StorageProvider, queue: str, wake: Callable[[], None]) -> None:
    """The embedded store tells this process's pollers about its own puts at once."""
    on_message = getattr(provider, "on_message", None)
    if on_message is not None:
        on_message(lambda put_queue: wake() if put_queue == queue else None)


def sample_invocation(spec: FunctionSpec, text: str, reason: str) -> Invocation:
    """A message with ``text`` as its body, with the metadata a real message has."""
    now = datetime.now(timezone.utc)
    message = QueueMessage(id=str(uuid.uuid4()), body=text.encode("utf-8"), dequeue_count=1, insertion_time=now,
                           expiration_time=now + timedelta(days=7), next_visible_time=now + timedelta(minutes=10),
                           pop_receipt=str(uuid.uuid4()))
    invocation = queue_trigger_invocation(spec, str(spec.trigger.setting("queueName") or ""), message)
    invocation.reason = reason
    return invocation
