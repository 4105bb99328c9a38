"""The pool that runs sync functions: results, errors, context, bounds, cancellation, shutdown."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest

from funchost.invoke.threads import FunctionThreads

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


def test_results_errors_and_the_callers_context():
    pool = FunctionThreads(3)

    def work(n: int) -> tuple[int, str, str]:
        time.sleep(0.01)
        return n * 2, request_id.get(), threading.current_thread().name

    def fail() -> None:
        raise ValueError("from the thread")

    async def main():
        async def one(n: int):
            request_id.set(f"r{n}")
            return await pool.run(contextvars.copy_context().run, work, n)

        results = await asyncio.gather(*(one(n) for n in range(30)))
        with pytest.raises(ValueError, match="from the thread"):
            await pool.run(fail)
        return results

    results = asyncio.run(main())
    assert [r[0] for r in results] == [n * 2 for n in range(30)]
    assert [r[1] for r in results] == [f"r{n}" for n in range(30)]
    names = {r[2] for r in results}
    assert 1 <= len(names) <= 3 and all(name.startswith("funchost-worker_") for name in names)
    pool.shutdown(wait=True)
    assert not any(
        t.name.startswith("funchost-worker_") and t.is_alive() for t in threading.enumerate() if t.name in names
    )


def test_a_cancelled_call_is_skipped_or_its_result_dropped():
    pool = FunctionThreads(1)
    ran: list[str] = []
    release = threading.Event()

    def blocker() -> str:
        release.wait(5)
        ran.append("blocker")
        return "late"

    def queued() -> None:
        ran.append("queued")

    async def main():
        first = pool.run(blocker)
        second = pool.run(queued)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(first, 0.05)  # cancels it, as functionTimeout does
        second.cancel()
        release.set()
        await asyncio.sleep(0.2)
        return first.cancelled(), second.cancelled()

    assert asyncio.run(main()) == (True, True)
    assert ran == ["blocker"]  # the running one finishes in its thread; the queued one never starts
    pool.shutdown(wait=True)


def test_submit_and_shutdown_cancel_what_waits():
    pool = FunctionThreads(1)
    gate = threading.Event()
    running = pool.submit(gate.wait, 5)
    waiting = pool.submit(lambda: "never")
    pool.shutdown(wait=False, cancel_futures=True)
    gate.set()
    assert running.result(5) is True
    assert waiting.cancelled()
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(print)
