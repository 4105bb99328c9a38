"""The HTTP server seam: a bound socket in, an ASGI app served on it.

uvicorn with uvloop and httptools today; another server (granian) would plug in here.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any


def install_fast_loop() -> None:
    """Use uvloop when it is installed (it is a dependency on CPython/Linux/macOS)."""
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


class UvicornServer:
    """uvicorn on an already-bound socket, with the settings that make it fast.

    The host owns SIGTERM/SIGINT (uvicorn would re-raise them when it stops, killing the
    process before the listeners drain): a signal asks the server to stop, and ``serve``
    returns so the host can finish in-flight work and exit 0.
    """

    def __init__(self, app: Any, sock: socket.socket, *, keep_alive: int = 5, drain_timeout: float = 30.0,
                 request_timeout: float = 30.0) -> None:
        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield

        http: Any
        try:
            from funchost.host.protocol import guarded_protocol

            http = guarded_protocol(request_timeout)
        except ImportError:  # no httptools: h11 bounds header size itself (below)
            http = "h11"
        self.sock = sock
        self.config = uvicorn.Config(
            app,
            http=http,
            loop="none",
            lifespan="on",
            log_config=None,
            log_level="warning",
            access_log=False,
            timeout_keep_alive=keep_alive,
            server_header=False,
            timeout_graceful_shutdown=int(drain_timeout) if drain_timeout else None,
            proxy_headers=False,
            h11_max_incomplete_event_size=16 * 1024,
        )
        self.server = Server(self.config)
        self.on_started: Callable[[], None] | None = None
        self._interrupted = False
        self.stop_requested: float | None = None  # time.monotonic() of the first stop request

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, self.stop, signum)
        watcher = asyncio.create_task(self._announce_start())
        try:
            await self.server.serve(sockets=[self.sock])
        finally:
            watcher.cancel()

    async def _announce_start(self) -> None:
        while not self.server.started:
            await asyncio.sleep(0.005)
        if self.on_started is not None:
            self.on_started()

    def stop(self, signum: int | None = None) -> None:
        # Ctrl-C reaches the supervisor and the instances at once, and the supervisor then sends
        # SIGTERM: only a second Ctrl-C means "stop waiting for open connections"
        if signum == signal.SIGINT and self._interrupted:
            self.server.force_exit = True
        self._interrupted = self._interrupted or signum == signal.SIGINT
        if self.stop_requested is None:
            self.stop_requested = time.monotonic()
        self.server.should_exit = True
