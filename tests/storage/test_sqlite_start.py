"""Instances started together open one new embedded store: none may lose the race for its schema."""

from __future__ import annotations

import asyncio
import multiprocessing
from pathlib import Path

from funchost.storage.embedded.store import EmbeddedStorage


def _open_and_put(folder: str, barrier) -> None:
    async def run() -> None:
        store = EmbeddedStorage(Path(folder))
        barrier.wait()
        await store.open()
        await store.put("work", b"x")
        await store.close()

    asyncio.run(run())


def test_processes_opening_a_new_store_at_once_all_succeed(tmp_path):
    context = multiprocessing.get_context("forkserver")  # fork in a threaded pytest may deadlock
    for trial in range(10):
        folder = tmp_path / f"store{trial}"
        barrier = context.Barrier(4)
        processes = [context.Process(target=_open_and_put, args=(str(folder), barrier)) for _ in range(4)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=60)
        assert [process.exitcode for process in processes] == [0, 0, 0, 0]

    async def count() -> int:
        store = EmbeddedStorage(tmp_path / "store9")
        await store.open()
        try:
            return len(await store.peek("work", 32))
        finally:
            await store.close()

    assert asyncio.run(count()) == 4
