"""An instance's line to its supervisor: ``ready``, ``recycle <reason>`` (see supervisor.py)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys


class Control:
    """Writes to the pipe named by ``FUNCHOST_CONTROL_FD``; does nothing without a supervisor."""

    def __init__(self) -> None:
        raw = os.environ.pop("FUNCHOST_CONTROL_FD", "")
        self.fd = int(raw) if raw.isdigit() else None
        supervisor = os.environ.pop("FUNCHOST_SUPERVISOR_PID", "")
        self.supervisor_pid = int(supervisor) if supervisor.isdigit() else None

    @property
    def supervised(self) -> bool:
        return self.fd is not None

    def send(self, message: str) -> None:
        if self.fd is None:
            return
        # a failed write means the supervisor is gone; the instance is killed with it
        with contextlib.suppress(OSError):
            os.write(self.fd, message.replace("\n", " ").encode("utf-8") + b"\n")

    def die_with_supervisor(self) -> None:
        """Linux: this instance gets SIGKILL when its supervisor dies, so none is left orphaned.

        Set here in the instance rather than through ``Popen(preexec_fn=...)``: the supervisor
        runs the reloader thread, and code between fork and exec in a threaded process can
        deadlock (seen: a spawn that never returned, freezing the supervisor). Called once
        the instance serves, so ctypes stays off the cold-start path; the parent check
        covers a supervisor that died before.
        """
        if self.supervisor_pid is None or not sys.platform.startswith("linux"):
            return
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != self.supervisor_pid:
            os._exit(1)
