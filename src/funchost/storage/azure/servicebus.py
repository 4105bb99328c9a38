"""A real Service Bus namespace through ``azure-servicebus`` (the ``servicebus`` extra).

Connections: a connection string (``Endpoint=sb://...``), or identity-based settings
(``<name>__fullyQualifiedNamespace``) through DefaultAzureCredential. Entities must exist,
as on Azure; the namespace's MaxDeliveryCount and lock duration apply. Sessions are taken
with "next available session", one receiver per session, one message of a session at a time.

This module is written against the SDK's documented behaviour; no Service Bus emulator can
run where funchost is tested, so the provider contract suite runs against a real namespace
only when ``FUNCHOST_TEST_SERVICEBUS`` holds its connection string.
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime, timedelta, timezone
from typing import Any

from azure.servicebus import NEXT_AVAILABLE_SESSION, ServiceBusMessage, ServiceBusSubQueue
from azure.servicebus.aio import ServiceBusClient
from azure.servicebus.aio import ServiceBusReceiver as SdkReceiver
from azure.servicebus.exceptions import (
    MessageLockLostError,
    OperationTimeoutError,
    ServiceBusError,
    SessionLockLostError,
)

from funchost.storage.azure.namespace import Namespace
from funchost.storage.roles import (
    BrokerMessage,
    LockLostError,
    OutgoingMessage,
    ServiceBusReceiver,
    ServiceBusStore,
    StorageError,
)

DEAD_LETTER_SUFFIX = "/$DeadLetterQueue"
RECEIVE_WAIT = 1.0  # seconds a receive waits for a message before it returns empty-handed
LOCK_DURATION = 60.0  # the namespace's default, until a received message tells the entity's own
MIN_LOCK_DURATION = 5.0  # the shortest Service Bus allows


def _text(value: Any) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _body(message: Any) -> bytes:
    body = message.body
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    if body is not None and hasattr(body, "__iter__") and not isinstance(body, (dict, list)):
        return b"".join(bytes(part) for part in body)  # a data body arrives as sections of bytes
    return json.dumps(body).encode("utf-8")


def received(entity: str, message: Any) -> BrokerMessage:
    """Our plain message from the SDK's received message (kept as ``handle`` to settle it)."""
    ttl = message.time_to_live
    return BrokerMessage(
        entity=entity,
        sequence_number=message.sequence_number or 0,
        message_id=str(message.message_id or ""),
        body=_body(message),
        delivery_count=message.delivery_count or 0,
        enqueued_time=message.enqueued_time_utc or datetime.now(timezone.utc),
        expires_at=message.expires_at_utc,
        locked_until=message.locked_until_utc or datetime.now(timezone.utc),
        lock_token=str(message.lock_token or ""),
        content_type=message.content_type,
        correlation_id=message.correlation_id,
        session_id=message.session_id,
        subject=message.subject,
        to=message.to,
        reply_to=message.reply_to,
        reply_to_session_id=message.reply_to_session_id,
        partition_key=message.partition_key,
        time_to_live=ttl.total_seconds() if ttl is not None else None,
        application_properties={_text(k): _text(v) for k, v in (message.application_properties or {}).items()},
        dead_letter_reason=message.dead_letter_reason,
        dead_letter_description=message.dead_letter_error_description,
        dead_letter_source=message.dead_letter_source,
        handle=message,
    )


def outgoing(message: OutgoingMessage) -> ServiceBusMessage:
    properties: dict[str | bytes, Any] = {key: value for key, value in message.application_properties.items()}
    return ServiceBusMessage(
        message.body,
        application_properties=properties or None,
        session_id=message.session_id,
        message_id=message.message_id,
        content_type=message.content_type,
        correlation_id=message.correlation_id,
        subject=message.subject,
        partition_key=message.partition_key,
        to=message.to,
        reply_to=message.reply_to,
        reply_to_session_id=message.reply_to_session_id,
        time_to_live=timedelta(seconds=message.time_to_live) if message.time_to_live else None,
    )


class ServiceBusNamespace(Namespace, ServiceBusStore):
    name = "Service Bus"
    _client: ServiceBusClient | None = None

    @property
    def client(self) -> ServiceBusClient:
        if self._client is None:
            if self.connection_string is not None:
                self._client = ServiceBusClient.from_connection_string(self.connection_string)
            else:
                self._client = ServiceBusClient(self.namespace or "", self.credential)
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    def receiver(
        self, entity: str, subscription: str | None, *, sessions: bool, prefetch: int = 0
    ) -> ServiceBusReceiver:
        if sessions:
            return SessionReceivers(self, entity, subscription, prefetch)
        return NamespaceReceiver(self, entity, subscription, prefetch)

    async def send(self, entity: str, messages: list[OutgoingMessage], *, topic: bool = False) -> None:
        try:
            sender = self.client.get_topic_sender(entity) if topic else self.client.get_queue_sender(entity)
            async with sender:
                await sender.send_messages([outgoing(message) for message in messages])
        except ServiceBusError as error:
            raise StorageError(
                f"sending to Service Bus {'topic' if topic else 'queue'} '{entity}' failed: {error}"
            ) from error


class NamespaceReceiver(ServiceBusReceiver):
    """Peek-lock receiver of a queue or subscription of a real namespace."""

    def __init__(
        self,
        namespace: ServiceBusNamespace,
        entity: str,
        subscription: str | None,
        prefetch: int,
        session_id: Any = None,
    ) -> None:
        self.namespace = namespace
        self.entity = entity
        self.subscription = subscription
        self.prefetch = prefetch
        self.session_id = session_id
        self.path = f"{entity}/Subscriptions/{subscription}" if subscription else entity
        self.label = f"subscription '{self.path}'" if subscription else f"Service Bus queue '{entity}'"
        self.lock_duration = LOCK_DURATION
        self._receiver: SdkReceiver | None = None

    async def sdk_receiver(self) -> SdkReceiver:
        if self._receiver is None:
            client = self.namespace.client
            options: dict[str, Any] = {"prefetch_count": self.prefetch, "max_wait_time": RECEIVE_WAIT}
            if self.session_id is not None:
                options["session_id"] = self.session_id
            entity, subscription = self.entity, self.subscription
            # "<queue>/$DeadLetterQueue" (or a subscription's): the SDK's dead-letter sub-queue
            if subscription and subscription.endswith(DEAD_LETTER_SUFFIX):
                subscription = subscription.removesuffix(DEAD_LETTER_SUFFIX)
                options["sub_queue"] = ServiceBusSubQueue.DEAD_LETTER
            elif entity.endswith(DEAD_LETTER_SUFFIX):
                entity = entity.removesuffix(DEAD_LETTER_SUFFIX)
                options["sub_queue"] = ServiceBusSubQueue.DEAD_LETTER
            receiver = (
                client.get_subscription_receiver(entity, subscription, **options)
                if subscription
                else client.get_queue_receiver(entity, **options)
            )
            await receiver.__aenter__()
            self._receiver = receiver
        return self._receiver

    async def close(self) -> None:
        if self._receiver is not None:
            receiver, self._receiver = self._receiver, None
            with contextlib.suppress(ServiceBusError):
                await receiver.close()

    async def receive(self, count: int) -> list[BrokerMessage]:
        try:
            receiver = await self.sdk_receiver()
            batch = await receiver.receive_messages(max_message_count=count, max_wait_time=RECEIVE_WAIT)
        except ServiceBusError as error:
            await self.close()
            raise StorageError(f"receiving from {self.label} failed: {error}") from error
        messages = [received(self.path, message) for message in batch]
        if messages:  # the entity's lock duration, as the service applied it
            left = (messages[0].locked_until - datetime.now(timezone.utc)).total_seconds()
            self.lock_duration = max(MIN_LOCK_DURATION, min(LOCK_DURATION * 5, left))
        return messages

    async def renew(self, message: BrokerMessage) -> datetime:
        try:
            receiver = await self.sdk_receiver()
            if self.session_id is not None and receiver.session is not None:
                await receiver.session.renew_lock()
            renewed: datetime = await receiver.renew_message_lock(message.handle)
            return renewed
        except (MessageLockLostError, SessionLockLostError) as error:
            raise LockLostError(str(error)) from error
        except ServiceBusError as error:
            raise StorageError(f"renewing a lock on {self.label} failed: {error}") from error

    async def _settle(self, verb: str, message: BrokerMessage, **options: Any) -> None:
        try:
            receiver = await self.sdk_receiver()
            await getattr(receiver, f"{verb}_message")(message.handle, **options)
        except (MessageLockLostError, SessionLockLostError) as error:
            raise LockLostError(str(error)) from error
        except ServiceBusError as error:
            raise StorageError(f"settling a message of {self.label} ({verb}) failed: {error}") from error

    async def complete(self, message: BrokerMessage) -> None:
        await self._settle("complete", message)

    async def abandon(self, message: BrokerMessage) -> None:
        await self._settle("abandon", message)

    async def dead_letter(self, message: BrokerMessage, reason: str, description: str) -> None:
        await self._settle("dead_letter", message, reason=reason, error_description=description)


class SessionReceivers(ServiceBusReceiver):
    """Sessions of a real entity: a receiver per accepted session, one message of each out at a
    time; a session that has nothing more is released for others."""

    def __init__(self, namespace: ServiceBusNamespace, entity: str, subscription: str | None, prefetch: int) -> None:
        self.namespace = namespace
        self.entity = entity
        self.subscription = subscription
        self.prefetch = prefetch
        self.path = f"{entity}/Subscriptions/{subscription}" if subscription else entity
        self.label = f"sessions of subscription '{self.path}'" if subscription else f"sessions of queue '{entity}'"
        self.lock_duration = LOCK_DURATION
        self._sessions: dict[str, NamespaceReceiver] = {}
        self._busy: set[str] = set()

    async def close(self) -> None:
        for receiver in list(self._sessions.values()):
            await receiver.close()
        self._sessions.clear()

    async def receive(self, count: int) -> list[BrokerMessage]:
        taken: list[BrokerMessage] = []
        for session_id, receiver in list(self._sessions.items()):
            if session_id in self._busy or len(taken) >= count:
                continue
            batch = await receiver.receive(1)
            if not batch:  # drained: let another consumer (or a later accept) have it
                del self._sessions[session_id]
                await receiver.close()
            taken.extend(batch)
        while len(self._sessions) < count and len(taken) < count:
            receiver = NamespaceReceiver(
                self.namespace, self.entity, self.subscription, self.prefetch, session_id=NEXT_AVAILABLE_SESSION
            )
            try:
                sdk = await receiver.sdk_receiver()
            except OperationTimeoutError:
                break  # no session is waiting
            except ServiceBusError as error:
                raise StorageError(f"accepting a session of {self.path} failed: {error}") from error
            session_id = str(sdk.session.session_id) if sdk.session is not None else ""
            receiver.session_id = session_id
            self._sessions[session_id] = receiver
            batch = await receiver.receive(1)
            taken.extend(batch)
            if not batch:
                break
        for message in taken:
            self._busy.add(message.session_id or "")
        return taken

    def _receiver(self, message: BrokerMessage) -> NamespaceReceiver:
        receiver = self._sessions.get(message.session_id or "")
        if receiver is None:
            raise LockLostError(f"the session '{message.session_id}' of {self.path} is no longer held")
        return receiver

    async def renew(self, message: BrokerMessage) -> datetime:
        return await self._receiver(message).renew(message)

    async def _done(self, message: BrokerMessage, verb: str, **options: Any) -> None:
        try:
            receiver = self._receiver(message)
            if verb == "complete":
                await receiver.complete(message)
            elif verb == "abandon":
                await receiver.abandon(message)
            else:
                await receiver.dead_letter(message, **options)
        finally:
            self._busy.discard(message.session_id or "")

    async def complete(self, message: BrokerMessage) -> None:
        await self._done(message, "complete")

    async def abandon(self, message: BrokerMessage) -> None:
        await self._done(message, "abandon")

    async def dead_letter(self, message: BrokerMessage, reason: str, description: str) -> None:
        await self._done(message, "dead_letter", reason=reason, description=description)
