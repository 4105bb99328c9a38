"""The one way tests wait: poll for the observable condition, never sleep as synchronisation.

``wait_until`` (sync) and ``eventually`` (async) poll ``condition`` until it returns something
truthy and return that; past ``timeout`` they fail with ``message`` and the last value seen.
Keep every timeout shorter than pytest's (120 s). A check that something did *not* happen
waits with ``stays`` as long as the thing would take.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

POLL = 0.05


def wait_until(condition: Callable[..., Any], timeout: float = 30, message: str = "the condition was not met") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{message} (after {timeout:g} s; last seen: {value!r})")
        time.sleep(POLL)


async def eventually(
    condition: Callable[[], Any], timeout: float = 30, message: str = "the condition was not met", poll: float = POLL
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{message} (after {timeout:g} s; last seen: {value!r})")
        await asyncio.sleep(poll)


def stays(condition: Callable[[], Any], duration: float, message: str) -> None:
    """``condition`` holds for the whole of ``duration`` (what it rules out would happen by then)."""
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        assert condition(), message
        time.sleep(POLL)
