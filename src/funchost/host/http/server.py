"""The HTTP server seam: a bound socket in, an ASGI app served on it; one adapter module per
server (``uvicorn_server.py``, ``granian_server.py``), imported when chosen.

uvicorn with uvloop and httptools by default; granian (``FUNCHOST_HTTP_SERVER=granian``, the
``funchost[granian]`` extra) parses and writes HTTP in Rust threads, off the GIL. Both take
the supervisor's listening socket, enforce Kestrel's request limits, leave SIGTERM/SIGINT to
the host and drain in-flight requests within the drain timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

BACKLOG = 2048  # the listening socket's (host/process/sockets.py)


def create_server(
    kind: str, app: Any, sock: socket.socket, *, drain_timeout: float = 30.0, request_timeout: float = 30.0
) -> HttpServer:
    """The server named by ``FUNCHOST_HTTP_SERVER`` for ``app`` on ``sock``; ImportError when it is not installed."""
    if kind == "granian":
        from funchost.host.http.granian_server import GranianServer

        return GranianServer(app, sock, drain_timeout=drain_timeout, request_timeout=request_timeout)
    from funchost.host.http.uvicorn_server import UvicornServer

    return UvicornServer(app, sock, drain_timeout=drain_timeout, request_timeout=request_timeout)


def install_fast_loop() -> None:
    """Use uvloop when it is installed (it is a dependency on CPython/Linux/macOS)."""
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


class HttpServer(ABC):
    """What both servers share: SIGTERM/SIGINT belong to the host, and the first stop is timed.

    Ctrl-C reaches the supervisor and the instances at once, and the supervisor then sends
    SIGTERM: only a second Ctrl-C means "stop waiting for open connections".
    """

    def __init__(self) -> None:
        self.on_started: Callable[[], None] | None = None
        self.stop_requested: float | None = None  # time.monotonic() of the first stop request
        self._interrupted = False

    @abstractmethod
    async def serve(self) -> None:
        """Serve until stopped."""

    @abstractmethod
    def stop(self, signum: int | None = None) -> None:
        """Stop accepting and drain (``signum``: the signal that asked, if one did)."""

    def _take_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, self.stop, signum)

    def _note_stop(self, signum: int | None) -> bool:
        """Record a stop request; True when it says to stop waiting (a second Ctrl-C)."""
        force = signum == signal.SIGINT and self._interrupted
        self._interrupted = self._interrupted or signum == signal.SIGINT
        if self.stop_requested is None:
            self.stop_requested = time.monotonic()
        return force
