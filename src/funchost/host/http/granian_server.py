"""granian's embedded server on the supervisor's socket (``FUNCHOST_HTTP_SERVER=granian``).

Reaches into internals: ``granian._granian.SocketHolder``, the embedded server's
``_init_shared_socket`` and its worker list (``wrks``), pinned in the ``granian`` extra to the
minor version tested; the limit and drain tests in ``tests/triggers/http`` and
``tests/host`` run on granian and fail when they move.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

from funchost.host.http.server import BACKLOG, HttpServer


class GranianServer(HttpServer):
    """granian's embedded server on the already-bound socket, with Kestrel's limits in front of the app.

    granian answers malformed requests (400), more than 100 headers (431) and request lines
    over 64 KB (414) itself; ``host/http/limits.py`` adds the 8 KB / 32 KB limits and the body
    timeouts. Its header timeout closes the connection without a 408.
    """

    def __init__(
        self, app: Any, sock: socket.socket, *, drain_timeout: float = 30.0, request_timeout: float = 30.0
    ) -> None:
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
            limit_requests(app, request_timeout),
            address=address,
            port=port,
            interface=Interfaces.ASGI,
            http=HTTPModes.http1,
            websockets=False,
            backlog=BACKLOG,
            backpressure=BACKLOG,  # funchost's own throttles answer 429 past their limits
            http1_settings=HTTP1Settings(header_read_timeout=int(request_timeout * 1000)),
            log_enabled=False,
            log_access=False,
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
