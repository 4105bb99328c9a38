"""HTTP back-pressure as host.json ``extensions.http`` asks for it.

``maxOutstandingRequests`` bounds the requests an instance holds (running and waiting),
``maxConcurrentRequests`` the ones running at once; both -1 (unbounded) by default, as in
the real host. Beyond the outstanding limit a request is answered 429 at once. With
``dynamicThrottlesEnabled`` every request is answered 429 while the load monitor
(``host/health.py``) finds the instance overloaded. ``/admin`` is never throttled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from funchost.config import HostConfig, parse_bool

logger = logging.getLogger("funchost.http")


class RequestThrottle:
    def __init__(self, max_concurrent: int = -1, max_outstanding: int = -1, dynamic: bool = False) -> None:
        self.max_outstanding = max_outstanding if max_outstanding > 0 else None
        self._slots = asyncio.Semaphore(max_concurrent) if max_concurrent > 0 else None
        self.dynamic = dynamic
        self.overloaded = False  # set by the load monitor when ``dynamic``
        self.outstanding = 0
        self.rejected = 0

    @property
    def active(self) -> bool:
        return self.max_outstanding is not None or self._slots is not None or self.dynamic

    async def run(self, call: Callable[[], Awaitable[Any]], reject: Callable[[], Awaitable[None]]) -> None:
        """Run ``call`` within the limits, or ``reject`` it (a 429) when they are reached."""
        if self.dynamic and self.overloaded:
            self.rejected += 1
            await reject()
            return
        if self.max_outstanding is not None and self.outstanding >= self.max_outstanding:
            self.rejected += 1
            logger.warning("Http request queue limit of %d has been exceeded.", self.max_outstanding)
            await reject()
            return
        self.outstanding += 1
        try:
            if self._slots is None:
                await call()
            else:
                async with self._slots:
                    await call()
        finally:
            self.outstanding -= 1


def throttle_from(config: HostConfig) -> RequestThrottle | None:
    """The throttle host.json asks for, or None when every limit is off (the default)."""

    def number(key: str) -> int:
        value = config.get(f"extensions.http.{key}", -1)
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValueError(f"extensions.http.{key} must be a whole number, not {value!r}") from None

    throttle = RequestThrottle(
        number("maxConcurrentRequests"),
        number("maxOutstandingRequests"),
        parse_bool(config.get("extensions.http.dynamicThrottlesEnabled"), name="dynamicThrottlesEnabled"),
    )
    return throttle if throttle.active else None
