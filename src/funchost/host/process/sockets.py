"""The listening socket, bound before anything heavy is imported (the supervisor owns it)."""

from __future__ import annotations

import errno
import socket


class PortInUseError(OSError):
    """The port is taken; the message is Core Tools' sentence."""


def bind_socket(address: str, port: int) -> socket.socket:
    """Bind and listen, so a busy port is one clear error before anything else starts."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((address, port))
    except OSError as error:
        sock.close()
        if error.errno in (errno.EADDRINUSE, errno.EACCES):
            raise PortInUseError(
                error.errno,
                f"Port {port} is unavailable. Close the process using that port, or specify "
                "another port using --port [-p].",
            ) from None
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock
