"""uvicorn on the supervisor's socket: uvloop and httptools, Kestrel's limits in its protocol.

Reaches into internals: it overrides ``uvicorn.Server.capture_signals`` (the host owns SIGTERM
and SIGINT) and reads ``Server.started``/``should_exit``/``force_exit``; with
``host/http/protocol.py`` it is why uvicorn is bounded below 1.0, and the drain and limit tests
fail when these move.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Any

from funchost.host.http.server import HttpServer


class UvicornServer(HttpServer):
    """uvicorn on an already-bound socket, with the settings that make it fast.

    The host owns SIGTERM/SIGINT (uvicorn would re-raise them when it stops, killing the
    process before the listeners drain): a signal asks the server to stop, and ``serve``
    returns so the host can finish in-flight work and exit 0.
    """

    def __init__(
        self,
        app: Any,
        sock: socket.socket,
        *,
        keep_alive: int = 5,
        drain_timeout: float = 30.0,
        request_timeout: float = 30.0,
    ) -> None:
        import uvicorn

        super().__init__()

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield

        http: Any
        try:
            from funchost.host.http.protocol import guarded_protocol

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

    async def serve(self) -> None:
        self._take_signals()
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
        if self._note_stop(signum):
            self.server.force_exit = True
        self.server.should_exit = True
