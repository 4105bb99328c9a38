"""Per-invocation logs: what user code writes (``logging`` on any logger, ``print``)
carries the function name and invocation id, so the console and exporters can use them."""

from __future__ import annotations

import contextvars
import io
import logging
import sys
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, TextIO


class InvocationScope(NamedTuple):
    """The invocation whose code is running (a tuple: one is made per invocation, cheaply)."""

    function_name: str
    invocation_id: str


current_scope: contextvars.ContextVar[InvocationScope | None] = contextvars.ContextVar(
    "funchost_invocation", default=None
)

LEVELS = {
    "trace": 5,
    "debug": logging.DEBUG,
    "information": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "none": logging.CRITICAL + 10,
}


class HostLineSink(Protocol):
    """Where the host's own Information lines go without a LogRecord (the console sets one)."""

    def enabled(self, category: str) -> bool: ...

    def write(self, text: str) -> None: ...


# set by the console; None (tests driving the invoker alone): the lines go through logging
host_lines: HostLineSink | None = None
# set by the console: where print() outside an invocation goes, in order with the log lines
console_passthrough: Callable[[str], None] | None = None


def level_from_name(name: str) -> int:
    """host.json level names (``Information``, ``Warning``, ...) to ``logging`` levels."""
    return LEVELS.get(str(name).strip().lower(), logging.INFO)


# what install_log_capture replaced (record factory, stdout, stderr), while it is installed
_replaced: tuple[Any, TextIO, TextIO] | None = None


def install_log_capture() -> bool:
    """Tag every log record made during an invocation, and route ``print`` into logging.

    Idempotent; called by the host before any user code runs. True when this call installed it.
    """
    global _replaced
    if _replaced is not None:
        return False
    previous_factory = logging.getLogRecordFactory()
    _replaced = (previous_factory, sys.stdout, sys.stderr)

    def record_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous_factory(*args, **kwargs)
        scope = current_scope.get()
        record.function_name = scope.function_name if scope else None
        record.invocation_id = scope.invocation_id if scope else None
        return record

    logging.setLogRecordFactory(record_factory)
    sys.stdout = InvocationStream(sys.stdout, logging.INFO)
    sys.stderr = InvocationStream(sys.stderr, logging.ERROR)
    return True


def capture_installed() -> bool:
    return _replaced is not None


def uninstall_log_capture() -> None:
    """Put back the record factory and the streams install_log_capture replaced."""
    global _replaced
    if _replaced is None:
        return
    factory, sys.stdout, sys.stderr = _replaced
    logging.setLogRecordFactory(factory)
    _replaced = None


class InvocationStream(io.TextIOBase):
    """Writes inside an invocation become log lines of ``Function.<name>.User``; others pass."""

    pending_anywhere = False  # lets the end of an invocation skip the flush when nothing waits

    def __init__(self, target: TextIO, level: int) -> None:
        self._target = target
        self._level = level
        self._pending: dict[str, str] = {}

    def write(self, text: str) -> int:
        scope = current_scope.get()
        if scope is None:
            passthrough = console_passthrough
            if passthrough is not None and self._level == logging.INFO:
                # through the console's queue, so a print never lands inside one of its lines
                passthrough(text)
                return len(text)
            return self._target.write(text)
        buffered = self._pending.pop(scope.invocation_id, "") + text
        *lines, rest = buffered.split("\n")
        if rest:
            self._pending[scope.invocation_id] = rest
            InvocationStream.pending_anywhere = True
        user_logger = logging.getLogger(f"Function.{scope.function_name}.User")
        for line in lines:
            user_logger.log(self._level, line)
        return len(text)

    def flush_scope(self, scope: InvocationScope) -> None:
        rest = self._pending.pop(scope.invocation_id, "")
        if rest:
            logging.getLogger(f"Function.{scope.function_name}.User").log(self._level, rest)

    def flush(self) -> None:
        # the stream it wraps is not its own: once that is closed (a test's captured stdout, put
        # back and closed), flushing or collecting this wrapper leaves it alone
        if not self._target.closed:
            self._target.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._target.isatty()

    def fileno(self) -> int:
        return self._target.fileno()

    @property
    def buffer(self) -> object:
        """Binary writes go straight to the stream (user code's print() is text)."""
        return self._target.buffer

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._target, "encoding", "utf-8")


def flush_invocation_output(scope: InvocationScope) -> None:
    """Emit a last ``print`` that did not end with a newline."""
    if not InvocationStream.pending_anywhere:
        return
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, InvocationStream):
            stream.flush_scope(scope)
