"""Event Hubs trigger and output end to end: real host processes on the embedded broker."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from collections import Counter

from funchost.storage.embedded.broker import EmbeddedBroker
from funchost.storage.roles import OutgoingEvent
from tests.cli.test_workflow import funchost
from tests.conftest import Backend
from tests.triggers.test_queue import _drain, process_store, queue_length
from tests.waiting import wait_until


async def _send(app, hub: str, events: list[OutgoingEvent]) -> None:
    store = EmbeddedBroker(app / ".funchost" / "storage")
    await store.open()
    try:
        await store.send_events(hub, events)
    finally:
        await store.close()


EMBEDDED = Backend("embedded")


def send(app, hub: str, bodies: list[str], partition_key: str | None = None) -> None:
    asyncio.run(_send(app, hub, [OutgoingEvent(body.encode(), partition_key) for body in bodies]))


def seen(app, queue: str = "seen", backend: Backend = EMBEDDED) -> list[str]:
    """Drain the storage queue the test functions write to (durably, before their checkpoint)."""
    return [body.decode() for body in asyncio.run(_drain(backend.store(app), queue))]


def length(app, queue: str = "seen", backend: Backend = EMBEDDED) -> int:
    return queue_length(backend, app, queue)


BATCH_APP = {
    "host.json": {"version": "2.0", "extensions": {"eventHubs": {"maxEventBatchSize": 5}}},
    "function_app.py": """
        import json
        import typing
        import azure.functions as func

        app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

        @app.event_hub_message_trigger(arg_name="events", event_hub_name="telemetry", connection="EventHubConnection",
                                       cardinality="many")
        @app.queue_output(arg_name="$return", queue_name="seen", connection="AzureWebJobsStorage")
        def batch(events: typing.List[func.EventHubEvent]) -> str:
            return json.dumps([{
                "body": event.get_body().decode(), "sequence_number": event.sequence_number,
                "offset": event.offset, "partition_key": event.partition_key,
                "enqueued_time": event.enqueued_time.isoformat(),
                "partition": json.loads(event.metadata["PartitionContext"])["PartitionId"]
                if isinstance(event.metadata["PartitionContext"], str)
                else event.metadata["PartitionContext"]["PartitionId"],
                "batch_size": len(events),
            } for event in events])

        @app.event_hub_message_trigger(arg_name="event", event_hub_name="telemetry", connection="EventHubConnection",
                                       consumer_group="single")
        @app.queue_output(arg_name="$return", queue_name="single", connection="AzureWebJobsStorage")
        def single(event: func.EventHubEvent) -> str:
            return json.dumps({
                "body": event.get_body().decode(), "sequence_number": event.sequence_number,
                "offset": event.offset, "partition_key": event.partition_key,
                "enqueued_time": event.enqueued_time.isoformat(),
                "properties": event.metadata["Properties"],
            })

        @app.route(route="emit", methods=["POST"])
        @app.event_hub_output(arg_name="out", event_hub_name="telemetry", connection="EventHubConnection")
        def emit(req: func.HttpRequest, out: func.Out[str]) -> str:
            out.set(req.get_body().decode())  # a JSON array: one event per element, in order
            return "sent"
    """,
}


def test_batches_of_at_most_the_batch_size_in_order_with_every_field(host, app_dir):
    app = app_dir(BATCH_APP)
    send(app, "telemetry", [f"e{index}" for index in range(23)], partition_key="device-1")
    host(app)
    wait_until(lambda: length(app) == 23 and length(app, "single") == 23, 20, "not every event was handled")
    events = [json.loads(body) for body in seen(app)]
    assert [event["body"] for event in events] == [f"e{index}" for index in range(23)]  # one partition: in order
    assert max(event["batch_size"] for event in events) == 5 and min(event["batch_size"] for event in events) >= 1
    assert [event["sequence_number"] for event in events] == list(range(23))
    assert all(event["partition_key"] == "device-1" for event in events)
    assert len({event["partition"] for event in events}) == 1
    offsets = [event["offset"] for event in events]
    assert offsets == sorted(offsets) and offsets[0] == 0 and offsets[1] == len("e0")
    singles = sorted((json.loads(body) for body in seen(app, "single")), key=lambda event: event["sequence_number"])
    assert [event["body"] for event in singles] == [f"e{index}" for index in range(23)]
    assert singles[3]["offset"] == str(offsets[3]) and singles[3]["partition_key"] == "device-1"
    assert singles[3]["enqueued_time"] == events[3]["enqueued_time"] and singles[3]["properties"] == {}


def test_an_output_array_becomes_one_event_each_in_order(host, app_dir):
    app = app_dir(BATCH_APP)
    process = host(app)
    assert process.request("POST", "/api/emit", json.dumps(["a", {"b": 1}, "c"])).text == "sent"
    wait_until(lambda: length(app, "single") == 3, 20, "the three events were not all handled")
    assert sorted(json.loads(body)["body"] for body in seen(app, "single")) == ["a", "c", '{"b": 1}']


def test_checkpoints_survive_a_restart(backend, host, app_dir):
    """Checkpoints live in the app's store: the embedded one, or Azure Storage (Azurite)."""
    app = app_dir(BATCH_APP)
    send(app, "telemetry", [f"first{index}" for index in range(10)])
    process = host(app, "--no-reload", env=backend.env())
    wait_until(lambda: length(app, backend=backend) == 10, 30, "the first events were not handled")
    process.process.send_signal(signal.SIGTERM)
    assert process.process.wait(timeout=30) == 0
    if backend.name == "embedded":  # the checkpoints, as the trigger named them, are what the CLI lists
        listed = funchost("storage", "hubs", cwd=app).stdout
        assert sum(int(mark) + 1 for mark in re.findall(r"\$default at (\d+)", listed)) == 10, listed
    send(app, "telemetry", [f"second{index}" for index in range(5)])
    host(app, "--no-reload", env=backend.env())
    wait_until(lambda: length(app, backend=backend) == 15, 30, "the new events were not handled")
    handled = Counter(json.loads(body)["body"] for body in seen(app, backend=backend))
    assert set(handled) == {f"first{index}" for index in range(10)} | {f"second{index}" for index in range(5)}
    assert max(handled.values()) == 1  # nothing before the checkpoint came again


SHARED_APP = {
    "host.json": {
        "version": "2.0",
        "extensions": {
            "eventHubs": {"partitionOwnershipExpirationInterval": "00:00:06", "loadBalancingUpdateInterval": "00:00:01"}
        },
    },
    "function_app.py": """
        import os
        import azure.functions as func

        app = func.FunctionApp()

        @app.event_hub_message_trigger(arg_name="event", event_hub_name="shared", connection="EventHubConnection")
        @app.queue_output(arg_name="$return", queue_name="seen", connection="AzureWebJobsStorage")
        def share(event: func.EventHubEvent) -> str:
            return f"{event.get_body().decode()} {os.getpid()}"
    """,
}


def test_two_hosts_share_the_partitions_and_a_killed_one_loses_nothing(host, app_dir):
    app = app_dir(SHARED_APP)
    first = host(app, "--verbose")
    second = host(app, "--verbose")
    for process in (first, second):  # each owns two of the four partitions before anything is sent
        wait_until(lambda p=process: p.output.count("is now processed by") >= 2, 30, "the partitions were not shared")
    send(app, "shared", [f"a{index}" for index in range(200)])
    wait_until(lambda: length(app) == 200, 30, "not every event was handled")
    clean = [line.split() for line in seen(app)]
    assert Counter(body for body, _ in clean) == Counter(f"a{index}" for index in range(200))  # each once
    assert len({pid for _, pid in clean}) == 2

    second.process.send_signal(signal.SIGKILL)
    second.process.wait()
    send(app, "shared", [f"b{index}" for index in range(200)])
    wait_until(
        lambda: {line.split()[0] for line in peek_seen(app)} >= {f"b{index}" for index in range(200)},
        60,
        "events of the killed host's partitions were lost",
    )


def peek_seen(app) -> list[str]:
    """Every body in the queue ``seen``, leaving them there."""

    async def peek() -> list[str]:
        store = process_store(app)
        await store.open()
        try:
            return [message.body.decode() for message in await store.peek("seen", 100_000)]
        finally:
            await store.close()

    return asyncio.run(peek())
