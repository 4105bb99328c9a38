"""The broker provider contract: what the Service Bus and Event Hubs triggers rely on.

It runs against the embedded broker always, and against a real namespace when
``FUNCHOST_TEST_SERVICEBUS`` (a connection string with Manage rights: the suite creates and
deletes its own entities) or ``FUNCHOST_TEST_EVENTHUBS`` (a namespace connection string, with
``FUNCHOST_TEST_EVENTHUB_NAME`` naming an existing hub, and Azurite for the checkpoints) is
set. No emulator for either service can be installed here, so without them the real
providers are skipped, and say so.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from funchost.app.invocation import Invocation, Outcome
from funchost.app.model import BindingSpec, Direction, FunctionSpec
from funchost.config import AppSettings, HostConfig
from funchost.storage.auto import StorageResolver
from funchost.storage.roles import LockLostError, OutgoingEvent, OutgoingMessage, ServiceBusStore
from funchost.triggers.base import ListenerContext
from funchost.triggers.eventhub import EventHubOptions, EventHubTriggerListener
from tests.storage.conftest import CONNECTION, EVENT_HUBS, SERVICE_BUS, backend_settings
from tests.waiting import eventually


class Entities:
    """Names of the queue, session queue, topic and subscriptions one test uses."""

    def __init__(self) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.queue = f"contract-{suffix}"
        self.sessions = f"contract-s-{suffix}"
        self.topic = f"contract-t-{suffix}"
        self.subscriptions = ("first", "second")


async def _create_real_entities(entities: Entities, connection: str) -> None:
    from datetime import timedelta

    from azure.servicebus.aio.management import ServiceBusAdministrationClient

    async with ServiceBusAdministrationClient.from_connection_string(connection) as admin:
        lock = timedelta(seconds=30)
        await admin.create_queue(entities.queue, max_delivery_count=10, lock_duration=lock)
        await admin.create_queue(entities.sessions, requires_session=True, lock_duration=lock)
        await admin.create_topic(entities.topic)
        for name in entities.subscriptions:
            await admin.create_subscription(entities.topic, name, lock_duration=lock)


async def _delete_real_entities(entities: Entities, connection: str) -> None:
    from azure.servicebus.aio.management import ServiceBusAdministrationClient

    async with ServiceBusAdministrationClient.from_connection_string(connection) as admin:
        for queue in (entities.queue, entities.sessions):
            await admin.delete_queue(queue)
        await admin.delete_topic(entities.topic)


@pytest.fixture
async def service_bus(request, role_backend, tmp_path):
    entities = Entities()
    settings = backend_settings(request, role_backend, SERVICE_BUS)
    if role_backend != "embedded":  # a real namespace: the suite makes its own entities
        await _create_real_entities(entities, settings[CONNECTION])
    store: Any = StorageResolver(tmp_path, AppSettings(settings)).resolve(ServiceBusStore, CONNECTION)
    await store.open()
    receivers = []

    def receiver(entity: str, subscription: str | None = None, sessions: bool = False):
        made = store.receiver(entity, subscription, sessions=sessions)
        receivers.append(made)
        return made

    yield store, entities, receiver
    for made in receivers:
        await made.close()
    await store.close()
    if role_backend != "embedded":
        await _delete_real_entities(entities, settings[CONNECTION])


async def receive(receiver, count: int, expected: int, timeout: float = 15) -> list:
    """Receive until ``expected`` messages came (brokers may hand out fewer per call)."""
    got: list = []

    async def enough() -> bool:
        got.extend(await receiver.receive(count - len(got)))
        return len(got) >= expected

    with contextlib.suppress(AssertionError):  # fewer than expected: the caller's assertion says so
        await eventually(enough, timeout)
    return got


async def test_send_receive_complete(service_bus):
    store, entities, receiver = service_bus
    queue = receiver(entities.queue)
    await queue.open()
    before = datetime.now(timezone.utc)
    await store.send(
        entities.queue,
        [
            OutgoingMessage(
                b"one",
                message_id="id-1",
                content_type="text/plain",
                correlation_id="c",
                subject="s",
                application_properties={"k": "v", "n": 3},
            ),
            OutgoingMessage(b"two"),
        ],
    )
    first, second = await receive(queue, 10, 2)
    assert (first.body, second.body) == (b"one", b"two")
    assert first.message_id == "id-1" and first.content_type == "text/plain" and first.correlation_id == "c"
    assert first.subject == "s" and first.application_properties == {"k": "v", "n": 3}
    assert first.delivery_count == 1 and first.sequence_number < second.sequence_number
    assert first.locked_until > datetime.now(timezone.utc) and first.enqueued_time >= before.replace(microsecond=0)
    assert first.lock_token and first.lock_token != second.lock_token
    await queue.complete(first)
    await queue.complete(second)
    assert await receive(queue, 10, 1, timeout=2) == []
    with pytest.raises(LockLostError):
        await queue.complete(first)  # settled once only


async def test_a_locked_message_goes_to_no_one_else_and_abandon_redelivers_it(service_bus):
    store, entities, receiver = service_bus
    first, second = receiver(entities.queue), receiver(entities.queue)
    await first.open()
    await store.send(entities.queue, [OutgoingMessage(b"only")])
    [message] = await receive(first, 5, 1)
    assert await receive(second, 5, 1, timeout=2) == []
    renewed = await first.renew(message)
    assert renewed >= message.locked_until
    await first.abandon(message)
    [again] = await receive(second, 5, 1)
    assert again.body == b"only" and again.delivery_count == 2 and again.message_id == message.message_id
    await second.complete(again)


async def test_ten_abandoned_deliveries_dead_letter_the_message(service_bus):
    store, entities, receiver = service_bus
    queue = receiver(entities.queue)
    await queue.open()
    await store.send(entities.queue, [OutgoingMessage(b"poison", message_id="p-1")])
    for delivery in range(1, 11):
        [message] = await receive(queue, 1, 1)
        assert message.delivery_count == delivery
        await queue.abandon(message)
    assert await receive(queue, 1, 1, timeout=2) == []
    dead_letters = receiver(f"{entities.queue}/$DeadLetterQueue")
    [dead] = await receive(dead_letters, 5, 1)
    assert dead.body == b"poison" and dead.message_id == "p-1"
    assert dead.dead_letter_reason == "MaxDeliveryCountExceeded"
    await dead_letters.complete(dead)


async def test_dead_letter_by_hand_keeps_reason_and_description(service_bus):
    store, entities, receiver = service_bus
    queue = receiver(entities.queue)
    await queue.open()
    await store.send(entities.queue, [OutgoingMessage(b"bad")])
    [message] = await receive(queue, 1, 1)
    await queue.dead_letter(message, "Invalid", "the order has no lines")
    dead_letters = receiver(f"{entities.queue}/$DeadLetterQueue")
    [dead] = await receive(dead_letters, 5, 1)
    assert (dead.dead_letter_reason, dead.dead_letter_description) == ("Invalid", "the order has no lines")
    await dead_letters.complete(dead)


async def test_each_subscription_of_a_topic_gets_its_own_copy(service_bus):
    store, entities, receiver = service_bus
    subscribers = [receiver(entities.topic, name) for name in entities.subscriptions]
    for subscriber in subscribers:
        await subscriber.open()
    await store.send(entities.topic, [OutgoingMessage(b"news")], topic=True)
    for subscriber in subscribers:
        [copy] = await receive(subscriber, 5, 1)
        assert copy.body == b"news"
        await subscriber.complete(copy)


async def test_a_session_is_held_by_one_receiver_and_delivered_in_order(service_bus):
    store, entities, receiver = service_bus
    first, second = receiver(entities.sessions, sessions=True), receiver(entities.sessions, sessions=True)
    await first.open()
    await store.send(
        entities.sessions,
        [
            OutgoingMessage(f"{session}-{index}".encode(), session_id=session)
            for index in range(3)
            for session in ("a", "b")
        ],
    )
    order: dict[str, list[str]] = {"a": [], "b": []}

    async def all_six() -> bool:
        out = [(first, message) for message in await first.receive(5)]
        out += [(second, message) for message in await second.receive(5)]
        held = [message.session_id for _, message in out]
        assert len(held) == len(set(held)), f"two messages of one session out at once: {held}"
        for holder, message in out:
            order[message.session_id].append(message.body.decode())
            await holder.complete(message)
        return sum(map(len, order.values())) >= 6

    await eventually(all_six, 30, f"the six session messages ({order})")
    assert order == {"a": ["a-0", "a-1", "a-2"], "b": ["b-0", "b-1", "b-2"]}


# Event Hubs: through the trigger's listener, so both engines (the embedded partition pumps
# and the SDK's processor) are held to the same behaviour ------------------------------------


class Recorder:
    """An invoker that records what the listener delivers."""

    def __init__(self) -> None:
        self.invocations: list[Invocation] = []

    async def invoke(self, invocation: Invocation) -> Outcome:
        self.invocations.append(invocation)
        return Outcome(invocation.invocation_id, True, 0.0)

    def bodies(self) -> list[str]:
        found: list[str] = []
        for invocation in self.invocations:
            data = invocation.trigger_data
            found.extend(data.value.string if data.type == "collection_string" else [data.value])
        return found


def hub_spec(hub: str, cardinality: str) -> FunctionSpec:
    trigger = BindingSpec(
        "events",
        "eventHubTrigger",
        Direction.IN,
        settings={
            "eventHubName": hub,
            "connection": CONNECTION,
            "cardinality": cardinality,
            "consumerGroup": "$Default",
        },
    )
    return FunctionSpec(
        name="contract",
        func=lambda events: None,
        directory=Path("."),
        script_file=Path("x.py"),
        entry_point="main",
        trigger=trigger,
        bindings=[trigger],
        params=[],
        is_async=True,
        model="v2",
    )


@pytest.fixture
def hub_settings(request, role_backend, tmp_path):
    settings = backend_settings(request, role_backend, EVENT_HUBS)
    if role_backend == "embedded":
        return AppSettings(settings), f"hub-{uuid.uuid4().hex[:6]}"
    return AppSettings(settings), os.environ.get("FUNCHOST_TEST_EVENTHUB_NAME", "funchost-contract")


async def run_listener(
    settings: AppSettings, root: Path, spec: FunctionSpec, recorder: Recorder, options: EventHubOptions, work
) -> None:
    resolver = StorageResolver(root, settings)
    context = ListenerContext(recorder, resolver, settings, HostConfig(), "contracthost")
    listener = EventHubTriggerListener(spec, context, options)
    for provider in (listener.namespace, listener.storage):
        await provider.open()
    await listener.start()
    try:
        await work(listener)
    finally:
        await listener.stop(5)
        await resolver.close()


async def test_events_arrive_in_order_in_batches_and_a_checkpoint_holds_across_listeners(hub_settings, tmp_path):
    settings, hub = hub_settings
    options = EventHubOptions(max_event_batch_size=4, initial_offset="fromend")
    spec = hub_spec(hub, "many")
    first = Recorder()
    marker = uuid.uuid4().hex[:6]

    async def send_and_wait(listener, recorder: Recorder, names: list[str]) -> None:
        await asyncio.sleep(1)  # partitions owned, positions taken ("fromEnd": only what is sent now)
        await listener.namespace.send_events(hub, [OutgoingEvent(name.encode(), partition_key="k") for name in names])
        await eventually(lambda: set(names) <= set(recorder.bodies()))

    names = [f"{marker}-{index}" for index in range(10)]
    await run_listener(settings, tmp_path, spec, first, options, lambda listener: send_and_wait(listener, first, names))
    assert [body for body in first.bodies() if body.startswith(marker)] == names  # one partition key: in order
    assert all(len(i.trigger_data.value.string) <= 4 for i in first.invocations)
    metadata = first.invocations[0].trigger_metadata
    assert {"SystemPropertiesArray", "PartitionContext", "SequenceNumberArray", "EnqueuedTimeUtcArray"} <= set(metadata)

    second = Recorder()
    later = [f"{marker}-later-{index}" for index in range(3)]
    await run_listener(
        settings, tmp_path, spec, second, options, lambda listener: send_and_wait(listener, second, later)
    )
    assert [body for body in second.bodies() if body.startswith(marker)] == later  # the checkpoint held
