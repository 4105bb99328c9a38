"""The blob scan: one listing per pass, and a version is never marked queued before its work item exists."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from funchost.config import AppSettings, HostConfig
from funchost.invoke import Invoker
from funchost.storage.auto import StorageResolver
from funchost.storage.embedded.store import EmbeddedStorage
from funchost.triggers.base import ListenerContext
from funchost.triggers.blob import BlobTriggerListener
from funchost.triggers.queue import QueueOptions
from tests.triggers.common.test_background import fail_once, timer_app


async def scanner(tmp_path, executor):
    store = EmbeddedStorage(tmp_path / "store")
    await store.open()
    index, _ = timer_app(tmp_path)
    resolver = StorageResolver(tmp_path, AppSettings({}))
    resolver._providers[("embedded store", "")] = store  # the test's store, failures and all
    context = ListenerContext(Invoker(executor), resolver, AppSettings({}), HostConfig(), "testhost")
    return store, BlobTriggerListener([index.functions["on_blob"]], context, QueueOptions())


async def test_a_scan_reads_receipts_in_one_listing_not_per_blob(tmp_path):
    with ThreadPoolExecutor(2) as executor:
        store, listener = await scanner(tmp_path, executor)
        for number in range(40):
            await store.put_blob("inbox", f"{number}.txt", b"x")
        reads: list[str] = []
        read_state = store.get_state

        async def counted(key: str) -> str | None:
            reads.append(key)
            return await read_state(key)

        store.get_state = counted  # type: ignore[method-assign]
        assert await listener.scan_once() == 40
        assert await listener.scan_once() == 0  # queued, not done: nothing new
        assert reads == []
        assert await store.length(listener.work_queue) == 40
        await store.close()


async def test_a_crash_between_work_item_and_mark_queues_the_version_again(tmp_path):
    with ThreadPoolExecutor(2) as executor:
        store, listener = await scanner(tmp_path, executor)
        await store.put_blob("inbox", "a.txt", b"x")
        fail_once(store, "set_state", RuntimeError("the process died here"))
        with pytest.raises(RuntimeError):
            await listener.scan_once()
        assert await store.length(listener.work_queue) == 1  # the work item exists
        assert await listener.scan_once() == 1  # not marked: queued again, never lost
        assert await listener.scan_once() == 0
        await store.close()
