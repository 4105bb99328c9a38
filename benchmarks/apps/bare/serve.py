"""The bare ASGI app on funchost's own server seam: same uvicorn settings, no functions layer."""

import asyncio
import sys

from raw_app import app

from funchost.host.http.server import install_fast_loop
from funchost.host.http.uvicorn_server import UvicornServer
from funchost.host.process.sockets import bind_socket


def main() -> None:
    port = int(sys.argv[1])
    sock = bind_socket("127.0.0.1", port)
    install_fast_loop()
    asyncio.run(UvicornServer(app, sock).serve())


if __name__ == "__main__":
    main()
