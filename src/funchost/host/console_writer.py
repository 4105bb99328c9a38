"""The console's lines, written by one thread in batches, in the order they were added.

Writing a line to the terminal (a system call, and a flush) on the request's own path was
the biggest part of funchost's cost per HTTP request with the default logs. Now the request
only formats its line and queues it; the writer thread writes whatever has queued up in one
go. Log records (user code's included) go through the same queue, so the order of the lines
is the order they were made. ``flush`` waits for everything queued so far: the host calls it
before it prints directly, before it exits, and before a crash is reported.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import deque
from typing import TextIO

_second = -1
_second_text = ""


def stamp(moment: float) -> str:
    """``[2024-05-01T10:00:00.123Z] `` for a ``time.time()`` value, as Core Tools prints it."""
    global _second, _second_text
    whole = int(moment)
    micro = round((moment - whole) * 1_000_000)  # rounded as datetime.fromtimestamp rounds
    if micro >= 1_000_000:
        whole, micro = whole + 1, micro - 1_000_000
    if whole != _second:
        _second_text = time.strftime("[%Y-%m-%dT%H:%M:%S.", time.gmtime(whole))
        _second = whole
    return f"{_second_text}{micro // 1000:03d}Z] "


CHUNK = 4000  # bytes: below a pipe's atomic write size, so workers sharing stdout never split a line


PAUSE = 0.005  # seconds between two writes: what is queued meanwhile goes out in one batch


class ConsoleWriter:
    """A queue of text and the thread that writes it to ``stream``.

    A line queued while the writer is idle is written at once; after each write the writer
    pauses ``PAUSE`` before the next, so under load everything queued meanwhile goes out in
    one system call: a wake-up per batch of hundreds of lines, not per line (a wake-up per
    line cost more than the rest of a request). ``flush`` cuts the pause short.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._pending: deque[str | threading.Event] = deque()  # append and popleft are thread-safe
        self._wake = threading.Event()
        self._urgent = threading.Event()  # a flush waits: no pause
        self._armed = False  # the writer was woken for what is pending
        self._thread = threading.Thread(target=self._run, name="funchost-console", daemon=True)
        self._thread.start()
        atexit.register(self.flush)

    def put_line(self, text: str) -> None:
        """Queue ``text``, which ends with its newline (the host's own lines)."""
        self._pending.append(text)
        if not self._armed:
            self._armed = True
            self._wake.set()

    def write(self, text: str) -> None:
        """Queue ``text`` as a line (one or more, without the last newline)."""
        self.put_line(text + "\n")

    def write_raw(self, text: str) -> None:
        """Queue ``text`` as it is (what a ``print`` outside an invocation writes)."""
        self.put_line(text)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything queued so far is written."""
        if threading.current_thread() is self._thread:
            return
        written = threading.Event()
        self._pending.append(written)
        self._urgent.set()
        self._wake.set()
        written.wait(timeout)

    def _run(self) -> None:
        pending = self._pending
        while True:
            self._wake.wait()
            # the wake-up is cleared before the flag, so a line queued from here on wakes us again
            self._wake.clear()
            self._armed = False
            pieces: list[str] = []
            done: list[threading.Event] = []
            while pending:
                item = pending.popleft()
                if isinstance(item, threading.Event):
                    done.append(item)
                else:
                    pieces.append(item)
            self._write(pieces)
            for event in done:
                event.set()
            self._urgent.wait(PAUSE)
            self._urgent.clear()

    def _write(self, pieces: list[str]) -> None:
        """Write in chunks of whole lines, one system call each (a flush per chunk)."""
        chunk: list[str] = []
        size = 0
        try:
            for piece in pieces:
                if chunk and size + len(piece) > CHUNK:
                    self.stream.write("".join(chunk))
                    self.stream.flush()
                    chunk, size = [], 0
                chunk.append(piece)
                size += len(piece)
            if chunk:
                self.stream.write("".join(chunk))
                self.stream.flush()
        except (OSError, ValueError):  # the terminal is gone; nothing else to tell it
            pass


class ConsoleHandler(logging.Handler):
    """A logging handler whose formatted records go through the writer's queue."""

    def __init__(self, writer: ConsoleWriter) -> None:
        super().__init__()
        self.writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.writer.write(self.format(record))
        except Exception:  # noqa: BLE001 - logging's own contract: report through handleError
            self.handleError(record)

    def flush(self) -> None:
        self.writer.flush()
