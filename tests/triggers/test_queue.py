"""Queue trigger and output end to end: real host processes on the embedded store and on Azurite."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter

from funchost.storage.base import StorageProvider

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


def wait_until(condition, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(message)


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
    output = process.output
    assert "Message has reached MaxDequeueCount of 5. Moving message to queue 'doomed-poison'." in output
    assert output.count("Exception: ValueError: always fails") == 5
    assert run(_drain(backend.store(app), "doomed-poison")) == [b"original body"]
    assert queue_length(backend, app, "doomed") == 0


def test_list_output_to_a_queue_named_by_a_setting(backend, host, app_dir):
    app = app_dir(QUEUE_APP)
    host(app, env=backend.env(SUFFIX="out"))
    run(_put_all(backend.store(app), "fanout", [b"m"]))
    wait_until(lambda: queue_length(backend, app, "fanned-out") == 2, 15, "fan-out messages missing")
    assert sorted(run(_drain(backend.store(app), "fanned-out"))) == [b"m-a", b"m-b"]


def test_two_hosts_share_a_store_and_handle_each_message_once(backend, host, app_dir):
    app = app_dir(QUEUE_APP)
    bodies = [f"m{i}".encode() for i in range(2000)]
    run(_put_all(backend.store(app), "work", bodies))
    host(app, env=backend.env(SUFFIX="x"))
    host(app, env=backend.env(SUFFIX="x"))
    wait_until(lambda: queue_length(backend, app, "done") == 2000 and queue_length(backend, app, "work") == 0, 120,
               "not all messages were handled")
    done = run(_drain(backend.store(app), "done"))
    handled = Counter(line.split()[0] for line in (d.decode() for d in done))
    assert len(done) == 2000 and set(handled) == {b.decode() for b in bodies}
    assert max(handled.values()) == 1
    pids = Counter(line.split()[1] for line in (d.decode() for d in done))
    assert len(pids) == 2  # both hosts took part


def test_no_message_lost_when_a_host_is_killed(backend, host, app_dir):
    app = app_dir(QUEUE_APP)
    bodies = [f"k{i}".encode() for i in range(1000)]
    run(_put_all(backend.store(app), "work", bodies))
    env = backend.env(SUFFIX="x", FUNCHOST_QUEUE_PROCESSING_VISIBILITY="3")
    victim = host(app, env=env)
    wait_until(lambda: queue_length(backend, app, "done") > 50, 30, "the first host did not start")
    victim.process.send_signal(signal.SIGKILL)
    victim.process.wait()
    host(app, env=env)
    wait_until(lambda: queue_length(backend, app, "work") == 0, 120, "messages were left behind")
    done = {d.decode().split()[0] for d in run(_drain(backend.store(app), "done"))}
    assert done == {b.decode() for b in bodies}  # at least once each, nothing lost
