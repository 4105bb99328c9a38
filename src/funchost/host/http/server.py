"""The HTTP server seam: a bound socket in, an ASGI app served on it.

Reaches into internals: granian's ``_granian.SocketHolder`` and its embedded server's
``_init_shared_socket`` (pinned in the ``granian`` extra; the limit and drain tests in
``tests/triggers/http`` run on granian and fail when they move).

uvicorn with uvloop and httptools by default; granian (``FUNCHOST_HTTP_SERVER=granian``, the
``funchost[granian]`` extra) parses and writes HTTP in Rust threads, off the GIL. Both take
the supervisor's listening socket, enforce Kestrel's request limits, leave SIGTERM/SIGINT to
the host and drain in-flight requests within the drain timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

BACKLOG = 2048  # the listening socket's (host/sockets.py)


def create_server(kind: str, app: Any, sock: socket.socket, *, drain_timeout: float = 30.0,
                  request_timeout: float = 30.0) -> HttpServer:
    """The server named by ``FUNCHOST_HTTP_SERVER`` for ``app`` on ``sock``; ImportError when it is not installed."""
    if kind == "granian":
        return GranianServer(app, sock, drain_timeout=drain_timeout, request_timeout=request_timeout)
    return UvicornServer(app, sock, drain_timeout=drain_timeout, request_timeout=request_timeout)


def install_fast_loop() -> None:
    """Use uvloop when it is installed (it is a dependency on CPython/Linux/macOS)."""
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


class HttpServer:
    """What both servers share: SIGTERM/SIGINT belong to the host, and the first stop is timed.

    Ctrl-C reaches the supervisor and the instances at once, and the supervisor then sends
    SIGTERM: only a second Ctrl-C means "stop waiting for open connections".
    """

    def __init__(self) -> None:
        self.on_started: Callable[[], None] | None = None
        self.stop_requested: float | None = None  # time.monotonic() of the first stop request
        self._interrupted = False

    async def serve(self) -> None:
        raise NotImplementedError

    def stop(self, signum: int | None = None) -> None:
        raise NotImplementedError

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


class UvicornServer(HttpServer):
    """uvicorn on an already-bound socket, with the settings that make it fast.

    The host owns SIGTERM/SIGINT (uvicorn would re-raise them when it stops, killing the
    process before the listeners drain): a signal asks the server to stop, and ``serve``
    returns so the host can finish in-flight work and exit 0.
    """

    def __init__(self, app: Any, sock: socket.socket, *, keep_alive: int = 5, drain_timeout: float = 30.0,
                 request_timeout: float = 30.0) -> None:
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


class GranianServer(HttpServer):
    """granian's embedded server on the already-bound socket, with Kestrel's limits in front of the app.

    granian answers malformed requests (400), more than 100 headers (431) and request lines
    over 64 KB (414) itself; ``host/http/limits.py`` adds the 8 KB / 32 KB limits and the body
    timeouts. Its header timeout closes the connection without a 408.
    """

    def __init__(self, app: Any, sock: socket.socket, *, drain_timeout: float = 30.0,
                 request_timeout: float = 30.0) -> None:
        import logging

        super().__init__()
        # granian's embedding API: its socket holder is how a worker is given a listening fd
        from granian._granian import SocketHolder
        from granian.constants import HTTPModes, Interfaces
        from granian.http import HTTP1Settings
        from granian.server.embed import Server

        from funchost.host.http.limits import limit_requests

        logging.getLogger("granian").setLevel(logging.ERROR)  # its start-up lines are not the host's
        outer = self

        class Embedded(Server):  # type: ignore[misc]
            def _init_shared_socket(self) -> None:
                self._ssp = None
                # (fd, uds, backlog); granian closes the fd it is given, so it gets its own
                self._shd = SocketHolder(os.dup(sock.fileno()), False, BACKLOG)  # type: ignore[call-arg]

            def startup(self, spawn_target: Any, target_loader: Any) -> None:
                super().startup(spawn_target, target_loader)
                if outer.on_started is not None:
                    asyncio.get_running_loop().call_soon(outer.on_started)

        address, port = sock.getsockname()[:2]
        self.server = Embedded(
            limit_requests(app, request_timeout), address=address, port=port,
            interface=Interfaces.ASGI, http=HTTPModes.http1, websockets=False,
            backlog=BACKLOG, backpressure=BACKLOG,  # funchost's own throttles answer 429 past their limits
            http1_settings=HTTP1Settings(header_read_timeout=int(request_timeout * 1000)),
            log_enabled=False, log_access=False,
        )
        self.drain_timeout = drain_timeout
        self._deadline: asyncio.TimerHandle | None = None

    async def serve(self) -> None:
        self._take_signals()
        try:
            await self.server.serve()
        finally:
            if self._deadline is not None:
                self._deadline.cancel()

    def stop(self, signum: int | None = None) -> None:
        if self._note_stop(signum):
            self._force()
        if self._deadline is None and self.drain_timeout:
            self._deadline = asyncio.get_running_loop().call_later(self.drain_timeout, self._force)
        self.server.stop()

    def _force(self) -> None:
        """Stop waiting for open requests: what is still running is cancelled."""
        for worker in list(self.server.wrks):
            worker.kill()
