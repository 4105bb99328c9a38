"""Service Bus trigger and outputs end to end: real host processes on the embedded broker."""

from __future__ import annotations

import asyncio
import json
from collections import Counter, defaultdict
from datetime import datetime

from funchost.storage.embedded.broker import EmbeddedBroker
from funchost.storage.roles import OutgoingMessage
from tests.waiting import wait_until


def broker(app) -> EmbeddedBroker:
    return EmbeddedBroker(app / ".funchost" / "storage")


async def _with_broker(app, work):
    store = broker(app)
    await store.open()
    try:
        return await work(store)
    finally:
        await store.close()


def send(app, entity: str, messages: list[OutgoingMessage], topic: bool = False) -> None:
    asyncio.run(_with_broker(app, lambda store: store.send(entity, messages, topic=topic)))


def peek(app, entity: str, count: int = 1000):
    return asyncio.run(_with_broker(app, lambda store: store.peek(entity, count)))


def bodies(app, entity: str) -> list[str]:
    return [message.body.decode() for message in peek(app, entity)]


CHAIN_APP = {
    "function_app.py": """
        import json
        import logging
        import azure.functions as func

        app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

        @app.route(route="order", methods=["POST"])
        @app.service_bus_queue_output(arg_name="out", queue_name="orders", connection="ServiceBusConnection")
        def order(req: func.HttpRequest, out: func.Out[str]) -> str:
            out.set(req.get_body().decode())
            return "queued"

        @app.service_bus_queue_trigger(arg_name="msg", queue_name="orders", connection="ServiceBusConnection")
        @app.service_bus_topic_output(arg_name="$return", topic_name="events", connection="ServiceBusConnection")
        def process(msg: func.ServiceBusMessage) -> str:
            order = msg.get_body().decode()
            # a string holding a JSON array: one message per element
            return json.dumps([{"order": order, "step": 1}, {"order": order, "step": 2}])

        @app.service_bus_topic_trigger(arg_name="msg", topic_name="events", subscription_name="audit",
                                       connection="ServiceBusConnection")
        @app.service_bus_queue_output(arg_name="$return", queue_name="audit-log", connection="ServiceBusConnection")
        def audit(msg: func.ServiceBusMessage) -> str:
            return "audit " + msg.get_body().decode()

        @app.service_bus_topic_trigger(arg_name="msg", topic_name="events", subscription_name="billing",
                                       connection="ServiceBusConnection")
        @app.service_bus_queue_output(arg_name="$return", queue_name="billing-log", connection="ServiceBusConnection")
        def billing(msg: func.ServiceBusMessage):  # unannotated: a dict goes out as JSON
            return {"billed": json.loads(msg.get_body())}

        @app.service_bus_queue_trigger(arg_name="msg", queue_name="inspect", connection="ServiceBusConnection")
        @app.service_bus_queue_output(arg_name="$return", queue_name="{ReplyTo}", connection="ServiceBusConnection")
        def inspect(msg: func.ServiceBusMessage) -> str:
            return json.dumps({
                "body": msg.get_body().decode(), "content_type": msg.content_type,
                "correlation_id": msg.correlation_id, "delivery_count": msg.delivery_count,
                "enqueued_time_utc": msg.enqueued_time_utc.isoformat(),
                "expires_at_utc": msg.expires_at_utc.isoformat() if msg.expires_at_utc else None,
                "locked_until": msg.locked_until.isoformat(), "lock_token": msg.lock_token,
                "message_id": msg.message_id, "partition_key": msg.partition_key, "reply_to": msg.reply_to,
                "session_id": msg.session_id, "sequence_number": msg.sequence_number, "label": msg.label,
                "subject": msg.subject, "to": msg.to, "time_to_live": str(msg.time_to_live),
                "user_properties": msg.user_properties, "application_properties": msg.application_properties,
                "dead_letter_reason": msg.dead_letter_reason, "dead_letter_source": msg.dead_letter_source,
                "reply_to_session_id": msg.reply_to_session_id,
            })

        @app.service_bus_queue_trigger(arg_name="msg", queue_name="doomed", connection="ServiceBusConnection")
        def doomed(msg: func.ServiceBusMessage) -> None:
            logging.info("doomed delivery %d", msg.delivery_count)
            raise ValueError("always fails")
    """,
}


def test_queue_and_topic_triggers_chain_with_outputs(host, app_dir):
    app = app_dir(CHAIN_APP)
    process = host(app)
    assert process.request("POST", "/api/order", "o-1").text == "queued"
    wait_until(
        lambda: len(peek(app, "audit-log")) == 2 and len(peek(app, "billing-log")) == 2,
        20,
        "the topic's subscriptions did not both get both messages",
    )
    assert sorted(bodies(app, "audit-log")) == [
        'audit {"order": "o-1", "step": 1}',
        'audit {"order": "o-1", "step": 2}',
    ]
    assert sorted(json.loads(body)["billed"]["step"] for body in bodies(app, "billing-log")) == [1, 2]
    process.wait_for_output("Executing 'Functions.process' (Reason='New ServiceBus message detected on 'orders'.'")
    process.wait_for_output("New ServiceBus message detected on 'events/Subscriptions/audit'.")
    # A message is completed after its function's outputs are written, so the outputs can be seen first.
    wait_until(
        lambda: peek(app, "orders") == [] and peek(app, "events/Subscriptions/audit") == [],
        20,
        "the trigger messages were not completed",
    )


def test_the_function_reads_every_field_of_the_message_and_its_binding_data(host, app_dir):
    app = app_dir(CHAIN_APP)
    host(app)
    send(
        app,
        "inspect",
        [
            OutgoingMessage(
                b'{"n": 1}',
                message_id="m-1",
                content_type="application/json",
                correlation_id="c-1",
                subject="greeting",
                to="someone",
                reply_to="replies",
                partition_key="pk",
                time_to_live=3600,
                application_properties={"tenant": "contoso", "attempt": 2},
            )
        ],
    )
    wait_until(lambda: len(peek(app, "replies")) == 1, 20, "no reply on the queue named by {ReplyTo}")
    seen = json.loads(peek(app, "replies")[0].body)
    assert seen["body"] == '{"n": 1}' and seen["message_id"] == "m-1" and seen["content_type"] == "application/json"
    assert seen["correlation_id"] == "c-1" and seen["subject"] == seen["label"] == "greeting"
    assert seen["to"] == "someone" and seen["reply_to"] == "replies" and seen["partition_key"] == "pk"
    assert seen["delivery_count"] == 1 and isinstance(seen["sequence_number"], int) and seen["sequence_number"] > 0
    assert seen["application_properties"] == seen["user_properties"] == {"tenant": "contoso", "attempt": 2}
    assert seen["time_to_live"] == "1:00:00"
    enqueued = datetime.fromisoformat(seen["enqueued_time_utc"])
    assert datetime.fromisoformat(seen["locked_until"]) > enqueued
    assert (datetime.fromisoformat(seen["expires_at_utc"]) - enqueued).total_seconds() == 3600
    assert len(seen["lock_token"]) == 36
    assert seen["dead_letter_reason"] is None and seen["dead_letter_source"] is None
    assert seen["session_id"] is None and seen["reply_to_session_id"] is None


def test_a_failing_message_is_dead_lettered_after_ten_deliveries(host, app_dir):
    app = app_dir(CHAIN_APP)
    process = host(app)
    send(app, "doomed", [OutgoingMessage(b"original body")])
    wait_until(lambda: len(peek(app, "doomed/$DeadLetterQueue")) == 1, 30, "the message was never dead-lettered")
    [dead] = peek(app, "doomed/$DeadLetterQueue")
    assert dead.body == b"original body" and dead.delivery_count == 10
    assert dead.dead_letter_reason == "MaxDeliveryCountExceeded"
    assert peek(app, "doomed") == []
    output = process.wait_for_output("doomed delivery 10")
    assert [f"doomed delivery {n}" in output for n in range(1, 11)] == [True] * 10
    assert "doomed delivery 11" not in output and output.count("ValueError: always fails") == 10


SESSION_APP = {
    "host.json": {"version": "2.0", "extensions": {"serviceBus": {"maxConcurrentCalls": 16}}},
    "function_app.py": """
        import asyncio
        import azure.functions as func

        app = func.FunctionApp()
        active = set()

        @app.service_bus_queue_trigger(arg_name="msg", queue_name="sessions", connection="ServiceBusConnection",
                                       is_sessions_enabled=True)
        @app.service_bus_queue_output(arg_name="$return", queue_name="seen", connection="ServiceBusConnection")
        async def ordered(msg: func.ServiceBusMessage) -> str:
            overlap = msg.session_id in active
            active.add(msg.session_id)
            await asyncio.sleep(0.01)
            active.discard(msg.session_id)
            return f"{msg.session_id} {msg.get_body().decode()} {'overlap' if overlap else 'alone'}"
    """,
}


def test_sessions_deliver_each_sessions_messages_in_order_one_at_a_time(host, app_dir):
    app = app_dir(SESSION_APP)
    messages = [
        OutgoingMessage(str(index).encode(), session_id=f"s{session}") for index in range(15) for session in range(4)
    ]
    send(app, "sessions", messages)
    host(app)
    wait_until(lambda: len(peek(app, "seen")) == 60, 30, "not every session message was handled")
    per_session: dict[str, list[int]] = defaultdict(list)
    for line in bodies(app, "seen"):
        session, index, alone = line.split()
        assert alone == "alone", line
        per_session[session].append(int(index))
    assert dict(per_session) == {f"s{session}": list(range(15)) for session in range(4)}


def test_two_hosts_compete_for_a_queue_and_handle_each_message_once(host, app_dir):
    # two calls at a time, 5 ms each: one host alone needs 1.5 s for the 600, longer than an idle
    # host's longest poll interval (1 s), so both take part however their polls are phased
    app = app_dir(
        {
            "host.json": {"version": "2.0", "extensions": {"serviceBus": {"maxConcurrentCalls": 2}}},
            "function_app.py": """
        import os
        import time
        import azure.functions as func

        app = func.FunctionApp()

        @app.service_bus_queue_trigger(arg_name="msg", queue_name="work", connection="ServiceBusConnection")
        @app.service_bus_queue_output(arg_name="$return", queue_name="done", connection="ServiceBusConnection")
        def work(msg: func.ServiceBusMessage) -> str:
            time.sleep(0.005)
            return f"{msg.get_body().decode()} {os.getpid()}"
    """,
        }
    )
    host(app)
    host(app)
    send(app, "work", [OutgoingMessage(f"m{index}".encode()) for index in range(600)])
    wait_until(lambda: len(peek(app, "done")) == 600, 60, "not every message was handled")
    done = [line.split() for line in bodies(app, "done")]
    assert Counter(body for body, _ in done) == Counter(f"m{index}" for index in range(600))
    assert len({pid for _, pid in done}) == 2  # both hosts took part


V1_APP = {
    "Relay/function.json": {
        "scriptFile": "__init__.py",
        "bindings": [
            {
                "type": "serviceBusTrigger",
                "direction": "in",
                "name": "msg",
                "queueName": "v1-in",
                "connection": "ServiceBusConnection",
            },
            {
                "type": "eventHub",
                "direction": "out",
                "name": "out",
                "eventHubName": "v1-hub",
                "connection": "EventHubConnection",
            },
        ],
    },
    "Relay/__init__.py": """
        import azure.functions as func

        def main(msg: func.ServiceBusMessage, out: func.Out[str]) -> None:
            out.set(msg.get_body().decode().upper())
    """,
    "Collect/function.json": {
        "scriptFile": "__init__.py",
        "bindings": [
            {
                "type": "eventHubTrigger",
                "direction": "in",
                "name": "events",
                "eventHubName": "v1-hub",
                "connection": "EventHubConnection",
                "cardinality": "many",
            },
            {
                "type": "serviceBus",
                "direction": "out",
                "name": "$return",
                "topicName": "v1-topic",
                "connection": "ServiceBusConnection",
            },
        ],
    },
    "Finish/function.json": {
        "scriptFile": "__init__.py",
        "bindings": [
            {
                "type": "serviceBusTrigger",
                "direction": "in",
                "name": "msg",
                "topicName": "v1-topic",
                "subscriptionName": "finisher",
                "connection": "ServiceBusConnection",
            },
            {
                "type": "serviceBus",
                "direction": "out",
                "name": "$return",
                "queueName": "v1-done",
                "connection": "ServiceBusConnection",
            },
        ],
    },
    "Finish/__init__.py": """
        import azure.functions as func

        def main(msg: func.ServiceBusMessage) -> str:
            return msg.get_body().decode()
    """,
    "Collect/__init__.py": """
        import typing
        import azure.functions as func

        def main(events: typing.List[func.EventHubEvent]) -> str:
            return ",".join(event.get_body().decode() for event in events)
    """,
}


def test_v1_function_json_service_bus_and_event_hubs_chain(host, app_dir):
    """A queue trigger to a hub, the hub (in batches) to a topic, a subscription to a queue."""
    app = app_dir(V1_APP)
    host(app)
    send(app, "v1-in", [OutgoingMessage(b"hello"), OutgoingMessage(b"world")])
    wait_until(
        lambda: sorted(",".join(bodies(app, "v1-done")).split(",")) == ["HELLO", "WORLD"],
        20,
        "the v1 chain did not deliver both messages",
    )


BATCH_APP = {
    "host.json": {"version": "2.0", "extensions": {"serviceBus": {"maxMessageBatchSize": 10}}},
    "function_app.py": """
        import json
        import typing
        import azure.functions as func

        app = func.FunctionApp()

        @app.service_bus_queue_trigger(arg_name="messages", queue_name="batched", connection="ServiceBusConnection",
                                       cardinality="many")
        @app.service_bus_queue_output(arg_name="$return", queue_name="batches", connection="ServiceBusConnection")
        def batched(messages: typing.List[func.ServiceBusMessage]) -> str:
            return json.dumps({"size": len(messages), "messages": [
                {"body": m.get_body().decode(), "id": m.message_id, "delivery_count": m.delivery_count,
                 "sequence_number": m.sequence_number, "properties": m.application_properties,
                 "enqueued": m.enqueued_time_utc.isoformat(), "correlation_id": m.correlation_id}
                for m in messages]})
    """,
}


def test_cardinality_many_delivers_batches_of_at_most_the_batch_size(host, app_dir):
    app = app_dir(BATCH_APP)
    send(
        app,
        "batched",
        [
            OutgoingMessage(
                f"b{index}".encode(),
                message_id=f"id-{index}",
                correlation_id="c",
                application_properties={"index": index},
            )
            for index in range(25)
        ],
    )
    host(app)
    wait_until(
        lambda: sum(json.loads(body)["size"] for body in bodies(app, "batches")) == 25,
        20,
        "not every message came in a batch",
    )
    batches = [json.loads(body) for body in bodies(app, "batches")]
    assert max(batch["size"] for batch in batches) == 10 and len(batches) == 3
    messages = [message for batch in batches for message in batch["messages"]]
    assert [m["body"] for m in messages] == [f"b{index}" for index in range(25)]
    assert [m["id"] for m in messages] == [f"id-{index}" for index in range(25)]
    assert [m["properties"] for m in messages] == [{"index": index} for index in range(25)]
    assert all(m["delivery_count"] == 1 and m["correlation_id"] == "c" and m["enqueued"] for m in messages)
    sequence = [m["sequence_number"] for m in messages]
    assert sequence == sorted(sequence) and len(set(sequence)) == 25
    # The batch is completed after its output is written, so the output can be seen first.
    wait_until(lambda: peek(app, "batched") == [], 20, "the batch was not completed")


LOCK_APP = {
    "function_app.py": """
        import logging
        import time
        import azure.functions as func

        app = func.FunctionApp()

        @app.service_bus_queue_trigger(arg_name="msg", queue_name="slow", connection="ServiceBusConnection")
        def slow(msg: func.ServiceBusMessage) -> None:
            logging.info("slow delivery %d started", msg.delivery_count)
            if msg.delivery_count == 1:
                time.sleep(5)  # longer than the 3 s lock
            logging.info("slow delivery %d done", msg.delivery_count)
    """,
}


def test_the_lock_is_renewed_while_the_function_runs(host, app_dir):
    app = app_dir(LOCK_APP)
    process = host(app, env={"FUNCHOST_SERVICEBUS_LOCK_DURATION": "3"})
    send(app, "slow", [OutgoingMessage(b"long")])
    process.wait_for_output("slow delivery 1 done", timeout=30)
    wait_until(lambda: peek(app, "slow") == [], 10, "the message was not completed")
    assert "slow delivery 2" not in process.output  # never delivered again while it ran


def test_past_max_auto_lock_renewal_the_lock_lapses_and_the_message_comes_again(host, app_dir):
    app = app_dir(
        {
            **LOCK_APP,
            "host.json": {"version": "2.0", "extensions": {"serviceBus": {"maxAutoLockRenewalDuration": "00:00:01"}}},
        }
    )
    process = host(app, env={"FUNCHOST_SERVICEBUS_LOCK_DURATION": "3"})
    send(app, "slow", [OutgoingMessage(b"long")])
    process.wait_for_output("slow delivery 2 done", timeout=30)  # redelivered while the first still ran
    output = process.wait_for_output("could not be completed: its lock was lost", timeout=30)
    assert output.index("slow delivery 2 started") < output.index("slow delivery 1 done")
    wait_until(lambda: peek(app, "slow") == [], 10, "the second delivery was not completed")
