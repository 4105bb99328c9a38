"""Queue trigger and output end to end: real host processes on the embedded store and on Azurite."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections import Counter

from funchost.storage.roles import StorageProvider
from tests.waiting import wait_until

QUEUE_APP = {
    "host.json": {"version": "2.0", "extensions": {"queues": {"maxPollingInterval": "00:00:00.500"}}},
    "function_app.py": """
        import logging
        import os
        import typing
        import azure.functions as func

        app = func.FunctionApp()

        @app.queue_trigger(arg_name="msg", queue_name="flaky", connection="AzureWebJobsStorage")
        def flaky(msg: func.QueueMessage) -> None:
            logging.info("flaky attempt %d", msg.dequeue_count)
            if msg.dequeue_count < 4:
                raise RuntimeError("not yet")
            logging.info("flaky done")

        @app.queue_trigger(arg_name="msg", queue_name="doomed", connection="AzureWebJobsStorage")
        def doomed(msg: func.QueueMessage) -> None:
            raise ValueError("always fails")

        @app.queue_trigger(arg_name="msg", queue_name="work", connection="AzureWebJobsStorage")
        @app.queue_output(arg_name="done", queue_name="done", connection="AzureWebJobsStorage")
        def work(msg: str, done: func.Out[str]) -> None:
            done.set(f"{msg} {os.getpid()}")

        @app.queue_trigger(arg_name="msg", queue_name="fanout", connection="AzureWebJobsStorage")
        @app.queue_output(arg_name="$return", queue_name="fanned-%SUFFIX%", connection="AzureWebJobsStorage")
        def fanout(msg: func.QueueMessage) -> typing.List[str]:
            return [msg.get_body().decode() + "-a", msg.get_body().decode() + "-b"]
    """,
}


def run(coroutine):
    return asyncio.run(coroutine)


async def _put_all(store: StorageProvider, queue: str, bodies: list[bytes]) -> None:
    await store.open()
    for body in bodies:
        await store.put(queue, body)
    await store.close()


async def _drain(store: StorageProvider, queue: str) -> list[bytes]:
    await store.open()
    got = []
    while batch := await store.get_batch(queue, 32, 60):
        for message in batch:
            got.append(message.body)
            await store.delete(queue, message.id, message.pop_receipt)
    await store.close()
    return got


def queue_length(backend, app, queue: str) -> int:
    async def length() -> int:
        store = backend.store(app)
        await store.open()
        try:
            return await store.length(queue)
        finally:
            await store.close()

    return run(length())


def test_guide_http_to_queue_example(host, example):
    process = host(example("v2_app"))
    assert process.request("GET", "/api/HttpExample?name=Ann").status == 200
    output = process.wait_for_output("Python Queue trigger processed a message: Ann")
    assert "Executing 'Functions.queue_trigger' (Reason='New queue message detected on 'outqueue'.'" in output


def test_failures_retry_with_growing_dequeue_count_then_poison(backend, host, app_dir):
    app = app_dir(QUEUE_APP)
    process = host(app, env=backend.env(SUFFIX="x"))
    run(_put_all(backend.store(app), "flaky", [b"f"]))
    run(_put_all(backend.store(app), "doomed", [b"original body"]))
    output = process.wait_for_output("flaky done", timeout=20)
    for attempt in (1, 2, 3, 4):
        assert f"flaky attempt {attempt}" in output
    wait_until(lambda: queue_length(backend, app, "doomed-poison") == 1, 20, "doomed never reached the poison queue")
    output = process.wait_for_output(
        "Message has reached MaxDequeueCount of 5. Moving message to queue 'doomed-poison'."
    )
    assert output.count("Exception: ValueError: always fails") == 5
    assert run(_drain(backend.store(app), "doomed-poison")) == [b"original body"]
    # the copy is put on the poison queue first, then the original is deleted
    wait_until(lambda: queue_length(backend, app, "doomed") == 0, 20, "the poisoned message stayed in its queue")


def test_list_output_to_a_queue_named_by_a_setting(backend, host, app_dir):
    app = app_dir(QUEUE_APP)
    host(app, env=backend.env(SUFFIX="out"))
    run(_put_all(backend.store(app), "fanout", [b"m"]))
    wait_until(lambda: queue_length(backend, app, "fanned-out") == 2, 15, "fan-out messages missing")
    assert sorted(run(_drain(backend.store(app), "fanned-out"))) == [b"m-a", b"m-b"]


def test_two_hosts_share_a_store_and_handle_each_message_once(backend, host, app_dir):
    app = app_dir(QUEUE_APP)
    count = 2000 if backend.name == "embedded" else 300  # Azurite takes ~5 ms a message
    bodies = [f"m{i}".encode() for i in range(count)]
    host(app, env=backend.env(SUFFIX="x"))
    host(app, env=backend.env(SUFFIX="x"))
    run(_put_all(backend.store(app), "work", bodies))  # both already poll: both take part
    wait_until(
        lambda: queue_length(backend, app, "done") == count and queue_length(backend, app, "work") == 0,
        90,
        "not all messages were handled",
    )
    done = run(_drain(backend.store(app), "done"))
    handled = Counter(line.split()[0] for line in (d.decode() for d in done))
    assert len(done) == count and set(handled) == {b.decode() for b in bodies}
    assert max(handled.values()) == 1
    pids = Counter(line.split()[1] for line in (d.decode() for d in done))
    assert len(pids) == 2  # both hosts took part


def test_no_message_lost_when_a_host_is_killed(backend, host, app_dir):
    app = app_dir(QUEUE_APP)
    bodies = [f"k{i}".encode() for i in range(1000 if backend.name == "embedded" else 300)]
    run(_put_all(backend.store(app), "work", bodies))
    env = backend.env(SUFFIX="x", FUNCHOST_QUEUE_PROCESSING_VISIBILITY="3")
    victim = host(app, env=env)
    wait_until(lambda: queue_length(backend, app, "done") > 50, 30, "the first host did not start")
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait()
    host(app, env=env)
    wait_until(lambda: queue_length(backend, app, "work") == 0, 90, "messages were left behind")
    done = {d.decode().split()[0] for d in run(_drain(backend.store(app), "done"))}
    assert done == {b.decode() for b in bodies}  # at least once each, nothing lost


DRAIN_APP = {
    "host.json": {
        "version": "2.0",
        "extensions": {"queues": {"maxPollingInterval": "00:00:00.500", "batchSize": 1, "newBatchThreshold": 0}},
    },
    "function_app.py": """
        import logging
        import time
        import azure.functions as func

        app = func.FunctionApp()

        @app.queue_trigger(arg_name="msg", queue_name="slow", connection="AzureWebJobsStorage")
        def slow(msg: str) -> None:
            logging.info("slow started %s", msg)
            time.sleep(2)
            logging.info("slow done %s", msg)
    """,
}


def test_sigterm_lets_the_running_message_finish_and_leaves_the_others_queued(app_dir, host):
    app = app_dir(DRAIN_APP)
    process = host(app, "--no-reload")
    run(_put_all(process_store(app), "slow", [b"first", b"second", b"third"]))
    process.wait_for_output("slow started first", timeout=15)
    process.process.send_signal(signal.SIGTERM)
    assert process.process.wait(timeout=30) == 0
    output = process.output
    assert "slow done first" in output and "Executed 'Functions.slow' (Succeeded" in output
    assert "slow started second" not in output  # nothing new was fetched once the drain began
    assert sorted(run(_drain(process_store(app), "slow"))) == [b"second", b"third"]  # not lost, not hidden


def process_store(app):
    from funchost.storage.embedded.store import EmbeddedStorage

    return EmbeddedStorage(app / ".funchost" / "storage")


ENCODING_APP = {
    "function_app.py": """
        import logging
        import azure.functions as func

        app = func.FunctionApp()

        @app.queue_trigger(arg_name="msg", queue_name="encoded", connection="AzureWebJobsStorage")
        def encoded(msg: func.QueueMessage) -> None:
            logging.info("body <%s>", msg.get_body().decode())
    """,
}


def test_message_encoding_on_azure_storage(azurite, host, app_dir):
    """base64 on the wire by default, as the real host; ``messageEncoding: none`` reads text as it is."""
    import base64

    from azure.core.exceptions import ResourceExistsError
    from azure.storage.queue import QueueClient

    from funchost.storage.azure.storage import EMULATOR_API_VERSION

    def put_raw(queue: str, text: str) -> None:
        client = QueueClient.from_connection_string(azurite.connection_string, queue, api_version=EMULATOR_API_VERSION)
        with contextlib.suppress(ResourceExistsError):
            client.create_queue()
        client.send_message(text)
        client.close()

    default = app_dir(ENCODING_APP)
    process = host(default, env={"AzureWebJobsStorage": azurite.connection_string})
    put_raw("encoded", base64.b64encode(b"from base64").decode())
    process.wait_for_output("body <from base64>", timeout=20)
    process.stop()
    plain = app_dir(
        {
            **ENCODING_APP,
            "host.json": {
                "version": "2.0",
                "extensions": {"queues": {"messageEncoding": "none", "maxPollingInterval": "00:00:00.500"}},
            },
        }
    )
    process = host(plain, env={"AzureWebJobsStorage": azurite.connection_string})
    put_raw("encoded", "aGVsbG8=")  # valid base64, yet with encoding none it is the text itself
    process.wait_for_output("body <aGVsbG8=>", timeout=20)
