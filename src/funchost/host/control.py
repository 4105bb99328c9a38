"""An instance's line to its supervisor: ``ready``, ``recycle <reason>`` (see supervisor.py)."""

from __future__ import annotations

import contextlib
import os


class Control:
    """Writes to the pipe named by ``FUNCHOST_CONTROL_FD``; does nothing without a supervisor."""

    def __init__(self) -> None:
        raw = os.environ.pop("FUNCHOST_CONTROL_FD", "")
        self.fd = int(raw) if raw.isdigit() else None

    @property
    def supervised(self) -> bool:
        return self.fd is not None

    def send(self, message: str) -> None:
        if self.fd is None:
            return
        # a failed write means the supervisor is gone; the instance is killed with it
        with contextlib.suppress(OSError):
            os.write(self.fd, message.replace("\n", " ").encode("utf-8") + b"\n")
