"""Background loops survive a store that fails once: a real embedded store, one fault injected.

Each test makes one call of the real store raise (an unexpected exception, or the sqlite3
error a locked or broken database gives) and then watches the loop do its job anyway.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from funchost.app import load_app
from funchost.config import AppSettings, HostConfig
from funchost.invoke import Invoker
from funchost.storage.auto import StorageResolver
from funchost.storage.embedded.store import EmbeddedStorage
from funchost.storage.roles import QueueMessage, StorageError
from funchost.triggers.base import ListenerContext
from funchost.triggers.common.background import keep_running
from funchost.triggers.common.lease import Lease
from funchost.triggers.families import CATALOG
from funchost.triggers.queue import QueueConsumer, QueueOptions
from tests.conftest import write_app
from tests.waiting import eventually


def fail_once(target: Any, method: str, error: BaseException) -> list[float]:
    """Make ``target.method`` raise ``error`` on its first call; returns the times of every call."""
    original = getattr(target, method)
    calls: list[float] = []

    async def replacement(*args: Any, **kwargs: Any) -> Any:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise error
        return await original(*args, **kwargs)

    setattr(target, method, replacement)
    return calls


def sqlite_failure_once(store: EmbeddedStorage) -> list[bool]:
    """The next transaction of the real store fails inside SQLite, as a locked database does;
    the list returned holds True once that happened."""
    original = store._transaction
    failed: list[bool] = []

    def transaction(work: Callable[[sqlite3.Connection], Any]) -> Any:
        if not failed:
            failed.append(True)
            raise sqlite3.OperationalError("database is locked")
        return original(work)

    store._transaction = transaction  # type: ignore[method-assign]
    return failed


@pytest.fixture
async def store(tmp_path: Path):
    provider = EmbeddedStorage(tmp_path / "store")
    await provider.open()
    yield provider
    await provider.close()


async def test_the_embedded_store_reports_sqlite_errors_as_storage_errors(store):
    sqlite_failure_once(store)
    with pytest.raises(StorageError, match="database is locked"):
        await store.put("q", b"x")
    assert (await store.put("q", b"y")).body == b"y"


@pytest.mark.parametrize("error", [RuntimeError("unexpected"), sqlite3.OperationalError("database is locked")])
async def test_the_queue_poll_survives_a_failing_store(store, caplog, error):
    handled: list[bytes] = []

    async def handle(message: QueueMessage) -> bool:
        handled.append(message.body)
        return True

    async def poison(message: QueueMessage) -> None:
        raise AssertionError("nothing is poisoned here")

    consumer = QueueConsumer("jobs", store, QueueOptions(max_polling_interval=0.2), handle, poison, "a test")
    if isinstance(error, sqlite3.Error):
        await consumer.start()
        failed = sqlite_failure_once(store)
        await eventually(lambda: bool(failed))  # a poll took the failure
    else:
        fail_once(store, "get_batch", error)
        await consumer.start()
    await store.put("jobs", b"one")
    await eventually(lambda: handled == [b"one"])
    await consumer.stop(1)
    assert await store.length("jobs") == 0
    assert any("queue 'jobs'" in record.getMessage() and "failed" in record.getMessage() for record in caplog.records)


async def test_the_visibility_renewal_survives_a_failing_store(store, caplog):
    release = asyncio.Event()

    async def handle(message: QueueMessage) -> bool:
        await release.wait()
        return True

    async def poison(message: QueueMessage) -> None:
        raise AssertionError("nothing is poisoned here")

    options = QueueOptions(max_polling_interval=0.2, processing_visibility=2.0)
    consumer = QueueConsumer("slow", store, options, handle, poison, "a test")
    renewals = fail_once(store, "update_visibility", RuntimeError("renewal broke"))
    await consumer.start()
    await store.put("slow", b"long job")
    await eventually(lambda: len(renewals) >= 3)  # the failed renewal, then renewals again
    assert await store.get_batch("slow", 1, 1.0) == []  # still hidden from other consumers
    release.set()
    await consumer.stop(5)
    assert await store.length("slow") == 0
    assert any("renewal of a message of queue 'slow' failed" in record.getMessage() for record in caplog.records)
    assert not any("taken by another consumer" in record.getMessage() for record in caplog.records)


async def test_a_lease_loop_survives_a_failing_store_and_reports_an_outage_as_one(store, caplog):
    caplog.set_level(logging.INFO)
    lease = Lease(store, "locks/test/thing", "me", 0.6, "the test thing")
    fail_once(store, "acquire_lease", StorageError("store unreachable"))
    renewals = fail_once(store, "renew_lease", RuntimeError("renew broke"))
    held_times: list[float] = []
    stopping = asyncio.Event()

    async def work(lost: asyncio.Event) -> None:
        held_times.append(time.monotonic())
        await lost.wait()

    task = asyncio.create_task(lease.run_while_held(work, stopping))
    await eventually(lambda: len(held_times) >= 2 and len(renewals) >= 2)  # held, lost to the failure, held again
    stopping.set()
    await task
    messages = [record.getMessage() for record in caplog.records]
    assert sum("cannot be reached" in m for m in messages) == 1
    assert any("answers again" in m for m in messages)
    assert any("Renewing the lease of the test thing failed (RuntimeError: renew broke)" in m for m in messages)
    assert await store.acquire_lease("locks/test/thing", "someone else", 1.0)  # released at stop


def timer_app(tmp_path: Path) -> Any:
    root = write_app(
        tmp_path / "app",
        {
            "function_app.py": """
        import azure.functions as func

        app = func.FunctionApp()
        ticks = []

        @app.timer_trigger(schedule="* * * * * *", arg_name="timer", use_monitor=False)
        def every_second(timer: func.TimerRequest) -> None:
            ticks.append(timer.past_due)

        @app.blob_trigger(arg_name="blob", path="inbox/{name}", connection="AzureWebJobsStorage")
        def on_blob(blob: func.InputStream) -> None:
            ticks.append(blob.name)
    """
        },
    )
    index = load_app(root, AppSettings({}), HostConfig(), CATALOG)
    assert index.errors == []
    import sys

    return index, sys.modules["function_app"].ticks


async def test_the_timer_survives_a_failing_store(tmp_path, store, caplog):
    from funchost.triggers.schedule import parse_schedule
    from funchost.triggers.timer import TimerListener

    index, ticks = timer_app(tmp_path)
    spec = index.functions["every_second"]
    with ThreadPoolExecutor(2) as executor:
        context = ListenerContext(
            Invoker(executor), StorageResolver(tmp_path, AppSettings({})), AppSettings({}), HostConfig(), "testhost"
        )
        listener = TimerListener(spec, parse_schedule("* * * * * *", AppSettings({})), store, context, 0.9)
        fail_once(store, "acquire_lease", RuntimeError("lease table broke"))
        await listener.start()
        await eventually(lambda: len(ticks) >= 1)
        await listener.stop(2)
    assert any("lease loop failed (RuntimeError: lease table broke)" in r.getMessage() for r in caplog.records)


async def test_the_blob_scan_survives_a_failing_store(tmp_path, store, caplog):
    from funchost.triggers.blob import BlobTriggerListener

    index, ticks = timer_app(tmp_path)
    spec = index.functions["on_blob"]
    resolver = StorageResolver(tmp_path, AppSettings({}))
    resolver._providers[("embedded store", "")] = store  # the test's store, failures and all
    with ThreadPoolExecutor(2) as executor:
        context = ListenerContext(Invoker(executor), resolver, AppSettings({}), HostConfig(), "testhost")
        listener = BlobTriggerListener([spec], context, QueueOptions(max_polling_interval=0.2))
        fail_once(store, "list_blobs", RuntimeError("listing broke"))
        await store.put_blob("inbox", "a.txt", b"hello")
        await listener.start()
        await eventually(lambda: "inbox/a.txt" in ticks, timeout=15)
        await listener.stop(2)
    assert any("RuntimeError: listing broke" in r.getMessage() for r in caplog.records)


async def test_keep_running_restarts_with_back_off_and_stops_when_asked(caplog):
    runs: list[float] = []
    stopping = asyncio.Event()

    async def body() -> None:
        runs.append(time.monotonic())
        if len(runs) < 3:
            raise ValueError(f"failure {len(runs)}")
        await stopping.wait()

    task = asyncio.create_task(keep_running("the test loop", body, stopping, first_backoff=0.05))
    await eventually(lambda: len(runs) == 3)
    assert runs[2] - runs[1] >= runs[1] - runs[0] > 0.04  # the back-off doubles
    stopping.set()
    await asyncio.wait_for(task, 2)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage().split(";")[0] for r in errors] == [
        "The test loop failed (ValueError: failure 1)",
        "The test loop failed (ValueError: failure 2)",
    ]
    assert errors[0].exc_info is not None and errors[1].exc_info is None


async def test_stopping_a_consumer_whose_poll_is_parked_in_the_store_returns_in_time(store):
    never = asyncio.Event()

    polled = asyncio.Event()

    async def parked(queue: str, count: int, visibility_timeout: float) -> list[QueueMessage]:
        polled.set()
        await never.wait()  # a store that accepted the call and never answers
        return []

    async def handle(message: QueueMessage) -> bool:
        return True

    async def poison(message: QueueMessage) -> None:
        raise AssertionError("nothing is poisoned here")

    store.get_batch = parked  # type: ignore[method-assign]
    consumer = QueueConsumer("parked", store, QueueOptions(), handle, poison, "a test")
    await consumer.start()
    await asyncio.wait_for(polled.wait(), timeout=5)  # the poll is parked in the store
    # without the bound, stop() would wait for the parked poll forever: wait_for would raise
    await asyncio.wait_for(consumer.stop(1), timeout=5)


async def test_the_health_monitor_survives_a_failing_report(caplog):
    from funchost.host.health import HealthPolicy, LoadMonitor

    reports: list[dict[str, Any]] = []

    def report(sample: dict[str, Any]) -> None:
        reports.append(sample)
        if len(reports) == 2:  # the first sample after start: the supervisor's pipe broke once
            raise OSError("the pipe broke")

    with ThreadPoolExecutor(1) as executor:
        monitor = LoadMonitor(Invoker(executor), 4, None, HealthPolicy(interval=0.1), report, lambda reason: None)
        task = asyncio.create_task(keep_running("the health monitor", monitor.run, first_backoff=0.05))
        await eventually(lambda: len(reports) >= 5)  # it went on sampling after the failure
        task.cancel()
    assert any("The health monitor failed (OSError: the pipe broke)" in r.getMessage() for r in caplog.records)
