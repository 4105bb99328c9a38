"""Kestrel's request limits (what the real host runs on), for a server that leaves them to the app.

uvicorn's protocol enforces them as bytes arrive (``host/http/protocol.py``). granian parses in
Rust and hands over whole request heads, so for it they are checked here, in front of the
app, with the same numbers and status codes:

- a request line over 8 KB gets 414 and headers over 32 KB in total get 431 (granian itself
  answers 431 to more than 100 headers, Kestrel's ``MaxRequestHeaderCount``);
- a body that stalls for the request timeout while the function waits for it gets 408;
- a body that trickles in below 240 bytes/s, measured after a 5 s grace period and only
  while the function waits for it, gets 408 (Kestrel's ``MinRequestBodyDataRate``).

Each answer closes the connection. A request without a body costs a length check and a sum
over its headers; only a request with a body has its ``receive`` watched.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

MAX_REQUEST_LINE = 8 * 1024
MAX_HEADER_BYTES = 32 * 1024
MAX_HEADER_COUNT = 100
MIN_BODY_RATE = 240.0  # bytes per second
BODY_RATE_GRACE = 5.0  # seconds before the rate counts
DEFAULT_REQUEST_TIMEOUT = 30.0

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

_DISCONNECT: Message = {"type": "http.disconnect"}


def rejection(status: int) -> tuple[Message, Message]:
    """The two ASGI messages of an empty answer that closes the connection."""
    return (
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-length", b"0"), (b"connection", b"close")],
        },
        {"type": "http.response.body", "body": b""},
    )


def head_too_large(scope: Scope) -> int | None:
    """414 or 431 when the request line or the headers are over Kestrel's limits, else None."""
    query = scope["query_string"]
    if len(scope.get("raw_path") or b"") + (len(query) + 1 if query else 0) > MAX_REQUEST_LINE:
        return 414
    if sum(len(name) + len(value) + 4 for name, value in scope["headers"]) > MAX_HEADER_BYTES:
        return 431
    return None


def has_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if (name == b"content-length" and value.strip() not in (b"0", b"")) or name == b"transfer-encoding":
            return True
    return False


def limit_requests(app: App, timeout: float = DEFAULT_REQUEST_TIMEOUT) -> App:
    """``app`` behind the head limits, and the body limits for requests that have a body."""
    watch = BodyWatch(timeout)

    async def limited(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        status = head_too_large(scope)
        if status is not None:
            for message in rejection(status):
                await send(message)
            return
        if not has_body(scope):
            await app(scope, receive, send)
            return
        guard = watch.guard(receive, send)
        try:
            await app(scope, guard.receive, guard.send)
        finally:
            watch.guards.discard(guard)

    return limited


class BodyWatch:
    """One tick a second over every request body in progress (started with the first)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.guards: set[BodyGuard] = set()
        self._tick: asyncio.TimerHandle | None = None

    def guard(self, receive: Receive, send: Send) -> BodyGuard:
        loop = asyncio.get_running_loop()
        guard = BodyGuard(receive, send, self.timeout, loop)
        self.guards.add(guard)
        if self._tick is None:
            self._tick = loop.call_later(1.0, self._check, loop)
        return guard

    def _check(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for guard in list(self.guards):
            guard.check(now)
        self._tick = loop.call_later(1.0, self._check, loop) if self.guards else None


class BodyGuard:
    """Times one request body while the app waits for it, and answers 408 for the client.

    The watch's tick looks at a ``receive`` still waiting; when the client is too slow it
    cancels the waiting task, and ``receive`` turns that cancellation into the 408 and an
    ``http.disconnect`` for the app. A body that is there at once costs two clock reads.
    """

    def __init__(self, receive: Receive, send: Send, timeout: float, loop: asyncio.AbstractEventLoop) -> None:
        self._receive = receive
        self._send = send
        self.timeout = timeout
        self.rejected = False
        self.response_started = False
        self._loop = loop
        self._bytes = 0
        self._waited = 0.0  # seconds the app spent waiting for this body, up to the last chunk
        self._since: float | None = None  # when the pending receive began waiting
        self._waiter: asyncio.Task[Any] | None = None
        self._cutting = False  # the waiter is being cancelled by the tick

    async def receive(self) -> Message:
        if self.rejected:
            return _DISCONNECT
        self._waiter = asyncio.current_task()
        self._since = began = self._loop.time()
        try:
            message = await self._receive()
        except asyncio.CancelledError:
            if not self._cutting:
                raise
            self._cutting = False
            uncancel = getattr(self._waiter, "uncancel", None)  # Python 3.11+: the task is not ending
            if uncancel is not None:
                uncancel()
            await self._reject()
            return _DISCONNECT
        finally:
            self._since = self._waiter = None
        self._waited += self._loop.time() - began
        self._bytes += len(message.get("body", b""))
        if message.get("more_body") and self._too_slow(self._waited):
            await self._reject()
            return _DISCONNECT
        return message

    async def send(self, message: Message) -> None:
        if self.rejected:
            return
        if message["type"] == "http.response.start":
            self.response_started = True
        await self._send(message)

    def check(self, now: float) -> None:
        """Cut off a client whose pending body stalled or trickles below the minimum rate."""
        since = self._since
        if since is None or self._waiter is None or self.rejected or self._cutting:
            return
        if now - since >= self.timeout or self._too_slow(self._waited + now - since):
            self._cutting = True
            self._waiter.cancel()

    def _too_slow(self, waited: float) -> bool:
        return waited > BODY_RATE_GRACE and self._bytes / waited < MIN_BODY_RATE

    async def _reject(self) -> None:
        self.rejected = True
        if self.response_started:
            # too late for a status: ending the exchange with an error makes the server drop the connection
            raise ConnectionAbortedError("the request body stalled after the response started")
        for message in rejection(408):
            await self._send(message)
