"""uvicorn's httptools protocol with the limits a server facing the public needs.

Reaches into internals: it subclasses uvicorn's ``HttpToolsProtocol`` and its parser callbacks
(uvicorn is bounded below 1.0; the 414/431/408 tests fail when they move).

uvicorn with httptools bounds neither the size of a request's headers nor the time a client
may take to send them, so one slow or hostile client could hold memory and a connection
forever. This adds Kestrel's defaults (what the real host runs on):

- a request line over 8 KB gets 414, headers over 32 KB in total get 431, and the
  connection is closed;
- headers not complete within the request timeout (30 s, Kestrel's
  ``RequestHeadersTimeout``) get 408; a new connection that sends nothing is closed then;
- a request body that stalls (no byte for the request timeout while the function waits for
  it) gets 408 and the connection is closed;
- more than 100 request headers get 431 (Kestrel's ``MaxRequestHeaderCount``);
- a request body that trickles in below 240 bytes/s, measured after a 5 s grace period and
  only while the function waits for it, gets 408 (Kestrel's ``MinRequestBodyDataRate``).

``FUNCHOST_HTTP_REQUEST_TIMEOUT`` (seconds, read into the host's settings) changes the timeout. Nothing here runs per
request on the fast path: the timers are armed only while a request is incomplete after a
read.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from funchost.host.http.limits import (
    BODY_RATE_GRACE,
    DEFAULT_REQUEST_TIMEOUT,
    MAX_HEADER_BYTES,
    MAX_HEADER_COUNT,
    MAX_REQUEST_LINE,
    MIN_BODY_RATE,
)

_IDLE, _HEADERS, _BODY = 0, 1, 2
_REASONS = {408: b"Request Timeout", 414: b"URI Too Long", 431: b"Request Header Fields Too Large"}


class RequestRejected(Exception):
    """Stops the parser after a 4xx was sent (httptools reports it as a callback error)."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    timeout = DEFAULT_REQUEST_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._guard: asyncio.TimerHandle | None = None
        self._stage = _IDLE
        self._url_bytes = 0
        self._header_bytes = 0
        self._header_count = 0
        self._rejected = False
        self._rate_guard: asyncio.TimerHandle | None = None
        self._body_bytes = 0
        self._body_waited = 0.0  # seconds the function has been waiting for this body

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._stop_rate_guard()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._rejected:
            return
        super().data_received(data)
        if self._rejected or self.transport.is_closing():
            self._disarm()
        elif self._stage == _BODY:
            self._disarm()  # progress: the body's idle clock starts again
            self._arm()
            if self._rate_guard is None:  # only a body that did not arrive at once is timed
                self._rate_guard = self.loop.call_later(1.0, self._check_body_rate)
        elif self._stage == _HEADERS:
            if self._guard is None:
                self._arm()
        else:
            self._disarm()

    def send_400_response(self, msg: str) -> None:
        if not self._rejected:
            super().send_400_response(msg)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._stage = _HEADERS
        self._url_bytes = self._header_bytes = self._header_count = self._body_bytes = 0
        self._body_waited = 0.0

    def on_url(self, url: bytes) -> None:
        self._url_bytes += len(url)
        if self._url_bytes > MAX_REQUEST_LINE:
            self._reject(414)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4
        self._header_count += 1
        if self._header_bytes > MAX_HEADER_BYTES or self._header_count > MAX_HEADER_COUNT:
            self._reject(431)
        super().on_header(name, value)

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        super().on_body(body)

    def on_headers_complete(self) -> None:
        self._stage = _BODY
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._stage = _IDLE
        self._stop_rate_guard()
        super().on_message_complete()

    def _arm(self) -> None:
        self._guard = self.loop.call_later(self.timeout, self._on_timeout)

    def _disarm(self) -> None:
        if self._guard is not None:
            self._guard.cancel()
            self._guard = None

    def _on_timeout(self) -> None:
        self._guard = None
        if self.transport.is_closing():
            return
        if self._stage == _BODY and self.flow.read_paused:
            self._arm()  # the function has not read the body yet: not the client's fault
            return
        cycle = self.cycle if self._stage == _BODY else None
        if self._stage == _IDLE or (cycle is not None and cycle.response_started):
            self.transport.close()
            return
        self._reject_now(408)

    def _check_body_rate(self) -> None:
        """Every second while a body comes in: cut off a client sending below the minimum rate."""
        self._rate_guard = None
        if self._stage != _BODY or self.transport.is_closing():
            return
        if not self.flow.read_paused:  # time the function spends not reading is not the client's
            self._body_waited += 1.0
        if self._body_waited > BODY_RATE_GRACE and self._body_bytes / self._body_waited < MIN_BODY_RATE:
            cycle = self.cycle
            if cycle is not None and cycle.response_started:
                self.transport.close()
            else:
                self._reject_now(408)
            return
        self._rate_guard = self.loop.call_later(1.0, self._check_body_rate)

    def _stop_rate_guard(self) -> None:
        if self._rate_guard is not None:
            self._rate_guard.cancel()
            self._rate_guard = None

    def _reject(self, status: int) -> None:
        self._reject_now(status)
        raise RequestRejected(status)

    def _reject_now(self, status: int) -> None:
        self._rejected = True
        self._disarm()
        self._stop_rate_guard()
        head = b"HTTP/1.1 %d %s\r\ncontent-length: 0\r\nconnection: close\r\n\r\n" % (status, _REASONS[status])
        self.transport.write(head)
        self.transport.close()


def guarded_protocol(timeout: float = DEFAULT_REQUEST_TIMEOUT) -> type[GuardedHttpToolsProtocol]:
    """The protocol class with the configured timeout (uvicorn instantiates it per connection)."""
    return type("GuardedHttpTools", (GuardedHttpToolsProtocol,), {"timeout": timeout})
